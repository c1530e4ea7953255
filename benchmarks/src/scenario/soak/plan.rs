//! What the soak sends and does: request kinds, fault kinds, what one id's life ended in,
//! and the deterministic choice of both (the same seed gives every contender the same
//! sequence of kinds and faults).

use serde::Serialize;

/// One kind of traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// GET, small body.
    Get,
    /// POST with a 4 KiB body.
    Post,
    /// POST with a 128 KiB body and `Expect: 100-continue`.
    UploadExpect,
    /// POST with a 128 KiB body, no `Expect`.
    Upload,
    /// A TCP stream through the TCP frontend: id line and 16 KiB echoed.
    Tcp,
    /// A slowloris head trickled one byte at a time.
    Slow,
}

impl Kind {
    /// Path segment and report name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Get => "get",
            Kind::Post => "post",
            Kind::UploadExpect => "upload-expect",
            Kind::Upload => "upload",
            Kind::Tcp => "tcp",
            Kind::Slow => "slow",
        }
    }

    /// Whether a proxy may send it to a server twice (RFC 9110 §9.2.2); POST and TCP streams
    /// must reach an origin at most once.
    pub fn idempotent(self) -> bool {
        matches!(self, Kind::Get | Kind::Slow)
    }

    /// Request body bytes.
    pub fn body_bytes(self) -> usize {
        match self {
            Kind::Post => 4 * 1024,
            Kind::UploadExpect | Kind::Upload => 128 * 1024,
            _ => 0,
        }
    }
}

/// Every fault the soak injects: per request (a header the origin acts on, or the client
/// misbehaving) or as a scheduled event with a time window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// The origin resets the connection in the middle of the response body.
    RstMid,
    /// The origin answers with an invalid head.
    Malformed,
    /// The origin closes without answering.
    CloseEarly,
    /// The client resets its connection in the middle of the request body.
    AbortRequest,
    /// The client resets its connection in the middle of the response body.
    AbortResponse,
    /// Clients trickle heads slower than `timeout http-request`.
    Slowloris,
    /// s1 is SIGKILLed, then restarted on the same ports.
    OriginKill,
    /// s2 is SIGSTOPped, then SIGCONTed.
    OriginStall,
    /// `shutdown sessions server app/s1` on the admin socket.
    ShutdownSessions,
    /// `set server app/s2 state maint`, then `ready`.
    Maint,
    /// percore: `reload` on the admin socket; HAProxy: `SIGUSR2` to its master.
    Reload,
    /// TCP streams opened up to near the proxy's descriptor limit, held, then closed.
    FdBurst,
}

impl Fault {
    /// The scheduled faults, in the order of one cycle.
    pub const SCHEDULED: [Fault; 7] = [
        Fault::OriginKill,
        Fault::OriginStall,
        Fault::ShutdownSessions,
        Fault::Maint,
        Fault::Reload,
        Fault::FdBurst,
        Fault::Slowloris,
    ];

    /// Report name, and the `X-Fault` value of the per-request origin faults.
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::RstMid => "rst-mid",
            Fault::Malformed => "malformed",
            Fault::CloseEarly => "close-early",
            Fault::AbortRequest => "abort-request",
            Fault::AbortResponse => "abort-response",
            Fault::Slowloris => "slowloris",
            Fault::OriginKill => "origin-kill",
            Fault::OriginStall => "origin-stall",
            Fault::ShutdownSessions => "shutdown-sessions",
            Fault::Maint => "maint",
            Fault::Reload => "reload",
            Fault::FdBurst => "fd-burst",
        }
    }

    /// Sent to the origin as `X-Fault`.
    pub fn is_origin_header(self) -> bool {
        matches!(self, Fault::RstMid | Fault::Malformed | Fault::CloseEarly)
    }

    /// The client's own doing: its ids end without an answer by design.
    pub fn is_client_side(self) -> bool {
        matches!(
            self,
            Fault::AbortRequest | Fault::AbortResponse | Fault::Slowloris
        )
    }
}

/// How one id's request ended, as the client saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum End {
    /// A complete 200 carrying this id (or, `Answered(other)`, another id's answer).
    Answered(u64),
    /// A complete response with another status (the proxy's error page).
    Status(u16),
    /// The connection was reset before a complete response.
    Reset,
    /// The connection closed before a complete response.
    Eof,
    /// No complete response within the client's timeout.
    Timeout,
    /// The connection to the proxy could not be opened.
    Connect,
    /// A response the origin does not send (framing, length, echo bytes).
    Bad,
    /// The client aborted it on purpose (client-side faults).
    Aborted,
}

impl End {
    /// Short text for tables: `502`, `reset`, …
    pub fn text(self) -> String {
        match self {
            End::Answered(_) => "answered".into(),
            End::Status(s) => s.to_string(),
            End::Reset => "reset".into(),
            End::Eof => "eof".into(),
            End::Timeout => "timeout".into(),
            End::Connect => "connect".into(),
            End::Bad => "bad".into(),
            End::Aborted => "aborted".into(),
        }
    }
}

/// One id's life: what was sent, which fault it carried, when, and how it ended.
#[derive(Debug, Clone, Copy)]
pub struct Sent {
    /// Unique over the run.
    pub id: u64,
    /// What was sent.
    pub kind: Kind,
    /// On a kept-alive client connection (false: a new connection, `Connection: close`).
    pub keep_alive: bool,
    /// A per-request fault it carried.
    pub fault: Option<Fault>,
    /// Milliseconds from the run's start to the first byte sent.
    pub start_ms: u64,
    /// Milliseconds from the run's start to the end.
    pub end_ms: u64,
    /// From the first byte sent to the end, in microseconds (the latency of an answer).
    pub micros: u64,
    /// How it ended.
    pub end: End,
}

/// A scheduled fault as it happened.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    /// Which.
    pub fault: Fault,
    /// Milliseconds from the run's start.
    pub start_ms: u64,
    /// Milliseconds from the run's start; failures up to [`WINDOW_TAIL_MS`] later count too.
    pub end_ms: u64,
    /// What went wrong carrying it out (an admin reply, a restart), if anything.
    pub error: Option<String>,
}

/// How long after a window's end a failure is still attributed to it: the time for
/// connections the fault broke to be noticed by their next request.
pub const WINDOW_TAIL_MS: u64 = 1_000;

/// xorshift64*: the soak's deterministic choices, one generator per client task.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for task `index` of a run seeded with `seed`.
    pub fn new(seed: u64, index: u64) -> Rng {
        Rng((seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1)
    }

    /// The next value in 0..1000.
    pub fn permille(&mut self) -> u32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as u32 % 1000
    }

    /// The next HTTP request: a kind and at most one per-request fault.
    pub fn request(&mut self) -> (Kind, Option<Fault>) {
        let kind = match self.permille() {
            0..=549 => Kind::Get,
            550..=799 => Kind::Post,
            800..=899 => Kind::UploadExpect,
            _ => Kind::Upload,
        };
        let fault = match (self.permille(), kind) {
            (0..=19, _) => Some(Fault::RstMid),
            (20..=39, _) => Some(Fault::Malformed),
            (40..=54, _) => Some(Fault::CloseEarly),
            (55..=69, Kind::Get) => Some(Fault::AbortResponse),
            (55..=69, _) => Some(Fault::AbortRequest),
            _ => None,
        };
        (kind, fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_repeat_for_a_seed_and_cover_every_kind_and_fault() {
        let mut a = Rng::new(17, 3);
        let mut b = Rng::new(17, 3);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..5000 {
            let r = a.request();
            assert_eq!(r, b.request());
            seen.insert((r.0.as_str(), r.1.map(Fault::as_str)));
        }
        for f in [
            "rst-mid",
            "malformed",
            "close-early",
            "abort-request",
            "abort-response",
        ] {
            assert!(seen.iter().any(|(_, g)| *g == Some(f)), "{f} never drawn");
        }
        for k in ["get", "post", "upload", "upload-expect"] {
            assert!(seen.iter().any(|(g, _)| *g == k), "{k} never drawn");
        }
    }
}
