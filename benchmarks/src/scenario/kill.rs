//! kill: how fast `shutdown sessions server app/s1` ends s1's streams, and whether it
//! touches anything else.
//!
//! Two echo origins, s1 and s2, each announce themselves with a one-byte banner, so the
//! client knows where each stream landed through the proxy. The harness holds N live
//! streams (half on each server) and runs closed-loop round trips on up to
//! `--connections` of s2's streams. Each iteration sends the command on the admin socket
//! (HAProxy: `stats socket … level admin`; percore: `global.admin.socket`), times the
//! complete reply, times every s1 stream's EOF/RST, then re-opens s1's streams (new
//! connections that land on s2 are closed again: round-robin alternates). Any failure on
//! an s2 stream — an error in the load, EOF or bytes on an idle one, or a failed echo when
//! they are all checked at the end — is collateral damage and must be zero.
//!
//! Bounds: `--kill-iterations` commands or 6 × `--duration`, whichever comes first (an
//! iteration with 2000 streams takes about 0.35 s here, mostly re-opening s1's streams);
//! 10 s per command; N ≤ maxconn − 200.
//!
//! All timestamps are taken by the harness's single client thread, which also runs the
//! origins: "all closed" includes the time this thread needs to process N/2 client EOFs
//! and N/2 origin-side closes, identically for every contender.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::{start_contender, Bench};
use crate::contender::{Mode, Name, Setup};
use crate::origin::{Kind, Origin};
use crate::record::Recorder;
use crate::report::{KillResult, ScenarioReport, Skip};

/// The command under test.
const COMMAND: &str = "shutdown sessions server app/s1\n";

/// Limit for one admin command.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// How long after the reply an s1 stream may take to see its end.
const CLOSE_WINDOW: Duration = Duration::from_secs(1);

/// Connections opening at once while (re)building the stream set.
const CONNECTS_IN_FLIGHT: usize = 256;

/// Round-trip message on s2's loaded streams.
const PING: [u8; 64] = [b'k'; 64];

/// Runs kill for every proxy contender that has an admin socket.
pub fn run(b: &Bench) -> ScenarioReport {
    let o = b.opts;
    let limit = b.host.maxconn().saturating_sub(200) as usize;
    let n = o.kill_streams.clamp(2, limit.max(2));
    let mut report = ScenarioReport {
        name: "kill".into(),
        description: format!(
            "shutdown sessions server app/s1 with {n} live TCP streams over s1 and s2, \
             closed-loop echo on up to {} of s2's streams",
            o.connections
        ),
        mode: "tcp".into(),
        unit: "command".into(),
        ..ScenarioReport::default()
    };
    if n < o.kill_streams {
        report.notes.push(format!(
            "{} streams asked, {n} used: each needs two descriptors in the proxy and two here, and ulimit -n is {}",
            o.kill_streams, b.host.nofile
        ));
    }
    let start = |banner: &[u8]| {
        Origin::start(
            b.pool,
            SocketAddr::from(([127, 0, 0, 1], 0)),
            Kind::Echo {
                banner: banner.to_vec(),
            },
        )
    };
    let (s1, s2) = match (start(b"1"), start(b"2")) {
        (Ok(s1), Ok(s2)) => (s1, s2),
        (Err(e), _) | (_, Err(e)) => {
            report.notes.push(format!("cannot start the origins: {e}"));
            return report;
        }
    };
    let setup = Setup {
        mode: Mode::Tcp,
        servers: vec![s1.addr, s2.addr],
        admin: true,
        // Idle s1/s2 streams live as long as the run: no proxy timeout may end them.
        idle_timeout: kill_bound(o.duration) + COMMAND_TIMEOUT + Duration::from_secs(60),
        tls: None,
    };
    for &name in b.contenders.iter().filter(|&&c| c != Name::Direct) {
        if name == Name::Nginx {
            let reason =
                "skipped (nginx has no admin command to shut down a server's sessions)".to_string();
            b.progress.line(&format!("kill: nginx: {reason}"));
            report.skipped.push(Skip {
                contender: name.to_string(),
                reason,
            });
            continue;
        }
        let Some(running) = start_contender(b, name, &setup, "kill", &mut report.skipped) else {
            continue;
        };
        let admin = running.admin.clone().expect("asked for an admin socket");
        let r = drive_on_pool(b, name, running.addr, admin, n);
        if r.iterations < o.kill_iterations {
            report.notes.push(format!(
                "{name}: {} of {} iterations within 6 × --duration; raise --duration for more",
                r.iterations, o.kill_iterations
            ));
        }
        report.kill.push(r);
        running.stop();
    }
    report
}

/// Longest a kill run may last: 6 × `--duration`, at least 5 s.
pub fn kill_bound(duration: Duration) -> Duration {
    (duration * 6).max(Duration::from_secs(5))
}

/// Runs the driver on the first worker and shows its progress.
fn drive_on_pool(b: &Bench, name: Name, addr: SocketAddr, admin: PathBuf, n: usize) -> KillResult {
    let o = b.opts;
    let done = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    let plan = Plan {
        addr,
        admin,
        streams: n,
        load_connections: o.connections,
        iterations: o.kill_iterations,
        deadline: Instant::now() + kill_bound(o.duration),
        timeout: o.timeout,
        done: done.clone(),
    };
    let hard_limit = plan.deadline + COMMAND_TIMEOUT + Duration::from_secs(60);
    b.progress
        .step(&format!("kill · {name} · opening {n} streams"));
    b.pool.spawn(
        0,
        Box::new(move || {
            Box::pin(async move {
                let _ = tx.send(drive(plan).await);
            })
        }),
    );
    loop {
        match rx.recv_timeout(Duration::from_millis(250)) {
            Ok(mut r) => {
                r.contender = name.to_string();
                return r;
            }
            Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < hard_limit => {
                b.progress.tick(&format!(
                    "kill · {name} · iteration {}/{}",
                    done.load(Ordering::Relaxed),
                    o.kill_iterations
                ));
            }
            Err(_) => {
                return KillResult {
                    contender: name.to_string(),
                    command_errors: 1,
                    first_reply_text: Some("the kill driver did not finish".into()),
                    ..KillResult::default()
                }
            }
        }
    }
}

struct Plan {
    addr: SocketAddr,
    admin: PathBuf,
    streams: usize,
    load_connections: usize,
    iterations: usize,
    deadline: Instant,
    timeout: Duration,
    done: Arc<AtomicUsize>,
}

/// Shared between the driver and its stream tasks (all on one thread).
#[derive(Default)]
struct Counters {
    collateral: Cell<u64>,
    round_trips: Cell<u64>,
}

async fn drive(plan: Plan) -> KillResult {
    let want1 = plan.streams / 2;
    let want2 = plan.streams - want1;
    let mut result = KillResult {
        streams: plan.streams,
        s1_streams: want1,
        ..KillResult::default()
    };
    let (mut s1, s2) = match open_streams(plan.addr, want1, want2, plan.deadline).await {
        Ok(sets) => sets,
        Err(e) => {
            result.command_errors = 1;
            result.first_reply_text = Some(e);
            return result;
        }
    };
    let counters = Rc::new(Counters::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let loaded = plan.load_connections.min(s2.len());
    let mut s2_tasks = Vec::new();
    for (i, stream) in s2.into_iter().enumerate() {
        let task = if i < loaded {
            tokio::task::spawn_local(load_stream(
                stream,
                counters.clone(),
                stop_rx.clone(),
                plan.timeout,
            ))
        } else {
            tokio::task::spawn_local(idle_stream(stream, counters.clone(), stop_rx.clone()))
        };
        s2_tasks.push(task);
    }

    // s2's load and the iterations start together; the s2 rate is over this span.
    let started = Instant::now();
    let mut reply_us = Recorder::new();
    let mut closed_us = Recorder::new();
    while result.iterations < plan.iterations && Instant::now() < plan.deadline {
        let iteration = kill_once(&plan.admin, std::mem::take(&mut s1)).await;
        result.iterations += 1;
        plan.done.store(result.iterations, Ordering::Relaxed);
        result.s1_expected += want1 as u64;
        result.s1_closed_within_1s += iteration.closed_in_window;
        match iteration.reply {
            Ok(latency) => reply_us.complete(latency),
            Err(text) => {
                result.command_errors += 1;
                result.first_reply_text.get_or_insert(text);
            }
        }
        if let Some(all) = iteration.all_closed {
            closed_us.complete(all);
        }
        match open_streams(plan.addr, want1, 0, plan.deadline + COMMAND_TIMEOUT).await {
            Ok((fresh, _)) => s1 = fresh,
            Err(e) => {
                result.first_reply_text.get_or_insert(e);
                break;
            }
        }
    }

    result.duration_s = started.elapsed().as_secs_f64();
    let _ = stop_tx.send(true);
    let mut survivors = Vec::new();
    for t in s2_tasks {
        if let Ok(Some(stream)) = t.await {
            survivors.push(stream);
        }
    }
    // Every s2 stream must still carry bytes both ways.
    for mut stream in survivors {
        let ok = tokio::time::timeout(plan.timeout, ping(&mut stream)).await;
        if !matches!(ok, Ok(Ok(()))) {
            counters.collateral.set(counters.collateral.get() + 1);
        }
    }
    result.s2_collateral_errors = counters.collateral.get();
    result.s2_round_trips = counters.round_trips.get();
    result.reply_us = reply_us.percentiles();
    result.all_closed_us = closed_us.percentiles();
    result
}

/// One command against the current s1 streams.
struct Iteration {
    /// Reply latency, or what went wrong.
    reply: Result<Duration, String>,
    /// s1 streams that ended no later than 1 s after the reply.
    closed_in_window: u64,
    /// From the command to the last s1 stream's end, if all ended in the window.
    all_closed: Option<Duration>,
}

async fn kill_once(admin: &Path, s1: Vec<TcpStream>) -> Iteration {
    let total = s1.len();
    let ends: Rc<RefCell<Vec<Option<Instant>>>> = Rc::new(RefCell::new(vec![None; total]));
    let ended = Rc::new(Cell::new(0usize));
    let watchers: Vec<_> = s1
        .into_iter()
        .enumerate()
        .map(|(i, mut stream)| {
            let ends = ends.clone();
            let ended = ended.clone();
            tokio::task::spawn_local(async move {
                let mut buf = [0u8; 256];
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => continue,
                    }
                }
                ends.borrow_mut()[i] = Some(Instant::now());
                ended.set(ended.get() + 1);
            })
        })
        .collect();
    // Let every watcher reach its first read before the clock starts.
    tokio::task::yield_now().await;

    let (sent, reply) = timed_command(admin).await;
    let replied = Instant::now();
    let window_end = replied + CLOSE_WINDOW;
    while ended.get() < total && Instant::now() < window_end {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for w in &watchers {
        w.abort();
    }
    let ends = ends.borrow();
    let closed_in_window = ends.iter().flatten().filter(|&&t| t <= window_end).count() as u64;
    let all_closed = if closed_in_window == total as u64 {
        ends.iter()
            .flatten()
            .max()
            .map(|&last| last.saturating_duration_since(sent))
    } else {
        None
    };
    Iteration {
        reply,
        closed_in_window,
        all_closed,
    }
}

/// Sends [`COMMAND`] from its own OS thread and times the reply there: the load's event
/// loop, busy with s2's echoes and s1's closes, would otherwise add its own queueing to
/// every contender's reply time. Returns when the command was sent and its outcome.
async fn timed_command(admin: &Path) -> (Instant, Result<Duration, String>) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let socket = admin.to_path_buf();
    std::thread::spawn(move || {
        let sent = Instant::now();
        let reply = match blocking_command(&socket, COMMAND) {
            Ok(text) if text.trim().is_empty() => Ok(sent.elapsed()),
            Ok(text) => Err(format!("reply: {:?}", text.trim())),
            Err(e) => Err(format!("admin socket: {e}")),
        };
        let _ = tx.send((sent, reply));
    });
    match rx.await {
        Ok(outcome) => outcome,
        Err(_) => (Instant::now(), Err("admin thread failed".into())),
    }
}

/// Sends one command on a fresh admin connection and reads the reply: complete at EOF or
/// at the empty line that ends every HAProxy CLI answer. Each read and write is bounded by
/// [`COMMAND_TIMEOUT`].
fn blocking_command(socket: &Path, command: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut conn = UnixStream::connect(socket)?;
    conn.set_read_timeout(Some(COMMAND_TIMEOUT))?;
    conn.set_write_timeout(Some(COMMAND_TIMEOUT))?;
    conn.write_all(command.as_bytes())?;
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            break;
        }
        text.extend_from_slice(&buf[..n]);
        if text == b"\n" || text.ends_with(b"\n\n") {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&text).into_owned())
}

/// Opens connections until `want1` landed on s1 and `want2` on s2 (by their banner);
/// connections that land where none is needed are reset at once.
async fn open_streams(
    addr: SocketAddr,
    want1: usize,
    want2: usize,
    deadline: Instant,
) -> Result<(Vec<TcpStream>, Vec<TcpStream>), String> {
    let mut s1 = Vec::with_capacity(want1);
    let mut s2 = Vec::with_capacity(want2);
    let mut failures = 0usize;
    while s1.len() < want1 || s2.len() < want2 {
        if Instant::now() >= deadline {
            return Err(format!(
                "could not open the streams in time ({}/{want1} on s1, {}/{want2} on s2, {failures} failed)",
                s1.len(),
                s2.len()
            ));
        }
        let need1 = want1 - s1.len();
        let need2 = want2 - s2.len();
        // Round-robin alternates servers: when only one side is short, open twice as many.
        let batch = if need1 == 0 || need2 == 0 {
            2 * (need1 + need2)
        } else {
            need1 + need2
        };
        let batch = batch.min(CONNECTS_IN_FLIGHT);
        let tasks: Vec<_> = (0..batch)
            .map(|_| tokio::task::spawn_local(connect_with_banner(addr)))
            .collect();
        for t in tasks {
            match t.await {
                Ok(Some((b'1', s))) if s1.len() < want1 => s1.push(s),
                Ok(Some((b'2', s))) if s2.len() < want2 => s2.push(s),
                Ok(Some((_, s))) => {
                    let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
                }
                Ok(None) | Err(_) => failures += 1,
            }
        }
    }
    Ok((s1, s2))
}

async fn connect_with_banner(addr: SocketAddr) -> Option<(u8, TcpStream)> {
    let attempt = async {
        let mut s = TcpStream::connect(addr).await.ok()?;
        let _ = s.set_nodelay(true);
        let mut banner = [0u8; 1];
        s.read_exact(&mut banner).await.ok()?;
        Some((banner[0], s))
    };
    tokio::time::timeout(Duration::from_secs(2), attempt)
        .await
        .ok()
        .flatten()
}

async fn ping(stream: &mut TcpStream) -> std::io::Result<()> {
    stream.write_all(&PING).await?;
    let mut back = [0u8; PING.len()];
    stream.read_exact(&mut back).await?;
    if back != PING {
        return Err(std::io::Error::other("echo mismatch"));
    }
    Ok(())
}

/// Closed-loop round trips on an s2 stream until told to stop; returns the stream if it
/// is still healthy.
async fn load_stream(
    mut stream: TcpStream,
    counters: Rc<Counters>,
    stop: watch::Receiver<bool>,
    timeout: Duration,
) -> Option<TcpStream> {
    loop {
        if *stop.borrow() {
            return Some(stream);
        }
        match tokio::time::timeout(timeout, ping(&mut stream)).await {
            Ok(Ok(())) => counters.round_trips.set(counters.round_trips.get() + 1),
            _ => {
                counters.collateral.set(counters.collateral.get() + 1);
                return None;
            }
        }
    }
}

/// Watches an idle s2 stream: anything arriving (EOF, reset, bytes) is collateral.
async fn idle_stream(
    mut stream: TcpStream,
    counters: Rc<Counters>,
    mut stop: watch::Receiver<bool>,
) -> Option<TcpStream> {
    let mut buf = [0u8; 64];
    let stopped = tokio::select! {
        _ = stream.read(&mut buf) => false,
        _ = stop.wait_for(|&s| s) => true,
    };
    if stopped {
        Some(stream)
    } else {
        counters.collateral.set(counters.collateral.get() + 1);
        None
    }
}
