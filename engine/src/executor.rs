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
