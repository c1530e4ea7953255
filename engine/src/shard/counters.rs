//! Per-shard counters: plain integers owned by the shard, merged on demand by the control
//! plane (summed over shards). Names are percore's; the `show stat` CSV maps them to
//! HAProxy's column names at the rendering boundary.

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
}

impl ProxyCounters {
    /// Adds another shard's counters (`streams_max` too: merged maxima are sums, an upper
    /// bound of the process-wide maximum).
    pub fn add(&mut self, o: &ProxyCounters) {
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
        } = o;
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
}
