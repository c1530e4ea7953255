//! The blocking client behind `percore ctl`: one connection per request line over a unix
//! socket or loopback TCP, read to EOF (the server closes after replying in non-interactive
//! mode), bounded in size and time. Also the client-side helpers: classifying a reply as an
//! error for the exit status, and turning `show stat` CSV into a readable table (`ctl -t`).
//! This is the only code in the crate that touches sockets.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::cmd::parse;
use crate::error::ERROR_PREFIXES;
use crate::framing::LINE_BYTES_MAX;
use crate::grammar::{split_commands, tokenize};
use crate::level::Level;

/// Largest reply accepted (a `show stat` of thousands of servers is a few MiB); more is an
/// error rather than unbounded memory.
pub const REPLY_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Default bound on one whole exchange (connect, send, read to EOF).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the admin socket listens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// A unix stream socket path.
    Unix(PathBuf),
    /// A TCP `host:port`.
    Tcp(String),
}

impl Endpoint {
    /// Reads an address: `unix@PATH` or `tcp@HOST:PORT` explicitly; otherwise anything with a
    /// `/` is a path, `host:port` with a numeric port is TCP, and the rest is a path.
    pub fn parse(addr: &str) -> Endpoint {
        if let Some(path) = addr.strip_prefix("unix@") {
            return Endpoint::Unix(PathBuf::from(path));
        }
        if let Some(host_port) = addr.strip_prefix("tcp@") {
            return Endpoint::Tcp(host_port.to_owned());
        }
        let is_host_port = !addr.contains('/')
            && addr
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if is_host_port {
            Endpoint::Tcp(addr.to_owned())
        } else {
            Endpoint::Unix(PathBuf::from(addr))
        }
    }
}

/// Blocking admin client: each [`Client::send`] opens a connection, sends one line and reads
/// the reply until the server closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// Socket to connect to.
    endpoint: Endpoint,
    /// Bound on each whole exchange.
    timeout: Duration,
}

impl Client {
    /// A client for `addr` (see [`Endpoint::parse`]) with [`DEFAULT_TIMEOUT`].
    pub fn new(addr: &str) -> Self {
        Client::with_endpoint(Endpoint::parse(addr))
    }

    /// A client for an explicit endpoint with [`DEFAULT_TIMEOUT`].
    pub fn with_endpoint(endpoint: Endpoint) -> Self {
        Client {
            endpoint,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Replaces the bound on each exchange (zero is treated as one millisecond).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The endpoint this client connects to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Sends one request line (`;`-chained commands allowed, no LF inside; a trailing LF is
    /// dropped) and returns the raw reply bytes, terminators included. Errors: connect/IO
    /// failures, `TimedOut` past the bound, `InvalidInput` for a multi-line or over-long line,
    /// `InvalidData` for a reply over [`REPLY_BYTES_MAX`]. Invalid UTF-8 is replaced.
    pub fn send(&self, line: &str) -> io::Result<String> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        if line.contains('\n') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "request line contains a newline",
            ));
        }
        if line.len() > LINE_BYTES_MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("request line longer than {LINE_BYTES_MAX} bytes"),
            ));
        }
        let deadline = Instant::now() + self.timeout;
        match &self.endpoint {
            Endpoint::Unix(path) => {
                let stream = UnixStream::connect(path)?;
                exchange(stream, line, deadline)
            }
            Endpoint::Tcp(addr) => {
                let mut last_error = None;
                for sockaddr in addr.to_socket_addrs()? {
                    match TcpStream::connect_timeout(&sockaddr, remaining(deadline)?) {
                        Ok(stream) => return exchange(stream, line, deadline),
                        Err(e) => last_error = Some(e),
                    }
                }
                Err(last_error.unwrap_or_else(|| {
                    io::Error::new(io::ErrorKind::NotFound, format!("{addr}: no address"))
                }))
            }
        }
    }
}

/// Sockets whose reads and writes can be bounded in time.
trait TimedStream: Read + Write {
    fn set_timeouts(&self, timeout: Duration) -> io::Result<()>;
}

impl TimedStream for UnixStream {
    fn set_timeouts(&self, timeout: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(timeout))?;
        self.set_write_timeout(Some(timeout))
    }
}

impl TimedStream for TcpStream {
    fn set_timeouts(&self, timeout: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(timeout))?;
        self.set_write_timeout(Some(timeout))
    }
}

fn remaining(deadline: Instant) -> io::Result<Duration> {
    match deadline.checked_duration_since(Instant::now()) {
        Some(left) if !left.is_zero() => Ok(left),
        _ => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "admin socket did not answer in time",
        )),
    }
}

/// Writes `line` + LF, then reads until EOF within `deadline` and [`REPLY_BYTES_MAX`].
fn exchange<S: TimedStream>(mut stream: S, line: &str, deadline: Instant) -> io::Result<String> {
    stream.set_timeouts(remaining(deadline)?)?;
    let mut request = Vec::with_capacity(line.len() + 1);
    request.extend_from_slice(line.as_bytes());
    request.push(b'\n');
    stream.write_all(&request)?;
    stream.flush()?;

    let mut reply = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        stream.set_timeouts(remaining(deadline)?)?;
        let n = match stream.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "admin socket did not answer in time",
                ));
            }
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        if reply.len() + n > REPLY_BYTES_MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("reply larger than {REPLY_BYTES_MAX} bytes"),
            ));
        }
        reply.extend_from_slice(&chunk[..n]);
    }
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

/// Heuristic for `percore ctl`'s exit status: whether the reply to `line` reports a failure.
/// True when some part of `line` does not parse even at admin level (unknown command, missing
/// argument), when any reply line starts with a known error text, or when the reply is empty
/// although the line was not `quit` (connection closed without an answer).
pub fn reply_is_error(line: &str, reply: &str) -> bool {
    let parts = split_commands(line);
    if reply.is_empty() {
        let quits = parts
            .iter()
            .any(|p| tokenize(p).first().is_some_and(|w| w == "quit"));
        return !quits;
    }
    if parts.iter().any(|p| parse(p, Level::Admin).is_err()) {
        return true;
    }
    reply
        .lines()
        .any(|l| ERROR_PREFIXES.iter().any(|prefix| l.starts_with(prefix)))
}

/// Columns shown by [`render_stat_table`], in order; the first three are text (left-aligned).
const TABLE_COLUMNS: [&str; 13] = [
    "pxname", "svname", "status", "weight", "scur", "smax", "stot", "bin", "bout", "econ", "eresp",
    "chkfail", "lastchg",
];
const TABLE_TEXT_COLUMNS: usize = 3;

/// Turns a `show stat` CSV reply into an aligned table of the most useful columns (pxname,
/// svname, status, weight, scur, smax, stot, bin, bout, econ, eresp, chkfail, lastchg), for
/// `percore ctl -t`. Anything that is not a CSV reply (an error text, JSON) comes back as is.
pub fn render_stat_table(csv: &str) -> String {
    let mut lines = csv.lines();
    let Some(header) = lines.next().and_then(|h| h.strip_prefix("# ")) else {
        return csv.to_owned();
    };
    let names = split_csv_line(header);
    let index: Vec<Option<usize>> = TABLE_COLUMNS
        .iter()
        .map(|want| names.iter().position(|n| n == want))
        .collect();
    let mut rows: Vec<Vec<String>> = vec![TABLE_COLUMNS.iter().map(|s| (*s).to_owned()).collect()];
    for line in lines.filter(|l| !l.is_empty()) {
        let fields = split_csv_line(line);
        rows.push(
            index
                .iter()
                .map(|i| i.and_then(|i| fields.get(i).cloned()).unwrap_or_default())
                .collect(),
        );
    }
    let mut widths = [0usize; TABLE_COLUMNS.len()];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = w - cell.chars().count();
            if i < TABLE_TEXT_COLUMNS {
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', pad));
            } else {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(cell);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Splits one CSV line as HAProxy writes it (every field followed by `,`; fields holding
/// `,`, `"`, CR or LF are quoted with `""` for a quote).
fn split_csv_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                if c == '"' {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        field.push('"');
                    } else {
                        break;
                    }
                } else {
                    field.push(c);
                }
            }
        }
        for c in chars.by_ref() {
            if c == ',' {
                fields.push(field);
                field = String::new();
                break;
            }
            field.push(c);
        }
        if chars.peek().is_none() {
            if !field.is_empty() {
                fields.push(field);
            }
            return fields;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_parsing() {
        assert_eq!(
            Endpoint::parse("/run/percore.sock"),
            Endpoint::Unix("/run/percore.sock".into())
        );
        assert_eq!(
            Endpoint::parse("percore.sock"),
            Endpoint::Unix("percore.sock".into())
        );
        assert_eq!(
            Endpoint::parse("127.0.0.1:9999"),
            Endpoint::Tcp("127.0.0.1:9999".into())
        );
        assert_eq!(
            Endpoint::parse("localhost:9999"),
            Endpoint::Tcp("localhost:9999".into())
        );
        assert_eq!(
            Endpoint::parse("[::1]:9999"),
            Endpoint::Tcp("[::1]:9999".into())
        );
        assert_eq!(Endpoint::parse("./a:1"), Endpoint::Unix("./a:1".into()));
        assert_eq!(Endpoint::parse("unix@x:1"), Endpoint::Unix("x:1".into()));
        assert_eq!(Endpoint::parse("tcp@h:1"), Endpoint::Tcp("h:1".into()));
        assert_eq!(Endpoint::parse("sock:x"), Endpoint::Unix("sock:x".into()));
    }

    #[test]
    fn csv_split() {
        assert_eq!(split_csv_line("a,b,,c,"), vec!["a", "b", "", "c"]);
        assert_eq!(split_csv_line("\"x,\"\"y\",z,"), vec!["x,\"y", "z"]);
        assert_eq!(split_csv_line(""), Vec::<String>::new());
        assert_eq!(split_csv_line(",,"), vec!["", ""]);
    }

    #[test]
    fn error_classification() {
        assert!(reply_is_error(
            "get weight app/nosuch",
            "No such server.\n\n"
        ));
        assert!(!reply_is_error("get weight app/s1", "1 (initial 1)\n\n"));
        assert!(reply_is_error("foo", "Unknown command, but maybe…\n\n"));
        assert!(reply_is_error(
            "set server app/s1 weight abc",
            "Empty weight string empty or preceded by garbage\n"
        ));
        assert!(reply_is_error("show sess", "Permission denied\n\n"));
        assert!(!reply_is_error("quit", ""));
        assert!(reply_is_error("show info", ""));
        assert!(!reply_is_error("disable server app/s1", "\n"));
        assert!(reply_is_error(
            "get weight app/s1;get weight x",
            "1 (initial 1)\n\nRequire 'backend/server'.\n\n"
        ));
        assert!(!reply_is_error("prompt", "\n> "));
    }

    #[test]
    fn send_rejects_multiline() {
        let client = Client::new("/nonexistent/percore.sock");
        let err = client.send("show info\nshow stat").expect_err("multi-line");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(client.send("show info").is_err());
    }
}
