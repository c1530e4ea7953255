//! [`HttpMachine`]: one HTTP/1 stream — a client connection carrying exchanges one after
//! another (keep-alive, pipelining), each relayed to a server connection.
//!
//! - `body`: the body relay both directions share.
//! - [`errors`]: error pages, redirects, `return` responses (HAProxy's layouts).
//! - [`request`]: request heads: parse, rules, routing, `X-Forwarded-*`, local replies.
//! - [`response`]: response heads (1xx, 101, rules, framing toward the client) and bodies.
//! - [`route`]: `when` conditions and `use_backend`.
//!
//! Both directions are read at once: a server that answers while the client is still
//! uploading is relayed at once (the connection then closes, since the rest of the upload
//! is not read). Request bodies are forwarded as the client sends them, `Expect:
//! 100-continue` or not (a server that ignores `Expect` still gets the body).
//!
//! ```text
//!            ┌─────────── keep-alive: next head (pipelined bytes parsed at once) ──────────┐
//!            v                                                                             │
//! Req:  Idle ─byte─> Head ─parsed─> Body ──end──> Done ───────────────┐                    │
//!        │timeout/EOF: close          └─(bodyless)─────┘              │                    │
//!        └ silently          invalid/slow: 4xx page ─> Flush ─> Linger ─> closed           │
//! Resp: Absent ─routed─> Connecting ─ready─> Head ─final─> Body ─end─> Done ─ cout empty ──┘
//!                            │fail: retry / 503       │1xx relayed  │101: Tunnel (both ways)
//!                            └ local reply (rules, 404): Local ─ cout empty ─> done
//! ```
//!
//! Accounting: `bytes_in` of an exchange counts the client bytes it consumed (head and body
//! framing included); `bytes_out` the bytes written to the client while it was current. An
//! exchange's record is emitted once its last response byte was written, so both are exact.

mod body;
pub mod errors;
pub mod request;
pub mod response;
pub mod route;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use percore_protocols::http1::{
    BodyDecoder, ConnectionHeader, HeadScan, RequestHead, ResponseHead, Version,
};
use percore_protocols::proxy;

use super::attempt::{Attempts, Outcome};
use super::buf::Buf;
use super::{Connected, Env, Event, Events, Fault, Layer, Machine, Record, Side, Transmit};
use crate::ids::ServerKey;
use crate::termination::{Cause, Phase, Termination};

/// How long a closing connection keeps reading (and discarding) what the client still
/// sends, so the kernel does not answer unread bytes with a reset that could destroy the
/// response in flight (HAProxy's lingering close).
const LINGER: Duration = Duration::from_secs(1);

/// Most bytes discarded while lingering before the connection is dropped anyway.
const LINGER_BYTES_MAX: u64 = 1 << 20;

/// What a new HTTP stream needs to know.
#[derive(Debug, Clone)]
pub struct HttpStart {
    /// Frontend that accepted it.
    pub frontend: usize,
    /// Client address.
    pub peer: SocketAddr,
    /// The address the client connected to (for `send_proxy`).
    pub local: SocketAddr,
    /// Fill the request line of records (the access log is on).
    pub log_requests: bool,
    /// What the client's TLS handshake named (`None`: plain; `X-Forwarded-Proto: https`
    /// otherwise). Boxed: plain connections carry a null pointer only.
    pub tls: Option<Box<TlsNames>>,
}

/// The names a client's TLS handshake carried, for `sni` and `alpn` conditions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsNames {
    /// SNI, lowercase.
    pub sni: Option<Box<str>>,
    /// The ALPN protocol negotiated.
    pub alpn: Option<Box<str>>,
}

/// Request side of the exchange.
#[derive(Debug)]
enum Req {
    /// Between exchanges: no byte of the next head yet.
    Idle { since: Instant },
    /// A head is arriving; it must be complete by `started + timeout.http_request`.
    Head { started: Instant, scan: HeadScan },
    /// Forwarding the body to the server.
    Body { decoder: BodyDecoder },
    /// The request was received completely (or will not be read further).
    Done,
    /// After a 101: raw bytes.
    Tunnel,
}

/// Response side of the exchange.
#[derive(Debug)]
enum Resp {
    /// No server side yet.
    Absent,
    /// Waiting for the shell's server connection.
    Connecting,
    /// Waiting for the final response head (1xx relayed on the way).
    Head { scan: HeadScan },
    /// A chunked response for an HTTP/1.0 client, held until its whole body is buffered
    /// (then sent with `Content-Length`), the buffer is full or the server closed.
    Hold { head: Box<ResponseHead> },
    /// Relaying the body; `chunked_out`: re-encoded as chunks toward the client.
    Body {
        decoder: BodyDecoder,
        chunked_out: bool,
    },
    /// Percore answers itself (rules, 404): done once the reply is written.
    Local,
    /// The final response was queued for the client completely.
    Done,
    /// After a 101: raw bytes.
    Tunnel,
}

/// How the client connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    /// Open for more exchanges.
    Open,
    /// Write what is queued, then half-close the client side.
    Flush,
    /// Half-closed: read and discard until the client closes or `until`.
    Linger { until: Instant },
    /// Over.
    Done,
}

/// The server connection in use.
#[derive(Debug, Clone, Copy)]
struct ServerSide {
    key: ServerKey,
    reused: bool,
    /// Any byte received on it for this exchange.
    received: bool,
    /// End of stream read.
    eof: bool,
    /// Write side half-closed (tunnels).
    shut: bool,
}

/// One exchange in progress.
#[derive(Debug)]
struct Exchange {
    record: Record,
    /// The request, for response rules and a retry on a fresh connection.
    head: Option<RequestHead>,
    version: Version,
    has_body: bool,
    is_head: bool,
    /// A bodiless idempotent request: may be resent after a dead pooled connection (once:
    /// the resend clears it).
    replayable: bool,
    attempts: Option<Attempts>,
    /// The final response (or a local reply) was queued for the client.
    response_started: bool,
    /// Bytes queued for the client ahead of the final response head (interim responses),
    /// once that head is queued.
    final_offset: Option<usize>,
    /// Any byte of the final response was written to the client.
    response_sent: bool,
    /// The server keeps its connection open after this response.
    server_keeps: bool,
    /// Close the client connection after this exchange.
    close: bool,
    /// The `connection` field toward the server (also for a resent request).
    server_conn: ConnectionHeader,
}

/// One HTTP/1 stream.
#[derive(Debug)]
pub struct HttpMachine {
    frontend: usize,
    peer: SocketAddr,
    /// The address the client connected to: the destination of `send_proxy` headers.
    local: SocketAddr,
    log_requests: bool,
    tls: Option<Box<TlsNames>>,
    /// Bytes from the client, not yet consumed.
    cin: Buf,
    /// Bytes from the server, not yet consumed.
    sin: Buf,
    /// Bytes for the client.
    cout: Buf,
    /// Bytes for the server.
    sout: Buf,
    /// The deadline [`Machine::poll_timeout`] reports, refreshed after every input.
    timeout_at: Option<Instant>,
    req: Req,
    resp: Resp,
    close: Close,
    /// Boxed: an idle connection between exchanges does not carry its size.
    ex: Option<Box<Exchange>>,
    server: Option<ServerSide>,
    /// No exchange completed on this connection yet.
    first: bool,
    client_eof: bool,
    client_shut: bool,
    /// The client will send nothing more: it asked to close, and its request was read
    /// completely, so the half-close ends the connection without lingering.
    client_done: bool,
    client_activity: Instant,
    server_activity: Instant,
    /// Client bytes no exchange holds.
    stray_in: u64,
    events: Events,
}

impl HttpMachine {
    /// A client connection accepted `now`.
    pub fn new(env: &Env<'_>, now: Instant, start: HttpStart) -> Self {
        let mut m = HttpMachine {
            frontend: start.frontend,
            peer: start.peer,
            local: start.local,
            log_requests: start.log_requests,
            tls: start.tls,
            cin: Buf::new(),
            sin: Buf::new(),
            cout: Buf::new(),
            sout: Buf::new(),
            timeout_at: None,
            req: Req::Idle { since: now },
            resp: Resp::Absent,
            close: Close::Open,
            ex: None,
            server: None,
            first: true,
            client_eof: false,
            client_shut: false,
            client_done: false,
            client_activity: now,
            server_activity: now,
            stray_in: 0,
            events: Events::default(),
        };
        m.refresh_timeout(env);
        m
    }

    /// Makes every step the buffered bytes allow: heads, bodies, the end of exchanges.
    fn advance(&mut self, env: &Env<'_>, now: Instant) {
        // Each pass consumes bytes or changes a state; bounded by the buffered bytes.
        loop {
            let before = self.progress_mark();
            self.advance_request(env, now);
            self.advance_response(env, now);
            self.advance_close(env, now);
            if self.progress_mark() == before {
                self.refresh_timeout(env);
                return;
            }
        }
    }

    /// A cheap fingerprint of the state, to know whether a pass changed anything.
    fn progress_mark(&self) -> (usize, usize, usize, usize, u8, u8, u8, usize) {
        let req = match self.req {
            Req::Idle { .. } => 0,
            Req::Head { .. } => 1,
            Req::Body { .. } => 2,
            Req::Done => 3,
            Req::Tunnel => 4,
        };
        let resp = match self.resp {
            Resp::Absent => 0,
            Resp::Connecting => 1,
            Resp::Head { .. } => 2,
            Resp::Body { .. } => 3,
            Resp::Local => 4,
            Resp::Done => 5,
            Resp::Tunnel => 6,
            Resp::Hold { .. } => 7,
        };
        let close = match self.close {
            Close::Open => 0,
            Close::Flush => 1,
            Close::Linger { .. } => 2,
            Close::Done => 3,
        };
        (
            self.cin.len(),
            self.sin.len(),
            self.cout.len(),
            self.sout.len(),
            req,
            resp,
            close,
            self.events.len(),
        )
    }

    /// Ends the exchange when its response is out; starts the next or closes.
    fn advance_close(&mut self, env: &Env<'_>, now: Instant) {
        let response_out = matches!(self.resp, Resp::Done | Resp::Local) && self.cout.is_empty();
        if self.close == Close::Open && self.ex.is_some() && response_out {
            let request_in = matches!(self.req, Req::Done);
            let ex = self.ex.as_ref().expect("checked");
            let close = ex.close || !request_in || self.client_eof;
            self.finish_exchange(env, now, close);
        }
        if self.close == Close::Open && self.ex.is_none() && self.client_eof {
            if let Req::Idle { .. } = self.req {
                if self.cin.is_empty() {
                    self.close = Close::Done;
                }
            }
        }
    }

    /// Emits the current exchange's record; releases the server; keep-alive or close.
    fn finish_exchange(&mut self, env: &Env<'_>, now: Instant, close: bool) {
        let Some(mut ex) = self.ex.take() else {
            return;
        };
        if let Some(server) = self.server.take() {
            let request_complete = matches!(self.req, Req::Done);
            // A connection opened with a PROXY header speaks for this client only: it must
            // not be pooled for another stream's requests.
            let proxied = env.layout.backends[server.key.backend].servers[server.key.server]
                .send_proxy
                .is_some();
            let reusable = ex.server_keeps
                && request_complete
                && !server.eof
                && !proxied
                && self.sin.is_empty()
                && matches!(self.resp, Resp::Done);
            self.sin.clear();
            self.events.push(Event::ReleaseServer { reusable });
        }
        ex.record.ended = now;
        if let Some(head) = ex.head.take() {
            env.pools.give_head(head.into_buf());
        }
        self.events.push(Event::Record(Box::new(ex.record)));
        self.first = false;
        self.resp = Resp::Absent;
        self.sout.clear();
        if close {
            self.start_close();
        } else {
            self.req = Req::Idle { since: now };
        }
    }

    /// Writes what is queued, then half-closes the client side.
    fn start_close(&mut self) {
        if matches!(self.close, Close::Open) {
            self.close = Close::Flush;
        }
        if !matches!(self.req, Req::Tunnel) {
            self.req = Req::Done;
        }
    }

    /// Ends the exchange with `fault`: an error page when nothing of a response went out,
    /// the health observation, the record, and the close.
    fn fail(&mut self, env: &Env<'_>, now: Instant, fault: Fault) {
        let effects = fault.effects();
        if let (Some(layer), Some(server)) = (effects.health, self.server) {
            self.events.push(Event::Observe {
                server: server.key,
                ok: false,
                layer,
            });
        }
        if self.server.take().is_some() {
            self.events.push(Event::CloseServer);
        }
        self.sin.clear();
        self.sout.clear();
        let Some(ex) = self.ex.as_mut() else {
            // No exchange (idle connection): nothing to answer or record.
            self.close = Close::Done;
            return;
        };
        let mut termination = effects.termination;
        let client_gone = matches!(
            fault,
            Fault::ClientAbortedResponse | Fault::ClientAbortedRequest | Fault::ClientTimeout
        );
        match effects.status {
            Some(status) if !ex.response_sent && !client_gone => {
                // Interim responses already queued go first; the unsent final head goes.
                self.cout
                    .truncate(ex.final_offset.unwrap_or(self.cout.len()));
                self.cout
                    .extend(env.pools, &env.pages[self.frontend].page(status));
                ex.record.status = status;
                if matches!(fault, Fault::InvalidResponseBody(_)) {
                    // Nothing of the response went out: as HAProxy, a header-phase error.
                    termination.phase = Phase::Headers;
                }
            }
            _ => {}
        }
        ex.record.termination = termination;
        ex.record.fault = Some(fault);
        ex.response_started = true;
        self.resp = Resp::Done;
        self.req = Req::Done;
        if client_gone {
            let mut ex = self.ex.take().expect("checked");
            ex.record.ended = now;
            self.events.push(Event::Record(Box::new(ex.record)));
            self.close = Close::Done;
        } else {
            self.ex.as_mut().expect("checked").close = true;
        }
    }
}

impl HttpMachine {
    /// Whether client bytes are wanted now.
    fn wants_client_bytes(&self, env: &Env<'_>) -> bool {
        if self.client_eof || self.cin.is_full(env.pools) {
            return false;
        }
        match self.close {
            Close::Linger { .. } => true,
            Close::Flush | Close::Done => false,
            Close::Open => matches!(
                self.req,
                Req::Idle { .. } | Req::Head { .. } | Req::Body { .. } | Req::Tunnel
            ),
        }
    }

    /// Whether server bytes are wanted now.
    fn wants_server_bytes(&self, env: &Env<'_>) -> bool {
        let Some(server) = self.server else {
            return false;
        };
        !server.eof
            && !self.sin.is_full(env.pools)
            && matches!(
                self.resp,
                Resp::Head { .. } | Resp::Hold { .. } | Resp::Body { .. } | Resp::Tunnel
            )
    }

    /// Where a half-closed client connection goes. Lingering (reading until the client's
    /// FIN) protects a response in flight from the reset that unread bytes would cause; a
    /// plain client that asked to close, whose request was read completely and that has
    /// nothing pending, sends no more (RFC 9112 9.6), so it is closed at once, as nginx does.
    /// That saves the wait for its FIN: a readiness poll armed, woken and cancelled per
    /// connection. TLS clients still linger: their close_notify is data.
    fn after_half_close(&self, now: Instant) -> Close {
        let quiet = self.client_eof || (self.client_done && self.cin.is_empty());
        if quiet && self.tls.is_none() {
            Close::Done
        } else {
            Close::Linger {
                until: now + LINGER,
            }
        }
    }

    /// The bytes of client input that belong to no exchange are set aside as stray.
    fn discard_client_input(&mut self) {
        self.stray_in += self.cin.len() as u64;
        self.cin.clear();
    }

    /// The deadline and the fault it raises (`None`: close silently).
    fn deadline(&self, env: &Env<'_>) -> Option<(Instant, Option<Fault>)> {
        let fe = &env.config.frontends[self.frontend];
        let client = fe.timeout.client;
        match self.close {
            Close::Done => return None,
            Close::Linger { until } => return Some((until, None)),
            Close::Flush => return Some((self.client_activity + client, None)),
            Close::Open => {}
        }
        let server_timeout = self
            .ex
            .as_ref()
            .map(|ex| &env.config.backends[ex.record.backend].timeout);
        let mut best: Option<(Instant, Option<Fault>)> = None;
        let mut offer = |at: Instant, fault: Option<Fault>| {
            if best.as_ref().is_none_or(|(b, _)| at < *b) {
                best = Some((at, fault));
            }
        };
        match &self.req {
            Req::Idle { since } => {
                let wait = if self.first {
                    fe.timeout.http_request
                } else {
                    fe.timeout.http_keep_alive
                };
                offer(*since + wait, None);
            }
            Req::Head { started, .. } => {
                offer(
                    *started + fe.timeout.http_request,
                    Some(Fault::RequestHeadTimeout),
                );
            }
            Req::Body { .. } if self.cin.is_empty() => {
                offer(
                    self.client_activity + client,
                    Some(Fault::RequestBodyTimeout),
                );
            }
            Req::Tunnel => {
                let tunnel = server_timeout.map_or(client, |t| t.tunnel);
                let last = self.client_activity.max(self.server_activity);
                offer(last + tunnel, Some(Fault::ClientTimeout));
            }
            _ => {}
        }
        if !self.cout.is_empty() && !matches!(self.req, Req::Tunnel) {
            offer(self.client_activity + client, Some(Fault::ClientTimeout));
        }
        if let (Some(t), Some(_)) = (server_timeout, self.server) {
            match self.resp {
                Resp::Head { .. } => offer(
                    self.server_activity + t.server,
                    Some(Fault::ResponseTimeout),
                ),
                Resp::Body { .. } | Resp::Hold { .. } => {
                    offer(self.server_activity + t.server, Some(Fault::ServerTimeout))
                }
                _ => {}
            }
        }
        best
    }

    /// A side was reset or failed.
    fn side_failed(&mut self, env: &Env<'_>, now: Instant, side: Side) {
        match side {
            Side::Client => {
                self.client_eof = true;
                let fault = match self.req {
                    Req::Head { .. } | Req::Body { .. } => Fault::ClientAbortedRequest,
                    _ => Fault::ClientAbortedResponse,
                };
                if self.ex.is_some() {
                    self.fail(env, now, fault);
                }
                self.close = Close::Done;
            }
            Side::Server => {
                if let Some(s) = self.server.as_mut() {
                    s.eof = true;
                }
                if self.retry_on_fresh_connection(env) {
                    return;
                }
                let fault = match self.resp {
                    Resp::Head { .. } | Resp::Connecting => Fault::ServerAbortedHead,
                    _ => Fault::ServerAbortedBody,
                };
                // A reset tunnel ends its exchange as a reset body does (SD): recorded now or
                // once the bytes before the reset are written, never left to a later step.
                if matches!(
                    self.resp,
                    Resp::Head { .. } | Resp::Hold { .. } | Resp::Body { .. } | Resp::Tunnel
                ) {
                    self.fail(env, now, fault);
                } else if let Some(_s) = self.server.take() {
                    self.events.push(Event::CloseServer);
                }
            }
        }
        self.advance(env, now);
    }

    /// A pooled connection that died before answering a replayable request: the request
    /// goes once more (and only once) on a fresh connection. True when that retry was
    /// started.
    fn retry_on_fresh_connection(&mut self, env: &Env<'_>) -> bool {
        let Some(server) = self.server else {
            return false;
        };
        let Some(ex) = self.ex.as_mut() else {
            return false;
        };
        let eligible = server.reused
            && !server.received
            && ex.replayable
            && matches!(self.resp, Resp::Head { .. });
        let Some(head) = ex.head.as_ref() else {
            return false;
        };
        let Some(attempts) = ex.attempts.as_ref() else {
            return false;
        };
        if !eligible {
            return false;
        }
        // Resent once at most: should the fresh connect fail and its retry land on another
        // dead pooled connection, the exchange fails rather than sending a third copy.
        ex.replayable = false;
        self.server = None;
        self.events.push(Event::CloseServer);
        self.sin.clear();
        self.sout.clear();
        let conn = ex.server_conn;
        self.sout.append_with(env.pools, |v| head.write(conn, v));
        self.events.push(attempts.request(false, false));
        self.resp = Resp::Connecting;
        true
    }
}

impl Machine for HttpMachine {
    fn read_space(&mut self, env: &Env<'_>, side: Side) -> Option<&mut [u8]> {
        match side {
            Side::Client if self.wants_client_bytes(env) => Some(self.cin.spare(env.pools)),
            Side::Server if self.wants_server_bytes(env) => Some(self.sin.spare(env.pools)),
            _ => None,
        }
    }

    fn park(&mut self, env: &Env<'_>) {
        // A done stream reads and writes nothing more: what its buffers still hold (a reply a
        // failed write could not send) is dropped so the storage goes back to the pool,
        // instead of being freed with the machine while the pool counts it in use. Unread
        // client bytes stay counted as stray.
        if self.is_done() {
            self.stray_in += self.cin.len() as u64;
            for buf in [&mut self.cin, &mut self.sin, &mut self.cout, &mut self.sout] {
                buf.clear();
            }
        }
        for buf in [&mut self.cin, &mut self.sin, &mut self.cout, &mut self.sout] {
            buf.release(env.pools);
        }
    }

    fn handle_read(&mut self, env: &Env<'_>, now: Instant, side: Side, n: usize) {
        match side {
            Side::Client => {
                self.client_activity = now;
                if n == 0 {
                    self.client_eof = true;
                } else {
                    self.cin.commit(n);
                }
                if let Close::Linger { .. } = self.close {
                    self.discard_client_input();
                    if n == 0 || self.stray_in > LINGER_BYTES_MAX {
                        self.close = Close::Done;
                    }
                    self.refresh_timeout(env);
                    return;
                }
            }
            Side::Server => {
                self.server_activity = now;
                let Some(server) = self.server.as_mut() else {
                    return;
                };
                if n == 0 {
                    server.eof = true;
                } else {
                    server.received = true;
                    self.sin.commit(n);
                }
            }
        }
        self.advance(env, now);
    }

    fn handle_read_error(&mut self, env: &Env<'_>, now: Instant, side: Side) {
        self.side_failed(env, now, side);
    }

    fn poll_transmit(&mut self, side: Side) -> Option<Transmit<'_>> {
        if self.close == Close::Done {
            return None;
        }
        match side {
            Side::Client => {
                if !self.cout.is_empty() {
                    return Some(Transmit::Bytes(self.cout.bytes()));
                }
                let tunnel_end = matches!(self.resp, Resp::Tunnel)
                    && self.server.is_none_or(|s| s.eof)
                    && self.sin.is_empty();
                let flush_end = self.close == Close::Flush;
                ((flush_end || tunnel_end) && !self.client_shut).then_some(Transmit::Shutdown)
            }
            Side::Server => {
                let server = self.server?;
                if matches!(self.resp, Resp::Connecting) {
                    return None;
                }
                if !self.sout.is_empty() {
                    return Some(Transmit::Bytes(self.sout.bytes()));
                }
                let tunnel_end =
                    matches!(self.req, Req::Tunnel) && self.client_eof && self.cin.is_empty();
                (tunnel_end && !server.shut).then_some(Transmit::Shutdown)
            }
        }
    }

    fn handle_written(&mut self, env: &Env<'_>, now: Instant, side: Side, n: usize) {
        match side {
            Side::Client => {
                self.client_activity = now;
                if n == 0 && self.cout.is_empty() {
                    self.client_shut = true;
                    if self.close == Close::Flush {
                        self.close = self.after_half_close(now);
                        self.discard_client_input();
                    }
                } else {
                    self.cout.consume(n);
                    if let Some(ex) = self.ex.as_mut() {
                        ex.record.bytes_out += n as u64;
                        if let Some(ahead) = ex.final_offset.as_mut() {
                            ex.response_sent |= n > *ahead;
                            *ahead = ahead.saturating_sub(n);
                        }
                    }
                }
            }
            Side::Server => {
                self.server_activity = now;
                if n == 0 && self.sout.is_empty() {
                    if let Some(s) = self.server.as_mut() {
                        s.shut = true;
                    }
                } else {
                    self.sout.consume(n);
                }
            }
        }
        if matches!(self.req, Req::Tunnel) && self.client_shut {
            let server_shut = self.server.is_none_or(|s| s.shut);
            if server_shut {
                self.tunnel_over(now);
            }
        }
        self.advance(env, now);
    }

    fn handle_write_error(&mut self, env: &Env<'_>, now: Instant, side: Side) {
        if side == Side::Server && self.retry_on_fresh_connection(env) {
            return;
        }
        match side {
            Side::Server if matches!(self.resp, Resp::Head { .. } | Resp::Body { .. }) => {
                self.fail(env, now, Fault::ServerWriteFailed);
                self.advance(env, now);
            }
            _ => self.side_failed(env, now, side),
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        // The environment is not needed for the instant: recomputed in handle_timeout.
        self.timeout_at
    }

    fn handle_timeout(&mut self, env: &Env<'_>, now: Instant) {
        let Some((at, fault)) = self.deadline(env) else {
            return;
        };
        if now < at {
            return;
        }
        match fault {
            None => {
                self.discard_client_input();
                self.close = Close::Done;
                if let Some(mut ex) = self.ex.take() {
                    ex.record.ended = now;
                    self.events.push(Event::Record(Box::new(ex.record)));
                }
                if self.server.take().is_some() {
                    self.events.push(Event::CloseServer);
                }
            }
            Some(Fault::RequestHeadTimeout) if self.ex.is_none() => {
                request::refuse_head(self, env, now, Fault::RequestHeadTimeout);
            }
            Some(fault) => self.fail(env, now, fault),
        }
        self.advance(env, now);
    }

    fn has_event(&self) -> bool {
        !self.events.is_empty()
    }

    fn poll_event(&mut self) -> Option<Event> {
        let event = self.events.pop();
        // Between requests only: during an exchange the queue is reused event after event.
        if event.is_none() && matches!(self.req, Req::Idle { .. }) {
            self.events.release();
        }
        event
    }

    fn handle_connected(&mut self, env: &Env<'_>, now: Instant, result: Connected) {
        if !matches!(self.resp, Resp::Connecting) {
            return;
        }
        let Some(ex) = self.ex.as_mut() else {
            return;
        };
        let Some(attempts) = ex.attempts.as_mut() else {
            return;
        };
        match attempts.handle(now, result, &mut self.events) {
            Outcome::Ready { server, reused } => {
                let srv = &env.layout.backends[server.backend].servers[server.server];
                if let (Some(version), false) = (srv.send_proxy, reused) {
                    prepend_proxy_header(&mut self.sout, env, version, self.peer, self.local);
                }
                ex.record.server = Some(server);
                ex.record.connected_at = Some(now);
                ex.record.queued_ms = attempts.queued_ms;
                ex.record.retries = attempts.retries;
                self.server = Some(ServerSide {
                    key: server,
                    reused,
                    received: false,
                    eof: false,
                    shut: false,
                });
                self.server_activity = now;
                self.resp = Resp::Head {
                    scan: HeadScan::new(),
                };
            }
            Outcome::Retrying => {
                ex.record.retries = attempts.retries;
            }
            Outcome::Failed(fault) => {
                ex.record.retries = attempts.retries;
                ex.record.queued_ms = attempts.queued_ms;
                self.fail(env, now, fault);
            }
        }
        self.advance(env, now);
    }

    fn is_done(&self) -> bool {
        self.close == Close::Done && self.events.is_empty()
    }

    fn has_server(&self) -> bool {
        self.server.is_some()
    }

    fn killed_record(&mut self, now: Instant) -> Option<Record> {
        let mut ex = self.ex.take()?;
        let phase = match self.resp {
            Resp::Absent | Resp::Local => Phase::Request,
            Resp::Connecting => Phase::Connect,
            Resp::Head { .. } => Phase::Headers,
            _ => Phase::Data,
        };
        ex.record.termination = Termination::new(Cause::Killed, phase);
        ex.record.ended = now;
        self.close = Close::Done;
        Some(ex.record)
    }

    fn live_bytes(&self) -> (u64, u64) {
        self.ex
            .as_ref()
            .map_or((0, 0), |ex| (ex.record.bytes_in, ex.record.bytes_out))
    }

    fn stray_bytes_in(&self) -> u64 {
        self.stray_in + self.cin.len() as u64
    }
}

impl HttpMachine {
    /// Both halves of a tunnel were closed: the exchange ends normally.
    fn tunnel_over(&mut self, now: Instant) {
        if let Some(mut ex) = self.ex.take() {
            ex.record.ended = now;
            self.events.push(Event::Record(Box::new(ex.record)));
        }
        if self.server.take().is_some() {
            self.events.push(Event::CloseServer);
        }
        self.close = Close::Done;
    }

    /// Recomputes the one deadline after every input (poll_timeout has no environment).
    fn refresh_timeout(&mut self, env: &Env<'_>) {
        self.timeout_at = self.deadline(env).map(|(at, _)| at);
    }
}

/// Layer of a response status for passive health: 500, 502, 503 and 504 are failures.
fn status_is_healthy(status: u16) -> bool {
    !matches!(status, 500 | 502 | 503 | 504)
}

/// The observation of a final response.
fn observe_status(server: ServerKey, status: u16) -> Event {
    Event::Observe {
        server,
        ok: status_is_healthy(status),
        layer: Layer::L7,
    }
}

/// Puts a fresh server connection's PROXY header (`send_proxy`) for `client` → `local`
/// ahead of what waits for the server: nothing was written to this connection yet, so the
/// header goes first. Only on new connections: a pooled one had it when it was opened.
fn prepend_proxy_header(
    sout: &mut Buf,
    env: &Env<'_>,
    version: percore_conf::ProxyVersion,
    client: SocketAddr,
    local: SocketAddr,
) {
    let version = match version {
        percore_conf::ProxyVersion::V1 => proxy::Version::V1,
        percore_conf::ProxyVersion::V2 => proxy::Version::V2,
    };
    let waiting = sout.bytes().to_vec();
    sout.clear();
    sout.append_with(env.pools, |v| proxy::encode(version, client, local, v));
    sout.extend(env.pools, &waiting);
}

#[cfg(test)]
mod tests;
