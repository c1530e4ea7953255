//! The Prometheus endpoint (`global.metrics.bind`): a tiny HTTP/1.1 responder on the control
//! plane's executor, off the data path. `GET /metrics` (query string ignored) costs the
//! shards one stats collection — the same `CollectStats` broadcast `show stat` sends — and
//! is rendered from that merged snapshot by `percore_admin::render_prometheus`; no lock, no
//! shared counter. Everything else is refused: other paths 404, other methods 405.
//!
//! Bounded: at most [`METRICS_CONNS_MAX`] connections, a request head of at most
//! [`METRICS_HEAD_BYTES_MAX`] bytes read within [`METRICS_READ_TIMEOUT`], one request per
//! connection (`Connection: close`), and writes within [`METRICS_WRITE_TIMEOUT`].

use std::cell::Cell;
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use socket2::{Domain, Socket, Type};

use super::exec::Ctl;

/// Concurrent scrapes served at most; more are closed at once (a scraper retries).
pub const METRICS_CONNS_MAX: usize = 16;
/// Longest request head accepted (a scraper sends a few hundred bytes).
pub const METRICS_HEAD_BYTES_MAX: usize = 8 * 1024;
/// Time a client gets to send its request head.
pub const METRICS_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Time a client gets to take the whole response.
pub const METRICS_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Backlog of the metrics listener.
const METRICS_BACKLOG: i32 = 128;

/// The serving `/metrics` endpoint: the bind as configured, its socket (kept so that an
/// upgrade can hand it over) and its accept loop.
pub struct Endpoint {
    /// The bind as configured (port 0 for an ephemeral one): what a new process matches.
    pub configured: SocketAddr,
    /// The listening socket (non-blocking).
    pub socket: Rc<OwnedFd>,
    /// The accept loop.
    pub task: glommio::task::JoinHandle<()>,
}

impl Endpoint {
    /// Stops accepting; the socket closes when the last holder lets it go.
    pub fn cancel(self) {
        self.task.cancel();
    }
}

/// Binds the metrics listener (non-blocking); the error names the address. `SO_REUSEPORT`
/// as glommio's listeners: a new binary that does not take the old one's socket can bind
/// the port beside it during an upgrade.
pub fn bind(addr: SocketAddr) -> Result<OwnedFd, String> {
    let bound = || -> std::io::Result<Socket> {
        let s = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
        s.set_reuse_address(true)?;
        s.set_reuse_port(true)?;
        s.bind(&addr.into())?;
        s.listen(METRICS_BACKLOG)?;
        s.set_nonblocking(true)?;
        Ok(s)
    };
    bound()
        .map(OwnedFd::from)
        .map_err(|e| format!("metrics listener {addr}: {e}"))
}

/// Accepts scrapes on the non-blocking `socket` forever (cancelled at stop or hand-over;
/// cancel-safe: `crate::accept`).
pub async fn serve(ctl: Rc<Ctl>, socket: Rc<OwnedFd>) {
    let live = Rc::new(Cell::new(0usize));
    let mut ready = glommio::net::Readiness::new(socket.as_fd());
    loop {
        let stream = match crate::accept::accept::<TcpStream>(socket.as_fd(), &mut ready).await {
            Ok((s, _peer)) => s,
            Err(e) => {
                let now = Instant::now();
                ctl.warnings
                    .metrics_accept
                    .warn(now, || format!("metrics accept failed: {e}"));
                glommio::timer::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if live.get() >= METRICS_CONNS_MAX {
            ctl.warnings.metrics_refused.warn(Instant::now(), || {
                format!("metrics connection refused: {METRICS_CONNS_MAX} already open")
            });
            continue;
        }
        live.set(live.get() + 1);
        let (ctl, live) = (ctl.clone(), live.clone());
        glommio::spawn_local(async move {
            serve_conn(&ctl, stream).await;
            live.set(live.get() - 1);
        })
        .detach();
    }
}

/// What a request head asks for.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    /// `GET /metrics` (body wanted) or `HEAD /metrics` (headers only).
    Metrics { body: bool },
    /// Another path.
    NotFound,
    /// Another method.
    MethodNotAllowed,
    /// Not an HTTP/1.x request line.
    BadRequest,
}

/// Routes a request head by its request line (`METHOD SP target SP HTTP/1.x`).
fn route(head: &[u8]) -> Route {
    let line_end = head.iter().position(|&b| b == b'\r' || b == b'\n');
    let line = &head[..line_end.unwrap_or(head.len())];
    let Ok(line) = std::str::from_utf8(line) else {
        return Route::BadRequest;
    };
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Route::BadRequest;
    };
    if !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return Route::BadRequest;
    }
    let path = target.split('?').next().unwrap_or(target);
    match (method, path) {
        ("GET", "/metrics") => Route::Metrics { body: true },
        ("HEAD", "/metrics") => Route::Metrics { body: false },
        ("GET" | "HEAD", _) => Route::NotFound,
        _ => Route::MethodNotAllowed,
    }
}

/// Reads one bounded request head, answers it, closes.
async fn serve_conn(ctl: &Ctl, mut stream: TcpStream) {
    let Some(head) = read_head(&mut stream).await else {
        return;
    };
    let response = match route(&head) {
        Route::Metrics { body } => match ctl.metrics_body().await {
            Ok(text) => response("200 OK", text, body),
            Err(e) => response("503 Service Unavailable", e.to_string() + "\n", body),
        },
        Route::NotFound => response("404 Not Found", "Not found: try /metrics\n".into(), true),
        Route::MethodNotAllowed => response(
            "405 Method Not Allowed",
            "Only GET and HEAD are allowed\n".into(),
            true,
        ),
        Route::BadRequest => response("400 Bad Request", "Bad request\n".into(), true),
    };
    let _ = glommio::timer::timeout(METRICS_WRITE_TIMEOUT, async {
        stream
            .write_all(&response)
            .await
            .map_err(glommio::GlommioError::from)?;
        stream.flush().await.map_err(glommio::GlommioError::from)
    })
    .await;
}

/// The bytes up to the end of the request head, or `None` when the client is too slow,
/// sends too much, or closes first.
async fn read_head(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    let read = glommio::timer::timeout(METRICS_READ_TIMEOUT, async {
        loop {
            if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
                return Ok(true);
            }
            if head.len() >= METRICS_HEAD_BYTES_MAX {
                return Ok(false);
            }
            let n = stream
                .read(&mut chunk)
                .await
                .map_err(glommio::GlommioError::from)?;
            if n == 0 {
                return Ok(false);
            }
            head.extend_from_slice(&chunk[..n]);
        }
    })
    .await;
    matches!(read, Ok(true)).then_some(head)
}

/// A complete `Connection: close` response; `with_body` false for HEAD.
fn response(status: &str, body: String, with_body: bool) -> Vec<u8> {
    let kind = if status.starts_with("200") {
        "text/plain; version=0.0.4; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
         Cache-Control: no-cache\r\nConnection: close\r\n{}\r\n",
        body.len(),
        if status.starts_with("405") {
            "Allow: GET, HEAD\r\n"
        } else {
            ""
        }
    )
    .into_bytes();
    if with_body {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let r = |s: &str| route(s.as_bytes());
        assert_eq!(
            r("GET /metrics HTTP/1.1\r\n\r\n"),
            Route::Metrics { body: true }
        );
        assert_eq!(
            r("GET /metrics?x=1 HTTP/1.0\r\n\r\n"),
            Route::Metrics { body: true }
        );
        assert_eq!(
            r("HEAD /metrics HTTP/1.1\r\n\r\n"),
            Route::Metrics { body: false }
        );
        assert_eq!(r("GET / HTTP/1.1\r\n\r\n"), Route::NotFound);
        assert_eq!(r("GET /metricsx HTTP/1.1\r\n\r\n"), Route::NotFound);
        assert_eq!(r("POST /metrics HTTP/1.1\r\n\r\n"), Route::MethodNotAllowed);
        assert_eq!(r("GET /metrics\r\n\r\n"), Route::BadRequest);
        assert_eq!(r("GET metrics HTTP/1.1\r\n\r\n"), Route::BadRequest);
        assert_eq!(r("\u{1}\u{2}"), Route::BadRequest);
        assert_eq!(r("GET /metrics HTTP/1.1 x\r\n\r\n"), Route::BadRequest);
    }

    #[test]
    fn responses_carry_length_and_close() {
        let ok = String::from_utf8(response("200 OK", "a 1\n".into(), true)).expect("utf8");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(ok.contains("\r\nContent-Length: 4\r\n"));
        assert!(ok.contains("\r\nConnection: close\r\n"));
        assert!(ok.ends_with("\r\n\r\na 1\n"));
        let head = String::from_utf8(response("200 OK", "a 1\n".into(), false)).expect("utf8");
        assert!(head.ends_with("\r\n\r\n"));
        let refused =
            String::from_utf8(response("405 Method Not Allowed", "x".into(), true)).expect("utf8");
        assert!(refused.contains("\r\nAllow: GET, HEAD\r\n"));
    }
}
