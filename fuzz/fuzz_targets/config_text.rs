//! Fuzz target: `percore_conf::fuzzing::config_text` runs the configuration pipeline on
//! arbitrary text up to 64 KiB (no panic, deterministic, every error positioned inside the
//! text as `FILE:LINE:COL`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    percore_conf::fuzzing::config_text(data);
});
