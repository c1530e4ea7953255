//! The test helpers themselves: a connection that is still open must never pass for a
//! closed one (the old `Ok(0) | Err(_)` after a read timeout accepted exactly that), while
//! both an orderly close and a reset count as closed.

mod common;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use common::*;

fn pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let client = TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
    let (server, _) = l.accept().expect("accept");
    (client, server)
}

#[test]
fn wait_closed_fails_on_a_read_timeout() {
    let (mut client, _server) = pair();
    client
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let open = std::panic::catch_unwind(move || wait_closed(&mut client));
    assert!(open.is_err(), "an open connection was taken for closed");
}

#[test]
fn wait_closed_reports_eof_and_reset() {
    let (mut client, mut server) = pair();
    server.write_all(b"bye").expect("write");
    drop(server);
    assert_eq!(
        read_until_closed(&mut client),
        (b"bye".to_vec(), Ended::Eof)
    );
    let (mut client, server) = pair();
    // SO_LINGER 0: close sends RST.
    socket2::SockRef::from(&server)
        .set_linger(Some(Duration::ZERO))
        .expect("linger");
    drop(server);
    assert_eq!(wait_closed(&mut client), Ended::Reset);
}
