//! Entry point of the `admin_command` fuzz target (`fuzz/`) and its property-test twins: the
//! command grammar on arbitrary socket bytes, with the invariants that must hold whatever the
//! bytes. Hidden from docs; not an API.

use crate::cmd::{parse, Command};
use crate::error::{ErrorReply, PERMISSION_DENIED};
use crate::grammar::{split_commands, tokenize, ARGS_MAX};
use crate::level::Level;
use crate::table::render_help;

/// Every level, lowest first.
const LEVELS: [Level; 3] = [Level::User, Level::Operator, Level::Admin];

/// Splits `data` into lines at LF as the admin socket does (lossy UTF-8, like the engine's
/// reader), and each line into commands; parses every command at every level. Asserts: a
/// line has at least one and at most `count(';') + 1` commands of at most [`ARGS_MAX`] words;
/// parsing is deterministic; a parsed command needs no more than the socket's level, and is
/// parsed the same at every higher level; an error reply is a non-empty text that does not
/// hold the reply terminator (an empty line) before its end, so a client cannot mistake part
/// of it for the end of the reply. Help and weight changes are rendered and applied too.
pub fn admin_command(data: &[u8]) {
    for line in data.split(|&b| b == b'\n') {
        let line = String::from_utf8_lossy(line);
        let parts = split_commands(&line);
        assert!(!parts.is_empty());
        assert!(parts.len() <= line.matches(';').count() + 1);
        for part in &parts {
            assert!(tokenize(part).len() <= ARGS_MAX);
            command_at_every_level(part);
        }
    }
}

fn command_at_every_level(part: &str) {
    let mut allowed_below: Option<Command> = None;
    for level in LEVELS {
        let answer = parse(part, level);
        if level == Level::Admin {
            // Once is enough: an unknown command costs a scan of the keyword table.
            assert_eq!(answer, parse(part, level), "parse is deterministic");
        }
        match answer {
            Ok(command) => {
                assert!(command.level() <= level, "{command:?} parsed at {level}");
                if let Some(below) = &allowed_below {
                    assert_eq!(below, &command, "a higher level changed the command");
                }
                exercise(&command, level);
                allowed_below = Some(command);
            }
            Err(error) => {
                assert_error_text(&error);
                assert!(
                    allowed_below.is_none() || error == PERMISSION_DENIED,
                    "{part:?}: allowed below {level}, refused at it: {error:?}"
                );
            }
        }
    }
}

/// What the engine does with a command that needs no runtime lookup to answer.
fn exercise(command: &Command, level: Level) {
    match command {
        Command::Help(words) => assert!(!render_help(level, words).is_empty()),
        Command::SetServerWeight(_, spec) => {
            for (initial, dynamic) in [(0, false), (1, true), (256, true), (u32::MAX, true)] {
                if let Err(error) = spec.apply(initial, dynamic) {
                    assert_error_text(&error);
                }
            }
        }
        Command::ArgumentError { error, .. } => assert_error_text(error),
        _ => {}
    }
}

fn assert_error_text(error: &ErrorReply) {
    let body = error.body();
    assert!(!body.trim().is_empty(), "empty error reply");
    assert!(
        !body.trim_end_matches('\n').contains("\n\n"),
        "error reply holds the terminator: {body:?}"
    );
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Every input kept in `testdata/fuzz/admin_command` (seeds and findings of the fuzz
    /// target) keeps the invariants.
    #[test]
    fn testdata_inputs() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/fuzz/admin_command");
        let mut inputs = 0;
        for entry in std::fs::read_dir(&dir).expect("testdata folder") {
            let path = entry.expect("readable folder").path();
            if path.extension().is_some_and(|e| e == "md") {
                continue;
            }
            admin_command(&std::fs::read(&path).expect("readable input"));
            inputs += 1;
        }
        assert!(inputs >= 1, "{inputs} inputs in {}", dir.display());
    }

    /// Words the grammar knows, so generated lines reach past the keyword table.
    fn word() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => prop::sample::select(vec![
                "show", "set", "get", "server", "servers", "state", "weight", "stat", "info",
                "sess", "shutdown", "session", "sessions", "maxconn", "frontend", "global",
                "enable", "disable", "health", "agent", "addr", "port", "check-port",
                "check-addr", "add", "del", "clear", "counters", "all", "help", "errors",
                "timeout", "cli", "json", "typed", "desc", "up", "no-maint", "domain", "proxy",
                "ready", "drain", "maint", "be/srv", "a/b", "/", "0x1", "-1", "10%", "+5",
                "127.0.0.1", "::1", "reload", "conn", "backend", "version", "shards", "level",
            ]).prop_map(str::to_owned),
            1 => "[ -~\\t\\r;\\\\]{0,12}",
            1 => "\\PC{0,6}",
        ]
    }

    proptest! {
        #[test]
        fn known_words_keep_invariants(words in prop::collection::vec(word(), 0..8)) {
            admin_command(words.join(" ").as_bytes());
        }

        #[test]
        fn arbitrary_bytes_keep_invariants(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            admin_command(&bytes);
        }
    }
}
