//! The shard's control task: the only consumer of the shard's command ring and the only
//! producer of its event ring. It runs in a `Latency::Matters` task queue, so it gets the
//! CPU within about a millisecond even when streams saturate the shard.
//!
//! It acts on this shard's state directly — no locks, no races: a stream is only ever
//! touched by the shard that owns it. A kill is answered as soon as the killed streams are
//! fenced (never polled again, so their sockets are never read or written again); their
//! sockets close right after, in batches, by the shard's teardown task.

use std::rc::Rc;
use std::time::{Duration, Instant};

use std::os::fd::FromRawFd;

use futures_lite::future;

use super::Shard;
use crate::ids::{ServerKey, StreamId};
use crate::logging::AccessLog;
use crate::rings::msg::{Op, Reply, ShardCommand, ShardEvent, ShardStats, StreamInfo};
use crate::table_stats::LatencyWindow;

/// Runs until the shard is told to stop; returning ends the shard.
pub async fn run(
    shard: Rc<Shard>,
    cmd_rx: thingbuf::mpsc::Receiver<ShardCommand>,
    evt_tx: thingbuf::mpsc::Sender<ShardEvent>,
    listeners: usize,
) {
    let ready = ShardEvent::Ready {
        shard: shard.id,
        listeners,
    };
    if evt_tx.send(ready).await.is_err() {
        return;
    }
    let mut latency = LatencyWindow::default();
    let mut commands = 0u64;
    while let Some(cmd) = cmd_rx.recv().await {
        if let Some(sent) = cmd.sent_at {
            latency.record(Instant::now().saturating_duration_since(sent));
        }
        commands += 1;
        // The two commands whose cost grows with the configuration, timed for the log.
        let timed = match &cmd.op {
            Op::ApplyConfig(_) => Some("apply a configuration generation"),
            Op::CollectStats => Some("collect stats"),
            _ => None,
        };
        let started = Instant::now();
        let Some((reply, last)) = handle(&shard, cmd.op, &evt_tx, &latency, commands).await else {
            continue;
        };
        if let Some(what) = timed {
            let us = started.elapsed().as_micros();
            log::debug!("shard {}: {what}: {us} us", shard.id);
        }
        let event = ShardEvent::Reply {
            shard: shard.id,
            id: cmd.id,
            reply,
        };
        // The control plane is the consumer and never blocks on us, so awaiting ring
        // space here delays only this task, never the data path.
        if evt_tx.send(event).await.is_err() || last {
            return;
        }
        // The control plane waits for this reply, and with no CPU of its own it shares
        // one with a shard: give it the CPU now rather than at the end of this thread's
        // time slice (measured: kill reply p99 on 1 CPU).
        std::thread::yield_now();
    }
}

/// Carries out one command; the reply, and whether it was the last (`Stop`), or `None` for
/// a command that needs no reply.
async fn handle(
    shard: &Rc<Shard>,
    op: Op,
    evt_tx: &thingbuf::mpsc::Sender<ShardEvent>,
    latency: &LatencyWindow,
    commands: u64,
) -> Option<(Reply, bool)> {
    Some(match op {
        Op::Nop => return None,
        Op::Stop { grace } => {
            let killed = stop(shard, grace).await;
            let accepted = shard.counters.borrow().accepted;
            (Reply::Stopped { killed, accepted }, true)
        }
        Op::KillStream(id) => {
            let killed = {
                let mut t = shard.table.borrow_mut();
                t.find(id).is_some_and(|r| t.kill(r))
            };
            (Reply::Killed(usize::from(killed)), false)
        }
        Op::KillServer(key) => (Reply::Killed(kill_server(shard, key)), false),
        Op::SetServer { server, view } => {
            shard.set_server_view(server, view);
            (Reply::Done, false)
        }
        op @ (Op::SetFrontendMaxconn { .. }
        | Op::SetGlobalMaxconn { .. }
        | Op::GrantSlots { .. }
        | Op::ReclaimSlot { .. }) => (slot_op(shard, op), false),
        Op::CollectStats => {
            let stats = collect_stats(shard, evt_tx, latency, commands);
            (Reply::Stats(Box::new(stats)), false)
        }
        Op::ListStreams { limit } => (Reply::Streams(list_streams(shard, limit)), false),
        Op::FindStream(id) => (Reply::Streams(find_stream(shard, id)), false),
        op @ (Op::AddListener { .. } | Op::RemoveListener { .. }) => {
            (listener_op(shard, op).await, false)
        }
        Op::ApplyConfig(a) => (Reply::Applied(super::apply::apply(shard, *a)), false),
        Op::ShowErrors => {
            let (total, entries) = shard.errors.borrow().snapshot();
            (Reply::Errors(total, entries), false)
        }
        op @ (Op::ClearCounters { .. } | Op::SetFrontendAccepting { .. }) => {
            (runtime_op(shard, op).await, false)
        }
        Op::DupListeners => (Reply::Listeners(shard.dup_listeners()), false),
        Op::SetCert(cert) => {
            shard.tls.borrow_mut().replace_cert(&cert);
            (Reply::Done, false)
        }
        Op::TicketKeys(keys) => {
            shard.tls.borrow_mut().set_keys(&keys);
            (Reply::Done, false)
        }
    })
}

fn kill_server(shard: &Shard, key: ServerKey) -> usize {
    let t0 = Instant::now();
    shard.pool.borrow_mut().clear_server(key);
    let killed = shard.table.borrow_mut().kill_server(key);
    if killed > 0 {
        let gen = shard.current();
        log::info!(
            "shard {}: fenced {killed} stream(s) of server {}/{} in {} us",
            shard.id,
            gen.config.backends[key.backend].name,
            gen.config.backends[key.backend].servers[key.server].name,
            t0.elapsed().as_micros()
        );
    }
    killed
}

/// Waits until every killed stream's task has dropped its sockets (graceful stop only: a
/// kill command replies once fenced).
async fn wait_kills(shard: &Shard) {
    future::poll_fn(|cx| shard.table.borrow_mut().poll_kills_done(cx)).await;
}

fn collect_stats(
    shard: &Shard,
    evt_tx: &thingbuf::mpsc::Sender<ShardEvent>,
    latency: &LatencyWindow,
    commands: u64,
) -> ShardStats {
    let t = shard.table.borrow();
    let gen = shard.current();
    let cfg = &gen.config;
    let server_streams: Vec<Vec<u64>> = cfg
        .backends
        .iter()
        .enumerate()
        .map(|(b, be)| {
            (0..be.servers.len())
                .map(|s| {
                    t.server_streams(ServerKey {
                        backend: b,
                        server: s,
                    }) as u64
                })
                .collect()
        })
        .collect();
    let backend_streams = (0..cfg.backends.len())
        .map(|b| t.backend_streams(b) as u64)
        .collect();
    // Bytes of live streams count too, so `show stat` moves while long streams run.
    let mut counters = shard.counters.borrow().clone();
    for e in t.iter() {
        let add = |p: &mut crate::rings::counters::ProxyCounters| {
            p.bytes_in += e.bytes_in;
            p.bytes_out += e.bytes_out;
        };
        add(&mut counters.frontends[e.frontend]);
        add(&mut counters.backends[e.backend]);
        if let Some(k) = e.server {
            add(&mut counters.servers[k.backend][k.server]);
        }
    }
    ShardStats {
        cpu: shard.cpu,
        counters,
        frontend_streams: (0..cfg.frontends.len())
            .map(|f| t.frontend_streams(f) as u64)
            .collect(),
        backend_streams,
        server_streams,
        streams: t.len() as u64,
        queued: shard.queued.borrow().clone(),
        evt_ring_depth: evt_tx.len(),
        logs_dropped: shard
            .access_log
            .borrow()
            .as_ref()
            .map_or(0, AccessLog::dropped),
        ctl_latency_us_p50: latency.p50_us(),
        ctl_latency_us_max: latency.max_us(),
        commands,
        idle_conns: idle_conns(shard),
        generation: gen.number,
        generations_alive: shard.generations.borrow().alive(),
    }
}

/// Idle pooled connections of every server, for `show servers conn` and `srv_icur`.
fn idle_conns(shard: &Shard) -> Vec<Vec<u64>> {
    let pool = shard.pool.borrow();
    shard
        .current()
        .config
        .backends
        .iter()
        .enumerate()
        .map(|(backend, be)| {
            (0..be.servers.len())
                .map(|server| pool.idle(ServerKey { backend, server }) as u64)
                .collect()
        })
        .collect()
}

/// The runbook commands (`clear counters`, `disable|enable frontend`, `set maxconn
/// global`): applied to this shard's own state, then [`Reply::Done`].
/// The commands that move `maxconn` slots: a new split of a limit, and the control plane's
/// grants and reclaims (see `shard::budget`).
fn slot_op(shard: &Shard, op: Op) -> Reply {
    match op {
        Op::SetFrontendMaxconn {
            frontend,
            maxconn,
            epoch,
        } => {
            if let Some(b) = shard.frontend_budgets.borrow().get(frontend) {
                b.reset_split(maxconn, epoch);
            }
        }
        Op::SetGlobalMaxconn { maxconn, epoch } => shard.global_budget.reset_split(maxconn, epoch),
        Op::GrantSlots { pool, epoch, n } => {
            if let Some(b) = shard.pool_budget(pool) {
                b.grant(n, epoch);
            }
        }
        Op::ReclaimSlot { pool, epoch } => {
            if let Some(b) = shard.pool_budget(pool) {
                b.reclaim(epoch);
            }
        }
        _ => debug_assert!(false, "not a slot command: {op:?}"),
    }
    Reply::Done
}

async fn runtime_op(shard: &Rc<Shard>, op: Op) -> Reply {
    match op {
        Op::ClearCounters { all } => clear_counters(shard, all),
        Op::SetFrontendAccepting {
            frontend,
            accepting,
        } => shard.set_frontend_accepting(frontend, accepting).await,
        _ => debug_assert!(false, "not a runbook command: {op:?}"),
    }
    Reply::Done
}

/// A reload's listener changes: a new bind's socket starts accepting, a dropped bind
/// stops (its accept queue served first, see `shard::listeners`); then [`Reply::Done`].
async fn listener_op(shard: &Rc<Shard>, op: Op) -> Reply {
    match op {
        Op::AddListener {
            frontend,
            configured,
            addr,
            fd,
            accepting,
        } => {
            // SAFETY: the control plane bound this socket for this shard alone and gave up
            // its descriptor (into_raw_fd) when it sent this command, once.
            let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
            super::listeners::add(shard, (frontend, configured, addr), fd, accepting);
        }
        Op::RemoveListener {
            frontend,
            configured,
        } => super::listeners::remove(shard, frontend, configured).await,
        _ => debug_assert!(false, "not a listener command: {op:?}"),
    }
    Reply::Done
}

/// `clear counters [all]`, HAProxy's split: without `all` only the maxima (`smax`,
/// `rate_max`, `*_time_max`, `qmax`) restart from 0; with `all` every counter does, except
/// the connections accepted over the shard's life (`CumConns` in `show info`).
fn clear_counters(shard: &Shard, all: bool) {
    let mut counters = shard.counters.borrow_mut();
    let c = &mut *counters;
    let every = c
        .frontends
        .iter_mut()
        .chain(c.backends.iter_mut())
        .chain(c.servers.iter_mut().flatten());
    for p in every {
        if all {
            *p = Default::default();
        } else {
            p.clear_maxima();
        }
    }
    for q in shard.queued.borrow_mut().iter_mut() {
        q.1 = q.0;
    }
}

fn list_streams(shard: &Shard, limit: usize) -> Vec<StreamInfo> {
    let now = Instant::now();
    shard
        .table
        .borrow()
        .iter()
        .take(limit)
        .map(|e| stream_info(e, now))
        .collect()
}

/// The one stream `id` of this shard, if live: no list is built or sent.
fn find_stream(shard: &Shard, id: StreamId) -> Vec<StreamInfo> {
    debug_assert_eq!(
        id.shard(),
        shard.id,
        "a stream command reaches its own shard only"
    );
    let table = shard.table.borrow();
    table
        .find(id)
        .and_then(|r| table.get(r))
        .map(|e| stream_info(e, Instant::now()))
        .into_iter()
        .collect()
}

fn stream_info(e: &super::table::StreamEntry, now: Instant) -> StreamInfo {
    StreamInfo {
        id: e.id,
        frontend: e.frontend,
        backend: e.backend,
        server: e.server,
        client: e.client,
        age: now.saturating_duration_since(e.started),
        bytes_in: e.bytes_in,
        bytes_out: e.bytes_out,
        connecting: e.state == super::table::StreamState::Connecting,
    }
}

/// Graceful stop: no new streams, live ones may finish within `grace`, the rest are killed.
/// Returns the number killed. When it returns, every stream's sockets are closed.
async fn stop(shard: &Rc<Shard>, grace: Duration) -> usize {
    shard.stop_accepting();
    // Let the cancelled accept loops drop (closing the listeners) while the executor runs.
    glommio::timer::sleep(Duration::from_millis(1)).await;
    let table = shard.table.clone();
    let drained = glommio::timer::timeout(grace, async {
        future::poll_fn(|cx| table.borrow_mut().poll_empty(cx)).await;
        Ok(())
    })
    .await;
    if drained.is_ok() {
        return 0;
    }
    let killed = table.borrow_mut().kill_all();
    wait_kills(shard).await;
    log::info!(
        "shard {}: grace period over, killed {killed} stream(s)",
        shard.id
    );
    killed
}
