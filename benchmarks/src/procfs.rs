//! CPU time and memory of a process group, read from /proc.
//!
//! Every proxy runs in its own process group (the harness starts it with `setpgid`), so
//! "the proxy" is every process whose pgrp is the group id: HAProxy's single process,
//! nginx's master and workers, percore's single process. CPU is `utime + stime` (fields
//! 14 and 15 of /proc/PID/stat: all threads of the process, in clock ticks); memory is
//! `VmRSS` from /proc/PID/status. Both are summed over the group's processes. Summing RSS
//! counts pages shared between nginx's master and workers twice; the *growth* reported by
//! `idle-conns` is unaffected, since new per-connection pages are private.

use std::fs;

/// CPU time and memory of a set of processes at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// utime + stime, in microseconds.
    pub cpu_us: u64,
    /// utime alone (user space), in microseconds; `cpu_us - user_us` is system time.
    pub user_us: u64,
    /// Sum of VmRSS, in KiB.
    pub rss_kib: u64,
    /// Processes found.
    pub processes: u32,
    /// Open descriptors, summed over the processes.
    pub fds: u64,
}

/// Clock ticks per second (`getconf CLK_TCK`).
pub fn ticks_per_second() -> u64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(t)) if t > 0 => t as u64,
        _ => 100,
    }
}

/// The fields after the `(comm)` of a /proc/PID/stat line; comm may contain spaces and
/// parentheses, so the split is at the last `)`.
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let close = stat.rfind(')')?;
    Some(stat[close + 1..].split_whitespace().collect())
}

/// CPU time of one process from its /proc/PID/stat line, in clock ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatTicks {
    /// Process group.
    pub pgrp: i32,
    /// utime: user space, every thread.
    pub user: u64,
    /// stime: kernel, every thread.
    pub system: u64,
}

/// pgrp, utime and stime from a /proc/PID/stat line.
pub fn parse_stat(stat: &str) -> Option<StatTicks> {
    let f = stat_fields(stat)?;
    // After comm: [0] state, [1] ppid, [2] pgrp, … [11] utime, [12] stime.
    Some(StatTicks {
        pgrp: f.get(2)?.parse().ok()?,
        user: f.get(11)?.parse().ok()?,
        system: f.get(12)?.parse().ok()?,
    })
}

/// VmRSS in KiB from a /proc/PID/status text.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Usage of every process in process group `pgid`.
pub fn group_usage(pgid: i32) -> Usage {
    let hz = ticks_per_second();
    let mut usage = Usage::default();
    let Ok(dir) = fs::read_dir("/proc") else {
        return usage;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(t) = parse_stat(&stat) else {
            continue;
        };
        if t.pgrp != pgid {
            continue;
        }
        usage.processes += 1;
        usage.cpu_us += (t.user + t.system) * 1_000_000 / hz;
        usage.user_us += t.user * 1_000_000 / hz;
        if let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) {
            usage.rss_kib += parse_vm_rss(&status).unwrap_or(0);
        }
        if let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) {
            usage.fds += fds.count() as u64;
        }
    }
    usage
}

/// The live (not zombie) processes of group `pgid`, each as (pid, VmRSS in KiB): what a
/// handover is sampled from, old and new processes apart.
pub fn group_members(pgid: i32) -> Vec<(i32, u64)> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let zombie = stat_fields(&stat).is_some_and(|f| f.first() == Some(&"Z"));
        if zombie || parse_stat(&stat).is_none_or(|t| t.pgrp != pgid) {
            continue;
        }
        let rss = fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| parse_vm_rss(&s))
            .unwrap_or(0);
        out.push((pid, rss));
    }
    out
}

/// CPU time of this process (every thread), in microseconds.
pub fn self_cpu_us() -> u64 {
    let hz = ticks_per_second();
    fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| parse_stat(&s))
        .map_or(0, |t| (t.user + t.system) * 1_000_000 / hz)
}

/// Time spent by the CPUs, in clock ticks, from /proc/stat: (cpu, user + nice + system,
/// all columns). Interrupt and softirq time are left out of the first: on loopback much of
/// it is the packet processing of the benchmark's own sockets.
pub fn cpu_times() -> Vec<(usize, u64, u64)> {
    fs::read_to_string("/proc/stat")
        .unwrap_or_default()
        .lines()
        .filter_map(parse_cpu_line)
        .collect()
}

/// Busy percentage of each CPU in `cpus` over `span` (used to warn, before a run, that other
/// work on the machine will disturb the measurements).
pub fn cpu_busy_pct(cpus: &[usize], span: std::time::Duration) -> Vec<(usize, f64)> {
    let a = cpu_times();
    std::thread::sleep(span);
    let b = cpu_times();
    cpus.iter()
        .filter_map(|&cpu| {
            let (busy, total) = ticks_between(&a, &b, &[cpu]);
            Some((cpu, busy as f64 * 100.0 / total.max(1) as f64)).filter(|_| total > 0)
        })
        .collect()
}

/// (busy, total) ticks of `cpus` between two [`cpu_times`] samples.
pub fn ticks_between(
    a: &[(usize, u64, u64)],
    b: &[(usize, u64, u64)],
    cpus: &[usize],
) -> (u64, u64) {
    let mut busy = 0;
    let mut total = 0;
    for &cpu in cpus {
        let find = |v: &[(usize, u64, u64)]| {
            v.iter()
                .find(|(c, _, _)| *c == cpu)
                .map(|&(_, b, t)| (b, t))
        };
        if let (Some((b0, t0)), Some((b1, t1))) = (find(a), find(b)) {
            busy += b1.saturating_sub(b0);
            total += t1.saturating_sub(t0);
        }
    }
    (busy, total)
}

/// `cpuN user nice system idle iowait irq softirq steal …` → (N, user + nice + system, total).
fn parse_cpu_line(line: &str) -> Option<(usize, u64, u64)> {
    let mut parts = line.split_whitespace();
    let cpu = parts.next()?.strip_prefix("cpu")?.parse().ok()?;
    let v: Vec<u64> = parts.take(8).filter_map(|x| x.parse().ok()).collect();
    if v.len() < 5 {
        return None;
    }
    let total: u64 = v.iter().sum();
    Some((cpu, v[0] + v[1] + v[2], total))
}

/// CPUs online on the machine, from `/sys/devices/system/cpu/online` (`0-1`, `0,2-3`).
/// Not `available_parallelism()`: that is this thread's affinity mask, and the harness pins
/// itself to the client CPUs before it writes the report.
pub fn cpus_online() -> usize {
    fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|t| crate::units::cpu_list(t.trim()).ok())
        .map_or_else(
            || match nix::unistd::sysconf(nix::unistd::SysconfVar::_NPROCESSORS_ONLN) {
                Ok(Some(n)) if n > 0 => n as usize,
                _ => 1,
            },
            |cpus| cpus.len(),
        )
}

/// The soft limit on open files (`ulimit -n`).
pub fn nofile_limit() -> u64 {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map_or(1024, |(soft, _)| soft)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_awkward_comm() {
        let line =
            "4242 (we ird) (x)) S 1 4240 4240 0 -1 4194560 100 0 0 0 731 269 0 0 20 0 3 0 1 2 3";
        assert_eq!(
            parse_stat(line),
            Some(StatTicks {
                pgrp: 4240,
                user: 731,
                system: 269
            })
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn cpu_lines() {
        assert_eq!(
            parse_cpu_line("cpu1 10 0 5 80 5 0 0 0 0 0"),
            Some((1, 15, 100))
        );
        assert_eq!(
            parse_cpu_line("cpu 10 0 5 80 5 0 0 0 0 0"),
            None,
            "the total line"
        );
        assert_eq!(parse_cpu_line("intr 1 2 3"), None);
    }

    #[test]
    fn cpus_online_ignores_this_threads_affinity() {
        let n = cpus_online();
        assert!(n >= 1);
        let pinned = std::thread::spawn(move || {
            let mut one = nix::sched::CpuSet::new();
            one.set(0).expect("cpu 0");
            let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &one);
            cpus_online()
        })
        .join()
        .expect("thread");
        assert_eq!(pinned, n);
    }

    #[test]
    fn vm_rss() {
        let status = "Name:\tnginx\nVmPeak:\t  1000 kB\nVmRSS:\t    8123 kB\nThreads:\t1\n";
        assert_eq!(parse_vm_rss(status), Some(8123));
    }

    #[test]
    fn own_group_is_visible() {
        let me = std::process::id() as i32;
        let pgid = nix::unistd::getpgid(None).map_or(me, |p| p.as_raw());
        let u = group_usage(pgid);
        assert!(u.processes >= 1);
        assert!(u.rss_kib > 0);
    }
}
