//! Fuzz target: `percore_protocols::proxy::fuzzing::proxy_header` asserts the PROXY v1/v2
//! decoder's invariants on arbitrary bytes (no panic, prefixes agree with the whole, consumed
//! ≤ input, announced addresses re-encode and decode back).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    percore_protocols::proxy::fuzzing::proxy_header(data);
});
