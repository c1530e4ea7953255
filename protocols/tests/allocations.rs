//! Counts the heap allocations of a typical exchange through the HTTP/1 codec, with a counting
//! global allocator: a GET parsed, given `X-Forwarded-For` and `X-Forwarded-Proto`, written,
//! and a chunked body decoded. The allocator counts per thread: the test harness's own
//! threads allocate now and then while a test runs (a global count failed this test about
//! one run in a hundred under load with 2 allocations nobody here made).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use percore_protocols::http1::{
    BodyDecoder, BodyFraming, ConnectionHeader, HeadBuf, HeadScan, Limits, RequestHead,
};

/// The system allocator, counting the allocations and reallocations of each thread.
struct Counting;

thread_local! {
    /// (allocations, reallocations) made by this thread. A const-initialised `Cell` needs
    /// no allocation to reach, so the allocator may use it.
    static MADE: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

fn count(allocation: u64, reallocation: u64) {
    // `try_with`: a thread being torn down may still free or allocate.
    let _ = MADE.try_with(|m| {
        let (a, r) = m.get();
        m.set((a + allocation, r + reallocation));
    });
}

// SAFETY: every call is passed to `System` unchanged; the counting touches no heap memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(1, 0);
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(1, 0);
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(0, 1);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// What this thread allocated since it was made.
#[derive(Debug, Clone, Copy)]
struct Stats {
    allocations: u64,
    reallocations: u64,
}

/// Counts this thread's allocations from the moment it is made.
struct Region((u64, u64));

impl Region {
    fn new() -> Self {
        Region(MADE.with(Cell::get))
    }

    fn change(&self) -> Stats {
        let (a, r) = MADE.with(Cell::get);
        Stats {
            allocations: a - self.0 .0,
            reallocations: r - self.0 .1,
        }
    }
}

const GET: &[u8] = b"GET /index.html?lang=en HTTP/1.1\r\nHost: www.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0\r\n\
Accept: text/html,application/xhtml+xml\r\nAccept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br\r\nConnection: keep-alive\r\nCookie: a=b; c=d\r\n\r\n";

/// Parses, edits and writes `GET` with the given storage; returns the head.
fn exchange(scan: &mut HeadScan, spare: &mut HeadBuf, out: &mut Vec<u8>) -> RequestHead {
    let (mut head, consumed) = scan
        .handle_request(GET, &Limits::DEFAULT, spare)
        .expect("valid")
        .expect("complete");
    assert_eq!(consumed, GET.len());
    head.add_header("X-Forwarded-For", b"192.0.2.44")
        .expect("add");
    head.set_header("X-Forwarded-Proto", b"https").expect("set");
    out.clear();
    head.write(ConnectionHeader::Omit, out);
    head
}

#[test]
fn allocations_per_exchange() {
    // Warm up whatever std initialises lazily.
    let mut out = Vec::new();
    let mut spare = HeadBuf::new();
    let head = exchange(&mut HeadScan::new(), &mut spare, &mut out);
    spare = head.into_buf();

    // A fresh stream: new storage, new write buffer.
    let region = Region::new();
    let mut fresh_out = Vec::new();
    let head = exchange(&mut HeadScan::new(), &mut HeadBuf::new(), &mut fresh_out);
    let fresh = region.change();
    drop(head);
    // Head bytes, span records, write buffer.
    assert_eq!(fresh.allocations, 3, "{fresh:?}");
    assert_eq!(fresh.reallocations, 0, "{fresh:?}");

    // Steady state: recycled storage and write buffer.
    let region = Region::new();
    for _ in 0..100 {
        let head = exchange(&mut HeadScan::new(), &mut spare, &mut out);
        spare = head.into_buf();
    }
    let steady = region.change();
    assert_eq!(steady.allocations + steady.reallocations, 0, "{steady:?}");

    // Bodies: decoding allocates nothing.
    let body = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-T: 1\r\n\r\n";
    let region = Region::new();
    let mut decoder = BodyDecoder::new(BodyFraming::Chunked);
    let mut at = 0;
    let mut payload = 0;
    while !decoder.is_finished() {
        let step = decoder.handle_input(&body[at..]).expect("valid");
        payload += step.payload.len();
        at += step.consumed;
    }
    assert_eq!(payload, 11);
    assert_eq!(region.change().allocations, 0);
}
