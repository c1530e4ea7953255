//! Fuzz target: `percore_protocols::http1::fuzzing::chunked` asserts the codec's invariants on
//! arbitrary bytes (no panic, consumed ≤ input, split-independence, re-serialised heads
//! re-parse to the same head).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    percore_protocols::http1::fuzzing::chunked(data);
});
