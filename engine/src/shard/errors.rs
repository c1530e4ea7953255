//! This shard's `show errors` log: the last refused request head per frontend and the last
//! refused response head per backend, with who sent it and when, as HAProxy keeps them per
//! proxy. Bounded: one capture of at most `CAPTURE_BYTES_MAX` bytes per frontend and per
//! backend. Filled by the shell from the machines' `Event::CaptureError`; read by the
//! control task for `Op::ShowErrors`.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::rings::msg::ErrorEntry;
use crate::stream::capture::ErrorCapture;

/// The captures of one shard.
#[derive(Debug, Default)]
pub struct ErrorLog {
    /// Last refused request per frontend.
    requests: Vec<Option<ErrorEntry>>,
    /// Last refused response per backend.
    responses: Vec<Option<ErrorEntry>>,
    /// Heads refused since start (HAProxy's "Total events captured"), also the event
    /// number of the last one.
    total: u64,
}

impl ErrorLog {
    /// An empty log for `frontends` frontends and `backends` backends.
    pub fn new(frontends: usize, backends: usize) -> Self {
        ErrorLog {
            requests: vec![None; frontends],
            responses: vec![None; backends],
            total: 0,
        }
    }

    /// Room for a layout with `frontends` frontends and `backends` backends.
    pub fn grow(&mut self, frontends: usize, backends: usize) {
        if self.requests.len() < frontends {
            self.requests.resize(frontends, None);
        }
        if self.responses.len() < backends {
            self.responses.resize(backends, None);
        }
    }

    /// Files `capture` of a stream of `frontend` from `src`, replacing the proxy's last one.
    pub fn record(&mut self, frontend: usize, src: SocketAddr, capture: ErrorCapture) {
        self.total += 1;
        let unix_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        let slot = match (capture.response, capture.backend) {
            (true, Some(b)) => self.responses.get_mut(b),
            (true, None) => None,
            (false, _) => self.requests.get_mut(frontend),
        };
        if let Some(slot) = slot {
            *slot = Some(ErrorEntry {
                unix_us,
                frontend,
                src,
                event: self.total,
                capture,
            });
        }
    }

    /// Every capture and the total, for `show errors`.
    pub fn snapshot(&self) -> (u64, Vec<ErrorEntry>) {
        let entries = self
            .requests
            .iter()
            .chain(&self.responses)
            .flatten()
            .cloned()
            .collect();
        (self.total, entries)
    }
}
