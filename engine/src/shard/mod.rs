//! A shard: one pinned glommio executor and everything it owns.
//!
//! - [`table`]: the stream table (every live stream, per-server index, kill switches).
//! - [`shell`]: the I/O shell that drives a stream machine (`crate::stream`).
//! - [`deadline`]: the timer wheel of the streams' deadlines (one reactor timer per shard).
//! - [`tcp`]: TCP mode: starting a stream.
//! - [`http`]: HTTP/1.1 mode: starting a stream, pools, error pages.
//! - [`proxy_header`]: `accept_proxy`, the PROXY header read before a stream's machine.
//! - `account`: counters and the access log line of a finished exchange or stream.
//! - [`connect`]: server choice and connection with retries (both modes).
//! - [`balance`]: server selection (smooth weighted round-robin).
//! - [`budget`]: the shard's share of `maxconn`, taken before `accept()`.
//! - [`control_task`]: executes control-plane commands on this shard.
//! - [`generation`]: configuration generations (the shard's newest, each stream's own).
//! - [`apply`]: a new generation from the control plane (reload, `add|del server`).
//! - [`listeners`]: listeners added and removed at run time (reload), and their draining.
//!
//! Single-threaded by construction: `Rc`, `Cell`, `RefCell`, never `Arc`, locks or atomics.
//! Nothing here is reachable from another thread except through the two rings.

mod account;
pub mod apply;
pub mod balance;
pub mod budget;
pub mod connect;
pub mod control_task;
pub mod deadline;
pub mod errors;
pub mod generation;
pub mod http;
pub mod listeners;
pub mod proxy_header;
pub mod queue;
pub mod shell;
pub mod table;
pub mod tcp;
pub mod tls;

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use glommio::task::JoinHandle;
use glommio::{Latency, LocalExecutorBuilder, Placement, Shares};
use percore_conf::logformat::LogFormat;
use percore_conf::Config;

use self::balance::{Balancer, PickInput};
use self::budget::Budget;
use self::generation::{Generation, Generations};
use self::table::StreamTable;
use crate::ids::{ServerKey, ShardId, SlotPool};
use crate::logging::AccessLog;
use crate::rings::counters::Counters;
use crate::rings::msg::{AdminState, ServerView, ShardCommand, ShardEvent};
pub use crate::rings::{server_share, share};

/// This shard's plain share of a server's `maxconn` when nothing is lent: exact (the
/// shares sum to `maxconn`, a shard may own none), `u32::MAX` when unlimited.
fn slot_share(maxconn: u32, shards: usize, index: usize) -> u32 {
    if maxconn == 0 {
        u32::MAX
    } else {
        share(maxconn, shards, index)
    }
}

/// Result of [`Shard::pick_server_slot`].
pub enum Pick {
    /// A server and its slot.
    Got(usize, budget::BudgetSlot),
    /// Usable servers exist but every one is at its `maxconn`: wait in the queue.
    Full,
    /// No usable server.
    NoServer,
}

/// Everything a shard thread needs to start.
pub struct ShardSpec {
    /// Shard index.
    pub id: ShardId,
    /// CPU the shard is pinned to.
    pub cpu: usize,
    /// Number of shards in the process (for budget splitting).
    pub shards: usize,
    /// This shard's own copy of the configuration.
    pub config: Config,
    /// Listening sockets, already bound with SO_REUSEPORT.
    pub listeners: Vec<BoundListener>,
    /// Commands from the control plane.
    pub cmd_rx: thingbuf::mpsc::Receiver<ShardCommand>,
    /// Events to the control plane.
    pub evt_tx: thingbuf::mpsc::Sender<ShardEvent>,
    /// This shard's end of the access-log ring, when the access log is on.
    pub access_log: Option<AccessLog>,
    /// TLS session ticket keys, the same on every shard.
    pub ticket_keys: crate::tls::ticket::TicketKeys,
}

/// One listening socket created for a shard.
pub struct BoundListener {
    /// Frontend index.
    pub frontend: usize,
    /// The address as configured (port 0 for an ephemeral one); a reload names it so.
    pub configured: SocketAddr,
    /// Bound address (ephemeral ports resolved).
    pub addr: SocketAddr,
    /// The socket, bound and listening.
    pub fd: OwnedFd,
}

/// Submission queue entries of a shard's io_uring rings (completion queue: twice that).
/// The kernel sizes a ring's table of armed polls from its completion queue (1 bucket per
/// 32 entries, at most 256): with glommio's default of 128 entries, 8 buckets held every
/// socket's poll, so each cancel at a stream's end walked a chain of thousands — 6 % of the
/// CPU of a 1 000-stream kill. 4 096 entries give the maximum of 256 buckets, for about
/// 1.2 MiB of ring memory per shard.
const SHARD_RING_DEPTH: usize = 4096;

/// Starts the shard thread `percore-shard-<i>`. Start-up failures are reported as
/// [`ShardEvent::Fatal`] on the event ring.
pub fn spawn(spec: ShardSpec) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("percore-shard-{}", spec.id.0))
        .spawn(move || {
            let io_memory = spec.config.global.tune.io_memory;
            let built = LocalExecutorBuilder::new(Placement::Fixed(spec.cpu))
                .io_memory(io_memory)
                .ring_depth(SHARD_RING_DEPTH)
                .make();
            let executor = match built {
                Ok(ex) => ex,
                Err(e) => {
                    let message = crate::executor::explain_executor_error(&e, io_memory);
                    let _ = spec.evt_tx.try_send(ShardEvent::Fatal {
                        shard: spec.id,
                        message,
                    });
                    return;
                }
            };
            executor.run(main(spec));
        })
}

/// The shard's own state, shared by its tasks through `Rc`.
pub struct Shard {
    /// Shard index.
    pub id: ShardId,
    /// Pinned CPU.
    pub cpu: usize,
    /// The newest configuration generation; streams keep the one they started with.
    gen: RefCell<Rc<Generation>>,
    /// Generations applied that may still be alive (for `show shards`).
    pub generations: RefCell<Generations>,
    /// Live streams.
    pub table: Rc<RefCell<StreamTable>>,
    /// One balancer per backend.
    pub balancers: RefCell<Vec<Balancer>>,
    /// Read-only copies of each server's state (`views[backend][server]`), written only by
    /// the control task on command from the control plane.
    pub views: RefCell<Vec<Vec<ServerView>>>,
    /// Data buffers and head storage, held by streams only while bytes are in flight.
    pub pools: crate::stream::Pools,
    /// Counters merged by the control plane.
    pub counters: RefCell<Counters>,
    /// This shard's share of `global.maxconn`.
    pub global_budget: Rc<Budget>,
    /// This shard's share of each frontend's `maxconn`.
    pub frontend_budgets: RefCell<Vec<Rc<Budget>>>,
    /// This shard's share of each server's `maxconn` (`u32::MAX` when unlimited), taken
    /// while a stream uses the server; grows when a generation adds servers.
    pub server_budgets: RefCell<Vec<Vec<Rc<Budget>>>>,
    /// Per backend, the streams waiting for a server slot, oldest first.
    pub queues: RefCell<Vec<Rc<queue::WaitQueue>>>,
    /// Streams waiting for a server slot, per backend: (now, most ever). Bounded by the
    /// shard's stream budget, since every waiting stream holds one.
    pub queued: RefCell<Vec<(u64, u64)>>,
    /// Number of shards, to turn process-wide limits into this shard's share.
    pub shards: usize,
    /// Consecutive traffic errors per server (passive health, `observe`).
    pub passive_errors: RefCell<Vec<Vec<u32>>>,
    /// Events to the control plane from the data path (never awaited: a full ring counts a
    /// drop).
    evt_tx: thingbuf::mpsc::Sender<ShardEvent>,
    /// Access log, when enabled.
    pub access_log: RefCell<Option<AccessLog>>,
    /// Idle keep-alive server connections (HTTP).
    pub pool: RefCell<http::pool::Pool>,
    /// Head size and count limits of the HTTP codec.
    pub limits: percore_protocols::http1::Limits,
    /// Accept loops, cancelled when the shard stops (which closes the listeners).
    accept_tasks: RefCell<Vec<JoinHandle<()>>>,
    /// Each listener with its accept loop (`None` while `disable frontend` pauses it; the
    /// socket stays bound, so connections wait in the backlog). Emptied by a stop.
    listeners: RefCell<Vec<ShardListener>>,
    /// Task queue of the data path, where resumed accept loops are spawned (the control
    /// task that resumes them runs in its own latency queue).
    data_queue: Cell<Option<glommio::TaskQueueHandle>>,
    /// Set once a stop began.
    stopping: Cell<bool>,
    /// One rate limit per kind of repeated warning (flushed by the purge task).
    warnings: account::Warnings,
    /// HAProxy's httplog and tcplog layouts, parsed once (used without `log_format`).
    log_formats: (LogFormat, LogFormat),
    /// The last refused head per proxy, for `show errors`.
    pub errors: RefCell<errors::ErrorLog>,
    /// TLS acceptors of the current generation's binds.
    pub tls: RefCell<tls::ShardTls>,
}

impl Shard {
    /// Builds the state of shard `spec.id` from its configuration copy: its shares of every
    /// `maxconn`, one balancer and one view per server, empty table, counters and pools.
    fn new(spec: &ShardSpec, access_log: Option<AccessLog>) -> std::io::Result<Self> {
        let cfg = &spec.config;
        let servers: Vec<usize> = cfg.backends.iter().map(|b| b.servers.len()).collect();
        let global = share(cfg.global.maxconn, spec.shards, spec.id.0 as usize);
        let gen = Generation::new(0, spec.config.clone());
        let mut generations = Generations::default();
        generations.push(&gen);
        let queues: Vec<_> = cfg
            .backends
            .iter()
            .map(|_| queue::WaitQueue::new())
            .collect();
        let lend = |pool, owned| budget::Lend::new(pool, spec.id, owned, spec.evt_tx.clone());
        Ok(Shard {
            id: spec.id,
            cpu: spec.cpu,
            // A shard may borrow every global slot: the table's bound is the process's.
            table: Rc::new(RefCell::new(StreamTable::new(
                spec.id,
                cfg.global.maxconn as usize,
                cfg.frontends.len(),
                &servers,
            ))),
            balancers: RefCell::new(Self::new_balancers(cfg, spec.id)),
            views: RefCell::new(Self::new_views(cfg)),
            pools: crate::stream::Pools::new(
                cfg.global
                    .tune
                    .bufsize
                    .max(cfg.global.tune.max_header_size + 1),
            ),
            counters: RefCell::new(Counters::new(cfg.frontends.len(), &servers)),
            global_budget: Budget::lent(global, Some(lend(SlotPool::Global, global))),
            frontend_budgets: RefCell::new(
                (0..cfg.frontends.len())
                    .map(|f| {
                        frontend_budget((spec.id, spec.shards), &spec.evt_tx, f, &cfg.frontends[f])
                    })
                    .collect(),
            ),
            access_log: RefCell::new(access_log),
            server_budgets: RefCell::new(Self::new_server_budgets(spec, &queues)),
            queues: RefCell::new(queues),
            queued: RefCell::new(vec![(0, 0); cfg.backends.len()]),
            shards: spec.shards,
            passive_errors: RefCell::new(servers.iter().map(|&n| vec![0; n]).collect()),
            evt_tx: spec.evt_tx.clone(),
            pool: RefCell::new(Self::new_pool(cfg)),
            limits: percore_protocols::http1::Limits {
                max_header_size: cfg.global.tune.max_header_size,
                max_headers: cfg.global.tune.max_headers,
            },
            accept_tasks: RefCell::new(Vec::new()),
            listeners: RefCell::new(Vec::new()),
            data_queue: Cell::new(None),
            stopping: Cell::new(false),
            warnings: account::Warnings::new(spec.id),
            log_formats: (LogFormat::httplog(), LogFormat::tcplog()),
            errors: RefCell::new(errors::ErrorLog::new(
                cfg.frontends.len(),
                cfg.backends.len(),
            )),
            tls: RefCell::new(tls::ShardTls::new(cfg, &spec.ticket_keys)),
            gen: RefCell::new(gen),
            generations: RefCell::new(generations),
        })
    }

    /// One balancer per backend, with the configured weights and a seed that differs per
    /// shard.
    fn new_balancers(cfg: &Config, id: ShardId) -> Vec<Balancer> {
        cfg.backends
            .iter()
            .map(|b| {
                Balancer::new(
                    &b.balance,
                    b.hash_type,
                    b.servers.iter().map(|s| s.name.clone()).collect(),
                    b.servers.iter().map(|s| s.weight).collect(),
                    0x9e37_79b9_7f4a_7c15 ^ u64::from(id.0),
                )
            })
            .collect()
    }

    /// The server views a shard starts with: every server ready and UP with its configured
    /// weight and `maxconn`, until the control plane pushes its own view.
    fn new_views(cfg: &Config) -> Vec<Vec<ServerView>> {
        cfg.backends
            .iter()
            .map(|b| {
                b.servers
                    .iter()
                    .map(|s| ServerView {
                        address: s.address,
                        admin: AdminState::Ready,
                        weight: s.weight,
                        maxconn: s.maxconn,
                        up: true,
                        split_epoch: 0,
                    })
                    .collect()
            })
            .collect()
    }

    /// This shard's plain share of each server's `maxconn` (`u32::MAX` when unlimited),
    /// each budget linked to its backend's queue and to the cross-shard slot lending.
    fn new_server_budgets(
        spec: &ShardSpec,
        queues: &[Rc<queue::WaitQueue>],
    ) -> Vec<Vec<Rc<Budget>>> {
        spec.config
            .backends
            .iter()
            .zip(queues)
            .enumerate()
            .map(|(b, (be, q))| {
                be.servers
                    .iter()
                    .enumerate()
                    .map(|(i, srv)| {
                        let key = ServerKey {
                            backend: b,
                            server: i,
                        };
                        server_budget((spec.id, spec.shards), &spec.evt_tx, q, key, srv.maxconn)
                    })
                    .collect()
            })
            .collect()
    }

    /// The idle connection pool, sized per backend by its server count and its
    /// `pool_max_idle` and `pool_idle_timeout`.
    fn new_pool(cfg: &Config) -> http::pool::Pool {
        http::pool::Pool::new(&pool_limits(cfg))
    }

    /// The budget of a process-wide limit's slots on this shard.
    pub fn pool_budget(&self, pool: SlotPool) -> Option<Rc<Budget>> {
        match pool {
            SlotPool::Global => Some(self.global_budget.clone()),
            SlotPool::Frontend(f) => self.frontend_budgets.borrow().get(f).cloned(),
            SlotPool::Server(k) => self
                .server_budgets
                .borrow()
                .get(k.backend)?
                .get(k.server)
                .cloned(),
        }
    }

    /// Every budget of the shard.
    pub fn all_budgets(&self) -> Vec<Rc<Budget>> {
        std::iter::once(&self.global_budget)
            .chain(self.frontend_budgets.borrow().iter())
            .chain(self.server_budgets.borrow().iter().flatten())
            .cloned()
            .collect()
    }

    /// The newest configuration generation (what new streams start with).
    pub fn current(&self) -> Rc<Generation> {
        self.gen.borrow().clone()
    }

    /// Picks a server that takes new streams and has a free `maxconn` slot, and takes the
    /// slot. [`Pick::Full`] when usable servers exist but all their slots are taken (the
    /// caller queues), [`Pick::NoServer`] when no server is usable at all. `only`
    /// restricts the choice to one server (a retry without redispatch).
    pub fn pick_server_slot(
        &self,
        backend: usize,
        failed: &[usize],
        hash: Option<u64>,
        only: Option<usize>,
    ) -> Pick {
        let budgets = self.server_budgets.borrow();
        let budgets = &budgets[backend];
        let allowed = |i: usize| only.is_none_or(|o| o == i);
        let limit = self.dynamic_limits(backend);
        let free = |i: usize| allowed(i) && budgets[i].used() < limit(i);
        match self.pick_server(backend, failed, hash, &free) {
            Some(i) => match budgets[i].try_acquire() {
                Some(slot) => Pick::Got(i, slot),
                None => Pick::Full,
            },
            None if self.pick_server(backend, failed, hash, &allowed).is_some() => Pick::Full,
            None => Pick::NoServer,
        }
    }

    /// Each server's current slot limit on this shard: its `maxconn` share, or with `minconn`
    /// HAProxy's dynamic limit `max(minconn, maxconn × backend streams / fullconn)`, both
    /// as this shard's shares.
    fn dynamic_limits(&self, backend: usize) -> impl Fn(usize) -> u32 + '_ {
        let gen = self.current();
        let index = self.id.0 as usize;
        let load = self.table.borrow().backend_streams(backend) as u64;
        let fullconn = gen.config.backends[backend].fullconn;
        let full = u64::from(share(fullconn, self.shards, index).max(1));
        move |i: usize| {
            let be = &gen.config.backends[backend];
            let max = self.server_budgets.borrow()[backend][i].limit();
            let minconn = be.servers[i].minconn;
            if minconn == 0 || max == u32::MAX {
                return max;
            }
            let floor = server_share(minconn, self.shards, index);
            let scaled = (u64::from(max) * load / full).min(u64::from(max)) as u32;
            scaled.max(floor).min(max)
        }
    }

    /// Picks a server of `backend` that takes new streams (admin state ready, UP, weight >
    /// 0, `extra`), avoiding `failed` ones while others remain. Backup servers are used only
    /// when no primary is usable: the first usable backup, or all of them with `allbackups`.
    pub fn pick_server(
        &self,
        backend: usize,
        failed: &[usize],
        hash: Option<u64>,
        extra: &dyn Fn(usize) -> bool,
    ) -> Option<usize> {
        let views = self.views.borrow();
        let views = &views[backend];
        let gen = self.current();
        let be = &gen.config.backends[backend];
        // Backups depend on health only: primaries that are merely full make streams queue,
        // they do not hand the traffic to backups.
        let healthy = |i: usize| views[i].admin == AdminState::Ready && views[i].up;
        let primary = |i: usize| !be.servers[i].backup;
        let any_primary = (0..views.len()).any(|i| primary(i) && healthy(i) && views[i].weight > 0);
        let first_backup = if any_primary || be.allbackups {
            None
        } else {
            (0..views.len()).find(|&i| !primary(i) && healthy(i) && views[i].weight > 0)
        };
        let allowed = |i: usize| {
            healthy(i)
                && extra(i)
                && if any_primary {
                    primary(i)
                } else if be.allbackups {
                    !primary(i)
                } else {
                    Some(i) == first_backup
                }
        };
        let table = self.table.borrow();
        let conns = |i: usize| table.server_streams(ServerKey { backend, server: i }) as u64;
        let limit = |i: usize| u64::from(views[i].maxconn);
        let fresh = |i: usize| allowed(i) && !failed.contains(&i);
        let mut b = self.balancers.borrow_mut();
        let lb = &mut b[backend];
        lb.pick(&PickInput {
            eligible: &fresh,
            conns: &conns,
            limit: &limit,
            hash,
        })
        .or_else(|| {
            lb.pick(&PickInput {
                eligible: &allowed,
                conns: &conns,
                limit: &limit,
                hash,
            })
        })
    }

    /// Applies a server view sent by the control plane.
    pub fn set_server_view(&self, key: ServerKey, view: ServerView) {
        let mut views = self.views.borrow_mut();
        let Some(slot) = views
            .get_mut(key.backend)
            .and_then(|b| b.get_mut(key.server))
        else {
            return;
        };
        if slot.weight != view.weight {
            self.balancers.borrow_mut()[key.backend].set_weight(key.server, view.weight);
        }
        let new_split = slot.maxconn != view.maxconn || slot.split_epoch != view.split_epoch;
        let usable = view.admin == AdminState::Ready && view.up && view.weight > 0;
        if view.admin != AdminState::Ready || !view.up || view.address != slot.address {
            // Pooled connections would otherwise keep sending it new requests.
            self.pool.borrow_mut().clear_server(key);
        }
        *slot = view;
        drop(views);
        let budget = self.server_budgets.borrow()[key.backend][key.server].clone();
        if new_split {
            let owned = slot_share(view.maxconn, self.shards, self.id.0 as usize);
            budget.reset_split(owned, view.split_epoch);
        }
        budget.set_usable(usable);
    }

    /// Inserts a freshly accepted stream of `frontend` from `peer` into the table and counts
    /// it. `None` only if the table is full, which the connection budgets (taken before
    /// `accept()` and sized to the table) make a bug: it is logged, the client closed.
    pub fn register_stream(&self, frontend: usize, peer: SocketAddr) -> Option<table::SlotRef> {
        let backend = self.current().config.frontends[frontend].default_backend;
        let inserted = self
            .table
            .borrow_mut()
            .insert(frontend, backend, peer, Instant::now());
        let Ok(slot) = inserted else {
            log::error!(
                "shard {}: stream table full despite connection budget; closing client {peer}",
                self.id
            );
            return None;
        };
        self.on_stream_start(frontend);
        Some(slot)
    }

    /// Counts an accepted stream.
    pub fn on_stream_start(&self, frontend: usize) {
        let used = self.table.borrow().frontend_streams(frontend) as u64;
        let mut c = self.counters.borrow_mut();
        c.accepted += 1;
        let f = &mut c.frontends[frontend];
        f.count_stream(Instant::now());
        f.streams_max = f.streams_max.max(used);
    }

    /// Counts a retry (and a redispatch when the server changed).
    pub fn on_retry(&self, backend: usize, previous: Option<usize>, next: usize) {
        let mut c = self.counters.borrow_mut();
        let moved = previous.is_some_and(|p| p != next);
        c.backends[backend].retries += 1;
        if let Some(p) = previous {
            let s = &mut c.servers[backend][p];
            s.retries += 1;
            if moved {
                s.redispatches += 1;
            }
        }
        if moved {
            c.backends[backend].redispatches += 1;
        }
    }

    /// Passive health: one observed result of real traffic on `key` at `layer` (4: connect,
    /// timeout, reset; 7: invalid response or 500/502/503/504). Servers without `observe`
    /// (or observing only layer 4 when this is a layer-7 error) ignore it.
    pub fn observe(&self, key: ServerKey, ok: bool, layer: u8) {
        let gen = self.current();
        let Some(check) = &gen.config.backends[key.backend].servers[key.server].check else {
            return;
        };
        let observed = match check.observe {
            None => false,
            Some(percore_conf::check::Observe::Layer4) => layer == 4,
            Some(percore_conf::check::Observe::Layer7) => true,
        };
        if !observed {
            return;
        }
        if ok && layer == 4 && check.observe == Some(percore_conf::check::Observe::Layer7) {
            // A connect says nothing about responses: only a good response resets a
            // layer-7 observer (or `error_limit` could never be reached with fresh
            // connections).
            return;
        }
        let mut errors = self.passive_errors.borrow_mut();
        let count = &mut errors[key.backend][key.server];
        if ok {
            *count = 0;
            return;
        }
        *count += 1;
        if *count >= check.error_limit {
            *count = 0;
            let event = ShardEvent::ServerErrors {
                shard: self.id,
                server: key,
            };
            if self.evt_tx.try_send(event).is_err() {
                self.counters.borrow_mut().events_dropped += 1;
            }
        }
    }

    /// Counts a failed connection attempt.
    pub fn on_connect_error(&self, key: ServerKey) {
        let mut c = self.counters.borrow_mut();
        c.backends[key.backend].connect_errors += 1;
        c.servers[key.backend][key.server].connect_errors += 1;
    }

    /// Counts a stream handed to a server.
    pub fn on_server_connected(&self, key: ServerKey) {
        let live = self.table.borrow().server_streams(key) as u64;
        let backend_live = self.table.borrow().backend_streams(key.backend) as u64;
        let now = Instant::now();
        let mut c = self.counters.borrow_mut();
        let s = &mut c.servers[key.backend][key.server];
        s.count_stream(now);
        s.streams_max = s.streams_max.max(live);
        let b = &mut c.backends[key.backend];
        b.count_stream(now);
        b.streams_max = b.streams_max.max(backend_live);
    }

    /// Stops accepting: cancels the accept loops, which closes this shard's listeners.
    pub fn stop_accepting(&self) {
        self.stopping.set(true);
        for t in self.accept_tasks.borrow_mut().drain(..) {
            t.cancel();
        }
        for l in self.listeners.borrow_mut().drain(..) {
            if let Some(t) = l.task {
                t.cancel();
            }
        }
    }

    /// `disable|enable frontend` on this shard: pausing cancels the frontend's accept loops
    /// and returns once their futures are dropped (no accept of it is pending any more);
    /// resuming starts them again on the same, still bound, sockets. Idempotent.
    pub async fn set_frontend_accepting(self: &Rc<Self>, frontend: usize, accepting: bool) {
        if accepting {
            let Some(tq) = self.data_queue.get() else {
                return;
            };
            for l in self.listeners.borrow_mut().iter_mut() {
                if l.frontend == frontend && l.task.is_none() && !self.is_stopping() {
                    let bind = (l.id, l.configured, l.nth);
                    let run = accept_loop(self.clone(), frontend, bind, l.addr, l.socket.clone());
                    l.task = glommio::spawn_local_into(run, tq).ok().map(|t| t.detach());
                }
            }
            return;
        }
        let paused: Vec<JoinHandle<()>> = self
            .listeners
            .borrow_mut()
            .iter_mut()
            .filter(|l| l.frontend == frontend)
            .filter_map(|l| l.task.take())
            .collect();
        for t in paused {
            t.cancel();
            t.await;
        }
    }

    /// A new descriptor of each of this shard's listening sockets (`upgrade`); one that
    /// cannot be duplicated (descriptor limit) is left out, with a warning.
    pub fn dup_listeners(&self) -> Vec<crate::rings::msg::ListenerDup> {
        use std::os::fd::IntoRawFd;
        let mut out = Vec::new();
        for l in self.listeners.borrow().iter() {
            match l.socket.try_clone() {
                Ok(fd) => out.push(crate::rings::msg::ListenerDup {
                    frontend: l.frontend,
                    configured: l.configured,
                    addr: l.addr,
                    fd: fd.into_raw_fd(),
                }),
                Err(e) => log::warn!("shard {}: listener {}: dup: {e}", self.id, l.addr),
            }
        }
        out
    }

    /// True once a stop began.
    pub fn is_stopping(&self) -> bool {
        self.stopping.get()
    }

    /// What the machine of a stream that started with generation `gen` reads through;
    /// `layout` is the newest generation, where servers picked for it are described.
    pub fn env<'a>(
        &'a self,
        gen: &'a Generation,
        layout: &'a Generation,
    ) -> crate::stream::Env<'a> {
        crate::stream::Env {
            config: &gen.config,
            layout: &layout.config,
            pages: &gen.pages,
            limits: &self.limits,
            stopping: self.is_stopping(),
            pools: &self.pools,
        }
    }
}

/// The budget of frontend `f` on shard `(id, of shards)`: its plain share of `maxconn`,
/// linked to the slot lending.
fn frontend_budget(
    (id, shards): (ShardId, usize),
    evt_tx: &thingbuf::mpsc::Sender<ShardEvent>,
    f: usize,
    fe: &percore_conf::Frontend,
) -> Rc<Budget> {
    let owned = share(fe.maxconn, shards, id.0 as usize);
    let lend = budget::Lend::new(SlotPool::Frontend(f), id, owned, evt_tx.clone());
    Budget::lent(owned, Some(lend))
}

/// The budget of server `key` on shard `(id, of shards)`: its plain share of `maxconn`
/// (`u32::MAX` when unlimited), linked to its backend's queue and to the slot lending.
fn server_budget(
    (id, shards): (ShardId, usize),
    evt_tx: &thingbuf::mpsc::Sender<ShardEvent>,
    queue: &Rc<queue::WaitQueue>,
    key: ServerKey,
    maxconn: u32,
) -> Rc<Budget> {
    let limit = slot_share(maxconn, shards, id.0 as usize);
    let lend = budget::Lend::new(SlotPool::Server(key), id, limit, evt_tx.clone());
    Budget::for_server(limit, queue.clone(), key.server, Some(lend))
}

async fn main(mut spec: ShardSpec) {
    let access_log = spec.access_log.take();
    let shard = match Shard::new(&spec, access_log) {
        Ok(s) => Rc::new(s),
        Err(e) => {
            let _ = spec.evt_tx.try_send(ShardEvent::Fatal {
                shard: spec.id,
                message: format!("cannot start: {e}"),
            });
            return;
        }
    };
    let ShardSpec {
        listeners,
        cmd_rx,
        evt_tx,
        ..
    } = spec;
    let count = listeners.len();
    // Each frontend's binds are numbered from 1, as HAProxy names listeners in its logs.
    let mut listener_ids = vec![0usize; shard.current().config.frontends.len()];
    shard
        .data_queue
        .set(Some(glommio::executor().current_task_queue()));
    for l in listeners {
        listener_ids[l.frontend] += 1;
        let id = listener_ids[l.frontend];
        listeners::start(&shard, l, id, true);
    }
    let purge = glommio::spawn_local(purge_pool(shard.clone()));
    shard.accept_tasks.borrow_mut().push(purge.detach());
    // Not an accept task: a stop must not cancel it, since the stop's own kills need it.
    glommio::spawn_local(table::teardown(shard.table.clone())).detach();
    glommio::spawn_local(table::drive_deadlines(shard.table.clone())).detach();
    log::info!(
        "shard {} on cpu {}: accepting on {} listener(s)",
        shard.id,
        shard.cpu,
        count
    );
    // The control task must run within ~1 ms even when the data path saturates the CPU.
    let tq = glommio::executor().create_task_queue(
        Shares::Static(1000),
        Latency::Matters(Duration::from_millis(1)),
        "percore-control",
    );
    let ctl = control_task::run(shard.clone(), cmd_rx, evt_tx, count);
    match glommio::spawn_local_into(ctl, tq) {
        Ok(task) => task.await,
        Err(e) => log::error!("shard {}: cannot spawn its control task: {e}", shard.id),
    }
}

/// How often idle pooled server connections past their timeout are closed, the shard
/// checks whether a burst ended (then the allocator returns its free memory) and reports
/// the warnings it suppressed (within `logging::limit::WARN_FLUSH_INTERVAL`).
const POOL_PURGE_INTERVAL: Duration = Duration::from_millis(250);
// The purge task flushes the shard's warning limits: summaries must not come later than that.
const _: () = assert!(
    POOL_PURGE_INTERVAL.as_millis() <= crate::logging::limit::WARN_FLUSH_INTERVAL.as_millis()
);

/// Free buffers unused for this many purge intervals (1 s) go back to the allocator.
const BUFFER_TRIM_EVERY: u32 = 4;

/// Free buffers given back in one interval above which the allocator is asked to return
/// its free pages to the system (4 MiB at the default bufsize).
const TRIM_BUFFERS_MIN: usize = 256;

/// Slab slots (~136 B each) below which the stream table is shrunk only at a burst's end.
const SHRINK_SLAB_MIN: usize = 1024;

/// Streams that must have ended since the last peak before a drop to a quarter of it
/// counts as the end of a burst. Small enough that the tail of a burst (the last few
/// hundred streams, ~2.4 KB each) is given back too, not only its first three quarters.
const BURST_DROP_MIN: usize = 250;

/// Whether the shard's streams fell from `peak` to `now` far enough that the memory they
/// held should go back to the system.
fn burst_ended(peak: usize, now: usize) -> bool {
    peak.saturating_sub(now) >= BURST_DROP_MIN && now < peak / 4
}

/// Closes expired idle server connections, trims the buffer pools and reports suppressed
/// warnings, forever (cancelled with the accept loops).
async fn purge_pool(shard: Rc<Shard>) {
    let mut peak_streams = 0;
    let mut tick = 0u32;
    loop {
        glommio::timer::sleep(POOL_PURGE_INTERVAL).await;
        let now = Instant::now();
        shard.pool.borrow_mut().purge(now);
        shard.warnings.flush(now);
        // Wants of streams that gave up, idle borrowed slots, and slot messages the event
        // ring could not take.
        for b in shard.all_budgets() {
            b.return_idle();
            b.update_want();
        }
        tick = tick.wrapping_add(1);
        let trim_tick = tick.is_multiple_of(BUFFER_TRIM_EVERY);
        let trimmed = if trim_tick { shard.pools.trim() } else { 0 };
        let streams = shard.table.borrow().len();
        peak_streams = peak_streams.max(streams);
        // After a burst: freed buffers and stream state sit in the allocator's free lists,
        // counted in RSS until returned.
        let burst_ended = burst_ended(peak_streams, streams);
        if burst_ended {
            // The free lists sized for the burst are not needed any more.
            shard.pools.release_free();
        }
        let shrunk = (trim_tick || burst_ended) && shrink_tables(&shard, burst_ended);
        if trimmed >= TRIM_BUFFERS_MIN || burst_ended || shrunk {
            peak_streams = streams;
            crate::executor::return_free_memory();
        }
    }
}

/// Gives back the room of the stream table and of the reactor's source map (glommio patch
/// 15): both grow to a burst and shrink only when asked. Their tails free as a burst's last
/// streams end, which may be well after the burst. Unless `burst_ended`, only a table at
/// most a quarter full is shrunk: shrinking during a burst re-allocates its long-lived
/// parts among the burst's short-lived ones, which then pin the allocator's pages after
/// the burst (measured: +1.8 MiB instead of +0.8 after three 9 600-stream bursts). A
/// table of fewer than [`SHRINK_SLAB_MIN`] slots is left as it is outside a burst's end:
/// too little to give back for re-allocating its deadline buckets every few seconds.
/// Whether either shrank.
fn shrink_tables(shard: &Shard, burst_ended: bool) -> bool {
    let mut table = shard.table.borrow_mut();
    if !burst_ended && table.len() * 4 > table.slab_len() {
        return false;
    }
    let slots = if burst_ended || table.slab_len() >= SHRINK_SLAB_MIN {
        table.shrink()
    } else {
        0
    };
    drop(table);
    let sources = glommio::executor().source_slots();
    glommio::executor().shrink_memory();
    slots > 0 || glommio::executor().source_slots() < sources
}

/// One listening socket of this shard and its accept loop.
struct ShardListener {
    /// Frontend index.
    frontend: usize,
    /// Which bind of the frontend (from 1).
    id: usize,
    /// The address as configured (what a reload compares).
    configured: SocketAddr,
    /// Which of the frontend's binds written with `configured` it is (from 0), which
    /// tells its TLS settings apart when one address is written twice (`127.0.0.1:0`).
    nth: usize,
    /// Bound address.
    addr: SocketAddr,
    /// The socket (non-blocking), shared with its accept loop; closed when both let go.
    socket: Rc<OwnedFd>,
    /// The accept loop; `None` while the frontend is paused.
    task: Option<JoinHandle<()>>,
}

/// Accepts connections of one listener (the frontend's `id`-th bind), each once it has a
/// frontend and a global slot.
///
/// The accept is cancel-safe (`crate::accept`): cancelling this loop while it waits (a
/// pause, a removed listener, a stop, an upgrade handing the socket to a new process) takes
/// no connection from the queue, so none is closed unserved. At the limit, one accepted connection waits
/// here for its slots (while the rest wait in the kernel backlog): the shard then knows it
/// needs a slot, and asks the control plane for one that another shard does not use.
async fn accept_loop(
    shard: Rc<Shard>,
    frontend: usize,
    (id, configured, nth): (usize, SocketAddr, usize),
    addr: SocketAddr,
    listener: Rc<OwnedFd>,
) {
    let fe_budget = shard.frontend_budgets.borrow()[frontend].clone();
    let global = shard.global_budget.clone();
    let mut ready = glommio::net::Readiness::new(listener.as_fd());
    let mut burst = 0usize;
    loop {
        let accepted =
            crate::accept::accept::<glommio::net::TcpStream>(listener.as_fd(), &mut ready);
        let client = match accepted.await {
            Ok((client, peer)) => match peer.as_socket() {
                Some(peer) => {
                    let local = crate::accept::local_addr(&client, addr, peer);
                    (client, (peer, local))
                }
                // Not an address family a TCP listener can accept from.
                None => continue,
            },
            Err(e) => {
                // EMFILE/ENFILE and friends: back off instead of spinning on the error.
                shard.warn_accept(addr, &e);
                glommio::timer::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let fe_slot = fe_budget.acquire().await;
        let global_slot = global.acquire().await;
        let slots = [fe_slot, global_slot];
        let security = shard.tls.borrow().security(frontend, configured, nth);
        let listener = (frontend, id, security);
        match shard.current().config.frontends[frontend].mode {
            percore_conf::Mode::Tcp => tcp::start(&shard, listener, client, slots),
            percore_conf::Mode::Http => http::start(&shard, listener, client, slots),
        }
        burst += 1;
        if burst >= ACCEPT_BURST {
            burst = 0;
            glommio::timer::sleep(Duration::from_micros(1)).await;
        } else {
            glommio::yield_if_needed().await;
        }
    }
}

/// Connections accepted before the accept loop waits for a reactor pass (HAProxy's
/// `tune.maxaccept`): a burst of hundreds of connects would otherwise be accepted, and their
/// streams started, before any established stream's I/O is looked at again. Measured with
/// `percore-bench compare --scenario kill` (re-opening 1 000 streams per iteration while 32
/// others run round trips): s2 round trips/s 9 098 -> 9 765.
const ACCEPT_BURST: usize = 16;

/// Per backend: its server count, `pool_max_idle` and `pool_idle_timeout`, which size the
/// idle connection pool (at start and on every configuration change).
fn pool_limits(cfg: &Config) -> Vec<(usize, u32, Duration)> {
    cfg.backends
        .iter()
        .map(|b| {
            (
                b.servers.len(),
                b.http.pool_max_idle,
                b.http.pool_idle_timeout,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_sum_to_total() {
        for total in [1u32, 2, 3, 7, 100, 100_001] {
            for shards in 1..5 {
                let sum: u32 = (0..shards).map(|i| share(total, shards, i)).sum();
                assert_eq!(sum, total, "{total} over {shards}");
            }
        }
        assert_eq!(share(3, 2, 0), 2);
        assert_eq!(share(3, 2, 1), 1);
    }

    #[test]
    fn a_burst_ends_at_a_quarter_of_its_peak_and_its_tail_too() {
        // 9 800 streams draining: trimmed below 2 450, then again once the rest is gone.
        assert!(!burst_ended(9800, 2500));
        assert!(burst_ended(9800, 2400));
        assert!(burst_ended(2400, 0));
        // A few hundred streams coming and going is not a burst.
        assert!(!burst_ended(200, 0));
        assert!(!burst_ended(1000, 300));
    }
}
