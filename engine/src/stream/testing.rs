//! A test harness that drives a [`Machine`] with no socket: bytes in as the client or the
//! server would send them, everything the machine transmits collected per side, server
//! requests answered on demand, the clock moved by hand.

use std::time::{Duration, Instant};

use percore_conf::{Config, HostInfo};
use percore_protocols::http1::Limits;

use super::http::{HttpMachine, HttpStart};
use super::tcp::{TcpMachine, TcpStart, TcpTimeouts};
use super::{Connected, Env, Event, Machine, Pools, Record, ServerRequest, Side, Transmit};
use crate::ids::ServerKey;
use crate::stream::http::errors::ErrorPages;

/// How the harness answers server requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connect {
    /// A fresh connection to server 0 at once.
    Fresh,
    /// A pooled connection to server 0 at once.
    Pooled,
    /// Leave the request pending (the test answers with [`Pair::connect`]).
    Manual,
}

/// A machine and the two peers it talks to.
pub struct Pair<M: Machine> {
    /// The machine under test.
    pub m: M,
    config: Config,
    pages: Vec<ErrorPages>,
    limits: Limits,
    /// The buffers the machine borrows.
    pub pools: Pools,
    /// The harness clock.
    pub now: Instant,
    /// Every byte the machine wrote to the client.
    pub to_client: Vec<u8>,
    /// Every byte written to the server (all connections, in order).
    pub to_server: Vec<u8>,
    /// Half-closes the machine sent.
    pub client_shut: bool,
    /// Half-close toward the server.
    pub server_shut: bool,
    /// Finished records.
    pub records: Vec<Record>,
    /// Other events, in order.
    pub events: Vec<Event>,
    /// Unanswered server requests (with [`Connect::Manual`]).
    pub pending: Vec<ServerRequest>,
    /// Answer mode for server requests.
    pub connect: Connect,
    /// Bytes the client writes per read call (split tests), 0 = all at once.
    pub chunk: usize,
    /// Writes to the client fail.
    pub client_write_fails: bool,
    /// Most bytes the client takes per write call (0 = all).
    pub client_window: usize,
    /// Write calls made to the client.
    pub client_writes: usize,
    /// Writes to the server fail.
    pub server_write_fails: bool,
    /// Most bytes the server takes per write call (0 = all).
    pub server_window: usize,
}

/// A validated configuration from YAML text.
pub fn config(yaml: &str) -> Config {
    let host = HostInfo { cpus: vec![0] };
    percore_conf::parse("test.yaml", yaml, &host).unwrap_or_else(|e| panic!("{e}"))
}

/// A TCP stream of the client 192.0.2.7:5555 (to 127.0.0.1:80) on backend 0, with client,
/// server and tunnel timeouts of 10, 20 and 60 s, answered as `connect` says.
pub fn tcp_pair(config: Config, connect: Connect) -> Pair<TcpMachine> {
    Pair::new_with(config, connect, |env, now| {
        TcpMachine::new(
            env,
            now,
            TcpStart {
                backend: 0,
                hash: None,
                addrs: (
                    "192.0.2.7:5555".parse().expect("addr"),
                    "127.0.0.1:80".parse().expect("addr"),
                ),
                timeouts: TcpTimeouts {
                    client: Duration::from_secs(10),
                    server: Duration::from_secs(20),
                    tunnel: Duration::from_secs(60),
                },
            },
        )
    })
}

/// An HTTP stream of a client at `peer` (to 198.51.100.1:80) on frontend 0, answered as
/// `connect` says.
pub fn http_pair(
    config: Config,
    connect: Connect,
    peer: &str,
    log_requests: bool,
) -> Pair<HttpMachine> {
    let peer = peer.parse().expect("addr");
    Pair::new_with(config, connect, move |env, now| {
        HttpMachine::new(
            env,
            now,
            HttpStart {
                frontend: 0,
                peer,
                local: "198.51.100.1:80".parse().expect("addr"),
                log_requests,
                tls: None,
            },
        )
    })
}

impl<M: Machine> Pair<M> {
    /// A pair around the machine `make` builds from the environment; server requests are
    /// answered with fresh connections.
    pub fn new(config: Config, make: impl FnOnce(&Env<'_>, Instant) -> M) -> Self {
        Self::new_with(config, Connect::Fresh, make)
    }

    /// A pair that answers server requests as `connect` says, from the first one on.
    pub fn new_with(
        config: Config,
        connect: Connect,
        make: impl FnOnce(&Env<'_>, Instant) -> M,
    ) -> Self {
        let pages = vec![ErrorPages::default(); config.frontends.len()];
        let limits = Limits {
            max_header_size: config.global.tune.max_header_size,
            max_headers: config.global.tune.max_headers,
        };
        let now = Instant::now();
        let pools = Pools::new(
            config
                .global
                .tune
                .bufsize
                .max(config.global.tune.max_header_size + 1),
        );
        let env = Env {
            config: &config,
            layout: &config,
            pages: &pages,
            limits: &limits,
            stopping: false,
            pools: &pools,
        };
        let m = make(&env, now);
        let mut pair = Pair {
            m,
            config,
            pages,
            limits,
            pools,
            now,
            to_client: Vec::new(),
            to_server: Vec::new(),
            client_shut: false,
            server_shut: false,
            records: Vec::new(),
            events: Vec::new(),
            pending: Vec::new(),
            connect,
            chunk: 0,
            client_write_fails: false,
            client_window: 0,
            client_writes: 0,
            server_write_fails: false,
            server_window: 0,
        };
        pair.pump();
        pair
    }

    /// Runs `f` with the machine and its environment.
    fn with<R>(&mut self, f: impl FnOnce(&mut M, &Env<'_>, Instant) -> R) -> R {
        let env = Env {
            config: &self.config,
            layout: &self.config,
            pages: &self.pages,
            limits: &self.limits,
            stopping: false,
            pools: &self.pools,
        };
        f(&mut self.m, &env, self.now)
    }

    /// The client sends `bytes` (in `chunk`-sized reads); returns how many the machine took.
    pub fn client(&mut self, bytes: &[u8]) -> usize {
        self.feed(Side::Client, bytes)
    }

    /// The server sends `bytes`; returns how many the machine took.
    pub fn server(&mut self, bytes: &[u8]) -> usize {
        self.feed(Side::Server, bytes)
    }

    fn feed(&mut self, side: Side, bytes: &[u8]) -> usize {
        let mut at = 0;
        while at < bytes.len() {
            let step = if self.chunk == 0 {
                bytes.len()
            } else {
                self.chunk
            };
            let chunk = &bytes[at..];
            let n = self.with(|m, env, now| {
                let space = m.read_space(env, side)?;
                let n = space.len().min(step).min(chunk.len());
                space[..n].copy_from_slice(&chunk[..n]);
                m.handle_read(env, now, side, n);
                Some(n)
            });
            let Some(n) = n else {
                break;
            };
            at += n;
            self.pump();
        }
        at
    }

    /// End of stream from `side`.
    pub fn eof(&mut self, side: Side) {
        self.with(|m, env, now| {
            if m.read_space(env, side).is_some() {
                m.handle_read(env, now, side, 0);
            }
        });
        self.pump();
    }

    /// The shell would wait now: empty buffers go back to the pools.
    pub fn park(&mut self) {
        self.with(|m, env, _| m.park(env));
    }

    /// A reset (read error) on `side`.
    pub fn reset(&mut self, side: Side) {
        self.with(|m, env, now| m.handle_read_error(env, now, side));
        self.pump();
    }

    /// Moves the clock and fires the deadline if it passed.
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        if self.m.poll_timeout().is_some_and(|at| at <= self.now) {
            self.with(|m, env, now| m.handle_timeout(env, now));
        }
        self.pump();
    }

    /// Answers the oldest pending server request.
    pub fn connect(&mut self, result: Connected) {
        assert!(!self.pending.is_empty(), "no pending server request");
        self.pending.remove(0);
        self.with(|m, env, now| m.handle_connected(env, now, result));
        self.pump();
    }

    /// Writes and events until nothing moves.
    pub fn pump(&mut self) {
        loop {
            let mut moved = self.drain_writes();
            while let Some(event) = self.m.poll_event() {
                moved = true;
                self.on_event(event);
            }
            if !moved {
                return;
            }
        }
    }

    fn drain_writes(&mut self) -> bool {
        let mut moved = false;
        for side in [Side::Client, Side::Server] {
            loop {
                let (fails, window) = match side {
                    Side::Client => (self.client_write_fails, self.client_window),
                    Side::Server => (self.server_write_fails, self.server_window),
                };
                let limited = window > 0;
                let window = if limited { window } else { usize::MAX };
                let written = match self.m.poll_transmit(side) {
                    None => break,
                    Some(_) if fails => None,
                    Some(Transmit::Bytes(b)) => {
                        if side == Side::Client {
                            self.client_writes += 1;
                        }
                        let n = b.len().min(window);
                        let out = match side {
                            Side::Client => &mut self.to_client,
                            Side::Server => &mut self.to_server,
                        };
                        out.extend_from_slice(&b[..n]);
                        Some(n)
                    }
                    Some(Transmit::Shutdown) => {
                        match side {
                            Side::Client => self.client_shut = true,
                            Side::Server => self.server_shut = true,
                        }
                        Some(0)
                    }
                };
                moved = true;
                match written {
                    Some(n) => self.with(|m, env, now| m.handle_written(env, now, side, n)),
                    None => {
                        self.with(|m, env, now| m.handle_write_error(env, now, side));
                        break;
                    }
                }
                // A peer with a window takes one write per turn, like a full socket.
                if limited {
                    break;
                }
            }
        }
        moved
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Record(r) => self.records.push(*r),
            Event::NeedServer(request) => {
                let server = request.only.unwrap_or(0);
                let key = ServerKey {
                    backend: request.backend,
                    server,
                };
                let reused = self.connect == Connect::Pooled && request.pool;
                let answer = match self.connect {
                    Connect::Manual => None,
                    _ => Some(Connected::Ready {
                        server: key,
                        reused,
                        queued_ms: 0,
                    }),
                };
                self.events.push(Event::NeedServer(request.clone()));
                match answer {
                    Some(a) => self.with(|m, env, now| m.handle_connected(env, now, a)),
                    None => self.pending.push(request),
                }
            }
            other => self.events.push(other),
        }
    }

    /// The client output as text (lossy), for messages.
    pub fn client_text(&self) -> String {
        String::from_utf8_lossy(&self.to_client).into_owned()
    }

    /// The server output as text (lossy).
    pub fn server_text(&self) -> String {
        String::from_utf8_lossy(&self.to_server).into_owned()
    }

    /// Takes what the client got so far.
    pub fn take_client(&mut self) -> String {
        let t = self.client_text();
        self.to_client.clear();
        t
    }

    /// Takes what the server got so far.
    pub fn take_server(&mut self) -> String {
        let t = self.server_text();
        self.to_server.clear();
        t
    }
}
