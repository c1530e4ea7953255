//! Rate limits for repeated process-log warnings (accept errors, refused admin connections,
//! bad requests, …): one [`RateLimiter`] per kind lets at most `lines_max` lines through per
//! interval and counts the rest; when the interval ends, one summary line says how many
//! were suppressed, and the limit resets, so a later episode is logged again.
//!
//! Single-threaded (`Cell`s, no atomics): each shard owns its limiters, the control plane
//! its own. The caller passes `now`, so the arithmetic is tested without a clock; the owner
//! calls [`RateLimiter::flush`] periodically so that a summary is not held back until the
//! next warning of its kind.

use std::cell::Cell;
use std::fmt;
use std::time::{Duration, Instant};

/// Lines one kind of warning logs per [`WARN_INTERVAL`]: the first of an episode says what
/// happens; the summary says how often.
pub const WARN_LINES_MAX: u32 = 1;

/// The interval of every warning limit: a flood costs at most two lines per kind (the
/// first, then the summary) per 5 s, and a new episode after a quiet interval is logged at
/// once.
pub const WARN_INTERVAL: Duration = Duration::from_secs(5);

/// How often the owners of limiters flush them: a summary comes at most this late.
pub const WARN_FLUSH_INTERVAL: Duration = Duration::from_millis(250);

/// One kind of repeated warning, limited to `lines_max` lines per `interval`.
#[derive(Debug)]
pub struct RateLimiter {
    /// Names the kind in summary lines (`shard 0: invalid requests`).
    label: String,
    /// Lines let through per interval; at least 1.
    lines_max: u32,
    /// Length of an interval.
    interval: Duration,
    /// Start of the current interval: set by the first line after a quiet time, cleared
    /// when the interval ends.
    started: Cell<Option<Instant>>,
    /// Lines let through in the current interval.
    passed: Cell<u32>,
    /// Lines refused in the current interval.
    suppressed: Cell<u64>,
}

/// What to do with one warning line.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Log it, after the summary of the previous interval if that was not flushed yet.
    Log(Option<Suppressed>),
    /// Drop it: it is counted in the summary of this interval.
    Suppress,
}

/// The summary of an interval that suppressed lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suppressed {
    /// Lines suppressed.
    pub lines: u64,
    /// Length of the interval they were suppressed in.
    pub interval: Duration,
}

impl RateLimiter {
    /// A limiter of `lines_max` (at least 1) lines per `interval` for the kind `label`.
    pub fn new(label: impl Into<String>, lines_max: u32, interval: Duration) -> Self {
        assert!(
            lines_max > 0,
            "a limiter that never logs hides every episode"
        );
        Self {
            label: label.into(),
            lines_max,
            interval,
            started: Cell::new(None),
            passed: Cell::new(0),
            suppressed: Cell::new(0),
        }
    }

    /// A limiter with the process-wide [`WARN_LINES_MAX`] and [`WARN_INTERVAL`].
    pub fn warnings(label: impl Into<String>) -> Self {
        Self::new(label, WARN_LINES_MAX, WARN_INTERVAL)
    }

    /// Decides about one line at `now`: the first of an interval starts it.
    pub fn admit(&self, now: Instant) -> Admit {
        let summary = self.flush(now);
        if self.started.get().is_none() {
            self.started.set(Some(now));
            self.passed.set(1);
            return Admit::Log(summary);
        }
        if self.passed.get() < self.lines_max {
            self.passed.set(self.passed.get() + 1);
            return Admit::Log(summary);
        }
        self.suppressed.set(self.suppressed.get() + 1);
        Admit::Suppress
    }

    /// Ends the current interval if it is over at `now`; its summary if it suppressed any.
    pub fn flush(&self, now: Instant) -> Option<Suppressed> {
        let started = self.started.get()?;
        if now.saturating_duration_since(started) < self.interval {
            return None;
        }
        self.started.set(None);
        self.passed.set(0);
        let lines = self.suppressed.replace(0);
        (lines > 0).then_some(Suppressed {
            lines,
            interval: self.interval,
        })
    }

    /// Logs the warning `line` (built only when it is logged) if the limit lets it through.
    pub fn warn(&self, now: Instant, line: impl FnOnce() -> String) {
        if let Admit::Log(summary) = self.admit(now) {
            if let Some(s) = summary {
                log::warn!("{}: {s}", self.label);
            }
            log::warn!("{}", line());
        }
    }

    /// Logs the summary of an interval that is over at `now` (called periodically).
    pub fn warn_flush(&self, now: Instant) {
        if let Some(s) = self.flush(now) {
            log::warn!("{}: {s}", self.label);
        }
    }
}

/// `N more suppressed in the last 5s`.
impl fmt::Display for Suppressed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} more suppressed in the last {}",
            self.lines,
            percore_conf::format_duration(self.interval)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    fn limiter(lines_max: u32) -> (RateLimiter, Instant) {
        (RateLimiter::new("test", lines_max, 5 * SEC), Instant::now())
    }

    #[test]
    fn first_line_passes_and_a_burst_is_suppressed() {
        let (l, t0) = limiter(1);
        assert_eq!(l.admit(t0), Admit::Log(None));
        for i in 0..1000 {
            assert_eq!(l.admit(t0 + Duration::from_millis(i)), Admit::Suppress);
        }
        assert_eq!(l.flush(t0 + 4 * SEC), None, "the interval is not over");
    }

    #[test]
    fn summary_count_is_exact_and_the_next_interval_logs_again() {
        let (l, t0) = limiter(1);
        assert_eq!(l.admit(t0), Admit::Log(None));
        for _ in 0..499 {
            assert_eq!(l.admit(t0 + SEC), Admit::Suppress);
        }
        let summary = l.flush(t0 + 5 * SEC).expect("suppressed lines");
        assert_eq!(summary.lines, 499);
        assert_eq!(summary.to_string(), "499 more suppressed in the last 5s");
        assert_eq!(l.flush(t0 + 6 * SEC), None, "reported once");
        // A later episode is logged again, and limited again.
        let t1 = t0 + 60 * SEC;
        assert_eq!(l.admit(t1), Admit::Log(None));
        assert_eq!(l.admit(t1), Admit::Suppress);
        assert_eq!(l.flush(t1 + 5 * SEC).map(|s| s.lines), Some(1));
    }

    #[test]
    fn an_unflushed_summary_rides_on_the_next_line() {
        let (l, t0) = limiter(1);
        assert_eq!(l.admit(t0), Admit::Log(None));
        assert_eq!(l.admit(t0 + SEC), Admit::Suppress);
        assert_eq!(l.admit(t0 + 2 * SEC), Admit::Suppress);
        let summary = Suppressed {
            lines: 2,
            interval: 5 * SEC,
        };
        assert_eq!(l.admit(t0 + 5 * SEC), Admit::Log(Some(summary)));
        // That line started a new interval.
        assert_eq!(l.admit(t0 + 6 * SEC), Admit::Suppress);
    }

    #[test]
    fn a_quiet_interval_has_no_summary() {
        let (l, t0) = limiter(1);
        assert_eq!(l.admit(t0), Admit::Log(None));
        assert_eq!(l.flush(t0 + 5 * SEC), None);
        assert_eq!(l.admit(t0 + 5 * SEC), Admit::Log(None));
        assert_eq!(l.flush(t0), None, "a clock going back ends nothing");
    }

    #[test]
    fn lines_max_lines_pass_per_interval() {
        let (l, t0) = limiter(3);
        for _ in 0..3 {
            assert_eq!(l.admit(t0), Admit::Log(None));
        }
        for _ in 0..10 {
            assert_eq!(l.admit(t0 + SEC), Admit::Suppress);
        }
        assert_eq!(l.flush(t0 + 5 * SEC).map(|s| s.lines), Some(10));
        for _ in 0..3 {
            assert_eq!(l.admit(t0 + 5 * SEC), Admit::Log(None));
        }
        assert_eq!(l.admit(t0 + 5 * SEC), Admit::Suppress);
    }

    #[test]
    fn flush_before_any_line_is_empty() {
        let (l, t0) = limiter(1);
        assert_eq!(l.flush(t0 + 100 * SEC), None);
        assert_eq!(l.admit(t0 + 100 * SEC), Admit::Log(None));
    }
}
