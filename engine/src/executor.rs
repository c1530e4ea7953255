//! glommio executor set-up facts shared by the shards and the control plane.

/// Turns a glommio executor start-up error into a message with the likely fix.
pub fn explain_executor_error(e: &glommio::GlommioError<()>, io_memory: usize) -> String {
    let text = e.to_string();
    let hint = if text.contains("MemLock") || text.contains("Cannot allocate memory") {
        format!(
            "; io_uring could not lock memory: lower global.tune.io_memory (now {} KiB) or \
             raise the memlock limit (`ulimit -l`)",
            io_memory / 1024
        )
    } else if text.contains("Operation not permitted") || text.contains("Function not implemented")
    {
        "; io_uring is unavailable (kernel too old, io_uring_disabled sysctl, or a seccomp \
         profile such as Docker's default): percore needs io_uring"
            .to_string()
    } else {
        String::new()
    };
    format!("cannot start executor: {text}{hint}")
}

/// Asks the allocator to return its free memory to the system (glibc keeps freed chunks in
/// per-thread arenas, counted in RSS). Cheap when there is little to return; the shards call
/// it after bursts.
pub fn return_free_memory() {
    // SAFETY: malloc_trim takes no pointers and only releases memory the allocator holds
    // free; it is thread-safe (it locks each arena in turn).
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Largest allocation served from the heap; larger ones get a mapping of their own.
const MMAP_THRESHOLD: i32 = 128 * 1024;

/// Makes every allocation of [`MMAP_THRESHOLD`] or more a mapping of its own, given back to
/// the system when it is freed or shrunk. Those are the tables and queues that a burst of
/// connections grows (the reactor's source map, its queues, the stream table). glibc's
/// default raises the threshold each time such a mapping is freed (up to 32 MiB), after
/// which they land in the heap, fragment it, and stay counted in RSS after the burst
/// (measured: +2.9 MiB after some 9 600-stream bursts, +0.8 MiB with the threshold fixed).
/// Setting it turns that adjustment off. Call it before the shards start.
pub fn keep_large_allocations_mapped() {
    // SAFETY: mallopt takes two integers and changes only the allocator's own tuning; it
    // takes the allocator's lock, so it is safe while other threads allocate.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

/// Gives the calling thread (the control plane) the lowest real-time priority, so that an
/// admin command or a shard's reply wakes it at once even when every CPU runs a busy shard
/// (a normal thread would wait for the shard's time slice, about a millisecond, at each of
/// the command's wake-ups). The control plane's work per wake-up is small and bounded;
/// the kernel's real-time throttling still leaves the shards 5 % of the CPU if it were not.
/// Without the privilege (`CAP_SYS_NICE`, or `RLIMIT_RTPRIO` ≥ 1) it stays a normal thread.
pub fn raise_control_priority() -> Result<(), std::io::Error> {
    let param = libc::sched_param { sched_priority: 1 };
    // SAFETY: `param` is a valid sched_param for the duration of the call; pid 0 names the
    // calling thread; no memory is retained by the kernel.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
