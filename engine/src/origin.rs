//! A small HTTP/1.1 origin server on plain threads, used by `percore demo` (and handy for
//! trying configurations): it answers every request with its own name.
//!
//! It is deliberately simple — one thread per connection, bounded — because it only serves
//! a human trying percore, never a benchmark (`percore-bench` has its own origin).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Connections served at once; more are closed immediately.
const CONNS_MAX: usize = 256;
/// Longest request head accepted.
const HEAD_BYTES_MAX: usize = 16 * 1024;
/// Idle keep-alive connections are closed after this.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A running origin.
pub struct Origin {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The name it answers with.
    pub name: String,
}

/// Starts an origin called `name` on `addr` (port 0 for an ephemeral port).
pub fn spawn(name: &str, addr: SocketAddr) -> io::Result<Origin> {
    let listener = TcpListener::bind(addr)?;
    let addr = listener.local_addr()?;
    let live = Arc::new(AtomicUsize::new(0));
    let thread_name = name.to_string();
    std::thread::Builder::new()
        .name(format!("origin-{name}"))
        .spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                if live.load(Ordering::Relaxed) >= CONNS_MAX {
                    continue;
                }
                live.fetch_add(1, Ordering::Relaxed);
                let live = live.clone();
                let name = thread_name.clone();
                let spawned = std::thread::Builder::new().spawn(move || {
                    let _ = serve(conn, &name);
                    live.fetch_sub(1, Ordering::Relaxed);
                });
                if spawned.is_err() {
                    // The closure (and its decrement) was dropped with the failed spawn.
                    continue;
                }
            }
        })?;
    Ok(Origin {
        addr,
        name: name.to_string(),
    })
}

fn serve(mut conn: TcpStream, name: &str) -> io::Result<()> {
    conn.set_read_timeout(Some(IDLE_TIMEOUT))?;
    conn.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let head_end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > HEAD_BYTES_MAX {
                conn.write_all(b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")?;
                return Ok(());
            }
            let n = conn.read(&mut chunk)?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or("");
        let mut parts = request_line.split(' ');
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("/").to_string();
        let version = parts.next().unwrap_or("");
        let mut body_len = 0usize;
        let mut close = version == "HTTP/1.0";
        for l in lines {
            let Some((k, v)) = l.split_once(':') else {
                continue;
            };
            let v = v.trim();
            if k.eq_ignore_ascii_case("content-length") {
                body_len = v.parse().unwrap_or(0);
            } else if k.eq_ignore_ascii_case("connection") {
                close = v.eq_ignore_ascii_case("close");
            }
        }
        buf.drain(..head_end);
        // Discard the request body.
        while body_len > 0 {
            if buf.is_empty() {
                let n = conn.read(&mut chunk)?;
                if n == 0 {
                    return Ok(());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let take = body_len.min(buf.len());
            buf.drain(..take);
            body_len -= take;
        }
        let body = format!("Hello from {name}: you asked for {method} {path}\n");
        let resp = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nx-origin: {name}\r\n{}\r\n{}",
            body.len(),
            if close { "connection: close\r\n" } else { "" },
            if method == "HEAD" { "" } else { body.as_str() }
        );
        conn.write_all(resp.as_bytes())?;
        if close {
            return Ok(());
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
