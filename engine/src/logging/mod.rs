//! Process log (start-up, shutdown, warnings), the per-stream access log and the log
//! records of server state changes.
//!
//! - [`sink`]: destinations (stderr, file, syslog over UDP or unix datagrams) and framing
//!   (raw, RFC 3164, RFC 5424 as HAProxy writes them).
//! - [`format`]: the access-log line builder (HAProxy's httplog / tcplog or `log_format`).
//! - [`limit`]: rate limits of repeated process-log warnings, one per kind.
//!
//! The process log is a `log` crate backend writing one line per record to stderr, so that
//! glommio's own warnings (memlock, ring set-up) are visible too; `PERCORE_LOG` sets the level
//! (`error|warn|info|debug|trace`, default `info`).
//!
//! The access log is separate and off by default. Shards never write it themselves: each
//! shard's [`AccessLog`] is the producer end of a bounded ring of lines, drained by one
//! thread `percore-log` ([`AccessLogWriter`]) that frames them and writes them to the sink.
//! Pushing a line is a memcpy into a recycled slot — no syscall, no lock, no allocation once
//! the slot is warm; a full ring drops the line and counts it ([`AccessLog::dropped`],
//! `logs_dropped` in `show shards`), so a slow sink never stalls a shard. `global.log.sample`
//! and `rate_max` thin the lines in the shard, before they are even built. Lines of one shard
//! are written in the order the shard pushed them. The control plane has one more ring of
//! its own for server state changes. On a graceful stop, [`AccessLogWriter::finish`] writes
//! what the rings still hold before the process exits.

pub mod format;
pub mod limit;
pub mod sink;

use std::future::poll_fn;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use percore_admin::{civil_from_days, MONTHS};
use percore_conf::{Log, LogTarget};
use thingbuf::mpsc;
use thingbuf::recycling::Recycle;

pub use self::sink::Severity;
use self::sink::{Framer, Sink};

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
/// With a syslog header (< 100 bytes) a datagram stays under 4.2 KiB, which UDP over
/// loopback and unix datagram sockets carry whole.
pub const ACCESS_LINE_BYTES_MAX: usize = 4096;

/// Bytes the writer gathers from the rings before one `write(2)` (stream sinks).
const WRITE_BATCH_BYTES_MAX: usize = 256 << 10;

/// At most one process-log warning about a failing sink per this interval.
const SINK_WARN_INTERVAL: Duration = Duration::from_secs(10);

/// One queued line: its syslog severity and its text (newline-terminated).
#[derive(Debug, Default, Clone)]
pub struct LogLine {
    severity: Severity,
    text: String,
}

/// The recycling policy of a ring slot: cleared, capacity capped at one line.
#[derive(Debug, Clone, Copy)]
struct RecycleLine;

impl Recycle<LogLine> for RecycleLine {
    fn new_element(&self) -> LogLine {
        LogLine::default()
    }

    fn recycle(&self, line: &mut LogLine) {
        line.text.clear();
        line.text.shrink_to(ACCESS_LINE_BYTES_MAX);
        line.severity = Severity::Info;
    }
}

type LineSender = mpsc::Sender<LogLine, RecycleLine>;
type LineReceiver = mpsc::Receiver<LogLine, RecycleLine>;

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
        // The pid tells the two processes of a binary upgrade apart: the new one inherits
        // the old one's stderr, and both write there while the old one drains.
        let line = format!(
            "{} percore[{}] [{}] {}\n",
            iso_time(SystemTime::now()),
            std::process::id(),
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

/// One shard's end of the access log (or the control plane's end for state changes):
/// pushes lines onto its ring, never blocks.
#[derive(Debug)]
pub struct AccessLog {
    ring: LineSender,
    /// Lines refused because the ring was full (or the writer gone), or over `rate_max`.
    dropped: u64,
    /// Keep one line in this many (`global.log.sample`).
    sample: u32,
    /// Lines offered since the last one kept, for sampling.
    skipped: u32,
    /// Lines per second above which lines are dropped (`global.log.rate_max`).
    rate_max: Option<u32>,
    /// Start of the current one-second window and lines kept in it.
    window: (Option<Instant>, u32),
}

impl AccessLog {
    /// New `global.log.sample` and `rate_max` (a reload); the current window goes on.
    pub fn set_thinning(&mut self, sample: u32, rate_max: Option<u32>) {
        self.sample = sample;
        self.rate_max = rate_max;
    }

    /// Whether the next access-log line is to be built at `now`: false for lines sampling
    /// skips (not counted) and lines over `rate_max` (counted as dropped). Lets the shard
    /// skip building lines that would not be written.
    pub fn admit(&mut self, now: Instant) -> bool {
        self.skipped += 1;
        if self.skipped < self.sample {
            return false;
        }
        self.skipped = 0;
        let Some(max) = self.rate_max else {
            return true;
        };
        let (start, kept) = &mut self.window;
        if start.is_none_or(|s| now.saturating_duration_since(s) >= Duration::from_secs(1)) {
            *start = Some(now);
            *kept = 0;
        }
        if *kept >= max {
            self.dropped += 1;
            return false;
        }
        *kept += 1;
        true
    }

    /// Queues one line of `severity` (a newline is appended; a line longer than
    /// [`ACCESS_LINE_BYTES_MAX`] is cut). A full ring drops the line and counts it.
    pub fn push(&mut self, severity: Severity, line: &str) {
        match self.ring.try_send_ref() {
            Ok(mut slot) => {
                slot.severity = severity;
                push_bounded(&mut slot.text, line);
            }
            Err(_) => self.dropped += 1,
        }
    }

    /// Queues one access-log line (severity `info`).
    pub fn line(&mut self, line: String) {
        self.push(Severity::Info, &line);
    }

    /// Lines dropped so far because the ring was full or over `rate_max`.
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

/// Lines the sink lost (send failed), per ring: shards in order, then the control plane.
/// Written by the writer thread, read by the control plane for `show shards`.
#[derive(Debug, Clone, Default)]
pub struct SinkDrops(Arc<[AtomicU64]>);

impl SinkDrops {
    fn new(rings: usize) -> Self {
        SinkDrops((0..rings).map(|_| AtomicU64::new(0)).collect())
    }

    fn add(&self, ring: usize, n: u64) {
        if let Some(c) = self.0.get(ring) {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Lines of ring `ring` (a shard index) the sink lost so far.
    pub fn of(&self, ring: usize) -> u64 {
        self.0.get(ring).map_or(0, |c| c.load(Ordering::Relaxed))
    }
}

/// The ends [`AccessLogWriter::start`] hands out.
#[derive(Debug)]
pub struct LogEnds {
    /// One per shard, in shard order.
    pub shards: Vec<AccessLog>,
    /// The control plane's, for server state changes; `None` when they only go to the
    /// process log (target stderr).
    pub control: Option<AccessLog>,
    /// Lines the sink lost, per ring.
    pub sink_drops: SinkDrops,
    /// Hands the writer thread a new sink (a reload changed the target or its framing).
    pub retarget: std::sync::mpsc::Sender<Retarget>,
}

/// A new sink and framing for the writer thread, already opened: lines it writes from its
/// next wake-up on go there.
#[derive(Debug)]
pub struct Retarget {
    sink: Sink,
    framer: Framer,
}

impl Retarget {
    /// Opens `log`'s target (an error is the reload's refusal) with `log`'s framing.
    pub fn open(log: &Log) -> std::io::Result<Self> {
        Ok(Retarget {
            sink: Sink::open(&log.target)?,
            framer: Framer::new(log),
        })
    }
}

/// The control plane's side of the log: server and backend state changes sent to the log
/// target with HAProxy's wording, and the sink's losses for `show shards`.
#[derive(Debug, Default)]
pub struct EventLog {
    /// The control plane's ring; `None` when state changes only go to the process log.
    ring: std::cell::RefCell<Option<AccessLog>>,
    /// Lines the sink lost, per ring.
    sink_drops: SinkDrops,
    /// The writer thread's new-sink channel; `None` when there is no writer.
    retarget: Option<std::sync::mpsc::Sender<Retarget>>,
}

impl EventLog {
    /// The control plane's end of the log, from what [`AccessLogWriter::start`] returned
    /// (its control ring, the sink's losses, the writer's new-sink channel).
    pub fn new(
        ring: Option<AccessLog>,
        sink_drops: SinkDrops,
        retarget: Option<std::sync::mpsc::Sender<Retarget>>,
    ) -> Self {
        EventLog {
            ring: std::cell::RefCell::new(ring),
            sink_drops,
            retarget,
        }
    }

    /// Whether a writer thread runs (the access log is on, or the target is not stderr).
    pub fn has_writer(&self) -> bool {
        self.retarget.is_some()
    }

    /// Gives the writer thread a new sink; false if there is no writer or it ended.
    pub fn retarget(&self, r: Retarget) -> bool {
        self.retarget.as_ref().is_some_and(|tx| tx.send(r).is_ok())
    }

    /// Sends one state-change line of `severity` to the log target (if it is not stderr,
    /// where the process log already has it).
    pub fn event(&self, severity: Severity, line: &str) {
        if let Some(ring) = self.ring.borrow_mut().as_mut() {
            let before = ring.dropped();
            ring.push(severity, line);
            if ring.dropped() > before {
                // State changes are rare: each one lost is worth a word in the process log.
                log::warn!("log ring of the control plane full: lost {line:?}");
            }
        }
    }

    /// Lines of shard `shard` the sink lost so far.
    pub fn sink_dropped(&self, shard: usize) -> u64 {
        self.sink_drops.of(shard)
    }
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
    /// Opens the sink and starts thread `percore-log` with one ring per shard (plus one for
    /// the control plane when the target is not stderr); returns the writer and the ring
    /// ends. `None` when there is nothing to write: the access log is off and the target is
    /// stderr (where the process log already says everything).
    pub fn start(log: &Log, shards: usize) -> std::io::Result<Option<(Self, LogEnds)>> {
        let control = log.target != LogTarget::Stderr;
        if !log.access && !control {
            return Ok(None);
        }
        let sink = Sink::open(&log.target)?;
        let framer = Framer::new(log);
        let (mut logs, rings) = rings(shards + usize::from(control), ACCESS_LOG_RING_LINES);
        for l in &mut logs[..shards] {
            l.sample = log.sample;
            l.rate_max = log.rate_max;
        }
        let control = if control { logs.pop() } else { None };
        let sink_drops = SinkDrops::new(rings.len());
        let drops = sink_drops.clone();
        let (end, end_rx) = mpsc::channel(1);
        let (retarget, retarget_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("percore-log".into())
            .spawn(move || {
                let mut out = Output::new(sink, framer, drops);
                drain(&rings, (&end_rx, &retarget_rx), &mut out);
            })?;
        let writer = AccessLogWriter {
            end: Some(end),
            thread: Some(thread),
        };
        let ends = LogEnds {
            shards: logs,
            control,
            sink_drops,
            retarget,
        };
        Ok(Some((writer, ends)))
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

/// `rings` rings of `lines` slots: producer ends and consumer ends, in order.
fn rings(rings: usize, lines: usize) -> (Vec<AccessLog>, Vec<LineReceiver>) {
    (0..rings)
        .map(|_| {
            let (ring, rx) = mpsc::with_recycle(lines, RecycleLine);
            let log = AccessLog {
                ring,
                dropped: 0,
                sample: 1,
                skipped: 0,
                rate_max: None,
                window: (None, 0),
            };
            (log, rx)
        })
        .unzip()
}

/// The writer thread's side of the sink: frames lines, batches them (stream sinks) or sends
/// one datagram each, counts what is lost.
struct Output {
    sink: Sink,
    framer: Framer,
    drops: SinkDrops,
    /// Framed lines waiting for one write, and how many lines of each ring they hold.
    batch: Vec<u8>,
    batch_lines: Vec<u64>,
    /// One framed datagram.
    datagram: Vec<u8>,
    /// Lines lost since the last warning, and when it was.
    lost: (u64, Option<Instant>),
}

impl Output {
    fn new(sink: Sink, framer: Framer, drops: SinkDrops) -> Self {
        let rings = drops.0.len();
        Output {
            sink,
            framer,
            drops,
            batch: Vec::with_capacity(WRITE_BATCH_BYTES_MAX),
            batch_lines: vec![0; rings],
            datagram: Vec::with_capacity(ACCESS_LINE_BYTES_MAX + 128),
            lost: (0, None),
        }
    }

    /// Whether the batch is full (stream sinks): time to [`Output::flush`].
    fn full(&self) -> bool {
        self.batch.len() >= WRITE_BATCH_BYTES_MAX
    }

    /// Takes one line of ring `ring`: appended to the batch, or sent as a datagram.
    fn line(&mut self, ring: usize, line: &LogLine) {
        let now = SystemTime::now();
        if self.sink.is_datagram() {
            self.datagram.clear();
            self.framer.header(&mut self.datagram, line.severity, now);
            self.datagram.extend_from_slice(line.text.as_bytes());
            if !self.sink.send(&self.datagram) {
                self.lose(ring, 1);
            }
        } else {
            self.framer.header(&mut self.batch, line.severity, now);
            self.batch.extend_from_slice(line.text.as_bytes());
            self.batch_lines[ring] += 1;
        }
    }

    /// Writes the batch (stream sinks).
    fn flush(&mut self) {
        if !self.batch.is_empty() && !self.sink.send(&self.batch) {
            for ring in 0..self.batch_lines.len() {
                self.lose(ring, self.batch_lines[ring]);
            }
        }
        self.batch.clear();
        self.batch_lines.iter_mut().for_each(|n| *n = 0);
    }

    /// Counts `n` lost lines of `ring`; warns at most once per [`SINK_WARN_INTERVAL`].
    fn lose(&mut self, ring: usize, n: u64) {
        if n == 0 {
            return;
        }
        self.drops.add(ring, n);
        self.lost.0 += n;
        let now = Instant::now();
        if self
            .lost
            .1
            .is_none_or(|t| now.duration_since(t) >= SINK_WARN_INTERVAL)
        {
            log::warn!(
                "log sink: {} line(s) lost (sink unreachable, full or failing)",
                self.lost.0
            );
            self.lost = (0, Some(now));
        }
    }
}

/// The writer thread: waits for lines on any ring, takes what is there (ring by ring, so
/// each shard's lines keep their order), writes it; when `end` closes, writes what is left
/// and returns. A failing sink (full disk, closed stderr, no syslog daemon) loses lines,
/// never blocks the shards: they only ever see a full ring. A new sink from `retarget`
/// takes over at the next wake-up.
fn drain(
    rings: &[LineReceiver],
    (end, retarget): (&mpsc::Receiver<()>, &std::sync::mpsc::Receiver<Retarget>),
    out: &mut Output,
) {
    futures_lite::future::block_on(async {
        loop {
            let ended = poll_fn(|cx| {
                if let Ok(r) = retarget.try_recv() {
                    out.flush();
                    out.sink = r.sink;
                    out.framer = r.framer;
                }
                let mut took = false;
                for (i, ring) in rings.iter().enumerate() {
                    while !out.full() {
                        match ring.poll_recv_ref(cx) {
                            Poll::Ready(Some(line)) => {
                                out.line(i, &line);
                                took = true;
                            }
                            Poll::Ready(None) | Poll::Pending => break,
                        }
                    }
                }
                let ended = end.poll_recv(cx).is_ready();
                if ended || took {
                    Poll::Ready(ended)
                } else {
                    Poll::Pending
                }
            })
            .await;
            out.flush();
            if ended {
                break;
            }
        }
    });
    // After a clean stop the shards are gone and whatever they pushed is in the rings: take
    // it all. At most one ring's worth each, so a shard still pushing (a failed start-up)
    // cannot keep the process from exiting.
    for (i, ring) in rings.iter().enumerate() {
        for _ in 0..ring.capacity() {
            // Empty or closed: this ring is done.
            let Ok(line) = ring.try_recv_ref() else {
                break;
            };
            out.line(i, &line);
            if out.full() {
                out.flush();
            }
        }
    }
    out.flush();
}

/// `2026-11-24T20:30:00.123Z`.
pub fn iso_time(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s, ms) = civil(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
}

/// HAProxy's accept date: `24/Nov/2026:20:30:00.123`.
pub fn haproxy_date(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s, ms) = civil(t);
    format!(
        "{d:02}/{}/{y:04}:{h:02}:{mi:02}:{s:02}.{ms:03}",
        MONTHS[usize::from(mo - 1)]
    )
}

/// UTC calendar fields of `t`: year, month, day, hour, minute, second, millisecond.
fn civil(t: SystemTime) -> (u64, u8, u8, u64, u64, u64, u32) {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (y, m, d) = civil_from_days(secs / 86_400);
    let rem = secs % 86_400;
    (
        y,
        m,
        d,
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since.subsec_millis(),
    )
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
        let got: Vec<String> =
            std::iter::from_fn(|| rxs[0].try_recv().ok().map(|l| l.text)).collect();
        assert_eq!(got, ["line 0\n", "line 1\n", "line 2\n", "line 3\n"]);
        // Room again: lines are taken again, the count stays.
        log.line("line 6".into());
        assert_eq!(log.dropped(), 2);
        assert_eq!(rxs[0].try_recv().expect("line").text, "line 6\n");
    }

    #[test]
    fn sampling_keeps_one_in_n_and_rate_max_drops_and_counts() {
        let (mut logs, _rxs) = rings(1, 4);
        let log = &mut logs[0];
        log.sample = 3;
        let t0 = Instant::now();
        let kept: Vec<bool> = (0..6).map(|_| log.admit(t0)).collect();
        assert_eq!(kept, [false, false, true, false, false, true]);
        assert_eq!(log.dropped(), 0, "sampled-out lines are not drops");
        log.sample = 1;
        log.rate_max = Some(2);
        let kept: Vec<bool> = (0..4).map(|_| log.admit(t0)).collect();
        assert_eq!(kept, [true, true, false, false]);
        assert_eq!(log.dropped(), 2);
        // A new one-second window admits again.
        assert!(log.admit(t0 + Duration::from_secs(1)));
    }

    /// Through a UDP syslog sink each line is one datagram with HAProxy's RFC 3164 header;
    /// the control plane's ring gets its own severity.
    #[test]
    fn udp_sink_sends_one_framed_datagram_per_line() {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        rx.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let log = Log {
            target: LogTarget::Udp(rx.local_addr().expect("addr")),
            framing: percore_conf::LogFraming::Rfc3164,
            access: true,
            ..Log::default()
        };
        let (writer, mut ends) = AccessLogWriter::start(&log, 1)
            .expect("start")
            .expect("enabled");
        ends.shards[0].line("one".into());
        ends.control
            .as_mut()
            .expect("control ring for syslog targets")
            .push(Severity::Alert, "Server app/s1 is DOWN");
        let mut got = Vec::new();
        let mut buf = [0u8; 8192];
        for _ in 0..2 {
            let n = rx.recv(&mut buf).expect("datagram");
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        got.sort();
        let pid = std::process::id();
        assert!(got[0].starts_with("<129>"), "{got:?}");
        assert!(got[0].ends_with(&format!(" percore[{pid}]: Server app/s1 is DOWN\n")));
        assert!(got[1].starts_with("<134>"), "{got:?}");
        assert!(
            got[1].ends_with(&format!(" percore[{pid}]: one\n")),
            "{got:?}"
        );
        writer.finish();
        assert_eq!(ends.sink_drops.of(0), 0);
    }

    #[test]
    fn long_lines_are_cut_at_a_character_boundary() {
        let (mut logs, rxs) = rings(1, 2);
        logs[0].line("é".repeat(ACCESS_LINE_BYTES_MAX));
        let got = rxs[0].try_recv().expect("line").text;
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
        let log = Log {
            target: LogTarget::File(path.clone()),
            access: true,
            ..Log::default()
        };
        let (writer, ends) = AccessLogWriter::start(&log, SHARDS)
            .expect("start")
            .expect("enabled");
        let producers: Vec<_> = ends
            .shards
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
