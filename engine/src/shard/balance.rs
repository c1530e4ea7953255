//! Server selection inside one backend, per shard: every algorithm of `balance`.
//!
//! - round robin (and static-rr): smooth weighted round-robin (the nginx algorithm): every
//!   pick adds each eligible server's weight to its running score, takes the highest, and
//!   subtracts the total from the winner. Over any window of `sum(weights)` picks each server
//!   is chosen exactly `weight` times, interleaved rather than bursty. Each shard runs its
//!   own instance, so across shards the distribution is exact per shard and statistically
//!   even overall.
//! - leastconn: fewest live streams relative to weight, counted on this shard only.
//! - first: the first eligible server (config order) below its maxconn.
//! - random: two weighted random candidates, the one with fewer live streams.
//! - source / uri / hdr: a hash of the request property, either map-based (`hash % total
//!   weight` over eligible servers) or consistent (a weighted ring on which a server change
//!   only moves that server's keys). The hash and the ring depend only on names, weights and
//!   the key, so every shard maps a key to the same server.

use crate::stream::hash::hash_bytes;

/// Per-shard smooth weighted round-robin state for one backend.
#[derive(Debug, Clone)]
pub struct RoundRobin {
    weights: Vec<u32>,
    scores: Vec<i64>,
}

impl RoundRobin {
    /// A balancer over servers with these weights (0 = never picked).
    pub fn new(weights: Vec<u32>) -> Self {
        let scores = vec![0; weights.len()];
        RoundRobin { weights, scores }
    }

    /// Changes one server's weight; its score restarts so it does not burst.
    pub fn set_weight(&mut self, server: usize, weight: u32) {
        if let Some(w) = self.weights.get_mut(server) {
            *w = weight;
            self.scores[server] = 0;
        }
    }

    /// The weight currently in use for `server`.
    pub fn weight(&self, server: usize) -> u32 {
        self.weights.get(server).copied().unwrap_or(0)
    }

    /// Picks the next server among those for which `eligible` is true; `None` when no
    /// eligible server has a weight above zero.
    pub fn pick(&mut self, mut eligible: impl FnMut(usize) -> bool) -> Option<usize> {
        let mut total: i64 = 0;
        let mut best: Option<usize> = None;
        for i in 0..self.weights.len() {
            let w = self.weights[i] as i64;
            if w == 0 || !eligible(i) {
                continue;
            }
            self.scores[i] += w;
            total += w;
            if best.is_none_or(|b| self.scores[i] > self.scores[b]) {
                best = Some(i);
            }
        }
        let b = best?;
        self.scores[b] -= total;
        Some(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_exact_over_a_cycle() {
        let mut rr = RoundRobin::new(vec![5, 1, 1]);
        let picks: Vec<usize> = (0..7).map(|_| rr.pick(|_| true).expect("some")).collect();
        assert_eq!(picks, [0, 0, 1, 0, 2, 0, 0]);
        let mut counts = [0; 3];
        for _ in 0..700 {
            counts[rr.pick(|_| true).expect("some")] += 1;
        }
        assert_eq!(counts, [500, 100, 100]);
    }

    #[test]
    fn equal_weights_alternate() {
        let mut rr = RoundRobin::new(vec![1, 1]);
        let picks: Vec<usize> = (0..4).map(|_| rr.pick(|_| true).expect("some")).collect();
        assert_eq!(picks, [0, 1, 0, 1]);
    }

    #[test]
    fn zero_weight_and_ineligible_are_skipped() {
        let mut rr = RoundRobin::new(vec![0, 3, 2]);
        for _ in 0..10 {
            assert_eq!(rr.pick(|i| i != 1), Some(2));
        }
        assert_eq!(rr.pick(|i| i == 0), None);
        rr.set_weight(0, 1);
        assert_eq!(rr.pick(|i| i == 0), Some(0));
    }
}

/// Points a server gets on the consistent-hash ring per unit of weight: enough for an even
/// spread (±10 % at weight 1 over 5 servers), bounded at `256 × 40` points per server.
pub const RING_POINTS_PER_WEIGHT: u32 = 40;

/// What an algorithm may look at for one pick.
pub struct PickInput<'a> {
    /// Whether server `i` may take a new stream now (admin state, health, backup rules).
    pub eligible: &'a dyn Fn(usize) -> bool,
    /// Live streams of server `i` on this shard.
    pub conns: &'a dyn Fn(usize) -> u64,
    /// Connection limit of server `i` (0 = none), for `first`.
    pub limit: &'a dyn Fn(usize) -> u64,
    /// The request's hash key, for hash algorithms (`None`: fall back to round robin).
    pub hash: Option<u64>,
}

enum Algo {
    RoundRobin,
    LeastConn,
    First,
    Random,
    Hash,
}

/// Per-shard state of one backend's algorithm.
pub struct Balancer {
    algo: Algo,
    consistent: bool,
    rr: RoundRobin,
    /// Sorted `(point, server)`; empty unless consistent hashing.
    ring: Vec<(u64, u32)>,
    names: Vec<String>,
    rng: u64,
    /// Rotating start for ties (leastconn).
    next: usize,
}

impl Balancer {
    /// A balancer for `balance` over servers with these names and weights.
    pub fn new(
        balance: &percore_conf::Balance,
        hash_type: percore_conf::HashType,
        names: Vec<String>,
        weights: Vec<u32>,
        seed: u64,
    ) -> Self {
        use percore_conf::Balance as B;
        let algo = match balance {
            B::RoundRobin | B::StaticRr => Algo::RoundRobin,
            B::LeastConn => Algo::LeastConn,
            B::First => Algo::First,
            B::Random => Algo::Random,
            B::Source | B::Uri { .. } | B::Hdr(_) => Algo::Hash,
        };
        let consistent =
            matches!(algo, Algo::Hash) && hash_type == percore_conf::HashType::Consistent;
        let mut b = Balancer {
            algo,
            consistent,
            rr: RoundRobin::new(weights),
            ring: Vec::new(),
            names,
            rng: seed | 1,
            next: 0,
        };
        b.rebuild_ring();
        b
    }

    fn rebuild_ring(&mut self) {
        if !self.consistent {
            return;
        }
        self.ring.clear();
        for (i, name) in self.names.iter().enumerate() {
            for p in 0..self.rr.weight(i) * RING_POINTS_PER_WEIGHT {
                let mut key = name.as_bytes().to_vec();
                key.push(b'#');
                key.extend_from_slice(&p.to_le_bytes());
                self.ring.push((hash_bytes(&key), i as u32));
            }
        }
        self.ring.sort_unstable();
    }

    /// Changes a server's weight (admin `set server … weight`).
    pub fn set_weight(&mut self, server: usize, weight: u32) {
        if self.rr.weight(server) != weight {
            self.rr.set_weight(server, weight);
            self.rebuild_ring();
        }
    }

    /// Picks a server, or `None` when no eligible server has a weight above zero.
    pub fn pick(&mut self, input: &PickInput<'_>) -> Option<usize> {
        let n = self.names.len();
        let ok = |i: usize| (input.eligible)(i) && self.rr.weight(i) > 0;
        match self.algo {
            Algo::RoundRobin => self.rr.pick(|i| (input.eligible)(i)),
            Algo::LeastConn => {
                let mut best: Option<usize> = None;
                for k in 0..n {
                    let i = (self.next + k) % n;
                    if !ok(i) {
                        continue;
                    }
                    // (conns + 1) / weight, compared without division.
                    let better = best.is_none_or(|b| {
                        ((input.conns)(i) + 1) * u64::from(self.rr.weight(b))
                            < ((input.conns)(b) + 1) * u64::from(self.rr.weight(i))
                    });
                    if better {
                        best = Some(i);
                    }
                }
                self.next = self.next.wrapping_add(1);
                best
            }
            Algo::First => (0..n)
                .find(|&i| ok(i) && ((input.limit)(i) == 0 || (input.conns)(i) < (input.limit)(i)))
                .or_else(|| (0..n).find(|&i| ok(i))),
            Algo::Random => {
                let a = self.weighted_random(input.eligible)?;
                let b = self.weighted_random(input.eligible)?;
                Some(if (input.conns)(b) < (input.conns)(a) {
                    b
                } else {
                    a
                })
            }
            Algo::Hash => match input.hash {
                None => self.rr.pick(|i| (input.eligible)(i)),
                Some(h) if self.consistent => {
                    if self.ring.is_empty() {
                        return None;
                    }
                    let start = self.ring.partition_point(|&(p, _)| p < h);
                    (0..self.ring.len())
                        .map(|k| self.ring[(start + k) % self.ring.len()].1 as usize)
                        .find(|&i| ok(i))
                }
                Some(h) => {
                    let total = weight_total(&self.rr, input.eligible);
                    if total == 0 {
                        return None;
                    }
                    nth_by_weight(&self.rr, input.eligible, h % total)
                }
            },
        }
    }

    fn weighted_random(&mut self, eligible: &dyn Fn(usize) -> bool) -> Option<usize> {
        let total = weight_total(&self.rr, eligible);
        if total == 0 {
            return None;
        }
        // xorshift64*: tiny, good enough to spread picks, per shard, no shared state.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let r = self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) % total;
        nth_by_weight(&self.rr, eligible, r)
    }
}

/// Sum of the weights of the eligible servers with a weight above zero.
fn weight_total(rr: &RoundRobin, eligible: &dyn Fn(usize) -> bool) -> u64 {
    (0..rr.weights.len())
        .filter(|&i| eligible(i))
        .map(|i| u64::from(rr.weight(i)))
        .sum()
}

/// The eligible server whose weight interval contains `r` (`r < weight_total`): each server
/// owns `weight` consecutive values, in configuration order.
fn nth_by_weight(rr: &RoundRobin, eligible: &dyn Fn(usize) -> bool, mut r: u64) -> Option<usize> {
    (0..rr.weights.len())
        .filter(|&i| eligible(i) && rr.weight(i) > 0)
        .find(|&i| {
            let w = u64::from(rr.weight(i));
            if r < w {
                true
            } else {
                r -= w;
                false
            }
        })
}

#[cfg(test)]
mod algo_tests {
    use super::*;
    use crate::stream::hash::uri_key;
    use percore_conf::{Balance, HashType};

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("s{i}")).collect()
    }

    fn all(_: usize) -> bool {
        true
    }

    fn zero(_: usize) -> u64 {
        0
    }

    #[test]
    fn leastconn_prefers_fewer_streams_relative_to_weight() {
        let mut b = Balancer::new(
            &Balance::LeastConn,
            HashType::MapBased,
            names(3),
            vec![1, 1, 2],
            1,
        );
        let conns = |i: usize| [5u64, 2, 5][i];
        let input = PickInput {
            eligible: &all,
            conns: &conns,
            limit: &zero,
            hash: None,
        };
        // s1: 3/1, s2: 6/2 = 3 → tie between s1 and s2, never s0 (6/1).
        for _ in 0..10 {
            assert_ne!(b.pick(&input), Some(0));
        }
        let conns = |i: usize| [0u64, 9, 9][i];
        let input = PickInput {
            eligible: &all,
            conns: &conns,
            limit: &zero,
            hash: None,
        };
        assert_eq!(b.pick(&input), Some(0));
    }

    #[test]
    fn first_fills_servers_in_order() {
        let mut b = Balancer::new(
            &Balance::First,
            HashType::MapBased,
            names(3),
            vec![1, 1, 1],
            1,
        );
        let conns = |i: usize| [10u64, 3, 0][i];
        let limit = |_: usize| 10u64;
        let input = PickInput {
            eligible: &all,
            conns: &conns,
            limit: &limit,
            hash: None,
        };
        assert_eq!(b.pick(&input), Some(1));
        let not0 = |i: usize| i != 0;
        let input = PickInput {
            eligible: &not0,
            conns: &zero,
            limit: &zero,
            hash: None,
        };
        assert_eq!(b.pick(&input), Some(1));
    }

    #[test]
    fn random_follows_weights() {
        let mut b = Balancer::new(
            &Balance::Random,
            HashType::MapBased,
            names(2),
            vec![1, 3],
            42,
        );
        let mut counts = [0u32; 2];
        for _ in 0..10_000 {
            let input = PickInput {
                eligible: &all,
                conns: &zero,
                limit: &zero,
                hash: None,
            };
            counts[b.pick(&input).expect("pick")] += 1;
        }
        // Power of two choices with equal loads keeps the first candidate: weights hold.
        let share = f64::from(counts[1]) / 10_000.0;
        assert!((0.70..0.80).contains(&share), "{counts:?}");
    }

    #[test]
    fn map_based_hash_is_sticky_and_weighted() {
        let mut b = Balancer::new(
            &Balance::Source,
            HashType::MapBased,
            names(3),
            vec![1, 1, 2],
            1,
        );
        let mut counts = [0u32; 3];
        for k in 0..20_000u32 {
            let h = hash_bytes(&k.to_le_bytes());
            let input = PickInput {
                eligible: &all,
                conns: &zero,
                limit: &zero,
                hash: Some(h),
            };
            let first = b.pick(&input).expect("pick");
            assert_eq!(b.pick(&input), Some(first), "sticky");
            counts[first] += 1;
        }
        let share = f64::from(counts[2]) / 20_000.0;
        assert!((0.47..0.53).contains(&share), "{counts:?}");
    }

    #[test]
    fn consistent_hash_moves_only_the_removed_servers_keys() {
        let n = 5;
        let mut b = Balancer::new(
            &Balance::Source,
            HashType::Consistent,
            names(n),
            vec![1; n],
            1,
        );
        let keys: Vec<u64> = (0..20_000u32)
            .map(|k| hash_bytes(&k.to_le_bytes()))
            .collect();
        let before: Vec<usize> = keys
            .iter()
            .map(|&h| {
                b.pick(&PickInput {
                    eligible: &all,
                    conns: &zero,
                    limit: &zero,
                    hash: Some(h),
                })
                .expect("pick")
            })
            .collect();
        let mut counts = vec![0u32; n];
        for &s in &before {
            counts[s] += 1;
        }
        for c in &counts {
            let share = f64::from(*c) / keys.len() as f64;
            assert!((0.12..0.28).contains(&share), "uneven ring: {counts:?}");
        }
        let without2 = |i: usize| i != 2;
        let mut moved = 0;
        for (&h, &was) in keys.iter().zip(&before) {
            let now = b
                .pick(&PickInput {
                    eligible: &without2,
                    conns: &zero,
                    limit: &zero,
                    hash: Some(h),
                })
                .expect("pick");
            if now != was {
                moved += 1;
                assert_eq!(was, 2, "only keys of the removed server move");
            }
        }
        let moved_share = f64::from(moved) / keys.len() as f64;
        assert!(moved_share <= 1.0 / n as f64 + 0.08, "{moved_share}");
    }

    #[test]
    fn uri_key_respects_len_and_depth() {
        assert_eq!(uri_key("/a/b/c", None, None), "/a/b/c");
        assert_eq!(uri_key("/a/b/c", None, Some(2)), "/a/b");
        assert_eq!(uri_key("/a/b/c", Some(3), None), "/a/");
        assert_eq!(uri_key("/a/b/c", Some(100), Some(1)), "/a");
    }
}
