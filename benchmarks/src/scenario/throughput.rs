//! http-keepalive, http-close, tcp-echo and tcp-bulk.
//!
//! Pass 1 measures every contender at saturation (closed loop, `--connections`), or bulk
//! download and upload. Pass 2 (not for bulk) measures each at fixed rates (open loop):
//! `--rates`, or by default 25/50/75/90 % of the slowest proxy's saturation throughput, so
//! that every contender can sustain every rate and latencies compare at equal load. Each
//! pass starts every proxy, runs its load points with the contenders interleaved (each
//! point `--repeat` times: A B C A B C …, see [`crate::repeat`]), and stops them.
//!
//! The TLS scenarios run the same way through proxies terminating TLS (`direct` is left
//! out: the origin speaks no TLS). tls-handshake has two closed-loop points instead of
//! saturation and rates, `full` (clients keep no session) and `resumed` (each client
//! keeps its tickets), and no pass 2; tls-keepalive ends with [`idle::run_tls`]; tls-bulk
//! is tcp-bulk over TLS.

use std::net::SocketAddr;

use super::{idle, measure, start_contender, Bench, Scenario};
use crate::contender::{Mode, Name, Running, Setup};
use crate::load::{LoadSpec, Pacing, Workload};
use crate::origin::{Kind, Origin};
use crate::repeat;
use crate::report::{Measurement, ScenarioReport, Skip};
use crate::tls::TlsClient;
use crate::units::count_text;

/// Share of resumed handshakes below which a contender is flagged in tls-handshake.
pub const RESUMED_PCT_MIN: f64 = 90.0;

/// Fractions of the slowest proxy's saturation throughput used as default rates.
const AUTO_RATE_FRACTIONS: [f64; 4] = [0.25, 0.5, 0.75, 0.9];

/// Runs one of the four throughput scenarios.
pub fn run(b: &Bench, scenario: Scenario) -> ScenarioReport {
    let o = b.opts;
    let (mode, kind, workload, unit, description) = match scenario {
        Scenario::HttpKeepalive => (
            Mode::Http,
            Kind::Http { body: o.body },
            Workload::Http { keep_alive: true, body: o.body as u64 },
            "request",
            format!("HTTP/1.1 GET, {}-byte body, keep-alive, {} connections", o.body, o.connections),
        ),
        Scenario::HttpClose => (
            Mode::Http,
            Kind::Http { body: o.body },
            Workload::Http { keep_alive: false, body: o.body as u64 },
            "request",
            format!(
                "HTTP/1.1 GET, {}-byte body, Connection: close (new connection per request), {} concurrent clients",
                o.body, o.connections
            ),
        ),
        Scenario::TcpEcho => (
            Mode::Tcp,
            Kind::Echo { banner: Vec::new() },
            Workload::Echo { size: o.message },
            "round trip",
            format!("{}-byte echo round trips through a TCP proxy, {} connections", o.message, o.connections),
        ),
        Scenario::TcpBulk => (
            Mode::Tcp,
            Kind::Bulk,
            Workload::BulkDown,
            "MB",
            format!("bulk transfer through a TCP proxy, {} connections, each direction", bulk_connections(o.connections)),
        ),
        Scenario::TlsHandshake => (
            Mode::Http,
            Kind::Http { body: o.body },
            Workload::Http { keep_alive: false, body: o.body as u64 },
            "handshake",
            format!(
                "{}: new connection + handshake + one GET ({}-byte body) + close per iteration, {} concurrent clients",
                o.tls_version, o.body, o.connections
            ),
        ),
        Scenario::TlsKeepalive => (
            Mode::Http,
            Kind::Http { body: o.body },
            Workload::Http { keep_alive: true, body: o.body as u64 },
            "request",
            format!("{}: HTTP/1.1 GET, {}-byte body, keep-alive, {} connections", o.tls_version, o.body, o.connections),
        ),
        Scenario::TlsBulk => (
            Mode::Tcp,
            Kind::Bulk,
            Workload::BulkDown,
            "MB",
            format!("{}: bulk transfer through a TCP proxy terminating TLS, {} connections, each direction", o.tls_version, bulk_connections(o.connections)),
        ),
        Scenario::IdleConns | Scenario::Kill | Scenario::Admin | Scenario::Soak | Scenario::Reload => {
            unreachable!("not a throughput scenario")
        }
    };
    let name = scenario.as_str();
    let mut report = ScenarioReport {
        name: name.to_string(),
        description,
        mode: if mode == Mode::Http { "http" } else { "tcp" }.into(),
        unit: unit.into(),
        ..ScenarioReport::default()
    };
    let origin = match Origin::start(b.pool, SocketAddr::from(([127, 0, 0, 1], 0)), kind) {
        Ok(o) => o,
        Err(e) => {
            report.notes.push(format!("cannot start the origin: {e}"));
            return report;
        }
    };
    let tls = match (scenario.is_tls(), b.cert) {
        (false, _) => None,
        (true, Some(cert)) => Some((
            cert.files.clone(),
            TlsClient {
                version: o.tls_version,
                resume: false,
                alpn: if mode == Mode::Http {
                    vec![b"http/1.1".to_vec()]
                } else {
                    Vec::new()
                },
                server_cert: cert.der.clone(),
            },
        )),
        (true, None) => {
            report
                .notes
                .push("no certificate for the TLS scenarios".into());
            return report;
        }
    };
    let setup = Setup {
        mode,
        servers: vec![origin.addr],
        admin: false,
        idle_timeout: crate::contender::IDLE_TIMEOUT,
        tls: tls.as_ref().map(|(files, _)| files.clone()),
    };
    let client = tls.map(|(_, client)| client);
    let bulk = workload.is_bulk();
    let spec = |target: SocketAddr, workload: Workload, pacing: Pacing, resume: bool| LoadSpec {
        target,
        connections: if bulk {
            bulk_connections(o.connections)
        } else {
            o.connections
        },
        workload,
        pacing,
        warmup: o.warmup,
        duration: o.duration,
        timeout: o.timeout,
        tls: client.clone().map(|c| TlsClient { resume, ..c }),
    };

    // Pass 1: saturation (bulk: download, upload; handshakes: full, resumed).
    let handshakes = scenario == Scenario::TlsHandshake;
    let points: Vec<(&str, Workload, bool)> = if bulk {
        vec![
            ("download", Workload::BulkDown, false),
            ("upload", Workload::BulkUp, false),
        ]
    } else if handshakes {
        vec![
            ("full", workload.clone(), false),
            ("resumed", workload.clone(), true),
        ]
    } else {
        vec![("saturation", workload.clone(), false)]
    };
    if setup.tls.is_some() && b.contenders.contains(&Name::Direct) {
        report.skipped.push(Skip {
            contender: Name::Direct.to_string(),
            reason: "skipped (the origin speaks plain TCP: no TLS ceiling to measure)".into(),
        });
    }
    let running = start_all(b, &setup, name, &mut report.skipped);
    if running.is_empty() {
        return report;
    }
    for (label, w, resume) in &points {
        let what = format!("{name} {label}");
        let rows = measure_point(b, &running, &mut report, &what, |r: &Running| {
            spec(r.addr, w.clone(), Pacing::Closed, *resume)
        });
        for mut m in rows {
            if handshakes {
                per_core(&mut m);
                for s in &mut m.samples {
                    per_core(s);
                }
                if let Some(note) = few_resumed(&m, *resume) {
                    report.notes.push(note);
                }
            }
            m.load = (*label).into();
            for s in &mut m.samples {
                s.load = (*label).into();
            }
            if let Some(note) = client_bound(&m) {
                report.notes.push(note);
            }
            report.results.push(m);
        }
    }
    let ran: Vec<Name> = running.iter().map(|r| r.name).collect();
    stop_all(running);
    if bulk || handshakes {
        return report;
    }

    // Pass 2: fixed rates.
    let rates = match &o.rates {
        Some(r) => {
            report.rates_source = "--rates".into();
            r.clone()
        }
        None => match auto_rates(&report.results) {
            Some((rates, basis)) => {
                report.rates_source = basis;
                rates
            }
            None => {
                report
                    .notes
                    .push("no saturation result to derive rates from; pass --rates".into());
                return report;
            }
        },
    };
    report.rates = rates.clone();
    let running: Vec<Running> = start_all(b, &setup, name, &mut report.skipped)
        .into_iter()
        .filter(|r| ran.contains(&r.name))
        .collect();
    for &rate in &rates {
        let what = format!("{name} {}/s", count_text(rate));
        let rows = measure_point(b, &running, &mut report, &what, |r: &Running| {
            spec(r.addr, workload.clone(), Pacing::Open { rate }, false)
        });
        for mut m in rows {
            m.load = "rate".into();
            for s in &mut m.samples {
                s.load = "rate".into();
            }
            if m.requests_per_sec.is_some_and(|got| got < rate * 0.95) {
                report.notes.push(format!(
                    "{} at {}/s completed only {}/s: overloaded, its latencies at this rate include queueing",
                    m.contender,
                    count_text(rate),
                    count_text(m.requests_per_sec.unwrap_or(0.0))
                ));
            }
            report.results.push(m);
        }
    }
    stop_all(running);
    if let Some(client) = &client {
        idle::run_tls(b, &setup, client, &mut report);
    }
    drop(origin);
    report
}

/// tls-handshake: handshakes one proxy core sustains per second, from its CPU per
/// handshake — the figure that holds even when the client side is the bottleneck.
fn per_core(m: &mut Measurement) {
    m.handshakes_per_core_sec = m.cpu_us_per_req.filter(|&us| us > 0.0).map(|us| 1e6 / us);
}

/// A remark when a contender resumed fewer handshakes than it should have: too few with
/// tickets kept (`resume`), or any without.
fn few_resumed(m: &Measurement, resume: bool) -> Option<String> {
    let pct = m.resumed_pct?;
    if resume && pct < RESUMED_PCT_MIN {
        Some(format!(
            "{} resumed only {pct:.1} % of its handshakes (< {RESUMED_PCT_MIN:.0} %): its \
             `resumed` row is mostly full handshakes",
            m.contender
        ))
    } else if !resume && pct > 0.0 {
        Some(format!(
            "{} resumed {pct:.1} % of the handshakes of clients that kept no session",
            m.contender
        ))
    } else {
        None
    }
}

/// Starts every contender of the run for one pass; they stay up, idle but for the one
/// being measured, so that repeats can interleave without restarts.
fn start_all(
    b: &Bench,
    setup: &Setup,
    name: &str,
    skipped: &mut Vec<crate::report::Skip>,
) -> Vec<Running> {
    b.contenders
        .iter()
        .filter(|&&c| setup.tls.is_none() || c != Name::Direct)
        .filter_map(|&c| start_contender(b, c, setup, name, skipped))
        .collect()
}

fn stop_all(running: Vec<Running>) {
    for r in running {
        r.stop();
    }
}

/// Measures one load point `--repeat` times, contenders interleaved (A B C A B C …), and
/// returns one row per contender (medians, see [`repeat::combine`]), in contender order.
/// Disturbed samples are noted as they happen.
fn measure_point(
    b: &Bench,
    running: &[Running],
    report: &mut ScenarioReport,
    what: &str,
    spec: impl Fn(&Running) -> LoadSpec,
) -> Vec<Measurement> {
    let rounds = b.opts.repeat.max(1);
    let mut samples: Vec<Vec<Measurement>> = vec![Vec::new(); running.len()];
    for (round, c) in repeat::interleave(rounds, running.len()) {
        let r = &running[c];
        let label = if rounds > 1 {
            format!("{what} [{}/{rounds}]", round + 1)
        } else {
            what.to_string()
        };
        let m = measure(b, r, &spec(r), &label);
        if let Some(note) = disturbed(&m, &label) {
            b.progress.line(&format!("warning: {note}"));
            report.notes.push(note);
        }
        samples[c].push(m);
    }
    samples.iter().filter_map(|s| repeat::combine(s)).collect()
}

/// A remark when a proxy's saturation was limited by the client side, not by the proxy.
fn client_bound(m: &Measurement) -> Option<String> {
    let proxy = m.proxy_cpu_pct?;
    (proxy < 90.0 && m.client_cpu_pct > 95.0).then(|| {
        format!(
            "{} {}: the client side was the bottleneck (client cpu {:.0}%, proxy cpu {proxy:.0}%): \
             its throughput is a lower bound, compare CPU per request instead",
            m.contender, m.load, m.client_cpu_pct
        )
    })
}

/// Other processes' CPU use above which a row is flagged as disturbed.
pub const DISTURBED_PCT: f64 = 5.0;

/// A remark when other processes took a noticeable share of the benchmark CPUs during
/// one sample (`what`: scenario, load point and repeat).
fn disturbed(m: &Measurement, what: &str) -> Option<String> {
    (m.others_cpu_pct > DISTURBED_PCT).then(|| {
        format!(
            "{what} {}: other processes used {:.0}% of the benchmark CPUs during the \
             measurement; this sample is disturbed, re-run on a quiet machine",
            m.contender, m.others_cpu_pct
        )
    })
}

/// Bulk uses fewer connections: a few streams saturate a CPU, and many only add buffer
/// memory.
fn bulk_connections(connections: usize) -> usize {
    connections.clamp(1, 8)
}

/// Default rates: fractions of the slowest proxy's saturation throughput (of `direct` if no
/// proxy ran), rounded to two significant digits. Returns the rates and how they were
/// chosen.
pub fn auto_rates(results: &[Measurement]) -> Option<(Vec<f64>, String)> {
    let saturation = |proxies: bool| {
        results
            .iter()
            .filter(|m| m.load == "saturation" && (m.contender != "direct") == proxies)
            .filter_map(|m| m.requests_per_sec.map(|r| (r, m.contender.clone())))
            .filter(|(r, _)| *r > 0.0)
            .min_by(|a, b| a.0.total_cmp(&b.0))
    };
    let (base, who) = saturation(true).or_else(|| saturation(false))?;
    let rates: Vec<f64> = AUTO_RATE_FRACTIONS
        .iter()
        .map(|f| round_2_digits(base * f).max(1.0))
        .collect();
    let pct: Vec<String> = AUTO_RATE_FRACTIONS
        .iter()
        .map(|f| format!("{:.0}", f * 100.0))
        .collect();
    Some((
        rates,
        format!(
            "auto: {}% of the slowest saturation ({who}, {}/s)",
            pct.join("/"),
            count_text(base)
        ),
    ))
}

fn round_2_digits(v: f64) -> f64 {
    if v <= 0.0 {
        return 0.0;
    }
    let scale = 10f64.powi(v.log10().floor() as i32 - 1);
    (v / scale).round() * scale
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sat(contender: &str, rps: f64) -> Measurement {
        Measurement {
            contender: contender.into(),
            load: "saturation".into(),
            requests_per_sec: Some(rps),
            ..Measurement::default()
        }
    }

    #[test]
    fn auto_rates_follow_the_slowest_proxy() {
        let results = vec![
            sat("direct", 90_000.0),
            sat("haproxy", 61_234.0),
            sat("percore", 20_400.0),
        ];
        let (rates, why) = auto_rates(&results).expect("rates");
        assert_eq!(rates, vec![5_100.0, 10_000.0, 15_000.0, 18_000.0]);
        assert!(why.contains("percore"), "{why}");
        let (rates, why) = auto_rates(&[sat("direct", 1000.0)]).expect("rates");
        assert_eq!(rates, vec![250.0, 500.0, 750.0, 900.0]);
        assert!(why.contains("direct"));
        assert_eq!(auto_rates(&[]), None);
    }
}
