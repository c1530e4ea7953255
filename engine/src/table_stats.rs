//! Small fixed-size statistics helpers usable on a shard (no allocation after creation).

use std::time::Duration;

/// Samples kept by [`LatencyWindow`]: enough for a stable median of recent commands.
const WINDOW_SAMPLES: usize = 256;

/// The last [`WINDOW_SAMPLES`] latencies, for a median and a maximum.
#[derive(Debug, Clone)]
pub struct LatencyWindow {
    samples: [u32; WINDOW_SAMPLES],
    len: usize,
    next: usize,
}

impl Default for LatencyWindow {
    fn default() -> Self {
        LatencyWindow {
            samples: [0; WINDOW_SAMPLES],
            len: 0,
            next: 0,
        }
    }
}

impl LatencyWindow {
    /// Adds one sample (saturating at ~71 minutes).
    pub fn record(&mut self, d: Duration) {
        self.samples[self.next] = u32::try_from(d.as_micros()).unwrap_or(u32::MAX);
        self.next = (self.next + 1) % WINDOW_SAMPLES;
        self.len = (self.len + 1).min(WINDOW_SAMPLES);
    }

    /// Median of the window in µs (0 when empty).
    pub fn p50_us(&self) -> u64 {
        if self.len == 0 {
            return 0;
        }
        let mut v = self.samples[..self.len].to_vec();
        v.sort_unstable();
        u64::from(v[self.len / 2])
    }

    /// Maximum of the window in µs (0 when empty).
    pub fn max_us(&self) -> u64 {
        self.samples[..self.len]
            .iter()
            .copied()
            .max()
            .map_or(0, u64::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_keeps_recent_samples() {
        let mut w = LatencyWindow::default();
        assert_eq!((w.p50_us(), w.max_us()), (0, 0));
        for i in 1..=3 {
            w.record(Duration::from_micros(i * 10));
        }
        assert_eq!((w.p50_us(), w.max_us()), (20, 30));
        for _ in 0..WINDOW_SAMPLES {
            w.record(Duration::from_micros(5));
        }
        assert_eq!((w.p50_us(), w.max_us()), (5, 5));
    }
}
