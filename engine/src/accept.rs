//! Cancel-safe accepts: a readiness wait (`glommio::net::readable`), then a non-blocking
//! `accept4`, on every listening socket of the process (frontends, admin, metrics).
//!
//! An io_uring accept that is cancelled may already have taken a connection, which then has
//! no reader and is closed unserved (third_party/glommio/PATCHES.md, patches 8 and 13).
//! Dropping a pending readiness wait takes nothing, so a listener paused, removed, stopped
//! or handed to a new binary leaves every queued connection for the next accept — in this
//! process or, during an upgrade, in the one that shares the socket.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{BorrowedFd, FromRawFd, IntoRawFd};

use nix::errno::Errno;
use socket2::{SockAddr, SockRef};

/// One connection from the accept queue of the non-blocking listening socket `fd`, as `S`,
/// with the peer address `accept4` reported, or `None` when the queue is empty.
/// Connections that ended while queued (ECONNABORTED, or a network error Linux reports on
/// accept) are skipped; other errors are the caller's.
///
/// The address comes from `accept4` itself: a client that reset its connection while it
/// waited in the queue has no peer any more for `getpeername` (ENOTCONN), yet the bytes it
/// sent are still to be read, served and logged, as HAProxy does (`CR--`).
pub fn accept_now<S: FromRawFd>(fd: BorrowedFd<'_>) -> io::Result<Option<(S, SockAddr)>> {
    let flags = libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;
    loop {
        match SockRef::from(&fd).accept4(flags) {
            // SAFETY: accept4 just returned this descriptor and `into_raw_fd` released it:
            // nothing else owns it, and `S` (a glommio stream) takes it over and closes it once.
            Ok((client, peer)) => {
                return Ok(Some((
                    unsafe { S::from_raw_fd(client.into_raw_fd()) },
                    peer,
                )))
            }
            Err(e) => match Errno::from_raw(e.raw_os_error().unwrap_or(0)) {
                Errno::EAGAIN => return Ok(None),
                Errno::EINTR | Errno::ECONNABORTED | Errno::EPROTO | Errno::ENETDOWN => {}
                _ => return Err(e),
            },
        }
    }
}

/// The next connection of the non-blocking listening socket `fd` and its peer address:
/// waits on `ready` (the readiness of `fd`, kept by the caller across accepts so that its
/// one multishot poll serves the socket's life) while its queue is empty. Cancel-safe (see
/// the module doc).
pub async fn accept<S: FromRawFd>(
    fd: BorrowedFd<'_>,
    ready: &mut glommio::net::Readiness<'_>,
) -> io::Result<(S, SockAddr)> {
    loop {
        if let Some(client) = accept_now(fd)? {
            return Ok(client);
        }
        ready.wait().await?;
    }
}

/// The address a client accepted on a listener bound to `bound` connected to: `bound`
/// itself, unless the listener is bound to a wildcard address, where only a `getsockname`
/// tells (one system call per connection saved for every other listener).
pub fn local_addr(
    client: &glommio::net::TcpStream,
    bound: SocketAddr,
    peer: SocketAddr,
) -> SocketAddr {
    if bound.ip().is_unspecified() {
        client.local_addr().unwrap_or(peer)
    } else {
        bound
    }
}

/// Makes listening socket `fd` non-blocking, as [`accept_now`] needs: another shard's or
/// (during an upgrade) another process's accept may take a connection between the
/// readiness wait and the accept. The flag belongs to the socket, shared by every
/// descriptor of it.
pub fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    fcntl(fd, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
    Ok(())
}
