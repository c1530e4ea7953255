//! `shutdown sessions server` at scale, through the real binary: the reply comes once the
//! killed streams are fenced, after which percore never reads or writes their sockets; the
//! sockets then close in batches while the shard keeps serving its other streams.
//!
//! Thousands of streams need an origin and a client that do not spend a thread per
//! connection: both are single threads around `poll(2)`.

mod common;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use common::*;

/// The tests of this file each hold thousands of descriptors: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// What the poll-based origin saw, shared with the test.
#[derive(Default)]
struct OriginSeen {
    accepted: AtomicUsize,
    /// Bytes received on any connection (the killed streams' clients only write after the
    /// reply, so every byte here was read by percore after it replied).
    received: AtomicUsize,
    /// Connections the proxy closed.
    closed: AtomicUsize,
    /// Set by the test: write `late` once on every connection.
    send_late: AtomicBool,
    stop: AtomicBool,
}

/// An origin for thousands of connections on one thread: greets each with `s1\n`, counts
/// what it receives and when its connections close, and writes `late` on all of them when
/// asked.
struct PollOrigin {
    addr: SocketAddr,
    seen: Arc<OriginSeen>,
}

impl PollOrigin {
    fn start() -> PollOrigin {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(OriginSeen::default());
        let s = seen.clone();
        std::thread::spawn(move || origin_loop(&listener, &s));
        PollOrigin { addr, seen }
    }
}

impl Drop for PollOrigin {
    fn drop(&mut self) {
        self.seen.stop.store(true, Ordering::Relaxed);
    }
}

fn origin_loop(listener: &TcpListener, seen: &OriginSeen) {
    let mut conns: Vec<TcpStream> = Vec::new();
    let mut late_sent = false;
    let deadline = Instant::now() + Duration::from_secs(120);
    while !seen.stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        while let Ok((mut c, _)) = listener.accept() {
            c.set_nonblocking(false).expect("blocking");
            c.write_all(b"s1\n").expect("greeting");
            c.set_nonblocking(true).expect("nonblocking");
            conns.push(c);
            seen.accepted.fetch_add(1, Ordering::Relaxed);
        }
        if !late_sent && seen.send_late.load(Ordering::Relaxed) {
            for c in &mut conns {
                let _ = c.write(b"late");
            }
            late_sent = true;
        }
        let mut buf = [0u8; 4096];
        let mut gone = Vec::new();
        for i in readable(listener, &conns) {
            match conns[i].read(&mut buf) {
                Ok(0) => gone.push(i),
                Ok(n) => {
                    seen.received.fetch_add(n, Ordering::Relaxed);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => gone.push(i),
            }
        }
        for &i in gone.iter().rev() {
            conns.swap_remove(i);
            seen.closed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Indices of the connections readable (or closed) within a few milliseconds; returns
/// early, with none, when the listener has a connection to accept.
fn readable(listener: &TcpListener, conns: &[TcpStream]) -> Vec<usize> {
    let mut fds: Vec<PollFd<'_>> = conns
        .iter()
        .map(|s| PollFd::new(s.as_fd(), PollFlags::POLLIN))
        .collect();
    fds.push(PollFd::new(listener.as_fd(), PollFlags::POLLIN));
    if poll(&mut fds, PollTimeout::from(5u16)).unwrap_or(0) <= 0 {
        return Vec::new();
    }
    fds[..conns.len()]
        .iter()
        .enumerate()
        .filter(|(_, f)| f.revents().is_some_and(|r| !r.is_empty()))
        .map(|(i, _)| i)
        .collect()
}

fn config(shards: usize, s1: SocketAddr, s2: SocketAddr) -> String {
    format!(
        "global:\n  shards: {shards}\n  maxconn: 12000\n  grace: 1s\n  admin:\n    socket: ./admin.sock\n\
         defaults:\n  mode: tcp\n  timeout: {{ connect: 1s, client: 60s, server: 60s }}\n\
         frontends:\n  fe:\n    bind: \"127.0.0.1:0\"\n    maxconn: 12000\n    default_backend: app\n\
         backends:\n  app:\n    servers:\n      - {{ name: s1, address: \"{s1}\" }}\n\
         \x20     - {{ name: s2, address: \"{s2}\" }}\n"
    )
}

/// Opens `n` streams that the proxy sends to `want` (the other server in maintenance
/// meanwhile), each checked by its origin's greeting.
fn open_on(p: &Proxy, want: &str, other: &str, n: usize) -> Vec<TcpStream> {
    let sock = p.dir.join("admin.sock");
    assert_eq!(
        admin(&sock, &format!("set server app/{other} state maint")),
        "\n"
    );
    // In rounds, so that the proxy's accept backlog never overflows.
    let mut streams = Vec::with_capacity(n);
    while streams.len() < n {
        let round: Vec<TcpStream> = (0..(n - streams.len()).min(200))
            .map(|_| connect(p.addr("fe")))
            .collect();
        for s in round {
            let mut r = BufReader::new(s.try_clone().expect("clone"));
            let mut name = String::new();
            r.read_line(&mut name).expect("greeting");
            assert_eq!(name.trim(), want);
            streams.push(s);
        }
    }
    assert_eq!(
        admin(&sock, &format!("set server app/{other} state ready")),
        "\n"
    );
    streams
}

/// Streams the test process may hold at most: each costs two descriptors here (client and
/// origin side) and two in the proxy.
fn fit(wanted: usize) -> usize {
    let (soft, _) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .expect("getrlimit");
    wanted.min((soft as usize).saturating_sub(400) / 2)
}

/// Kill counts the proxy reports for app/s1, once they reach `n` (bounded poll).
fn wait_killed_counted(p: &Proxy, n: usize) {
    let sock = p.dir.join("admin.sock");
    poll_until("kills counted in show stat", || {
        let csv = admin(&sock, "show stat");
        let got: usize = stat(&csv, "app", "s1", "percore_killed")
            .parse()
            .unwrap_or(0);
        if got == n && stat(&csv, "app", "s1", "scur") == "0" {
            Ok(())
        } else {
            Err(csv)
        }
    });
    let csv = admin(&sock, "show stat");
    assert_eq!(stat(&csv, "app", "s2", "percore_killed"), "0");
}

#[test]
fn killed_streams_are_fenced_before_the_reply() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let s1 = PollOrigin::start();
    let s2 = Origin::start(Behaviour::GreetEcho("s2"));
    let p = Proxy::start("killfence", &config(2, s1.addr, s2.addr));
    let n = fit(2000);
    let mut killed = open_on(&p, "s1", "s2", n);
    let mut others = open_on(&p, "s2", "s1", 8);
    for c in &mut others {
        assert_eq!(echo_round_trip(c, b"before"), b"before");
    }
    assert_eq!(
        admin(&p.dir.join("admin.sock"), "shutdown sessions server app/s1"),
        "\n"
    );
    // From the reply on, nothing may cross a killed stream in either direction: the origin
    // writes `late` on every s1 connection, half of the clients write `after`.
    s1.seen.send_late.store(true, Ordering::Relaxed);
    for c in killed.iter_mut().step_by(2) {
        let _ = c.write(b"after");
    }
    let mut silent: Vec<TcpStream> = killed.into_iter().skip(1).step_by(2).collect();
    for c in &mut silent {
        let (got, _) = read_until_closed(c);
        assert!(
            got.is_empty(),
            "a killed stream relayed {got:?} after the reply"
        );
    }
    // Every connection the origin accepted, not just the n streams: under load a connect
    // that timed out in the accept backlog is retried, and the abandoned one arrives too.
    poll_until("the origin sees every s1 connection closed", || {
        let closed = s1.seen.closed.load(Ordering::Relaxed);
        let accepted = s1.seen.accepted.load(Ordering::Relaxed);
        if closed == accepted && closed >= n {
            Ok(())
        } else {
            Err((closed, accepted))
        }
    });
    assert_eq!(
        s1.seen.received.load(Ordering::Relaxed),
        0,
        "percore read a killed client after the reply"
    );
    for c in &mut others {
        assert_eq!(echo_round_trip(c, b"after"), b"after");
    }
    wait_killed_counted(&p, n);
}

/// One client thread's timeline of what it observed, in order: `E` an s1 stream ended,
/// `R` a round trip on the s2 stream completed.
fn watch(mut ended: Vec<TcpStream>, mut rt: TcpStream, stop: &AtomicBool) -> Vec<u8> {
    for s in &ended {
        s.set_nonblocking(true).expect("nonblocking");
    }
    rt.set_nonblocking(true).expect("nonblocking");
    let mut timeline = Vec::new();
    let mut buf = [0u8; 4096];
    rt.write_all(b"ping").expect("ping");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ended.is_empty() && Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        let mut all: Vec<&TcpStream> = ended.iter().collect();
        all.push(&rt);
        let ready = readable_refs(&all);
        let mut gone = Vec::new();
        for i in ready {
            if i == ended.len() {
                if matches!(rt.read(&mut buf), Ok(n) if n > 0) {
                    timeline.push(b'R');
                    let _ = rt.write(b"ping");
                }
                continue;
            }
            match ended[i].read(&mut buf) {
                Ok(0) => gone.push(i),
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => gone.push(i),
            }
        }
        for &i in gone.iter().rev() {
            ended.swap_remove(i);
            timeline.push(b'E');
        }
    }
    assert!(ended.is_empty(), "{} s1 streams never closed", ended.len());
    timeline
}

fn readable_refs(socks: &[&TcpStream]) -> Vec<usize> {
    let mut fds: Vec<PollFd<'_>> = socks
        .iter()
        .map(|s| PollFd::new(s.as_fd(), PollFlags::POLLIN))
        .collect();
    if poll(&mut fds, PollTimeout::from(5u16)).unwrap_or(0) <= 0 {
        return Vec::new();
    }
    fds.iter()
        .enumerate()
        .filter(|(_, f)| f.revents().is_some_and(|r| !r.is_empty()))
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn mass_teardown_keeps_the_shards_other_streams_moving() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let s1 = PollOrigin::start();
    let s2 = Origin::start(Behaviour::GreetEcho("s2"));
    // One shard: the killed streams and the loaded one share it.
    let p = Proxy::start("killteardown", &config(1, s1.addr, s2.addr));
    let n = fit(5000);
    let killed = open_on(&p, "s1", "s2", n);
    let mut loaded = open_on(&p, "s2", "s1", 1);
    let rt = loaded.pop().expect("one");
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let watcher = std::thread::spawn(move || watch(killed, rt, &st));
    // Round trips are running before the kill.
    std::thread::sleep(Duration::from_millis(50));
    let reply = admin(&p.dir.join("admin.sock"), "shutdown sessions server app/s1");
    let timeline = watcher.join().expect("watcher");
    stop.store(true, Ordering::Relaxed);
    assert_eq!(reply, "\n");
    let first = timeline.iter().position(|&e| e == b'E').expect("an end");
    let last = timeline.iter().rposition(|&e| e == b'E').expect("an end");
    let during = timeline[first..last].iter().filter(|&&e| e == b'R').count();
    // Torn down in one pass, the shard serves the loaded stream only after the last close
    // (2 round trips counted here, from this thread's lag behind the closes); in batches of
    // 64 it serves it between batches (15 counted: this thread's polls of 5 000 sockets are
    // slower than the round trips).
    assert!(
        during >= n / 1000,
        "only {during} round trips while {n} streams closed: the teardown starved the shard"
    );
    wait_killed_counted(&p, n);
}
