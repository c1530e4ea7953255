//! Fuzz target: `percore_admin::fuzzing::admin_command` runs the admin command grammar on
//! arbitrary socket bytes at every level (no panic, deterministic, levels monotone, error
//! replies non-empty and free of the reply terminator).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    percore_admin::fuzzing::admin_command(data);
});
