//! Scenarios: what `compare` runs against every contender, and the pieces they share
//! ([`Bench`], [`measure`], [`Progress`]).
//!
//! - [`throughput`]: http-keepalive, http-close, tcp-echo, tcp-bulk — saturation (closed
//!   loop), then latency at fixed rates (open loop).
//!   Also tls-handshake, tls-keepalive and tls-bulk: the same through a TLS-terminating
//!   proxy, with handshakes (full and resumed) and memory per idle TLS connection.
//! - [`idle`]: idle-conns — RSS growth per idle keep-alive connection.
//! - [`kill`]: `shutdown sessions server` against N live streams, through the admin socket.
//! - [`admin`]: admin command latency under a saturated data path, and its cost.
//! - [`soak`]: mixed traffic under a fault schedule, every request id reconciled.
//! - [`reload`]: traffic through live reloads and binary upgrades, every request id counted.

pub mod admin;
pub mod idle;
pub mod kill;
pub mod reload;
pub mod soak;
pub mod throughput;

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::contender::{Host, Name, Running};
use crate::load::{self, LoadSpec};
use crate::pool::Pool;
use crate::procfs;
use crate::report::Measurement;

/// Every scenario, in the order `all` runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// HTTP/1.1 GET on keep-alive connections through an HTTP-mode proxy.
    HttpKeepalive,
    /// HTTP/1.1 GET with `Connection: close`: a new client connection per request.
    HttpClose,
    /// 64-byte round trips through a TCP-mode proxy.
    TcpEcho,
    /// Bulk download and upload through a TCP-mode proxy.
    TcpBulk,
    /// Memory per idle connection.
    IdleConns,
    /// `shutdown sessions server` with N live streams.
    Kill,
    /// Admin commands during saturation.
    Admin,
    /// New TLS connection + handshake + one GET per iteration, full and resumed.
    TlsHandshake,
    /// GETs on long-lived TLS connections, then memory per idle TLS connection.
    TlsKeepalive,
    /// Bulk download and upload through a TCP proxy terminating TLS.
    TlsBulk,
    /// Mixed traffic under a fault schedule (not part of `all`: it runs for minutes).
    Soak,
    /// Traffic through live reloads and binary upgrades (not part of `all`: a minute per
    /// contender).
    Reload,
}

impl Scenario {
    /// All, in run order.
    pub const ALL: [Scenario; 10] = [
        Scenario::HttpKeepalive,
        Scenario::HttpClose,
        Scenario::TcpEcho,
        Scenario::TcpBulk,
        Scenario::IdleConns,
        Scenario::Kill,
        Scenario::Admin,
        Scenario::TlsHandshake,
        Scenario::TlsKeepalive,
        Scenario::TlsBulk,
    ];

    /// Command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::HttpKeepalive => "http-keepalive",
            Scenario::HttpClose => "http-close",
            Scenario::TcpEcho => "tcp-echo",
            Scenario::TcpBulk => "tcp-bulk",
            Scenario::IdleConns => "idle-conns",
            Scenario::Kill => "kill",
            Scenario::Admin => "admin",
            Scenario::TlsHandshake => "tls-handshake",
            Scenario::TlsKeepalive => "tls-keepalive",
            Scenario::TlsBulk => "tls-bulk",
            Scenario::Soak => "soak",
            Scenario::Reload => "reload",
        }
    }

    /// Whether it needs the run's certificate.
    pub fn is_tls(self) -> bool {
        matches!(
            self,
            Scenario::TlsHandshake | Scenario::TlsKeepalive | Scenario::TlsBulk
        )
    }

    /// Parses a comma-separated list, or `all`.
    pub fn parse_list(text: &str) -> Result<Vec<Scenario>, String> {
        let mut out = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part == "all" {
                return Ok(Scenario::ALL.to_vec());
            }
            let s = Scenario::ALL
                .into_iter()
                .chain([Scenario::Soak, Scenario::Reload])
                .find(|s| s.as_str() == part)
                .ok_or_else(|| {
                    let names: Vec<&str> = Scenario::ALL.iter().map(|s| s.as_str()).collect();
                    format!(
                        "unknown scenario {part:?}; choose from {}, soak, reload or all",
                        names.join(", ")
                    )
                })?;
            if !out.contains(&s) {
                out.push(s);
            }
        }
        if out.is_empty() {
            return Err("no scenario given".into());
        }
        Ok(out)
    }
}

/// Options shared by every scenario.
#[derive(Debug, Clone)]
pub struct Options {
    /// Measured window per load point.
    pub duration: Duration,
    /// Unrecorded warm-up before each window.
    pub warmup: Duration,
    /// Load generator connections.
    pub connections: usize,
    /// Open-loop rates; `None`: derived from the saturation results.
    pub rates: Option<Vec<f64>>,
    /// Per-request limit.
    pub timeout: Duration,
    /// HTTP response body bytes.
    pub body: usize,
    /// tcp-echo message bytes.
    pub message: usize,
    /// idle-conns connections.
    pub idle_connections: usize,
    /// kill: live streams.
    pub kill_streams: usize,
    /// kill: commands to issue.
    pub kill_iterations: usize,
    /// Samples per throughput load point, contenders interleaved.
    pub repeat: usize,
    /// soak options.
    pub soak: soak::SoakOptions,
    /// reload options.
    pub reload: reload::ReloadOptions,
    /// TLS scenarios: the one version the clients offer.
    pub tls_version: crate::tls::TlsVersion,
    /// tls-keepalive: idle TLS connections to hold.
    pub tls_idle_connections: usize,
}

/// What a scenario runs with.
pub struct Bench<'a> {
    /// Client-side threads (origins and load generators).
    pub pool: &'a Pool,
    /// Binaries, CPUs, limits.
    pub host: &'a Host,
    /// Options.
    pub opts: &'a Options,
    /// Contenders, in run order (`direct` first when present).
    pub contenders: &'a [Name],
    /// The stderr progress line.
    pub progress: &'a Progress,
    /// The run's certificate, when a TLS scenario runs.
    pub cert: Option<&'a crate::tls::BenchCert>,
}

/// The status line on stderr: rewritten in place on a terminal, one line per step otherwise.
pub struct Progress {
    tty: bool,
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

impl Progress {
    /// Detects whether stderr is a terminal.
    pub fn new() -> Self {
        Progress {
            tty: std::io::stderr().is_terminal(),
        }
    }

    /// Announces a new step.
    pub fn step(&self, text: &str) {
        let mut e = std::io::stderr().lock();
        if self.tty {
            let _ = write!(e, "\r\x1b[2K{text}");
        } else {
            let _ = writeln!(e, "{text}");
        }
        let _ = e.flush();
    }

    /// Updates the current step (terminal only).
    pub fn tick(&self, text: &str) {
        if self.tty {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r\x1b[2K{text}");
            let _ = e.flush();
        }
    }

    /// A line that stays (skips, warnings).
    pub fn line(&self, text: &str) {
        let mut e = std::io::stderr().lock();
        if self.tty {
            let _ = write!(e, "\r\x1b[2K");
        }
        let _ = writeln!(e, "{text}");
    }

    /// Erases the status line before stdout output.
    pub fn clear(&self) {
        if self.tty {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r\x1b[2K");
            let _ = e.flush();
        }
    }
}

/// Sleeps until `t`, refreshing the progress line with `label` and the time left.
pub fn wait_until(progress: &Progress, t: Instant, label: &dyn Fn(Instant) -> String) {
    loop {
        let now = Instant::now();
        if now >= t {
            return;
        }
        progress.tick(&label(now));
        std::thread::sleep((t - now).min(Duration::from_millis(250)));
    }
}

/// Runs one load point against a running contender and turns it into a [`Measurement`]:
/// proxy CPU and harness CPU are sampled at the edges of the measured window.
pub fn measure(b: &Bench, running: &Running, spec: &LoadSpec, what: &str) -> Measurement {
    let progress_text = |phase: &str| format!("{what} · {} · {phase}", running.name);
    b.progress.step(&progress_text("warm-up"));
    let run = load::start(b.pool, spec);
    let window = run.window;
    wait_until(b.progress, window.start, &|now| {
        progress_text(&format!(
            "warm-up {:.0}s left",
            (window.start - now).as_secs_f64().ceil()
        ))
    });
    let proxy0 = running.child.as_ref().map(|c| c.usage());
    let self0 = procfs::self_cpu_us();
    let cpus0 = procfs::cpu_times();
    let t0 = Instant::now();
    wait_until(b.progress, window.end, &|now| {
        progress_text(&format!(
            "{:.0}s/{:.0}s",
            (now - window.start).as_secs_f64(),
            spec.duration.as_secs_f64()
        ))
    });
    let proxy1 = running.child.as_ref().map(|c| c.usage());
    let self1 = procfs::self_cpu_us();
    let cpus1 = procfs::cpu_times();
    let elapsed_us = t0.elapsed().as_micros().max(1) as f64;
    b.progress.tick(&progress_text("draining"));
    let rec = run.finish();

    let secs = spec.duration.as_secs_f64();
    let proxy_cpu_us = match (proxy0, proxy1) {
        (Some(a), Some(b)) => Some(b.cpu_us.saturating_sub(a.cpu_us) as f64),
        _ => None,
    };
    let proxy_user_us = match (proxy0, proxy1) {
        (Some(a), Some(b)) => Some(b.user_us.saturating_sub(a.user_us) as f64),
        _ => None,
    };
    let bulk = spec.workload.is_bulk();
    // Everything else that ran on the benchmark CPUs: their user + system time minus ours.
    let mut cpus = b.host.proxy_cpus.clone();
    cpus.extend(b.pool.cpus());
    let (busy_ticks, total_ticks) = procfs::ticks_between(&cpus0, &cpus1, &cpus);
    let tick_us = 1e6 / procfs::ticks_per_second() as f64;
    let ours_us = proxy_cpu_us.unwrap_or(0.0) + self1.saturating_sub(self0) as f64;
    let others_cpu_pct = if total_ticks > 0 {
        ((busy_ticks as f64 * tick_us - ours_us) / (total_ticks as f64 * tick_us) * 100.0).max(0.0)
    } else {
        0.0
    };
    let mut m = Measurement {
        contender: running.name.to_string(),
        load: String::new(),
        connections: spec.connections,
        rate_target: match spec.pacing {
            load::Pacing::Open { rate } => Some(rate),
            load::Pacing::Closed => None,
        },
        duration_s: secs,
        errors: rec.errors,
        proxy_cpu_pct: proxy_cpu_us
            .map(|us| us / elapsed_us / b.host.proxy_cpus.len() as f64 * 100.0),
        client_cpu_pct: self1.saturating_sub(self0) as f64 / elapsed_us / b.pool.len() as f64
            * 100.0,
        rss_kib: proxy1.map(|u| u.rss_kib),
        others_cpu_pct: (others_cpu_pct * 10.0).round() / 10.0,
        proxy_user_pct: proxy_cpu_us
            .zip(proxy_user_us)
            .filter(|&(all, _)| all > 0.0)
            .map(|(all, user)| user / all * 100.0),
        repeats: 1,
        ..Measurement::default()
    };
    if bulk {
        let mb = rec.bytes as f64 / 1e6;
        m.bytes = Some(rec.bytes);
        m.mb_per_sec = Some(mb / secs);
        m.cpu_us_per_mb = proxy_cpu_us.filter(|_| mb > 0.0).map(|us| us / mb);
    } else {
        m.requests = Some(rec.ops);
        m.requests_per_sec = Some(rec.ops as f64 / secs);
        let per_req = |us: Option<f64>| us.filter(|_| rec.ops > 0).map(|us| us / rec.ops as f64);
        m.cpu_us_per_req = per_req(proxy_cpu_us);
        m.cpu_user_us_per_req = per_req(proxy_user_us);
        m.cpu_system_us_per_req = per_req(proxy_cpu_us.zip(proxy_user_us).map(|(a, u)| a - u));
        m.latency_us = rec.percentiles();
    }
    if spec.tls.is_some() {
        m.handshakes = Some(rec.handshakes);
        m.handshakes_resumed = Some(rec.handshakes_resumed);
        m.resumed_pct = (rec.handshakes > 0)
            .then(|| rec.handshakes_resumed as f64 / rec.handshakes as f64 * 100.0);
    }
    m
}

/// Starts `name`, or reports on the progress line why it does not run.
pub fn start_contender(
    b: &Bench,
    name: Name,
    setup: &crate::contender::Setup,
    scenario: &str,
    skipped: &mut Vec<crate::report::Skip>,
) -> Option<Running> {
    b.progress.step(&format!("{scenario} · {name} · starting"));
    match crate::contender::start(name, b.host, setup) {
        Ok(r) => Some(r),
        Err(why) => {
            if !skipped.iter().any(|s| s.contender == name.as_str()) {
                b.progress
                    .line(&format!("{scenario}: {name}: {}", why.text()));
                skipped.push(crate::report::Skip {
                    contender: name.to_string(),
                    reason: why.text(),
                });
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_lists() {
        assert_eq!(
            Scenario::parse_list("tcp-echo"),
            Ok(vec![Scenario::TcpEcho])
        );
        assert_eq!(Scenario::parse_list("all").map(|v| v.len()), Ok(10));
        assert_eq!(
            Scenario::parse_list("tls-handshake,tls-keepalive,tls-bulk"),
            Ok(vec![
                Scenario::TlsHandshake,
                Scenario::TlsKeepalive,
                Scenario::TlsBulk
            ])
        );
        assert_eq!(
            Scenario::parse_list("kill,idle-conns,kill"),
            Ok(vec![Scenario::Kill, Scenario::IdleConns])
        );
        assert!(Scenario::parse_list("tcp-ping").is_err());
        assert_eq!(Scenario::parse_list("soak"), Ok(vec![Scenario::Soak]));
        assert_eq!(Scenario::parse_list("reload"), Ok(vec![Scenario::Reload]));
    }
}
