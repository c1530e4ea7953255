//! The load generator: `connections` keep-alive connections spread over the [`Pool`]'s
//! workers, paced closed-loop or open-loop ([`pacer`]), recording into one [`Recorder`] per
//! worker that the run merges at the end.
//!
//! A run is: warm-up (nothing recorded), then the measured window of `duration`, then a
//! drain of one `timeout` in which requests already due may still leave and finish. An
//! operation counts in the window when it was *due* inside it; its latency runs from that
//! instant (or from its send, see [`pacer`]) to its last byte. A connection still behind
//! schedule when the drain ends counts its unsent requests as timeouts; a worker whose
//! connections are still busy one more `timeout` later aborts them (counted as timeouts
//! too) and reports. Every connection, request and run is bounded in time.
//!
//! With [`LoadSpec::tls`] every connection speaks TLS ([`crate::tls`]) with its own session
//! cache; an operation that opened its connection also counts its handshake, and whether
//! it resumed.
//!
//! - [`pacer`]: when to send, and from which instant latency counts.

pub mod pacer;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::http::{self, ResponseParser};
use crate::pool::Pool;
use crate::record::{ErrorKind, Recorder};
use crate::tls::{TlsClient, TlsStream};
use pacer::{Pacer, Step};

/// Read buffer per connection: a whole response head and then body chunks.
const READ_BYTES: usize = 32 * 1024;

/// Bulk transfer chunk.
const BULK_CHUNK_BYTES: usize = 64 * 1024;

/// Pause after a failed connection before the next attempt, so that a refusing target is
/// not hammered in a tight loop.
const RECONNECT_PAUSE: Duration = Duration::from_millis(20);

/// What each connection does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Workload {
    /// `GET /` expecting `200` with `body` bytes; keep-alive, or a new connection per request
    /// with `Connection: close` (the latency then includes the TCP handshake).
    Http {
        /// Reuse connections.
        keep_alive: bool,
        /// Expected body size.
        body: u64,
    },
    /// Write `size` bytes, read them back.
    Echo {
        /// Message bytes.
        size: usize,
    },
    /// Read what the server sends, as fast as possible.
    BulkDown,
    /// Write to the server as fast as possible.
    BulkUp,
}

impl Workload {
    /// Bulk workloads measure bytes/s, the others operations/s and latency.
    pub fn is_bulk(&self) -> bool {
        matches!(self, Workload::BulkDown | Workload::BulkUp)
    }

    /// The bytes an echo round trip sends (empty for other workloads).
    fn echo_message(&self) -> Vec<u8> {
        match self {
            Workload::Echo { size } => vec![b'm'; *size],
            _ => Vec::new(),
        }
    }
}

/// How requests are paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    /// Each connection sends its next request when the previous one completed.
    Closed,
    /// `rate` requests/s in total, on a fixed schedule (coordinated-omission corrected).
    Open {
        /// Requests per second, all connections together.
        rate: f64,
    },
}

/// One load run.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// Where to connect.
    pub target: SocketAddr,
    /// What to do.
    pub workload: Workload,
    /// Concurrent connections (HTTP close: concurrent clients).
    pub connections: usize,
    /// Closed or open loop.
    pub pacing: Pacing,
    /// Unrecorded time before the window.
    pub warmup: Duration,
    /// The measured window.
    pub duration: Duration,
    /// Per request (and per connect) limit; also bounds the drain after the window.
    pub timeout: Duration,
    /// Speak TLS to the target; `None`: plain TCP.
    pub tls: Option<TlsClient>,
}

/// The measured window of a run.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// First instant counted.
    pub start: Instant,
    /// Nothing due at or after it is sent.
    pub end: Instant,
}

impl Window {
    fn contains(&self, t: Instant) -> bool {
        t >= self.start && t < self.end
    }
}

/// A run in progress.
pub struct Running {
    /// Its measured window.
    pub window: Window,
    workers: usize,
    results: mpsc::Receiver<Recorder>,
    limit: Instant,
}

impl Running {
    /// Waits for every worker (bounded) and merges their measurements. Workers that did
    /// not answer before the bound are left out, which only happens if the runtime is stuck.
    pub fn finish(self) -> Recorder {
        let mut parts = Vec::new();
        while parts.len() < self.workers {
            let left = self.limit.saturating_duration_since(Instant::now());
            match self.results.recv_timeout(left) {
                Ok(r) => parts.push(r),
                Err(_) => {
                    eprintln!("percore-bench: a load worker did not finish in time");
                    break;
                }
            }
        }
        Recorder::merged(parts)
    }
}

/// Starts a run: connections are opened during the warm-up.
pub fn start(pool: &Pool, spec: &LoadSpec) -> Running {
    let begin = Instant::now();
    let window = Window {
        start: begin + spec.warmup,
        end: begin + spec.warmup + spec.duration,
    };
    let (tx, rx) = mpsc::channel();
    let workers = pool.len().min(spec.connections.max(1));
    // Drain (one timeout) plus one request's own timeout, plus slack for the last wake-up.
    let job_end = window.end + spec.timeout * 2 + Duration::from_secs(1);
    for w in 0..workers {
        let indices: Vec<usize> = (w..spec.connections).step_by(workers).collect();
        let ctx = Ctx {
            spec: spec.clone(),
            begin,
            window,
            message: spec.workload.echo_message(),
        };
        let tx = tx.clone();
        pool.spawn(
            w,
            Box::new(move || {
                Box::pin(async move {
                    let ctx = Rc::new(ctx);
                    let rec = Rc::new(RefCell::new(Recorder::new()));
                    let mut tasks: Vec<_> = indices
                        .into_iter()
                        .map(|i| tokio::task::spawn_local(connection(ctx.clone(), rec.clone(), i)))
                        .collect();
                    let all = async {
                        for t in &mut tasks {
                            let _ = t.await;
                        }
                    };
                    if tokio::time::timeout_at(job_end.into(), all).await.is_err() {
                        // Bounded even if a connection is stuck: cut it, count it.
                        for t in &tasks {
                            if !t.is_finished() {
                                t.abort();
                                rec.borrow_mut().errors.timeout += 1;
                            }
                        }
                    }
                    let rec = rec.take();
                    let _ = tx.send(rec);
                })
            }),
        );
    }
    Running {
        window,
        workers,
        results: rx,
        limit: job_end + Duration::from_secs(4),
    }
}

/// Runs `spec` to the end (for callers that need no CPU snapshots).
pub fn run(pool: &Pool, spec: &LoadSpec) -> Recorder {
    start(pool, spec).finish()
}

struct Ctx {
    spec: LoadSpec,
    begin: Instant,
    window: Window,
    message: Vec<u8>,
}

/// One connection's life for the whole run.
async fn connection(ctx: Rc<Ctx>, rec: Rc<RefCell<Recorder>>, index: usize) {
    if ctx.spec.workload.is_bulk() {
        bulk(&ctx, &rec).await;
        return;
    }
    let mut pacer = match ctx.spec.pacing {
        Pacing::Closed => Pacer::closed(ctx.window.end),
        Pacing::Open { rate } => {
            Pacer::open_share(ctx.begin, rate, index, ctx.spec.connections, ctx.window.end)
        }
    };
    let tls = ctx.spec.tls.as_ref().map(TlsClient::config);
    let mut conn: Option<Conn> = None;
    // Requests due in the window may still leave during the drain, not after it.
    let drain_end = ctx.window.end + ctx.spec.timeout;
    loop {
        if Instant::now() >= drain_end {
            rec.borrow_mut().errors.timeout += pacer.abandon();
            return;
        }
        let (intended, start) = match pacer.step(Instant::now()) {
            Step::Done => return,
            Step::WaitUntil(t) => {
                tokio::time::sleep_until(t.into()).await;
                continue;
            }
            Step::Send { intended, start } => (intended, start),
        };
        let outcome =
            tokio::time::timeout(ctx.spec.timeout, exchange(&ctx, tls.as_ref(), &mut conn)).await;
        let done = Instant::now();
        pacer.completed(done);
        let counted = ctx.window.contains(intended);
        match outcome {
            Ok(Ok(handshake)) => {
                if counted {
                    let mut r = rec.borrow_mut();
                    r.complete(done - start);
                    if let Some(resumed) = handshake {
                        r.handshakes += 1;
                        r.handshakes_resumed += u64::from(resumed);
                    }
                }
            }
            Ok(Err(kind)) => {
                conn = None;
                if counted {
                    rec.borrow_mut().errors.add(kind);
                }
                if kind == ErrorKind::Connect {
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                }
            }
            Err(_elapsed) => {
                conn = None;
                if counted {
                    rec.borrow_mut().errors.add(ErrorKind::Timeout);
                }
            }
        }
    }
}

/// A plain or TLS connection.
enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

impl Transport {
    async fn read(&mut self, out: &mut [u8]) -> Result<usize, ErrorKind> {
        match self {
            Transport::Plain(s) => s.read(out).await.map_err(|_| ErrorKind::Reset),
            Transport::Tls(s) => s.read(out).await,
        }
    }

    async fn write_all(&mut self, data: &[u8]) -> Result<(), ErrorKind> {
        match self {
            Transport::Plain(s) => s.write_all(data).await.map_err(|_| ErrorKind::Reset),
            Transport::Tls(s) => s.write_all(data).await,
        }
    }

    /// Writes some of `data` (plain), or all of it (TLS: in records); returns how much.
    async fn write(&mut self, data: &[u8]) -> Result<usize, ErrorKind> {
        match self {
            Transport::Plain(s) => s.write(data).await.map_err(|_| ErrorKind::Reset),
            Transport::Tls(s) => s.write_all(data).await.map(|()| data.len()),
        }
    }

    /// Ends the connection: a TLS one sends close_notify first.
    async fn close(self) {
        if let Transport::Tls(s) = self {
            s.close().await;
        }
    }
}

/// Connects with Nagle off and, given a TLS configuration, runs the handshake.
async fn connect(
    target: SocketAddr,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<Transport, ErrorKind> {
    let stream = TcpStream::connect(target)
        .await
        .map_err(|_| ErrorKind::Connect)?;
    let _ = stream.set_nodelay(true);
    match tls {
        None => Ok(Transport::Plain(stream)),
        Some(config) => Ok(Transport::Tls(Box::new(
            TlsStream::handshake(stream, config.clone()).await?,
        ))),
    }
}

/// An open connection with its read buffer.
pub struct Conn {
    stream: Transport,
    /// TLS only: whether its handshake resumed a session.
    resumed: Option<bool>,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    parser: ResponseParser,
}

impl Conn {
    /// Connects with a read buffer of `buf_bytes` (≥ the longest response head expected),
    /// over TLS when `tls` is given.
    pub async fn open_with(
        target: SocketAddr,
        buf_bytes: usize,
        tls: Option<&Arc<rustls::ClientConfig>>,
    ) -> Result<Conn, ErrorKind> {
        let stream = connect(target, tls).await?;
        let resumed = match &stream {
            Transport::Plain(_) => None,
            Transport::Tls(s) => Some(s.resumed()),
        };
        Ok(Conn {
            stream,
            resumed,
            buf: vec![0u8; buf_bytes].into_boxed_slice(),
            start: 0,
            end: 0,
            parser: ResponseParser::new(),
        })
    }

    /// Sends a GET and reads its response; `Err(Reset)` if the connection ends first.
    pub async fn get(&mut self, keep_alive: bool, body: u64) -> Result<http::Response, ErrorKind> {
        self.stream.write_all(http::get_request(keep_alive)).await?;
        let r = self.read_response().await?;
        if r.status != 200 || r.body_bytes != body {
            return Err(ErrorKind::BadResponse);
        }
        Ok(r)
    }

    async fn read_response(&mut self) -> Result<http::Response, ErrorKind> {
        loop {
            let (n, done) = self
                .parser
                .feed(&self.buf[self.start..self.end])
                .map_err(|_| ErrorKind::BadResponse)?;
            self.start += n;
            if let Some(r) = done {
                if self.start != self.end {
                    // Bytes nobody asked for: the framing is off.
                    return Err(ErrorKind::BadResponse);
                }
                self.start = 0;
                self.end = 0;
                return Ok(r);
            }
            if self.start == self.end {
                self.start = 0;
                self.end = 0;
            } else if self.end == self.buf.len() {
                if self.start == 0 {
                    return Err(ErrorKind::BadResponse);
                }
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            let n = self.stream.read(&mut self.buf[self.end..]).await?;
            if n == 0 {
                return self.parser.eof().ok_or(ErrorKind::Reset);
            }
            self.end += n;
        }
    }

    /// Writes `message` and reads the same bytes back.
    pub async fn echo(&mut self, message: &[u8]) -> Result<(), ErrorKind> {
        self.stream.write_all(message).await?;
        let mut got = 0;
        while got < message.len() {
            let n = self.stream.read(&mut self.buf[got..message.len()]).await?;
            if n == 0 {
                return Err(ErrorKind::Reset);
            }
            got += n;
        }
        if self.buf[..message.len()] == *message {
            Ok(())
        } else {
            Err(ErrorKind::BadResponse)
        }
    }

    /// Ends the connection (TLS: with close_notify).
    pub async fn close(self) {
        self.stream.close().await;
    }
}

/// One request or round trip on `conn`, opening it first if needed. Returns, when it
/// opened a TLS connection, whether its handshake resumed.
async fn exchange(
    ctx: &Ctx,
    tls: Option<&Arc<rustls::ClientConfig>>,
    conn: &mut Option<Conn>,
) -> Result<Option<bool>, ErrorKind> {
    let mut handshake = None;
    if conn.is_none() {
        let c = Conn::open_with(ctx.spec.target, READ_BYTES, tls).await?;
        handshake = c.resumed;
        *conn = Some(c);
    }
    let c = conn.as_mut().expect("opened above");
    match ctx.spec.workload {
        Workload::Http { keep_alive, body } => {
            let r = c.get(keep_alive, body).await?;
            if r.close || !keep_alive {
                if let Some(c) = conn.take() {
                    c.close().await;
                }
            }
            Ok(handshake)
        }
        Workload::Echo { .. } => c.echo(&ctx.message).await.map(|()| handshake),
        Workload::BulkDown | Workload::BulkUp => unreachable!("bulk runs its own loop"),
    }
}

/// Bulk transfer: moves bytes until the window ends; bytes inside the window are counted.
async fn bulk(ctx: &Ctx, rec: &RefCell<Recorder>) {
    let deadline = ctx.window.end;
    let tls = ctx.spec.tls.as_ref().map(TlsClient::config);
    while Instant::now() < deadline {
        let opened =
            tokio::time::timeout(ctx.spec.timeout, connect(ctx.spec.target, tls.as_ref())).await;
        let mut stream = match opened {
            Ok(Ok(s)) => s,
            Ok(Err(kind)) => {
                if ctx.window.contains(Instant::now()) {
                    rec.borrow_mut().errors.add(kind);
                }
                tokio::time::sleep(RECONNECT_PAUSE).await;
                continue;
            }
            Err(_) => {
                if ctx.window.contains(Instant::now()) {
                    rec.borrow_mut().errors.add(ErrorKind::Connect);
                }
                tokio::time::sleep(RECONNECT_PAUSE).await;
                continue;
            }
        };
        let mut buf = vec![b'b'; BULK_CHUNK_BYTES];
        let download = ctx.spec.workload == Workload::BulkDown;
        if download
            && stream
                .write_all(&[crate::origin::BULK_DOWNLOAD])
                .await
                .is_err()
        {
            if ctx.window.contains(Instant::now()) {
                rec.borrow_mut().errors.add(ErrorKind::Reset);
            }
            continue;
        }
        let result = loop {
            let op = async {
                match ctx.spec.workload {
                    Workload::BulkDown => stream.read(&mut buf).await,
                    _ => stream.write(&buf).await,
                }
            };
            let n = match tokio::time::timeout_at(
                deadline.into(),
                tokio::time::timeout(ctx.spec.timeout, op),
            )
            .await
            {
                Err(_end_of_run) => break Ok(()),
                Ok(Err(_stalled)) => break Err(ErrorKind::Timeout),
                Ok(Ok(Ok(0))) => break Err(ErrorKind::Reset),
                Ok(Ok(Ok(n))) => n,
                Ok(Ok(Err(kind))) => break Err(kind),
            };
            let now = Instant::now();
            if ctx.window.contains(now) {
                let mut r = rec.borrow_mut();
                r.bytes += n as u64;
                r.ops += 1;
            }
        };
        if let Err(kind) = result {
            if ctx.window.contains(Instant::now()) {
                rec.borrow_mut().errors.add(kind);
            }
        }
    }
}
