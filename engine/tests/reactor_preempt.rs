//! A `Latency::Matters` task woken from another thread runs at the next task boundary of a
//! busy executor, not after the busy queue's whole round (third_party/glommio/PATCHES.md,
//! patch 13). That is what lets a shard's control task fence and answer a kill while the
//! data path is saturated.
//!
//! The busy executor runs [`BUSY_TASKS`] tasks in a normal queue, each spinning a little
//! and yielding, so its queue always has a full round of runnable work. A control task in
//! a latency queue waits on a `thingbuf` ring, as the shard's control task does. Another
//! thread sends it a message and notes how many busy polls had run; the control task notes
//! the count again when the message arrives. The difference is the number of busy polls
//! that ran ahead of it: counted, not timed. Upstream it is about a round (the wake-up was
//! seen only at the next reactor turn, and the woken queue was then put behind the running
//! one).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use glommio::{Latency, LocalExecutorBuilder, Placement, Shares};
use thingbuf::mpsc::channel;

/// Runnable tasks in the busy queue: one round of them is what a late control task waits.
const BUSY_TASKS: u64 = 40;
/// Messages sent to the control task.
const MESSAGES: u32 = 40;
/// Busy polls allowed between the send and the receipt: the one running when the message
/// is sent, and one more for the reactor turn's race with the sender's count.
const ALLOWED_AHEAD: u64 = 3;

/// One busy task: spins about 50 µs per poll so a round is ~2 ms, and counts its polls.
async fn busy(polls: Arc<AtomicU64>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let spin = Instant::now();
        while spin.elapsed() < Duration::from_micros(50) {}
        polls.fetch_add(1, Ordering::Relaxed);
        futures_lite::future::yield_now().await;
    }
}

#[test]
fn a_foreign_wake_of_a_latency_task_preempts_a_busy_queue() {
    let (tx, rx) = channel::<u64>(4);
    let polls = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (p, s) = (polls.clone(), stop.clone());
    let shard = LocalExecutorBuilder::new(Placement::Unbound)
        .name("busy")
        .spawn(move || async move {
            let data = glommio::executor().create_task_queue(
                Shares::Static(1000),
                Latency::NotImportant,
                "data",
            );
            let control = glommio::executor().create_task_queue(
                Shares::Static(1000),
                Latency::Matters(Duration::from_millis(1)),
                "control",
            );
            for _ in 0..BUSY_TASKS {
                glommio::spawn_local_into(busy(p.clone(), s.clone()), data)
                    .expect("spawn busy")
                    .detach();
            }
            let ahead = glommio::spawn_local_into(
                async move {
                    let mut ahead = Vec::new();
                    while let Some(at_send) = rx.recv().await {
                        ahead.push(p.load(Ordering::Relaxed).saturating_sub(at_send));
                    }
                    ahead
                },
                control,
            )
            .expect("spawn control")
            .await;
            s.store(true, Ordering::Relaxed);
            ahead
        })
        .expect("busy executor");
    for _ in 0..MESSAGES {
        // Let the busy queue get into its stride (the count moves) before each message.
        let start = polls.load(Ordering::Relaxed);
        let bound = Instant::now() + Duration::from_secs(10);
        while polls.load(Ordering::Relaxed) < start + 2 * BUSY_TASKS && Instant::now() < bound {
            std::thread::yield_now();
        }
        if tx.try_send(polls.load(Ordering::Relaxed)).is_err() {
            stop.store(true, Ordering::Relaxed);
            panic!("the latency task left 4 messages unread for two busy rounds each");
        }
    }
    drop(tx);
    let ahead = shard.join().expect("busy executor ran");
    assert_eq!(ahead.len(), MESSAGES as usize);
    let worst = ahead.iter().copied().max().unwrap_or(0);
    assert!(
        worst <= ALLOWED_AHEAD,
        "busy polls run ahead of a woken latency task: {ahead:?} (a round is {BUSY_TASKS})"
    );
}
