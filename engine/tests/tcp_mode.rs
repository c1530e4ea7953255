//! TCP mode through the real binary: two shards, real origins on loopback. Each test starts
//! its own percore process on ephemeral ports and checks bytes on the wire, timeouts, retries,
//! half-close, stop behaviour and the access log.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use common::*;

fn config(servers: &[(&str, SocketAddr)], extra_backend: &str, extra_global: &str) -> String {
    let mut s = format!(
        "global:\n  shards: 2\n  grace: 3s\n{extra_global}\
         defaults:\n  mode: tcp\n  timeout: {{ connect: 1s, client: 10s, server: 10s }}\n\
         frontends:\n  fe:\n    bind: \"127.0.0.1:0\"\n    default_backend: app\n\
         backends:\n  app:\n{extra_backend}    servers:\n"
    );
    for (name, addr) in servers {
        s.push_str(&format!(
            "      - {{ name: {name}, address: \"{addr}\" }}\n"
        ));
    }
    s
}

#[test]
fn bytes_round_trip_through_tcp_frontend() {
    let origin = Origin::start(Behaviour::Echo);
    let proxy = Proxy::start("roundtrip", &config(&[("s1", origin.addr)], "", ""));
    let mut c = connect(proxy.addr("fe"));
    for size in [1usize, 100, 65_536, 1_000_000] {
        let msg: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
        assert_eq!(echo_round_trip(&mut c, &msg), msg, "size {size}");
    }
}

#[test]
fn many_concurrent_connections_use_both_shards() {
    let origin = Origin::start(Behaviour::Echo);
    let mut proxy = Proxy::start("concurrent", &config(&[("s1", origin.addr)], "", ""));
    let addr = proxy.addr("fe");
    // 250 connections all open at the same time, then each does a round trip.
    let threads: Vec<_> = (0..10)
        .map(|t| {
            std::thread::spawn(move || {
                let mut conns: Vec<_> = (0..25).map(|_| connect(addr)).collect();
                for (i, c) in conns.iter_mut().enumerate() {
                    let msg = format!("thread {t} conn {i}").into_bytes();
                    assert_eq!(echo_round_trip(c, &msg), msg);
                }
                conns.len()
            })
        })
        .collect();
    let served: usize = threads.into_iter().map(|t| t.join().expect("client")).sum();
    assert_eq!(served, 250);
    let status = proxy.stop();
    assert!(status.success(), "{status:?}\n{}", proxy.log());
    let mut per_shard = Vec::new();
    for shard in 0..2 {
        let line = proxy.wait_log(&format!("shard {shard} stopped: "));
        let n: u64 = line
            .split("stopped: ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .expect("accepted count");
        per_shard.push(n);
    }
    assert_eq!(per_shard.iter().sum::<u64>(), 250, "{per_shard:?}");
    assert!(
        per_shard.iter().all(|&n| n > 0),
        "both shards accept: {per_shard:?}"
    );
}

#[test]
fn client_half_close_is_propagated() {
    let origin = Origin::start(Behaviour::Echo);
    let proxy = Proxy::start("halfclose-c", &config(&[("s1", origin.addr)], "", ""));
    let mut c = connect(proxy.addr("fe"));
    c.write_all(b"last words").expect("write");
    c.shutdown(Shutdown::Write).expect("shutdown");
    // The echo origin only half-closes after it saw our FIN; we get the data, then EOF.
    let (got, clean, _) = read_to_close(&mut c);
    assert_eq!(got, b"last words");
    assert!(clean, "EOF, not a reset");
}

/// A FIN that arrives right behind the data must still be seen: a first version of the
/// readiness tracking took a short read for "drained" and waited for a wake-up the kernel
/// had already spent, leaving about 1 stream in 130 stuck with the client's FIN unread.
#[test]
fn a_fin_right_behind_the_data_is_never_missed() {
    let origin = Origin::start(Behaviour::Echo);
    let proxy = Proxy::start("halfclose-many", &config(&[("s1", origin.addr)], "", ""));
    let addr = proxy.addr("fe");
    let threads: Vec<_> = (0..16)
        .map(|_| {
            std::thread::spawn(move || {
                let mut stuck = 0;
                for _ in 0..125 {
                    let mut c = connect(addr);
                    c.set_read_timeout(Some(Duration::from_secs(5)))
                        .expect("timeout");
                    c.write_all(b"last words").expect("write");
                    c.shutdown(Shutdown::Write).expect("shutdown");
                    let (got, clean, _) = read_to_close(&mut c);
                    if got != b"last words" || !clean {
                        stuck += 1;
                    }
                }
                stuck
            })
        })
        .collect();
    let stuck: usize = threads.into_iter().map(|t| t.join().expect("client")).sum();
    assert_eq!(stuck, 0, "{stuck} of 2000 half-closed streams never ended");
}

#[test]
fn server_half_close_is_propagated() {
    let origin = Origin::start(Behaviour::GreetThenHalfClose);
    let proxy = Proxy::start("halfclose-s", &config(&[("s1", origin.addr)], "", ""));
    let mut c = connect(proxy.addr("fe"));
    let mut greeting = vec![0u8; b"hello, then FIN".len()];
    c.read_exact(&mut greeting).expect("greeting");
    assert_eq!(greeting, b"hello, then FIN");
    let mut one = [0u8; 1];
    assert_eq!(
        c.read(&mut one).expect("EOF"),
        0,
        "server FIN reaches the client"
    );
    // Our direction is still open: the origin receives what we send after its FIN.
    c.write_all(b"still talking")
        .expect("write after server FIN");
    c.shutdown(Shutdown::Write).expect("shutdown");
    let deadline = Instant::now() + WAIT;
    while origin.stats.after_fin.lock().expect("lock").is_empty() {
        assert!(Instant::now() < deadline, "origin never got the late bytes");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        *origin.stats.after_fin.lock().expect("lock"),
        b"still talking"
    );
}

#[test]
fn dead_server_is_skipped_by_retry() {
    let origin = Origin::start(Behaviour::Echo);
    let dead = dead_addr();
    let proxy = Proxy::start(
        "retry",
        &config(
            &[("dead", dead), ("live", origin.addr)],
            "    retries: 2\n",
            "",
        ),
    );
    for i in 0..20 {
        let mut c = connect(proxy.addr("fe"));
        let msg = format!("request {i}").into_bytes();
        assert_eq!(echo_round_trip(&mut c, &msg), msg);
    }
    assert_eq!(origin.accepted(), 20);
}

#[test]
fn all_servers_dead_closes_client_promptly() {
    let proxy = Proxy::start(
        "alldead",
        &config(
            &[("a", dead_addr()), ("b", dead_addr())],
            "    retries: 3\n",
            "",
        ),
    );
    let mut c = connect(proxy.addr("fe"));
    // Closed (EOF or reset) with nothing sent; a read timeout fails the test.
    let (got, _) = read_until_closed(&mut c);
    assert!(got.is_empty());
}

#[test]
fn client_timeout_fires_on_silent_client() {
    let origin = Origin::start(Behaviour::Echo);
    let yaml = config(&[("s1", origin.addr)], "", "").replace("client: 10s", "client: 300ms");
    let proxy = Proxy::start("ctimeout", &yaml);
    let mut c = connect(proxy.addr("fe"));
    let (got, _, elapsed) = read_to_close(&mut c);
    assert!(got.is_empty());
    assert!(
        elapsed >= Duration::from_millis(250),
        "fired early: {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(5), "fired late: {elapsed:?}");
}

#[test]
fn server_timeout_fires_on_silent_server() {
    let origin = Origin::start(Behaviour::Silent);
    let yaml = config(&[("s1", origin.addr)], "", "").replace("server: 10s", "server: 300ms");
    let proxy = Proxy::start("stimeout", &yaml);
    let mut c = connect(proxy.addr("fe"));
    c.write_all(b"anyone there?").expect("write");
    let (got, _, elapsed) = read_to_close(&mut c);
    assert!(got.is_empty());
    assert!(
        elapsed >= Duration::from_millis(250),
        "fired early: {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(5), "fired late: {elapsed:?}");
}

#[test]
fn tunnel_timeout_replaces_client_timeout_once_both_sides_spoke() {
    let origin = Origin::start(Behaviour::Echo);
    let yaml = config(&[("s1", origin.addr)], "", "")
        .replace("client: 10s", "client: 200ms, tunnel: 1500ms");
    let proxy = Proxy::start("tunnel", &yaml);
    let mut c = connect(proxy.addr("fe"));
    assert_eq!(echo_round_trip(&mut c, b"ping"), b"ping");
    // Idle well beyond the client timeout but within the tunnel timeout: still alive.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(echo_round_trip(&mut c, b"pong"), b"pong");
    let (_, _, elapsed) = read_to_close(&mut c);
    assert!(
        elapsed >= Duration::from_millis(1200),
        "tunnel timeout early: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(6),
        "tunnel timeout late: {elapsed:?}"
    );
}

#[test]
fn sigterm_lets_live_streams_finish_then_exits_zero() {
    let origin = Origin::start(Behaviour::Echo);
    let mut proxy = Proxy::start("sigterm", &config(&[("s1", origin.addr)], "", ""));
    let addr = proxy.addr("fe");
    let mut c = connect(addr);
    assert_eq!(echo_round_trip(&mut c, b"before"), b"before");
    proxy.signal(nix::sys::signal::Signal::SIGTERM);
    proxy.wait_log("stopping");
    // The live stream keeps working during the grace period...
    assert_eq!(echo_round_trip(&mut c, b"during"), b"during");
    // ...new connections are refused once every shard closed its listener...
    poll_until(
        "listeners closed after SIGTERM",
        || match std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );
    // ...and once it ends, the process exits 0 without waiting for the grace period: no
    // shard reports a stream killed at its end.
    drop(c);
    let status = proxy.wait_exit(WAIT).expect("exit");
    assert!(status.success(), "{status:?}\n{}", proxy.log());
    let log = proxy.log();
    assert!(!log.contains("grace period over"), "{log}");
    assert_eq!(
        log.matches(", 0 killed at end of grace").count(),
        2,
        "{log}"
    );
}

#[test]
fn sigterm_kills_streams_left_at_end_of_grace() {
    let origin = Origin::start(Behaviour::Echo);
    let yaml = config(&[("s1", origin.addr)], "", "").replace("grace: 3s", "grace: 300ms");
    let mut proxy = Proxy::start("grace", &yaml);
    let mut c = connect(proxy.addr("fe"));
    assert_eq!(echo_round_trip(&mut c, b"hi"), b"hi");
    let status = proxy.stop();
    assert!(status.success(), "{status:?}");
    // Killed at the end of grace: EOF or reset, not a read timeout.
    wait_closed(&mut c);
    assert!(
        proxy.log().contains("killed 1 stream(s)"),
        "{}",
        proxy.log()
    );
}

#[test]
fn send_proxy_writes_header_first() {
    for (version, prefix) in [
        ("v1", &b"PROXY TCP4 127.0.0.1 127.0.0.1 "[..]),
        ("v2", &b"\r\n\r\n\0\r\nQUIT\n\x21\x11"[..]),
    ] {
        let origin = Origin::start(Behaviour::Echo);
        let yaml = config(&[("s1", origin.addr)], "", "").replace(
            &format!("address: \"{}\" }}", origin.addr),
            &format!("address: \"{}\", send_proxy: {version} }}", origin.addr),
        );
        let proxy = Proxy::start("sendproxy", &yaml);
        let mut c = connect(proxy.addr("fe"));
        let local = c.local_addr().expect("local");
        c.write_all(b"payload").expect("write");
        let deadline = Instant::now() + WAIT;
        let head = loop {
            let heads = origin.stats.heads.lock().expect("heads").clone();
            if let Some(h) = heads.first() {
                break h.clone();
            }
            assert!(Instant::now() < deadline, "origin got nothing");
            std::thread::sleep(Duration::from_millis(5));
        };
        assert!(
            head.starts_with(prefix),
            "{version}: {:?}",
            String::from_utf8_lossy(&head)
        );
        let (parsed, used) = percore_protocols::proxy::decode(&head)
            .expect("valid header")
            .expect("complete header");
        match parsed {
            percore_protocols::proxy::Header::Proxied {
                source,
                destination,
            } => {
                assert_eq!(source, local);
                assert_eq!(destination, proxy.addr("fe"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(&head[used..], b"payload"[..head.len() - used].as_ref());
    }
}

#[test]
fn client_reset_does_not_affect_other_streams() {
    let origin = Origin::start(Behaviour::Echo);
    let proxy = Proxy::start("reset", &config(&[("s1", origin.addr)], "", ""));
    let addr = proxy.addr("fe");
    let mut keep = connect(addr);
    assert_eq!(echo_round_trip(&mut keep, b"a"), b"a");
    for _ in 0..20 {
        let mut r = connect(addr);
        assert_eq!(echo_round_trip(&mut r, b"x"), b"x");
        // SO_LINGER 0: close() sends RST.
        let sock = socket2::SockRef::from(&r);
        sock.set_linger(Some(Duration::ZERO)).expect("linger");
        r.write_all(b"unread").expect("write");
        drop(r);
    }
    assert_eq!(echo_round_trip(&mut keep, b"still fine"), b"still fine");
}

#[test]
fn access_log_records_flags() {
    let origin = Origin::start(Behaviour::Echo);
    let dir = temp_dir("accesslog");
    let log = dir.join("access.log");
    let global = format!("  log: {{ target: \"{}\", access: true }}\n", log.display());
    let yaml = config(&[("s1", origin.addr)], "", &global);
    let mut proxy = Proxy::start_in(dir, &yaml);
    let mut c = connect(proxy.addr("fe"));
    assert_eq!(echo_round_trip(&mut c, b"12345"), b"12345");
    c.shutdown(Shutdown::Write).expect("shutdown");
    let _ = read_to_close(&mut c);
    assert!(proxy.stop().success());
    let text = std::fs::read_to_string(&log).expect("access log");
    let line = text.lines().next().expect("one line");
    assert!(line.contains(" fe app/s1 "), "{line}");
    assert!(line.contains(" 5 -- "), "{line}");
    // HAProxy's tcplog ends with the queues; nothing is appended.
    assert!(line.ends_with(" 0/0"), "{line}");
}
