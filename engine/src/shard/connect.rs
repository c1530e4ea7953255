//! Choosing a server and getting a connection to it, shared by TCP and HTTP streams:
//! balancer pick, optional idle pooled connection (HTTP), connect with `timeout.connect`,
//! `retries` more attempts on failure, on another server when `redispatch` is set.

use std::future::poll_fn;
use std::rc::Rc;
use std::task::Poll;
use std::time::Instant;

use glommio::net::TcpStream;

use super::budget::BudgetSlot;
use super::table::StreamGuard;
use super::{Pick, Shard};
use crate::ids::ServerKey;

/// A server connection ready for use.
pub struct ServerConn {
    /// The socket.
    pub stream: TcpStream,
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
/// queue (woken when any of its servers frees a slot) for at most `timeout.queue`.
async fn acquire_slot(
    shard: &Rc<Shard>,
    backend: usize,
    failed: &[usize],
    hash: Option<u64>,
    only: Option<usize>,
) -> Result<(usize, BudgetSlot), ConnectFail> {
    let deadline = Instant::now() + shard.config.backends[backend].timeout.queue;
    let mut queued: Option<Queued<'_>> = None;
    loop {
        match shard.pick_server_slot(backend, failed, hash, only) {
            Pick::Got(i, slot) => return Ok((i, slot)),
            Pick::NoServer => return Err(ConnectFail::NoServer),
            Pick::Full => {}
        }
        if queued.is_none() {
            queued = Some(Queued::new(shard, backend));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ConnectFail::QueueTimeout);
        }
        let mut registered = false;
        let woken = glommio::timer::timeout(left, async {
            poll_fn(|cx| {
                if registered {
                    return Poll::Ready(Ok(()));
                }
                registered = true;
                for b in &shard.server_budgets[backend] {
                    b.register(cx.waker());
                }
                Poll::Pending
            })
            .await
        })
        .await;
        if woken.is_err() {
            return Err(ConnectFail::QueueTimeout);
        }
    }
}

/// Picks servers of `backend` until one accepts, at most `1 + retries` attempts, counting
/// them in `attempts`. With `use_pool`, an idle pooled connection to the picked server is
/// used when there is one. `hash` is the request's key for hash algorithms. `None` when
/// every attempt failed (or no server is usable).
pub async fn connect_server(
    shard: &Rc<Shard>,
    backend: usize,
    guard: &StreamGuard,
    attempts: &mut u32,
    use_pool: bool,
    hash: Option<u64>,
) -> Result<ServerConn, ConnectFail> {
    let be = &shard.config.backends[backend];
    let attempts_max = *attempts + 1 + be.retries;
    let mut failed: Vec<usize> = Vec::new();
    let mut current: Option<usize> = None;
    while *attempts < attempts_max {
        let only = current.filter(|_| !be.redispatch);
        let (server_idx, slot) = acquire_slot(shard, backend, &failed, hash, only).await?;
        if current.is_some() {
            shard.on_retry(backend, current, server_idx);
        }
        current = Some(server_idx);
        let key = ServerKey {
            backend,
            server: server_idx,
        };
        guard.set_server(Some(key));
        if use_pool {
            let pooled = shard.pool.borrow_mut().take(key, Instant::now());
            if let Some(stream) = pooled {
                shard.on_server_connected(key);
                return Ok(ServerConn {
                    stream,
                    key,
                    reused: true,
                    slot,
                });
            }
        }
        *attempts += 1;
        let server = &be.servers[server_idx];
        match TcpStream::connect_timeout(server.address, be.timeout.connect).await {
            Ok(stream) => {
                // Nagle would add up to 40 ms to small exchanges through the proxy.
                let _ = stream.set_nodelay(true);
                shard.observe(key, true, 4);
                shard.on_server_connected(key);
                return Ok(ServerConn {
                    stream,
                    key,
                    reused: false,
                    slot,
                });
            }
            Err(e) => {
                log::debug!(
                    "shard {} stream {}: connect to {}/{} ({}) failed: {e}",
                    shard.id,
                    guard.slot().id(),
                    be.name,
                    server.name,
                    server.address
                );
                shard.on_connect_error(key);
                shard.observe(key, false, 4);
                if !failed.contains(&server_idx) {
                    failed.push(server_idx);
                }
            }
        }
    }
    Err(ConnectFail::NoServer)
}
