//! Per-shard pools of idle keep-alive server connections, one LIFO list per server.
//!
//! Owned by the shard alone (no locks). Bounded by `pool_max_idle` per server: a connection
//! returned to a full list is closed. Idle connections older than `pool_idle_timeout` are
//! closed when met (take) and by [`Pool::purge`], which the shard runs periodically. A
//! connection taken for a request that could not be resent is checked with a non-blocking
//! `MSG_PEEK`, so one the server already closed (FIN in the receive queue) is not used; a
//! request that can be resent (bodiless, idempotent) skips that syscall: if the connection
//! turns out dead, the stream resends it once on a fresh connection. A TLS connection is
//! pooled the same way; its check also refuses one whose TLS layer holds a record
//! (a close_notify, unsolicited data) read before it went idle.

use std::collections::VecDeque;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use nix::sys::socket::{recv, MsgFlags};

use crate::ids::ServerKey;
use crate::tls::ServerSock;

struct Idle {
    conn: ServerSock,
    since: Instant,
}

/// Idle server connections of one shard.
pub struct Pool {
    /// `idle[backend][server]`, newest at the back.
    idle: Vec<Vec<VecDeque<Idle>>>,
    /// Per backend: most idle connections per server, and their lifetime.
    limits: Vec<(usize, Duration)>,
    /// Connections taken from the pool (reused).
    pub reused: u64,
}

impl Pool {
    /// An empty pool; `backends[b] = (servers, pool_max_idle, pool_idle_timeout)`.
    pub fn new(backends: &[(usize, u32, Duration)]) -> Self {
        Pool {
            idle: backends
                .iter()
                .map(|&(n, _, _)| (0..n).map(|_| VecDeque::new()).collect())
                .collect(),
            limits: backends
                .iter()
                .map(|&(_, max, timeout)| (max as usize, timeout))
                .collect(),
            reused: 0,
        }
    }

    /// The most recently returned connection to `key`, if any; with `verify`, only one that
    /// the server has not closed.
    pub fn take(&mut self, key: ServerKey, now: Instant, verify: bool) -> Option<ServerSock> {
        let timeout = self.limits[key.backend].1;
        let list = &mut self.idle[key.backend][key.server];
        while let Some(mut idle) = list.pop_back() {
            if now.saturating_duration_since(idle.since) >= timeout {
                // Older ones are older still: drop the whole rest.
                list.clear();
                return None;
            }
            if !verify || is_idle_and_open(&mut idle.conn) {
                self.reused += 1;
                return Some(idle.conn);
            }
        }
        None
    }

    /// Returns a connection for reuse; it is closed instead when the list is full.
    pub fn put(&mut self, key: ServerKey, conn: ServerSock, now: Instant) {
        let max = self.limits[key.backend].0;
        let list = &mut self.idle[key.backend][key.server];
        if list.len() < max {
            list.push_back(Idle { conn, since: now });
        }
    }

    /// Closes every connection idle for longer than its backend's timeout.
    pub fn purge(&mut self, now: Instant) {
        for (b, servers) in self.idle.iter_mut().enumerate() {
            let timeout = self.limits[b].1;
            for list in servers {
                while list
                    .front()
                    .is_some_and(|i| now.saturating_duration_since(i.since) >= timeout)
                {
                    list.pop_front();
                }
            }
        }
    }

    /// Takes a new layout's limits, `backends[b] = (servers, pool_max_idle,
    /// pool_idle_timeout)`: room for appended backends and servers; lists above a lower `pool_max_idle`
    /// drop their oldest connections.
    pub fn resize(&mut self, backends: &[(usize, u32, Duration)]) {
        if self.idle.len() < backends.len() {
            self.idle.resize_with(backends.len(), Vec::new);
            self.limits.resize(backends.len(), (0, Duration::ZERO));
        }
        for (b, &(n, max, timeout)) in backends.iter().enumerate() {
            let (Some(servers), Some(limit)) = (self.idle.get_mut(b), self.limits.get_mut(b))
            else {
                continue;
            };
            if servers.len() < n {
                servers.resize_with(n, VecDeque::new);
            }
            for list in servers.iter_mut() {
                while list.len() > max as usize {
                    list.pop_front();
                }
            }
            *limit = (max as usize, timeout);
        }
    }

    /// Closes every idle connection to `key` (server removed, put in maintenance, killed).
    pub fn clear_server(&mut self, key: ServerKey) {
        if let Some(list) = self
            .idle
            .get_mut(key.backend)
            .and_then(|b| b.get_mut(key.server))
        {
            list.clear();
        }
    }

    /// Idle connections to `key`.
    pub fn idle(&self, key: ServerKey) -> usize {
        self.idle
            .get(key.backend)
            .and_then(|b| b.get(key.server))
            .map_or(0, VecDeque::len)
    }

    /// Idle connections in total.
    pub fn idle_total(&self) -> usize {
        self.idle.iter().flatten().map(VecDeque::len).sum()
    }
}

/// A pooled connection must have nothing to read: EAGAIN means open and quiet; 0 means the
/// server closed it; bytes mean a protocol error (a response nobody asked for) or, over TLS,
/// a record (a close_notify before the FIN, most often). Nor may rustls hold one.
fn is_idle_and_open(conn: &mut ServerSock) -> bool {
    let mut probe = [0u8; 1];
    conn.is_quiet()
        && matches!(
            recv(
                conn.tcp().as_raw_fd(),
                &mut probe,
                MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT
            ),
            Err(nix::errno::Errno::EAGAIN)
        )
}
