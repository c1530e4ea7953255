//! Health-check and server-state configuration: active checks, what to do when a server
//! goes down or comes back, backup servers.

use std::ops::RangeInclusive;
use std::time::Duration;

use serde::Deserialize;

/// How a server is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckKind {
    /// A TCP connection must be accepted.
    Tcp,
    /// An HTTP request must get an expected status.
    Http,
}

/// Active health check settings of one server (backend settings merged with its overrides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// TCP connect or HTTP request.
    pub kind: CheckKind,
    /// HTTP: request path.
    pub path: String,
    /// HTTP: request method.
    pub method: String,
    /// HTTP: Host header (default: the server address).
    pub host: Option<String>,
    /// HTTP: accepted statuses.
    pub expect_status: RangeInclusive<u16>,
    /// HTTP: a 404 puts the server in NOLB (up, but no new load-balanced streams), as
    /// HAProxy's `http-check disable-on-404`: the way a server announces it is draining.
    pub disable_on_404: bool,
    /// Interval between checks while the server is steadily up.
    pub inter: Duration,
    /// Interval while the server is transitioning (some checks failed, or coming back).
    pub fastinter: Duration,
    /// Interval while the server is down.
    pub downinter: Duration,
    /// Consecutive successes to go from DOWN to UP.
    pub rise: u32,
    /// Consecutive failures to go from UP to DOWN.
    pub fall: u32,
    /// Deadline of one check (connect + response).
    pub timeout: Duration,
    /// Passive health: which traffic errors count (`None`: traffic is not observed).
    pub observe: Option<Observe>,
    /// Consecutive traffic errors (per shard) that trigger `on_error`.
    pub error_limit: u32,
    /// What `error_limit` consecutive errors do.
    pub on_error: OnError,
}

/// HAProxy's defaults: a TCP connect every 2 s (`inter`, also `fastinter`, `downinter`
/// and `timeout`), `rise 2`, `fall 3`, traffic not observed.
impl Default for Check {
    fn default() -> Self {
        Check {
            kind: CheckKind::Tcp,
            path: "/".into(),
            method: "GET".into(),
            host: None,
            expect_status: 200..=399,
            disable_on_404: false,
            inter: crate::limits::CHECK_INTER_DEFAULT,
            fastinter: crate::limits::CHECK_INTER_DEFAULT,
            downinter: crate::limits::CHECK_INTER_DEFAULT,
            rise: crate::limits::CHECK_RISE_DEFAULT,
            fall: crate::limits::CHECK_FALL_DEFAULT,
            timeout: crate::limits::CHECK_INTER_DEFAULT,
            observe: None,
            error_limit: crate::limits::ERROR_LIMIT_DEFAULT,
            on_error: Default::default(),
        }
    }
}

/// Passive health checking: which errors of real traffic count against a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Observe {
    /// Connection failures and timeouts.
    Layer4,
    /// Also invalid responses and 500, 502, 503, 504 statuses.
    Layer7,
}

/// HAProxy's `on-error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnError {
    /// Run the next active check sooner (at `fastinter`); no state change.
    Fastinter,
    /// Count as one failed active check.
    #[default]
    FailCheck,
    /// Leave the server one failed check away from DOWN.
    SuddenDeath,
    /// Mark the server DOWN at once.
    MarkDown,
}

/// `on_marked_down`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnMarkedDown {
    /// Keep existing streams (HAProxy's default).
    #[default]
    Nothing,
    /// Kill every stream of the server, as `shutdown sessions server` does.
    ShutdownSessions,
}

/// `on_marked_up`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnMarkedUp {
    /// Keep streams on backup servers.
    #[default]
    Nothing,
    /// When a primary server comes back, kill the streams on the backup servers.
    ShutdownBackupSessions,
}
