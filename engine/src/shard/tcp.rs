//! TCP mode: starts a stream's task around a [`TcpMachine`] (see `crate::stream::tcp` for
//! the life of a TCP stream).

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use glommio::net::TcpStream;

use crate::tls::ClientSock;

use super::budget::BudgetSlot;
use super::shell::{self, Stream};
use super::table::StreamGuard;
use super::tls::Security;
use super::Shard;
use crate::stream::tcp::{TcpMachine, TcpStart, TcpTimeouts};

/// Registers a freshly accepted client connection (on the frontend's `listener`-th bind)
/// and spawns its stream task; with `accept_proxy` the task reads the PROXY header first.
pub fn start(
    shard: &Rc<Shard>,
    (frontend, listener, security): (usize, usize, Security),
    accepted: (TcpStream, (SocketAddr, SocketAddr)),
    slots: [BudgetSlot; 2],
) {
    shell::spawn_stream(
        shard,
        (frontend, listener, security),
        accepted,
        slots,
        true,
        stream,
    );
}

/// The stream of a client at `addrs` (client, address it connected to).
fn stream(
    shard: &Rc<Shard>,
    frontend: usize,
    client: ClientSock,
    addrs: (SocketAddr, SocketAddr),
    slots: [BudgetSlot; 2],
    guard: StreamGuard,
) -> Stream<TcpMachine> {
    let gen = shard.current();
    let fe = &gen.config.frontends[frontend];
    let backend = fe.default_backend;
    let be = &gen.config.backends[backend];
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
    let machine = TcpMachine::new(&shard.env(&gen, &gen), Instant::now(), start);
    Stream::new(shard, gen.clone(), frontend, client, machine, slots, guard)
}
