//! Bounds every configured number must respect, and the built-in defaults, with the reason for
//! each number. `validate` enforces them; the engine may rely on them.

use std::time::Duration;

/// Largest configuration file read: far beyond any real config, small enough that a wrong
/// path (a disk image, a log) is refused at once instead of parsed.
pub const CONFIG_BYTES_MAX: usize = 16 << 20;

/// Longest frontend, backend or server name. Names appear in admin commands
/// (`backend/server`), CSV and Prometheus labels, so they stay short.
pub const NAME_CHARS_MAX: usize = 128;

/// Largest `maxconn` (global and per frontend). Each stream holds two sockets and two buffers
/// (`maxconn × 2 × bufsize` bytes at most), so ten million is already beyond any host.
pub const MAXCONN_MAX: u32 = 10_000_000;

/// Default `global.maxconn`: 10 000 streams, i.e. 20 000 file descriptors and at most
/// `10 000 × 2 × 16 KiB` = 320 MiB of buffers with the default `bufsize`.
pub const GLOBAL_MAXCONN_DEFAULT: u32 = 10_000;

/// Default `global.grace`, as DESIGN §3.
pub const GRACE_DEFAULT: Duration = Duration::from_secs(10);

/// Default `global.timeout.cli`: HAProxy's `stats timeout` default. Bounds how long a slow
/// or silent admin client holds one of the admin listener's connection slots.
pub const TIMEOUT_CLI_DEFAULT: Duration = Duration::from_secs(10);

/// Default `global.metrics.bind`: loopback only, port 9101 (HAProxy exporters use 9101).
pub const METRICS_BIND_DEFAULT: &str = "127.0.0.1:9101";

/// Longest accepted duration: HAProxy's timer range (2^31 - 1 ms, about 24.8 days), which also
/// keeps `Instant + timeout` far from overflowing.
pub const DURATION_MAX: Duration = Duration::from_millis(2_147_483_647);

/// Most connection retries of a backend: each retry waits up to `timeout.connect`, so more
/// than this only delays the error the client will get anyway.
pub const RETRIES_MAX: u32 = 100;

/// Default `retries`, as HAProxy's examples.
pub const RETRIES_DEFAULT: u32 = 3;

/// Largest server weight, as HAProxy.
pub const WEIGHT_MAX: u32 = 256;

/// Default server weight, as HAProxy.
pub const WEIGHT_DEFAULT: u32 = 1;

/// Default syslog facility: `local0`, as most HAProxy configurations use.
pub const LOG_FACILITY_DEFAULT: u8 = 16;

/// Default syslog tag (ident).
pub const LOG_TAG_DEFAULT: &str = "percore";

/// Longest syslog tag: RFC 3164 allows 32 characters, RFC 5424's APP-NAME 48.
pub const LOG_TAG_BYTES_MAX: usize = 32;

/// Largest `global.log.sample` (keep one line in N).
pub const LOG_SAMPLE_MAX: u32 = 1_000_000;

/// Largest `global.log.rate_max` (lines per second per shard).
pub const LOG_RATE_MAX: u32 = 10_000_000;

/// Longest unix socket path (admin sockets, syslog targets), in bytes: Linux's `sun_path`
/// holds 108 bytes including the terminating NUL. A longer path could never be bound or
/// connected to, so it is refused by `check` rather than at `run`.
pub const UNIX_SOCKET_PATH_BYTES_MAX: usize = 107;

/// Default permission bits of an admin unix socket: owner only.
pub const ADMIN_MODE_DEFAULT: u32 = 0o600;

/// Smallest `tune.bufsize`: a buffer must hold at least a small HTTP head.
pub const BUFSIZE_MIN: usize = 1 << 10;
/// Largest `tune.bufsize`: beyond 16 MiB per buffer, `maxconn × 2 × bufsize` is absurd.
pub const BUFSIZE_MAX: usize = 16 << 20;
/// Default `tune.bufsize`, as HAProxy.
pub const BUFSIZE_DEFAULT: usize = 16 << 10;

/// Smallest `tune.control_ring`: one slot is enough (commands then wait their turn).
pub const CONTROL_RING_MIN: usize = 1;
/// Largest `tune.control_ring`: `2 × shards × control_ring` slots are allocated up front.
pub const CONTROL_RING_MAX: usize = 65_536;
/// Default `tune.control_ring`.
pub const CONTROL_RING_DEFAULT: usize = 1024;

/// Smallest `tune.io_memory`: room for a few registered buffers; less only moves I/O off the
/// registered-buffer path.
pub const IO_MEMORY_MIN: usize = 64 << 10;
/// Largest `tune.io_memory`: it is locked memory per shard (`shards × io_memory`).
pub const IO_MEMORY_MAX: usize = 1 << 30;
/// Default `tune.io_memory`: fits an 8 MiB memlock limit with several shards (DESIGN §13).
pub const IO_MEMORY_DEFAULT: usize = 512 << 10;

/// Smallest `tune.backlog`.
pub const BACKLOG_MIN: u32 = 1;
/// Largest `tune.backlog`: the kernel caps it at `net.core.somaxconn` (at most 65 535) anyway.
pub const BACKLOG_MAX: u32 = 65_535;
/// Default `tune.backlog`, as glommio's fixed one.
pub const BACKLOG_DEFAULT: u32 = 1024;

/// Smallest `tune.max_header_size`: a request line and a Host header.
pub const MAX_HEADER_SIZE_MIN: usize = 1 << 10;
/// Default `tune.max_header_size` (never more than `bufsize`: a head must fit one buffer).
pub const MAX_HEADER_SIZE_DEFAULT: usize = 16 << 10;

/// Smallest `tune.max_headers`.
pub const MAX_HEADERS_MIN: usize = 1;
/// Largest `tune.max_headers`: the parser's header array is sized from it (about 32 bytes per
/// slot per parse), and HAProxy's own limit is 101.
pub const MAX_HEADERS_MAX: usize = 1024;
/// Default `tune.max_headers`.
pub const MAX_HEADERS_DEFAULT: usize = 100;

const _: () = assert!(BUFSIZE_MIN <= BUFSIZE_DEFAULT && BUFSIZE_DEFAULT <= BUFSIZE_MAX);
const _: () = assert!(MAX_HEADER_SIZE_MIN <= BUFSIZE_MIN);
const _: () = assert!(MAX_HEADER_SIZE_DEFAULT <= BUFSIZE_DEFAULT);
const _: () = assert!(IO_MEMORY_MIN <= IO_MEMORY_DEFAULT && IO_MEMORY_DEFAULT <= IO_MEMORY_MAX);
const _: () = assert!(GLOBAL_MAXCONN_DEFAULT <= MAXCONN_MAX);
const _: () = assert!(WEIGHT_DEFAULT <= WEIGHT_MAX);

/// Default idle server connections kept per server per shard (HTTP): enough for the
/// keep-alive reuse of a busy shard, small enough that 2 shards × 100 servers stay under
/// 10 000 idle sockets.
pub const POOL_MAX_IDLE_DEFAULT: u32 = 50;

/// Most idle server connections per server per shard.
pub const POOL_MAX_IDLE_MAX: u32 = 100_000;

/// Default lifetime of an idle pooled server connection: below the 15–75 s idle timeouts
/// common on servers, so percore closes first and rarely picks a connection the server is
/// closing.
pub const POOL_IDLE_TIMEOUT_DEFAULT: Duration = Duration::from_secs(10);

/// Most `use_backend`, `http_request` or `http_response` rules per frontend, and most
/// conditions nested in one `when`: rules run per request, so they stay few.
pub const RULES_MAX: usize = 1000;

/// Deepest nesting of `all`/`any`/`not` conditions.
pub const CONDITION_DEPTH_MAX: usize = 8;

/// Longest compiled `path_regex` (bytes of the compiled program), bounding per-request cost.
pub const REGEX_SIZE_MAX: usize = 1 << 20;

/// Largest `return` body.
pub const RETURN_BODY_MAX: usize = 64 * 1024;

/// Default check interval, as HAProxy (`inter 2s`).
pub const CHECK_INTER_DEFAULT: Duration = Duration::from_secs(2);

/// Default `rise`, as HAProxy.
pub const CHECK_RISE_DEFAULT: u32 = 2;

/// Default `fall`, as HAProxy.
pub const CHECK_FALL_DEFAULT: u32 = 3;

/// Largest `rise` / `fall`: beyond this a state change would take far too long to notice.
pub const CHECK_RISE_FALL_MAX: u32 = 100;

/// Default `error_limit` of passive checks, as HAProxy.
pub const ERROR_LIMIT_DEFAULT: u32 = 10;

/// Default `tune.tls_ticket_rotation`: a ticket resumes for one to two hours.
pub const TLS_TICKET_ROTATION_DEFAULT: Duration = Duration::from_secs(3600);
/// Shortest `tune.tls_ticket_rotation`.
pub const TLS_TICKET_ROTATION_MIN: Duration = Duration::from_secs(1);
/// Longest `tune.tls_ticket_rotation`: RFC 8446 caps a ticket's life at 7 days.
pub const TLS_TICKET_ROTATION_MAX: Duration = Duration::from_secs(3 * 86_400);
