//! Server `maxconn` through the real binary: exact for the whole process on two shards, also
//! below the number of shards (the origin counts the requests it has in flight; idle pooled
//! connections are not streams), and a queue that serves streams in arrival order.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::http_origin::{HttpClient, HttpOrigin};
use common::*;

fn config(shards: usize, origin: SocketAddr, maxconn: u32) -> String {
    format!(
        "global:\n  shards: {shards}\n  grace: 1s\n  admin: {{ socket: ./admin.sock }}\n\
         defaults:\n  mode: http\n  timeout: {{ queue: 30s, server: 30s }}\n\
         frontends:\n  web: {{ bind: \"127.0.0.1:0\", default_backend: app }}\n\
         backends:\n  app:\n    servers:\n\
         \x20     - {{ name: s1, address: \"{origin}\", maxconn: {maxconn} }}\n"
    )
}

/// `clients` concurrent keep-alive clients sending `each` requests; returns every status.
fn load(addr: SocketAddr, clients: usize, each: usize) -> Vec<u16> {
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = HttpClient::connect(addr);
                (0..each).map(|_| c.get("/").status).collect::<Vec<u16>>()
            })
        })
        .collect();
    threads
        .into_iter()
        .flat_map(|t| t.join().expect("client"))
        .collect()
}

fn exact_on_two_shards(maxconn: u32) {
    let origin = HttpOrigin::start_with_delay("o", Duration::from_millis(3));
    let p = Proxy::start(
        &format!("mc-exact-{maxconn}"),
        &config(2, origin.addr, maxconn),
    );
    let statuses = load(p.addr("web"), 50, 3);
    assert_eq!(statuses.len(), 150);
    assert!(
        statuses.iter().all(|&s| s == 200),
        "every request is served: {statuses:?}"
    );
    let most = origin.seen.max_serving.load(Ordering::SeqCst);
    assert!(
        most <= maxconn as usize,
        "maxconn {maxconn}: {most} requests in flight at the origin at once"
    );
    assert_eq!(origin.requests(), 150);
    let csv = admin(&sock(&p), "show stat");
    assert_eq!(stat(&csv, "app", "s1", "slim"), maxconn.to_string());
    assert_eq!(stat(&csv, "app", "BACKEND", "qcur"), "0");
    assert_eq!(stat(&csv, "app", "s1", "scur"), "0");
    // Both shards took requests (a shard that owns no slot borrows one), and the
    // queue really was used.
    let qmax: u64 = stat(&csv, "app", "BACKEND", "qmax").parse().expect("qmax");
    assert!(qmax >= 1, "{csv}");
}

#[test]
fn server_maxconn_1_is_exact_on_two_shards() {
    exact_on_two_shards(1);
}

#[test]
fn server_maxconn_2_is_exact_on_two_shards() {
    exact_on_two_shards(2);
}

#[test]
fn server_maxconn_3_is_exact_on_two_shards() {
    exact_on_two_shards(3);
}

#[test]
fn queued_streams_are_served_in_arrival_order() {
    let origin = HttpOrigin::start_with_delay("o", Duration::from_millis(150));
    let p = Proxy::start("mc-fifo", &config(1, origin.addr, 1));
    let addr = p.addr("web");
    let mut clients = Vec::new();
    for k in 0..6 {
        let mut c = HttpClient::connect(addr);
        c.send(format!("GET /{k} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes());
        clients.push(c);
        // Request k is at the origin or in the queue before request k + 1 is sent.
        poll_until("the request reached the origin or the queue", || {
            let csv = admin(&sock(&p), "show stat");
            let queued: usize = stat(&csv, "app", "BACKEND", "qcur").parse().unwrap_or(0);
            let at_origin = origin.seen.heads.lock().expect("heads").len();
            if queued + at_origin > k {
                Ok(())
            } else {
                Err(csv)
            }
        });
    }
    for c in &mut clients {
        assert_eq!(c.read_response(false).expect("response").status, 200);
    }
    let order: Vec<String> = origin
        .seen
        .heads
        .lock()
        .expect("heads")
        .iter()
        .map(|h| h.split_whitespace().nth(1).unwrap_or("").to_string())
        .collect();
    assert_eq!(order, ["/0", "/1", "/2", "/3", "/4", "/5"]);
}

/// `clients` concurrent clients, each sending `each` requests on a new connection per
/// request (so a stream's life is one request at the origin); returns every status.
fn load_closing(addr: SocketAddr, clients: usize, each: usize) -> Vec<u16> {
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            std::thread::spawn(move || {
                (0..each)
                    .map(|_| {
                        let mut c = HttpClient::connect(addr);
                        c.send(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
                        c.read_response(false).map_or(0, |r| r.status)
                    })
                    .collect::<Vec<u16>>()
            })
        })
        .collect();
    threads
        .into_iter()
        .flat_map(|t| t.join().expect("client"))
        .collect()
}

fn accept_limit_is_exact(tag: &str, global_maxconn: u32, frontend_maxconn: u32) {
    let origin = HttpOrigin::start_with_delay("o", Duration::from_millis(3));
    let yaml = format!(
        "global:\n  shards: 2\n  maxconn: {global_maxconn}\n  grace: 1s\n  admin: {{ socket: ./admin.sock }}\n\
         defaults:\n  mode: http\n  timeout: {{ server: 30s }}\n\
         frontends:\n  web: {{ bind: \"127.0.0.1:0\", maxconn: {frontend_maxconn}, default_backend: app }}\n\
         backends:\n  app:\n    servers:\n      - {{ name: s1, address: \"{}\" }}\n",
        origin.addr
    );
    let p = Proxy::start(tag, &yaml);
    let limit = global_maxconn.min(frontend_maxconn) as usize;
    let statuses = load_closing(p.addr("web"), 20, 4);
    assert!(
        statuses.iter().all(|&s| s == 200),
        "every connection is served by one shard or the other: {statuses:?}"
    );
    let most = origin.seen.max_serving.load(Ordering::SeqCst);
    assert!(
        most <= limit,
        "limit {limit}: {most} streams at the origin at once"
    );
    assert_eq!(origin.requests(), 80);
}

#[test]
fn frontend_maxconn_1_is_exact_on_two_shards() {
    accept_limit_is_exact("fe-exact", 100, 1);
}

#[test]
fn global_maxconn_2_is_exact_on_two_shards() {
    accept_limit_is_exact("global-exact", 2, 2);
}
