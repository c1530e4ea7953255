//! Connection budgets: a shard's share of `global.maxconn` and of each frontend's `maxconn`.
//!
//! The accept loop takes a slot *before* calling `accept()`, so at the limit the shard simply
//! stops accepting and connections wait in the kernel backlog (never accept-then-drop).
//! A slot is returned when the stream ends (its [`BudgetSlot`] drops), which wakes the
//! waiting accept loops. Limits can be changed at run time; lowering one below the current
//! use only blocks new accepts until enough streams end.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// A counted limit with waiters, single-threaded.
#[derive(Debug)]
pub struct Budget {
    used: Cell<u32>,
    limit: Cell<u32>,
    /// Accept loops waiting for a slot; at most one per listener of the frontend(s) sharing
    /// this budget, so the list is bounded by the configuration.
    waiters: RefCell<Vec<Waker>>,
}

impl Budget {
    /// A budget of `limit` slots.
    pub fn new(limit: u32) -> Rc<Self> {
        Rc::new(Budget {
            used: Cell::new(0),
            limit: Cell::new(limit),
            waiters: RefCell::new(Vec::new()),
        })
    }

    /// Slots in use.
    pub fn used(&self) -> u32 {
        self.used.get()
    }

    /// Current limit.
    pub fn limit(&self) -> u32 {
        self.limit.get()
    }

    /// Changes the limit; raising it wakes waiters.
    pub fn set_limit(&self, limit: u32) {
        self.limit.set(limit);
        self.wake_all();
    }

    /// Takes a slot if one is free, else registers the caller to be woken.
    pub fn poll_acquire(self: &Rc<Self>, cx: &mut Context<'_>) -> Poll<BudgetSlot> {
        if self.used.get() < self.limit.get() {
            self.used.set(self.used.get() + 1);
            return Poll::Ready(BudgetSlot(self.clone()));
        }
        let mut w = self.waiters.borrow_mut();
        if !w.iter().any(|x| x.will_wake(cx.waker())) {
            w.push(cx.waker().clone());
        }
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

    /// Registers `waker` to be woken when a slot frees (at most once per waker).
    pub fn register(&self, waker: &Waker) {
        let mut w = self.waiters.borrow_mut();
        if !w.iter().any(|x| x.will_wake(waker)) {
            w.push(waker.clone());
        }
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
        b.used.set(b.used.get() - 1);
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
}
