//! Exact `maxconn`s across shards (server, frontend, global): the control plane's book of
//! who owns each slot.
//!
//! A limit's slots are split between the shards; each shard's limit is what it owns. The
//! book holds, per limit, the slots each shard owns plus a *bank* of
//! slots given back and not yet granted, so `owned.sum() + bank == maxconn` at all times.
//! A shard's limit only grows after the book granted the slot, and the book only banks a
//! slot after the shard shrank its limit: the process never has more than `maxconn`
//! streams on the server (or frontend, or process), even with `maxconn` below the shard
//! count.
//!
//! A shard with a waiting stream (or, for frontend and global limits, an accepted
//! connection waiting for its slot) and no free slot *wants*. Wants are served from the bank,
//! round robin; with an empty bank, a shard that owns slots and wants none is asked to give
//! one back (now if free, else at its next release) — one ask per wanting shard. Shards
//! give idle borrowed slots back by themselves (see `shard::budget`).

use std::collections::HashMap;

use crate::ids::{ShardId, SlotPool};
use crate::rings::share;

/// What the book asks a shard to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The shard owns `n` more slots.
    Grant {
        /// To whom.
        shard: ShardId,
        /// Slots granted.
        n: u32,
    },
    /// The shard should give one slot back.
    Reclaim {
        /// From whom.
        shard: ShardId,
    },
}

/// One server's split.
#[derive(Debug, Clone)]
struct Split {
    epoch: u32,
    owned: Vec<u32>,
    bank: u32,
    wanting: Vec<bool>,
    /// Reclaims sent to each shard and not answered by a return yet.
    asked: Vec<u32>,
    /// Where the next round-robin grant starts.
    next: usize,
}

impl Split {
    fn new(maxconn: u32, shards: usize, epoch: u32) -> Self {
        Split {
            epoch,
            owned: (0..shards).map(|i| share(maxconn, shards, i)).collect(),
            bank: 0,
            wanting: vec![false; shards],
            asked: vec![0; shards],
            next: 0,
        }
    }

    /// Grants from the bank, then asks donors for what the bank lacks.
    fn settle(&mut self) -> Vec<Action> {
        let n = self.owned.len();
        let mut actions = Vec::new();
        while self.bank > 0 {
            let Some(w) = (0..n)
                .map(|k| (self.next + k) % n)
                .find(|&i| self.wanting[i])
            else {
                break;
            };
            self.bank -= 1;
            self.owned[w] += 1;
            self.wanting[w] = false;
            self.next = (w + 1) % n;
            actions.push(Action::Grant {
                shard: ShardId(w as u16),
                n: 1,
            });
        }
        let wanting = self.wanting.iter().filter(|&&w| w).count() as u32;
        let mut asked: u32 = self.asked.iter().sum();
        while asked < wanting {
            let donor = (0..n)
                .filter(|&i| !self.wanting[i] && self.owned[i] > self.asked[i])
                .max_by_key(|&i| self.owned[i] - self.asked[i]);
            let Some(d) = donor else {
                break;
            };
            self.asked[d] += 1;
            asked += 1;
            actions.push(Action::Reclaim {
                shard: ShardId(d as u16),
            });
        }
        actions
    }
}

/// The book for every process-wide limit: `global.maxconn`, each frontend's and each
/// server's `maxconn`.
#[derive(Debug)]
pub struct Lending {
    shards: usize,
    /// Unlimited servers have no split.
    splits: HashMap<SlotPool, Split>,
}

impl Lending {
    /// The book at start: every shard owns its plain share of each limit (`limits`, 0 =
    /// unlimited), split generation 0.
    pub fn new(limits: &[(SlotPool, u32)], shards: usize) -> Self {
        let splits = limits
            .iter()
            .filter(|(_, m)| *m > 0)
            .map(|&(pool, m)| (pool, Split::new(m, shards, 0)))
            .collect();
        Lending { shards, splits }
    }

    fn split(&mut self, pool: SlotPool, epoch: u32) -> Option<&mut Split> {
        self.splits.get_mut(&pool).filter(|s| s.epoch == epoch)
    }

    /// A new split after a limit changed (0 = unlimited): plain shares again, nothing lent;
    /// messages of older generations are ignored from now on.
    pub fn reset(&mut self, pool: SlotPool, maxconn: u32, epoch: u32) {
        if maxconn == 0 {
            self.splits.remove(&pool);
        } else {
            self.splits
                .insert(pool, Split::new(maxconn, self.shards, epoch));
        }
    }

    /// `shard` wants one more slot of `pool`, or no longer does.
    pub fn on_wanted(
        &mut self,
        shard: ShardId,
        pool: SlotPool,
        epoch: u32,
        wanted: bool,
    ) -> Vec<Action> {
        let Some(s) = self.split(pool, epoch) else {
            return Vec::new();
        };
        let Some(w) = s.wanting.get_mut(shard.0 as usize) else {
            return Vec::new();
        };
        *w = wanted;
        s.settle()
    }

    /// `shard` gave `n` slots of `pool` back.
    pub fn on_returned(
        &mut self,
        shard: ShardId,
        pool: SlotPool,
        epoch: u32,
        n: u32,
    ) -> Vec<Action> {
        let Some(s) = self.split(pool, epoch) else {
            return Vec::new();
        };
        let i = shard.0 as usize;
        if i >= s.owned.len() {
            return Vec::new();
        }
        // Never bank more than the shard owned: the book stays exact whatever arrives.
        let n = n.min(s.owned[i]);
        s.owned[i] -= n;
        s.bank += n;
        s.asked[i] = s.asked[i].saturating_sub(n);
        s.settle()
    }

    /// Slots `shard` owns of `pool` (for tests).
    pub fn owned(&self, pool: SlotPool, shard: ShardId) -> Option<u32> {
        self.splits.get(&pool)?.owned.get(shard.0 as usize).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: SlotPool = SlotPool::Server(crate::ids::ServerKey {
        backend: 0,
        server: 0,
    });

    fn total(l: &Lending) -> u32 {
        let s = &l.splits[&K];
        s.owned.iter().sum::<u32>() + s.bank
    }

    #[test]
    fn one_slot_on_two_shards_moves_only_through_the_bank() {
        let mut l = Lending::new(&[(K, 1)], 2);
        assert_eq!(l.owned(K, ShardId(0)), Some(1));
        assert_eq!(l.owned(K, ShardId(1)), Some(0));
        // Shard 1 wants: shard 0 (not wanting) is asked, once.
        let a = l.on_wanted(ShardId(1), K, 0, true);
        assert_eq!(a, vec![Action::Reclaim { shard: ShardId(0) }]);
        assert!(
            l.on_wanted(ShardId(1), K, 0, true).is_empty(),
            "one ask per want"
        );
        assert_eq!(total(&l), 1);
        // Shard 0 gives it back: shard 1 gets it.
        let a = l.on_returned(ShardId(0), K, 0, 1);
        assert_eq!(
            a,
            vec![Action::Grant {
                shard: ShardId(1),
                n: 1
            }]
        );
        assert_eq!(
            (l.owned(K, ShardId(0)), l.owned(K, ShardId(1))),
            (Some(0), Some(1))
        );
        assert_eq!(total(&l), 1);
        // Both want: the slot goes to shard 0, and since shard 1 still waits, shard 0 (no
        // longer wanting) owes it back at its next release: saturated shards take turns.
        assert_eq!(
            l.on_wanted(ShardId(0), K, 0, true),
            vec![Action::Reclaim { shard: ShardId(1) }]
        );
        assert!(l.on_wanted(ShardId(1), K, 0, true).is_empty());
        let a = l.on_returned(ShardId(1), K, 0, 1);
        assert_eq!(
            a,
            vec![
                Action::Grant {
                    shard: ShardId(0),
                    n: 1
                },
                Action::Reclaim { shard: ShardId(0) }
            ]
        );
        assert_eq!(total(&l), 1);
    }

    #[test]
    fn stale_generations_and_bogus_returns_cannot_inflate_the_book() {
        let mut l = Lending::new(&[(K, 3)], 2);
        assert_eq!(total(&l), 3);
        l.reset(K, 2, 1);
        assert!(
            l.on_returned(ShardId(0), K, 0, 5).is_empty(),
            "old generation"
        );
        assert!(l.on_returned(ShardId(0), K, 1, 5).is_empty());
        assert_eq!(total(&l), 2, "a return is capped at what the shard owned");
        assert!(
            l.on_wanted(ShardId(7), K, 1, true).is_empty(),
            "unknown shard"
        );
        l.reset(K, 0, 2);
        assert_eq!(l.owned(K, ShardId(0)), None, "unlimited: no book");
    }

    #[test]
    fn the_bank_serves_wanting_shards_round_robin() {
        let mut l = Lending::new(&[(K, 4)], 4);
        for i in 0..4 {
            l.on_returned(ShardId(i), K, 0, 1);
        }
        assert_eq!(total(&l), 4);
        for i in [2, 0, 3] {
            let a = l.on_wanted(ShardId(i), K, 0, true);
            assert_eq!(
                a,
                vec![Action::Grant {
                    shard: ShardId(i),
                    n: 1
                }]
            );
        }
        assert_eq!(total(&l), 4);
    }
}
