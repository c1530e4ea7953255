//! Authoritative server and frontend state, owned by the control plane alone.
//!
//! Shards hold read-only [`ServerView`]s; every change made here is pushed to all of them by
//! command before the admin reply is written. Names are resolved here, with HAProxy's error
//! replies for unknown names.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use percore_admin::{
    CheckStatus, ErrorReply, ForcedHealth, ServerRef, NO_SUCH_BACKEND, NO_SUCH_FRONTEND,
    NO_SUCH_SERVER,
};
use percore_conf::Config;

use crate::ids::ServerKey;
use crate::rings::msg::{AdminState, ServerView};

/// One server's operator-controlled state.
#[derive(Debug, Clone)]
pub struct ServerState {
    /// ready / drain / maint.
    pub admin: AdminState,
    /// Current weight.
    pub weight: u32,
    /// Configured weight.
    pub weight_initial: u32,
    /// Connection limit (0 = unlimited), exact for the whole process.
    pub maxconn: u32,
    /// Generation of the split of `maxconn` between shards (bumped by each change).
    pub split_epoch: u32,
    /// Whether health checks are enabled (`disable|enable health`).
    pub health_enabled: bool,
    /// Last change of the admin or operational state (HAProxy `lastchg`).
    pub last_change: Instant,
    /// Health-check state; `None` when the server is not checked (always UP).
    pub check: Option<CheckState>,
    /// Slow start in progress: since when, and for how long.
    pub ramp: Option<(Instant, std::time::Duration)>,
    /// Since when the server is stopped (DOWN by its checks or in maintenance); `None`
    /// while it runs.
    pub stopped_since: Option<Instant>,
    /// Time spent stopped in earlier periods (`downtime` adds the current one).
    pub downtime: std::time::Duration,
    /// Running → stopped transitions (`chkdown`), maintenance included as HAProxy counts it.
    pub downs: u64,
    /// Current address (`set server … addr`); new connections and checks go there.
    pub address: SocketAddr,
    /// Address checks connect to instead of `address`'s IP (`set server … check-addr`).
    pub check_addr: Option<IpAddr>,
    /// Port checks connect to instead of `address`'s port (`check-port`).
    pub check_port: Option<u16>,
    /// Operational state forced by `set server … health` on a server without checks
    /// (a checked server's forced state lives in its [`CheckState`] until the next check).
    pub forced: Option<ForcedHealth>,
    /// The slot's server was removed (by a reload or `del server`): it is in maintenance,
    /// hidden from every listing and lookup, and its streams finish where they are. A
    /// server of the same name added later takes the slot again.
    pub removed: bool,
    /// Added at run time (`add server`): a reload keeps it unless the file names it.
    pub dynamic: bool,
}

impl ServerState {
    /// The state a server of the configuration starts with: ready, its configured weight,
    /// `maxconn`, address and checks.
    pub fn from_config(srv: &percore_conf::Server, now: Instant) -> Self {
        ServerState {
            admin: AdminState::Ready,
            weight: srv.weight,
            weight_initial: srv.weight,
            maxconn: srv.maxconn,
            split_epoch: 0,
            health_enabled: true,
            last_change: now,
            check: srv.check.clone().map(CheckState::new),
            ramp: None,
            stopped_since: None,
            downtime: std::time::Duration::ZERO,
            downs: 0,
            address: srv.address,
            check_addr: None,
            check_port: None,
            forced: None,
            removed: false,
            dynamic: false,
        }
    }

    /// The weight shards use now: the current weight, scaled down during a slow start
    /// (never below 1 for a non-zero weight, so the server still gets some traffic).
    pub fn effective_weight(&self, now: Instant) -> u32 {
        match self.ramp {
            Some((start, len)) if self.weight > 0 => {
                let done = now.saturating_duration_since(start).as_secs_f64() / len.as_secs_f64();
                if done >= 1.0 {
                    self.weight
                } else {
                    ((f64::from(self.weight) * done) as u32).max(1)
                }
            }
            _ => self.weight,
        }
    }

    /// Whether HAProxy would report the server stopped (`srv_op_state` 0): DOWN by its
    /// checks, or in maintenance.
    pub fn stopped(&self) -> bool {
        self.admin == AdminState::Maint || !self.op_up()
    }

    /// Operational state: UP by its checks, or (unchecked) unless forced DOWN.
    pub fn op_up(&self) -> bool {
        match &self.check {
            Some(c) => c.up,
            None => self.forced != Some(ForcedHealth::Down),
        }
    }

    /// UP but taking no new load-balanced streams (NOLB: http check got 404 with
    /// `disable_on_404`, or `set server … health stopping`).
    pub fn op_nolb(&self) -> bool {
        match &self.check {
            Some(c) => c.up && c.nolb,
            None => self.forced == Some(ForcedHealth::Stopping),
        }
    }

    /// Where health checks connect: `check-addr` / `check-port` over the server address.
    pub fn check_target(&self) -> SocketAddr {
        SocketAddr::new(
            self.check_addr.unwrap_or(self.address.ip()),
            self.check_port.unwrap_or(self.address.port()),
        )
    }

    /// Applies `set server … health`: a checked server gets HAProxy's health values (full
    /// and UP, full and NOLB, 0 and DOWN) and its next checks go on from there; an
    /// unchecked one keeps the forced state. Returns `Some(new_up)` when UP/DOWN changed.
    pub fn force_health(&mut self, forced: ForcedHealth) -> Option<bool> {
        let was_up = self.op_up();
        match self.check.as_mut() {
            Some(c) => {
                let full = c.config.rise + c.config.fall - 1;
                c.up = forced != ForcedHealth::Down;
                c.nolb = forced == ForcedHealth::Stopping;
                c.health = if c.up { full } else { 0 };
            }
            None => self.forced = Some(forced),
        }
        (was_up != self.op_up()).then_some(self.op_up())
    }

    /// Opens or closes a stopped period after a change of the admin or check state: one
    /// `chkdown` per running → stopped transition, and `downtime` for the whole period, as
    /// HAProxy's `srv_downtime` (which counts maintenance too).
    pub fn account_stopped(&mut self, now: Instant) {
        match (self.stopped(), self.stopped_since) {
            (true, None) => {
                self.stopped_since = Some(now);
                self.downs += 1;
            }
            (false, Some(since)) => {
                self.downtime += now.saturating_duration_since(since);
                self.stopped_since = None;
            }
            _ => {}
        }
    }

    /// Seconds spent stopped so far, the current period included.
    pub fn downtime_at(&self, now: Instant) -> u64 {
        let current = self.stopped_since.map_or(std::time::Duration::ZERO, |s| {
            now.saturating_duration_since(s)
        });
        (self.downtime + current).as_secs()
    }

    /// Percentage of the weight in use during a slow start (HAProxy `throttle`).
    pub fn throttle(&self, now: Instant) -> Option<u64> {
        let (start, len) = self.ramp?;
        let done = now.saturating_duration_since(start).as_secs_f64() / len.as_secs_f64();
        (done < 1.0).then_some((done * 100.0) as u64)
    }
}

/// Active health-check state of one server (HAProxy's `check` struct).
#[derive(Debug, Clone)]
pub struct CheckState {
    /// The settings.
    pub config: percore_conf::check::Check,
    /// 0..=rise+fall-1; UP while >= rise.
    pub health: u32,
    /// Operational state.
    pub up: bool,
    /// UP but not load-balanced (an http check got 404 with `disable_on_404`).
    pub nolb: bool,
    /// Last check result.
    pub status: CheckStatus,
    /// HTTP status of the last layer-7 check.
    pub code: Option<u16>,
    /// Duration of the last check.
    pub duration_ms: u64,
    /// Detail of the last check (`Connection refused`).
    pub info: String,
    /// Failed checks while the server still had health left (HAProxy `failed_checks`: a
    /// server already DOWN counts no more failures).
    pub failures: u64,
    /// Passive-health triggers (`hanafail`).
    pub analysis_failures: u64,
    /// `on_error: fastinter`: the next check comes at `fastinter`.
    pub fast_next: bool,
}

impl CheckState {
    /// A checked server starts UP with full health, so it takes `fall` failures to go DOWN.
    pub fn new(config: percore_conf::check::Check) -> Self {
        CheckState {
            health: config.rise + config.fall - 1,
            config,
            up: true,
            nolb: false,
            status: CheckStatus::Initializing,
            code: None,
            duration_ms: 0,
            info: String::new(),
            failures: 0,
            analysis_failures: 0,
            fast_next: false,
        }
    }

    /// Feeds one check result; returns `Some(new_up)` when the operational state changed
    /// (the caller then accounts the stopped period with [`ServerState::account_stopped`]).
    pub fn record(&mut self, passed: bool) -> Option<bool> {
        let full = self.config.rise + self.config.fall - 1;
        if passed {
            if self.health < full {
                self.health += 1;
            }
            if !self.up && self.health >= self.config.rise {
                self.up = true;
                self.health = full;
                return Some(true);
            }
        } else if self.health > 0 {
            self.failures += 1;
            self.health -= 1;
            if self.up && self.health < self.config.rise {
                self.up = false;
                self.health = 0;
                return Some(false);
            }
        }
        None
    }
}

/// Whether a backend has a running server, HAProxy's `set_backend_down` bookkeeping: the
/// BACKEND row's `chkdown`, `downtime` and `lastchg`.
#[derive(Debug, Clone, Default)]
pub struct BackendHealth {
    /// Since when every server of the backend is stopped; `None` while one runs.
    pub down_since: Option<Instant>,
    /// Time spent down in earlier periods.
    pub downtime: std::time::Duration,
    /// Transitions to down.
    pub downs: u64,
    /// Last transition (`lastchg`); `None` before the first.
    pub last_change: Option<Instant>,
}

/// Id of the first declared proxy in HAProxy 2.6 (id 1 is its internal CLI proxy, which
/// `show stat` never lists).
pub const FIRST_PROXY_IID: u32 = 2;

/// Everything the control plane decides; only its tasks touch it.
pub struct State {
    /// The running configuration.
    pub config: Config,
    /// `servers[backend][server]`.
    pub servers: Vec<Vec<ServerState>>,
    /// Current `maxconn` of each frontend, process-wide.
    pub frontend_maxconn: Vec<u32>,
    /// Generation of each frontend's `maxconn` split between shards.
    pub frontend_epoch: Vec<u32>,
    /// Frontends paused by `disable frontend`.
    pub frontend_paused: Vec<bool>,
    /// Current process-wide `maxconn` (`set maxconn global`); the configured one is the
    /// hard limit.
    pub global_maxconn: u32,
    /// Generation of the global `maxconn` split between shards.
    pub global_epoch: u32,
    /// Per backend: down periods (every server stopped).
    pub backend_health: Vec<BackendHealth>,
    /// Process start.
    pub started: Instant,
    /// Configuration generation the shards run: 0 at start, +1 per reload, `add server`
    /// and `del server`.
    pub generation: u64,
    /// The file the process was started with (`reload` reads it again); `None` for the
    /// embedded configuration of `percore demo`.
    pub path: Option<std::path::PathBuf>,
    /// Frontend slots a reload removed: hidden, no listeners.
    pub frontend_removed: Vec<bool>,
    /// Backend slots a reload removed: hidden, every server removed.
    pub backend_removed: Vec<bool>,
}

impl State {
    /// Initial state from the configuration.
    pub fn new(config: Config) -> Self {
        let now = Instant::now();
        State {
            servers: config
                .backends
                .iter()
                .map(|b| {
                    b.servers
                        .iter()
                        .map(|s| ServerState::from_config(s, now))
                        .collect()
                })
                .collect(),
            frontend_maxconn: config.frontends.iter().map(|f| f.maxconn).collect(),
            frontend_epoch: vec![0; config.frontends.len()],
            frontend_paused: vec![false; config.frontends.len()],
            global_maxconn: config.global.maxconn,
            global_epoch: 0,
            backend_health: vec![BackendHealth::default(); config.backends.len()],
            started: now,
            generation: 0,
            path: None,
            frontend_removed: vec![false; config.frontends.len()],
            backend_removed: vec![false; config.backends.len()],
            config,
        }
    }

    /// Resolves `backend/server` (server also as `#<id>`), HAProxy's lookup order and texts.
    pub fn lookup_server(&self, r: &ServerRef) -> Result<ServerKey, ErrorReply> {
        let backend = self.backend_index(&r.backend).ok_or(NO_SUCH_BACKEND)?;
        let servers = &self.config.backends[backend].servers;
        let live = |i: usize| !self.servers[backend][i].removed;
        let server = match r.server_id() {
            Some(id) if id >= 1 && (id as usize) <= servers.len() => Some(id as usize - 1),
            Some(_) => None,
            None => servers.iter().position(|s| s.name == r.server),
        }
        .filter(|&i| live(i))
        .ok_or(NO_SUCH_SERVER)?;
        Ok(ServerKey { backend, server })
    }

    /// After a change of server `key`: accounts its stopped period and its backend's down
    /// period (a backend is down while every one of its servers is stopped).
    pub fn account_change(&mut self, key: ServerKey, now: Instant) {
        self.servers[key.backend][key.server].account_stopped(now);
        let down = self.servers[key.backend].iter().all(ServerState::stopped);
        let h = &mut self.backend_health[key.backend];
        match (down, h.down_since) {
            (true, None) => {
                h.down_since = Some(now);
                h.downs += 1;
                h.last_change = Some(now);
            }
            (false, Some(since)) => {
                h.downtime += now.saturating_duration_since(since);
                h.down_since = None;
                h.last_change = Some(now);
            }
            _ => {}
        }
    }

    /// Resolves a frontend name.
    pub fn lookup_frontend(&self, name: &str) -> Result<usize, ErrorReply> {
        self.frontend_index(name).ok_or(NO_SUCH_FRONTEND)
    }

    /// Index of the live backend called `name` (removed slots are not found).
    pub fn backend_index(&self, name: &str) -> Option<usize> {
        (0..self.config.backends.len())
            .find(|&b| !self.backend_removed[b] && self.config.backends[b].name == name)
    }

    /// Index of the live frontend called `name` (removed slots are not found).
    pub fn frontend_index(&self, name: &str) -> Option<usize> {
        (0..self.config.frontends.len())
            .find(|&f| !self.frontend_removed[f] && self.config.frontends[f].name == name)
    }

    /// The view shards get for `key`.
    pub fn view(&self, key: ServerKey) -> ServerView {
        let s = &self.servers[key.backend][key.server];
        ServerView {
            admin: s.admin,
            weight: s.effective_weight(Instant::now()),
            maxconn: s.maxconn,
            up: s.op_up() && !s.op_nolb(),
            split_epoch: s.split_epoch,
            address: s.address,
        }
    }

    /// Proxy id of a frontend (HAProxy `iid`), as HAProxy numbers the equivalent
    /// configuration (the frontends, then the backends, in file order): HAProxy gives id 1 to
    /// the CLI's own proxy, so the first declared proxy is 2.
    pub fn frontend_iid(&self, frontend: usize) -> u32 {
        frontend as u32 + FIRST_PROXY_IID
    }

    /// Proxy id of a backend: after all frontends.
    pub fn backend_iid(&self, backend: usize) -> u32 {
        (self.config.frontends.len() + backend) as u32 + FIRST_PROXY_IID
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn check(rise: u32, fall: u32) -> CheckState {
        CheckState::new(percore_conf::check::Check {
            kind: percore_conf::check::CheckKind::Tcp,
            path: "/".into(),
            method: "GET".into(),
            host: None,
            expect_status: 200..=399,
            disable_on_404: false,
            inter: Duration::from_secs(1),
            fastinter: Duration::from_secs(1),
            downinter: Duration::from_secs(1),
            rise,
            fall,
            timeout: Duration::from_secs(1),
            observe: None,
            error_limit: 10,
            on_error: Default::default(),
        })
    }

    #[test]
    fn fall_failures_mark_down_and_rise_successes_mark_up() {
        let mut c = check(2, 3);
        assert_eq!(c.record(false), None);
        assert_eq!(c.record(false), None);
        assert_eq!(c.record(false), Some(false), "third failure: DOWN");
        assert_eq!(c.record(false), None, "stays DOWN");
        assert_eq!(
            c.failures, 3,
            "a DOWN server counts no more failures, as HAProxy"
        );
        assert_eq!(c.record(true), None);
        assert_eq!(c.record(true), Some(true), "second success: UP");
        assert_eq!(c.health, 4);
        // As HAProxy, health is a counter: a success in between only gives one point back.
        assert_eq!(c.record(false), None);
        assert_eq!(c.record(false), None);
        assert_eq!(c.record(true), None);
        assert_eq!(c.record(false), None);
        assert_eq!(c.record(false), Some(false));
        assert_eq!(c.failures, 7);
    }

    fn server(check: Option<CheckState>) -> ServerState {
        ServerState {
            admin: AdminState::Ready,
            weight: 1,
            weight_initial: 1,
            maxconn: 0,
            split_epoch: 0,
            health_enabled: true,
            last_change: Instant::now(),
            check,
            ramp: None,
            stopped_since: None,
            downtime: Duration::ZERO,
            downs: 0,
            address: "127.0.0.1:1".parse().expect("addr"),
            check_addr: None,
            check_port: None,
            forced: None,
            removed: false,
            dynamic: false,
        }
    }

    #[test]
    fn maintenance_and_check_down_both_count_as_stopped() {
        let t0 = Instant::now();
        let mut s = server(Some(check(2, 3)));
        s.admin = AdminState::Maint;
        s.account_stopped(t0);
        assert!(s.stopped());
        assert_eq!(
            (s.downs, s.downtime_at(t0 + Duration::from_secs(7))),
            (1, 7)
        );
        s.admin = AdminState::Ready;
        s.account_stopped(t0 + Duration::from_secs(10));
        assert_eq!(s.downtime_at(t0 + Duration::from_secs(60)), 10);
        for _ in 0..3 {
            s.check.as_mut().expect("check").record(false);
        }
        s.account_stopped(t0 + Duration::from_secs(60));
        s.admin = AdminState::Maint;
        s.account_stopped(t0 + Duration::from_secs(61));
        assert_eq!(s.downs, 2, "DOWN then maintenance is one stopped period");
        assert_eq!(s.downtime_at(t0 + Duration::from_secs(65)), 15);
    }
}
