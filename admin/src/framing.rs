//! Reply framing of the admin socket, as HAProxy 2.6 (`cli_io_handler`): after each command's
//! body comes a terminator, `\n` normally and `\n> ` in interactive (prompt) mode. This module
//! owns the terminator, the prompt toggle and `quit`; it does not read sockets.
//!
//! How the server drives one connection (the engine owns the I/O):
//!
//! ```text
//! read a line (bounded by LINE_BYTES_MAX, LF-terminated; a last line without LF is dropped)
//! for part in split_commands(line):
//!     match parse(part, level):
//!         Ok(Prompt)     -> writer.toggle_prompt()
//!         Ok(Quit)       -> writer.quit(); stop
//!         Ok(Help(w))    -> writer.push_reply(&render_help(level, &w))
//!         Ok(cmd)        -> writer.push_result(&execute(cmd))   // body or ErrorReply
//!         Err(e)         -> writer.push_error(&e)
//! send writer.take_output()
//! close if writer.close_after_line(another complete line is already buffered)
//! ```
//!
//! Non-interactive connections close once no complete line is left in the input buffer:
//! pipelined lines that arrived with the first one are executed, a line sent after the reply
//! is never read. `quit` closes at once and sends nothing for itself.

use crate::error::ErrorReply;

/// Longest request line accepted, LF excluded (DESIGN §6). Longer lines get [`LINE_TOO_LONG`].
pub const LINE_BYTES_MAX: usize = 64 * 1024;

/// Reply to a request line longer than [`LINE_BYTES_MAX`] (percore's own text).
pub const LINE_TOO_LONG: ErrorReply = ErrorReply::from_static("Line too long (limit 64 KiB).\n");

/// Terminator written after every command's body: `"\n"`, or `"\n> "` in prompt mode.
pub fn terminator(prompt_mode: bool) -> &'static str {
    if prompt_mode {
        "\n> "
    } else {
        "\n"
    }
}

/// Accumulates the bytes to send for one connection: each reply body followed by the
/// terminator of the current mode, with `prompt` and `quit` handled as HAProxy does.
#[derive(Debug, Clone, Default)]
pub struct ReplyWriter {
    /// Interactive mode: terminator `\n> ` and the connection stays open.
    prompt_mode: bool,
    /// `quit` was executed: nothing more is written and the connection must close.
    closed: bool,
    /// Bytes not yet handed to the socket.
    out: String,
}

impl ReplyWriter {
    /// A writer for a new connection (HAProxy connections start non-interactive).
    pub fn new(prompt_mode: bool) -> Self {
        ReplyWriter {
            prompt_mode,
            closed: false,
            out: String::new(),
        }
    }

    /// Whether the connection is in interactive mode.
    pub fn prompt_mode(&self) -> bool {
        self.prompt_mode
    }

    /// Whether `quit` was executed (stop executing commands, send what is pending, close).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Appends a successful command's body and the terminator (an empty body gives just the
    /// terminator). Ignored after `quit`.
    pub fn push_reply(&mut self, body: &str) {
        if self.closed {
            return;
        }
        self.out.push_str(body);
        self.out.push_str(terminator(self.prompt_mode));
    }

    /// Appends an error reply's body and the terminator. Ignored after `quit`.
    pub fn push_error(&mut self, error: &ErrorReply) {
        self.push_reply(error.body());
    }

    /// Appends either outcome of a command.
    pub fn push_result(&mut self, result: &Result<String, ErrorReply>) {
        match result {
            Ok(body) => self.push_reply(body),
            Err(error) => self.push_error(error),
        }
    }

    /// Executes `prompt`: toggles interactive mode, then writes the terminator of the *new*
    /// mode (`\n> ` when entering, `\n` when leaving). Ignored after `quit`.
    pub fn toggle_prompt(&mut self) {
        if self.closed {
            return;
        }
        self.prompt_mode = !self.prompt_mode;
        self.out.push_str(terminator(self.prompt_mode));
    }

    /// Executes `quit`: writes nothing and marks the connection for closing.
    pub fn quit(&mut self) {
        self.closed = true;
    }

    /// Bytes accumulated so far.
    pub fn output(&self) -> &str {
        &self.out
    }

    /// Takes the accumulated bytes, leaving the writer empty (mode and closed flag kept).
    pub fn take_output(&mut self) -> String {
        std::mem::take(&mut self.out)
    }

    /// Whether to close after sending the current line's replies: after `quit`, or in
    /// non-interactive mode when no further complete line is already buffered.
    pub fn close_after_line(&self, more_lines_buffered: bool) -> bool {
        self.closed || (!self.prompt_mode && !more_lines_buffered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{NO_SUCH_SERVER, WEIGHT_GARBAGE};

    #[test]
    fn non_interactive_terminators() {
        let mut w = ReplyWriter::new(false);
        w.push_error(&NO_SUCH_SERVER);
        w.push_reply("1 (initial 1)\n");
        w.push_reply("");
        w.push_error(&WEIGHT_GARBAGE);
        assert_eq!(
            w.output(),
            "No such server.\n\n1 (initial 1)\n\n\nEmpty weight string empty or preceded by garbage\n"
        );
        assert!(w.close_after_line(false));
        assert!(!w.close_after_line(true));
    }

    #[test]
    fn prompt_toggle_and_quit() {
        // prompt-interactive.transcript.txt
        let mut w = ReplyWriter::new(false);
        w.toggle_prompt();
        assert_eq!(w.take_output(), "\n> ");
        w.push_error(&NO_SUCH_SERVER);
        assert_eq!(w.take_output(), "No such server.\n\n> ");
        w.push_reply("1 (initial 1)\n");
        w.push_reply("# name\napp\n");
        assert_eq!(w.take_output(), "1 (initial 1)\n\n> # name\napp\n\n> ");
        assert!(!w.close_after_line(false));
        w.push_error(&WEIGHT_GARBAGE);
        assert_eq!(
            w.take_output(),
            "Empty weight string empty or preceded by garbage\n> "
        );
        w.toggle_prompt();
        assert_eq!(w.take_output(), "\n");
        assert!(w.close_after_line(false));

        let mut w = ReplyWriter::new(true);
        w.quit();
        w.push_reply("ignored");
        w.toggle_prompt();
        assert_eq!(w.output(), "");
        assert!(w.is_closed() && w.close_after_line(true));
    }
}
