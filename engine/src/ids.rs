//! Identifier newtypes shared by shards and the control plane.

use std::fmt;

/// Index of a shard (0-based, in `global.shards` order); not a CPU id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct ShardId(pub u16);

/// A stream's process-wide id: `shard << 48 | sequence`, printed in hex like HAProxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct StreamId(pub u64);

impl StreamId {
    /// Bits left for the per-shard sequence number.
    pub const SEQUENCE_BITS: u32 = 48;

    /// Builds the id of the `sequence`-th stream of `shard`.
    pub fn new(shard: ShardId, sequence: u64) -> Self {
        StreamId((shard.0 as u64) << Self::SEQUENCE_BITS | (sequence & ((1 << 48) - 1)))
    }

    /// The shard that owns this stream; commands naming it are routed there only.
    pub fn shard(self) -> ShardId {
        ShardId((self.0 >> Self::SEQUENCE_BITS) as u16)
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::Display for ShardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A server, as (backend index, server index) into the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ServerKey {
    /// Index into `Config::backends`.
    pub backend: usize,
    /// Index into that backend's `servers`.
    pub server: usize,
}

/// Correlates a command with the replies of every shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CommandId(pub u64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_id_round_trips_shard() {
        let id = StreamId::new(ShardId(1), 42);
        assert_eq!(id.shard(), ShardId(1));
        assert_eq!(id.to_string(), "0x100000000002a");
    }
}

/// A limit whose slots the shards own in parts (exact process-wide `maxconn`s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlotPool {
    /// `global.maxconn`.
    Global,
    /// A frontend's `maxconn`, by frontend index.
    Frontend(usize),
    /// A server's `maxconn`.
    Server(ServerKey),
}
