//! Defects of the stream logic found in review, each reproduced end to end through the real
//! binary with real origins: HTTP/1.0 clients and chunked origins, `Expect` with an origin
//! that ignores it, an invalid chunk size, layer-7 passive health without reuse, and exact
//! `bin`/`bout` when body bytes arrive with the head.

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;

use common::http_origin::{HttpClient, HttpOrigin};
use common::*;

fn config(backend_extra: &str, server_extra: &str, origin: SocketAddr) -> String {
    format!(
        "global:\n  shards: 2\n  grace: 1s\n  admin:\n    socket: ./admin.sock\n\
         defaults:\n  mode: http\n  timeout: {{ connect: 1s, client: 10s, server: 3s, http_request: 5s }}\n\
         frontends:\n  web:\n    bind: \"127.0.0.1:0\"\n    default_backend: app\n\
         backends:\n  app:\n{backend_extra}    servers:\n\
         \x20     - {{ name: s0, address: \"{origin}\"{server_extra} }}\n"
    )
}

/// Reads one HTTP/1.x response with a Content-Length body; returns (head, body).
fn read_length_response(s: &mut std::net::TcpStream) -> (String, Vec<u8>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = s.read(&mut byte).expect("read head");
        assert_eq!(
            n,
            1,
            "closed in the head after {:?}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).expect("utf8");
    let lower = head.to_ascii_lowercase();
    let len: usize = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .unwrap_or_else(|| panic!("no content-length in {head}"))
        .trim()
        .parse()
        .expect("length");
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).expect("body");
    (head, body)
}

#[test]
fn http10_keep_alive_clients_never_get_chunked() {
    // What `ab -k` does: HTTP/1.0 with Connection: keep-alive, many requests per connection.
    let o = HttpOrigin::start("o1");
    let p = Proxy::start("d-http10", &config("", "", o.addr));
    for _ in 0..4 {
        let mut s = connect(p.addr("web"));
        for _ in 0..50 {
            s.write_all(b"GET /chunked/3 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                .expect("send");
            let (head, body) = read_length_response(&mut s);
            let lower = head.to_ascii_lowercase();
            assert!(!lower.contains("transfer-encoding"), "{head}");
            assert!(lower.contains("connection: keep-alive"), "{head}");
            assert_eq!(body, b"chunk-0\nchunk-1\nchunk-2\n");
        }
    }
}

#[test]
fn expect_upload_reaches_an_origin_that_ignores_expect() {
    // curl adds Expect to uploads over 1 MB and sends the body after 1 s without a 100.
    let o = HttpOrigin::start("o1");
    let p = Proxy::start("d-expect", &config("", "", o.addr));
    let mut c = HttpClient::connect(p.addr("web"));
    c.send(
        b"PUT /noexpect HTTP/1.1\r\nhost: t\r\nexpect: 100-continue\r\ncontent-length: 5\r\n\r\n",
    );
    c.send(b"hello");
    let r = c.read_response(false).expect("response");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().ends_with("\n---\nhello"), "{}", r.text());
}

#[test]
fn invalid_chunk_size_is_a_counted_and_logged_502() {
    let o = HttpOrigin::start("o1");
    let dir = temp_dir("d-badchunk");
    let yaml = config("", "", o.addr).replace(
        "global:\n",
        "global:\n  log: { access: true, target: ./access.log }\n",
    );
    let p = Proxy::start_in(dir.clone(), &yaml);
    let mut c = HttpClient::connect(p.addr("web"));
    c.send(b"GET /badchunk HTTP/1.1\r\nhost: t\r\n\r\n");
    let r = c
        .read_response(false)
        .expect("a response, not an empty reply");
    assert_eq!(r.status, 502);
    let csv = poll_until("eresp counted", || {
        let csv = admin(&p.dir.join("admin.sock"), "show stat");
        if stat(&csv, "app", "BACKEND", "eresp") == "1" {
            Ok(csv)
        } else {
            Err(csv)
        }
    });
    assert_eq!(stat(&csv, "web", "FRONTEND", "hrsp_5xx"), "1");
    let line = poll_until("log line", || {
        let log = std::fs::read_to_string(dir.join("access.log")).unwrap_or_default();
        match log.lines().find(|l| l.contains("/badchunk")) {
            Some(l) => Ok(l.to_string()),
            None => Err(log),
        }
    });
    assert!(line.contains(" 502 ") && line.contains(" PH--"), "{line}");
}

#[test]
fn layer7_passive_health_marks_down_without_reuse() {
    // Every request on a fresh connection: the connect success must not reset the
    // layer-7 error count.
    let o = HttpOrigin::start("o1");
    let yaml = config(
        "    http_reuse: never\n\
         \x20   check: { inter: 1h, observe: layer7, error_limit: 3, on_error: mark-down }\n",
        "",
        o.addr,
    );
    let p = Proxy::start("d-l7", &yaml);
    for _ in 0..6 {
        let mut c = HttpClient::connect(p.addr("web"));
        assert_eq!(c.get("/status/503").status, 503);
    }
    poll_until("s0 DOWN", || {
        let csv = admin(&p.dir.join("admin.sock"), "show stat");
        if stat(&csv, "app", "s0", "status").starts_with("DOWN") {
            Ok(())
        } else {
            Err(csv)
        }
    });
}

#[test]
fn bytes_in_and_out_are_exactly_what_the_client_saw() {
    let o = HttpOrigin::start("o1");
    let p = Proxy::start("d-bytes", &config("", "", o.addr));
    let mut sent = 0u64;
    let mut received = 0u64;
    let mut s = connect(p.addr("web"));
    for (i, path) in ["/big/100", "/", "/chunked/4", "/big/5000", "/status/404"]
        .iter()
        .enumerate()
    {
        let req = format!("GET {path} HTTP/1.1\r\nhost: t\r\nx-n: {i}\r\n\r\n");
        s.write_all(req.as_bytes()).expect("send");
        sent += req.len() as u64;
        received += read_any_response(&mut s);
    }
    let body = b"POST /echo HTTP/1.1\r\nhost: t\r\ncontent-length: 7\r\n\r\npayload";
    s.write_all(body).expect("send");
    sent += body.len() as u64;
    received += read_any_response(&mut s);
    drop(s);
    let csv = poll_until("stream accounted", || {
        let csv = admin(&p.dir.join("admin.sock"), "show stat");
        if stat(&csv, "web", "FRONTEND", "req_tot") == "6"
            && stat(&csv, "web", "FRONTEND", "scur") == "0"
        {
            Ok(csv)
        } else {
            Err(csv)
        }
    });
    assert_eq!(stat(&csv, "web", "FRONTEND", "bin"), sent.to_string());
    assert_eq!(stat(&csv, "web", "FRONTEND", "bout"), received.to_string());
    assert_eq!(stat(&csv, "app", "BACKEND", "bout"), received.to_string());
}

/// Reads one response (Content-Length or chunked) and returns its size on the wire.
fn read_any_response(s: &mut std::net::TcpStream) -> u64 {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).expect("read"), 1, "closed in the head");
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let mut total = head.len() as u64;
    if let Some(len) = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
    {
        let len: usize = len.trim().parse().expect("length");
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).expect("body");
        return total + len as u64;
    }
    // Chunked: read until the last chunk and the empty trailer section.
    let mut tail = Vec::new();
    while !tail.ends_with(b"0\r\n\r\n") {
        assert_eq!(s.read(&mut byte).expect("read"), 1, "closed in the body");
        tail.push(byte[0]);
    }
    total += tail.len() as u64;
    total
}

#[test]
fn idle_keep_alive_connections_count_on_the_frontend_only() {
    let o = HttpOrigin::start("o1");
    let p = Proxy::start("d-scur", &config("", "", o.addr));
    let mut clients: Vec<HttpClient> = (0..3).map(|_| HttpClient::connect(p.addr("web"))).collect();
    for c in &mut clients {
        assert_eq!(c.get("/").status, 200);
    }
    let csv = poll_until("3 idle client connections", || {
        let csv = admin(&p.dir.join("admin.sock"), "show stat");
        if stat(&csv, "web", "FRONTEND", "scur") == "3"
            && stat(&csv, "web", "FRONTEND", "req_tot") == "3"
        {
            Ok(csv)
        } else {
            Err(csv)
        }
    });
    // As HAProxy: backend and server scur count exchanges in progress, not idle clients.
    assert_eq!(stat(&csv, "app", "BACKEND", "scur"), "0");
    assert_eq!(stat(&csv, "app", "s0", "scur"), "0");
    assert_eq!(stat(&csv, "app", "BACKEND", "stot"), "3");
}

#[test]
fn a_client_reset_while_queued_is_served_counted_and_logged() {
    // The soak's client abort: POST head and part of the body, then RST. When the reset
    // reached the kernel before percore's accept, the stream asked `getpeername` for the
    // address (ENOTCONN) and dropped the connection with no log line and no count.
    const CLIENTS: usize = 20;
    let o = HttpOrigin::start("o1");
    let dir = temp_dir("d-reset-queued");
    let log = dir.join("access.log");
    let yaml = config("", "", o.addr).replace(
        "  admin:\n",
        &format!(
            "  log: {{ target: \"{}\", access: true }}\n  admin:\n",
            log.display()
        ),
    );
    let p = Proxy::start_in(dir.clone(), &yaml);
    let sock = dir.join("admin.sock");
    // Paused, the listener stays bound: the connections wait in its accept queue.
    assert_eq!(admin(&sock, "disable frontend web"), "\n");
    for i in 0..CLIENTS {
        let mut s = connect(p.addr("web"));
        let head = format!("POST /up/{i} HTTP/1.1\r\nhost: t\r\ncontent-length: 131072\r\n\r\n");
        s.write_all(head.as_bytes()).expect("head");
        s.write_all(&[b'b'; 4096]).expect("part of the body");
        socket2::SockRef::from(&s)
            .set_linger(Some(std::time::Duration::ZERO))
            .expect("linger");
    }
    assert_eq!(admin(&sock, "enable frontend web"), "\n");
    let csv = poll_until("every reset client accounted", || {
        let csv = admin(&sock, "show stat");
        if stat(&csv, "web", "FRONTEND", "stot") == CLIENTS.to_string()
            && stat(&csv, "web", "FRONTEND", "scur") == "0"
        {
            Ok(csv)
        } else {
            Err(csv)
        }
    });
    assert_eq!(
        stat(&csv, "web", "FRONTEND", "req_tot"),
        CLIENTS.to_string()
    );
    let text = poll_until("a log line per client", || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.lines().count() >= CLIENTS {
            Ok(text)
        } else {
            Err(text)
        }
    });
    for i in 0..CLIENTS {
        let line = text
            .lines()
            .find(|l| l.contains(&format!("\"POST /up/{i} HTTP/1.1\"")))
            .unwrap_or_else(|| panic!("no line for /up/{i} in\n{text}"));
        assert!(line.contains(" CR-- "), "{line}");
    }
    assert_eq!(text.lines().count(), CLIENTS, "{text}");
}
