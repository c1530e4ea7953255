//! Process orchestration for `percore run`: bind, start shards and the control plane, wait
//! for `ready`, handle signals, stop.
//!
//! Listening sockets are created here, on the main thread, before any shard starts: one
//! SO_REUSEPORT socket per frontend address per shard. Doing it up front means a port
//! already in use is reported before anything runs, and `:0` (ephemeral) binds resolve to
//! one port shared by every shard. Each shard then accepts on its own sockets only. A
//! process started by an upgrade takes the old process's sockets of a bind instead of
//! binding new ones (`crate::upgrade`).

use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::sync::mpsc;

use nix::sys::signal::{SigSet, Signal};
use percore_conf::{Config, HostInfo};
use socket2::{Domain, Protocol, Socket, Type};
use thingbuf::mpsc::errors::TrySendError;

use crate::control::{self, ProcessRequest, ProcessStatus, ShardLink};
use crate::ids::ShardId;
use crate::logging::{AccessLog, AccessLogWriter, EventLog};
use crate::shard::{self, BoundListener, ShardSpec};
use crate::upgrade::Inherited;

/// Why `percore run` could not start or did not stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A frontend address could not be bound.
    #[error("frontend {frontend}: cannot bind {address}: {source}")]
    Bind {
        /// Frontend name.
        frontend: String,
        /// Address from the configuration.
        address: SocketAddr,
        /// OS error.
        source: std::io::Error,
    },
    /// Not enough locked memory for io_uring.
    #[error("{0}")]
    MemLock(String),
    /// A thread could not be created.
    #[error("cannot start thread: {0}")]
    Thread(std::io::Error),
    /// A shard or the control plane failed.
    #[error("{0}")]
    Failed(String),
}

/// CPUs the process may run on (its affinity mask), which `shards: auto` takes one shard
/// each. `core_affinity` reads the calling thread's mask (`sched_getaffinity(0)`); called
/// on the main thread before any thread is pinned, that is the process's, as `taskset` set it.
pub fn host_info() -> HostInfo {
    let cpus = match core_affinity::get_core_ids() {
        Some(ids) => ids.into_iter().map(|core| core.id).collect(),
        None => (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect(),
    };
    HostInfo { cpus }
}

/// A running proxy: the handle `percore run` and `percore demo` wait on.
pub struct Running {
    status: mpsc::Receiver<ProcessStatus>,
    requests: thingbuf::mpsc::Sender<ProcessRequest>,
    threads: Vec<std::thread::JoinHandle<()>>,
    /// The access-log writer thread, finished after the shards so that no line is lost.
    access_log: Option<AccessLogWriter>,
    /// Actual listening addresses `(frontend name, address)` after ephemeral ports resolved.
    pub listening: Vec<(String, SocketAddr)>,
}

impl Running {
    /// Asks for a graceful stop (as SIGTERM does).
    pub fn request_stop(&self) {
        let _ = self.requests.try_send(ProcessRequest::Stop);
    }

    /// Waits for the end of the process; `Ok` after a clean stop.
    pub fn wait(self) -> Result<(), RunError> {
        let result = loop {
            match self.status.recv() {
                Ok(ProcessStatus::Stopped) => break Ok(()),
                Ok(ProcessStatus::Failed(m)) => break Err(RunError::Failed(m)),
                Ok(ProcessStatus::Ready) => {}
                Err(_) => break Err(RunError::Failed("control plane ended".into())),
            }
        };
        if result.is_ok() {
            for t in self.threads {
                let _ = t.join();
            }
        }
        // After a clean stop every shard has ended: the rings hold their last lines.
        if let Some(w) = self.access_log {
            w.finish();
        }
        result
    }
}

/// The signals `percore run` and `percore demo` handle, with what each asks of the control
/// plane. Every other signal keeps its default action (SIGPIPE stays ignored, as the Rust
/// runtime sets it: a closed peer or output is an EPIPE to handle, never a kill).
const SIGNALS: [(Signal, ProcessRequest); 7] = [
    (Signal::SIGTERM, ProcessRequest::Stop),
    (Signal::SIGINT, ProcessRequest::Stop),
    (Signal::SIGUSR1, ProcessRequest::Stop),
    (Signal::SIGHUP, ProcessRequest::Reload),
    (Signal::SIGUSR2, ProcessRequest::Upgrade),
    (Signal::SIGTTOU, ProcessRequest::Pause),
    (Signal::SIGTTIN, ProcessRequest::Resume),
];

/// The signals as `percore --help` and the README describe them.
pub const SIGNALS_HELP: &str = "\
Signals (percore run, percore demo):
  SIGUSR1          soft stop, as HAProxy: stop accepting on every listener, let live streams
                   finish within global.grace, kill the rest, remove the admin socket, exit 0
  SIGTERM, SIGINT  the same graceful stop (HAProxy stops at once on these; global.grace: 0s
                   gives that hard stop)
  SIGHUP           reload the configuration file, as the `reload` admin command
  SIGUSR2          binary upgrade, as `percore ctl upgrade`: start the binary this process
                   was started from, hand it every listening socket and the admin sockets,
                   then soft-stop as SIGUSR1 once it is ready (kept running if it fails)
  SIGTTOU          pause every frontend, as `disable frontend` on each: no new accepts; the
                   listeners stay bound, so new connections wait in their backlog
  SIGTTIN          resume every paused frontend (also those paused by `disable frontend`);
                   connections waiting in the backlog are then served";

/// Blocks the signals of [`SIGNALS`] in the calling thread (and so in every thread started
/// afterwards); [`start`] forwards them to the control plane from a dedicated thread. Must
/// be called before any other thread is started.
pub fn block_signals() -> SigSet {
    let mut set = SigSet::empty();
    for (signal, _) in SIGNALS {
        set.add(signal);
    }
    if let Err(e) = set.thread_block() {
        log::warn!("cannot block signals, they will terminate the process abruptly: {e}");
    }
    set
}

/// Starts shards and the control plane; returns once every shard is accepting. `path` is
/// the file `reload` and SIGHUP read again (`None`: an embedded configuration);
/// `inherited`, the sockets an upgrade handed over (empty otherwise).
pub fn start(
    mut config: Config,
    path: Option<std::path::PathBuf>,
    signals: SigSet,
    mut inherited: Inherited,
) -> Result<Running, RunError> {
    crate::executor::keep_large_allocations_mapped();
    let maxconn = config.global.maxconn;
    if let Some((level, line)) = crate::fds::fit(&mut config).message(maxconn) {
        log::log!(level, "{line}");
    }
    let cpus = config.global.shard_cpus.clone();
    check_memlock(cpus.len() + 1, config.global.tune.io_memory)?;
    let listeners = bind_listeners(&config, cpus.len(), &mut inherited)?;
    for (configured, addr, frontend, _) in std::mem::take(&mut inherited.listeners) {
        log::info!(
            "upgrade: {addr} (frontend {frontend}, bind {configured}) is not in this \
             configuration: closed"
        );
    }
    let listening = log_listening(&config, &listeners);
    let (access_log, shard_logs, events) = start_access_log(&config, cpus.len())?;
    let ticket_keys = crate::tls::ticket::TicketKeys::generate(
        config.global.tune.tls_ticket_rotation,
    )
    .map_err(|_| RunError::Failed("cannot draw TLS ticket keys from the system RNG".into()))?;
    let (links, mut threads) = spawn_shards(&config, &cpus, listeners, shard_logs, &ticket_keys)?;
    let (req_tx, req_rx) = thingbuf::mpsc::channel(16);
    let (status_tx, status_rx) = mpsc::channel();
    let start = control::Start {
        config,
        path,
        exe: std::env::current_exe().ok(),
        admin: inherited,
        upgrade_stop: req_tx.clone(),
        ticket_keys,
    };
    threads
        .push(control::spawn(start, links, events, req_rx, status_tx).map_err(RunError::Thread)?);
    spawn_signal_forwarder(signals, req_tx.clone())?;

    match status_rx.recv() {
        Ok(ProcessStatus::Ready) => {
            log::info!("ready: {} shard(s) on cpu {:?}", cpus.len(), cpus);
            Ok(Running {
                status: status_rx,
                requests: req_tx,
                threads,
                access_log,
                listening,
            })
        }
        Ok(ProcessStatus::Failed(m)) => Err(RunError::Failed(m)),
        Ok(ProcessStatus::Stopped) | Err(_) => Err(RunError::Failed(
            "control plane ended during start-up".into(),
        )),
    }
}

/// Logs each frontend address once (shard 0's sockets: every shard has the same ones) and
/// returns them as `(frontend name, address)`, ephemeral ports resolved.
fn log_listening(config: &Config, listeners: &[Vec<BoundListener>]) -> Vec<(String, SocketAddr)> {
    let mut listening = Vec::new();
    for l in listeners.first().into_iter().flatten() {
        let name = config.frontends[l.frontend].name.clone();
        log::info!("frontend {name} listening on {}", l.addr);
        listening.push((name, l.addr));
    }
    listening
}

/// The log's pieces at start: the writer, each shard's ring end, the control plane's end.
type LogParts = (Option<AccessLogWriter>, Vec<Option<AccessLog>>, EventLog);

/// Starts the log writer when there is something to write (DESIGN §10), with one ring
/// end per shard (every shard gets `None` when the access log is off) and the control
/// plane's [`EventLog`].
fn start_access_log(config: &Config, shards: usize) -> Result<LogParts, RunError> {
    let log = &config.global.log;
    let started = AccessLogWriter::start(log, shards)
        .map_err(|e| RunError::Failed(format!("cannot open the log target: {e}")))?;
    Ok(match started {
        Some((writer, ends)) => {
            let shard_logs = if log.access {
                ends.shards.into_iter().map(Some).collect()
            } else {
                (0..shards).map(|_| None).collect()
            };
            let events = EventLog::new(ends.control, ends.sink_drops, Some(ends.retarget));
            (Some(writer), shard_logs, events)
        }
        None => (
            None,
            (0..shards).map(|_| None).collect(),
            EventLog::default(),
        ),
    })
}

/// Starts one shard thread per CPU of `cpus`, each with its listeners, its access-log end
/// and a fresh pair of rings; returns the control plane's ends of the rings and the threads.
fn spawn_shards(
    config: &Config,
    cpus: &[usize],
    mut listeners: Vec<Vec<BoundListener>>,
    mut shard_logs: Vec<Option<AccessLog>>,
    ticket_keys: &crate::tls::ticket::TicketKeys,
) -> Result<(Vec<ShardLink>, Vec<std::thread::JoinHandle<()>>), RunError> {
    let ring = config.global.tune.control_ring;
    let mut links = Vec::new();
    let mut threads = Vec::new();
    for (i, cpu) in cpus.iter().copied().enumerate() {
        let (cmd_tx, cmd_rx) = thingbuf::mpsc::channel(ring);
        let (evt_tx, evt_rx) = thingbuf::mpsc::channel(ring);
        links.push(ShardLink { cmd_tx, evt_rx });
        let spec = ShardSpec {
            id: ShardId(i as u16),
            cpu,
            shards: cpus.len(),
            config: config.clone(),
            listeners: std::mem::take(&mut listeners[i]),
            cmd_rx,
            evt_tx,
            access_log: shard_logs[i].take(),
            ticket_keys: ticket_keys.clone(),
        };
        threads.push(shard::spawn(spec).map_err(RunError::Thread)?);
    }
    Ok((links, threads))
}

/// Starts thread `percore-signal`, which turns each signal of `signals` into its request of
/// [`SIGNALS`]. It ends once the control plane is gone (`forward` closed).
fn spawn_signal_forwarder(
    signals: SigSet,
    forward: thingbuf::mpsc::Sender<ProcessRequest>,
) -> Result<(), RunError> {
    std::thread::Builder::new()
        .name("percore-signal".into())
        .spawn(move || loop {
            let Ok(signal) = signals.wait() else { continue };
            let Some(request) = request_for(signal) else {
                continue;
            };
            if request == ProcessRequest::Stop {
                log::info!("received {signal}, stopping");
            }
            match forward.try_send(request) {
                Ok(()) => {}
                // A burst of signals while the control plane is busy: drop this one but keep
                // handling later ones (ending the thread would leave every signal blocked).
                Err(TrySendError::Full(_)) => {
                    log::warn!("received {signal}, ignored: earlier signals are still queued");
                }
                Err(_) => break,
            }
        })
        .map_err(RunError::Thread)?;
    Ok(())
}

/// What `signal` asks for, per [`SIGNALS`].
fn request_for(signal: Signal) -> Option<ProcessRequest> {
    SIGNALS
        .iter()
        .find(|(s, _)| *s == signal)
        .map(|(_, request)| *request)
}

/// Creates `shards` listening sockets per frontend address, all in one SO_REUSEPORT group,
/// or takes those `inherited` has for the address (see [`inherited_sockets`]).
fn bind_listeners(
    config: &Config,
    shards: usize,
    inherited: &mut Inherited,
) -> Result<Vec<Vec<BoundListener>>, RunError> {
    let mut out: Vec<Vec<BoundListener>> = (0..shards).map(|_| Vec::new()).collect();
    let backlog = config.global.tune.backlog as i32;
    for (fe_idx, fe) in config.frontends.iter().enumerate() {
        for &configured in &fe.bind {
            let taken = inherited.take_listeners(configured);
            let sockets = if taken.is_empty() {
                bind_address(configured, backlog, shards)
                    .map(|s| s.into_iter().map(|x| vec![x]).collect())
            } else {
                inherited_sockets(taken, backlog, shards)
            };
            let sockets: Vec<Vec<(SocketAddr, OwnedFd)>> =
                sockets.map_err(|source| RunError::Bind {
                    frontend: fe.name.clone(),
                    address: configured,
                    source,
                })?;
            for (shard_out, per_shard) in out.iter_mut().zip(sockets) {
                for (addr, fd) in per_shard {
                    shard_out.push(BoundListener {
                        frontend: fe_idx,
                        configured,
                        addr,
                        fd,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// The old process's sockets of one bind spread over `shards` (one each when the shard
/// counts agree): every one of them is accepted on, since the kernel keeps queueing
/// connections in each socket of the SO_REUSEPORT group. Shards left without one get a new
/// socket that joins the group at the same address.
fn inherited_sockets(
    taken: Vec<(SocketAddr, OwnedFd)>,
    backlog: i32,
    shards: usize,
) -> std::io::Result<Vec<Vec<(SocketAddr, OwnedFd)>>> {
    let addr = taken[0].0;
    let mut out: Vec<Vec<(SocketAddr, OwnedFd)>> = (0..shards).map(|_| Vec::new()).collect();
    let received = taken.len();
    for (i, socket) in taken.into_iter().enumerate() {
        out[i % shards].push(socket);
    }
    for per_shard in out.iter_mut().skip(received) {
        per_shard.push((addr, OwnedFd::from(listen_socket(addr, backlog)?)));
    }
    log::info!("upgrade: {addr}: took {received} socket(s) of the old process");
    Ok(out)
}

/// `shards` listening sockets on `configured`, one SO_REUSEPORT group: the first resolves an
/// ephemeral port, the others join it. Each comes with its bound address.
pub fn bind_address(
    configured: SocketAddr,
    backlog: i32,
    shards: usize,
) -> std::io::Result<Vec<(SocketAddr, OwnedFd)>> {
    let mut addr = configured;
    let mut out = Vec::with_capacity(shards);
    for _ in 0..shards {
        let sock = listen_socket(addr, backlog)?;
        addr = sock
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .unwrap_or(addr);
        out.push((addr, OwnedFd::from(sock)));
    }
    Ok(out)
}

fn listen_socket(addr: SocketAddr, backlog: i32) -> std::io::Result<Socket> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_reuse_port(true)?;
    sock.set_reuse_address(true)?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    // Accepted sockets inherit TCP_NODELAY from the listener (Nagle would add up to 40 ms
    // to small request/response exchanges through the proxy): no setsockopt per connection.
    sock.set_nodelay(true)?;
    sock.bind(&addr.into())?;
    sock.listen(backlog)?;
    Ok(sock)
}

/// Each glommio executor registers `io_memory` in each of its 3 io_uring rings. Without
/// CAP_IPC_LOCK that memory counts against RLIMIT_MEMLOCK; glommio then only warns and
/// runs without registered buffers, but the rings themselves may fail to start. Refuse
/// early with the fix instead.
fn check_memlock(executors: usize, io_memory: usize) -> Result<(), RunError> {
    if has_cap_ipc_lock() {
        return Ok(());
    }
    let Ok((soft, _hard)) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_MEMLOCK)
    else {
        return Ok(());
    };
    let need = executors as u64 * 3 * io_memory as u64 + executors as u64 * 64 * 1024;
    if soft != nix::sys::resource::RLIM_INFINITY && need > soft {
        let fit = (soft / executors as u64).saturating_sub(64 * 1024) / 3 / 1024;
        return Err(RunError::MemLock(format!(
            "io_uring needs about {} KiB of locked memory ({executors} executors × 3 rings × \
             global.tune.io_memory {} KiB, plus ring memory) but the memlock limit is {} KiB; \
             set global.tune.io_memory to {}k or less (minimum 64k), or raise the limit \
             (`ulimit -l`, or LimitMEMLOCK= in a systemd unit)",
            need / 1024,
            io_memory / 1024,
            soft / 1024,
            fit.max(64)
        )));
    }
    Ok(())
}

fn has_cap_ipc_lock() -> bool {
    const CAP_IPC_LOCK: u32 = 14;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << CAP_IPC_LOCK) != 0)
}
