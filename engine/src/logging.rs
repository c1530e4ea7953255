//! Process log (start-up, shutdown, warnings) and the per-stream access log.
//!
//! The process log is a `log` crate backend writing one line per record to stderr, so that
//! glommio's own warnings (memlock, ring set-up) are visible too; `PERCORE_LOG` sets the level
//! (`error|warn|info|debug|trace`, default `info`).
//!
//! The access log is separate and off by default. Shards never write it themselves: each
//! shard's [`AccessLog`] is the producer end of a bounded ring of lines, drained by one
//! thread `percore-log` ([`AccessLogWriter`]) that writes batches to the sink (stderr or an
//! O_APPEND file). Pushing a line is a memcpy into a recycled slot — no syscall, no lock, no
//! allocation once the slot is warm; a full ring drops the line and counts it
//! ([`AccessLog::dropped`], `logs_dropped` in `show shards`), so a slow sink never stalls
//! a shard. Lines of one shard are written in the order the shard pushed them. On a graceful
//! stop, [`AccessLogWriter::finish`] writes what the rings still hold before the process exits.

use std::fs::{File, OpenOptions};
use std::future::poll_fn;
use std::io::Write;
use std::os::fd::AsFd;
use std::task::Poll;
use std::time::{SystemTime, UNIX_EPOCH};

use percore_conf::LogTarget;
use thingbuf::mpsc;
use thingbuf::recycling::WithCapacity;

/// Lines one shard's access-log ring holds. At 100k lines/s per shard that is 10 ms of
/// slack for the writer thread before lines drop.
///
/// Memory per shard: at most `ACCESS_LOG_RING_LINES × ACCESS_LINE_BYTES_MAX` = 1024 × 4 KiB
/// = 4 MiB (lines are truncated to [`ACCESS_LINE_BYTES_MAX`] and a recycled slot keeps at
/// most that capacity); with typical 200-byte lines about 200 KiB.
pub const ACCESS_LOG_RING_LINES: usize = 1024;

/// Longest access-log line kept, newline included; longer ones are cut (at a character
/// boundary) and end with `...`. HAProxy's default `log … len` is 1024; percore's lines
/// carry the request line, so 4 KiB keeps long URIs readable while bounding ring memory.
pub const ACCESS_LINE_BYTES_MAX: usize = 4096;

/// Bytes the writer gathers from the rings before one `write(2)`.
const WRITE_BATCH_BYTES_MAX: usize = 256 << 10;

/// The recycling policy of a ring slot: cleared, capacity capped at one line.
fn recycle() -> WithCapacity {
    WithCapacity::new().with_max_capacity(ACCESS_LINE_BYTES_MAX)
}

type LineSender = mpsc::Sender<String, WithCapacity>;
type LineReceiver = mpsc::Receiver<String, WithCapacity>;

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

/// One shard's end of the access log: pushes lines onto the shard's ring, never blocks.
#[derive(Debug)]
pub struct AccessLog {
    ring: LineSender,
    /// Lines refused because the ring was full (or the writer gone).
    dropped: u64,
}

impl AccessLog {
    /// Queues one line (a newline is appended; a line longer than
    /// [`ACCESS_LINE_BYTES_MAX`] is cut). A full ring drops the line and counts it.
    pub fn line(&mut self, line: String) {
        match self.ring.try_send_ref() {
            Ok(mut slot) => push_bounded(&mut slot, &line),
            Err(_) => self.dropped += 1,
        }
    }

    /// Lines dropped so far because the ring was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// Appends `line` and a newline to `slot`, cut so that the whole is at most
/// [`ACCESS_LINE_BYTES_MAX`] bytes.
fn push_bounded(slot: &mut String, line: &str) {
    const CUT_MARK: &str = "...";
    let room = ACCESS_LINE_BYTES_MAX - 1;
    if line.len() <= room {
        slot.push_str(line);
    } else {
        let mut end = room - CUT_MARK.len();
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        slot.push_str(&line[..end]);
        slot.push_str(CUT_MARK);
    }
    slot.push('\n');
}

/// The thread that drains every shard's access-log ring into the sink.
#[derive(Debug)]
pub struct AccessLogWriter {
    /// Dropped by [`AccessLogWriter::finish`]: its closing tells the thread to write what is
    /// left in the rings and end.
    end: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AccessLogWriter {
    /// Opens the sink and starts thread `percore-log` with one ring per shard; returns the
    /// writer and the shards' producer ends, in shard order. `None` when the access log is off.
    pub fn start(
        enabled: bool,
        target: &LogTarget,
        shards: usize,
    ) -> std::io::Result<Option<(Self, Vec<AccessLog>)>> {
        if !enabled {
            return Ok(None);
        }
        let out = match target {
            LogTarget::Stderr => File::from(std::io::stderr().as_fd().try_clone_to_owned()?),
            LogTarget::File(path) => OpenOptions::new().create(true).append(true).open(path)?,
        };
        let (logs, rings) = rings(shards, ACCESS_LOG_RING_LINES);
        let (end, end_rx) = mpsc::channel(1);
        let thread = std::thread::Builder::new()
            .name("percore-log".into())
            .spawn(move || drain(&rings, &end_rx, out))?;
        let writer = AccessLogWriter {
            end: Some(end),
            thread: Some(thread),
        };
        Ok(Some((writer, logs)))
    }

    /// Writes every line still in the rings, then stops the thread. Call once the shards
    /// stopped pushing (after they are joined) so that no line is lost at exit.
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        drop(self.end.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for AccessLogWriter {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `shards` rings of `lines` slots: producer ends and consumer ends, in shard order.
fn rings(shards: usize, lines: usize) -> (Vec<AccessLog>, Vec<LineReceiver>) {
    (0..shards)
        .map(|_| {
            let (ring, rx) = mpsc::with_recycle(lines, recycle());
            (AccessLog { ring, dropped: 0 }, rx)
        })
        .unzip()
}

/// The writer thread: waits for lines on any ring, gathers what is there (ring by ring, so
/// each shard's lines keep their order), writes it in one go; when `end` closes, writes
/// what is left and returns. A failing sink (full disk, closed stderr) loses lines, never
/// blocks the shards: they only ever see a full ring.
fn drain(rings: &[LineReceiver], end: &mpsc::Receiver<()>, mut out: File) {
    let mut batch: Vec<u8> = Vec::with_capacity(WRITE_BATCH_BYTES_MAX);
    futures_lite::future::block_on(async {
        loop {
            let ended = poll_fn(|cx| {
                for ring in rings {
                    while batch.len() < WRITE_BATCH_BYTES_MAX {
                        match ring.poll_recv_ref(cx) {
                            Poll::Ready(Some(line)) => batch.extend_from_slice(line.as_bytes()),
                            Poll::Ready(None) | Poll::Pending => break,
                        }
                    }
                }
                let ended = end.poll_recv(cx).is_ready();
                if ended || !batch.is_empty() {
                    Poll::Ready(ended)
                } else {
                    Poll::Pending
                }
            })
            .await;
            let _ = out.write_all(&batch);
            batch.clear();
            if ended {
                break;
            }
        }
    });
    // After a clean stop the shards are gone and whatever they pushed is in the rings: take
    // it all. At most one ring's worth each, so a shard still pushing (a failed start-up)
    // cannot keep the process from exiting.
    for ring in rings {
        for _ in 0..ring.capacity() {
            // Empty or closed: this ring is done.
            let Ok(line) = ring.try_recv_ref() else {
                break;
            };
            batch.extend_from_slice(line.as_bytes());
            if batch.len() >= WRITE_BATCH_BYTES_MAX {
                let _ = out.write_all(&batch);
                batch.clear();
            }
        }
    }
    let _ = out.write_all(&batch);
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
    fn full_ring_drops_and_counts() {
        let (mut logs, rxs) = rings(1, 4);
        let log = &mut logs[0];
        for i in 0..6 {
            log.line(format!("line {i}"));
        }
        assert_eq!(log.dropped(), 2);
        let got: Vec<String> = std::iter::from_fn(|| rxs[0].try_recv().ok()).collect();
        assert_eq!(got, ["line 0\n", "line 1\n", "line 2\n", "line 3\n"]);
        // Room again: lines are taken again, the count stays.
        log.line("line 6".into());
        assert_eq!(log.dropped(), 2);
        assert_eq!(rxs[0].try_recv().expect("line"), "line 6\n");
    }

    #[test]
    fn long_lines_are_cut_at_a_character_boundary() {
        let (mut logs, rxs) = rings(1, 2);
        logs[0].line("é".repeat(ACCESS_LINE_BYTES_MAX));
        let got = rxs[0].try_recv().expect("line");
        assert!(got.len() <= ACCESS_LINE_BYTES_MAX, "{}", got.len());
        assert!(got.ends_with("...\n"));
    }

    /// Four producer threads (shards) push lines while the writer drains; after `finish`,
    /// the file holds every line, and each shard's lines in the order it pushed them. Each
    /// shard pushes fewer lines than its ring holds, so none can be dropped whatever the
    /// writer's speed: the test cannot depend on timing.
    #[test]
    fn every_line_is_written_in_order_per_shard() {
        const SHARDS: usize = 4;
        const LINES: usize = ACCESS_LOG_RING_LINES - 1;
        let dir = std::env::temp_dir().join(format!("percore-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("access.log");
        let _ = std::fs::remove_file(&path);
        let (writer, logs) = AccessLogWriter::start(true, &LogTarget::File(path.clone()), SHARDS)
            .expect("start")
            .expect("enabled");
        let producers: Vec<_> = logs
            .into_iter()
            .enumerate()
            .map(|(shard, mut log)| {
                std::thread::spawn(move || {
                    for seq in 0..LINES {
                        log.line(format!("shard={shard} seq={seq}"));
                    }
                    log.dropped()
                })
            })
            .collect();
        for p in producers {
            assert_eq!(p.join().expect("producer"), 0);
        }
        writer.finish();
        let text = std::fs::read_to_string(&path).expect("log");
        let mut next = [0usize; SHARDS];
        for line in text.lines() {
            let (shard, seq) = line
                .strip_prefix("shard=")
                .and_then(|l| l.split_once(" seq="))
                .unwrap_or_else(|| panic!("torn line {line:?}"));
            let shard: usize = shard.parse().expect("shard");
            assert_eq!(
                seq.parse::<usize>().expect("seq"),
                next[shard],
                "shard {shard}"
            );
            next[shard] += 1;
        }
        assert_eq!(next, [LINES; SHARDS]);
        let _ = std::fs::remove_dir_all(&dir);
    }

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
