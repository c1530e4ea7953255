//! Memory held by idle connections, measured on the real binary from /proc/<pid>/status:
//! HTTP client connections between requests and TCP streams waiting on both sides must not
//! hold data buffers (bounds, not timings).

mod common;

use std::io::Write;
use std::net::TcpStream;

use common::http_origin::{HttpClient, HttpOrigin};
use common::*;

/// Connections held open at once (each is two fds in the proxy, one here).
const IDLE_CONNECTIONS: usize = 2000;

/// Most RSS growth allowed per idle connection (a data buffer alone is 16 KiB).
const BYTES_PER_IDLE_CONNECTION_MAX: u64 = 4 * 1024;

#[test]
fn idle_http_connections_hold_no_buffers() {
    let o = HttpOrigin::start("o1");
    let yaml = format!(
        "global:\n  shards: 2\n  maxconn: 5000\n  admin:\n    socket: ./admin.sock\n\
         defaults:\n  mode: http\n  timeout: {{ connect: 1s, client: 60s, server: 10s, \
         http_request: 60s, http_keep_alive: 60s }}\n\
         frontends:\n  web:\n    bind: \"127.0.0.1:0\"\n    maxconn: 5000\n    default_backend: app\n\
         backends:\n  app:\n    http_reuse: never\n    servers:\n      - {{ name: s0, address: \"{}\" }}\n",
        o.addr
    );
    let p = Proxy::start("mem-http", &yaml);
    let addr = p.addr("web");
    // Warm up: the allocator and the buffer pools reach their working size.
    for _ in 0..50 {
        assert_eq!(HttpClient::connect(addr).get("/").status, 200);
    }
    let before = p.rss_kib();
    let mut idle: Vec<HttpClient> = Vec::with_capacity(IDLE_CONNECTIONS);
    for _ in 0..IDLE_CONNECTIONS {
        let mut c = HttpClient::connect(addr);
        assert_eq!(c.get("/").status, 200);
        idle.push(c);
    }
    poll_until("every connection idle on the frontend", || {
        let csv = admin(&p.dir.join("admin.sock"), "show stat");
        let scur: usize = stat(&csv, "web", "FRONTEND", "scur").parse().unwrap_or(0);
        if scur == IDLE_CONNECTIONS && stat(&csv, "app", "BACKEND", "scur") == "0" {
            Ok(())
        } else {
            Err(csv)
        }
    });
    let grown = (p.rss_kib().saturating_sub(before)) * 1024;
    let bound = IDLE_CONNECTIONS as u64 * BYTES_PER_IDLE_CONNECTION_MAX;
    assert!(
        grown < bound,
        "RSS grew {grown} B for {IDLE_CONNECTIONS} idle connections (bound {bound} B)"
    );
    // Still usable.
    assert_eq!(idle[7].get("/").status, 200);
}

#[test]
fn idle_tcp_streams_hold_no_buffers() {
    // A listener that accepts and keeps connections without threads: the kernel backlog
    // holds them, which is all an idle stream's server side needs.
    let server = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let server_addr = server.local_addr().expect("addr");
    let yaml = format!(
        "global:\n  shards: 2\n  maxconn: 5000\n  admin:\n    socket: ./admin.sock\n\
         defaults:\n  mode: tcp\n  timeout: {{ connect: 1s, client: 60s, server: 60s }}\n\
         frontends:\n  fe:\n    bind: \"127.0.0.1:0\"\n    maxconn: 5000\n    default_backend: app\n\
         backends:\n  app:\n    servers:\n      - {{ name: s0, address: \"{server_addr}\" }}\n"
    );
    let p = Proxy::start("mem-tcp", &yaml);
    let addr = p.addr("fe");
    let mut accepted = Vec::with_capacity(IDLE_CONNECTIONS + 50);
    let open = |n: usize, accepted: &mut Vec<TcpStream>| -> Vec<TcpStream> {
        let mut clients = Vec::with_capacity(n);
        for _ in 0..n {
            let mut c = connect(addr);
            // One byte each way through the proxy, so both directions have moved data.
            c.write_all(b"x").expect("send");
            clients.push(c);
            let (mut s, _) = server.accept().expect("accept");
            let mut b = [0u8; 1];
            std::io::Read::read_exact(&mut s, &mut b).expect("byte");
            s.write_all(b"y").expect("answer");
            accepted.push(s);
        }
        for c in &mut clients {
            let mut b = [0u8; 1];
            std::io::Read::read_exact(c, &mut b).expect("answer");
        }
        clients
    };
    let warm = open(50, &mut accepted);
    let before = p.rss_kib();
    let idle = open(IDLE_CONNECTIONS, &mut accepted);
    let grown = (p.rss_kib().saturating_sub(before)) * 1024;
    let bound = IDLE_CONNECTIONS as u64 * BYTES_PER_IDLE_CONNECTION_MAX;
    assert!(
        grown < bound,
        "RSS grew {grown} B for {IDLE_CONNECTIONS} idle streams (bound {bound} B)"
    );
    drop((warm, idle, accepted));
}
