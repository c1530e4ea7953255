//! soak: mixed traffic under a fault schedule, then a reconciliation of every request id.
//!
//! Per contender (percore, HAProxy; nginx and direct have no admin socket to fault): two
//! origin processes s1 and s2 ([`faults::OriginProc`]), the proxy with an HTTP and a TCP
//! frontend ([`config`]), then for `--soak-duration`: the traffic of [`traffic`] (GET and
//! POST on kept-alive and new connections, uploads with and without `Expect`, TCP streams,
//! per-request origin and client faults) and, on a thread of its own, one scheduled fault
//! every `--soak-fault-every` ([`faults`]). Meanwhile the proxy's RSS and descriptors are
//! sampled. At the end [`reconcile`] checks every id against the origins' records and the
//! access log. The schedule and the request sequence are the same for every contender.
//!
//! Bounds: the traffic stops at `--soak-duration` or after `--soak-requests` ids; every
//! request has the client timeout; the settle wait at the end is [`SETTLE_MAX`]; every
//! process is a [`crate::child::Child`] (killed with its group on every path out).

pub mod config;
pub mod faults;
pub mod origin;
pub mod plan;
pub mod reconcile;
pub mod traffic;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::Bench;
use crate::child::{Child, TempDir};
use crate::contender::{self, Launch, Mode, Name, NotRun};
use crate::report::{ScenarioReport, Skip, SoakResult};
use config::SoakLayout;
use faults::{FaultPlan, FaultRun, OriginProc};
use plan::Sent;
use traffic::TrafficPlan;

/// Seed of the request sequence: the same for every contender and run.
const SEED: u64 = 17;
/// Per-request limit of the client: longer than a stall plus every retry.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait, after the traffic, for the proxy's descriptors to return to their count
/// before it (idle pooled connections close after 1 s, lingering closes after 1 s).
const SETTLE_MAX: Duration = Duration::from_secs(5);
/// Descriptors of the proxy's share kept free of the burst: the traffic's connections,
/// slowloris, admin, listeners.
const BURST_RESERVE: u64 = 300;

/// Soak options (`--soak-*`).
#[derive(Debug, Clone)]
pub struct SoakOptions {
    /// Length of the traffic.
    pub duration: Duration,
    /// Pause between two scheduled faults.
    pub every: Duration,
    /// Requests and streams per second.
    pub rate: f64,
    /// Most ids over the run.
    pub requests_max: u64,
    /// Streams of the descriptor burst; `None`: up to near the descriptor limit.
    pub burst: Option<usize>,
}

/// Runs the soak for every contender that can take its faults.
pub fn run(b: &Bench) -> ScenarioReport {
    let o = &b.opts.soak;
    let burst = burst_size(b);
    let mut report = ScenarioReport {
        name: "soak".into(),
        description: format!(
            "{:.0} s of mixed HTTP and TCP traffic at {:.0}/s with per-request faults and a \
             scheduled fault every {:.1} s (burst of {burst} streams)",
            o.duration.as_secs_f64(),
            o.rate,
            o.every.as_secs_f64()
        ),
        mode: "http+tcp".into(),
        unit: "id".into(),
        ..ScenarioReport::default()
    };
    for &name in b.contenders {
        if matches!(name, Name::Direct | Name::Nginx) {
            let reason = "skipped (no admin socket to fault through)".to_string();
            if name == Name::Nginx {
                b.progress.line(&format!("soak: {name}: {reason}"));
            }
            report.skipped.push(Skip {
                contender: name.to_string(),
                reason,
            });
            continue;
        }
        b.progress.step(&format!("soak · {name} · starting"));
        match run_one(b, name, burst) {
            Ok(r) => report.soak.push(r),
            Err(why) => {
                b.progress.line(&format!("soak: {name}: {}", why.text()));
                report.skipped.push(Skip {
                    contender: name.to_string(),
                    reason: why.text(),
                });
            }
        }
    }
    report.notes.push(
        "HAProxy runs in master-worker mode (-W) and reloads on SIGUSR2; percore reloads with \
         `reload` on the admin socket; each reload flips s2's weight between 100 and 50"
            .into(),
    );
    report
}

/// Burst streams: near the proxy's connection limit (itself derived from `ulimit -n`: each
/// stream holds two of its descriptors), and within this process's own descriptors.
fn burst_size(b: &Bench) -> usize {
    let fit = b
        .host
        .maxconn()
        .min(b.host.nofile.saturating_sub(1000))
        .saturating_sub(BURST_RESERVE) as usize;
    b.opts.soak.burst.map_or(fit, |n| n.min(fit)).max(1)
}

/// One proxy started for the soak, with its files.
struct Proxy {
    name: Name,
    child: Child,
    dir: TempDir,
    layout_http: SocketAddr,
    layout_tcp: SocketAddr,
    admin: PathBuf,
    config: PathBuf,
    /// (HTTP, TCP) addresses of s1 and s2.
    servers: [(SocketAddr, SocketAddr); 2],
}

fn run_one(b: &Bench, name: Name, burst: usize) -> Result<SoakResult, NotRun> {
    let failed = |e: String| NotRun::Failed(e);
    let origin_dir =
        TempDir::new(&format!("soak-origins-{name}")).map_err(|e| failed(e.to_string()))?;
    let cpus = b.pool.cpus();
    let mut origins = [
        OriginProc::new("s1", origin_dir.path(), &cpus).map_err(|e| failed(e.to_string()))?,
        OriginProc::new("s2", origin_dir.path(), &cpus).map_err(|e| failed(e.to_string()))?,
    ];
    for o in &mut origins {
        o.start().map_err(failed)?;
    }
    let mut proxy = start_proxy(b, name, &origins)?;
    let usage = proxy.child.usage();
    let mut r = SoakResult {
        contender: name.to_string(),
        rss_start_kib: usage.rss_kib,
        fds_start: usage.fds,
        ..SoakResult::default()
    };
    let (sent, faults, origins) = drive(b, &mut proxy, origins, burst, &mut r);
    settle(&mut proxy.child, &mut r);
    r.proxy_exited = proxy.child.exited().is_some();
    let log = proxy.child.log_text();
    r.panics = log.matches("panicked").count() as u64;
    proxy.child.stop();
    drop(proxy.dir);
    let mut records = String::new();
    for mut o in origins {
        o.kill();
        records += &std::fs::read_to_string(&o.record).unwrap_or_default();
    }
    r.reloads = faults
        .windows
        .iter()
        .filter(|w| w.fault == plan::Fault::Reload && w.error.is_none())
        .count() as u64;
    r.burst_opened = faults.burst_opened;
    r.burst_failed = faults.burst_failed;
    r.fault_errors = faults
        .windows
        .iter()
        .filter_map(|w| {
            w.error
                .as_ref()
                .map(|e| format!("{} at {} ms: {e}", w.fault.as_str(), w.start_ms))
        })
        .collect();
    let mut all = sent;
    all.extend(faults.slow);
    reconcile::reconcile(&mut r, &all, &faults.windows, &records, &log);
    Ok(r)
}

/// Writes the configuration and starts the proxy with its admin socket.
fn start_proxy(b: &Bench, name: Name, origins: &[OriginProc; 2]) -> Result<Proxy, NotRun> {
    let failed = |e: std::io::Error| NotRun::Failed(e.to_string());
    let dir = TempDir::new(&format!("soak-{name}")).map_err(failed)?;
    let http = contender::free_port().map_err(failed)?;
    let tcp = contender::free_port().map_err(failed)?;
    let admin = dir.path().join("admin.sock");
    let file = if name == Name::Haproxy {
        "haproxy.cfg"
    } else {
        "percore.yaml"
    };
    let config = dir.path().join(file);
    let servers = [
        (origins[0].http, origins[0].tcp),
        (origins[1].http, origins[1].tcp),
    ];
    let layout = SoakLayout {
        http,
        tcp,
        servers,
        admin: &admin,
        s2_weight: 100,
    };
    std::fs::write(&config, render(b, name, &layout)).map_err(failed)?;
    let how = Launch {
        config: &config,
        addr: http,
        log: dir.path().join(format!("{name}.log")),
        mode: Mode::Http,
        master_worker: true,
    };
    let mut child = contender::launch(name, b.host, how)?;
    contender::wait_admin(&mut child, &admin).map_err(NotRun::Failed)?;
    Ok(Proxy {
        name,
        child,
        dir,
        layout_http: http,
        layout_tcp: tcp,
        admin,
        config,
        servers,
    })
}

fn render(b: &Bench, name: Name, layout: &SoakLayout) -> String {
    if name == Name::Haproxy {
        config::haproxy(b.host, layout)
    } else {
        config::percore(b.host, layout)
    }
}

/// Runs the traffic (pool thread) and the faults (a thread of their own) to their end,
/// sampling the proxy's RSS and descriptors meanwhile.
fn drive(
    b: &Bench,
    proxy: &mut Proxy,
    origins: [OriginProc; 2],
    burst: usize,
    r: &mut SoakResult,
) -> (Vec<Sent>, FaultRun, [OriginProc; 2]) {
    let o = &b.opts.soak;
    let plan = TrafficPlan::starting_now(
        (proxy.layout_http, proxy.layout_tcp),
        o.rate,
        o.duration,
        o.requests_max,
        CLIENT_TIMEOUT,
        SEED,
        traffic::Mix::SOAK,
    );
    let t0 = plan.t0;
    let rx = traffic::spawn(b.pool, &plan);
    let fault_plan = FaultPlan {
        traffic: plan.clone(),
        every: o.every,
        admin: proxy.admin.clone(),
        burst,
        slow_limit: Duration::from_secs(u64::from(config::HTTP_REQUEST_S) + 3),
        burst_started: Arc::new(AtomicBool::new(false)),
    };
    let burst_started = fault_plan.burst_started.clone();
    let mut reload = reloader(b, proxy);
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let faults = std::thread::spawn(move || {
        let mut origins = origins;
        let run = faults::run(&fault_plan, &mut origins, &mut reload);
        // An origin this thread restarted has it as parent thread: PR_SET_PDEATHSIG kills
        // the origin when this thread ends, so it ends only with the traffic.
        let _ = done_rx.recv();
        (run, origins)
    });
    let warm_at = t0 + o.every.mul_f64(0.9);
    let hard_limit = plan.until + CLIENT_TIMEOUT + Duration::from_secs(30);
    let sent = sample_until_done(b, proxy, &rx, r, &burst_started, (t0, warm_at, hard_limit));
    let _ = done_tx.send(());
    let (run, origins) = faults.join().expect("the fault thread does not panic");
    (sent, run, origins)
}

/// Samples the proxy's RSS and descriptors every 250 ms until the traffic's ids arrive
/// (nothing past `hard_limit`). The warm RSS is the last sample after `warm_at` before the
/// first descriptor burst starts (what the goal compares the end with), or the first after
/// `warm_at` in a run too short for a burst.
fn sample_until_done(
    b: &Bench,
    proxy: &mut Proxy,
    rx: &mpsc::Receiver<Vec<Sent>>,
    r: &mut SoakResult,
    burst_started: &AtomicBool,
    (t0, warm_at, hard_limit): (Instant, Instant, Instant),
) -> Vec<Sent> {
    let total = b.opts.soak.duration.as_secs_f64();
    loop {
        match rx.recv_timeout(Duration::from_millis(250)) {
            Ok(sent) => return sent,
            Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < hard_limit => {
                let u = proxy.child.usage();
                r.rss_peak_kib = r.rss_peak_kib.max(u.rss_kib);
                r.fds_peak = r.fds_peak.max(u.fds);
                let before_burst = !burst_started.load(Ordering::Relaxed);
                if (r.rss_warm_kib == 0 || before_burst) && Instant::now() >= warm_at {
                    r.rss_warm_kib = u.rss_kib;
                }
                b.progress.tick(&format!(
                    "soak · {} · {:.0}s/{total:.0}s · rss {} KiB · fds {}",
                    proxy.name,
                    t0.elapsed().as_secs_f64(),
                    u.rss_kib,
                    u.fds
                ));
            }
            Err(_) => return Vec::new(),
        }
    }
}

/// What a reload does: the configuration rewritten with s2's weight flipped, then percore's
/// `reload` command or HAProxy's `SIGUSR2` (answered by a new "Loading success." of its
/// master).
fn reloader(b: &Bench, proxy: &Proxy) -> impl FnMut() -> Result<(), String> + Send + 'static {
    let (name, host, config, admin) = (
        proxy.name,
        b.host.clone(),
        proxy.config.clone(),
        proxy.admin.clone(),
    );
    let (http, tcp) = (proxy.layout_http, proxy.layout_tcp);
    let servers = proxy.servers;
    let pid = proxy.child.pid();
    let log = proxy.dir.path().join(format!("{name}.log"));
    let mut weight = 100;
    move || {
        weight = if weight == 100 { 50 } else { 100 };
        let layout = SoakLayout {
            http,
            tcp,
            servers,
            admin: &admin,
            s2_weight: weight,
        };
        let text = if name == Name::Haproxy {
            config::haproxy(&host, &layout)
        } else {
            config::percore(&host, &layout)
        };
        std::fs::write(&config, text).map_err(|e| format!("rewrite: {e}"))?;
        if name == Name::Haproxy {
            haproxy_reload(pid, &log)
        } else {
            let reply = faults::admin_command(&admin, "reload")?;
            if reply.starts_with("Reloaded") {
                Ok(())
            } else {
                Err(format!("reload: {:?}", reply.trim()))
            }
        }
    }
}

/// `SIGUSR2` to HAProxy's master, and its next "Loading success." in the log.
pub fn haproxy_reload(pid: i32, log: &Path) -> Result<(), String> {
    let before = std::fs::read_to_string(log)
        .unwrap_or_default()
        .matches("Loading success")
        .count();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGUSR2)
        .map_err(|e| format!("SIGUSR2: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let now = std::fs::read_to_string(log).unwrap_or_default();
        if now.matches("Loading success").count() > before {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err("no \"Loading success.\" within 5 s of SIGUSR2".into())
}

/// Waits (at most [`SETTLE_MAX`]) for the proxy's descriptors to come back to their count
/// before the traffic, then takes the end figures.
fn settle(child: &mut Child, r: &mut SoakResult) {
    let deadline = Instant::now() + SETTLE_MAX;
    loop {
        let u = child.usage();
        if u.fds <= r.fds_start || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let u = child.usage();
    r.rss_end_kib = u.rss_kib;
    r.fds_end = u.fds;
    if r.rss_warm_kib == 0 {
        r.rss_warm_kib = r.rss_start_kib;
    }
}
