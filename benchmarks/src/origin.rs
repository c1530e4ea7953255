//! Origin servers for benchmarks: a fixed-response HTTP/1.1 server and a TCP echo server,
//! one blocking thread per connection. Fixed responses keep the origin cheap so that it is
//! never what a benchmark measures.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

/// What the origin does with each connection.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// Answer every request head with a 200 and a body of `body` bytes.
    Http {
        /// Body size.
        body: usize,
    },
    /// Send back every byte.
    Echo,
}

/// Longest request head accepted before the connection is dropped.
const HEAD_BYTES_MAX: usize = 64 * 1024;

/// Serves forever on `addr`.
pub fn serve(addr: SocketAddr, kind: Kind) -> io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    let response = match kind {
        Kind::Http { body } => {
            let mut r = format!("HTTP/1.1 200 OK\r\ncontent-length: {body}\r\n\r\n").into_bytes();
            r.resize(r.len() + body, b'x');
            r
        }
        Kind::Echo => Vec::new(),
    };
    let response: &'static [u8] = Box::leak(response.into_boxed_slice());
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        std::thread::spawn(move || {
            let _ = conn.set_nodelay(true);
            let _ = match kind {
                Kind::Http { .. } => http(conn, response),
                Kind::Echo => echo(conn),
            };
        });
    }
    Ok(())
}

fn echo(mut conn: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        conn.write_all(&buf[..n])?;
    }
}

fn http(mut conn: TcpStream, response: &[u8]) -> io::Result<()> {
    let mut buf = vec![0u8; HEAD_BYTES_MAX];
    let mut len = 0;
    loop {
        let n = conn.read(&mut buf[len..])?;
        if n == 0 {
            return Ok(());
        }
        len += n;
        // Answer every complete head in the buffer (pipelining); bodies are not expected.
        let mut start = 0;
        let mut out = Vec::new();
        while let Some(i) = buf[start..len].windows(4).position(|w| w == b"\r\n\r\n") {
            out.extend_from_slice(response);
            start += i + 4;
        }
        if !out.is_empty() {
            conn.write_all(&out)?;
        }
        buf.copy_within(start..len, 0);
        len -= start;
        if len == buf.len() {
            return Ok(());
        }
    }
}
