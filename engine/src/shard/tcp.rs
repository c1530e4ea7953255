//! TCP mode: starts a stream's task around a [`TcpMachine`] (see `crate::stream::tcp` for
//! the life of a TCP stream).

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use glommio::net::TcpStream;

use super::budget::BudgetSlot;
use super::shell::{self, Stream};
use super::table::{Fenced, StreamGuard};
use super::Shard;
use crate::stream::tcp::{TcpMachine, TcpStart, TcpTimeouts};

/// Registers a freshly accepted client connection (on the frontend's `listener`-th bind)
/// and spawns its stream task; with `accept_proxy` the task reads the PROXY header first.
pub fn start(
    shard: &Rc<Shard>,
    frontend: usize,
    listener: usize,
    mut client: TcpStream,
    slots: [BudgetSlot; 2],
) {
    let (Ok(peer), Ok(local)) = (client.peer_addr(), client.local_addr()) else {
        // The client already went away (ENOTCONN); nothing to serve or log.
        return;
    };
    let Some(slot) = shard.register_stream(frontend, peer) else {
        return;
    };
    let guard = StreamGuard::new(shard.table.clone(), slot);
    let table = shard.table.clone();
    let task = if shard.config.frontends[frontend].accept_proxy {
        let shard = shard.clone();
        glommio::spawn_local(Fenced::new(table, slot, async move {
            let Some(a) = shard
                .read_proxy_header(frontend, listener, &mut client, peer, local)
                .await
            else {
                return;
            };
            guard.with(|e| e.client = a.client);
            let stream = stream(&shard, frontend, client, (a.client, a.local), slots, guard);
            shell::run(stream.with_preread(a.preread)).await;
        }))
        .detach()
    } else {
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
    addrs: (SocketAddr, SocketAddr),
    slots: [BudgetSlot; 2],
    guard: StreamGuard,
) -> Stream<TcpMachine> {
    let fe = &shard.config.frontends[frontend];
    let backend = fe.default_backend;
    let be = &shard.config.backends[backend];
    let hash = match be.balance {
        percore_conf::Balance::Source => Some(crate::stream::hash::source_hash(addrs.0.ip())),
        _ => None,
    };
    let start = TcpStart {
        backend,
        hash,
        addrs,
        timeouts: TcpTimeouts {
            client: fe.timeout.client,
            server: be.timeout.server,
            tunnel: be.timeout.tunnel,
        },
    };
    let machine = TcpMachine::new(&shard.env(), Instant::now(), start);
    Stream::new(shard, frontend, client, addrs.0, machine, slots, guard)
}
