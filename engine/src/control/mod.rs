//! The control plane: thread `percore-ctl`, the only code that talks to more than one shard.
//!
//! - [`msg`]: command, reply and event types carried by the rings.
//! - [`shards`]: broadcast/unicast with a reply barrier and a deadline.
//!
//! It owns one command ring (control → shard) and one event ring (shard → control) per
//! shard, both bounded `thingbuf` channels with exactly one producer and one consumer. It
//! waits for every shard's `Ready` before declaring the process ready, and on stop it
//! broadcasts `Stop` and waits for every shard's answer.

pub mod msg;
pub mod shards;

use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use futures_lite::future;
use glommio::channels::local_channel;
use glommio::{LocalExecutorBuilder, Placement};
use percore_conf::Config;

use self::msg::{Op, Reply, ShardCommand, ShardEvent};
use self::shards::Shards;

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
    /// Graceful stop (SIGINT/SIGTERM).
    Stop,
    /// Reload the configuration (SIGHUP).
    Reload,
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

/// Starts the control plane thread.
pub fn spawn(
    config: Config,
    links: Vec<ShardLink>,
    requests: thingbuf::mpsc::Receiver<ProcessRequest>,
    status: mpsc::Sender<ProcessStatus>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("percore-ctl".into())
        .spawn(move || {
            let placement = match config.global.control_cpu {
                Some(cpu) => Placement::Fixed(cpu),
                None => Placement::Unbound,
            };
            let io_memory = config.global.tune.io_memory;
            match LocalExecutorBuilder::new(placement)
                .io_memory(io_memory)
                .make()
            {
                Ok(ex) => ex.run(main(config, links, requests, status)),
                Err(e) => {
                    let _ = status.send(ProcessStatus::Failed(
                        crate::runtime::explain_executor_error(&e, io_memory),
                    ));
                }
            }
        })
}

enum Input {
    Event(ShardEvent),
    Request(ProcessRequest),
    Closed,
}

async fn main(
    config: Config,
    links: Vec<ShardLink>,
    requests: thingbuf::mpsc::Receiver<ProcessRequest>,
    status: mpsc::Sender<ProcessStatus>,
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
        readers.push(glommio::spawn_local(async move {
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
        }));
    }
    drop(local_tx);
    let next = || async {
        future::or(
            async { local_rx.recv().await.map_or(Input::Closed, Input::Event) },
            async { requests.recv().await.map_or(Input::Closed, Input::Request) },
        )
        .await
    };

    // Start-up barrier: one Ready per shard.
    let mut ready = vec![false; shard_count];
    let started = glommio::timer::timeout(START_TIMEOUT, async {
        while ready.iter().any(|r| !r) {
            match next().await {
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
    let failed = match started {
        Ok(Ok(())) => None,
        Ok(Err(message)) => Some(message),
        Err(_) => {
            let missing: Vec<usize> = (0..shard_count).filter(|&i| !ready[i]).collect();
            Some(format!(
                "shard(s) {missing:?} did not start within {START_TIMEOUT:?}"
            ))
        }
    };
    if let Some(message) = failed {
        let _ = status.send(ProcessStatus::Failed(message));
        return;
    }
    let _ = status.send(ProcessStatus::Ready);

    loop {
        match next().await {
            Input::Request(ProcessRequest::Stop) => break,
            Input::Request(ProcessRequest::Reload) => {
                log::warn!("reload requested (SIGHUP) but reload is not supported yet; ignored");
            }
            Input::Request(ProcessRequest::Nop) => {}
            Input::Event(ShardEvent::Fatal { shard, message }) => {
                let _ = status.send(ProcessStatus::Failed(format!("shard {shard}: {message}")));
                return;
            }
            Input::Event(_) => {}
            Input::Closed => {
                let _ = status.send(ProcessStatus::Failed("a shard ended unexpectedly".into()));
                return;
            }
        }
    }

    let grace = config.global.grace;
    log::info!("stopping: no new connections, live streams get up to {grace:?}");
    let outcome = shards
        .broadcast(Op::Stop { grace }, grace + STOP_SLACK)
        .await;
    drop(readers);
    match outcome {
        Ok(replies) => {
            for (i, r) in replies.iter().enumerate() {
                if let Reply::Stopped { killed, accepted } = r {
                    log::info!(
                        "shard {i} stopped: {accepted} connection(s) accepted, {killed} killed at end of grace"
                    );
                }
            }
            let _ = status.send(ProcessStatus::Stopped);
        }
        Err(e) => {
            let _ = status.send(ProcessStatus::Failed(format!("stop: {e}")));
        }
    }
}
