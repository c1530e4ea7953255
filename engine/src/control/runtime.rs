//! Runbook commands of HAProxy 2.6's runtime API beyond states and weights: `clear counters
//! [all]`, `disable|enable frontend`, `set maxconn global`, `set server … addr|health|
//! check-port|check-addr`, `show servers conn` and `show errors`. Each changes the authoritative state
//! first, then (where shards hold a copy) sends one command to every shard and answers once
//! all of them applied it. `set timeout cli` is the admin connection's own (`admin.rs`).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use percore_admin as admin;
use percore_admin::{
    ErrorKinds, ErrorReply, ErrorsProxy, ForcedHealth, PortArg, ServerRef, CANT_FIND_BACKEND,
    HEALTH_CHECKS_NOT_ENABLED, NO_SUCH_PROXY, SOCKETS_ALREADY_DISABLED, SOCKETS_ALREADY_ENABLED,
    VALUE_OUT_OF_RANGE,
};

use super::exec::Ctl;
use crate::ids::{ServerKey, SlotPool};
use crate::rings::msg::{ErrorEntry, Op, Reply, ShardStats};
use crate::stream::capture::CAPTURE_BYTES_MAX;

impl Ctl {
    /// `clear counters [all]`: every shard clears its counters; `all` also clears the
    /// control plane's check counters (`chkfail`, `chkdown`, `hanafail`), as HAProxy clears
    /// a server's whole counter block.
    pub(super) async fn clear_counters(&self, all: bool) -> Result<String, ErrorReply> {
        if all {
            let mut st = self.state.borrow_mut();
            for s in st.servers.iter_mut().flatten() {
                s.downs = 0;
                if let Some(c) = s.check.as_mut() {
                    c.failures = 0;
                    c.analysis_failures = 0;
                }
            }
            for h in st.backend_health.iter_mut() {
                h.downs = 0;
            }
        }
        self.broadcast_op(Op::ClearCounters { all }).await?;
        Ok(String::new())
    }

    /// `disable|enable frontend <fe>`: pauses or resumes its listeners on every shard.
    pub(super) async fn set_frontend_enabled(
        &self,
        name: &str,
        enabled: bool,
    ) -> Result<String, ErrorReply> {
        let fe = self.state.borrow().lookup_frontend(name)?;
        self.set_frontend_accepting(fe, enabled, "the admin socket")
            .await?;
        Ok(String::new())
    }

    /// SIGTTOU (`accepting` false) or SIGTTIN (true, named `cause`): pauses or resumes every
    /// live frontend as `disable|enable frontend` does, leaving those already in that state
    /// alone. So SIGTTIN also resumes a frontend `disable frontend` paused, as HAProxy's
    /// resume does. Logs how many changed once every shard applied them.
    pub async fn set_every_frontend_accepting(&self, accepting: bool, cause: &str) {
        let live: Vec<usize> = {
            let st = self.state.borrow();
            (0..st.frontend_paused.len())
                .filter(|&fe| !st.frontend_removed[fe] && st.frontend_paused[fe] == accepting)
                .collect()
        };
        let mut changed = 0;
        for fe in live {
            match self.set_frontend_accepting(fe, accepting, cause).await {
                Ok(()) => changed += 1,
                Err(e) => log::warn!("{cause}: frontend #{fe}: {e}"),
            }
        }
        let done = if accepting { "resumed" } else { "paused" };
        log::info!("{cause}: {done} {changed} frontend(s)");
    }

    /// Pauses or resumes the listeners of frontend `fe` on every shard, for `cause`; the
    /// reply once every shard applied it. Refuses a frontend already in that state.
    async fn set_frontend_accepting(
        &self,
        fe: usize,
        accepting: bool,
        cause: &str,
    ) -> Result<(), ErrorReply> {
        let name = {
            let mut st = self.state.borrow_mut();
            match (st.frontend_paused[fe], accepting) {
                (false, false) => st.frontend_paused[fe] = true,
                (true, true) => st.frontend_paused[fe] = false,
                (true, false) => return Err(SOCKETS_ALREADY_DISABLED),
                (false, true) => return Err(SOCKETS_ALREADY_ENABLED),
            }
            st.config.frontends[fe].name.clone()
        };
        log::info!(
            "frontend {name}: {} by {cause}",
            if accepting { "resumed" } else { "paused" }
        );
        self.broadcast_op(Op::SetFrontendAccepting {
            frontend: fe,
            accepting,
        })
        .await
    }

    /// `set maxconn global <n>`: above the configured (hard) limit → `Value out of range.`;
    /// 0 or less restores the hard limit, as HAProxy; each shard gets its share.
    pub(super) async fn set_maxconn_global(&self, n: i32) -> Result<String, ErrorReply> {
        let hard = self.state.borrow().config.global.maxconn;
        let n = match u32::try_from(n) {
            Ok(v) if v > hard => return Err(VALUE_OUT_OF_RANGE),
            Ok(v) if v > 0 => v,
            _ => hard,
        };
        let epoch = {
            let mut st = self.state.borrow_mut();
            st.global_maxconn = n;
            st.global_epoch = st.global_epoch.wrapping_add(1);
            st.global_epoch
        };
        self.split_limit(SlotPool::Global, n, epoch, |maxconn| Op::SetGlobalMaxconn {
            maxconn,
            epoch,
        })
        .await?;
        Ok(String::new())
    }

    /// `set server <b>/<s> addr <ip> [port <p>]`: new streams and checks go to the new
    /// address once every shard has its view; streams already connected keep their
    /// connection, and pooled idle connections to the old address are closed.
    pub(super) async fn set_server_addr(
        &self,
        r: &ServerRef,
        ip: IpAddr,
        port: Option<PortArg>,
    ) -> Result<String, ErrorReply> {
        let key = self.state.borrow().lookup_server(r)?;
        let (old, new) = {
            let mut st = self.state.borrow_mut();
            let s = &mut st.servers[key.backend][key.server];
            let old = s.address;
            let new_port = match port {
                Some(PortArg::Port(p)) => p,
                _ => old.port(),
            };
            s.address = SocketAddr::new(ip, new_port);
            (old, s.address)
        };
        let reply = admin::render_addr_change(old.ip(), ip, port.as_ref().map(|p| (old.port(), p)));
        if old != new {
            self.log_change(key, &format!("address changed from {old} to {new}"));
            self.push_view_to_shards(key).await?;
        }
        Ok(reply)
    }

    /// `set server <b>/<s> health up|stopping|down`: HAProxy's forced operational state;
    /// checks, if any, go on from the forced health.
    pub(super) async fn set_server_health(
        &self,
        r: &ServerRef,
        forced: ForcedHealth,
    ) -> Result<String, ErrorReply> {
        let key = self.state.borrow().lookup_server(r)?;
        let changed = {
            let mut st = self.state.borrow_mut();
            let now = Instant::now();
            let changed = st.servers[key.backend][key.server].force_health(forced);
            if changed.is_some() {
                st.servers[key.backend][key.server].last_change = now;
            }
            st.account_change(key, now);
            changed
        };
        if let Some(up) = changed {
            let what = if up { "UP" } else { "DOWN" };
            self.log_change(key, &format!("is {what}, changed from the admin socket"));
        }
        self.push_view_to_shards(key).await?;
        Ok(String::new())
    }

    /// `set server <b>/<s> check-port <p>` / `check-addr <ip> [port <p>]`: where the next
    /// health checks connect. Refused (HAProxy's text) on a server without checks.
    pub(super) fn set_server_check_target(
        &self,
        r: &ServerRef,
        addr: Option<IpAddr>,
        port: Option<u16>,
    ) -> Result<String, ErrorReply> {
        let key = self.state.borrow().lookup_server(r)?;
        let mut st = self.state.borrow_mut();
        let s = &mut st.servers[key.backend][key.server];
        if s.check.is_none() {
            return Err(HEALTH_CHECKS_NOT_ENABLED);
        }
        if let Some(a) = addr {
            s.check_addr = Some(a);
        }
        if let Some(p) = port {
            s.check_port = Some(p);
        }
        Ok(String::new())
    }

    /// `show servers conn [<backend>]`: connection figures of every server (or one
    /// backend's), idle connections per shard where HAProxy lists them per thread.
    pub(super) async fn show_servers_conn(
        &self,
        backend: Option<&str>,
    ) -> Result<String, ErrorReply> {
        let selected: Vec<usize> = {
            let st = self.state.borrow();
            match backend {
                Some(name) => vec![st.backend_index(name).ok_or(CANT_FIND_BACKEND)?],
                None => (0..st.config.backends.len()).collect(),
            }
        };
        let stats = self.collect_stats().await?;
        let st = self.state.borrow();
        let mut rows = Vec::new();
        for b in selected {
            let counted = super::exec::stats_servers(&stats, b);
            let live = (0..st.config.backends[b].servers.len().min(counted))
                .filter(|&i| !st.servers[b][i].removed);
            for i in live {
                rows.push(conn_row(
                    &st,
                    &stats,
                    ServerKey {
                        backend: b,
                        server: i,
                    },
                ));
            }
        }
        Ok(admin::render_servers_conn(&rows, stats.len()))
    }

    /// `show errors [<px>] [request|response]`: every shard's captures, the newest per
    /// proxy and direction, in proxy id order (a frontend's request, then a backend's
    /// response), as HAProxy lists them; the total is summed over shards.
    pub(super) async fn show_errors(
        &self,
        proxy: ErrorsProxy,
        kinds: ErrorKinds,
    ) -> Result<String, ErrorReply> {
        let only = self.errors_proxy_iid(&proxy)?;
        let mut total = 0;
        let mut newest: BTreeMap<(u32, bool), ErrorEntry> = BTreeMap::new();
        for reply in self.broadcast_replies(Op::ShowErrors).await? {
            let Reply::Errors(n, entries) = reply else {
                continue;
            };
            total += n;
            for e in entries {
                let key = (self.error_proxy_iid(&e), e.capture.response);
                if newest.get(&key).is_none_or(|old| old.unix_us < e.unix_us) {
                    newest.insert(key, e);
                }
            }
        }
        let rows: Vec<admin::ErrorRow> = newest
            .into_iter()
            .filter(|((iid, response), _)| {
                only.is_none_or(|o| o == *iid)
                    && match kinds {
                        ErrorKinds::Both => true,
                        ErrorKinds::Requests => !response,
                        ErrorKinds::Responses => *response,
                    }
            })
            .map(|(_, e)| self.error_row(e))
            .collect();
        let now_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        Ok(admin::render_errors(now_us, total, &rows))
    }

    /// The proxy id `show errors <px>` selects (`None`: all): a frontend or backend name,
    /// else HAProxy's `atoi`; 0 is `No such proxy.`
    fn errors_proxy_iid(&self, proxy: &ErrorsProxy) -> Result<Option<u32>, ErrorReply> {
        let ErrorsProxy::Named(name) = proxy else {
            return Ok(None);
        };
        let st = self.state.borrow();
        if let Some(f) = st.frontend_index(name) {
            return Ok(Some(st.frontend_iid(f)));
        }
        if let Some(b) = st.backend_index(name) {
            return Ok(Some(st.backend_iid(b)));
        }
        match u32::try_from(proxy.id_fallback()) {
            Ok(0) | Err(_) => Err(NO_SUCH_PROXY),
            Ok(id) => Ok(Some(id)),
        }
    }

    /// The proxy a capture is listed under: its frontend (requests) or backend (responses).
    fn error_proxy_iid(&self, e: &ErrorEntry) -> u32 {
        let st = self.state.borrow();
        match e.capture.backend.filter(|_| e.capture.response) {
            Some(b) => st.backend_iid(b),
            None => st.frontend_iid(e.frontend),
        }
    }

    /// One `show errors` entry with names and ids resolved.
    fn error_row(&self, e: ErrorEntry) -> admin::ErrorRow {
        let st = self.state.borrow();
        let fe = &st.config.frontends[e.frontend];
        let backend = e
            .capture
            .backend
            .map(|b| (st.config.backends[b].name.clone(), st.backend_iid(b)));
        let server = e.capture.server.map(|k| {
            let name = st.config.backends[k.backend].servers[k.server].name.clone();
            (name, k.server as u32 + 1)
        });
        admin::ErrorRow {
            unix_us: e.unix_us,
            response: e.capture.response,
            frontend: (fe.name.clone(), st.frontend_iid(e.frontend)),
            backend,
            server,
            event: e.event,
            src: e.src.to_string(),
            error_at: e.capture.error_at,
            buffer_bytes: CAPTURE_BYTES_MAX,
            bytes: e.capture.bytes,
        }
    }

    /// Logs a server change with its `backend/server` name.
    fn log_change(&self, key: ServerKey, what: &str) {
        let st = self.state.borrow();
        let be = &st.config.backends[key.backend];
        log::info!("server {}/{}: {what}", be.name, be.servers[key.server].name);
    }
}

/// One `show servers conn` line from the merged shard figures.
fn conn_row(
    st: &super::state::State,
    stats: &[ShardStats],
    key: ServerKey,
) -> admin::ServerConnRow {
    let be = &st.config.backends[key.backend];
    let s = &st.servers[key.backend][key.server];
    let per_shard = |f: &dyn Fn(&ShardStats) -> u64| -> Vec<u64> { stats.iter().map(f).collect() };
    let idle = per_shard(&|x| x.idle_conns[key.backend][key.server]);
    let used = per_shard(&|x| x.server_streams[key.backend][key.server]);
    let used_max: u64 = per_shard(&|x| x.counters.servers[key.backend][key.server].streams_max)
        .iter()
        .sum();
    let used_cur: u64 = used.iter().sum();
    let idle_cur: u64 = idle.iter().sum();
    admin::ServerConnRow {
        be_name: be.name.clone(),
        srv_name: be.servers[key.server].name.clone(),
        be_id: st.backend_iid(key.backend),
        srv_id: key.server as u32 + 1,
        addr: s.address.ip().to_string(),
        port: s.address.port(),
        purge_delay_ms: be.http.pool_idle_timeout.as_millis() as u64,
        used_cur,
        used_max,
        need_est: used_cur.max(used_max),
        unsafe_nb: 0,
        safe_nb: idle_cur,
        idle_lim: i64::from(be.http.pool_max_idle),
        idle_cur,
        idle_per_shard: idle,
    }
}
