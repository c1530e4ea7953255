//! The Prometheus endpoint (`global.metrics`) through the real binary: after real traffic,
//! `GET /metrics` answers the Prometheus text format with HAProxy 2.6's exporter names and
//! percore's own `percore_shard_*` series, every line of which a strict text-format reader
//! accepts; other paths, methods and oversized or silent requests are refused and bounded.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use common::*;

fn start(tag: &str, origin: SocketAddr) -> (Proxy, SocketAddr) {
    let yaml = format!(
        "global:\n  shards: 2\n  metrics: {{ bind: \"127.0.0.1:0\" }}\n\
         defaults:\n  mode: tcp\n  timeout: {{ connect: 1s, client: 30s, server: 30s }}\n\
         frontends:\n  fe:\n    bind: \"127.0.0.1:0\"\n    default_backend: app\n\
         backends:\n  app:\n    servers:\n      - {{ name: s1, address: \"{origin}\" }}\n"
    );
    let p = Proxy::start(tag, &yaml);
    let addr = metrics_addr(&p);
    (p, addr)
}

/// One request, the whole response (the server closes after it).
fn request(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).expect("connect metrics");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    s.write_all(bytes).expect("write");
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read");
    String::from_utf8(out).expect("utf8")
}

/// A strict reader of the text format (version 0.0.4): `# HELP` / `# TYPE` before the
/// samples of each family, sample names of the declared family, label syntax, float or
/// NaN values, no repeated series. Returns the family names.
fn parse_text_format(body: &str) -> BTreeSet<String> {
    let mut families = BTreeSet::new();
    let mut family = String::new();
    let mut series = BTreeSet::new();
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            family = rest.split(' ').next().expect("name").to_owned();
            assert!(families.insert(family.clone()), "family twice: {family}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, ty) = rest.split_once(' ').expect("type");
            assert_eq!(name, family, "{line}");
            assert!(ty == "gauge" || ty == "counter", "{line}");
            continue;
        }
        let (key, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        assert!(value == "NaN" || value.parse::<f64>().is_ok(), "{line}");
        let name = key.split('{').next().expect("name");
        assert_eq!(name, family, "sample outside its family: {line}");
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        if let Some(labels) = key.strip_prefix(name).filter(|l| !l.is_empty()) {
            let inner = labels.strip_prefix('{').and_then(|l| l.strip_suffix('}'));
            let inner = inner.unwrap_or_else(|| panic!("labels: {line}"));
            for pair in inner.split("\",") {
                let (k, v) = pair.split_once("=\"").unwrap_or_else(|| panic!("{line}"));
                assert!(
                    k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "{line}"
                );
                assert!(!v.trim_end_matches('"').contains('"'), "{line}");
            }
        }
        assert!(series.insert(key.to_owned()), "series twice: {line}");
    }
    families
}

#[test]
fn metrics_endpoint_serves_haproxy_names_and_shard_series() {
    let o = Origin::start(Behaviour::GreetEcho("s1"));
    let (p, addr) = start("metrics", o.addr);
    for _ in 0..3 {
        let mut c = connect(p.addr("fe"));
        let mut greeting = [0u8; 3];
        c.read_exact(&mut greeting).expect("greeting");
    }
    let reply = request(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    let (head, body) = reply.split_once("\r\n\r\n").expect("head");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8"));
    assert!(head.contains(&format!("\r\nContent-Length: {}", body.len())));
    let families = parse_text_format(body);
    for name in [
        "haproxy_process_nbthread",
        "haproxy_frontend_current_sessions",
        "haproxy_backend_status",
        "haproxy_server_total_time_average_seconds",
        "percore_shard_streams",
        "percore_shard_control_latency_max_seconds",
    ] {
        assert!(families.contains(name), "{name}");
    }
    assert!(body.contains("\nhaproxy_process_nbthread 2\n"));
    assert!(
        body.contains("\nhaproxy_backend_sessions_total{proxy=\"app\"} 3\n"),
        "{body}"
    );
    assert!(body.contains("\nhaproxy_server_status{proxy=\"app\",server=\"s1\",state=\"UP\"} 1\n"));
    assert!(body.contains("\npercore_shard_streams{shard=\"1\"} "));
    assert!(
        !body.contains("haproxy_frontend_http_requests_total"),
        "tcp: no HTTP metrics"
    );
}

#[test]
fn metrics_endpoint_refuses_and_bounds_everything_else() {
    let o = Origin::start(Behaviour::GreetEcho("s1"));
    let (_p, addr) = start("metricsrefuse", o.addr);
    assert!(request(addr, b"GET / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 "));
    let post = request(addr, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert!(post.starts_with("HTTP/1.1 405 ") && post.contains("\r\nAllow: GET, HEAD\r\n"));
    assert!(request(addr, b"garbage\r\n\r\n").starts_with("HTTP/1.1 400 "));
    let head = request(addr, b"HEAD /metrics HTTP/1.0\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n") && head.ends_with("\r\n\r\n"));
    // A head that never ends is cut at 8 KiB: the connection closes without an answer
    // (a reset, since the rest of what was sent is unread).
    let mut s = TcpStream::connect(addr).expect("connect metrics");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    let _ = s.write_all(&[b'a'; 9000]);
    let mut out = Vec::new();
    match s.read_to_end(&mut out) {
        Ok(_) => assert!(out.is_empty(), "{out:?}"),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
    }
}
