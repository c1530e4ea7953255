//! Error replies: the exact bytes HAProxy 2.6 writes for a failed command, before the framing
//! terminator. It owns the texts (as constants, so the engine reports lookup failures it
//! resolves at run time with the same bytes) and nothing else: sending them is `framing.rs`.
//!
//! Almost every HAProxy error text ends with its own `\n`, so with the terminator the reply
//! ends with an empty line. A few texts have no newline of their own, so their replies end
//! with a single LF: [`WEIGHT_GARBAGE`], [`WEIGHT_TRAILING_GARBAGE`], [`MAXCONN_GARBAGE`],
//! [`MAXCONN_TRAILING_GARBAGE`] (from `server_parse_weight_change_request` /
//! `server_parse_maxconn_change_request`), and the `set server … check-port|check-addr|
//! agent-addr|agent-port` texts ([`PORT_NOT_INTEGER`], [`HEALTH_CHECKS_NOT_ENABLED`], …). Because an [`ErrorReply`]
//! is always the body and the terminator is always added by the framing, the server cannot get
//! that difference wrong as long as it never appends a newline itself.

use std::borrow::Cow;

/// A command's failure reply: the exact body to send; the framing appends the terminator.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{}", self.body.trim_end_matches('\n'))]
pub struct ErrorReply {
    body: Cow<'static, str>,
}

impl ErrorReply {
    /// An error reply with a fixed body (most end with `\n`, see the module doc).
    pub const fn from_static(body: &'static str) -> Self {
        ErrorReply {
            body: Cow::Borrowed(body),
        }
    }

    /// An error reply with a computed body, which should end with `\n` like HAProxy's.
    pub fn from_string(body: String) -> Self {
        ErrorReply {
            body: Cow::Owned(body),
        }
    }

    /// The exact body bytes; the framing terminator is *not* included.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// Whether the body ends with its own LF (false for the four "garbage" texts).
    pub fn has_own_newline(&self) -> bool {
        self.body.ends_with('\n')
    }
}

/// Level too low for the command (checked before any argument).
pub const PERMISSION_DENIED: ErrorReply = ErrorReply::from_static("Permission denied\n");
/// `<bk>/<srv>` argument missing, without `/`, or with an empty side.
pub const REQUIRE_BACKEND_SERVER: ErrorReply =
    ErrorReply::from_static("Require 'backend/server'.\n");
/// Runtime lookup: no backend of that name.
pub const NO_SUCH_BACKEND: ErrorReply = ErrorReply::from_static("No such backend.\n");
/// Runtime lookup: the backend exists but has no such server.
pub const NO_SUCH_SERVER: ErrorReply = ErrorReply::from_static("No such server.\n");
/// Runtime lookup: the server's backend is stopped (HAProxy `cli_find_server`).
pub const PROXY_DISABLED: ErrorReply = ErrorReply::from_static("Proxy is disabled.\n");
/// `show stat <proxy> <type> <sid>` with a proxy that is neither a known name nor a number.
pub const NO_SUCH_PROXY: ErrorReply = ErrorReply::from_static("No such proxy.\n");
/// `show stat domain <x>` with `<x>` other than `proxy`.
pub const INVALID_STAT_DOMAIN: ErrorReply = ErrorReply::from_static("Invalid statistics domain.\n");
/// `show servers state <backend>` with an unknown backend.
pub const CANT_FIND_BACKEND: ErrorReply = ErrorReply::from_static("Can't find backend.\n");
/// `show sess <id>` with an id that names no live stream.
pub const SESSION_NOT_FOUND: ErrorReply = ErrorReply::from_static("Session not found.\n");
/// `shutdown session <id>` with an id that names no live stream.
pub const NO_SUCH_SESSION: ErrorReply =
    ErrorReply::from_static("No such session (use 'show sess').\n");
/// `shutdown session` with a missing, zero or non-numeric id.
pub const SESSION_POINTER_EXPECTED: ErrorReply =
    ErrorReply::from_static("Session pointer expected (use 'show sess').\n");
/// `set maxconn frontend` without a name.
pub const FRONTEND_NAME_EXPECTED: ErrorReply =
    ErrorReply::from_static("A frontend name is expected.\n");
/// Runtime lookup: no proxy with a frontend of that name.
pub const NO_SUCH_FRONTEND: ErrorReply = ErrorReply::from_static("No such frontend.\n");
/// `set maxconn frontend <fe>` without a value.
pub const INTEGER_VALUE_EXPECTED: ErrorReply = ErrorReply::from_static("Integer value expected.\n");
/// `set maxconn frontend <fe> <negative>`.
pub const VALUE_OUT_OF_RANGE: ErrorReply = ErrorReply::from_static("Value out of range.\n");
/// `set server … weight` / `set weight` without a value.
pub const WEIGHT_REQUIRED: ErrorReply = ErrorReply::from_static("Require <weight> or <weight%>.\n");
/// Weight that does not start with a number. No own newline (HAProxy quirk).
pub const WEIGHT_GARBAGE: ErrorReply =
    ErrorReply::from_static("Empty weight string empty or preceded by garbage");
/// Weight followed by something other than a lone `%`. No own newline (HAProxy quirk).
pub const WEIGHT_TRAILING_GARBAGE: ErrorReply =
    ErrorReply::from_static("Trailing garbage in weight string");
/// Absolute weight outside 0..=256.
pub const WEIGHT_OUT_OF_RANGE: ErrorReply =
    ErrorReply::from_static("Absolute weight can only be between 0 and 256 inclusive.\n");
/// Negative relative weight (`-5%`).
pub const WEIGHT_RELATIVE_NEGATIVE: ErrorReply =
    ErrorReply::from_static("Relative weight must be positive.\n");
/// Runtime check: weight change on a backend whose algorithm has static weights.
pub const WEIGHT_STATIC_LB: ErrorReply = ErrorReply::from_static(
    "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.\n",
);
/// `set maxconn server <bk>/<srv>` without a value.
pub const MAXCONN_REQUIRED: ErrorReply = ErrorReply::from_static("Require <maxconn>.\n");
/// Maxconn that does not start with a number. No own newline (HAProxy quirk).
pub const MAXCONN_GARBAGE: ErrorReply =
    ErrorReply::from_static("maxconn string empty or preceded by garbage");
/// Maxconn followed by garbage (`10x`). No own newline (HAProxy quirk).
pub const MAXCONN_TRAILING_GARBAGE: ErrorReply =
    ErrorReply::from_static("Trailing garbage in maxconn string");
/// `set server <bk>/<srv> state` with a value other than ready/drain/maint.
pub const SERVER_STATE_EXPECTED: ErrorReply =
    ErrorReply::from_static("'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n");
/// `set server <bk>/<srv>` without or with an unknown sub-command.
pub const SET_SERVER_USAGE: ErrorReply = ErrorReply::from_static(
    "usage: set server <backend>/<server> addr | agent | agent-addr | agent-port | agent-send | \
     check-addr | check-port | fqdn | health | ssl | state | weight\n",
);
/// Runtime check: `enable health` on a server that has no health check configured.
pub const HEALTH_CHECK_NOT_CONFIGURED: ErrorReply =
    ErrorReply::from_static("Health check was not configured on this server, cannot enable.\n");
/// `set server … agent|agent-send`: percore has no agent checks, so HAProxy's reply applies.
pub const AGENT_NOT_ENABLED: ErrorReply =
    ErrorReply::from_static("agent checks are not enabled on this server.\n");
/// `set server … fqdn` without a name.
pub const FQDN_REQUIRED: ErrorReply =
    ErrorReply::from_static("set server <b>/<s> fqdn requires a FQDN.\n");
/// `set server … fqdn <name>`: percore has no resolvers, so HAProxy's reply applies.
pub const FQDN_NO_RESOLUTION: ErrorReply = ErrorReply::from_static(
    "set server <b>/<s> fqdn failed because no resolution is configured.\n",
);
/// `set server … ssl`: percore has no server-side TLS, so HAProxy's reply applies.
pub const SSL_NOT_CONFIGURED: ErrorReply = ErrorReply::from_static(
    "'set server <srv> ssl' cannot be set.  default-server should define ssl settings\n",
);

/// `set maxconn global` / `set timeout cli` without a value.
pub const EXPECTS_INTEGER_VALUE: ErrorReply =
    ErrorReply::from_static("Expects an integer value.\n");
/// `set timeout cli` with a value that is not a positive time.
pub const INVALID_TIMEOUT: ErrorReply = ErrorReply::from_static("Invalid timeout value.\n");
/// `set timeout <x>` with `<x>` other than `cli`.
pub const SET_TIMEOUT_ONLY_CLI: ErrorReply =
    ErrorReply::from_static("'set timeout' only supports 'cli'.\n");
/// `disable frontend` on a frontend that is already disabled.
pub const SOCKETS_ALREADY_DISABLED: ErrorReply =
    ErrorReply::from_static("All sockets are already disabled.\n");
/// `enable frontend` on a frontend that is not disabled.
pub const SOCKETS_ALREADY_ENABLED: ErrorReply =
    ErrorReply::from_static("All sockets are already enabled.\n");
/// `set server … addr` without an address.
pub const ADDR_REQUIRED: ErrorReply =
    ErrorReply::from_static("set server <b>/<s> addr requires an address and optionally a port.\n");
/// `set server … health` with a value other than up/stopping/down.
pub const HEALTH_EXPECTED: ErrorReply =
    ErrorReply::from_static("'set server <srv> health' expects 'up', 'stopping', or 'down'.\n");
/// `set server … check-port` without a port.
pub const CHECK_PORT_REQUIRED: ErrorReply =
    ErrorReply::from_static("set server <b>/<s> check-port requires a port.\n");
/// `set server … check-port|check-addr … port` with a non-numeric port. No own newline.
pub const PORT_NOT_INTEGER: ErrorReply = ErrorReply::from_static("provided port is not an integer");
/// `set server … check-port` with a port above 65535. No own newline.
pub const PORT_INVALID: ErrorReply = ErrorReply::from_static("provided port is invalid");
/// `set server … check-addr` without an address.
pub const CHECK_ADDR_REQUIRED: ErrorReply = ErrorReply::from_static(
    "set server <b>/<s> check-addr requires an address and optionally a port.\n",
);
/// `set server … check-port|check-addr` on a server without health checks. No own newline.
pub const HEALTH_CHECKS_NOT_ENABLED: ErrorReply =
    ErrorReply::from_static("health checks are not enabled on this server");
/// `set server … agent-addr|agent-port`: HAProxy's text for a server without agent (no
/// period, no own newline, unlike the `agent` one).
pub const AGENT_NOT_ENABLED_BARE: ErrorReply =
    ErrorReply::from_static("agent checks are not enabled on this server");

/// `set server … addr <x>` with `<x>` not an IP address (percore has no resolvers).
pub fn invalid_addr(text: &str) -> ErrorReply {
    ErrorReply::from_string(format!("Invalid addr '{text}' by 'stats socket command'\n"))
}

/// `set server … check-addr <x>` with `<x>` not an IP address. No own newline.
pub fn invalid_check_addr(text: &str) -> ErrorReply {
    ErrorReply::from_string(format!("invalid addr '{text}'"))
}

/// Reply for an HAProxy `set server` sub-command that percore does not implement.
pub fn set_server_unsupported(sub_command: &str) -> ErrorReply {
    ErrorReply::from_string(format!(
        "'set server <srv> {sub_command}' is not supported by percore.\n"
    ))
}

/// percore: reply to `reload` when the new configuration is refused (the process keeps
/// running the old one). `detail` is the validation output, e.g. `FILE:LINE:COL: message`.
pub fn reload_failed(detail: &str) -> ErrorReply {
    ErrorReply::from_string(format!("Reload failed: {}\n", detail.trim_end()))
}

/// percore: reply when some shards did not answer a broadcast command in time (DESIGN §5:
/// a timeout becomes an error reply, never a hang).
pub fn shards_timed_out(missing: usize, total: usize) -> ErrorReply {
    ErrorReply::from_string(format!(
        "Timeout: {missing} of {total} shards did not answer.\n"
    ))
}

/// First bytes of every error body this crate produces, for client-side classification
/// (`client::reply_is_error`). Keep in sync when adding a constant above.
pub(crate) const ERROR_PREFIXES: &[&str] = &[
    "Unknown command",
    "Permission denied",
    "Require ",
    "No such ",
    "Proxy is disabled.",
    "Invalid statistics domain.",
    "Can't find backend.",
    "Session not found.",
    "Session pointer expected",
    "A frontend name is expected.",
    "Integer value expected.",
    "Value out of range.",
    "Empty weight string",
    "Trailing garbage in ",
    "Absolute weight can only",
    "Relative weight must be",
    "Backend is using a static LB",
    "maxconn string empty",
    "'set server <srv> ",
    "usage: set server",
    "Health check was not configured",
    "agent checks are not enabled",
    "set server <b>/<s> ",
    "Expects an integer value.",
    "Invalid timeout value.",
    "'set timeout' only",
    "All sockets are already",
    "Invalid addr '",
    "invalid addr '",
    "provided port is ",
    "health checks are not enabled",
    "Line too long",
    "Reload failed: ",
    "Upgrade failed: ",
    "Another reload",
    "The process is stopping.",
    "Timeout: ",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_drops_the_newline_only() {
        assert_eq!(NO_SUCH_SERVER.to_string(), "No such server.");
        assert_eq!(NO_SUCH_SERVER.body(), "No such server.\n");
        assert!(NO_SUCH_SERVER.has_own_newline());
        assert!(!WEIGHT_GARBAGE.has_own_newline());
        assert!(!MAXCONN_GARBAGE.has_own_newline());
    }

    #[test]
    fn every_constant_is_classified_as_error() {
        let all = [
            PERMISSION_DENIED,
            REQUIRE_BACKEND_SERVER,
            NO_SUCH_BACKEND,
            NO_SUCH_SERVER,
            PROXY_DISABLED,
            NO_SUCH_PROXY,
            INVALID_STAT_DOMAIN,
            CANT_FIND_BACKEND,
            SESSION_NOT_FOUND,
            NO_SUCH_SESSION,
            SESSION_POINTER_EXPECTED,
            FRONTEND_NAME_EXPECTED,
            NO_SUCH_FRONTEND,
            INTEGER_VALUE_EXPECTED,
            VALUE_OUT_OF_RANGE,
            WEIGHT_REQUIRED,
            WEIGHT_GARBAGE,
            WEIGHT_TRAILING_GARBAGE,
            WEIGHT_OUT_OF_RANGE,
            WEIGHT_RELATIVE_NEGATIVE,
            WEIGHT_STATIC_LB,
            MAXCONN_REQUIRED,
            MAXCONN_GARBAGE,
            MAXCONN_TRAILING_GARBAGE,
            SERVER_STATE_EXPECTED,
            SET_SERVER_USAGE,
            HEALTH_CHECK_NOT_CONFIGURED,
            AGENT_NOT_ENABLED,
            FQDN_REQUIRED,
            FQDN_NO_RESOLUTION,
            SSL_NOT_CONFIGURED,
            set_server_unsupported("addr"),
            EXPECTS_INTEGER_VALUE,
            INVALID_TIMEOUT,
            SET_TIMEOUT_ONLY_CLI,
            SOCKETS_ALREADY_DISABLED,
            SOCKETS_ALREADY_ENABLED,
            ADDR_REQUIRED,
            HEALTH_EXPECTED,
            CHECK_PORT_REQUIRED,
            PORT_NOT_INTEGER,
            PORT_INVALID,
            CHECK_ADDR_REQUIRED,
            HEALTH_CHECKS_NOT_ENABLED,
            AGENT_NOT_ENABLED_BARE,
            invalid_addr("x"),
            invalid_check_addr("x"),
            reload_failed("conf.yaml:3:5: unknown key"),
            shards_timed_out(1, 4),
            crate::framing::LINE_TOO_LONG,
        ];
        for e in all {
            assert!(
                ERROR_PREFIXES.iter().any(|p| e.body().starts_with(p)),
                "{:?} has no prefix in ERROR_PREFIXES",
                e.body()
            );
        }
    }
}
