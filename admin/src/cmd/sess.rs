//! `show sess [<id>|all]` and `shutdown session <id>`: target grammar, the stream snapshot
//! ([`SessRow`]) and renderers in HAProxy 2.6's shapes (`cli_io_handler_dump_sess`,
//! `stats_dump_full_strm_to_buffer`).
//!
//! HAProxy's *session* here is percore's *stream* (one client connection's life, DESIGN §4);
//! the word survives only for compatibility. Stream ids are `shard << 48 | sequence` and are
//! printed `0x` + lowercase hex where HAProxy prints the stream's address. Ids are read with
//! C `strtoul(…, 0)` like HAProxy, so `0x…` is hex, a leading `0` is octal, and text that is
//! not a number reads as 0 (→ the list for `show sess`, an error for `shutdown session`).

use std::fmt::Write as _;

use super::stat::Mode;
use super::Command;
use crate::date::{civil_from_days, MONTHS};
use crate::error::{ErrorReply, SESSION_POINTER_EXPECTED};
use crate::grammar::{strtoul0, Args};

/// What `show sess` dumps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessTarget {
    /// One line per live stream (no argument, or an argument that reads as 0).
    List,
    /// The detailed dump of every stream (`all`).
    All,
    /// The detailed dump of one stream; unknown → `SESSION_NOT_FOUND`.
    Id(u64),
}

/// One live stream as seen by its shard, for `show sess`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessRow {
    /// Stream id (`shard << 48 | sequence`).
    pub id: u64,
    /// Client protocol as HAProxy names it: `tcpv4` or `tcpv6`.
    pub proto: String,
    /// Client address `ip:port`.
    pub src: String,
    /// Frontend name.
    pub frontend: String,
    /// Frontend (proxy) id.
    pub frontend_id: u32,
    /// Local address the client connected to.
    pub listener_addr: String,
    /// Backend, once routed.
    pub backend: Option<String>,
    /// Backend id, once routed.
    pub backend_id: Option<u32>,
    /// Server, once connected.
    pub server: Option<String>,
    /// Server id within its backend.
    pub server_id: Option<u32>,
    /// Server address `ip:port`.
    pub server_addr: String,
    /// Proxy mode.
    pub mode: Mode,
    /// Seconds since accept.
    pub age_secs: u64,
    /// Accept time, microseconds since the Unix epoch (printed in UTC).
    pub accept_unix_us: u64,
    /// Bytes received from the client.
    pub bytes_in: u64,
    /// Bytes sent to the client.
    pub bytes_out: u64,
    /// Shard owning the stream.
    pub shard: u16,
    /// Stream phase, one word (e.g. `connect`, `data`, `closing`).
    pub state: String,
}

/// Low 48 bits of a stream id: its per-shard sequence (HAProxy's `id=` field).
const SEQUENCE_MASK: u64 = (1 << 48) - 1;

/// Renders the `show sess` list: one line per stream in HAProxy's shape, with zero or empty
/// values where percore has no equivalent (flags, fds, timers), then percore's own fields
/// (`shard=`, `bytes_in=`, `bytes_out=`, `state=`) appended at the end of the line.
pub fn render_sess_list(rows: &[SessRow]) -> String {
    let mut out = String::with_capacity(rows.len() * 300);
    for r in rows {
        let _ = writeln!(
            out,
            "{:#x}: proto={} src={} fe={} be={} srv={} ts=00 epoch=0 age={} calls=0 rate=0 cpu=0 \
             lat=0 rq[f=0h,i=0,an=00h,rx=,wx=,ax=] rp[f=0h,i=0,an=00h,rx=,wx=,ax=] \
             scf=[8,0h,fd=-1] scb=[8,0h,fd=-1] exp= rc=0 c_exp= shard={} bytes_in={} \
             bytes_out={} state={}",
            r.id,
            r.proto,
            r.src,
            r.frontend,
            r.backend.as_deref().unwrap_or("<NONE>"),
            r.server.as_deref().unwrap_or("<none>"),
            human_time(r.age_secs),
            r.shard,
            r.bytes_in,
            r.bytes_out,
            r.state,
        );
    }
    out
}

/// Renders `show sess <id>` / `show sess all`: per stream, HAProxy's header line
/// (`<id>: [date] id=<seq> proto=… source=…`) then indented lines for the frontend, backend,
/// server, request and response totals, and a percore line (shard, state, age).
pub fn render_sess_detail(rows: &[SessRow]) -> String {
    let mut out = String::with_capacity(rows.len() * 400);
    for r in rows {
        let _ = writeln!(
            out,
            "{:#x}: [{}] id={} proto={} source={}",
            r.id,
            accept_date(r.accept_unix_us),
            r.id & SEQUENCE_MASK,
            r.proto,
            r.src
        );
        let _ = write!(
            out,
            "  frontend={} (id={} mode={}), listener=? (id=1)",
            r.frontend,
            r.frontend_id,
            r.mode.as_str()
        );
        push_addr(&mut out, &r.listener_addr);
        match (&r.backend, r.backend_id) {
            (Some(backend), id) => {
                let id = id.map_or(-1, i64::from);
                let _ = writeln!(
                    out,
                    "  backend={backend} (id={id} mode={})",
                    r.mode.as_str()
                );
            }
            (None, _) => out.push_str("  backend=<NONE> (id=-1 mode=-)\n"),
        }
        match (&r.server, r.server_id) {
            (Some(server), id) => {
                let id = id.map_or(-1, i64::from);
                let _ = write!(out, "  server={server} (id={id})");
                push_addr(&mut out, &r.server_addr);
            }
            (None, _) => out.push_str("  server=<NONE> (id=-1)\n"),
        }
        let _ = writeln!(
            out,
            "  req=(f=0x0 an=0x0 pipe=0 tofwd=0 total={})",
            r.bytes_in
        );
        let _ = writeln!(
            out,
            "  res=(f=0x0 an=0x0 pipe=0 tofwd=0 total={})",
            r.bytes_out
        );
        let _ = writeln!(
            out,
            "  percore: shard={} state={} age={}",
            r.shard,
            r.state,
            human_time(r.age_secs)
        );
    }
    out
}

fn push_addr(out: &mut String, addr: &str) {
    if !addr.is_empty() {
        out.push_str(" addr=");
        out.push_str(addr);
    }
    out.push('\n');
}

/// HAProxy `human_time(t, 1)`: at most two units among d/h/m/s, `0s` for zero.
fn human_time(t: u64) -> String {
    const MINUTE: u64 = 60;
    const HOUR: u64 = 60 * MINUTE;
    const DAY: u64 = 24 * HOUR;
    let mut out = String::new();
    let mut units = 2;
    if t >= DAY {
        let _ = write!(out, "{}d", t / DAY);
        units -= 1;
    }
    if units > 0 && t % DAY / HOUR > 0 {
        let _ = write!(out, "{}h", t % DAY / HOUR);
        units -= 1;
    }
    if units > 0 && t % HOUR / MINUTE > 0 {
        let _ = write!(out, "{}m", t % HOUR / MINUTE);
        units -= 1;
    }
    if (units > 0 && !t.is_multiple_of(MINUTE)) || t == 0 {
        let _ = write!(out, "{}s", t % MINUTE);
    }
    out
}

/// `24/Nov/2026:11:31:58.655602` in UTC (HAProxy prints local time; a pure crate has no
/// time zone database).
pub(super) fn accept_date(unix_us: u64) -> String {
    let secs = unix_us / 1_000_000;
    let micros = unix_us % 1_000_000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{:02}/{}/{:04}:{:02}:{:02}:{:02}.{:06}",
        day,
        MONTHS[usize::from(month - 1)],
        year,
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60,
        micros
    )
}

/// `show sess [<id>|all]` (operator level, checked by the caller).
pub(super) fn parse_show_sess(args: Args<'_>) -> Command {
    let target = match args.get(2) {
        "" => SessTarget::List,
        "all" => SessTarget::All,
        other => match strtoul0(other) {
            0 => SessTarget::List,
            id => SessTarget::Id(id),
        },
    };
    Command::ShowSess(target)
}

/// `shutdown session <id>`: a missing, zero or non-numeric id is refused here; an id that
/// names no stream is the engine's `NO_SUCH_SESSION`.
pub(super) fn parse_shutdown_session(args: Args<'_>) -> Result<Command, ErrorReply> {
    match strtoul0(args.get(2)) {
        0 => Err(SESSION_POINTER_EXPECTED),
        id => Ok(Command::ShutdownSession(id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_time_like_haproxy() {
        assert_eq!(human_time(0), "0s");
        assert_eq!(human_time(18), "18s");
        assert_eq!(human_time(80), "1m20s");
        assert_eq!(human_time(60), "1m");
        assert_eq!(human_time(3_600 + 120 + 5), "1h2m");
        assert_eq!(human_time(86_400 * 3 + 3_600 * 4 + 7), "3d4h");
        assert_eq!(human_time(86_400 + 5), "1d5s");
    }

    #[test]
    fn accept_date_utc() {
        // 2026-11-24 11:31:58.655602 UTC
        assert_eq!(
            accept_date(1_795_519_918_655_602),
            "24/Nov/2026:11:31:58.655602"
        );
        assert_eq!(accept_date(0), "01/Jan/1970:00:00:00.000000");
        assert_eq!(
            accept_date(951_782_400_000_000),
            "29/Feb/2000:00:00:00.000000"
        );
    }

    #[test]
    fn list_line_shape() {
        let row = SessRow {
            id: 0x1_0000_0000_002a,
            proto: "tcpv4".into(),
            src: "127.0.0.1:49422".into(),
            frontend: "web".into(),
            backend: Some("app".into()),
            server: Some("s1".into()),
            age_secs: 80,
            shard: 1,
            state: "data".into(),
            ..Default::default()
        };
        let out = render_sess_list(std::slice::from_ref(&row));
        assert!(out.starts_with(
            "0x100000000002a: proto=tcpv4 src=127.0.0.1:49422 fe=web be=app srv=s1 ts=00 epoch=0 \
             age=1m20s calls=0 "
        ));
        assert!(out.ends_with(" exp= rc=0 c_exp= shard=1 bytes_in=0 bytes_out=0 state=data\n"));
        assert_eq!(out.lines().count(), 1);
        let unrouted = SessRow {
            backend: None,
            server: None,
            ..row
        };
        assert!(render_sess_list(&[unrouted]).contains(" be=<NONE> srv=<none> "));
    }

    #[test]
    fn detail_shape() {
        let row = SessRow {
            id: 0x1_0000_0000_002a,
            proto: "tcpv4".into(),
            src: "127.0.0.1:39874".into(),
            frontend: "web".into(),
            frontend_id: 2,
            listener_addr: "127.0.0.1:18080".into(),
            backend: Some("app".into()),
            backend_id: Some(3),
            server: Some("s1".into()),
            server_id: Some(1),
            server_addr: "127.0.0.1:19001".into(),
            mode: Mode::Http,
            accept_unix_us: 1_795_519_918_655_602,
            bytes_in: 87,
            ..Default::default()
        };
        let out = render_sess_detail(&[row]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "0x100000000002a: [24/Nov/2026:11:31:58.655602] id=42 proto=tcpv4 source=127.0.0.1:39874"
        );
        assert_eq!(
            lines[1],
            "  frontend=web (id=2 mode=http), listener=? (id=1) addr=127.0.0.1:18080"
        );
        assert_eq!(lines[2], "  backend=app (id=3 mode=http)");
        assert_eq!(lines[3], "  server=s1 (id=1) addr=127.0.0.1:19001");
        assert!(lines[4].ends_with("total=87)"));
        assert!(lines[1..].iter().all(|l| l.starts_with("  ")));
    }
}
