//! TCP mode: the life of one stream.
//!
//! ```text
//! accept ──> pick server ──> connect ──ok──> [PROXY header] ──> copy both ways ──> close ──> log
//!               ^              │fail                              │ FIN each way is
//!               └──retry (≤ retries, next server if redispatch)───┘ propagated (half-close)
//!            all attempts failed: close client, flags "SC"
//! kill (admin, stop grace) at any point: task cancelled, sockets dropped, flags "K?"
//! ```
//!
//! Timeouts: `timeout.connect` per connection attempt. In the data phase a single inactivity
//! deadline applies: until bytes have moved in both directions, silence waiting for the
//! client ends the stream after `timeout.client` (flags `cD`), silence waiting for the server
//! after `timeout.server` (`sD`); once both directions have carried data the stream is a
//! tunnel and `timeout.tunnel` applies to inactivity in both directions. This is HAProxy's
//! behaviour with `timeout tunnel` set, except that a peer which never speaks is still cut by
//! the shorter client/server timeout.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_lite::{AsyncRead, AsyncWrite, AsyncWriteExt};
use glommio::net::TcpStream;
use glommio::timer::Timer;
use percore_protocols::proxy;

use super::budget::BudgetSlot;
use super::connect::{connect_server, ConnectFail};
use super::table::{StreamGuard, StreamState};
use super::Shard;
use crate::termination::{Cause, Phase, Termination};

/// Bytes moved by one stream per wake-up before it yields to other streams.
const COPY_BUDGET_BYTES: usize = 256 * 1024;

/// Registers a freshly accepted client connection and spawns its stream task.
pub fn start(shard: &Rc<Shard>, frontend: usize, client: TcpStream, slots: [BudgetSlot; 2]) {
    let (Ok(peer), Ok(local)) = (client.peer_addr(), client.local_addr()) else {
        // The client already went away (ENOTCONN); nothing to serve or log.
        return;
    };
    let Some(slot) = shard.register_stream(frontend, peer) else {
        return;
    };
    let backend = shard.config.frontends[frontend].default_backend;
    let conn = Conn {
        client,
        server: None,
        server_slot: None,
        bufs: None,
        _slots: slots,
        end: Cell::new(None),
        attempts: 0,
        connected_at: None,
        peer,
        local,
        frontend,
        backend,
        shard: shard.clone(),
        guard: StreamGuard::new(shard.table.clone(), slot),
    };
    let task = glommio::spawn_local(run(conn)).detach();
    shard.table.borrow_mut().set_kill_handle(slot, task);
}

/// Everything a stream owns. Field order is drop order: sockets close first, then buffers go
/// back to the pool, budgets are released, and last the table entry disappears — so the
/// control task may treat "entry gone" as "both sockets closed".
struct Conn {
    client: TcpStream,
    server: Option<TcpStream>,
    /// The server's `maxconn` slot, held for the stream's life.
    server_slot: Option<BudgetSlot>,
    bufs: Option<[Box<[u8]>; 2]>,
    _slots: [BudgetSlot; 2],
    /// How the stream ended; `None` when the task was cancelled (killed).
    end: Cell<Option<Termination>>,
    attempts: u32,
    connected_at: Option<Instant>,
    peer: SocketAddr,
    local: SocketAddr,
    frontend: usize,
    backend: usize,
    shard: Rc<Shard>,
    guard: StreamGuard,
}

impl Drop for Conn {
    fn drop(&mut self) {
        // A stream that did not record its end was cancelled: killed.
        let state = self.guard.with(|e| e.state);
        let end = self.end.get().unwrap_or(Termination {
            cause: Cause::Killed,
            phase: if state == Some(StreamState::Connecting) {
                Phase::Connect
            } else {
                Phase::Data
            },
        });
        if let Some(bufs) = self.bufs.take() {
            for b in bufs {
                self.shard.bufs.give(b);
            }
        }
        let entry = self
            .guard
            .with(|e| (e.server, e.bytes_in, e.bytes_out, e.started));
        let Some((server, bytes_in, bytes_out, started)) = entry else {
            return;
        };
        self.shard.on_stream_end(&super::StreamEnd {
            id: self.guard.slot().id(),
            frontend: self.frontend,
            backend: self.backend,
            server,
            client: self.peer,
            started,
            connected_at: self.connected_at,
            retries: self.attempts.saturating_sub(1),
            bytes_in,
            bytes_out,
            termination: end,
        });
    }
}

async fn run(mut conn: Conn) {
    // Nagle would add up to 40 ms to small request/response exchanges through the proxy.
    let _ = conn.client.set_nodelay(true);
    let shard = conn.shard.clone();
    let hash = match shard.config.backends[conn.backend].balance {
        percore_conf::Balance::Source => Some(source_hash(conn.peer.ip())),
        _ => None,
    };
    let connected = connect_server(
        &shard,
        conn.backend,
        &conn.guard,
        &mut conn.attempts,
        false,
        hash,
    )
    .await;
    let server = match connected {
        Ok(s) => s,
        Err(fail) => {
            let t = match fail {
                ConnectFail::NoServer => Termination::new(Cause::ServerError, Phase::Connect),
                ConnectFail::QueueTimeout => Termination::new(Cause::ServerTimeout, Phase::Queue),
            };
            conn.end.set(Some(t));
            return;
        }
    };
    conn.server = Some(server.stream);
    conn.server_slot = Some(server.slot);
    conn.connected_at = Some(Instant::now());
    conn.guard.with(|e| e.state = StreamState::Data);
    let key = conn.guard.with(|e| e.server).flatten();
    let send_proxy =
        key.and_then(|k| conn.shard.config.backends[k.backend].servers[k.server].send_proxy);
    if let (Some(version), Some(server)) = (send_proxy, conn.server.as_mut()) {
        let mut header = Vec::with_capacity(proxy::V1_MAX_BYTES);
        let version = match version {
            percore_conf::ProxyVersion::V1 => proxy::Version::V1,
            percore_conf::ProxyVersion::V2 => proxy::Version::V2,
        };
        proxy::encode(version, conn.peer, conn.local, &mut header);
        if server.write_all(&header).await.is_err() {
            conn.end
                .set(Some(Termination::new(Cause::ServerError, Phase::Data)));
            return;
        }
    }
    let bufs = [conn.shard.bufs.take(), conn.shard.bufs.take()];
    let fe = &conn.shard.config.frontends[conn.frontend];
    let be = &conn.shard.config.backends[conn.backend];
    let timeouts = Timeouts {
        client: fe.timeout.client,
        server: be.timeout.server,
        tunnel: be.timeout.tunnel,
    };
    let Conn {
        client,
        server,
        bufs: held,
        guard,
        end,
        ..
    } = &mut conn;
    let server = server.as_mut().expect("set above");
    *held = Some(bufs);
    let [up, down] = held.as_mut().expect("set above");
    let (t, _, _) = copy_both_ways(client, server, up, down, timeouts, guard).await;
    end.set(Some(t));
}

/// Copies bytes both ways with half-close until both directions ended, one side failed, or
/// the inactivity deadline of `timeouts` passed (see the module doc). Byte counts are added
/// to the stream's table entry as they move; returns the end and the bytes moved up (client
/// to server) and down.
pub(super) async fn copy_both_ways(
    client: &mut TcpStream,
    server: &mut TcpStream,
    up: &mut [u8],
    down: &mut [u8],
    timeouts: Timeouts,
    guard: &StreamGuard,
) -> (Termination, u64, u64) {
    let base = guard.with(|e| (e.bytes_in, e.bytes_out)).unwrap_or((0, 0));
    let mut pipe = Pipe {
        client,
        server,
        up: Half::new(up),
        down: Half::new(down),
        timeouts,
        last_activity: Instant::now(),
        timer: None,
        guard,
        base,
        reported: (0, 0),
    };
    let t = futures_lite::future::poll_fn(|cx| pipe.poll(cx)).await;
    (t, pipe.up.bytes, pipe.down.bytes)
}

/// Inactivity limits of [`copy_both_ways`].
#[derive(Clone, Copy)]
pub(super) struct Timeouts {
    /// Silence from the client before both directions carried data.
    pub(super) client: Duration,
    /// Silence from the server after the client spoke, before both directions carried data.
    pub(super) server: Duration,
    /// Inactivity once both directions carried data.
    pub(super) tunnel: Duration,
}

/// One direction of the copy: read from `src` into `buf`, write it all to `dst`, and forward
/// the end of stream as a half-close.
struct Half<'a> {
    buf: &'a mut [u8],
    start: usize,
    end: usize,
    eof: bool,
    shut: bool,
    bytes: u64,
}

impl<'a> Half<'a> {
    fn new(buf: &'a mut [u8]) -> Self {
        Half {
            buf,
            start: 0,
            end: 0,
            eof: false,
            shut: false,
            bytes: 0,
        }
    }

    fn done(&self) -> bool {
        self.shut
    }
}

/// Which socket failed.
#[derive(Clone, Copy)]
enum Side {
    Client,
    Server,
}

struct Pipe<'a> {
    client: &'a mut TcpStream,
    server: &'a mut TcpStream,
    /// Client → server.
    up: Half<'a>,
    /// Server → client.
    down: Half<'a>,
    timeouts: Timeouts,
    last_activity: Instant,
    /// The inactivity timer and the instant it is armed for.
    timer: Option<(Timer, Instant)>,
    guard: &'a StreamGuard,
    /// The entry's byte counts before this copy started (earlier HTTP exchanges).
    base: (u64, u64),
    /// Byte counts last copied into the table entry.
    reported: (u64, u64),
}

impl Pipe<'_> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Termination> {
        let mut budget = COPY_BUDGET_BYTES;
        let before = (self.up.bytes, self.down.bytes);
        let up = pump(
            &mut self.up,
            self.client,
            self.server,
            (Side::Client, Side::Server),
            cx,
            &mut budget,
        );
        let down = pump(
            &mut self.down,
            self.server,
            self.client,
            (Side::Server, Side::Client),
            cx,
            &mut budget,
        );
        self.report_bytes();
        for r in [up, down] {
            if let Poll::Ready(Err((side, _e))) = r {
                let cause = match side {
                    Side::Client => Cause::ClientError,
                    Side::Server => Cause::ServerError,
                };
                return Poll::Ready(Termination::new(cause, Phase::Data));
            }
        }
        if self.up.done() && self.down.done() {
            return Poll::Ready(Termination::new(Cause::Normal, Phase::Data));
        }
        let now = Instant::now();
        if (self.up.bytes, self.down.bytes) != before {
            self.last_activity = now;
        }
        if budget == 0 {
            // Still work to do, but let other streams run first.
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.poll_deadline(now, cx)
    }

    /// Arms (lazily) one timer for the inactivity deadline; fires the timeout when reached.
    fn poll_deadline(&mut self, now: Instant, cx: &mut Context<'_>) -> Poll<Termination> {
        let (limit, cause) = if self.up.bytes > 0 && self.down.bytes > 0 {
            let cause = if self.up.eof || self.up.start < self.up.end {
                Cause::ServerTimeout
            } else {
                Cause::ClientTimeout
            };
            (self.timeouts.tunnel, cause)
        } else if self.up.bytes == 0 {
            (self.timeouts.client, Cause::ClientTimeout)
        } else {
            (self.timeouts.server, Cause::ServerTimeout)
        };
        let deadline = self.last_activity + limit;
        if now >= deadline {
            return Poll::Ready(Termination::new(cause, Phase::Data));
        }
        // Re-arming on every read would cost a timer-map update per packet; instead keep one
        // timer and move it only when it would fire late (the limit shrank, e.g. server →
        // tunnel) or when it fires early (activity happened since it was armed).
        let (timer, armed_at) = self
            .timer
            .get_or_insert_with(|| (Timer::new(deadline - now), deadline));
        if deadline < *armed_at {
            timer.reset(deadline - now);
            *armed_at = deadline;
        }
        loop {
            match Pin::new(&mut *timer).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(_) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Poll::Ready(Termination::new(cause, Phase::Data));
                    }
                    timer.reset(deadline - now);
                    *armed_at = deadline;
                }
            }
        }
    }

    fn report_bytes(&mut self) {
        let now = (self.up.bytes, self.down.bytes);
        if now != self.reported {
            self.reported = now;
            let base = self.base;
            self.guard.with(|e| {
                e.bytes_in = base.0 + now.0;
                e.bytes_out = base.1 + now.1;
            });
        }
    }
}

/// Moves bytes from `src` to `dst` until both would block, the budget is spent, or this
/// direction is finished (EOF read, everything written, write side shut down).
fn pump(
    half: &mut Half<'_>,
    src: &mut TcpStream,
    dst: &mut TcpStream,
    (src_side, dst_side): (Side, Side),
    cx: &mut Context<'_>,
    budget: &mut usize,
) -> Poll<Result<(), (Side, io::Error)>> {
    loop {
        if half.shut {
            return Poll::Ready(Ok(()));
        }
        if half.start < half.end {
            match Pin::new(&mut *dst).poll_write(cx, &half.buf[half.start..half.end]) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err((dst_side, io::ErrorKind::WriteZero.into())))
                }
                Poll::Ready(Ok(n)) => {
                    half.start += n;
                    half.bytes += n as u64;
                    if half.start == half.end {
                        half.start = 0;
                        half.end = 0;
                    }
                    continue;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err((dst_side, e))),
                Poll::Pending => return Poll::Pending,
            }
        }
        if half.eof {
            // Forward the FIN. ENOTCONN means the peer is already gone: the other direction
            // will see it, so this one is simply done.
            let _ = Pin::new(&mut *dst).poll_close(cx);
            half.shut = true;
            return Poll::Ready(Ok(()));
        }
        if *budget == 0 {
            return Poll::Pending;
        }
        match Pin::new(&mut *src).poll_read(cx, half.buf) {
            Poll::Ready(Ok(0)) => half.eof = true,
            Poll::Ready(Ok(n)) => {
                half.end = n;
                *budget = budget.saturating_sub(n);
            }
            Poll::Ready(Err(e)) => return Poll::Ready(Err((src_side, e))),
            Poll::Pending => return Poll::Pending,
        }
    }
}

/// The `balance source` key of a client address (IPv4-mapped IPv6 hashed as IPv4, so a
/// dual-stack listener maps a client the same way).
pub fn source_hash(ip: std::net::IpAddr) -> u64 {
    match ip {
        std::net::IpAddr::V4(v4) => super::balance::hash_bytes(&v4.octets()),
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => super::balance::hash_bytes(&v4.octets()),
            None => super::balance::hash_bytes(&v6.octets()),
        },
    }
}
