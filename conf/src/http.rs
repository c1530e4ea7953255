//! HTTP-mode configuration values: routing conditions, request/response rules, connection
//! reuse. Plain validated values; the engine evaluates them per request.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;

pub use crate::errorfile::ErrorFile;

/// When a rule applies. Several keys in one `when` mapping must all hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// The request's host (Host header, port and case ignored) is one of these (lowercase).
    Host(Vec<String>),
    /// The path starts with one of these.
    PathPrefix(Vec<String>),
    /// The path matches this regular expression.
    PathRegex(PathRegex),
    /// The method is one of these (case-sensitive, as HTTP).
    Method(Vec<String>),
    /// A header test.
    Header {
        /// Header name (compared case-insensitively).
        name: String,
        /// What its value must be.
        matcher: HeaderMatcher,
    },
    /// The client address is in one of these networks.
    Src(Vec<Cidr>),
    /// The client's TLS SNI is one of these (lowercase; HAProxy `ssl_fc_sni`); never holds
    /// on a plain connection or without SNI.
    Sni(Vec<String>),
    /// The protocol negotiated by ALPN is one of these (HAProxy `ssl_fc_alpn`).
    Alpn(Vec<String>),
    /// Every condition holds.
    All(Vec<Condition>),
    /// At least one condition holds.
    Any(Vec<Condition>),
    /// The condition does not hold.
    Not(Box<Condition>),
}

/// How a header condition matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderMatcher {
    /// The header is present.
    Present,
    /// Some value of the header equals this (case-sensitive).
    Equals(String),
    /// Some value of the header starts with this.
    Prefix(String),
}

/// A compiled path regular expression; compares by its source text.
#[derive(Clone)]
pub struct PathRegex(pub regex::Regex);

impl PartialEq for PathRegex {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Eq for PathRegex {}

impl fmt::Debug for PathRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PathRegex({:?})", self.0.as_str())
    }
}

/// An IP network such as `10.0.0.0/8` or `::1/128`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// Network address (host bits zero).
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix: u8,
}

impl Cidr {
    /// Whether `ip` is inside the network; IPv4-mapped IPv6 addresses match IPv4 networks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// One `use_backend` entry: route to `backend` when the condition holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Index into `Config::backends`.
    pub backend: usize,
    /// When to use it.
    pub when: Condition,
}

/// One `http_request` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRule {
    /// Applies only when this holds (always when `None`).
    pub when: Option<Condition>,
    /// What to do.
    pub action: RequestAction,
}

/// What an `http_request` rule does. Rules run in order; `deny`, `redirect` and `return`
/// answer the request themselves and stop processing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestAction {
    /// Edit the request head.
    Header(HeaderAction),
    /// Answer with this status (HAProxy error page), default 403.
    Deny(u16),
    /// Answer with a redirect.
    Redirect {
        /// 301, 302, 303, 307 or 308.
        code: u16,
        /// Location header value.
        location: String,
    },
    /// Answer with a fixed response.
    Return {
        /// Status code (200..=599).
        status: u16,
        /// Body.
        body: String,
        /// Content-Type of the body.
        content_type: String,
    },
}

/// One `http_response` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseRule {
    /// Applies only when this (evaluated on the request) holds.
    pub when: Option<Condition>,
    /// What to do to the response head.
    pub action: HeaderAction,
}

/// A header edit, the same for request and response heads (`set_header`, `add_header`,
/// `del_header`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderAction {
    /// Replace every value of a header with one value.
    Set {
        /// Header name.
        name: String,
        /// New value.
        value: String,
    },
    /// Append a header.
    Add {
        /// Header name.
        name: String,
        /// Value.
        value: String,
    },
    /// Remove every value of a header.
    Del(String),
}

/// HAProxy's `http-reuse`: when an idle server connection may carry another client's request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HttpReuse {
    /// Never reuse: one server connection per request.
    Never,
    /// A stream's first request uses a fresh connection (or the stream's own); later requests
    /// of the same stream may reuse idle ones.
    #[default]
    Safe,
    /// Any request may use any idle connection of the server.
    Always,
}

/// HTTP settings of a frontend.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FrontendHttp {
    /// `use_backend` rules, first match wins; `default_backend` otherwise.
    pub routes: Vec<Route>,
    /// Add/extend `X-Forwarded-For` and set `X-Forwarded-Proto`.
    pub forwardfor: bool,
    /// `http_request` rules, in order.
    pub request_rules: Vec<RequestRule>,
    /// `http_response` rules, in order.
    pub response_rules: Vec<ResponseRule>,
    /// Custom error responses, read and checked during validation (see [`ErrorFile`]).
    pub errorfiles: Vec<ErrorFile>,
    /// No `default_backend` was written: a request no route matches gets a 404.
    pub not_found_without_route: bool,
}

/// HTTP settings of a backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendHttp {
    /// Connection reuse policy.
    pub reuse: HttpReuse,
    /// Idle server connections kept per server, per shard.
    pub pool_max_idle: u32,
    /// An idle pooled connection is closed after this.
    pub pool_idle_timeout: Duration,
}

impl Default for BackendHttp {
    fn default() -> Self {
        BackendHttp {
            reuse: HttpReuse::Safe,
            pool_max_idle: crate::limits::POOL_MAX_IDLE_DEFAULT,
            pool_idle_timeout: crate::limits::POOL_IDLE_TIMEOUT_DEFAULT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_contains() {
        let net = Cidr {
            addr: "10.1.0.0".parse().expect("ip"),
            prefix: 16,
        };
        assert!(net.contains("10.1.200.3".parse().expect("ip")));
        assert!(!net.contains("10.2.0.1".parse().expect("ip")));
        assert!(net.contains("::ffff:10.1.0.9".parse().expect("ip")));
        let all = Cidr {
            addr: "0.0.0.0".parse().expect("ip"),
            prefix: 0,
        };
        assert!(all.contains("192.0.2.1".parse().expect("ip")));
        let v6 = Cidr {
            addr: "2001:db8::".parse().expect("ip"),
            prefix: 32,
        };
        assert!(v6.contains("2001:db8:1::1".parse().expect("ip")));
        assert!(!v6.contains("2001:db9::1".parse().expect("ip")));
        assert!(!v6.contains("10.1.0.1".parse().expect("ip")));
    }
}
