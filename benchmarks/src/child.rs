//! Processes the harness starts (proxies) and the temporary directories it writes, and
//! their cleanup on every path out: normal end, error, and Ctrl-C.
//!
//! Each child is started in its own process group, pinned to the proxy CPUs, with
//! `PR_SET_PDEATHSIG` so that it dies with the harness even on SIGKILL. A registry of live
//! groups and directories lets the signal thread ([`install_signal_cleanup`]) kill every
//! group and delete every directory before exiting; [`Child`]'s `Drop` does the same for
//! one child on the normal path.

use std::fs;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, SigSet, Signal};
use nix::unistd::Pid;

use crate::procfs::{self, Usage};

/// How long a stopping child may take before its group is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Live process groups and temporary directories, for the signal thread.
static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    groups: Vec::new(),
    dirs: Vec::new(),
});

struct Registry {
    groups: Vec<i32>,
    dirs: Vec<PathBuf>,
}

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    // A poisoned lock only means a panic elsewhere; the lists are still valid.
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread — call it first in `main`, so
/// every later thread inherits the mask — and starts a thread that, on any of them, kills
/// every registered process group, removes every registered directory, and exits 130.
/// (Children get a clean signal mask: std's `Command` resets it before exec.)
pub fn install_signal_cleanup() -> io::Result<()> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGHUP);
    set.thread_block().map_err(io::Error::from)?;
    std::thread::Builder::new()
        .name("bench-signals".into())
        .spawn(move || {
            if let Ok(sig) = set.wait() {
                INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
                eprintln!("\npercore-bench: {sig}: stopping proxies and removing temporary files");
                cleanup_all();
                std::process::exit(130);
            }
        })?;
    Ok(())
}

/// Set by the signal thread: the process is exiting with 130 and the main thread must not
/// exit first with another status (a proxy killed under it looks like a failed start).
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether a stop signal arrived; the signal thread then ends the process.
pub fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Kills every registered group and removes every registered directory.
pub fn cleanup_all() {
    let (groups, dirs) = {
        let mut r = registry();
        (std::mem::take(&mut r.groups), std::mem::take(&mut r.dirs))
    };
    for &g in &groups {
        let _ = killpg(Pid::from_raw(g), Signal::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline && groups.iter().any(|&g| procfs::group_usage(g).processes > 0)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    for &g in &groups {
        let _ = killpg(Pid::from_raw(g), Signal::SIGKILL);
    }
    for d in dirs {
        let _ = fs::remove_dir_all(d);
    }
}

/// A temporary directory removed on drop (and by the signal thread).
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `/tmp/percore-bench.<pid>.<tag>`.
    pub fn new(tag: &str) -> io::Result<TempDir> {
        let path = std::env::temp_dir().join(format!("percore-bench.{}.{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path)?;
        registry().dirs.push(path.clone());
        Ok(TempDir { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
        registry().dirs.retain(|d| d != &self.path);
    }
}

/// Why a child did not become ready.
#[derive(Debug, Clone)]
pub struct NotReady {
    /// One-line description.
    pub text: String,
    /// The first line the child printed, if it exited.
    pub first_line: String,
}

/// A started process and its group; stopped (and reaped) on drop.
pub struct Child {
    name: String,
    child: std::process::Child,
    pgid: i32,
    log: PathBuf,
    stop_signal: Signal,
}

impl Child {
    /// Starts `cmd` in a new process group pinned to `cpus`, stdout and stderr appended to
    /// `log`. The child is killed when the *thread* that calls this ends (PR_SET_PDEATHSIG
    /// follows the parent thread): call it from a thread that outlives the child's use.
    /// `stop_signal` is what asks this program to exit quickly (SIGTERM for all three
    /// proxies).
    pub fn spawn(
        name: &str,
        mut cmd: Command,
        cpus: &[usize],
        log: PathBuf,
        stop_signal: Signal,
    ) -> io::Result<Child> {
        let out = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let err = out.try_clone()?;
        let mut set = nix::sched::CpuSet::new();
        for &c in cpus {
            set.set(c).map_err(io::Error::from)?;
        }
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        // SAFETY: the closure runs in the forked child before exec and only makes two
        // async-signal-safe system calls (sched_setaffinity, prctl); it allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                nix::sched::sched_setaffinity(Pid::from_raw(0), &set).map_err(io::Error::from)?;
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(io::Error::from)?;
                Ok(())
            });
        }
        let child = cmd.spawn()?;
        let pgid = child.id() as i32;
        registry().groups.push(pgid);
        Ok(Child {
            name: name.to_string(),
            child,
            pgid,
            log,
            stop_signal,
        })
    }

    /// CPU and memory of the whole group now.
    pub fn usage(&self) -> Usage {
        procfs::group_usage(self.pgid)
    }

    /// Everything the child wrote so far.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `Some(status)` if the first process has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits until `ready()` holds, the child exits, or `limit` passes.
    pub fn wait_ready(
        &mut self,
        limit: Duration,
        mut ready: impl FnMut(&str) -> bool,
    ) -> Result<(), NotReady> {
        let deadline = Instant::now() + limit;
        loop {
            let log = self.log_text();
            if ready(&log) {
                return Ok(());
            }
            // A launcher that exits 0 leaving its program in the group (nginx started for
            // an upgrade, see contender::launch_nginx) is not a failed start.
            let gone = |c: &Child, status: std::process::ExitStatus| {
                !status.success() || procfs::group_usage(c.pgid).processes == 0
            };
            if let Some(status) = self.exited().filter(|&s| gone(self, s)) {
                let log = self.log_text();
                let mut lines = log.lines().map(str::trim).filter(|l| !l.is_empty());
                // HAProxy opens with a version NOTICE; the reason is its first ALERT.
                let first_line = lines
                    .clone()
                    .find(|l| l.contains("[ALERT]"))
                    .or_else(|| lines.next())
                    .unwrap_or("no output")
                    .to_string();
                return Err(NotReady {
                    text: format!("{} exited ({status}): {first_line}", self.name),
                    first_line,
                });
            }
            if Instant::now() >= deadline {
                return Err(NotReady {
                    text: format!("{} not ready after {limit:?}", self.name),
                    first_line: String::new(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Process id of the first process (HAProxy's master: `SIGUSR2` reloads it).
    pub fn pid(&self) -> i32 {
        self.pgid
    }

    /// Sends `sig` to every process of the group (the soak's origin kills and stalls).
    pub fn signal_group(&self, sig: Signal) -> io::Result<()> {
        killpg(Pid::from_raw(self.pgid), sig).map_err(io::Error::from)
    }

    /// Asks the group to stop, waits up to the grace period, then kills it.
    pub fn stop(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        let _ = killpg(Pid::from_raw(self.pgid), self.stop_signal);
        // A stalled (SIGSTOPped) group acts on the stop signal only once it runs again.
        let _ = killpg(Pid::from_raw(self.pgid), Signal::SIGCONT);
        let deadline = Instant::now() + STOP_GRACE;
        loop {
            let first_done = self.exited().is_some();
            if first_done && procfs::group_usage(self.pgid).processes == 0 {
                break;
            }
            if Instant::now() >= deadline {
                let _ = killpg(Pid::from_raw(self.pgid), Signal::SIGKILL);
                let _ = self.child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Workers of a group whose leader exited may linger for a moment.
        let _ = killpg(Pid::from_raw(self.pgid), Signal::SIGKILL);
        registry().groups.retain(|&g| g != self.pgid);
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if registry().groups.contains(&self.pgid) {
            self.stop_now();
        }
    }
}
