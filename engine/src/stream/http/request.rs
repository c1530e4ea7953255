//! The request side of an exchange: the head (parse, `http_request` rules, routing,
//! `X-Forwarded-*`, local replies), the body toward the server, and tunnel bytes upward.

use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::time::Instant;

use percore_conf::http::{HeaderAction, HttpReuse, RequestAction};
use percore_protocols::http1::{
    BodyDecoder, BodyFraming, ChunkHeader, ConnectionHeader, EditError, HeadScan, RequestHead,
    ResponseHead, CHUNK_END,
};

use super::body::{pump, Pumped};
use super::route::{self, RequestView};
use super::{Close, Exchange, HttpMachine, Req, Resp};
use crate::stream::attempt::Attempts;
use crate::stream::capture::ErrorCapture;
use crate::stream::http::errors;
use crate::stream::{Env, Event, Fault, Record};
use crate::termination::{Cause, Phase, Termination};

/// The request as `when` conditions see it.
pub(super) struct View<'a> {
    pub(super) head: &'a RequestHead,
    pub(super) src: IpAddr,
    pub(super) tls: Option<&'a super::TlsNames>,
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
    fn sni(&self) -> Option<&str> {
        self.tls.and_then(|t| t.sni.as_deref())
    }
    fn alpn(&self) -> Option<&str> {
        self.tls.and_then(|t| t.alpn.as_deref())
    }
}

/// The header edits of rules, the same on request and response heads.
pub(super) trait EditHeaders {
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
pub(super) fn edit_headers(
    head: &mut impl EditHeaders,
    action: &HeaderAction,
) -> Result<(), EditError> {
    match action {
        HeaderAction::Set { name, value } => head.set_header(name, value.as_bytes()),
        HeaderAction::Add { name, value } => head.add_header(name, value.as_bytes()),
        HeaderAction::Del(name) => head.remove_header(name).map(|_| ()),
    }
}

/// Appends `payload` to `out`, as one chunk when the outgoing body is chunked.
pub(super) fn frame(out: &mut Vec<u8>, payload: &[u8], chunked: bool) {
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

/// Answers a head that cannot be served (invalid, too large, too slow) and closes.
pub(super) fn refuse_head(m: &mut HttpMachine, env: &Env<'_>, now: Instant, fault: Fault) {
    let started = match m.req {
        Req::Head { started, .. } => started,
        _ => now,
    };
    m.begin_exchange(env, started, None);
    let ex = m.ex.as_mut().expect("just begun");
    // The refused head's bytes were received for this exchange.
    ex.record.bytes_in += m.cin.len() as u64;
    m.cin.clear();
    m.fail(env, now, fault);
}

impl HttpMachine {
    /// Starts the record of a new exchange on the frontend's default backend.
    fn begin_exchange(&mut self, env: &Env<'_>, started: Instant, head: Option<RequestHead>) {
        let backend = env.config.frontends[self.frontend].default_backend;
        let version = head
            .as_ref()
            .map_or(percore_protocols::http1::Version::Http11, |h| h.version());
        self.ex = Some(Box::new(Exchange {
            record: Record::new(backend, started, true),
            head,
            version,
            has_body: false,
            is_head: false,
            replayable: false,
            attempts: None,
            response_started: false,
            final_offset: None,
            response_sent: false,
            server_keeps: false,
            close: false,
            server_conn: ConnectionHeader::Omit,
        }));
    }

    /// Request-side progress: heads, bodies and tunnel bytes.
    pub(super) fn advance_request(&mut self, env: &Env<'_>, now: Instant) {
        if self.close != Close::Open {
            return;
        }
        match self.req {
            Req::Idle { .. } | Req::Head { .. } => self.advance_head(env, now),
            Req::Body { .. } => self.advance_body(env, now),
            Req::Tunnel => {
                let n = self.cin.len().min(self.sout.room(env.pools));
                if n > 0 && self.server.is_some() {
                    self.sout.extend(env.pools, &self.cin.bytes()[..n]);
                    self.cin.consume(n);
                    if let Some(ex) = self.ex.as_mut() {
                        ex.record.bytes_in += n as u64;
                    }
                }
            }
            Req::Done => {}
        }
    }

    /// Parses the next head once its bytes are in.
    fn advance_head(&mut self, env: &Env<'_>, now: Instant) {
        if self.ex.is_some() || self.cin.is_empty() {
            return;
        }
        if let Req::Idle { .. } = self.req {
            self.req = Req::Head {
                started: now,
                scan: HeadScan::new(),
            };
        }
        let Req::Head { started, scan } = &mut self.req else {
            return;
        };
        let started = *started;
        let mut spare = env.pools.take_head();
        let parsed = scan.handle_request(self.cin.bytes(), env.limits, &mut spare);
        if !matches!(parsed, Ok(Some(_))) {
            env.pools.give_head(spare);
        }
        match parsed {
            Ok(Some((head, consumed))) => self.on_request_head(env, now, started, head, consumed),
            Ok(None) if self.cin.is_full(env.pools) => {
                refuse_head(self, env, now, Fault::RequestHeadTooLarge)
            }
            Ok(None) if self.client_eof => refuse_head(self, env, now, Fault::ClientAbortedRequest),
            Ok(None) => {}
            Err(e) => {
                let capture = ErrorCapture::request(self.cin.bytes(), &e);
                self.events.push(Event::CaptureError(Box::new(capture)));
                refuse_head(self, env, now, Fault::InvalidRequest(e))
            }
        }
    }

    /// A complete head: rules, routing, then the server request.
    fn on_request_head(
        &mut self,
        env: &Env<'_>,
        now: Instant,
        started: Instant,
        head: RequestHead,
        consumed: usize,
    ) {
        self.cin.consume(consumed);
        let has_body = !matches!(head.framing(), BodyFraming::None | BodyFraming::Length(0));
        let request_line = self.log_requests.then(|| {
            format!(
                "{} {} {}",
                head.method(),
                head.target(),
                head.version().as_str()
            )
        });
        let (is_head, replayable) = (head.is_head(), !has_body && head.is_idempotent());
        self.begin_exchange(env, started, Some(head));
        let ex = self.ex.as_mut().expect("just begun");
        ex.record.bytes_in += consumed as u64;
        ex.record.head_at = Some(now);
        ex.record.request_line = request_line.unwrap_or_default();
        ex.has_body = has_body;
        ex.is_head = is_head;
        ex.replayable = replayable;
        if self.apply_request_rules(env, now) {
            return;
        }
        let Some(backend) = self.route(env, now) else {
            return;
        };
        if let Err(e) = self.forward_for(env) {
            self.fail(env, now, Fault::RewriteFailed(e));
            return;
        }
        self.send_to_backend(env, backend);
    }

    /// Runs the frontend's `http_request` rules in order: header edits change the head;
    /// `deny`, `redirect` and `return` answer it. True when the request was answered.
    fn apply_request_rules(&mut self, env: &Env<'_>, now: Instant) -> bool {
        let fe = &env.config.frontends[self.frontend];
        let src = self.peer.ip();
        let tls = self.tls.as_deref();
        for rule in &fe.http.request_rules {
            let ex = self.ex.as_mut().expect("exchange in progress");
            let head = ex.head.as_mut().expect("head parsed");
            let applies = rule
                .when
                .as_ref()
                .is_none_or(|w| route::matches(w, &View { head, src, tls }));
            if !applies {
                continue;
            }
            let close = ex.has_body || !head.keep_alive();
            match &rule.action {
                RequestAction::Header(action) => {
                    if let Err(e) = edit_headers(head, action) {
                        self.fail(env, now, Fault::RewriteFailed(e));
                        return true;
                    }
                }
                RequestAction::Deny(status) => {
                    let page = env.pages[self.frontend].page(*status);
                    let t = Termination::new(Cause::ProxyRefused, Phase::Request);
                    self.local_reply(env, &page, *status, true, t);
                    self.ex.as_mut().expect("in progress").record.denied = true;
                    return true;
                }
                RequestAction::Redirect { code, location } => {
                    let resp = errors::redirect(*code, location, close);
                    let t = Termination::new(Cause::Local, Phase::Request);
                    self.local_reply(env, &resp, *code, close, t);
                    return true;
                }
                RequestAction::Return {
                    status,
                    body,
                    content_type,
                } => {
                    let resp = errors::fixed(*status, content_type, body, close);
                    let t = Termination::new(Cause::Local, Phase::Request);
                    self.local_reply(env, &resp, *status, close, t);
                    return true;
                }
            }
        }
        false
    }

    /// The backend for the request; answers 404 itself when no route matches.
    fn route(&mut self, env: &Env<'_>, _now: Instant) -> Option<usize> {
        let fe = &env.config.frontends[self.frontend];
        let ex = self.ex.as_ref().expect("exchange in progress");
        let head = ex.head.as_ref().expect("head parsed");
        let fallback = (!fe.http.not_found_without_route).then_some(fe.default_backend);
        let view = View {
            head,
            src: self.peer.ip(),
            tls: self.tls.as_deref(),
        };
        if let Some(backend) = route::route(&fe.http.routes, fallback, &view) {
            return Some(backend);
        }
        let close = ex.has_body || !head.keep_alive();
        // Error pages close the connection; a bodiless request may keep it.
        let page = if close {
            env.pages[self.frontend].page(404)
        } else {
            errors::fixed(404, "text/html", NOT_FOUND_BODY, false)
        };
        let t = Termination::new(Cause::Local, Phase::Request);
        self.local_reply(env, &page, 404, close, t);
        None
    }

    /// Adds `X-Forwarded-For` / `X-Forwarded-Proto` when the frontend asks for them.
    fn forward_for(&mut self, env: &Env<'_>) -> Result<(), EditError> {
        if !env.config.frontends[self.frontend].http.forwardfor {
            return Ok(());
        }
        let src = self.peer.ip();
        let ip = match src {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(src, IpAddr::V4),
            v4 => v4,
        };
        let head = self
            .ex
            .as_mut()
            .and_then(|ex| ex.head.as_mut())
            .expect("head parsed");
        head.add_header("x-forwarded-for", ip.to_string().as_bytes())?;
        let proto: &[u8] = if self.tls.is_some() {
            b"https"
        } else {
            b"http"
        };
        head.set_header("x-forwarded-proto", proto)
    }

    /// Queues the head toward `backend` and asks the shell for a server connection.
    fn send_to_backend(&mut self, env: &Env<'_>, backend: usize) {
        let be = &env.config.backends[backend];
        let first = self.first;
        let src = self.peer.ip();
        let ex = self.ex.as_mut().expect("exchange in progress");
        let head = ex.head.as_ref().expect("head parsed");
        ex.record.backend = backend;
        ex.record.routed = true;
        ex.server_conn = if be.http.reuse == HttpReuse::Never {
            ConnectionHeader::Close
        } else if head.upgrade().is_some() {
            ConnectionHeader::Upgrade
        } else {
            ConnectionHeader::Omit
        };
        let use_pool = match be.http.reuse {
            HttpReuse::Never => false,
            HttpReuse::Safe => !first,
            HttpReuse::Always => true,
        };
        let hash = lb_hash(&be.balance, head, src);
        let attempts = Attempts::new(backend, hash, be.retries, be.redispatch);
        let conn = ex.server_conn;
        self.sout.append_with(env.pools, |v| head.write(conn, v));
        self.client_done = !ex.has_body && !head.keep_alive();
        self.req = if ex.has_body {
            Req::Body {
                decoder: BodyDecoder::new(head.framing()),
            }
        } else {
            Req::Done
        };
        self.events.push(Event::Routed(backend));
        self.events.push(attempts.request(use_pool, ex.replayable));
        ex.attempts = Some(attempts);
        self.resp = Resp::Connecting;
    }

    /// Percore answers the request itself with `bytes`; the exchange ends once they are
    /// written. The request body, if any, is not read: the connection then closes.
    fn local_reply(
        &mut self,
        env: &Env<'_>,
        bytes: &[u8],
        status: u16,
        close: bool,
        t: Termination,
    ) {
        let ex = self.ex.as_mut().expect("exchange in progress");
        ex.record.status = status;
        ex.record.intercepted = true;
        ex.record.termination = t;
        ex.response_started = true;
        ex.final_offset = Some(self.cout.len());
        ex.close = close || ex.has_body;
        self.client_done = !ex.has_body && ex.head.as_ref().is_some_and(|h| !h.keep_alive());
        self.cout.extend(env.pools, bytes);
        self.req = Req::Done;
        self.resp = Resp::Local;
    }

    /// Forwards request body bytes toward the server as room allows.
    fn advance_body(&mut self, env: &Env<'_>, now: Instant) {
        let Req::Body { decoder } = &mut self.req else {
            return;
        };
        let Some(ex) = self.ex.as_mut() else {
            return;
        };
        let chunked = ex.head.as_ref().map(|h| h.framing()) == Some(BodyFraming::Chunked);
        let bufs = (&mut self.cin, &mut self.sout);
        let mut failed = match pump(decoder, bufs, chunked, env.pools, &mut ex.record.bytes_in) {
            Pumped::Finished => {
                self.client_done = ex.head.as_ref().is_some_and(|h| !h.keep_alive());
                self.req = Req::Done;
                return;
            }
            Pumped::Waiting => None,
            Pumped::Failed(e) => Some(Fault::InvalidRequestBody(e)),
        };
        if failed.is_none() && self.client_eof && self.cin.is_empty() {
            // A half-closed client may still read: a truncated body is answered 400.
            failed = Some(match decoder.handle_eof() {
                Ok(()) => Fault::ClientAbortedRequest,
                Err(e) => Fault::InvalidRequestBody(e),
            });
        }
        if let Some(fault) = failed {
            if ex.response_started {
                // The server already answered: the rest of the upload does not matter.
                self.req = Req::Done;
                ex.close = true;
            } else {
                self.fail(env, now, fault);
            }
        }
    }
}

/// The request's key for hash-based balancing.
fn lb_hash(balance: &percore_conf::Balance, head: &RequestHead, src: IpAddr) -> Option<u64> {
    use crate::stream::hash::{hash_bytes, uri_key};
    match balance {
        percore_conf::Balance::Source => Some(crate::stream::hash::source_hash(src)),
        percore_conf::Balance::Uri { len, depth } => {
            Some(hash_bytes(uri_key(head.path(), *len, *depth).as_bytes()))
        }
        percore_conf::Balance::Hdr(name) => head.header(name).map(hash_bytes),
        _ => None,
    }
}

/// Body of the 404 percore answers when no route matches and the connection stays open.
const NOT_FOUND_BODY: &str = "<html><body><h1>404 Not Found</h1>\nThe requested URL was not \
                              found on this server.\n</body></html>\n";
