//! `percore-bench`: the tools that surround a proxy under test.
//!
//! This first version has a fixed-response HTTP/1.1 and TCP echo origin and a closed-loop
//! TCP echo load generator recording latency in an HDR histogram. They run on plain
//! blocking threads (not glommio: a glommio peer slows a glommio proxy on these machines,
//! see shared/reference/glommio-notes.md §8). The side-by-side comparison runner comes next.

mod origin;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use hdrhistogram::Histogram;

/// percore-bench: origins and load generators for benchmarking proxies on loopback.
#[derive(Parser)]
#[command(name = "percore-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run an origin server until killed.
    Origin {
        /// Address to listen on (loopback).
        #[arg(long, default_value = "127.0.0.1:9000")]
        listen: SocketAddr,
        /// `http` (fixed 200 response) or `echo`.
        #[arg(long, default_value = "http")]
        kind: String,
        /// HTTP response body size in bytes.
        #[arg(long, default_value_t = 0)]
        body: usize,
    },
    /// Closed-loop TCP echo round trips through `target`.
    Echo {
        /// Proxy (or origin) address.
        #[arg(long)]
        target: SocketAddr,
        /// Concurrent connections, one thread each.
        #[arg(short, long, default_value_t = 16)]
        connections: usize,
        /// Run time in seconds.
        #[arg(short, long, default_value_t = 5.0)]
        duration: f64,
        /// Message size in bytes.
        #[arg(long, default_value_t = 64)]
        size: usize,
    },
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        Command::Origin { listen, kind, body } => {
            let kind = match kind.as_str() {
                "http" => origin::Kind::Http { body },
                "echo" => origin::Kind::Echo,
                other => {
                    eprintln!("percore-bench: unknown origin kind {other:?} (http|echo)");
                    std::process::exit(2);
                }
            };
            match origin::serve(listen, kind) {
                Ok(()) => {}
                Err(e) => {
                    eprintln!("percore-bench: origin on {listen}: {e}");
                    std::process::exit(1);
                }
            }
        }
        Command::Echo {
            target,
            connections,
            duration,
            size,
        } => {
            let report = echo_load(target, connections, Duration::from_secs_f64(duration), size);
            println!("{report}");
        }
    }
}

/// Runs `connections` closed-loop clients for `duration`; returns a one-line report.
fn echo_load(target: SocketAddr, connections: usize, duration: Duration, size: usize) -> String {
    let deadline = Instant::now() + duration;
    let threads: Vec<_> = (0..connections)
        .map(|_| {
            std::thread::spawn(move || -> (Histogram<u64>, u64) {
                let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)
                    .expect("valid histogram bounds");
                let mut errors = 0;
                let Ok(mut s) = TcpStream::connect(target) else {
                    return (h, 1);
                };
                let _ = s.set_nodelay(true);
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let msg = vec![b'x'; size];
                let mut back = vec![0u8; size];
                while Instant::now() < deadline {
                    let t0 = Instant::now();
                    if s.write_all(&msg).is_err() || s.read_exact(&mut back).is_err() {
                        errors += 1;
                        break;
                    }
                    let _ = h.record(t0.elapsed().as_micros().max(1) as u64);
                }
                (h, errors)
            })
        })
        .collect();
    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
    let mut errors = 0;
    for t in threads {
        if let Ok((h, e)) = t.join() {
            let _ = all.add(&h);
            errors += e;
        }
    }
    let secs = duration.as_secs_f64();
    format!(
        "round trips {} ({:.0}/s), errors {errors}, latency us p50 {} p99 {} p99.9 {} max {}",
        all.len(),
        all.len() as f64 / secs,
        all.value_at_quantile(0.5),
        all.value_at_quantile(0.99),
        all.value_at_quantile(0.999),
        all.max()
    )
}
