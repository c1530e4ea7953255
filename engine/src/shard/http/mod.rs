//! HTTP/1.1 mode: starts a stream's task around an [`HttpMachine`] (see
//! `crate::stream::http` for the life of an HTTP stream).
//!
//! - [`pool`]: per-shard idle server connections.

pub mod pool;

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
use crate::stream::http::{HttpMachine, HttpStart};

/// Registers a freshly accepted HTTP client connection (on the frontend's `listener`-th
/// bind) and spawns its stream task; with `accept_proxy` the task reads the PROXY header
/// first, and the announced client is the one rules, `forwardfor` and balancing see.
pub fn start(
    shard: &Rc<Shard>,
    (frontend, listener, security): (usize, usize, Security),
    accepted: (TcpStream, (SocketAddr, SocketAddr)),
    slots: [BudgetSlot; 2],
) {
    // Between exchanges a client connection is on no backend.
    shell::spawn_stream(
        shard,
        (frontend, listener, security),
        accepted,
        slots,
        false,
        stream,
    );
}

/// The stream of a client at `addrs` (client, address it connected to).
fn stream(
    shard: &Rc<Shard>,
    frontend: usize,
    client: ClientSock,
    (peer, local): (SocketAddr, SocketAddr),
    slots: [BudgetSlot; 2],
    guard: StreamGuard,
) -> Stream<HttpMachine> {
    let start = HttpStart {
        frontend,
        peer,
        local,
        log_requests: shard.access_log.borrow().is_some(),
        tls: client.names().map(Box::new),
    };
    let gen = shard.current();
    let machine = HttpMachine::new(&shard.env(&gen, &gen), Instant::now(), start);
    Stream::new(shard, gen.clone(), frontend, client, machine, slots, guard)
}
