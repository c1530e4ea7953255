//! The control plane's rate limits of repeated warnings (admin sockets and the metrics
//! endpoint), one [`RateLimiter`] per kind shared by every listener of that kind. The shards
//! have their own (`shard::account::Warnings`): nothing is shared with them.

use std::rc::Rc;
use std::time::Instant;

use crate::logging::limit::{RateLimiter, WARN_FLUSH_INTERVAL};

/// One limit per kind of repeated control-plane warning.
#[derive(Debug)]
pub struct Warnings {
    /// A failed `accept` on an admin listener.
    pub admin_accept: RateLimiter,
    /// An admin connection refused: every slot runs a command.
    pub admin_refused: RateLimiter,
    /// An idle admin connection closed for a new one.
    pub admin_dropped: RateLimiter,
    /// A failed `accept` on the metrics listener.
    pub metrics_accept: RateLimiter,
    /// A scrape refused: every slot is taken.
    pub metrics_refused: RateLimiter,
}

/// The limits, each named in its summary lines.
impl Default for Warnings {
    fn default() -> Self {
        Self {
            admin_accept: RateLimiter::warnings("admin: accept errors"),
            admin_refused: RateLimiter::warnings("admin: refused connections"),
            admin_dropped: RateLimiter::warnings("admin: idle connections closed for new ones"),
            metrics_accept: RateLimiter::warnings("metrics: accept errors"),
            metrics_refused: RateLimiter::warnings("metrics: refused connections"),
        }
    }
}

impl Warnings {
    /// Logs the summary of every kind whose interval is over, forever, so that the end of a
    /// flood is reported without waiting for the next warning of its kind.
    pub async fn flush_forever(self: Rc<Self>) {
        loop {
            glommio::timer::sleep(WARN_FLUSH_INTERVAL).await;
            let now = Instant::now();
            for limit in [
                &self.admin_accept,
                &self.admin_refused,
                &self.admin_dropped,
                &self.metrics_accept,
                &self.metrics_refused,
            ] {
                limit.warn_flush(now);
            }
        }
    }
}
