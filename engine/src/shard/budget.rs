//! Connection budgets: a shard's share of `global.maxconn`, of each frontend's `maxconn` and
//! of each server's `maxconn`.
//!
//! The accept loop takes a slot *before* calling `accept()`, so at the limit the shard simply
//! stops accepting and connections wait in the kernel backlog (never accept-then-drop).
//! A slot is returned when the stream ends (its [`BudgetSlot`] drops), which wakes the
//! waiting accept loops. Limits can be changed at run time; lowering one below the current
//! use only blocks new accepts until enough streams end.
//!
//! A server's budget also has a [`WaitQueue`]: a slot released while streams wait for that
//! server is handed to the oldest of them instead of being freed (HAProxy's pendconn), so
//! nobody overtakes a queued stream.
//!
//! Server `maxconn` is exact for the whole process: the control plane owns the split of
//! each server's slots between shards, and a shard's limit is the number of slots it owns
//! ([`Lend`]). A shard with a waiting stream and no free slot asks for one; the control plane
//! grants it from slots other shards gave back (idle borrowed slots always go back) or asks a
//! shard that is not waiting itself to give one back (now if free, else at its next
//! release). A slot is thus owned by exactly one shard at a time, and no counter is shared.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::queue::WaitQueue;
use crate::ids::{ShardId, SlotPool};
use crate::rings::msg::ShardEvent;

/// A counted limit with waiters, single-threaded.
#[derive(Debug)]
pub struct Budget {
    used: Cell<u32>,
    limit: Cell<u32>,
    /// Accept loops waiting for a slot; at most one per listener of the frontend(s) sharing
    /// this budget, so the list is bounded by the configuration.
    waiters: RefCell<Vec<Waker>>,
    /// Server budgets only: where released slots go first.
    handoff: Option<Handoff>,
    /// Slot ownership across shards; `None` for a budget of its own (tests).
    lend: Option<Lend>,
}

/// A server budget's link to its backend's queue.
#[derive(Debug)]
struct Handoff {
    queue: Rc<WaitQueue>,
    server: usize,
    /// The server takes new streams (ready, UP, weight > 0): only then is a slot handed on.
    usable: Cell<bool>,
}

/// This shard's side of one limit's slot ownership (see the module doc).
#[derive(Debug)]
pub struct Lend {
    pool: SlotPool,
    shard: ShardId,
    tx: thingbuf::mpsc::Sender<ShardEvent>,
    /// Split generation: messages of an older split (before a `maxconn` change) are ignored.
    epoch: Cell<u32>,
    /// The slots this shard owns when nothing is lent: borrowed ones above it go back as
    /// soon as they are idle.
    base: Cell<u32>,
    /// Slots the control plane asked back that were busy: the next releases return them.
    owe: Cell<u32>,
    /// A waiting stream could use one more slot.
    want: Cell<bool>,
    /// What the control plane was last told about `want`.
    want_told: Cell<bool>,
    /// Slots given back but not yet announced (the event ring was full): retried later.
    to_return: Cell<u32>,
}

impl Lend {
    /// The lending state of `pool` on `shard`, owning `base` slots.
    pub fn new(
        pool: SlotPool,
        shard: ShardId,
        base: u32,
        tx: thingbuf::mpsc::Sender<ShardEvent>,
    ) -> Self {
        Lend {
            pool,
            shard,
            tx,
            epoch: Cell::new(0),
            base: Cell::new(base),
            owe: Cell::new(0),
            want: Cell::new(false),
            want_told: Cell::new(false),
            to_return: Cell::new(0),
        }
    }

    /// Tells the control plane what changed; what the ring cannot take now stays for the
    /// next call (the shard's purge task calls it periodically). Never blocks.
    pub fn flush(&self) {
        let (shard, pool, epoch) = (self.shard, self.pool, self.epoch.get());
        let n = self.to_return.get();
        if n > 0
            && self
                .tx
                .try_send(ShardEvent::SlotsReturned {
                    shard,
                    pool,
                    epoch,
                    n,
                })
                .is_ok()
        {
            self.to_return.set(0);
        }
        let wanted = self.want.get();
        if wanted != self.want_told.get()
            && self
                .tx
                .try_send(ShardEvent::SlotWanted {
                    shard,
                    pool,
                    epoch,
                    wanted,
                })
                .is_ok()
        {
            self.want_told.set(wanted);
        }
    }

    fn give_back(&self, limit: &Cell<u32>) {
        limit.set(limit.get() - 1);
        self.to_return.set(self.to_return.get() + 1);
    }
}

impl Budget {
    /// A budget of `limit` slots of its own.
    pub fn new(limit: u32) -> Rc<Self> {
        Self::lent(limit, None)
    }

    /// A budget whose `limit` is the slots this shard owns of a process-wide limit.
    pub fn lent(limit: u32, lend: Option<Lend>) -> Rc<Self> {
        Rc::new(Budget {
            used: Cell::new(0),
            limit: Cell::new(limit),
            waiters: RefCell::new(Vec::new()),
            handoff: None,
            lend,
        })
    }

    /// The budget of server `server` of a backend whose waiting streams are in `queue`;
    /// `lend` when the server has a `maxconn` (the limit is then the slots owned).
    pub fn for_server(
        limit: u32,
        queue: Rc<WaitQueue>,
        server: usize,
        lend: Option<Lend>,
    ) -> Rc<Self> {
        Rc::new(Budget {
            used: Cell::new(0),
            limit: Cell::new(limit),
            waiters: RefCell::new(Vec::new()),
            handoff: Some(Handoff {
                queue,
                server,
                usable: Cell::new(true),
            }),
            lend,
        })
    }

    fn lend(&self) -> Option<&Lend> {
        self.lend.as_ref()
    }

    /// A new split of the server's slots (its `maxconn` changed): this shard owns `owned`,
    /// nothing is lent or owed, and messages of older splits no longer count.
    pub fn reset_split(self: &Rc<Self>, owned: u32, epoch: u32) {
        if let Some(l) = self.lend() {
            l.epoch.set(epoch);
            l.base.set(owned);
            l.owe.set(0);
            l.to_return.set(0);
            l.want_told.set(false);
            l.want.set(false);
        }
        self.set_limit(owned);
        self.update_want();
    }

    /// The control plane granted `n` more slots (answering a want of split `epoch`).
    pub fn grant(self: &Rc<Self>, n: u32, epoch: u32) {
        let Some(l) = self.lend().filter(|l| l.epoch.get() == epoch) else {
            return;
        };
        // The control plane cleared our want when it granted.
        l.want_told.set(false);
        l.want.set(false);
        self.limit.set(self.limit.get() + n);
        if self.handoff.is_some() {
            // Queued streams take the slots at once; what is left was not needed.
            self.refill();
            self.return_idle();
        } else {
            // The accept loop takes its slot when it runs next.
            self.wake_all();
        }
        self.update_want();
    }

    /// The control plane asks for one slot back: now if one is free, else at the next
    /// release.
    pub fn reclaim(&self, epoch: u32) {
        let Some(l) = self.lend().filter(|l| l.epoch.get() == epoch) else {
            return;
        };
        if self.used.get() < self.limit.get() {
            l.give_back(&self.limit);
        } else {
            l.owe.set(l.owe.get() + 1);
        }
        l.flush();
    }

    /// Free borrowed slots (above the base) go back to the control plane, unless an accept
    /// loop waits for one.
    pub fn return_idle(&self) {
        if let Some(l) = self.lend() {
            if !self.waiters.borrow().is_empty() {
                return;
            }
            while self.used.get() < self.limit.get() && self.limit.get() > l.base.get() {
                l.give_back(&self.limit);
            }
            l.flush();
        }
    }

    /// Asks for a slot when a waiting stream (server budgets) or accept loop (the others)
    /// could use one and none is free here; withdraws the ask when none could. Called when
    /// streams queue and slots move.
    pub fn update_want(&self) {
        let Some(l) = self.lend() else {
            return;
        };
        let full = self.used.get() >= self.limit.get();
        let waiting = match &self.handoff {
            Some(h) => h.usable.get() && h.queue.has_waiter_for(h.server),
            None => !self.waiters.borrow().is_empty(),
        };
        l.want.set(full && waiting);
        l.flush();
    }

    /// Marks the server as taking new streams or not; when it does again, its free slots go
    /// to the waiting streams.
    pub fn set_usable(self: &Rc<Self>, usable: bool) {
        if let Some(h) = &self.handoff {
            h.usable.set(usable);
            if usable {
                self.refill();
            }
        }
    }

    /// Hands free slots to waiting streams, oldest first.
    fn refill(self: &Rc<Self>) {
        let Some(h) = &self.handoff else {
            return;
        };
        while h.usable.get() && self.used.get() < self.limit.get() {
            let Some(w) = h.queue.take_oldest(h.server) else {
                return;
            };
            self.used.set(self.used.get() + 1);
            w.grant(h.server, BudgetSlot(self.clone()));
        }
    }

    /// Announces what the ring could not take before (see [`Lend::flush`]).
    pub fn flush(&self) {
        if let Some(l) = self.lend() {
            l.flush();
        }
    }

    /// Slots in use.
    pub fn used(&self) -> u32 {
        self.used.get()
    }

    /// Current limit.
    pub fn limit(&self) -> u32 {
        self.limit.get()
    }

    /// Changes the limit; raising it wakes waiters (or hands slots to queued streams).
    pub fn set_limit(self: &Rc<Self>, limit: u32) {
        self.limit.set(limit);
        self.refill();
        self.wake_all();
    }

    /// Takes a slot if one is free, else registers the caller to be woken.
    pub fn poll_acquire(self: &Rc<Self>, cx: &mut Context<'_>) -> Poll<BudgetSlot> {
        if self.used.get() < self.limit.get() {
            self.used.set(self.used.get() + 1);
            return Poll::Ready(BudgetSlot(self.clone()));
        }
        {
            let mut w = self.waiters.borrow_mut();
            if !w.iter().any(|x| x.will_wake(cx.waker())) {
                w.push(cx.waker().clone());
            }
        }
        // Other shards may have free slots of this limit.
        self.update_want();
        Poll::Pending
    }

    /// Takes a slot if one is free, without waiting.
    pub fn try_acquire(self: &Rc<Self>) -> Option<BudgetSlot> {
        if self.used.get() < self.limit.get() {
            self.used.set(self.used.get() + 1);
            return Some(BudgetSlot(self.clone()));
        }
        None
    }

    /// Waits for a free slot.
    pub async fn acquire(self: &Rc<Self>) -> BudgetSlot {
        futures_lite::future::poll_fn(|cx| self.poll_acquire(cx)).await
    }

    fn wake_all(&self) {
        for w in self.waiters.borrow_mut().drain(..) {
            w.wake();
        }
    }
}

/// One taken slot; returns itself to the budget when dropped.
#[derive(Debug)]
pub struct BudgetSlot(Rc<Budget>);

impl Drop for BudgetSlot {
    fn drop(&mut self) {
        let b = &self.0;
        if let Some(l) = b.lend().filter(|l| l.owe.get() > 0) {
            // Another shard is waiting for this slot: it goes back before any local waiter.
            l.owe.set(l.owe.get() - 1);
            b.used.set(b.used.get() - 1);
            l.give_back(&b.limit);
            b.update_want();
            return;
        }
        if let Some(h) = &b.handoff {
            if h.usable.get() && b.used.get() <= b.limit.get() {
                if let Some(w) = h.queue.take_oldest(h.server) {
                    // The slot changes hands without ever being free.
                    w.grant(h.server, BudgetSlot(b.clone()));
                    return;
                }
            }
        }
        b.used.set(b.used.get() - 1);
        b.return_idle();
        b.update_want();
        if b.used.get() < b.limit.get() {
            b.wake_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn blocks_at_limit_and_wakes_on_release() {
        let b = Budget::new(2);
        let mut cx = Context::from_waker(Waker::noop());
        let s1 = match b.poll_acquire(&mut cx) {
            Poll::Ready(s) => s,
            Poll::Pending => panic!("free slot"),
        };
        let _s2 = match b.poll_acquire(&mut cx) {
            Poll::Ready(s) => s,
            Poll::Pending => panic!("free slot"),
        };
        assert!(b.poll_acquire(&mut cx).is_pending());
        assert_eq!(b.waiters.borrow().len(), 1);
        drop(s1);
        assert!(b.waiters.borrow().is_empty(), "release wakes waiters");
        assert_eq!(b.used(), 1);
        b.set_limit(1);
        assert!(b.poll_acquire(&mut cx).is_pending());
    }

    fn granted(w: &super::super::queue::Waiter) -> Option<(usize, BudgetSlot)> {
        let mut cx = Context::from_waker(Waker::noop());
        match w.poll_granted(&mut cx) {
            Poll::Ready(got) => Some(got),
            Poll::Pending => None,
        }
    }

    #[test]
    fn a_released_server_slot_goes_to_the_oldest_waiter() {
        use super::super::queue::Waiter;
        let q = WaitQueue::new();
        let b = Budget::for_server(1, q.clone(), 0, None);
        let held = b.try_acquire().expect("free");
        let (first, second, other) = (Waiter::new(None), Waiter::new(None), Waiter::new(Some(1)));
        q.push(&other);
        q.push(&first);
        q.push(&second);
        assert!(b.try_acquire().is_none());
        drop(held);
        assert!(granted(&other).is_none(), "bound to another server");
        let (server, slot) = granted(&first).expect("oldest first");
        assert_eq!((server, b.used()), (0, 1), "never free in between");
        assert!(granted(&second).is_none());
        assert!(b.try_acquire().is_none(), "a newcomer cannot overtake");
        drop(slot);
        let (_, slot) = granted(&second).expect("next");
        drop(slot);
        assert_eq!(b.used(), 0);
    }

    #[test]
    fn an_owed_slot_goes_back_before_local_waiters() {
        use super::super::queue::Waiter;
        let (tx, rx) = thingbuf::mpsc::channel(8);
        let key = SlotPool::Server(crate::ids::ServerKey {
            backend: 0,
            server: 0,
        });
        let q = WaitQueue::new();
        let lend = Lend::new(key, ShardId(0), 1, tx);
        let b = Budget::for_server(1, q.clone(), 0, Some(lend));
        let held = b.try_acquire().expect("free");
        let local = Waiter::new(None);
        q.push(&local);
        b.update_want();
        b.reclaim(0);
        drop(held);
        assert!(granted(&local).is_none(), "the owed slot left the shard");
        assert_eq!((b.used(), b.limit()), (0, 0));
        let events: Vec<ShardEvent> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert!(
            events
                .iter()
                .any(|e| matches!(e, ShardEvent::SlotsReturned { n: 1, .. })),
            "{events:?}"
        );
        assert!(
            events
                .iter()
                .any(|e| matches!(e, ShardEvent::SlotWanted { wanted: true, .. })),
            "the local waiter's want stands: {events:?}"
        );
        // Granted again: it goes to the waiting stream at once.
        b.grant(1, 0);
        let _slot = granted(&local).expect("handed over");
        assert_eq!((b.used(), b.limit()), (1, 1));
        // A grant of an older split is ignored.
        b.grant(5, 7);
        assert_eq!(b.limit(), 1);
    }
}
