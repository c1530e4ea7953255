//! The `global` section: shard set against the host's CPUs, process limits, the admin API
//! listeners, logging and tuning.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use crate::config::{
    Admin, AdminListener, Global, GlobalTimeouts, Level, Log, LogFraming, LogTarget, Metrics,
    Shards, Tune,
};
use crate::de::quote;
use crate::error::Fault;
use crate::limits;
use crate::logformat::LogFormat;
use crate::path::YamlPath;
use crate::raw::{
    Int, LogFormatName, RawAdmin, RawAdminListener, RawGlobal, RawGlobalTimeouts, RawLog,
    RawMetrics, RawShards, RawTune,
};
use crate::validate::field::{self, Port, Zero};
use crate::HostInfo;

/// Builds `global`, every key defaulted when absent.
pub(crate) fn global(raw: Option<&RawGlobal>, host: &HostInfo) -> Result<Global, Fault> {
    let absent = RawGlobal::default();
    let raw = raw.unwrap_or(&absent);
    let path = YamlPath::root().key("global");
    let (shards, shard_cpus) = shards(raw.shards.as_ref(), &path.key("shards"), host)?;
    let maxconn = match raw.maxconn {
        Some(value) => field::int_u32(value, &path.key("maxconn"), 1, limits::MAXCONN_MAX)?,
        None => limits::GLOBAL_MAXCONN_DEFAULT,
    };
    let grace = match &raw.grace {
        Some(text) => field::duration(text, &path.key("grace"), Zero::Allowed)?,
        None => limits::GRACE_DEFAULT,
    };
    let timeout = global_timeouts(raw.timeout.as_ref(), &path.key("timeout"))?;
    let control_cpu = match raw.control_cpu {
        Some(value) => Some(host_cpu(value, &path.key("control_cpu"), host)?),
        None => None,
    };
    let admin = match &raw.admin {
        Some(admin_raw) => Some(admin(admin_raw, &path.key("admin"))?),
        None => None,
    };
    let log = log(raw.log.as_ref(), &path.key("log"))?;
    let tune = tune(raw.tune.as_ref(), &path.key("tune"))?;
    let metrics = match &raw.metrics {
        Some(m) => Some(metrics(m, &path.key("metrics"))?),
        None => None,
    };
    Ok(Global {
        metrics,
        shards,
        shard_cpus,
        maxconn,
        maxconn_configured: raw.maxconn.is_some(),
        grace,
        timeout,
        control_cpu,
        admin,
        log,
        tune,
    })
}

/// `global.timeout`: `cli` must be greater than 0 (it would close every admin connection).
fn global_timeouts(
    raw: Option<&RawGlobalTimeouts>,
    path: &YamlPath,
) -> Result<GlobalTimeouts, Fault> {
    let mut timeouts = GlobalTimeouts::default();
    if let Some(text) = raw.and_then(|r| r.cli.as_ref()) {
        timeouts.cli = field::duration(text, &path.key("cli"), Zero::Refused)?;
    }
    Ok(timeouts)
}

/// Resolves the shard set: `auto` → every CPU of the affinity mask, `N` → its first N CPUs,
/// a list → those CPUs, each in the mask and none twice.
fn shards(
    raw: Option<&RawShards>,
    path: &YamlPath,
    host: &HostInfo,
) -> Result<(Shards, Vec<usize>), Fault> {
    match raw.unwrap_or(&RawShards::Auto) {
        RawShards::Auto => {
            if host.cpus.is_empty() {
                return Err(Fault::value(path, "the process affinity mask has no CPUs"));
            }
            Ok((Shards::Auto, host.cpus.clone()))
        }
        RawShards::Count(n) => {
            let count = field::int_usize(Int(*n), path, 1, usize::MAX)?;
            if count > host.cpus.len() {
                return Err(Fault::value(
                    path,
                    format!(
                        "{count} shards need {count} CPUs but the process affinity mask has \
                         {} ({})",
                        host.cpus.len(),
                        field::cpu_list(&host.cpus)
                    ),
                ));
            }
            Ok((Shards::Count(count), host.cpus[..count].to_vec()))
        }
        RawShards::Cpus(list) => {
            if list.is_empty() {
                return Err(Fault::value(path, "expected at least one CPU id"));
            }
            let mut cpus: Vec<usize> = Vec::with_capacity(list.len());
            for (i, value) in list.iter().enumerate() {
                let item = path.index(i);
                let cpu = host_cpu(*value, &item, host)?;
                if let Some(first) = cpus.iter().position(|&c| c == cpu) {
                    return Err(Fault::value(
                        &item,
                        format!("CPU {cpu} is listed twice (also at {})", path.index(first)),
                    ));
                }
                cpus.push(cpu);
            }
            Ok((Shards::Cpus(cpus.clone()), cpus))
        }
    }
}

/// A CPU id that is in the process affinity mask.
fn host_cpu(value: Int, path: &YamlPath, host: &HostInfo) -> Result<usize, Fault> {
    let cpu = field::cpu_id(value, path)?;
    if !host.cpus.contains(&cpu) {
        return Err(Fault::value(
            path,
            format!(
                "CPU {cpu} is not in the process affinity mask ({})",
                field::cpu_list(&host.cpus)
            ),
        ));
    }
    Ok(cpu)
}

/// Builds the admin API: main socket, then extra listeners, no socket path or TCP address
/// used twice.
fn admin(raw: &RawAdmin, path: &YamlPath) -> Result<Admin, Fault> {
    let socket = socket_path(&raw.socket, &path.key("socket"))?;
    let mode = mode(raw.mode.as_ref().map(|m| m.0.as_str()), &path.key("mode"))?;
    let mut extra: Vec<AdminListener> = Vec::new();
    for (i, listener_raw) in raw.extra.iter().flatten().enumerate() {
        let item = path.key("extra").index(i);
        let listener = listener(listener_raw, &item)?;
        let clash = match &listener {
            AdminListener::Unix { socket: new, .. } if *new == socket => {
                Some(("socket", path.key("socket")))
            }
            _ => extra.iter().enumerate().find_map(|(j, old)| {
                same_endpoint(old, &listener)
                    .then(|| (endpoint_key(&listener), path.key("extra").index(j)))
            }),
        };
        if let Some((key, other)) = clash {
            return Err(Fault::value(
                &item.key(key),
                format!("already used by {other}"),
            ));
        }
        extra.push(listener);
    }
    Ok(Admin {
        socket,
        mode,
        level: raw.level.unwrap_or(Level::Admin),
        extra,
    })
}

/// One extra admin listener: exactly one of `socket` and `bind`, with only the keys that
/// apply to its kind. TCP listeners stay on loopback unless `allow_remote: true`.
fn listener(raw: &RawAdminListener, path: &YamlPath) -> Result<AdminListener, Fault> {
    let level = raw.level.unwrap_or(Level::User);
    match (&raw.socket, &raw.bind) {
        (Some(_), Some(_)) => Err(Fault::key(
            path,
            "set either `socket` (unix) or `bind` (TCP), not both",
        )),
        (None, None) => Err(Fault::key(path, "missing `socket` (unix) or `bind` (TCP)")),
        (Some(socket), None) => {
            if raw.allow_remote.is_some() {
                return Err(Fault::key(
                    &path.key("allow_remote"),
                    "allow_remote only applies to a TCP listener (`bind`)",
                ));
            }
            Ok(AdminListener::Unix {
                socket: socket_path(socket, &path.key("socket"))?,
                mode: mode(raw.mode.as_ref().map(|m| m.0.as_str()), &path.key("mode"))?,
                level,
            })
        }
        (None, Some(bind)) => {
            if raw.mode.is_some() {
                return Err(Fault::key(
                    &path.key("mode"),
                    "mode only applies to a unix socket listener (`socket`)",
                ));
            }
            let address = field::address(bind, &path.key("bind"), Port::ZeroAllowed)?;
            let allow_remote = raw.allow_remote.unwrap_or(false);
            if !is_loopback(address) && !allow_remote {
                return Err(Fault::value(
                    &path.key("bind"),
                    format!(
                        "{address} is not a loopback address; set `allow_remote: true` to open \
                         the admin API to the network"
                    ),
                ));
            }
            Ok(AdminListener::Tcp {
                address,
                level,
                allow_remote,
            })
        }
    }
}

/// `global.metrics`: `bind` defaults to [`limits::METRICS_BIND_DEFAULT`]; like the admin TCP
/// listeners it stays on loopback unless `allow_remote: true` (the metrics name every
/// backend and server, which is not for the network by default).
fn metrics(raw: &RawMetrics, path: &YamlPath) -> Result<Metrics, Fault> {
    let bind = match &raw.bind {
        Some(text) => field::address(text, &path.key("bind"), Port::ZeroAllowed)?,
        None => limits::METRICS_BIND_DEFAULT
            .parse()
            .expect("the default metrics address is valid"),
    };
    let allow_remote = raw.allow_remote.unwrap_or(false);
    if !is_loopback(bind) && !allow_remote {
        return Err(Fault::value(
            &path.key("bind"),
            format!(
                "{bind} is not a loopback address; set `allow_remote: true` to serve the \
                 metrics to the network"
            ),
        ));
    }
    Ok(Metrics { bind, allow_remote })
}

/// Whether two listeners would bind the same thing (port 0 never clashes: each is new).
fn same_endpoint(a: &AdminListener, b: &AdminListener) -> bool {
    match (a, b) {
        (AdminListener::Unix { socket: x, .. }, AdminListener::Unix { socket: y, .. }) => x == y,
        (AdminListener::Tcp { address: x, .. }, AdminListener::Tcp { address: y, .. }) => {
            x == y && x.port() != 0
        }
        _ => false,
    }
}

/// The key that names a listener's endpoint.
fn endpoint_key(listener: &AdminListener) -> &'static str {
    match listener {
        AdminListener::Unix { .. } => "socket",
        AdminListener::Tcp { .. } => "bind",
    }
}

fn is_loopback(address: SocketAddr) -> bool {
    match address.ip().to_canonical() {
        IpAddr::V4(ip) => ip.is_loopback(),
        IpAddr::V6(ip) => ip.is_loopback(),
    }
}

/// An admin socket path: not empty, and short enough to be bound.
fn socket_path(text: &str, path: &YamlPath) -> Result<PathBuf, Fault> {
    if text.is_empty() {
        return Err(Fault::value(path, "socket path must not be empty"));
    }
    unix_path_fits(text, path)?;
    Ok(PathBuf::from(text))
}

/// Refuses a unix socket path longer than a socket address holds, which `check` would
/// otherwise pass and `run` fail on (the admin socket) or silently lose lines to (a syslog
/// target).
fn unix_path_fits(text: &str, path: &YamlPath) -> Result<(), Fault> {
    let max = limits::UNIX_SOCKET_PATH_BYTES_MAX;
    if text.len() > max {
        return Err(Fault::value(
            path,
            format!(
                "unix socket path is {} bytes, longer than the {max} a unix socket address holds",
                text.len()
            ),
        ));
    }
    Ok(())
}

fn mode(text: Option<&str>, path: &YamlPath) -> Result<u32, Fault> {
    match text {
        Some(text) => field::octal_mode(text, path),
        None => Ok(limits::ADMIN_MODE_DEFAULT),
    }
}

/// `global.log`: target `stderr`, a file path, `udp://IP:PORT` or `unix:///path`; the
/// framing (`format`), facility, tag, sampling, rate limit and an optional `log_format`.
fn log(raw: Option<&RawLog>, path: &YamlPath) -> Result<Log, Fault> {
    let Some(raw) = raw else {
        return Ok(Log::default());
    };
    let target = log_target(raw.target.as_deref(), &path.key("target"))?;
    let syslog = matches!(target, LogTarget::Udp(_) | LogTarget::Unix(_));
    let framing = match raw.format {
        None | Some(LogFormatName::Haproxy) if syslog => LogFraming::Rfc3164,
        None | Some(LogFormatName::Haproxy) | Some(LogFormatName::Raw) => LogFraming::Raw,
        Some(LogFormatName::Rfc3164) => LogFraming::Rfc3164,
        Some(LogFormatName::Rfc5424) => LogFraming::Rfc5424,
    };
    let tag = match &raw.tag {
        Some(tag) => log_tag(tag, &path.key("tag"))?,
        None => limits::LOG_TAG_DEFAULT.to_owned(),
    };
    let sample = match raw.sample {
        Some(v) => field::int_u32(v, &path.key("sample"), 1, limits::LOG_SAMPLE_MAX)?,
        None => 1,
    };
    let rate_max = match raw.rate_max {
        Some(v) => Some(field::int_u32(
            v,
            &path.key("rate_max"),
            1,
            limits::LOG_RATE_MAX,
        )?),
        None => None,
    };
    let log_format = match &raw.log_format {
        Some(text) => Some(
            LogFormat::parse(text)
                .map_err(|e| Fault::value(&path.key("log_format"), e.to_string()))?,
        ),
        None => None,
    };
    Ok(Log {
        target,
        access: raw.access.unwrap_or(false),
        framing,
        facility: raw
            .facility
            .map_or(limits::LOG_FACILITY_DEFAULT, |f| f as u8),
        tag,
        sample,
        rate_max,
        log_format,
    })
}

/// `stderr`, `udp://IP:PORT` (a literal address: no DNS at run time), `unix:///path`, or
/// else a file path.
fn log_target(text: Option<&str>, path: &YamlPath) -> Result<LogTarget, Fault> {
    const EXPECTED: &str = "expected `stderr`, a file path, `udp://IP:PORT` or `unix:///path`";
    Ok(match text {
        None | Some("stderr") => LogTarget::Stderr,
        Some("") => {
            return Err(Fault::value(
                path,
                format!("{EXPECTED}, found {}", quote("")),
            ))
        }
        Some(t) => {
            if let Some(addr) = t.strip_prefix("udp://") {
                LogTarget::Udp(field::address(addr, path, Port::NonZero)?)
            } else if let Some(socket) = t.strip_prefix("unix://") {
                if !socket.starts_with('/') {
                    return Err(Fault::value(
                        path,
                        format!(
                            "{EXPECTED}: the unix socket path must be absolute, found {}",
                            quote(t)
                        ),
                    ));
                }
                unix_path_fits(socket, path)?;
                LogTarget::Unix(PathBuf::from(socket))
            } else if t.contains("://") {
                return Err(Fault::value(
                    path,
                    format!("{EXPECTED}, found {}", quote(t)),
                ));
            } else {
                LogTarget::File(PathBuf::from(t))
            }
        }
    })
}

/// A syslog tag: 1 to [`limits::LOG_TAG_BYTES_MAX`] printable ASCII characters, no space
/// nor `[` `]` `:` (they would end the tag in the RFC 3164 header).
fn log_tag(tag: &str, path: &YamlPath) -> Result<String, Fault> {
    let ok = !tag.is_empty()
        && tag.len() <= limits::LOG_TAG_BYTES_MAX
        && tag
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'[' | b']' | b':'));
    if ok {
        Ok(tag.to_owned())
    } else {
        Err(Fault::value(
            path,
            format!(
                "expected 1 to {} printable ASCII characters without space, `[`, `]` or `:`, \
                 found {}",
                limits::LOG_TAG_BYTES_MAX,
                quote(tag)
            ),
        ))
    }
}

/// `global.tune`, each value within its bounds from `limits`; `max_header_size` must also
/// fit one buffer, and defaults to `min(16 KiB, bufsize)`.
fn tune(raw: Option<&RawTune>, path: &YamlPath) -> Result<Tune, Fault> {
    let Some(raw) = raw else {
        return Ok(Tune::default());
    };
    let mut tune = Tune::default();
    if let Some(text) = &raw.bufsize {
        tune.bufsize = field::size(
            text,
            &path.key("bufsize"),
            limits::BUFSIZE_MIN,
            limits::BUFSIZE_MAX,
        )?;
    }
    if let Some(value) = raw.control_ring {
        tune.control_ring = field::int_usize(
            value,
            &path.key("control_ring"),
            limits::CONTROL_RING_MIN,
            limits::CONTROL_RING_MAX,
        )?;
    }
    if let Some(text) = &raw.io_memory {
        tune.io_memory = field::size(
            text,
            &path.key("io_memory"),
            limits::IO_MEMORY_MIN,
            limits::IO_MEMORY_MAX,
        )?;
    }
    if let Some(text) = &raw.tls_ticket_rotation {
        let p = path.key("tls_ticket_rotation");
        let d = field::duration(text, &p, field::Zero::Refused)?;
        if !(limits::TLS_TICKET_ROTATION_MIN..=limits::TLS_TICKET_ROTATION_MAX).contains(&d) {
            return Err(Fault::value(&p, "expected a duration from 1s to 3d"));
        }
        tune.tls_ticket_rotation = d;
    }
    if let Some(value) = raw.backlog {
        tune.backlog = field::int_u32(
            value,
            &path.key("backlog"),
            limits::BACKLOG_MIN,
            limits::BACKLOG_MAX,
        )?;
    }
    tune.max_header_size = match &raw.max_header_size {
        Some(text) => {
            let at = path.key("max_header_size");
            let size = field::size(text, &at, limits::MAX_HEADER_SIZE_MIN, limits::BUFSIZE_MAX)?;
            if size > tune.bufsize {
                return Err(Fault::value(
                    &at,
                    format!(
                        "a head must fit one buffer: must be at most global.tune.bufsize ({}), \
                         found {text}",
                        crate::units::format_size(tune.bufsize)
                    ),
                ));
            }
            size
        }
        None => limits::MAX_HEADER_SIZE_DEFAULT.min(tune.bufsize),
    };
    if let Some(value) = raw.max_headers {
        tune.max_headers = field::int_usize(
            value,
            &path.key("max_headers"),
            limits::MAX_HEADERS_MIN,
            limits::MAX_HEADERS_MAX,
        )?;
    }
    Ok(tune)
}
