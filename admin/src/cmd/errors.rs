//! `show errors [<px>] [request|response]` (operator): the last refused request of each
//! frontend and refused response of each backend, in HAProxy 2.6's layout
//! (`cli_io_handler_show_errors`): a total line, then per capture a header naming the proxy,
//! its peer and the error position, and the bytes dumped line by line with their offsets.
//! HAProxy's H1-mux state lines (connection/stream flags, message state) describe its own
//! parser and are left out. Times are UTC.

use std::fmt::Write as _;

use super::sess::accept_date;
use super::Command;
use crate::error::ErrorReply;
use crate::grammar::{atoi, Args};

/// Which captures `show errors` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorKinds {
    /// Requests and responses.
    #[default]
    Both,
    /// `request`: refused requests only.
    Requests,
    /// `response`: refused responses only.
    Responses,
}

/// The proxy selection of `show errors`: a name, or an id as HAProxy's `atoi` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorsProxy {
    /// Every proxy (no argument, or `-1`).
    All,
    /// This proxy name (resolved by the engine; falls back to `Id(atoi(name))`).
    Named(String),
}

impl ErrorsProxy {
    /// HAProxy's reading of a name that is no proxy: `atoi(name)` as an id (0: none).
    pub fn id_fallback(&self) -> i32 {
        match self {
            ErrorsProxy::All => -1,
            ErrorsProxy::Named(name) => atoi(name),
        }
    }
}

/// One capture to render.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorRow {
    /// When it was captured, Unix µs.
    pub unix_us: u64,
    /// A refused response (listed under its backend) rather than a request.
    pub response: bool,
    /// The frontend's name and id.
    pub frontend: (String, u32),
    /// The backend's name and id (responses).
    pub backend: Option<(String, u32)>,
    /// The server's name and id (responses).
    pub server: Option<(String, u32)>,
    /// Event number (per shard).
    pub event: u64,
    /// Peer address (`ip:port`).
    pub src: String,
    /// The captured bytes.
    pub bytes: Vec<u8>,
    /// Offset of the first byte that broke the rule.
    pub error_at: usize,
    /// Capture buffer size (`wraps at`).
    pub buffer_bytes: usize,
}

/// Renders `show errors`: `now_us` for the total line, `total` refused heads, then `rows`
/// (already filtered) in order. Returns the reply body.
pub fn render_errors(now_us: u64, total: u64, rows: &[ErrorRow]) -> String {
    let mut out = format!("Total events captured on [{}] : {total}\n", millis(now_us));
    for (i, r) in rows.iter().enumerate() {
        out.push_str(if i == 0 { " \n" } else { "\n \n" });
        let none = ("<NONE>".to_owned(), u32::MAX);
        let id = |x: &(String, u32)| {
            if x.1 == u32::MAX {
                "-1".to_owned()
            } else {
                x.1.to_string()
            }
        };
        let (be, sv) = (
            r.backend.as_ref().unwrap_or(&none),
            r.server.as_ref().unwrap_or(&none),
        );
        let _ =
            if r.response {
                write!(
                out,
                "[{}] backend {} (#{}): invalid response\n  frontend {} (#{}), server {} (#{}), \
                 event #{}, src {}\n",
                millis(r.unix_us), be.0, id(be), r.frontend.0, r.frontend.1, sv.0, id(sv),
                r.event, r.src
            )
            } else {
                write!(
                out,
                "[{}] frontend {} (#{}): invalid request\n  backend {} (#{}), server {} (#{}), \
                 event #{}, src {}\n",
                millis(r.unix_us), r.frontend.0, r.frontend.1, be.0, id(be), sv.0, id(sv),
                r.event, r.src
            )
            };
        let _ = write!(
            out,
            "  buffer starts at 0 (including 0 out), {} free,\n  len {}, wraps at {}, error \
             at position {}\n  \n",
            r.buffer_bytes.saturating_sub(r.bytes.len()),
            r.bytes.len(),
            r.buffer_bytes,
            r.error_at
        );
        dump(&mut out, &r.bytes);
    }
    out
}

/// `02/Dec/2026:03:31:28.240`: the session date format cut to milliseconds.
fn millis(unix_us: u64) -> String {
    let mut d = accept_date(unix_us);
    d.truncate(d.len() - 3);
    d
}

/// Bytes of one dump line at most before it wraps (HAProxy `dump_text_line` breaks long
/// lines too).
const DUMP_LINE_BYTES: usize = 64;

/// HAProxy's text dump: `  <offset:05>  <escaped bytes>` per line, a line ending after each
/// LF; `\r`, `\n`, `\t` and `\\` escaped, other non-printable bytes as `\xHH`.
fn dump(out: &mut String, bytes: &[u8]) {
    let mut at = 0;
    while at < bytes.len() {
        let _ = write!(out, "  {at:05}  ");
        let start = at;
        while at < bytes.len() && at - start < DUMP_LINE_BYTES {
            let b = bytes[at];
            at += 1;
            match b {
                b'\r' => out.push_str("\\r"),
                b'\n' => out.push_str("\\n"),
                b'\t' => out.push_str("\\t"),
                b'\\' => out.push_str("\\\\"),
                0x20..=0x7e => out.push(char::from(b)),
                _ => {
                    let _ = write!(out, "\\x{b:02x}");
                }
            }
            if b == b'\n' {
                break;
            }
        }
        out.push('\n');
    }
}

/// `show errors [<px>] [request|response]`: `<px>` other than a known name must be a
/// non-zero id (`No such proxy.` otherwise, checked by the engine with the names).
pub(super) fn parse_show_errors(args: Args<'_>) -> Result<Command, ErrorReply> {
    let proxy = match args.get(2) {
        "" => ErrorsProxy::All,
        p if atoi(p) == -1 => ErrorsProxy::All,
        p => ErrorsProxy::Named(p.to_owned()),
    };
    let kinds = match args.get(3) {
        "request" => ErrorKinds::Requests,
        "response" => ErrorKinds::Responses,
        _ => ErrorKinds::Both,
    };
    Ok(Command::ShowErrors { proxy, kinds })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_matches_haproxy_layout() {
        let mut out = String::new();
        dump(&mut out, b"GET / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcd");
        assert_eq!(
            out,
            "  00000  GET / HTTP/1.1\\r\\n\n  00016  Content-Length: 3\\r\\n\n  00035  \\r\\n\n  \
             00037  abcd\n"
        );
        let mut out = String::new();
        dump(&mut out, b"a\x01\\");
        assert_eq!(out, "  00000  a\\x01\\\\\n");
    }
}
