//! When a connection sends its next request, and from which instant its latency counts.
//!
//! Closed loop (like wrk): the next request leaves as soon as the previous response arrived;
//! latency is measured from the actual send. Open loop (like wrk2): each connection owns a
//! fixed schedule `first + k × interval`; request k leaves at its *intended* time, or at
//! once if the connection is late, and its latency is measured from the intended time. A
//! stalled response therefore delays every request scheduled behind it on that connection,
//! and each of those records the part of the stall it waited through — the correction for
//! coordinated omission. Without it a 1 s stall shows up as one slow sample instead of the
//! hundreds of users it really delayed.
//!
//! One refinement: when the connection was already idle at the intended time, the send
//! can only be late because of the load generator itself (tokio's timer fires up to 1 ms
//! late; a busy client CPU adds more). That delay is not the server's, so latency then
//! starts at the actual send. When the connection was still busy with an earlier request
//! at the intended time — the server was slow — latency starts at the intended time.
//!
//! The pacer is pure: the caller passes `now`, acts on the returned [`Step`] and reports
//! completions with [`Pacer::completed`].

use std::time::{Duration, Instant};

/// What the connection does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Send now; latency is measured from `start`.
    Send {
        /// The instant the request was due (≤ now); decides which window it counts in.
        intended: Instant,
        /// Where its latency starts: `intended` if the connection was busy then, else now.
        start: Instant,
    },
    /// Nothing is due before this instant.
    WaitUntil(Instant),
    /// The run is over for this connection.
    Done,
}

/// One connection's pacing.
#[derive(Debug, Clone)]
pub struct Pacer {
    /// `None` for closed loop.
    interval: Option<Duration>,
    /// Intended time of the next request (open loop).
    next: Instant,
    /// No request is started at or after this instant.
    end: Instant,
    /// When the previous request completed (`None` before the first).
    idle_since: Option<Instant>,
}

impl Pacer {
    /// Closed loop until `end`.
    pub fn closed(end: Instant) -> Self {
        Pacer {
            interval: None,
            next: end,
            end,
            idle_since: None,
        }
    }

    /// Open loop: requests due at `first`, `first + interval`, … before `end`.
    pub fn open(first: Instant, interval: Duration, end: Instant) -> Self {
        assert!(
            !interval.is_zero(),
            "an open-loop interval must be positive"
        );
        Pacer {
            interval: Some(interval),
            next: first,
            end,
            idle_since: None,
        }
    }

    /// The pacer of connection `index` of `connections` sharing `rate` requests/s in total:
    /// each has interval `connections / rate`, and their first sends are spread evenly over
    /// one interval so the aggregate is a steady stream rather than bursts.
    pub fn open_share(
        start: Instant,
        rate: f64,
        index: usize,
        connections: usize,
        end: Instant,
    ) -> Self {
        assert!(rate > 0.0 && connections > 0 && index < connections);
        let interval =
            Duration::from_secs_f64(connections as f64 / rate).max(Duration::from_nanos(1));
        let offset = interval.mul_f64(index as f64 / connections as f64);
        Pacer::open(start + offset, interval, end)
    }

    /// Decides the next step at `now`. A `Send` consumes one slot of the schedule.
    pub fn step(&mut self, now: Instant) -> Step {
        match self.interval {
            None if now < self.end => Step::Send {
                intended: now,
                start: now,
            },
            None => Step::Done,
            Some(_) if self.next >= self.end => Step::Done,
            Some(_) if self.next > now => Step::WaitUntil(self.next),
            Some(interval) => {
                let intended = self.next;
                self.next += interval;
                let was_idle = self.idle_since.is_none_or(|t| t <= intended);
                let start = if was_idle { now } else { intended };
                Step::Send { intended, start }
            }
        }
    }

    /// The request sent last completed (or failed) at `now`.
    pub fn completed(&mut self, now: Instant) {
        self.idle_since = Some(now);
    }

    /// Gives up the rest of the schedule (the run's drain time is over) and returns how many
    /// requests were due but never sent: a connection that far behind reports them as
    /// timeouts instead of running past the end of the run.
    pub fn abandon(&mut self) -> u64 {
        let Some(interval) = self.interval else {
            return 0;
        };
        let mut unsent = 0;
        while self.next < self.end {
            self.next += interval;
            unsent += 1;
        }
        unsent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Drives a pacer on a simulated clock: each request takes `service(k)` once sent.
    /// Returns each request's (intended offset, recorded latency) in ms.
    fn simulate(
        mut pacer: Pacer,
        t0: Instant,
        service: impl Fn(usize) -> Duration,
    ) -> Vec<(u128, u128)> {
        let mut now = t0;
        let mut out = Vec::new();
        loop {
            match pacer.step(now) {
                Step::Done => return out,
                Step::WaitUntil(t) => {
                    assert!(t > now, "waits only for the future");
                    now = t;
                }
                Step::Send { intended, start } => {
                    assert!(intended <= now, "never sends early");
                    assert!(intended <= start && start <= now);
                    now += service(out.len());
                    pacer.completed(now);
                    out.push(((intended - t0).as_millis(), (now - start).as_millis()));
                }
            }
        }
    }

    #[test]
    fn open_loop_latency_includes_the_stall_of_earlier_requests() {
        let t0 = Instant::now();
        // One request per ms for 100 ms; each takes 0 ms except request 10, which stalls 50 ms.
        let pacer = Pacer::open(t0, MS, t0 + 100 * MS);
        let got = simulate(
            pacer,
            t0,
            |k| if k == 10 { 50 * MS } else { Duration::ZERO },
        );
        assert_eq!(
            got.len(),
            100,
            "every scheduled request is sent, late or not"
        );
        assert_eq!(got[9], (9, 0));
        assert_eq!(got[10], (10, 50));
        // Requests 11..60 were due during the stall and left at 60 ms: each waited for it.
        for (k, &(intended, latency)) in got.iter().enumerate().take(60).skip(11) {
            assert_eq!(intended, k as u128);
            assert_eq!(latency, 60 - k as u128, "request {k}");
        }
        assert_eq!(
            got[60],
            (60, 0),
            "the schedule is caught up after the backlog"
        );
        let slow = got.iter().filter(|(_, l)| *l > 0).count();
        assert_eq!(slow, 50, "a 50 ms stall delays 50 requests, not one");
    }

    #[test]
    fn closed_loop_measures_from_the_actual_send() {
        let t0 = Instant::now();
        let pacer = Pacer::closed(t0 + 100 * MS);
        let got = simulate(pacer, t0, |k| if k == 10 { 50 * MS } else { MS });
        // 10 × 1 ms, then 50 ms, then 1 ms each until 100 ms: only one slow sample.
        assert_eq!(got.len(), 10 + 1 + 40);
        assert_eq!(got.iter().filter(|(_, l)| *l > 1).count(), 1);
    }

    #[test]
    fn open_loop_waits_when_early() {
        let t0 = Instant::now();
        let mut p = Pacer::open(t0 + 5 * MS, 10 * MS, t0 + 30 * MS);
        assert_eq!(p.step(t0), Step::WaitUntil(t0 + 5 * MS));
        let first = t0 + 5 * MS;
        assert_eq!(
            p.step(first),
            Step::Send {
                intended: first,
                start: first
            }
        );
        p.completed(t0 + 6 * MS);
        assert_eq!(p.step(t0 + 6 * MS), Step::WaitUntil(t0 + 15 * MS));
        // The response came back at 6 ms, the timer woke us at 17 ms: our own lateness.
        let woke = t0 + 17 * MS;
        assert_eq!(
            p.step(woke),
            Step::Send {
                intended: t0 + 15 * MS,
                start: woke
            }
        );
        // Still busy at 25 ms (completes at 40 ms): the wait is the server's and counts.
        p.completed(t0 + 40 * MS);
        let late = t0 + 40 * MS;
        assert_eq!(
            p.step(late),
            Step::Send {
                intended: t0 + 25 * MS,
                start: t0 + 25 * MS
            }
        );
        assert_eq!(p.step(late), Step::Done);
    }

    #[test]
    fn abandon_counts_what_was_due_but_unsent() {
        let t0 = Instant::now();
        let mut p = Pacer::open(t0, MS, t0 + 10 * MS);
        assert!(matches!(p.step(t0 + 3 * MS), Step::Send { .. }));
        assert_eq!(p.abandon(), 9, "slots 1..=9 were never sent");
        assert_eq!(p.step(t0 + 20 * MS), Step::Done);
        assert_eq!(Pacer::closed(t0).abandon(), 0);
    }

    #[test]
    fn shares_spread_first_sends_over_one_interval() {
        let t0 = Instant::now();
        let end = t0 + Duration::from_secs(1);
        // 4 connections sharing 400/s: 10 ms interval each, first sends 0, 2.5, 5, 7.5 ms.
        let firsts: Vec<Duration> = (0..4)
            .map(|i| match Pacer::open_share(t0, 400.0, i, 4, end).step(t0) {
                Step::Send { intended, .. } => intended - t0,
                Step::WaitUntil(t) => t - t0,
                Step::Done => panic!("not done"),
            })
            .collect();
        assert_eq!(firsts[0], Duration::ZERO);
        assert_eq!(firsts[2], 5 * MS);
        let total: usize = (0..4)
            .map(|i| {
                simulate(Pacer::open_share(t0, 400.0, i, 4, end), t0, |_| {
                    Duration::ZERO
                })
                .len()
            })
            .sum();
        assert_eq!(total, 400, "the shares add up to the requested rate");
    }
}
