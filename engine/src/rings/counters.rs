//! Per-shard counters: plain integers owned by the shard, merged on demand by the control
//! plane (summed over shards). Names are percore's; the `show stat` CSV maps them to
//! HAProxy's column names at the rendering boundary.
//!
//! - [`ProxyCounters`]: one frontend, backend or server on one shard, and the calls the data
//!   path makes on it ([`ProxyCounters::count_stream`], [`ProxyCounters::count_request`],
//!   [`ProxyCounters::record_times`]).
//! - [`RateCounter`]: events per second over the last second (`rate`, `req_rate`).
//! - [`TimeAverage`]: average ms over the last 1024 samples (`qtime`, `ctime`, …).
//!
//! Nothing here reads the clock: `now` is passed in, so the types are tested without sleeps.

use std::time::{Duration, Instant};

/// Counters of one frontend, backend or server on one shard.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ProxyCounters {
    /// Streams started (HAProxy `stot`).
    pub streams_total: u64,
    /// Highest number of concurrent streams seen (`smax`, per shard; merged as a sum).
    pub streams_max: u64,
    /// Bytes received from clients (`bin`), counted when streams end.
    pub bytes_in: u64,
    /// Bytes sent to clients (`bout`), counted when streams end.
    pub bytes_out: u64,
    /// Connection attempts to servers that failed (`econ`).
    pub connect_errors: u64,
    /// Server-side errors during the data phase (`eresp`).
    pub response_errors: u64,
    /// Connection retries (`wretr`).
    pub retries: u64,
    /// Retries that moved to another server (`wredis`).
    pub redispatches: u64,
    /// Streams killed by the admin socket or a stop (`K` flag).
    pub killed: u64,
    /// HTTP requests (`req_tot`).
    pub requests: u64,
    /// HTTP responses by class: 1xx, 2xx, 3xx, 4xx, 5xx, other (`hrsp_*`).
    pub responses: [u64; 6],
    /// Invalid or timed-out requests (`ereq`).
    pub request_errors: u64,
    /// Requests denied by `http_request` rules (`dreq`).
    pub denied: u64,
    /// Requests answered by percore itself: redirect, return, deny (`intercepted`).
    pub intercepted: u64,
    /// Exchanges or streams aborted by the client during the data phase (`cli_abrt`).
    pub client_aborts: u64,
    /// Exchanges or streams aborted by the server during the data phase (`srv_abrt`).
    pub server_aborts: u64,
    /// Streams per second (`rate`, `rate_max`), counted with `streams_total`.
    pub stream_rate: RateCounter,
    /// HTTP requests per second (`req_rate`, `req_rate_max`), counted with `requests`.
    pub request_rate: RateCounter,
    /// Average queue time (`qtime`).
    pub queue_time: TimeAverage,
    /// Average connect time (`ctime`).
    pub connect_time: TimeAverage,
    /// Average response time (`rtime`).
    pub response_time: TimeAverage,
    /// Average total time (`ttime`).
    pub total_time: TimeAverage,
    /// Longest queue, connect, response and total time of one exchange, ms (`qtime_max`,
    /// `ctime_max`, `rtime_max`, `ttime_max`); merged as the maximum over shards.
    pub times_max_ms: [u32; 4],
    /// When the last stream started (`lastsess`); merged as the latest over shards.
    pub last_stream: Option<Instant>,
    /// TLS handshakes completed (`ssl_sess`).
    pub ssl_sess: u64,
    /// Of which resumed a session (`ssl_reused_sess`).
    pub ssl_reused_sess: u64,
    /// TLS handshakes that failed (`ssl_failed_handshake`).
    pub ssl_failed_handshake: u64,
}

impl ProxyCounters {
    /// Counts a stream started (`stot`) and its rate (`rate`, `rate_max`).
    pub fn count_stream(&mut self, now: Instant) {
        self.streams_total += 1;
        self.stream_rate.add(now);
        self.last_stream = Some(now);
    }

    /// Counts an HTTP request (`req_tot`) and its rate (`req_rate`, `req_rate_max`).
    pub fn count_request(&mut self, now: Instant) {
        self.requests += 1;
        self.request_rate.add(now);
    }

    /// Adds one finished exchange's phase times to the averages. As HAProxy's
    /// `stream_update_time_stats`, an exchange that did not reach both the connect and the
    /// response phase adds no sample at all (its times would say nothing about the server);
    /// a connected exchange that never queued counts a queue time of 0.
    pub fn record_times(&mut self, t: ExchangeTimes) {
        let (Some(connect), Some(response)) = (t.connect_ms, t.response_ms) else {
            return;
        };
        let queue = t.queue_ms.unwrap_or(0);
        self.queue_time.add(queue);
        self.connect_time.add(connect);
        self.response_time.add(response);
        self.total_time.add(t.total_ms);
        for (max, ms) in self
            .times_max_ms
            .iter_mut()
            .zip([queue, connect, response, t.total_ms])
        {
            *max = (*max).max(ms);
        }
    }

    /// Adds another shard's counters, rates as read at `now` (`streams_max` and the rate
    /// maxima too: merged maxima are sums, an upper bound of the process-wide maximum; time
    /// averages are weighted by each shard's samples).
    pub fn add(&mut self, o: &ProxyCounters, now: Instant) {
        // Destructured so that a new field cannot be forgotten here.
        let ProxyCounters {
            streams_total,
            streams_max,
            bytes_in,
            bytes_out,
            connect_errors,
            response_errors,
            retries,
            redispatches,
            killed,
            requests,
            responses,
            request_errors,
            denied,
            intercepted,
            client_aborts,
            server_aborts,
            stream_rate,
            request_rate,
            queue_time,
            connect_time,
            response_time,
            total_time,
            times_max_ms,
            last_stream,
            ssl_sess,
            ssl_reused_sess,
            ssl_failed_handshake,
        } = o;
        self.ssl_sess += ssl_sess;
        self.ssl_reused_sess += ssl_reused_sess;
        self.ssl_failed_handshake += ssl_failed_handshake;
        self.streams_total += streams_total;
        self.streams_max += streams_max;
        self.bytes_in += bytes_in;
        self.bytes_out += bytes_out;
        self.connect_errors += connect_errors;
        self.response_errors += response_errors;
        self.retries += retries;
        self.redispatches += redispatches;
        self.killed += killed;
        self.requests += requests;
        for (a, b) in self.responses.iter_mut().zip(responses) {
            *a += b;
        }
        self.request_errors += request_errors;
        self.denied += denied;
        self.intercepted += intercepted;
        self.client_aborts += client_aborts;
        self.server_aborts += server_aborts;
        self.stream_rate.merge(stream_rate, now);
        self.request_rate.merge(request_rate, now);
        self.queue_time.merge(queue_time);
        self.connect_time.merge(connect_time);
        self.response_time.merge(response_time);
        self.total_time.merge(total_time);
        for (a, b) in self.times_max_ms.iter_mut().zip(times_max_ms) {
            *a = (*a).max(*b);
        }
        self.last_stream = self.last_stream.max(*last_stream);
    }

    /// `clear counters`: the maxima restart from 0 (HAProxy resets `*_max` to 0, not to the
    /// current value).
    pub fn clear_maxima(&mut self) {
        self.streams_max = 0;
        self.stream_rate.clear_max();
        self.request_rate.clear_max();
        self.times_max_ms = [0; 4];
    }

    /// Counts one HTTP response status in its class.
    pub fn count_status(&mut self, status: u16) {
        let class = match status {
            100..=199 => 0,
            200..=299 => 1,
            300..=399 => 2,
            400..=499 => 3,
            500..=599 => 4,
            _ => 5,
        };
        self.responses[class] += 1;
    }
}

/// Length of a [`RateCounter`] period: rates are events per second, as HAProxy's.
pub const RATE_PERIOD: Duration = Duration::from_secs(1);

/// Samples a [`TimeAverage`] averages over, HAProxy's `TIME_STATS_SAMPLES`.
pub const TIME_SAMPLES: u64 = 1024;

/// Events per second over the last second, HAProxy's `freq_ctr`: the count of the current
/// period plus the previous period's count weighted by the part of it still inside the last
/// second. The clock is read by the caller (`now`), never here. Also keeps the highest
/// current-period count seen (HAProxy's `*_max`, updated on each event).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RateCounter {
    /// Start of the current period; `None` before the first event.
    period_start: Option<Instant>,
    /// Events in the current period.
    current: u32,
    /// Events in the previous period (0 when it had none or is older than one period).
    previous: u32,
    /// Highest `current` reached (`rate_max`).
    max: u32,
}

impl RateCounter {
    /// Counts one event at `now` (times before the current period start count in it).
    pub fn add(&mut self, now: Instant) {
        self.rotate(now);
        self.current = self.current.saturating_add(1);
        self.max = self.max.max(self.current);
    }

    /// Events per second at `now`: `current + previous × (1 − elapsed / period)`, rounded
    /// down as HAProxy's `read_freq_ctr`.
    pub fn rate(&self, now: Instant) -> u32 {
        let Some(start) = self.period_start else {
            return 0;
        };
        let elapsed = now.saturating_duration_since(start);
        let period = RATE_PERIOD.as_nanos();
        let (current, previous, into) = match elapsed.as_nanos() / period {
            0 => (self.current, self.previous, elapsed.as_nanos()),
            1 => (0, self.current, elapsed.as_nanos() - period),
            _ => return 0,
        };
        let carried = u128::from(previous) * (period - into) / period;
        current.saturating_add(carried as u32)
    }

    /// Highest count of one period seen.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// Forgets the maximum (`clear counters`); the rate itself is kept.
    pub fn clear_max(&mut self) {
        self.max = 0;
    }

    /// Sums another shard's counter into this one, as read at `now`: the merged value keeps
    /// only rates (`rate` then returns the sum only at `now`) and the sum of maxima, an upper
    /// bound of the process-wide maximum, like `smax`.
    pub fn merge(&mut self, other: &RateCounter, now: Instant) {
        let sum = self.rate(now).saturating_add(other.rate(now));
        self.period_start = Some(now);
        self.current = sum;
        self.previous = 0;
        self.max = self.max.saturating_add(other.max);
    }

    /// Moves to the period holding `now`.
    fn rotate(&mut self, now: Instant) {
        let Some(start) = self.period_start else {
            self.period_start = Some(now);
            return;
        };
        let elapsed = now.saturating_duration_since(start);
        let periods = elapsed.as_nanos() / RATE_PERIOD.as_nanos();
        if periods == 0 {
            return;
        }
        self.previous = if periods == 1 { self.current } else { 0 };
        self.current = 0;
        let advance = RATE_PERIOD * u32::try_from(periods).unwrap_or(u32::MAX);
        self.period_start = Some(start + advance);
    }
}

/// Average of a time in ms over the last [`TIME_SAMPLES`] samples, HAProxy's `swrate`: a
/// running sum from which each new sample removes one `TIME_SAMPLES`th before adding
/// itself, so old samples fade out; until `TIME_SAMPLES` samples were seen the average
/// divides by the samples seen (HAProxy's ramp-up window). O(1) memory: 16 bytes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TimeAverage {
    /// The running sum (≈ average × `window`).
    sum: u64,
    /// Samples the sum stands for: `min(samples seen, TIME_SAMPLES)` on one shard, the sum
    /// of the shards' windows once merged.
    window: u64,
}

impl TimeAverage {
    /// Adds one sample in ms. Only on a shard's own value, never on a merged one.
    pub fn add(&mut self, ms: u32) {
        debug_assert!(self.window <= TIME_SAMPLES, "add on a merged average");
        self.sum = self.sum - self.sum.div_ceil(TIME_SAMPLES) + u64::from(ms);
        self.window = (self.window + 1).min(TIME_SAMPLES);
    }

    /// The average in ms, rounded up as HAProxy's `swrate_avg`; 0 without samples.
    pub fn average_ms(&self) -> u64 {
        if self.window == 0 {
            0
        } else {
            self.sum.div_ceil(self.window)
        }
    }

    /// Samples behind the average (the weight of this value in a merge).
    pub fn window(&self) -> u64 {
        self.window
    }

    /// Merges another shard's average: the result is the average weighted by each side's
    /// window (sums and windows add up).
    pub fn merge(&mut self, other: &TimeAverage) {
        self.sum += other.sum;
        self.window += other.window;
    }
}

/// Phase times of one finished exchange (HTTP) or stream (TCP), in ms since its start of
/// the phase, as HAProxy's `Tw`/`Tc`/`Tr`/`Ta`. `None`: the phase was not reached.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ExchangeTimes {
    /// Time waiting in the queue for a server slot (`Tw`); `None` if it never got there.
    pub queue_ms: Option<u32>,
    /// Time to connect to the server (`Tc`); `None` if no connection was established.
    pub connect_ms: Option<u32>,
    /// Time from the request sent to the response head received (`Tr`); in TCP mode the
    /// caller passes `Some(0)` once connected; `None` if no response came.
    pub response_ms: Option<u32>,
    /// Whole exchange (`Ta`/`Tt`).
    pub total_ms: u32,
}

/// Everything one shard counts.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counters {
    /// Connections accepted by this shard, all frontends.
    pub accepted: u64,
    /// Per frontend, in config order.
    pub frontends: Vec<ProxyCounters>,
    /// Per backend, in config order.
    pub backends: Vec<ProxyCounters>,
    /// Per backend, per server.
    pub servers: Vec<Vec<ProxyCounters>>,
    /// Events the shard could not push because the event ring was full.
    pub events_dropped: u64,
}

impl Counters {
    /// Zeroed counters shaped like the configuration.
    pub fn new(frontends: usize, servers_per_backend: &[usize]) -> Self {
        Counters {
            accepted: 0,
            frontends: vec![ProxyCounters::default(); frontends],
            backends: vec![ProxyCounters::default(); servers_per_backend.len()],
            servers: servers_per_backend
                .iter()
                .map(|&n| vec![ProxyCounters::default(); n])
                .collect(),
            events_dropped: 0,
        }
    }

    /// Room for a layout with `frontends` frontends and `servers[b]` server slots in backend
    /// `b` (new proxies' counters start from zero); the counters of
    /// `fresh` slots (a new server in a removed one's slot) start again from zero.
    pub fn grow_servers(
        &mut self,
        frontends: usize,
        servers: &[usize],
        fresh: &[crate::ids::ServerKey],
    ) {
        if self.frontends.len() < frontends {
            self.frontends.resize(frontends, ProxyCounters::default());
        }
        if self.backends.len() < servers.len() {
            self.backends
                .resize(servers.len(), ProxyCounters::default());
            self.servers.resize(servers.len(), Vec::new());
        }
        for (list, &n) in self.servers.iter_mut().zip(servers) {
            if list.len() < n {
                list.resize(n, ProxyCounters::default());
            }
        }
        for k in fresh {
            if let Some(c) = self
                .servers
                .get_mut(k.backend)
                .and_then(|b| b.get_mut(k.server))
            {
                *c = ProxyCounters::default();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn rate_interpolates_the_previous_period() {
        let t0 = Instant::now();
        let mut r = RateCounter::default();
        assert_eq!(r.rate(t0), 0);
        for i in 0..10 {
            r.add(t0 + ms(i * 50));
        }
        assert_eq!(r.rate(t0 + ms(500)), 10);
        assert_eq!(r.max(), 10);
        // 1.25 s: the first period is the previous one, 75 % of it still inside the last
        // second; 2 events in the current period.
        r.add(t0 + ms(1200));
        r.add(t0 + ms(1250));
        assert_eq!(r.rate(t0 + ms(1250)), 2 + 7);
        assert_eq!(r.rate(t0 + ms(1500)), 2 + 5);
        // Reading does not rotate: the next period carries the 2, then nothing.
        assert_eq!(r.rate(t0 + ms(2500)), 1);
        assert_eq!(r.rate(t0 + ms(3000)), 0);
        // A gap of more than one period forgets everything before it.
        r.add(t0 + ms(5100));
        assert_eq!(r.rate(t0 + ms(5100)), 1);
        assert_eq!(r.max(), 10, "max is the largest period count ever");
    }

    #[test]
    fn rates_merge_as_sums() {
        let t0 = Instant::now();
        let (mut a, mut b) = (RateCounter::default(), RateCounter::default());
        for i in 0..4 {
            a.add(t0 + ms(i));
        }
        // b's periods start later: merged at one `now`, each is read at that instant.
        for i in 0..6 {
            b.add(t0 + ms(700 + i));
        }
        let now = t0 + ms(1100);
        let mut total = RateCounter::default();
        total.merge(&a, now);
        total.merge(&b, now);
        assert_eq!(total.rate(now), a.rate(now) + b.rate(now));
        assert_eq!(total.rate(now), 3 + 6);
        assert_eq!(total.max(), 10);
    }

    #[test]
    fn time_average_ramps_up_then_slides() {
        let mut t = TimeAverage::default();
        assert_eq!(t.average_ms(), 0);
        t.add(10);
        assert_eq!(t.average_ms(), 10);
        t.add(20);
        assert_eq!(t.average_ms(), 15);
        for _ in 0..10 * TIME_SAMPLES {
            t.add(100);
        }
        assert_eq!(t.window(), TIME_SAMPLES);
        assert_eq!(t.average_ms(), 100);
        // Old samples fade: after a window of 0 ms the average is well below half.
        for _ in 0..TIME_SAMPLES {
            t.add(0);
        }
        assert!(t.average_ms() < 50, "{}", t.average_ms());
    }

    #[test]
    fn time_averages_merge_weighted_by_samples() {
        let mut a = TimeAverage::default();
        let mut b = TimeAverage::default();
        for _ in 0..3 {
            a.add(10);
        }
        b.add(50);
        let mut total = TimeAverage::default();
        total.merge(&a);
        total.merge(&b);
        assert_eq!(total.window(), 4);
        assert_eq!(total.average_ms(), 20, "(3 × 10 + 1 × 50) / 4");
    }

    #[test]
    fn record_times_follows_haproxy() {
        let mut c = ProxyCounters::default();
        // Never connected: no sample at all.
        c.record_times(ExchangeTimes {
            queue_ms: Some(5),
            connect_ms: None,
            response_ms: None,
            total_ms: 3000,
        });
        // Connected but no response: no sample either.
        c.record_times(ExchangeTimes {
            queue_ms: None,
            connect_ms: Some(1),
            response_ms: None,
            total_ms: 3000,
        });
        assert_eq!(c.total_time.window(), 0);
        c.record_times(ExchangeTimes {
            queue_ms: None,
            connect_ms: Some(2),
            response_ms: Some(30),
            total_ms: 40,
        });
        c.record_times(ExchangeTimes {
            queue_ms: Some(10),
            connect_ms: Some(4),
            response_ms: Some(10),
            total_ms: 20,
        });
        assert_eq!(c.queue_time.average_ms(), 5);
        assert_eq!(c.connect_time.average_ms(), 3);
        assert_eq!(c.response_time.average_ms(), 20);
        assert_eq!(c.total_time.average_ms(), 30);
    }

    #[test]
    fn counting_calls_move_totals_and_rates() {
        let t0 = Instant::now();
        let mut c = ProxyCounters::default();
        c.count_stream(t0);
        c.count_stream(t0 + ms(10));
        c.count_request(t0 + ms(20));
        assert_eq!(c.streams_total, 2);
        assert_eq!(c.requests, 1);
        assert_eq!(c.stream_rate.rate(t0 + ms(30)), 2);
        assert_eq!(c.request_rate.max(), 1);
        let mut total = ProxyCounters::default();
        total.add(&c, t0 + ms(30));
        total.add(&c, t0 + ms(30));
        assert_eq!(total.streams_total, 4);
        assert_eq!(total.stream_rate.rate(t0 + ms(30)), 4);
        assert_eq!(total.request_rate.max(), 2);
    }
}
