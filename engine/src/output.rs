//! The command line's own output: writes to stdout and stderr that never panic.
//!
//! `print!` and `eprint!` panic when the write fails, so `percore check | head -1` or a
//! closed stderr under a supervisor would end in "failed printing to stdout" (exit 101, or
//! an abort in release builds). A closed output only means nobody reads it any more: the
//! text is dropped and the command goes on to its normal exit status. SIGPIPE stays
//! ignored, as the Rust runtime sets it, so that a broken pipe is an `EPIPE` we can drop
//! rather than a signal that kills the process.

use std::io::{self, Write};

/// Writes `text` to stdout and flushes it; a failed write (EPIPE, EBADF) is ignored.
pub fn stdout(text: &str) {
    let mut out = io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Writes `text` and a newline to stderr in one write; a failed write is ignored.
pub fn stderr_line(text: &str) {
    let mut line = String::with_capacity(text.len() + 1);
    line.push_str(text);
    line.push('\n');
    let _ = io::stderr().lock().write_all(line.as_bytes());
}
