//! What travels between the control plane and the shards, imported by both sides (so
//! neither imports the other): the ring messages, the per-shard counters, server views, and
//! how process-wide limits split into per-shard shares.
//!
//! - [`msg`]: commands, replies and events on the rings, server views.
//! - [`counters`]: per-shard counters merged by the control plane.

pub mod counters;
pub mod msg;

/// This shard's share of a server `maxconn` (0 = unlimited).
pub fn server_share(maxconn: u32, shards: usize, index: usize) -> u32 {
    if maxconn == 0 {
        u32::MAX
    } else {
        // At least one slot per shard, or a shard could never use the server at all; the
        // process-wide limit can then be exceeded by at most shards - 1 (documented).
        share(maxconn, shards, index).max(1)
    }
}

/// Splits a global limit into `shards` budgets whose sum is exactly `total`
/// (the first `total % shards` shards get one more).
pub fn share(total: u32, shards: usize, index: usize) -> u32 {
    let shards = shards.max(1) as u32;
    let base = total / shards;
    base + u32::from((index as u32) < total % shards)
}
