//! The access log leaves the shards through bounded rings drained by one writer thread: with
//! two shards and several keep-alive clients, every exchange's line reaches the file, each
//! stream's lines in the order of its requests, none dropped (`show shards` says so), and the
//! lines still in the rings at a graceful stop are written before the process exits.

mod common;

use std::collections::HashMap;

use common::http_origin::{HttpClient, HttpOrigin};
use common::*;

const CLIENTS: usize = 6;
/// Requests per client; all clients together stay far below one shard's ring
/// (`ACCESS_LOG_RING_LINES` = 1024), so no line may be dropped whatever the writer's pace.
const REQUESTS: usize = 40;

#[test]
fn every_exchange_is_logged_in_order_and_flushed_at_stop() {
    let o = HttpOrigin::start("o1");
    let dir = temp_dir("accesslog-ring");
    let log = dir.join("access.log");
    let yaml = format!(
        "global:\n  shards: 2\n  grace: 2s\n  admin: {{ socket: ./admin.sock }}\n  \
         log: {{ target: \"{}\", access: true }}\n\
         defaults:\n  mode: http\n\
         frontends:\n  web: {{ bind: \"127.0.0.1:0\", default_backend: app }}\n\
         backends:\n  app:\n    servers:\n      - {{ name: o1, address: \"{}\" }}\n",
        log.display(),
        o.addr
    );
    let mut p = Proxy::start_in(dir.clone(), &yaml);
    let addr = p.addr("web");
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            std::thread::spawn(move || {
                let mut client = HttpClient::connect(addr);
                for r in 0..REQUESTS {
                    assert_eq!(client.get(&format!("/c{c}/r{r}")).status, 200);
                }
            })
        })
        .collect();
    for c in clients {
        c.join().expect("client");
    }
    let shards = admin(&dir.join("admin.sock"), "show shards");
    let header: Vec<&str> = shards
        .lines()
        .next()
        .expect("header")
        .split_whitespace()
        .collect();
    let col = header
        .iter()
        .position(|h| *h == "logs_dropped")
        .expect("logs_dropped")
        - 1;
    for line in shards.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        assert_eq!(line.split_whitespace().nth(col), Some("0"), "{shards}");
    }
    assert!(p.stop().success());

    let text = std::fs::read_to_string(&log).expect("access log");
    // Per stream (one keep-alive connection, so one client port): the request numbers in
    // file order, and which client sent them.
    let mut streams: HashMap<String, (String, Vec<usize>)> = HashMap::new();
    for line in text.lines() {
        let stream = line
            .split(' ')
            .next()
            .filter(|c| c.starts_with("127.0.0.1:"))
            .unwrap_or_else(|| panic!("no client address: {line}"))
            .to_owned();
        let path = line
            .split("\"GET ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .unwrap_or_else(|| panic!("no request line: {line}"));
        let (client, request) = path
            .strip_prefix("/c")
            .and_then(|r| r.split_once("/r"))
            .unwrap_or_else(|| panic!("unexpected path {path}"));
        let entry = streams
            .entry(stream)
            .or_insert_with(|| (client.to_owned(), Vec::new()));
        assert_eq!(entry.0, client, "one stream, one client: {line}");
        entry.1.push(request.parse().expect("request number"));
    }
    assert_eq!(text.lines().count(), CLIENTS * REQUESTS, "{text}");
    assert_eq!(streams.len(), CLIENTS, "{text}");
    let in_order: Vec<usize> = (0..REQUESTS).collect();
    for (stream, (client, requests)) in &streams {
        assert_eq!(requests, &in_order, "stream {stream} of client {client}");
    }
}
