//! HTTP/1.1 mode through the real binary: two shards, real HTTP origins on loopback, a raw
//! socket client and curl. Covers bodies (Content-Length, chunked, multi-megabyte, streamed),
//! keep-alive and pools, pipelining, HEAD/204/304, 100-continue, Upgrade, routing, header
//! actions, every error status, slowloris, and malformed/smuggling requests.

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::http_origin::{HttpClient, HttpOrigin};
use common::*;

/// A config with frontend `web` (http) and the given backends `(name, servers, extra)`.
fn config(web: &str, backends: &[(&str, &[SocketAddr], &str)], global: &str) -> String {
    let mut s = format!(
        "global:\n  shards: 2\n  grace: 1s\n  admin:\n    socket: ./admin.sock\n{global}\
         defaults:\n  mode: http\n  timeout: {{ connect: 1s, client: 10s, server: 10s, http_request: 5s }}\n\
         frontends:\n  web:\n    bind: \"127.0.0.1:0\"\n{web}backends:\n"
    );
    for (name, servers, extra) in backends {
        s.push_str(&format!("  {name}:\n{extra}    servers:\n"));
        for (i, a) in servers.iter().enumerate() {
            s.push_str(&format!(
                "      - {{ name: {name}{i}, address: \"{a}\" }}\n"
            ));
        }
    }
    s
}

fn simple(origin: &HttpOrigin) -> String {
    config(
        "    default_backend: app\n",
        &[("app", &[origin.addr], "")],
        "",
    )
}

#[test]
fn get_post_put_with_length_and_chunked_bodies() {
    let o = HttpOrigin::start("o1");
    let p = Proxy::start("h-bodies", &simple(&o));
    let mut c = HttpClient::connect(p.addr("web"));
    let r = c.get("/");
    assert_eq!((r.status, r.text().as_str()), (200, "o1\n"));
    c.send(b"POST /echo HTTP/1.1\r\nhost: test\r\ncontent-length: 11\r\n\r\nhello world");
    let r = c.read_response(false).expect("response");
    assert_eq!(r.status, 200);
    assert!(r.text().ends_with("\n---\nhello world"), "{}", r.text());
    // A chunked body is re-framed: the origin sees chunked framing with the same payload.
    c.send(b"PUT /echo HTTP/1.1\r\nhost: test\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nx-t: 1\r\n\r\n");
    let r = c.read_response(false).expect("response");
    let text = r.text();
    assert!(
        text.to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{text}"
    );
    assert!(text.ends_with("\n---\nhello world"), "{text}");
    // Chunked and close-delimited responses reach the client intact.
    let r = c.get("/chunked/3");
    assert_eq!(r.text(), "chunk-0\nchunk-1\nchunk-2\n");
    let r = c.get("/close");
    assert_eq!(r.text(), "until close\n");
    assert_eq!(r.header("connection"), Some("close"));
    assert!(
        c.is_closed(),
        "a close-delimited response ends the client connection"
    );
}

#[test]
fn multi_megabyte_bodies_are_streamed_not_buffered() {
    let o = HttpOrigin::start("o1");
    let mut p = Proxy::start("h-big", &simple(&o));
    let rss_before = p.rss_kib();
    const SIZE: usize = 48 << 20;
    let mut c = HttpClient::connect(p.addr("web"));
    // Upload: chunked, 48 MiB in 64 KiB chunks, summed by the origin as a stream.
    c.send(b"POST /sum HTTP/1.1\r\nhost: test\r\ntransfer-encoding: chunked\r\n\r\n");
    let chunk: Vec<u8> = (0..65536u32).map(|i| (i % 253) as u8).collect();
    let mut sum = 0u32;
    for _ in 0..SIZE / chunk.len() {
        c.send(format!("{:x}\r\n", chunk.len()).as_bytes());
        c.send(&chunk);
        c.send(b"\r\n");
        for b in &chunk {
            sum = sum.wrapping_add(u32::from(*b));
        }
    }
    c.send(b"0\r\n\r\n");
    let r = c.read_response(false).expect("response");
    assert_eq!(r.text(), format!("bytes={SIZE} sum={sum}\n"));
    // Download: 48 MiB with Content-Length.
    let r = c.get(&format!("/big/{SIZE}"));
    assert_eq!(r.body.len(), SIZE);
    assert!(r
        .body
        .iter()
        .enumerate()
        .all(|(i, b)| *b == (i % 251) as u8));
    let growth = p.rss_kib().saturating_sub(rss_before);
    assert!(
        growth < (SIZE as u64 / 1024) / 4,
        "RSS grew by {growth} KiB while moving {} MiB: bodies must be streamed",
        SIZE >> 20
    );
    assert!(p.stop().success());
}

#[test]
fn keep_alive_reuses_connections_on_both_sides() {
    let o = HttpOrigin::start("o1");
    let p = Proxy::start("h-ka", &simple(&o));
    let mut c = HttpClient::connect(p.addr("web"));
    for _ in 0..50 {
        assert_eq!(c.get("/").status, 200);
    }
    assert_eq!(o.requests(), 50);
    assert_eq!(
        o.connections(),
        1,
        "one client connection, one pooled server connection"
    );

    // http_reuse: always shares idle server connections across client connections.
    let o2 = HttpOrigin::start("o2");
    let yaml = config(
        "    default_backend: app\n",
        &[("app", &[o2.addr], "    http_reuse: always\n")],
        "",
    );
    let p2 = Proxy::start("h-always", &yaml);
    for _ in 0..20 {
        let mut c = HttpClient::connect(p2.addr("web"));
        assert_eq!(c.get("/").status, 200);
    }
    assert!(
        o2.connections() <= 4,
        "{} server connections for 20 clients",
        o2.connections()
    );

    // http_reuse: never opens one per request.
    let o3 = HttpOrigin::start("o3");
    let yaml = config(
        "    default_backend: app\n",
        &[("app", &[o3.addr], "    http_reuse: never\n")],
        "",
    );
    let p3 = Proxy::start("h-never", &yaml);
    let mut c = HttpClient::connect(p3.addr("web"));
    for _ in 0..5 {
        assert_eq!(c.get("/").status, 200);
    }
    assert_eq!(o3.connections(), 5);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let o = HttpOrigin::start("o1");
    let p = Proxy::start("h-pipe", &simple(&o));
    let mut c = HttpClient::connect(p.addr("web"));
    c.send(
        b"GET /echo/1 HTTP/1.1\r\nhost: test\r\n\r\n\
          GET /status/204 HTTP/1.1\r\nhost: test\r\n\r\n\
          POST /echo/3 HTTP/1.1\r\nhost: test\r\ncontent-length: 3\r\n\r\nabc",
    );
    let r1 = c.read_response(false).expect("r1");
    assert!(r1.text().starts_with("GET /echo/1 "), "{}", r1.text());
    let r2 = c.read_response(false).expect("r2");
    assert_eq!(r2.status, 204);
    let r3 = c.read_response(false).expect("r3");
    assert!(r3.text().starts_with("POST /echo/3 "), "{}", r3.text());
    assert!(r3.text().ends_with("abc"));
}

#[test]
fn head_204_304_have_no_body_and_keep_the_connection() {
    let o = HttpOrigin::start("o1");
    let p = Proxy::start("h-nobody", &simple(&o));
    let mut c = HttpClient::connect(p.addr("web"));
    c.send(b"HEAD / HTTP/1.1\r\nhost: test\r\n\r\n");
    let r = c.read_response(true).expect("head");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-length"),
        Some("3"),
        "HEAD keeps the declared length"
    );
    for code in [204u16, 304] {
        let r = c.get(&format!("/status/{code}"));
        assert_eq!(r.status, code);
        assert!(r.body.is_empty());
    }
    assert_eq!(c.get("/").text(), "o1\n", "connection still usable");
}

#[test]
fn expect_100_continue() {
    let o = HttpOrigin::start("o1");
    let p = Proxy::start("h-100", &simple(&o));
    let mut c = HttpClient::connect(p.addr("web"));
    c.send(
        b"POST /echo HTTP/1.1\r\nhost: test\r\ncontent-length: 4\r\nexpect: 100-continue\r\n\r\n",
    );
    let interim = c.read_response(false).expect("100");
    assert_eq!(interim.status, 100);
    c.send(b"body");
    let r = c.read_response(false).expect("final");
    assert_eq!(r.status, 200);
    assert!(r.text().ends_with("\n---\nbody"));
}

#[test]
fn upgrade_switches_to_a_tunnel() {
    let o = HttpOrigin::start("o1");
    let p = Proxy::start("h-upgrade", &simple(&o));
    let mut c = HttpClient::connect(p.addr("web"));
    c.send(
        b"GET /upgrade HTTP/1.1\r\nhost: test\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n",
    );
    let r = c.read_response(true).expect("101");
    assert_eq!(r.status, 101);
    assert_eq!(r.header("upgrade"), Some("websocket"));
    let mut raw = c.stream().try_clone().expect("clone");
    for msg in [&b"\x81\x05hello"[..], b"anything at all, not HTTP"] {
        raw.write_all(msg).expect("write");
        let mut back = vec![0u8; msg.len()];
        raw.read_exact(&mut back).expect("echo");
        assert_eq!(back, msg);
    }
}

#[test]
fn routing_conditions() {
    let a = HttpOrigin::start("a");
    let b = HttpOrigin::start("b");
    let web = "    default_backend: a\n    use_backend:\n\
      \x20     - { backend: b, when: { host: b.example } }\n\
      \x20     - { backend: b, when: { path_prefix: /b/ } }\n\
      \x20     - { backend: b, when: { path_regex: \"\\\\.css$\" } }\n\
      \x20     - { backend: b, when: { method: DELETE } }\n\
      \x20     - { backend: b, when: { header: { name: X-Route, value: b } } }\n\
      \x20     - { backend: b, when: { all: [ { path_prefix: /src/ }, { src: 127.0.0.0/8 } ] } }\n\
      \x20     - { backend: b, when: { all: [ { path_prefix: /far/ }, { src: 10.0.0.0/8 } ] } }\n\
      \x20     - { backend: b, when: { any: [ { path_prefix: /any1 }, { path_prefix: /any2 } ] } }\n\
      \x20     - { backend: b, when: { all: [ { path_prefix: /not/ }, { not: { method: GET } } ] } }\n";
    let yaml = config(web, &[("a", &[a.addr], ""), ("b", &[b.addr], "")], "");
    let p = Proxy::start("h-route", &yaml);
    let mut c = HttpClient::connect(p.addr("web"));
    let mut origin = |req: &str| -> String {
        c.send(req.as_bytes());
        let r = c.read_response(req.starts_with("HEAD")).expect("response");
        r.header("x-origin").unwrap_or("?").to_string()
    };
    let cases = [
        ("GET / HTTP/1.1\r\nhost: test\r\n\r\n", "a"),
        ("GET / HTTP/1.1\r\nhost: B.Example:8080\r\n\r\n", "b"),
        ("GET /b/x HTTP/1.1\r\nhost: test\r\n\r\n", "b"),
        ("GET /bx HTTP/1.1\r\nhost: test\r\n\r\n", "a"),
        ("GET /s/site.css?v=1 HTTP/1.1\r\nhost: test\r\n\r\n", "b"),
        ("DELETE /x HTTP/1.1\r\nhost: test\r\n\r\n", "b"),
        ("GET /x HTTP/1.1\r\nhost: test\r\nx-route: b\r\n\r\n", "b"),
        ("GET /x HTTP/1.1\r\nhost: test\r\nx-route: c\r\n\r\n", "a"),
        ("GET /src/x HTTP/1.1\r\nhost: test\r\n\r\n", "b"),
        ("GET /far/x HTTP/1.1\r\nhost: test\r\n\r\n", "a"),
        ("GET /any2 HTTP/1.1\r\nhost: test\r\n\r\n", "b"),
        ("GET /not/x HTTP/1.1\r\nhost: test\r\n\r\n", "a"),
        (
            "POST /not/x HTTP/1.1\r\nhost: test\r\ncontent-length: 0\r\n\r\n",
            "b",
        ),
    ];
    for (req, want) in cases {
        assert_eq!(origin(req), want, "{req:?}");
    }
}

#[test]
fn header_actions_and_forwardfor() {
    let o = HttpOrigin::start("o1");
    let web = "    default_backend: app\n    forwardfor: true\n    http_request:\n\
      \x20     - { set_header: { name: X-Env, value: prod } }\n\
      \x20     - { add_header: { name: X-Added, value: one } }\n\
      \x20     - { del_header: X-Secret }\n\
      \x20   http_response:\n\
      \x20     - { set_header: { name: X-Served-By, value: percore } }\n\
      \x20     - { del_header: X-Origin }\n";
    let yaml = config(web, &[("app", &[o.addr], "")], "");
    let p = Proxy::start("h-headers", &yaml);
    let mut c = HttpClient::connect(p.addr("web"));
    c.send(b"GET /echo HTTP/1.1\r\nhost: test\r\nx-env: dev\r\nx-secret: s3cr3t\r\nx-forwarded-for: 192.0.2.1\r\n\r\n");
    let r = c.read_response(false).expect("response");
    let seen = r.text().to_ascii_lowercase();
    assert!(seen.contains("x-env: prod\r\n"), "{seen}");
    assert!(!seen.contains("x-env: dev"), "{seen}");
    assert!(seen.contains("x-added: one\r\n"), "{seen}");
    assert!(!seen.contains("x-secret"), "{seen}");
    assert!(seen.contains("x-forwarded-for: 192.0.2.1\r\n"), "{seen}");
    assert!(seen.contains("x-forwarded-for: 127.0.0.1\r\n"), "{seen}");
    assert!(seen.contains("x-forwarded-proto: http\r\n"), "{seen}");
    assert_eq!(r.header("x-served-by"), Some("percore"));
    assert_eq!(r.header("x-origin"), None);
}

#[test]
fn every_error_status() {
    let o = HttpOrigin::start("o1");
    let dir = temp_dir("h-errors");
    std::fs::write(
        dir.join("503.http"),
        "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 9\r\nconnection: close\r\n\r\ncustom503",
    )
    .expect("errorfile");
    let web = "    use_backend:\n\
      \x20     - { backend: app, when: { path_prefix: [/ok, /bad, /hang, /status] } }\n\
      \x20     - { backend: dead, when: { path_prefix: /dead } }\n\
      \x20   http_request:\n\
      \x20     - { deny: 403, when: { path_prefix: /admin } }\n\
      \x20     - { redirect: { location: \"https://example.com/new\", code: 301 }, when: { path_prefix: /old } }\n\
      \x20     - { return: { status: 200, body: \"alive\\n\" }, when: { path_prefix: /health } }\n\
      \x20   errorfiles: { \"503\": ./503.http }\n";
    let dead = dead_addr();
    let yaml = config(
        web,
        &[
            ("app", &[o.addr], "    timeout: { server: 300ms }\n"),
            ("dead", &[dead], "    retries: 1\n"),
        ],
        "",
    );
    let p = Proxy::start_in(dir, &yaml);
    let addr = p.addr("web");
    let one = |req: &str| -> (u16, String, bool) {
        let mut c = HttpClient::connect(addr);
        c.send(req.as_bytes());
        let r = c.read_response(false).expect("response");
        let closed = r.header("connection") == Some("close");
        (r.status, r.text(), closed)
    };
    let get = |path: &str| one(&format!("GET {path} HTTP/1.1\r\nhost: test\r\n\r\n"));
    assert_eq!(one("GET / HTTP/1.1\r\n\r\n").0, 400, "missing Host");
    let (s, _, closed) = get("/admin");
    assert_eq!((s, closed), (403, true));
    assert_eq!(get("/nowhere").0, 404, "no route and no default_backend");
    let (s, body, _) = get("/health");
    assert_eq!((s, body.as_str()), (200, "alive\n"));
    let mut c = HttpClient::connect(addr);
    c.send(b"GET /old HTTP/1.1\r\nhost: test\r\n\r\n");
    let r = c.read_response(false).expect("redirect");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("https://example.com/new"));
    assert_eq!(get("/bad").0, 502, "invalid response");
    assert_eq!(get("/hang").0, 504, "timeout.server");
    let (s, body, _) = get("/dead");
    assert_eq!(
        (s, body.as_str()),
        (503, "custom503"),
        "no server, errorfile"
    );
    assert_eq!(get("/ok").0, 200);
    let csv = admin(&p.dir.join("admin.sock"), "show stat");
    assert_eq!(stat(&csv, "web", "FRONTEND", "ereq"), "1");
    assert_eq!(stat(&csv, "web", "FRONTEND", "dreq"), "1");
    assert_eq!(stat(&csv, "web", "FRONTEND", "hrsp_5xx"), "3");
    assert_eq!(stat(&csv, "app", "BACKEND", "eresp"), "2");
    assert_eq!(stat(&csv, "dead", "BACKEND", "econ"), "2");
    assert_eq!(stat(&csv, "app", "app0", "hrsp_2xx"), "1");
}

#[test]
fn slowloris_gets_408_and_frees_the_slot() {
    let o = HttpOrigin::start("o1");
    let yaml = simple(&o).replace("http_request: 5s", "http_request: 400ms");
    let p = Proxy::start("h-slow", &yaml);
    let mut c = HttpClient::connect(p.addr("web"));
    let t0 = Instant::now();
    // One byte every 100 ms: the head never completes within 400 ms.
    let mut status = None;
    for b in b"GET / HTTP/1.1\r\nhost: test\r\nx-slow: aaaaaaaaaaaaaaaa\r\n\r\n" {
        if c.stream()
            .try_clone()
            .expect("clone")
            .write_all(&[*b])
            .is_err()
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        if t0.elapsed() > Duration::from_millis(1500) {
            break;
        }
    }
    if let Some(r) = c.read_response(false) {
        status = Some(r.status);
    }
    assert_eq!(status, Some(408));
    assert_eq!(o.requests(), 0, "nothing reached the origin");
    let csv = admin(&p.dir.join("admin.sock"), "show stat");
    assert_eq!(stat(&csv, "web", "FRONTEND", "scur"), "0", "slot freed");
    assert_eq!(stat(&csv, "web", "FRONTEND", "ereq"), "1");
}

#[test]
fn malformed_and_smuggling_requests_are_refused() {
    use percore_protocols::http1::samples::{malformed_requests, Refusal};
    let o = HttpOrigin::start("o1");
    let p = Proxy::start("h-smuggle", &simple(&o));
    let samples = malformed_requests();
    assert!(samples.len() >= 30, "{} samples", samples.len());
    let mut failures = Vec::new();
    let mut head_refusals = 0;
    for s in &samples {
        let before = o.requests();
        let mut c = HttpClient::connect(p.addr("web"));
        c.send(&s.bytes);
        if matches!(s.refusal, Refusal::Body(_)) {
            // The body is cut short or malformed: stop sending so the proxy decides.
            let _ = c.stream().shutdown(std::net::Shutdown::Write);
        }
        let got = c.read_response(false).map(|r| r.status);
        let want = s.refusal.status();
        if got != Some(want) {
            failures.push(format!("{}: got {got:?}, want {want}", s.name));
        }
        if let Refusal::Head(_) = s.refusal {
            head_refusals += 1;
            if o.requests() != before {
                failures.push(format!("{}: reached the origin", s.name));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(head_refusals >= 30, "{head_refusals} head refusals");
    // The proxy still serves normal requests.
    assert_eq!(HttpClient::connect(p.addr("web")).get("/").status, 200);
}

#[test]
fn curl_through_the_proxy() {
    let Ok(version) = std::process::Command::new("curl").arg("--version").output() else {
        eprintln!("curl not installed: skipping the curl client test");
        return;
    };
    assert!(version.status.success());
    let o = HttpOrigin::start("o1");
    let p = Proxy::start("h-curl", &simple(&o));
    let url = format!("http://{}", p.addr("web"));
    let out = std::process::Command::new("curl")
        .args(["-s", "--max-time", "10", "-H", "X-Test: yes"])
        .arg(format!("{url}/echo"))
        .arg("--data-binary")
        .arg("from curl")
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("POST /echo HTTP/1.1"), "{text}");
    assert!(text.to_ascii_lowercase().contains("x-test: yes"), "{text}");
    assert!(text.ends_with("\n---\nfrom curl"), "{text}");
    let out = std::process::Command::new("curl")
        .args([
            "-s",
            "--max-time",
            "10",
            "-o",
            "/dev/null",
            "-o",
            "/dev/null",
        ])
        .args(["-w", "%{http_code} %{num_connects} "])
        .arg(format!("{url}/"))
        .arg(format!("{url}/"))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200 1 200 0 ");
}

#[test]
fn access_log_has_one_line_per_exchange() {
    let o = HttpOrigin::start("o1");
    let dir = temp_dir("h-log");
    let log = dir.join("access.log");
    let yaml = config(
        "    default_backend: app\n",
        &[("app", &[o.addr], "")],
        &format!("  log: {{ target: \"{}\", access: true }}\n", log.display()),
    );
    let mut p = Proxy::start_in(dir, &yaml);
    let mut c = HttpClient::connect(p.addr("web"));
    assert_eq!(c.get("/first").status, 200);
    assert_eq!(c.get("/status/404").status, 404);
    drop(c);
    assert!(p.stop().success());
    let text = std::fs::read_to_string(&log).expect("access log");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].contains(" web app/app0 "), "{}", lines[0]);
    assert!(lines[0].contains(" 200 "), "{}", lines[0]);
    assert!(lines[0].contains(" ---- "), "{}", lines[0]);
    assert!(lines[0].contains("\"GET /first HTTP/1.1\""), "{}", lines[0]);
    assert!(lines[1].contains(" 404 "), "{}", lines[1]);
    assert_eq!(
        lines[0].split(' ').next(),
        lines[1].split(' ').next(),
        "same stream (client address and port), two exchanges"
    );
}

/// The frontend's `show stat` column `column` as a number.
fn frontend_stat(p: &Proxy, column: &str) -> u64 {
    let csv = admin(&sock(p), "show stat");
    stat(&csv, "web", "FRONTEND", column)
        .parse()
        .unwrap_or_else(|_| panic!("{column} in {csv}"))
}

/// Sends `request` and reads the response to its EOF, then keeps sending a byte the client
/// should not send until a write fails (a byte met the proxy's closed socket and was
/// answered with a reset); returns the frontend's bytes in for the connection once its
/// stream is gone: bytes read after the response are counted there.
fn bytes_in_after_close(p: &Proxy, request: &[u8]) -> u64 {
    let bin_before = frontend_stat(p, "bin");
    let mut c = connect(p.addr("web"));
    c.write_all(request).expect("request");
    let (response, ended) = read_until_closed(&mut c);
    assert_eq!(ended, Ended::Eof, "{}", String::from_utf8_lossy(&response));
    assert!(response.starts_with(b"HTTP/1.1 200"), "{response:?}");
    // After the FIN a read only ever returns 0; the reset shows as a failed write.
    poll_until("a write fails", || match c.write(b"x") {
        Err(_) => Ok(()),
        Ok(_) => Err("written"),
    });
    poll_until("the stream ends", || match frontend_stat(p, "scur") {
        0 => Ok(()),
        n => Err(n),
    });
    frontend_stat(p, "bin") - bin_before
}

/// A plain client that asked to close is closed as soon as its response is out: nothing is
/// left waiting for its FIN (no lingering), so a byte it sends anyway meets a closed socket
/// and is never read. A connection the proxy closes although the client wanted keep-alive
/// (here a close-delimited response) lingers: the bytes the client sends meanwhile are read
/// and dropped, so no reset can destroy a response still in flight to it.
#[test]
fn only_a_client_that_asked_to_close_is_closed_without_lingering() {
    let o = HttpOrigin::start("o1");
    let p = Proxy::start("h-quiet-close", &simple(&o));
    for request in [
        &b"GET / HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n"[..],
        b"GET / HTTP/1.0\r\nhost: test\r\n\r\n",
    ] {
        let text = String::from_utf8_lossy(request);
        let bin = bytes_in_after_close(&p, request);
        assert_eq!(
            bin,
            request.len() as u64,
            "a byte after it was read: {text}"
        );
    }
    let request = b"GET /close HTTP/1.1\r\nhost: test\r\n\r\n";
    let bin = bytes_in_after_close(&p, request);
    assert!(
        bin > request.len() as u64,
        "lingering reads and drops: {bin}"
    );
}
