//! Counts the heap allocations of a typical exchange through the HTTP/1 codec, with a counting
//! global allocator: a GET parsed, given `X-Forwarded-For` and `X-Forwarded-Proto`, written,
//! and a chunked body decoded. One test only, so no other test allocates meanwhile.

use std::alloc::System;

use percore_protocols::http1::{
    BodyDecoder, BodyFraming, ConnectionHeader, HeadBuf, HeadScan, Limits, RequestHead,
};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

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
    let region = Region::new(GLOBAL);
    let mut fresh_out = Vec::new();
    let head = exchange(&mut HeadScan::new(), &mut HeadBuf::new(), &mut fresh_out);
    let fresh = region.change();
    drop(head);
    // Head bytes, span records, write buffer.
    assert_eq!(fresh.allocations, 3, "{fresh:?}");
    assert_eq!(fresh.reallocations, 0, "{fresh:?}");

    // Steady state: recycled storage and write buffer.
    let region = Region::new(GLOBAL);
    for _ in 0..100 {
        let head = exchange(&mut HeadScan::new(), &mut spare, &mut out);
        spare = head.into_buf();
    }
    let steady = region.change();
    assert_eq!(steady.allocations + steady.reallocations, 0, "{steady:?}");

    // Bodies: decoding allocates nothing.
    let body = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-T: 1\r\n\r\n";
    let region = Region::new(GLOBAL);
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
