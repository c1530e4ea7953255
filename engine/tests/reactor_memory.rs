//! The room a burst of I/O sources takes in glommio's reactor is given back when the
//! shard asks (third_party/glommio/PATCHES.md, patch 15): upstream the source map, a slab,
//! only grows, so 9 600 streams left ~300 KiB per shard for good, and the shards' RSS after
//! a burst did not come back to what it was before.
//!
//! [`SOURCES`] readiness waits on one pipe stand for a burst's armed polls (one source
//! each, as a stream's); a byte on the pipe completes them all. Counted, not timed.

use std::cell::Cell;
use std::os::fd::AsFd;
use std::rc::Rc;

use glommio::{LocalExecutorBuilder, Placement};

/// Sources armed at once: well past the source map's initial room (8 192 slots).
const SOURCES: usize = 20_000;
/// The source map's initial room, which a shrink never goes below.
const INITIAL_SLOTS: usize = 8 << 10;

#[test]
fn the_reactor_gives_back_the_room_of_a_burst_of_sources() {
    LocalExecutorBuilder::new(Placement::Unbound)
        .name("burst")
        .spawn(|| async {
            let (read, write) = nix::unistd::pipe().expect("pipe");
            let read = Rc::new(read);
            let armed = Rc::new(Cell::new(0usize));
            let waits: Vec<_> = (0..SOURCES)
                .map(|_| {
                    let (read, armed) = (read.clone(), armed.clone());
                    glommio::spawn_local(async move {
                        armed.set(armed.get() + 1);
                        glommio::net::readable(read.as_fd())
                            .await
                            .expect("readable");
                    })
                })
                .collect();
            // Bounded: every task arms its wait on its first poll.
            for _ in 0..SOURCES {
                if armed.get() == SOURCES {
                    break;
                }
                futures_lite::future::yield_now().await;
            }
            assert_eq!(armed.get(), SOURCES);
            let peak = glommio::executor().source_slots();
            assert!(peak >= SOURCES, "{peak} slots for {SOURCES} sources");
            nix::unistd::write(&write, b"x").expect("write");
            for w in waits {
                w.await;
            }
            glommio::executor().shrink_memory();
            let after = glommio::executor().source_slots();
            assert!(
                after <= INITIAL_SLOTS,
                "{after} slots kept after the burst (peak {peak})"
            );
        })
        .expect("executor")
        .join()
        .expect("join");
}
