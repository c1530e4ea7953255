//! The control plane: thread `percore-ctl`, the only code that talks to more than one shard.
//!
//! - [`msg`]: command, reply and event types carried by the rings.
//! - [`shards`]: broadcast/unicast with a reply barrier and a deadline.
//! - [`state`]: authoritative server/frontend state and name lookups.
//! - [`exec`]: executes admin commands (state changes, broadcasts, merged replies).
//! - [`admin`]: the admin sockets (HAProxy stats-socket protocol).
//! - [`health`]: active health checks and server state transitions.
//! - [`reload`]: a new file laid out on the running server slots (pure).
//! - [`layout`]: `reload`, SIGHUP, `add server`, `del server` applied on every shard.
//! - [`warnings`]: rate limits of the control plane's repeated warnings.
//! - [`upgrade`]: the old process's side of a binary upgrade (`upgrade`, SIGUSR2).
//!
//! It owns one command ring (control → shard) and one event ring (shard → control) per
//! shard, both bounded `thingbuf` channels with exactly one producer and one consumer. It
//! waits for every shard's `Ready` before declaring the process ready, and on stop it
//! broadcasts `Stop` and waits for every shard's answer.

pub mod admin;
pub mod exec;
pub mod health;
pub mod layout;
pub mod lend;
pub mod metrics;
pub mod reload;
mod runtime;
pub mod shards;
mod ssl;
pub mod state;
pub mod upgrade;
pub mod warnings;

use std::os::fd::{AsFd, OwnedFd};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use futures_lite::future;
use glommio::channels::local_channel;
use glommio::{LocalExecutorBuilder, Placement, Task};
use percore_conf::Config;

use self::admin::{AdminEntry, SocketFile};
use self::exec::Ctl;
use self::shards::{BroadcastError, Shards};
use self::state::State;
use crate::logging::EventLog;
use crate::rings::msg::{Op, Reply, ShardCommand, ShardEvent};
use crate::upgrade::{Handed, Inherited};

/// How long shards get to report `Ready` before start-up is declared failed.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Extra time beyond the grace period for shards to confirm a stop.
const STOP_SLACK: Duration = Duration::from_secs(5);
/// Unsolicited events (Ready, Fatal) buffered between the ring readers and the control
/// loop; replies bypass this queue.
const LOCAL_EVENTS_MAX: usize = 1024;

/// The control plane's end of one shard's two rings.
pub struct ShardLink {
    /// Commands to the shard.
    pub cmd_tx: thingbuf::mpsc::Sender<ShardCommand>,
    /// Events from the shard.
    pub evt_rx: thingbuf::mpsc::Receiver<ShardEvent>,
}

/// Requests from the process (signal thread) to the control plane.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProcessRequest {
    /// Empty slot; ignored.
    #[default]
    Nop,
    /// Graceful stop (SIGUSR1, SIGINT, SIGTERM).
    Stop,
    /// Reload the configuration (SIGHUP).
    Reload,
    /// Stop accepting on every frontend, listeners kept bound (SIGTTOU).
    Pause,
    /// Accept again on every paused frontend (SIGTTIN).
    Resume,
    /// Binary upgrade with the binary the process was started from (SIGUSR2).
    Upgrade,
}

/// What the control plane tells the main thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessStatus {
    /// Every shard is accepting.
    Ready,
    /// Start-up or run time failed; the process must exit non-zero.
    Failed(String),
    /// Every shard stopped; the process may exit 0.
    Stopped,
}

/// What the control plane starts with besides its rings.
pub struct Start {
    /// The configuration.
    pub config: Config,
    /// The file `reload` reads again (`None`: an embedded configuration).
    pub path: Option<std::path::PathBuf>,
    /// The binary the process was started from, which `upgrade` starts by default.
    pub exe: Option<std::path::PathBuf>,
    /// The admin sockets an upgrade handed over (none otherwise).
    pub admin: Inherited,
    /// Where a finished upgrade asks for this process's soft stop.
    pub upgrade_stop: thingbuf::mpsc::Sender<ProcessRequest>,
    /// The TLS ticket keys every shard started with; the control plane rotates them.
    pub ticket_keys: crate::tls::ticket::TicketKeys,
}

/// Starts the control plane thread.
pub fn spawn(
    start: Start,
    links: Vec<ShardLink>,
    events: EventLog,
    requests: thingbuf::mpsc::Receiver<ProcessRequest>,
    status: mpsc::Sender<ProcessStatus>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("percore-ctl".into())
        .spawn(move || {
            match crate::executor::raise_control_priority() {
                Ok(()) => log::debug!("control plane runs at real-time priority 1"),
                Err(e) => log::debug!("control plane stays at normal priority: {e}"),
            }
            let placement = match start.config.global.control_cpu {
                Some(cpu) => Placement::Fixed(cpu),
                None => Placement::Unbound,
            };
            let io_memory = start.config.global.tune.io_memory;
            match LocalExecutorBuilder::new(placement)
                .io_memory(io_memory)
                .make()
            {
                Ok(ex) => ex.run(main(start, links, events, requests, status)),
                Err(e) => {
                    let _ = status.send(ProcessStatus::Failed(
                        crate::executor::explain_executor_error(&e, io_memory),
                    ));
                }
            }
        })
}

/// One input of the control loop.
enum Input {
    /// An unsolicited shard event (replies never come this way).
    Event(ShardEvent),
    /// A request from the process.
    Request(ProcessRequest),
    /// The events or the requests ended.
    Closed,
}

/// Where the control loop's inputs come from.
struct Inputs {
    /// Unsolicited events forwarded by the ring readers; ends once every reader ended.
    events: local_channel::LocalReceiver<ShardEvent>,
    /// Requests from the signal thread (and `Running::request_stop`).
    requests: thingbuf::mpsc::Receiver<ProcessRequest>,
}

impl Inputs {
    /// The next event or request, whichever comes first; `Closed` once either source ended.
    async fn next(&self) -> Input {
        future::or(
            async { self.events.recv().await.map_or(Input::Closed, Input::Event) },
            async {
                self.requests
                    .recv()
                    .await
                    .map_or(Input::Closed, Input::Request)
            },
        )
        .await
    }
}

/// The control plane's life: start-up barrier, admin sockets and checks, the control loop,
/// then the graceful stop. Every outcome is reported on `status`.
async fn main(
    start: Start,
    links: Vec<ShardLink>,
    log: EventLog,
    requests: thingbuf::mpsc::Receiver<ProcessRequest>,
    status: mpsc::Sender<ProcessStatus>,
) {
    let Start {
        config,
        path,
        exe,
        admin: mut inherited,
        upgrade_stop,
        ticket_keys,
    } = start;
    let shard_count = links.len();
    let (shards, events, readers) = start_ring_readers(links);
    let inputs = Inputs { events, requests };
    if let Err(message) = startup_barrier(&inputs, shard_count).await {
        let _ = status.send(ProcessStatus::Failed(message));
        return;
    }
    let mut state = State::new(config.clone());
    state.path = path;
    let ctl = Rc::new(Ctl::new(state, shards, log));
    ctl.upgrade.set_up(exe, upgrade_stop);
    glommio::spawn_local(ctl.warnings.clone().flush_forever()).detach();
    glommio::spawn_local(ssl::rotate_ticket_keys(ctl.clone(), ticket_keys)).detach();
    // The admin sockets open only once every shard accepts (DESIGN §3).
    let opened = open_admin(&ctl, &config, &mut inherited).and_then(|()| {
        open_metrics(&ctl, &config, &mut inherited).map(|t| *ctl.metrics.borrow_mut() = t)
    });
    if let Err(message) = opened {
        ctl.close_admin();
        let _ = status.send(ProcessStatus::Failed(message));
        return;
    }
    health::spawn_all(&ctl);
    let _ = status.send(ProcessStatus::Ready);
    if let Err(message) = serve_until_stop(&inputs, &ctl).await {
        let _ = status.send(ProcessStatus::Failed(message));
        return;
    }

    ctl.stopping.set(true);
    // No scrape during the stop: it would wait on shards that are draining.
    if let Some(t) = ctl.metrics.borrow_mut().take() {
        t.cancel();
    }
    let grace = config.global.grace;
    log::info!("stopping: no new connections, live streams get up to {grace:?}");
    let outcome = ctl
        .shards
        .broadcast(Op::Stop { grace }, grace + STOP_SLACK)
        .await;
    drop(readers);
    ctl.close_admin();
    for (_, t) in ctl.checkers.borrow_mut().drain() {
        t.cancel();
    }
    let _ = status.send(stop_status(outcome));
}

/// Takes the links apart: the command senders become [`Shards`], and each event ring gets a
/// reader task. Returns them with the receiver of the events the readers forward.
fn start_ring_readers(
    links: Vec<ShardLink>,
) -> (
    Rc<Shards>,
    local_channel::LocalReceiver<ShardEvent>,
    Vec<Task<()>>,
) {
    let shard_count = links.len();
    let (local_tx, local_rx) = local_channel::new_bounded::<ShardEvent>(LOCAL_EVENTS_MAX);
    let local_tx = Rc::new(local_tx);
    let mut cmd_txs = Vec::with_capacity(shard_count);
    let mut evt_rxs = Vec::with_capacity(shard_count);
    for link in links {
        cmd_txs.push(link.cmd_tx);
        evt_rxs.push(link.evt_rx);
    }
    let shards = Rc::new(Shards::new(cmd_txs));
    let mut readers = Vec::with_capacity(shard_count);
    for evt_rx in evt_rxs {
        let tx = local_tx.clone();
        let shards = shards.clone();
        readers.push(glommio::spawn_local(read_event_ring(evt_rx, shards, tx)));
    }
    drop(local_tx);
    (shards, local_rx, readers)
}

/// One shard's event ring reader: hands replies to the command waiting for them and forwards
/// every other event to the control loop; ends with the ring or the control loop.
async fn read_event_ring(
    evt_rx: thingbuf::mpsc::Receiver<ShardEvent>,
    shards: Rc<Shards>,
    tx: Rc<local_channel::LocalSender<ShardEvent>>,
) {
    while let Some(ev) = evt_rx.recv().await {
        match ev {
            ShardEvent::Reply { shard, id, reply } => shards.deliver(shard, id, reply),
            ShardEvent::Nop => {}
            other => {
                if tx.send(other).await.is_err() {
                    break;
                }
            }
        }
    }
}

/// Start-up barrier: waits for one `Ready` per shard, at most [`START_TIMEOUT`]. A `Fatal`
/// event, a stop request or an ended input fails it; the error is the message to exit with.
async fn startup_barrier(inputs: &Inputs, shard_count: usize) -> Result<(), String> {
    let mut ready = vec![false; shard_count];
    let started = glommio::timer::timeout(START_TIMEOUT, async {
        while ready.iter().any(|r| !r) {
            match inputs.next().await {
                Input::Event(ShardEvent::Ready { shard, .. }) => ready[shard.0 as usize] = true,
                Input::Event(ShardEvent::Fatal { shard, message }) => {
                    return Ok(Err(format!("shard {shard}: {message}")));
                }
                Input::Request(ProcessRequest::Stop) => {
                    return Ok(Err("stopped during start-up".into()))
                }
                Input::Closed => return Ok(Err("a shard ended during start-up".into())),
                _ => {}
            }
        }
        Ok(Ok(()))
    })
    .await;
    match started {
        Ok(Ok(())) => Ok(()),
        Ok(Err(message)) => Err(message),
        Err(_) => {
            let missing: Vec<usize> = (0..shard_count).filter(|&i| !ready[i]).collect();
            Err(format!(
                "shard(s) {missing:?} did not start within {START_TIMEOUT:?}"
            ))
        }
    }
}

/// The control loop, until a stop request: applies passive health events, slot lending,
/// reloads (SIGHUP, run as a task so that events keep flowing while shards apply it) and
/// the pause and resume of every frontend (SIGTTOU, SIGTTIN).
/// A `Fatal` event or an ended input ends it with the message the process fails with.
async fn serve_until_stop(inputs: &Inputs, ctl: &Rc<Ctl>) -> Result<(), String> {
    loop {
        match inputs.next().await {
            Input::Request(ProcessRequest::Stop) => return Ok(()),
            Input::Request(ProcessRequest::Reload) => {
                log::info!("SIGHUP: reloading the configuration");
                let ctl = ctl.clone();
                glommio::spawn_local(async move {
                    // Both outcomes are logged by `reload` itself.
                    let _ = ctl.reload(None).await;
                })
                .detach();
            }
            Input::Request(ProcessRequest::Pause) => {
                // Awaited here, not spawned: a SIGTTIN right after applies after it, in order.
                ctl.set_every_frontend_accepting(false, "SIGTTOU").await;
            }
            Input::Request(ProcessRequest::Resume) => {
                ctl.set_every_frontend_accepting(true, "SIGTTIN").await;
            }
            Input::Request(ProcessRequest::Upgrade) => {
                log::info!("SIGUSR2: upgrading the binary");
                let ctl = ctl.clone();
                glommio::spawn_local(async move {
                    // Both outcomes are logged by `upgrade` itself.
                    let _ = ctl.upgrade(None).await;
                    ctl.upgrade.stop_if_done();
                })
                .detach();
            }
            Input::Request(ProcessRequest::Nop) => {}
            Input::Event(ShardEvent::Fatal { shard, message }) => {
                return Err(format!("shard {shard}: {message}"));
            }
            Input::Event(ShardEvent::ServerErrors { server, .. }) => {
                health::on_passive(ctl, server).await;
            }
            Input::Event(ShardEvent::SlotWanted {
                shard,
                pool,
                epoch,
                wanted,
            }) => {
                let actions = ctl
                    .lending
                    .borrow_mut()
                    .on_wanted(shard, pool, epoch, wanted);
                ctl.lend_actions(pool, epoch, actions);
            }
            Input::Event(ShardEvent::SlotsReturned {
                shard,
                pool,
                epoch,
                n,
            }) => {
                let actions = ctl.lending.borrow_mut().on_returned(shard, pool, epoch, n);
                ctl.lend_actions(pool, epoch, actions);
            }
            Input::Event(_) => {}
            Input::Closed => return Err("a shard ended unexpectedly".into()),
        }
    }
}

/// The process status after the `Stop` broadcast; logs what each shard reported on stopping.
fn stop_status(outcome: Result<Vec<Reply>, BroadcastError>) -> ProcessStatus {
    match outcome {
        Ok(replies) => {
            for (i, r) in replies.iter().enumerate() {
                if let Reply::Stopped { killed, accepted } = r {
                    log::info!(
                        "shard {i} stopped: {accepted} connection(s) accepted, {killed} killed at end of grace"
                    );
                }
            }
            ProcessStatus::Stopped
        }
        Err(e) => ProcessStatus::Failed(format!("stop: {e}")),
    }
}

/// Binds the Prometheus endpoint when `global.metrics` is set, or takes the socket an
/// upgrade handed over for the same configured bind, and starts serving it. A handed-over
/// endpoint the configuration no longer names is closed.
fn open_metrics(
    ctl: &Rc<Ctl>,
    config: &Config,
    inherited: &mut Inherited,
) -> Result<Option<metrics::Endpoint>, String> {
    let wanted = config.global.metrics.as_ref().map(|m| m.bind);
    let handed = wanted.and_then(|bind| inherited.take_metrics(bind));
    for (configured, _) in inherited.metrics.drain(..) {
        log::info!("upgrade: metrics listener {configured} is not in this configuration: closed");
    }
    let Some(bind) = wanted else {
        return Ok(None);
    };
    let socket = match handed {
        Some(fd) => {
            crate::accept::set_nonblocking(fd.as_fd())
                .map_err(|e| format!("metrics listener {bind}: {e}"))?;
            fd
        }
        None => metrics::bind(bind)?,
    };
    Ok(Some(serve_metrics(ctl, socket, bind)))
}

/// Serves `/metrics` on the non-blocking `socket` (bound for `configured`) until the
/// endpoint is cancelled.
pub(crate) fn serve_metrics(
    ctl: &Rc<Ctl>,
    socket: OwnedFd,
    configured: std::net::SocketAddr,
) -> metrics::Endpoint {
    let shown = socket2::SockRef::from(&socket)
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .unwrap_or(configured);
    log::info!("metrics on http://{shown}/metrics");
    let socket = Rc::new(socket);
    let task = glommio::spawn_local(metrics::serve(ctl.clone(), socket.clone())).detach();
    metrics::Endpoint {
        configured,
        socket,
        task,
    }
}

/// Binds every configured admin listener, or takes the socket an upgrade handed over for
/// its path or address, and starts serving them (recorded in `ctl.admin`). Handed-over
/// sockets the configuration no longer names are closed, their files removed.
fn open_admin(ctl: &Rc<Ctl>, config: &Config, inherited: &mut Inherited) -> Result<(), String> {
    let opened = config
        .global
        .admin
        .as_ref()
        .map_or(Ok(()), |a| open_admin_listeners(ctl, a, inherited));
    for (path, fd) in inherited.admin_unix.drain(..) {
        log::info!(
            "upgrade: admin socket {} is not in this configuration: removed",
            path.display()
        );
        drop(fd);
        let _ = std::fs::remove_file(&path);
    }
    for (addr, _) in inherited.admin_tcp.drain(..) {
        log::info!("upgrade: admin listener tcp {addr} is not in this configuration: closed");
    }
    opened
}

/// [`open_admin`] for a configured `global.admin`.
fn open_admin_listeners(
    ctl: &Rc<Ctl>,
    a: &percore_conf::Admin,
    inherited: &mut Inherited,
) -> Result<(), String> {
    let level = |l: percore_conf::Level| match l {
        percore_conf::Level::User => percore_admin::Level::User,
        percore_conf::Level::Operator => percore_admin::Level::Operator,
        percore_conf::Level::Admin => percore_admin::Level::Admin,
    };
    let mut unix = vec![(a.socket.clone(), a.mode, level(a.level))];
    let mut tcp = Vec::new();
    for extra in &a.extra {
        match extra {
            percore_conf::AdminListener::Unix {
                socket,
                mode,
                level: l,
            } => unix.push((socket.clone(), *mode, level(*l))),
            percore_conf::AdminListener::Tcp {
                address, level: l, ..
            } => tcp.push((*address, level(*l))),
        }
    }
    for (path, mode, lvl) in unix {
        let (fd, file) = match inherited.take_admin_unix(&path) {
            Some(fd) => (fd, SocketFile::adopt(&path, mode)?),
            None => admin::bind_unix(&path, mode)?,
        };
        log::info!(
            "admin socket {} (mode {mode:o}, level {lvl})",
            path.display()
        );
        let name = format!("admin socket {}", path.display());
        serve_admin(ctl, Handed::AdminUnix(path), fd, Some(file), (name, lvl))?;
    }
    for (addr, lvl) in tcp {
        let fd = match inherited.take_admin_tcp(addr) {
            Some(fd) => fd,
            None => std::net::TcpListener::bind(addr)
                .map(OwnedFd::from)
                .map_err(|e| format!("admin listener {addr}: {e}"))?,
        };
        log::info!("admin listener tcp {addr} (level {lvl})");
        let name = format!("admin listener tcp {addr}");
        serve_admin(ctl, Handed::AdminTcp(addr), fd, None, (name, lvl))?;
    }
    Ok(())
}

/// Starts the accept loop of admin listener `endpoint` on `fd` and records it.
fn serve_admin(
    ctl: &Rc<Ctl>,
    endpoint: Handed,
    fd: OwnedFd,
    file: Option<SocketFile>,
    (name, level): (String, percore_admin::Level),
) -> Result<(), String> {
    if let Err(e) = crate::accept::set_nonblocking(fd.as_fd()) {
        if let Some(f) = &file {
            f.remove_file();
        }
        return Err(format!("{name}: {e}"));
    }
    let socket = Rc::new(fd);
    let listener = admin::Listener::new(name, level, &ctl.warnings);
    let run = match &endpoint {
        Handed::AdminTcp(_) => {
            glommio::spawn_local(admin::serve_tcp(ctl.clone(), socket.clone(), listener))
        }
        _ => glommio::spawn_local(admin::serve_unix(ctl.clone(), socket.clone(), listener)),
    };
    ctl.admin.borrow_mut().push(AdminEntry {
        endpoint,
        socket,
        file,
        task: Some(run.detach()),
    });
    Ok(())
}
