//! The I/O shell of a stream: owns the sockets, the timer and the task, and drives a
//! [`Machine`] from `engine/src/stream` — reads into the space it offers, writes what it
//! transmits, arms the one deadline it asks for, and acts on its events (server
//! connections, pool, health, accounting). No protocol decision is taken here.

use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_lite::{AsyncRead, AsyncWrite};
use glommio::net::TcpStream;

use super::budget::BudgetSlot;
use super::connect::{connect_once, ServerConn};
use super::generation::Generation;
use super::proxy_header::Preread;
use super::table::{Fenced, StreamGuard, StreamState};
use super::tls::Security;
use super::Shard;
use crate::rings::msg::AdminState;
use crate::stream::{Connected, Event, Layer, Machine, ServerRequest, Side, Transmit};
use crate::tls::{ClientSock, ServerSock};

/// Bytes moved by one stream per wake-up before it yields to other streams.
const COPY_BUDGET_BYTES: usize = 256 * 1024;

/// Everything a stream task owns. Field order is drop order: sockets close first, then the
/// budgets are released, and last the table entry disappears — so the control task may
/// treat "entry gone" as "both sockets closed".
pub struct Stream<M: Machine> {
    client: ClientSock,
    /// Boxed: an HTTP stream between exchanges has none, and should not carry its size.
    server: Option<Box<ServerConn>>,
    machine: M,
    _slots: [BudgetSlot; 2],
    frontend: usize,
    /// Client bytes read before the machine existed (after a PROXY header), served first.
    /// Boxed: rare (a PROXY header with bytes behind it), and 24 bytes inline.
    preread: Option<Box<Preread>>,
    /// The configuration generation the stream started with, kept until it ends.
    gen: Rc<Generation>,
    shard: Rc<Shard>,
    guard: StreamGuard,
}

impl<M: Machine> Stream<M> {
    /// A stream of `frontend` on the accepted `client` socket, whose machine `gen` built.
    #[allow(clippy::too_many_arguments)] // each is one owned part of the stream
    pub fn new(
        shard: &Rc<Shard>,
        gen: Rc<Generation>,
        frontend: usize,
        client: ClientSock,
        machine: M,
        slots: [BudgetSlot; 2],
        guard: StreamGuard,
    ) -> Self {
        Stream {
            client,
            server: None,
            machine,
            _slots: slots,
            frontend,
            preread: None,
            gen,
            shard: shard.clone(),
            guard,
        }
    }

    /// Client bytes already read (after a PROXY header): the machine gets them before any
    /// byte from the socket.
    pub fn with_preread(mut self, preread: Option<Preread>) -> Self {
        self.preread = preread.map(Box::new);
        self
    }

    /// The client's address (announced by a PROXY header, if any). Kept in the stream's
    /// table entry only: a copy here cost every idle stream 32 bytes.
    fn peer(&self) -> SocketAddr {
        self.guard
            .with(|e| e.client)
            .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)))
    }
}

impl<M: Machine> Drop for Stream<M> {
    fn drop(&mut self) {
        let now = Instant::now();
        if !self.machine.is_done() {
            // Cancelled before its end: killed (admin, on-marked-down, stop grace).
            self.shard.counters.borrow_mut().frontends[self.frontend].killed += 1;
            if let Some(mut record) = self.machine.killed_record(now) {
                // A stream killed while connecting is on the server it was picked for.
                if record.server.is_none() {
                    record.server = self.guard.with(|e| e.server).flatten();
                }
                let peer = self.peer();
                self.shard
                    .account(self.frontend, peer, self.guard.slot(), &record);
            }
        }
        // Parked first: a done machine drops what it still holds (counting unread client
        // bytes as stray) so that its buffers go back to the pool, not to the allocator.
        let layout = self.shard.current();
        self.machine.park(&self.shard.env(&self.gen, &layout));
        let stray = self.machine.stray_bytes_in();
        self.shard.counters.borrow_mut().frontends[self.frontend].bytes_in += stray;
    }
}

/// Builds the stream of an accepted client: `(client, address it connected to)` are the
/// announced ones when the frontend accepts a PROXY header.
pub type BuildStream<M> = fn(
    &Rc<Shard>,
    usize,
    ClientSock,
    (SocketAddr, SocketAddr),
    [BudgetSlot; 2],
    StreamGuard,
) -> Stream<M>;

/// Registers a freshly accepted client of `frontend` (on its `listener`-th bind), at the
/// `peer` address its accept reported and the `local` address it connected to, and spawns its fenced stream task. The task reads the
/// PROXY header first with `accept_proxy`, then runs the TLS handshake when the bind asks
/// for one. A stream that is not `on_backend` until routed (HTTP) leaves its backend's
/// count at once.
pub fn spawn_stream<M: Machine + 'static>(
    shard: &Rc<Shard>,
    (frontend, listener, security): (usize, usize, Security),
    (client, (peer, local)): (TcpStream, (SocketAddr, SocketAddr)),
    slots: [BudgetSlot; 2],
    on_backend: bool,
    build: BuildStream<M>,
) {
    let Some(slot) = shard.register_stream(frontend, peer) else {
        return;
    };
    let guard = StreamGuard::new(shard.table.clone(), slot);
    if !on_backend {
        guard.leave_backend();
    }
    let table = shard.table.clone();
    let accept_proxy = shard.current().config.frontends[frontend].accept_proxy;
    let task = if accept_proxy || !matches!(security, Security::Plain) {
        let shard = shard.clone();
        glommio::spawn_local(Fenced::new(table, slot, async move {
            let mut client = client;
            let mut addrs = (peer, local);
            let mut preread = None;
            if accept_proxy {
                let Some(a) = shard
                    .read_proxy_header(frontend, listener, &mut client, peer, local)
                    .await
                else {
                    return;
                };
                guard.with(|e| e.client = a.client);
                addrs = (a.client, a.local);
                preread = a.preread;
            }
            let bind = (frontend, listener, addrs.0);
            let Some((client, preread)) =
                Box::pin(shard.secure(bind, client, security, preread)).await
            else {
                return;
            };
            guard.with(|e| e.tls = client.facts());
            let stream = build(&shard, frontend, client, addrs, slots, guard);
            run(stream.with_preread(preread)).await;
        }))
        .detach()
    } else {
        let client = ClientSock::Plain(client);
        let stream = build(shard, frontend, client, (peer, local), slots, guard);
        glommio::spawn_local(Fenced::new(table, slot, run(stream))).detach()
    };
    shard.table.borrow_mut().set_kill_handle(slot, task);
}

/// Runs a stream to its end.
///
/// Not an `async fn`: those keep their argument and its moved-in copy side by side in the
/// task's frame (rust-lang/rust#62958), which doubled the memory of every idle stream.
#[allow(clippy::manual_async_fn)] // see above: the async fn form is twice as large
pub fn run<M: Machine>(mut s: Stream<M>) -> impl Future<Output = ()> {
    async move {
        // The client socket has TCP_NODELAY from its listener (`runtime::listen_socket`).
        loop {
            if let Some(connecting) = handle_events(&mut s) {
                connecting.await;
                continue;
            }
            if s.machine.is_done() {
                return;
            }
            poll_fn(|cx| poll_io(&mut s, cx)).await;
        }
    }
}

/// Acts on the machine's events until one asks for a server connection, whose attempt it
/// returns. Boxed, and built outside the task's `async` block: the frame then keeps only a
/// pointer across the await, where an `Event` held in the loop cost every idle stream its
/// size (the task was 888 bytes for a 696-byte HTTP stream).
#[allow(clippy::type_complexity)] // the boxed attempt borrows the stream
fn handle_events<M: Machine>(s: &mut Stream<M>) -> Option<Pin<Box<impl Future<Output = ()> + '_>>> {
    while let Some(event) = s.machine.poll_event() {
        match event {
            Event::NeedServer(request) => return Some(Box::pin(connect(s, request))),
            other => handle_event(s, other),
        }
    }
    None
}

/// Copies the bytes of the exchange in progress into the table entry (`show sess`, and
/// `show stat` while long streams run).
fn report_live_bytes<M: Machine>(s: &mut Stream<M>) {
    let (bytes_in, bytes_out) = s.machine.live_bytes();
    s.guard.with(|e| {
        e.bytes_in = bytes_in;
        e.bytes_out = bytes_out;
    });
}

/// Answers a server request: one attempt, fed back to the machine.
async fn connect<M: Machine>(s: &mut Stream<M>, request: ServerRequest) {
    let shard = s.shard.clone();
    s.guard.with(|e| e.state = StreamState::Connecting);
    let (result, conn) = connect_once(&shard, &s.gen, &request, &s.guard).await;
    s.server = conn.map(Box::new);
    if s.server.is_some() {
        s.guard.with(|e| e.state = StreamState::Data);
    }
    let layout = shard.current();
    let env = shard.env(&s.gen, &layout);
    s.machine.handle_connected(&env, Instant::now(), result);
    if matches!(result, Connected::NoServer | Connected::QueueTimeout) {
        s.guard.set_server(None);
    }
}

fn handle_event<M: Machine>(s: &mut Stream<M>, event: Event) {
    let shard = s.shard.clone();
    match event {
        Event::Routed(backend) => s.guard.set_backend(backend),
        Event::NeedServer(_) => unreachable!("answered by connect()"),
        Event::Observe { server, ok, layer } => {
            let layer = match layer {
                Layer::L4 => 4,
                Layer::L7 => 7,
            };
            shard.observe(server, ok, layer);
        }
        Event::ReleaseServer { reusable } => {
            if let Some(conn) = s.server.take().map(|c| *c) {
                let view = shard.views.borrow()[conn.key.backend][conn.key.server];
                if reusable && view.admin == AdminState::Ready && view.up {
                    shard
                        .pool
                        .borrow_mut()
                        .put(conn.key, conn.stream, Instant::now());
                }
            }
            s.guard.set_server(None);
        }
        Event::CloseServer => {
            s.server = None;
            s.guard.set_server(None);
        }
        Event::CaptureError(capture) => {
            shard
                .errors
                .borrow_mut()
                .record(s.frontend, s.peer(), *capture);
        }
        Event::Record(record) => {
            shard.account(s.frontend, s.peer(), s.guard.slot(), &record);
            // The exchange's bytes are in the counters now: the entry must not show them
            // as live too, or `show stat` would count them twice until the next wake-up.
            report_live_bytes(s);
            if !s.machine.has_server() {
                s.guard.set_server(None);
            }
            if record.http {
                s.guard.leave_backend();
            }
        }
    }
}

/// One wake-up: reads and writes both sides until nothing moves, then arms the deadline.
/// Ready when the machine has events or is done. Live bytes are published once per wake-up,
/// and a stream that waits gives its empty buffers back.
fn poll_io<M: Machine>(s: &mut Stream<M>, cx: &mut Context<'_>) -> Poll<()> {
    let shard = s.shard.clone();
    let (gen, layout) = (s.gen.clone(), shard.current());
    let env = shard.env(&gen, &layout);
    let mut moved = false;
    let polled = poll_io_turn(s, &env, cx, &mut moved);
    if moved {
        report_live_bytes(s);
    }
    if polled.is_pending() {
        s.machine.park(&env);
    }
    polled
}

/// The loop of [`poll_io`]; sets `moved` when any byte or state moved.
fn poll_io_turn<M: Machine>(
    s: &mut Stream<M>,
    env: &crate::stream::Env<'_>,
    cx: &mut Context<'_>,
    moved: &mut bool,
) -> Poll<()> {
    // The reactor pass's clock, not a read per wake-up (2.5 reads per tcp-echo round trip,
    // ~1 % of the shard's samples): activity times and deadlines are kept in milliseconds.
    // A deadline the wheel found due a moment after this reading waits one more tick.
    let now = glommio::timer::turn_now();
    let mut budget = COPY_BUDGET_BYTES;
    loop {
        let mut moved_now = false;
        for side in [Side::Client, Side::Server] {
            moved_now |= poll_read_side(s, env, now, side, cx, &mut budget);
            moved_now |= poll_write_side(s, env, now, side, cx);
        }
        *moved |= moved_now;
        if s.machine.has_event() || s.machine.is_done() {
            return Poll::Ready(());
        }
        if !moved_now {
            return poll_deadline(s, env, now, cx);
        }
        if budget == 0 {
            // Still work to do, but let other streams run first.
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
    }
}

/// One side's socket; either may be TLS.
enum Sock<'a> {
    Client(&'a mut ClientSock),
    Server(&'a mut ServerSock),
}

impl Sock<'_> {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        match self {
            Sock::Client(s) => Pin::new(&mut **s).poll_read(cx, buf),
            Sock::Server(s) => Pin::new(&mut **s).poll_read(cx, buf),
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self {
            Sock::Client(s) => Pin::new(&mut **s).poll_write(cx, buf),
            Sock::Server(s) => Pin::new(&mut **s).poll_write(cx, buf),
        }
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Sock::Client(s) => Pin::new(&mut **s).poll_close(cx),
            Sock::Server(s) => Pin::new(&mut **s).poll_close(cx),
        }
    }
}

/// The socket of `side` (if connected) and the machine, borrowed together.
fn socket_and_machine<M: Machine>(s: &mut Stream<M>, side: Side) -> Option<(Sock<'_>, &mut M)> {
    let Stream {
        client,
        server,
        machine,
        ..
    } = s;
    let sock = match side {
        Side::Client => Sock::Client(client),
        Side::Server => Sock::Server(&mut server.as_mut()?.stream),
    };
    Some((sock, machine))
}

/// Reads once from `side` if the machine wants bytes; true when something happened.
fn poll_read_side<M: Machine>(
    s: &mut Stream<M>,
    env: &crate::stream::Env<'_>,
    now: Instant,
    side: Side,
    cx: &mut Context<'_>,
    budget: &mut usize,
) -> bool {
    if *budget == 0 {
        return false;
    }
    if side == Side::Client {
        if let Some(pre) = s.preread.as_mut() {
            let Some(space) = s.machine.read_space(env, side) else {
                return false;
            };
            let n = pre.copy_into(space);
            if pre.is_empty() {
                s.preread = None;
            }
            // 0 would read as end of stream: an empty space takes nothing yet.
            if n == 0 {
                return false;
            }
            s.machine.handle_read(env, now, side, n);
            return true;
        }
    }
    let Some((mut sock, machine)) = socket_and_machine(s, side) else {
        return false;
    };
    let polled = match machine.read_space(env, side) {
        Some(space) => sock.poll_read(cx, space),
        None => return false,
    };
    match polled {
        Poll::Ready(Ok(n)) => {
            *budget = budget.saturating_sub(n);
            machine.handle_read(env, now, side, n);
            true
        }
        Poll::Ready(Err(_)) => {
            machine.handle_read_error(env, now, side);
            true
        }
        Poll::Pending => false,
    }
}

/// Writes what the machine transmits on `side` until it would block; true when something
/// happened.
fn poll_write_side<M: Machine>(
    s: &mut Stream<M>,
    env: &crate::stream::Env<'_>,
    now: Instant,
    side: Side,
    cx: &mut Context<'_>,
) -> bool {
    let mut moved = false;
    loop {
        let Some((mut sock, machine)) = socket_and_machine(s, side) else {
            return moved;
        };
        let polled: Poll<io::Result<usize>> = match machine.poll_transmit(side) {
            Some(Transmit::Bytes(bytes)) => match sock.poll_write(cx, bytes) {
                Poll::Ready(Ok(0)) => Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                other => other,
            },
            // ENOTCONN means the peer is already gone: the read side will see it.
            Some(Transmit::Shutdown) => match sock.poll_close(cx) {
                Poll::Ready(_) => Poll::Ready(Ok(0)),
                Poll::Pending => Poll::Pending,
            },
            None => return moved,
        };
        match polled {
            Poll::Ready(Ok(n)) => machine.handle_written(env, now, side, n),
            Poll::Ready(Err(_)) => machine.handle_write_error(env, now, side),
            Poll::Pending => return moved,
        }
        moved = true;
        if machine.has_event() || machine.is_done() {
            return moved;
        }
    }
}

/// Keeps the machine's deadline armed in the shard's wheel. It moves only when the
/// deadline came closer (or passed): a wake-up before the deadline (activity moved it
/// later) arms it again, so busy streams touch the wheel about once per timeout.
fn poll_deadline<M: Machine>(
    s: &mut Stream<M>,
    env: &crate::stream::Env<'_>,
    now: Instant,
    cx: &mut Context<'_>,
) -> Poll<()> {
    let Some(at) = s.machine.poll_timeout() else {
        return Poll::Pending;
    };
    if now >= at {
        s.machine.handle_timeout(env, now);
        if s.machine.has_event() || s.machine.is_done() {
            return Poll::Ready(());
        }
        // The machine moved on (e.g. a keep-alive close became a linger): its new state
        // may allow reads or writes, so run the wake-up again.
        if s.machine.poll_timeout() != Some(at) {
            cx.waker().wake_by_ref();
        }
        return Poll::Pending;
    }
    // A stream is polled only by its own task, whose waker does not change: the one the
    // wheel holds stays valid while the deadline is kept.
    s.guard.keep_deadline(at, now, cx.waker());
    Poll::Pending
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::mem::size_of;

    use crate::stream::http::HttpMachine;
    use crate::stream::tcp::TcpMachine;
    use crate::stream::Machine;

    /// Size of the task future `run` makes for a stream of machine `M`.
    fn task_bytes<M: Machine, F: Future>(_run: fn(super::Stream<M>) -> F) -> usize {
        size_of::<F>()
    }

    /// Every idle connection holds its task for its whole life: the frame must not carry
    /// an event or a connect future across the await (888 bytes for HTTP before), nor
    /// glommio's unused stream timeouts (80 bytes per socket before patch 10).
    #[test]
    fn an_idle_stream_task_stays_small() {
        let stream = size_of::<super::Stream<HttpMachine>>();
        let http = task_bytes(super::run::<HttpMachine>);
        let tcp = task_bytes(super::run::<TcpMachine>);
        assert!(
            http <= stream + 32,
            "HTTP task {http} B for a {stream} B stream"
        );
        assert!(http <= 600, "HTTP stream task: {http} B");
        assert!(tcp <= 480, "TCP stream task: {tcp} B");
        assert!(size_of::<glommio::net::TcpStream>() <= 48);
    }
}
