//! A backend's queue of streams waiting for a server slot (HAProxy's pendconn list), one
//! per backend per shard.
//!
//! First come, first served: a slot that frees while streams wait is handed to the oldest
//! waiter that may use that server, directly — it never becomes free, so a stream arriving
//! later cannot take it first. O(1) per release: the oldest waiter is at the front (only a
//! waiter bound to one server, a retry without redispatch, can be passed over).
//!
//! Bounded: every entry is a stream waiting (each holds a connection budget slot), plus
//! entries of waiters that gave up (timeout, kill), which are dropped lazily and compacted
//! once they outnumber the live ones.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use super::budget::BudgetSlot;

/// One stream waiting for a slot of any server of the backend, or of one server.
#[derive(Debug)]
pub struct Waiter {
    only: Option<usize>,
    granted: RefCell<Option<(usize, BudgetSlot)>>,
    waker: RefCell<Option<Waker>>,
}

impl Waiter {
    /// A waiter for any server (`only: None`) or for server `only`.
    pub fn new(only: Option<usize>) -> Rc<Self> {
        Rc::new(Waiter {
            only,
            granted: RefCell::new(None),
            waker: RefCell::new(None),
        })
    }

    /// Ready with the server and slot once one was handed over.
    pub fn poll_granted(&self, cx: &mut Context<'_>) -> Poll<(usize, BudgetSlot)> {
        if let Some(got) = self.granted.borrow_mut().take() {
            return Poll::Ready(got);
        }
        *self.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }

    fn accepts(&self, server: usize) -> bool {
        self.only.is_none_or(|o| o == server) && self.granted.borrow().is_none()
    }

    /// Hands `slot` of `server` over and wakes the waiting stream.
    pub fn grant(&self, server: usize, slot: BudgetSlot) {
        *self.granted.borrow_mut() = Some((server, slot));
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }
}

/// The FIFO of one backend's waiting streams.
#[derive(Debug, Default)]
pub struct WaitQueue {
    waiters: RefCell<VecDeque<Weak<Waiter>>>,
}

impl WaitQueue {
    /// An empty queue.
    pub fn new() -> Rc<Self> {
        Rc::new(WaitQueue::default())
    }

    /// Appends `w` (the newest waiter).
    pub fn push(&self, w: &Rc<Waiter>) {
        let mut q = self.waiters.borrow_mut();
        if q.len() >= 64 && q.len().is_multiple_of(64) {
            q.retain(|x| x.strong_count() > 0);
        }
        q.push_back(Rc::downgrade(w));
    }

    /// Removes and returns the oldest live waiter that may use a slot of `server`.
    pub fn take_oldest(&self, server: usize) -> Option<Rc<Waiter>> {
        let mut q = self.waiters.borrow_mut();
        while q.front().is_some_and(|w| w.strong_count() == 0) {
            q.pop_front();
        }
        let i = q
            .iter()
            .position(|w| w.upgrade().is_some_and(|w| w.accepts(server)))?;
        q.remove(i).and_then(|w| w.upgrade())
    }

    /// True when a live waiter could take a slot of `server`.
    pub fn has_waiter_for(&self, server: usize) -> bool {
        self.waiters
            .borrow()
            .iter()
            .filter_map(Weak::upgrade)
            .any(|w| w.accepts(server))
    }

    /// Entries held, live or not (for tests and bounds).
    pub fn len(&self) -> usize {
        self.waiters.borrow().len()
    }

    /// True when no entry is held.
    pub fn is_empty(&self) -> bool {
        self.waiters.borrow().is_empty()
    }
}
