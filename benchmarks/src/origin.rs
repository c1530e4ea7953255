//! Origin servers: what stands behind the proxy under test. Each is a set of tasks on the
//! [`Pool`] (one SO_REUSEPORT listener per worker) and does as little as possible per byte
//! so that it is never the bottleneck: the `direct` row of every comparison measures the
//! origin and the load generator alone, which is the ceiling any proxy row can reach.
//!
//! - `http`: HTTP/1.1 keep-alive server with a fixed 200 response of `body` bytes; answers
//!   pipelined requests in order, skips request bodies (Content-Length), closes after a
//!   request with `Connection: close` or an HTTP/1.0 request without keep-alive.
//! - `echo`: sends back every byte; optionally first sends a banner (the `kill` scenario
//!   uses it to learn which server a stream reached through the proxy).
//! - `bulk`: the client's first byte picks the direction: `D` (download) makes the origin
//!   write as fast as the peer takes bytes; anything else (upload) makes it read and discard.

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::http::contains_token;
use crate::pool::Pool;

/// Longest request head (plus pipelined followers) buffered before the connection is dropped.
const REQUEST_BYTES_MAX: usize = 64 * 1024;

/// Headers parsed per request.
const HEADERS_MAX: usize = 64;

/// Read and write size of the echo, source and sink servers.
const CHUNK_BYTES: usize = 64 * 1024;

/// Responses smaller than this are gathered into one write when requests are pipelined.
const GATHER_BYTES_MAX: usize = 16 * 1024;

/// Listen backlog (the kernel caps it at net.core.somaxconn).
const BACKLOG: i32 = 4096;

/// What an origin does with each connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Fixed 200 responses with a body of this many bytes.
    Http {
        /// Body bytes.
        body: usize,
    },
    /// Echo, after sending `banner` (may be empty).
    Echo {
        /// Bytes sent once on accept.
        banner: Vec<u8>,
    },
    /// Write continuously after a `D`, else read and discard.
    Bulk,
}

impl Kind {
    /// Parses `http|echo|bulk`.
    pub fn parse(kind: &str, body: usize, banner: &str) -> Result<Kind, String> {
        match kind {
            "http" => Ok(Kind::Http { body }),
            "echo" => Ok(Kind::Echo {
                banner: banner.as_bytes().to_vec(),
            }),
            "bulk" => Ok(Kind::Bulk),
            other => Err(format!("unknown origin kind {other:?} (http|echo|bulk)")),
        }
    }
}

/// A running origin; dropping it closes its listeners and every connection it holds.
pub struct Origin {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Dropping the sender wakes every task of this origin, which then ends.
    _stop: watch::Sender<()>,
}

impl Origin {
    /// Starts an origin on `addr` (port 0: an ephemeral port) on every worker of `pool`.
    pub fn start(pool: &Pool, addr: SocketAddr, kind: Kind) -> io::Result<Origin> {
        let (stop_tx, stop_rx) = watch::channel(());
        let mut bound = addr;
        let mut sockets = Vec::new();
        for _ in 0..pool.len() {
            let sock = Socket::new(
                Domain::for_address(bound),
                Type::STREAM,
                Some(Protocol::TCP),
            )?;
            sock.set_reuse_address(true)?;
            sock.set_reuse_port(true)?;
            sock.bind(&bound.into())?;
            sock.listen(BACKLOG)?;
            sock.set_nonblocking(true)?;
            bound = sock
                .local_addr()?
                .as_socket()
                .ok_or_else(|| io::Error::other("listener has no inet address"))?;
            sockets.push(sock);
        }
        for (i, sock) in sockets.into_iter().enumerate() {
            let std_listener: std::net::TcpListener = sock.into();
            let kind = kind.clone();
            let stop = stop_rx.clone();
            pool.spawn(
                i,
                Box::new(move || {
                    Box::pin(async move {
                        match TcpListener::from_std(std_listener) {
                            Ok(l) => accept_loop(l, kind, stop).await,
                            Err(e) => eprintln!("percore-bench: origin listener: {e}"),
                        }
                    })
                }),
            );
        }
        Ok(Origin {
            addr: bound,
            _stop: stop_tx,
        })
    }
}

/// Precomputed HTTP responses.
struct Responses {
    keep_alive: Vec<u8>,
    close: Vec<u8>,
}

impl Responses {
    fn new(kind: &Kind) -> Responses {
        let body = match kind {
            Kind::Http { body } => *body,
            _ => 0,
        };
        let build = |extra: &str| {
            let mut r = format!(
                "HTTP/1.1 200 OK\r\nServer: percore-bench\r\nContent-Type: text/plain\r\n\
                 Content-Length: {body}\r\n{extra}\r\n"
            )
            .into_bytes();
            r.resize(r.len() + body, b'x');
            r
        };
        Responses {
            keep_alive: build(""),
            close: build("Connection: close\r\n"),
        }
    }
}

async fn accept_loop(listener: TcpListener, kind: Kind, mut stop: watch::Receiver<()>) {
    let responses = Rc::new(Responses::new(&kind));
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => return,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((conn, _)) => {
                let _ = conn.set_nodelay(true);
                let kind = kind.clone();
                let responses = responses.clone();
                let mut stop = stop.clone();
                tokio::task::spawn_local(async move {
                    tokio::select! {
                        _ = stop.changed() => {}
                        _ = serve(conn, &kind, &responses) => {}
                    }
                });
            }
            Err(_) => {
                // EMFILE and friends: back off instead of spinning; connections wait in the
                // backlog meanwhile.
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

async fn serve(conn: TcpStream, kind: &Kind, responses: &Responses) -> io::Result<()> {
    match kind {
        Kind::Http { .. } => http(conn, responses).await,
        Kind::Echo { banner } => echo(conn, banner).await,
        Kind::Bulk => bulk(conn).await,
    }
}

async fn echo(mut conn: TcpStream, banner: &[u8]) -> io::Result<()> {
    if !banner.is_empty() {
        conn.write_all(banner).await?;
    }
    let mut buf = vec![0u8; CHUNK_BYTES];
    loop {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        conn.write_all(&buf[..n]).await?;
    }
}

/// First byte of a bulk connection that asks the origin to send.
pub const BULK_DOWNLOAD: u8 = b'D';

async fn bulk(mut conn: TcpStream) -> io::Result<()> {
    let mut buf = vec![b'x'; CHUNK_BYTES];
    let n = conn.read(&mut buf).await?;
    if n == 0 {
        return Ok(());
    }
    if buf[0] == BULK_DOWNLOAD {
        buf.fill(b'x');
        loop {
            conn.write_all(&buf).await?;
        }
    }
    while conn.read(&mut buf).await? > 0 {}
    Ok(())
}

/// What the origin does with one parsed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Request {
    head_bytes: usize,
    body_bytes: usize,
    close: bool,
}

/// Parses a request head at the start of `buf`: `Ok(None)` if incomplete, `Err` if invalid.
fn parse_request(buf: &[u8]) -> Result<Option<Request>, ()> {
    let mut headers = [httparse::EMPTY_HEADER; HEADERS_MAX];
    let mut req = httparse::Request::new(&mut headers);
    let head_bytes = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(()),
    };
    let mut close = req.version == Some(0);
    let mut body_bytes = 0;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("connection") {
            if contains_token(h.value, b"close") {
                close = true;
            } else if contains_token(h.value, b"keep-alive") {
                close = false;
            }
        } else if h.name.eq_ignore_ascii_case("content-length") {
            body_bytes = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .ok_or(())?;
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked request bodies are not needed by any benchmark.
            return Err(());
        }
    }
    Ok(Some(Request {
        head_bytes,
        body_bytes,
        close,
    }))
}

async fn http(mut conn: TcpStream, responses: &Responses) -> io::Result<()> {
    let mut buf = vec![0u8; REQUEST_BYTES_MAX];
    let mut len = 0;
    // Request body bytes still to discard.
    let mut skip = 0usize;
    let mut out: Vec<u8> = Vec::new();
    loop {
        let n = conn.read(&mut buf[len..]).await?;
        if n == 0 {
            return Ok(());
        }
        len += n;
        let mut start = 0;
        let mut close = false;
        loop {
            if skip > 0 {
                let k = skip.min(len - start);
                skip -= k;
                start += k;
                if skip > 0 {
                    break;
                }
            }
            let req = match parse_request(&buf[start..len]) {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(()) => {
                    conn.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .await?;
                    return Ok(());
                }
            };
            start += req.head_bytes;
            skip = req.body_bytes;
            let response = if req.close {
                &responses.close
            } else {
                &responses.keep_alive
            };
            if response.len() <= GATHER_BYTES_MAX {
                out.extend_from_slice(response);
            } else {
                if !out.is_empty() {
                    conn.write_all(&out).await?;
                    out.clear();
                }
                conn.write_all(response).await?;
            }
            if req.close {
                close = true;
                break;
            }
        }
        if !out.is_empty() {
            conn.write_all(&out).await?;
            out.clear();
        }
        if close {
            conn.shutdown().await?;
            return Ok(());
        }
        buf.copy_within(start..len, 0);
        len -= start;
        if len == buf.len() {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_framing() {
        assert_eq!(parse_request(b"GET / HTTP/1.1\r\nHost: a\r\n"), Ok(None));
        assert_eq!(
            parse_request(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET"),
            Ok(Some(Request {
                head_bytes: 27,
                body_bytes: 0,
                close: false
            }))
        );
        assert_eq!(
            parse_request(b"POST / HTTP/1.1\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"),
            Ok(Some(Request {
                head_bytes: 57,
                body_bytes: 3,
                close: true
            }))
        );
        assert_eq!(
            parse_request(b"GET / HTTP/1.0\r\n\r\n"),
            Ok(Some(Request {
                head_bytes: 18,
                body_bytes: 0,
                close: true
            }))
        );
        assert_eq!(
            parse_request(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                .map(|r| r.map(|r| r.close)),
            Ok(Some(false))
        );
        assert!(parse_request(b"\x01\x02 nonsense\r\n\r\n").is_err());
    }
}
