//! reload: continuous traffic through a proxy that is reloaded and binary-upgraded live,
//! then every request id counted.
//!
//! Per contender (percore, HAProxy, nginx): three soak origins s1, s2, s3
//! ([`OriginProc`], each recording every request id it receives), the proxy ([`live`]) with
//! the configuration of [`config`], then for `--reload-duration`: the soak's traffic
//! without faults ([`Mix::RELOAD`]: GET and POST, kept-alive and new-connection clients,
//! every request with a unique id) while, on this thread, `--reload-count` reloads and
//! `--upgrade-count` upgrades are carried out, evenly spaced ([`schedule`]); each reload
//! moves to the next configuration generation (s2's weight, s3 added or removed, a route
//! added or removed). Each upgrade's old and new processes' RSS are sampled on a thread of
//! its own ([`sample_upgrade`]). At the end [`tally`] counts the ids' ends against the
//! origins' records.
//!
//! Bounds: the traffic stops at `--reload-duration` or after `--soak-requests` ids; every
//! request has [`CLIENT_TIMEOUT`]; each event's confirmation is bounded (admin timeout,
//! 5 s for HAProxy, 10 s for nginx); each RSS sampler ends 16 s after its upgrade at the
//! latest; every process is in a [`crate::child::Child`]'s group, stopped on every path out.

pub mod config;
pub mod live;
pub mod reply_time;
pub mod tally;

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::soak::faults::OriginProc;
use super::soak::plan::Sent;
use super::soak::traffic::{self, Mix, TrafficPlan};
use super::{wait_until, Bench};
use crate::child::TempDir;
use crate::contender::{Name, NotRun};
use crate::procfs;
use crate::report::{ReloadResult, ScenarioReport, Skip, UpgradeRss};
use live::Live;
use tally::Event;

/// Seed of the request sequence: the same for every contender and run.
const SEED: u64 = 15;
/// Per-request limit of the client: longer than any upgrade's handover.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// RSS sampling period during an upgrade.
const SAMPLE_EVERY: Duration = Duration::from_millis(20);
/// Longest wait for an upgrade's old processes to exit.
const OLD_EXIT_LIMIT: Duration = Duration::from_secs(15);
/// When the new processes' RSS is read, after the old ones exited.
const AFTER_UPGRADE: Duration = Duration::from_secs(1);

impl Mix {
    /// The reload scenario's: 6 kept-alive and 3 new-connection HTTP tasks, no TCP, no
    /// per-request faults (any failure is the reload's or the upgrade's).
    pub const RELOAD: Mix = Mix {
        keep_alive_tasks: 6,
        new_conn_tasks: 3,
        tcp_tasks: 0,
        faults: false,
    };
}

/// reload options (`--reload-*`, `--upgrade-count`).
#[derive(Debug, Clone)]
pub struct ReloadOptions {
    /// Length of the traffic.
    pub duration: Duration,
    /// Reloads over it.
    pub reloads: usize,
    /// Binary upgrades over it.
    pub upgrades: usize,
    /// Requests per second.
    pub rate: f64,
    /// Most ids over the run.
    pub requests_max: u64,
}

/// What happens at one point of the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A configuration reload.
    Reload,
    /// A binary upgrade.
    Upgrade,
}

/// `reloads + upgrades` events evenly spaced over `duration` (none at its edges), the
/// upgrades spread evenly among them.
pub fn schedule(duration: Duration, reloads: usize, upgrades: usize) -> Vec<(Duration, Step)> {
    let total = reloads + upgrades;
    // Upgrade k of m sits at the middle of its share of the events.
    let upgrade_at: Vec<usize> = (0..upgrades)
        .map(|k| ((2 * k + 1) * total) / (2 * upgrades.max(1)))
        .collect();
    (0..total)
        .map(|i| {
            let at = duration.mul_f64((i + 1) as f64 / (total + 1) as f64);
            let step = if upgrade_at.contains(&i) {
                Step::Upgrade
            } else {
                Step::Reload
            };
            (at, step)
        })
        .collect()
}

/// Runs the scenario for every contender but `direct`.
pub fn run(b: &Bench) -> ScenarioReport {
    let o = &b.opts.reload;
    let mut report = ScenarioReport {
        name: "reload".into(),
        description: format!(
            "{:.0} s of GET and POST at {:.0}/s (kept-alive and new connections) with {} \
             reloads and {} binary upgrades evenly spaced",
            o.duration.as_secs_f64(),
            o.rate,
            o.reloads,
            o.upgrades
        ),
        mode: "http".into(),
        unit: "request".into(),
        ..ScenarioReport::default()
    };
    for &name in b.contenders.iter().filter(|&&n| n != Name::Direct) {
        b.progress.step(&format!("reload · {name} · starting"));
        match run_one(b, name) {
            Ok(r) => report.reload.push(r),
            Err(why) => {
                b.progress.line(&format!("reload: {name}: {}", why.text()));
                report.skipped.push(Skip {
                    contender: name.to_string(),
                    reason: why.text(),
                });
            }
        }
    }
    report.notes.extend(NOTES.iter().map(|n| n.to_string()));
    report
}

/// How each contender is reloaded and upgraded, for the report.
const NOTES: [&str; 3] = [
    "percore: `reload` and `upgrade` (same binary) on the admin socket; HAProxy (-W, stats \
     socket with expose-fd listeners): SIGUSR2 to the master for both, done at \"Loading \
     success.\" (a binary upgrade of HAProxy is that re-exec of its master); nginx: SIGHUP \
     to the master, done at its next \"start worker processes\"; upgrade: SIGUSR2, then \
     SIGWINCH + SIGQUIT to the old master once the new one's workers start",
    "each reload changes one thing of the previous configuration, in turn: s2's weight \
     (100/50), server s3 added or removed, the route of /soak/post/ to backend alt added or \
     removed",
    "failed: an error answer, a reset, an early close or a refused connect; lost: no answer \
     and no error within 10 s; latency is first byte sent to the answer's last byte",
];

fn run_one(b: &Bench, name: Name) -> Result<ReloadResult, NotRun> {
    let failed = |e: String| NotRun::Failed(e);
    let origin_dir =
        TempDir::new(&format!("reload-origins-{name}")).map_err(|e| failed(e.to_string()))?;
    let cpus = b.pool.cpus();
    let mut origins = Vec::new();
    for s in ["s1", "s2", "s3"] {
        let mut o =
            OriginProc::new(s, origin_dir.path(), &cpus).map_err(|e| failed(e.to_string()))?;
        o.start().map_err(failed)?;
        origins.push(o);
    }
    let servers = [origins[0].http, origins[1].http, origins[2].http];
    let mut live = Live::start(b.host, name, servers)?;
    let mut r = ReloadResult {
        contender: name.to_string(),
        duration_s: b.opts.reload.duration.as_secs_f64(),
        ..ReloadResult::default()
    };
    let (sent, events, samplers) = drive(b, &mut live, &mut r);
    r.upgrade_rss = samplers.into_iter().filter_map(|s| s.join().ok()).collect();
    r.processes_at_end = live.child.usage().processes;
    r.panics = live.log_text().matches("panicked").count() as u64;
    live.stop();
    let mut records = String::new();
    for mut o in origins {
        o.kill();
        records += &std::fs::read_to_string(&o.record).unwrap_or_default();
    }
    tally::tally(&mut r, &sent, &events, &records);
    Ok(r)
}

/// Runs the traffic on a pool thread and the schedule on this one, to their ends.
fn drive(
    b: &Bench,
    live: &mut Live,
    r: &mut ReloadResult,
) -> (Vec<Sent>, Vec<Event>, Vec<JoinHandle<UpgradeRss>>) {
    let o = &b.opts.reload;
    let plan = TrafficPlan::starting_now(
        (live.http, live.http),
        o.rate,
        o.duration,
        o.requests_max,
        CLIENT_TIMEOUT,
        SEED,
        Mix::RELOAD,
    );
    let t0 = plan.t0;
    let rx = traffic::spawn(b.pool, &plan);
    let mut events = Vec::new();
    let mut samplers = Vec::new();
    for (at, step) in schedule(o.duration, o.reloads, o.upgrades) {
        wait_until(b.progress, t0 + at, &|now| {
            format!(
                "reload · {} · {:.0}s/{:.0}s · {} events · {} ids",
                live.name,
                (now - t0).as_secs_f64(),
                o.duration.as_secs_f64(),
                events.len(),
                plan.ids.load(Ordering::Relaxed)
            )
        });
        let at_ms = plan.ms(Instant::now());
        let (kind, result) = match step {
            Step::Reload => ("reload", live.reload()),
            Step::Upgrade => {
                let sampler = sample_upgrade(live, at_ms);
                let result = live.upgrade();
                samplers.push(sampler);
                if result.is_ok() && live.pid != live.child.pid() {
                    r.upgraded_pids.push(live.pid);
                }
                ("upgrade", result)
            }
        };
        events.push(Event {
            kind,
            at_ms,
            reply_us: result.as_ref().ok().map(|d| d.as_micros() as u64),
            error: result.err(),
        });
    }
    let hard_limit = CLIENT_TIMEOUT + Duration::from_secs(30);
    let left = (plan.until + hard_limit).saturating_duration_since(Instant::now());
    let sent = rx.recv_timeout(left).unwrap_or_default();
    (sent, events, samplers)
}

/// Starts sampling the RSS of the proxy's processes around an upgrade: those running now
/// are the old ones (but HAProxy's master, which re-executes itself in place), any other
/// is new. Sampling stops once the old ones are gone, then the new ones are read once more
/// after [`AFTER_UPGRADE`].
fn sample_upgrade(live: &Live, at_ms: u64) -> JoinHandle<UpgradeRss> {
    let pgid = live.child.pid();
    let master = (live.name == Name::Haproxy).then_some(live.pid);
    let old: HashSet<i32> = procfs::group_members(pgid)
        .into_iter()
        .map(|(pid, _)| pid)
        .filter(|&pid| Some(pid) != master)
        .collect();
    std::thread::spawn(move || {
        let t = Instant::now();
        let mut u = UpgradeRss {
            at_ms,
            ..UpgradeRss::default()
        };
        let split = |members: &[(i32, u64)]| {
            let sum = |is_old: bool| -> u64 {
                members
                    .iter()
                    .filter(|(pid, _)| Some(*pid) != master && old.contains(pid) == is_old)
                    .map(|(_, rss)| rss)
                    .sum()
            };
            (sum(true), sum(false))
        };
        while t.elapsed() < OLD_EXIT_LIMIT {
            let members = procfs::group_members(pgid);
            let (old_kib, new_kib) = split(&members);
            u.old_kib = u.old_kib.max(old_kib);
            u.new_during_kib = u.new_during_kib.max(new_kib);
            if !members.iter().any(|(pid, _)| old.contains(pid)) {
                u.old_exit_ms = Some(t.elapsed().as_millis() as u64);
                break;
            }
            std::thread::sleep(SAMPLE_EVERY);
        }
        std::thread::sleep(AFTER_UPGRADE);
        u.new_after_kib = split(&procfs::group_members(pgid)).1;
        u
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_evenly_spaced_with_the_upgrades_spread() {
        let s = schedule(Duration::from_secs(24), 20, 3);
        assert_eq!(s.len(), 23);
        assert_eq!(s[0].0, Duration::from_secs(1));
        assert_eq!(s[22].0, Duration::from_secs(23));
        let ups: Vec<usize> = (0..23).filter(|&i| s[i].1 == Step::Upgrade).collect();
        assert_eq!(ups, vec![3, 11, 19]);
        let one = schedule(Duration::from_secs(5), 3, 1);
        let steps: Vec<Step> = one.iter().map(|e| e.1).collect();
        assert_eq!(
            steps,
            vec![Step::Reload, Step::Reload, Step::Upgrade, Step::Reload]
        );
        assert!(schedule(Duration::from_secs(5), 0, 0).is_empty());
    }
}
