//! Authoritative server and frontend state, owned by the control plane alone.
//!
//! Shards hold read-only [`ServerView`]s; every change made here is pushed to all of them by
//! command before the admin reply is written. Names are resolved here, with HAProxy's error
//! replies for unknown names.

use std::time::Instant;

use percore_admin::{ErrorReply, ServerRef, NO_SUCH_BACKEND, NO_SUCH_FRONTEND, NO_SUCH_SERVER};
use percore_conf::Config;

use super::msg::{AdminState, ServerView};
use crate::ids::ServerKey;

/// One server's operator-controlled state.
#[derive(Debug, Clone)]
pub struct ServerState {
    /// ready / drain / maint.
    pub admin: AdminState,
    /// Current weight.
    pub weight: u32,
    /// Configured weight.
    pub weight_initial: u32,
    /// Connection limit (0 = unlimited); enforced once server queues exist.
    pub maxconn: u32,
    /// Whether health checks are enabled (`disable|enable health`).
    pub health_enabled: bool,
    /// Last change of the admin state (HAProxy `lastchg`).
    pub last_change: Instant,
}

/// Everything the control plane decides; only its tasks touch it.
pub struct State {
    /// The running configuration.
    pub config: Config,
    /// `servers[backend][server]`.
    pub servers: Vec<Vec<ServerState>>,
    /// Current `maxconn` of each frontend, process-wide.
    pub frontend_maxconn: Vec<u32>,
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
                            maxconn: 0,
                            health_enabled: true,
                            last_change: now,
                        })
                        .collect()
                })
                .collect(),
            frontend_maxconn: config.frontends.iter().map(|f| f.maxconn).collect(),
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
            weight: s.weight,
            maxconn: s.maxconn,
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
