//! The client side's threads: one per client CPU, pinned, each running a tokio
//! current-thread runtime with a `LocalSet`. Origins and load generators are tasks on these
//! threads, so a single client CPU serves both with one epoll loop and no cross-thread
//! wake-ups (and never glommio: see shared/reference/glommio-notes.md §8).
//!
//! Work arrives as [`Job`]s over a bounded channel; a job's future may be `!Send` (it runs
//! where it was created) and sends its result back over a std channel.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::mpsc;
use std::thread::JoinHandle;

/// Jobs queued per worker; the runner submits a handful per measurement.
const JOBS_QUEUED_MAX: usize = 64;

/// A unit of work for one worker: builds a local future on the worker thread.
pub type Job = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()>>> + Send>;

/// Pinned worker threads.
pub struct Pool {
    workers: Vec<Worker>,
}

struct Worker {
    cpu: usize,
    jobs: Option<tokio::sync::mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Pool {
    /// Starts one pinned worker per CPU in `cpus`.
    pub fn new(cpus: &[usize]) -> io::Result<Pool> {
        let mut workers = Vec::new();
        for &cpu in cpus {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Job>(JOBS_QUEUED_MAX);
            let (ready_tx, ready_rx) = mpsc::channel::<io::Result<()>>();
            let thread = std::thread::Builder::new()
                .name(format!("bench-cpu{cpu}"))
                .spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build();
                    let runtime = match (runtime, pin_current_thread(cpu)) {
                        (Ok(rt), Ok(())) => rt,
                        (Err(e), _) | (_, Err(e)) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    let local = tokio::task::LocalSet::new();
                    local.block_on(&runtime, async move {
                        while let Some(job) = rx.recv().await {
                            tokio::task::spawn_local(job());
                        }
                    });
                })?;
            ready_rx
                .recv()
                .unwrap_or_else(|_| Err(io::Error::other("worker thread ended during start")))?;
            workers.push(Worker {
                cpu,
                jobs: Some(tx),
                thread: Some(thread),
            });
        }
        Ok(Pool { workers })
    }

    /// Number of workers.
    pub fn len(&self) -> usize {
        self.workers.len()
    }

    /// CPUs of the workers, in order.
    pub fn cpus(&self) -> Vec<usize> {
        self.workers.iter().map(|w| w.cpu).collect()
    }

    /// Queues `job` on worker `index`.
    pub fn spawn(&self, index: usize, job: Job) {
        let tx = self.workers[index]
            .jobs
            .as_ref()
            .expect("jobs closed only on drop");
        if tx.blocking_send(job).is_err() {
            // The worker thread is gone: only after a panic, which aborts in release.
            eprintln!(
                "percore-bench: worker on cpu {} is gone",
                self.workers[index].cpu
            );
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // Closing the channel ends each worker's loop; dropping its runtime then drops every
        // task still running there (origin connections), closing their sockets.
        for w in &mut self.workers {
            w.jobs = None;
        }
        for w in &mut self.workers {
            if let Some(t) = w.thread.take() {
                let _ = t.join();
            }
        }
    }
}

/// Pins the calling thread to `cpu`.
pub fn pin_current_thread(cpu: usize) -> io::Result<()> {
    pin_current_thread_to(&[cpu])
}

/// Restricts the calling thread (and threads it starts later) to `cpus`.
pub fn pin_current_thread_to(cpus: &[usize]) -> io::Result<()> {
    let mut set = nix::sched::CpuSet::new();
    for &cpu in cpus {
        set.set(cpu).map_err(io::Error::from)?;
    }
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("cannot pin to cpu {cpus:?}: {e}"),
        )
    })
}
