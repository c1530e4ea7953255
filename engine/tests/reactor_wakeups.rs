//! The vendored reactor never loses a wake-up (third_party/glommio/PATCHES.md, patch 4).
//!
//! Two executors play ping-pong over `thingbuf` rings, the way the control plane talks to
//! its shards. The receiving side is driven through every way a reactor turn can end:
//! asleep with no timer, asleep with a user timer pending, busy with a preemption timer
//! armed, and woken from a `Latency::Matters` queue (forced eventfd write) or a normal one
//! (the `should_notify` handshake). A lost wake-up leaves a round trip unanswered; the
//! sender gives each one a generous bound, counts the ones that miss it and the test
//! asserts that none did. The bound detects a hang, it measures nothing.

use std::time::{Duration, Instant};

use glommio::timer::{sleep, timeout};
use glommio::{Latency, LocalExecutorBuilder, Placement, Shares};
use thingbuf::mpsc::{channel, Receiver, Sender};

/// Round trips per variation: enough to hit each sleep path many thousand times.
const ROUND_TRIPS: u32 = 6_000;
/// A round trip that takes this long was lost (it normally takes microseconds).
const LOST_AFTER: Duration = Duration::from_secs(3);

/// How the echo side spends its time between messages.
#[derive(Clone, Copy, Debug)]
enum Echo {
    /// Only the echo task: it sleeps with no timer armed.
    Idle,
    /// A background task keeps a short user timer pending, so sleeps arm a timer.
    Timers,
    /// A background task keeps the executor busy, so the preemption timer is armed and
    /// kept across turns.
    Busy,
}

/// One variation: which queue the echo task runs in and what else the executor does.
#[derive(Clone, Copy, Debug)]
struct Case {
    latency_matters: bool,
    echo: Echo,
}

fn pause_for(i: u32) -> Duration {
    // A spread of pauses: none (the echo side is still awake), a few microseconds (it is
    // going to sleep), longer (it is asleep).
    Duration::from_micros([0, 0, 3, 10, 40, 150, 600][(i % 7) as usize])
}

async fn echo_loop(rx: Receiver<u32>, tx: Sender<u32>) {
    while let Some(n) = rx.recv().await {
        if tx.send(n).await.is_err() {
            break;
        }
    }
}

async fn background(echo: Echo, until: Instant) {
    let mut i = 0u32;
    while Instant::now() < until {
        match echo {
            Echo::Idle => return,
            Echo::Timers => sleep(Duration::from_micros(50 + u64::from(i % 5) * 170)).await,
            Echo::Busy => {
                let spin = Instant::now();
                while spin.elapsed() < Duration::from_micros(30 + u64::from(i % 4) * 60) {}
                glommio::yield_if_needed().await;
                if i.is_multiple_of(16) {
                    sleep(Duration::from_micros(200)).await;
                }
            }
        }
        i += 1;
    }
}

fn run_echo(case: Case, rx: Receiver<u32>, tx: Sender<u32>, until: Instant) {
    let ex = LocalExecutorBuilder::new(Placement::Unbound)
        .name("echo")
        .spawn(move || async move {
            let latency = if case.latency_matters {
                Latency::Matters(Duration::from_millis(1))
            } else {
                Latency::NotImportant
            };
            let tq = glommio::executor().create_task_queue(Shares::default(), latency, "echo");
            let bg = glommio::spawn_local(background(case.echo, until));
            glommio::spawn_local_into(echo_loop(rx, tx), tq)
                .expect("spawn echo")
                .await;
            drop(bg);
        })
        .expect("echo executor");
    ex.join().expect("echo executor ran");
}

/// Returns how many round trips missed [`LOST_AFTER`], or what broke the exchange.
fn ping(case: Case) -> Result<u32, String> {
    let (to_echo, echo_rx) = channel::<u32>(64);
    let (echo_tx, from_echo) = channel::<u32>(64);
    let until = Instant::now() + Duration::from_secs(60);
    let echo = std::thread::spawn(move || run_echo(case, echo_rx, echo_tx, until));
    let pinger = LocalExecutorBuilder::new(Placement::Unbound)
        .name("ping")
        .spawn(move || async move {
            let mut lost = 0;
            for i in 0..ROUND_TRIPS {
                let pause = pause_for(i);
                if !pause.is_zero() {
                    sleep(pause).await;
                }
                if to_echo.send(i).await.is_err() {
                    return Err(format!("round trip {i}: the echo side is gone"));
                }
                match timeout(LOST_AFTER, async { Ok(from_echo.recv().await) }).await {
                    Ok(Some(n)) if n == i => {}
                    Ok(other) => return Err(format!("round trip {i}: got {other:?}")),
                    Err(_) => {
                        lost += 1;
                        // The reply may still come once something else wakes the echo
                        // side; drain it so the next round trip pairs up.
                        let _ = timeout(LOST_AFTER * 5, async { Ok(from_echo.recv().await) }).await;
                    }
                }
            }
            drop(to_echo);
            Ok(lost)
        })
        .expect("ping executor");
    let lost = pinger.join().expect("ping executor ran");
    echo.join().expect("echo thread");
    lost
}

fn check(case: Case) {
    let lost = ping(case).unwrap_or_else(|e| panic!("{case:?}: {e}"));
    assert_eq!(
        lost, 0,
        "{case:?}: {lost} of {ROUND_TRIPS} round trips lost a wake-up"
    );
}

#[test]
fn idle_echo_in_a_latency_queue_is_always_woken() {
    check(Case {
        latency_matters: true,
        echo: Echo::Idle,
    });
}

#[test]
fn idle_echo_in_a_normal_queue_is_always_woken() {
    check(Case {
        latency_matters: false,
        echo: Echo::Idle,
    });
}

#[test]
fn echo_sleeping_on_a_user_timer_is_always_woken() {
    check(Case {
        latency_matters: false,
        echo: Echo::Timers,
    });
    check(Case {
        latency_matters: true,
        echo: Echo::Timers,
    });
}

#[test]
fn busy_echo_with_a_kept_preemption_timer_is_always_woken() {
    check(Case {
        latency_matters: false,
        echo: Echo::Busy,
    });
    check(Case {
        latency_matters: true,
        echo: Echo::Busy,
    });
}
