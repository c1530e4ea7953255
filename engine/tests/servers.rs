//! Server state through the real binary: active TCP and HTTP health checks with rise/fall,
//! on_marked_down: shutdown-sessions, on_marked_up: shutdown-backup-sessions, backup
//! servers, and the state shown by `show stat` / `show servers state`.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::http_origin::HttpOrigin;
use common::*;

fn config(backend_extra: &str, servers: &[(&str, SocketAddr, &str)]) -> String {
    let mut s = String::from(
        "global:\n  shards: 2\n  grace: 1s\n  admin: { socket: ./admin.sock }\n\
         defaults:\n  mode: tcp\n  timeout: { connect: 300ms, client: 30s, server: 30s }\n  retries: 1\n\
         frontends:\n  fe: { bind: \"127.0.0.1:0\", default_backend: app }\n\
         backends:\n  app:\n",
    );
    s.push_str(backend_extra);
    s.push_str("    servers:\n");
    for (name, addr, extra) in servers {
        s.push_str(&format!(
            "      - {{ name: {name}, address: \"{addr}\"{extra} }}\n"
        ));
    }
    s
}

/// Waits until `show stat` says `status` for app/`server`; returns how long it took.
fn wait_status(p: &Proxy, server: &str, status: &str) -> Duration {
    let t0 = Instant::now();
    loop {
        let csv = admin(&sock(p), "show stat");
        if stat(&csv, "app", server, "status") == status {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < WAIT,
            "app/{server} never became {status}:\n{csv}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn dead_server_goes_down_streams_killed_then_up_again() {
    let o1 = Origin::start(Behaviour::GreetEcho("s1"));
    let o2 = Origin::start(Behaviour::GreetEcho("s2"));
    let s1_addr = o1.addr;
    let yaml = config(
        "    check: { inter: 100ms, rise: 2, fall: 3, timeout: 100ms }\n    on_marked_down: shutdown-sessions\n",
        &[("s1", o1.addr, ""), ("s2", o2.addr, "")],
    );
    let p = Proxy::start("hc-down", &yaml);
    let addr = p.addr("fe");
    wait_status(&p, "s1", "UP");
    // Live streams on both servers.
    let mut on_s1 = Vec::new();
    let mut on_s2 = Vec::new();
    while on_s1.len() < 3 || on_s2.len() < 3 {
        let (s, name) = open_greeted(addr);
        if name == "s1" {
            on_s1.push(s)
        } else {
            on_s2.push(s)
        }
    }
    // s1's listener goes away; its established connections stay open on the origin side,
    // so only percore can end them.
    let died = Instant::now();
    drop(o1);
    let to_down = wait_status(&p, "s1", "DOWN");
    let mut killed_after = Duration::ZERO;
    for s in &mut on_s1 {
        // EOF or reset: killed. A read timeout fails inside wait_closed.
        wait_closed(s);
        killed_after = killed_after.max(died.elapsed());
    }
    for s in &mut on_s2 {
        assert_eq!(echo_round_trip(s, b"ok"), b"ok", "s2 streams untouched");
    }
    for _ in 0..20 {
        assert_eq!(
            open_greeted(addr).1,
            "s2",
            "no new traffic to a DOWN server"
        );
    }
    let csv = admin(&sock(&p), "show stat");
    assert_eq!(stat(&csv, "app", "s1", "check_status"), "L4CON");
    assert_eq!(stat(&csv, "app", "s1", "chkdown"), "1");
    assert_eq!(
        stat(&csv, "app", "s1", "percore_killed"),
        on_s1.len().to_string()
    );
    let state = admin(&sock(&p), "show servers state app");
    assert!(
        state.contains(" s1 127.0.0.1 0 0 "),
        "op_state 0 when DOWN:\n{state}"
    );
    // Back on the same port: UP after `rise` good checks, traffic returns.
    let _o1 = Origin::start_on(s1_addr, Behaviour::GreetEcho("s1"));
    let to_up = wait_status(&p, "s1", "UP");
    let names: Vec<String> = (0..20).map(|_| open_greeted(addr).1).collect();
    assert!(names.iter().any(|n| n == "s1"), "{names:?}");
    eprintln!(
        "death -> DOWN {:?}, death -> streams killed {:?}, restart -> UP {:?}",
        to_down, killed_after, to_up
    );
}

#[test]
fn http_check_with_wrong_status_marks_down() {
    let good = HttpOrigin::start("good");
    let bad = HttpOrigin::start("bad");
    let yaml = config(
        "    check: { type: http, path: /status/200, inter: 100ms, rise: 1, fall: 2 }\n",
        &[
            ("good", good.addr, ""),
            ("bad", bad.addr, ", check: { path: /status/500 }"),
        ],
    );
    let p = Proxy::start("hc-http", &yaml);
    wait_status(&p, "bad", "DOWN");
    wait_status(&p, "good", "UP");
    let csv = admin(&sock(&p), "show stat");
    assert_eq!(stat(&csv, "app", "bad", "check_status"), "L7STS");
    assert_eq!(stat(&csv, "app", "bad", "check_code"), "500");
    assert_eq!(stat(&csv, "app", "good", "check_status"), "L7OK");
    assert!(
        good.last_head().starts_with("GET /status/200 HTTP/1.1"),
        "{}",
        good.last_head()
    );
    // disable health: state kept, shown as "no check"; enable: checks resume.
    assert_eq!(admin(&sock(&p), "disable health app/bad"), "\n");
    assert_eq!(
        stat(&admin(&sock(&p), "show stat"), "app", "bad", "status"),
        "no check"
    );
    assert_eq!(admin(&sock(&p), "enable health app/bad"), "\n");
    wait_status(&p, "bad", "DOWN");
}

#[test]
fn backup_takes_over_only_when_all_primaries_are_down() {
    let p1 = Origin::start(Behaviour::GreetEcho("p1"));
    let b1 = Origin::start(Behaviour::GreetEcho("b1"));
    let p1_addr = p1.addr;
    let yaml = config(
        "    check: { inter: 100ms, rise: 1, fall: 1, timeout: 100ms }\n    on_marked_up: shutdown-backup-sessions\n",
        &[("p1", p1.addr, ""), ("b1", b1.addr, ", backup: true")],
    );
    let p = Proxy::start("hc-backup", &yaml);
    let addr = p.addr("fe");
    wait_status(&p, "p1", "UP");
    for _ in 0..20 {
        assert_eq!(
            open_greeted(addr).1,
            "p1",
            "backup unused while a primary is up"
        );
    }
    drop(p1);
    wait_status(&p, "p1", "DOWN");
    let (mut on_backup, name) = open_greeted(addr);
    assert_eq!(name, "b1");
    assert_eq!(echo_round_trip(&mut on_backup, b"x"), b"x");
    let _p1 = Origin::start_on(p1_addr, Behaviour::GreetEcho("p1"));
    wait_status(&p, "p1", "UP");
    // on_marked_up: shutdown-backup-sessions ended the stream on the backup (EOF or reset;
    // still open after the read timeout fails the test).
    wait_closed(&mut on_backup);
    assert_eq!(open_greeted(addr).1, "p1");
}

fn http_maxconn_config(origin: SocketAddr, queue: &str) -> String {
    format!(
        "global:\n  shards: 2\n  grace: 1s\n  admin: {{ socket: ./admin.sock }}\n\
         defaults:\n  mode: http\n  timeout: {{ queue: {queue} }}\n\
         frontends:\n  web: {{ bind: \"127.0.0.1:0\", default_backend: app }}\n\
         backends:\n  app:\n    http_reuse: never\n    servers:\n\
         \x20     - {{ name: s1, address: \"{origin}\", maxconn: 2 }}\n"
    )
}

/// Sends `n` concurrent requests on separate connections; returns their statuses.
fn concurrent_statuses(addr: SocketAddr, n: usize) -> Vec<u16> {
    let threads: Vec<_> = (0..n)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = common::http_origin::HttpClient::connect(addr);
                c.get("/").status
            })
        })
        .collect();
    threads
        .into_iter()
        .map(|t| t.join().expect("client"))
        .collect()
}

#[test]
fn maxconn_queues_then_503_after_queue_timeout() {
    use std::sync::atomic::Ordering;
    // maxconn 2 over 2 shards: one slot per shard.
    let slow = HttpOrigin::start_with_delay("slow", Duration::from_millis(600));
    let p = Proxy::start("mc-timeout", &http_maxconn_config(slow.addr, "150ms"));
    let statuses = concurrent_statuses(p.addr("web"), 6);
    let ok = statuses.iter().filter(|&&s| s == 200).count();
    let busy = statuses.iter().filter(|&&s| s == 503).count();
    assert_eq!(ok + busy, 6, "{statuses:?}");
    assert!(
        busy >= 1,
        "6 requests, 2 slots, 150 ms queue: some must time out: {statuses:?}"
    );
    assert!(
        slow.seen.max_serving.load(Ordering::SeqCst) <= 2,
        "maxconn exceeded"
    );
    let csv = admin(&sock(&p), "show stat");
    assert_eq!(stat(&csv, "app", "s1", "slim"), "2");
    assert!(
        stat(&csv, "app", "BACKEND", "qmax")
            .parse::<u64>()
            .expect("qmax")
            >= 1
    );
    assert_eq!(stat(&csv, "app", "BACKEND", "qcur"), "0");

    // A long enough queue: everyone is served, never more than maxconn at once.
    let slow2 = HttpOrigin::start_with_delay("slow2", Duration::from_millis(100));
    let p2 = Proxy::start("mc-queue", &http_maxconn_config(slow2.addr, "10s"));
    let statuses = concurrent_statuses(p2.addr("web"), 8);
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    assert!(slow2.seen.max_serving.load(Ordering::SeqCst) <= 2);
    // Lowered at run time to 0 (unlimited) through the admin socket.
    assert_eq!(admin(&sock(&p2), "set maxconn server app/s1 0"), "\n");
    let statuses = concurrent_statuses(p2.addr("web"), 8);
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    assert!(
        slow2.seen.max_in_flight.load(Ordering::SeqCst) > 2,
        "limit lifted"
    );
}

#[test]
fn passive_layer4_errors_mark_a_server_down() {
    let live = Origin::start(Behaviour::GreetEcho("live"));
    let dead = dead_addr();
    // inter 1h: the dead server's active check (started half an interval later) never runs
    // during the test, so only traffic errors can mark it down.
    let yaml = config(
        "    check: { inter: 1h, observe: layer4, error_limit: 3, on_error: mark-down }\n",
        &[("live", live.addr, ""), ("dead", dead, "")],
    );
    let p = Proxy::start("hc-passive", &yaml);
    let addr = p.addr("fe");
    for _ in 0..40 {
        assert_eq!(open_greeted(addr).1, "live", "retried on the live server");
    }
    wait_status(&p, "dead", "DOWN");
    let csv = admin(&sock(&p), "show stat");
    assert_eq!(stat(&csv, "app", "dead", "check_status"), "HANA");
    assert!(
        stat(&csv, "app", "dead", "hanafail")
            .parse::<u64>()
            .expect("n")
            >= 1
    );
    let econ = stat(&csv, "app", "dead", "econ");
    // Each failed attempt was retried and redispatched to the live server.
    let wredis: u64 = stat(&csv, "app", "BACKEND", "wredis").parse().expect("n");
    let wretr: u64 = stat(&csv, "app", "BACKEND", "wretr").parse().expect("n");
    assert!(
        wredis >= 3 && wretr >= wredis,
        "wretr {wretr} wredis {wredis}"
    );
    for _ in 0..20 {
        assert_eq!(open_greeted(addr).1, "live");
    }
    let csv = admin(&sock(&p), "show stat");
    assert_eq!(
        stat(&csv, "app", "dead", "econ"),
        econ,
        "a DOWN server gets no more attempts"
    );
    assert!(
        p.log()
            .contains("Server app/dead is DOWN, reason: Health analyze"),
        "{}",
        p.log()
    );
}

#[test]
fn slowstart_ramps_the_weight_after_up() {
    let o1 = Origin::start(Behaviour::GreetEcho("s1"));
    let o2 = Origin::start(Behaviour::GreetEcho("s2"));
    let s1_addr = o1.addr;
    let yaml = config(
        "    check: { inter: 50ms, rise: 1, fall: 1, timeout: 50ms }\n",
        &[
            ("s1", o1.addr, ", weight: 100, slowstart: 4s"),
            ("s2", o2.addr, ", weight: 100"),
        ],
    );
    let p = Proxy::start("hc-slowstart", &yaml);
    let addr = p.addr("fe");
    wait_status(&p, "s1", "UP");
    drop(o1);
    wait_status(&p, "s1", "DOWN");
    let _o1 = Origin::start_on(s1_addr, Behaviour::GreetEcho("s1"));
    wait_status(&p, "s1", "UP");
    // (effective weight, throttle %) of s1; no throttle once the ramp is over.
    let ramp = || {
        let csv = admin(&sock(&p), "show stat");
        assert_eq!(stat(&csv, "app", "s1", "uweight"), "100");
        let weight: u64 = stat(&csv, "app", "s1", "weight").parse().expect("weight");
        let throttle = stat(&csv, "app", "s1", "throttle");
        (weight, throttle.parse::<u64>().ok())
    };
    let (w0, t0) = ramp();
    assert!(
        w0 < 100 && t0.is_some_and(|t| t < 100),
        "just back UP, s1 ramps: weight {w0} throttle {t0:?}%"
    );
    let early: Vec<String> = (0..100).map(|_| open_greeted(addr).1).collect();
    let s1_early = early.iter().filter(|n| *n == "s1").count() as u64;
    // The weight only grew during those requests: its value now bounds s1's fair share
    // (s2 weighs 100), whatever the time they took.
    let (w1, _) = ramp();
    let share_max = 100 * w1 / (w1 + 100) + 15;
    assert!(
        s1_early <= share_max,
        "ramping server gets at most its weighted share: {s1_early}/100 at weight <= {w1}"
    );
    // The ramp never goes down and ends at the full weight without throttle.
    let mut last = w1;
    poll_until("s1 at full weight after slow start", || {
        let (w, t) = ramp();
        assert!(w >= last, "weight went down from {last} to {w}");
        last = w;
        if w == 100 && t.is_none() {
            Ok(())
        } else {
            Err((w, t))
        }
    });
}

#[test]
fn minconn_and_fullconn_scale_the_limit_with_backend_load() {
    use std::sync::atomic::Ordering;
    let run = |fullconn: u32| -> usize {
        let slow = HttpOrigin::start_with_delay("slow", Duration::from_millis(300));
        let yaml = http_maxconn_config(slow.addr, "10s")
            .replace("maxconn: 2 }", "maxconn: 8, minconn: 2 }")
            .replace(
                "    http_reuse: never\n",
                &format!("    http_reuse: never\n    fullconn: {fullconn}\n"),
            );
        let p = Proxy::start("mc-minconn", &yaml);
        let statuses = concurrent_statuses(p.addr("web"), 8);
        assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
        slow.seen.max_serving.load(Ordering::SeqCst)
    };
    // Far below fullconn: the limit stays at minconn (1 per shard).
    let low = run(1000);
    assert!(
        low <= 2,
        "at light load the limit is minconn: {low} in flight"
    );
    // fullconn reached: the limit grows towards maxconn.
    let high = run(2);
    assert!(
        high > 2,
        "at full load the limit grows to maxconn: {high} in flight"
    );
}

#[test]
fn http_check_404_with_disable_on_404_puts_server_in_nolb() {
    let good = HttpOrigin::start("good");
    let leaving = HttpOrigin::start("leaving");
    let mut yaml = config(
        "    check: { type: http, path: /status/200, inter: 100ms, rise: 1, fall: 2, disable_on_404: true }\n",
        &[("good", good.addr, ""), ("leaving", leaving.addr, ", check: { path: /status/404 }")],
    );
    yaml = yaml.replace("  mode: tcp\n", "  mode: http\n");
    let p = Proxy::start("hc-nolb", &yaml);
    wait_status(&p, "leaving", "NOLB");
    wait_status(&p, "good", "UP");
    let state = admin(&sock(&p), "show servers state app");
    assert!(
        state.contains(" leaving 127.0.0.1 3 0 "),
        "op_state 3 (stopping):\n{state}"
    );
    let mut c = common::http_origin::HttpClient::connect(p.addr("fe"));
    for _ in 0..20 {
        assert_eq!(
            c.get("/").header("x-origin"),
            Some("good"),
            "no new traffic in NOLB"
        );
    }
}
