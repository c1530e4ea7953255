//! Choosing a server and getting a connection to it, shared by TCP and HTTP streams:
//! balancer pick (queueing for a `maxconn` slot), optional idle pooled connection (HTTP),
//! connect and (for a server with `tls`) TLS handshake within `timeout.connect`. One attempt
//! per call; the stream machine decides retries and redispatch (`crate::stream::attempt`).

use std::future::poll_fn;
use std::rc::Rc;
use std::time::Instant;

use glommio::net::TcpStream;

use super::budget::BudgetSlot;
use super::generation::Generation;
use super::queue::Waiter;
use super::table::StreamGuard;
use super::{Pick, Shard};
use crate::ids::ServerKey;
use crate::stream::{Connected, ServerRequest};
use crate::tls::ServerSock;

/// A server connection ready for use.
pub struct ServerConn {
    /// The socket, plain or TLS.
    pub stream: ServerSock,
    /// Which server.
    pub key: ServerKey,
    /// Taken from the idle pool rather than freshly connected (it may turn out dead).
    pub reused: bool,
    /// The server `maxconn` slot this stream holds while it uses the server.
    pub slot: BudgetSlot,
}

/// Why no server connection could be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectFail {
    /// No usable server (all DOWN, in maintenance, weight 0) or every attempt failed.
    NoServer,
    /// Every usable server was at its `maxconn` for `timeout.queue`.
    QueueTimeout,
}

/// Counts a stream in its backend's queue for as long as it lives (also when the stream is
/// killed while waiting).
struct Queued<'a> {
    shard: &'a Shard,
    backend: usize,
}

impl<'a> Queued<'a> {
    fn new(shard: &'a Shard, backend: usize) -> Self {
        let mut q = shard.queued.borrow_mut();
        let (now, max) = &mut q[backend];
        *now += 1;
        *max = (*max).max(*now);
        Queued { shard, backend }
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.shard.queued.borrow_mut()[self.backend].0 -= 1;
    }
}

/// A server and its slot: at once when one is free, else after waiting in the backend's
/// queue, first come first served, for at most `timeout.queue`.
async fn acquire_slot(
    shard: &Rc<Shard>,
    backend: usize,
    failed: &[usize],
    hash: Option<u64>,
    (only, queue_timeout): (Option<usize>, std::time::Duration),
) -> Result<(usize, BudgetSlot), ConnectFail> {
    match shard.pick_server_slot(backend, failed, hash, only) {
        Pick::Got(i, slot) => return Ok((i, slot)),
        Pick::NoServer => return Err(ConnectFail::NoServer),
        Pick::Full => {}
    }
    let _queued = Queued::new(shard, backend);
    let waiter = Waiter::new(only);
    shard.queues.borrow()[backend].push(&waiter);
    // Slots of these servers may be free on other shards.
    for b in &shard.server_budgets.borrow()[backend] {
        b.update_want();
    }
    glommio::timer::timeout(queue_timeout, async {
        Ok(poll_fn(|cx| waiter.poll_granted(cx)).await)
    })
    .await
    .map_err(|_| ConnectFail::QueueTimeout)
}

/// One connection attempt for `request`: a server and its slot (queueing while all are
/// full), then an idle pooled connection to it when the request allows, else a connect
/// (and TLS handshake) within `timeout.connect`. Retry decisions belong to the stream
/// machine; a failed handshake is a failed connect.
pub async fn connect_once(
    shard: &Rc<Shard>,
    gen: &Generation,
    request: &ServerRequest,
    guard: &StreamGuard,
) -> (Connected, Option<ServerConn>) {
    let backend = request.backend;
    // Timeouts of the stream's own generation; the server itself from the newest.
    let be = &gen.config.backends[backend];
    let layout = shard.current();
    let asked = Instant::now();
    let only = (request.only, be.timeout.queue);
    let picked = acquire_slot(shard, backend, &request.avoid, request.hash, only).await;
    let (server_idx, slot) = match picked {
        Ok(got) => got,
        Err(ConnectFail::NoServer) => return (Connected::NoServer, None),
        Err(ConnectFail::QueueTimeout) => return (Connected::QueueTimeout, None),
    };
    let queued_ms = u32::try_from(asked.elapsed().as_millis()).unwrap_or(u32::MAX);
    if request.previous.is_some() {
        shard.on_retry(backend, request.previous, server_idx);
    }
    let key = ServerKey {
        backend,
        server: server_idx,
    };
    guard.set_server(Some(key));
    if request.pool {
        let verify = !request.replayable;
        let pooled = shard.pool.borrow_mut().take(key, Instant::now(), verify);
        if let Some(stream) = pooled {
            return ready(shard, key, stream, true, slot, queued_ms);
        }
    }
    let server = &layout.config.backends[backend].servers[server_idx];
    // The view's address, not the configured one: `set server … addr` moves new connects.
    let address = shard.views.borrow()[backend][server_idx].address;
    let started = Instant::now();
    let tcp = match TcpStream::connect_timeout(address, be.timeout.connect).await {
        Ok(tcp) => tcp,
        Err(e) => {
            log::debug!(
                "shard {} stream {}: connect to {}/{} ({}) failed: {e}",
                shard.id,
                guard.slot().id(),
                be.name,
                server.name,
                address
            );
            shard.on_connect_error(key);
            return (Connected::Failed { server: key }, None);
        }
    };
    // Nagle would add up to 40 ms to small exchanges through the proxy.
    let _ = tcp.set_nodelay(true);
    let left = be.timeout.connect.saturating_sub(started.elapsed());
    match shard.secure_server(key, (tcp, address), left).await {
        Some(stream) => ready(shard, key, stream, false, slot, queued_ms),
        None => {
            shard.on_connect_error(key);
            (Connected::Failed { server: key }, None)
        }
    }
}

/// A server connection handed to the stream (fresh or `reused` from the pool), counted.
fn ready(
    shard: &Shard,
    key: ServerKey,
    stream: ServerSock,
    reused: bool,
    slot: BudgetSlot,
    queued_ms: u32,
) -> (Connected, Option<ServerConn>) {
    shard.on_server_connected(key);
    let ready = Connected::Ready {
        server: key,
        reused,
        queued_ms,
    };
    let conn = ServerConn {
        stream,
        key,
        reused,
        slot,
    };
    (ready, Some(conn))
}
