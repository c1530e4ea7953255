//! `accept_proxy`: a frontend behind another load balancer takes the client address from the
//! PROXY header (v1 or v2) that opens each connection. The real binary runs with such
//! frontends; tests send headers by hand and check that the announced client is the one in
//! `X-Forwarded-For`, `src` routing, the access log, `show sess` and `send_proxy` onwards,
//! and that a missing, malformed or late header is refused, counted (`ereq`) and logged.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use common::http_origin::{HttpClient, HttpOrigin};
use common::*;
use percore_protocols::proxy;

fn header(version: proxy::Version, source: &str, destination: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (s, d): (SocketAddr, SocketAddr) = (
        source.parse().expect("source"),
        destination.parse().expect("destination"),
    );
    proxy::encode(version, s, d, &mut out);
    out
}

fn http_yaml(app: SocketAddr, api: SocketAddr) -> String {
    format!(
        "global:\n  shards: 2\n  admin: {{ socket: ./admin.sock }}\n  \
         log: {{ target: ./access.log, access: true }}\n\
         defaults:\n  mode: http\n  timeout: {{ client: 300ms }}\n\
         frontends:\n  web:\n    bind: \"127.0.0.1:0\"\n    accept_proxy: true\n    \
         forwardfor: true\n    use_backend:\n      - {{ backend: api, when: {{ src: 10.9.0.0/16 }} }}\n    \
         default_backend: app\n\
         backends:\n  app:\n    servers: [{{ name: a1, address: \"{app}\" }}]\n  \
         api:\n    servers: [{{ name: p1, address: \"{api}\" }}]\n"
    )
}

/// The access-log line containing `needle`, once it is written.
fn log_line(p: &Proxy, needle: &str) -> String {
    poll_until(needle, || {
        let log = std::fs::read_to_string(p.dir.join("access.log")).unwrap_or_default();
        match log.lines().find(|l| l.contains(needle)) {
            Some(l) => Ok(l.to_owned()),
            None => Err(log),
        }
    })
}

#[test]
fn announced_client_is_the_client_everywhere() {
    let app = HttpOrigin::start("app");
    let api = HttpOrigin::start("api");
    let p = Proxy::start("aproxy-http", &http_yaml(app.addr, api.addr));
    let web = p.addr("web");

    // v1, the header and the request in one write: bytes after the header are the stream's.
    let mut c = HttpClient::connect(web);
    let mut first = header(proxy::Version::V1, "1.2.3.4:1111", "5.6.7.8:80");
    first.extend_from_slice(b"GET /v1 HTTP/1.1\r\nhost: t\r\n\r\n");
    c.send(&first);
    let r = c.read_response(false).expect("response");
    assert_eq!(
        (r.status, r.text().contains("app")),
        (200, true),
        "{}",
        r.text()
    );
    assert!(
        app.last_head().contains("x-forwarded-for: 1.2.3.4\r\n"),
        "{}",
        app.last_head()
    );
    let line = log_line(&p, "\"GET /v1 HTTP/1.1\"");
    assert!(line.starts_with("1.2.3.4:1111 ["), "{line}");

    // v2, the header alone first: `src` routing sees the announced 10.9.8.7.
    let mut c2 = HttpClient::connect(web);
    c2.send(&header(proxy::Version::V2, "10.9.8.7:2222", "5.6.7.8:80"));
    assert_eq!(c2.get("/v2").status, 200);
    assert!(
        api.last_head().contains("x-forwarded-for: 10.9.8.7\r\n"),
        "{}",
        api.last_head()
    );
    assert!(log_line(&p, "\"GET /v2 HTTP/1.1\"").starts_with("10.9.8.7:2222 ["));

    // `show sess` lists the streams under their announced clients.
    let sess = admin(&p.dir.join("admin.sock"), "show sess");
    assert!(sess.contains("src=1.2.3.4:1111"), "{sess}");
    assert!(sess.contains("src=10.9.8.7:2222"), "{sess}");
}

#[test]
fn missing_malformed_or_late_headers_are_refused_counted_and_logged() {
    let app = HttpOrigin::start("app");
    let p = Proxy::start("aproxy-refuse", &http_yaml(app.addr, app.addr));
    let web = p.addr("web");
    let refused = |bytes: &[u8]| {
        let mut s = connect(web);
        s.write_all(bytes).expect("write");
        // Half-closed: a partial header is then truncated, not late.
        s.shutdown(std::net::Shutdown::Write).expect("shutdown");
        let (got, _, _) = read_to_close(&mut s);
        assert!(got.is_empty(), "no answer to a refused connection: {got:?}");
    };
    refused(b"GET / HTTP/1.1\r\nhost: t\r\n\r\n");
    refused(b"PROXY TCP4 1.2.3.4 5.6.7.8 1111\r\n");
    refused(b"PROXY TCP4 1.2.3.4");
    // Silent past timeout.client (300 ms): closed by percore.
    let mut silent = connect(web);
    let (got, _, _) = read_to_close(&mut silent);
    assert!(got.is_empty());

    let not_header = log_line(&p, "does not look like a PROXY protocol header");
    assert!(not_header.starts_with("127.0.0.1:"), "{not_header}");
    assert!(
        not_header.contains("] web/1: Received something"),
        "{not_header}"
    );
    log_line(&p, "web/1: Received an invalid PROXY protocol header");
    log_line(&p, "web/1: Truncated PROXY protocol header received");
    log_line(&p, "web/1: Timeout while waiting for PROXY protocol header");
    let csv = admin(&p.dir.join("admin.sock"), "show stat");
    assert_eq!(stat(&csv, "web", "FRONTEND", "ereq"), "4", "{csv}");
    assert_eq!(app.requests(), 0, "nothing refused reached a server");
}

/// TCP mode: the announced addresses go on to a `send_proxy` server, which here echoes
/// what it gets, so the client reads the header percore sent.
#[test]
fn tcp_mode_sends_the_announced_addresses_onwards() {
    let origin = Origin::start(Behaviour::Echo);
    let yaml = format!(
        "global:\n  shards: 1\n\
         defaults:\n  mode: tcp\n  timeout: {{ client: 5s }}\n\
         frontends:\n  fe: {{ bind: \"127.0.0.1:0\", accept_proxy: true, default_backend: app }}\n\
         backends:\n  app:\n    servers: [{{ name: s1, address: \"{}\", send_proxy: v1 }}]\n",
        origin.addr
    );
    let p = Proxy::start("aproxy-tcp", &yaml);
    let mut s: TcpStream = connect(p.addr("fe"));
    let mut bytes = header(
        proxy::Version::V2,
        "[2001:db8::7]:4444",
        "[2001:db8::1]:443",
    );
    bytes.extend_from_slice(b"ping");
    s.write_all(&bytes).expect("write");
    let want = b"PROXY TCP6 2001:db8::7 2001:db8::1 4444 443\r\nping";
    let mut got = vec![0u8; want.len()];
    s.read_exact(&mut got).expect("echo");
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
}

/// HTTP mode: a `send_proxy` server gets the announced client in the PROXY header that
/// opens its connection, ahead of the request.
#[test]
fn http_mode_sends_the_announced_addresses_onwards() {
    let server = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let yaml = format!(
        "global:\n  shards: 1\n\
         defaults:\n  mode: http\n\
         frontends:\n  web: {{ bind: \"127.0.0.1:0\", accept_proxy: true, default_backend: app }}\n\
         backends:\n  app:\n    servers: [{{ name: s1, address: \"{}\", send_proxy: v1 }}]\n",
        server.local_addr().expect("addr")
    );
    let p = Proxy::start("aproxy-http-send", &yaml);
    let mut c = HttpClient::connect(p.addr("web"));
    let mut bytes = header(proxy::Version::V1, "1.2.3.4:1111", "5.6.7.8:80");
    bytes.extend_from_slice(b"GET /sp HTTP/1.1\r\nhost: t\r\n\r\n");
    c.send(&bytes);
    let (mut s, _) = server.accept().expect("accept");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    // Bounded: the header line and one request head are far below 64 KiB.
    while !got.ends_with(b"\r\n\r\n") && got.len() < 65536 {
        let n = s.read(&mut buf).expect("read");
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("PROXY TCP4 1.2.3.4 5.6.7.8 1111 80\r\nGET /sp HTTP/1.1\r\n"),
        "{text}"
    );
    s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        .expect("write");
    assert_eq!(c.read_response(false).expect("response").status, 200);
}
