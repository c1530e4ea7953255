//! The stream core: each stream's logic as a pure state machine (no executor, no sockets, no
//! clock reads — `now` is passed in), in quinn-proto's grammar.
//!
//! - [`buf`]: the byte buffers a machine reads into and transmits from.
//! - [`fault`]: the one error type, classified by who is at fault, and the one function that
//!   maps a fault to status, termination flags, counters and passive health.
//! - [`hash`]: keys of hash-based balancing.
//! - [`attempt`]: connection attempts, retries and redispatch decisions (both modes).
//! - [`tcp`]: [`tcp::TcpMachine`], one TCP-mode stream.
//! - [`http`]: [`http::HttpMachine`], one HTTP/1 stream (many exchanges).
//! - `testing`, `fuzzing` (hidden; tests and the `fuzzing` feature): the socket-free driver
//!   and the `http_stream` / `tcp_stream` fuzz entry points built on it.
//!
//! # Life of a stream
//!
//! ```text
//!  accept ─> [HTTP: read head ─bad/slow─> 400/408 ─> close]
//!              │            └─ rules: deny/redirect/return ─> local reply
//!              route ─> need server ─> (shell: pick, queue, pool or connect)
//!                            │  ^ connect failed: retry (≤ retries, redispatch) ─ all failed ─> 503 / close (SC)
//!                            │  └ queue timeout ─> 503 / close (sQ)
//!                       connected ─> exchange (both directions read at once)
//!                            │ server answers early ─> relayed at once, then close
//!                            │ invalid response ─> 502 (PH)   no response in time ─> 504 (sH)
//!                            │ 101 / TCP mode ─> tunnel (half-close each way)
//!                       response done ─> account + log ─> [HTTP keep-alive: pool server, next head]
//!                            └─ close
//!  kill (admin, stop) at any point: the shell drops the task; the record is taken as is (K)
//! ```
//!
//! # How the shell drives a machine
//!
//! 1. For each side, while [`Machine::read_space`] gives room, read into it and report with
//!    [`Machine::handle_read`] (0 bytes = end of stream) or [`Machine::handle_read_error`].
//! 2. For each side, while [`Machine::poll_transmit`] has output, write it and report with
//!    [`Machine::handle_written`] or [`Machine::handle_write_error`].
//! 3. Arm one timer for [`Machine::poll_timeout`]; on expiry call [`Machine::handle_timeout`].
//! 4. Drain [`Machine::poll_event`]: server connection requests (answered with
//!    `handle_connected`), health observations, pool decisions, finished records.
//! 5. Stop when [`Machine::is_done`]: drop both sockets.

pub mod attempt;
pub mod buf;
pub mod capture;
pub mod fault;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod hash;
pub mod http;
pub mod tcp;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod testing;

use std::time::Instant;

use percore_conf::Config;
use percore_protocols::http1::Limits;

use crate::ids::ServerKey;
use crate::stream::http::errors::ErrorPages;
use crate::termination::Termination;

pub use self::buf::Pools;
pub use self::fault::{Fault, FaultClass};

/// One of a stream's two connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The accepted client connection.
    Client,
    /// The connection to the chosen server.
    Server,
}

/// Output a machine wants on one side.
#[derive(Debug, PartialEq, Eq)]
pub enum Transmit<'a> {
    /// Write these bytes (report how many went with `handle_written`).
    Bytes(&'a [u8]),
    /// Half-close the side (shutdown(2) for writing); report with `handle_written(side, 0)`.
    Shutdown,
}

/// What the machine reads the configuration and shard facts through. Borrowed per call so
/// the machine holds no reference to the shard.
pub struct Env<'a> {
    /// The configuration generation the stream started with (routes, rules, timeouts).
    pub config: &'a Config,
    /// The shard's newest generation: servers are picked from it, so a server's own
    /// settings (`send_proxy`) are read here (a reload may add servers older streams use).
    pub layout: &'a Config,
    /// Error pages of each frontend.
    pub pages: &'a [ErrorPages],
    /// Head limits of the HTTP codec.
    pub limits: &'a Limits,
    /// A stop began: no new keep-alive exchange.
    pub stopping: bool,
    /// The shard's recycled buffers.
    pub pools: &'a Pools,
}

/// A request for a server connection, answered by the shell with `handle_connected`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerRequest {
    /// Backend to pick from.
    pub backend: usize,
    /// Hash key for hash-based balancing.
    pub hash: Option<u64>,
    /// Servers that failed in this exchange: avoided while others remain.
    pub avoid: Vec<usize>,
    /// Only this server (a retry without `redispatch`).
    pub only: Option<usize>,
    /// The server of the previous attempt (a retry), for `wretr`/`wredis`.
    pub previous: Option<usize>,
    /// An idle pooled connection may be used.
    pub pool: bool,
    /// The request can be resent on a fresh connection if a pooled one turns out dead, so
    /// the pooled connection need not be checked first.
    pub replayable: bool,
}

/// The shell's answer to a [`ServerRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connected {
    /// A connection to `server`; `reused` when it came from the idle pool.
    Ready {
        /// The server.
        server: ServerKey,
        /// Taken from the idle pool (it may turn out dead).
        reused: bool,
        /// Time spent waiting in the queue for a slot.
        queued_ms: u32,
    },
    /// Connecting to `server` failed or timed out.
    Failed {
        /// The server tried.
        server: ServerKey,
    },
    /// No usable server at all.
    NoServer,
    /// Every usable server stayed full for `timeout.queue`.
    QueueTimeout,
}

/// Passive health layer of an observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// Connect, reset, timeout.
    L4,
    /// Invalid response, 500/502/503/504.
    L7,
}

/// Something the shell must act on or account.
#[derive(Debug)]
pub enum Event {
    /// The exchange was routed to this backend (HTTP).
    Routed(usize),
    /// Get a server connection (then call `handle_connected`).
    NeedServer(ServerRequest),
    /// One result of real traffic on a server (passive health).
    Observe {
        /// The server.
        server: ServerKey,
        /// Success or failure.
        ok: bool,
        /// Which layer the result is about.
        layer: Layer,
    },
    /// The exchange is over with the server connection: keep it idle in the pool when
    /// `reusable` (and the server still takes traffic), else close it. Either way the
    /// server's `maxconn` slot is released.
    ReleaseServer {
        /// The connection can carry another request.
        reusable: bool,
    },
    /// The server connection may be dropped without further traffic (an error, or a retry
    /// on another connection): close it and release its slot.
    CloseServer,
    /// A finished exchange (HTTP) or stream (TCP), to count and log.
    Record(Box<Record>),
    /// A refused request or response head, for `show errors`.
    CaptureError(Box<capture::ErrorCapture>),
}

/// Events waiting for the shell, oldest first. A `Vec`, not a `VecDeque`: a machine queues
/// a handful at most, so taking the front moves a few words, and every stream saves 8 bytes.
#[derive(Debug, Default)]
pub struct Events(Vec<Event>);

impl Events {
    /// Queues an event.
    pub fn push(&mut self, event: Event) {
        self.0.push(event);
    }

    /// The oldest event.
    pub fn pop(&mut self) -> Option<Event> {
        (!self.0.is_empty()).then(|| self.0.remove(0))
    }

    /// The newest event, taken back.
    pub fn pop_last(&mut self) -> Option<Event> {
        self.0.pop()
    }

    /// Gives the queue's memory back once it is empty: a stream that waits for its peers
    /// should not carry it (4 events are 352 bytes, more than the rest of an idle stream's
    /// share of the heap). The next push allocates it again.
    pub fn release(&mut self) {
        if self.0.is_empty() && self.0.capacity() != 0 {
            self.0 = Vec::new();
        }
    }

    /// Whether none is waiting.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The waiting events, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Event> {
        self.0.iter()
    }
}

/// Everything counters and the access log need about one exchange (HTTP) or stream (TCP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Backend used (the frontend's default when none was routed).
    pub backend: usize,
    /// The exchange reached a backend (always, in TCP mode); an HTTP exchange refused or
    /// answered before routing logs the frontend's name as its backend, as HAProxy.
    pub routed: bool,
    /// Server used, if a connection was made.
    pub server: Option<ServerKey>,
    /// When the exchange started (first byte of its head, or accept).
    pub started: Instant,
    /// Request head complete (HTTP).
    pub head_at: Option<Instant>,
    /// Time spent queued for a server slot.
    pub queued_ms: Option<u32>,
    /// Server connection ready.
    pub connected_at: Option<Instant>,
    /// Response head received (HTTP).
    pub response_at: Option<Instant>,
    /// When it ended.
    pub ended: Instant,
    /// HTTP status sent to the client (0 when none was).
    pub status: u16,
    /// Bytes received from the client for this exchange, head included.
    pub bytes_in: u64,
    /// Bytes written to the client for this exchange, head included.
    pub bytes_out: u64,
    /// Connection retries.
    pub retries: u32,
    /// HAProxy's two-letter termination code.
    pub termination: Termination,
    /// Why it ended abnormally, if it did.
    pub fault: Option<Fault>,
    /// Answered by percore itself (deny, redirect, return, 404 without route).
    pub intercepted: bool,
    /// Denied by an `http_request` rule.
    pub denied: bool,
    /// The request line (HTTP; only filled when the access log is on).
    pub request_line: String,
    /// An HTTP exchange (counts `req_tot`) rather than a TCP stream.
    pub http: bool,
}

impl Record {
    /// An empty record of an exchange starting `now` on `backend`.
    pub fn new(backend: usize, now: Instant, http: bool) -> Self {
        Record {
            backend,
            routed: !http,
            server: None,
            started: now,
            head_at: None,
            queued_ms: None,
            connected_at: None,
            response_at: None,
            ended: now,
            status: 0,
            bytes_in: 0,
            bytes_out: 0,
            retries: 0,
            termination: Termination::new(
                crate::termination::Cause::Normal,
                crate::termination::Phase::Data,
            ),
            fault: None,
            intercepted: false,
            denied: false,
            request_line: String::new(),
            http,
        }
    }
}

/// The I/O grammar both machines share, so one shell driver moves bytes for both.
pub trait Machine {
    /// Room to read bytes from `side` into, when the machine wants them now.
    fn read_space(&mut self, env: &Env<'_>, side: Side) -> Option<&mut [u8]>;
    /// The shell is about to wait: empty buffers go back to the shard's pools, so a
    /// waiting stream holds no data buffer. A done machine gives back every buffer (the
    /// shell parks it once before dropping it).
    fn park(&mut self, env: &Env<'_>);
    /// `n` bytes were read into the last [`Machine::read_space`] (0: end of stream).
    fn handle_read(&mut self, env: &Env<'_>, now: Instant, side: Side, n: usize);
    /// Reading from `side` failed (reset, error).
    fn handle_read_error(&mut self, env: &Env<'_>, now: Instant, side: Side);
    /// Output for `side`, if any.
    fn poll_transmit(&mut self, side: Side) -> Option<Transmit<'_>>;
    /// `n` bytes of the last transmit were written (0 after a [`Transmit::Shutdown`]).
    fn handle_written(&mut self, env: &Env<'_>, now: Instant, side: Side, n: usize);
    /// Writing to `side` failed.
    fn handle_write_error(&mut self, env: &Env<'_>, now: Instant, side: Side);
    /// The one deadline the shell must arm.
    fn poll_timeout(&self) -> Option<Instant>;
    /// The deadline passed.
    fn handle_timeout(&mut self, env: &Env<'_>, now: Instant);
    /// Whether events are waiting in [`Machine::poll_event`].
    fn has_event(&self) -> bool;
    /// The next event.
    fn poll_event(&mut self) -> Option<Event>;
    /// Answers the last [`Event::NeedServer`].
    fn handle_connected(&mut self, env: &Env<'_>, now: Instant, result: Connected);
    /// The stream is over: both sockets can be dropped.
    fn is_done(&self) -> bool;
    /// Whether a server connection is attached (the shell holds its socket).
    fn has_server(&self) -> bool;
    /// The record of the exchange in progress, ended as killed, for a stream the shell
    /// kills (admin, stop grace); `None` between exchanges.
    fn killed_record(&mut self, now: Instant) -> Option<Record>;
    /// Bytes received from / sent to the client that no emitted record holds yet (the
    /// exchange in progress), for live statistics.
    fn live_bytes(&self) -> (u64, u64);
    /// Client bytes received that belong to no exchange (discarded after a close, or the
    /// unread rest of a refused body); the shell adds them to the frontend's `bin`.
    fn stray_bytes_in(&self) -> u64;
}
