//! `defaults`, `frontends` and `backends`: names, modes, limits, timeouts merged key by key,
//! the balance algorithm, and servers.

use std::net::SocketAddr;

use crate::config::{Backend, Balance, Frontend, Global, Mode, Server, Timeouts, Tune};
use crate::de::quote;
use crate::error::Fault;
use crate::hint;
use crate::limits;
use crate::not_yet;
use crate::path::YamlPath;
use crate::raw::{
    Named, RawBackend, RawBind, RawBindEntry, RawBindMap, RawDefaults, RawFrontend, RawServer,
    RawTimeouts,
};
use crate::tls::{BindTls, ServerTls};
use crate::validate::field::{self, NamePlace, Port, Zero};

/// `defaults` resolved against the built-in values; what sections inherit.
#[derive(Debug, Clone)]
pub(crate) struct Defaults {
    pub(crate) mode: Mode,
    pub(crate) timeout: Timeouts,
    pub(crate) retries: u32,
    pub(crate) redispatch: bool,
    pub(crate) maxconn: u32,
    pub(crate) balance: Balance,
    /// `global.tune`, which bounds what frontends read (errorfiles).
    pub(crate) tune: Tune,
}

/// Every algorithm the design names, implemented or not, so that a valid name the engine
/// cannot run yet gets "not supported yet" and a misspelt one gets "expected one of".
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Algorithm {
    RoundRobin,
    StaticRr,
    LeastConn,
    First,
    Random,
    Source,
    Uri,
    /// `hdr(<name>)`: hash of a request header.
    Hdr(String),
}

/// Algorithm names as written in `balance`.
const ALGORITHMS: &[&str] = &[
    "roundrobin",
    "static-rr",
    "leastconn",
    "first",
    "random",
    "source",
    "uri",
    "hdr(<name>)",
];

impl Algorithm {
    /// Reads a `balance` value.
    fn parse(text: &str, path: &YamlPath) -> Result<Self, Fault> {
        let algorithm = match text {
            "roundrobin" => Self::RoundRobin,
            "static-rr" => Self::StaticRr,
            "leastconn" => Self::LeastConn,
            "first" => Self::First,
            "random" => Self::Random,
            "source" => Self::Source,
            "uri" => Self::Uri,
            _ => match text
                .strip_prefix("hdr(")
                .and_then(|rest| rest.strip_suffix(')'))
            {
                Some(header) if is_token(header) => Self::Hdr(header.to_owned()),
                Some(_) => {
                    return Err(Fault::value(
                        path,
                        format!(
                            "expected a header name in hdr(<name>), found {}",
                            quote(text)
                        ),
                    ))
                }
                None => {
                    let hint = match hint::closest(text, ALGORITHMS.iter().copied()) {
                        Some(best) => format!(" (did you mean `{best}`?)"),
                        None => String::new(),
                    };
                    return Err(Fault::value(
                        path,
                        format!(
                            "expected one of {}, found {}{hint}",
                            hint::list(ALGORITHMS),
                            quote(text)
                        ),
                    ));
                }
            },
        };
        Ok(algorithm)
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RoundRobin => f.write_str("roundrobin"),
            Self::StaticRr => f.write_str("static-rr"),
            Self::LeastConn => f.write_str("leastconn"),
            Self::First => f.write_str("first"),
            Self::Random => f.write_str("random"),
            Self::Source => f.write_str("source"),
            Self::Uri => f.write_str("uri"),
            Self::Hdr(name) => write!(f, "hdr({name})"),
        }
    }
}

/// An HTTP token (RFC 9110 `tchar`s), as a header name must be.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
}

/// Builds `defaults`; absent keys take the built-in values (frontend maxconn: the global one).
pub(crate) fn defaults(raw: Option<&RawDefaults>, global: &Global) -> Result<Defaults, Fault> {
    let absent = RawDefaults::default();
    let raw = raw.unwrap_or(&absent);
    let path = YamlPath::root().key("defaults");
    Ok(Defaults {
        mode: raw.mode.unwrap_or(Mode::Tcp),
        timeout: timeouts(
            &Timeouts::default(),
            raw.timeout.as_ref(),
            &path.key("timeout"),
        )?,
        retries: match raw.retries {
            Some(value) => field::int_u32(value, &path.key("retries"), 0, limits::RETRIES_MAX)?,
            None => limits::RETRIES_DEFAULT,
        },
        redispatch: raw.redispatch.unwrap_or(true),
        maxconn: match raw.maxconn {
            Some(value) => field::int_u32(value, &path.key("maxconn"), 1, limits::MAXCONN_MAX)?,
            None => global.maxconn,
        },
        balance: match &raw.balance {
            Some(text) => balance(text, &path.key("balance"))?,
            None => Balance::RoundRobin,
        },
        tune: global.tune.clone(),
    })
}

fn balance(text: &str, path: &YamlPath) -> Result<Balance, Fault> {
    let algorithm = Algorithm::parse(text, path)?;
    not_yet::balance(&algorithm, path)
}

/// Overrides `base` with the durations written in `raw`, each checked where it is written.
/// Connect, client, server, tunnel and http_request timeouts of 0 would fail every stream;
/// http_keep_alive and queue may be 0 (no idle wait, no queueing).
pub(crate) fn timeouts(
    base: &Timeouts,
    raw: Option<&RawTimeouts>,
    path: &YamlPath,
) -> Result<Timeouts, Fault> {
    let Some(raw) = raw else {
        return Ok(base.clone());
    };
    let mut timeouts = base.clone();
    let slots = [
        (
            "connect",
            &raw.connect,
            &mut timeouts.connect,
            Zero::Refused,
        ),
        ("client", &raw.client, &mut timeouts.client, Zero::Refused),
        ("server", &raw.server, &mut timeouts.server, Zero::Refused),
        ("tunnel", &raw.tunnel, &mut timeouts.tunnel, Zero::Refused),
        (
            "http_request",
            &raw.http_request,
            &mut timeouts.http_request,
            Zero::Refused,
        ),
        (
            "http_keep_alive",
            &raw.http_keep_alive,
            &mut timeouts.http_keep_alive,
            Zero::Allowed,
        ),
        ("queue", &raw.queue, &mut timeouts.queue, Zero::Allowed),
    ];
    for (key, text, slot, zero) in slots {
        if let Some(text) = text {
            *slot = field::duration(text, &path.key(key), zero)?;
        }
    }
    Ok(timeouts)
}

/// Builds one frontend. Its default backend is resolved by name against `backends` (so a
/// reference error is reported before the backends themselves are checked) and must have
/// the same mode.
pub(crate) fn frontend(
    name: &str,
    raw: &RawFrontend,
    defaults: &Defaults,
    backends: &Named<RawBackend>,
) -> Result<Frontend, Fault> {
    let path = YamlPath::root().key("frontends").key(name);
    field::name(name, &path, NamePlace::Key)?;
    let (bind, tls) = bind(&raw.bind, &path.key("bind"))?.into_iter().unzip();
    let mode = raw.mode.unwrap_or(defaults.mode);
    let maxconn = match raw.maxconn {
        Some(value) => field::int_u32(value, &path.key("maxconn"), 1, limits::MAXCONN_MAX)?,
        None => defaults.maxconn,
    };
    let timeout = timeouts(
        &defaults.timeout,
        raw.timeout.as_ref(),
        &path.key("timeout"),
    )?;
    let backend_path = path.key("default_backend");
    let default_backend = match &raw.default_backend {
        Some(name) => Some(resolve_default_backend(name, &backend_path, backends)?),
        None if mode == Mode::Tcp => {
            return Err(Fault::key(&path, "default_backend is required in mode tcp"));
        }
        None => None,
    };
    if let Some(default_backend) = default_backend {
        let (backend_name, backend_raw) = &backends.0[default_backend];
        let backend_mode = backend_raw.mode.unwrap_or(defaults.mode);
        if backend_mode != mode {
            return Err(Fault::key(
                &path,
                format!(
                    "mode {} conflicts with backend {} mode {}",
                    mode_name(mode),
                    quote(backend_name),
                    mode_name(backend_mode)
                ),
            ));
        }
    }
    let mut http = super::http::frontend(
        raw,
        mode,
        &path,
        backends,
        |b| b.mode.unwrap_or(defaults.mode),
        &defaults.tune,
    )?;
    // Without default_backend, requests no route matches get a 404; streams are accounted
    // to the first route's backend until routed.
    let default_backend = match default_backend {
        Some(b) => b,
        None => match http.routes.first() {
            Some(route) => {
                http.not_found_without_route = true;
                route.backend
            }
            None => {
                return Err(Fault::key(
                    &path,
                    "expected default_backend or at least one use_backend rule",
                ))
            }
        },
    };
    Ok(Frontend {
        name: name.to_owned(),
        mode,
        bind,
        maxconn,
        default_backend,
        timeout,
        http,
        accept_proxy: raw.accept_proxy.unwrap_or(false),
        tls,
    })
}

/// Index of the backend called `name`, or an "unknown backend" fault with a hint.
fn resolve_default_backend(
    name: &str,
    path: &YamlPath,
    backends: &Named<RawBackend>,
) -> Result<usize, Fault> {
    if let Some(i) = backends.0.iter().position(|(b, _)| b == name) {
        return Ok(i);
    }
    let hint = match hint::closest(name, backends.0.iter().map(|(b, _)| b.as_str())) {
        Some(best) => format!(" (did you mean {}?)", quote(best)),
        None if backends.0.is_empty() => " (no backends are defined)".to_owned(),
        None => String::new(),
    };
    Err(Fault::value(
        path,
        format!("unknown backend {}{hint}", quote(name)),
    ))
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Tcp => "tcp",
        Mode::Http => "http",
    }
}

/// The bind addresses of one frontend, at least one, with their TLS settings; paths follow
/// the form written.
fn bind(raw: &RawBind, path: &YamlPath) -> Result<Vec<(SocketAddr, Option<BindTls>)>, Fault> {
    let entries: Vec<(&RawBindEntry, YamlPath)> = match raw {
        RawBind::One(entry) => vec![(entry, path.clone())],
        RawBind::List(list) => {
            if list.is_empty() {
                return Err(Fault::value(path, "expected at least one address"));
            }
            list.iter()
                .enumerate()
                .map(|(i, entry)| (entry, path.index(i)))
                .collect()
        }
    };
    let mut binds = Vec::with_capacity(entries.len());
    for (entry, at) in entries {
        let address = field::address(
            entry.address(),
            &address_path(entry, at.clone()),
            Port::ZeroAllowed,
        )?;
        let tls = match entry {
            RawBindEntry::Full(RawBindMap { tls: Some(tls), .. }) => {
                Some(super::tls::bind_tls(tls, &at.key("tls"))?)
            }
            _ => None,
        };
        binds.push((address, tls));
    }
    Ok(binds)
}

/// Where a bind entry's address is written.
fn address_path(entry: &RawBindEntry, at: YamlPath) -> YamlPath {
    match entry {
        RawBindEntry::Address(_) => at,
        RawBindEntry::Full(_) => at.key("address"),
    }
}

/// The path of bind address `index` of a frontend, in the form it was written.
pub(crate) fn bind_path(frontend: &str, raw: &RawBind, index: usize) -> YamlPath {
    let path = YamlPath::root().key("frontends").key(frontend).key("bind");
    match raw {
        RawBind::One(entry) => address_path(entry, path),
        RawBind::List(list) => match list.get(index) {
            Some(entry) => address_path(entry, path.index(index)),
            None => path.index(index),
        },
    }
}

/// Builds one backend and its servers: at least one server, names unique.
pub(crate) fn backend(name: &str, raw: &RawBackend, defaults: &Defaults) -> Result<Backend, Fault> {
    let path = YamlPath::root().key("backends").key(name);
    field::name(name, &path, NamePlace::Key)?;
    let mut balance = match &raw.balance {
        Some(text) => balance(text, &path.key("balance"))?,
        None => defaults.balance.clone(),
    };
    let mode = raw.mode.unwrap_or(defaults.mode);
    if let Balance::Uri { len, depth } = &mut balance {
        if let Some(n) = raw.uri_len {
            *len = Some(field::int_u32(n, &path.key("uri_len"), 1, 65_535)?);
        }
        if let Some(n) = raw.uri_depth {
            *depth = Some(field::int_u32(n, &path.key("uri_depth"), 1, 256)?);
        }
    } else {
        for (key, set) in [
            ("uri_len", raw.uri_len.is_some()),
            ("uri_depth", raw.uri_depth.is_some()),
        ] {
            if set {
                return Err(Fault::key(
                    &path.key(key),
                    format!("{key} needs balance uri"),
                ));
            }
        }
    }
    if mode == Mode::Tcp && matches!(balance, Balance::Uri { .. } | Balance::Hdr(_)) {
        return Err(Fault::value(
            &path.key("balance"),
            "balance uri and hdr(<name>) need mode http",
        ));
    }
    let retries = match raw.retries {
        Some(value) => field::int_u32(value, &path.key("retries"), 0, limits::RETRIES_MAX)?,
        None => defaults.retries,
    };
    let timeout = timeouts(
        &defaults.timeout,
        raw.timeout.as_ref(),
        &path.key("timeout"),
    )?;
    let servers_path = path.key("servers");
    if raw.servers.is_empty() {
        return Err(Fault::value(&servers_path, "expected at least one server"));
    }
    let mut servers: Vec<Server> = Vec::with_capacity(raw.servers.len());
    // The backend's `tls` as servers without their own inherit it: read once.
    let mut inherited = None;
    for (i, server_raw) in raw.servers.iter().enumerate() {
        let item = servers_path.index(i);
        let mut server = server(server_raw, &item)?;
        server.check = super::check::server_check(
            raw.check.as_ref(),
            &path.key("check"),
            server_raw.check.as_ref(),
            &item,
        )?;
        server.tls = server_tls(raw, server_raw, (&path, &item), &mut inherited)?;
        if let Some(first) = servers.iter().position(|s| s.name == server.name) {
            return Err(Fault::value(
                &item.key("name"),
                format!(
                    "duplicate server name {} (also at {})",
                    quote(&server.name),
                    servers_path.index(first)
                ),
            ));
        }
        servers.push(server);
    }
    Ok(Backend {
        name: name.to_owned(),
        mode,
        balance,
        retries,
        redispatch: raw.redispatch.unwrap_or(defaults.redispatch),
        timeout,
        servers,
        http: super::http::backend(raw, &path)?,
        hash_type: raw.hash_type.unwrap_or_default(),
        fullconn: match raw.fullconn {
            Some(n) => field::int_u32(n, &path.key("fullconn"), 1, limits::MAXCONN_MAX)?,
            None => 0,
        },
        on_marked_down: raw.on_marked_down.unwrap_or_default(),
        on_marked_up: raw.on_marked_up.unwrap_or_default(),
        allbackups: raw.allbackups.unwrap_or(false),
    })
}

/// A server's TLS settings over its backend's; `inherited` keeps the backend's own, read
/// once for every server that writes none. `send_proxy` is refused beside TLS.
fn server_tls(
    backend: &RawBackend,
    server: &RawServer,
    (backend_path, server_path): (&YamlPath, &YamlPath),
    inherited: &mut Option<Option<ServerTls>>,
) -> Result<Option<ServerTls>, Fault> {
    let backend_tls = (backend.tls.as_ref(), &backend_path.key("tls"));
    let tls = match &server.tls {
        Some(own) => super::tls::server_tls(backend_tls, (Some(own), &server_path.key("tls")))?,
        None => match inherited {
            Some(tls) => tls.clone(),
            None => inherited
                .insert(super::tls::server_tls(backend_tls, (None, server_path))?)
                .clone(),
        },
    };
    if tls.is_some() && server.send_proxy.is_some() {
        return Err(Fault::key(
            &server_path.key("send_proxy"),
            "send_proxy with tls is not supported yet (the header must precede the handshake)",
        ));
    }
    Ok(tls)
}

fn server(raw: &RawServer, path: &YamlPath) -> Result<Server, Fault> {
    field::name(&raw.name, &path.key("name"), NamePlace::Value)?;
    Ok(Server {
        name: raw.name.clone(),
        address: field::address(&raw.address, &path.key("address"), Port::NonZero)?,
        weight: match raw.weight {
            Some(value) => field::int_u32(value, &path.key("weight"), 0, limits::WEIGHT_MAX)?,
            None => limits::WEIGHT_DEFAULT,
        },
        send_proxy: raw.send_proxy,
        backup: raw.backup.unwrap_or(false),
        maxconn: match raw.maxconn {
            Some(n) => field::int_u32(n, &path.key("maxconn"), 0, limits::MAXCONN_MAX)?,
            None => 0,
        },
        check: None,
        tls: None,
        minconn: match raw.minconn {
            Some(n) => field::int_u32(n, &path.key("minconn"), 1, limits::MAXCONN_MAX)?,
            None => 0,
        },
        slowstart: match &raw.slowstart {
            Some(t) => Some(field::duration(t, &path.key("slowstart"), Zero::Refused)?),
            None => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Algorithm, String> {
        Algorithm::parse(text, &YamlPath::root()).map_err(|fault| fault.message)
    }

    #[test]
    fn algorithms() {
        for name in [
            "roundrobin",
            "static-rr",
            "leastconn",
            "first",
            "random",
            "source",
            "uri",
        ] {
            assert_eq!(parse(name).unwrap().to_string(), name);
        }
        assert_eq!(parse("hdr(Host)"), Ok(Algorithm::Hdr("Host".into())));
        assert_eq!(
            parse("hdr()"),
            Err("expected a header name in hdr(<name>), found \"hdr()\"".into())
        );
        assert_eq!(
            parse("hdr(a b)"),
            Err("expected a header name in hdr(<name>), found \"hdr(a b)\"".into())
        );
        assert!(parse("round-robin")
            .unwrap_err()
            .ends_with("(did you mean `roundrobin`?)"));
    }
}
