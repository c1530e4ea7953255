//! A real HTTP/1.1 origin for the integration tests, on plain threads: keep-alive,
//! Content-Length and chunked request bodies, and behaviours chosen by the request path:
//!
//! - `/echo…`      200, body = request head as received + `\n---\n` + request body
//! - `/sum`        reads the body as a stream and answers `bytes=N sum=S` (never buffers it)
//! - `/big/N`      200 with an N-byte body (Content-Length)
//! - `/chunked/N`  200 with N chunks of `chunk-i\n`
//! - `/close`      200 without length, body ends when the origin closes
//! - `/status/C`   status C (204, 304: no body)
//! - `/slow/MS`    waits MS milliseconds, then 200
//! - `/bad`        an invalid response (two Content-Length fields)
//! - `/hang`       never answers
//! - `/upgrade`    with `Upgrade: websocket`: 101, then echoes raw bytes
//! - `/badchunk`   a chunked response whose first chunk size is not hex
//! - `/noexpect…`  like `/echo`, but ignores `Expect` (no 100), as Python's http.server
//! - anything else 200 with the origin's name
//!
//! `Expect: 100-continue` gets a `100 Continue` before the body is read (but `/noexpect`).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the origin saw.
#[derive(Default)]
pub struct Seen {
    /// Connections accepted.
    pub connections: AtomicUsize,
    /// Requests served.
    pub requests: AtomicUsize,
    /// Request heads as received.
    pub heads: Mutex<Vec<String>>,
    /// Requests being answered now, and the most at once.
    pub in_flight: AtomicUsize,
    /// Most requests answered at once.
    pub max_in_flight: AtomicUsize,
    /// Requests between their head and the end of the origin's delay, before any response
    /// byte: what a proxy's `maxconn` bounds exactly. (`in_flight` also spans writing the
    /// response, whose end the proxy may see before this thread counts it.)
    pub serving: AtomicUsize,
    /// Most requests in `serving` at once.
    pub max_serving: AtomicUsize,
}

/// A running HTTP origin; stops accepting when dropped.
pub struct HttpOrigin {
    /// Listening address.
    pub addr: SocketAddr,
    /// What it saw.
    pub seen: Arc<Seen>,
    stop: Arc<AtomicBool>,
}

impl HttpOrigin {
    /// Starts an origin that names itself `name`.
    pub fn start(name: &'static str) -> HttpOrigin {
        Self::start_with_delay(name, Duration::ZERO)
    }

    /// Starts an origin that waits `delay` before every response.
    pub fn start_with_delay(name: &'static str, delay: Duration) -> HttpOrigin {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        listener.set_nonblocking(true).expect("nonblocking");
        let seen = Arc::new(Seen::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (s2, st2) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            while !st2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        conn.set_nonblocking(false).expect("blocking");
                        s2.connections.fetch_add(1, Ordering::Relaxed);
                        let s3 = s2.clone();
                        std::thread::spawn(move || {
                            let _ = serve(conn, name, &s3, delay);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        HttpOrigin { addr, seen, stop }
    }

    /// Connections accepted.
    pub fn connections(&self) -> usize {
        self.seen.connections.load(Ordering::Relaxed)
    }

    /// Requests served.
    pub fn requests(&self) -> usize {
        self.seen.requests.load(Ordering::Relaxed)
    }

    /// The last request head received.
    pub fn last_head(&self) -> String {
        self.seen
            .heads
            .lock()
            .expect("heads")
            .last()
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for HttpOrigin {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(conn: TcpStream, name: &str, seen: &Seen, delay: Duration) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    // Chunks are written one by one: Nagle would hold each for the peer's delayed ACK.
    conn.set_nodelay(true)?;
    let mut w = conn.try_clone()?;
    let mut r = BufReader::new(conn);
    loop {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line)? == 0 {
                return Ok(());
            }
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let now = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        seen.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let serving = seen.serving.fetch_add(1, Ordering::SeqCst) + 1;
        seen.max_serving.fetch_max(serving, Ordering::SeqCst);
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        seen.serving.fetch_sub(1, Ordering::SeqCst);
        seen.requests.fetch_add(1, Ordering::Relaxed);
        seen.heads.lock().expect("heads").push(head.clone());
        let lower = head.to_ascii_lowercase();
        let mut first = head.split(' ');
        let method = first.next().unwrap_or("").to_string();
        let path = first.next().unwrap_or("").to_string();
        let header = |n: &str| {
            lower.lines().find_map(|l| {
                l.strip_prefix(&format!("{n}:"))
                    .map(|v| v.trim().to_string())
            })
        };
        if header("expect").as_deref() == Some("100-continue") && !path.starts_with("/noexpect") {
            w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        let length: Option<u64> = header("content-length").and_then(|v| v.parse().ok());
        let chunked = header("transfer-encoding").as_deref() == Some("chunked");
        let close = header("connection").as_deref() == Some("close");
        if path == "/sum" {
            let (bytes, sum) = read_body_streaming(&mut r, length, chunked)?;
            let body = format!("bytes={bytes} sum={sum}\n");
            respond(&mut w, 200, &[], body.as_bytes(), close)?;
        } else {
            let body = read_body(&mut r, length, chunked)?;
            if path.starts_with("/echo") || path.starts_with("/noexpect") {
                let mut out = head.clone().into_bytes();
                out.extend_from_slice(b"\n---\n");
                out.extend_from_slice(&body);
                respond(&mut w, 200, &[("x-origin", name)], &out, close)?;
            } else if let Some(n) = path.strip_prefix("/big/") {
                let n: usize = n.parse().unwrap_or(0);
                let body: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
                respond(&mut w, 200, &[], &body, close)?;
            } else if let Some(n) = path.strip_prefix("/chunked/") {
                let n: usize = n.parse().unwrap_or(0);
                write!(w, "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")?;
                for i in 0..n {
                    let c = format!("chunk-{i}\n");
                    write!(w, "{:x}\r\n{c}\r\n", c.len())?;
                }
                w.write_all(b"0\r\nx-trailer: t\r\n\r\n")?;
            } else if path == "/close" {
                w.write_all(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil close\n")?;
                return Ok(());
            } else if let Some(code) = path.strip_prefix("/status/") {
                let code: u16 = code.parse().unwrap_or(500);
                if code == 204 || code == 304 {
                    write!(w, "HTTP/1.1 {code} X\r\n\r\n")?;
                } else {
                    respond(&mut w, code, &[], b"status\n", close)?;
                }
            } else if let Some(ms) = path.strip_prefix("/slow/") {
                std::thread::sleep(Duration::from_millis(ms.parse().unwrap_or(0)));
                respond(&mut w, 200, &[], b"slow\n", close)?;
            } else if path == "/bad" {
                w.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nxx",
                )?;
            } else if path == "/badchunk" {
                w.write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n")?;
                return Ok(());
            } else if path == "/hang" {
                std::thread::sleep(Duration::from_secs(30));
                return Ok(());
            } else if path == "/upgrade" && header("upgrade").is_some() {
                w.write_all(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n")?;
                let mut buf = [0u8; 4096];
                loop {
                    let n = r.read(&mut buf)?;
                    if n == 0 {
                        return Ok(());
                    }
                    w.write_all(&buf[..n])?;
                }
            } else {
                let body = if method == "HEAD" {
                    Vec::new()
                } else {
                    format!("{name}\n").into_bytes()
                };
                if method == "HEAD" {
                    write!(
                        w,
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n",
                        name.len() + 1
                    )?;
                } else {
                    respond(&mut w, 200, &[("x-origin", name)], &body, close)?;
                }
            }
        }
        seen.in_flight.fetch_sub(1, Ordering::SeqCst);
        if close {
            return Ok(());
        }
    }
}

fn respond(
    w: &mut TcpStream,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    close: bool,
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if close {
        head.push_str("connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    w.write_all(&out)
}

fn read_body(
    r: &mut BufReader<TcpStream>,
    length: Option<u64>,
    chunked: bool,
) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut line = String::new();
            r.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            if size == 0 {
                // Trailers until the empty line.
                loop {
                    let mut t = String::new();
                    if r.read_line(&mut t)? == 0 || t == "\r\n" {
                        break;
                    }
                }
                return Ok(body);
            }
            let start = body.len();
            body.resize(start + size, 0);
            r.read_exact(&mut body[start..])?;
            let mut crlf = [0u8; 2];
            r.read_exact(&mut crlf)?;
        }
    }
    if let Some(n) = length {
        body.resize(n as usize, 0);
        r.read_exact(&mut body)?;
    }
    Ok(body)
}

/// Reads a body without keeping it; returns (bytes, sum of bytes mod 2^32).
fn read_body_streaming(
    r: &mut BufReader<TcpStream>,
    length: Option<u64>,
    chunked: bool,
) -> std::io::Result<(u64, u32)> {
    let mut bytes = 0u64;
    let mut sum = 0u32;
    let mut buf = vec![0u8; 64 * 1024];
    let mut take = |r: &mut BufReader<TcpStream>, mut n: u64| -> std::io::Result<()> {
        while n > 0 {
            let want = n.min(buf.len() as u64) as usize;
            r.read_exact(&mut buf[..want])?;
            for b in &buf[..want] {
                sum = sum.wrapping_add(u32::from(*b));
            }
            bytes += want as u64;
            n -= want as u64;
        }
        Ok(())
    };
    if chunked {
        loop {
            let mut line = String::new();
            r.read_line(&mut line)?;
            let size = u64::from_str_radix(line.trim(), 16).unwrap_or(0);
            if size == 0 {
                let mut t = String::new();
                r.read_line(&mut t)?;
                break;
            }
            take(r, size)?;
            let mut crlf = [0u8; 2];
            r.read_exact(&mut crlf)?;
        }
    } else if let Some(n) = length {
        take(r, n)?;
    }
    Ok((bytes, sum))
}

/// A response read by [`HttpClient`].
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Head lines after the status line, lower-cased names.
    pub headers: Vec<(String, String)>,
    /// Body (de-chunked).
    pub body: Vec<u8>,
}

impl Response {
    /// First value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A raw-socket HTTP/1.1 client keeping one connection.
pub struct HttpClient {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl HttpClient {
    /// Connects to `addr`.
    pub fn connect(addr: SocketAddr) -> HttpClient {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(15)))
            .expect("timeout");
        HttpClient {
            w: s.try_clone().expect("clone"),
            r: BufReader::new(s),
        }
    }

    /// Sends raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.w.write_all(bytes).expect("send");
    }

    /// The underlying stream (for shutdown, local address).
    pub fn stream(&self) -> &TcpStream {
        &self.w
    }

    /// Sends `GET path` with `host: test` and reads the response.
    pub fn get(&mut self, path: &str) -> Response {
        self.send(format!("GET {path} HTTP/1.1\r\nhost: test\r\n\r\n").as_bytes());
        self.read_response(false).expect("response")
    }

    /// Reads one response; `head_request` means no body follows. `None` on EOF.
    pub fn read_response(&mut self, head_request: bool) -> Option<Response> {
        let mut status_line = String::new();
        if self.r.read_line(&mut status_line).ok()? == 0 {
            return None;
        }
        let status: u16 = status_line.split(' ').nth(1)?.parse().ok()?;
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            self.r.read_line(&mut line).ok()?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            let (n, v) = line.split_once(':')?;
            headers.push((n.to_ascii_lowercase(), v.trim().to_string()));
        }
        let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let mut body = Vec::new();
        let no_body =
            head_request || status == 204 || status == 304 || (100..200).contains(&status);
        if !no_body {
            if get("transfer-encoding").as_deref() == Some("chunked") {
                body = read_body(&mut self.r, None, true).ok()?;
            } else if let Some(n) = get("content-length").and_then(|v| v.parse::<u64>().ok()) {
                body = read_body(&mut self.r, Some(n), false).ok()?;
            } else {
                self.r.read_to_end(&mut body).ok()?;
            }
        }
        Some(Response {
            status,
            headers,
            body,
        })
    }

    /// True when the proxy closed the connection (EOF on read).
    pub fn is_closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.r.read(&mut b), Ok(0))
    }
}
