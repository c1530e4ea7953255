// Unless explicitly stated otherwise all files in this repository are licensed
// under the MIT/Apache-2.0 License, at your convenience
//
// This product includes software developed at Datadog (https://www.datadoghq.com/). Copyright 2020 Datadog, Inc.
//
use crate::{
    reactor::Reactor,
    sys::{self, Source, SourceType},
};
use futures_lite::ready;
use nix::{poll::PollFlags, sys::socket::MsgFlags};
use std::{
    cell::Cell,
    io,
    net::Shutdown,
    os::unix::io::{AsRawFd, FromRawFd, RawFd},
    rc::{Rc, Weak},
    task::{Context, Poll, Waker},
    time::{Duration, Instant},
};

type Result<T> = crate::Result<T, ()>;

/// Root trait for socket stream receive buffer
pub trait RxBuf {
    fn read(&mut self, buf: &mut [u8]) -> usize;
    fn peek(&self, buf: &mut [u8]) -> usize;
    fn is_empty(&self) -> bool;
    fn as_bytes(&self) -> &[u8];
    fn consume(&mut self, amt: usize);
    fn buffer_size(&self) -> usize;
    fn handle_result(&mut self, result: usize);
    fn unfilled(&mut self) -> &mut [u8];
}

#[derive(Debug, Default)]
pub struct NonBuffered;

impl RxBuf for NonBuffered {
    fn read(&mut self, _buf: &mut [u8]) -> usize {
        0
    }

    fn peek(&self, _buf: &mut [u8]) -> usize {
        0
    }

    fn is_empty(&self) -> bool {
        true
    }

    fn as_bytes(&self) -> &[u8] {
        &[]
    }

    fn consume(&mut self, _amt: usize) {}

    fn buffer_size(&self) -> usize {
        0
    }

    fn handle_result(&mut self, _result: usize) {}

    fn unfilled(&mut self) -> &mut [u8] {
        &mut []
    }
}

/// Trait for receive buffer implementations
pub trait Buffered: RxBuf {}

/// Non-shared fixed sized receive buffer allocated
/// when buffered stream is created
#[derive(Debug)]
pub struct Preallocated {
    buf: Vec<u8>,
    head: usize,
    tail: usize,
    cap: usize,
}

impl Preallocated {
    const DEFAULT_BUFFER_SIZE: usize = 8192;

    /// Creates a fixed sized receive buffer
    pub fn new(size: usize) -> Self {
        Self {
            buf: vec![0; size],
            tail: 0,
            head: 0,
            cap: size,
        }
    }
}

impl Default for Preallocated {
    fn default() -> Self {
        Self::new(Self::DEFAULT_BUFFER_SIZE)
    }
}

impl Preallocated {
    fn len(&self) -> usize {
        self.tail - self.head
    }
}

impl Buffered for Preallocated {}

impl RxBuf for Preallocated {
    fn read(&mut self, buf: &mut [u8]) -> usize {
        let sz = std::cmp::min(self.len(), buf.len());
        if sz > 0 {
            buf[..sz].copy_from_slice(&self.buf[self.head..self.head + sz]);
            self.head += sz;
        }
        sz
    }

    fn peek(&self, buf: &mut [u8]) -> usize {
        let sz = std::cmp::min(self.len(), buf.len());
        if sz > 0 {
            buf[..sz].copy_from_slice(&self.buf[self.head..self.head + sz]);
        }
        sz
    }

    fn is_empty(&self) -> bool {
        self.head >= self.tail
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[self.head..self.tail]
    }

    fn consume(&mut self, amt: usize) {
        self.head += std::cmp::min(self.len(), amt);
    }

    fn buffer_size(&self) -> usize {
        self.cap
    }

    fn handle_result(&mut self, result: usize) {
        self.tail += result;
    }

    fn unfilled(&mut self) -> &mut [u8] {
        if self.len() == 0 {
            self.head = 0;
            self.tail = 0;
        }
        &mut self.buf[self.tail..]
    }
}

#[derive(Debug)]
struct Timeout {
    id: u64,
    timeout: Cell<Option<Duration>>,
    timer: Cell<Option<Instant>>,
}

impl Timeout {
    fn new(id: u64) -> Self {
        Self {
            id,
            timeout: Cell::new(None),
            timer: Cell::new(None),
        }
    }

    fn get(&self) -> Option<Duration> {
        self.timeout.get()
    }

    fn set(&self, dur: Option<Duration>) -> Result<()> {
        if let Some(dur) = dur.as_ref() {
            if dur.as_nanos() == 0 {
                return Err(io::Error::from_raw_os_error(libc::EINVAL).into());
            }
        }
        self.timeout.set(dur);
        Ok(())
    }

    fn maybe_set_timer(&self, reactor: &Reactor, waker: &Waker) {
        if let Some(timeout) = self.timeout.get() {
            if self.timer.get().is_none() {
                let deadline = Instant::now() + timeout;
                reactor.insert_timer(self.id, deadline, waker.clone());
                self.timer.set(Some(deadline));
            }
        }
    }

    fn cancel_timer(&self, reactor: &Reactor) {
        if self.timer.take().is_some() {
            reactor.remove_timer(self.id);
        }
    }

    fn check(&self, reactor: &Reactor) -> io::Result<()> {
        if let Some(deadline) = self.timer.get() {
            if !reactor.timer_exists(&(deadline, self.id)) {
                reactor.remove_timer(self.id);
                self.timer.take();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "Operation timed out",
                ));
            }
        }
        Ok(())
    }
}

/// percore patch (readiness): each direction of the socket gets at most one io_uring poll for
/// its whole life, a multishot poll armed the first time a `recv`/`send` would block, and
/// re-armed only if the kernel ends it (a completion without `IORING_CQE_F_MORE`; or always,
/// on kernels without multishot poll, where the one-shot fallback ends after each event).
/// Upstream armed a fresh one-shot `POLL_ADD` per wait, one before the first read of every
/// stream (so the first read always waited for a poll completion, even with data queued),
/// and one after every short read.
///
/// Reads try `recv` first; after EAGAIN, or after a short read (the receive queue was
/// drained), they wait for the poll's next completion. An io_uring poll completion carries
/// the mask of the wake-up that caused it, not the socket's state when it is posted: a FIN
/// right behind data wakes the socket twice, `POLLIN | POLLRDHUP` for the state change and
/// plain `POLLIN` for the data. The reactor ORs the masks of the completions a waiter has
/// not looked at yet (`merge_poll_events`); with only the last one kept, the FIN was
/// missed, the short `recv` returned the data and the EOF stayed queued with no completion
/// to come (`tcp_mode` half-close tests, ~1 run in 25 under CPU load; a 2 000-connection
/// write-then-FIN loop: 8-17 stuck). The poll asks for `POLLRDHUP`, and once an event
/// reports FIN, hang-up or error, reads never wait for readiness again. Writes always try
/// `send` first and wait for the output poll only after EAGAIN.
///
/// Dropping the stream drops its sources: an armed poll is cancelled by its user data
/// (`Source`'s drop) and leaves the source map on its final completion, so the kernel never
/// refers to a reused slot; the kernel holds its own reference to the socket meanwhile.
#[derive(Debug)]
pub(crate) struct NonBufferedStream<S> {
    reactor: Weak<Reactor>,
    stream: S,
    /// Output readiness: armed after the first EAGAIN `send`, then kept.
    source_tx: Option<Source>,
    /// Input readiness: armed after the first EAGAIN `recv`, then kept.
    source_rx: Option<Source>,
    /// False while the last `recv` failed with EAGAIN and no readiness event came since.
    rx_ready: bool,
    /// An input event reported FIN, hang-up or error: every read tries `recv` from now on.
    rx_closed: bool,
    /// The socket waited for input before: its next wait arms the multishot poll. The first
    /// wait arms a one-shot poll, which leaves the kernel with its completion, so that a
    /// short-lived connection (one request, then closed) has nothing to cancel at its end.
    rx_waited: bool,
    /// percore patch (small streams): the read and write timeouts, allocated only when one is
    /// set, so a stream that never sets one (every proxied one) carries 8 bytes, not 80.
    timeouts: std::cell::OnceCell<Box<Timeouts>>,
}

/// A stream's read and write timeouts (see `NonBufferedStream::timeouts`).
#[derive(Debug)]
struct Timeouts {
    read: Timeout,
    write: Timeout,
}

impl<S: AsRawFd> NonBufferedStream<S> {
    /// The timeouts, allocated (and their timer ids registered) on first use.
    fn timeouts_or_init(&self) -> &Timeouts {
        self.timeouts.get_or_init(|| {
            let reactor = self.reactor.upgrade().unwrap();
            Box::new(Timeouts {
                read: Timeout::new(reactor.register_timer()),
                write: Timeout::new(reactor.register_timer()),
            })
        })
    }

    pub(crate) fn try_peek(&self, buf: &mut [u8]) -> Option<io::Result<usize>> {
        super::yolo_peek(self.stream.as_raw_fd(), buf)
    }

    pub(crate) async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        let source = self.reactor.upgrade().unwrap().recv(
            self.stream.as_raw_fd(),
            buf.len(),
            MsgFlags::MSG_PEEK,
        );

        let sz = source.collect_rw().await?;
        match source.extract_source_type() {
            SourceType::SockRecv(mut src) => {
                buf[0..sz].copy_from_slice(&src.take().unwrap().as_bytes()[0..sz]);
            }
            _ => unreachable!(),
        }
        Ok(sz)
    }

    /// Looks at what a readiness source reported since the last look: `None` if nothing,
    /// else the poll mask of the last event (empty for an error completion), and drops the
    /// source if the kernel ended it (a new one is armed on the next wait). An EINVAL from a
    /// multishot poll means the kernel predates it.
    fn take_readiness(reactor: &Reactor, source: &mut Option<Source>) -> Option<PollFlags> {
        let src = source.as_ref()?;
        let event = match src.take_result() {
            Some(Err(e)) => {
                if e.raw_os_error() == Some(libc::EINVAL) {
                    reactor.multishot_poll_refused();
                }
                Some(PollFlags::empty())
            }
            Some(Ok(mask)) => Some(PollFlags::from_bits_retain(mask as _)),
            None => None,
        };
        if !src.is_armed() {
            *source = None;
        }
        event
    }

    pub(crate) fn poll_read(
        &mut self,
        cx: &Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let reactor = self.reactor.upgrade().unwrap();
        let reactor = reactor.as_ref();

        if let Some(mask) = Self::take_readiness(reactor, &mut self.source_rx) {
            self.rx_ready = true;
            // After a FIN, an error or a hang-up the socket stays readable (EOF, the error)
            // and no further wake-up may come: never wait for one again.
            if mask.is_empty()
                || mask.intersects(sys::rdhup_flag() | PollFlags::POLLHUP | PollFlags::POLLERR)
            {
                self.rx_closed = true;
            }
        }
        if self.rx_ready || self.rx_closed || self.source_rx.is_none() {
            match super::yolo_recv(self.stream.as_raw_fd(), buf) {
                Some(result) => {
                    if let Some(t) = self.timeouts.get() {
                        t.read.cancel_timer(reactor);
                    }
                    let n = poll_err!(result);
                    // A short read drained the socket: anything arriving later, a FIN
                    // included, posts a completion after it, and a FIN that came before
                    // it is in the merged mask already (see the type's doc).
                    if n > 0 && n < buf.len() && !self.rx_closed {
                        self.rx_ready = false;
                    }
                    return Poll::Ready(Ok(n));
                }
                None => self.rx_ready = false,
            }
        }

        if let Some(t) = self.timeouts.get() {
            poll_err!(t.read.check(reactor));
        }

        let fd = self.stream.as_raw_fd();
        let waited = std::mem::replace(&mut self.rx_waited, true);
        let source = self.source_rx.get_or_insert_with(|| {
            if waited {
                reactor.poll_read_ready_multi(fd)
            } else {
                reactor.poll_read_ready_once(fd)
            }
        });
        source.add_waiter_single(cx.waker());
        if let Some(t) = self.timeouts.get() {
            t.read.maybe_set_timer(reactor, cx.waker());
        }
        Poll::Pending
    }

    pub(crate) fn poll_write(&mut self, cx: &Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let reactor = self.reactor.upgrade().unwrap();
        let reactor = reactor.as_ref();
        // Events only matter as wake-ups: every write tries `send` first.
        Self::take_readiness(reactor, &mut self.source_tx);

        // On the write path, we always start with calling `yolo_send`, because
        // it is very likely to success. It could be a waste if it already timed
        // out since the last `poll_write`, but it would not cost much more to
        // give it one last chance in this case.
        if let Some(result) = super::yolo_send(self.stream.as_raw_fd(), buf) {
            if let Some(t) = self.timeouts.get() {
                t.write.cancel_timer(reactor);
            }
            return Poll::Ready(result);
        }

        if let Some(t) = self.timeouts.get() {
            poll_err!(t.write.check(reactor));
        }

        let fd = self.stream.as_raw_fd();
        let source = self
            .source_tx
            .get_or_insert_with(|| reactor.poll_write_ready_multi(fd));
        source.add_waiter_single(cx.waker());
        if let Some(t) = self.timeouts.get() {
            t.write.maybe_set_timer(reactor, cx.waker());
        }
        Poll::Pending
    }

    pub(crate) fn poll_close(&mut self, _: &Context<'_>) -> Poll<io::Result<()>> {
        self.source_tx.take();
        Poll::Ready(sys::shutdown(self.stream.as_raw_fd(), Shutdown::Write))
    }

    /// io_uring has support for shutdown now, but it is not in any released
    /// kernel. Even with my "let's use latest" policy it would be crazy to
    /// mandate a kernel that doesn't even exist. So in preparation for that
    /// we'll sync-emulate this but already on an async wrapper
    pub(crate) fn poll_shutdown(
        &self,
        _cx: &mut Context<'_>,
        how: Shutdown,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(sys::shutdown(self.stream.as_raw_fd(), how))
    }
}

#[derive(Debug)]
pub(crate) struct GlommioStream<S, B> {
    stream: NonBufferedStream<S>,
    rx_buf: B,
    rx_done: Cell<bool>,
}

impl<S> From<socket2::Socket> for GlommioStream<S, NonBuffered>
where
    S: AsRawFd + From<socket2::Socket> + Unpin,
{
    fn from(socket: socket2::Socket) -> Self {
        let reactor = crate::executor().reactor();
        let stream = NonBufferedStream {
            reactor: Rc::downgrade(&reactor),
            stream: socket.into(),
            source_tx: None,
            source_rx: None,
            rx_ready: true,
            rx_closed: false,
            rx_waited: false,
            timeouts: std::cell::OnceCell::new(),
        };
        GlommioStream {
            stream,
            rx_buf: NonBuffered,
            rx_done: Cell::new(false),
        }
    }
}

impl<S: AsRawFd> AsRawFd for GlommioStream<S, NonBuffered> {
    fn as_raw_fd(&self) -> RawFd {
        self.stream.stream.as_raw_fd()
    }
}

impl<S> FromRawFd for GlommioStream<S, NonBuffered>
where
    S: AsRawFd + FromRawFd + From<socket2::Socket> + Unpin,
{
    unsafe fn from_raw_fd(fd: RawFd) -> Self {
        let socket = socket2::Socket::from_raw_fd(fd);
        GlommioStream::from(socket)
    }
}

impl<S> GlommioStream<S, NonBuffered> {
    pub(crate) fn buffered_with<B: Buffered>(self, rx_buf: B) -> GlommioStream<S, B> {
        GlommioStream {
            stream: self.stream,
            rx_buf,
            rx_done: self.rx_done,
        }
    }
}

impl<S: AsRawFd, B: RxBuf> GlommioStream<S, B> {
    /// Receives data on the socket from the remote address to which it is
    /// connected, without removing that data from the queue.
    ///
    /// On success, returns the number of bytes peeked.
    /// Successive calls return the same data. This is accomplished by passing
    /// `MSG_PEEK` as a flag to the underlying `recv` system call.
    pub(crate) async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut pos = self.rx_buf.peek(buf);
        if pos < buf.len() && !self.rx_done.get() {
            if let Some(result) = self.stream.try_peek(&mut buf[pos..]) {
                match result {
                    Err(e) => return Err(e),
                    Ok(len) => {
                        pos += len;
                        if len == 0 {
                            self.rx_done.set(true);
                        }
                    }
                }
            }
        }
        if pos > 0 || self.rx_done.get() {
            return Ok(pos);
        }
        self.stream.peek(buf).await
    }

    pub(crate) fn poll_read(
        &mut self,
        cx: &Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if self.rx_buf.is_empty() {
            if buf.len() >= self.rx_buf.buffer_size() {
                return self.stream.poll_read(cx, buf);
            }
            if !self.rx_done.get() {
                poll_err!(ready!(self.poll_replenish_buffer(cx)));
            }
        }
        Poll::Ready(Ok(self.rx_buf.read(buf)))
    }

    fn poll_replenish_buffer(&mut self, cx: &Context<'_>) -> Poll<io::Result<usize>> {
        let result = poll_err!(ready!(self.stream.poll_read(cx, self.rx_buf.unfilled())));
        self.rx_buf.handle_result(result);
        if result == 0 {
            self.rx_done.set(true);
        }
        Poll::Ready(Ok(result))
    }

    pub(crate) fn poll_write(&mut self, cx: &Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.stream.poll_write(cx, buf)
    }

    pub(crate) fn poll_flush(&self, _cx: &Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    pub(crate) fn poll_close(&mut self, cx: &Context<'_>) -> Poll<io::Result<()>> {
        self.stream.poll_close(cx)
    }

    pub(crate) fn poll_shutdown(
        &self,
        cx: &mut Context<'_>,
        how: Shutdown,
    ) -> Poll<io::Result<()>> {
        self.stream.poll_shutdown(cx, how)
    }

    pub(crate) fn set_write_timeout(&self, dur: Option<Duration>) -> Result<()> {
        match (dur, self.stream.timeouts.get()) {
            (None, None) => Ok(()),
            _ => self.stream.timeouts_or_init().write.set(dur),
        }
    }

    pub(crate) fn set_read_timeout(&self, dur: Option<Duration>) -> Result<()> {
        match (dur, self.stream.timeouts.get()) {
            (None, None) => Ok(()),
            _ => self.stream.timeouts_or_init().read.set(dur),
        }
    }

    pub(crate) fn write_timeout(&self) -> Option<Duration> {
        self.stream.timeouts.get().and_then(|t| t.write.get())
    }

    pub(crate) fn read_timeout(&self) -> Option<Duration> {
        self.stream.timeouts.get().and_then(|t| t.read.get())
    }

    pub(crate) fn stream(&self) -> &S {
        &self.stream.stream
    }
}

impl<S: AsRawFd, B: Buffered> GlommioStream<S, B> {
    pub(crate) fn poll_fill_buf(&mut self, cx: &Context<'_>) -> Poll<io::Result<&[u8]>> {
        if self.rx_buf.is_empty() {
            poll_err!(ready!(self.poll_replenish_buffer(cx)));
        }
        Poll::Ready(Ok(self.rx_buf.as_bytes()))
    }

    pub(crate) fn consume(&mut self, amt: usize) {
        self.rx_buf.consume(amt);
    }
}
