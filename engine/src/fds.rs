//! The descriptor ceiling: how many file descriptors a configuration needs at most
//! (HAProxy's `maxsock`), checked against `ulimit -n` before anything is bound.
//!
//! At start the soft limit is raised towards the hard one as far as needed. If that is still
//! short, a default `global.maxconn` is lowered to what fits (HAProxy derives its maxconn
//! from the limit the same way), and a configured one is kept with a warning that says what
//! to raise: a stream beyond the ceiling would fail with EMFILE on accept or connect.

use nix::sys::resource::{getrlimit, setrlimit, Resource};
use percore_conf::{Config, Mode};

/// Descriptors besides those of streams, listeners, pools and checks: each shard's rings
/// and eventfds, the log sinks, the signal and control threads, stdio.
const RESERVED_PER_SHARD: u64 = 16;
/// Process-wide part of the reserve.
const RESERVED: u64 = 32;

/// What [`fit`] decided, for the start-up log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ceiling {
    /// The limit covers every descriptor the configuration may need.
    Enough {
        /// Descriptors needed at most.
        needed: u64,
        /// The soft limit now (raised if it had to be).
        limit: u64,
    },
    /// A default `global.maxconn` was lowered to fit.
    Lowered {
        /// The maxconn that fits.
        maxconn: u32,
        /// The soft limit (as high as the hard limit allows).
        limit: u64,
    },
    /// A configured `global.maxconn` does not fit: kept, warned about.
    Short {
        /// Descriptors needed at most.
        needed: u64,
        /// The soft limit (as high as the hard limit allows).
        limit: u64,
        /// Streams that fit.
        fits: u32,
    },
}

impl Ceiling {
    /// The start-up log line; `None` when there is nothing to say.
    pub fn message(&self, maxconn: u32) -> Option<(log::Level, String)> {
        match *self {
            Ceiling::Enough { .. } => None,
            Ceiling::Lowered { maxconn: m, limit } => Some((
                log::Level::Info,
                format!(
                    "global.maxconn lowered to {m} (default {maxconn}): ulimit -n is {limit}, \
                     two descriptors per stream plus listeners, pools and checks"
                ),
            )),
            Ceiling::Short {
                needed,
                limit,
                fits,
            } => Some((
                log::Level::Warn,
                format!(
                    "global.maxconn {maxconn} needs up to {needed} file descriptors but ulimit -n \
                     allows {limit}: about {fits} streams fit, more fail on accept or connect \
                     (EMFILE); raise it (ulimit -n {needed}) or lower global.maxconn"
                ),
            )),
        }
    }
}

/// Descriptors `config` needs at most besides two per stream: every shard's listeners, idle
/// pooled server connections and checks, the admin listeners and connections, the metrics
/// endpoint, and a reserve.
pub fn fixed(config: &Config) -> u64 {
    let shards = config.global.shard_cpus.len() as u64;
    let binds: u64 = config.frontends.iter().map(|f| f.bind.len() as u64).sum();
    let pooled: u64 = config
        .backends
        .iter()
        .filter(|b| b.mode == Mode::Http)
        .map(|b| b.servers.len() as u64 * u64::from(b.http.pool_max_idle))
        .sum();
    let checks: u64 = config
        .backends
        .iter()
        .flat_map(|b| &b.servers)
        .filter(|s| s.check.is_some())
        .count() as u64;
    let admin = config.global.admin.as_ref().map_or(0, |a| {
        (1 + a.extra.len() as u64) * (1 + crate::control::admin::ADMIN_CONNS_MAX as u64)
    });
    let metrics = u64::from(config.global.metrics.is_some()) * 2;
    shards * (binds + pooled + checks + RESERVED_PER_SHARD) + admin + metrics + RESERVED
}

/// Descriptors `config` needs at most: two per stream (client and server side) and
/// [`fixed`].
pub fn needed(config: &Config) -> u64 {
    2 * u64::from(config.global.maxconn) + fixed(config)
}

/// Raises the soft descriptor limit as far as `config` needs (up to the hard limit), then
/// lowers a default `global.maxconn` that still does not fit.
pub fn fit(config: &mut Config) -> Ceiling {
    let needed = needed(config);
    let limit = raise_soft_limit(needed);
    decide(config, needed, limit)
}

/// The decision of [`fit`] for a soft limit of `limit` (separate for tests).
fn decide(config: &mut Config, needed: u64, limit: u64) -> Ceiling {
    if limit >= needed {
        return Ceiling::Enough { needed, limit };
    }
    let fits = limit.saturating_sub(fixed(config)) / 2;
    let fits = u32::try_from(fits).unwrap_or(u32::MAX).max(1);
    if config.global.maxconn_configured {
        return Ceiling::Short {
            needed,
            limit,
            fits,
        };
    }
    config.global.maxconn = fits.min(config.global.maxconn);
    Ceiling::Lowered {
        maxconn: config.global.maxconn,
        limit,
    }
}

/// Raises the soft `RLIMIT_NOFILE` to `wanted` (at most the hard limit); returns the soft
/// limit in force afterwards.
fn raise_soft_limit(wanted: u64) -> u64 {
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return wanted;
    };
    if soft >= wanted {
        return soft;
    }
    let target = wanted.min(hard);
    match setrlimit(Resource::RLIMIT_NOFILE, target, hard) {
        Ok(()) => target,
        Err(_) => soft,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml: &str) -> Config {
        let host = percore_conf::HostInfo { cpus: vec![0, 1] };
        percore_conf::parse("test.yaml", yaml, &host).expect("valid")
    }

    const BASE: &str = "global:\n  shards: 2\n  MAXCONN\nfrontends:\n  f:\n    bind: [\"127.0.0.1:1\"]\n    default_backend: b\nbackends:\n  b:\n    mode: tcp\n    servers:\n      - { name: s, address: \"127.0.0.1:2\" }\n";

    #[test]
    fn two_descriptors_per_stream_plus_the_fixed_part() {
        let c = config(&BASE.replace("MAXCONN", "maxconn: 1000"));
        // 2 shards × (1 bind + 16) + 32 reserved; no admin, pools or checks in TCP mode.
        assert_eq!(fixed(&c), 2 * 17 + 32);
        assert_eq!(needed(&c), 2000 + 66);
    }

    #[test]
    fn a_default_maxconn_is_lowered_and_a_configured_one_kept() {
        let mut c = config(&BASE.replace("MAXCONN", "grace: 1s"));
        assert!(!c.global.maxconn_configured);
        let n = needed(&c);
        assert_eq!(
            decide(&mut c, n, 1066),
            Ceiling::Lowered {
                maxconn: 500,
                limit: 1066
            }
        );
        assert_eq!(c.global.maxconn, 500);

        let mut c = config(&BASE.replace("MAXCONN", "maxconn: 10000"));
        let n = needed(&c);
        let short = decide(&mut c, n, 1066);
        assert_eq!(
            short,
            Ceiling::Short {
                needed: n,
                limit: 1066,
                fits: 500
            }
        );
        assert_eq!(c.global.maxconn, 10000, "kept");
        let (level, text) = short.message(10000).expect("warned");
        assert_eq!(level, log::Level::Warn);
        assert!(text.contains("ulimit -n 20066"), "{text}");

        let mut c = config(&BASE.replace("MAXCONN", "maxconn: 100"));
        assert!(matches!(decide(&mut c, 266, 1066), Ceiling::Enough { .. }));
    }
}
