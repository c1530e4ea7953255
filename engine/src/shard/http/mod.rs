//! HTTP/1.1 mode: the life of one stream (one client connection, many exchanges).
//!
//! ```text
//! accept ─> read head ─(timeout.http_request / http_keep_alive)─> parse + validate ──bad──> 400.. close
//!              ^                                                     │
//!              │                                    http_request rules: deny ─> 403.. close
//!              │                                                     │ redirect/return ─> local reply
//!              │                                    route (use_backend, default_backend), forwardfor
//!              │                                                     │
//!              │           server: idle pooled conn (http_reuse) or connect (retries) ──fail──> 503
//!              │                                                     │
//!              │             write head, [100-continue: wait 1xx], stream request body
//!              │                                                     │
//!              │    read response head (timeout.server ─> 504, invalid ─> 502; dead pooled conn
//!              │       and idempotent bodyless request ─> retried once on a fresh connection)
//!              │                       1xx relayed │ 101 ─> tunnel (timeout.tunnel) ─> close
//!              │                                   │
//!              │             http_response rules, write head, stream body (CL / chunked / close)
//!              │                                   │
//!              └──── keep-alive ─── server conn back to pool if reusable, log line
//! kill (admin, stop grace) at any point: task cancelled, sockets dropped, logged with `K`
//! ```
//!
//! - [`route`]: `when` conditions and `use_backend`.
//! - [`errors`]: error pages, redirects, `return` responses.
//! - [`pool`]: per-shard idle server connections.
//!
//! Heads are parsed and re-serialised by `percore_protocols::http1` (never forwarded byte for
//! byte); bodies are re-framed (chunked re-encoded, trailers dropped).

pub mod errors;
pub mod pool;
pub mod route;

use std::cell::Cell;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroUsize;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use percore_conf::http::{HeaderAction, HttpReuse, RequestAction};
use percore_protocols::http1::{
    BodyDecoder, BodyFraming, ChunkHeader, ConnectionHeader, EditError, HeadBuf, HeadScan,
    RequestHead, ResponseHead, Version, CHUNK_END, LAST_CHUNK,
};

use self::route::RequestView;
use super::budget::BudgetSlot;
use super::connect::{connect_server, ConnectFail, ServerConn};
use super::table::{StreamGuard, StreamState};
use super::Shard;
use crate::ids::ServerKey;
use crate::termination::{Cause, Phase, Termination};

/// Registers a freshly accepted HTTP client connection and spawns its stream task.
pub fn start(shard: &Rc<Shard>, frontend: usize, client: TcpStream, slots: [BudgetSlot; 2]) {
    let Ok(peer) = client.peer_addr() else {
        return;
    };
    let Some(slot) = shard.register_stream(frontend, peer) else {
        return;
    };
    let conn = Conn {
        client,
        server: None,
        _slots: slots,
        in_flight: Cell::new(None),
        peer,
        frontend,
        shard: shard.clone(),
        guard: StreamGuard::new(shard.table.clone(), slot),
    };
    let task = glommio::spawn_local(run(conn)).detach();
    shard.table.borrow_mut().set_kill_handle(slot, task);
}

/// The exchange in progress, for the log line and counters if the stream is killed.
#[derive(Clone, Copy)]
struct InFlight {
    backend: usize,
    server: Option<ServerKey>,
    phase: Phase,
}

/// Everything a stream owns. Field order is drop order: sockets close first, then budgets
/// are released, and last the table entry disappears ("entry gone" = "sockets closed").
struct Conn {
    client: TcpStream,
    server: Option<ServerConn>,
    _slots: [BudgetSlot; 2],
    in_flight: Cell<Option<InFlight>>,
    peer: SocketAddr,
    frontend: usize,
    shard: Rc<Shard>,
    guard: StreamGuard,
}

impl Drop for Conn {
    fn drop(&mut self) {
        let killed = self.guard.with(|e| e.killed).unwrap_or(false);
        if !killed {
            return;
        }
        let (backend, server, phase) = match self.in_flight.get() {
            Some(f) => (f.backend, f.server, f.phase),
            None => (
                self.shard.config.frontends[self.frontend].default_backend,
                None,
                Phase::Request,
            ),
        };
        let mut c = self.shard.counters.borrow_mut();
        c.frontends[self.frontend].killed += 1;
        c.backends[backend].killed += 1;
        if let Some(k) = server {
            c.servers[k.backend][k.server].killed += 1;
        }
        drop(c);
        if let Some(log) = self.shard.access_log.borrow_mut().as_mut() {
            log.line(format!(
                "{} [{}] {} killed stream flags {} shard={} stream={}",
                self.peer,
                crate::logging::haproxy_date(SystemTime::now()),
                self.shard.config.frontends[self.frontend].name,
                Termination::new(Cause::Killed, phase),
                self.shard.id,
                self.guard.slot().id()
            ));
        }
    }
}

/// A bounded input buffer: bytes `[start, end)` are received and not yet used.
struct InBuf {
    data: Box<[u8]>,
    start: usize,
    end: usize,
}

impl InBuf {
    fn new(capacity: usize) -> Self {
        InBuf {
            data: vec![0; capacity].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    fn is_empty(&self) -> bool {
        self.start == self.end
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        debug_assert!(self.start <= self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Free space at the end, compacting first when the tail is full.
    fn spare(&mut self) -> &mut [u8] {
        if self.end == self.data.len() && self.start > 0 {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        &mut self.data[self.end..]
    }

    fn is_full(&self) -> bool {
        self.start == 0 && self.end == self.data.len()
    }

    /// Reads once from `s` within `limit`. `Ok(0)` is EOF (or a full buffer: callers check
    /// [`InBuf::is_full`] first).
    async fn fill(&mut self, s: &mut TcpStream, limit: Duration) -> Result<usize, IoFail> {
        let spare = self.spare();
        if spare.is_empty() {
            return Ok(0);
        }
        let n = glommio::timer::timeout(limit, async {
            s.read(spare).await.map_err(glommio::GlommioError::from)
        })
        .await
        .map_err(IoFail::from)?;
        self.end += n;
        Ok(n)
    }
}

/// Why an I/O step failed.
enum IoFail {
    Timeout,
    Error,
}

impl From<glommio::GlommioError<()>> for IoFail {
    fn from(e: glommio::GlommioError<()>) -> Self {
        match e {
            glommio::GlommioError::TimedOut(_) => IoFail::Timeout,
            _ => IoFail::Error,
        }
    }
}

async fn write_all(s: &mut TcpStream, bytes: &[u8], limit: Duration) -> Result<(), IoFail> {
    glommio::timer::timeout(limit, async {
        s.write_all(bytes)
            .await
            .map_err(glommio::GlommioError::from)
    })
    .await
    .map_err(IoFail::from)
}

/// The request as `when` conditions see it.
struct View<'a> {
    head: &'a RequestHead,
    src: IpAddr,
}

impl RequestView for View<'_> {
    fn method(&self) -> &str {
        self.head.method()
    }
    fn path(&self) -> &str {
        self.head.path()
    }
    fn host(&self) -> Option<&str> {
        self.head.host().map(route::host_without_port)
    }
    fn any_header(&self, name: &str, f: &mut dyn FnMut(&[u8]) -> bool) -> bool {
        self.head
            .headers()
            .any(|(n, v)| n.eq_ignore_ascii_case(name) && f(v))
    }
    fn src(&self) -> IpAddr {
        self.src
    }
}

/// What one exchange did, for counters and the log line.
struct Exchange {
    started: Instant,
    /// Request head complete.
    got_head: Option<Instant>,
    connected: Option<Instant>,
    response_head: Option<Instant>,
    backend: usize,
    server: Option<ServerKey>,
    retries: u32,
    status: u16,
    bytes_in: u64,
    bytes_out: u64,
    termination: Termination,
    request_line: String,
    /// A request error (`ereq`) rather than a server error.
    request_error: bool,
    response_error: bool,
    denied: bool,
    intercepted: bool,
}

impl Exchange {
    fn new(backend: usize) -> Self {
        Exchange {
            started: Instant::now(),
            got_head: None,
            connected: None,
            response_head: None,
            backend,
            server: None,
            retries: 0,
            status: 0,
            bytes_in: 0,
            bytes_out: 0,
            termination: Termination::new(Cause::Normal, Phase::Data),
            request_line: String::new(),
            request_error: false,
            response_error: false,
            denied: false,
            intercepted: false,
        }
    }

    fn end(&mut self, cause: Cause, phase: Phase) {
        self.termination = Termination::new(cause, phase);
    }
}

/// How the exchange loop continues.
enum Next {
    /// Read the next request on this connection.
    KeepAlive,
    /// Close the client connection.
    Close,
}

async fn run(mut c: Conn) {
    let shard = c.shard.clone();
    let _ = c.client.set_nodelay(true);
    let cap = shard
        .config
        .global
        .tune
        .bufsize
        .max(shard.limits.max_header_size + 1);
    let mut cin = InBuf::new(cap);
    let mut sin = InBuf::new(cap);
    let mut out: Vec<u8> = Vec::with_capacity(4096);
    let mut spare = HeadBuf::new();
    let mut first = true;
    loop {
        let next = exchange(
            &mut c, &shard, &mut cin, &mut sin, &mut out, &mut spare, first,
        )
        .await;
        c.in_flight.set(None);
        c.guard.set_server(None);
        first = false;
        match next {
            Next::KeepAlive if !shard.is_stopping() => {}
            _ => {
                let _ = c.client.shutdown(std::net::Shutdown::Write).await;
                return;
            }
        }
    }
}

/// One request/response exchange; logs and counts it.
async fn exchange(
    c: &mut Conn,
    shard: &Rc<Shard>,
    cin: &mut InBuf,
    sin: &mut InBuf,
    out: &mut Vec<u8>,
    spare: &mut HeadBuf,
    first: bool,
) -> Next {
    let fe = &shard.config.frontends[c.frontend];
    let mut ex = Exchange::new(fe.default_backend);
    let next = exchange_inner(c, shard, cin, sin, out, spare, first, &mut ex).await;
    match next {
        Some(next) => {
            account(c, shard, &ex);
            next
        }
        // Idle keep-alive connection closed or timed out before a request: nothing to log.
        None => Next::Close,
    }
}

#[allow(clippy::too_many_arguments)]
async fn exchange_inner(
    c: &mut Conn,
    shard: &Rc<Shard>,
    cin: &mut InBuf,
    sin: &mut InBuf,
    out: &mut Vec<u8>,
    spare: &mut HeadBuf,
    first: bool,
    ex: &mut Exchange,
) -> Option<Next> {
    let fe = &shard.config.frontends[c.frontend];
    let pages = &shard.error_pages[c.frontend];

    // ---- request head ----
    let mut head = match read_request_head(c, shard, cin, spare, first).await {
        HeadRead::Head(h, head_bytes) => {
            // `bin` counts request heads too, as HAProxy's.
            ex.bytes_in += head_bytes as u64;
            h
        }
        HeadRead::Idle => return None,
        HeadRead::Refused(status, phase_cause) => {
            ex.status = status;
            ex.request_error = true;
            ex.end(phase_cause, Phase::Request);
            let page = pages.page(status);
            ex.bytes_out += page.len() as u64;
            let _ = write_all(&mut c.client, &page, fe.timeout.client).await;
            return Some(Next::Close);
        }
    };
    ex.got_head = Some(Instant::now());
    // Only the access log reads it: no allocation per request when the log is off.
    if shard.access_log.borrow().is_some() {
        ex.request_line = format!(
            "{} {} {}",
            head.method(),
            head.target(),
            head.version().as_str()
        );
    }
    let src = c.peer.ip();

    // ---- http_request rules ----
    let has_body = !matches!(head.framing(), BodyFraming::None | BodyFraming::Length(0));
    if let Some(next) = apply_request_rules(c, shard, &mut head, src, has_body, ex).await {
        return Some(next);
    }

    // ---- routing ----
    let fallback = (!fe.http.not_found_without_route).then_some(fe.default_backend);
    let routed = route::route(&fe.http.routes, fallback, &View { head: &head, src });
    let Some(backend) = routed else {
        let close = has_body || !head.keep_alive();
        // Error pages close the connection; a bodiless request may keep it.
        let page = if close {
            pages.page(404)
        } else {
            errors::fixed(404, "text/html", &not_found_body(), false)
        };
        ex.intercepted = true;
        ex.end(Cause::Local, Phase::Request);
        return Some(local_reply(c, fe.timeout.client, ex, 404, &page, close).await);
    };
    ex.backend = backend;
    c.guard.set_backend(backend);
    let be = &shard.config.backends[backend];
    if fe.http.forwardfor {
        let ip = match src {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(src, IpAddr::V4),
            v4 => v4,
        };
        let edit = head
            .add_header("x-forwarded-for", ip.to_string().as_bytes())
            .and_then(|_| head.set_header("x-forwarded-proto", b"http"));
        if let Err(e) = edit {
            return Some(
                refuse(c, fe.timeout.client, ex, pages.page(e.status()), e.status()).await,
            );
        }
    }
    let expect_continue = head.expect_continue() && has_body;
    let upgrade = head.upgrade().is_some();
    let client_wants_close = !head.keep_alive();

    // ---- server connection, request, response head ----
    let use_pool = match be.http.reuse {
        HttpReuse::Never => false,
        HttpReuse::Safe => !first,
        HttpReuse::Always => true,
    };
    let server_conn_header = if be.http.reuse == HttpReuse::Never {
        ConnectionHeader::Close
    } else if upgrade {
        ConnectionHeader::Upgrade
    } else {
        ConnectionHeader::Omit
    };
    let lb_hash = match &be.balance {
        percore_conf::Balance::Source => Some(super::tcp::source_hash(src)),
        percore_conf::Balance::Uri { len, depth } => Some(super::balance::hash_bytes(
            super::balance::uri_key(head.path(), *len, *depth).as_bytes(),
        )),
        percore_conf::Balance::Hdr(name) => head.header(name).map(super::balance::hash_bytes),
        _ => None,
    };
    let mut attempts = 0u32;
    let mut allow_pool = use_pool;
    let mut body_sent = false;
    let resp: ResponseHead = loop {
        c.in_flight.set(Some(InFlight {
            backend,
            server: None,
            phase: Phase::Connect,
        }));
        c.guard.with(|e| e.state = StreamState::Connecting);
        let connected =
            connect_server(shard, backend, &c.guard, &mut attempts, allow_pool, lb_hash).await;
        let server = match connected {
            Ok(s) => s,
            Err(fail) => {
                ex.retries = attempts.saturating_sub(1);
                match fail {
                    ConnectFail::NoServer => ex.end(Cause::ServerError, Phase::Connect),
                    ConnectFail::QueueTimeout => ex.end(Cause::ServerTimeout, Phase::Queue),
                }
                return Some(refuse(c, fe.timeout.client, ex, pages.page(503), 503).await);
            }
        };
        ex.retries = attempts.saturating_sub(1);
        ex.server = Some(server.key);
        ex.connected = Some(Instant::now());
        let reused = server.reused;
        c.server = Some(server);
        c.guard.with(|e| e.state = StreamState::Data);
        c.in_flight.set(Some(InFlight {
            backend,
            server: ex.server,
            phase: Phase::Headers,
        }));
        out.clear();
        head.write(server_conn_header, out);
        let sconn = c.server.as_mut().expect("set above");
        if write_all(&mut sconn.stream, out, be.timeout.server)
            .await
            .is_err()
        {
            c.server = None;
            if reused && !has_body && head.is_idempotent() {
                // The pooled connection died under us; try once more on a fresh one.
                allow_pool = false;
                continue;
            }
            ex.response_error = true;
            ex.end(Cause::ServerError, Phase::Headers);
            return Some(refuse(c, fe.timeout.client, ex, pages.page(502), 502).await);
        }
        if has_body && !expect_continue {
            match forward_request_body(c, shard, cin, out, &head, backend).await {
                Ok(n) => {
                    ex.bytes_in += n;
                    body_sent = true;
                }
                Err((cause, n)) => {
                    ex.bytes_in += n;
                    return Some(body_failed(c, fe.timeout.client, ex, cause, pages).await);
                }
            }
        }
        let is_head = head.is_head();
        match read_response_head(
            c,
            shard,
            sin,
            spare,
            is_head,
            &mut ex.bytes_out,
            expect_continue,
        )
        .await
        {
            RespRead::Head(r) => break r,
            RespRead::Continue => {
                // 100 Continue relayed: now the body, then the final response.
                match forward_request_body(c, shard, cin, out, &head, backend).await {
                    Ok(n) => {
                        ex.bytes_in += n;
                        body_sent = true;
                    }
                    Err((cause, n)) => {
                        ex.bytes_in += n;
                        return Some(body_failed(c, fe.timeout.client, ex, cause, pages).await);
                    }
                }
                match read_response_head(c, shard, sin, spare, is_head, &mut ex.bytes_out, false)
                    .await
                {
                    RespRead::Head(r) => break r,
                    RespRead::Continue => unreachable!("expect_continue is false"),
                    RespRead::Failed(status, cause, _) => {
                        return Some(
                            response_failed(c, fe.timeout.client, ex, status, cause, pages).await,
                        )
                    }
                }
            }
            RespRead::Failed(status, cause, nothing_received) => {
                c.server = None;
                if nothing_received
                    && reused
                    && !has_body
                    && head.is_idempotent()
                    && cause == Cause::ServerError
                {
                    allow_pool = false;
                    continue;
                }
                return Some(response_failed(c, fe.timeout.client, ex, status, cause, pages).await);
            }
        }
    };
    ex.response_head = Some(Instant::now());
    ex.status = resp.status();
    if let Some(k) = ex.server {
        shard.observe(k, !matches!(ex.status, 500 | 502 | 503 | 504), 7);
    }

    // ---- 101: tunnel ----
    if resp.framing() == BodyFraming::Tunnel {
        out.clear();
        resp.write(BodyFraming::None, ConnectionHeader::Upgrade, out);
        ex.bytes_out += out.len() as u64;
        if write_all(&mut c.client, out, fe.timeout.client)
            .await
            .is_err()
        {
            ex.end(Cause::ClientError, Phase::Data);
            return Some(Next::Close);
        }
        let (up, down, end) = tunnel(c, cin, sin, be.timeout.tunnel).await;
        ex.bytes_in += up;
        ex.bytes_out += down;
        ex.termination = end;
        return Some(Next::Close);
    }

    let delivery = Delivery {
        src,
        has_body,
        body_sent,
        client_wants_close,
        backend,
    };
    Some(deliver_response(c, shard, sin, out, spare, head, resp, &delivery, ex).await)
}

/// What [`deliver_response`] needs to know about the request.
struct Delivery {
    src: IpAddr,
    has_body: bool,
    body_sent: bool,
    client_wants_close: bool,
    backend: usize,
}

/// Applies `http_response` rules, writes the response head, streams its body, and returns
/// the server connection to the pool when it can carry another request.
#[allow(clippy::too_many_arguments)]
async fn deliver_response(
    c: &mut Conn,
    shard: &Rc<Shard>,
    sin: &mut InBuf,
    out: &mut Vec<u8>,
    spare: &mut HeadBuf,
    head: RequestHead,
    mut resp: ResponseHead,
    d: &Delivery,
    ex: &mut Exchange,
) -> Next {
    let fe = &shard.config.frontends[c.frontend];
    let be = &shard.config.backends[d.backend];
    let pages = &shard.error_pages[c.frontend];
    let (src, has_body, body_sent, client_wants_close, backend) = (
        d.src,
        d.has_body,
        d.body_sent,
        d.client_wants_close,
        d.backend,
    );
    // ---- http_response rules ----
    for rule in &fe.http.response_rules {
        let applies = rule
            .when
            .as_ref()
            .is_none_or(|w| route::matches(w, &View { head: &head, src }));
        if !applies {
            continue;
        }
        let edit = edit_headers(&mut resp, &rule.action);
        if let Err(e) = edit {
            c.server = None;
            ex.response_error = true;
            return refuse(c, fe.timeout.client, ex, pages.page(e.status()), 500).await;
        }
    }

    // ---- response head and body ----
    let framing = resp.framing();
    // A final response that arrives before a 100-continue body was sent: the client may still
    // send it, so the connection cannot carry another request.
    let body_skipped = has_body && !body_sent;
    let close = client_wants_close
        || framing == BodyFraming::UntilClose
        || body_skipped
        || shard.is_stopping();
    let client_conn = if close {
        ConnectionHeader::Close
    } else if head.version() == Version::Http10 {
        ConnectionHeader::KeepAlive
    } else {
        ConnectionHeader::Omit
    };
    out.clear();
    resp.write(framing, client_conn, out);
    ex.bytes_out += out.len() as u64;
    c.in_flight.set(Some(InFlight {
        backend,
        server: ex.server,
        phase: Phase::Data,
    }));
    let server_keeps = resp.keep_alive();
    match forward_response_body(c, shard, sin, out, framing, backend, fe.timeout.client).await {
        Ok(n) => ex.bytes_out += n,
        Err((cause, n)) => {
            ex.bytes_out += n;
            ex.end(cause, Phase::Data);
            if cause == Cause::ServerError || cause == Cause::ServerTimeout {
                ex.response_error = true;
            }
            c.server = None;
            return Next::Close;
        }
    }
    // One head's storage is enough for the next parse; the response's goes back to the
    // allocator.
    *spare = head.into_buf();

    // ---- server connection back to the pool ----
    if let Some(server) = c.server.take() {
        let reusable = server_keeps
            && framing != BodyFraming::UntilClose
            && !body_skipped
            && be.http.reuse != HttpReuse::Never
            && sin.is_empty()
            && shard.views.borrow()[server.key.backend][server.key.server].admin
                == crate::control::msg::AdminState::Ready;
        if reusable {
            shard
                .pool
                .borrow_mut()
                .put(server.key, server.stream, Instant::now());
        }
    }
    sin.consume(sin.bytes().len());
    if close {
        Next::Close
    } else {
        Next::KeepAlive
    }
}

/// Runs the frontend's `http_request` rules in order: header edits change `head`; `deny`,
/// `redirect` and `return` answer the request, and then the exchange's outcome is returned.
async fn apply_request_rules(
    c: &mut Conn,
    shard: &Rc<Shard>,
    head: &mut RequestHead,
    src: IpAddr,
    has_body: bool,
    ex: &mut Exchange,
) -> Option<Next> {
    let fe = &shard.config.frontends[c.frontend];
    let pages = &shard.error_pages[c.frontend];
    for rule in &fe.http.request_rules {
        let applies = rule
            .when
            .as_ref()
            .is_none_or(|w| route::matches(w, &View { head, src }));
        if !applies {
            continue;
        }
        let edit = match &rule.action {
            RequestAction::Header(action) => edit_headers(head, action),
            RequestAction::Deny(status) => {
                ex.denied = true;
                ex.intercepted = true;
                ex.end(Cause::ProxyRefused, Phase::Request);
                return Some(refuse(c, fe.timeout.client, ex, pages.page(*status), *status).await);
            }
            RequestAction::Redirect { code, location } => {
                let close = has_body || !head.keep_alive();
                let resp = errors::redirect(*code, location, close);
                return Some(local_reply(c, fe.timeout.client, ex, *code, &resp, close).await);
            }
            RequestAction::Return {
                status,
                body,
                content_type,
            } => {
                let close = has_body || !head.keep_alive();
                let resp = errors::fixed(*status, content_type, body, close);
                return Some(local_reply(c, fe.timeout.client, ex, *status, &resp, close).await);
            }
        };
        if let Err(e) = edit {
            return Some(
                refuse(c, fe.timeout.client, ex, pages.page(e.status()), e.status()).await,
            );
        }
    }
    None
}

fn not_found_body() -> String {
    "<html><body><h1>404 Not Found</h1>\nThe requested URL was not found on this server.\n</body></html>\n".to_string()
}

/// The header edits of rules, the same on request and response heads.
trait EditHeaders {
    fn set_header(&mut self, name: &str, value: &[u8]) -> Result<(), EditError>;
    fn add_header(&mut self, name: &str, value: &[u8]) -> Result<(), EditError>;
    fn remove_header(&mut self, name: &str) -> Result<usize, EditError>;
}

impl EditHeaders for RequestHead {
    fn set_header(&mut self, name: &str, value: &[u8]) -> Result<(), EditError> {
        RequestHead::set_header(self, name, value)
    }
    fn add_header(&mut self, name: &str, value: &[u8]) -> Result<(), EditError> {
        RequestHead::add_header(self, name, value)
    }
    fn remove_header(&mut self, name: &str) -> Result<usize, EditError> {
        RequestHead::remove_header(self, name)
    }
}

impl EditHeaders for ResponseHead {
    fn set_header(&mut self, name: &str, value: &[u8]) -> Result<(), EditError> {
        ResponseHead::set_header(self, name, value)
    }
    fn add_header(&mut self, name: &str, value: &[u8]) -> Result<(), EditError> {
        ResponseHead::add_header(self, name, value)
    }
    fn remove_header(&mut self, name: &str) -> Result<usize, EditError> {
        ResponseHead::remove_header(self, name)
    }
}

/// Applies one `set_header` / `add_header` / `del_header` to a head.
fn edit_headers(head: &mut impl EditHeaders, action: &HeaderAction) -> Result<(), EditError> {
    match action {
        HeaderAction::Set { name, value } => head.set_header(name, value.as_bytes()),
        HeaderAction::Add { name, value } => head.add_header(name, value.as_bytes()),
        HeaderAction::Del(name) => head.remove_header(name).map(|_| ()),
    }
}

async fn local_reply(
    c: &mut Conn,
    limit: Duration,
    ex: &mut Exchange,
    status: u16,
    resp: &[u8],
    close: bool,
) -> Next {
    ex.status = status;
    ex.intercepted = true;
    ex.end(Cause::Local, Phase::Request);
    ex.bytes_out += resp.len() as u64;
    if write_all(&mut c.client, resp, limit).await.is_err() || close {
        return Next::Close;
    }
    Next::KeepAlive
}

/// Sends an error page and closes (the page says `connection: close`).
async fn refuse(
    c: &mut Conn,
    limit: Duration,
    ex: &mut Exchange,
    page: Vec<u8>,
    status: u16,
) -> Next {
    ex.status = status;
    ex.bytes_out += page.len() as u64;
    let _ = write_all(&mut c.client, &page, limit).await;
    c.server = None;
    Next::Close
}

async fn body_failed(
    c: &mut Conn,
    limit: Duration,
    ex: &mut Exchange,
    cause: Cause,
    pages: &errors::ErrorPages,
) -> Next {
    c.server = None;
    match cause {
        Cause::ProxyRefused => {
            ex.request_error = true;
            ex.end(cause, Phase::Request);
            refuse(c, limit, ex, pages.page(400), 400).await
        }
        Cause::ClientTimeout => {
            ex.request_error = true;
            ex.end(cause, Phase::Request);
            refuse(c, limit, ex, pages.page(408), 408).await
        }
        Cause::ServerError | Cause::ServerTimeout => {
            ex.response_error = true;
            ex.end(cause, Phase::Request);
            refuse(c, limit, ex, pages.page(502), 502).await
        }
        _ => {
            ex.end(cause, Phase::Request);
            Next::Close
        }
    }
}

async fn response_failed(
    c: &mut Conn,
    limit: Duration,
    ex: &mut Exchange,
    status: u16,
    cause: Cause,
    pages: &errors::ErrorPages,
) -> Next {
    if let Some(k) = ex.server {
        // Timeouts and resets are layer-4 errors, invalid responses layer-7 ones.
        let layer = if cause == Cause::ProxyRefused { 7 } else { 4 };
        c.shard.observe(k, false, layer);
    }
    c.server = None;
    ex.response_error = true;
    ex.end(cause, Phase::Headers);
    refuse(c, limit, ex, pages.page(status), status).await
}

enum HeadRead {
    /// A valid head and its size in bytes.
    Head(RequestHead, usize),
    /// No request started: the connection was closed or stayed idle; close silently.
    Idle,
    /// Answer with this status and close.
    Refused(u16, Cause),
}

/// Reads one request head: an idle keep-alive connection gets `timeout.http_keep_alive` to
/// start a request (a new one `timeout.http_request`), and the whole head must arrive within
/// `timeout.http_request` of its first byte (slowloris defence).
async fn read_request_head(
    c: &mut Conn,
    shard: &Rc<Shard>,
    cin: &mut InBuf,
    spare: &mut HeadBuf,
    first: bool,
) -> HeadRead {
    let fe = &shard.config.frontends[c.frontend];
    let t = &fe.timeout;
    let mut scan = HeadScan::new();
    if cin.is_empty() {
        let wait = if first {
            t.http_request
        } else {
            t.http_keep_alive
        };
        match cin.fill(&mut c.client, wait).await {
            Ok(0) | Err(IoFail::Error) => return HeadRead::Idle,
            // Nothing sent at all (idle keep-alive, or a browser's pre-connect): close
            // without a 408, as HAProxy does.
            Err(IoFail::Timeout) => return HeadRead::Idle,
            Ok(n) => c.guard.with(|e| e.bytes_in += n as u64),
        };
    }
    let deadline = Instant::now() + t.http_request;
    loop {
        let mut buf = std::mem::take(spare);
        match scan.handle_request(cin.bytes(), &shard.limits, &mut buf) {
            Ok(Some((head, consumed))) => {
                cin.consume(consumed);
                return HeadRead::Head(head, consumed);
            }
            Ok(None) => *spare = buf,
            Err(e) => {
                *spare = buf;
                warn_rate_limited(shard, c, &format!("invalid request: {e}"));
                return HeadRead::Refused(e.status(), Cause::ProxyRefused);
            }
        }
        if cin.is_full() {
            return HeadRead::Refused(431, Cause::ProxyRefused);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match cin.fill(&mut c.client, left).await {
            Ok(0) | Err(IoFail::Error) => return HeadRead::Idle,
            Err(IoFail::Timeout) => return HeadRead::Refused(408, Cause::ClientTimeout),
            Ok(n) => c.guard.with(|e| e.bytes_in += n as u64),
        };
    }
}

enum RespRead {
    Head(ResponseHead),
    /// A `100 Continue` was relayed to the client.
    Continue,
    /// Answer the client with this status; the flag says nothing at all was received (a
    /// dead pooled connection, retriable).
    Failed(u16, Cause, bool),
}

/// Reads the final response head from the server, relaying interim (1xx) responses. With
/// `expect_continue`, returns [`RespRead::Continue`] after relaying a 100.
async fn read_response_head(
    c: &mut Conn,
    shard: &Rc<Shard>,
    sin: &mut InBuf,
    spare: &mut HeadBuf,
    is_head: bool,
    bytes_out: &mut u64,
    expect_continue: bool,
) -> RespRead {
    let be_timeout = shard.config.backends[c.server.as_ref().map_or(0, |s| s.key.backend)]
        .timeout
        .server;
    let client_timeout = shard.config.frontends[c.frontend].timeout.client;
    let mut received_any = false;
    let mut scan = HeadScan::new();
    loop {
        let mut buf = std::mem::take(spare);
        let parsed = scan.handle_response(sin.bytes(), &shard.limits, is_head, &mut buf);
        match parsed {
            Ok(Some((resp, consumed))) => {
                sin.consume(consumed);
                if resp.is_interim() {
                    let status = resp.status();
                    let mut out = Vec::with_capacity(64);
                    resp.write(BodyFraming::None, ConnectionHeader::Omit, &mut out);
                    *spare = resp.into_buf();
                    *bytes_out += out.len() as u64;
                    if write_all(&mut c.client, &out, client_timeout)
                        .await
                        .is_err()
                    {
                        return RespRead::Failed(502, Cause::ClientError, false);
                    }
                    if status == 100 && expect_continue {
                        return RespRead::Continue;
                    }
                    scan = HeadScan::new();
                    continue;
                }
                return RespRead::Head(resp);
            }
            Ok(None) => *spare = buf,
            Err(e) => {
                *spare = buf;
                warn_rate_limited(shard, c, &format!("invalid response: {e}"));
                return RespRead::Failed(502, Cause::ProxyRefused, false);
            }
        }
        if sin.is_full() {
            return RespRead::Failed(502, Cause::ProxyRefused, false);
        }
        let Some(server) = c.server.as_mut() else {
            return RespRead::Failed(502, Cause::ServerError, !received_any);
        };
        match sin.fill(&mut server.stream, be_timeout).await {
            Ok(0) | Err(IoFail::Error) => {
                return RespRead::Failed(502, Cause::ServerError, !received_any)
            }
            Err(IoFail::Timeout) => return RespRead::Failed(504, Cause::ServerTimeout, false),
            Ok(_) => received_any = true,
        }
    }
}

/// Streams the request body from the client (bytes already in `cin` first) to the server,
/// re-framing chunked bodies. Returns the body bytes read from the client.
async fn forward_request_body(
    c: &mut Conn,
    shard: &Rc<Shard>,
    cin: &mut InBuf,
    out: &mut Vec<u8>,
    head: &RequestHead,
    backend: usize,
) -> Result<u64, (Cause, u64)> {
    let mut decoder = BodyDecoder::new(head.framing());
    let chunked = head.framing() == BodyFraming::Chunked;
    let client_timeout = shard.config.frontends[c.frontend].timeout.client;
    let server_timeout = shard.config.backends[backend].timeout.server;
    let mut total = 0u64;
    let Conn {
        client,
        server,
        guard,
        ..
    } = c;
    let Some(server) = server.as_mut() else {
        return Err((Cause::ServerError, 0));
    };
    loop {
        if !cin.is_empty() {
            let d = decoder
                .handle_input(cin.bytes())
                .map_err(|_| (Cause::ProxyRefused, total))?;
            out.clear();
            let payload = &cin.bytes()[d.payload.clone()];
            frame(out, payload, chunked);
            total += d.consumed as u64;
            cin.consume(d.consumed);
            if decoder.is_finished() && chunked {
                out.extend_from_slice(LAST_CHUNK);
            }
            if !out.is_empty() {
                write_all(&mut server.stream, out, server_timeout)
                    .await
                    .map_err(|_| (Cause::ServerError, total))?;
            }
            if decoder.is_finished() {
                return Ok(total);
            }
            if d.consumed > 0 {
                continue;
            }
        } else if decoder.is_finished() {
            return Ok(total);
        }
        if cin.is_full() {
            return Err((Cause::ProxyRefused, total));
        }
        match cin.fill(client, client_timeout).await {
            // EOF before the body ended: a truncated request (the client may still read).
            Ok(0) => {
                return Err(match decoder.handle_eof() {
                    Ok(()) => (Cause::ClientError, total),
                    Err(_) => (Cause::ProxyRefused, total),
                });
            }
            Ok(n) => {
                guard.with(|e| e.bytes_in += n as u64);
            }
            Err(IoFail::Timeout) => return Err((Cause::ClientTimeout, total)),
            Err(IoFail::Error) => return Err((Cause::ClientError, total)),
        }
    }
}

/// Streams the response body from the server to the client, re-framing chunked bodies.
/// Returns the bytes written to the client.
#[allow(clippy::too_many_arguments)]
async fn forward_response_body(
    c: &mut Conn,
    shard: &Rc<Shard>,
    sin: &mut InBuf,
    out: &mut Vec<u8>,
    framing: BodyFraming,
    backend: usize,
    client_timeout: Duration,
) -> Result<u64, (Cause, u64)> {
    let mut decoder = BodyDecoder::new(framing);
    let chunked = framing == BodyFraming::Chunked;
    let server_timeout = shard.config.backends[backend].timeout.server;
    let mut total = 0u64;
    let Conn {
        client,
        server,
        guard,
        ..
    } = c;
    // The head is in `out` already: it goes with the first body bytes in one write.
    let mut pending_head = true;
    let mut finished = decoder.is_finished();
    loop {
        // Decode everything already received before reading again.
        while !finished && !sin.is_empty() {
            let d = decoder
                .handle_input(sin.bytes())
                .map_err(|_| (Cause::ServerError, total))?;
            let payload = &sin.bytes()[d.payload.clone()];
            frame(out, payload, chunked);
            sin.consume(d.consumed);
            finished = decoder.is_finished();
            if finished && chunked {
                out.extend_from_slice(LAST_CHUNK);
            }
            if d.consumed == 0 {
                break;
            }
        }
        if pending_head || !out.is_empty() {
            let n = out.len() as u64;
            write_all(client, out, client_timeout)
                .await
                .map_err(|f| match f {
                    IoFail::Timeout => (Cause::ClientTimeout, total),
                    IoFail::Error => (Cause::ClientError, total),
                })?;
            guard.with(|e| e.bytes_out += n);
            if !pending_head {
                total += n;
            }
            pending_head = false;
            out.clear();
        }
        if finished {
            return Ok(total);
        }
        if sin.is_full() {
            return Err((Cause::ServerError, total));
        }
        let Some(s) = server.as_mut() else {
            return Err((Cause::ServerError, total));
        };
        match sin.fill(&mut s.stream, server_timeout).await {
            Ok(0) => {
                decoder
                    .handle_eof()
                    .map_err(|_| (Cause::ServerError, total))?;
                finished = decoder.is_finished();
            }
            Ok(_) => {}
            Err(IoFail::Timeout) => return Err((Cause::ServerTimeout, total)),
            Err(IoFail::Error) => return Err((Cause::ServerError, total)),
        }
    }
}

/// Appends `payload` to `out`, as one chunk when the outgoing body is chunked.
fn frame(out: &mut Vec<u8>, payload: &[u8], chunked: bool) {
    if payload.is_empty() {
        return;
    }
    if chunked {
        if let Some(len) = NonZeroUsize::new(payload.len()) {
            out.extend_from_slice(ChunkHeader::new(len).as_bytes());
        }
        out.extend_from_slice(payload);
        out.extend_from_slice(CHUNK_END);
    } else {
        out.extend_from_slice(payload);
    }
}

/// After a 101: copies bytes both ways until both sides closed or `limit` of inactivity.
async fn tunnel(
    c: &mut Conn,
    cin: &mut InBuf,
    sin: &mut InBuf,
    limit: Duration,
) -> (u64, u64, Termination) {
    let Conn {
        client,
        server,
        guard,
        shard,
        ..
    } = c;
    let Some(server) = server.as_mut() else {
        return (0, 0, Termination::new(Cause::ServerError, Phase::Data));
    };
    let server = &mut server.stream;
    // Bytes that arrived with the heads go first.
    let mut up = 0u64;
    let mut down = 0u64;
    if !cin.is_empty() {
        let n = cin.bytes().len();
        if write_all(server, cin.bytes(), limit).await.is_err() {
            return (up, down, Termination::new(Cause::ServerError, Phase::Data));
        }
        cin.consume(n);
        up += n as u64;
    }
    if !sin.is_empty() {
        let n = sin.bytes().len();
        if write_all(client, sin.bytes(), limit).await.is_err() {
            return (up, down, Termination::new(Cause::ClientError, Phase::Data));
        }
        sin.consume(n);
        down += n as u64;
    }
    let mut a = shard.bufs.take();
    let mut b = shard.bufs.take();
    let timeouts = super::tcp::Timeouts {
        client: limit,
        server: limit,
        tunnel: limit,
    };
    let (end, x, y) =
        super::tcp::copy_both_ways(client, server, &mut a, &mut b, timeouts, guard).await;
    shard.bufs.give(a);
    shard.bufs.give(b);
    (up + x, down + y, end)
}

fn warn_rate_limited(shard: &Shard, c: &Conn, what: &str) {
    // One line per 64 refusals per frontend: a flood of bad messages cannot flood the log.
    let n = shard.counters.borrow().frontends[c.frontend].request_errors;
    if n.is_multiple_of(64) {
        log::warn!(
            "shard {} stream {} from {}: {what}",
            shard.id,
            c.guard.slot().id(),
            c.peer
        );
    }
}

/// Counts one exchange and writes its access log line.
fn account(c: &Conn, shard: &Shard, ex: &Exchange) {
    {
        let mut counters = shard.counters.borrow_mut();
        let status = ex.status;
        let apply = |p: &mut super::counters::ProxyCounters, server_side: bool| {
            p.requests += 1;
            if status > 0 {
                p.count_status(status);
            }
            p.bytes_in += ex.bytes_in;
            p.bytes_out += ex.bytes_out;
            if server_side {
                p.response_errors += u64::from(ex.response_error);
            }
        };
        {
            let f = &mut counters.frontends[c.frontend];
            apply(f, false);
            f.request_errors += u64::from(ex.request_error);
            f.denied += u64::from(ex.denied);
            f.intercepted += u64::from(ex.intercepted);
        }
        if !ex.request_error && !ex.intercepted {
            apply(&mut counters.backends[ex.backend], true);
            if let Some(k) = ex.server {
                apply(&mut counters.servers[k.backend][k.server], true);
            }
        }
    }
    let mut log = shard.access_log.borrow_mut();
    let Some(log) = log.as_mut() else {
        return;
    };
    let ms =
        |a: Option<Instant>, b: Instant| a.map_or(-1, |a| a.duration_since(b).as_millis() as i64);
    let tq = ms(ex.got_head, ex.started);
    let tc = match (ex.connected, ex.got_head) {
        (Some(c), Some(h)) => c.duration_since(h).as_millis() as i64,
        _ => -1,
    };
    let tr = match (ex.response_head, ex.connected) {
        (Some(r), Some(c)) => r.duration_since(c).as_millis() as i64,
        _ => -1,
    };
    let ta = ex.started.elapsed().as_millis();
    let cfg = &shard.config;
    let backend = &cfg.backends[ex.backend];
    let server = ex
        .server
        .map_or("<NOSRV>", |k| backend.servers[k.server].name.as_str());
    let table = shard.table.borrow();
    let accepted = SystemTime::now()
        .checked_sub(ex.started.elapsed())
        .unwrap_or(SystemTime::UNIX_EPOCH);
    log.line(format!(
        "{} [{}] {} {}/{} {tq}/0/{tc}/{tr}/{ta} {} {} - - {}-- {}/{}/{}/{}/{} 0/0 \"{}\" shard={} stream={}",
        c.peer,
        crate::logging::haproxy_date(accepted),
        cfg.frontends[c.frontend].name,
        backend.name,
        server,
        ex.status,
        ex.bytes_out,
        ex.termination,
        table.len(),
        table.frontend_streams(c.frontend),
        table.backend_streams(ex.backend),
        ex.server.map_or(0, |k| table.server_streams(k)),
        ex.retries,
        ex.request_line.escape_debug(),
        shard.id,
        c.guard.slot().id(),
    ));
}
