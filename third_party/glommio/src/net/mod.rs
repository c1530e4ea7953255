// Unless explicitly stated otherwise all files in this repository are licensed
// under the MIT/Apache-2.0 License, at your convenience
//
// This product includes software developed at Datadog (https://www.datadoghq.com/). Copyright 2020 Datadog, Inc.
//
//! This module provides glommio's networking support.
use crate::sys;
use nix::sys::socket::{MsgFlags, SockaddrLike};
use std::{io, os::unix::io::RawFd};

fn yolo_accept(fd: RawFd) -> Option<io::Result<RawFd>> {
    let flags =
        nix::fcntl::OFlag::from_bits(nix::fcntl::fcntl(fd, nix::fcntl::F_GETFL).unwrap()).unwrap();
    nix::fcntl::fcntl(
        fd,
        nix::fcntl::F_SETFL(flags | nix::fcntl::OFlag::O_NONBLOCK),
    )
    .unwrap();
    let r = sys::accept_syscall(fd);
    nix::fcntl::fcntl(fd, nix::fcntl::F_SETFL(flags)).unwrap();
    match r {
        Ok(x) => Some(Ok(x)),
        Err(err) => match err.kind() {
            io::ErrorKind::WouldBlock => None,
            _ => Some(Err(err)),
        },
    }
}

fn yolo_send(fd: RawFd, buf: &[u8]) -> Option<io::Result<usize>> {
    match sys::send_syscall(fd, buf.as_ptr(), buf.len(), MsgFlags::MSG_DONTWAIT.bits()) {
        Ok(x) => Some(Ok(x)),
        Err(err) => match err.kind() {
            io::ErrorKind::WouldBlock => None,
            _ => Some(Err(err)),
        },
    }
}

fn yolo_peek(fd: RawFd, buf: &mut [u8]) -> Option<io::Result<usize>> {
    match sys::recv_syscall(
        fd,
        buf.as_mut_ptr(),
        buf.len(),
        (MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_PEEK).bits(),
    ) {
        Ok(x) => Some(Ok(x)),
        Err(err) => match err.kind() {
            io::ErrorKind::WouldBlock => None,
            _ => Some(Err(err)),
        },
    }
}

fn yolo_recv(fd: RawFd, buf: &mut [u8]) -> Option<io::Result<usize>> {
    match sys::recv_syscall(
        fd,
        buf.as_mut_ptr(),
        buf.len(),
        MsgFlags::MSG_DONTWAIT.bits(),
    ) {
        Ok(x) => Some(Ok(x)),
        Err(err) => match err.kind() {
            io::ErrorKind::WouldBlock => None,
            _ => Some(Err(err)),
        },
    }
}

fn yolo_recvmsg<T: SockaddrLike>(
    fd: RawFd,
    buf: &mut [u8],
    flags: MsgFlags,
) -> Option<io::Result<(usize, T)>> {
    match sys::recvmsg_syscall(
        fd,
        buf.as_mut_ptr(),
        buf.len(),
        (flags | MsgFlags::MSG_DONTWAIT).bits(),
    ) {
        Ok(x) => Some(Ok(x)),
        Err(err) => match err.kind() {
            io::ErrorKind::WouldBlock => None,
            _ => Some(Err(err)),
        },
    }
}

fn yolo_sendmsg(
    fd: RawFd,
    buf: &[u8],
    addr: &impl nix::sys::socket::SockaddrLike,
) -> Option<io::Result<usize>> {
    match sys::sendmsg_syscall(
        fd,
        buf.as_ptr(),
        buf.len(),
        addr,
        MsgFlags::MSG_DONTWAIT.bits(),
    ) {
        Ok(x) => Some(Ok(x)),
        Err(err) => match err.kind() {
            io::ErrorKind::WouldBlock => None,
            _ => Some(Err(err)),
        },
    }
}

mod datagram;
mod stream;
mod tcp_socket;
mod udp_socket;
mod unix;
pub use self::{
    stream::{Buffered, Preallocated},
    tcp_socket::{AcceptedTcpStream, TcpListener, TcpStream},
    udp_socket::UdpSocket,
    unix::{AcceptedUnixStream, UnixDatagram, UnixListener, UnixStream},
};

/// percore patch 14: waits until `fd` is readable, with a one-shot poll; for a listening
/// socket, until a connection waits in its accept queue. Unlike `accept`, this is
/// cancel-safe: dropping the future takes nothing from the socket (a cancelled accept may
/// already have taken a connection, which then has no reader). The caller accepts with a
/// non-blocking `accept4` once this returns, and waits again on `EAGAIN`.
pub async fn readable(fd: std::os::fd::BorrowedFd<'_>) -> crate::Result<(), ()> {
    use std::os::fd::AsRawFd;
    let source = crate::executor()
        .reactor()
        .poll_read_ready(fd.as_raw_fd());
    source.collect_rw().await?;
    Ok(())
}

/// percore patch 17: input readiness of a descriptor for as long as this is kept — one
/// multishot poll, armed at the first wait and re-armed only if the kernel ends it, where
/// [`readable`] arms a one-shot poll per wait. For a listening socket whose queue empties
/// often (connection churn), that is one `POLL_ADD` per socket life instead of one per
/// empty queue. Cancel-safe as `readable`: a poll takes nothing from the socket. A wait may
/// return for an event the caller already acted on (the accept that emptied the queue came
/// after it); the caller's non-blocking call then finds nothing and waits again.
#[derive(Debug)]
pub struct Readiness<'a> {
    fd: std::os::fd::BorrowedFd<'a>,
    source: Option<crate::sys::Source>,
}

impl<'a> Readiness<'a> {
    /// Readiness of `fd`; nothing is armed until the first [`Readiness::wait`].
    pub fn new(fd: std::os::fd::BorrowedFd<'a>) -> Self {
        Readiness { fd, source: None }
    }

    /// Waits for the next input event (for a listener: a connection in its queue), or
    /// returns at once for one that came since the last wait.
    pub async fn wait(&mut self) -> io::Result<()> {
        std::future::poll_fn(|cx| self.poll_wait(cx)).await
    }

    fn poll_wait(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<io::Result<()>> {
        use std::os::fd::AsRawFd;
        let reactor = crate::executor().reactor();
        if let Some(source) = &self.source {
            let result = source.take_result();
            if !source.is_armed() {
                self.source = None;
            }
            match result {
                // The kernel predates multishot polls: from now on they are one-shot.
                Some(Err(e)) if e.raw_os_error() == Some(libc::EINVAL) => {
                    reactor.multishot_poll_refused();
                }
                Some(result) => return std::task::Poll::Ready(result.map(|_| ())),
                None => {}
            }
        }
        let fd = self.fd.as_raw_fd();
        self.source
            .get_or_insert_with(|| reactor.poll_read_ready_multi(fd))
            .add_waiter_single(cx.waker());
        std::task::Poll::Pending
    }
}
