//! The `Command` enum and `parse`, which turns one `;`-separated part of a request line into a
//! command or the exact error reply. One file per command family holds that family's argument
//! grammar, snapshot types and renderers:
//!
//! - `server.rs` — `<bk>/<srv>` commands: weights, states, health, maxconn, stream kills.
//! - `frontend.rs` — `set maxconn frontend`, `disable|enable frontend`.
//! - `global.rs` — `clear counters`, `set maxconn global`, `set timeout cli`.
//! - `servers_conn.rs` — `show servers conn`.
//! - `errors.rs` — `show errors`.
//! - `prometheus.rs` (+ generated `prometheus_table.rs`) — `/metrics` in HAProxy's names.
//! - `stat.rs` (+ generated `stat_fields.rs`) — `show stat` CSV/JSON.
//! - `info.rs` — `show info` text/JSON.
//! - `servers_state.rs` — `show servers state`, `show backend`.
//! - `sess.rs` — `show sess`, `shutdown session`.
//! - `descriptions.rs` (generated) — field descriptions of `show stat|info … desc`.
//! - `dynamic.rs` — `add server`, `del server`, and percore's `reload`.
//! - `check.rs` — HAProxy health-check status codes shared by the stat and state renderers.
//! - `shards.rs` — percore's own `show shards`, `show version`, and `show cli level`.
//!
//! Order of checks, as in HAProxy: keyword lookup (unknown → suggestions), then the level
//! (→ `Permission denied`), then arguments. Arguments that HAProxy validates only *after* a
//! runtime lookup (e.g. `set server app/nosuch weight abc` answers `No such server.`) come back
//! as [`Command::ArgumentError`], which the engine resolves in the same order.

mod check;
mod descriptions;
mod dynamic;
mod errors;
mod frontend;
mod global;
mod info;
mod prometheus;
mod prometheus_table;
mod server;
mod servers_conn;
mod servers_state;
mod sess;
mod shards;
mod ssl;
mod stat;
mod stat_fields;

pub use check::CheckStatus;
pub use dynamic::{
    AddServer, ADD_SERVER_USAGE, BACKEND_NOT_DYNAMIC, DELETE_HAS_CONNECTIONS, DELETE_NEEDS_MAINT,
    NEW_SERVER_REGISTERED, SERVER_DELETED, SERVER_EXISTS,
};
pub use errors::{render_errors, ErrorKinds, ErrorRow, ErrorsProxy};
pub use info::{render_info, render_info_json, render_info_typed, InfoSnapshot};
pub use prometheus::render_prometheus;
pub use server::{
    render_addr_change, render_weight, AdminState, ForcedHealth, PortArg, ServerRef, WeightSpec,
};
pub use servers_conn::{render_servers_conn, ServerConnRow};
pub use servers_state::{
    render_backends, render_servers_state, ServerStateRow, SRV_ADMIN_FORCED_DRAIN,
    SRV_ADMIN_FORCED_MAINT, SRV_CHECK_STATE_CONFIGURED, SRV_CHECK_STATE_ENABLED,
    SRV_CHECK_STATE_PAUSED, SRV_OP_RUNNING, SRV_OP_STARTING, SRV_OP_STOPPED, SRV_OP_STOPPING,
};
pub use sess::{render_sess_detail, render_sess_list, SessRow, SessTarget};
pub use shards::{render_cli_level, render_shards, render_version, ShardRow};
pub use ssl::{render_ssl_cert_details, render_ssl_cert_list, CertDetails};
pub use stat::{
    render_stat_csv, render_stat_json, render_stat_typed, Format, H1Module, Mode, Modules,
    SslModule, StatFilter, StatKind, StatOptions, StatRow, HAPROXY_STAT_CSV_HEADER,
    STAT_CSV_HEADER,
};

use crate::error::{ErrorReply, PERMISSION_DENIED};
use crate::grammar::{tokenize, Args};
use crate::level::Level;
use crate::table::{self, KeywordId};

/// One parsed admin command, ready for the engine. Names are unresolved: the engine looks them
/// up and answers with the lookup constants of `error.rs` (`NO_SUCH_BACKEND`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `help [<words>]`: reply with `render_help(level, &words)`.
    Help(Vec<String>),
    /// `prompt`: toggle interactive mode (`ReplyWriter::toggle_prompt`).
    Prompt,
    /// `quit`: close without a reply (`ReplyWriter::quit`).
    Quit,
    /// `show cli level`: reply with `render_cli_level(level)`.
    ShowCliLevel,
    /// `show info [json|typed|desc|float]*` (`float` changes nothing).
    ShowInfo {
        /// Plain lines, JSON or typed.
        format: Format,
        /// Append each field's description.
        desc: bool,
    },
    /// `show stat [domain proxy] [<proxy> <type> <sid>] [json|typed|desc|up|no-maint]*`.
    ShowStat {
        /// Output form and row options.
        options: StatOptions,
        /// Row selection when the three positional arguments were given.
        filter: Option<StatFilter>,
    },
    /// `show servers state [<backend>]`; unknown backend → `CANT_FIND_BACKEND`.
    ShowServersState {
        /// Only this backend's servers.
        backend: Option<String>,
    },
    /// `show backend`: reply with `render_backends`.
    ShowBackend,
    /// `show sess [<id>|all]`.
    ShowSess(SessTarget),
    /// `shutdown session <id>`: kill one stream; unknown → `NO_SUCH_SESSION`.
    ShutdownSession(u64),
    /// `shutdown sessions server <bk>/<srv>`: kill every stream on that server.
    ShutdownSessionsServer(ServerRef),
    /// `set server <bk>/<srv> state …`, `disable server` (maint), `enable server` (ready).
    SetServerState(ServerRef, AdminState),
    /// `set server <bk>/<srv> weight …` or the deprecated `set weight <bk>/<srv> …`; apply with
    /// [`WeightSpec::apply`] once the server is found.
    SetServerWeight(ServerRef, WeightSpec),
    /// `get weight <bk>/<srv>`: reply with `render_weight(current, initial)`.
    GetWeight(ServerRef),
    /// `enable health` (true) / `disable health` (false) `<bk>/<srv>`.
    SetHealth(ServerRef, bool),
    /// `set maxconn server <bk>/<srv> <n>` (0 = unlimited).
    SetMaxconnServer(ServerRef, u32),
    /// `set maxconn frontend <fe> <n>`; unknown or backend-only name → `NO_SUCH_FRONTEND`.
    SetMaxconnFrontend(String, u32),
    /// `clear counters` (maxima only) / `clear counters all` (every counter).
    ClearCounters {
        /// `all`: every counter, not only the maxima.
        all: bool,
    },
    /// `disable frontend <fe>` (false) / `enable frontend <fe>` (true).
    SetFrontendEnabled(String, bool),
    /// `set maxconn global <n>`: `n` through `atoi`; 0 or less means the hard limit.
    SetMaxconnGlobal(i32),
    /// `set timeout cli <delay>`: the cli timeout of this admin connection (at least 1 s).
    SetTimeoutCli(std::time::Duration),
    /// `set server <bk>/<srv> addr <ip> [port <p>]`: new streams connect there.
    SetServerAddr {
        /// The server.
        server: ServerRef,
        /// New address.
        addr: std::net::IpAddr,
        /// `port <p>` when given.
        port: Option<PortArg>,
    },
    /// `set server <bk>/<srv> health up|stopping|down`.
    SetServerHealth(ServerRef, ForcedHealth),
    /// `set server <bk>/<srv> check-port <p>`.
    SetServerCheckPort(ServerRef, u16),
    /// `set server <bk>/<srv> check-addr <ip> [port <p>]`.
    SetServerCheckAddr {
        /// The server.
        server: ServerRef,
        /// Address health checks connect to.
        addr: std::net::IpAddr,
        /// Port, when given.
        port: Option<u16>,
    },
    /// `show errors [<px>] [request|response]` (operator); unknown proxy → `NO_SUCH_PROXY`.
    ShowErrors {
        /// Which proxies.
        proxy: ErrorsProxy,
        /// Requests, responses or both.
        kinds: ErrorKinds,
    },
    /// `show servers conn [<backend>]`; unknown backend → `CANT_FIND_BACKEND`.
    ShowServersConn {
        /// Only this backend's servers.
        backend: Option<String>,
    },
    /// `add server <bk>/<srv> <addr>:<port> [keywords]`: a new server, in maintenance.
    AddServer(AddServer),
    /// `del server <bk>/<srv>`: remove a server in maintenance without streams.
    DelServer(ServerRef),
    /// percore: `reload [<file>]`: read and apply the configuration file again.
    Reload(Option<String>),
    /// percore: `upgrade [<binary>]`: start a new binary (default: the running one's path)
    /// on every listening socket, then soft-stop.
    Upgrade(Option<String>),
    /// percore: `show shards`, reply with `render_shards`.
    ShowShards,
    /// `show version`, reply with `render_version`.
    ShowVersion,
    /// Arguments are invalid, but HAProxy reports that only after resolving `target`: look it
    /// up first and reply with the lookup error if it fails, else with `error`.
    ArgumentError {
        /// Object to resolve before reporting.
        target: Lookup,
        /// Reply once `target` resolved.
        error: ErrorReply,
    },
    /// `show ssl cert [<file>]`: the certificate files, or one file's details.
    ShowSslCert(Option<String>),
    /// `set ssl cert <file> <payload>`: opens (or updates) the transaction for `file`.
    SetSslCert {
        /// The certificate file as the configuration names it.
        file: String,
        /// The new certificate chain and key, PEM.
        payload: String,
    },
    /// `commit ssl cert <file>`: applies the transaction on every shard.
    CommitSslCert(String),
    /// `abort ssl cert <file>`: drops the transaction.
    AbortSslCert(String),
}

/// An object named on the command line that the engine must resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// A server (`NO_SUCH_BACKEND` / `NO_SUCH_SERVER` / `PROXY_DISABLED` when it fails).
    Server(ServerRef),
    /// A proxy with a frontend (`NO_SUCH_FRONTEND` when it fails).
    Frontend(String),
}

impl Command {
    /// Lowest level allowed to run this command (the parser already enforced it).
    pub fn level(&self) -> Level {
        match self {
            Command::Help(_)
            | Command::Prompt
            | Command::Quit
            | Command::ShowCliLevel
            | Command::ShowInfo { .. }
            | Command::ShowStat { .. }
            | Command::ShowServersState { .. }
            | Command::ShowBackend
            | Command::GetWeight(_)
            | Command::ShowShards
            | Command::ShowVersion
            | Command::SetTimeoutCli(_)
            | Command::ShowServersConn { .. } => Level::User,
            Command::ShowSess(_)
            | Command::ClearCounters { all: false }
            | Command::ShowErrors { .. }
            | Command::ShowSslCert(_) => Level::Operator,
            Command::ShutdownSession(_)
            | Command::ShutdownSessionsServer(_)
            | Command::SetServerState(..)
            | Command::SetServerWeight(..)
            | Command::SetHealth(..)
            | Command::SetMaxconnServer(..)
            | Command::SetMaxconnFrontend(..)
            | Command::ClearCounters { all: true }
            | Command::SetFrontendEnabled(..)
            | Command::SetMaxconnGlobal(_)
            | Command::SetServerAddr { .. }
            | Command::SetServerHealth(..)
            | Command::SetServerCheckPort(..)
            | Command::SetServerCheckAddr { .. }
            | Command::AddServer(_)
            | Command::DelServer(_)
            | Command::Reload(_)
            | Command::Upgrade(_)
            | Command::SetSslCert { .. }
            | Command::CommitSslCert(_)
            | Command::AbortSslCert(_)
            | Command::ArgumentError { .. } => Level::Admin,
        }
    }
}

/// Parses one command (one part from `split_commands`) received on a socket of `level`.
///
/// Returns the command, or the exact error body: the usage list for an empty, unknown or
/// partial command, `Permission denied` when `level` is too low (checked before any argument),
/// or the argument error HAProxy would give without runtime lookups. Never panics.
pub fn parse(part: &str, level: Level) -> Result<Command, ErrorReply> {
    parse_with_payload(part, None, level)
}

/// [`parse`] for the last command of a line that ended with `<<`: `payload` is the text of
/// the lines that followed, up to the empty line (HAProxy 2.6's payload mode). Only the
/// commands that take a payload read it.
pub fn parse_with_payload(
    part: &str,
    payload: Option<&str>,
    level: Level,
) -> Result<Command, ErrorReply> {
    let words = tokenize(part);
    let Some(keyword) = table::find(&words) else {
        return Err(ErrorReply::from_string(table::usage_message(&words, false)));
    };
    if level < keyword.level {
        return Err(PERMISSION_DENIED);
    }
    let args = Args(&words);
    match keyword.id {
        KeywordId::Help => Ok(Command::Help(words[1..].to_vec())),
        KeywordId::Prompt => Ok(Command::Prompt),
        KeywordId::Quit => Ok(Command::Quit),
        KeywordId::ShowCliLevel => Ok(Command::ShowCliLevel),
        KeywordId::ShowVersion => Ok(Command::ShowVersion),
        KeywordId::ShowShards => Ok(Command::ShowShards),
        KeywordId::ShowBackend => Ok(Command::ShowBackend),
        KeywordId::ShowInfo => Ok(info::parse_show_info(args)),
        KeywordId::ShowStat => stat::parse_show_stat(args),
        KeywordId::ShowServersState => Ok(servers_state::parse_show_servers_state(args)),
        KeywordId::ShowSess => Ok(sess::parse_show_sess(args)),
        KeywordId::ShutdownSession => sess::parse_shutdown_session(args),
        KeywordId::ShutdownSessionsServer => server::parse_shutdown_sessions_server(args),
        KeywordId::DisableServer => server::parse_set_state(args, AdminState::Maint),
        KeywordId::EnableServer => server::parse_set_state(args, AdminState::Ready),
        KeywordId::DisableHealth => server::parse_set_health(args, false),
        KeywordId::EnableHealth => server::parse_set_health(args, true),
        KeywordId::GetWeight => server::parse_get_weight(args),
        KeywordId::SetWeight => server::parse_set_weight(args),
        KeywordId::SetServer => server::parse_set_server(args),
        KeywordId::SetMaxconnServer => server::parse_set_maxconn_server(args),
        KeywordId::SetMaxconnFrontend => frontend::parse_set_maxconn_frontend(args),
        KeywordId::DisableFrontend => frontend::parse_set_frontend_state(args, false),
        KeywordId::EnableFrontend => frontend::parse_set_frontend_state(args, true),
        KeywordId::ClearCounters => global::parse_clear_counters(args, level),
        KeywordId::SetMaxconnGlobal => global::parse_set_maxconn_global(args),
        KeywordId::SetTimeout => global::parse_set_timeout(args),
        KeywordId::ShowServersConn => Ok(servers_conn::parse_show_servers_conn(args)),
        KeywordId::ShowErrors => errors::parse_show_errors(args),
        KeywordId::AddServer => dynamic::parse_add_server(args),
        KeywordId::DelServer => dynamic::parse_del_server(args),
        KeywordId::Reload => dynamic::parse_reload(args),
        KeywordId::Upgrade => dynamic::parse_upgrade(args),
        KeywordId::ShowSslCert => Ok(ssl::parse_show(args)),
        KeywordId::SetSslCert => ssl::parse_set(args, payload),
        KeywordId::CommitSslCert => ssl::parse_commit(args),
        KeywordId::AbortSslCert => ssl::parse_abort(args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_level_agrees_with_table() {
        let samples = [
            ("help", Level::User),
            ("prompt", Level::User),
            ("quit", Level::User),
            ("show cli level", Level::User),
            ("show info", Level::User),
            ("show stat", Level::User),
            ("show servers state", Level::User),
            ("show backend", Level::User),
            ("get weight a/b", Level::User),
            ("show shards", Level::User),
            ("show version", Level::User),
            ("show sess", Level::Operator),
            ("shutdown session 0x1", Level::Admin),
            ("shutdown sessions server a/b", Level::Admin),
            ("set server a/b state ready", Level::Admin),
            ("set server a/b weight 1", Level::Admin),
            ("set server a/b weight x", Level::Admin),
            ("set weight a/b 1", Level::Admin),
            ("disable server a/b", Level::Admin),
            ("enable health a/b", Level::Admin),
            ("set maxconn server a/b 1", Level::Admin),
            ("set maxconn frontend f 1", Level::Admin),
            ("clear counters", Level::Operator),
            ("disable frontend f", Level::Admin),
            ("enable frontend f", Level::Admin),
            ("set maxconn global 1", Level::Admin),
            ("set timeout cli 5", Level::User),
            ("show servers conn", Level::User),
            ("show errors", Level::Operator),
            ("set server a/b addr 127.0.0.1", Level::Admin),
            ("set server a/b health down", Level::Admin),
            ("set server a/b check-port 80", Level::Admin),
            ("set server a/b check-addr 127.0.0.1", Level::Admin),
            ("add server a/b 127.0.0.1:1", Level::Admin),
            ("del server a/b", Level::Admin),
            ("reload", Level::Admin),
            ("upgrade", Level::Admin),
        ];
        for (line, level) in samples {
            let cmd = parse(line, Level::Admin).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(cmd.level(), level, "{line}");
            let keyword = table::find(&tokenize(line)).expect("keyword");
            assert_eq!(keyword.level, level, "{line}");
            if level > Level::User {
                assert_eq!(parse(line, Level::User), Err(PERMISSION_DENIED), "{line}");
            }
            if level > Level::Operator {
                assert_eq!(
                    parse(line, Level::Operator),
                    Err(PERMISSION_DENIED),
                    "{line}"
                );
            }
        }
    }
}
