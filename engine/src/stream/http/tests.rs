//! The HTTP machine fed byte by byte, with no socket: the scenarios of
//! `engine/tests/http_mode.rs` as feeds (heads and chunked bodies split at every offset),
//! accounting properties, and the defects fixed with the move to a machine.

use std::time::Duration;

use proptest::prelude::*;

use super::HttpMachine;
use crate::ids::ServerKey;
use crate::stream::testing::{config, http_pair, Connect, Pair};
use crate::stream::{Connected, Event, Fault, Layer, Machine, Side};
use percore_conf::Config;

const KEY: ServerKey = ServerKey {
    backend: 0,
    server: 0,
};

fn yaml(web: &str, backend: &str) -> String {
    format!(
        "global:\n  shards: 1\n\
         defaults:\n  mode: http\n  retries: 2\n  timeout: {{ connect: 1s, client: 10s, server: 10s, \
         http_request: 5s, http_keep_alive: 2s, tunnel: 30s }}\n\
         frontends:\n  web:\n    bind: \"127.0.0.1:0\"\n    default_backend: app\n{web}\
         backends:\n  app:\n{backend}    servers:\n      - {{ name: s0, address: \"127.0.0.1:9\" }}\n\
         \x20     - {{ name: s1, address: \"127.0.0.1:10\" }}\n"
    )
}

/// A machine for a client at `peer` on frontend 0, under `cfg`.
fn pair_for(cfg: Config, peer: &'static str, log_requests: bool) -> Pair<HttpMachine> {
    http_pair(cfg, Connect::Fresh, peer, log_requests)
}

fn pair_with(web: &str, backend: &str) -> Pair<HttpMachine> {
    pair_for(config(&yaml(web, backend)), "192.0.2.7:5555", true)
}

fn pair() -> Pair<HttpMachine> {
    pair_with("", "")
}

const GET: &[u8] = b"GET /a HTTP/1.1\r\nhost: test\r\n\r\n";
const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

fn observed(p: &Pair<HttpMachine>, ok: bool, layer: Layer) -> usize {
    p.events
        .iter()
        .filter(|e| matches!(e, Event::Observe { ok: o, layer: l, .. } if *o == ok && *l == layer))
        .count()
}

fn releases(p: &Pair<HttpMachine>) -> Vec<bool> {
    p.events
        .iter()
        .filter_map(|e| match e {
            Event::ReleaseServer { reusable } => Some(*reusable),
            _ => None,
        })
        .collect()
}

#[test]
fn get_keep_alive_and_exact_bytes() {
    let mut p = pair();
    p.client(GET);
    assert_eq!(p.take_server(), "GET /a HTTP/1.1\r\nhost: test\r\n\r\n");
    p.server(OK);
    assert_eq!(
        p.take_client(),
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
    );
    p.client(GET);
    p.server(OK);
    assert_eq!(p.records.len(), 2);
    for r in &p.records {
        assert_eq!(
            (r.status, r.bytes_in, r.bytes_out),
            (200, GET.len() as u64, 40)
        );
        assert_eq!(r.termination.to_string(), "--");
        assert_eq!(r.request_line, "GET /a HTTP/1.1");
    }
    assert_eq!(releases(&p), vec![true, true]);
    assert_eq!(observed(&p, true, Layer::L7), 2);
    assert!(!p.client_shut && !p.m.is_done());
    // Idle between exchanges: no data buffer held, and no event queue either.
    p.park();
    assert_eq!(p.pools.buffers_in_use(), 0);
    assert_eq!(p.m.events.0.capacity(), 0);
}

/// `send_proxy` in HTTP mode: each new server connection opens with the client's PROXY
/// header, and is never pooled (it speaks for this client only).
#[test]
fn send_proxy_opens_each_new_server_connection_and_is_not_pooled() {
    let cfg = config(&yaml("", "").replace("127.0.0.1:9\" }", "127.0.0.1:9\", send_proxy: v1 }"));
    let mut p = pair_for(cfg, "192.0.2.7:5555", false);
    p.client(GET);
    assert_eq!(
        p.take_server(),
        "PROXY TCP4 192.0.2.7 198.51.100.1 5555 80\r\nGET /a HTTP/1.1\r\nhost: test\r\n\r\n"
    );
    p.server(OK);
    assert_eq!(
        p.records[0].bytes_in,
        GET.len() as u64,
        "the header is not client data"
    );
    assert_eq!(releases(&p), vec![false]);
}

#[test]
fn request_head_split_at_every_offset() {
    let req = b"POST /up?x=1 HTTP/1.1\r\nHost: app\r\nX-A: b\r\ncontent-length: 5\r\n\r\nhello";
    let mut want = None;
    for split in 1..req.len() {
        let mut p = pair();
        p.client(&req[..split]);
        p.client(&req[split..]);
        let got = p.take_server();
        assert!(got.ends_with("\r\n\r\nhello"), "split {split}: {got}");
        match &want {
            None => want = Some(got),
            Some(w) => assert_eq!(&got, w, "split {split}"),
        }
    }
}

#[test]
fn chunked_bodies_split_at_every_offset() {
    let req = b"PUT /echo HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n\
                5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nx-t: 1\r\n\r\n";
    let resp =
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    for split in 1..req.len() {
        let mut p = pair();
        p.client(&req[..split]);
        p.client(&req[split..]);
        let up = p.take_server();
        // Re-framed: the same payload, chunk boundaries of percore's choosing, no trailers.
        let body = up.split_once("\r\n\r\n").expect("head").1;
        assert_eq!(
            dechunk(body.as_bytes()),
            b"hello world",
            "split {split}: {up}"
        );
        assert!(
            !up.contains("ext=1") && !up.contains("x-t"),
            "split {split}"
        );
        let at = split.min(resp.len() - 1);
        p.server(&resp[..at]);
        p.server(&resp[at..]);
        let down = p.take_client();
        let body = down.split_once("\r\n\r\n").expect("head").1;
        assert_eq!(dechunk(body.as_bytes()), b"abcde", "split {split}: {down}");
        assert_eq!(p.records.len(), 1, "split {split}");
        assert_eq!(p.records[0].bytes_in, req.len() as u64);
        assert_eq!(p.records[0].bytes_out, down.len() as u64);
    }
}

/// The payload of a complete chunked body.
fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n").expect("size line");
        let size_str = std::str::from_utf8(&b[..line_end]).expect("utf8");
        let size =
            usize::from_str_radix(size_str.split(';').next().expect("size"), 16).expect("hex");
        b = &b[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let mut p = pair();
    p.client(b"GET /1 HTTP/1.1\r\nhost: t\r\n\r\nGET /2 HTTP/1.1\r\nhost: t\r\n\r\n");
    assert_eq!(p.take_server(), "GET /1 HTTP/1.1\r\nhost: t\r\n\r\n");
    p.server(b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n1");
    // The second request goes once the first exchange is over.
    assert_eq!(p.take_server(), "GET /2 HTTP/1.1\r\nhost: t\r\n\r\n");
    p.server(b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n2");
    let out = p.take_client();
    let first = out.find("\r\n\r\n1").expect("first");
    let second = out.find("\r\n\r\n2").expect("second");
    assert!(first < second, "{out}");
    assert_eq!(p.records.len(), 2);
}

#[test]
fn head_204_304_have_no_body_and_keep_the_connection() {
    let mut p = pair();
    p.client(b"HEAD / HTTP/1.1\r\nhost: t\r\n\r\n");
    p.server(b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\n");
    assert_eq!(
        p.take_client(),
        "HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\n"
    );
    p.client(GET);
    p.server(b"HTTP/1.1 204 No Content\r\n\r\n");
    assert_eq!(p.take_client(), "HTTP/1.1 204 No Content\r\n\r\n");
    p.client(GET);
    p.server(b"HTTP/1.1 304 Not Modified\r\netag: x\r\n\r\n");
    assert!(p.take_client().starts_with("HTTP/1.1 304 Not Modified\r\n"));
    assert_eq!(p.records.len(), 3);
    assert_eq!(releases(&p), vec![true, true, true]);
}

#[test]
fn expect_continue_body_goes_without_waiting_for_100() {
    // A server that ignores Expect (Python's http.server) still gets the body at once.
    let mut p = pair();
    p.client(b"POST /u HTTP/1.1\r\nhost: t\r\nexpect: 100-continue\r\ncontent-length: 3\r\n\r\n");
    p.client(b"abc");
    assert!(p.take_server().ends_with("\r\n\r\nabc"));
    p.server(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
    let out = p.take_client();
    assert!(
        out.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"),
        "{out}"
    );
    assert_eq!(p.records[0].status, 200);
}

#[test]
fn upgrade_becomes_a_tunnel_with_half_close() {
    let mut p = pair();
    let head = b"GET /ws HTTP/1.1\r\nhost: t\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n";
    p.client(head);
    let up = p.take_server();
    assert!(
        up.contains("connection: upgrade\r\n") && up.contains("upgrade: echo"),
        "{up}"
    );
    p.server(b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\nhi");
    let down = p.take_client();
    assert!(
        down.starts_with("HTTP/1.1 101 ") && down.ends_with("\r\n\r\nhi"),
        "{down}"
    );
    p.client(b"raw bytes");
    assert_eq!(p.take_server(), "raw bytes");
    p.eof(Side::Client);
    assert!(p.server_shut);
    p.server(b"bye");
    p.eof(Side::Server);
    assert!(p.client_shut);
    assert_eq!(p.take_client(), "bye");
    assert!(p.m.is_done());
    assert_eq!(p.records.len(), 1);
    assert_eq!(p.records[0].bytes_in as usize, head.len() + 9);
}

/// A server reset during a tunnel ends the exchange with one record (SD) after the bytes
/// that came before the reset; nothing is recorded after the end.
#[test]
fn tunnel_reset_by_server_is_recorded_once() {
    let mut p = pair();
    p.client(b"GET /ws HTTP/1.1\r\nhost: t\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n");
    p.server(b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\nhi");
    p.reset(Side::Server);
    assert!(p.take_client().ends_with("\r\n\r\nhi"));
    assert_eq!(p.records.len(), 1);
    assert_eq!(p.records[0].termination.to_string(), "SD");
    p.reset(Side::Client);
    assert_eq!(p.records.len(), 1, "no record after the end");
    assert!(p.m.killed_record(p.now).is_none());
}

#[test]
fn early_response_during_upload_is_relayed_at_once() {
    let mut p = pair();
    p.client(b"POST /up HTTP/1.1\r\nhost: t\r\ncontent-length: 100000\r\n\r\n");
    p.client(&[b'x'; 1000]);
    p.server(b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\n\r\n");
    // The client sees the answer while its upload is still going.
    assert!(p.take_client().starts_with("HTTP/1.1 413 "));
    assert_eq!(p.records.len(), 1);
    assert_eq!(p.records[0].status, 413);
    assert!(
        p.client_shut,
        "the rest of the upload is not read: the connection closes"
    );
    assert_eq!(releases(&p), vec![false]);
}

#[test]
fn http10_client_never_gets_chunked() {
    // Whole body in the buffer: Content-Length, keep-alive kept.
    let mut p = pair();
    p.client(b"GET / HTTP/1.0\r\nconnection: keep-alive\r\n\r\n");
    p.server(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
    let out = p.take_client();
    assert_eq!(
        out,
        "HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: keep-alive\r\n\r\nabc"
    );
    assert!(!p.client_shut);
    // Body still arriving: held until complete, then Content-Length as well.
    p.client(b"GET / HTTP/1.0\r\nconnection: keep-alive\r\n\r\n");
    p.server(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n");
    assert!(p.to_client.is_empty(), "held");
    p.server(b"2\r\nde\r\n0\r\n\r\n");
    assert_eq!(
        p.take_client(),
        "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: keep-alive\r\n\r\nabcde"
    );
    // More than a buffer: de-chunked and delimited by the close.
    p.client(b"GET / HTTP/1.0\r\nconnection: keep-alive\r\n\r\n");
    p.server(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n");
    let chunk = format!("1000\r\n{}\r\n", "z".repeat(4096));
    for _ in 0..6 {
        p.server(chunk.as_bytes());
    }
    p.server(b"0\r\n\r\n");
    let out = p.take_client();
    assert!(
        out.starts_with("HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nzzzz"),
        "{}",
        &out[..80]
    );
    assert_eq!(out.len(), 38 + 6 * 4096);
    assert!(p.client_shut);
    assert_eq!(p.records.len(), 3);
    assert_eq!(p.records[2].bytes_out, out.len() as u64);
}

#[test]
fn invalid_chunk_size_before_any_body_byte_is_a_502() {
    let mut p = pair();
    p.client(GET);
    p.server(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n");
    let out = p.take_client();
    assert!(out.starts_with("HTTP/1.1 502 Bad Gateway\r\n"), "{out}");
    let r = &p.records[0];
    assert_eq!((r.status, r.termination.to_string()), (502, "PH".into()));
    assert!(matches!(r.fault, Some(Fault::InvalidResponseBody(_))));
    assert_eq!(r.bytes_out, out.len() as u64);
    assert_eq!(observed(&p, false, Layer::L7), 1);
}

#[test]
fn client_gone_during_1xx_is_a_client_fault() {
    let mut p = pair();
    p.client(b"POST /u HTTP/1.1\r\nhost: t\r\nexpect: 100-continue\r\ncontent-length: 1\r\n\r\nx");
    p.client_write_fails = true;
    p.server(b"HTTP/1.1 100 Continue\r\n\r\n");
    let r = &p.records[0];
    assert_eq!(r.fault, Some(Fault::ClientAbortedResponse));
    let e = Fault::ClientAbortedResponse.effects();
    assert!(!e.counters.response_error && e.health.is_none());
    assert_eq!(
        observed(&p, false, Layer::L4) + observed(&p, false, Layer::L7),
        0
    );
    assert!(p.m.is_done());
}

#[test]
fn server_errors_are_observed_at_layer_7() {
    let mut p = pair();
    for _ in 0..3 {
        p.client(GET);
        p.server(b"HTTP/1.1 503 Busy\r\ncontent-length: 0\r\n\r\n");
    }
    assert_eq!(observed(&p, false, Layer::L7), 3);
}

#[test]
fn local_replies_rules_and_404() {
    let web = "    http_request:\n\
               \x20     - { deny: 403, when: { path_prefix: /admin } }\n\
               \x20     - { redirect: { location: \"https://e.com/\", code: 301 }, when: { path_prefix: /old } }\n\
               \x20     - { return: { status: 200, body: \"alive\" }, when: { path_prefix: /health } }\n\
               \x20     - { set_header: { name: x-a, value: \"1\" } }\n\
               \x20   http_response:\n\
               \x20     - { set_header: { name: x-proxy, value: percore } }\n";
    let mut p = pair_with(web, "");
    p.client(b"GET /health HTTP/1.1\r\nhost: t\r\n\r\n");
    assert!(p.take_client().ends_with("\r\n\r\nalive"));
    p.client(b"GET /old HTTP/1.1\r\nhost: t\r\n\r\n");
    assert!(p.take_client().contains("location: https://e.com/"));
    p.client(GET);
    assert!(p.take_server().contains("x-a: 1\r\n"));
    p.server(OK);
    assert!(p.take_client().contains("x-proxy: percore\r\n"));
    p.client(b"GET /admin HTTP/1.1\r\nhost: t\r\n\r\n");
    assert!(p.take_client().starts_with("HTTP/1.1 403 "));
    assert!(p.client_shut, "a deny closes");
    let flags: Vec<String> = p
        .records
        .iter()
        .map(|r| r.termination.to_string())
        .collect();
    assert_eq!(flags, ["LR", "LR", "--", "PR"]);
    assert!(p.records[3].denied && p.records[3].intercepted);
    assert!(!p.records[2].intercepted);

    let web = "    use_backend:\n      - { backend: app, when: { path_prefix: /x } }\n";
    let mut cfg = config(&yaml(web, ""));
    cfg.frontends[0].http.not_found_without_route = true;
    let mut p = pair_for(cfg, "192.0.2.7:1", false);
    p.client(GET);
    assert!(p.take_client().starts_with("HTTP/1.1 404 Not Found\r\n"));
    assert!(!p.client_shut, "a bodiless 404 keeps the connection");
}

#[test]
fn invalid_request_gets_400_and_counts_as_request_error() {
    let mut p = pair();
    p.client(b"GET / HTTP/1.1\r\n\r\n");
    assert!(p.take_client().starts_with("HTTP/1.1 400 Bad Request\r\n"));
    assert!(p.client_shut);
    let r = &p.records[0];
    assert_eq!(r.termination.to_string(), "PR");
    assert!(r
        .fault
        .as_ref()
        .is_some_and(|f| f.effects().counters.request_error));
    assert_eq!(r.bytes_in, 18);
    assert!(p.events.iter().all(|e| !matches!(e, Event::NeedServer(_))));
}

#[test]
fn timeouts_head_response_and_keep_alive() {
    // A head that never completes: 408 after timeout.http_request.
    let mut p = pair();
    p.client(b"GET / HTTP/1.1\r\nho");
    p.advance(Duration::from_secs(4));
    assert!(p.to_client.is_empty());
    p.advance(Duration::from_secs(2));
    assert!(p.take_client().starts_with("HTTP/1.1 408 "));
    assert_eq!(p.records[0].termination.to_string(), "cR");
    // No response: 504 after timeout.server, counted against the server (layer 4).
    let mut p = pair();
    p.client(GET);
    p.advance(Duration::from_secs(11));
    assert!(p.take_client().starts_with("HTTP/1.1 504 "));
    assert_eq!(p.records[0].termination.to_string(), "sH");
    assert_eq!(observed(&p, false, Layer::L4), 1);
    // Idle keep-alive: closed silently after timeout.http_keep_alive, no record.
    let mut p = pair();
    p.client(GET);
    p.server(OK);
    p.take_client();
    p.advance(Duration::from_secs(3));
    assert!(p.m.is_done() && p.to_client.is_empty());
    assert_eq!(p.records.len(), 1);
}

/// Found by the soak (`percore-bench compare --scenario soak`): the fresh connection of a
/// replay could not be opened, the connect retry took a pooled connection again, and when
/// that one died too the GET was replayed once more: three sends of one request. A request
/// is resent at most once.
#[test]
fn replayed_request_is_not_replayed_again_after_a_connect_retry() {
    let mut p = pair_with("", "    http_reuse: always\n");
    p.connect = Connect::Manual;
    p.client(GET);
    let pooled = |server| Connected::Ready {
        server: ServerKey { backend: 0, server },
        reused: true,
        queued_ms: 0,
    };
    p.connect(pooled(0));
    p.eof(Side::Server);
    // The replay's fresh connect is refused; the retry gets another pooled connection.
    p.connect(Connected::Failed { server: KEY });
    p.connect(pooled(1));
    p.eof(Side::Server);
    assert!(p.pending.is_empty(), "{:?}", p.pending);
    let sent = p.take_server();
    assert_eq!(sent.matches("GET /a ").count(), 2, "{sent}");
    assert!(p.take_client().starts_with("HTTP/1.1 502 "));
    assert_eq!(p.records.len(), 1);
}

#[test]
fn dead_pooled_connection_is_retried_once_on_a_fresh_one() {
    let mut p = pair_with("", "    http_reuse: always\n");
    p.connect = Connect::Pooled;
    p.client(GET);
    p.connect = Connect::Fresh;
    // The pooled connection was closed by the server before answering.
    p.eof(Side::Server);
    let requests: Vec<bool> = p
        .events
        .iter()
        .filter_map(|e| match e {
            Event::NeedServer(r) => Some(r.pool),
            _ => None,
        })
        .collect();
    assert_eq!(requests, vec![true, false]);
    assert_eq!(
        p.take_server(),
        format!("{0}{0}", std::str::from_utf8(GET).expect("utf8"))
    );
    p.server(OK);
    assert!(p.take_client().starts_with("HTTP/1.1 200 OK"));
    assert_eq!(p.records[0].status, 200);
}

#[test]
fn connect_failures_retry_then_503() {
    let mut p = pair();
    p.connect = Connect::Manual;
    p.client(GET);
    for i in 0..3 {
        p.connect(Connected::Failed {
            server: ServerKey {
                backend: 0,
                server: i % 2,
            },
        });
    }
    assert!(p.take_client().starts_with("HTTP/1.1 503 "));
    let r = &p.records[0];
    assert_eq!((r.retries, r.termination.to_string()), (2, "SC".into()));
    assert!(p.pending.is_empty());
    assert_eq!(observed(&p, false, Layer::L4), 3);
}

#[test]
fn queue_timeout_is_503_sq() {
    let mut p = pair();
    p.connect = Connect::Manual;
    p.client(GET);
    p.connect(Connected::QueueTimeout);
    assert!(p.take_client().starts_with("HTTP/1.1 503 "));
    assert_eq!(p.records[0].termination.to_string(), "sQ");
}

#[test]
fn killed_mid_response_keeps_its_bytes() {
    let mut p = pair();
    p.client(GET);
    p.server(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n12345");
    let sent = p.to_client.len() as u64;
    let r = p.m.killed_record(p.now).expect("in progress");
    assert_eq!((r.bytes_in, r.bytes_out), (GET.len() as u64, sent));
    assert_eq!(r.termination.to_string(), "KD");
    assert_eq!(r.server, Some(KEY));
}

#[test]
fn client_closing_mid_response_is_not_the_servers_fault() {
    let mut p = pair();
    p.client(GET);
    p.server(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n12345");
    p.reset(Side::Client);
    let r = &p.records[0];
    assert_eq!(r.termination.to_string(), "CD");
    assert_eq!(
        observed(&p, false, Layer::L4) + observed(&p, false, Layer::L7),
        0
    );
    assert!(p.m.is_done());
}

#[test]
fn slow_client_backpressures_the_server() {
    let mut p = pair();
    p.client_window = 1000;
    p.client(GET);
    p.server(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n");
    let mut taken = 0;
    let body = vec![b'b'; 100_000];
    while taken < body.len() {
        let n = p.server(&body[taken..]);
        taken += n;
        if n == 0 {
            // The machine stopped reading: the client must drain first.
            p.pump();
        }
    }
    p.client_window = 0;
    p.pump();
    assert_eq!(p.records.len(), 1);
    assert_eq!(p.records[0].bytes_out, p.to_client.len() as u64);
}

/// One exchange of a generated sequence.
#[derive(Debug, Clone)]
enum Shape {
    Get,
    PostLength(usize),
    PostChunked(Vec<usize>),
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::Get),
        (0usize..3000).prop_map(Shape::PostLength),
        proptest::collection::vec(1usize..500, 0..5).prop_map(Shape::PostChunked),
    ]
}

fn request_bytes(s: &Shape) -> Vec<u8> {
    match s {
        Shape::Get => GET.to_vec(),
        Shape::PostLength(n) => {
            let mut b =
                format!("POST /p HTTP/1.1\r\nhost: t\r\ncontent-length: {n}\r\n\r\n").into_bytes();
            b.extend(std::iter::repeat_n(b'x', *n));
            b
        }
        Shape::PostChunked(chunks) => {
            let mut b =
                b"POST /c HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
            for c in chunks {
                b.extend(format!("{c:x}\r\n").bytes());
                b.extend(std::iter::repeat_n(b'y', *c));
                b.extend(b"\r\n");
            }
            b.extend(b"0\r\n\r\n");
            b
        }
    }
}

fn response_bytes(len: usize, chunked: bool) -> Vec<u8> {
    if chunked {
        let mut b = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
        if len > 0 {
            b.extend(format!("{len:x}\r\n").bytes());
            b.extend(std::iter::repeat_n(b'r', len));
            b.extend(b"\r\n");
        }
        b.extend(b"0\r\n\r\n");
        b
    } else {
        let mut b = format!("HTTP/1.1 200 OK\r\ncontent-length: {len}\r\n\r\n").into_bytes();
        b.extend(std::iter::repeat_n(b'r', len));
        b
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the exchanges and however the bytes are split: each record's bytes_in is
    /// exactly its request's bytes, bytes_out exactly what reached the client for it, and
    /// the sums match the totals.
    #[test]
    fn accounting_is_exact(
        exchanges in proptest::collection::vec((shape(), 0usize..4000, any::<bool>()), 1..6),
        chunk in prop_oneof![Just(0usize), 1usize..64],
        window in prop_oneof![Just(0usize), 1usize..700],
    ) {
        let mut p = pair();
        p.chunk = chunk;
        p.client_window = window;
        let mut total_in = 0u64;
        for (i, (s, len, chunked)) in exchanges.iter().enumerate() {
            let req = request_bytes(s);
            total_in += req.len() as u64;
            prop_assert_eq!(p.client(&req), req.len());
            let resp = response_bytes(*len, *chunked);
            let before = p.to_client.len();
            let mut at = 0;
            while at < resp.len() {
                let n = p.server(&resp[at..]);
                at += n;
                if n == 0 {
                    let saved = p.client_window;
                    p.client_window = 0;
                    p.pump();
                    p.client_window = saved;
                }
            }
            let saved = p.client_window;
            p.client_window = 0;
            p.pump();
            p.client_window = saved;
            prop_assert_eq!(p.records.len(), i + 1);
            let r = &p.records[i];
            prop_assert_eq!(r.bytes_in, req.len() as u64);
            prop_assert_eq!(r.bytes_out, (p.to_client.len() - before) as u64);
            prop_assert_eq!(r.status, 200);
        }
        let sum_in: u64 = p.records.iter().map(|r| r.bytes_in).sum();
        let sum_out: u64 = p.records.iter().map(|r| r.bytes_out).sum();
        prop_assert_eq!(sum_in, total_in);
        prop_assert_eq!(sum_out, p.to_client.len() as u64);
    }

    /// Arbitrary client bytes never panic the machine and always end in a bounded state.
    #[test]
    fn arbitrary_client_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let mut p = pair();
        p.chunk = 7;
        p.client(&bytes);
        p.eof(Side::Client);
        p.server(OK);
        p.advance(Duration::from_secs(60));
    }
}

#[test]
fn body_in_the_same_read_as_the_head_is_counted() {
    let web = "    forwardfor: true\n    http_response:\n      - { set_header: { name: x-proxy, value: percore } }\n";
    let mut p = pair_with(web, "");
    let req = b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 16\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\nhello-world-body";
    p.client(req);
    assert!(p.take_server().ends_with("hello-world-body"));
    p.server(OK);
    assert_eq!(p.records[0].bytes_in, req.len() as u64);
}

#[test]
fn every_malformed_sample_gets_its_status_and_never_reaches_the_server() {
    use percore_protocols::http1::samples::{malformed_requests, Refusal};
    let samples = malformed_requests();
    assert!(samples.len() >= 30);
    for s in &samples {
        for split in [0, 1, s.bytes.len() / 2] {
            let mut p = pair();
            p.chunk = split;
            p.client(&s.bytes);
            if matches!(s.refusal, Refusal::Body(_)) {
                p.eof(Side::Client);
            }
            let out = p.take_client();
            let want = format!("HTTP/1.1 {} ", s.refusal.status());
            assert!(out.starts_with(&want), "{} (chunk {split}): {out}", s.name);
            if let Refusal::Head(_) = s.refusal {
                assert!(p.to_server.is_empty(), "{}: reached the server", s.name);
            }
            assert!(p.client_shut, "{}: refusals close", s.name);
        }
    }
}

#[test]
fn response_head_and_first_body_bytes_go_in_one_write() {
    let mut p = pair();
    p.client(GET);
    let transmits_before = p.client_writes;
    p.server(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello");
    assert_eq!(p.client_writes - transmits_before, 1, "{}", p.client_text());
    assert!(p.take_client().ends_with("\r\n\r\nhello"));
}

/// Found by the `http_stream` fuzz target (testdata/fuzz/http_stream/
/// refused-head-reply-write-fails-holds-buffer): the 400 page of a refused head could not be
/// written, the stream was done, and its output buffer stayed out of the pool for good.
#[test]
fn done_after_failed_write_gives_every_buffer_back() {
    let mut p = pair();
    p.client_write_fails = true;
    p.client(b"HTTP/1.1 200 OK\r\n\r\n");
    assert!(p.m.is_done());
    let stray = p.m.stray_bytes_in();
    p.park();
    assert_eq!(p.pools.buffers_in_use(), 0);
    assert_eq!(p.m.stray_bytes_in(), stray, "parking keeps the stray count");
}
