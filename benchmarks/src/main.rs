//! `percore-bench`: measures percore against HAProxy and nginx on the same pinned CPUs, and
//! provides the origin and load generator it uses as standalone tools.
//!
//! - [`compare`]: the `compare` command: contenders × scenarios → tables, JSON, SVG.
//! - [`scenario`]: what is measured (throughput, TLS, idle memory, admin kill, soak, reload).
//! - [`contender`]: direct / percore / HAProxy / nginx and their equivalent configurations.
//! - [`child`]: proxy processes and temporary files, cleaned up even on Ctrl-C.
//! - [`procfs`]: CPU time and RSS of a process group from /proc.
//! - [`pool`]: pinned client-side threads, each a tokio current-thread runtime.
//! - [`origin`]: HTTP/1.1, echo and bulk servers.
//! - [`load`]: closed- and open-loop load generator (coordinated-omission corrected).
//! - [`record`]: latency histograms and error counts, merged across threads.
//! - [`http`]: request heads and an incremental response parser.
//! - [`tls`]: the run's certificate and the rustls client of the TLS scenarios.
//! - [`repeat`]: `--repeat`: interleaved run order, medians and min–max of the samples.
//! - [`report`]: JSON document and tables. [`svg`]: latency-vs-rate plot.
//! - [`units`]: command-line values.
//!
//! Origins and load generators are tokio current-thread runtimes on pinned threads, never
//! glommio: a glommio peer slows a glommio proxy on these machines
//! (shared/reference/glommio-notes.md §8).

mod child;
mod compare;
mod contender;
mod http;
mod load;
mod origin;
mod pool;
mod procfs;
mod record;
mod repeat;
mod report;
mod scenario;
mod svg;
mod tls;
mod units;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::load::{LoadSpec, Pacing, Workload};
use crate::units::{count_text, micros_text};

/// percore-bench: compare percore with HAProxy and nginx on loopback, side by side.
#[derive(Parser)]
#[command(name = "percore-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run every contender through the chosen scenarios and print a comparison.
    Compare(compare::CompareArgs),
    /// Run an origin server until interrupted.
    Origin {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9000")]
        listen: SocketAddr,
        /// http (fixed 200 responses), echo, or bulk (first byte D: send forever; else
        /// discard).
        #[arg(long, default_value = "http")]
        kind: String,
        /// HTTP response body size (0, 1k, 64k, …).
        #[arg(long, default_value = "0", value_parser = units::size)]
        body: usize,
        /// echo: bytes sent on accept before echoing.
        #[arg(long, default_value = "")]
        banner: String,
        /// CPUs to run on, one pinned thread each.
        #[arg(long, default_value = "0")]
        cpus: String,
    },
    /// Run a soak origin (the soak scenario starts these itself): HTTP and TCP echo that
    /// record every request id.
    SoakOrigin(scenario::soak::origin::OriginArgs),
    /// Time percore's `reload` reply with one backend of N servers (checks off), for each N.
    ReloadTime {
        /// Server counts.
        #[arg(long, default_value = "10,100,1000")]
        servers: String,
        /// Reloads per count, each changing every server's weight.
        #[arg(long, default_value_t = 10)]
        repeat: usize,
        /// percore binary (default as for `compare`).
        #[arg(long)]
        percore: Option<std::path::PathBuf>,
        /// CPUs of percore's shards.
        #[arg(long, default_value = "1")]
        proxy_cpus: String,
    },
    /// Load one address (an origin or a proxy) and print throughput and latency.
    Load {
        /// Where to connect.
        #[arg(long)]
        target: SocketAddr,
        /// http, http-close, echo, bulk-down or bulk-up.
        #[arg(long, default_value = "http")]
        workload: String,
        /// Connections (http-close: concurrent clients).
        #[arg(short = 'c', long, default_value_t = 32)]
        connections: usize,
        /// Open loop at this many requests/s in total; closed loop if absent.
        #[arg(long)]
        rate: Option<f64>,
        /// Measured time.
        #[arg(long, default_value = "10s", value_parser = units::duration)]
        duration: Duration,
        /// Unrecorded warm-up.
        #[arg(long, default_value = "1s", value_parser = units::duration)]
        warmup: Duration,
        /// Expected HTTP body size.
        #[arg(long, default_value = "0", value_parser = units::size)]
        body: usize,
        /// Echo message size.
        #[arg(long, default_value_t = 64)]
        message: usize,
        /// Per-request timeout.
        #[arg(long, default_value = "2s", value_parser = units::duration)]
        timeout: Duration,
        /// CPUs to run on, one pinned thread each.
        #[arg(long, default_value = "0")]
        cpus: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = child::install_signal_cleanup() {
        eprintln!("percore-bench: cannot install the Ctrl-C handler: {e}");
        return ExitCode::FAILURE;
    }
    let code = run(cli.command);
    while child::interrupted() {
        // The signal thread is cleaning up and will exit with 130.
        std::thread::park_timeout(Duration::from_secs(1));
    }
    code
}

fn run(command: Command) -> ExitCode {
    match command {
        Command::Compare(args) => compare::run(args),
        Command::SoakOrigin(args) => scenario::soak::origin::run(args),
        Command::ReloadTime {
            servers,
            repeat,
            percore,
            proxy_cpus,
        } => run_reload_time(&servers, repeat, percore.as_deref(), &proxy_cpus),
        Command::Origin {
            listen,
            kind,
            body,
            banner,
            cpus,
        } => run_origin(listen, &kind, body, &banner, &cpus),
        Command::Load {
            target,
            workload,
            connections,
            rate,
            duration,
            warmup,
            body,
            message,
            timeout,
            cpus,
        } => {
            let workload = match workload.as_str() {
                "http" => Workload::Http {
                    keep_alive: true,
                    body: body as u64,
                },
                "http-close" => Workload::Http {
                    keep_alive: false,
                    body: body as u64,
                },
                "echo" => Workload::Echo {
                    size: message.max(1),
                },
                "bulk-down" => Workload::BulkDown,
                "bulk-up" => Workload::BulkUp,
                other => {
                    eprintln!("percore-bench: unknown workload {other:?} (http, http-close, echo, bulk-down, bulk-up)");
                    return ExitCode::from(2);
                }
            };
            let pacing = match rate {
                Some(r) if r > 0.0 => Pacing::Open { rate: r },
                Some(_) => {
                    eprintln!("percore-bench: --rate must be positive");
                    return ExitCode::from(2);
                }
                None => Pacing::Closed,
            };
            let spec = LoadSpec {
                target,
                workload,
                connections: connections.max(1),
                pacing,
                warmup,
                duration,
                timeout,
                tls: None,
            };
            run_load(&spec, &cpus)
        }
    }
}

fn run_reload_time(
    servers: &str,
    repeat: usize,
    percore: Option<&std::path::Path>,
    proxy_cpus: &str,
) -> ExitCode {
    let parsed = (|| -> Result<(Vec<usize>, contender::Host), String> {
        let counts = servers
            .split(',')
            .map(|n| {
                n.trim()
                    .parse::<usize>()
                    .map_err(|e| format!("--servers {n:?}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let host = contender::Host {
            percore: compare::find_percore(percore)?,
            percore_b: None,
            haproxy: None,
            nginx: None,
            nginx_stream: Err("not used".into()),
            proxy_cpus: units::cpu_list(proxy_cpus).map_err(|e| format!("--proxy-cpus: {e}"))?,
            nofile: procfs::nofile_limit(),
        };
        Ok((counts, host))
    })();
    match parsed {
        Ok((counts, host)) => scenario::reload::reply_time::run(&host, &counts, repeat.max(1)),
        Err(e) => {
            eprintln!("percore-bench reload-time: {e}");
            ExitCode::from(2)
        }
    }
}

fn start_pool(cpus: &str) -> Result<pool::Pool, ExitCode> {
    let cpus = units::cpu_list(cpus).map_err(|e| {
        eprintln!("percore-bench: --cpus: {e}");
        ExitCode::from(2)
    })?;
    pool::pin_current_thread_to(&cpus)
        .and_then(|()| pool::Pool::new(&cpus))
        .map_err(|e| {
            eprintln!("percore-bench: {e}");
            ExitCode::FAILURE
        })
}

fn run_origin(listen: SocketAddr, kind: &str, body: usize, banner: &str, cpus: &str) -> ExitCode {
    let kind = match origin::Kind::parse(kind, body, banner) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("percore-bench: {e}");
            return ExitCode::from(2);
        }
    };
    let pool = match start_pool(cpus) {
        Ok(p) => p,
        Err(code) => return code,
    };
    match origin::Origin::start(&pool, listen, kind.clone()) {
        Ok(o) => {
            eprintln!(
                "percore-bench: {kind:?} origin on {} (Ctrl-C stops)",
                o.addr
            );
            loop {
                std::thread::park();
            }
        }
        Err(e) => {
            eprintln!("percore-bench: origin on {listen}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_load(spec: &LoadSpec, cpus: &str) -> ExitCode {
    let pool = match start_pool(cpus) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let rec = load::run(&pool, spec);
    let secs = spec.duration.as_secs_f64();
    if spec.workload.is_bulk() {
        println!(
            "{:.1} MB/s ({} bytes in {secs:.1}s), errors {}",
            rec.bytes as f64 / 1e6 / secs,
            rec.bytes,
            rec.errors.text()
        );
    } else {
        let lat = rec.percentiles().map_or("no samples".to_string(), |p| {
            format!(
                "p50 {} p90 {} p99 {} p99.9 {} max {}",
                micros_text(p.p50),
                micros_text(p.p90),
                micros_text(p.p99),
                micros_text(p.p999),
                micros_text(p.max)
            )
        });
        println!(
            "{} ops/s ({} in {secs:.1}s), latency {lat}, errors {}",
            count_text(rec.ops as f64 / secs),
            rec.ops,
            rec.errors.text()
        );
    }
    if rec.errors.total() > 0 && rec.ops == 0 && rec.bytes == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
