//! The soak's fault schedule, carried out on a thread of its own while the traffic runs:
//! one scheduled fault every `every`, cycling through [`Fault::SCHEDULED`], each recorded as
//! a [`Window`] (the time span in which the failures it causes are expected). The origins
//! are child processes ([`OriginProc`]) so that a kill and a stall are real ones.

use std::net::{SocketAddr, TcpStream as StdTcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::plan::{End, Fault, Kind, Sent, Window};
use super::traffic::{io_end, parse_response, TrafficPlan};
use crate::child::Child;

/// How long s1 stays dead before its restart.
const KILL_DOWN: Duration = Duration::from_secs(1);
/// How long s2 stays stopped: shorter than the server timeout, so a stall alone fails
/// nothing.
const STALL: Duration = Duration::from_millis(1500);
/// How long s2 stays in maintenance.
const MAINT: Duration = Duration::from_secs(1);
/// How long the descriptor burst's streams are held open.
const BURST_HOLD: Duration = Duration::from_secs(1);
/// Connections opening at once during the burst.
const BURST_IN_FLIGHT: usize = 256;
/// Slowloris connections per fault.
const SLOW_CONNS: usize = 16;
/// Pause between two bytes of a slowloris head.
const SLOW_BYTE_EVERY: Duration = Duration::from_millis(200);
/// How long an origin may take to accept again after a restart.
const ORIGIN_START_LIMIT: Duration = Duration::from_secs(5);
/// Limit of one admin command.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(5);

/// One soak origin process (s1 or s2), restartable on the same ports and record file.
pub struct OriginProc {
    /// `s1` or `s2`.
    pub name: String,
    /// HTTP port.
    pub http: SocketAddr,
    /// TCP port.
    pub tcp: SocketAddr,
    /// Record file (appended to across restarts).
    pub record: PathBuf,
    log: PathBuf,
    cpus: Vec<usize>,
    child: Option<Child>,
}

impl OriginProc {
    /// An origin not started yet, with its files in `dir`, pinned to `cpus`.
    pub fn new(name: &str, dir: &Path, cpus: &[usize]) -> std::io::Result<OriginProc> {
        Ok(OriginProc {
            name: name.into(),
            http: crate::contender::free_port()?,
            tcp: crate::contender::free_port()?,
            record: dir.join(format!("{name}.record")),
            log: dir.join(format!("{name}.log")),
            cpus: cpus.to_vec(),
            child: None,
        })
    }

    /// Starts the process (this very program, `soak-origin`) and waits until it accepts.
    pub fn start(&mut self) -> Result<(), String> {
        let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
        let mut cmd = Command::new(exe);
        cmd.arg("soak-origin")
            .arg("--http")
            .arg(self.http.to_string())
            .arg("--tcp")
            .arg(self.tcp.to_string())
            .arg("--name")
            .arg(&self.name)
            .arg("--record")
            .arg(&self.record);
        let mut child = Child::spawn(
            &self.name,
            cmd,
            &self.cpus,
            self.log.clone(),
            Signal::SIGTERM,
        )
        .map_err(|e| format!("{}: {e}", self.name))?;
        let (http, tcp) = (self.http, self.tcp);
        child
            .wait_ready(ORIGIN_START_LIMIT, |_| accepts(http) && accepts(tcp))
            .map_err(|e| e.text)?;
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILL, and the process reaped.
    pub fn kill(&mut self) {
        if let Some(c) = self.child.take() {
            let _ = c.signal_group(Signal::SIGKILL);
            c.stop();
        }
    }

    /// Sends SIGSTOP or SIGCONT.
    fn signal(&self, sig: Signal) -> Result<(), String> {
        let c = self.child.as_ref().ok_or("origin not running")?;
        c.signal_group(sig).map_err(|e| format!("{sig}: {e}"))
    }
}

fn accepts(addr: SocketAddr) -> bool {
    StdTcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// What the fault thread needs besides the origins.
pub struct FaultPlan {
    /// Ids, addresses, clock and timeouts, shared with the traffic.
    pub traffic: TrafficPlan,
    /// Pause between two scheduled faults.
    pub every: Duration,
    /// The admin socket.
    pub admin: PathBuf,
    /// Streams the descriptor burst opens.
    pub burst: usize,
    /// How long a slowloris connection may go unanswered: past it, the proxy never cut it.
    pub slow_limit: Duration,
    /// Set as the first descriptor burst starts: the RSS sampled until then is the one
    /// the end is compared with.
    pub burst_started: Arc<AtomicBool>,
}

/// What the fault thread did.
#[derive(Default)]
pub struct FaultRun {
    /// Every scheduled fault, in order.
    pub windows: Vec<Window>,
    /// The slowloris ids.
    pub slow: Vec<Sent>,
    /// Burst streams opened, and attempts that failed.
    pub burst_opened: u64,
    /// Burst connections that could not be opened within 2 s.
    pub burst_failed: u64,
}

/// Carries out the schedule until the traffic's end. `reload` reloads the proxy.
pub fn run(
    plan: &FaultPlan,
    origins: &mut [OriginProc; 2],
    reload: &mut dyn FnMut() -> Result<(), String>,
) -> FaultRun {
    let mut out = FaultRun::default();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            out.windows.push(Window {
                fault: Fault::SCHEDULED[0],
                start_ms: 0,
                end_ms: 0,
                error: Some(format!("no runtime for the fault thread: {e}")),
            });
            return out;
        }
    };
    let local = tokio::task::LocalSet::new();
    let t = &plan.traffic;
    for fault in Fault::SCHEDULED.iter().cycle() {
        std::thread::sleep(plan.every);
        // A fault starts only if its window can end before the traffic does.
        if Instant::now() + plan.every + plan.slow_limit >= t.until {
            break;
        }
        let start = Instant::now();
        let error = carry_out(*fault, plan, origins, reload, (&rt, &local), &mut out).err();
        out.windows.push(Window {
            fault: *fault,
            start_ms: t.ms(start),
            end_ms: t.ms(Instant::now()),
            error,
        });
    }
    out
}

/// One scheduled fault; the burst's and slowloris's figures go to `out`.
fn carry_out(
    fault: Fault,
    plan: &FaultPlan,
    origins: &mut [OriginProc; 2],
    reload: &mut dyn FnMut() -> Result<(), String>,
    (rt, local): (&tokio::runtime::Runtime, &tokio::task::LocalSet),
    out: &mut FaultRun,
) -> Result<(), String> {
    let t = &plan.traffic;
    match fault {
        Fault::OriginKill => {
            origins[0].kill();
            std::thread::sleep(KILL_DOWN);
            origins[0].start()
        }
        Fault::OriginStall => stall(&origins[1]),
        Fault::ShutdownSessions => admin_quiet(&plan.admin, "shutdown sessions server app/s1"),
        Fault::Maint => maint(&plan.admin),
        Fault::Reload => reload(),
        Fault::FdBurst => {
            plan.burst_started.store(true, Ordering::Relaxed);
            let (opened, failed) = local.block_on(rt, burst(t.tcp, plan.burst));
            out.burst_opened += opened;
            out.burst_failed += failed;
            Ok(())
        }
        Fault::Slowloris => {
            out.slow
                .extend(local.block_on(rt, slowloris(t, plan.slow_limit)));
            Ok(())
        }
        other => Err(format!("{} is not a scheduled fault", other.as_str())),
    }
}

fn stall(origin: &OriginProc) -> Result<(), String> {
    origin.signal(Signal::SIGSTOP)?;
    std::thread::sleep(STALL);
    origin.signal(Signal::SIGCONT)
}

fn maint(admin: &Path) -> Result<(), String> {
    admin_quiet(admin, "set server app/s2 state maint")?;
    std::thread::sleep(MAINT);
    admin_quiet(admin, "set server app/s2 state ready")
}

/// A command whose success is an empty reply.
fn admin_quiet(admin: &Path, cmd: &str) -> Result<(), String> {
    let reply = admin_command(admin, cmd)?;
    if reply.trim().is_empty() {
        Ok(())
    } else {
        Err(format!("{cmd}: {:?}", reply.trim()))
    }
}

/// One command on a fresh admin connection; the reply is complete when the server closes.
pub fn admin_command(admin: &Path, cmd: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    let run = || -> std::io::Result<String> {
        let mut s = std::os::unix::net::UnixStream::connect(admin)?;
        s.set_read_timeout(Some(ADMIN_TIMEOUT))?;
        s.write_all(format!("{cmd}\n").as_bytes())?;
        let mut reply = String::new();
        s.read_to_string(&mut reply)?;
        Ok(reply)
    };
    run().map_err(|e| format!("{cmd}: {e}"))
}

/// Opens `n` TCP streams through the proxy (each holds a client and a server descriptor
/// there), holds them, closes them. Returns (opened, failed).
async fn burst(addr: SocketAddr, n: usize) -> (u64, u64) {
    let mut held = Vec::with_capacity(n);
    let mut failed = 0u64;
    while held.len() + (failed as usize) < n {
        let batch = (n - held.len() - failed as usize).min(BURST_IN_FLIGHT);
        let tasks: Vec<_> = (0..batch)
            .map(|_| {
                tokio::task::spawn_local(tokio::time::timeout(
                    Duration::from_secs(2),
                    TcpStream::connect(addr),
                ))
            })
            .collect();
        for t in tasks {
            match t.await {
                Ok(Ok(Ok(s))) => held.push(s),
                _ => failed += 1,
            }
        }
    }
    tokio::time::sleep(BURST_HOLD).await;
    (held.len() as u64, failed)
}

/// [`SLOW_CONNS`] connections each trickling a head; each must be answered (408) or closed
/// by the proxy within `limit`.
async fn slowloris(t: &TrafficPlan, limit: Duration) -> Vec<Sent> {
    let tasks: Vec<_> = (0..SLOW_CONNS)
        .filter_map(|_| t.next_id())
        .map(|id| {
            let t = t.clone();
            tokio::task::spawn_local(async move { slow_one(&t, id, limit).await })
        })
        .collect();
    let mut out = Vec::new();
    for task in tasks {
        if let Ok(sent) = task.await {
            out.push(sent);
        }
    }
    out
}

async fn slow_one(t: &TrafficPlan, id: u64, limit: Duration) -> Sent {
    let start = Instant::now();
    let end = match tokio::time::timeout(limit, trickle(t.http, id)).await {
        Ok(end) => end,
        Err(_) => End::Timeout,
    };
    Sent {
        id,
        kind: Kind::Slow,
        keep_alive: false,
        fault: Some(Fault::Slowloris),
        start_ms: t.ms(start),
        end_ms: t.ms(Instant::now()),
        micros: start.elapsed().as_micros() as u64,
        end,
    }
}

/// Sends a head one byte every [`SLOW_BYTE_EVERY`] while reading what the proxy answers.
async fn trickle(addr: SocketAddr, id: u64) -> End {
    let Ok(mut c) = TcpStream::connect(addr).await else {
        return End::Connect;
    };
    let head = format!(
        "GET /soak/slow/{id} HTTP/1.1\r\nhost: soak\r\nx-id: {id}\r\nx-pad: {}\r\n\r\n",
        "a".repeat(64)
    );
    let head = head.as_bytes();
    let (mut rd, mut wr) = c.split();
    let mut got = Vec::new();
    let mut sent = 0;
    let mut tick = tokio::time::interval(SLOW_BYTE_EVERY);
    let ended = loop {
        tokio::select! {
            r = rd.read_buf(&mut got) => match r {
                Ok(0) => break End::Eof,
                Ok(_) => {}
                Err(e) => break io_end(e),
            },
            _ = tick.tick(), if sent < head.len() => {
                sent = match wr.write_all(&head[sent..sent + 1]).await {
                    Ok(()) => sent + 1,
                    // The proxy closed its side: what it sent before is still to be read.
                    Err(_) => head.len(),
                };
            }
        }
    };
    match parse_response(&got) {
        Ok(Some((status, ..))) => End::Status(status),
        _ => ended,
    }
}
