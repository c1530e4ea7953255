//! `/metrics` in the Prometheus text format (version 0.0.4), rendered from the same merged
//! snapshot as `show stat` / `show info` / `show shards`: HAProxy 2.6's built-in exporter
//! names, HELP texts, types and labels (`haproxy_process_*`, `haproxy_frontend_*`,
//! `haproxy_backend_*`, `haproxy_server_*`; table in `prometheus_table.rs`), then percore's
//! own `percore_shard_*` series. Pure: the HTTP endpoint serving it is the engine's.
//!
//! As HAProxy: an empty `show stat` field is `NaN`; HTTP-only metrics are left out for TCP
//! proxies; check metrics are left out for servers whose checks are not running; times are
//! seconds with six decimals; states are one sample per `state` label, 1 for the current one.

use std::fmt::Write as _;

use super::info::InfoSnapshot;
use super::prometheus_table::{PROCESS_METRICS, PROXY_METRICS};
use super::shards::ShardRow;
use super::stat::{Cell, Modules, StatKind, StatRow};
use super::stat_fields as col;
use crate::level::Level;

/// A process metric: where its value comes from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ProcessSource {
    /// The `show info` field of that name.
    Info(&'static str),
    /// `build_info{version="…"} 1`.
    BuildInfo,
    /// A field percore has no value for (zlib memory): `NaN`, as HAProxy without zlib.
    Unavailable,
}

/// One `haproxy_process_*` metric.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProcessMetric {
    /// Metric name.
    pub name: &'static str,
    /// HELP text, HAProxy's.
    pub help: &'static str,
    /// `counter` (else `gauge`).
    pub counter: bool,
    /// Where the value comes from.
    pub source: ProcessSource,
}

/// Where a frontend, backend or server metric reads its value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Source {
    /// A `show stat` column as is.
    Column(usize),
    /// A `show stat` column in ms, exported in seconds.
    Seconds(usize),
    /// `status` as one sample per state.
    Status,
    /// `check_status` as one sample per check result (left out without running checks).
    CheckStatus,
    /// `check_code`, 0 without one (left out without running checks).
    CheckCode,
    /// `hrsp_*` as one sample per `code` label.
    HttpResponses,
    /// BACKEND rows: how many of its servers are in each server state.
    AggServerStatus,
    /// BACKEND rows: how many of its servers have each check result.
    AggCheckStatus,
}

/// One `haproxy_frontend_*`, `haproxy_backend_*` or `haproxy_server_*` metric.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProxyMetric {
    /// Rows it is written for: FRONTEND, BACKEND or server rows.
    pub kind: StatKind,
    /// Metric name.
    pub name: &'static str,
    /// HELP text, HAProxy's.
    pub help: &'static str,
    /// `counter` (else `gauge`).
    pub counter: bool,
    /// Where the value comes from.
    pub source: Source,
    /// Left out for TCP proxies, as promex does.
    pub http_only: bool,
}

/// States of a server's `status` metric, HAProxy's order.
const SERVER_STATES: [&str; 5] = ["DOWN", "UP", "MAINT", "DRAIN", "NOLB"];
/// States of a frontend's or backend's `status` metric.
const PROXY_STATES: [&str; 2] = ["DOWN", "UP"];
/// Check results of `check_status`, HAProxy's order.
const CHECK_STATES: [&str; 16] = [
    "HANA", "SOCKERR", "L4OK", "L4TOUT", "L4CON", "L6OK", "L6TOUT", "L6RSP", "L7TOUT", "L7RSP",
    "L7OK", "L7OKC", "L7STS", "PROCERR", "PROCTOUT", "PROCOK",
];
/// `code` labels of `http_responses_total` and their columns.
const HTTP_CODES: [(&str, usize); 6] = [
    ("1xx", col::HRSP_1XX),
    ("2xx", col::HRSP_2XX),
    ("3xx", col::HRSP_3XX),
    ("4xx", col::HRSP_4XX),
    ("5xx", col::HRSP_5XX),
    ("other", col::HRSP_OTHER),
];

/// Renders the whole `/metrics` body: HAProxy's metrics for `info` and `rows` (the full
/// `show stat` snapshot), then `percore_shard_*` for `shards`. Never fails; bounded by the
/// snapshot's size (about 4 KiB per server).
pub fn render_prometheus(info: &InfoSnapshot, rows: &[StatRow], shards: &[ShardRow]) -> String {
    let mut out = String::with_capacity(16 * 1024 + rows.len() * 4096);
    for m in PROCESS_METRICS {
        header(&mut out, m.name, m.help, m.counter);
        match m.source {
            ProcessSource::Info(field) => match info.number(field) {
                Some(v) => writeln!(out, "{} {v}", m.name),
                None => writeln!(out, "{} NaN", m.name),
            },
            ProcessSource::BuildInfo => {
                out.push_str(m.name);
                out.push_str("{version=\"");
                label_escape(&mut out, &info.version);
                writeln!(out, "\"}} 1")
            }
            ProcessSource::Unavailable => writeln!(out, "{} NaN", m.name),
        }
        .expect("writing to a String cannot fail");
    }
    let cells: Vec<_> = rows.iter().map(|r| r.cells(Level::Admin)).collect();
    for m in PROXY_METRICS {
        // As promex, a metric without any sample (e.g. HTTP ones in a TCP-only
        // configuration) gets no HELP/TYPE lines either.
        let start = out.len();
        header(&mut out, m.name, m.help, m.counter);
        let samples = out.len();
        for (row, c) in rows.iter().zip(&cells) {
            if row.kind == m.kind && !(m.http_only && row.mode != super::stat::Mode::Http) {
                proxy_samples(&mut out, m, row, c, rows);
            }
        }
        if out.len() == samples {
            out.truncate(start);
        }
    }
    render_ssl_metrics(&mut out, rows);
    render_shard_metrics(&mut out, shards);
    out
}

/// percore's TLS counters per frontend (the `ssl_*` columns of `show stat`, which HAProxy
/// 2.6's exporter leaves out), for frontends that terminate TLS.
fn render_ssl_metrics(out: &mut String, rows: &[StatRow]) {
    type Get = fn(&super::stat::SslModule) -> u64;
    let series: [(&str, &str, Get); 3] = [
        (
            "percore_frontend_ssl_sessions_total",
            "TLS handshakes completed on the frontend",
            |s| s.sess,
        ),
        (
            "percore_frontend_ssl_reused_sessions_total",
            "TLS handshakes that resumed a session",
            |s| s.reused_sess,
        ),
        (
            "percore_frontend_ssl_failed_handshakes_total",
            "TLS handshakes that failed (bad hello, no shared parameters, timeout, closed)",
            |s| s.failed_handshake,
        ),
    ];
    let tls: Vec<(&str, &super::stat::SslModule)> = rows
        .iter()
        .filter(|r| r.kind == StatKind::Frontend)
        .filter_map(|r| match &r.modules {
            Modules::All(_, ssl) if ssl.enabled => Some((r.pxname.as_str(), ssl)),
            _ => None,
        })
        .collect();
    if tls.is_empty() {
        return;
    }
    for (name, help, get) in series {
        header(out, name, help, true);
        for (proxy, ssl) in &tls {
            out.push_str(name);
            out.push_str("{proxy=\"");
            label_escape(out, proxy);
            let _ = writeln!(out, "\"}} {}", get(ssl));
        }
    }
}

fn header(out: &mut String, name: &str, help: &str, counter: bool) {
    let kind = if counter { "counter" } else { "gauge" };
    let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
}

/// The samples of metric `m` for one row (`c` its cells; `all` for backend aggregates).
fn proxy_samples(
    out: &mut String,
    m: &ProxyMetric,
    row: &StatRow,
    c: &[Cell<'_>],
    all: &[StatRow],
) {
    let check = row.check_status.trim_start_matches("* ");
    match m.source {
        Source::Column(i) => sample(out, m.name, row, None, Val::Cell(&c[i], false)),
        Source::Seconds(i) => sample(out, m.name, row, None, Val::Cell(&c[i], true)),
        Source::Status => {
            let current = state_of(row);
            let states: &[&str] = match row.kind {
                StatKind::Server => &SERVER_STATES,
                _ => &PROXY_STATES,
            };
            for s in states {
                let v = Val::Count(u64::from(*s == current));
                sample(out, m.name, row, Some(("state", s)), v);
            }
        }
        Source::CheckStatus if !check.is_empty() => {
            for s in CHECK_STATES {
                let v = Val::Count(u64::from(s == check));
                sample(out, m.name, row, Some(("state", s)), v);
            }
        }
        Source::CheckCode if !check.is_empty() => {
            let code = Val::Count(row.check_code.unwrap_or(0));
            sample(out, m.name, row, None, code);
        }
        Source::CheckStatus | Source::CheckCode => {}
        Source::HttpResponses => {
            for (code, i) in HTTP_CODES {
                sample(
                    out,
                    m.name,
                    row,
                    Some(("code", code)),
                    Val::Cell(&c[i], false),
                );
            }
        }
        Source::AggServerStatus => {
            let servers = servers_of(row, all);
            for s in SERVER_STATES {
                let n = servers.clone().filter(|r| state_of(r) == s).count();
                sample(out, m.name, row, Some(("state", s)), Val::Count(n as u64));
            }
        }
        Source::AggCheckStatus => {
            let servers = servers_of(row, all);
            for s in CHECK_STATES {
                let n = servers
                    .clone()
                    .filter(|r| r.check_last.trim_start_matches("* ") == s)
                    .count();
                sample(out, m.name, row, Some(("state", s)), Val::Count(n as u64));
            }
        }
    }
}

/// The server rows of the backend `row` describes.
fn servers_of<'a>(
    row: &'a StatRow,
    all: &'a [StatRow],
) -> impl Iterator<Item = &'a StatRow> + Clone {
    all.iter()
        .filter(move |r| r.kind == StatKind::Server && r.iid == row.iid)
}

/// The promex state of a row from its `status` column: a server's DOWN/UP/MAINT/DRAIN/NOLB
/// (transitional `UP 1/3` is UP, `DOWN 1/2` DOWN, `no check` UP); a frontend is UP unless
/// stopped, a backend as its status.
fn state_of(row: &StatRow) -> &'static str {
    let s = row.status.as_str();
    match row.kind {
        StatKind::Frontend if s == "STOP" => "DOWN",
        StatKind::Frontend => "UP",
        StatKind::Backend if s == "UP" => "UP",
        StatKind::Backend => "DOWN",
        StatKind::Server if s == "MAINT" => "MAINT",
        StatKind::Server if s == "DRAIN" => "DRAIN",
        StatKind::Server if s == "NOLB" => "NOLB",
        StatKind::Server if s.starts_with("DOWN") => "DOWN",
        StatKind::Server => "UP",
    }
}

/// A sample value before formatting (written straight into the body: a scrape of 1 000
/// servers writes about 200 000 of them).
#[derive(Clone, Copy)]
enum Val<'a> {
    /// A cell: `NaN` when empty; ms → s (six decimals) when the flag is set.
    Cell(&'a Cell<'a>, bool),
    /// A count or a 0/1 state.
    Count(u64),
}

/// Appends `v` as the text format writes it.
fn write_value(out: &mut String, v: Val<'_>) {
    let _ = match v {
        Val::Count(n) => write!(out, "{n}"),
        Val::Cell(cell, seconds) => match (*cell, seconds) {
            (Cell::Unsigned(n), false) => write!(out, "{n}"),
            (Cell::Signed(n), false) => write!(out, "{n}"),
            (Cell::Unsigned(n), true) => write!(out, "{:.6}", n as f64 / 1000.0),
            (Cell::Signed(n), true) => write!(out, "{:.6}", n as f64 / 1000.0),
            (Cell::Empty | Cell::Text(_), _) => write!(out, "NaN"),
        },
    };
}

/// One sample line: `name{proxy="…"[,server="…"][,extra="…"]} value`.
fn sample(out: &mut String, name: &str, row: &StatRow, extra: Option<(&str, &str)>, v: Val<'_>) {
    out.push_str(name);
    out.push_str("{proxy=\"");
    label_escape(out, &row.pxname);
    if row.kind == StatKind::Server {
        out.push_str("\",server=\"");
        label_escape(out, &row.svname);
    }
    out.push('"');
    if let Some((k, val)) = extra {
        let _ = write!(out, ",{k}=\"{val}\"");
    }
    out.push_str("} ");
    write_value(out, v);
    out.push('\n');
}

/// Escapes a label value as the text format requires (`\`, `"`, newline).
fn label_escape(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// percore's own per-shard series (`show shards` figures), labelled `shard`.
fn render_shard_metrics(out: &mut String, shards: &[ShardRow]) {
    type Get = fn(&ShardRow) -> String;
    let series: [(&str, &str, bool, Get); 9] = [
        (
            "percore_shard_streams",
            "Live streams on the shard",
            false,
            |s| s.streams.to_string(),
        ),
        (
            "percore_shard_accepted_total",
            "Connections accepted by the shard since start",
            true,
            |s| s.accepted.to_string(),
        ),
        (
            "percore_shard_cmd_ring_depth",
            "Commands waiting in the shard's command ring (control plane to shard)",
            false,
            |s| s.cmd_ring_depth.to_string(),
        ),
        (
            "percore_shard_evt_ring_depth",
            "Events waiting in the shard's event ring (shard to control plane)",
            false,
            |s| s.evt_ring_depth.to_string(),
        ),
        (
            "percore_shard_events_dropped_total",
            "Events the shard dropped because its event ring was full",
            true,
            |s| s.events_dropped.to_string(),
        ),
        (
            "percore_shard_logs_dropped_total",
            "Access-log lines the shard dropped because its log ring was full",
            true,
            |s| s.logs_dropped.to_string(),
        ),
        (
            "percore_shard_killed_total",
            "Streams killed by the admin socket or at the end of a stop grace",
            true,
            |s| s.killed.to_string(),
        ),
        (
            "percore_shard_control_latency_p50_seconds",
            "Median queueing latency of the shard's control task over recent commands",
            false,
            |s| format!("{:.6}", s.ctl_latency_us_p50 as f64 / 1e6),
        ),
        (
            "percore_shard_control_latency_max_seconds",
            "Worst queueing latency of the shard's control task over recent commands",
            false,
            |s| format!("{:.6}", s.ctl_latency_us_max as f64 / 1e6),
        ),
    ];
    for (name, help, counter, get) in series {
        header(out, name, help, counter);
        for s in shards {
            let _ = writeln!(out, "{name}{{shard=\"{}\"}} {}", s.shard, get(s));
        }
    }
}
