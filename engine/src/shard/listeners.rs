//! This shard's listeners: started at start-up and by a reload that adds a bind, removed
//! by a reload that drops one.
//!
//! A removed listener first stops its accept loop, then takes every connection already in
//! its kernel accept queue (through a second descriptor of the socket, non-blocking, until
//! the queue is empty) and serves them like any other, and only then closes the socket:
//! connections the kernel had already accepted for it are never dropped. Listeners whose
//! address a reload keeps are never touched.

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::rc::Rc;

use glommio::net::{TcpListener, TcpStream};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};

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
    let drain = match fd.try_clone() {
        Ok(d) => d,
        Err(e) => {
            log::error!("shard {}: listener {addr} not started: dup: {e}", shard.id);
            return;
        }
    };
    // SAFETY: `fd` is an owned TCP socket, bound and listening (`runtime::listen_socket`);
    // into_raw_fd() gives up ownership, so the listener is that descriptor's only owner and
    // closes it exactly once (when the last Rc drops). `drain` is a separate descriptor.
    let socket = Rc::new(unsafe { TcpListener::from_raw_fd(fd.into_raw_fd()) });
    let task = accepting.then(|| {
        let run = accept_loop(shard.clone(), frontend, id, addr, socket.clone());
        match shard.data_queue.get() {
            Some(tq) => glommio::spawn_local_into(run, tq).ok().map(|t| t.detach()),
            None => Some(glommio::spawn_local(run).detach()),
        }
    });
    shard.listeners.borrow_mut().push(ShardListener {
        frontend,
        id,
        configured,
        addr,
        drain,
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
        addr,
        drain,
        socket,
        ..
    } = l;
    // glommio's descriptor goes first, so that only `drain` still holds the socket.
    drop(socket);
    if let Err(e) = fcntl(&drain, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)) {
        log::warn!(
            "shard {}: listener {addr}: {e}; closed without draining",
            shard.id
        );
        return;
    }
    let mut taken = 0usize;
    loop {
        let accepted = nix::sys::socket::accept4(
            drain.as_raw_fd(),
            nix::sys::socket::SockFlag::SOCK_CLOEXEC | nix::sys::socket::SockFlag::SOCK_NONBLOCK,
        );
        let client_fd = match accepted {
            Ok(c) => c,
            Err(Errno::EINTR | Errno::ECONNABORTED) => continue,
            Err(_) => break,
        };
        // SAFETY: accept4 just returned this descriptor: nothing else owns it.
        let client = unsafe { TcpStream::from_raw_fd(client_fd) };
        let budget = shard.frontend_budgets.borrow()[frontend].clone();
        let fe_slot = budget.acquire().await;
        let global_slot = shard.global_budget.acquire().await;
        let slots = [fe_slot, global_slot];
        match shard.current().config.frontends[frontend].mode {
            percore_conf::Mode::Tcp => super::tcp::start(&shard, frontend, id, client, slots),
            percore_conf::Mode::Http => super::http::start(&shard, frontend, id, client, slots),
        }
        taken += 1;
    }
    drop(drain);
    log::info!(
        "shard {}: listener {addr} removed, {taken} queued connection(s) served",
        shard.id
    );
}
