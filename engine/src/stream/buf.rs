//! Stream buffers that exist only while bytes are in flight.
//!
//! A [`Buf`] is a bounded FIFO of bytes whose storage comes from the shard's [`Pools`] when
//! a byte must be held and goes back as soon as the buffer is empty again ([`Buf::release`]):
//! a stream waiting on both sides holds no data buffer (HAProxy releases empty buffers the
//! same way). Heads serialised by the codec (which writes into a `Vec`) go through one
//! per-shard scratch vector.
//!
//! Memory: at most `streams × 4 × bufsize` in use (an HTTP stream has four buffers, a TCP
//! stream two), plus at most `BUFS_FREE_MAX × bufsize` kept free for reuse; free buffers
//! that stayed unused for a whole [`Pools::trim`] interval go back to the allocator.

use std::cell::{Cell, RefCell};

use percore_protocols::http1::HeadBuf;

/// Free data buffers a shard keeps for reuse: 4 MiB at the default 16 KiB `bufsize`.
pub const BUFS_FREE_MAX: usize = 256;

/// Free head storages a shard keeps for reuse (each about one head's size).
pub const HEADS_FREE_MAX: usize = 256;

/// A shard's recycled storage: data buffers, head storages, and the scratch vector.
#[derive(Debug)]
pub struct Pools {
    size: usize,
    // Boxed: a `Buf` holds its storage by pointer, and taking or giving one moves the
    // pointer, not the storage.
    #[allow(clippy::vec_box)]
    free: RefCell<Vec<Box<Storage>>>,
    /// Fewest free buffers seen since the last trim: those were never needed.
    free_low: Cell<usize>,
    /// Buffers handed out and not returned.
    in_use: Cell<usize>,
    heads: RefCell<Vec<HeadBuf>>,
    scratch: RefCell<Vec<u8>>,
}

impl Pools {
    /// Pools of `size`-byte data buffers.
    pub fn new(size: usize) -> Self {
        Pools {
            size,
            free: RefCell::new(Vec::new()),
            free_low: Cell::new(0),
            in_use: Cell::new(0),
            heads: RefCell::new(Vec::new()),
            scratch: RefCell::new(Vec::new()),
        }
    }

    /// Size of each data buffer.
    pub fn size(&self) -> usize {
        self.size
    }

    /// A zero-initialised (or reused) data buffer, empty.
    pub fn take(&self) -> Box<Storage> {
        let mut free = self.free.borrow_mut();
        let buf = free.pop();
        self.free_low.set(self.free_low.get().min(free.len()));
        self.in_use.set(self.in_use.get() + 1);
        buf.unwrap_or_else(|| {
            Box::new(Storage {
                data: vec![0; self.size].into_boxed_slice(),
                start: 0,
                end: 0,
            })
        })
    }

    /// Returns a data buffer; kept for reuse up to [`BUFS_FREE_MAX`], else freed.
    pub fn give(&self, mut buf: Box<Storage>) {
        self.in_use.set(self.in_use.get().saturating_sub(1));
        let mut free = self.free.borrow_mut();
        if free.len() < BUFS_FREE_MAX && buf.data.len() == self.size {
            buf.set(0, 0);
            free.push(buf);
        }
    }

    /// Keeps a pool-sized data buffer a grown [`Buf`] let go of (the `Buf` itself still
    /// counts as in use until its release).
    fn keep(&self, data: Box<[u8]>) {
        let mut free = self.free.borrow_mut();
        if free.len() < BUFS_FREE_MAX && data.len() == self.size {
            free.push(Box::new(Storage {
                data,
                start: 0,
                end: 0,
            }));
        }
    }

    /// Gives back to the allocator the free buffers no stream needed since the last trim;
    /// returns how many were dropped. The shard calls it periodically.
    pub fn trim(&self) -> usize {
        let mut free = self.free.borrow_mut();
        let unused = self.free_low.get().min(free.len());
        let keep = free.len() - unused;
        free.truncate(keep);
        free.shrink_to(keep);
        self.free_low.set(free.len());
        let mut heads = self.heads.borrow_mut();
        let keep_heads = heads.len() - heads.len() / 2;
        heads.truncate(keep_heads);
        unused
    }

    /// Gives every free buffer and head storage back to the allocator (after a burst).
    pub fn release_free(&self) {
        *self.free.borrow_mut() = Vec::new();
        self.free_low.set(0);
        *self.heads.borrow_mut() = Vec::new();
    }

    /// Data buffers free in the pool.
    pub fn free_buffers(&self) -> usize {
        self.free.borrow().len()
    }

    /// Data buffers held by streams.
    pub fn buffers_in_use(&self) -> usize {
        self.in_use.get()
    }

    /// Head storage for a parse (reused when one is free).
    pub fn take_head(&self) -> HeadBuf {
        self.heads.borrow_mut().pop().unwrap_or_default()
    }

    /// Returns head storage.
    pub fn give_head(&self, head: HeadBuf) {
        let mut heads = self.heads.borrow_mut();
        if heads.len() < HEADS_FREE_MAX {
            heads.push(head);
        }
    }
}

/// A bounded FIFO of bytes with pooled storage.
///
/// One pointer: the offsets live with the bytes in the pooled [`Storage`], so a buffer
/// without bytes in flight costs its stream 8 bytes (an HTTP stream has four buffers for
/// its whole life, idle or not).
#[derive(Debug, Default)]
pub struct Buf {
    st: Option<Box<Storage>>,
}

/// A pooled data buffer and the range of it that holds bytes. Offsets are `u32`: a buffer
/// is at most `tune.bufsize` plus a page, far below 4 GiB.
#[derive(Debug)]
pub struct Storage {
    data: Box<[u8]>,
    start: u32,
    end: u32,
}

impl Storage {
    fn start(&self) -> usize {
        self.start as usize
    }

    fn end(&self) -> usize {
        self.end as usize
    }

    fn len(&self) -> usize {
        self.end() - self.start()
    }

    /// Sets the held range; an empty one restarts at offset 0.
    fn set(&mut self, start: usize, end: usize) {
        let (start, end) = if start == end { (0, 0) } else { (start, end) };
        self.start = u32::try_from(start).expect("a buffer is below 4 GiB");
        self.end = u32::try_from(end).expect("a buffer is below 4 GiB");
    }

    /// Moves the held bytes to the front.
    fn compact(&mut self) {
        let (start, end) = (self.start(), self.end());
        if start > 0 {
            self.data.copy_within(start..end, 0);
            self.set(0, end - start);
        }
    }
}

impl Buf {
    /// An empty buffer with no storage.
    pub fn new() -> Self {
        Buf::default()
    }

    /// The bytes held.
    pub fn bytes(&self) -> &[u8] {
        match &self.st {
            Some(s) => &s.data[s.start()..s.end()],
            None => &[],
        }
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        self.st.as_ref().map_or(0, |s| s.len())
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether no byte can be added even after compaction.
    pub fn is_full(&self, pools: &Pools) -> bool {
        self.len() >= self.capacity(pools)
    }

    fn capacity(&self, pools: &Pools) -> usize {
        self.st.as_ref().map_or(pools.size(), |s| s.data.len())
    }

    /// Bytes that can still be added.
    pub fn room(&self, pools: &Pools) -> usize {
        self.capacity(pools).saturating_sub(self.len())
    }

    /// Drops `n` bytes from the front.
    pub fn consume(&mut self, n: usize) {
        assert!(n <= self.len(), "consume {n} of {}", self.len());
        if let Some(s) = self.st.as_mut() {
            s.set(s.start() + n, s.end());
        }
    }

    /// Free room at the end (storage taken, tail compacted as needed); empty when full.
    pub fn spare(&mut self, pools: &Pools) -> &mut [u8] {
        let s = self.st.get_or_insert_with(|| pools.take());
        if s.end() == s.data.len() {
            s.compact();
        }
        let end = s.end();
        &mut s.data[end..]
    }

    /// `n` bytes were written into the last [`Buf::spare`].
    pub fn commit(&mut self, n: usize) {
        let Some(s) = self.st.as_mut() else {
            assert_eq!(n, 0, "commit past the storage");
            return;
        };
        assert!(s.end() + n <= s.data.len(), "commit past the storage");
        s.set(s.start(), s.end() + n);
    }

    /// Appends `bytes`. Callers bound what they add by [`Buf::room`]; a few bytes of
    /// framing over it (or an oversized page) grow the storage rather than being lost.
    pub fn extend(&mut self, pools: &Pools, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let s = self.st.get_or_insert_with(|| pools.take());
        if s.end() + bytes.len() > s.data.len() {
            let need = s.len() + bytes.len();
            if need > s.data.len() {
                // The bigger one is not pooled again (its size is not the pool's): freed
                // on release. The pool-sized one goes back now.
                let mut bigger = vec![0; need].into_boxed_slice();
                bigger[..s.len()].copy_from_slice(&s.data[s.start()..s.end()]);
                let len = s.len();
                pools.keep(std::mem::replace(&mut s.data, bigger));
                s.set(0, len);
            } else {
                s.compact();
            }
        }
        let end = s.end();
        s.data[end..end + bytes.len()].copy_from_slice(bytes);
        s.set(s.start(), end + bytes.len());
    }

    /// Lets `f` append through the shard's scratch vector (serialisers that write a `Vec`).
    pub fn append_with(&mut self, pools: &Pools, f: impl FnOnce(&mut Vec<u8>)) {
        let mut scratch = pools.scratch.borrow_mut();
        scratch.clear();
        f(&mut scratch);
        self.extend(pools, &scratch);
    }

    /// Keeps only the first `len` bytes held.
    pub fn truncate(&mut self, len: usize) {
        if let Some(s) = self.st.as_mut() {
            if len < s.len() {
                s.set(s.start(), s.start() + len);
            }
        }
    }

    /// Drops everything held.
    pub fn clear(&mut self) {
        if let Some(s) = self.st.as_mut() {
            s.set(0, 0);
        }
    }

    /// Gives the storage back when nothing is held.
    pub fn release(&mut self, pools: &Pools) {
        if self.is_empty() {
            if let Some(s) = self.st.take() {
                pools.give(s);
            }
        }
    }

    /// Whether storage is held.
    pub fn is_allocated(&self) -> bool {
        self.st.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_is_one_pointer() {
        assert_eq!(std::mem::size_of::<Buf>(), std::mem::size_of::<usize>());
    }

    #[test]
    fn fifo_with_compaction_and_release() {
        let pools = Pools::new(8);
        let mut b = Buf::new();
        assert!(!b.is_allocated());
        b.spare(&pools)[..5].copy_from_slice(b"hello");
        b.commit(5);
        assert_eq!(b.bytes(), b"hello");
        b.consume(3);
        assert_eq!(b.spare(&pools).len(), 3);
        b.commit(3);
        // Tail used up: the next spare compacts.
        assert_eq!(b.spare(&pools).len(), 3);
        assert_eq!(b.len(), 5);
        assert_eq!(pools.buffers_in_use(), 1);
        b.release(&pools);
        assert!(b.is_allocated(), "bytes held: kept");
        b.consume(5);
        b.release(&pools);
        assert!(!b.is_allocated());
        assert_eq!((pools.buffers_in_use(), pools.free_buffers()), (0, 1));
    }

    #[test]
    fn extend_keeps_order_and_grows_past_capacity() {
        let pools = Pools::new(4);
        let mut b = Buf::new();
        b.extend(&pools, b"ab");
        b.consume(1);
        b.extend(&pools, b"cdef");
        assert_eq!(b.bytes(), b"bcdef");
        assert!(b.is_full(&pools));
        assert_eq!(b.room(&pools), 0);
        b.consume(5);
        b.append_with(&pools, |v| v.extend_from_slice(b"xy"));
        assert_eq!(b.bytes(), b"xy");
        b.consume(2);
        b.release(&pools);
        // The oversized storage is not pooled; the original one was.
        assert_eq!(pools.free_buffers(), 1);
    }

    #[test]
    fn pool_is_bounded_and_trims_what_was_not_needed() {
        let pools = Pools::new(16);
        let taken: Vec<_> = (0..BUFS_FREE_MAX + 10).map(|_| pools.take()).collect();
        for b in taken {
            pools.give(b);
        }
        assert_eq!(pools.free_buffers(), BUFS_FREE_MAX, "bounded");
        assert_eq!(pools.buffers_in_use(), 0);
        // First trim: the low-water mark starts at 0 after the takes, nothing to drop yet.
        pools.trim();
        // A quiet interval: every free buffer stayed unused and goes back.
        assert_eq!(pools.trim(), BUFS_FREE_MAX);
        assert_eq!(pools.free_buffers(), 0);
        // Busy interval: buffers that were needed are kept.
        let a = pools.take();
        let b = pools.take();
        pools.give(a);
        pools.give(b);
        pools.trim();
        assert_eq!(pools.free_buffers(), 2);
        let c = pools.take();
        pools.give(c);
        assert_eq!(pools.trim(), 1, "one of the two was never needed");
    }

    #[test]
    fn release_free_empties_the_pools() {
        let pools = Pools::new(16);
        let a = pools.take();
        pools.give(a);
        pools.give_head(HeadBuf::new());
        pools.release_free();
        assert_eq!((pools.free_buffers(), pools.heads.borrow().len()), (0, 0));
    }

    #[test]
    fn heads_are_recycled_and_bounded() {
        let pools = Pools::new(16);
        for _ in 0..HEADS_FREE_MAX + 5 {
            pools.give_head(HeadBuf::new());
        }
        assert_eq!(pools.heads.borrow().len(), HEADS_FREE_MAX);
        let _ = pools.take_head();
        assert_eq!(pools.heads.borrow().len(), HEADS_FREE_MAX - 1);
    }
}
