//! Fuzz target: `percore::stream::fuzzing::tcp_stream` drives the TCP stream machine through
//! an operation sequence decoded from arbitrary bytes (both peers' bytes in arbitrary
//! pieces, EOFs, resets, write windows and errors, connect answers, clock steps, parks) and
//! checks its buffer bound and accounting after every step.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    percore::stream::fuzzing::tcp_stream(data);
});
