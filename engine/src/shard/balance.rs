//! Server selection inside one backend, per shard.
//!
//! Smooth weighted round-robin (the nginx algorithm): every pick adds each eligible server's
//! weight to its running score, takes the highest, and subtracts the total from the winner.
//! Over any window of `sum(weights)` picks each server is chosen exactly `weight` times, and
//! picks are interleaved rather than bursty. Each shard runs its own instance, so across
//! shards the distribution is exact per shard and statistically even overall.

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
