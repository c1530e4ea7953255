//! HTTP/1.1 mode: starts a stream's task around an [`HttpMachine`] (see
//! `crate::stream::http` for the life of an HTTP stream).
//!
//! - [`pool`]: per-shard idle server connections.

pub mod pool;

use std::rc::Rc;
use std::time::Instant;

use glommio::net::TcpStream;

use super::budget::BudgetSlot;
use super::shell::{self, Stream};
use super::table::{Fenced, StreamGuard};
use super::Shard;
use crate::stream::http::{HttpMachine, HttpStart};

/// Registers a freshly accepted HTTP client connection and spawns its stream task.
pub fn start(shard: &Rc<Shard>, frontend: usize, client: TcpStream, slots: [BudgetSlot; 2]) {
    let Ok(peer) = client.peer_addr() else {
        return;
    };
    let Some(slot) = shard.register_stream(frontend, peer) else {
        return;
    };
    let start = HttpStart {
        frontend,
        peer,
        log_requests: shard.access_log.borrow().is_some(),
    };
    let machine = HttpMachine::new(&shard.env(), Instant::now(), start);
    let guard = StreamGuard::new(shard.table.clone(), slot);
    // Between exchanges a client connection is on no backend.
    guard.leave_backend();
    let stream = Stream::new(shard, frontend, client, peer, machine, slots, guard);
    let fenced = Fenced::new(shard.table.clone(), slot, shell::run(stream));
    let task = glommio::spawn_local(fenced).detach();
    shard.table.borrow_mut().set_kill_handle(slot, task);
}
