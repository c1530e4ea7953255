//! Results: the JSON document (`--json`) and the tables printed on stdout.
//!
//! Ratios are against HAProxy at the same load point: `×0.62` in the cpu column means 0.62
//! times HAProxy's CPU per request (lower is better); in the throughput column, 0.62 times
//! HAProxy's throughput (higher is better).

use std::fmt::Write as _;

use serde::Serialize;

use crate::record::{Errors, Percentiles};
use crate::units::{count_text, micros_text};

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `percore-bench`.
    pub tool: &'static str,
    /// Harness version.
    pub version: &'static str,
    /// The command line.
    pub command: String,
    /// Start time, seconds since the Unix epoch.
    pub started_unix_s: u64,
    /// Where it ran.
    pub host: HostReport,
    /// Options in force.
    pub settings: Settings,
    /// Who was measured.
    pub contenders: Vec<ContenderReport>,
    /// One entry per scenario, in run order.
    pub scenarios: Vec<ScenarioReport>,
}

/// The machine.
#[derive(Debug, Clone, Serialize)]
pub struct HostReport {
    /// CPUs online.
    pub cpus_online: usize,
    /// `uname -r`.
    pub kernel: String,
    /// `ulimit -n`.
    pub nofile: u64,
    /// CPUs the proxies were pinned to.
    pub proxy_cpus: Vec<usize>,
    /// CPUs of the origin and load generator.
    pub client_cpus: Vec<usize>,
    /// `maxconn` every proxy got.
    pub maxconn: u64,
    /// (cpu, busy %) of the benchmark CPUs in the half second before the run: other work
    /// on the machine.
    pub busy_before_pct: Vec<(usize, f64)>,
}

/// Options in force.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// Measured window per load point.
    pub duration_s: f64,
    /// Unrecorded warm-up before each window.
    pub warmup_s: f64,
    /// Connections of the load generator.
    pub connections: usize,
    /// Per-request limit.
    pub timeout_s: f64,
    /// HTTP response body size.
    pub body_bytes: usize,
    /// tcp-echo message size.
    pub message_bytes: usize,
    /// idle-conns connections.
    pub idle_connections: usize,
    /// kill: live streams.
    pub kill_streams: usize,
    /// kill: iterations asked for.
    pub kill_iterations: usize,
    /// Samples per throughput load point (`--repeat`).
    pub repeat: usize,
    /// TLS scenarios: the version the clients offered (`1.2`, `1.3`).
    pub tls_version: String,
    /// tls-keepalive: idle TLS connections asked for.
    pub tls_idle_connections: usize,
}

/// A contender's identity.
#[derive(Debug, Clone, Serialize)]
pub struct ContenderReport {
    /// `direct`, `percore`, `haproxy`, `nginx`.
    pub name: String,
    /// Version line, when the program has one.
    pub version: Option<String>,
    /// Binary path.
    pub binary: Option<String>,
}

/// A contender that did not run in a scenario, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skip {
    /// Contender.
    pub contender: String,
    /// `skipped (…)` or `failed to start (…)`.
    pub reason: String,
}

/// One scenario.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ScenarioReport {
    /// Scenario name.
    pub name: String,
    /// One-line description of the workload.
    pub description: String,
    /// `tcp` or `http`.
    pub mode: String,
    /// What one counted operation is: `request`, `round trip`, `MB`.
    pub unit: String,
    /// Open-loop rates used (per second).
    pub rates: Vec<f64>,
    /// Where the rates came from.
    pub rates_source: String,
    /// Contenders that did not run.
    pub skipped: Vec<Skip>,
    /// Throughput and latency measurements.
    pub results: Vec<Measurement>,
    /// idle-conns results.
    pub idle: Vec<IdleResult>,
    /// kill results.
    pub kill: Vec<KillResult>,
    /// admin results.
    pub admin: Vec<AdminResult>,
    /// soak results.
    pub soak: Vec<SoakResult>,
    /// reload results.
    pub reload: Vec<ReloadResult>,
    /// Remarks printed under the table.
    pub notes: Vec<String>,
}

/// One contender at one load point.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Measurement {
    /// Contender.
    pub contender: String,
    /// `saturation` (closed loop), `rate` (open loop), `download`, `upload`.
    pub load: String,
    /// Connections (HTTP close: concurrent clients).
    pub connections: usize,
    /// Open-loop target, per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_target: Option<f64>,
    /// Measured window, seconds.
    pub duration_s: f64,
    /// Completed requests or round trips in the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests: Option<u64>,
    /// `requests / duration_s`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests_per_sec: Option<f64>,
    /// Proxy CPU (utime + stime, all its processes) ÷ requests, µs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_us_per_req: Option<f64>,
    /// User-space part of `cpu_us_per_req` (utime of the proxy's processes ÷ requests).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_user_us_per_req: Option<f64>,
    /// Kernel part of `cpu_us_per_req` (stime ÷ requests).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_system_us_per_req: Option<f64>,
    /// utime ÷ (utime + stime) of the proxy over the window, percent: the user/system
    /// split, for bulk rows too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_user_pct: Option<f64>,
    /// Bulk: payload bytes received (download) or written (upload) in the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// Bulk: 10^6 bytes per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mb_per_sec: Option<f64>,
    /// Bulk: proxy CPU µs per 10^6 bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_us_per_mb: Option<f64>,
    /// TLS: handshakes completed in the window (tls-handshake: one per request).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handshakes: Option<u64>,
    /// TLS: of which resumed an earlier session (rustls `handshake_kind()`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handshakes_resumed: Option<u64>,
    /// TLS: `handshakes_resumed ÷ handshakes`, percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumed_pct: Option<f64>,
    /// tls-handshake: `1e6 ÷ cpu_us_per_req`, handshakes per second one proxy core sustains.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handshakes_per_core_sec: Option<f64>,
    /// Latency from intended send to last byte (open loop) or from send (closed loop).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<Percentiles>,
    /// Errors in the window.
    pub errors: Errors,
    /// Proxy CPU busy, percent of its CPUs over the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_cpu_pct: Option<f64>,
    /// Harness (load generator + origin) CPU busy, percent of the client CPUs.
    pub client_cpu_pct: f64,
    /// Proxy VmRSS summed over its processes at the end of the window, KiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_kib: Option<u64>,
    /// CPU time other processes took on the benchmark CPUs during the window, percent of
    /// those CPUs; above a few percent the row is disturbed. With `--repeat`, the largest
    /// over the samples.
    pub others_cpu_pct: f64,
    /// Samples this row is the median of (`--repeat`); 1 for a single measurement.
    pub repeats: usize,
    /// Min–max over the samples, with `--repeat` ≥ 2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ranges: Option<crate::repeat::Ranges>,
    /// The samples themselves, in run order, with `--repeat` ≥ 2.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<Measurement>,
}

/// idle-conns: memory of one contender holding idle connections.
#[derive(Debug, Clone, Serialize, Default)]
pub struct IdleResult {
    /// Contender.
    pub contender: String,
    /// `tcp` or `http`.
    pub mode: String,
    /// Connections asked for.
    pub connections_requested: usize,
    /// Connections open (after one request each) when memory was read.
    pub connections_open: usize,
    /// Errors while opening.
    pub errors: Errors,
    /// RSS after a warm-up, before opening, KiB.
    pub rss_before_kib: u64,
    /// RSS with every connection open, KiB.
    pub rss_open_kib: u64,
    /// RSS after closing them all, KiB.
    pub rss_after_close_kib: u64,
    /// (rss_open − rss_before) ÷ connections_open, bytes.
    pub rss_bytes_per_conn: f64,
    /// Proxy CPU used to accept, serve and hold them, µs per connection.
    pub cpu_us_per_conn: f64,
}

/// kill: `shutdown sessions server app/s1` against N live streams.
#[derive(Debug, Clone, Serialize, Default)]
pub struct KillResult {
    /// Contender.
    pub contender: String,
    /// Live streams held (s1 + s2).
    pub streams: usize,
    /// Of which on s1 at each iteration.
    pub s1_streams: usize,
    /// Commands issued.
    pub iterations: usize,
    /// Time from sending the command to its complete reply, µs.
    pub reply_us: Option<Percentiles>,
    /// Time from sending the command to the last s1 stream's EOF/RST, µs.
    pub all_closed_us: Option<Percentiles>,
    /// s1 streams that saw EOF/RST within 1 s of the reply, over all iterations.
    pub s1_closed_within_1s: u64,
    /// s1 streams that should have closed, over all iterations.
    pub s1_expected: u64,
    /// s2 streams that failed (EOF, reset, wrong bytes, timeout): must be 0.
    pub s2_collateral_errors: u64,
    /// Round trips completed on s2 streams during the run.
    pub s2_round_trips: u64,
    /// Length of the run (all iterations), seconds.
    pub duration_s: f64,
    /// Commands that failed (no reply, error text).
    pub command_errors: u64,
    /// First unexpected reply text, if any.
    pub first_reply_text: Option<String>,
}

/// One contender in the admin scenario.
#[derive(Debug, Clone, Serialize, Default)]
pub struct AdminResult {
    /// Contender.
    pub contender: String,
    /// Rounds (quiet + loaded) measured.
    pub rounds: usize,
    /// Admin replies timed inside the measured windows.
    pub commands: u64,
    /// Time from connecting to the complete reply, µs.
    pub reply_us: Option<Percentiles>,
    /// Data-path requests/s without admin commands (median of rounds).
    pub quiet_rps: f64,
    /// Data-path requests/s while the commands run (median of rounds).
    pub loaded_rps: f64,
    /// Throughput lost to the admin load, percent.
    pub cost_pct: f64,
    /// Commands that failed.
    pub errors: u64,
    /// The first failure.
    pub first_error: Option<String>,
}

/// soak: one contender's reconciliation after mixed traffic under a fault schedule.
#[derive(Debug, Clone, Serialize, Default)]
pub struct SoakResult {
    /// Contender.
    pub contender: String,
    /// Length of the traffic, seconds.
    pub duration_s: f64,
    /// Ids sent (HTTP requests, TCP streams, slowloris heads).
    pub ids: u64,
    /// Ids answered with their own complete response.
    pub answered: u64,
    /// Ids whose request the client itself aborted or slowed down (client-side faults).
    pub client_faults: u64,
    /// Ids that failed (not answered, not a client-side fault).
    pub failed: u64,
    /// Of which attributable to an injected fault.
    pub failed_attributed: u64,
    /// Of which attributed to a scheduled fault (kills, stalls, admin, reloads, burst): the
    /// figure to compare between contenders, since the per-request origin faults fail their
    /// ids under any proxy.
    pub failed_scheduled: u64,
    /// Failed ids no injected fault explains: lost. Must be 0.
    pub lost: u64,
    /// A few lost ids, as `id kind end @ms`.
    pub lost_examples: Vec<String>,
    /// Ids answered more than once (an answer echoes its id). Must be 0.
    pub answered_twice: u64,
    /// Answers carrying another request's id. Must be 0.
    pub misdelivered: u64,
    /// Answered ids the origins never received. Must be 0.
    pub answered_unseen: u64,
    /// Non-idempotent ids (POST, TCP streams) that reached an origin twice or more. Must be 0.
    pub non_idempotent_sent_twice: u64,
    /// Idempotent ids (GET) that reached an origin twice (allowed: a retry).
    pub idempotent_sent_twice: u64,
    /// Idempotent ids that reached an origin more than twice. Must be 0.
    pub idempotent_sent_over_twice: u64,
    /// Failed ids by how the client saw them end (`502`, `reset`, `timeout`, …).
    pub failed_by_end: std::collections::BTreeMap<String, u64>,
    /// Per fault kind: injected, failed ids, their ends, access-log lines.
    pub faults: Vec<SoakFault>,
    /// Access-log lines of the HTTP frontend.
    pub log_lines: u64,
    /// Answered HTTP ids without exactly one access-log line. Must be 0.
    pub answered_not_logged_once: u64,
    /// `panicked` in the proxy's output. Must be 0.
    pub panics: u64,
    /// The proxy was no longer running at the end.
    pub proxy_exited: bool,
    /// Reloads carried out.
    pub reloads: u64,
    /// Burst streams opened and failed to open.
    pub burst_opened: u64,
    /// Burst connections not opened within 2 s.
    pub burst_failed: u64,
    /// Proxy RSS before the traffic, KiB.
    pub rss_start_kib: u64,
    /// Proxy RSS after the warm-up, just before the first descriptor burst, KiB.
    pub rss_warm_kib: u64,
    /// Largest proxy RSS sampled, KiB.
    pub rss_peak_kib: u64,
    /// Proxy RSS after the traffic ended and connections settled, KiB.
    pub rss_end_kib: u64,
    /// Proxy descriptors before the traffic.
    pub fds_start: u64,
    /// Most proxy descriptors sampled.
    pub fds_peak: u64,
    /// Proxy descriptors at the end.
    pub fds_end: u64,
    /// Scheduled faults that could not be carried out as planned.
    pub fault_errors: Vec<String>,
}

/// reload: one contender's counts under continuous traffic with live reloads and binary
/// upgrades.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ReloadResult {
    /// Contender.
    pub contender: String,
    /// Length of the traffic, seconds.
    pub duration_s: f64,
    /// Reloads confirmed.
    pub reloads: u64,
    /// Upgrades confirmed.
    pub upgrades: u64,
    /// Reloads and upgrades that failed, with the reply or the error.
    pub event_errors: Vec<String>,
    /// Ids sent.
    pub sent: u64,
    /// Ids answered with their own complete 200.
    pub answered: u64,
    /// Ids that ended with an error (a status, a reset, an early close, a refused connect).
    pub failed: u64,
    /// Failed and lost ids by end, kind and connection (`eof post kept-alive`).
    pub failed_by_end: std::collections::BTreeMap<String, u64>,
    /// Of the failed: connects refused.
    pub refused: u64,
    /// Of the failed: connections reset.
    pub reset: u64,
    /// Ids neither answered nor failed within the client's timeout. Must be 0.
    pub lost: u64,
    /// Ids answered more than once. Must be 0.
    pub answered_twice: u64,
    /// Answers carrying another id. Must be 0.
    pub misdelivered: u64,
    /// POST ids that reached an origin twice or more. Must be 0.
    pub non_idempotent_sent_twice: u64,
    /// GET ids that reached an origin twice or more (a retry).
    pub idempotent_sent_twice: u64,
    /// p99 of every answer, µs.
    pub latency_p99_us: u64,
    /// Largest p99 of the answers sent within 1 s after a reload or upgrade, µs.
    pub latency_p99_after_event_us: u64,
    /// The event of that window.
    pub worst_window: String,
    /// Reload command (or signal) to confirmation: p50, max, µs.
    pub reload_reply_us: [u64; 2],
    /// Upgrade command (or signal) until the new process serves: p50, max, µs.
    pub upgrade_reply_us: [u64; 2],
    /// RSS of the processes around each upgrade.
    pub upgrade_rss: Vec<UpgradeRss>,
    /// Pids of the processes each upgrade started (percore, nginx).
    pub upgraded_pids: Vec<i32>,
    /// A few failed or lost ids, with the event before them.
    pub failure_examples: Vec<String>,
    /// `panicked` in the proxy's output. Must be 0.
    pub panics: u64,
    /// Processes of the proxy at the end (before it is stopped): 0 means it died.
    pub processes_at_end: u32,
}

/// reload: RSS of the old and new processes of one upgrade, sampled every 20 ms from the
/// command until the old processes are gone, then once 1 s later.
#[derive(Debug, Clone, Serialize, Default)]
pub struct UpgradeRss {
    /// Milliseconds from the traffic's start to the command.
    pub at_ms: u64,
    /// Largest RSS of the processes that ran before it (HAProxy: the old worker), KiB.
    pub old_kib: u64,
    /// Largest RSS of the new processes meanwhile, KiB.
    pub new_during_kib: u64,
    /// RSS of the new processes 1 s after the old ones exited, KiB.
    pub new_after_kib: u64,
    /// Command to the exit of the last old process, ms (`None`: still running after 15 s).
    pub old_exit_ms: Option<u64>,
}

/// soak: one fault kind's injections and what they caused.
#[derive(Debug, Clone, Serialize, Default)]
pub struct SoakFault {
    /// `rst-mid`, `origin-kill`, …
    pub fault: String,
    /// Requests carrying it, or times it was scheduled.
    pub injected: u64,
    /// Ids attributed to it that failed (client-side faults: every id carrying it).
    pub failed: u64,
    /// Their ends, e.g. `502 12, eof 1`.
    pub ends: String,
    /// Access-log lines of the ids attributed to it.
    pub log_lines: u64,
    /// Their termination codes, e.g. `SD-- 12`.
    pub terminations: String,
}

/// Prints a scenario's table(s) to a string.
pub fn scenario_table(s: &ScenarioReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n== {} — {}", s.name, s.description);
    if !s.results.is_empty() {
        out.push_str(&throughput_table(s));
    }
    if !s.idle.is_empty() {
        out.push_str(&idle_table(s));
    }
    if !s.admin.is_empty() {
        out.push_str(&admin_table(s));
    }
    if !s.kill.is_empty() {
        out.push_str(&kill_table(s));
    }
    if !s.soak.is_empty() {
        out.push_str(&soak_table(s));
    }
    if !s.reload.is_empty() {
        out.push_str(&reload_table(s));
    }
    for skip in &s.skipped {
        let _ = writeln!(out, "{}: {}", skip.contender, skip.reason);
    }
    for n in &s.notes {
        let _ = writeln!(out, "note: {n}");
    }
    out
}

fn pad(rows: &[Vec<String>], right: &[bool]) -> String {
    let cols = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|v| v.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (c, v) in r.iter().enumerate() {
            let w = widths[c];
            let n = v.chars().count();
            let fill = " ".repeat(w.saturating_sub(n));
            if right.get(c).copied().unwrap_or(false) {
                line.push_str(&fill);
                line.push_str(v);
            } else {
                line.push_str(v);
                line.push_str(&fill);
            }
            line.push_str("  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn load_label(m: &Measurement, unit_rate: &str) -> String {
    match m.rate_target {
        Some(r) => format!("{} {unit_rate}", count_text(r)),
        None => m.load.clone(),
    }
}

fn ratio(v: Option<f64>, base: Option<f64>) -> String {
    match (v, base) {
        (Some(v), Some(b)) if b > 0.0 => format!("×{:.2}", v / b),
        _ => String::new(),
    }
}

/// `value [min–max]` when the row has repeats, else `value`.
fn with_range(
    value: String,
    range: Option<crate::repeat::Spread>,
    text: impl Fn(f64) -> String,
) -> String {
    match range {
        Some(r) => format!("{value} [{}–{}]", text(r.min), text(r.max)),
        None => value,
    }
}

fn same_point(a: &Measurement, b: &Measurement) -> bool {
    a.load == b.load && a.rate_target == b.rate_target
}

fn throughput_table(s: &ScenarioReport) -> String {
    let bulk = s.unit == "MB";
    let handshakes = s.unit == "handshake";
    let rate_unit = match s.unit.as_str() {
        "round trip" => "rt/s",
        "MB" => "MB/s",
        "handshake" => "hs/s",
        _ => "req/s",
    };
    let per = match s.unit.as_str() {
        "round trip" => "cpu µs/rt",
        "MB" => "cpu µs/MB",
        "handshake" => "cpu µs/hs",
        _ => "cpu µs/req",
    };
    let mut header = vec![
        "load".to_string(),
        "contender".into(),
        rate_unit.into(),
        "vs haproxy".into(),
        per.into(),
        "vs haproxy".into(),
        "usr/sys".into(),
    ];
    if handshakes {
        header.push("hs/s per core".into());
        header.push("resumed".into());
    }
    if !bulk {
        for p in ["p50", "p90", "p99", "p99.9", "max"] {
            header.push(p.into());
        }
    }
    for h in ["errors", "proxy cpu", "client cpu", "proxy rss"] {
        header.push(h.into());
    }
    let mut rows = vec![header];
    let mut points: Vec<&Measurement> = Vec::new();
    for m in &s.results {
        if !points.iter().any(|p| same_point(p, m)) {
            points.push(m);
        }
    }
    for point in points {
        let base = s
            .results
            .iter()
            .find(|m| m.contender == "haproxy" && same_point(m, point));
        let (base_tp, base_cpu) = match base {
            Some(b) if bulk => (b.mb_per_sec, b.cpu_us_per_mb),
            Some(b) => (b.requests_per_sec, b.cpu_us_per_req),
            None => (None, None),
        };
        for m in s.results.iter().filter(|m| same_point(m, point)) {
            let (tp, cpu) = if bulk {
                (m.mb_per_sec, m.cpu_us_per_mb)
            } else {
                (m.requests_per_sec, m.cpu_us_per_req)
            };
            let ranges = m.ranges.as_ref();
            let tp_text = |v: f64| {
                if bulk {
                    format!("{v:.0}")
                } else {
                    count_text(v)
                }
            };
            let mut row = vec![
                load_label(m, rate_unit),
                m.contender.clone(),
                with_range(
                    tp.map_or("-".into(), &tp_text),
                    ranges.and_then(|r| r.throughput),
                    tp_text,
                ),
                ratio(tp, base_tp),
                with_range(
                    cpu.map_or("-".into(), |v| format!("{v:.2}")),
                    ranges.and_then(|r| r.cpu),
                    |v| format!("{v:.2}"),
                ),
                ratio(cpu, base_cpu),
                m.proxy_user_pct
                    .map_or("-".into(), |u| format!("{u:.0}/{:.0}%", 100.0 - u)),
            ];
            if handshakes {
                row.push(m.handshakes_per_core_sec.map_or("-".into(), count_text));
                row.push(resumed_text(m));
            }
            if !bulk {
                match m.latency_us {
                    Some(p) => {
                        row.push(micros_text(p.p50));
                        row.push(micros_text(p.p90));
                        row.push(with_range(
                            micros_text(p.p99),
                            ranges.and_then(|r| r.p99_us),
                            |v| micros_text(v.round() as u64),
                        ));
                        row.push(micros_text(p.p999));
                        row.push(micros_text(p.max));
                    }
                    None => row.extend(std::iter::repeat_n("-".to_string(), 5)),
                }
            }
            row.push(m.errors.text());
            row.push(m.proxy_cpu_pct.map_or("-".into(), |v| format!("{v:.0}%")));
            row.push(format!("{:.0}%", m.client_cpu_pct));
            row.push(
                m.rss_kib
                    .map_or("-".into(), |v| format!("{:.1} MiB", v as f64 / 1024.0)),
            );
            rows.push(row);
        }
    }
    if !s.results.iter().any(|m| m.contender == "haproxy") {
        // No reference to compare with: drop the two ratio columns.
        for row in &mut rows {
            row.remove(5);
            row.remove(3);
        }
    }
    let right: Vec<bool> = rows[0].iter().enumerate().map(|(i, _)| i >= 2).collect();
    pad(&rows, &right)
}

/// `97.3%`, flagged `(<90%!)` on a `resumed` row under the minimum.
fn resumed_text(m: &Measurement) -> String {
    match m.resumed_pct {
        None => "-".into(),
        Some(pct) if m.load == "resumed" && pct < crate::scenario::throughput::RESUMED_PCT_MIN => {
            format!(
                "{pct:.1}% (<{:.0}%!)",
                crate::scenario::throughput::RESUMED_PCT_MIN
            )
        }
        Some(pct) => format!("{pct:.1}%"),
    }
}

fn idle_table(s: &ScenarioReport) -> String {
    let mut rows = vec![vec![
        "mode".to_string(),
        "contender".into(),
        "conns".into(),
        "rss before".into(),
        "rss open".into(),
        "per conn".into(),
        "vs haproxy".into(),
        "rss after close".into(),
        "after/before".into(),
        "cpu µs/conn".into(),
        "errors".into(),
    ]];
    let mib = |k: u64| format!("{:.1} MiB", k as f64 / 1024.0);
    for r in &s.idle {
        let base = s
            .idle
            .iter()
            .find(|b| b.contender == "haproxy" && b.mode == r.mode)
            .map(|b| b.rss_bytes_per_conn);
        rows.push(vec![
            r.mode.clone(),
            r.contender.clone(),
            format!("{}/{}", r.connections_open, r.connections_requested),
            mib(r.rss_before_kib),
            mib(r.rss_open_kib),
            format!("{:.0} B", r.rss_bytes_per_conn),
            ratio(Some(r.rss_bytes_per_conn), base),
            mib(r.rss_after_close_kib),
            ratio(
                Some(r.rss_after_close_kib as f64),
                Some(r.rss_before_kib as f64),
            ),
            format!("{:.1}", r.cpu_us_per_conn),
            r.errors.text(),
        ]);
    }
    if !s.idle.iter().any(|r| r.contender == "haproxy") {
        for row in &mut rows {
            row.remove(6);
        }
    }
    let right: Vec<bool> = (0..rows[0].len()).map(|i| i >= 2).collect();
    pad(&rows, &right)
}

fn admin_table(s: &ScenarioReport) -> String {
    let mut rows = vec![[
        "contender",
        "rounds",
        "commands",
        "reply p50",
        "reply p99",
        "reply max",
        "req/s quiet",
        "req/s with admin",
        "cost",
        "errors",
    ]
    .map(String::from)
    .to_vec()];
    let p = |v: Option<Percentiles>, f: fn(&Percentiles) -> u64| {
        v.map_or("-".into(), |p| micros_text(f(&p)))
    };
    for a in &s.admin {
        rows.push(vec![
            a.contender.clone(),
            a.rounds.to_string(),
            a.commands.to_string(),
            p(a.reply_us, |p| p.p50),
            p(a.reply_us, |p| p.p99),
            p(a.reply_us, |p| p.max),
            count_text(a.quiet_rps),
            count_text(a.loaded_rps),
            format!("{:.1} %", a.cost_pct),
            a.errors.to_string(),
        ]);
    }
    let right: Vec<bool> = (0..10).map(|i| i > 0).collect();
    let mut out = pad(&rows, &right);
    for a in s.admin.iter().filter(|a| a.errors > 0) {
        let _ = writeln!(
            out,
            "{}: first failed command: {}",
            a.contender,
            a.first_error.as_deref().unwrap_or("?")
        );
    }
    out
}

fn kill_table(s: &ScenarioReport) -> String {
    let mut rows = vec![vec![
        "contender".to_string(),
        "streams".into(),
        "s1".into(),
        "iter".into(),
        "reply p50".into(),
        "reply p99".into(),
        "reply max".into(),
        "all closed p50".into(),
        "all closed p99".into(),
        "s1 closed ≤1s".into(),
        "s2 collateral".into(),
        "s2 rt/s".into(),
        "cmd errors".into(),
    ]];
    let p = |v: Option<Percentiles>, f: fn(&Percentiles) -> u64| {
        v.map_or("-".into(), |p| micros_text(f(&p)))
    };
    for k in &s.kill {
        rows.push(vec![
            k.contender.clone(),
            k.streams.to_string(),
            k.s1_streams.to_string(),
            k.iterations.to_string(),
            p(k.reply_us, |p| p.p50),
            p(k.reply_us, |p| p.p99),
            p(k.reply_us, |p| p.max),
            p(k.all_closed_us, |p| p.p50),
            p(k.all_closed_us, |p| p.p99),
            format!("{}/{}", k.s1_closed_within_1s, k.s1_expected),
            k.s2_collateral_errors.to_string(),
            count_text(k.s2_round_trips as f64 / k.duration_s.max(1e-3)),
            k.command_errors.to_string(),
        ]);
    }
    let right: Vec<bool> = (0..13).map(|i| i > 0).collect();
    pad(&rows, &right)
}

/// A row of the soak table: its label and how a contender's value is written.
type SoakFigure = (&'static str, fn(&SoakResult) -> String);

/// The soak side by side: one row per figure, one column per contender; then one row per
/// fault kind with each contender's failed ids and log lines.
fn soak_table(s: &ScenarioReport) -> String {
    let mut rows = vec![std::iter::once("".to_string())
        .chain(s.soak.iter().map(|r| r.contender.clone()))
        .collect::<Vec<_>>()];
    let figures: [SoakFigure; 23] = [
        ("ids sent", |r| r.ids.to_string()),
        ("answered", |r| r.answered.to_string()),
        ("client-side faults", |r| r.client_faults.to_string()),
        ("failed", |r| r.failed.to_string()),
        ("  attributed to a fault", |r| {
            r.failed_attributed.to_string()
        }),
        ("  of which to a scheduled one", |r| {
            r.failed_scheduled.to_string()
        }),
        ("  lost (unexplained) [0]", |r| r.lost.to_string()),
        ("answered twice [0]", |r| r.answered_twice.to_string()),
        ("misdelivered [0]", |r| r.misdelivered.to_string()),
        ("answered, never at an origin [0]", |r| {
            r.answered_unseen.to_string()
        }),
        ("non-idempotent sent twice [0]", |r| {
            r.non_idempotent_sent_twice.to_string()
        }),
        ("idempotent sent twice", |r| {
            r.idempotent_sent_twice.to_string()
        }),
        ("idempotent sent >2 [0]", |r| {
            r.idempotent_sent_over_twice.to_string()
        }),
        ("answered, not logged once [0]", |r| {
            r.answered_not_logged_once.to_string()
        }),
        ("panics [0]", |r| {
            format!(
                "{}{}",
                r.panics,
                if r.proxy_exited { " (exited)" } else { "" }
            )
        }),
        ("reloads", |r| r.reloads.to_string()),
        ("burst streams (failed)", |r| {
            format!("{} ({})", r.burst_opened, r.burst_failed)
        }),
        ("rss start / before 1st burst", |r| {
            format!(
                "{} / {}",
                kib_text(r.rss_start_kib),
                kib_text(r.rss_warm_kib)
            )
        }),
        ("rss peak", |r| kib_text(r.rss_peak_kib)),
        ("rss end (÷before burst)", |r| {
            format!(
                "{} ({})",
                kib_text(r.rss_end_kib),
                ratio_text(r.rss_end_kib, r.rss_warm_kib)
            )
        }),
        ("fds start / peak / end", |r| {
            format!("{} / {} / {}", r.fds_start, r.fds_peak, r.fds_end)
        }),
        ("failed by end", |r| tally_text(&r.failed_by_end)),
        ("log lines", |r| r.log_lines.to_string()),
    ];
    for (label, f) in figures {
        rows.push(
            std::iter::once(label.to_string())
                .chain(s.soak.iter().map(f))
                .collect(),
        );
    }
    let right: Vec<bool> = (0..rows[0].len()).map(|i| i > 0).collect();
    let mut out = pad(&rows, &right);
    out.push('\n');
    out.push_str(&soak_fault_table(s));
    for r in &s.soak {
        for e in &r.fault_errors {
            let _ = writeln!(
                out,
                "{}: fault not carried out as planned: {e}",
                r.contender
            );
        }
        for e in &r.lost_examples {
            let _ = writeln!(out, "{}: lost: {e}", r.contender);
        }
    }
    out
}

/// A row of the reload table: its label and how a contender's value is written.
type ReloadFigure = (&'static str, fn(&ReloadResult) -> String);

/// The reload scenario side by side: one row per figure, one column per contender.
fn reload_table(s: &ScenarioReport) -> String {
    let mut rows = vec![std::iter::once("".to_string())
        .chain(s.reload.iter().map(|r| r.contender.clone()))
        .collect::<Vec<_>>()];
    let figures: [ReloadFigure; 19] = [
        ("reloads / upgrades done", |r| {
            format!("{} / {}", r.reloads, r.upgrades)
        }),
        ("requests sent", |r| r.sent.to_string()),
        ("answered ok", |r| r.answered.to_string()),
        ("failed", |r| r.failed.to_string()),
        ("  connection refused", |r| r.refused.to_string()),
        ("  connection reset", |r| r.reset.to_string()),
        ("lost (no answer, no error) [0]", |r| r.lost.to_string()),
        ("answered twice [0]", |r| r.answered_twice.to_string()),
        ("misdelivered [0]", |r| r.misdelivered.to_string()),
        ("POST at an origin twice [0]", |r| {
            r.non_idempotent_sent_twice.to_string()
        }),
        ("GET at an origin twice", |r| {
            r.idempotent_sent_twice.to_string()
        }),
        ("latency p99", |r| micros_text(r.latency_p99_us)),
        ("p99 in 1 s after an event (max)", |r| {
            micros_text(r.latency_p99_after_event_us)
        }),
        ("reload reply p50 / max", |r| {
            format!(
                "{} / {}",
                micros_text(r.reload_reply_us[0]),
                micros_text(r.reload_reply_us[1])
            )
        }),
        ("upgrade reply p50 / max", |r| {
            format!(
                "{} / {}",
                micros_text(r.upgrade_reply_us[0]),
                micros_text(r.upgrade_reply_us[1])
            )
        }),
        ("upgrade rss old / new (max)", |r| {
            let max = |f: fn(&UpgradeRss) -> u64| r.upgrade_rss.iter().map(f).max();
            match (max(|u| u.old_kib), max(|u| u.new_during_kib)) {
                (Some(o), Some(n)) => format!("{} / {}", kib_text(o), kib_text(n)),
                _ => "-".into(),
            }
        }),
        ("new rss 1 s after (max)", |r| {
            r.upgrade_rss
                .iter()
                .map(|u| u.new_after_kib)
                .max()
                .map_or("-".into(), kib_text)
        }),
        ("old gone after (max)", |r| {
            let most = r.upgrade_rss.iter().map(|u| u.old_exit_ms).max();
            match most {
                Some(Some(ms)) => format!("{ms} ms"),
                Some(None) => "> 15 s".into(),
                None => "-".into(),
            }
        }),
        ("panics [0]", |r| {
            let dead = if r.processes_at_end == 0 {
                " (died)"
            } else {
                ""
            };
            format!("{}{dead}", r.panics)
        }),
    ];
    for (label, f) in figures {
        rows.push(
            std::iter::once(label.to_string())
                .chain(s.reload.iter().map(f))
                .collect(),
        );
    }
    let right: Vec<bool> = (0..rows[0].len()).map(|i| i > 0).collect();
    let mut out = pad(&rows, &right);
    for r in &s.reload {
        if !r.failed_by_end.is_empty() {
            let _ = writeln!(
                out,
                "{}: failed by end: {}",
                r.contender,
                tally_text(&r.failed_by_end)
            );
        }
        if !r.worst_window.is_empty() {
            let _ = writeln!(
                out,
                "{}: worst 1 s window after the {}",
                r.contender, r.worst_window
            );
        }
        for e in &r.event_errors {
            let _ = writeln!(out, "{}: event failed: {e}", r.contender);
        }
        for e in &r.failure_examples {
            let _ = writeln!(out, "{}: failed: {e}", r.contender);
        }
    }
    out
}

/// Per fault kind, per contender: failed ids (their ends) and log lines (terminations).
fn soak_fault_table(s: &ScenarioReport) -> String {
    let mut head = vec!["fault".to_string(), "injected".into()];
    for r in &s.soak {
        head.push(format!("{} failed", r.contender));
        head.push(format!("{} log lines", r.contender));
    }
    let mut rows = vec![head];
    let kinds: Vec<&str> = s
        .soak
        .first()
        .map(|r| r.faults.iter().map(|f| f.fault.as_str()).collect())
        .unwrap_or_default();
    for kind in kinds {
        let mut row = vec![kind.to_string()];
        let find = |r: &SoakResult| r.faults.iter().find(|f| f.fault == kind).cloned();
        let first = s.soak.iter().find_map(find).unwrap_or_default();
        row.push(first.injected.to_string());
        for r in &s.soak {
            let f = find(r).unwrap_or_default();
            row.push(format!("{} ({})", f.failed, f.ends));
            row.push(format!("{} ({})", f.log_lines, f.terminations));
        }
        rows.push(row);
    }
    let right: Vec<bool> = (0..rows[0].len()).map(|i| i == 1).collect();
    pad(&rows, &right)
}

fn kib_text(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn ratio_text(a: u64, b: u64) -> String {
    if b == 0 {
        "-".into()
    } else {
        format!("×{:.2}", a as f64 / b as f64)
    }
}

/// `502 12, eof 1`, or `-` when empty.
pub fn tally_text(t: &std::collections::BTreeMap<String, u64>) -> String {
    if t.is_empty() {
        return "-".into();
    }
    t.iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(contender: &str, rps: f64, cpu: f64) -> Measurement {
        Measurement {
            contender: contender.into(),
            load: "saturation".into(),
            connections: 32,
            duration_s: 10.0,
            requests: Some((rps * 10.0) as u64),
            requests_per_sec: Some(rps),
            cpu_us_per_req: Some(cpu),
            latency_us: Some(Percentiles {
                p50: 80,
                p90: 100,
                p99: 250,
                p999: 1200,
                max: 5000,
                mean: 90.0,
            }),
            proxy_cpu_pct: Some(99.0),
            client_cpu_pct: 80.0,
            rss_kib: Some(8192),
            ..Measurement::default()
        }
    }

    #[test]
    fn ratios_are_against_haproxy_at_the_same_point() {
        let s = ScenarioReport {
            name: "tcp-echo".into(),
            unit: "round trip".into(),
            results: vec![m("haproxy", 50_000.0, 10.0), m("percore", 25_000.0, 20.0)],
            ..ScenarioReport::default()
        };
        let t = scenario_table(&s);
        let percore = t.lines().find(|l| l.contains("percore")).expect("row");
        assert!(
            percore.contains("×0.50") && percore.contains("×2.00"),
            "{t}"
        );
        assert!(
            percore.contains("1.20ms") && percore.contains("8.0 MiB"),
            "{t}"
        );
        let haproxy = t
            .lines()
            .find(|l| l.contains("haproxy") && l.contains("saturation"))
            .expect("row");
        assert!(haproxy.contains("×1.00"), "{t}");
    }

    #[test]
    fn repeated_rows_show_median_and_min_max_and_the_user_system_split() {
        let mut a = m("percore", 100_000.0, 10.0);
        a.proxy_user_pct = Some(20.0);
        let mut b = m("percore", 90_000.0, 11.0);
        b.proxy_user_pct = Some(22.0);
        let mut c = m("percore", 95_000.0, 12.5);
        c.proxy_user_pct = Some(24.0);
        let row = crate::repeat::combine(&[a, b, c]).expect("row");
        let s = ScenarioReport {
            name: "tcp-echo".into(),
            unit: "round trip".into(),
            results: vec![row],
            ..ScenarioReport::default()
        };
        let t = scenario_table(&s);
        assert!(t.contains("usr/sys"), "{t}");
        let line = t.lines().find(|l| l.contains("percore")).expect("row");
        assert!(line.contains("95.0k [90.0k–100.0k]"), "{t}");
        assert!(line.contains("11.00 [10.00–12.50]"), "{t}");
        assert!(line.contains("22/78%"), "{t}");
    }

    #[test]
    fn idle_rows_compare_rss_after_close_with_before() {
        let s = ScenarioReport {
            name: "idle-conns".into(),
            idle: vec![IdleResult {
                contender: "percore".into(),
                mode: "tcp".into(),
                rss_before_kib: 10_240,
                rss_open_kib: 200_000,
                rss_after_close_kib: 11_264,
                ..IdleResult::default()
            }],
            ..ScenarioReport::default()
        };
        let t = scenario_table(&s);
        assert!(t.contains("after/before") && t.contains("×1.10"), "{t}");
    }
}
