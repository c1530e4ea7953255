//! admin: how the admin socket answers while the data path is saturated, and what the admin
//! load costs the data path.
//!
//! Each contender runs HTTP mode with an admin socket, under closed-loop keep-alive load
//! (the http-keepalive saturation load). Each round measures the load alone, then the same
//! load while a harness thread issues admin commands at [`COMMANDS_PER_SEC`] — `show info`,
//! `show stat`, `set server app/s1 weight N`, `get weight app/s1` in turn, each on a fresh
//! connection as scripts and exporters do — timing every complete reply. Rounds repeat
//! `--repeat` times, interleaved across contenders; throughputs are medians.
//!
//! Bounds: one command at a time, each limited by `--timeout` × 5; the admin thread stops
//! with the measured window.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{measure, start_contender, Bench};
use crate::contender::{Mode, Name, Running, Setup};
use crate::load::{LoadSpec, Pacing, Workload};
use crate::origin::{Kind, Origin};
use crate::record::Recorder;
use crate::report::{AdminResult, ScenarioReport, Skip};

/// Admin commands per second during the loaded half of a round.
pub const COMMANDS_PER_SEC: u32 = 200;

/// The commands, issued in turn.
const COMMANDS: [&str; 4] = [
    "show info",
    "show stat",
    "set server app/s1 weight {w}",
    "get weight app/s1",
];

/// Runs the admin scenario for every contender with an admin socket.
pub fn run(b: &Bench) -> ScenarioReport {
    let o = b.opts;
    let mut report = ScenarioReport {
        name: "admin".into(),
        description: format!(
            "admin commands ({COMMANDS_PER_SEC}/s: show info, show stat, set server weight, \
             get weight) during HTTP keep-alive saturation, {} connections",
            o.connections
        ),
        mode: "http".into(),
        unit: "command".into(),
        ..ScenarioReport::default()
    };
    let origin = match Origin::start(
        b.pool,
        SocketAddr::from(([127, 0, 0, 1], 0)),
        Kind::Http { body: o.body },
    ) {
        Ok(origin) => origin,
        Err(e) => {
            report.notes.push(format!("cannot start the origin: {e}"));
            return report;
        }
    };
    let setup = Setup {
        mode: Mode::Http,
        servers: vec![origin.addr],
        admin: true,
        idle_timeout: crate::contender::IDLE_TIMEOUT,
        tls: None,
    };
    let mut running = Vec::new();
    for &name in b.contenders.iter().filter(|&&c| c != Name::Direct) {
        if name == Name::Nginx {
            let reason = "skipped (nginx has no admin socket)".to_string();
            b.progress.line(&format!("admin: nginx: {reason}"));
            report.skipped.push(Skip {
                contender: name.to_string(),
                reason,
            });
            continue;
        }
        if let Some(r) = start_contender(b, name, &setup, "admin", &mut report.skipped) {
            running.push(r);
        }
    }
    let mut rounds: Vec<Vec<Round>> = running.iter().map(|_| Vec::new()).collect();
    for _ in 0..o.repeat.max(1) {
        for (i, r) in running.iter().enumerate() {
            rounds[i].push(one_round(b, r));
        }
    }
    for (r, rounds) in running.iter().zip(rounds) {
        report.admin.push(summarize(r.name, rounds));
    }
    for r in running {
        r.stop();
    }
    drop(origin);
    report
}

/// One round's figures.
struct Round {
    quiet_rps: f64,
    loaded_rps: f64,
    replies: Recorder,
    errors: u64,
    first_error: Option<String>,
}

fn one_round(b: &Bench, r: &Running) -> Round {
    let o = b.opts;
    let spec = LoadSpec {
        target: r.addr,
        connections: o.connections,
        workload: Workload::Http {
            keep_alive: true,
            body: o.body as u64,
        },
        pacing: Pacing::Closed,
        warmup: o.warmup,
        duration: o.duration,
        timeout: o.timeout,
        tls: None,
    };
    let quiet = measure(b, r, &spec, "admin quiet");
    let socket = r.admin.clone().expect("asked for an admin socket");
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let timeout = o.timeout * 5;
    let window_start = Instant::now() + o.warmup;
    let driver = std::thread::spawn(move || drive(&socket, &st, timeout, window_start));
    let loaded = measure(b, r, &spec, "admin loaded");
    stop.store(true, Ordering::Relaxed);
    let (replies, errors, first_error) = driver.join().unwrap_or_else(|_| {
        (
            Recorder::new(),
            1,
            Some("the admin driver panicked".to_string()),
        )
    });
    Round {
        quiet_rps: quiet.requests_per_sec.unwrap_or(0.0),
        loaded_rps: loaded.requests_per_sec.unwrap_or(0.0),
        replies,
        errors,
        first_error,
    }
}

/// Issues commands at [`COMMANDS_PER_SEC`] until `stop`; records replies completed after
/// `window_start` (the load's measured window).
fn drive(
    socket: &Path,
    stop: &AtomicBool,
    timeout: Duration,
    window_start: Instant,
) -> (Recorder, u64, Option<String>) {
    let every = Duration::from_secs(1) / COMMANDS_PER_SEC;
    let mut replies = Recorder::new();
    let (mut errors, mut first_error) = (0u64, None);
    let mut next = Instant::now();
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now < next {
            std::thread::sleep(next - now);
            continue;
        }
        next += every;
        let weight = if i % 8 < 4 { 50 } else { 100 };
        let cmd = COMMANDS[i % COMMANDS.len()].replace("{w}", &weight.to_string());
        i += 1;
        let sent = Instant::now();
        match command(socket, &cmd, timeout) {
            Ok(_) if sent >= window_start => replies.complete(sent.elapsed()),
            Ok(_) => {}
            Err(e) => {
                errors += 1;
                first_error.get_or_insert(format!("{cmd}: {e}"));
            }
        }
    }
    (replies, errors, first_error)
}

/// One command on a fresh connection; the reply is complete when the server closes.
fn command(socket: &Path, cmd: &str, timeout: Duration) -> std::io::Result<String> {
    let mut s = UnixStream::connect(socket)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    s.write_all(format!("{cmd}\n").as_bytes())?;
    let mut reply = String::new();
    s.read_to_string(&mut reply)?;
    if reply.starts_with("Unknown command") || reply.contains("Permission denied") {
        return Err(std::io::Error::other(
            reply.lines().next().unwrap_or("").to_string(),
        ));
    }
    Ok(reply)
}

fn summarize(name: Name, rounds: Vec<Round>) -> AdminResult {
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    let quiet = median(rounds.iter().map(|r| r.quiet_rps).collect());
    let loaded = median(rounds.iter().map(|r| r.loaded_rps).collect());
    let replies = Recorder::merged(rounds.iter().map(|r| r.replies.clone()));
    AdminResult {
        contender: name.to_string(),
        rounds: rounds.len(),
        commands: replies.ops,
        reply_us: replies.percentiles(),
        quiet_rps: quiet,
        loaded_rps: loaded,
        cost_pct: if quiet > 0.0 {
            (1.0 - loaded / quiet) * 100.0
        } else {
            0.0
        },
        errors: rounds.iter().map(|r| r.errors).sum(),
        first_error: rounds.into_iter().find_map(|r| r.first_error),
    }
}
