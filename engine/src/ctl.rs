//! `percore ctl`: the admin socket client.
//!
//! One-shot: `percore ctl -s SOCKET show stat` sends one line (`;` chains several commands),
//! prints the reply, and exits 1 when the reply is an error. Interactive (no command, stdin
//! a terminal): a prompt-mode session. Piped stdin: every line is sent as a one-shot.

use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use percore_admin::{render_stat_table, reply_is_error, Client, Endpoint};

use crate::output::{stderr_line, stdout};

/// Deadline for one reply; longer than an `upgrade` may wait for the new process
/// (`upgrade::READY_TIMEOUT`), so that its reply, whichever it is, arrives.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);
const _: () = assert!(REPLY_TIMEOUT.as_secs() > crate::upgrade::READY_TIMEOUT.as_secs());

/// Options of `percore ctl`.
pub struct CtlArgs {
    /// Socket path, `unix@PATH` or `host:port`.
    pub socket: String,
    /// Ask for the JSON form (`show stat`, `show info`).
    pub json: bool,
    /// Render `show stat` as a readable table.
    pub table: bool,
    /// `--binary`: the binary an `upgrade` starts.
    pub binary: Option<std::path::PathBuf>,
    /// The command words; empty for interactive mode.
    pub command: Vec<String>,
}

/// Runs `percore ctl`; returns the process exit code.
pub fn run(args: CtlArgs) -> u8 {
    if let Some(binary) = &args.binary {
        if args.command.len() != 1 || args.command[0] != "upgrade" {
            stderr_line("percore ctl: --binary goes with the command `upgrade` alone");
            return 2;
        }
        let line = format!("upgrade {}", binary.display());
        return one_shot(&args, &line);
    }
    if !args.command.is_empty() {
        let mut line = args.command.join(" ");
        if args.json {
            line = add_json(&line);
        }
        return one_shot(&args, &line);
    }
    if io::stdin().is_terminal() {
        return interactive(&args.socket);
    }
    let mut status = 0;
    for line in io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        status = status.max(one_shot(&args, &line));
    }
    status
}

fn add_json(line: &str) -> String {
    line.split(';')
        .map(|part| {
            let t = part.trim();
            if (t.starts_with("show stat") || t.starts_with("show info")) && !t.ends_with(" json") {
                format!("{t} json")
            } else {
                t.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(";")
}

fn one_shot(args: &CtlArgs, line: &str) -> u8 {
    let client = Client::new(&args.socket).with_timeout(REPLY_TIMEOUT);
    match client.send(line) {
        Ok(reply) => {
            let shown = if args.table && line.trim_start().starts_with("show stat") && !args.json {
                render_stat_table(&reply)
            } else {
                reply.clone()
            };
            stdout(&shown);
            u8::from(reply_is_error(line, &reply))
        }
        Err(e) => {
            stderr_line(&format!("percore ctl: {}: {e}", args.socket));
            2
        }
    }
}

/// Sent once an interactive session has its prompt (see [`interactive`]).
const INTERACTIVE_TIMEOUT: &[u8] = b"set timeout cli 3600\n";

fn interactive(socket: &str) -> u8 {
    let stream = match Endpoint::parse(socket) {
        Endpoint::Unix(path) => UnixStream::connect(&path).map(Conn::Unix),
        Endpoint::Tcp(addr) => std::net::TcpStream::connect(addr.as_str()).map(Conn::Tcp),
    };
    let mut conn = match stream {
        Ok(c) => c,
        Err(e) => {
            stderr_line(&format!("percore ctl: {socket}: {e}"));
            return 2;
        }
    };
    if conn.write_all(b"prompt\n").is_err() || read_prompt(&mut conn).is_err() {
        stderr_line(&format!("percore ctl: {socket}: no prompt from the server"));
        return 2;
    }
    // A person types at this prompt: `timeout.cli` (10 s by default, as HAProxy's) is meant
    // for scripts and stray clients, so this session asks for an hour, as an operator would
    // with socat. Refused (an old server): the session goes on with the default.
    if conn.write_all(INTERACTIVE_TIMEOUT).is_err() || read_prompt(&mut conn).is_err() {
        stderr_line(&format!("percore ctl: {socket}: connection closed"));
        return 2;
    }
    let stdin = io::stdin();
    loop {
        stdout("> ");
        let mut line = String::new();
        match stdin.lock().read_line(&mut line) {
            Ok(0) | Err(_) => return 0,
            Ok(_) => {}
        }
        if line.trim() == "quit" {
            return 0;
        }
        if conn.write_all(line.as_bytes()).is_err() {
            stderr_line("percore ctl: connection closed");
            return 2;
        }
        match read_prompt(&mut conn) {
            Ok(reply) => stdout(&reply),
            Err(_) => {
                stderr_line("percore ctl: connection closed");
                return 2;
            }
        }
    }
}

/// Reads until the prompt terminator `\n> `; returns the reply without it.
fn read_prompt(conn: &mut Conn) -> io::Result<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if buf.ends_with(b"\n> ") {
            buf.truncate(buf.len() - 2);
            return Ok(String::from_utf8_lossy(&buf).into_owned());
        }
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

enum Conn {
    Unix(UnixStream),
    Tcp(std::net::TcpStream),
}

impl Read for Conn {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Unix(s) => s.read(b),
            Conn::Tcp(s) => s.read(b),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Unix(s) => s.write(b),
            Conn::Tcp(s) => s.write(b),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_added_where_it_exists() {
        assert_eq!(add_json("show stat"), "show stat json");
        assert_eq!(
            add_json("show info; get weight a/b"),
            "show info json;get weight a/b"
        );
        assert_eq!(add_json("show stat json"), "show stat json");
    }
}
