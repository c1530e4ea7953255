//! The shard's stream table: every live stream of this shard, indexed by slot and by server.
//!
//! Owns the [`StreamEntry`] of each stream from the moment its task is spawned until the
//! stream's [`StreamGuard`] is dropped (normal end, error or kill). It does not own sockets:
//! those live in the stream task, and killing a stream cancels that task, which drops them.
//!
//! A kill *fences* first, and the stream's task is spawned through [`Fenced`], which never
//! polls the stream again once it is fenced — so from that instant percore never reads or
//! writes the stream's sockets. The control task replies then. The task itself (and with it
//! the sockets) is cancelled later, in bounded batches by the shard's teardown task
//! ([`teardown`]), so that a mass kill does not stop the shard's other streams for the time
//! it takes to close thousands of sockets.
//!
//! "Kill every stream of server X" fences in O(1), whatever the number of streams: each
//! server has an *epoch*, each attached stream remembers the epoch it attached in, and a
//! kill bumps the epoch and hands the server's whole index to the teardown task. A stream
//! whose epoch is stale is fenced. The reply waits for no per-stream work (a pass over
//! 1 000 entries cost ~100 µs, mostly cache misses, all of it before the reply).
//!
//! Capacity is fixed at construction (`global.maxconn`: a shard may borrow every global
//! slot); a stream starts only with a global slot, so a full table is a bug, not a peer
//! condition, and is refused rather than grown.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use glommio::task::JoinHandle;
use glommio::timer::Timer;

use super::deadline::{Deadlines, TICK};
use crate::ids::{ServerKey, ShardId, StreamId};

/// Where a stream is in its life; shown by `show sess`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamState {
    /// Choosing a server and connecting to it (transient).
    Connecting,
    /// Both sides connected, bytes flowing.
    Data,
}

/// Everything the control task may need to know about one live stream.
#[derive(Debug)]
pub struct StreamEntry {
    /// Process-wide unique id (`shard << 48 | sequence`).
    pub id: StreamId,
    /// Index of the frontend that accepted the stream.
    pub frontend: usize,
    /// Backend index the stream is routed to (the last one, for an HTTP stream between
    /// exchanges).
    pub backend: usize,
    /// The stream counts in its backend's `scur`: always in TCP mode, only while an exchange
    /// is in progress in HTTP mode (as HAProxy's backend `scur`).
    pub on_backend: bool,
    /// Server currently attached, if any (kept in the per-server index).
    pub server: Option<ServerKey>,
    /// Client address as seen on the accepted socket.
    pub client: SocketAddr,
    /// When the connection was accepted.
    pub started: Instant,
    /// Bytes received from the client.
    pub bytes_in: u64,
    /// Bytes sent to the client.
    pub bytes_out: u64,
    /// Current phase.
    pub state: StreamState,
    /// What the client's TLS handshake negotiated (`None`: plain, or not done yet).
    pub tls: Option<crate::tls::TlsFacts>,
    /// Handle on the stream's task; cancelling it drops the task's sockets. Moved to the
    /// teardown queue by a kill.
    kill: Option<JoinHandle<()>>,
    /// Set once this stream alone was killed (or reached by the teardown of a server kill):
    /// it is fenced. A server kill fences through the epoch instead (see the module doc).
    pub killed: bool,
    /// Position of this slot inside its server's index, for O(1) removal; [`NOT_INDEXED`]
    /// when on no server, [`KILLED_ALONE`] when a kill of this stream took it out.
    server_pos: u32,
    /// The server's epoch when the stream attached to it.
    epoch: u32,
}

/// `server_pos` of a stream attached to no server.
const NOT_INDEXED: u32 = u32::MAX;
/// `server_pos` of a stream killed alone while attached: out of the index, counted in the
/// server's `fenced`.
const KILLED_ALONE: u32 = u32::MAX - 1;

/// One server's streams on this shard.
#[derive(Debug, Clone, Default)]
struct ServerIndex {
    /// Slots of the live, unfenced streams attached to the server.
    slots: Vec<u32>,
    /// Bumped by every server kill: attachments of an older epoch are fenced.
    epoch: u32,
    /// Streams fenced by a server kill and not ended yet (they count in `scur` until then,
    /// as every killed stream does).
    fenced: usize,
}

/// A server's index as a kill took it: the teardown task cancels those of its slots that
/// still hold a stream of that server and epoch.
struct FencedList {
    key: ServerKey,
    epoch: u32,
    slots: Vec<u32>,
}

/// A stream's place in the table: slot plus id, so a reused slot is never confused with a
/// stream that already ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotRef {
    slot: u32,
    id: StreamId,
}

impl SlotRef {
    /// The stream id this reference was issued for.
    pub fn id(&self) -> StreamId {
        self.id
    }
}

/// Refusal to insert: the table is at its fixed capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableFull;

/// Slab of live streams plus a per-server index.
pub struct StreamTable {
    shard: ShardId,
    slots: Vec<Option<StreamEntry>>,
    free: Vec<u32>,
    /// `by_server[backend][server]`: the streams attached to that server.
    by_server: Vec<Vec<ServerIndex>>,
    len: usize,
    /// Live streams per frontend and per backend, kept exact on insert and remove.
    per_frontend: Vec<usize>,
    per_backend: Vec<usize>,
    capacity: usize,
    next_seq: u64,
    /// Streams killed but whose task has not dropped yet.
    kills_pending: usize,
    /// The control task, waiting for a table change (kills finished, table empty).
    waiter: Option<Waker>,
    /// Tasks of fenced streams, to be cancelled (their sockets closed) by the teardown task.
    /// Bounded by the table's capacity: each entry is one live, killed stream.
    teardown: VecDeque<JoinHandle<()>>,
    /// Server indexes taken by server kills, for the teardown task; together at most the
    /// table's capacity of live streams (a stale slot is skipped).
    fenced_lists: VecDeque<FencedList>,
    /// The teardown task, waiting for work.
    teardown_waiter: Option<Waker>,
    /// Each stream's one deadline, by slot.
    deadlines: Deadlines,
    /// The deadline task ([`drive_deadlines`]) and when it plans to wake up (`None`: when
    /// woken).
    deadline_driver: Option<(Waker, Option<Instant>)>,
}

impl StreamTable {
    /// An empty table for `shard` holding at most `capacity` streams, for `frontends`
    /// frontends; `servers[b]` is the number of servers of backend `b`.
    pub fn new(shard: ShardId, capacity: usize, frontends: usize, servers: &[usize]) -> Self {
        StreamTable {
            shard,
            slots: Vec::new(),
            free: Vec::new(),
            by_server: servers
                .iter()
                .map(|&n| vec![ServerIndex::default(); n])
                .collect(),
            len: 0,
            per_frontend: vec![0; frontends],
            per_backend: vec![0; servers.len()],
            capacity,
            next_seq: 0,
            kills_pending: 0,
            waiter: None,
            teardown: VecDeque::new(),
            fenced_lists: VecDeque::new(),
            teardown_waiter: None,
            deadlines: Deadlines::new(Instant::now()),
            deadline_driver: None,
        }
    }

    /// Number of live streams.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no stream is live.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Registers a new stream and returns its slot; the id is assigned here.
    pub fn insert(
        &mut self,
        frontend: usize,
        backend: usize,
        client: SocketAddr,
        started: Instant,
    ) -> Result<SlotRef, TableFull> {
        if self.len >= self.capacity {
            return Err(TableFull);
        }
        self.next_seq += 1;
        let id = StreamId::new(self.shard, self.next_seq);
        let entry = StreamEntry {
            id,
            frontend,
            backend,
            on_backend: true,
            server: None,
            client,
            started,
            bytes_in: 0,
            bytes_out: 0,
            state: StreamState::Connecting,
            tls: None,
            kill: None,
            killed: false,
            server_pos: NOT_INDEXED,
            epoch: 0,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                debug_assert!(self.slots[slot as usize].is_none());
                self.slots[slot as usize] = Some(entry);
                slot
            }
            None => {
                self.slots.push(Some(entry));
                u32::try_from(self.slots.len() - 1).expect("capacity is far below u32::MAX")
            }
        };
        self.len += 1;
        self.per_frontend[frontend] += 1;
        self.per_backend[backend] += 1;
        Ok(SlotRef { slot, id })
    }

    /// The entry behind `r`, if that stream is still live.
    pub fn get(&self, r: SlotRef) -> Option<&StreamEntry> {
        self.slots
            .get(r.slot as usize)?
            .as_ref()
            .filter(|e| e.id == r.id)
    }

    /// Mutable entry behind `r`, if that stream is still live.
    pub fn get_mut(&mut self, r: SlotRef) -> Option<&mut StreamEntry> {
        self.slots
            .get_mut(r.slot as usize)?
            .as_mut()
            .filter(|e| e.id == r.id)
    }

    /// Stores the task handle used to kill the stream.
    pub fn set_kill_handle(&mut self, r: SlotRef, handle: JoinHandle<()>) {
        if let Some(e) = self.get_mut(r) {
            e.kill = Some(handle);
        }
    }

    /// Attaches the stream to `server` (or detaches it with `None`), keeping the index exact.
    /// A fenced stream keeps the server it was killed on (its end is logged there).
    pub fn set_server(&mut self, r: SlotRef, server: Option<ServerKey>) {
        let Some(e) = self.get(r) else {
            return;
        };
        if e.server == server || self.fenced(e) {
            return;
        }
        self.detach(r.slot);
        if let Some(new) = server {
            let index = &mut self.by_server[new.backend][new.server];
            let pos = u32::try_from(index.slots.len()).expect("capacity is far below u32::MAX");
            index.slots.push(r.slot);
            let epoch = index.epoch;
            let e = self.slots[r.slot as usize].as_mut().expect("checked above");
            (e.server, e.server_pos, e.epoch) = (Some(new), pos, epoch);
        } else if let Some(e) = self.slots[r.slot as usize].as_mut() {
            e.server = None;
        }
    }

    /// True when the stream may no longer be polled: killed alone, or its server was killed
    /// since it attached.
    fn fenced(&self, e: &StreamEntry) -> bool {
        e.killed
            || e.server
                .is_some_and(|k| self.by_server[k.backend][k.server].epoch != e.epoch)
    }

    /// Takes the stream at `slot` off its server: out of the index, or out of the server's
    /// `fenced` count when a kill already took it out.
    fn detach(&mut self, slot: u32) {
        let e = self.slots[slot as usize].as_mut().expect("slot is live");
        let (Some(key), pos) = (e.server, e.server_pos) else {
            return;
        };
        if pos == NOT_INDEXED {
            return;
        }
        e.server_pos = NOT_INDEXED;
        let index = &mut self.by_server[key.backend][key.server];
        if pos == KILLED_ALONE || index.epoch != e.epoch {
            // Killed alone, or its index went to the teardown task with a server kill.
            index.fenced -= 1;
            return;
        }
        let pos = pos as usize;
        assert_eq!(index.slots[pos], slot, "per-server index out of sync");
        index.slots.swap_remove(pos);
        if let Some(&moved) = index.slots.get(pos) {
            self.slots[moved as usize]
                .as_mut()
                .expect("indexed slot is live")
                .server_pos = pos as u32;
        }
    }

    /// Puts the stream on `backend` (HTTP routing), keeping per-backend counts exact.
    pub fn set_backend(&mut self, r: SlotRef, backend: usize) {
        let Some(e) = self.get_mut(r) else {
            return;
        };
        let (old, was_on) = (e.backend, e.on_backend);
        e.backend = backend;
        e.on_backend = true;
        if was_on {
            self.per_backend[old] -= 1;
        }
        self.per_backend[backend] += 1;
    }

    /// Takes the stream off its backend's count (an HTTP exchange ended; the client
    /// connection stays open between exchanges).
    pub fn leave_backend(&mut self, r: SlotRef) {
        let Some(e) = self.get_mut(r) else {
            return;
        };
        if e.on_backend {
            e.on_backend = false;
            let b = e.backend;
            self.per_backend[b] -= 1;
        }
    }

    /// Removes the stream; called only by [`StreamGuard`]'s drop.
    fn remove(&mut self, r: SlotRef) -> Option<StreamEntry> {
        let e = self.get(r)?;
        let fenced = self.fenced(e);
        self.detach(r.slot);
        let entry = self.slots[r.slot as usize].take().expect("checked above");
        self.deadlines.remove(r.slot);
        self.free.push(r.slot);
        self.len -= 1;
        self.per_frontend[entry.frontend] -= 1;
        if entry.on_backend {
            self.per_backend[entry.backend] -= 1;
        }
        if fenced {
            self.kills_pending -= 1;
        }
        if let Some(w) = self.waiter.take() {
            w.wake();
        }
        Some(entry)
    }

    /// Arms (or moves) the deadline of the stream behind `r`: its task is woken through
    /// `waker` once `at` has passed.
    pub fn arm_deadline(&mut self, r: SlotRef, at: Instant, waker: &Waker) {
        if self.get(r).is_none() {
            return;
        }
        self.deadlines.arm(r.slot, at, waker);
        // The deadline task recomputes its sleep when woken; it needs that only when this
        // deadline comes before the one it sleeps until.
        let sooner = match &self.deadline_driver {
            Some((_, planned)) => planned.is_none_or(|p| at < p),
            None => false,
        };
        if sooner {
            if let Some((w, _)) = self.deadline_driver.take() {
                w.wake();
            }
        }
    }

    /// When the deadline armed for the stream behind `r` fires, if one is.
    pub fn armed_deadline(&self, r: SlotRef) -> Option<Instant> {
        self.get(r)?;
        self.deadlines.armed_at(r.slot)
    }

    /// For [`drive_deadlines`]: wakes the streams whose deadline passed at `now` (into
    /// `due`), and returns when the next one is due; `waker` is woken if an earlier one is
    /// armed meanwhile.
    fn expire_deadlines(
        &mut self,
        now: Instant,
        due: &mut Vec<Waker>,
        waker: &Waker,
    ) -> Option<Instant> {
        self.deadlines.expire(now, due);
        let next = self.deadlines.next();
        match &mut self.deadline_driver {
            Some((w, planned)) if w.will_wake(waker) => *planned = next,
            driver => *driver = Some((waker.clone(), next)),
        }
        next
    }

    /// Fences one stream: from now on its task is never polled again (see [`Fenced`]), and
    /// its task is queued for teardown. Returns false if it is unknown or already killed.
    pub fn kill(&mut self, r: SlotRef) -> bool {
        if self.get(r).is_none_or(|e| self.fenced(e)) {
            return false;
        }
        // Out of the index, so that a server kill counts and takes only unfenced streams;
        // it still counts on its server until it ends.
        self.detach(r.slot);
        let e = self.slots[r.slot as usize].as_mut().expect("checked above");
        e.killed = true;
        if let Some(k) = e.server {
            e.server_pos = KILLED_ALONE;
            self.by_server[k.backend][k.server].fenced += 1;
        }
        if let Some(h) = e.kill.take() {
            self.teardown.push_back(h);
            if let Some(w) = self.teardown_waiter.take() {
                w.wake();
            }
        }
        self.kills_pending += 1;
        true
    }

    /// True once the stream behind `r` was killed (and so must not be polled any more).
    pub fn is_fenced(&self, r: SlotRef) -> bool {
        self.get(r).is_some_and(|e| self.fenced(e))
    }

    /// Moves up to `max` fenced tasks into `out` for cancelling; pending (and registered)
    /// while there are none.
    pub fn poll_teardown(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut Vec<JoinHandle<()>>,
        max: usize,
    ) -> Poll<()> {
        if self.teardown.is_empty() && self.fenced_lists.is_empty() {
            self.teardown_waiter = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = max.min(self.teardown.len());
        out.extend(self.teardown.drain(..n));
        while out.len() < max {
            let Some(list) = self.fenced_lists.front_mut() else {
                break;
            };
            let Some(slot) = list.slots.pop() else {
                self.fenced_lists.pop_front();
                continue;
            };
            let (key, epoch) = (list.key, list.epoch);
            let e = self.slots[slot as usize]
                .as_mut()
                .filter(|e| e.server == Some(key) && e.epoch == epoch && !e.killed);
            // A slot that ended and was reused since the kill holds another stream: skipped.
            if let Some(e) = e {
                e.killed = true;
                out.extend(e.kill.take());
            }
        }
        if self.teardown.is_empty() {
            self.teardown.shrink_to(TEARDOWN_BATCH);
        }
        Poll::Ready(())
    }

    /// Kills every stream attached to `key` (O(1): see the module doc); returns how many.
    pub fn kill_server(&mut self, key: ServerKey) -> usize {
        let Some(index) = self
            .by_server
            .get_mut(key.backend)
            .and_then(|b| b.get_mut(key.server))
        else {
            return 0;
        };
        let killed = index.slots.len();
        if killed == 0 {
            return 0;
        }
        let slots = std::mem::take(&mut index.slots);
        let epoch = index.epoch;
        index.epoch = epoch.wrapping_add(1);
        index.fenced += killed;
        self.kills_pending += killed;
        self.fenced_lists
            .push_back(FencedList { key, epoch, slots });
        if let Some(w) = self.teardown_waiter.take() {
            w.wake();
        }
        killed
    }

    /// Kills every live stream (end of the stop grace period); returns how many.
    pub fn kill_all(&mut self) -> usize {
        let refs: Vec<SlotRef> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(slot, e)| {
                e.as_ref().map(|e| SlotRef {
                    slot: slot as u32,
                    id: e.id,
                })
            })
            .collect();
        refs.into_iter().filter(|&r| self.kill(r)).count()
    }

    /// Finds a live stream by id.
    pub fn find(&self, id: StreamId) -> Option<SlotRef> {
        self.slots.iter().enumerate().find_map(|(slot, e)| {
            e.as_ref().filter(|e| e.id == id).map(|_| SlotRef {
                slot: slot as u32,
                id,
            })
        })
    }

    /// Live streams, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = &StreamEntry> {
        self.slots.iter().flatten()
    }

    /// Live streams accepted by `frontend`.
    pub fn frontend_streams(&self, frontend: usize) -> usize {
        self.per_frontend.get(frontend).copied().unwrap_or(0)
    }

    /// Live streams routed to `backend`.
    pub fn backend_streams(&self, backend: usize) -> usize {
        self.per_backend.get(backend).copied().unwrap_or(0)
    }

    /// Makes room for a layout with `frontends` frontends and `servers[b]` server slots in
    /// backend `b` (a reload or `add server` appended some); slots are never taken away.
    pub fn grow_servers(&mut self, frontends: usize, servers: &[usize]) {
        if self.per_frontend.len() < frontends {
            self.per_frontend.resize(frontends, 0);
        }
        if self.per_backend.len() < servers.len() {
            self.per_backend.resize(servers.len(), 0);
            self.by_server.resize(servers.len(), Vec::new());
        }
        for (list, &n) in self.by_server.iter_mut().zip(servers) {
            if list.len() < n {
                list.resize(n, ServerIndex::default());
            }
        }
    }

    /// Number of streams attached to `key`, killed ones included until they end.
    pub fn server_streams(&self, key: ServerKey) -> usize {
        self.by_server
            .get(key.backend)
            .and_then(|b| b.get(key.server))
            .map_or(0, |i| i.slots.len() + i.fenced)
    }

    /// Ready once every killed stream's task has dropped (its sockets are closed).
    pub fn poll_kills_done(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.kills_pending == 0 {
            return Poll::Ready(());
        }
        self.waiter = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Slots of the slab, live or free: what [`StreamTable::shrink`] can give back.
    pub fn slab_len(&self) -> usize {
        self.slots.len()
    }

    /// Gives back the memory of free slots at the end of the slab and of empty per-server
    /// lists (after a burst); live slots never move, so every `SlotRef` stays valid. Free
    /// slots are then reused lowest first, so that the streams of a burst's tail do not
    /// keep the slab at the burst's size: as they end, the next shrink gives it back.
    /// Returns the slots given back.
    pub fn shrink(&mut self) -> usize {
        let before = self.slots.capacity();
        while self.slots.last().is_some_and(Option::is_none) {
            self.slots.pop();
        }
        let len = self.slots.len() as u32;
        self.free.retain(|&slot| slot < len);
        // `insert` pops from the end.
        self.free.sort_unstable_by(|a, b| b.cmp(a));
        self.slots.shrink_to_fit();
        self.free.shrink_to_fit();
        self.deadlines.shrink(self.slots.len());
        for index in self.by_server.iter_mut().flatten() {
            index.slots.shrink_to_fit();
        }
        before - self.slots.capacity()
    }

    /// Ready once the table is empty.
    pub fn poll_empty(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.len == 0 {
            return Poll::Ready(());
        }
        self.waiter = Some(cx.waker().clone());
        Poll::Pending
    }
}

pin_project_lite::pin_project! {
    /// A stream task's future, fenced by its table entry: once the stream is killed it is
    /// never polled again, so it never touches its sockets again; dropping it (teardown)
    /// closes them.
    pub struct Fenced<F> {
        table: Rc<RefCell<StreamTable>>,
        slot: SlotRef,
        #[pin]
        inner: F,
    }
}

impl<F: Future<Output = ()>> Fenced<F> {
    /// Fences `inner`, the task of the stream at `slot`.
    pub fn new(table: Rc<RefCell<StreamTable>>, slot: SlotRef, inner: F) -> Self {
        Fenced { table, slot, inner }
    }
}

impl<F: Future<Output = ()>> Future for Fenced<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        // A wake-up of a fenced stream (its peer sent data, a timer fired) lands here and
        // does nothing: the teardown task will drop the whole future.
        if this.table.borrow().is_fenced(*this.slot) {
            return Poll::Pending;
        }
        this.inner.poll(cx)
    }
}

/// Fenced tasks cancelled per batch; between batches the teardown task lets the reactor
/// run, so the shard's other streams are served while thousands of sockets close.
pub const TEARDOWN_BATCH: usize = 64;

/// The shard's teardown task: cancels fenced stream tasks (dropping them closes their
/// sockets) [`TEARDOWN_BATCH`] at a time, one batch per reactor turn. Runs for the shard's
/// life in the data path's task queue.
pub async fn teardown(table: Rc<RefCell<StreamTable>>) {
    let mut batch = Vec::with_capacity(TEARDOWN_BATCH);
    loop {
        std::future::poll_fn(|cx| {
            table
                .borrow_mut()
                .poll_teardown(cx, &mut batch, TEARDOWN_BATCH)
        })
        .await;
        // The cancelled tasks are scheduled behind this one and dropped when they run.
        for task in batch.drain(..) {
            task.cancel();
        }
        // A timer completes only in the reactor's next pass: the cancelled tasks run, then
        // I/O of other streams is processed before the next batch.
        glommio::timer::sleep(Duration::from_micros(1)).await;
    }
}

/// The shard's deadline task: sleeps on one reactor timer until the earliest stream
/// deadline, then wakes the streams that are due (see [`Deadlines`]).
pub async fn drive_deadlines(table: Rc<RefCell<StreamTable>>) {
    let mut due = Vec::new();
    // One timer for the shard's life, moved to each next deadline; a stale expiry (every
    // deadline was disarmed) is a wake-up that finds nothing due.
    let mut timer = Timer::new(Duration::from_secs(3600));
    let mut timer_at: Option<Instant> = None;
    std::future::poll_fn(|cx| loop {
        let now = Instant::now();
        let next = table
            .borrow_mut()
            .expire_deadlines(now, &mut due, cx.waker());
        // Woken outside the borrow: a stream may run (and arm again) at once.
        due.drain(..).for_each(Waker::wake);
        let Some(next) = next else {
            return Poll::<()>::Pending;
        };
        if timer_at != Some(next) {
            timer.reset(next.saturating_duration_since(now));
            timer_at = Some(next);
        }
        if Pin::new(&mut timer).poll(cx).is_pending() {
            return Poll::Pending;
        }
        timer_at = None;
    })
    .await
}

/// Removes its stream from the table when dropped, however the stream ends.
///
/// The stream task must hold its sockets in fields declared *before* the guard so that they
/// are closed before the entry disappears: the control task treats "entry gone" as "sockets
/// closed".
pub struct StreamGuard {
    table: Rc<RefCell<StreamTable>>,
    slot: SlotRef,
}

impl StreamGuard {
    /// Takes ownership of the removal of `slot`.
    pub fn new(table: Rc<RefCell<StreamTable>>, slot: SlotRef) -> Self {
        StreamGuard { table, slot }
    }

    /// The guarded slot.
    pub fn slot(&self) -> SlotRef {
        self.slot
    }

    /// Runs `f` on the live entry.
    pub fn with<R>(&self, f: impl FnOnce(&mut StreamEntry) -> R) -> Option<R> {
        self.table.borrow_mut().get_mut(self.slot).map(f)
    }

    /// Puts the stream on a backend.
    pub fn set_backend(&self, backend: usize) {
        self.table.borrow_mut().set_backend(self.slot, backend);
    }

    /// Takes the stream off its backend's count.
    pub fn leave_backend(&self) {
        self.table.borrow_mut().leave_backend(self.slot);
    }

    /// Keeps the stream's deadline at `at` in the wheel (`waker` is woken once it has
    /// passed). Moved only when it came a tick closer or the armed one passed: a later
    /// deadline is armed when the earlier one fires.
    pub fn keep_deadline(&self, at: Instant, now: Instant, waker: &Waker) {
        let armed = self.table.borrow().armed_deadline(self.slot);
        if armed.is_none_or(|armed| at + TICK <= armed || armed <= now) {
            self.table.borrow_mut().arm_deadline(self.slot, at, waker);
        }
    }

    /// Attaches the stream to a server in the index.
    pub fn set_server(&self, server: Option<ServerKey>) {
        self.table.borrow_mut().set_server(self.slot, server);
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        // try_borrow_mut: a guard dropped while the control task holds the table (it never
        // holds it across an await) would be a bug; do not turn it into a double panic.
        if let Ok(mut t) = self.table.try_borrow_mut() {
            t.remove(self.slot);
        } else {
            debug_assert!(false, "stream table borrowed while a stream ended");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> SocketAddr {
        "127.0.0.1:1000".parse().expect("addr")
    }

    fn key(b: usize, s: usize) -> ServerKey {
        ServerKey {
            backend: b,
            server: s,
        }
    }

    #[test]
    fn shrink_keeps_live_slots_and_reuses_the_rest() {
        let mut t = StreamTable::new(ShardId(0), 8, 1, &[1]);
        let refs: Vec<SlotRef> = (0..5)
            .map(|_| t.insert(0, 0, addr(), Instant::now()).expect("room"))
            .collect();
        t.remove(refs[4]);
        t.remove(refs[3]);
        t.remove(refs[1]);
        t.shrink();
        assert_eq!(t.len(), 2);
        assert!(t.get(refs[0]).is_some() && t.get(refs[2]).is_some());
        assert!(t.get(refs[3]).is_none());
        // The hole at slot 1 and new slots at the end are used again.
        for _ in 0..6 {
            t.insert(0, 0, addr(), Instant::now()).expect("room");
        }
        assert_eq!(t.len(), 8);
        assert!(t.get(refs[0]).is_some() && t.get(refs[2]).is_some());
    }

    #[test]
    fn after_a_shrink_new_streams_take_the_lowest_slots_and_free_the_tail() {
        let mut t = StreamTable::new(ShardId(0), 64, 1, &[1]);
        let burst: Vec<SlotRef> = (0..64)
            .map(|_| t.insert(0, 0, addr(), Instant::now()).expect("room"))
            .collect();
        // The burst ends, but for its stream in slot 50, and in an order that leaves high
        // slots on top of the free list.
        for r in burst.iter().filter(|r| r.slot != 50) {
            t.remove(*r);
        }
        t.shrink();
        assert_eq!(t.slots.len(), 51, "slot 50 is live");
        let steady: Vec<SlotRef> = (0..4)
            .map(|_| t.insert(0, 0, addr(), Instant::now()).expect("room"))
            .collect();
        assert_eq!(
            steady.iter().map(|r| r.slot).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
        t.remove(burst[50]);
        t.shrink();
        assert_eq!(
            t.slots.len(),
            4,
            "the tail went with the burst's last stream"
        );
        assert!(steady.iter().all(|r| t.get(*r).is_some()));
    }

    #[test]
    fn backend_counts_follow_routing_and_exchange_ends() {
        let mut t = StreamTable::new(ShardId(0), 4, 1, &[1, 1]);
        let a = t.insert(0, 0, addr(), Instant::now()).expect("room");
        assert_eq!(t.backend_streams(0), 1);
        t.leave_backend(a);
        t.leave_backend(a);
        assert_eq!(t.backend_streams(0), 0);
        t.set_backend(a, 1);
        assert_eq!((t.backend_streams(0), t.backend_streams(1)), (0, 1));
        t.set_backend(a, 0);
        assert_eq!((t.backend_streams(0), t.backend_streams(1)), (1, 0));
        t.remove(a);
        assert_eq!(t.backend_streams(0), 0);
    }

    #[test]
    fn ids_carry_shard_and_sequence() {
        let mut t = StreamTable::new(ShardId(3), 4, 1, &[1]);
        let a = t.insert(0, 0, addr(), Instant::now()).expect("room");
        let b = t.insert(0, 0, addr(), Instant::now()).expect("room");
        assert_eq!(a.id().0, 3 << 48 | 1);
        assert_eq!(b.id().0, 3 << 48 | 2);
        assert_eq!(a.id().to_string(), "0x3000000000001");
    }

    #[test]
    fn capacity_is_enforced() {
        let mut t = StreamTable::new(ShardId(0), 2, 1, &[1]);
        t.insert(0, 0, addr(), Instant::now()).expect("room");
        t.insert(0, 0, addr(), Instant::now()).expect("room");
        assert_eq!(t.insert(0, 0, addr(), Instant::now()), Err(TableFull));
    }

    #[test]
    fn index_follows_moves_and_removal() {
        let t = Rc::new(RefCell::new(StreamTable::new(ShardId(0), 8, 1, &[2, 1])));
        let guards: Vec<StreamGuard> = (0..5)
            .map(|_| {
                let r = t
                    .borrow_mut()
                    .insert(0, 0, addr(), Instant::now())
                    .expect("room");
                StreamGuard::new(t.clone(), r)
            })
            .collect();
        for (i, g) in guards.iter().enumerate() {
            g.set_server(Some(key(0, i % 2)));
        }
        assert_eq!(t.borrow().server_streams(key(0, 0)), 3);
        assert_eq!(t.borrow().server_streams(key(0, 1)), 2);
        guards[0].set_server(Some(key(1, 0)));
        assert_eq!(t.borrow().server_streams(key(0, 0)), 2);
        assert_eq!(t.borrow().server_streams(key(1, 0)), 1);
        let mut guards = guards;
        guards.remove(2); // drops: was on (0,0)
        assert_eq!(t.borrow().server_streams(key(0, 0)), 1);
        assert_eq!(t.borrow().len(), 4);
        assert_eq!(t.borrow().frontend_streams(0), 4);
        assert_eq!(t.borrow().backend_streams(0), 4);
        drop(guards);
        let t = t.borrow();
        assert!(t.is_empty());
        assert_eq!((t.frontend_streams(0), t.backend_streams(0)), (0, 0));
        for k in [key(0, 0), key(0, 1), key(1, 0)] {
            assert_eq!(t.server_streams(k), 0);
        }
    }

    #[test]
    fn reused_slot_is_not_confused_with_old_stream() {
        let t = Rc::new(RefCell::new(StreamTable::new(ShardId(0), 1, 1, &[1])));
        let r1 = t
            .borrow_mut()
            .insert(0, 0, addr(), Instant::now())
            .expect("room");
        drop(StreamGuard::new(t.clone(), r1));
        let r2 = t
            .borrow_mut()
            .insert(0, 0, addr(), Instant::now())
            .expect("room");
        assert_ne!(r1, r2);
        assert!(t.borrow().get(r1).is_none());
        assert!(!t.borrow_mut().kill(r1));
        assert!(t.borrow().get(r2).is_some());
    }

    #[test]
    fn kill_server_marks_only_that_server_and_counts_pending() {
        let t = Rc::new(RefCell::new(StreamTable::new(ShardId(0), 8, 1, &[2])));
        let mut guards = Vec::new();
        for i in 0..6 {
            let r = t
                .borrow_mut()
                .insert(0, 0, addr(), Instant::now())
                .expect("room");
            let g = StreamGuard::new(t.clone(), r);
            g.set_server(Some(key(0, i % 2)));
            guards.push(g);
        }
        assert_eq!(t.borrow_mut().kill_server(key(0, 1)), 3);
        assert_eq!(t.borrow_mut().kill_server(key(0, 1)), 0, "already killed");
        let fenced: Vec<bool> = guards
            .iter()
            .map(|g| t.borrow().is_fenced(g.slot()))
            .collect();
        assert_eq!(fenced, [false, true, false, true, false, true]);
        assert_eq!(
            t.borrow().server_streams(key(0, 1)),
            3,
            "counted until they end"
        );
        let waker = futures_lite::future::block_on(futures_lite::future::poll_fn(|cx| {
            Poll::Ready(cx.waker().clone())
        }));
        let mut cx = Context::from_waker(&waker);
        assert!(t.borrow_mut().poll_kills_done(&mut cx).is_pending());
        // Streams end (their tasks drop); only then are the kills done.
        guards.retain(|g| !t.borrow().is_fenced(g.slot()));
        assert!(t.borrow_mut().poll_kills_done(&mut cx).is_ready());
        assert_eq!(t.borrow().len(), 3);
        assert_eq!(t.borrow().server_streams(key(0, 1)), 0);
        assert_eq!(t.borrow().server_streams(key(0, 0)), 3);
        assert_eq!(
            t.borrow_mut().kill_server(key(7, 7)),
            0,
            "unknown key is harmless"
        );
    }

    fn guarded(t: &Rc<RefCell<StreamTable>>, server: ServerKey) -> StreamGuard {
        let r = t
            .borrow_mut()
            .insert(0, 0, addr(), Instant::now())
            .expect("room");
        let g = StreamGuard::new(t.clone(), r);
        g.set_server(Some(server));
        g
    }

    #[test]
    fn a_stream_killed_alone_is_not_killed_again_by_its_server() {
        let t = Rc::new(RefCell::new(StreamTable::new(ShardId(0), 8, 1, &[1])));
        let s = key(0, 0);
        let guards: Vec<_> = (0..3).map(|_| guarded(&t, s)).collect();
        assert!(t.borrow_mut().kill(guards[0].slot()));
        assert!(!t.borrow_mut().kill(guards[0].slot()), "killed once");
        assert_eq!(t.borrow().server_streams(s), 3);
        assert_eq!(t.borrow_mut().kill_server(s), 2, "only the unfenced two");
        assert_eq!(t.borrow().kills_pending, 3);
        assert!(
            !t.borrow_mut().kill(guards[1].slot()),
            "fenced by its server"
        );
        assert_eq!(t.borrow().server_streams(s), 3);
        drop(guards);
        let t = t.borrow();
        assert_eq!((t.kills_pending, t.server_streams(s), t.len()), (0, 0, 0));
    }

    #[test]
    fn a_slot_reused_after_a_server_kill_holds_a_live_stream() {
        let t = Rc::new(RefCell::new(StreamTable::new(ShardId(0), 1, 1, &[1])));
        let s = key(0, 0);
        let old = guarded(&t, s);
        assert_eq!(t.borrow_mut().kill_server(s), 1);
        drop(old);
        let new = guarded(&t, s);
        assert!(
            !t.borrow().is_fenced(new.slot()),
            "a new attachment is not fenced"
        );
        assert_eq!(t.borrow().server_streams(s), 1);
        // The taken index still names the slot; tearing it down must skip the new stream.
        let waker = futures_lite::future::block_on(futures_lite::future::poll_fn(|cx| {
            Poll::Ready(cx.waker().clone())
        }));
        let mut out = Vec::new();
        let mut cx = Context::from_waker(&waker);
        assert!(t
            .borrow_mut()
            .poll_teardown(&mut cx, &mut out, TEARDOWN_BATCH)
            .is_ready());
        assert!(!t.borrow().is_fenced(new.slot()));
        assert!(t.borrow().fenced_lists.is_empty());
        assert_eq!(
            t.borrow_mut().kill_server(s),
            1,
            "the new stream is killable"
        );
    }

    /// Counts its drops: the end of a task's future.
    struct Dropped(Rc<std::cell::Cell<usize>>);

    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }

    #[test]
    fn fenced_tasks_are_never_polled_again_and_all_torn_down() {
        let ex = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .io_memory(256 << 10)
            .make()
            .expect("executor");
        ex.run(async {
            let t = Rc::new(RefCell::new(StreamTable::new(ShardId(0), 300, 1, &[2])));
            let polls = Rc::new(std::cell::Cell::new(0usize));
            let dropped = Rc::new(std::cell::Cell::new(0usize));
            for _ in 0..(2 * TEARDOWN_BATCH + 3) {
                let r = t
                    .borrow_mut()
                    .insert(0, 0, addr(), Instant::now())
                    .expect("room");
                let guard = StreamGuard::new(t.clone(), r);
                guard.set_server(Some(key(0, r.slot as usize % 2)));
                let (p, d) = (polls.clone(), Dropped(dropped.clone()));
                let busy = async move {
                    let (_guard, _d) = (guard, d);
                    loop {
                        p.set(p.get() + 1);
                        futures_lite::future::yield_now().await;
                    }
                };
                let task = glommio::spawn_local(Fenced::new(t.clone(), r, busy)).detach();
                t.borrow_mut().set_kill_handle(r, task);
            }
            glommio::spawn_local(teardown(t.clone())).detach();
            futures_lite::future::yield_now().await;
            assert!(polls.get() > 0, "the streams run before the kill");
            let n = t.borrow().len();
            let on_1 = t.borrow().server_streams(key(0, 1));
            assert_eq!(t.borrow_mut().kill_server(key(0, 1)), on_1);
            assert_eq!(t.borrow_mut().kill_all(), n - on_1);
            assert_eq!(
                t.borrow_mut().kill_all(),
                0,
                "a fenced stream is killed once"
            );
            let fenced_at = polls.get();
            std::future::poll_fn(|cx| t.borrow_mut().poll_empty(cx)).await;
            assert_eq!(polls.get(), fenced_at, "a fenced stream was polled again");
            assert_eq!(dropped.get(), n, "every fenced task was dropped");
            assert_eq!(t.borrow().kills_pending, 0);
            assert!(t.borrow().teardown.is_empty() && t.borrow().fenced_lists.is_empty());
        });
    }
}
