//! The control plane's handle on every shard: sends commands on the command rings and
//! gathers one reply per shard (the barrier), with a deadline so that a stuck shard turns
//! into an error reply instead of a hang.
//!
//! Runs on the `percore-ctl` executor only; `Rc`/`RefCell` are enough.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::poll_fn;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use crate::ids::{CommandId, ShardId};
use crate::rings::msg::{Op, Reply, ShardCommand};

/// Default deadline for a shard to answer a command.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a command did not get all its replies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BroadcastError {
    /// These shards did not answer before the deadline.
    #[error("shard(s) {0:?} did not answer in time")]
    Timeout(Vec<u16>),
    /// A shard's command ring is closed (the shard ended).
    #[error("shard {0} is gone")]
    Closed(u16),
}

struct Pending {
    replies: Vec<Option<Reply>>,
    remaining: usize,
    waker: Option<Waker>,
}

/// Senders to every shard plus the table of commands awaiting replies.
pub struct Shards {
    cmd_txs: Vec<thingbuf::mpsc::Sender<ShardCommand>>,
    pending: RefCell<HashMap<CommandId, Pending>>,
    next_id: Cell<u64>,
}

impl Shards {
    /// Wraps the command-ring senders, one per shard in shard order.
    pub fn new(cmd_txs: Vec<thingbuf::mpsc::Sender<ShardCommand>>) -> Self {
        Shards {
            cmd_txs,
            pending: RefCell::new(HashMap::new()),
            next_id: Cell::new(1),
        }
    }

    /// Number of shards.
    pub fn len(&self) -> usize {
        self.cmd_txs.len()
    }

    /// True when there are no shards (never, in a running process).
    pub fn is_empty(&self) -> bool {
        self.cmd_txs.is_empty()
    }

    /// Commands waiting in each shard's ring.
    pub fn ring_depths(&self) -> Vec<usize> {
        self.cmd_txs.iter().map(|t| t.len()).collect()
    }

    /// Sends `op` to every shard and waits for all replies (shard order), at most `limit`.
    pub async fn broadcast(&self, op: Op, limit: Duration) -> Result<Vec<Reply>, BroadcastError> {
        let all: Vec<usize> = (0..self.cmd_txs.len()).collect();
        self.send_and_wait(&all, op, limit).await
    }

    /// Sends `op` to one shard and waits for its reply.
    pub async fn unicast(
        &self,
        shard: ShardId,
        op: Op,
        limit: Duration,
    ) -> Result<Reply, BroadcastError> {
        let idx = shard.0 as usize;
        if idx >= self.cmd_txs.len() {
            return Err(BroadcastError::Closed(shard.0));
        }
        let mut r = self.send_and_wait(&[idx], op, limit).await?;
        Ok(r.remove(0))
    }

    async fn send_and_wait(
        &self,
        targets: &[usize],
        op: Op,
        limit: Duration,
    ) -> Result<Vec<Reply>, BroadcastError> {
        let id = CommandId(self.next_id.get());
        self.next_id.set(id.0 + 1);
        self.pending.borrow_mut().insert(
            id,
            Pending {
                replies: vec![None; self.cmd_txs.len()],
                remaining: targets.len(),
                waker: None,
            },
        );
        let deadline = Instant::now() + limit;
        let result = glommio::timer::timeout(limit, async {
            for &i in targets {
                let cmd = ShardCommand {
                    id,
                    sent_at: Some(Instant::now()),
                    op: op.clone(),
                };
                if self.cmd_txs[i].send(cmd).await.is_err() {
                    return Ok(Err(BroadcastError::Closed(i as u16)));
                }
            }
            poll_fn(|cx| {
                let mut pending = self.pending.borrow_mut();
                let p = pending
                    .get_mut(&id)
                    .expect("pending entry lives until removed here");
                if p.remaining == 0 {
                    Poll::Ready(())
                } else {
                    p.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            })
            .await;
            Ok(Ok(()))
        })
        .await;
        let p = self
            .pending
            .borrow_mut()
            .remove(&id)
            .expect("pending entry removed only here");
        match result {
            Ok(Ok(())) => Ok(targets
                .iter()
                .map(|&i| {
                    p.replies[i]
                        .clone()
                        .expect("remaining == 0 means all replied")
                })
                .collect()),
            Ok(Err(e)) => Err(e),
            Err(_) => {
                let _ = deadline;
                Err(BroadcastError::Timeout(
                    targets
                        .iter()
                        .filter(|&&i| p.replies[i].is_none())
                        .map(|&i| i as u16)
                        .collect(),
                ))
            }
        }
    }

    /// Records a shard's reply; unknown ids (late replies after a timeout) are dropped.
    pub fn deliver(&self, shard: ShardId, id: CommandId, reply: Reply) {
        let mut pending = self.pending.borrow_mut();
        let Some(p) = pending.get_mut(&id) else {
            log::debug!("late reply from shard {shard} to command {id:?} ignored");
            return;
        };
        let slot = &mut p.replies[shard.0 as usize];
        if slot.is_none() {
            *slot = Some(reply);
            p.remaining -= 1;
            if p.remaining == 0 {
                if let Some(w) = p.waker.take() {
                    w.wake();
                }
            }
        }
    }
}
