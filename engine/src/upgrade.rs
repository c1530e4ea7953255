//! Binary upgrade (`upgrade`, `percore ctl upgrade`, SIGUSR2): the running process starts a
//! new binary and hands it every listening socket, so that the port is never closed.
//!
//! The two processes talk over a `SOCK_SEQPACKET` unix socket pair; the new one finds its
//! end in the descriptor named by [`UPGRADE_FD_ENV`]. The old one sends one message per
//! socket, its description and the descriptor (SCM_RIGHTS), then `end`:
//!
//! ```text
//! old -> new   listener <configured> <bound> <frontend>   + fd   (one per shard and bind)
//!              admin-unix <path>                          + fd
//!              admin-tcp <address>                        + fd
//!              metrics <configured>                       + fd
//!              end
//! new -> old   ready <pid>            every shard accepts, the admin sockets are served
//!          or  failed <message>       start-up failed (the process then exits non-zero)
//! ```
//!
//! The new process binds nothing it received: each of its binds takes the received sockets
//! of the same configured address (the same sockets, so their accept queues are shared: a
//! connection waiting in one is accepted by either process), an admin socket of the same
//! path or address takes its descriptor (the file is never unlinked). What it does not
//! match it closes (and an unmatched admin socket file it removes).
//!
//! The old process does the rest in the control plane (`control::upgrade`): it waits for
//! `ready` (at most [`READY_TIMEOUT`]), then stops accepting and soft-stops; on `failed`,
//! an early exit or the timeout it kills the new process and keeps serving.

use std::ffi::OsStr;
use std::io::{IoSlice, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::socket::{
    recvmsg, sendmsg, setsockopt, socketpair, sockopt, AddressFamily, ControlMessage,
    ControlMessageOwned, MsgFlags, SockFlag, SockType,
};
use nix::sys::time::TimeVal;

/// Environment variable naming the descriptor of the new process's end of the channel.
pub const UPGRADE_FD_ENV: &str = "PERCORE_UPGRADE_FD";

/// How long the old process waits for the new one's `ready`: its shards' own start-up
/// barrier (`control::START_TIMEOUT`, 20 s) plus time to load the file and bind.
pub const READY_TIMEOUT: Duration = Duration::from_secs(25);

/// Longest message on the channel: a socket description (an admin path is at most 107
/// bytes), or a start-up error of the new process (cut to fit).
pub const MESSAGE_BYTES_MAX: usize = 4096;

/// How long either side's blocking send or receive may take: the peer is a process that
/// either reads at once or is broken.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// What one handed-over socket is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handed {
    /// A frontend's listening socket of one shard.
    Listener {
        /// The bind address as configured (port 0 for an ephemeral one).
        configured: SocketAddr,
        /// The address bound.
        addr: SocketAddr,
        /// The frontend's name (for the log only: binds match by address).
        frontend: String,
    },
    /// A unix admin socket bound at this path.
    AdminUnix(PathBuf),
    /// A TCP admin listener.
    AdminTcp(SocketAddr),
    /// The `/metrics` listener, by its bind as configured (port 0 for an ephemeral one).
    Metrics(SocketAddr),
}

impl Handed {
    /// The message describing this socket.
    fn encode(&self) -> Vec<u8> {
        match self {
            Handed::Listener {
                configured,
                addr,
                frontend,
            } => format!("listener {configured} {addr} {frontend}").into_bytes(),
            Handed::AdminUnix(path) => {
                let mut m = b"admin-unix ".to_vec();
                m.extend_from_slice(path.as_os_str().as_bytes());
                m
            }
            Handed::AdminTcp(addr) => format!("admin-tcp {addr}").into_bytes(),
            Handed::Metrics(configured) => format!("metrics {configured}").into_bytes(),
        }
    }

    /// The socket a message describes; `None` for anything else.
    fn decode(m: &[u8]) -> Option<Handed> {
        if let Some(path) = m.strip_prefix(b"admin-unix ") {
            return Some(Handed::AdminUnix(PathBuf::from(OsStr::from_bytes(path))));
        }
        let text = std::str::from_utf8(m).ok()?;
        if let Some(addr) = text.strip_prefix("admin-tcp ") {
            return addr.parse().ok().map(Handed::AdminTcp);
        }
        if let Some(addr) = text.strip_prefix("metrics ") {
            return addr.parse().ok().map(Handed::Metrics);
        }
        let mut words = text.strip_prefix("listener ")?.splitn(3, ' ');
        Some(Handed::Listener {
            configured: words.next()?.parse().ok()?,
            addr: words.next()?.parse().ok()?,
            frontend: words.next()?.to_string(),
        })
    }
}

/// What the new process answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Serving, with this pid.
    Ready(u32),
    /// Start-up failed with this message.
    Failed(String),
}

impl Answer {
    /// The answer a message carries; `None` for anything else.
    pub fn decode(m: &[u8]) -> Option<Answer> {
        let text = String::from_utf8_lossy(m);
        if let Some(pid) = text.strip_prefix("ready ") {
            return pid.trim().parse().ok().map(Answer::Ready);
        }
        text.strip_prefix("failed ")
            .map(|e| Answer::Failed(e.trim_end().to_string()))
    }
}

/// The new process, started: its handle and the old process's end of the channel.
pub struct Spawned {
    /// The new process (never waited for once it is ready: it outlives this one).
    pub child: Child,
    /// The old process's end of the channel, where the answer comes.
    pub channel: OwnedFd,
    /// Why the sockets could not all be sent (the child exited, or does not read).
    pub send_error: Option<nix::Error>,
}

/// Starts `binary run -c config` with the channel's other end inherited, and sends it
/// `sockets`. The child's stdout and stderr are this process's, so both log to the same
/// place; stdin is closed. A send error is returned with the child, whose exit explains it
/// best.
pub fn spawn(
    binary: &Path,
    config: &Path,
    sockets: &[(Handed, OwnedFd)],
) -> Result<Spawned, String> {
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| format!("socketpair: {e}"))?;
    // The child inherits a duplicate without close-on-exec. No other thread of percore
    // starts processes, so no other child can inherit it in the meantime.
    let inherited = nix::unistd::dup(&theirs).map_err(|e| format!("dup: {e}"))?;
    let child = Command::new(binary)
        .arg("run")
        .arg("-c")
        .arg(config)
        .env(UPGRADE_FD_ENV, inherited.as_raw_fd().to_string())
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    // Only the child holds its end now: its exit is an end of file here.
    drop((inherited, theirs));
    let send_error = send_sockets(&ours, sockets).err();
    Ok(Spawned {
        child,
        channel: ours,
        send_error,
    })
}

/// Sends one message per socket with its descriptor, then `end`.
fn send_sockets(channel: &OwnedFd, sockets: &[(Handed, OwnedFd)]) -> nix::Result<()> {
    setsockopt(channel, sockopt::SendTimeout, &timeval(IO_TIMEOUT))?;
    for (what, fd) in sockets {
        let fds = [fd.as_raw_fd()];
        send(channel, &what.encode(), &[ControlMessage::ScmRights(&fds)])?;
    }
    send(channel, b"end", &[])
}

fn send(channel: &OwnedFd, message: &[u8], cmsgs: &[ControlMessage<'_>]) -> nix::Result<()> {
    let iov = [IoSlice::new(message)];
    sendmsg::<()>(
        channel.as_raw_fd(),
        &iov,
        cmsgs,
        MsgFlags::MSG_NOSIGNAL,
        None,
    )?;
    Ok(())
}

fn timeval(d: Duration) -> TimeVal {
    TimeVal::new(d.as_secs() as _, d.subsec_micros() as _)
}

/// The sockets a new process received, matched against its configuration at start-up.
#[derive(Debug, Default)]
pub struct Inherited {
    /// Frontend listening sockets: (configured address, bound address, frontend, socket).
    pub listeners: Vec<(SocketAddr, SocketAddr, String, OwnedFd)>,
    /// Unix admin sockets by path.
    pub admin_unix: Vec<(PathBuf, OwnedFd)>,
    /// TCP admin listeners by address.
    pub admin_tcp: Vec<(SocketAddr, OwnedFd)>,
    /// The metrics listener, by its bind as configured.
    pub metrics: Vec<(SocketAddr, OwnedFd)>,
}

impl Inherited {
    /// Takes the received sockets of bind `configured` out of the set.
    pub fn take_listeners(&mut self, configured: SocketAddr) -> Vec<(SocketAddr, OwnedFd)> {
        let (taken, kept) = std::mem::take(&mut self.listeners)
            .into_iter()
            .partition(|l| l.0 == configured);
        self.listeners = kept;
        taken
            .into_iter()
            .map(|(_, addr, _, fd)| (addr, fd))
            .collect()
    }

    /// Takes the received unix admin socket of `path`, if any.
    pub fn take_admin_unix(&mut self, path: &Path) -> Option<OwnedFd> {
        let i = self.admin_unix.iter().position(|(p, _)| p == path)?;
        Some(self.admin_unix.remove(i).1)
    }

    /// Takes the received metrics listener of configured bind `configured`, if any.
    pub fn take_metrics(&mut self, configured: SocketAddr) -> Option<OwnedFd> {
        let i = self.metrics.iter().position(|(a, _)| *a == configured)?;
        Some(self.metrics.remove(i).1)
    }

    /// Takes the received TCP admin listener of `addr`, if any.
    pub fn take_admin_tcp(&mut self, addr: SocketAddr) -> Option<OwnedFd> {
        let i = self.admin_tcp.iter().position(|(a, _)| *a == addr)?;
        Some(self.admin_tcp.remove(i).1)
    }
}

/// The new process's end of the channel, where it reports how its start-up ended.
pub struct Channel(OwnedFd);

impl Channel {
    /// `ready <pid>`: every shard accepts and the admin sockets are served.
    pub fn report_ready(self) -> Result<(), String> {
        let m = format!("ready {}", std::process::id());
        send(&self.0, m.as_bytes(), &[]).map_err(|e| format!("upgrade: report ready: {e}"))
    }

    /// `failed <message>`, cut to [`MESSAGE_BYTES_MAX`]; the old process's reply quotes it.
    pub fn report_failed(self, message: &str) {
        let mut m = format!("failed {message}").into_bytes();
        m.truncate(MESSAGE_BYTES_MAX);
        let _ = send(&self.0, &m, &[]);
    }
}

/// In a process started by an upgrade ([`UPGRADE_FD_ENV`] set): its channel and the sockets
/// the old process sent; `None` in a process started otherwise. Call before any thread is
/// started (it removes the variable from the environment).
pub fn from_env() -> Result<Option<(Channel, Inherited)>, String> {
    let Some(value) = std::env::var_os(UPGRADE_FD_ENV) else {
        return Ok(None);
    };
    // Not passed on: a later upgrade of this process gives its child a channel of its own.
    std::env::remove_var(UPGRADE_FD_ENV);
    let fd: RawFd = value
        .to_str()
        .and_then(|v| v.parse().ok())
        .filter(|&fd| fd > 2)
        .ok_or_else(|| format!("{UPGRADE_FD_ENV}={value:?}: not a descriptor number"))?;
    let channel = adopt_channel(fd)?;
    let inherited = receive_sockets(&channel)
        .map_err(|e| format!("upgrade: receiving the sockets of the old process: {e}"))?;
    Ok(Some((Channel(channel), inherited)))
}

/// Takes ownership of descriptor `fd` once it is known to be a seqpacket socket, as the
/// old process creates it.
fn adopt_channel(fd: RawFd) -> Result<OwnedFd, String> {
    // SAFETY: only borrowed for the check; `getsockopt` fails with EBADF on a closed one.
    let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    match nix::sys::socket::getsockopt(&borrowed, sockopt::SockType) {
        Ok(SockType::SeqPacket) => {}
        Ok(other) => return Err(format!("{UPGRADE_FD_ENV}={fd}: a {other:?} socket")),
        Err(e) => return Err(format!("{UPGRADE_FD_ENV}={fd}: {e}")),
    }
    // SAFETY: the old process created this descriptor for this process alone (it closed
    // its own copy after the exec), nothing in this process has used it, and the variable
    // naming it is removed, so it is taken exactly once.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    nix::fcntl::fcntl(
        &owned,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )
    .map_err(|e| format!("{UPGRADE_FD_ENV}={fd}: {e}"))?;
    Ok(owned)
}

/// Reads socket messages until `end`.
fn receive_sockets(channel: &OwnedFd) -> Result<Inherited, String> {
    setsockopt(channel, sockopt::ReceiveTimeout, &timeval(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut inherited = Inherited::default();
    loop {
        let (message, fd) = receive(channel)?;
        if message == b"end" {
            return Ok(inherited);
        }
        let (Some(what), Some(fd)) = (Handed::decode(&message), fd) else {
            return Err(format!(
                "unexpected message {:?}",
                String::from_utf8_lossy(&message)
            ));
        };
        match what {
            Handed::Listener {
                configured,
                addr,
                frontend,
            } => inherited.listeners.push((configured, addr, frontend, fd)),
            Handed::AdminUnix(path) => inherited.admin_unix.push((path, fd)),
            Handed::AdminTcp(addr) => inherited.admin_tcp.push((addr, fd)),
            Handed::Metrics(configured) => inherited.metrics.push((configured, fd)),
        }
    }
}

/// One message and the descriptor it carries, if any (close-on-exec in this process).
fn receive(channel: &OwnedFd) -> Result<(Vec<u8>, Option<OwnedFd>), String> {
    let mut buf = vec![0u8; MESSAGE_BYTES_MAX];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<()>(
        channel.as_fd().as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| e.to_string())?;
    if msg.bytes == 0 {
        return Err("the old process closed the channel".into());
    }
    let mut fds = Vec::new();
    for c in msg.cmsgs().map_err(|e| e.to_string())? {
        if let ControlMessageOwned::ScmRights(raw) = c {
            // SAFETY: SCM_RIGHTS installed these descriptors in this process just now;
            // nothing else refers to them.
            fds.extend(
                raw.into_iter()
                    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
            );
        }
    }
    let truncated = msg
        .flags
        .intersects(MsgFlags::MSG_TRUNC | MsgFlags::MSG_CTRUNC);
    let bytes = msg.bytes;
    if truncated || fds.len() > 1 {
        return Err("malformed message".into());
    }
    buf.truncate(bytes);
    Ok((buf, fds.pop()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_round_trip() {
        let all = [
            Handed::Listener {
                configured: "127.0.0.1:0".parse().expect("addr"),
                addr: "127.0.0.1:4567".parse().expect("addr"),
                frontend: "web front".into(),
            },
            Handed::AdminUnix(PathBuf::from("/run/percore dir/admin.sock")),
            Handed::AdminTcp("[::1]:9999".parse().expect("addr")),
            Handed::Metrics("0.0.0.0:0".parse().expect("addr")),
        ];
        for h in all {
            assert_eq!(Handed::decode(&h.encode()), Some(h));
        }
        assert_eq!(Handed::decode(b"listener nonsense"), None);
        assert_eq!(Answer::decode(b"ready 42"), Some(Answer::Ready(42)));
        assert_eq!(
            Answer::decode(b"failed f.yaml:1:1: bad\n"),
            Some(Answer::Failed("f.yaml:1:1: bad".into()))
        );
        assert_eq!(Answer::decode(b"hello"), None);
    }

    #[test]
    fn sockets_cross_the_channel_with_their_descriptions() {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .expect("socketpair");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let what = Handed::Listener {
            configured: "127.0.0.1:0".parse().expect("addr"),
            addr,
            frontend: "f".into(),
        };
        send_sockets(&a, &[(what, OwnedFd::from(listener))]).expect("send");
        let mut got = receive_sockets(&b).expect("receive");
        let taken = got.take_listeners("127.0.0.1:0".parse().expect("addr"));
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].0, addr);
        let same = std::net::TcpListener::from(taken.into_iter().next().expect("one").1);
        assert_eq!(same.local_addr().expect("addr"), addr, "the same socket");
        assert!(got.listeners.is_empty());
    }
}
