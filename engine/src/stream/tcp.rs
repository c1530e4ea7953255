//! [`TcpMachine`]: one TCP-mode stream.
//!
//! ```text
//! new ──NeedServer──> connecting ──Ready──> [PROXY header] ──> data: copy both ways ──> closed
//!          ^              │Failed: retry (Attempts) / all failed: SC, no server: SC, queue: sQ
//!          └──────────────┘
//! ```
//!
//! Each direction has one buffer: bytes read from one side are written to the other from the
//! same buffer (no copy); the next read waits until the buffer is empty. An end of stream is
//! forwarded as a half-close once the buffer drained. Timeouts: until bytes have moved both
//! ways, silence waiting for the client ends the stream after `timeout.client` (`cD`),
//! waiting for the server after `timeout.server` (`sD`); then `timeout.tunnel` applies to
//! inactivity in both directions (HAProxy with `timeout tunnel` set).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use percore_protocols::proxy;

use super::attempt::{Attempts, Outcome};
use super::buf::Buf;
use super::{Connected, Env, Event, Events, Fault, Machine, Record, Side, Transmit};
use crate::termination::{Cause, Phase, Termination};

/// Inactivity limits of a TCP stream.
#[derive(Debug, Clone, Copy)]
pub struct TcpTimeouts {
    /// Silence from the client before both directions carried data.
    pub client: Duration,
    /// Silence from the server after the client spoke, before both directions carried data.
    pub server: Duration,
    /// Inactivity once both directions carried data.
    pub tunnel: Duration,
}

/// What a new TCP stream needs to know.
#[derive(Debug, Clone)]
pub struct TcpStart {
    /// Backend of the frontend.
    pub backend: usize,
    /// `balance source` key.
    pub hash: Option<u64>,
    /// Client address and the address it connected to (PROXY header).
    pub addrs: (SocketAddr, SocketAddr),
    /// Timeouts.
    pub timeouts: TcpTimeouts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for the shell's answer to a server request.
    Connecting,
    /// Copying.
    Data,
    /// Over; the record was emitted.
    Closed,
}

/// One direction of the copy.
#[derive(Debug)]
struct Flow {
    buf: Buf,
    /// End of stream read from the source.
    eof: bool,
    /// Half-close sent to the destination.
    shut: bool,
    /// Bytes written to the destination.
    bytes: u64,
}

impl Flow {
    fn new() -> Self {
        Flow {
            buf: Buf::new(),
            eof: false,
            shut: false,
            bytes: 0,
        }
    }
}

/// One TCP-mode stream.
#[derive(Debug)]
pub struct TcpMachine {
    state: State,
    /// Client → server.
    up: Flow,
    /// Server → client.
    down: Flow,
    /// Bytes read from the client (`bin`).
    bytes_in: u64,
    timeouts: TcpTimeouts,
    last_activity: Instant,
    attempts: Box<Attempts>,
    addrs: (SocketAddr, SocketAddr),
    /// Bytes of the PROXY header still to be written ahead of the client's bytes.
    proxy_header_left: usize,
    events: Events,
    /// Boxed with `attempts`: a long-lived idle stream keeps its frame small.
    record: Box<Record>,
}

impl TcpMachine {
    /// A stream accepted `now`; its first event asks for a server connection.
    pub fn new(env: &Env<'_>, now: Instant, start: TcpStart) -> Self {
        let be = &env.config.backends[start.backend];
        let attempts = Box::new(Attempts::new(
            start.backend,
            start.hash,
            be.retries,
            be.redispatch,
        ));
        let mut events = Events::default();
        events.push(attempts.request(false, false));
        TcpMachine {
            state: State::Connecting,
            up: Flow::new(),
            down: Flow::new(),
            bytes_in: 0,
            timeouts: start.timeouts,
            last_activity: now,
            attempts,
            addrs: start.addrs,
            proxy_header_left: 0,
            events,
            record: Box::new(Record::new(start.backend, now, false)),
        }
    }

    /// Bytes read from the client so far.
    pub fn bytes_in(&self) -> u64 {
        self.bytes_in
    }

    /// Bytes written to the client so far.
    pub fn bytes_out(&self) -> u64 {
        self.down.bytes
    }

    fn flow(&mut self, from: Side) -> &mut Flow {
        match from {
            Side::Client => &mut self.up,
            Side::Server => &mut self.down,
        }
    }

    fn end(&mut self, now: Instant, termination: Termination, fault: Option<Fault>) {
        if self.state == State::Closed {
            return;
        }
        self.state = State::Closed;
        let mut r = std::mem::replace(&mut *self.record, Record::new(0, now, false));
        r.ended = now;
        r.bytes_in = self.bytes_in;
        r.bytes_out = self.down.bytes;
        r.retries = self.attempts.retries;
        r.queued_ms = self.attempts.queued_ms;
        r.connected_at = self.attempts.connected_at;
        r.termination = termination;
        r.fault = fault;
        self.events.push(Event::Record(Box::new(r)));
    }

    fn fail(&mut self, now: Instant, fault: Fault) {
        let t = fault.effects().termination;
        self.end(now, t, Some(fault));
    }

    fn check_done(&mut self, now: Instant) {
        if self.up.shut && self.down.shut {
            self.end(now, Termination::new(Cause::Normal, Phase::Data), None);
        }
    }

    /// The deadline and the fault it raises (see the module doc).
    fn deadline(&self) -> (Instant, Fault) {
        let (limit, fault) = if self.up.bytes > 0 && self.down.bytes > 0 {
            // A tunnel: blame the side we are waiting on.
            let waiting_on_server = self.up.eof || !self.up.buf.is_empty();
            let fault = if waiting_on_server {
                Fault::ServerTimeout
            } else {
                Fault::ClientTimeout
            };
            (self.timeouts.tunnel, fault)
        } else if self.up.bytes == 0 {
            (self.timeouts.client, Fault::ClientTimeout)
        } else {
            (self.timeouts.server, Fault::ServerTimeout)
        };
        (self.last_activity + limit, fault)
    }
}

impl Machine for TcpMachine {
    fn read_space(&mut self, env: &Env<'_>, side: Side) -> Option<&mut [u8]> {
        if self.state != State::Data {
            return None;
        }
        let flow = self.flow(side);
        if flow.eof || !flow.buf.is_empty() {
            return None;
        }
        Some(flow.buf.spare(env.pools))
    }

    fn park(&mut self, env: &Env<'_>) {
        // A done stream copies nothing more: drop what is held so the storage goes back to
        // the pool (see `HttpMachine::park`).
        if self.is_done() {
            self.up.buf.clear();
            self.down.buf.clear();
        }
        self.up.buf.release(env.pools);
        self.down.buf.release(env.pools);
    }

    fn handle_read(&mut self, _env: &Env<'_>, now: Instant, side: Side, n: usize) {
        if self.state != State::Data {
            return;
        }
        if side == Side::Client {
            self.bytes_in += n as u64;
        }
        let flow = self.flow(side);
        if n == 0 {
            flow.eof = true;
        } else {
            flow.buf.commit(n);
            self.last_activity = now;
        }
    }

    fn handle_read_error(&mut self, _env: &Env<'_>, now: Instant, side: Side) {
        let fault = match side {
            Side::Client => Fault::ClientAbortedResponse,
            Side::Server => Fault::ServerAbortedBody,
        };
        self.fail(now, fault);
    }

    fn poll_transmit(&mut self, side: Side) -> Option<Transmit<'_>> {
        if self.state != State::Data {
            return None;
        }
        // Output toward `side` comes from the flow that reads the other side.
        let flow = match side {
            Side::Client => &mut self.down,
            Side::Server => &mut self.up,
        };
        if !flow.buf.is_empty() {
            return Some(Transmit::Bytes(flow.buf.bytes()));
        }
        if flow.eof && !flow.shut {
            return Some(Transmit::Shutdown);
        }
        None
    }

    fn handle_written(&mut self, _env: &Env<'_>, now: Instant, side: Side, n: usize) {
        let header = if side == Side::Server {
            let h = n.min(self.proxy_header_left);
            self.proxy_header_left -= h;
            h
        } else {
            0
        };
        let flow = match side {
            Side::Client => &mut self.down,
            Side::Server => &mut self.up,
        };
        if flow.buf.is_empty() {
            // After a Shutdown: the FIN was forwarded.
            flow.shut = true;
            self.check_done(now);
            return;
        }
        flow.buf.consume(n);
        flow.bytes += (n - header) as u64;
        self.last_activity = now;
    }

    fn handle_write_error(&mut self, env: &Env<'_>, now: Instant, side: Side) {
        self.handle_read_error(env, now, side);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        (self.state == State::Data).then(|| self.deadline().0)
    }

    fn handle_timeout(&mut self, _env: &Env<'_>, now: Instant) {
        if self.state != State::Data {
            return;
        }
        let (at, fault) = self.deadline();
        if now >= at {
            self.fail(now, fault);
        }
    }

    fn has_event(&self) -> bool {
        !self.events.is_empty()
    }

    fn poll_event(&mut self) -> Option<Event> {
        let event = self.events.pop();
        // A TCP stream has events only when it connects and when it ends.
        if event.is_none() {
            self.events.release();
        }
        event
    }

    fn handle_connected(&mut self, env: &Env<'_>, now: Instant, result: Connected) {
        if self.state != State::Connecting {
            return;
        }
        match self.attempts.handle(now, result, &mut self.events) {
            Outcome::Ready { server, .. } => {
                self.state = State::Data;
                self.record.server = Some(server);
                self.last_activity = now;
                let srv = &env.layout.backends[server.backend].servers[server.server];
                if let Some(version) = srv.send_proxy {
                    let version = match version {
                        percore_conf::ProxyVersion::V1 => proxy::Version::V1,
                        percore_conf::ProxyVersion::V2 => proxy::Version::V2,
                    };
                    let mut header = Vec::with_capacity(proxy::V1_MAX_BYTES);
                    proxy::encode(version, self.addrs.0, self.addrs.1, &mut header);
                    // Not client bytes: written ahead of them, not counted as moved data.
                    self.up.buf.extend(env.pools, &header);
                    self.proxy_header_left = header.len();
                }
            }
            Outcome::Retrying => {}
            Outcome::Failed(fault) => {
                self.fail(now, fault);
            }
        }
    }

    fn is_done(&self) -> bool {
        self.state == State::Closed && self.events.is_empty()
    }

    fn has_server(&self) -> bool {
        self.state == State::Data
    }

    fn live_bytes(&self) -> (u64, u64) {
        if self.state == State::Closed {
            (0, 0)
        } else {
            (self.bytes_in, self.down.bytes)
        }
    }

    fn stray_bytes_in(&self) -> u64 {
        0
    }

    fn killed_record(&mut self, now: Instant) -> Option<Record> {
        if self.state == State::Closed {
            return None;
        }
        let phase = if self.state == State::Connecting {
            Phase::Connect
        } else {
            Phase::Data
        };
        self.end(now, Termination::new(Cause::Killed, phase), None);
        match self.events.pop_last() {
            Some(Event::Record(r)) => Some(*r),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
