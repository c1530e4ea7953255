//! Process log (start-up, shutdown, warnings) and the per-stream access log.
//!
//! The process log is a `log` crate backend writing one line per record to stderr, so that
//! glommio's own warnings (memlock, ring set-up) are visible too; `PERCORE_LOG` sets the level
//! (`error|warn|info|debug|trace`, default `info`). The access log is separate and off by
//! default: each shard owns its own file handle and writes each line with a single `write(2)`
//! (O_APPEND for files), so shards never contend on a lock.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsFd;
use std::time::{SystemTime, UNIX_EPOCH};

use percore_conf::LogTarget;

struct StderrLogger {
    level: log::LevelFilter,
}

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format!(
            "{} [{}] {}\n",
            iso_time(SystemTime::now()),
            record.level().as_str().to_ascii_uppercase(),
            record.args()
        );
        // One write per line keeps lines from different threads whole.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// Installs the process logger; the level comes from `PERCORE_LOG`.
pub fn init() {
    let level = std::env::var("PERCORE_LOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(log::LevelFilter::Info);
    // Only fails if a logger is already set (tests calling twice): keep the first.
    if log::set_boxed_logger(Box::new(StderrLogger { level })).is_ok() {
        log::set_max_level(level);
    }
}

/// One shard's access log writer.
#[derive(Debug)]
pub struct AccessLog {
    out: File,
}

impl AccessLog {
    /// Opens the target for this shard; `None` when the access log is off.
    pub fn open(enabled: bool, target: &LogTarget) -> std::io::Result<Option<Self>> {
        if !enabled {
            return Ok(None);
        }
        let out = match target {
            LogTarget::Stderr => File::from(std::io::stderr().as_fd().try_clone_to_owned()?),
            LogTarget::File(path) => OpenOptions::new().create(true).append(true).open(path)?,
        };
        Ok(Some(AccessLog { out }))
    }

    /// Writes one line (a newline is appended).
    pub fn line(&mut self, mut line: String) {
        line.push('\n');
        // A full disk or closed stderr must not take the proxy down; the line is lost.
        let _ = self.out.write_all(line.as_bytes());
    }
}

/// `2026-11-24T20:30:00.123Z`.
pub fn iso_time(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s, ms) = civil(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
}

/// HAProxy's accept date: `24/Nov/2026:20:30:00.123`.
pub fn haproxy_date(t: SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, mo, d, h, mi, s, ms) = civil(t);
    format!(
        "{d:02}/{}/{y:04}:{h:02}:{mi:02}:{s:02}.{ms:03}",
        MONTHS[(mo - 1) as usize]
    )
}

/// UTC calendar fields of `t` (Howard Hinnant's days-to-civil algorithm).
fn civil(t: SystemTime) -> (i64, u32, u32, u32, u32, u32, u32) {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
    let ms = since.subsec_millis();
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400) as u32;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, rem / 3600, rem / 60 % 60, rem % 60, ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_552_200_123);
        assert_eq!(iso_time(t), "2026-11-24T20:30:00.123Z");
        assert_eq!(haproxy_date(t), "24/Nov/2026:20:30:00.123");
        assert_eq!(iso_time(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(&iso_time(leap)[..10], "2000-02-29");
    }
}
