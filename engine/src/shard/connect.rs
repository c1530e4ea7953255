//! Choosing a server and getting a connection to it, shared by TCP and HTTP streams:
//! balancer pick, optional idle pooled connection (HTTP), connect with `timeout.connect`,
//! `retries` more attempts on failure, on another server when `redispatch` is set.

use std::rc::Rc;
use std::time::Instant;

use glommio::net::TcpStream;

use super::table::StreamGuard;
use super::Shard;
use crate::ids::ServerKey;

/// A server connection ready for use.
pub struct ServerConn {
    /// The socket.
    pub stream: TcpStream,
    /// Which server.
    pub key: ServerKey,
    /// Taken from the idle pool rather than freshly connected (it may turn out dead).
    pub reused: bool,
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
) -> Option<ServerConn> {
    let be = &shard.config.backends[backend];
    let attempts_max = *attempts + 1 + be.retries;
    let mut failed: Vec<usize> = Vec::new();
    let mut current: Option<usize> = None;
    while *attempts < attempts_max {
        let pick = match current {
            Some(s) if !be.redispatch => Some(s),
            _ => shard.pick_server(backend, &failed, hash),
        };
        let server_idx = pick?;
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
                return Some(ServerConn {
                    stream,
                    key,
                    reused: true,
                });
            }
        }
        *attempts += 1;
        let server = &be.servers[server_idx];
        match TcpStream::connect_timeout(server.address, be.timeout.connect).await {
            Ok(stream) => {
                // Nagle would add up to 40 ms to small exchanges through the proxy.
                let _ = stream.set_nodelay(true);
                shard.on_server_connected(key);
                return Some(ServerConn {
                    stream,
                    key,
                    reused: false,
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
                if !failed.contains(&server_idx) {
                    failed.push(server_idx);
                }
            }
        }
    }
    None
}
