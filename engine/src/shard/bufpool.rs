//! Reusable copy buffers of `tune.bufsize` bytes, per shard.
//!
//! A TCP stream holds two buffers (one per direction) for its whole life. Freed buffers are
//! kept for reuse up to `keep_max`, so a burst of short streams does not hit the allocator
//! each time; beyond that they go back to the allocator, so an idle shard does not hold the
//! memory of its busiest moment forever.

use std::cell::RefCell;

/// Per-shard pool of equally sized byte buffers.
#[derive(Debug)]
pub struct BufPool {
    size: usize,
    keep_max: usize,
    free: RefCell<Vec<Box<[u8]>>>,
}

impl BufPool {
    /// A pool of `size`-byte buffers keeping at most `keep_max` free ones.
    pub fn new(size: usize, keep_max: usize) -> Self {
        BufPool {
            size,
            keep_max,
            free: RefCell::new(Vec::new()),
        }
    }

    /// A buffer, reused if one is free.
    pub fn take(&self) -> Box<[u8]> {
        self.free
            .borrow_mut()
            .pop()
            .unwrap_or_else(|| vec![0; self.size].into_boxed_slice())
    }

    /// Returns a buffer to the pool (dropped if the pool is full).
    pub fn give(&self, buf: Box<[u8]>) {
        let mut free = self.free.borrow_mut();
        if free.len() < self.keep_max && buf.len() == self.size {
            free.push(buf);
        }
    }

    /// Free buffers currently held.
    pub fn idle(&self) -> usize {
        self.free.borrow().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_up_to_bound() {
        let p = BufPool::new(16, 1);
        let a = p.take();
        let b = p.take();
        p.give(a);
        p.give(b);
        assert_eq!(p.idle(), 1);
        assert_eq!(p.take().len(), 16);
        assert_eq!(p.idle(), 0);
    }
}
