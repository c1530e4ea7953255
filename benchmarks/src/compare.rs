//! `percore-bench compare`: every contender, every chosen scenario, one invocation, the
//! same pinned CPUs; a table per scenario on stdout, progress on stderr, optional JSON
//! and SVG.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::contender::{self, Host, Name};
use crate::pool::{self, Pool};
use crate::procfs;
use crate::report::{self, ContenderReport, HostReport, Report, Settings};
use crate::scenario::{self, Bench, Options, Progress, Scenario};
use crate::svg;
use crate::tls::{BenchCert, TlsVersion};
use crate::units;

/// CPU use by others, before the run, above which a warning is printed.
const BUSY_WARN_PCT: f64 = 10.0;

/// Options of `compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Peers to run beside percore and direct: a list of haproxy, nginx; or none.
    #[arg(long, default_value = "haproxy,nginx")]
    pub peers: String,
    /// Scenarios: http-keepalive, http-close, tcp-echo, tcp-bulk, idle-conns, kill, admin,
    /// tls-handshake, tls-keepalive, tls-bulk, soak, reload (a comma-separated list) or all
    /// (every one but soak and reload).
    #[arg(long, default_value = "all")]
    pub scenario: String,
    /// Measured time per load point (after the warm-up). kill stops after 6 × this.
    #[arg(long, default_value = "10s", value_parser = units::duration)]
    pub duration: Duration,
    /// Unrecorded warm-up before each measured window.
    #[arg(long, default_value = "1s", value_parser = units::duration)]
    pub warmup: Duration,
    /// Load generator connections (http-close: concurrent clients; tcp-bulk: at most 8).
    #[arg(short = 'c', long, default_value_t = 32)]
    pub connections: usize,
    /// Open-loop rates per second, e.g. 5000,10k,20k. Default: 25/50/75/90 % of the
    /// slowest proxy's saturation throughput.
    #[arg(long)]
    pub rates: Option<String>,
    /// CPUs for the proxy (percore shards, HAProxy threads, nginx workers: one per CPU).
    #[arg(long, default_value = "1")]
    pub proxy_cpus: String,
    /// CPUs for the origin and the load generator (one pinned thread per CPU).
    #[arg(long, default_value = "0")]
    pub client_cpus: String,
    /// Write every result as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a latency-vs-rate plot to this SVG file.
    #[arg(long)]
    pub svg: Option<PathBuf>,
    /// percore binary. Default: `percore` beside this program, else
    /// <workspace>/target/release/percore.
    #[arg(long)]
    pub percore: Option<PathBuf>,
    /// A second percore binary, run as contender `percore-b` right after `percore` in
    /// every round: before/after comparisons of a change under the same machine load.
    #[arg(long)]
    pub percore_b: Option<PathBuf>,
    /// HTTP response body size (0, 1k, 64k, …).
    #[arg(long, default_value = "1k", value_parser = units::size)]
    pub body: usize,
    /// tcp-echo message size in bytes.
    #[arg(long, default_value_t = 64)]
    pub message: usize,
    /// Per-request (and per-connect) timeout.
    #[arg(long, default_value = "2s", value_parser = units::duration)]
    pub timeout: Duration,
    /// idle-conns: connections to hold (bounded by ulimit -n).
    #[arg(long, default_value_t = 10_000)]
    pub idle_connections: usize,
    /// kill: live streams, half on s1 and half on s2 (bounded by ulimit -n).
    #[arg(long, default_value_t = 2_000)]
    pub kill_streams: usize,
    /// kill: commands to issue.
    #[arg(long, default_value_t = 100)]
    pub kill_iterations: usize,
    /// Measure every load point this many times, the contenders interleaved (A B C A B C
    /// …), and report the median with min–max. Throughput scenarios only.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=99))]
    pub repeat: u32,
    /// Leave out the `direct` row (client straight to the origin).
    #[arg(long)]
    pub no_direct: bool,
    /// soak: length of the traffic.
    #[arg(long, default_value = "10m", value_parser = units::duration)]
    pub soak_duration: Duration,
    /// soak: pause between two scheduled faults.
    #[arg(long, default_value = "5s", value_parser = units::duration)]
    pub soak_fault_every: Duration,
    /// soak: requests and TCP streams per second.
    #[arg(long, default_value_t = 400.0)]
    pub soak_rate: f64,
    /// soak: most request ids over the run.
    #[arg(long, default_value_t = 2_000_000)]
    pub soak_requests: u64,
    /// soak: streams of the descriptor burst (default: up to near the proxy's limit).
    #[arg(long)]
    pub soak_burst: Option<usize>,
    /// reload: length of the traffic.
    #[arg(long, default_value = "60s", value_parser = units::duration)]
    pub reload_duration: Duration,
    /// reload: configuration reloads during the traffic, evenly spaced.
    #[arg(long, default_value_t = 20)]
    pub reload_count: usize,
    /// reload: binary upgrades during the traffic, among the reloads.
    #[arg(long, default_value_t = 3)]
    pub upgrade_count: usize,
    /// reload: requests per second.
    #[arg(long, default_value_t = 400.0)]
    pub reload_rate: f64,
    /// TLS scenarios: the protocol version the clients offer, 1.2 or 1.3.
    #[arg(long, default_value = "1.3", value_parser = TlsVersion::parse)]
    pub tls_version: TlsVersion,
    /// tls-keepalive: idle TLS connections to hold for the memory figure (bounded by
    /// ulimit -n).
    #[arg(long, default_value_t = 2_000)]
    pub tls_idle_connections: usize,
}

/// Runs `compare`.
pub fn run(args: CompareArgs) -> ExitCode {
    match prepare(&args) {
        Ok((host, contenders, scenarios, opts, client_cpus)) => {
            execute(&args, host, contenders, scenarios, opts, client_cpus)
        }
        Err(message) => {
            eprintln!("percore-bench compare: {message}");
            ExitCode::from(2)
        }
    }
}

type Prepared = (Host, Vec<Name>, Vec<Scenario>, Options, Vec<usize>);

fn prepare(args: &CompareArgs) -> Result<Prepared, String> {
    let scenarios = Scenario::parse_list(&args.scenario)?;
    let proxy_cpus = units::cpu_list(&args.proxy_cpus).map_err(|e| format!("--proxy-cpus: {e}"))?;
    let client_cpus =
        units::cpu_list(&args.client_cpus).map_err(|e| format!("--client-cpus: {e}"))?;
    let allowed = allowed_cpus();
    for c in proxy_cpus.iter().chain(&client_cpus) {
        if !allowed.contains(c) {
            return Err(format!(
                "cpu {c} is not available here (allowed: {})",
                units::cpus_text(&allowed)
            ));
        }
    }
    let rates = match &args.rates {
        Some(text) => Some(units::rate_list(text).map_err(|e| format!("--rates: {e}"))?),
        None => None,
    };
    if args.connections == 0 {
        return Err("--connections must be at least 1".into());
    }
    if args.duration.is_zero() || args.soak_duration.is_zero() {
        return Err("--duration and --soak-duration must be positive".into());
    }
    if args.soak_rate.is_nan() || args.soak_rate <= 0.0 {
        return Err("--soak-rate must be positive".into());
    }
    if args.reload_rate.is_nan() || args.reload_rate <= 0.0 || args.reload_duration.is_zero() {
        return Err("--reload-rate and --reload-duration must be positive".into());
    }
    let percore = find_percore(args.percore.as_deref())?;

    let percore_b = match &args.percore_b {
        Some(p) if p.is_file() => Some(p.clone()),
        Some(p) => return Err(format!("--percore-b: no file at {}", p.display())),
        None => None,
    };
    let mut contenders = if args.no_direct {
        vec![Name::Percore]
    } else {
        vec![Name::Direct, Name::Percore]
    };
    if percore_b.is_some() {
        contenders.push(Name::PercoreB);
    }
    let mut haproxy = None;
    let mut nginx = None;
    let mut nginx_stream = Err("nginx is not installed".to_string());
    for peer in args
        .peers
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        match peer {
            "none" => {}
            "haproxy" => match contender::find_program("haproxy") {
                Some(p) => {
                    haproxy = Some(p);
                    contenders.push(Name::Haproxy);
                }
                None => eprintln!(
                    "haproxy: not found; run scripts/install-peers.sh to install it — skipped"
                ),
            },
            "nginx" => match contender::find_program("nginx") {
                Some(p) => {
                    nginx_stream = contender::nginx_stream_support(&p);
                    nginx = Some(p);
                    contenders.push(Name::Nginx);
                }
                None => eprintln!(
                    "nginx: not found; run scripts/install-peers.sh to install it — skipped"
                ),
            },
            other => return Err(format!("unknown peer {other:?} (haproxy, nginx or none)")),
        }
    }
    contenders.dedup();
    let host = Host {
        percore,
        percore_b,
        haproxy,
        nginx,
        nginx_stream,
        proxy_cpus,
        nofile: procfs::nofile_limit(),
    };
    let opts = Options {
        duration: args.duration,
        warmup: args.warmup,
        connections: args.connections,
        rates,
        timeout: args.timeout,
        body: args.body,
        message: args.message.max(1),
        idle_connections: args.idle_connections.max(1),
        kill_streams: args.kill_streams.max(2),
        kill_iterations: args.kill_iterations.max(1),
        repeat: args.repeat as usize,
        soak: scenario::soak::SoakOptions {
            duration: args.soak_duration,
            every: args.soak_fault_every,
            rate: args.soak_rate,
            requests_max: args.soak_requests,
            burst: args.soak_burst,
        },
        reload: scenario::reload::ReloadOptions {
            duration: args.reload_duration,
            reloads: args.reload_count,
            upgrades: args.upgrade_count,
            rate: args.reload_rate,
            requests_max: args.soak_requests,
        },
        tls_version: args.tls_version,
        tls_idle_connections: args.tls_idle_connections.max(1),
    };
    Ok((host, contenders, scenarios, opts, client_cpus))
}

fn execute(
    args: &CompareArgs,
    host: Host,
    contenders: Vec<Name>,
    scenarios: Vec<Scenario>,
    opts: Options,
    client_cpus: Vec<usize>,
) -> ExitCode {
    if host.proxy_cpus.iter().any(|c| client_cpus.contains(c)) {
        eprintln!("warning: proxy and client CPUs overlap; the proxy will compete with the load generator");
    }
    // Every thread of this process (pool workers pin themselves further) stays off the
    // proxy CPUs.
    if let Err(e) = pool::pin_current_thread_to(&client_cpus) {
        eprintln!("percore-bench compare: {e}");
        return ExitCode::from(2);
    }
    let pool = match Pool::new(&client_cpus) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("percore-bench compare: cannot start client threads: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut all_cpus = host.proxy_cpus.clone();
    all_cpus.extend(&client_cpus);
    let busy = procfs::cpu_busy_pct(&all_cpus, Duration::from_millis(500));
    let busy_text: Vec<String> = busy
        .iter()
        .filter(|(_, pct)| *pct > BUSY_WARN_PCT)
        .map(|(cpu, pct)| format!("cpu {cpu} {pct:.0}%"))
        .collect();
    if !busy_text.is_empty() {
        eprintln!(
            "warning: other work is using the benchmark CPUs ({}): results will be noisy",
            busy_text.join(", ")
        );
    }
    let progress = Progress::new();
    let names: Vec<&str> = contenders.iter().map(|c| c.as_str()).collect();
    let scenario_names: Vec<&str> = scenarios.iter().map(|s| s.as_str()).collect();
    eprintln!(
        "percore-bench compare: {} on proxy cpu {}, clients on cpu {}; scenarios {}; about {}",
        names.join(", "),
        units::cpus_text(&host.proxy_cpus),
        units::cpus_text(&client_cpus),
        scenario_names.join(", "),
        estimate(&scenarios, &contenders, &opts)
    );
    eprintln!("percore: {}", host.percore.display());
    let started_unix_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // One certificate for every TLS scenario and contender, removed at the end of the run.
    let cert = if scenarios.iter().any(|s| s.is_tls()) {
        match BenchCert::generate() {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("percore-bench compare: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let bench = Bench {
        pool: &pool,
        host: &host,
        opts: &opts,
        contenders: &contenders,
        progress: &progress,
        cert: cert.as_ref(),
    };
    let mut results = Vec::new();
    for s in &scenarios {
        let r = match s {
            Scenario::IdleConns => scenario::idle::run(&bench),
            Scenario::Kill => scenario::kill::run(&bench),
            Scenario::Admin => scenario::admin::run(&bench),
            Scenario::Soak => scenario::soak::run(&bench),
            Scenario::Reload => scenario::reload::run(&bench),
            other => scenario::throughput::run(&bench, *other),
        };
        progress.clear();
        print!("{}", report::scenario_table(&r));
        results.push(r);
    }
    progress.clear();
    let failed = results
        .iter()
        .flat_map(|s| &s.skipped)
        .any(|s| s.reason.starts_with("failed"));

    let report = Report {
        tool: "percore-bench",
        version: env!("CARGO_PKG_VERSION"),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        started_unix_s,
        host: HostReport {
            cpus_online: procfs::cpus_online(),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_string(),
            nofile: host.nofile,
            proxy_cpus: host.proxy_cpus.clone(),
            client_cpus: client_cpus.clone(),
            maxconn: host.maxconn(),
            busy_before_pct: busy
                .iter()
                .map(|&(cpu, pct)| (cpu, (pct * 10.0).round() / 10.0))
                .collect(),
        },
        settings: Settings {
            duration_s: opts.duration.as_secs_f64(),
            warmup_s: opts.warmup.as_secs_f64(),
            connections: opts.connections,
            timeout_s: opts.timeout.as_secs_f64(),
            body_bytes: opts.body,
            message_bytes: opts.message,
            idle_connections: opts.idle_connections,
            kill_streams: opts.kill_streams,
            kill_iterations: opts.kill_iterations,
            repeat: opts.repeat,
            tls_version: opts.tls_version.as_str().into(),
            tls_idle_connections: opts.tls_idle_connections,
        },
        contenders: contenders
            .iter()
            .map(|&c| ContenderReport {
                name: c.to_string(),
                version: contender::version(c, &host),
                binary: match c {
                    Name::Direct => None,
                    Name::Percore => Some(host.percore.display().to_string()),
                    Name::PercoreB => host.percore_b.as_ref().map(|p| p.display().to_string()),
                    Name::Haproxy => host.haproxy.as_ref().map(|p| p.display().to_string()),
                    Name::Nginx => host.nginx.as_ref().map(|p| p.display().to_string()),
                },
            })
            .collect(),
        scenarios: results,
    };
    let mut code = if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    };
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report).expect("plain data serializes");
        if !write_output(path, text + "\n") {
            code = ExitCode::FAILURE;
        }
    }
    if let Some(path) = &args.svg {
        match svg::render(&report.scenarios) {
            Some(text) => {
                if !write_output(path, text) {
                    code = ExitCode::FAILURE;
                }
            }
            None => eprintln!(
                "no open-loop results to plot; {} not written",
                path.display()
            ),
        }
    }
    code
}

/// Writes one of the run's output files and says so; false, with the reason on stderr, when
/// it cannot (the run's exit code then says failure).
fn write_output(path: &Path, text: String) -> bool {
    match std::fs::write(path, text) {
        Ok(()) => {
            eprintln!("wrote {}", path.display());
            true
        }
        Err(e) => {
            eprintln!(
                "percore-bench compare: cannot write {}: {e}",
                path.display()
            );
            false
        }
    }
}

/// CPUs this process may run on.
fn allowed_cpus() -> Vec<usize> {
    match nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)) {
        Ok(set) => (0..nix::sched::CpuSet::count())
            .filter(|&i| set.is_set(i).unwrap_or(false))
            .collect(),
        Err(_) => (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect(),
    }
}

/// The percore binary: `--percore`, else `percore` beside this program (same build), else
/// the workspace's target/release/percore.
pub fn find_percore(given: Option<&Path>) -> Result<PathBuf, String> {
    let build_hint =
        "build it with `cargo build --release -p percore` (add CARGO_TARGET_DIR=… if you \
                      use one) or pass --percore PATH";
    if let Some(p) = given {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(format!(
                "no percore binary at {}; {build_hint}",
                p.display()
            ))
        };
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("percore")));
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/percore");
    for candidate in beside.into_iter().chain([workspace.clone()]) {
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(format!(
        "no percore binary beside percore-bench or at {}; {build_hint}",
        workspace.display()
    ))
}

/// Rough wall time of the whole run, for the first line.
fn estimate(scenarios: &[Scenario], contenders: &[Name], opts: &Options) -> String {
    let point = (opts.duration + opts.warmup).as_secs_f64() + 0.5;
    let n = contenders.len() as f64;
    let proxies = contenders.iter().filter(|&&c| c != Name::Direct).count() as f64;
    let rates = opts.rates.as_ref().map_or(4, |r| r.len()) as f64;
    let secs: f64 = scenarios
        .iter()
        .map(|s| match s {
            Scenario::HttpKeepalive | Scenario::HttpClose | Scenario::TcpEcho => {
                opts.repeat as f64 * n * (1.0 + rates) * point + 2.0 * n
            }
            Scenario::TlsKeepalive => {
                opts.repeat as f64 * proxies * (1.0 + rates) * point + proxies * 8.0
            }
            Scenario::TcpBulk => opts.repeat as f64 * n * 2.0 * point + n,
            Scenario::TlsHandshake | Scenario::TlsBulk => {
                opts.repeat as f64 * proxies * 2.0 * point + proxies
            }
            Scenario::IdleConns => proxies * 2.0 * 6.0,
            Scenario::Kill => {
                proxies.min(2.0)
                    * scenario::kill::kill_bound(opts.duration)
                        .as_secs_f64()
                        .min(opts.kill_iterations as f64 * 0.4)
            }
            Scenario::Admin => proxies.min(2.0) * opts.repeat as f64 * 2.0 * point,
            Scenario::Soak => proxies.min(2.0) * (opts.soak.duration.as_secs_f64() + 10.0),
            Scenario::Reload => proxies * (opts.reload.duration.as_secs_f64() + 10.0),
        })
        .sum();
    if secs < 120.0 {
        format!("{secs:.0} s")
    } else {
        format!("{:.0} min", secs / 60.0)
    }
}
