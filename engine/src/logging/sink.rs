//! Where the writer thread puts log lines, and how each line is framed: stderr or an
//! O_APPEND file (lines batched into few writes), or syslog over UDP or a unix datagram
//! socket (one datagram per line, as HAProxy sends them). Framing is raw, RFC 3164 or
//! RFC 5424 with HAProxy's exact header.
//!
//! Datagram sockets are non-blocking: a sink that is gone, refuses or is full loses the line
//! and counts it; the writer thread never waits on a syslog daemon, so the shards' rings
//! keep draining.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::SystemTime;

use percore_admin::MONTHS;
use percore_conf::{Log, LogFraming, LogTarget};

use super::civil;

/// Syslog severities percore uses (RFC 5424 numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Severity {
    /// A backend has no server left (`emerg`, as HAProxy).
    Emergency = 0,
    /// A server went DOWN (`alert`, as HAProxy).
    Alert = 1,
    /// A server came UP, or an admin state change (`notice`).
    Notice = 5,
    /// Access-log lines.
    #[default]
    Info = 6,
}

/// The syslog header of each line, fixed at start except for the time and severity.
#[derive(Debug, Clone)]
pub struct Framer {
    framing: LogFraming,
    facility: u8,
    tag: String,
    pid: u32,
}

impl Framer {
    /// The framer `log` asks for.
    pub fn new(log: &Log) -> Self {
        Framer {
            framing: log.framing,
            facility: log.facility,
            tag: log.tag.clone(),
            pid: std::process::id(),
        }
    }

    /// Appends the header of a line sent at `now` with `severity` to `out`:
    /// RFC 3164 `<134>Dec  2 03:19:26 percore[42]: `, RFC 5424
    /// `<134>1 2026-12-02T03:19:26.505234+00:00 - percore 42 - - `, raw nothing. Times are
    /// UTC (HAProxy writes local time; percore carries no time zone database).
    pub fn header(&self, out: &mut Vec<u8>, severity: Severity, now: SystemTime) {
        let pri = u32::from(self.facility) * 8 + severity as u32;
        let (y, mo, d, h, mi, s, _) = civil(now);
        // Writing into a Vec cannot fail.
        let _ = match self.framing {
            LogFraming::Raw => Ok(()),
            LogFraming::Rfc3164 => write!(
                out,
                "<{pri}>{} {d:>2} {h:02}:{mi:02}:{s:02} {}[{}]: ",
                MONTHS[usize::from(mo - 1)],
                self.tag,
                self.pid
            ),
            LogFraming::Rfc5424 => {
                let us = now
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap_or_default()
                    .subsec_micros();
                write!(
                    out,
                    "<{pri}>1 {y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{us:06}+00:00 - {} {} \
                     - - ",
                    self.tag, self.pid
                )
            }
        };
    }
}

/// An open log destination.
#[derive(Debug)]
pub enum Sink {
    /// stderr or a file: lines are batched.
    Stream(File),
    /// Syslog over UDP: one datagram per line.
    Udp(UdpSocket, SocketAddr),
    /// Syslog over a unix datagram socket: one datagram per line, sent by path each time so
    /// that a restarted syslog daemon is found again.
    Unix(UnixDatagram, PathBuf),
}

impl Sink {
    /// Opens `target`. A syslog daemon that is not listening yet is no error: lines sent
    /// before it is are lost and counted.
    pub fn open(target: &LogTarget) -> std::io::Result<Self> {
        Ok(match target {
            LogTarget::Stderr => {
                Sink::Stream(File::from(std::io::stderr().as_fd().try_clone_to_owned()?))
            }
            LogTarget::File(path) => {
                Sink::Stream(OpenOptions::new().create(true).append(true).open(path)?)
            }
            LogTarget::Udp(addr) => {
                let local: SocketAddr = if addr.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
                };
                let socket = UdpSocket::bind(local)?;
                socket.set_nonblocking(true)?;
                Sink::Udp(socket, *addr)
            }
            LogTarget::Unix(path) => {
                let socket = UnixDatagram::unbound()?;
                socket.set_nonblocking(true)?;
                Sink::Unix(socket, path.clone())
            }
        })
    }

    /// Whether each line is its own datagram (else lines are batched with newlines).
    pub fn is_datagram(&self) -> bool {
        !matches!(self, Sink::Stream(_))
    }

    /// Writes a batch of newline-terminated lines (stream sinks) or one datagram. False
    /// when the bytes were lost (sink gone, full, refused).
    pub fn send(&mut self, bytes: &[u8]) -> bool {
        match self {
            Sink::Stream(file) => file.write_all(bytes).is_ok(),
            Sink::Udp(socket, addr) => socket.send_to(bytes, *addr).is_ok(),
            Sink::Unix(socket, path) => socket.send_to(bytes, path.as_path()).is_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn framer(framing: LogFraming) -> Framer {
        Framer {
            framing,
            facility: 16,
            tag: "percore".into(),
            pid: 4242,
        }
    }

    /// The headers byte for byte as HAProxy 2.6 sends them (captured from
    /// `log 127.0.0.1:5514 local0` and `format rfc5424`).
    #[test]
    fn headers_are_haproxys() {
        let t = UNIX_EPOCH + Duration::from_micros(1_796_181_566_505_234); // 2026-12-02
        let header = |f: LogFraming, s| {
            let mut out = Vec::new();
            framer(f).header(&mut out, s, t);
            String::from_utf8(out).expect("ascii")
        };
        assert_eq!(
            header(LogFraming::Rfc3164, Severity::Info),
            "<134>Dec  2 03:19:26 percore[4242]: "
        );
        assert_eq!(
            header(LogFraming::Rfc5424, Severity::Info),
            "<134>1 2026-12-02T03:19:26.505234+00:00 - percore 4242 - - "
        );
        assert_eq!(header(LogFraming::Raw, Severity::Info), "");
        assert_eq!(&header(LogFraming::Rfc3164, Severity::Alert)[..5], "<129>");
        let late = UNIX_EPOCH + Duration::from_secs(1_797_379_200); // 2026-12-16
        let mut out = Vec::new();
        framer(LogFraming::Rfc3164).header(&mut out, Severity::Emergency, late);
        assert_eq!(
            String::from_utf8(out).expect("ascii"),
            "<128>Dec 16 00:00:00 percore[4242]: "
        );
    }

    #[test]
    fn unix_datagram_sink_sends_one_datagram_per_line() {
        let dir = std::env::temp_dir().join(format!("percore-sink-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("log.sock");
        let _ = std::fs::remove_file(&path);
        let rx = UnixDatagram::bind(&path).expect("bind");
        let mut sink = Sink::open(&LogTarget::Unix(path.clone())).expect("socket");
        assert!(sink.send(b"<134>one\n") && sink.send(b"<134>two\n"));
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).expect("first");
        assert_eq!(&buf[..n], b"<134>one\n");
        let n = rx.recv(&mut buf).expect("second");
        assert_eq!(&buf[..n], b"<134>two\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn unreachable_datagram_sinks_lose_lines_without_blocking() {
        let mut unix =
            Sink::open(&LogTarget::Unix("/nonexistent/percore.sock".into())).expect("socket");
        assert!(unix.is_datagram());
        assert!(!unix.send(b"x\n"));
        // A bound and closed UDP port: the first send may pass (ICMP comes later), none blocks.
        let port = UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .expect("port");
        let mut udp = Sink::open(&LogTarget::Udp(port)).expect("socket");
        for _ in 0..3 {
            let _ = udp.send(b"x\n");
        }
    }
}
