//! [`Deadlines`]: the shard's timer wheel for stream deadlines.
//!
//! Every stream has at most one deadline (its machine's `poll_timeout`). A glommio `Timer`
//! per stream cost 192 bytes of every idle connection (the timer's shared cell and its
//! share of the reactor's B-tree) and a tree update per move; here a stream's deadline is a
//! 16-byte entry in one of [`SLOTS`] buckets of a hashed wheel with [`TICK`] resolution,
//! plus its waker, and the shard sleeps on one reactor timer for the earliest of them.
//!
//! Sans-io: the caller passes `now`. A deadline fires at the first tick at or after it, so
//! never early and at most one tick late (plus the reactor's own timer latency). Entries
//! further away than one turn of the wheel wait in their bucket and are skipped until due.
//!
//! Owners are small integers (the stream table's slots); an owner's place in its bucket
//! is kept beside its waker, so arming, moving and disarming are O(1).

use std::task::Waker;
use std::time::{Duration, Instant};

/// Resolution of the wheel.
pub const TICK: Duration = Duration::from_millis(1);

/// Buckets in the wheel: one turn is `SLOTS × TICK` (1.024 s).
pub const SLOTS: usize = 1024;

/// One armed deadline in a bucket.
#[derive(Debug, Clone, Copy)]
struct Entry {
    tick: u64,
    owner: u32,
}

/// What the wheel knows of one owner: 32 bytes (an `Option<(u64, u32)>` would make it 40).
#[derive(Debug)]
struct Owner {
    /// Tick of the armed deadline; [`DISARMED`] when none.
    tick: u64,
    /// Index of the entry in its bucket while armed.
    index: u32,
    /// Woken when the deadline fires; kept while disarmed so re-arming does not clone.
    waker: Option<Waker>,
}

/// [`Owner::tick`] of an owner with no deadline armed.
const DISARMED: u64 = u64::MAX;

impl Default for Owner {
    fn default() -> Self {
        Owner {
            tick: DISARMED,
            index: 0,
            waker: None,
        }
    }
}

impl Owner {
    /// `(tick, index)` while armed.
    fn armed(&self) -> Option<(u64, u32)> {
        (self.tick != DISARMED).then_some((self.tick, self.index))
    }

    fn take_armed(&mut self) -> Option<(u64, u32)> {
        let armed = self.armed();
        self.tick = DISARMED;
        armed
    }
}

/// A hashed timer wheel of stream deadlines.
#[derive(Debug)]
pub struct Deadlines {
    epoch: Instant,
    buckets: Vec<Vec<Entry>>,
    /// Earliest tick of each bucket's entries (`u64::MAX`: empty). May be early after a
    /// disarm; an expiry pass over the bucket makes it exact again.
    bucket_min: Vec<u64>,
    owners: Vec<Owner>,
    /// Every tick below this one has been expired.
    done: u64,
    armed: usize,
}

impl Deadlines {
    /// An empty wheel whose tick 0 is `epoch`.
    pub fn new(epoch: Instant) -> Self {
        Deadlines {
            epoch,
            buckets: (0..SLOTS).map(|_| Vec::new()).collect(),
            bucket_min: vec![u64::MAX; SLOTS],
            owners: Vec::new(),
            done: 0,
            armed: 0,
        }
    }

    /// Armed deadlines.
    pub fn len(&self) -> usize {
        self.armed
    }

    /// True when nothing is armed.
    pub fn is_empty(&self) -> bool {
        self.armed == 0
    }

    /// Arms (or moves) `owner`'s deadline to `at`; `waker` is woken once it has passed.
    pub fn arm(&mut self, owner: u32, at: Instant, waker: &Waker) {
        let tick = self.tick_at_or_after(at).max(self.done);
        let o = self.owner_mut(owner);
        match &o.waker {
            Some(w) if w.will_wake(waker) => {}
            _ => o.waker = Some(waker.clone()),
        }
        if o.tick == tick {
            return;
        }
        self.unlink(owner);
        let b = bucket(tick);
        let index = u32::try_from(self.buckets[b].len()).expect("fewer than 2^32 streams");
        self.buckets[b].push(Entry { tick, owner });
        let o = &mut self.owners[owner as usize];
        (o.tick, o.index) = (tick, index);
        self.armed += 1;
        self.bucket_min[b] = self.bucket_min[b].min(tick);
    }

    /// When `owner`'s armed deadline fires (its tick's start), if one is armed.
    pub fn armed_at(&self, owner: u32) -> Option<Instant> {
        let (tick, _) = self.owners.get(owner as usize)?.armed()?;
        Some(self.epoch + tick_time(tick))
    }

    /// Disarms `owner` and forgets its waker (its stream ended).
    pub fn remove(&mut self, owner: u32) {
        self.unlink(owner);
        if let Some(o) = self.owners.get_mut(owner as usize) {
            o.waker = None;
        }
    }

    /// Gives back the memory of owners from `owners` on (none of them may be armed) and of
    /// buckets sized for a burst.
    pub fn shrink(&mut self, owners: usize) {
        debug_assert!(self.owners.iter().skip(owners).all(|o| o.armed().is_none()));
        self.owners.truncate(owners);
        self.owners.shrink_to_fit();
        for b in &mut self.buckets {
            b.shrink_to_fit();
        }
    }

    /// Takes every deadline due at `now` out of the wheel and appends its waker to `due`.
    pub fn expire(&mut self, now: Instant, due: &mut Vec<Waker>) {
        let Some(now_tick) = now.checked_duration_since(self.epoch).map(ticks_floor) else {
            return;
        };
        if now_tick < self.done {
            return;
        }
        // One turn visits every bucket: further ticks map onto buckets already visited.
        let last = now_tick.min(self.done + SLOTS as u64 - 1);
        for tick in self.done..=last {
            if self.bucket_min[bucket(tick)] <= now_tick {
                self.expire_bucket(bucket(tick), now_tick, due);
            }
        }
        self.done = now_tick + 1;
    }

    /// When the earliest armed deadline is due.
    pub fn next(&self) -> Option<Instant> {
        self.next_tick().map(|t| self.epoch + tick_time(t))
    }

    fn next_tick(&self) -> Option<u64> {
        if self.armed == 0 {
            return None;
        }
        self.bucket_min.iter().copied().min()
    }

    fn expire_bucket(&mut self, b: usize, now_tick: u64, due: &mut Vec<Waker>) {
        let mut i = 0;
        let mut min = u64::MAX;
        while i < self.buckets[b].len() {
            let e = self.buckets[b][i];
            if e.tick > now_tick {
                min = min.min(e.tick);
                i += 1;
                continue;
            }
            self.unlink(e.owner);
            if let Some(w) = self.owners[e.owner as usize].waker.clone() {
                due.push(w);
            }
            // `unlink` moved the bucket's last entry to `i`: look at it next.
        }
        self.bucket_min[b] = min;
    }

    /// Takes `owner`'s entry out of its bucket, if armed.
    fn unlink(&mut self, owner: u32) {
        let Some((tick, index)) = self
            .owners
            .get_mut(owner as usize)
            .and_then(|o| o.take_armed())
        else {
            return;
        };
        let list = &mut self.buckets[bucket(tick)];
        let index = index as usize;
        debug_assert_eq!(list[index].owner, owner, "wheel index out of sync");
        list.swap_remove(index);
        if let Some(moved) = list.get(index) {
            self.owners[moved.owner as usize].index = index as u32;
        }
        if list.is_empty() {
            self.bucket_min[bucket(tick)] = u64::MAX;
        }
        self.armed -= 1;
    }

    fn owner_mut(&mut self, owner: u32) -> &mut Owner {
        let i = owner as usize;
        if i >= self.owners.len() {
            self.owners.resize_with(i + 1, Owner::default);
        }
        &mut self.owners[i]
    }

    fn tick_at_or_after(&self, at: Instant) -> u64 {
        at.checked_duration_since(self.epoch)
            .map_or(0, |d| d.as_nanos().div_ceil(TICK.as_nanos()) as u64)
    }
}

fn bucket(tick: u64) -> usize {
    (tick % SLOTS as u64) as usize
}

fn ticks_floor(d: Duration) -> u64 {
    (d.as_nanos() / TICK.as_nanos()) as u64
}

/// Time from the epoch to the start of `tick`.
fn tick_time(tick: u64) -> Duration {
    Duration::from_nanos(tick.saturating_mul(TICK.as_nanos() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// The wakers `expire` hands back at `now`: one per deadline due.
    fn wake_due(w: &mut Deadlines, now: Instant) -> usize {
        let mut due = Vec::new();
        w.expire(now, &mut due);
        due.len()
    }

    #[test]
    fn fires_never_early_and_at_most_one_tick_late() {
        let t0 = Instant::now();
        let mut w = Deadlines::new(t0);
        let waker = Waker::noop().clone();
        let at = t0 + ms(5) + Duration::from_micros(300);
        w.arm(0, at, &waker);
        assert_eq!(w.next(), Some(t0 + ms(6)));
        assert_eq!(w.armed_at(0), Some(t0 + ms(6)));
        assert_eq!(w.armed_at(1), None);
        assert_eq!(wake_due(&mut w, t0 + ms(5)), 0);
        assert_eq!(wake_due(&mut w, at), 0, "the tick of `at` is not over yet");
        assert_eq!(wake_due(&mut w, t0 + ms(6)), 1);
        assert!(w.is_empty());
        assert_eq!(w.next(), None);
    }

    #[test]
    fn moving_and_removing_keep_every_index_exact() {
        let t0 = Instant::now();
        let mut w = Deadlines::new(t0);
        let waker = Waker::noop().clone();
        // Many owners in one bucket, then moves and removals in the middle of it.
        for owner in 0..50 {
            w.arm(owner, t0 + ms(10), &waker);
        }
        for owner in (0..50).step_by(3) {
            w.arm(owner, t0 + ms(10 + SLOTS as u64), &waker); // same bucket, next turn
        }
        for owner in (1..50).step_by(5) {
            w.remove(owner);
        }
        let removed = |o: &u32| o % 5 == 1;
        let moved = (0..50).step_by(3).filter(|o| !removed(o)).count();
        let removed = (0..50).filter(removed).count();
        assert_eq!(w.len(), 50 - removed);
        assert_eq!(wake_due(&mut w, t0 + ms(10)), 50 - moved - removed);
        assert_eq!(wake_due(&mut w, t0 + ms(9 + SLOTS as u64)), 0);
        assert_eq!(wake_due(&mut w, t0 + ms(10 + SLOTS as u64)), moved);
        assert!(w.is_empty());
    }

    #[test]
    fn shrink_keeps_what_is_armed() {
        let t0 = Instant::now();
        let mut w = Deadlines::new(t0);
        let waker = Waker::noop().clone();
        for owner in 0..1000 {
            w.arm(owner, t0 + ms(5), &waker);
        }
        for owner in 10..1000 {
            w.remove(owner);
        }
        w.shrink(10);
        assert_eq!(w.owners.len(), 10);
        assert!(w.buckets[bucket(5)].capacity() < 1000);
        assert_eq!(wake_due(&mut w, t0 + ms(5)), 10);
    }

    #[test]
    fn a_long_sleep_expires_everything_due_once() {
        let t0 = Instant::now();
        let mut w = Deadlines::new(t0);
        let waker = Waker::noop().clone();
        for owner in 0..3000u32 {
            w.arm(owner, t0 + ms(u64::from(owner)), &waker);
        }
        assert_eq!(wake_due(&mut w, t0 + ms(1999)), 2000);
        assert_eq!(wake_due(&mut w, t0 + ms(1999)), 0);
        assert_eq!(w.next(), Some(t0 + ms(2000)));
        assert_eq!(wake_due(&mut w, t0 + ms(10_000)), 1000);
    }

    #[test]
    fn a_past_deadline_fires_at_the_next_expiry_and_earliest_is_reported() {
        let t0 = Instant::now();
        let mut w = Deadlines::new(t0);
        let waker = Waker::noop().clone();
        w.arm(0, t0 + ms(100), &waker);
        assert_eq!(w.next(), Some(t0 + ms(100)));
        w.arm(1, t0 + ms(200), &waker);
        assert_eq!(
            w.next(),
            Some(t0 + ms(100)),
            "a later one is not the earliest"
        );
        assert_eq!(wake_due(&mut w, t0 + ms(150)), 1);
        w.arm(2, t0 + ms(20), &waker);
        assert_eq!(w.next(), Some(t0 + ms(151)), "in the past: earliest of all");
        assert_eq!(wake_due(&mut w, t0 + ms(151)), 1);
        assert_eq!(w.next(), Some(t0 + ms(200)));
    }
}
