//! A dropped accept never strands a connection (third_party/glommio/PATCHES.md, patch 8).
//!
//! Pausing or removing a listener drops its pending accept. If the kernel completed that
//! accept first, the new connection belongs to a source nobody reads: upstream leaked its
//! descriptor and the client hung. Now it is closed, so every client either gets served by
//! a later accept or sees its connection end. Each round arms an accept, connects, drops
//! the accept at once and lets the reactor run; whatever the kernel did first, the client
//! must not be left hanging.

use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::time::Duration;

use futures_lite::future::poll_once;
use glommio::net::TcpListener;
use glommio::timer::{sleep, timeout};
use glommio::{LocalExecutorBuilder, Placement};

const ROUNDS: usize = 50;

/// How one round ended for its client.
#[derive(Debug, PartialEq)]
enum Fate {
    /// A second accept took the connection from the backlog.
    Accepted,
    /// The connection was closed under the client (the orphaned accept's descriptor).
    Closed,
    /// Neither: the connection went nowhere.
    Stranded,
}

async fn one_round(listener: &TcpListener) -> Fate {
    let addr = listener.local_addr().expect("addr");
    let mut accept = Box::pin(listener.accept());
    assert!(
        poll_once(&mut accept).await.is_none(),
        "nobody connected yet"
    );
    // Through the reactor once, so that the accept is in the kernel when the client comes;
    // the loopback handshake then completes it inside `connect`.
    sleep(Duration::from_micros(50)).await;
    let mut client = TcpStream::connect(addr).expect("connect");
    drop(accept);
    sleep(Duration::from_micros(50)).await;
    let again = timeout(Duration::from_millis(20), async {
        Ok(listener.accept().await)
    })
    .await;
    if matches!(again, Ok(Ok(_))) {
        return Fate::Accepted;
    }
    client
        .set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    let mut byte = [0u8; 1];
    match client.read(&mut byte) {
        Ok(0) => Fate::Closed,
        Err(e) if e.kind() == ErrorKind::ConnectionReset => Fate::Closed,
        _ => Fate::Stranded,
    }
}

#[test]
fn a_connection_taken_by_a_dropped_accept_is_closed_not_stranded() {
    let fates = LocalExecutorBuilder::new(Placement::Unbound)
        .spawn(|| async {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            let mut fates = Vec::with_capacity(ROUNDS);
            for _ in 0..ROUNDS {
                fates.push(one_round(&listener).await);
            }
            fates
        })
        .expect("executor")
        .join()
        .expect("executor ran");
    let stranded = fates.iter().filter(|f| **f == Fate::Stranded).count();
    let closed = fates.iter().filter(|f| **f == Fate::Closed).count();
    println!("{closed} orphaned accepts closed, {stranded} stranded, of {ROUNDS}");
    assert_eq!(stranded, 0, "{stranded} of {ROUNDS} clients left hanging");
}
