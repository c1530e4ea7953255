//! This shard's listeners: started at start-up and by a reload that adds a bind, removed
//! by a reload that drops one.
//!
//! A removed listener first stops its accept loop, then takes every connection already in
//! its kernel accept queue (non-blocking, until the queue is empty) and serves them like any other, and only then closes the socket:
//! connections the kernel had already accepted for it are never dropped. Listeners whose
//! address a reload keeps are never touched.

use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::rc::Rc;

use glommio::net::TcpStream;

use super::{accept_loop, BoundListener, Shard, ShardListener};

/// Starts listener `l` as bind `id` of its frontend: its accept loop runs in the data-path
/// queue unless `accepting` is false (a paused frontend).
pub fn start(shard: &Rc<Shard>, l: BoundListener, id: usize, accepting: bool) {
    let BoundListener {
        frontend,
        configured,
        addr,
        fd,
    } = l;
    if let Err(e) = crate::accept::set_nonblocking(fd.as_fd()) {
        log::error!("shard {}: listener {addr} not started: {e}", shard.id);
        return;
    }
    // Accepted sockets inherit TCP_NODELAY (see `runtime::listen_socket`); set here too for
    // a socket inherited from a binary that did not set it.
    if let Err(e) = socket2::SockRef::from(&fd).set_nodelay(true) {
        log::warn!("shard {}: listener {addr}: TCP_NODELAY: {e}", shard.id);
    }
    let socket = Rc::new(fd);
    // The how-manieth bind of this frontend written with this address (for its TLS).
    let nth = shard
        .listeners
        .borrow()
        .iter()
        .filter(|l| l.frontend == frontend && l.configured == configured)
        .count();
    let task = accepting.then(|| {
        let run = accept_loop(
            shard.clone(),
            frontend,
            (id, configured, nth),
            addr,
            socket.clone(),
        );
        match shard.data_queue.get() {
            Some(tq) => glommio::spawn_local_into(run, tq).ok().map(|t| t.detach()),
            None => Some(glommio::spawn_local(run).detach()),
        }
    });
    shard.listeners.borrow_mut().push(ShardListener {
        frontend,
        id,
        configured,
        nth,
        addr,
        socket,
        task: task.flatten(),
    });
}

/// A reload's new bind `configured` of `frontend` on this shard, as the socket `fd` the
/// control plane bound (`addr` once resolved); numbered after the frontend's last bind.
pub fn add(
    shard: &Rc<Shard>,
    (frontend, configured, addr): (usize, SocketAddr, SocketAddr),
    fd: OwnedFd,
    accepting: bool,
) {
    if shard.is_stopping() {
        return;
    }
    let id = shard
        .listeners
        .borrow()
        .iter()
        .filter(|l| l.frontend == frontend)
        .map(|l| l.id)
        .max()
        .unwrap_or(0)
        + 1;
    let l = BoundListener {
        frontend,
        configured,
        addr,
        fd,
    };
    start(shard, l, id, accepting);
}

/// A reload dropped bind `configured` of `frontend`: its accept loop ends (returns once no
/// accept of it is pending), then a task takes the connections still queued and closes it.
pub async fn remove(shard: &Rc<Shard>, frontend: usize, configured: SocketAddr) {
    let removed: Vec<ShardListener> = {
        let mut all = shard.listeners.borrow_mut();
        let (gone, kept) = all
            .drain(..)
            .partition(|l| l.frontend == frontend && l.configured == configured);
        *all = kept;
        gone
    };
    for mut l in removed {
        if let Some(t) = l.task.take() {
            t.cancel();
            t.await;
        }
        let run = drain(shard.clone(), l);
        match shard.data_queue.get() {
            Some(tq) => {
                let _ = glommio::spawn_local_into(run, tq).map(|t| t.detach());
            }
            None => {
                glommio::spawn_local(run).detach();
            }
        }
    }
}

/// Serves every connection left in a removed listener's accept queue, then lets the socket
/// close. Bounded by the queue, which the listen backlog bounds.
async fn drain(shard: Rc<Shard>, l: ShardListener) {
    let ShardListener {
        frontend,
        id,
        configured,
        nth,
        addr,
        socket,
        ..
    } = l;
    let mut taken = 0usize;
    // Bounded by the accept queue; an accept error other than "empty" ends the drain.
    while let Ok(Some((client, peer))) = crate::accept::accept_now::<TcpStream>(socket.as_fd()) {
        // Not an address family a TCP listener can accept from.
        let Some(peer) = peer.as_socket() else {
            continue;
        };
        let local = crate::accept::local_addr(&client, addr, peer);
        let client = (client, (peer, local));
        let budget = shard.frontend_budgets.borrow()[frontend].clone();
        let fe_slot = budget.acquire().await;
        let global_slot = shard.global_budget.acquire().await;
        let slots = [fe_slot, global_slot];
        let security = shard.tls.borrow().security(frontend, configured, nth);
        let listener = (frontend, id, security);
        match shard.current().config.frontends[frontend].mode {
            percore_conf::Mode::Tcp => super::tcp::start(&shard, listener, client, slots),
            percore_conf::Mode::Http => super::http::start(&shard, listener, client, slots),
        }
        taken += 1;
    }
    drop(socket);
    log::info!(
        "shard {}: listener {addr} removed, {taken} queued connection(s) served",
        shard.id
    );
}
