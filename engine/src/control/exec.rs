//! Executes one parsed admin command: resolves names against the authoritative state,
//! changes it, pushes the change to every shard (waiting for all of them), and renders the
//! reply. Shard-wide questions (counters, streams) are broadcast and merged here.
//!
//! No `RefCell` borrow of the state is ever held across an `.await`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use percore_admin as admin;
use percore_admin::{
    Command, ErrorReply, ForcedHealth, Format, Level, Lookup, ServerRef, SessTarget, StatFilter,
    StatKind, StatOptions, StatRow, WeightSpec, CANT_FIND_BACKEND, NO_SUCH_SESSION,
    SESSION_NOT_FOUND,
};

use super::lend::{Action, Lending};
use super::shards::{BroadcastError, Shards, REPLY_TIMEOUT};
use super::state::State;
use crate::ids::{ServerKey, ShardId, SlotPool, StreamId};
use crate::rings::counters::{Counters, ProxyCounters};
use crate::rings::msg::{AdminState, Op, Reply, ShardStats, StreamInfo};
use crate::rings::share;

/// `Release_date` of `show info` (HAProxy's `YYYY/MM/DD` form): the date of this version's
/// last change, bumped with `version` in engine/Cargo.toml. Tools such as hatop refuse an
/// empty one.
pub const RELEASE_DATE: &str = "2026/12/02";

/// Streams one shard lists for `show sess` at most; bounds the reply's memory.
pub const SESS_LIST_MAX: usize = 100_000;

/// The control plane's shared context, used by every admin connection task.
pub struct Ctl {
    /// Authoritative state.
    pub state: RefCell<State>,
    /// The command rings.
    pub shards: Rc<Shards>,
    /// A graceful stop is in progress.
    pub stopping: Cell<bool>,
    /// Who owns each limit's slots (server, frontend, global `maxconn`).
    pub lending: RefCell<Lending>,
    /// Server state changes to the log target; the sink's losses.
    pub log: crate::logging::EventLog,
    /// The checker task of each checked server (restarted when a reload changes it).
    pub checkers: RefCell<std::collections::HashMap<ServerKey, glommio::task::JoinHandle<()>>>,
    /// Bounds the checks running at once (`health::CHECKS_CONCURRENT_MAX`).
    pub check_permits: Rc<glommio::sync::Semaphore>,
    /// A reload, `add server` or `del server` is being applied (they run one at a time).
    pub changing: Cell<bool>,
    /// The `/metrics` responder, when `global.metrics` is set (a reload may move it).
    pub metrics: RefCell<Option<super::metrics::Endpoint>>,
    /// Rate limits of repeated warnings (admin sockets, metrics), flushed by a task of the
    /// control plane.
    pub warnings: Rc<super::warnings::Warnings>,
    /// The open admin listeners (an upgrade hands them over).
    pub admin: RefCell<Vec<super::admin::AdminEntry>>,
    /// Binary upgrade state.
    pub upgrade: super::upgrade::Upgrade,
    /// The certificate of an open `set ssl cert` transaction.
    pub ssl_txn: RefCell<Option<percore_conf::tls::CertKey>>,
}

/// The error reply for a broadcast or unicast that did not complete.
pub(super) fn timed_out(e: BroadcastError, total: usize) -> ErrorReply {
    match e {
        BroadcastError::Timeout(missing) => admin::shards_timed_out(missing.len(), total),
        BroadcastError::Closed(_) => admin::shards_timed_out(1, total),
    }
}

impl Ctl {
    /// The context over `state`, the rings to the shards and the state-change log.
    pub fn new(state: State, shards: Rc<Shards>, log: crate::logging::EventLog) -> Self {
        let mut limits = vec![(SlotPool::Global, state.config.global.maxconn)];
        for (f, &m) in state.frontend_maxconn.iter().enumerate() {
            limits.push((SlotPool::Frontend(f), m));
        }
        for (b, servers) in state.servers.iter().enumerate() {
            for (s, srv) in servers.iter().enumerate() {
                let key = ServerKey {
                    backend: b,
                    server: s,
                };
                limits.push((SlotPool::Server(key), srv.maxconn));
            }
        }
        let lending = RefCell::new(Lending::new(&limits, shards.len()));
        Ctl {
            state: RefCell::new(state),
            shards,
            stopping: Cell::new(false),
            lending,
            log,
            checkers: RefCell::new(std::collections::HashMap::new()),
            check_permits: Rc::new(glommio::sync::Semaphore::new(
                super::health::CHECKS_CONCURRENT_MAX,
            )),
            changing: Cell::new(false),
            metrics: RefCell::new(None),
            warnings: Rc::default(),
            admin: RefCell::new(Vec::new()),
            upgrade: Default::default(),
            ssl_txn: RefCell::new(None),
        }
    }

    /// Sends the book's grants and reclaims for `pool` to their shards, without waiting
    /// (the control loop must keep reading events meanwhile).
    pub fn lend_actions(self: &Rc<Self>, pool: SlotPool, epoch: u32, actions: Vec<Action>) {
        for a in actions {
            let (shard, op) = match a {
                Action::Grant { shard, n } => (shard, Op::GrantSlots { pool, epoch, n }),
                Action::Reclaim { shard } => (shard, Op::ReclaimSlot { pool, epoch }),
            };
            let ctl = self.clone();
            glommio::spawn_local(async move {
                if let Err(e) = ctl.shards.unicast(shard, op, REPLY_TIMEOUT).await {
                    log::warn!("maxconn slot message to shard {shard} not answered: {e:?}");
                }
            })
            .detach();
        }
    }

    async fn broadcast(&self, op: Op) -> Result<Vec<Reply>, ErrorReply> {
        self.shards
            .broadcast(op, REPLY_TIMEOUT)
            .await
            .map_err(|e| timed_out(e, self.shards.len()))
    }

    /// Sends `op` to every shard; returns their replies in shard order.
    pub(super) async fn broadcast_replies(&self, op: Op) -> Result<Vec<Reply>, ErrorReply> {
        self.broadcast(op).await
    }

    /// Sends `op` to every shard and waits until each applied it.
    pub(super) async fn broadcast_op(&self, op: Op) -> Result<(), ErrorReply> {
        self.broadcast(op).await.map(|_| ())
    }

    /// Sends the current view of `key` to every shard and waits for all of them.
    pub async fn push_view_to_shards(&self, key: ServerKey) -> Result<(), ErrorReply> {
        self.push_view(key).await
    }

    async fn push_view(&self, key: ServerKey) -> Result<(), ErrorReply> {
        let view = self.state.borrow().view(key);
        self.broadcast(Op::SetServer { server: key, view }).await?;
        Ok(())
    }

    /// Counters of every shard, in shard order.
    pub async fn collect_stats(&self) -> Result<Vec<ShardStats>, ErrorReply> {
        let replies = self.broadcast(Op::CollectStats).await?;
        Ok(replies
            .into_iter()
            .filter_map(|r| match r {
                Reply::Stats(s) => Some(*s),
                _ => None,
            })
            .collect())
    }

    /// Kills every stream of `key` on every shard; returns how many. When it returns, every
    /// one of them is fenced (never polled again); their sockets close in the teardown that
    /// follows.
    pub async fn kill_server(&self, key: ServerKey) -> Result<usize, ErrorReply> {
        let replies = self.broadcast(Op::KillServer(key)).await?;
        Ok(replies
            .iter()
            .map(|r| match r {
                Reply::Killed(n) => *n,
                _ => 0,
            })
            .sum())
    }

    /// Runs one command at `level` (the parser already checked the level); each arm that
    /// does more than render hands the command to its own function below.
    pub async fn execute(
        self: &Rc<Self>,
        cmd: Command,
        level: Level,
    ) -> Result<String, ErrorReply> {
        match cmd {
            Command::Help(words) => Ok(admin::render_help(level, &words)),
            // Prompt and Quit are framing, handled by the connection loop.
            Command::Prompt | Command::Quit => Ok(String::new()),
            Command::ShowCliLevel => Ok(admin::render_cli_level(level)),
            Command::ShowVersion => Ok(admin::render_version(env!("CARGO_PKG_VERSION"))),
            Command::ShowBackend => Ok(self.show_backend()),
            Command::ShowServersState { backend } => self.show_servers_state(backend.as_deref()),
            Command::GetWeight(r) => {
                let st = self.state.borrow();
                let key = st.lookup_server(&r)?;
                let s = &st.servers[key.backend][key.server];
                Ok(admin::render_weight(s.weight, s.weight_initial))
            }
            Command::SetServerState(r, new) => self.set_server_state(&r, new).await,
            Command::SetServerWeight(r, spec) => self.set_server_weight(&r, spec).await,
            Command::SetHealth(r, enabled) => {
                let key = self.state.borrow().lookup_server(&r)?;
                self.state.borrow_mut().servers[key.backend][key.server].health_enabled = enabled;
                Ok(String::new())
            }
            Command::SetMaxconnServer(r, n) => self.set_maxconn_server(&r, n).await,
            Command::SetMaxconnFrontend(name, n) => self.set_maxconn_frontend(&name, n).await,
            Command::ShutdownSessionsServer(r) => self.shutdown_sessions_server(&r).await,
            Command::ShutdownSession(id) => self.shutdown_session(StreamId(id)).await,
            Command::ShowSess(target) => self.show_sess(target).await,
            Command::ShowStat { options, filter } => self.show_stat(options, filter, level).await,
            Command::ShowInfo { format, desc } => self.show_info(format, desc).await,
            Command::ShowShards => self.show_shards().await,
            Command::ClearCounters { all } => self.clear_counters(all).await,
            Command::SetFrontendEnabled(name, enabled) => {
                self.set_frontend_enabled(&name, enabled).await
            }
            Command::SetMaxconnGlobal(n) => self.set_maxconn_global(n).await,
            // The connection loop applies it to its own connection.
            Command::SetTimeoutCli(_) => Ok(String::new()),
            Command::SetServerAddr { server, addr, port } => {
                self.set_server_addr(&server, addr, port).await
            }
            Command::SetServerHealth(r, forced) => self.set_server_health(&r, forced).await,
            Command::SetServerCheckPort(r, port) => {
                self.set_server_check_target(&r, None, Some(port))
            }
            Command::SetServerCheckAddr { server, addr, port } => {
                self.set_server_check_target(&server, Some(addr), port)
            }
            Command::ShowErrors { proxy, kinds } => self.show_errors(proxy, kinds).await,
            Command::Reload(path) => self.reload(path.map(Into::into)).await,
            Command::Upgrade(binary) => self.upgrade(binary.map(Into::into)).await,
            Command::ShowSslCert(file) => self.show_ssl_cert(file),
            Command::SetSslCert { file, payload } => self.set_ssl_cert(&file, &payload),
            Command::CommitSslCert(file) => self.commit_ssl_cert(&file).await,
            Command::AbortSslCert(file) => self.abort_ssl_cert(&file),
            Command::AddServer(add) => self.add_server(add).await,
            Command::DelServer(r) => self.del_server(&r).await,
            Command::ShowServersConn { backend } => {
                self.show_servers_conn(backend.as_deref()).await
            }
            Command::ArgumentError { target, error } => {
                let st = self.state.borrow();
                match target {
                    Lookup::Server(r) => st.lookup_server(&r).map(|_| ())?,
                    Lookup::Frontend(name) => st.lookup_frontend(&name).map(|_| ())?,
                }
                Err(error)
            }
        }
    }

    /// `show backend`: the names of the backends that exist (removed ones are hidden).
    fn show_backend(&self) -> String {
        let st = self.state.borrow();
        let names: Vec<&str> = (0..st.config.backends.len())
            .filter(|&b| !st.backend_removed[b])
            .map(|b| st.config.backends[b].name.as_str())
            .collect();
        admin::render_backends(&names)
    }

    /// `set maxconn server`: a new limit starts a new split generation of its slots, then
    /// every shard gets the server's new view.
    async fn set_maxconn_server(&self, r: &ServerRef, n: u32) -> Result<String, ErrorReply> {
        let key = self.state.borrow().lookup_server(r)?;
        let epoch = {
            let mut st = self.state.borrow_mut();
            let s = &mut st.servers[key.backend][key.server];
            s.maxconn = n;
            s.split_epoch = s.split_epoch.wrapping_add(1);
            s.split_epoch
        };
        self.lending
            .borrow_mut()
            .reset(SlotPool::Server(key), n, epoch);
        self.push_view(key).await?;
        Ok(String::new())
    }

    /// `set server … state`: records the new admin state (and when it changed) and waits
    /// until every shard took it.
    async fn set_server_state(
        &self,
        r: &ServerRef,
        new: admin::AdminState,
    ) -> Result<String, ErrorReply> {
        let key = self.state.borrow().lookup_server(r)?;
        let state = match new {
            admin::AdminState::Ready => AdminState::Ready,
            admin::AdminState::Drain => AdminState::Drain,
            admin::AdminState::Maint => AdminState::Maint,
        };
        let old = {
            let mut st = self.state.borrow_mut();
            let s = &mut st.servers[key.backend][key.server];
            let old = s.admin;
            if s.admin != state {
                let now = Instant::now();
                s.admin = state;
                s.last_change = now;
                st.account_change(key, now);
            }
            old
        };
        self.log_server(key, &format!("admin state set to {state:?}"));
        if old != state {
            self.log_admin_change(key, old, state);
        }
        self.push_view(key).await?;
        Ok(String::new())
    }

    /// `set server … weight`: refuses what `spec` refuses for the backend's algorithm,
    /// otherwise waits until every shard took the new weight.
    async fn set_server_weight(
        &self,
        r: &ServerRef,
        spec: WeightSpec,
    ) -> Result<String, ErrorReply> {
        let key = self.state.borrow().lookup_server(r)?;
        {
            let mut st = self.state.borrow_mut();
            // Every algorithm but static-rr takes weight changes at run time.
            let dynamic =
                st.config.backends[key.backend].balance != percore_conf::Balance::StaticRr;
            let s = &mut st.servers[key.backend][key.server];
            s.weight = spec.apply(s.weight_initial, dynamic)?;
        }
        self.push_view(key).await?;
        Ok(String::new())
    }

    /// `set maxconn frontend`: gives each shard its share of `n`, one shard after the other;
    /// 0 lifts the frontend limit.
    async fn set_maxconn_frontend(&self, name: &str, n: u32) -> Result<String, ErrorReply> {
        let (fe, global) = {
            let st = self.state.borrow();
            (st.lookup_frontend(name)?, st.config.global.maxconn)
        };
        // 0 lifts the frontend limit (the process-wide maxconn still applies).
        let n = if n == 0 { global } else { n };
        let epoch = {
            let mut st = self.state.borrow_mut();
            st.frontend_maxconn[fe] = n;
            st.frontend_epoch[fe] = st.frontend_epoch[fe].wrapping_add(1);
            st.frontend_epoch[fe]
        };
        self.split_limit(SlotPool::Frontend(fe), n, epoch, |maxconn| {
            Op::SetFrontendMaxconn {
                frontend: fe,
                maxconn,
                epoch,
            }
        })
        .await?;
        Ok(String::new())
    }

    /// A new split of `pool`'s `n` slots (generation `epoch`): the book starts over and
    /// each shard, one after the other, gets its plain share through `op(share)`.
    pub(super) async fn split_limit(
        &self,
        pool: SlotPool,
        n: u32,
        epoch: u32,
        op: impl Fn(u32) -> Op,
    ) -> Result<(), ErrorReply> {
        self.lending.borrow_mut().reset(pool, n, epoch);
        let shards = self.shards.len();
        for i in 0..shards {
            self.shards
                .unicast(ShardId(i as u16), op(share(n, shards, i)), REPLY_TIMEOUT)
                .await
                .map_err(|e| timed_out(e, shards))?;
        }
        Ok(())
    }

    /// `shutdown sessions server`: kills the server's streams on every shard and logs how
    /// many and how long it took.
    async fn shutdown_sessions_server(&self, r: &ServerRef) -> Result<String, ErrorReply> {
        let key = self.state.borrow().lookup_server(r)?;
        let t0 = Instant::now();
        let killed = self.kill_server(key).await?;
        let us = t0.elapsed().as_micros();
        let line = self.server_line(
            key,
            &format!("shutdown sessions: {killed} stream(s) killed and fenced in {us} us"),
        );
        // The reply goes first: the line is a blocking write to stderr.
        glommio::spawn_local(async move { log::info!("{line}") }).detach();
        Ok(String::new())
    }

    /// `shutdown session <id>`: asks only the stream's own shard; an id naming no shard or
    /// no live stream is `NO_SUCH_SESSION`.
    async fn shutdown_session(&self, id: StreamId) -> Result<String, ErrorReply> {
        if id.shard().0 as usize >= self.shards.len() {
            return Err(NO_SUCH_SESSION);
        }
        let reply = self
            .shards
            .unicast(id.shard(), Op::KillStream(id), REPLY_TIMEOUT)
            .await
            .map_err(|e| timed_out(e, self.shards.len()))?;
        match reply {
            Reply::Killed(1) => Ok(String::new()),
            _ => Err(NO_SUCH_SESSION),
        }
    }

    /// `show stat`: merged counters as CSV or JSON, the columns `level` may see, after the
    /// optional row `filter`.
    async fn show_stat(
        &self,
        options: StatOptions,
        filter: Option<StatFilter>,
        level: Level,
    ) -> Result<String, ErrorReply> {
        let stats = self.collect_stats().await?;
        let mut rows = self.stat_rows(&stats);
        if let Some(f) = filter {
            f.apply(&mut rows)?;
        }
        options.hide_servers(&mut rows);
        Ok(match options.format {
            Format::Json => admin::render_stat_json(&rows, level),
            Format::Typed => admin::render_stat_typed(&rows, level, options.desc),
            Format::Plain => admin::render_stat_csv(&rows, level),
        })
    }

    /// `show info`: process-wide figures from every shard's counters, as text, JSON or typed.
    async fn show_info(&self, format: Format, desc: bool) -> Result<String, ErrorReply> {
        let stats = self.collect_stats().await?;
        let info = self.info(&stats);
        Ok(match format {
            Format::Json => admin::render_info_json(&info),
            Format::Typed => admin::render_info_typed(&info, desc),
            Format::Plain => admin::render_info(&info, desc),
        })
    }

    /// `show shards`: one row per shard from its counters and the depth of its cmd ring.
    async fn show_shards(&self) -> Result<String, ErrorReply> {
        let stats = self.collect_stats().await?;
        Ok(admin::render_shards(&self.shard_rows(&stats)))
    }

    /// The `/metrics` body: one stats collection from every shard, rendered with HAProxy's
    /// exporter names plus percore's per-shard series.
    pub async fn metrics_body(&self) -> Result<String, ErrorReply> {
        let stats = self.collect_stats().await?;
        let rows = self.stat_rows(&stats);
        let info = self.info(&stats);
        Ok(admin::render_prometheus(
            &info,
            &rows,
            &self.shard_rows(&stats),
        ))
    }

    /// One `show shards` row per shard from its counters and the depth of its cmd ring.
    fn shard_rows(&self, stats: &[ShardStats]) -> Vec<admin::ShardRow> {
        let depths = self.shards.ring_depths();
        stats
            .iter()
            .enumerate()
            .map(|(i, s)| admin::ShardRow {
                shard: i as u16,
                cpu: Some(s.cpu as u32),
                streams: s.streams,
                accepted: s.counters.accepted,
                cmd_ring_depth: depths.get(i).copied().unwrap_or(0) as u64,
                evt_ring_depth: s.evt_ring_depth as u64,
                events_dropped: s.counters.events_dropped,
                // Lost in the shard's ring, plus lost by the sink after the ring.
                logs_dropped: s.logs_dropped + self.log.sink_dropped(i),
                killed: s.counters.frontends.iter().map(|f| f.killed).sum(),
                ctl_latency_us_p50: s.ctl_latency_us_p50,
                ctl_latency_us_max: s.ctl_latency_us_max,
                generation: s.generation,
                generations_alive: s.generations_alive as u64,
                ..Default::default()
            })
            .collect()
    }

    /// An admin state change, to the log target in HAProxy's words.
    fn log_admin_change(&self, key: ServerKey, old: AdminState, state: AdminState) {
        let line = {
            let st = self.state.borrow();
            let b = &st.config.backends[key.backend];
            let name = format!("{}/{}", b.name, b.servers[key.server].name);
            match state {
                AdminState::Maint => format!("Server {name} is going DOWN for maintenance."),
                AdminState::Drain => format!("Server {name} enters drain state."),
                AdminState::Ready if old == AdminState::Drain => {
                    format!("Server {name} is UP (leaving forced drain).")
                }
                AdminState::Ready => format!("Server {name} is UP (leaving forced maintenance)."),
            }
        };
        self.log.event(crate::logging::Severity::Notice, &line);
    }

    fn log_server(&self, key: ServerKey, what: &str) {
        log::info!("{}", self.server_line(key, what));
    }

    /// `server <backend>/<server>: <what>`, the log line of a change to a server.
    fn server_line(&self, key: ServerKey, what: &str) -> String {
        let st = self.state.borrow();
        let b = &st.config.backends[key.backend];
        format!("server {}/{}: {what}", b.name, b.servers[key.server].name)
    }

    fn show_servers_state(&self, backend: Option<&str>) -> Result<String, ErrorReply> {
        let st = self.state.borrow();
        let selected: Vec<usize> = match backend {
            Some(name) => vec![st.backend_index(name).ok_or(CANT_FIND_BACKEND)?],
            None => (0..st.config.backends.len()).collect(),
        };
        let now = Instant::now();
        let mut rows = Vec::new();
        for b in selected {
            let be = &st.config.backends[b];
            for (i, srv) in be.servers.iter().enumerate() {
                let s = &st.servers[b][i];
                if s.removed {
                    continue;
                }
                rows.push(admin::ServerStateRow {
                    be_id: st.backend_iid(b),
                    be_name: be.name.clone(),
                    srv_id: i as u32 + 1,
                    srv_name: srv.name.clone(),
                    srv_addr: s.address.ip().to_string(),
                    // A server in maintenance is stopped for HAProxy (op state 0, health 0).
                    srv_op_state: if s.stopped() {
                        admin::SRV_OP_STOPPED
                    } else if s.op_nolb() {
                        admin::SRV_OP_STOPPING
                    } else {
                        admin::SRV_OP_RUNNING
                    },
                    srv_admin_state: match s.admin {
                        AdminState::Ready => 0,
                        AdminState::Drain => admin::SRV_ADMIN_FORCED_DRAIN,
                        AdminState::Maint => admin::SRV_ADMIN_FORCED_MAINT,
                    },
                    srv_uweight: s.weight,
                    srv_iweight: s.weight_initial,
                    srv_time_since_last_change: now.duration_since(s.last_change).as_secs(),
                    srv_port: u32::from(s.address.port()),
                    srv_check_port: s.check_port.map_or(0, u32::from),
                    srv_check_addr: s.check_addr.map_or(String::new(), |a| a.to_string()),
                    srv_check_status: s.check.as_ref().map_or(0, |c| c.status.code()),
                    srv_check_result: s.check.as_ref().map_or(0, |c| match c.status {
                        admin::CheckStatus::Layer4Ok | admin::CheckStatus::Layer7Ok => 3,
                        admin::CheckStatus::Initializing | admin::CheckStatus::Unknown => 0,
                        _ => 2,
                    }),
                    srv_check_health: s
                        .check
                        .as_ref()
                        .filter(|_| s.admin != AdminState::Maint)
                        .map_or(0, |c| c.health),
                    srv_check_state: match (&s.check, s.health_enabled, s.admin) {
                        (None, _, _) => 0,
                        // HAProxy: 6 running, 2 disabled, 14 paused (maintenance).
                        (Some(_), _, AdminState::Maint) => {
                            admin::SRV_CHECK_STATE_CONFIGURED
                                | admin::SRV_CHECK_STATE_ENABLED
                                | admin::SRV_CHECK_STATE_PAUSED
                        }
                        (Some(_), false, _) => admin::SRV_CHECK_STATE_CONFIGURED,
                        (Some(_), true, _) => {
                            admin::SRV_CHECK_STATE_CONFIGURED | admin::SRV_CHECK_STATE_ENABLED
                        }
                    },
                    ..Default::default()
                });
            }
        }
        Ok(admin::render_servers_state(&rows))
    }

    async fn show_sess(&self, target: SessTarget) -> Result<String, ErrorReply> {
        let streams: Vec<StreamInfo> = match target {
            SessTarget::Id(id) => {
                let id = StreamId(id);
                if id.shard().0 as usize >= self.shards.len() {
                    return Err(SESSION_NOT_FOUND);
                }
                // Only the owning shard is asked, and only for that stream.
                let reply = self
                    .shards
                    .unicast(id.shard(), Op::FindStream(id), REPLY_TIMEOUT)
                    .await
                    .map_err(|e| timed_out(e, self.shards.len()))?;
                match reply {
                    Reply::Streams(one) if one.len() == 1 && one[0].id == id => one,
                    _ => return Err(SESSION_NOT_FOUND),
                }
            }
            SessTarget::List | SessTarget::All => self
                .broadcast(Op::ListStreams {
                    limit: SESS_LIST_MAX,
                })
                .await?
                .into_iter()
                .flat_map(|r| match r {
                    Reply::Streams(v) => v,
                    _ => Vec::new(),
                })
                .collect(),
        };
        let rows = self.sess_rows(&streams);
        Ok(match target {
            SessTarget::List => admin::render_sess_list(&rows),
            _ => admin::render_sess_detail(&rows),
        })
    }

    fn sess_rows(&self, streams: &[StreamInfo]) -> Vec<admin::SessRow> {
        let st = self.state.borrow();
        let now_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros() as u64;
        streams
            .iter()
            .map(|s| {
                let fe = &st.config.frontends[s.frontend];
                let be = &st.config.backends[s.backend];
                let srv = s.server.map(|k| &be.servers[k.server]);
                admin::SessRow {
                    id: s.id.0,
                    proto: if s.client.is_ipv4() { "tcpv4" } else { "tcpv6" }.into(),
                    src: s.client.to_string(),
                    frontend: fe.name.clone(),
                    frontend_id: st.frontend_iid(s.frontend),
                    listener_addr: fe.bind.first().map(|a| a.to_string()).unwrap_or_default(),
                    backend: Some(be.name.clone()),
                    backend_id: Some(st.backend_iid(s.backend)),
                    server: srv.map(|v| v.name.clone()),
                    server_id: s.server.map(|k| k.server as u32 + 1),
                    server_addr: s
                        .server
                        .map(|k| st.servers[k.backend][k.server].address.to_string())
                        .unwrap_or_default(),
                    mode: mode_of(fe.mode),
                    age_secs: s.age.as_secs(),
                    accept_unix_us: now_us.saturating_sub(s.age.as_micros() as u64),
                    bytes_in: s.bytes_in,
                    bytes_out: s.bytes_out,
                    shard: s.id.shard().0,
                    state: if s.connecting { "connecting" } else { "data" }.into(),
                }
            })
            .collect()
    }

    /// Builds `show stat` rows from merged shard counters: per frontend a FRONTEND row, then
    /// per backend its servers and a BACKEND row. `smax` is the sum of the shards' maxima
    /// (an upper bound of the true process-wide maximum).
    pub fn stat_rows(&self, stats: &[ShardStats]) -> Vec<StatRow> {
        let st = self.state.borrow();
        let stopping = self.stopping.get();
        let sources = StatSources {
            st: &st,
            stats,
            now: Instant::now(),
        };
        let mut rows = Vec::new();
        // Stats gathered before a reload or `add server` finished have no row for what it
        // added yet.
        let counted =
            |len: fn(&Counters) -> usize| stats.iter().map(|x| len(&x.counters)).min().unwrap_or(0);
        let frontends = st
            .config
            .frontends
            .len()
            .min(counted(|c| c.frontends.len()));
        for i in (0..frontends).filter(|&i| !st.frontend_removed[i]) {
            rows.push(sources.frontend_row(i, stopping));
        }
        let backends = st.config.backends.len().min(counted(|c| c.backends.len()));
        for (b, be) in st.config.backends.iter().enumerate().take(backends) {
            if st.backend_removed[b] {
                continue;
            }
            let counted = stats_servers(stats, b);
            for i in (0..be.servers.len().min(counted)).filter(|&i| !st.servers[b][i].removed) {
                rows.push(sources.server_row(b, i));
            }
            rows.push(sources.backend_row(b));
        }
        rows
    }

    fn info(&self, stats: &[ShardStats]) -> admin::InfoSnapshot {
        let cum_req: u64 = stats
            .iter()
            .flat_map(|s| s.counters.frontends.iter())
            .map(|f| f.requests)
            .sum();
        let (ssl, reused) = stats
            .iter()
            .flat_map(|s| s.counters.frontends.iter())
            .fold((0, 0), |(a, b), f| (a + f.ssl_sess, b + f.ssl_reused_sess));
        let st = self.state.borrow();
        let uptime = st.started.elapsed();
        let curr: u64 = stats.iter().map(|s| s.streams).sum();
        let cum: u64 = stats.iter().map(|s| s.counters.accepted).sum();
        let bytes_out: u64 = stats
            .iter()
            .flat_map(|s| s.counters.frontends.iter())
            .map(|f| f.bytes_out)
            .sum();
        let started_unix = SystemTime::now()
            .checked_sub(uptime)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .unwrap_or(Duration::ZERO)
            .as_secs();
        let ulimit_n = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .map(|(soft, _)| soft)
            .unwrap_or(0);
        let listeners: usize = (0..st.config.frontends.len())
            .filter(|&f| !st.frontend_removed[f])
            .map(|f| st.config.frontends[f].bind.len())
            .sum();
        admin::InfoSnapshot {
            name: "percore".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            release_date: RELEASE_DATE.into(),
            nbthread: self.shards.len() as u64,
            pid: u64::from(std::process::id()),
            uptime_sec: uptime.as_secs(),
            ulimit_n,
            maxsock: crate::fds::needed(&st.config).min(ulimit_n),
            maxconn: u64::from(st.global_maxconn),
            hard_maxconn: u64::from(st.config.global.maxconn),
            curr_conns: curr,
            cum_conns: cum,
            cum_req,
            cum_ssl_conns: ssl,
            ssl_reuse_pct: (reused * 100).checked_div(ssl).unwrap_or(0),
            tasks: curr + self.shards.len() as u64,
            node: nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_default(),
            stopping: self.stopping.get(),
            jobs: curr + (listeners * self.shards.len()) as u64,
            listeners: (listeners * self.shards.len()) as u64,
            total_bytes_out: bytes_out,
            start_time_sec: started_unix,
            ..Default::default()
        }
    }
}

/// What every `show stat` row is built from: the authoritative state, every shard's
/// counters, and the one instant at which rates, averages and ages are read.
struct StatSources<'a> {
    /// Names, ids, limits and server states (borrowed for the whole reply, never across an
    /// `.await`).
    st: &'a State,
    /// Counters of every shard, in shard order.
    stats: &'a [ShardStats],
    /// When the rows are read.
    now: Instant,
}

impl StatSources<'_> {
    /// One figure summed over every shard.
    fn sum(&self, f: impl Fn(&ShardStats) -> u64) -> u64 {
        self.stats.iter().map(f).sum()
    }

    /// The FRONTEND row of frontend `i`; `stopping` turns its status from OPEN to STOP.
    fn frontend_row(&self, i: usize, stopping: bool) -> StatRow {
        let (st, now) = (self.st, self.now);
        let fe = &st.config.frontends[i];
        let c = merged(self.stats, now, |x| &x.frontends[i]);
        let http = fe.mode == percore_conf::Mode::Http;
        StatRow {
            pxname: fe.name.clone(),
            svname: "FRONTEND".into(),
            kind: StatKind::Frontend,
            iid: st.frontend_iid(i),
            sid: 0,
            mode: mode_of(fe.mode),
            scur: Some(self.sum(|s| s.frontend_streams[i])),
            smax: Some(c.streams_max),
            slim: Some(u64::from(st.frontend_maxconn[i])),
            stot: Some(c.streams_total),
            bin: Some(c.bytes_in),
            bout: Some(c.bytes_out),
            dreq: Some(c.denied),
            dresp: Some(0),
            ereq: Some(c.request_errors),
            status: if stopping {
                "STOP"
            } else if st.frontend_paused[i] {
                "PAUSED"
            } else {
                "OPEN"
            }
            .into(),
            conn_tot: Some(c.streams_total),
            killed: Some(c.killed),
            intercepted: http.then_some(c.intercepted),
            // HAProxy fills the rates on frontends of both modes; 0 = no rate limit.
            rate: Some(u64::from(c.stream_rate.rate(now))),
            rate_lim: Some(0),
            rate_max: Some(u64::from(c.stream_rate.max())),
            req_rate: Some(u64::from(c.request_rate.rate(now))),
            req_rate_max: Some(u64::from(c.request_rate.max())),
            // One stream per accepted connection: the connection rates are the stream rates.
            conn_rate: Some(u64::from(c.stream_rate.rate(now))),
            conn_rate_max: Some(u64::from(c.stream_rate.max())),
            dcon: Some(0),
            dses: Some(0),
            req_tot: Some(c.requests),
            modules: h1_module(
                (fe.mode, fe.tls.iter().any(Option::is_some)),
                self.sum(|s| s.frontend_streams[i]),
                &c,
                false,
            ),
            ..proxy_zeros(fe.mode, http_columns(fe.mode, &c, StatRow::default()))
        }
    }

    /// The row of server `i` of backend `b`.
    fn server_row(&self, b: usize, i: usize) -> StatRow {
        let (st, now) = (self.st, self.now);
        let be = &st.config.backends[b];
        let srv = &be.servers[i];
        let s = &st.servers[b][i];
        let c = merged(self.stats, now, |x| &x.servers[b][i]);
        let scur = self.sum(|x| x.server_streams[b][i]);
        let idle = self.sum(|x| x.idle_conns.get(b).and_then(|v| v.get(i)).map_or(0, |n| *n));
        StatRow {
            pxname: be.name.clone(),
            svname: srv.name.clone(),
            kind: StatKind::Server,
            iid: st.backend_iid(b),
            sid: i as u32 + 1,
            mode: mode_of(be.mode),
            qcur: Some(0),
            qmax: Some(0),
            scur: Some(scur),
            smax: Some(c.streams_max),
            slim: (s.maxconn > 0).then_some(u64::from(s.maxconn)),
            stot: Some(c.streams_total),
            bin: Some(c.bytes_in),
            bout: Some(c.bytes_out),
            dresp: Some(0),
            econ: Some(c.connect_errors),
            eresp: Some(c.response_errors),
            wretr: Some(c.retries),
            wredis: Some(c.redispatches),
            status: server_status(s),
            weight: Some(u64::from(s.effective_weight(now))),
            uweight: Some(u64::from(s.weight)),
            throttle: s.throttle(now),
            act: Some(u64::from(!srv.backup)),
            bck: Some(u64::from(srv.backup)),
            lastchg: Some(now.duration_since(s.last_change).as_secs()),
            lbtot: Some(c.streams_total),
            addr: s.address.to_string(),
            connect: Some(c.streams_total + c.connect_errors),
            killed: Some(c.killed),
            wrew: Some(0),
            reuse: Some(0),
            srv_icur: Some(idle),
            idle_conn_cur: Some(idle),
            safe_conn_cur: Some(idle),
            used_conn_cur: Some(scur),
            need_conn_est: Some(scur),
            modules: admin::Modules::SslOnly,
            ..check_columns(s, now, http_columns(be.mode, &c, outcome_columns(&c, now)))
        }
    }

    /// The BACKEND row of backend `b`: UP while one of its servers takes new streams.
    fn backend_row(&self, b: usize) -> StatRow {
        let (st, now) = (self.st, self.now);
        let be = &st.config.backends[b];
        let (active, backups, weight) = self.usable_servers(b);
        let c = merged(self.stats, now, |x| &x.backends[b]);
        let scur = self.sum(|x| x.backend_streams[b]);
        let health = &st.backend_health[b];
        StatRow {
            pxname: be.name.clone(),
            svname: "BACKEND".into(),
            kind: StatKind::Backend,
            iid: st.backend_iid(b),
            sid: 0,
            mode: mode_of(be.mode),
            qcur: Some(self.sum(|x| x.queued.get(b).map_or(0, |q| q.0))),
            qmax: Some(self.sum(|x| x.queued.get(b).map_or(0, |q| q.1))),
            scur: Some(scur),
            smax: Some(c.streams_max),
            // HAProxy shows a backend's fullconn as its limit.
            slim: Some(u64::from(be.fullconn)),
            stot: Some(c.streams_total),
            bin: Some(c.bytes_in),
            bout: Some(c.bytes_out),
            dreq: Some(0),
            dresp: Some(0),
            econ: Some(c.connect_errors),
            eresp: Some(c.response_errors),
            wretr: Some(c.retries),
            wredis: Some(c.redispatches),
            status: if active + backups > 0 { "UP" } else { "DOWN" }.into(),
            weight: Some(weight),
            uweight: Some(weight),
            act: Some(active),
            bck: Some(backups),
            lastchg: Some(
                now.duration_since(health.last_change.unwrap_or(st.started))
                    .as_secs(),
            ),
            chkdown: Some(health.downs),
            downtime: Some(
                (health.downtime
                    + health
                        .down_since
                        .map_or(Duration::ZERO, |d| now.saturating_duration_since(d)))
                .as_secs(),
            ),
            lbtot: Some(c.streams_total),
            algo: algo_name(&be.balance).into(),
            connect: Some(c.streams_total + c.connect_errors),
            killed: Some(c.killed),
            reuse: Some(0),
            agg_server_status: Some(0),
            agg_server_check_status: Some(0),
            agg_check_status: Some(0),
            modules: h1_module((be.mode, false), scur, &c, true),
            ..proxy_zeros(be.mode, http_columns(be.mode, &c, outcome_columns(&c, now)))
        }
    }

    /// Backend `b`'s usable servers (ready and not DOWN): how many active, how many backup,
    /// and the sum of the active ones' weights.
    fn usable_servers(&self, b: usize) -> (u64, u64, u64) {
        let mut active = 0u64;
        let mut backups = 0u64;
        let mut weight = 0u64;
        for (i, srv) in self.st.config.backends[b].servers.iter().enumerate() {
            let s = &self.st.servers[b][i];
            let up = s.op_up();
            let usable = s.admin == AdminState::Ready && up;
            if usable && !srv.backup {
                active += 1;
                weight += u64::from(s.weight);
            }
            if usable && srv.backup {
                backups += 1;
            }
        }
        (active, backups, weight)
    }
}

/// Server slots of backend `b` that every shard's stats cover.
pub(super) fn stats_servers(stats: &[ShardStats], b: usize) -> usize {
    stats
        .iter()
        .map(|x| {
            let counters = x.counters.servers.get(b).map_or(0, Vec::len);
            let streams = x.server_streams.get(b).map_or(0, Vec::len);
            let idle = x.idle_conns.get(b).map_or(0, Vec::len);
            counters.min(streams).min(idle)
        })
        .min()
        .unwrap_or(0)
}

fn mode_of(mode: percore_conf::Mode) -> admin::Mode {
    match mode {
        percore_conf::Mode::Tcp => admin::Mode::Tcp,
        percore_conf::Mode::Http => admin::Mode::Http,
    }
}

/// One object's counters summed over every shard, rates read at `now`.
fn merged(
    stats: &[ShardStats],
    now: Instant,
    select: impl Fn(&Counters) -> &ProxyCounters,
) -> ProxyCounters {
    let mut total = ProxyCounters::default();
    for s in stats {
        total.add(select(&s.counters), now);
    }
    total
}

/// The columns HAProxy fills on backend and server rows from stream outcomes and the time
/// averages: `cli_abrt`, `srv_abrt`, `rate`, `rate_max`, `qtime`, `ctime`, `rtime`, `ttime`.
fn outcome_columns(c: &ProxyCounters, now: Instant) -> StatRow {
    StatRow {
        rate: Some(u64::from(c.stream_rate.rate(now))),
        rate_max: Some(u64::from(c.stream_rate.max())),
        cli_abrt: Some(c.client_aborts),
        srv_abrt: Some(c.server_aborts),
        qtime: Some(c.queue_time.average_ms()),
        ctime: Some(c.connect_time.average_ms()),
        rtime: Some(c.response_time.average_ms()),
        ttime: Some(c.total_time.average_ms()),
        qtime_max: Some(u64::from(c.times_max_ms[0])),
        ctime_max: Some(u64::from(c.times_max_ms[1])),
        rtime_max: Some(u64::from(c.times_max_ms[2])),
        ttime_max: Some(u64::from(c.times_max_ms[3])),
        lastsess: Some(
            c.last_stream
                .map_or(-1, |t| now.saturating_duration_since(t).as_secs() as i64),
        ),
        wrew: Some(0),
        eint: Some(0),
        ..StatRow::default()
    }
}

/// `base` with the columns HAProxy fills with 0 on FRONTEND and BACKEND rows for features
/// percore does not have: compression (both modes), cache (HTTP), header-rewrite failures
/// and internal errors.
fn proxy_zeros(mode: percore_conf::Mode, base: StatRow) -> StatRow {
    let http = mode == percore_conf::Mode::Http;
    StatRow {
        comp_in: Some(0),
        comp_out: Some(0),
        comp_byp: Some(0),
        comp_rsp: Some(0),
        cache_lookups: http.then_some(0),
        cache_hits: http.then_some(0),
        wrew: Some(0),
        eint: Some(0),
        ..base
    }
}

/// The module columns of a FRONTEND (`backend` false) or BACKEND row: `h1_*` from the
/// proxy's counters in HTTP mode (a backend's bytes in are what its servers sent), zeros in
/// TCP mode, as HAProxy's h1 module.
fn h1_module(
    (mode, tls): (percore_conf::Mode, bool),
    scur: u64,
    c: &ProxyCounters,
    backend: bool,
) -> admin::Modules {
    let ssl = admin::SslModule {
        sess: c.ssl_sess,
        reused_sess: c.ssl_reused_sess,
        failed_handshake: c.ssl_failed_handshake,
        enabled: tls,
    };
    if mode != percore_conf::Mode::Http {
        return admin::Modules::All(admin::H1Module::default(), ssl);
    }
    let (bytes_in, bytes_out) = if backend {
        (c.bytes_out, c.bytes_in)
    } else {
        (c.bytes_in, c.bytes_out)
    };
    admin::Modules::All(
        admin::H1Module {
            open_connections: scur,
            open_streams: scur,
            total_connections: c.streams_total,
            total_streams: c.requests,
            bytes_in,
            bytes_out,
        },
        ssl,
    )
}

/// `base` with the HTTP columns of a `show stat` row (left empty in TCP mode, as HAProxy
/// leaves them).
fn http_columns(mode: percore_conf::Mode, c: &ProxyCounters, base: StatRow) -> StatRow {
    if mode != percore_conf::Mode::Http {
        return base;
    }
    StatRow {
        req_tot: Some(c.requests),
        hrsp_1xx: Some(c.responses[0]),
        hrsp_2xx: Some(c.responses[1]),
        hrsp_3xx: Some(c.responses[2]),
        hrsp_4xx: Some(c.responses[3]),
        hrsp_5xx: Some(c.responses[4]),
        hrsp_other: Some(c.responses[5]),
        ..base
    }
}

/// `base` with the check columns of a server row: empty without a check; the `check_*` and
/// `last_chk` columns also while checks are disabled (`disable health`) or paused by
/// maintenance, as HAProxy shows them only for running checks.
fn check_columns(s: &super::state::ServerState, now: Instant, base: StatRow) -> StatRow {
    let enabled = s.check.as_ref().filter(|_| s.health_enabled);
    let checked = enabled.filter(|_| s.admin != AdminState::Maint);
    StatRow {
        // HAProxy shows these while checks are enabled (maintenance only pauses them).
        chkfail: enabled.map(|c| c.failures),
        chkdown: enabled.map(|_| s.downs),
        // HAProxy fills hanafail only for servers that observe their traffic.
        hanafail: enabled
            .filter(|c| c.config.observe.is_some())
            .map(|c| c.analysis_failures),
        downtime: enabled.map(|_| s.downtime_at(now)),
        check_status: checked.map_or(String::new(), |c| c.status.info().to_string()),
        check_last: s
            .check
            .as_ref()
            .map_or(String::new(), |c| c.status.info().to_string()),
        check_desc: checked.map_or(String::new(), |c| c.status.description().to_string()),
        check_code: checked.and_then(|c| c.code.map(u64::from)),
        check_duration: checked.map(|c| c.duration_ms),
        last_chk: checked.map_or(String::new(), |c| c.info.clone()),
        check_rise: checked.map(|c| u64::from(c.config.rise)),
        check_fall: checked.map(|c| u64::from(c.config.fall)),
        check_health: checked.map(|c| u64::from(c.health)),
        ..base
    }
}

/// `show stat` status of a server, as HAProxy words it.
fn server_status(s: &super::state::ServerState) -> String {
    match (s.admin, &s.check) {
        (AdminState::Maint, _) => "MAINT".into(),
        (AdminState::Drain, _) => "DRAIN".into(),
        (AdminState::Ready, None) if s.forced == Some(ForcedHealth::Down) => "DOWN".into(),
        (AdminState::Ready, None) if s.forced == Some(ForcedHealth::Stopping) => "NOLB".into(),
        (AdminState::Ready, None) => "no check".into(),
        (AdminState::Ready, Some(_)) if !s.health_enabled => "no check".into(),
        (AdminState::Ready, Some(c)) => {
            let full = c.config.rise + c.config.fall - 1;
            if c.up && c.nolb {
                "NOLB".into()
            } else if c.up && c.health == full {
                "UP".into()
            } else if c.up {
                // Going down: HAProxy prints "UP n/fall" with the failures left.
                format!("UP {}/{}", c.health + 1 - c.config.rise, c.config.fall)
            } else if c.health > 0 {
                format!("DOWN {}/{}", c.health, c.config.rise)
            } else {
                "DOWN".into()
            }
        }
    }
}

/// The `algo` column of a BACKEND row, HAProxy's words.
fn algo_name(b: &percore_conf::Balance) -> &'static str {
    use percore_conf::Balance as B;
    match b {
        B::RoundRobin => "roundrobin",
        B::StaticRr => "static-rr",
        B::LeastConn => "leastconn",
        B::First => "first",
        B::Random => "random",
        B::Source => "source",
        B::Uri { .. } => "uri",
        B::Hdr(_) => "hdr",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rings::msg::ShardCommand;

    const CONFIG: &str = "global:\n  shards: 2\nfrontends:\n  fe:\n    bind: \"127.0.0.1:0\"\n    \
                          default_backend: app\nbackends:\n  app:\n    servers:\n      \
                          - { name: s1, address: \"127.0.0.1:9\" }\n";

    fn info(id: StreamId) -> StreamInfo {
        StreamInfo {
            id,
            frontend: 0,
            backend: 0,
            server: None,
            client: "127.0.0.1:4000".parse().expect("addr"),
            age: Duration::from_secs(3),
            bytes_in: 1,
            bytes_out: 2,
            connecting: false,
        }
    }

    /// Answers the next command of a fake shard `shard` with `reply(op)`.
    async fn answer(
        shards: &Shards,
        shard: ShardId,
        rx: &thingbuf::mpsc::Receiver<ShardCommand>,
        reply: impl FnOnce(&Op) -> Reply,
    ) {
        let cmd = rx.recv().await.expect("a command");
        shards.deliver(shard, cmd.id, reply(&cmd.op));
    }

    /// `show sess <id>` is routed to the stream's own shard and asks it for that stream only
    /// (never a listing of the shard's streams); the other shards are not asked at all.
    #[test]
    fn show_sess_id_asks_only_the_owning_shard_for_that_stream() {
        let host = percore_conf::HostInfo { cpus: vec![0, 1] };
        let config = percore_conf::parse("t.yaml", CONFIG, &host).expect("config");
        let (tx0, rx0) = thingbuf::mpsc::channel(8);
        let (tx1, rx1) = thingbuf::mpsc::channel(8);
        let ex = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .io_memory(256 << 10)
            .make()
            .expect("executor");
        ex.run(async move {
            let shards = Rc::new(Shards::new(vec![tx0, tx1]));
            let ctl = Rc::new(Ctl::new(
                State::new(config),
                shards.clone(),
                crate::logging::EventLog::default(),
            ));
            let id = StreamId::new(ShardId(1), 42);
            let asked = Rc::new(RefCell::new(Vec::new()));
            let shard1 = {
                let (shards, asked) = (shards.clone(), asked.clone());
                glommio::spawn_local(async move {
                    for found in [true, false] {
                        answer(&shards, ShardId(1), &rx1, |op| {
                            asked.borrow_mut().push(format!("{op:?}"));
                            match op {
                                Op::FindStream(i) if found => Reply::Streams(vec![info(*i)]),
                                _ => Reply::Streams(Vec::new()),
                            }
                        })
                        .await;
                    }
                })
            };
            let show =
                |id: StreamId| ctl.execute(Command::ShowSess(SessTarget::Id(id.0)), Level::Admin);
            let reply = show(id).await.expect("found");
            assert!(reply.starts_with("0x100000000002a: ["), "{reply}");
            assert!(reply.contains(" id=42 "), "{reply}");
            let gone = StreamId::new(ShardId(1), 43);
            assert_eq!(show(gone).await, Err(SESSION_NOT_FOUND));
            shard1.await;
            assert_eq!(
                *asked.borrow(),
                [
                    format!("{:?}", Op::FindStream(id)),
                    format!("{:?}", Op::FindStream(gone))
                ]
            );
            assert!(rx0.try_recv().is_err(), "shard 0 must not be asked");
            // A shard that does not exist: refused without asking anyone.
            let nowhere = StreamId::new(ShardId(7), 1);
            assert_eq!(show(nowhere).await, Err(SESSION_NOT_FOUND));
        });
    }
}
