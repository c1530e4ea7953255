//! What one load run measured: a latency histogram, completed operations, bytes, and
//! errors by kind. Each worker thread fills its own [`Recorder`] (no sharing on the hot
//! path); the runner merges them with [`Recorder::merge`] when the run ends.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency the histogram holds; longer ones are clamped (and still counted).
pub const LATENCY_US_MAX: u64 = 60_000_000;

/// Significant decimal digits kept: 3 means ±0.1 % at every magnitude.
const SIGFIG: u8 = 3;

/// Why a request or round trip failed, as counted in reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The TCP connection could not be opened (refused, timed out, no ports left).
    Connect,
    /// The peer closed or reset the connection before a complete response.
    Reset,
    /// No complete response within the request timeout.
    Timeout,
    /// A response that is not what the origin sends: bad framing, status, length or bytes.
    BadResponse,
    /// The TLS handshake or a record failed (alert, bad certificate, undecryptable data).
    Tls,
}

/// Error counts by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Errors {
    /// See [`ErrorKind::Connect`].
    pub connect: u64,
    /// See [`ErrorKind::Reset`].
    pub reset: u64,
    /// See [`ErrorKind::Timeout`].
    pub timeout: u64,
    /// See [`ErrorKind::BadResponse`].
    pub bad_response: u64,
    /// See [`ErrorKind::Tls`].
    pub tls: u64,
}

impl Errors {
    /// Counts one error.
    pub fn add(&mut self, kind: ErrorKind) {
        match kind {
            ErrorKind::Connect => self.connect += 1,
            ErrorKind::Reset => self.reset += 1,
            ErrorKind::Timeout => self.timeout += 1,
            ErrorKind::BadResponse => self.bad_response += 1,
            ErrorKind::Tls => self.tls += 1,
        }
    }

    /// All kinds together.
    pub fn total(&self) -> u64 {
        self.connect + self.reset + self.timeout + self.bad_response + self.tls
    }

    /// Adds another set of counts.
    pub fn merge(&mut self, other: &Errors) {
        self.connect += other.connect;
        self.reset += other.reset;
        self.timeout += other.timeout;
        self.bad_response += other.bad_response;
        self.tls += other.tls;
    }

    /// `0`, or `12 (reset 10, timeout 2)`.
    pub fn text(&self) -> String {
        if self.total() == 0 {
            return "0".into();
        }
        let parts: Vec<String> = [
            ("connect", self.connect),
            ("reset", self.reset),
            ("timeout", self.timeout),
            ("bad", self.bad_response),
            ("tls", self.tls),
        ]
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
        format!("{} ({})", self.total(), parts.join(", "))
    }
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest recorded.
    pub max: u64,
    /// Arithmetic mean.
    pub mean: f64,
}

/// One thread's (or, after merging, one run's) measurements.
#[derive(Debug, Clone)]
pub struct Recorder {
    latency_us: Histogram<u64>,
    /// Requests, round trips or bulk chunks completed inside the measured window.
    pub ops: u64,
    /// Payload bytes received inside the measured window (bulk throughput).
    pub bytes: u64,
    /// Errors inside the measured window.
    pub errors: Errors,
    /// TLS handshakes completed by the operations counted in `ops`.
    pub handshakes: u64,
    /// Of which resumed an earlier session.
    pub handshakes_resumed: u64,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Recorder {
            latency_us: Histogram::new_with_bounds(1, LATENCY_US_MAX, SIGFIG)
                .expect("constant bounds are valid"),
            ops: 0,
            bytes: 0,
            errors: Errors::default(),
            handshakes: 0,
            handshakes_resumed: 0,
        }
    }

    /// Counts one completed operation that took `latency` (from its intended start).
    pub fn complete(&mut self, latency: Duration) {
        let us = (latency.as_micros() as u64).clamp(1, LATENCY_US_MAX);
        self.latency_us
            .record(us)
            .expect("value is clamped into the histogram's range");
        self.ops += 1;
    }

    /// Adds everything `other` measured.
    pub fn merge(&mut self, other: &Recorder) {
        self.latency_us
            .add(&other.latency_us)
            .expect("both histograms have the same bounds");
        self.ops += other.ops;
        self.bytes += other.bytes;
        self.errors.merge(&other.errors);
        self.handshakes += other.handshakes;
        self.handshakes_resumed += other.handshakes_resumed;
    }

    /// Merges the recorders of all threads of a run.
    pub fn merged(parts: impl IntoIterator<Item = Recorder>) -> Recorder {
        let mut all = Recorder::new();
        for part in parts {
            all.merge(&part);
        }
        all
    }

    /// Latencies recorded.
    #[cfg(test)]
    pub fn samples(&self) -> u64 {
        self.latency_us.len()
    }

    /// Percentiles, or `None` when nothing was recorded.
    pub fn percentiles(&self) -> Option<Percentiles> {
        let h = &self.latency_us;
        if h.is_empty() {
            return None;
        }
        Some(Percentiles {
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: h.mean(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Per-thread recorders merged on the main thread give the same distribution and counts
    /// as one recorder that saw every sample.
    #[test]
    fn merging_across_threads_equals_one_recorder() {
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                std::thread::spawn(move || {
                    let mut r = Recorder::new();
                    for i in 0..10_000u64 {
                        r.complete(Duration::from_micros(1 + (i * 7 + t * 13) % 5_000));
                    }
                    r.bytes += 100 * (t + 1);
                    r.errors.add(ErrorKind::Timeout);
                    if t == 3 {
                        r.errors.add(ErrorKind::Reset);
                        r.complete(Duration::from_secs(2));
                    }
                    r
                })
            })
            .collect();
        let merged = Recorder::merged(threads.into_iter().map(|h| h.join().expect("no panic")));

        let mut single = Recorder::new();
        for t in 0..4u64 {
            for i in 0..10_000u64 {
                single.complete(Duration::from_micros(1 + (i * 7 + t * 13) % 5_000));
            }
        }
        single.complete(Duration::from_secs(2));

        assert_eq!(merged.ops, 40_001);
        assert_eq!(merged.samples(), 40_001);
        assert_eq!(merged.bytes, 100 + 200 + 300 + 400);
        assert_eq!(merged.errors.timeout, 4);
        assert_eq!(merged.errors.reset, 1);
        assert_eq!(merged.errors.total(), 5);
        assert_eq!(merged.percentiles(), single.percentiles());
        let p = merged.percentiles().expect("samples recorded");
        assert!(p.p50 <= p.p90 && p.p90 <= p.p99 && p.p99 <= p.p999 && p.p999 <= p.max);
        assert!(
            (2_000_000..=2_002_000).contains(&p.max),
            "max within 0.1 %: {}",
            p.max
        );
    }

    #[test]
    fn empty_has_no_percentiles() {
        assert_eq!(Recorder::new().percentiles(), None);
    }

    #[test]
    fn latency_is_clamped_not_lost() {
        let mut r = Recorder::new();
        r.complete(Duration::from_secs(3600));
        r.complete(Duration::ZERO);
        assert_eq!(r.samples(), 2);
        let p = r.percentiles().expect("samples recorded");
        assert!(p.max >= LATENCY_US_MAX);
    }

    #[test]
    fn error_text() {
        let mut e = Errors::default();
        assert_eq!(e.text(), "0");
        e.add(ErrorKind::Reset);
        e.add(ErrorKind::Reset);
        e.add(ErrorKind::Timeout);
        assert_eq!(e.text(), "3 (reset 2, timeout 1)");
        e.add(ErrorKind::Tls);
        assert_eq!(e.text(), "4 (reset 2, timeout 1, tls 1)");
    }
}
