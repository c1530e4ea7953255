//! [`Buf`]: a bounded byte buffer that a machine reads into and transmits from.
//!
//! Bytes `[start, end)` are held; reads append at `end`, consumers take from `start`. The
//! storage is allocated on first use and given back whenever the buffer is empty and
//! [`Buf::release`] is called, so a stream between messages holds no data buffer.

/// A bounded FIFO of bytes with lazily allocated storage.
#[derive(Debug, Default)]
pub struct Buf {
    data: Vec<u8>,
    start: usize,
    end: usize,
    capacity: usize,
}

impl Buf {
    /// An empty buffer that holds at most `capacity` bytes (allocated on first use).
    pub fn new(capacity: usize) -> Self {
        Buf {
            data: Vec::new(),
            start: 0,
            end: 0,
            capacity,
        }
    }

    /// The bytes held.
    pub fn bytes(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Whether no byte can be added even after compaction.
    pub fn is_full(&self) -> bool {
        self.len() >= self.capacity
    }

    /// The most bytes this buffer holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Drops `n` bytes from the front.
    pub fn consume(&mut self, n: usize) {
        assert!(n <= self.len(), "consume {n} of {}", self.len());
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Free room at the end (compacting first when the tail is used up); empty when full.
    pub fn spare(&mut self) -> &mut [u8] {
        if self.data.len() < self.capacity {
            // Zero-filled once per allocation: reads need initialised memory.
            self.data.resize(self.capacity, 0);
        }
        if self.end == self.capacity && self.start > 0 {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        &mut self.data[self.end..]
    }

    /// `n` bytes were written into the last [`Buf::spare`].
    pub fn commit(&mut self, n: usize) {
        assert!(self.end + n <= self.data.len(), "commit past the storage");
        self.end += n;
    }

    /// Appends `bytes`; the caller checked the room ([`Buf::room`]). Bytes over the capacity
    /// are still kept (heads and error pages are bounded elsewhere) so nothing is lost.
    pub fn extend(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.end + bytes.len() > self.data.len() {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        self.data.truncate(self.end);
        self.data.extend_from_slice(bytes);
        self.end += bytes.len();
    }

    /// Lets `f` append to the held bytes directly (serialisers that write into a `Vec`).
    pub fn append_with(&mut self, f: impl FnOnce(&mut Vec<u8>)) {
        if self.start > 0 && self.is_empty() {
            self.start = 0;
            self.end = 0;
        }
        self.data.truncate(self.end);
        f(&mut self.data);
        self.end = self.data.len();
    }

    /// Bytes that can still be added within the capacity.
    pub fn room(&self) -> usize {
        self.capacity.saturating_sub(self.len())
    }

    /// Keeps only the first `len` bytes held.
    pub fn truncate(&mut self, len: usize) {
        if len < self.len() {
            self.end = self.start + len;
        }
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Drops everything held.
    pub fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    /// Gives the storage back when nothing is held.
    pub fn release(&mut self) {
        if self.is_empty() {
            self.data = Vec::new();
        }
    }

    /// Whether storage is allocated.
    pub fn is_allocated(&self) -> bool {
        self.data.capacity() > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_with_compaction() {
        let mut b = Buf::new(8);
        assert!(!b.is_allocated());
        b.spare()[..5].copy_from_slice(b"hello");
        b.commit(5);
        assert_eq!(b.bytes(), b"hello");
        b.consume(3);
        assert_eq!(b.bytes(), b"lo");
        assert_eq!(b.spare().len(), 3);
        b.commit(3);
        // Tail used up: the next spare compacts.
        assert_eq!(b.spare().len(), 3);
        assert_eq!(b.len(), 5);
        b.consume(5);
        assert!(b.is_empty());
        b.release();
        assert!(!b.is_allocated());
    }

    #[test]
    fn extend_keeps_order() {
        let mut b = Buf::new(4);
        b.extend(b"ab");
        b.consume(1);
        b.extend(b"cdef");
        assert_eq!(b.bytes(), b"bcdef");
        assert!(b.is_full());
        assert_eq!(b.room(), 0);
        b.consume(5);
        b.spare()[..2].copy_from_slice(b"xy");
        b.commit(2);
        assert_eq!(b.bytes(), b"xy");
    }

    #[test]
    fn release_keeps_held_bytes() {
        let mut b = Buf::new(4);
        b.extend(b"z");
        b.release();
        assert_eq!(b.bytes(), b"z");
    }
}
