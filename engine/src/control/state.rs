//! Authoritative server and frontend state, owned by the control plane alone.
//!
//! Shards hold read-only [`ServerView`]s; every change made here is pushed to all of them by
//! command before the admin reply is written. Names are resolved here, with HAProxy's error
//! replies for unknown names.

use std::time::Instant;

use percore_admin::{
    CheckStatus, ErrorReply, ServerRef, NO_SUCH_BACKEND, NO_SUCH_FRONTEND, NO_SUCH_SERVER,
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
}

impl ServerState {
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
    /// Failed checks.
    pub failures: u64,
    /// UP → DOWN transitions.
    pub downs: u64,
    /// Since when the server is DOWN.
    pub down_since: Option<Instant>,
    /// Total time spent DOWN before `down_since`.
    pub downtime: std::time::Duration,
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
            downs: 0,
            down_since: None,
            downtime: std::time::Duration::ZERO,
            analysis_failures: 0,
            fast_next: false,
        }
    }

    /// Feeds one check result; returns `Some(new_up)` when the operational state changed.
    pub fn record(&mut self, passed: bool, now: Instant) -> Option<bool> {
        let full = self.config.rise + self.config.fall - 1;
        if passed {
            if self.health < full {
                self.health += 1;
            }
            if !self.up && self.health >= self.config.rise {
                self.up = true;
                self.health = full;
                if let Some(since) = self.down_since.take() {
                    self.downtime += now.saturating_duration_since(since);
                }
                return Some(true);
            }
        } else {
            self.failures += 1;
            self.health = self.health.saturating_sub(1);
            if self.up && self.health < self.config.rise {
                self.up = false;
                self.health = 0;
                self.downs += 1;
                self.down_since = Some(now);
                return Some(false);
            }
        }
        None
    }
}

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
    /// Process start.
    pub started: Instant,
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
                        .map(|s| ServerState {
                            admin: AdminState::Ready,
                            weight: s.weight,
                            weight_initial: s.weight,
                            maxconn: s.maxconn,
                            split_epoch: 0,
                            health_enabled: true,
                            last_change: now,
                            check: s.check.clone().map(CheckState::new),
                            ramp: None,
                        })
                        .collect()
                })
                .collect(),
            frontend_maxconn: config.frontends.iter().map(|f| f.maxconn).collect(),
            frontend_epoch: vec![0; config.frontends.len()],
            started: now,
            config,
        }
    }

    /// Resolves `backend/server` (server also as `#<id>`), HAProxy's lookup order and texts.
    pub fn lookup_server(&self, r: &ServerRef) -> Result<ServerKey, ErrorReply> {
        let backend = self
            .config
            .backend_index(&r.backend)
            .ok_or(NO_SUCH_BACKEND)?;
        let servers = &self.config.backends[backend].servers;
        let server = match r.server_id() {
            Some(id) if id >= 1 && (id as usize) <= servers.len() => Some(id as usize - 1),
            Some(_) => None,
            None => servers.iter().position(|s| s.name == r.server),
        }
        .ok_or(NO_SUCH_SERVER)?;
        Ok(ServerKey { backend, server })
    }

    /// Resolves a frontend name.
    pub fn lookup_frontend(&self, name: &str) -> Result<usize, ErrorReply> {
        self.config.frontend_index(name).ok_or(NO_SUCH_FRONTEND)
    }

    /// The view shards get for `key`.
    pub fn view(&self, key: ServerKey) -> ServerView {
        let s = &self.servers[key.backend][key.server];
        ServerView {
            admin: s.admin,
            weight: s.effective_weight(Instant::now()),
            maxconn: s.maxconn,
            up: s.check.as_ref().is_none_or(|c| c.up && !c.nolb),
            split_epoch: s.split_epoch,
        }
    }

    /// Proxy id of a frontend (HAProxy `iid`): frontends first, in file order, from 1.
    pub fn frontend_iid(&self, frontend: usize) -> u32 {
        frontend as u32 + 1
    }

    /// Proxy id of a backend: after all frontends.
    pub fn backend_iid(&self, backend: usize) -> u32 {
        (self.config.frontends.len() + backend) as u32 + 1
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
        let now = Instant::now();
        let mut c = check(2, 3);
        assert_eq!(c.record(false, now), None);
        assert_eq!(c.record(false, now), None);
        assert_eq!(c.record(false, now), Some(false), "third failure: DOWN");
        assert_eq!(c.downs, 1);
        assert_eq!(c.record(false, now), None, "stays DOWN");
        assert_eq!(c.record(true, now), None);
        assert_eq!(
            c.record(true, now + Duration::from_secs(5)),
            Some(true),
            "second success: UP"
        );
        assert_eq!(c.health, 4);
        assert!(c.downtime >= Duration::from_secs(5));
        // As HAProxy, health is a counter: a success in between only gives one point back.
        assert_eq!(c.record(false, now), None);
        assert_eq!(c.record(false, now), None);
        assert_eq!(c.record(true, now), None);
        assert_eq!(c.record(false, now), None);
        assert_eq!(c.record(false, now), Some(false));
        assert_eq!(c.failures, 8);
    }
}
