// Unless explicitly stated otherwise all files in this repository are licensed
// under the MIT/Apache-2.0 License, at your convenience
//
// This product includes software developed at Datadog (https://www.datadoghq.com/). Copyright 2020 Datadog, Inc.
//
use std::{marker::PhantomData, mem, ops};

#[derive(Debug)]
pub(crate) struct Idx<T> {
    raw: usize,
    _ty: PhantomData<fn() -> T>,
}

impl<T> Copy for Idx<T> {}
impl<T> Clone for Idx<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> PartialEq for Idx<T> {
    fn eq(&self, other: &Idx<T>) -> bool {
        self.raw == other.raw
    }
}
impl<T> Eq for Idx<T> {}

impl<T> Idx<T> {
    pub(crate) fn from_raw(raw: usize) -> Idx<T> {
        Idx {
            raw,
            _ty: PhantomData,
        }
    }
    pub(crate) fn to_raw(self) -> usize {
        self.raw
    }
}

/// Slots a free list holds room for from the start.
const INITIAL_SLOTS: usize = 8 << 10;

#[derive(Debug)]
pub(crate) struct FreeList<T> {
    first_free: Option<Idx<T>>,
    slots: Vec<Slot<T>>,
}

impl<T> Default for FreeList<T> {
    fn default() -> Self {
        FreeList {
            first_free: None,
            slots: Vec::with_capacity(INITIAL_SLOTS),
        }
    }
}

impl<T> FreeList<T> {
    pub(crate) fn alloc(&mut self, item: T) -> Idx<T> {
        let slot = Slot::Full { item };
        match self.first_free {
            Some(idx) => {
                self.first_free = match mem::replace(&mut self.slots[idx.to_raw()], slot) {
                    Slot::Free { next_free } => next_free,
                    Slot::Full { .. } => unreachable!(),
                };
                idx
            }
            None => {
                let idx = Idx::from_raw(self.slots.len());
                self.slots.push(slot);
                idx
            }
        }
    }
    /// percore patch 15: gives back the slots a burst left. Trailing free slots are dropped
    /// and the capacity shrunk to what is left (never below the initial capacity); the free
    /// chain is rebuilt in ascending order, so that new items take the lowest slots and
    /// the tail a later call can drop is not pinned by a recent allocation. O(slots): call
    /// it rarely (every few seconds, after a burst), not per operation; free while the
    /// list never grew past its initial capacity. Live indices do not change.
    pub(crate) fn shrink(&mut self) {
        if self.slots.capacity() <= INITIAL_SLOTS {
            return;
        }
        while matches!(self.slots.last(), Some(Slot::Free { .. })) {
            self.slots.pop();
        }
        let mut next = None;
        for i in (0..self.slots.len()).rev() {
            if let Slot::Free { next_free } = &mut self.slots[i] {
                *next_free = next;
                next = Some(Idx::from_raw(i));
            }
        }
        self.first_free = next;
        self.slots.shrink_to(self.slots.len().max(INITIAL_SLOTS));
    }

    /// Slots the list has room for (percore patch 15).
    pub(crate) fn capacity(&self) -> usize {
        self.slots.capacity()
    }

    /// Items held (percore patch 15, for its test).
    #[cfg(test)]
    fn live(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| matches!(s, Slot::Full { .. }))
            .count()
    }

    pub(crate) fn dealloc(&mut self, idx: Idx<T>) -> T {
        let slot = Slot::Free {
            next_free: mem::replace(&mut self.first_free, Some(idx)),
        };
        match mem::replace(&mut self.slots[idx.to_raw()], slot) {
            Slot::Full { item } => item,
            Slot::Free { .. } => unreachable!(),
        }
    }
}

impl<T> ops::Index<Idx<T>> for FreeList<T> {
    type Output = T;

    fn index(&self, idx: Idx<T>) -> &T {
        match &self.slots[idx.to_raw()] {
            Slot::Free { .. } => unreachable!(),
            Slot::Full { item } => item,
        }
    }
}

impl<T> ops::IndexMut<Idx<T>> for FreeList<T> {
    fn index_mut(&mut self, idx: Idx<T>) -> &mut T {
        match &mut self.slots[idx.to_raw()] {
            Slot::Free { .. } => unreachable!(),
            Slot::Full { item } => item,
        }
    }
}

#[derive(Debug)]
enum Slot<T> {
    Free { next_free: Option<Idx<T>> },
    Full { item: T },
}

#[test]
fn free_list_smoke_test() {
    let mut free_list: FreeList<&str> = FreeList::default();

    let hello = free_list.alloc("hello");
    assert_eq!(hello, Idx::from_raw(0));

    let world = free_list.alloc("world");
    assert_eq!(world, Idx::from_raw(1));

    assert_eq!(free_list[hello], "hello");
    assert_eq!(free_list[world], "world");

    free_list.dealloc(hello);

    let goodbye = free_list.alloc("goodbye");
    assert_eq!(goodbye, Idx::from_raw(0));

    free_list.dealloc(goodbye);
    free_list.dealloc(world);

    let a = free_list.alloc("a");
    let b = free_list.alloc("b");
    let c = free_list.alloc("c");
    assert_eq!(a, Idx::from_raw(1));
    assert_eq!(b, Idx::from_raw(0));
    assert_eq!(c, Idx::from_raw(2));
}

#[test]
fn shrink_drops_the_free_tail_and_reuses_low_slots_first() {
    let mut list: FreeList<usize> = FreeList::default();
    let ids: Vec<_> = (0..(INITIAL_SLOTS * 4)).map(|i| list.alloc(i)).collect();
    assert!(list.slots.capacity() >= INITIAL_SLOTS * 4);
    // A burst ends: all but a few low and one high item go, in an order that leaves a
    // high slot at the head of the chain.
    let kept = [3usize, 10, INITIAL_SLOTS * 2];
    for (i, id) in ids.iter().enumerate() {
        if !kept.contains(&i) {
            list.dealloc(*id);
        }
    }
    list.shrink();
    assert_eq!(list.live(), 3);
    assert_eq!(list.slots.len(), INITIAL_SLOTS * 2 + 1);
    assert_eq!(list[ids[10]], 10, "live items keep their index");
    // New items take the lowest free slots, so the high one can go once it ends.
    assert_eq!(list.alloc(7).to_raw(), 0);
    assert_eq!(list.alloc(8).to_raw(), 1);
    list.dealloc(ids[INITIAL_SLOTS * 2]);
    list.shrink();
    assert_eq!(list.slots.len(), 11);
    assert_eq!(list.slots.capacity(), INITIAL_SLOTS);
    assert_eq!(list.live(), 4);
}
