//! Signals as HAProxy's: SIGUSR1 soft-stops (no new connections, live streams finish, exit
//! 0), SIGTTOU pauses every frontend and SIGTTIN resumes them. Method: the real binary with
//! two shards and two TCP frontends in front of real echo origins, the admin socket, and
//! bounded polls on what a client, `show stat` and the process log observe.

mod common;

use std::io::{BufRead, BufReader, ErrorKind};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use common::*;
use nix::sys::signal::Signal;

/// Two shards, frontends `fe` and `other` to backend `app` (server `s1` at `origin`), the
/// admin socket `./admin.sock` and a grace period far longer than any test waits.
fn config(origin: SocketAddr) -> String {
    format!(
        "global:\n  shards: 2\n  grace: 60s\n  admin:\n    socket: ./admin.sock\n\
         defaults:\n  mode: tcp\n  timeout: {{ connect: 1s, client: 30s, server: 30s }}\n\
         frontends:\n  fe:\n    bind: \"127.0.0.1:0\"\n    default_backend: app\n\
         \x20 other:\n    bind: \"127.0.0.1:0\"\n    default_backend: app\n\
         backends:\n  app:\n    servers:\n      - {{ name: s1, address: \"{origin}\" }}\n"
    )
}

/// Whether a connection to `addr` is refused (every shard closed its listener).
fn refused(addr: SocketAddr) -> Result<(), String> {
    match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => Ok(()),
        other => Err(format!("{other:?}")),
    }
}

#[test]
fn sigusr1_soft_stops_once_live_streams_finish() {
    let origin = Origin::start(Behaviour::Echo);
    let mut p = Proxy::start("sigusr1", &config(origin.addr));
    let addr = p.addr("fe");
    let mut live = connect(addr);
    assert_eq!(echo_round_trip(&mut live, b"before"), b"before");
    p.signal(Signal::SIGUSR1);
    p.wait_log("received SIGUSR1, stopping");
    poll_until("fe refuses new connections after SIGUSR1", || refused(addr));
    poll_until("other refuses too", || refused(p.addr("other")));
    // The stream that was live still carries bytes both ways, and ends when its client does.
    assert_eq!(echo_round_trip(&mut live, b"during"), b"during");
    live.shutdown(Shutdown::Write).expect("shutdown");
    assert_eq!(read_until_closed(&mut live), (Vec::new(), Ended::Eof));
    let status = p.wait_exit(WAIT).expect("percore exits after SIGUSR1");
    let log = p.log();
    assert_eq!(status.code(), Some(0), "{status:?}\n{log}");
    assert!(!log.contains("grace period over"), "{log}");
    assert_eq!(
        log.matches(", 0 killed at end of grace").count(),
        2,
        "{log}"
    );
    assert!(!sock(&p).exists(), "admin socket left behind");
}

#[test]
fn sigttou_pauses_every_frontend_and_sigttin_resumes_them() {
    let origin = Origin::start(Behaviour::GreetEcho("s1"));
    let p = Proxy::start("sigttou", &config(origin.addr));
    let a = |line: &str| admin(&sock(&p), line);
    let statuses = || {
        let csv = a("show stat");
        ["fe", "other"].map(|fe| stat(&csv, fe, "FRONTEND", "status"))
    };
    assert_eq!(open_greeted(p.addr("fe")).1, "s1");
    let served_before = origin.accepted();

    p.signal(Signal::SIGTTOU);
    // Logged once every shard has stopped accepting on both frontends.
    p.wait_log("SIGTTOU: paused 2 frontend(s)");
    assert_eq!(statuses(), ["PAUSED", "PAUSED"]);
    // The listeners stay bound: connections are taken into the backlog but not served.
    let waiting = [connect(p.addr("fe")), connect(p.addr("other"))];
    assert_eq!(stat(&a("show stat"), "fe", "FRONTEND", "stot"), "1");
    assert_eq!(stat(&a("show stat"), "other", "FRONTEND", "stot"), "0");
    assert_eq!(origin.accepted(), served_before);

    p.signal(Signal::SIGTTIN);
    p.wait_log("SIGTTIN: resumed 2 frontend(s)");
    assert_eq!(statuses(), ["OPEN", "OPEN"]);
    // What waited in the backlog is served now, and so are new connections.
    for conn in waiting {
        let mut greeting = String::new();
        BufReader::new(conn)
            .read_line(&mut greeting)
            .expect("served after SIGTTIN");
        assert_eq!(greeting, "s1\n");
    }
    assert_eq!(open_greeted(p.addr("other")).1, "s1");
}
