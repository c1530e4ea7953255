//! Changes of the running layout: `reload` (and SIGHUP), `add server`, `del server`.
//!
//! Each one builds the next layout and server states in [`State`] (see `reload` for how
//! slots are kept), then sends one [`Op::ApplyConfig`] to every shard and replies once every
//! shard applied it. Runtime state an operator set (maintenance or drain, weight, address,
//! `maxconn`) is kept for servers that still exist, as HAProxy's server-state file does;
//! health-check state is kept for servers whose address and check settings are unchanged.
//! They run one at a time ([`Ctl::changing`]).

use std::os::fd::{IntoRawFd, OwnedFd};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Instant;

use percore_admin::{
    reload_failed, AddServer, ErrorReply, ServerRef, BACKEND_NOT_DYNAMIC, DELETE_HAS_CONNECTIONS,
    DELETE_NEEDS_MAINT, NEW_SERVER_REGISTERED, NO_SUCH_BACKEND, SERVER_DELETED, SERVER_EXISTS,
};
use percore_conf::Balance;

use super::exec::Ctl;
use super::reload::{self, Fate, Plan, ProxyFate, SERVER_SLOTS_MAX};
use super::shards::REPLY_TIMEOUT;
use super::state::{CheckState, ServerState, State};
use crate::ids::{ServerKey, SlotPool};
use crate::rings::msg::{AdminState, ApplyConfig, Op};

/// What is left to do once the state holds the new layout.
#[derive(Debug, Default)]
pub struct Followups {
    /// Slots holding a new server (their counters start from zero on the shards).
    pub fresh: Vec<ServerKey>,
    /// Servers whose checker must restart (or stop).
    pub checks: Vec<ServerKey>,
    /// New `maxconn` splits: (server, maxconn, split generation).
    pub splits: Vec<(ServerKey, u32, u32)>,
    /// New frontend `maxconn` splits: (frontend, maxconn, split generation).
    pub frontends: Vec<(usize, u32, u32)>,
}

/// One bound socket per shard for a new bind, with the address each is bound to.
type BoundSockets = Vec<(std::net::SocketAddr, OwnedFd)>;

/// Listener changes of a reload.
#[derive(Default)]
struct BindChanges {
    /// (frontend, configured address, its sockets).
    added: Vec<(usize, std::net::SocketAddr, BoundSockets)>,
    /// (frontend, configured address) of the binds to drop.
    removed: Vec<(usize, std::net::SocketAddr)>,
}

/// Clears [`Ctl::changing`] when the change ends, whatever way it ends.
pub(super) struct Changing<'a>(&'a Ctl);

impl Drop for Changing<'_> {
    fn drop(&mut self) {
        self.0.changing.set(false);
    }
}

impl Ctl {
    /// Marks a layout change as running; refused while another one is, and during a stop
    /// (the shards are draining).
    pub(super) fn begin_change(&self) -> Result<Changing<'_>, ErrorReply> {
        if self.stopping.get() {
            return Err(ErrorReply::from_static("The process is stopping.\n"));
        }
        if self.changing.replace(true) {
            return Err(ErrorReply::from_static(
                "Another reload, add server, del server or upgrade is in progress.\n",
            ));
        }
        Ok(Changing(self))
    }

    /// `reload [<file>]` and SIGHUP: reads and validates the file (the one the process
    /// started with by default), refuses it with the error (`FILE:LINE:COL: …`) and changes
    /// nothing if it is bad, else applies the difference on every shard and replies once all
    /// of them did.
    pub async fn reload(self: &Rc<Self>, path: Option<PathBuf>) -> Result<String, ErrorReply> {
        let _changing = self.begin_change()?;
        let t0 = Instant::now();
        let planned = self.plan_reload(path).and_then(|(path, plan)| {
            let metrics = self.rebind_metrics(&plan)?;
            let sink = self.reopen_log(&plan)?;
            let binds = self.bind_new_listeners(&plan)?;
            Ok((path, plan, (metrics, sink), binds))
        });
        let (path, plan, (metrics, sink), binds) = match planned {
            Ok(v) => v,
            Err(e) => {
                log::warn!("reload refused, the running configuration stays: {e}");
                return Err(reload_failed(&e));
            }
        };
        let (added, removed, changed) = plan.counts();
        let (proxies_added, proxies_removed) = plan.proxy_counts();
        let followups = self.state.borrow_mut().apply_plan(plan, Instant::now());
        let generation = self.apply_layout(followups).await?;
        self.apply_binds(binds).await?;
        if let Some(sink) = sink {
            if !self.log.retarget(sink) {
                log::warn!("reload: the log writer is gone; the log target was not changed");
            }
        }
        if let Some(moved) = metrics {
            if let Some(old) = self.metrics.borrow_mut().take() {
                old.cancel();
            }
            *self.metrics.borrow_mut() =
                moved.map(|(listener, bind)| super::serve_metrics(self, listener, bind));
        }
        let line = format!(
            "Reloaded {} as generation {generation}: {added} server(s) added, {removed} \
             removed, {changed} changed; {proxies_added} frontend(s)/backend(s) added, \
             {proxies_removed} removed; applied on every shard in {} us.",
            path.display(),
            t0.elapsed().as_micros()
        );
        log::info!("{line}");
        Ok(format!("{line}\n"))
    }

    /// The file to read, and the plan for it; `Err` is the operator's sentence.
    fn plan_reload(&self, path: Option<PathBuf>) -> Result<(PathBuf, Plan), String> {
        let Some(path) = path.or_else(|| self.state.borrow().path.clone()) else {
            return Err(
                "no configuration file: this process runs an embedded configuration \
                        (give one: reload <file>)"
                    .into(),
            );
        };
        let mut file =
            percore_conf::load(&path, &crate::runtime::host_info()).map_err(|e| e.to_string())?;
        let st = self.state.borrow();
        if !file.global.maxconn_configured {
            // The default was fitted to `ulimit -n` at start (crate::fds); it stays so.
            file.global.maxconn = st.config.global.maxconn;
        }
        let servers: Vec<Vec<reload::SlotFlags>> = st
            .servers
            .iter()
            .map(|b| b.iter().map(|s| (s.removed, s.dynamic)).collect())
            .collect();
        let flags = reload::Flags {
            servers: &servers,
            frontends: &st.frontend_removed,
            backends: &st.backend_removed,
        };
        let plan = reload::plan(&st.config, &flags, file)?;
        Ok((path, plan))
    }

    /// The metrics endpoint of the plan when it moves: `Some(None)` to close it,
    /// `Some(Some(..))` with the new listener, already bound so that a bind error refuses
    /// the reload before anything changed; `None` when it stays where it is.
    #[allow(clippy::type_complexity)] // one use, spelled out above
    fn rebind_metrics(
        &self,
        plan: &Plan,
    ) -> Result<Option<Option<(std::os::fd::OwnedFd, std::net::SocketAddr)>>, String> {
        let running = self
            .state
            .borrow()
            .config
            .global
            .metrics
            .as_ref()
            .map(|m| m.bind);
        let wanted = plan.layout.global.metrics.as_ref().map(|m| m.bind);
        if running == wanted {
            return Ok(None);
        }
        match wanted {
            Some(bind) => Ok(Some(Some((super::metrics::bind(bind)?, bind)))),
            None => Ok(Some(None)),
        }
    }

    /// The log sink the plan's `global.log` needs, opened (an error refuses the reload):
    /// when the target or its framing changes, and always for a file target, so that a
    /// reload after a log rotation reopens the file. `None` when nothing is to change or
    /// no writer runs (access log off, target stderr: nothing is written).
    fn reopen_log(&self, plan: &Plan) -> Result<Option<crate::logging::Retarget>, String> {
        let new = &plan.layout.global.log;
        let changed = {
            let old = &self.state.borrow().config.global.log;
            old.target != new.target
                || old.framing != new.framing
                || old.facility != new.facility
                || old.tag != new.tag
        };
        let file = matches!(new.target, percore_conf::LogTarget::File(_));
        if !self.log.has_writer() || !(changed || file) {
            return Ok(None);
        }
        crate::logging::Retarget::open(new)
            .map(Some)
            .map_err(|e| format!("global.log.target: cannot open it: {e}"))
    }

    /// The binds the plan adds, already bound (one socket per shard, so that a bind error
    /// refuses the reload before anything changed), and the binds it drops.
    fn bind_new_listeners(&self, plan: &Plan) -> Result<BindChanges, String> {
        let st = self.state.borrow();
        let backlog = st.config.global.tune.backlog as i32;
        let mut changes = BindChanges::default();
        let none = Vec::new();
        for (f, fe) in plan.layout.frontends.iter().enumerate() {
            // A removed frontend has no listener.
            let was = match st.config.frontends.get(f) {
                Some(was) if !st.frontend_removed[f] => &was.bind,
                _ => &none,
            };
            let now = if plan.frontends[f].live() {
                &fe.bind
            } else {
                &none
            };
            for &configured in now.iter().filter(|a| !was.contains(a)) {
                let sockets = crate::runtime::bind_address(configured, backlog, self.shards.len())
                    .map_err(|e| format!("frontend {}: cannot bind {configured}: {e}", fe.name))?;
                changes.added.push((f, configured, sockets));
            }
            for &configured in was.iter().filter(|a| !now.contains(a)) {
                changes.removed.push((f, configured));
            }
        }
        Ok(changes)
    }

    /// Hands each new listener's sockets to their shards, then removes the dropped binds
    /// (each shard serves what their accept queues hold before closing them).
    async fn apply_binds(&self, changes: BindChanges) -> Result<(), ErrorReply> {
        for (frontend, configured, sockets) in changes.added {
            let (name, accepting) = {
                let st = self.state.borrow();
                let name = st.config.frontends[frontend].name.clone();
                (name, !st.frontend_paused[frontend])
            };
            if let Some((addr, _)) = sockets.first() {
                log::info!("frontend {name} listening on {addr}");
            }
            for (i, (addr, fd)) in sockets.into_iter().enumerate() {
                let op = Op::AddListener {
                    frontend,
                    configured,
                    addr,
                    fd: fd.into_raw_fd(),
                    accepting,
                };
                self.shards
                    .unicast(crate::ids::ShardId(i as u16), op, REPLY_TIMEOUT)
                    .await
                    .map_err(|e| super::exec::timed_out(e, self.shards.len()))?;
            }
        }
        for (frontend, configured) in changes.removed {
            self.broadcast_op(Op::RemoveListener {
                frontend,
                configured,
            })
            .await?;
            let name = self.state.borrow().config.frontends[frontend].name.clone();
            log::info!("frontend {name}: bind {configured} removed");
        }
        Ok(())
    }

    /// `add server`: a new server in maintenance (HAProxy's rule), in the slot of a removed
    /// server of that name or appended, on every shard before the reply.
    pub async fn add_server(self: &Rc<Self>, add: AddServer) -> Result<String, ErrorReply> {
        let _changing = self.begin_change()?;
        let followups = self.state.borrow_mut().add_server(&add, Instant::now())?;
        self.apply_layout(followups).await?;
        log::info!(
            "server {}: added at {} (in maintenance)",
            add.server,
            add.address
        );
        Ok(NEW_SERVER_REGISTERED.into())
    }

    /// `del server`: only a server in maintenance without streams or idle connections on
    /// any shard (HAProxy's rules and texts); its slot is marked removed.
    pub async fn del_server(self: &Rc<Self>, r: &ServerRef) -> Result<String, ErrorReply> {
        let _changing = self.begin_change()?;
        let key = {
            let st = self.state.borrow();
            let key = st.lookup_server(r)?;
            if st.servers[key.backend][key.server].admin != AdminState::Maint {
                return Err(DELETE_NEEDS_MAINT);
            }
            key
        };
        let stats = self.collect_stats().await?;
        let attached: u64 = stats
            .iter()
            .map(|s| {
                let at = |v: &Vec<Vec<u64>>| {
                    v.get(key.backend)
                        .and_then(|b| b.get(key.server))
                        .copied()
                        .unwrap_or(0)
                };
                at(&s.server_streams) + at(&s.idle_conns)
            })
            .sum();
        if attached > 0 {
            return Err(DELETE_HAS_CONNECTIONS);
        }
        let followups = {
            let mut st = self.state.borrow_mut();
            st.servers[key.backend][key.server].removed = true;
            st.generation += 1;
            Followups {
                checks: vec![key],
                ..Followups::default()
            }
        };
        self.apply_layout(followups).await?;
        log::info!("server {r}: deleted");
        Ok(SERVER_DELETED.into())
    }

    /// Sends the state's layout and views as generation `state.generation` to every shard,
    /// then the new `maxconn` splits and checker restarts. Returns the generation.
    async fn apply_layout(self: &Rc<Self>, f: Followups) -> Result<u64, ErrorReply> {
        for &(key, maxconn, epoch) in &f.splits {
            self.lending
                .borrow_mut()
                .reset(SlotPool::Server(key), maxconn, epoch);
        }
        let apply = {
            let st = self.state.borrow();
            let views = (0..st.servers.len())
                .map(|backend| {
                    (0..st.servers[backend].len())
                        .map(|server| st.view(ServerKey { backend, server }))
                        .collect()
                })
                .collect();
            ApplyConfig {
                generation: st.generation,
                config: st.config.clone(),
                views,
                fresh: f.fresh,
            }
        };
        let generation = apply.generation;
        self.broadcast_op(Op::ApplyConfig(Box::new(apply))).await?;
        for (frontend, maxconn, epoch) in f.frontends {
            self.split_limit(SlotPool::Frontend(frontend), maxconn, epoch, |maxconn| {
                Op::SetFrontendMaxconn {
                    frontend,
                    maxconn,
                    epoch,
                }
            })
            .await?;
        }
        for key in f.checks {
            super::health::restart(self, key);
        }
        Ok(generation)
    }
}

impl State {
    /// Takes the plan's layout: each slot's server state as its fate says, frontend
    /// `maxconn` changes the operator did not override. Returns what the shards and the
    /// checkers still have to be told.
    pub fn apply_plan(&mut self, plan: Plan, now: Instant) -> Followups {
        let old = std::mem::replace(&mut self.config, plan.layout);
        let mut f = Followups::default();
        self.apply_proxy_fates(&old, &plan.frontends, &plan.backends, &mut f);
        for (b, fates) in plan.fates.iter().enumerate() {
            for (i, fate) in fates.iter().enumerate() {
                let key = ServerKey {
                    backend: b,
                    server: i,
                };
                match fate {
                    Fate::Same => self.servers[b][i].dynamic = false,
                    Fate::Gone | Fate::Dynamic => {}
                    Fate::Added => self.install_server(key, false, now, &mut f),
                    Fate::Removed => self.remove_server(key, now, &mut f),
                    Fate::Changed => {
                        let was = old.backends[b].servers[i].clone();
                        self.change_server(key, &was, &mut f);
                    }
                }
            }
        }
        self.generation += 1;
        f
    }

    /// Frontend and backend slots as the plan says: new ones get their tables (a new or
    /// revived frontend its `maxconn` split, a paused state of its own), removed ones are
    /// marked; a kept frontend takes the file's `maxconn` unless the operator changed it.
    fn apply_proxy_fates(
        &mut self,
        old: &percore_conf::Config,
        frontends: &[ProxyFate],
        backends: &[ProxyFate],
        f: &mut Followups,
    ) {
        for (b, fate) in backends.iter().enumerate() {
            if b >= self.servers.len() {
                self.servers.push(Vec::new());
                self.backend_health.push(Default::default());
                self.backend_removed.push(false);
            }
            match fate {
                ProxyFate::Added => self.backend_removed[b] = false,
                ProxyFate::Removed => self.backend_removed[b] = true,
                ProxyFate::Kept | ProxyFate::Gone => {}
            }
        }
        for (i, fate) in frontends.iter().enumerate() {
            let maxconn = self.config.frontends[i].maxconn;
            if i >= self.frontend_maxconn.len() {
                self.frontend_maxconn.push(maxconn);
                self.frontend_epoch.push(0);
                self.frontend_paused.push(false);
                self.frontend_removed.push(false);
            }
            let was = old.frontends.get(i).map_or(maxconn, |w| w.maxconn);
            let resplit = match fate {
                ProxyFate::Added => {
                    self.frontend_removed[i] = false;
                    self.frontend_paused[i] = false;
                    true
                }
                ProxyFate::Removed => {
                    self.frontend_removed[i] = true;
                    false
                }
                ProxyFate::Kept => was != maxconn && self.frontend_maxconn[i] == was,
                ProxyFate::Gone => false,
            };
            if resplit {
                self.frontend_maxconn[i] = maxconn;
                self.frontend_epoch[i] = self.frontend_epoch[i].wrapping_add(1);
                f.frontends.push((i, maxconn, self.frontend_epoch[i]));
            }
        }
    }

    /// A new server in slot `key` (appended, or a removed server's slot), as configured;
    /// `maint` for `add server`. Its counters, split and checker start anew.
    fn install_server(&mut self, key: ServerKey, maint: bool, now: Instant, f: &mut Followups) {
        let srv = &self.config.backends[key.backend].servers[key.server];
        let mut s = ServerState::from_config(srv, now);
        let slots = &mut self.servers[key.backend];
        // A slot used again gets a new split generation: old slot messages are void.
        s.split_epoch = slots
            .get(key.server)
            .map_or(0, |o| o.split_epoch.wrapping_add(1));
        if maint {
            s.admin = AdminState::Maint;
            s.dynamic = true;
        }
        f.splits.push((key, s.maxconn, s.split_epoch));
        if key.server < slots.len() {
            slots[key.server] = s;
        } else {
            slots.push(s);
        }
        f.fresh.push(key);
        f.checks.push(key);
        self.account_change(key, now);
    }

    /// Marks slot `key` removed: in maintenance, hidden, its checker stopped; its streams
    /// finish on the shards.
    fn remove_server(&mut self, key: ServerKey, now: Instant, f: &mut Followups) {
        let s = &mut self.servers[key.backend][key.server];
        s.removed = true;
        if s.admin != AdminState::Maint {
            s.admin = AdminState::Maint;
            s.last_change = now;
        }
        self.account_change(key, now);
        f.checks.push(key);
    }

    /// Slot `key` keeps its server with new settings (`was` the old ones): values the
    /// operator changed at run time stay, the others follow the file; checks restart
    /// (from full health) only if their settings or the address changed.
    fn change_server(&mut self, key: ServerKey, was: &percore_conf::Server, f: &mut Followups) {
        let new = self.config.backends[key.backend].servers[key.server].clone();
        let s = &mut self.servers[key.backend][key.server];
        s.dynamic = false;
        if s.weight == s.weight_initial {
            s.weight = new.weight;
        }
        s.weight_initial = new.weight;
        let moved = s.address == was.address && new.address != was.address;
        if moved {
            s.address = new.address;
        }
        if s.maxconn == was.maxconn && new.maxconn != was.maxconn {
            s.maxconn = new.maxconn;
            s.split_epoch = s.split_epoch.wrapping_add(1);
            f.splits.push((key, s.maxconn, s.split_epoch));
        }
        if was.check != new.check || was.tls != new.tls || moved {
            s.check = new.check.clone().map(CheckState::new);
            f.checks.push(key);
        }
    }

    /// `add server`'s state change: refuses what HAProxy refuses, then installs the server
    /// in maintenance as generation `generation + 1`.
    fn add_server(&mut self, add: &AddServer, now: Instant) -> Result<Followups, ErrorReply> {
        let backend = self
            .backend_index(&add.server.backend)
            .ok_or(NO_SUCH_BACKEND)?;
        let be = &self.config.backends[backend];
        let dynamic_lb = match be.balance {
            Balance::StaticRr => false,
            ref b if b.is_hash() => be.hash_type == percore_conf::HashType::Consistent,
            _ => true,
        };
        if !dynamic_lb {
            return Err(BACKEND_NOT_DYNAMIC);
        }
        let slot = be.servers.iter().position(|s| s.name == add.server.server);
        if slot.is_some_and(|i| !self.servers[backend][i].removed) {
            return Err(SERVER_EXISTS);
        }
        let slots: usize = self.config.backends.iter().map(|b| b.servers.len()).sum();
        if slot.is_none() && slots >= SERVER_SLOTS_MAX {
            return Err(ErrorReply::from_string(format!(
                "Too many servers: {SERVER_SLOTS_MAX} server slots in use.\n"
            )));
        }
        let server = added_server(add, be);
        let be = &mut self.config.backends[backend];
        let index = match slot {
            Some(i) => {
                be.servers[i] = server;
                i
            }
            None => {
                be.servers.push(server);
                be.servers.len() - 1
            }
        };
        let mut f = Followups::default();
        let key = ServerKey {
            backend,
            server: index,
        };
        self.install_server(key, true, now, &mut f);
        self.generation += 1;
        Ok(f)
    }
}

/// The configuration of a server `add server` creates in backend `be`: `check` takes the
/// backend's check settings (those of a checked server of it), else HAProxy's defaults.
fn added_server(add: &AddServer, be: &percore_conf::Backend) -> percore_conf::Server {
    let check = add.check.then(|| {
        be.servers
            .iter()
            .find_map(|s| s.check.clone())
            .unwrap_or_default()
    });
    percore_conf::Server {
        name: add.server.server.clone(),
        address: add.address,
        weight: add.weight,
        send_proxy: add.send_proxy.map(|v| match v {
            1 => percore_conf::ProxyVersion::V1,
            _ => percore_conf::ProxyVersion::V2,
        }),
        backup: add.backup,
        maxconn: add.maxconn,
        check,
        slowstart: None,
        minconn: 0,
        // `add server` has no TLS keywords yet: a dynamic server is plain.
        tls: None,
    }
}
