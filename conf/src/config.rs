//! The validated configuration the engine runs from: every default applied, every reference
//! resolved to an index, every value within the bounds of `limits`.
//!
//! These types are plain values. They are only built by `validate`, so holding one is proof
//! that the checks ran; nothing here re-checks.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::limits;

/// A whole validated configuration; frontends and backends are in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Process-wide settings.
    pub global: Global,
    /// Frontends in file order; their `default_backend` indexes `backends`.
    pub frontends: Vec<Frontend>,
    /// Backends in file order.
    pub backends: Vec<Backend>,
}

impl Config {
    /// Index of the backend called `name`.
    pub fn backend_index(&self, name: &str) -> Option<usize> {
        self.backends
            .iter()
            .position(|backend| backend.name == name)
    }

    /// Index of the frontend called `name`.
    pub fn frontend_index(&self, name: &str) -> Option<usize> {
        self.frontends
            .iter()
            .position(|frontend| frontend.name == name)
    }
}

/// The `global` section: shards, process limits, admin API, logging, tuning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Global {
    /// The Prometheus endpoint (`global.metrics`); `None` when not configured.
    pub metrics: Option<Metrics>,
    /// The shard set as written.
    pub shards: Shards,
    /// The CPU of each shard, resolved against the host: `auto` → every CPU of the affinity
    /// mask, `N` → its first N CPUs, a list → as given. Never empty; shard `i` runs on
    /// `shard_cpus[i]`.
    pub shard_cpus: Vec<usize>,
    /// Most streams the whole process serves at once.
    pub maxconn: u32,
    /// The file set `global.maxconn`; else it is the default, which start-up lowers to what
    /// `ulimit -n` allows (as HAProxy derives its maxconn from the descriptor limit).
    pub maxconn_configured: bool,
    /// How long a graceful stop lets streams finish before closing them.
    pub grace: Duration,
    /// Process-wide timeouts (`global.timeout`).
    pub timeout: GlobalTimeouts,
    /// CPU the control plane thread is pinned to; `None` leaves it unpinned.
    pub control_cpu: Option<usize>,
    /// The admin API; `None` opens no admin socket.
    pub admin: Option<Admin>,
    /// Where and what to log.
    pub log: Log,
    /// Buffer, ring and parser sizes.
    pub tune: Tune,
}

/// `global.timeout`: timeouts that belong to no frontend or backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalTimeouts {
    /// Longest an admin connection may take to send one command line, counted from the
    /// line's first byte, or from the end of the previous reply while it sends nothing
    /// (HAProxy's `stats timeout`); `set timeout cli` changes it per connection.
    pub cli: Duration,
}

/// `global.shards` as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shards {
    /// One shard per CPU in the process affinity mask.
    Auto,
    /// This many shards, on the first CPUs of the affinity mask.
    Count(usize),
    /// One shard on each of these CPUs.
    Cpus(Vec<usize>),
}

/// The admin API: a main unix socket and optional extra listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    /// Path of the main unix socket.
    pub socket: PathBuf,
    /// Permission bits of the main socket file (default `0o600`).
    pub mode: u32,
    /// What clients of the main socket may do (default [`Level::Admin`]).
    pub level: Level,
    /// More listeners, usually with lower levels; in file order.
    pub extra: Vec<AdminListener>,
}

/// `global.metrics`: where `/metrics` is served (HTTP, by the control plane).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metrics {
    /// Address to bind (default `127.0.0.1:9101`); loopback unless `allow_remote`.
    pub bind: SocketAddr,
    /// Whether a non-loopback address was explicitly allowed.
    pub allow_remote: bool,
}

/// One extra admin listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminListener {
    /// A unix socket.
    Unix {
        /// Socket path.
        socket: PathBuf,
        /// Permission bits of the socket file (default `0o600`).
        mode: u32,
        /// What its clients may do (default [`Level::User`]: extra listeners are usually
        /// read-only views, so they get the least privilege unless told otherwise).
        level: Level,
    },
    /// A TCP socket; refused on a non-loopback address unless `allow_remote` is set.
    Tcp {
        /// Address to bind.
        address: SocketAddr,
        /// What its clients may do (default [`Level::User`]).
        level: Level,
        /// Whether a non-loopback address was explicitly allowed.
        allow_remote: bool,
    },
}

/// Admin permission level, HAProxy's `level`; ordered `User < Operator < Admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Read-only: show commands.
    User,
    /// Can also change server states and weights.
    Operator,
    /// Everything, including killing streams and reloading.
    Admin,
}

/// `global.log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Log {
    /// Where log lines go.
    pub target: LogTarget,
    /// Whether to write one access-log line per stream (TCP) or exchange (HTTP); default off.
    pub access: bool,
    /// How each line is framed: a syslog header or none.
    pub framing: LogFraming,
    /// Syslog facility number (`local0` = 16, the default).
    pub facility: u8,
    /// Syslog tag (ident), `percore` by default.
    pub tag: String,
    /// Keep one access-log line in this many (1: every line); HAProxy's `sample 1:N`.
    pub sample: u32,
    /// Access-log lines per second and shard above which lines are dropped and counted
    /// (`None`: no limit but the ring's).
    pub rate_max: Option<u32>,
    /// `log_format`: the operator's template for both modes; `None` gives HAProxy's
    /// `httplog` / `tcplog` layouts.
    pub log_format: Option<crate::logformat::LogFormat>,
}

/// Where log lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    /// Standard error.
    Stderr,
    /// A file, appended to.
    File(PathBuf),
    /// Syslog over UDP (`udp://IP:PORT`), one datagram per line.
    Udp(std::net::SocketAddr),
    /// Syslog over a unix datagram socket (`unix:///dev/log`), one datagram per line.
    Unix(PathBuf),
}

/// How each log line is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFraming {
    /// The line alone (HAProxy's `format raw`).
    Raw,
    /// `<PRI>Mmm dd hh:mm:ss tag[pid]: line` (RFC 3164, as HAProxy sends it).
    Rfc3164,
    /// `<PRI>1 timestamp - tag pid - - line` (RFC 5424, as HAProxy sends it).
    Rfc5424,
}

/// `global.tune`: sizes that bound per-shard memory. Bounds are in [`limits`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tune {
    /// Bytes of one stream buffer; a stream holds two (`maxconn × 2 × bufsize` at most).
    pub bufsize: usize,
    /// Slots of each control ring (cmd and evt) between the control plane and one shard.
    pub control_ring: usize,
    /// Bytes of io_uring registered memory per shard (glommio `io_memory`).
    pub io_memory: usize,
    /// Listen backlog of each listener.
    pub backlog: u32,
    /// Largest HTTP head accepted, in bytes; never more than `bufsize`.
    pub max_header_size: usize,
    /// Most header fields in one HTTP head.
    pub max_headers: usize,
    /// How often the TLS session ticket keys are replaced; a ticket resumes for one to two
    /// periods.
    pub tls_ticket_rotation: Duration,
}

/// Proxy mode of a frontend or backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Byte stream relay.
    Tcp,
    /// HTTP/1.1 (refused for now: "not supported yet").
    Http,
}

/// Timeouts, merged built-in ← `defaults.timeout` ← the section's own `timeout`, key by key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeouts {
    /// Longest wait for a server connection to be established.
    pub connect: Duration,
    /// Longest client-side inactivity.
    pub client: Duration,
    /// Longest server-side inactivity.
    pub server: Duration,
    /// Longest inactivity of a tunnel (TCP stream or upgraded HTTP), either side.
    pub tunnel: Duration,
    /// Longest wait for a complete HTTP request head.
    pub http_request: Duration,
    /// Longest wait for the next request on an idle keep-alive connection.
    pub http_keep_alive: Duration,
    /// Longest wait in a server queue.
    pub queue: Duration,
}

/// One frontend: listeners and where their streams go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frontend {
    /// Name, unique among frontends, in `[A-Za-z0-9_.:-]`.
    pub name: String,
    /// Mode; always equal to its default backend's mode.
    pub mode: Mode,
    /// Addresses to listen on, each bound by every shard; port 0 asks for an ephemeral port.
    pub bind: Vec<SocketAddr>,
    /// Most streams this frontend serves at once.
    pub maxconn: u32,
    /// Index into [`Config::backends`].
    pub default_backend: usize,
    /// Merged timeouts.
    pub timeout: Timeouts,
    /// HTTP routing and rules (empty for mode tcp).
    pub http: crate::http::FrontendHttp,
    /// Every connection must open with a PROXY protocol header (v1 or v2), whose source
    /// address then stands for the client everywhere.
    pub accept_proxy: bool,
    /// TLS termination of each bind (same order as `bind`); `None`: plain TCP.
    pub tls: Vec<Option<crate::tls::BindTls>>,
}

/// One backend: servers and how to choose among them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    /// Name, unique among backends, in `[A-Za-z0-9_.:-]`.
    pub name: String,
    /// Mode.
    pub mode: Mode,
    /// Load-balancing algorithm.
    pub balance: Balance,
    /// Connection attempts after the first failed one.
    pub retries: u32,
    /// Whether the last retry may go to another server.
    pub redispatch: bool,
    /// Merged timeouts.
    pub timeout: Timeouts,
    /// Servers in file order; never empty; names unique within the backend.
    pub servers: Vec<Server>,
    /// HTTP connection reuse settings (unused in mode tcp).
    pub http: crate::http::BackendHttp,
    /// What happens to a server's streams when checks mark it DOWN.
    pub on_marked_down: crate::check::OnMarkedDown,
    /// What happens to backup servers' streams when a primary comes back UP.
    pub on_marked_up: crate::check::OnMarkedUp,
    /// When no primary server is usable, use every usable backup (else only the first).
    pub allbackups: bool,
    /// Hash-based algorithms: map-based or consistent.
    pub hash_type: HashType,
    /// Streams at which servers with `minconn` reach their full `maxconn` (HAProxy
    /// `fullconn`); default: 10 % of the `maxconn` of the frontends that route here.
    pub fullconn: u32,
}

/// Load-balancing algorithm.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Balance {
    /// Smooth weighted round robin; weights may change at run time.
    RoundRobin,
    /// Weighted round robin with the configured weights only (HAProxy `static-rr`).
    StaticRr,
    /// Fewest live streams relative to weight (counted per shard).
    LeastConn,
    /// The first usable server in configuration order.
    First,
    /// Power of two random choices (weighted), the one with fewer live streams.
    Random,
    /// Hash of the client IP address.
    Source,
    /// Hash of the request path (HTTP), optionally only its start.
    Uri {
        /// Only the first `len` characters count.
        len: Option<u32>,
        /// Only the first `depth` path segments count.
        depth: Option<u32>,
    },
    /// Hash of a request header's value (HTTP; round robin when it is absent).
    Hdr(String),
}

impl Balance {
    /// Whether the algorithm hashes a request property.
    pub fn is_hash(&self) -> bool {
        matches!(
            self,
            Balance::Source | Balance::Uri { .. } | Balance::Hdr(_)
        )
    }
}

/// How a hash picks a server (HAProxy `hash-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HashType {
    /// `hash % total weight` over usable servers: even, but a server change moves most keys.
    #[default]
    MapBased,
    /// A weighted ring: a server change moves only the keys of that server.
    Consistent,
}

/// One server of a backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// Name, unique within its backend, in `[A-Za-z0-9_.:-]`.
    pub name: String,
    /// Address to connect to (never port 0).
    pub address: SocketAddr,
    /// Weight 0..=256 (default 1, as HAProxy); 0 takes no new streams.
    pub weight: u32,
    /// PROXY protocol header to send on connect, if any.
    pub send_proxy: Option<ProxyVersion>,
    /// Used only when no primary server is usable.
    pub backup: bool,
    /// Most streams using the server at once (0 = unlimited); more wait in the backend's
    /// queue for up to `timeout.queue`, then get 503.
    pub maxconn: u32,
    /// Active health check; `None` = not checked (always considered UP).
    pub check: Option<crate::check::Check>,
    /// After coming back UP, the weight ramps from 1/20 to full over this long.
    pub slowstart: Option<std::time::Duration>,
    /// Dynamic limit floor (HAProxy `minconn`, 0 = none): the server's limit grows from
    /// `minconn` to `maxconn` as the backend's load grows to `fullconn`.
    pub minconn: u32,
    /// TLS toward the server; `None`: plain TCP.
    pub tls: Option<crate::tls::ServerTls>,
}

/// PROXY protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyVersion {
    /// Text header.
    V1,
    /// Binary header.
    V2,
}

/// The built-in timeouts: connect 5s, client 30s, server 30s, tunnel 1h, http_request 10s,
/// http_keep_alive 5s, queue 5s.
impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            client: Duration::from_secs(30),
            server: Duration::from_secs(30),
            tunnel: Duration::from_secs(3600),
            http_request: Duration::from_secs(10),
            http_keep_alive: Duration::from_secs(5),
            queue: Duration::from_secs(5),
        }
    }
}

/// The built-in global timeouts: cli 10s.
impl Default for GlobalTimeouts {
    fn default() -> Self {
        Self {
            cli: limits::TIMEOUT_CLI_DEFAULT,
        }
    }
}

/// The built-in tuning: see the `*_DEFAULT` constants in [`limits`].
impl Default for Tune {
    fn default() -> Self {
        Self {
            bufsize: limits::BUFSIZE_DEFAULT,
            control_ring: limits::CONTROL_RING_DEFAULT,
            io_memory: limits::IO_MEMORY_DEFAULT,
            backlog: limits::BACKLOG_DEFAULT,
            max_header_size: limits::MAX_HEADER_SIZE_DEFAULT,
            max_headers: limits::MAX_HEADERS_DEFAULT,
            tls_ticket_rotation: limits::TLS_TICKET_ROTATION_DEFAULT,
        }
    }
}

/// Logs to stderr without access logs.
impl Default for Log {
    fn default() -> Self {
        Self {
            target: LogTarget::Stderr,
            framing: LogFraming::Raw,
            facility: crate::limits::LOG_FACILITY_DEFAULT,
            tag: crate::limits::LOG_TAG_DEFAULT.to_owned(),
            sample: 1,
            rate_max: None,
            log_format: None,
            access: false,
        }
    }
}
