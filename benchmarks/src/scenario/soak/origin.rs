//! The soak origin: `percore-bench soak-origin`, a process of its own so that the soak can
//! SIGKILL, SIGSTOP and restart it. It serves HTTP/1.1 on one port and id-prefixed TCP echo
//! on another, and appends one line `<id> <server> <method> [<proxy port>]` to its record
//! file for every request head (HTTP; the port tells the proxy's connections apart) or id
//! line (TCP) it receives, with one write(2) each: a line written
//! is in the kernel's page cache and survives a SIGKILL of the process a moment later.
//!
//! HTTP requests steer the origin with headers: `X-Id` (echoed in the response's `X-Id`),
//! `X-Body: N` (response body bytes), and `X-Fault`: `rst-mid` (half the body, then a
//! reset), `malformed` (an invalid response head), `close-early` (the connection closes
//! without a response). `Expect: 100-continue` gets `100 Continue` before the body is read.
//! TCP streams start with `<id>\n`; everything, that line included, is echoed back.

use std::fs::File;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Longest request head, and bytes read at once.
const HEAD_BYTES_MAX: usize = 16 * 1024;

/// Headers parsed per request.
const HEADERS_MAX: usize = 32;

/// Longest TCP id line.
const ID_LINE_MAX: usize = 32;

/// Response bodies are written in pieces of this size.
const CHUNK_BYTES: usize = 64 * 1024;

/// Largest `X-Body` served (the client-abort requests ask for a few MiB).
const BODY_BYTES_MAX: usize = 64 << 20;

/// Listen backlog: the descriptor burst opens thousands of streams at once.
const BACKLOG: i32 = 4096;

/// Where one soak origin listens and records.
#[derive(Debug, Clone, clap::Args)]
pub struct OriginArgs {
    /// HTTP listen address.
    #[arg(long)]
    pub http: SocketAddr,
    /// TCP (id-prefixed echo) listen address.
    #[arg(long)]
    pub tcp: SocketAddr,
    /// Server name written into records and the `X-Server` header.
    #[arg(long)]
    pub name: String,
    /// Record file, appended to.
    #[arg(long)]
    pub record: PathBuf,
}

/// Runs the origin until killed.
pub fn run(args: OriginArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("soak-origin: {e}");
            return ExitCode::FAILURE;
        }
    };
    let local = tokio::task::LocalSet::new();
    match local.block_on(&runtime, serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("soak-origin: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What every connection task shares.
struct Shared {
    name: String,
    record: File,
}

impl Shared {
    /// Appends one record line with a single write (see the module doc).
    fn record(&self, id: &str, method: &str) {
        let line = format!("{id} {} {method}\n", self.name);
        let _ = (&self.record).write_all(line.as_bytes());
    }
}

async fn serve(args: OriginArgs) -> std::io::Result<()> {
    let record = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&args.record)?;
    let shared = Rc::new(Shared {
        name: args.name.clone(),
        record,
    });
    let http = listen(args.http)?;
    let tcp = listen(args.tcp)?;
    eprintln!("soak-origin {}: ready", args.name);
    let s = shared.clone();
    tokio::task::spawn_local(async move {
        accept_loop(tcp, s, |conn, s| Box::pin(tcp_echo(conn, s))).await
    });
    accept_loop(http, shared, |conn, s| Box::pin(http_conn(conn, s))).await;
    Ok(())
}

/// A listener that can be bound again right after the previous process was killed.
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_reuse_address(true)?;
    sock.bind(&addr.into())?;
    sock.listen(BACKLOG)?;
    sock.set_nonblocking(true)?;
    TcpListener::from_std(sock.into())
}

type ConnFuture = std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<()>>>>;

async fn accept_loop(
    listener: TcpListener,
    shared: Rc<Shared>,
    handler: fn(TcpStream, Rc<Shared>) -> ConnFuture,
) {
    loop {
        match listener.accept().await {
            Ok((conn, _)) => {
                let _ = conn.set_nodelay(true);
                tokio::task::spawn_local(handler(conn, shared.clone()));
            }
            // EMFILE during the burst: back off; connections wait in the backlog.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// One parsed request head.
#[derive(Debug, Default, PartialEq, Eq)]
struct Head {
    len: usize,
    method: String,
    id: String,
    fault: String,
    body_out: usize,
    body_in: usize,
    expect: bool,
    close: bool,
}

/// Parses a head at the start of `buf`: `Ok(None)` while incomplete.
fn parse_head(buf: &[u8]) -> Result<Option<Head>, ()> {
    let mut headers = [httparse::EMPTY_HEADER; HEADERS_MAX];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(()),
    };
    let mut head = Head {
        len,
        method: req.method.unwrap_or("-").to_string(),
        id: "-".into(),
        body_out: 512,
        close: req.version == Some(0),
        ..Head::default()
    };
    for h in req.headers.iter() {
        let value = String::from_utf8_lossy(h.value).trim().to_string();
        let number = || value.parse::<usize>().map_err(|_| ());
        match h.name.to_ascii_lowercase().as_str() {
            "x-id" => head.id = value.clone(),
            "x-fault" => head.fault = value.clone(),
            "x-body" => head.body_out = number()?.min(BODY_BYTES_MAX),
            "content-length" => head.body_in = number()?,
            "expect" => head.expect = value.eq_ignore_ascii_case("100-continue"),
            "connection" => head.close = value.eq_ignore_ascii_case("close"),
            // The soak sends no chunked bodies.
            "transfer-encoding" => return Err(()),
            _ => {}
        }
    }
    Ok(Some(head))
}

/// Serves requests one after another on a connection until it closes or a fault ends it.
async fn http_conn(mut conn: TcpStream, shared: Rc<Shared>) -> std::io::Result<()> {
    let mut buf = vec![0u8; HEAD_BYTES_MAX];
    let mut len = 0;
    loop {
        let head = loop {
            match parse_head(&buf[..len]) {
                Ok(Some(h)) => break h,
                Ok(None) if len == buf.len() => return Ok(()),
                Ok(None) => {}
                Err(()) => {
                    conn.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await?;
                    return Ok(());
                }
            }
            let n = conn.read(&mut buf[len..]).await?;
            if n == 0 {
                return Ok(());
            }
            len += n;
        };
        let port = conn.peer_addr().map_or(0, |a| a.port());
        shared.record(&head.id, &format!("{} {port}", head.method));
        buf.copy_within(head.len..len, 0);
        len -= head.len;
        if head.expect {
            conn.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
        }
        if !skip_body(&mut conn, &mut buf, &mut len, head.body_in).await? {
            return Ok(());
        }
        match head.fault.as_str() {
            "close-early" => return Ok(()),
            "malformed" => {
                conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1x\r\n\r\n")
                    .await?;
                return Ok(());
            }
            "rst-mid" => {
                let half = head.body_out / 2;
                write_response(&mut conn, &shared.name, &head, half).await?;
                // Let the bytes leave before the reset discards what is unsent.
                tokio::time::sleep(Duration::from_millis(5)).await;
                let _ = socket2::SockRef::from(&conn).set_linger(Some(Duration::ZERO));
                return Ok(());
            }
            _ => {}
        }
        write_response(&mut conn, &shared.name, &head, head.body_out).await?;
        if head.close {
            conn.shutdown().await?;
            return Ok(());
        }
    }
}

/// Reads and discards `body` bytes, those already in `buf` first; false at EOF before the
/// end (the client aborted its upload).
async fn skip_body(
    conn: &mut TcpStream,
    buf: &mut [u8],
    len: &mut usize,
    body: usize,
) -> std::io::Result<bool> {
    let mut left = body;
    let buffered = left.min(*len);
    buf.copy_within(buffered..*len, 0);
    *len -= buffered;
    left -= buffered;
    while left > 0 {
        let n = conn.read(&mut buf[..left.min(HEAD_BYTES_MAX)]).await?;
        if n == 0 {
            return Ok(false);
        }
        left -= n;
    }
    Ok(true)
}

/// A 200 announcing `head.body_out` bytes, of which `send` are written.
async fn write_response(
    conn: &mut TcpStream,
    server: &str,
    head: &Head,
    send: usize,
) -> std::io::Result<()> {
    let close = if head.close {
        "connection: close\r\n"
    } else {
        ""
    };
    let top = format!(
        "HTTP/1.1 200 OK\r\nx-id: {}\r\nx-server: {server}\r\ncontent-length: {}\r\n{close}\r\n",
        head.id, head.body_out
    );
    let mut out = top.into_bytes();
    let first = send.min(CHUNK_BYTES);
    out.resize(out.len() + first, b'x');
    conn.write_all(&out).await?;
    let chunk = vec![b'x'; CHUNK_BYTES];
    let mut left = send - first;
    while left > 0 {
        let n = left.min(CHUNK_BYTES);
        conn.write_all(&chunk[..n]).await?;
        left -= n;
    }
    Ok(())
}

/// A TCP stream: the id line is recorded, then every byte is echoed.
async fn tcp_echo(mut conn: TcpStream, shared: Rc<Shared>) -> std::io::Result<()> {
    let mut buf = vec![0u8; CHUNK_BYTES];
    let mut len = 0;
    let line_end = loop {
        let n = conn.read(&mut buf[len..]).await?;
        if n == 0 {
            return Ok(());
        }
        len += n;
        if let Some(at) = buf[..len].iter().position(|&b| b == b'\n') {
            break at;
        }
        if len > ID_LINE_MAX {
            return Ok(());
        }
    };
    let id = String::from_utf8_lossy(&buf[..line_end]).into_owned();
    shared.record(&id, "TCP");
    conn.write_all(&buf[..len]).await?;
    loop {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            return conn.shutdown().await;
        }
        conn.write_all(&buf[..n]).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_carry_id_fault_and_sizes() {
        let h = parse_head(
            b"POST /soak/post/7 HTTP/1.1\r\nX-Id: 7\r\nX-Fault: rst-mid\r\nX-Body: 100\r\n\
              Content-Length: 3\r\nExpect: 100-continue\r\n\r\nabc",
        )
        .expect("valid")
        .expect("complete");
        assert_eq!(
            (h.id.as_str(), h.fault.as_str(), h.body_out, h.body_in),
            ("7", "rst-mid", 100, 3)
        );
        assert!(h.expect && !h.close && h.method == "POST");
        assert_eq!(parse_head(b"GET / HTTP/1.1\r\n"), Ok(None));
        assert!(parse_head(b"GET / HTTP/1.1\r\nX-Body: many\r\n\r\n").is_err());
    }
}
