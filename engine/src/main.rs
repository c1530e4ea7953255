//! The `percore` command line.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use percore::{demo, output, runtime};

/// percore: a thread-per-core TCP reverse proxy and load balancer on io_uring.
#[derive(Parser)]
#[command(name = "percore", version, about, after_help = runtime::SIGNALS_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the proxy with a configuration file.
    #[command(after_help = runtime::SIGNALS_HELP)]
    Run {
        /// YAML configuration file.
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Validate a configuration file and print a summary (exit 0 valid, 2 invalid).
    Check {
        /// YAML configuration file.
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Talk to a running percore's admin socket (HAProxy stats-socket commands).
    #[command(after_help = CTL_HELP)]
    Ctl {
        /// Admin socket: a path, unix@PATH, or host:port for a TCP admin listener.
        #[arg(short, long, default_value = "percore.sock")]
        socket: String,
        /// JSON output where the command has it (show stat, show info).
        #[arg(long)]
        json: bool,
        /// Render `show stat` as a readable table.
        #[arg(short, long)]
        table: bool,
        /// With `upgrade`: the new binary to start (default: the path the running process
        /// was started from).
        #[arg(long, value_name = "PATH")]
        binary: Option<PathBuf>,
        /// The command, e.g. `show stat` or `shutdown sessions server app/s1`; several are
        /// chained with `;`. Without one: interactive when stdin is a terminal.
        command: Vec<String>,
    },
    /// Start two built-in origins and a proxy in front of them, and say what to try.
    #[command(after_help = runtime::SIGNALS_HELP)]
    Demo {
        /// Port for the proxy (default 8080, or an ephemeral port if 8080 is taken).
        #[arg(long)]
        port: Option<u16>,
    },
}

/// What `percore ctl --help` adds below the options: the kill guarantee (the admin `help`
/// text stays byte-identical to HAProxy 2.6's, which tools compare).
const CTL_HELP: &str =
    "Kills (`shutdown session <id>`, `shutdown sessions server <bk>/<srv>`) reply once \
every shard has fenced the streams: from the reply on, percore never reads from or writes \
to a killed stream's sockets again; they close right after, in batches.";

fn main() -> ExitCode {
    let cli = Cli::parse();
    percore::logging::init();
    match cli.command {
        Command::Run { config } => run(config),
        Command::Check { config } => check(config),
        Command::Ctl {
            socket,
            json,
            table,
            binary,
            command,
        } => ExitCode::from(percore::ctl::run(percore::ctl::CtlArgs {
            socket,
            json,
            table,
            binary,
            command,
        })),
        Command::Demo { port } => match demo::run(port) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                output::stderr_line(&format!("percore: {e}"));
                ExitCode::FAILURE
            }
        },
    }
}

/// The validated file, or the exit code and the error (already printed).
fn load(path: &std::path::Path) -> Result<percore_conf::Config, (ExitCode, String)> {
    percore_conf::load(path, &runtime::host_info()).map_err(|e| {
        let message = e.to_string();
        output::stderr_line(&message);
        (ExitCode::from(2), message)
    })
}

fn run(path: PathBuf) -> ExitCode {
    // Signals must be blocked before any thread exists, so that they reach the signal thread.
    let signals = runtime::block_signals();
    let (channel, inherited) = match percore::upgrade::from_env() {
        Ok(Some((channel, inherited))) => (Some(channel), inherited),
        Ok(None) => (None, Default::default()),
        Err(e) => {
            output::stderr_line(&format!("percore: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let config = match load(&path) {
        Ok(c) => c,
        Err((code, message)) => {
            if let Some(c) = channel {
                c.report_failed(&message);
            }
            return code;
        }
    };
    let started = runtime::start(config, Some(path), signals, inherited);
    let reported = match (channel, &started) {
        (Some(c), Ok(_)) => c.report_ready(),
        (Some(c), Err(e)) => {
            c.report_failed(&e.to_string());
            Ok(())
        }
        (None, _) => Ok(()),
    };
    // The old process did not hear `ready`: it kills this one and keeps serving.
    if let Err(e) = reported {
        log::warn!("{e}");
    }
    match started.and_then(|r| r.wait()) {
        Ok(()) => {
            log::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            output::stderr_line(&format!("percore: {e}"));
            ExitCode::FAILURE
        }
    }
}

fn check(path: PathBuf) -> ExitCode {
    let config = match load(&path) {
        Ok(c) => c,
        Err((code, _)) => return code,
    };
    let mut out = String::new();
    let _ = writeln!(out, "{}: configuration is valid", path.display());
    let _ = writeln!(
        out,
        "shards: {} on cpu {:?}; maxconn {}; grace {:?}",
        config.global.shard_cpus.len(),
        config.global.shard_cpus,
        config.global.maxconn,
        config.global.grace
    );
    for fe in &config.frontends {
        let binds: Vec<String> = fe
            .bind
            .iter()
            .zip(&fe.tls)
            .map(|(a, tls)| match tls {
                Some(t) => format!("{a} ({})", tls_summary(t)),
                None => a.to_string(),
            })
            .collect();
        let _ = writeln!(
            out,
            "frontend {}: mode {}, bind {}, maxconn {}, default_backend {}",
            fe.name,
            mode_name(fe.mode),
            binds.join(" "),
            fe.maxconn,
            config.backends[fe.default_backend].name
        );
    }
    for be in &config.backends {
        let _ = writeln!(
            out,
            "backend {}: mode {}, balance {}, {} server(s)",
            be.name,
            mode_name(be.mode),
            balance_name(&be.balance),
            be.servers.len()
        );
        for s in &be.servers {
            let _ = writeln!(
                out,
                "  server {} {} weight {}{}{}",
                s.name,
                s.address,
                s.weight,
                if s.backup { " backup" } else { "" },
                if s.check.is_some() { " check" } else { "" }
            );
        }
    }
    output::stdout(&out);
    ExitCode::SUCCESS
}

/// `tls, 2 certificate(s), first expiry 2027-03-01 (a.pem)` for `percore check`.
fn tls_summary(t: &percore_conf::tls::BindTls) -> String {
    let first = t.certs.iter().min_by_key(|c| c.not_after);
    let expiry = first.map_or(String::new(), |c| {
        let days = u64::try_from(c.not_after).unwrap_or(0) / 86_400;
        let (y, m, d) = percore_admin::civil_from_days(days);
        format!(", first expiry {y:04}-{m:02}-{d:02} ({})", c.file.display())
    });
    format!("tls, {} certificate(s){expiry}", t.certs.len())
}

fn mode_name(m: percore_conf::Mode) -> &'static str {
    match m {
        percore_conf::Mode::Tcp => "tcp",
        percore_conf::Mode::Http => "http",
    }
}

fn balance_name(b: &percore_conf::Balance) -> String {
    use percore_conf::Balance as B;
    match b {
        B::RoundRobin => "roundrobin".into(),
        B::StaticRr => "static-rr".into(),
        B::LeastConn => "leastconn".into(),
        B::First => "first".into(),
        B::Random => "random".into(),
        B::Source => "source".into(),
        B::Uri { .. } => "uri".into(),
        B::Hdr(h) => format!("hdr({h})"),
    }
}
