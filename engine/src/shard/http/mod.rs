//! HTTP/1.1 mode: starts a stream's task around an [`HttpMachine`] (see
//! `crate::stream::http` for the life of an HTTP stream).
//!
//! - [`pool`]: per-shard idle server connections.

pub mod pool;

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use glommio::net::TcpStream;

use super::budget::BudgetSlot;
use super::shell::{self, Stream};
use super::table::{Fenced, StreamGuard};
use super::Shard;
use crate::stream::http::{HttpMachine, HttpStart};

/// Registers a freshly accepted HTTP client connection (on the frontend's `listener`-th
/// bind) and spawns its stream task; with `accept_proxy` the task reads the PROXY header
/// first, and the announced client is the one rules, `forwardfor` and balancing see.
pub fn start(
    shard: &Rc<Shard>,
    frontend: usize,
    listener: usize,
    mut client: TcpStream,
    slots: [BudgetSlot; 2],
) {
    let Ok(peer) = client.peer_addr() else {
        return;
    };
    let Some(slot) = shard.register_stream(frontend, peer) else {
        return;
    };
    let guard = StreamGuard::new(shard.table.clone(), slot);
    // Between exchanges a client connection is on no backend.
    guard.leave_backend();
    let table = shard.table.clone();
    let task = if shard.config.frontends[frontend].accept_proxy {
        let shard = shard.clone();
        glommio::spawn_local(Fenced::new(table, slot, async move {
            let local = client.local_addr().unwrap_or(peer);
            let Some(a) = shard
                .read_proxy_header(frontend, listener, &mut client, peer, local)
                .await
            else {
                return;
            };
            guard.with(|e| e.client = a.client);
            let addrs = (a.client, a.local);
            let stream = stream(&shard, frontend, client, addrs, slots, guard);
            shell::run(stream.with_preread(a.preread)).await;
        }))
        .detach()
    } else {
        let local = client.local_addr().unwrap_or(peer);
        let stream = stream(shard, frontend, client, (peer, local), slots, guard);
        glommio::spawn_local(Fenced::new(table, slot, shell::run(stream))).detach()
    };
    shard.table.borrow_mut().set_kill_handle(slot, task);
}

/// The stream of a client at `addrs` (client, address it connected to).
fn stream(
    shard: &Rc<Shard>,
    frontend: usize,
    client: TcpStream,
    (peer, local): (SocketAddr, SocketAddr),
    slots: [BudgetSlot; 2],
    guard: StreamGuard,
) -> Stream<HttpMachine> {
    let start = HttpStart {
        frontend,
        peer,
        local,
        log_requests: shard.access_log.borrow().is_some(),
    };
    let machine = HttpMachine::new(&shard.env(), Instant::now(), start);
    Stream::new(shard, frontend, client, peer, machine, slots, guard)
}
