//! Load-balancing algorithms through the real binary (2 shards), each checked statistically
//! over at least 1000 requests or connections: weights, leastconn against a slow server,
//! source and uri stickiness, consistent hashing's minimal disruption, first, random, hdr.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::http_origin::{HttpClient, HttpOrigin};
use common::*;

fn http_config(backend: &str, servers: &[(&str, SocketAddr, u32)]) -> String {
    let mut s = String::from(
        "global:\n  shards: 2\n  grace: 1s\n  admin: { socket: ./admin.sock }\n\
         defaults:\n  mode: http\n\
         frontends:\n  web: { bind: \"127.0.0.1:0\", default_backend: app }\n\
         backends:\n  app:\n",
    );
    s.push_str(backend);
    s.push_str("    servers:\n");
    for (name, addr, weight) in servers {
        s.push_str(&format!(
            "      - {{ name: {name}, address: \"{addr}\", weight: {weight} }}\n"
        ));
    }
    s
}

fn origin_of(c: &mut HttpClient, path: &str) -> String {
    c.get(path).header("x-origin").unwrap_or("?").to_string()
}

fn share(counts: &HashMap<String, u32>, name: &str, total: u32) -> f64 {
    f64::from(*counts.get(name).unwrap_or(&0)) / f64::from(total)
}

#[test]
fn roundrobin_follows_weights() {
    let a = HttpOrigin::start("a");
    let b = HttpOrigin::start("b");
    let c = HttpOrigin::start("c");
    let yaml = http_config("", &[("a", a.addr, 1), ("b", b.addr, 2), ("c", c.addr, 3)]);
    let p = Proxy::start("lb-rr", &yaml);
    let mut counts: HashMap<String, u32> = HashMap::new();
    let total = 1200;
    // Several client connections so both shards take part.
    for _ in 0..12 {
        let mut cl = HttpClient::connect(p.addr("web"));
        for _ in 0..total / 12 {
            *counts.entry(origin_of(&mut cl, "/")).or_default() += 1;
        }
    }
    eprintln!("roundrobin 1:2:3 over {total}: {counts:?}");
    for (name, want) in [("a", 1.0 / 6.0), ("b", 2.0 / 6.0), ("c", 3.0 / 6.0)] {
        let got = share(&counts, name, total);
        assert!(
            (got - want).abs() < 0.03,
            "{name}: {got:.3} vs {want:.3} {counts:?}"
        );
    }
}

#[test]
fn static_rr_follows_configured_weights_and_refuses_new_ones() {
    let a = HttpOrigin::start("a");
    let b = HttpOrigin::start("b");
    let yaml = http_config(
        "    balance: static-rr\n",
        &[("a", a.addr, 1), ("b", b.addr, 3)],
    );
    let p = Proxy::start("lb-static", &yaml);
    let mut counts: HashMap<String, u32> = HashMap::new();
    for _ in 0..10 {
        let mut cl = HttpClient::connect(p.addr("web"));
        for _ in 0..100 {
            *counts.entry(origin_of(&mut cl, "/")).or_default() += 1;
        }
    }
    eprintln!("static-rr 1:3 over 1000: {counts:?}");
    let got = share(&counts, "b", 1000);
    assert!((got - 0.75).abs() < 0.03, "{counts:?}");
    // As HAProxy: a static algorithm only takes 0 or the initial weight.
    let reply = admin(&p.dir.join("admin.sock"), "set server app/b weight 2");
    assert!(
        reply.starts_with("Backend is using a static LB algorithm"),
        "{reply}"
    );
    assert_eq!(
        admin(&p.dir.join("admin.sock"), "set server app/b weight 0"),
        "\n"
    );
}

#[test]
fn leastconn_sends_less_to_a_slow_server() {
    let slow = HttpOrigin::start_with_delay("slow", Duration::from_millis(20));
    let fast = HttpOrigin::start("fast");
    let yaml = http_config(
        "    balance: leastconn\n    http_reuse: never\n",
        &[("slow", slow.addr, 1), ("fast", fast.addr, 1)],
    );
    let p = Proxy::start("lb-lc", &yaml);
    let addr = p.addr("web");
    let threads: Vec<_> = (0..10)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = HttpClient::connect(addr);
                (0..100).map(|_| origin_of(&mut c, "/")).collect::<Vec<_>>()
            })
        })
        .collect();
    let mut counts: HashMap<String, u32> = HashMap::new();
    for t in threads {
        for name in t.join().expect("client") {
            *counts.entry(name).or_default() += 1;
        }
    }
    eprintln!("leastconn slow vs fast over 1000: {counts:?}");
    let (s, f) = (
        counts.get("slow").copied().unwrap_or(0),
        counts.get("fast").copied().unwrap_or(0),
    );
    assert_eq!(s + f, 1000);
    assert!(
        f > 2 * s,
        "the fast server must take most requests: {counts:?}"
    );
}

#[test]
fn source_is_sticky_per_client_address() {
    let origins: Vec<Origin> = ["s1", "s2", "s3"]
        .iter()
        .map(|n| Origin::start(Behaviour::GreetEcho(n)))
        .collect();
    let mut yaml = String::from(
        "global:\n  shards: 2\n  grace: 1s\ndefaults: { mode: tcp }\n\
         frontends:\n  fe: { bind: \"127.0.0.1:0\", default_backend: app }\n\
         backends:\n  app:\n    balance: source\n    servers:\n",
    );
    for (i, o) in origins.iter().enumerate() {
        yaml.push_str(&format!(
            "      - {{ name: s{}, address: \"{}\" }}\n",
            i + 1,
            o.addr
        ));
    }
    let p = Proxy::start("lb-source", &yaml);
    let addr = p.addr("fe");
    let mut per_server: HashMap<String, u32> = HashMap::new();
    // 200 client addresses (127.0.1.x), 5 connections each: 1000 connections.
    for x in 1..=200u32 {
        let src: SocketAddr = format!("127.0.{}.{}:0", 1 + x / 250, x % 250 + 1)
            .parse()
            .expect("src");
        let mut seen = None;
        for _ in 0..5 {
            let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                .expect("socket");
            sock.bind(&src.into()).expect("bind source");
            sock.connect_timeout(&addr.into(), WAIT).expect("connect");
            let s: TcpStream = sock.into();
            let mut name = String::new();
            BufReader::new(s).read_line(&mut name).expect("greeting");
            let name = name.trim().to_string();
            assert!(
                seen.is_none() || seen.as_ref() == Some(&name),
                "{src}: {seen:?} then {name}"
            );
            seen = Some(name);
        }
        *per_server.entry(seen.expect("name")).or_default() += 1;
    }
    eprintln!("source: 200 client addresses over 3 servers: {per_server:?}");
    for n in ["s1", "s2", "s3"] {
        assert!(
            per_server.get(n).copied().unwrap_or(0) >= 40,
            "{per_server:?}"
        );
    }
}

#[test]
fn uri_is_sticky_and_consistent_hash_moves_only_the_removed_servers_keys() {
    let a = HttpOrigin::start("a");
    let b = HttpOrigin::start("b");
    let c = HttpOrigin::start("c");
    let yaml = http_config(
        "    balance: uri\n    hash_type: consistent\n",
        &[("a", a.addr, 1), ("b", b.addr, 1), ("c", c.addr, 1)],
    );
    let p = Proxy::start("lb-uri", &yaml);
    let mut cl = HttpClient::connect(p.addr("web"));
    let paths: Vec<String> = (0..300).map(|i| format!("/item/{i}")).collect();
    let mut before = Vec::new();
    for path in &paths {
        let first = origin_of(&mut cl, path);
        for _ in 0..3 {
            assert_eq!(origin_of(&mut cl, path), first, "{path} sticky");
        }
        before.push(first);
    }
    let mut counts: HashMap<&str, u32> = HashMap::new();
    for o in &before {
        *counts.entry(o.as_str()).or_default() += 1;
    }
    eprintln!("uri consistent: 300 paths (1200 requests): {counts:?}");
    assert!(counts.values().all(|&n| n >= 50), "{counts:?}");
    assert_eq!(
        admin(&p.dir.join("admin.sock"), "set server app/b state maint"),
        "\n"
    );
    let mut moved = 0;
    for (path, was) in paths.iter().zip(&before) {
        let now = origin_of(&mut cl, path);
        if &now != was {
            moved += 1;
            assert_eq!(was, "b", "{path}: only b's keys may move");
        }
        assert_ne!(now, "b");
    }
    let moved_share = f64::from(moved) / paths.len() as f64;
    eprintln!(
        "consistent hash: {moved} of 300 keys moved when 1 of 3 servers left ({moved_share:.3})"
    );
    assert!(moved_share <= 1.0 / 3.0 + 0.1, "{moved_share}");
}

#[test]
fn hdr_first_and_random() {
    let a = HttpOrigin::start("a");
    let b = HttpOrigin::start("b");
    // hdr(name): same value, same server; both servers used over many values.
    let p = Proxy::start(
        "lb-hdr",
        &http_config(
            "    balance: hdr(X-User)\n",
            &[("a", a.addr, 1), ("b", b.addr, 1)],
        ),
    );
    let mut cl = HttpClient::connect(p.addr("web"));
    let mut seen: HashMap<String, u32> = HashMap::new();
    for u in 0..250 {
        let req = format!("GET / HTTP/1.1\r\nhost: t\r\nx-user: user{u}\r\n\r\n");
        let mut first = None;
        for _ in 0..4 {
            cl.send(req.as_bytes());
            let o = cl
                .read_response(false)
                .expect("r")
                .header("x-origin")
                .unwrap_or("?")
                .to_string();
            assert!(first.is_none() || first.as_ref() == Some(&o));
            first = Some(o);
        }
        *seen.entry(first.expect("origin")).or_default() += 1;
    }
    assert!(
        seen.values().all(|&n| n >= 60),
        "hdr over 250 users: {seen:?}"
    );
    // first: everything to the first server while it is usable.
    let p = Proxy::start(
        "lb-first",
        &http_config(
            "    balance: first\n",
            &[("a", a.addr, 1), ("b", b.addr, 1)],
        ),
    );
    let mut cl = HttpClient::connect(p.addr("web"));
    for _ in 0..1000 {
        assert_eq!(origin_of(&mut cl, "/"), "a");
    }
    // random: both servers, roughly by weight.
    let p = Proxy::start(
        "lb-random",
        &http_config(
            "    balance: random\n",
            &[("a", a.addr, 1), ("b", b.addr, 1)],
        ),
    );
    let mut cl = HttpClient::connect(p.addr("web"));
    let mut counts: HashMap<String, u32> = HashMap::new();
    for _ in 0..1000 {
        *counts.entry(origin_of(&mut cl, "/")).or_default() += 1;
    }
    eprintln!("random 1:1 over 1000: {counts:?}");
    assert!(counts.values().all(|&n| n >= 400), "{counts:?}");
}
