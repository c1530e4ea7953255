//! Accounting in one place: a finished exchange (HTTP) or stream (TCP) [`Record`] becomes
//! counters, a rate-limited warning when it ended on a peer's protocol error, and an access
//! log line (sampled and rate-limited by `global.log`, built by `logging::format`).

use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

use super::table::SlotRef;
use super::Shard;
use crate::ids::{ShardId, StreamId};
use crate::logging::format::LineFacts;
use crate::logging::limit::RateLimiter;
use crate::logging::Severity;
use crate::rings::counters::{ExchangeTimes, ProxyCounters};
use crate::stream::{Fault, Record};
use crate::termination::Cause;

/// One warning limit per kind of repeated warning of this shard, so that a flood of one
/// kind neither floods the log nor hides the first line of another kind.
#[derive(Debug)]
pub struct Warnings {
    invalid_request: RateLimiter,
    invalid_response: RateLimiter,
    proxy_header: RateLimiter,
    tls: RateLimiter,
    server_tls: RateLimiter,
    accept: RateLimiter,
}

impl Warnings {
    /// The limits of shard `shard`, each named in its summary lines.
    pub fn new(shard: ShardId) -> Self {
        let kind = |what: &str| RateLimiter::warnings(format!("shard {shard}: {what}"));
        Self {
            invalid_request: kind("invalid requests"),
            invalid_response: kind("invalid responses"),
            proxy_header: kind("refused PROXY headers"),
            tls: kind("failed TLS handshakes"),
            server_tls: kind("failed TLS handshakes with servers"),
            accept: kind("accept errors"),
        }
    }

    /// The limit of `fault`'s kind; `None` for faults that are not peer protocol errors.
    fn of_fault(&self, fault: &Fault) -> Option<&RateLimiter> {
        match fault {
            Fault::InvalidRequest(_) | Fault::InvalidRequestBody(_) => Some(&self.invalid_request),
            Fault::InvalidResponse(_) | Fault::InvalidResponseBody(_) => {
                Some(&self.invalid_response)
            }
            _ => None,
        }
    }

    /// Logs the summary of every kind whose interval is over at `now` (called periodically,
    /// so that the end of a flood is reported without waiting for the next warning).
    pub fn flush(&self, now: Instant) {
        for limit in [
            &self.invalid_request,
            &self.invalid_response,
            &self.proxy_header,
            &self.tls,
            &self.server_tls,
            &self.accept,
        ] {
            limit.warn_flush(now);
        }
    }
}

impl Shard {
    /// A connection refused for its PROXY header: a rate-limited warning.
    pub(super) fn warn_proxy_header(&self, line: &str) {
        self.warnings
            .proxy_header
            .warn(Instant::now(), || format!("shard {}: {line}", self.id));
    }

    /// A failed TLS handshake: a rate-limited warning.
    pub(super) fn warn_tls(&self, line: &str) {
        self.warnings
            .tls
            .warn(Instant::now(), || format!("shard {}: {line}", self.id));
    }

    /// A failed TLS handshake with a server: a rate-limited warning.
    pub(super) fn warn_server_handshake(&self, line: &str) {
        self.warnings
            .server_tls
            .warn(Instant::now(), || format!("shard {}: {line}", self.id));
    }

    /// A failed `accept` on `addr` (EMFILE, ENFILE, ENOBUFS…): a rate-limited warning, so
    /// that every episode is logged and none floods the log.
    pub(super) fn warn_accept(&self, addr: SocketAddr, e: &dyn std::fmt::Display) {
        self.warnings.accept.warn(Instant::now(), || {
            format!("shard {}: accept on {addr} failed: {e}", self.id)
        });
    }

    /// Counts one finished exchange or stream of `frontend` and writes its log line.
    pub fn account(&self, frontend: usize, peer: SocketAddr, slot: SlotRef, r: &Record) {
        self.count(frontend, r);
        self.warn_on_fault(peer, slot.id(), r);
        let mut log = self.access_log.borrow_mut();
        if let Some(log) = log.as_mut() {
            if log.admit(r.ended) {
                log.push(Severity::Info, &self.log_line(frontend, peer, slot, r));
            }
        }
    }

    fn count(&self, frontend: usize, r: &Record) {
        let effects = r.fault.as_ref().map(Fault::effects);
        let faults = effects.map(|e| e.counters).unwrap_or_default();
        let killed = r.termination.cause == Cause::Killed;
        let apply = |p: &mut ProxyCounters| {
            if r.http {
                p.count_request(r.ended);
                if r.status > 0 {
                    p.count_status(r.status);
                }
            }
            p.bytes_in += r.bytes_in;
            p.bytes_out += r.bytes_out;
        };
        let mut c = self.counters.borrow_mut();
        {
            let f = &mut c.frontends[frontend];
            apply(f);
            f.request_errors += u64::from(faults.request_error);
            f.denied += u64::from(r.denied);
            f.intercepted += u64::from(r.intercepted);
            // An idle killed stream has no record; the shell counts those kills itself.
        }
        if faults.request_error || r.intercepted {
            return;
        }
        let times = exchange_times(r);
        let server_side = |p: &mut ProxyCounters| {
            apply(p);
            p.response_errors += u64::from(faults.response_error);
            p.client_aborts += u64::from(faults.client_abort);
            p.server_aborts += u64::from(faults.server_abort);
            p.killed += u64::from(killed);
            p.record_times(times);
        };
        server_side(&mut c.backends[r.backend]);
        if let Some(k) = r.server {
            server_side(&mut c.servers[k.backend][k.server]);
        }
    }

    /// Peer protocol errors are worth a warning, rate-limited per kind.
    fn warn_on_fault(&self, peer: SocketAddr, id: StreamId, r: &Record) {
        let Some(fault) = &r.fault else {
            return;
        };
        if let Some(limit) = self.warnings.of_fault(fault) {
            limit.warn(r.ended, || {
                format!("shard {} stream {id} from {peer}: {fault}", self.id)
            });
        }
    }

    /// The line of `r` in the configured layout: `log_format`, else HAProxy's httplog or
    /// tcplog. An exchange that reached no backend names the frontend in its place.
    fn log_line(&self, frontend: usize, peer: SocketAddr, slot: SlotRef, r: &Record) -> String {
        let gen = self.current();
        let cfg = &gen.config;
        let fe = &cfg.frontends[frontend];
        let backend = &cfg.backends[r.backend];
        let table = self.table.borrow();
        let facts = LineFacts {
            client: peer,
            frontend: &fe.name,
            backend: if r.routed { &backend.name } else { &fe.name },
            server: r.server.map(|k| backend.servers[k.server].name.as_str()),
            started: wall_clock(r.started, r.ended),
            conns: [
                table.len(),
                table.frontend_streams(frontend),
                table.backend_streams(r.backend),
                r.server.map_or(0, |k| table.server_streams(k)),
            ],
            stream: slot.id(),
            tls: table.get(slot).and_then(|e| e.tls),
        };
        let (http, tcp) = &self.log_formats;
        let format = cfg
            .global
            .log
            .log_format
            .as_ref()
            .unwrap_or(if r.http { http } else { tcp });
        let mut line = String::with_capacity(256);
        crate::logging::format::render(&mut line, format, &facts, r);
        line
    }
}

/// HAProxy's Tw/Tc/Tr/Ta of a record for the `qtime`..`ttime` averages.
fn exchange_times(r: &Record) -> ExchangeTimes {
    let ms = |d: std::time::Duration| u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
    let request_ready = r.head_at.unwrap_or(r.started);
    let connect_ms = r.connected_at.map(|c| {
        ms(c.saturating_duration_since(request_ready)).saturating_sub(r.queued_ms.unwrap_or(0))
    });
    let response_ms = match (r.http, r.connected_at, r.response_at) {
        (true, Some(c), Some(resp)) => Some(ms(resp.saturating_duration_since(c))),
        (true, _, _) => None,
        // TCP has no response head: a connected stream counts 0, as HAProxy.
        (false, c, _) => c.map(|_| 0),
    };
    ExchangeTimes {
        queue_ms: r.queued_ms,
        connect_ms,
        response_ms,
        total_ms: ms(r.ended.saturating_duration_since(r.started)),
    }
}

/// The wall-clock time of `started`, seen from `ended` (monotonic instants carry no date).
fn wall_clock(started: Instant, ended: Instant) -> SystemTime {
    let ago =
        Instant::now().saturating_duration_since(ended) + ended.saturating_duration_since(started);
    SystemTime::now()
        .checked_sub(ago)
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use percore_protocols::http1::{BodyError, RequestError};

    use super::*;
    use std::time::Duration;

    use crate::logging::limit::{Admit, WARN_INTERVAL};

    #[test]
    fn each_warning_kind_has_its_own_limit() {
        let w = Warnings::new(ShardId(0));
        let t0 = Instant::now();
        let admit = |fault: &Fault| w.of_fault(fault).expect("a limited kind").admit(t0);
        let bad_request = Fault::InvalidRequest(RequestError::MissingHost);
        let bad_body = Fault::InvalidRequestBody(BodyError::Truncated);
        let bad_response = Fault::InvalidResponseBody(BodyError::Truncated);
        assert_eq!(admit(&bad_request), Admit::Log(None));
        assert_eq!(
            admit(&bad_body),
            Admit::Suppress,
            "one kind: invalid requests"
        );
        // A flood of bad requests does not hide the first bad response, nor the reverse.
        assert_eq!(admit(&bad_response), Admit::Log(None));
        assert_eq!(admit(&bad_response), Admit::Suppress);
        assert!(w.of_fault(&Fault::ClientTimeout).is_none());
        assert_eq!(w.accept.admit(t0), Admit::Log(None));
        assert_eq!(w.proxy_header.admit(t0), Admit::Log(None));
    }

    #[test]
    fn a_second_accept_error_episode_is_logged_again() {
        let w = Warnings::new(ShardId(1));
        let t0 = Instant::now();
        // EMFILE: the accept loop retries every 100 ms.
        assert_eq!(w.accept.admit(t0), Admit::Log(None));
        for i in 1..40 {
            assert_eq!(
                w.accept.admit(t0 + i * Duration::from_millis(100)),
                Admit::Suppress
            );
        }
        w.flush(t0 + WARN_INTERVAL);
        // Descriptors are back; minutes later they run out again.
        assert_eq!(w.accept.admit(t0 + 600 * WARN_INTERVAL), Admit::Log(None));
    }
}
