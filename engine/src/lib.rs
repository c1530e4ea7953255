//! percore: a thread-per-core, share-nothing TCP reverse proxy and load balancer on glommio.
//!
//! - [`accept`]: cancel-safe accepts (readiness wait, then a non-blocking `accept4`).
//! - [`runtime`]: `percore run`: bind, start shards and the control plane, signals, stop.
//! - [`shard`]: one pinned executor and everything it owns (the data path).
//! - [`stream`]: each stream's logic as a pure state machine (no sockets, no clock).
//! - [`control`]: the control plane thread, the only code that talks to several shards.
//! - [`rings`]: what travels between the control plane and the shards (both import it).
//! - [`executor`]: glommio executor set-up facts.
//! - [`ids`]: identifier newtypes shared by both.
//! - [`termination`]: HAProxy-style termination flags.
//! - [`logging`]: process log and access log.
//! - [`origin`]: the small built-in HTTP origin used by `percore demo`.
//! - [`demo`]: `percore demo`.
//! - [`ctl`]: `percore ctl`, the admin socket client.
//! - [`output`]: stdout and stderr writes that survive a closed pipe.
//! - [`upgrade`]: binary upgrade: the socket hand-over between the old and the new process.
//! - [`fds`]: the descriptor ceiling (`ulimit -n` against what the configuration needs).

pub mod accept;
pub mod control;
pub mod ctl;
pub mod demo;
pub mod executor;
pub mod fds;
pub mod ids;
pub mod logging;
pub mod origin;
pub mod output;
pub mod rings;
pub mod runtime;
pub mod shard;
pub mod stream;
pub mod table_stats;
pub mod termination;
pub mod tls;
pub mod upgrade;
