//! Commands that name one server as `<bk>/<srv>`: `get weight`, `set weight`, `set server …
//! state|weight|addr|health|check-port|check-addr`, `disable|enable server`, `disable|enable health`, `set maxconn server`,
//! `shutdown sessions server`. Argument rules ported from HAProxy 2.6 `server.c`
//! (`cli_find_server`, `server_parse_weight_change_request`,
//! `server_parse_maxconn_change_request`); the runtime lookups are the engine's.

use std::fmt;

use super::{Command, Lookup};
use crate::error::{
    invalid_addr, invalid_check_addr, ErrorReply, ADDR_REQUIRED, AGENT_NOT_ENABLED,
    AGENT_NOT_ENABLED_BARE, CHECK_ADDR_REQUIRED, CHECK_PORT_REQUIRED, FQDN_NO_RESOLUTION,
    FQDN_REQUIRED, HEALTH_EXPECTED, MAXCONN_GARBAGE, MAXCONN_REQUIRED, MAXCONN_TRAILING_GARBAGE,
    PORT_INVALID, PORT_NOT_INTEGER, REQUIRE_BACKEND_SERVER, SERVER_STATE_EXPECTED,
    SET_SERVER_USAGE, SSL_NOT_CONFIGURED, WEIGHT_GARBAGE, WEIGHT_OUT_OF_RANGE,
    WEIGHT_RELATIVE_NEGATIVE, WEIGHT_REQUIRED, WEIGHT_STATIC_LB, WEIGHT_TRAILING_GARBAGE,
};
use crate::grammar::{atoi, strtol, Args};

/// A server named on the command line, not yet resolved.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerRef {
    /// Backend name (may be empty for `get weight`, which then answers `No such backend.`).
    pub backend: String,
    /// Server name, or `#<id>` for the server with that numeric id (HAProxy syntax).
    pub server: String,
}

impl ServerRef {
    /// A reference to `backend/server`.
    pub fn new(backend: impl Into<String>, server: impl Into<String>) -> Self {
        ServerRef {
            backend: backend.into(),
            server: server.into(),
        }
    }

    /// The numeric id when the server was written `#<id>` (HAProxy: `atoi` after `#`, and a
    /// negative result means the text is a plain name).
    pub fn server_id(&self) -> Option<u32> {
        let rest = self.server.strip_prefix('#')?;
        u32::try_from(atoi(rest)).ok()
    }
}

impl fmt::Display for ServerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.backend, self.server)
    }
}

/// Administrative state set by the operator (`srv_admin_state` in `show servers state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdminState {
    /// Normal operation; also clears drain and maintenance.
    Ready,
    /// No new load-balanced traffic; the server stays up.
    Drain,
    /// Forced maintenance: no new traffic, checks paused, existing streams keep running.
    Maint,
}

impl AdminState {
    /// The keyword used by `set server … state`.
    pub fn as_str(self) -> &'static str {
        match self {
            AdminState::Ready => "ready",
            AdminState::Drain => "drain",
            AdminState::Maint => "maint",
        }
    }
}

/// Operational state forced by `set server <bk>/<srv> health up|stopping|down`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ForcedHealth {
    /// Full health, UP.
    Up,
    /// Full health, but no new load-balanced traffic (NOLB).
    Stopping,
    /// Health 0, DOWN.
    Down,
}

/// The optional `port <p>` of `set server … addr`, as typed: HAProxy reports a bad one in the
/// middle of its change message, after applying the address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PortArg {
    /// A port 0..=65535.
    Port(u16),
    /// Text that is not a port (reported as `problem converting port '<text>' to an int`).
    Invalid(String),
}

/// The reply of `set server … addr` (HAProxy `srv_update_addr_port`): what changed, in
/// HAProxy's words, e.g. `IP changed from '127.0.0.1' to '127.0.0.2', no need to change the
/// port by 'stats socket command'`. `port` is `(old, requested)`.
pub fn render_addr_change(
    old_ip: std::net::IpAddr,
    new_ip: std::net::IpAddr,
    port: Option<(u16, &PortArg)>,
) -> String {
    let mut out = if old_ip == new_ip {
        "no need to change the addr".to_owned()
    } else {
        format!("IP changed from '{old_ip}' to '{new_ip}'")
    };
    match port {
        None => {}
        Some((old, PortArg::Port(new))) if old == *new => {
            out.push_str(", no need to change the port");
        }
        Some((old, PortArg::Port(new))) => {
            out.push_str(&format!(", port changed from '{old}' to '{new}'"));
        }
        Some((_, PortArg::Invalid(text))) => {
            out.push_str(&format!(", problem converting port '{text}' to an int"));
        }
    }
    out.push_str(" by 'stats socket command'\n");
    out
}

/// A port argument of `check-port` / `check-addr … port` (HAProxy `strl2irc` + range check).
fn parse_check_port(text: &str) -> Result<u16, ErrorReply> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PORT_NOT_INTEGER);
    }
    text.parse::<u16>().map_err(|_| PORT_INVALID)
}

/// `set server … addr <ip> [port <p>]` (words from 4 on): words after the address other than
/// `port` are ignored, as HAProxy does.
fn parse_addr(args: Args<'_>, server: &ServerRef) -> Result<Command, ErrorReply> {
    let text = args.get(4);
    if text.is_empty() {
        return Err(ADDR_REQUIRED);
    }
    let addr = text.parse().map_err(|_| invalid_addr(text))?;
    let port = (args.get(5) == "port").then(|| {
        let p = args.get(6);
        match p.parse::<u16>() {
            Ok(n) if p.bytes().all(|b| b.is_ascii_digit()) => PortArg::Port(n),
            _ => PortArg::Invalid(p.to_owned()),
        }
    });
    Ok(Command::SetServerAddr {
        server: server.clone(),
        addr,
        port,
    })
}

/// `set server … check-addr <ip> [port <p>]`.
fn parse_check_addr(args: Args<'_>, server: &ServerRef) -> Result<Command, ErrorReply> {
    let text = args.get(4);
    if text.is_empty() {
        return Err(CHECK_ADDR_REQUIRED);
    }
    let addr = text.parse().map_err(|_| invalid_check_addr(text))?;
    let port = match args.get(5) {
        "port" => Some(parse_check_port(args.get(6))?),
        _ => None,
    };
    Ok(Command::SetServerCheckAddr {
        server: server.clone(),
        addr,
        port,
    })
}

/// Largest absolute weight (HAProxy `SRV_UWGHT_MAX`).
const WEIGHT_MAX: u32 = 256;
/// Largest accepted percentage before the result is clamped to [`WEIGHT_MAX`] anyway; bounds
/// the multiplication (HAProxy clamps at 25600 "to avoid integer overflow").
const WEIGHT_PERCENT_MAX: u32 = 25_600;

/// A requested weight: absolute, or relative to the configured (initial) weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WeightSpec {
    /// `N`, 0..=256.
    Absolute(u32),
    /// `N%` of the configured weight, N already clamped to 0..=25600.
    Percent(u32),
}

impl WeightSpec {
    /// Parses a weight argument exactly as HAProxy 2.6 does: `""` → `Require <weight> or
    /// <weight%>.`; no leading number → the "empty or preceded by garbage" text; `N%` with N
    /// negative → `Relative weight must be positive.`; N outside 0..=256 → the range error
    /// (checked before trailing garbage, so `300x` is a range error); anything after N other
    /// than a lone `%` → `Trailing garbage in weight string`.
    pub fn parse(text: &str) -> Result<WeightSpec, ErrorReply> {
        if text.is_empty() {
            return Err(WEIGHT_REQUIRED);
        }
        let (value, consumed) = strtol(text);
        if consumed == 0 {
            return Err(WEIGHT_GARBAGE);
        }
        let rest = &text[consumed..];
        if rest == "%" {
            if value < 0 {
                return Err(WEIGHT_RELATIVE_NEGATIVE);
            }
            let percent = u32::try_from(value)
                .unwrap_or(u32::MAX)
                .min(WEIGHT_PERCENT_MAX);
            return Ok(WeightSpec::Percent(percent));
        }
        let Ok(absolute) = u32::try_from(value) else {
            return Err(WEIGHT_OUT_OF_RANGE);
        };
        if absolute > WEIGHT_MAX {
            return Err(WEIGHT_OUT_OF_RANGE);
        }
        if !rest.is_empty() {
            return Err(WEIGHT_TRAILING_GARBAGE);
        }
        Ok(WeightSpec::Absolute(absolute))
    }

    /// The user weight this request yields for a server configured with `initial`: percentages
    /// are truncated (50% of 1 → 0) and clamped to 256 (30000% → 256).
    pub fn resolve(self, initial: u32) -> u32 {
        match self {
            WeightSpec::Absolute(weight) => weight,
            WeightSpec::Percent(percent) => {
                let weight = u64::from(initial) * u64::from(percent) / 100;
                u32::try_from(weight.min(u64::from(WEIGHT_MAX))).unwrap_or(WEIGHT_MAX)
            }
        }
    }

    /// [`resolve`](Self::resolve) plus HAProxy's runtime check: a backend whose algorithm has
    /// static weights (`lb_dynamic == false`) only accepts 0 or the initial weight.
    pub fn apply(self, initial: u32, lb_dynamic: bool) -> Result<u32, ErrorReply> {
        let weight = self.resolve(initial);
        if weight != 0 && weight != initial && !lb_dynamic {
            return Err(WEIGHT_STATIC_LB);
        }
        Ok(weight)
    }
}

/// Reply body of `get weight`: `"<current> (initial <configured>)\n"`.
pub fn render_weight(current: u32, initial: u32) -> String {
    format!("{current} (initial {initial})\n")
}

/// `<bk>/<srv>` as HAProxy's `cli_find_server` accepts it: both sides non-empty.
fn server_ref(arg: &str) -> Result<ServerRef, ErrorReply> {
    match arg.split_once('/') {
        Some((backend, server)) if !backend.is_empty() && !server.is_empty() => {
            Ok(ServerRef::new(backend, server))
        }
        _ => Err(REQUIRE_BACKEND_SERVER),
    }
}

/// Maxconn argument as HAProxy's `server_parse_maxconn_change_request`. Like HAProxy, which
/// stores the `long` into an `unsigned`, out-of-range values wrap (`-1` → 4294967295).
fn parse_maxconn(text: &str) -> Result<u32, ErrorReply> {
    if text.is_empty() {
        return Err(MAXCONN_REQUIRED);
    }
    let (value, consumed) = strtol(text);
    if consumed == 0 {
        return Err(MAXCONN_GARBAGE);
    }
    if consumed != text.len() {
        return Err(MAXCONN_TRAILING_GARBAGE);
    }
    Ok(value as u32)
}

fn deferred(server: ServerRef, error: ErrorReply) -> Command {
    Command::ArgumentError {
        target: Lookup::Server(server),
        error,
    }
}

/// `get weight <bk>/<srv>`: unlike the others it accepts an empty backend (→ runtime
/// `No such backend.`) and has no level check.
pub(super) fn parse_get_weight(args: Args<'_>) -> Result<Command, ErrorReply> {
    match args.get(2).split_once('/') {
        Some((backend, server)) if !server.is_empty() => {
            Ok(Command::GetWeight(ServerRef::new(backend, server)))
        }
        _ => Err(REQUIRE_BACKEND_SERVER),
    }
}

/// `disable server` / `enable server <bk>/<srv>`.
pub(super) fn parse_set_state(args: Args<'_>, state: AdminState) -> Result<Command, ErrorReply> {
    Ok(Command::SetServerState(server_ref(args.get(2))?, state))
}

/// `disable health` / `enable health <bk>/<srv>`.
pub(super) fn parse_set_health(args: Args<'_>, enabled: bool) -> Result<Command, ErrorReply> {
    Ok(Command::SetHealth(server_ref(args.get(2))?, enabled))
}

/// `shutdown sessions server <bk>/<srv>`.
pub(super) fn parse_shutdown_sessions_server(args: Args<'_>) -> Result<Command, ErrorReply> {
    Ok(Command::ShutdownSessionsServer(server_ref(args.get(3))?))
}

/// Deprecated `set weight <bk>/<srv> <weight>`.
pub(super) fn parse_set_weight(args: Args<'_>) -> Result<Command, ErrorReply> {
    let server = server_ref(args.get(2))?;
    Ok(match WeightSpec::parse(args.get(3)) {
        Ok(weight) => Command::SetServerWeight(server, weight),
        Err(error) => deferred(server, error),
    })
}

/// `set maxconn server <bk>/<srv> <n>`.
pub(super) fn parse_set_maxconn_server(args: Args<'_>) -> Result<Command, ErrorReply> {
    let server = server_ref(args.get(3))?;
    Ok(match parse_maxconn(args.get(4)) {
        Ok(maxconn) => Command::SetMaxconnServer(server, maxconn),
        Err(error) => deferred(server, error),
    })
}

/// `set server <bk>/<srv> <sub-command> …`: `state`, `weight`, `addr`, `health`,
/// `check-port` and `check-addr` are implemented; `agent*`, `fqdn` and `ssl` answer what
/// HAProxy answers for a server without agent, resolvers or TLS; anything else gets
/// HAProxy's usage line. Argument errors are reported once the server resolved.
pub(super) fn parse_set_server(args: Args<'_>) -> Result<Command, ErrorReply> {
    let server = server_ref(args.get(2))?;
    let value = args.get(4);
    let outcome = match args.get(3) {
        "weight" => WeightSpec::parse(value).map(|w| Command::SetServerWeight(server.clone(), w)),
        "state" => match value {
            "ready" => Ok(Command::SetServerState(server.clone(), AdminState::Ready)),
            "drain" => Ok(Command::SetServerState(server.clone(), AdminState::Drain)),
            "maint" => Ok(Command::SetServerState(server.clone(), AdminState::Maint)),
            _ => Err(SERVER_STATE_EXPECTED),
        },
        "agent" | "agent-send" => Err(AGENT_NOT_ENABLED),
        "agent-addr" | "agent-port" => Err(AGENT_NOT_ENABLED_BARE),
        "addr" => parse_addr(args, &server),
        "health" => match value {
            "up" => Ok(Command::SetServerHealth(server.clone(), ForcedHealth::Up)),
            "stopping" => Ok(Command::SetServerHealth(
                server.clone(),
                ForcedHealth::Stopping,
            )),
            "down" => Ok(Command::SetServerHealth(server.clone(), ForcedHealth::Down)),
            _ => Err(HEALTH_EXPECTED),
        },
        "check-port" if value.is_empty() => Err(CHECK_PORT_REQUIRED),
        "check-port" => {
            parse_check_port(value).map(|port| Command::SetServerCheckPort(server.clone(), port))
        }
        "check-addr" => parse_check_addr(args, &server),
        "fqdn" if value.is_empty() => Err(FQDN_REQUIRED),
        "fqdn" => Err(FQDN_NO_RESOLUTION),
        "ssl" => Err(SSL_NOT_CONFIGURED),
        _ => Err(SET_SERVER_USAGE),
    };
    Ok(outcome.unwrap_or_else(|error| deferred(server, error)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_parse_reference_cases() {
        assert_eq!(WeightSpec::parse("50"), Ok(WeightSpec::Absolute(50)));
        assert_eq!(WeightSpec::parse("0"), Ok(WeightSpec::Absolute(0)));
        assert_eq!(WeightSpec::parse("256"), Ok(WeightSpec::Absolute(256)));
        assert_eq!(WeightSpec::parse("50%"), Ok(WeightSpec::Percent(50)));
        assert_eq!(WeightSpec::parse("30000%"), Ok(WeightSpec::Percent(25_600)));
        assert_eq!(
            WeightSpec::parse("99999999999999999999%"),
            Ok(WeightSpec::Percent(25_600))
        );
        assert_eq!(WeightSpec::parse(""), Err(WEIGHT_REQUIRED));
        assert_eq!(WeightSpec::parse("abc"), Err(WEIGHT_GARBAGE));
        assert_eq!(WeightSpec::parse("%"), Err(WEIGHT_GARBAGE));
        assert_eq!(WeightSpec::parse("300"), Err(WEIGHT_OUT_OF_RANGE));
        assert_eq!(WeightSpec::parse("-1"), Err(WEIGHT_OUT_OF_RANGE));
        assert_eq!(WeightSpec::parse("300x"), Err(WEIGHT_OUT_OF_RANGE));
        assert_eq!(WeightSpec::parse("-5%"), Err(WEIGHT_RELATIVE_NEGATIVE));
        assert_eq!(WeightSpec::parse("5x"), Err(WEIGHT_TRAILING_GARBAGE));
        assert_eq!(WeightSpec::parse("5%%"), Err(WEIGHT_TRAILING_GARBAGE));
        assert_eq!(WeightSpec::parse("+7"), Ok(WeightSpec::Absolute(7)));
    }

    #[test]
    fn weight_resolve_truncates_and_clamps() {
        assert_eq!(WeightSpec::Percent(50).resolve(1), 0);
        assert_eq!(WeightSpec::Percent(200).resolve(1), 2);
        assert_eq!(WeightSpec::Percent(25_600).resolve(1), 256);
        assert_eq!(WeightSpec::Percent(25_600).resolve(256), 256);
        assert_eq!(WeightSpec::Absolute(7).resolve(100), 7);
        assert_eq!(
            WeightSpec::Absolute(5).apply(1, false),
            Err(WEIGHT_STATIC_LB)
        );
        assert_eq!(WeightSpec::Percent(100).apply(3, false), Ok(3));
        assert_eq!(WeightSpec::Absolute(0).apply(3, false), Ok(0));
        assert_eq!(WeightSpec::Absolute(5).apply(1, true), Ok(5));
    }

    #[test]
    fn maxconn_parse() {
        assert_eq!(parse_maxconn("10"), Ok(10));
        assert_eq!(parse_maxconn("0"), Ok(0));
        assert_eq!(parse_maxconn("-1"), Ok(u32::MAX));
        assert_eq!(parse_maxconn(""), Err(MAXCONN_REQUIRED));
        assert_eq!(parse_maxconn("abc"), Err(MAXCONN_GARBAGE));
        assert_eq!(parse_maxconn("10x"), Err(MAXCONN_TRAILING_GARBAGE));
    }

    #[test]
    fn server_ref_rules() {
        assert_eq!(server_ref("app/s1"), Ok(ServerRef::new("app", "s1")));
        assert_eq!(server_ref("app/s1/x"), Ok(ServerRef::new("app", "s1/x")));
        for bad in ["", "app", "app/", "/s1", "/"] {
            assert_eq!(server_ref(bad), Err(REQUIRE_BACKEND_SERVER), "{bad:?}");
        }
        assert_eq!(ServerRef::new("app", "#2").server_id(), Some(2));
        assert_eq!(ServerRef::new("app", "#x").server_id(), Some(0));
        assert_eq!(ServerRef::new("app", "#-1").server_id(), None);
        assert_eq!(ServerRef::new("app", "s1").server_id(), None);
        assert_eq!(ServerRef::new("app", "s1").to_string(), "app/s1");
    }

    #[test]
    fn render_weight_shape() {
        assert_eq!(render_weight(1, 1), "1 (initial 1)\n");
        assert_eq!(render_weight(50, 1), "50 (initial 1)\n");
    }
}
