//! TCP mode: starts a stream's task around a [`TcpMachine`] (see `crate::stream::tcp` for
//! the life of a TCP stream).

use std::rc::Rc;
use std::time::Instant;

use glommio::net::TcpStream;

use super::budget::BudgetSlot;
use super::shell::{self, Stream};
use super::table::{Fenced, StreamGuard};
use super::Shard;
use crate::stream::tcp::{TcpMachine, TcpStart, TcpTimeouts};

/// Registers a freshly accepted client connection and spawns its stream task.
pub fn start(shard: &Rc<Shard>, frontend: usize, client: TcpStream, slots: [BudgetSlot; 2]) {
    let (Ok(peer), Ok(local)) = (client.peer_addr(), client.local_addr()) else {
        // The client already went away (ENOTCONN); nothing to serve or log.
        return;
    };
    let Some(slot) = shard.register_stream(frontend, peer) else {
        return;
    };
    let fe = &shard.config.frontends[frontend];
    let backend = fe.default_backend;
    let be = &shard.config.backends[backend];
    let hash = match be.balance {
        percore_conf::Balance::Source => Some(crate::stream::hash::source_hash(peer.ip())),
        _ => None,
    };
    let start = TcpStart {
        backend,
        hash,
        addrs: (peer, local),
        timeouts: TcpTimeouts {
            client: fe.timeout.client,
            server: be.timeout.server,
            tunnel: be.timeout.tunnel,
        },
    };
    let machine = TcpMachine::new(&shard.env(), Instant::now(), start);
    let guard = StreamGuard::new(shard.table.clone(), slot);
    let stream = Stream::new(shard, frontend, client, peer, machine, slots, guard);
    let fenced = Fenced::new(shard.table.clone(), slot, shell::run(stream));
    let task = glommio::spawn_local(fenced).detach();
    shard.table.borrow_mut().set_kill_handle(slot, task);
}
