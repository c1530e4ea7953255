//! `percore-bench reload-time`: percore's `reload` reply time against the size of the
//! configuration. For each N, percore runs with one backend of N servers on loopback
//! addresses (nothing listens there: no checks, no traffic) and is reloaded `repeat`
//! times, each reload changing every server's weight (100 ↔ 50), timed from the command
//! sent on a fresh admin connection to the complete reply.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use super::tally::percentile;
use crate::child::TempDir;
use crate::contender::{self, Host, Launch, Mode, Name};
use crate::scenario::soak::faults::admin_command;
use crate::units::micros_text;

/// First port of the servers' (unused) addresses.
const SERVER_PORT_BASE: usize = 20_000;

/// Measures and prints one line per server count; failure at the first error.
pub fn run(host: &Host, servers: &[usize], repeat: usize) -> ExitCode {
    for &n in servers {
        match measure(host, n, repeat) {
            Ok(times) => println!(
                "{n} servers: reload reply p50 {}, max {} ({} reloads, every weight changed)",
                micros_text(percentile(times.clone(), 50.0)),
                micros_text(times.iter().copied().max().unwrap_or(0)),
                times.len()
            ),
            Err(e) => {
                eprintln!("percore-bench reload-time: {n} servers: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

/// Reply times in µs of `repeat` reloads of a percore with `n` servers.
fn measure(host: &Host, n: usize, repeat: usize) -> Result<Vec<u64>, String> {
    let dir = TempDir::new(&format!("reload-time-{n}")).map_err(|e| e.to_string())?;
    let admin = dir.path().join("admin.sock");
    let file = dir.path().join("percore.yaml");
    let addr = contender::free_port().map_err(|e| e.to_string())?;
    std::fs::write(&file, config(host, addr, &admin, n, 100)).map_err(|e| e.to_string())?;
    let how = Launch {
        config: &file,
        addr,
        log: dir.path().join("percore.log"),
        mode: Mode::Http,
        master_worker: false,
    };
    let mut child = contender::launch(Name::Percore, host, how).map_err(|e| e.text())?;
    contender::wait_admin(&mut child, &admin)?;
    let mut times = Vec::with_capacity(repeat);
    for i in 0..repeat {
        let weight = if i % 2 == 0 { 50 } else { 100 };
        std::fs::write(&file, config(host, addr, &admin, n, weight)).map_err(|e| e.to_string())?;
        let t = Instant::now();
        let reply = admin_command(&admin, "reload")?;
        let took = t.elapsed();
        if !reply.starts_with("Reloaded") {
            return Err(format!("reload {i}: {:?}", reply.trim()));
        }
        times.push(took.as_micros() as u64);
        // Lets the shards free the previous generation before the next one.
        std::thread::sleep(Duration::from_millis(50));
    }
    child.stop();
    Ok(times)
}

/// One HTTP frontend over backend `app` of `n` servers, all of weight `weight`.
fn config(host: &Host, addr: std::net::SocketAddr, admin: &Path, n: usize, weight: u32) -> String {
    let mut y = contender::percore_global("percore-bench reload-time", host);
    let _ = writeln!(y, "  admin: {{ socket: \"{}\" }}", admin.display());
    let _ = writeln!(y, "defaults:");
    let _ = writeln!(y, "  mode: http");
    let _ = writeln!(y, "  timeout: {{ connect: 1s, client: 10s, server: 10s }}");
    let _ = writeln!(y, "frontends:");
    let _ = writeln!(y, "  web: {{ bind: \"{addr}\", default_backend: app }}");
    let _ = writeln!(y, "backends:");
    let _ = writeln!(y, "  app:");
    let _ = writeln!(y, "    balance: roundrobin");
    let _ = writeln!(y, "    servers:");
    for i in 0..n {
        let port = SERVER_PORT_BASE + i;
        let _ = writeln!(
            y,
            "      - {{ name: s{i}, address: \"127.0.0.1:{port}\", weight: {weight} }}"
        );
    }
    y
}
