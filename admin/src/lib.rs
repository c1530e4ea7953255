//! percore's runtime API, compatible with HAProxy 2.6's stats socket: the command grammar and
//! permission levels, the snapshot types replies are rendered from, the renderers, the reply
//! framing, and the blocking client used by `percore ctl`. Pure: no engine types, no clock,
//! and no sockets except in `client`.
//!
//! - `level` — [`Level`]: `user` < `operator` < `admin`.
//! - `grammar` — [`split_commands`] (`;` chaining), [`tokenize`], C number parsing.
//! - `table` — command table, `help`, unknown-command suggestions ([`render_help`]).
//! - `cmd` — [`Command`], [`parse`], and one file per command family with its snapshot
//!   types and renderers (`show stat`, `show info`, servers, sessions, shards).
//! - `date` — [`civil_from_days`], [`MONTHS`]: UTC dates for `show sess` and the engine's logs.
//! - `error` — [`ErrorReply`] and every error text as a constant.
//! - `framing` — [`terminator`], [`ReplyWriter`]: prompt mode, `quit`, line bound.
//! - `client` — [`Client`], [`reply_is_error`], [`render_stat_table`].
//! - `fuzzing` (hidden) — the `admin_command` fuzz entry point and its invariants.
//!
//! Words: HAProxy's *session* in `show sess` / `shutdown session(s)` is percore's *stream*.

#![forbid(unsafe_code)]

mod client;
mod cmd;
mod date;
mod error;
mod framing;
#[doc(hidden)]
pub mod fuzzing;
mod grammar;
mod level;
mod table;

pub use client::{
    render_stat_table, reply_is_error, Client, Endpoint, DEFAULT_TIMEOUT, REPLY_BYTES_MAX,
};
pub use cmd::{
    parse, parse_with_payload, render_addr_change, render_backends, render_cli_level,
    render_errors, render_info, render_info_json, render_info_typed, render_prometheus,
    render_servers_conn, render_servers_state, render_sess_detail, render_sess_list, render_shards,
    render_ssl_cert_details, render_ssl_cert_list, render_stat_csv, render_stat_json,
    render_stat_typed, render_version, render_weight, AdminState, CertDetails, CheckStatus,
    Command, ErrorKinds, ErrorRow, ErrorsProxy, ForcedHealth, Format, H1Module, InfoSnapshot,
    Lookup, Mode, Modules, PortArg, ServerConnRow, ServerRef, ServerStateRow, SessRow, SessTarget,
    ShardRow, SslModule, StatFilter, StatKind, StatOptions, StatRow, WeightSpec,
    HAPROXY_STAT_CSV_HEADER, SRV_ADMIN_FORCED_DRAIN, SRV_ADMIN_FORCED_MAINT,
    SRV_CHECK_STATE_CONFIGURED, SRV_CHECK_STATE_ENABLED, SRV_CHECK_STATE_PAUSED, SRV_OP_RUNNING,
    SRV_OP_STARTING, SRV_OP_STOPPED, SRV_OP_STOPPING, STAT_CSV_HEADER,
};
pub use cmd::{
    AddServer, ADD_SERVER_USAGE, BACKEND_NOT_DYNAMIC, DELETE_HAS_CONNECTIONS, DELETE_NEEDS_MAINT,
    NEW_SERVER_REGISTERED, SERVER_DELETED, SERVER_EXISTS,
};
pub use date::{civil_from_days, MONTHS};
pub use error::*;
pub use framing::{terminator, ReplyWriter, LINE_BYTES_MAX, LINE_TOO_LONG};
pub use grammar::{split_commands, tokenize, ARGS_MAX};
pub use level::{Level, UnknownLevel};
pub use table::render_help;
