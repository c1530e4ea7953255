//! The admin socket and the control plane through the real binary: two shards, real
//! origins, real clients. Checks counters after traffic, single and per-server kills (also
//! under load), server states, permission levels, socket mode and hostile admin clients.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

fn config(servers: &[(&str, SocketAddr)], extra_admin: &str) -> String {
    let mut s = format!(
        "global:\n  shards: 2\n  grace: 1s\n  admin:\n    socket: ./admin.sock\n{extra_admin}\
         defaults:\n  mode: tcp\n  timeout: {{ connect: 1s, client: 30s, server: 30s }}\n\
         frontends:\n  fe:\n    bind: \"127.0.0.1:0\"\n    default_backend: app\n\
         backends:\n  app:\n    servers:\n"
    );
    for (name, addr) in servers {
        s.push_str(&format!(
            "      - {{ name: {name}, address: \"{addr}\" }}\n"
        ));
    }
    s
}

#[test]
fn show_stat_counts_traffic_per_frontend_backend_server() {
    let o1 = Origin::start(Behaviour::Echo);
    let o2 = Origin::start(Behaviour::Echo);
    let p = Proxy::start("stat", &config(&[("s1", o1.addr), ("s2", o2.addr)], ""));
    let addr = p.addr("fe");
    // 10 finished streams of 100 bytes each way, then 4 live ones of 10 bytes.
    for _ in 0..10 {
        let mut c = connect(addr);
        assert_eq!(echo_round_trip(&mut c, &[7u8; 100]).len(), 100);
        c.shutdown(std::net::Shutdown::Write).expect("fin");
        let _ = read_to_close(&mut c);
    }
    let mut live: Vec<TcpStream> = (0..4).map(|_| connect(addr)).collect();
    for c in &mut live {
        assert_eq!(echo_round_trip(c, &[1u8; 10]).len(), 10);
    }
    // Finished streams are accounted when their task ends; give the last one a moment.
    let deadline = Instant::now() + WAIT;
    let csv = loop {
        let csv = admin(&sock(&p), "show stat");
        if stat(&csv, "fe", "FRONTEND", "stot") == "14"
            && stat(&csv, "fe", "FRONTEND", "scur") == "4"
        {
            break csv;
        }
        assert!(Instant::now() < deadline, "{csv}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(stat(&csv, "fe", "FRONTEND", "bin"), "1040");
    assert_eq!(stat(&csv, "fe", "FRONTEND", "bout"), "1040");
    assert_eq!(stat(&csv, "app", "BACKEND", "scur"), "4");
    assert_eq!(stat(&csv, "app", "BACKEND", "stot"), "14");
    assert_eq!(stat(&csv, "app", "BACKEND", "bin"), "1040");
    let per_server: Vec<(u64, u64, u64)> = ["s1", "s2"]
        .iter()
        .map(|s| {
            let n = |c| stat(&csv, "app", s, c).parse::<u64>().expect("number");
            (n("scur"), n("stot"), n("bin"))
        })
        .collect();
    assert_eq!(per_server.iter().map(|x| x.0).sum::<u64>(), 4);
    assert_eq!(per_server.iter().map(|x| x.1).sum::<u64>(), 14);
    assert_eq!(per_server.iter().map(|x| x.2).sum::<u64>(), 1040);
    assert_eq!(o1.accepted() + o2.accepted(), 14);
    assert_eq!(
        per_server[0].1 as usize,
        o1.accepted(),
        "stot(s1) = connections s1 saw"
    );
    assert_eq!(stat(&csv, "app", "s1", "status"), "no check");
    assert_eq!(stat(&csv, "app", "s1", "addr"), o1.addr.to_string());
    drop(live);
}

/// HAProxy 2.6 fills `rate`, `rate_lim`, `rate_max`, `req_rate`, `req_rate_max` on frontends
/// (both modes) and `rate`, `rate_max`, `cli_abrt`, `srv_abrt`, `qtime`, `ctime`, `rtime`,
/// `ttime` on backends and servers (see reference/haproxy-runtime/show-stat.txt); the rest
/// of those columns stay empty. Maxima do not decay, so after 6 streams they are >= 1
/// whatever the timing; the current rates are only checked to be numbers.
#[test]
fn show_stat_fills_rates_aborts_and_time_averages_like_haproxy() {
    let o = Origin::start(Behaviour::Echo);
    let p = Proxy::start("statrates", &config(&[("s1", o.addr)], ""));
    for _ in 0..6 {
        let mut c = connect(p.addr("fe"));
        assert_eq!(echo_round_trip(&mut c, b"ping"), b"ping");
    }
    let csv = admin(&sock(&p), "show stat");
    let number = |px: &str, sv: &str, col: &str| -> u64 {
        let v = stat(&csv, px, sv, col);
        v.parse()
            .unwrap_or_else(|_| panic!("{px}/{sv} {col} = {v:?}\n{csv}"))
    };
    for (px, sv) in [("fe", "FRONTEND"), ("app", "BACKEND"), ("app", "s1")] {
        assert!(number(px, sv, "rate_max") >= 1, "{px}/{sv}\n{csv}");
        assert!(number(px, sv, "rate") <= number(px, sv, "rate_max") * 2);
    }
    assert_eq!(stat(&csv, "fe", "FRONTEND", "rate_lim"), "0");
    assert_eq!(number("fe", "FRONTEND", "req_rate"), 0, "tcp: no requests");
    assert_eq!(number("fe", "FRONTEND", "req_rate_max"), 0);
    for col in ["cli_abrt", "srv_abrt", "qtime", "ctime", "rtime", "ttime"] {
        assert_eq!(stat(&csv, "fe", "FRONTEND", col), "", "{col}");
        for sv in ["BACKEND", "s1"] {
            number("app", sv, col);
        }
    }
    for col in ["req_rate", "req_rate_max", "rate_lim"] {
        assert_eq!(stat(&csv, "app", "BACKEND", col), "", "{col}");
        assert_eq!(stat(&csv, "app", "s1", col), "", "{col}");
    }
    let json = admin(&sock(&p), "show stat json");
    for (kind, name) in [
        ("Frontend", "req_rate_max"),
        ("Frontend", "rate_max"),
        ("Backend", "cli_abrt"),
        ("Server", "ttime"),
    ] {
        let field = format!("\"name\":\"{name}\"}}");
        assert!(
            json.split("{\"objType\":\"")
                .any(|f| f.starts_with(&format!("{kind}\"")) && f.contains(&field)),
            "{kind} {name} missing in {json}"
        );
    }
}

#[test]
fn shutdown_session_closes_exactly_that_stream() {
    let o = Origin::start(Behaviour::Echo);
    let p = Proxy::start("onesess", &config(&[("s1", o.addr)], ""));
    let mut streams: Vec<TcpStream> = (0..4).map(|_| connect(p.addr("fe"))).collect();
    for c in &mut streams {
        assert_eq!(echo_round_trip(c, b"x"), b"x");
    }
    let list = admin(&sock(&p), "show sess");
    let ids: Vec<String> = list
        .lines()
        .filter_map(|l| l.split(':').next())
        .filter(|s| s.starts_with("0x"))
        .map(str::to_string)
        .collect();
    assert_eq!(ids.len(), 4, "{list}");
    // `show sess <id>` answers with exactly that stream, from its own shard.
    for id in &ids {
        let one = admin(&sock(&p), &format!("show sess {id}"));
        assert!(one.starts_with(&format!("{id}: [")), "{id}: {one}");
        assert_eq!(one.matches(": [").count(), 1, "{id}: {one}");
    }
    assert_eq!(
        admin(&sock(&p), "show sess 0x1000000000fff"),
        "Session not found.\n\n"
    );
    // Find which client owns the first listed stream by its source port.
    let victim_line = list.lines().next().expect("line");
    let port: u16 = victim_line
        .split("src=127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|p| p.parse().ok())
        .expect("src port");
    assert_eq!(
        admin(&sock(&p), &format!("shutdown session {}", ids[0])),
        "\n"
    );
    for c in &mut streams {
        let mine = c.local_addr().expect("addr").port() == port;
        if mine {
            // Closed (EOF or reset) with nothing more; a read timeout fails the test.
            let (got, _) = read_until_closed(c);
            assert!(got.is_empty(), "{got:?}");
        } else {
            assert_eq!(echo_round_trip(c, b"still"), b"still");
        }
    }
    assert_eq!(
        admin(&sock(&p), &format!("shutdown session {}", ids[0])),
        "No such session (use 'show sess').\n\n"
    );
    assert_eq!(
        admin(&sock(&p), "show sess 0x12345678"),
        "Session not found.\n\n"
    );
    let csv = admin(&sock(&p), "show stat");
    assert_eq!(stat(&csv, "app", "s1", "percore_killed"), "1");
}

#[derive(Debug)]
struct Record {
    server: String,
    established: Instant,
    ended: Option<Instant>,
    error: bool,
    /// The read timed out: the stream was still open, which no kill may leave.
    timed_out: bool,
}

#[test]
fn kill_under_load_only_touches_the_named_server() {
    let o1 = Origin::start(Behaviour::GreetEcho("s1"));
    let o2 = Origin::start(Behaviour::GreetEcho("s2"));
    let p = Proxy::start("killload", &config(&[("s1", o1.addr), ("s2", o2.addr)], ""));
    let addr = p.addr("fe");
    let records: Arc<Mutex<Vec<Record>>> = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..6)
        .map(|_| {
            let (records, stop) = (records.clone(), stop.clone());
            std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(60);
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    let (mut s, server) = open_greeted(addr);
                    let idx = {
                        let mut r = records.lock().expect("records");
                        r.push(Record {
                            server: server.clone(),
                            established: Instant::now(),
                            ended: None,
                            error: false,
                            timed_out: false,
                        });
                        r.len() - 1
                    };
                    // s1 streams live until killed; s2 streams do 20 round trips and close.
                    let mut n = 0;
                    let mut timed_out = false;
                    // An empty greeting is EOF before the server spoke: already killed.
                    let failed = server.is_empty()
                        || loop {
                            if stop.load(Ordering::Relaxed) || (server == "s2" && n == 20) {
                                break false;
                            }
                            s.write_all(b"ping").ok();
                            let mut back = [0u8; 4];
                            if let Err(e) = s.read_exact(&mut back) {
                                use std::io::ErrorKind;
                                timed_out =
                                    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut);
                                break true;
                            }
                            n += 1;
                        };
                    let mut r = records.lock().expect("records");
                    r[idx].ended = Some(Instant::now());
                    r[idx].error = failed;
                    r[idx].timed_out = timed_out;
                }
            })
        })
        .collect();
    let live_s1 = |records: &Mutex<Vec<Record>>| {
        records
            .lock()
            .expect("records")
            .iter()
            .filter(|r| r.server == "s1" && r.ended.is_none())
            .count()
    };
    let mut kills = 0;
    let mut latencies = Vec::new();
    while kills < 200 {
        let wait = Instant::now() + Duration::from_secs(2);
        while live_s1(&records) == 0 && Instant::now() < wait {
            std::thread::sleep(Duration::from_millis(1));
        }
        let sent = Instant::now();
        let reply = admin(&sock(&p), "shutdown sessions server app/s1");
        let replied = Instant::now();
        assert_eq!(reply, "\n");
        latencies.push(replied - sent);
        kills += 1;
        // Every s1 stream established before the command must see EOF/RST (bounded poll of
        // the clients' records: the reply comes once they are fenced, the closes follow).
        let deadline = replied + POLL_LIMIT;
        loop {
            let pending: Vec<Instant> = records
                .lock()
                .expect("records")
                .iter()
                .filter(|r| r.server == "s1" && r.established < sent && r.ended.is_none())
                .map(|r| r.established)
                .collect();
            if pending.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} s1 stream(s) still open {POLL_LIMIT:?} after kill #{kills} replied",
                pending.len()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("client thread");
    }
    let records = records.lock().expect("records");
    let timeouts = records.iter().filter(|r| r.timed_out).count();
    assert_eq!(
        timeouts, 0,
        "a read timeout is an open stream, never a kill"
    );
    let s2_errors = records
        .iter()
        .filter(|r| r.server == "s2" && r.error)
        .count();
    assert_eq!(s2_errors, 0, "s2 streams must never see an error");
    // A stream killed while still connecting to s1 ends before the greeting arrives: its
    // client saw EOF with no server name.
    let s1_killed = records
        .iter()
        .filter(|r| r.server != "s2" && r.error)
        .count() as u64;
    assert!(
        records.iter().all(|r| !r.server.is_empty() || r.error),
        "an empty greeting only comes from a kill"
    );
    assert!(s1_killed >= 100, "only {s1_killed} s1 streams were killed");
    let csv = admin(&sock(&p), "show stat");
    let counted: u64 = stat(&csv, "app", "s1", "percore_killed")
        .parse()
        .expect("n");
    assert_eq!(
        counted, s1_killed,
        "killed counter = kills clients observed"
    );
    assert_eq!(stat(&csv, "app", "s2", "percore_killed"), "0");
    let shards = admin(&sock(&p), "show shards");
    // The header starts with "# shard": its words are one ahead of the data columns.
    let col = shards
        .lines()
        .next()
        .and_then(|h| h.split_whitespace().position(|w| w == "killed"))
        .expect("killed column")
        - 1;
    let killed_col: u64 = shards
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split_whitespace()
                .nth(col)
                .and_then(|v| v.parse::<u64>().ok())
                .expect("killed")
        })
        .sum();
    assert_eq!(killed_col, s1_killed, "{shards}");
    latencies.sort();
    eprintln!(
        "shutdown sessions server: {} kills, reply p50 {:?} max {:?}",
        latencies.len(),
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1]
    );
}

#[test]
fn maint_and_drain_stop_new_streams_but_keep_existing() {
    let o1 = Origin::start(Behaviour::GreetEcho("s1"));
    let o2 = Origin::start(Behaviour::GreetEcho("s2"));
    let p = Proxy::start("states", &config(&[("s1", o1.addr), ("s2", o2.addr)], ""));
    let addr = p.addr("fe");
    let mut on_s1: Vec<TcpStream> = Vec::new();
    while on_s1.len() < 2 {
        let (s, name) = open_greeted(addr);
        if name == "s1" {
            on_s1.push(s);
        }
    }
    for state in ["maint", "drain"] {
        assert_eq!(
            admin(&sock(&p), &format!("set server app/s1 state {state}")),
            "\n"
        );
        for _ in 0..20 {
            assert_eq!(open_greeted(addr).1, "s2", "no new stream to s1 in {state}");
        }
        for s in &mut on_s1 {
            assert_eq!(
                echo_round_trip(s, b"alive"),
                b"alive",
                "existing stream kept in {state}"
            );
        }
        let csv = admin(&sock(&p), "show stat");
        assert_eq!(stat(&csv, "app", "s1", "status"), state.to_uppercase());
    }
    assert_eq!(admin(&sock(&p), "set server app/s1 state ready"), "\n");
    let names: Vec<String> = (0..20).map(|_| open_greeted(addr).1).collect();
    assert!(
        names.iter().any(|n| n == "s1"),
        "s1 takes traffic again: {names:?}"
    );
    // weight 0 also stops new streams; get weight reports it.
    assert_eq!(admin(&sock(&p), "set server app/s2 weight 0"), "\n");
    assert_eq!(admin(&sock(&p), "get weight app/s2"), "0 (initial 1)\n\n");
    for _ in 0..10 {
        assert_eq!(open_greeted(addr).1, "s1");
    }
    let state = admin(&sock(&p), "show servers state app");
    assert!(state.contains(" s2 127.0.0.1 2 0 0 1 "), "{state}");
}

#[test]
fn permission_levels_are_enforced() {
    let o = Origin::start(Behaviour::Echo);
    let extra = "    extra:\n      - { socket: ./user.sock, level: user }\n      - { socket: ./op.sock, level: operator }\n";
    let p = Proxy::start("perms", &config(&[("s1", o.addr)], extra));
    let user = p.dir.join("user.sock");
    let op = p.dir.join("op.sock");
    for line in [
        "shutdown sessions server app/s1",
        "disable server app/s1",
        "set server app/s1 weight 5",
        "set maxconn frontend fe 10",
        "shutdown session 0x1",
        "show sess",
    ] {
        assert_eq!(admin(&user, line), "Permission denied\n\n", "user: {line}");
    }
    assert_eq!(admin(&op, "disable server app/s1"), "Permission denied\n\n");
    assert_eq!(admin(&op, "show sess"), "\n");
    assert_eq!(admin(&user, "get weight app/s1"), "1 (initial 1)\n\n");
    assert_eq!(admin(&user, "show cli level"), "user\n\n");
    assert_eq!(admin(&sock(&p), "show cli level"), "admin\n\n");
    let csv = admin(&user, "show stat");
    assert_eq!(
        stat(&csv, "app", "s1", "addr"),
        "",
        "addr hidden at user level"
    );
}

#[test]
fn socket_is_private_and_replaces_stale_but_not_live() {
    let o = Origin::start(Behaviour::Echo);
    let dir = temp_dir("sockmode");
    // A stale socket file from a dead process is replaced.
    let stale = std::os::unix::net::UnixListener::bind(dir.join("admin.sock")).expect("bind");
    drop(stale);
    let yaml = config(&[("s1", o.addr)], "");
    let mut p = Proxy::start_in(dir.clone(), &yaml);
    let mode = std::fs::metadata(sock(&p))
        .expect("socket")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    // A second percore on the same socket path refuses to start.
    let second = dir.join("second.yaml");
    std::fs::write(&second, &yaml).expect("write");
    let (st, _, err) = run_cli(&["run", "-c", "second.yaml"], &dir);
    assert_eq!(st.code(), Some(1), "{err}");
    assert!(err.contains("in use by a running process"), "{err}");
    assert_eq!(admin(&sock(&p), "show backend"), "# name\napp\n\n");
    assert!(p.stop().success());
    assert!(!sock(&p).exists(), "socket removed at exit");
}

#[test]
fn hostile_admin_clients_never_block_or_crash() {
    let o = Origin::start(Behaviour::Echo);
    let p = Proxy::start("hostile", &config(&[("s1", o.addr)], ""));
    let path = sock(&p);
    // Garbage bytes, including NUL and invalid UTF-8.
    let mut g = UnixStream::connect(&path).expect("connect");
    g.write_all(b"\x00\xff\xfe garbage \x01\x02;;;\n")
        .expect("write");
    let mut reply = String::new();
    g.read_to_string(&mut reply).expect("reply");
    assert!(reply.starts_with("Unknown command"), "{reply}");
    // A line over 64 KiB without LF is refused.
    let mut long = UnixStream::connect(&path).expect("connect");
    let _ = long.write_all(&vec![b'a'; 70 * 1024]);
    let mut reply = String::new();
    let _ = long.read_to_string(&mut reply);
    assert!(reply.starts_with("Line too long"), "{reply}");
    // Clients that connect and vanish, or send half a line and go silent.
    for _ in 0..50 {
        drop(UnixStream::connect(&path).expect("connect"));
    }
    let mut silent: Vec<UnixStream> = (0..10)
        .map(|_| {
            let mut s = UnixStream::connect(&path).expect("connect");
            s.write_all(b"show st").expect("partial");
            s
        })
        .collect();
    // Meanwhile other clients and the data path are served normally.
    let t0 = Instant::now();
    assert_eq!(admin(&path, "show backend"), "# name\napp\n\n");
    assert!(t0.elapsed() < Duration::from_secs(2));
    let mut c = connect(p.addr("fe"));
    assert_eq!(
        echo_round_trip(&mut c, b"data path fine"),
        b"data path fine"
    );
    // Pipelined lines, chaining, prompt mode and quit behave as HAProxy's.
    let mut pm = UnixStream::connect(&path).expect("connect");
    pm.write_all(b"prompt\nget weight app/s1;get weight app/nosuch\nquit\n")
        .expect("write");
    let mut reply = String::new();
    pm.read_to_string(&mut reply).expect("reply");
    assert_eq!(reply, "\n> 1 (initial 1)\n\n> No such server.\n\n> ");
    silent.clear();
    assert!(admin(&path, "show info").contains("Name: percore"));
}

#[test]
fn ctl_one_shot_exit_status_and_table() {
    let o = Origin::start(Behaviour::Echo);
    let p = Proxy::start("ctl", &config(&[("s1", o.addr)], ""));
    let s = sock(&p);
    let s = s.to_string_lossy();
    let (st, out, _) = run_cli(&["ctl", "-s", &s, "get", "weight", "app/s1"], &p.dir);
    assert!(st.success());
    assert_eq!(out, "1 (initial 1)\n\n");
    let (st, out, _) = run_cli(&["ctl", "-s", &s, "get weight app/nosuch"], &p.dir);
    assert_eq!(st.code(), Some(1));
    assert_eq!(out, "No such server.\n\n");
    let (st, out, _) = run_cli(&["ctl", "-s", &s, "-t", "show", "stat"], &p.dir);
    assert!(st.success());
    assert!(out.starts_with("pxname"), "{out}");
    assert!(out.contains("FRONTEND"), "{out}");
    let (st, out, _) = run_cli(&["ctl", "-s", &s, "--json", "show", "info"], &p.dir);
    assert!(st.success());
    assert!(out.trim_start().starts_with('['), "{out}");
    let (st, _, err) = run_cli(&["ctl", "-s", "/nonexistent.sock", "show", "info"], &p.dir);
    assert_eq!(st.code(), Some(2), "{err}");
}

/// `ADMIN_CONNS_MAX`: connections one admin listener serves at once.
const ADMIN_CONNS: usize = percore::control::admin::ADMIN_CONNS_MAX;

/// `show info` over a fresh connection, retried until it answers (bounded by [`WAIT`]).
fn show_info_eventually(path: &std::path::Path) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let reply = percore_admin::Client::new(&path.to_string_lossy())
            .with_timeout(WAIT)
            .send("show info");
        match reply {
            Ok(r) if r.contains("Name: percore") => return r,
            other => assert!(
                Instant::now() < deadline,
                "the admin socket stays locked: {other:?}"
            ),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn slow_drip_clients_cannot_lock_the_operator_out() {
    let o = Origin::start(Behaviour::Echo);
    let p = Proxy::start("admin-drip", &config(&[("s1", o.addr)], ""));
    let path = sock(&p);
    // Every slot is held by a client that sent one byte of a line and nothing since.
    let mut drips: Vec<UnixStream> = (0..ADMIN_CONNS)
        .map(|_| {
            let mut s = UnixStream::connect(&path).expect("connect");
            s.write_all(b"s").expect("one byte");
            s
        })
        .collect();
    // The operator still gets in: the longest idle connection makes room.
    assert!(show_info_eventually(&path).contains("Name: percore"));
    assert_eq!(
        wait_closed_unix(&mut drips[0]),
        0,
        "the oldest one was closed"
    );
}

#[test]
fn a_line_must_arrive_within_timeout_cli_however_slowly_it_drips() {
    let o = Origin::start(Behaviour::Echo);
    let yaml = config(&[("s1", o.addr)], "")
        .replace("  grace: 1s\n", "  grace: 1s\n  timeout: { cli: 300ms }\n");
    let p = Proxy::start("admin-cli-timeout", &yaml);
    let mut s = UnixStream::connect(sock(&p)).expect("connect");
    // One byte of a line that never ends per 100 ms (the read timeout paces the writes):
    // each byte comes well within 300 ms of the last, the line never within 300 ms.
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("read timeout");
    let mut sent = 0;
    let mut buf = [0u8; 256];
    let closed = loop {
        if sent == 30 {
            break false;
        }
        if s.write_all(b"x").is_err() {
            break true;
        }
        sent += 1;
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => panic!("unexpected reply {:?}", String::from_utf8_lossy(&buf[..n])),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(e) => panic!("read: {e}"),
        }
    };
    assert!(
        closed,
        "still open after {sent} bytes: each byte extended the deadline"
    );
    // The timeout is per connection: the operator is served as before.
    assert_eq!(admin(&sock(&p), "show backend"), "# name\napp\n\n");
}

#[test]
fn a_flood_of_admin_connections_logs_a_handful_of_lines() {
    const FLOOD: usize = 2000;
    let o = Origin::start(Behaviour::Echo);
    // A long timeout.cli: no flood connection may leave before a new one takes its slot.
    let yaml = config(&[("s1", o.addr)], "")
        .replace("  grace: 1s\n", "  grace: 1s\n  timeout: { cli: 1h }\n");
    let p = Proxy::start("admin-flood", &yaml);
    let path = sock(&p);
    // Held open: every connection past the limit closes an idle one.
    let flood: Vec<UnixStream> = (0..ADMIN_CONNS + FLOOD)
        .map(|_| UnixStream::connect(&path).expect("connect"))
        .collect();
    // Each close is either a warning line or counted in a summary (which comes when its
    // interval ends); the lines stay a handful all along.
    let closes_logged = |expected: usize| {
        let deadline = Instant::now() + WAIT;
        loop {
            let lines = admin_warnings(&p);
            assert!(lines.len() <= 6, "{} lines: {lines:#?}", lines.len());
            if closes_reported(&lines) == expected {
                return lines;
            }
            assert!(Instant::now() < deadline, "{lines:#?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let lines = closes_logged(FLOOD);
    assert!(
        lines.iter().any(|l| l.contains("more suppressed")),
        "{lines:#?}"
    );
    // The operator gets in, closing one more: a new episode, logged again.
    show_info_eventually(&path);
    closes_logged(FLOOD + 1);
    drop(flood);
}

/// The process log's warnings about admin connections.
fn admin_warnings(p: &Proxy) -> Vec<String> {
    p.lines
        .lock()
        .expect("lines")
        .iter()
        .filter(|l| l.contains("[WARN]") && l.contains("admin"))
        .cloned()
        .collect()
}

/// Idle connections closed for new ones, as the log reports them: one per warning line,
/// plus the counts of the summaries.
fn closes_reported(lines: &[String]) -> usize {
    lines
        .iter()
        .map(
            |l| match l.split_once("idle connections closed for new ones: ") {
                Some((_, rest)) => rest
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("a count"),
                None => usize::from(l.contains("closed the one idle for")),
            },
        )
        .sum()
}

/// Reads a unix stream until EOF; the bytes read.
fn wait_closed_unix(s: &mut UnixStream) -> usize {
    s.set_read_timeout(Some(WAIT)).expect("read timeout");
    let mut got = Vec::new();
    s.read_to_end(&mut got).expect("closed, not timed out");
    got.len()
}

#[test]
fn a_line_of_thousands_of_commands_does_not_hold_up_other_clients() {
    let o = Origin::start(Behaviour::Echo);
    let p = Proxy::start("admin-long-line", &config(&[("s1", o.addr)], ""));
    let path = sock(&p);
    // 10 000 unknown commands: each is answered with the usage text after a ranking of the
    // keywords, ~0.15 s of the control plane's time for the whole line (release build).
    let mut big = UnixStream::connect(&path).expect("connect");
    let mut line = b"x;".repeat(9_999);
    line.extend_from_slice(b"x\n");
    big.write_all(&line).expect("write the line");
    // Answered while the long line still runs: its reply has not begun.
    assert!(admin(&path, "show info").contains("Name: percore"));
    big.set_nonblocking(true).expect("non-blocking");
    let mut byte = [0u8; 1];
    assert!(
        matches!(big.read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the long line's reply began before another client's command was answered"
    );
    big.set_nonblocking(false).expect("blocking");
    let mut reply = Vec::new();
    big.read_to_end(&mut reply).expect("the long line's reply");
    let text = String::from_utf8_lossy(&reply);
    assert_eq!(text.matches("Unknown command").count(), 10_000);
}
