//! The command table: every keyword percore accepts, its minimum level and its help line, and
//! the replies built from the table alone — `help [<words>]`, the empty-command list and the
//! "Unknown command, but maybe…" suggestions. Ported from HAProxy 2.6 `cli_gen_usage_msg` and
//! `update_word_fingerprint` so that the ranking and layout match; only the table differs
//! (percore's commands instead of HAProxy's).
//!
//! Help lines of commands that exist in HAProxy are HAProxy's, byte for byte.

use crate::level::Level;

/// Identity of a table entry, used by the parser to dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeywordId {
    Help,
    Prompt,
    Quit,
    ShowCliLevel,
    ShowVersion,
    DisableHealth,
    DisableServer,
    EnableHealth,
    EnableServer,
    SetMaxconnServer,
    SetServer,
    GetWeight,
    SetWeight,
    SetMaxconnFrontend,
    ShowServersState,
    ShowBackend,
    ShowSess,
    ShutdownSession,
    ShutdownSessionsServer,
    ShowInfo,
    ShowStat,
    ShowShards,
    ClearCounters,
    DisableFrontend,
    EnableFrontend,
    SetMaxconnGlobal,
    SetTimeout,
    ShowServersConn,
    ShowErrors,
    AddServer,
    DelServer,
    Reload,
    Upgrade,
    ShowSslCert,
    SetSslCert,
    CommitSslCert,
    AbortSslCert,
}

/// One command of the table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Keyword {
    /// Leading words that select the command (all must match, further words are arguments).
    pub words: &'static [&'static str],
    /// Help line as (usage, description); `None` for the built-ins listed last by hand.
    pub help: Option<(&'static str, &'static str)>,
    /// Lowest level allowed to run it.
    pub level: Level,
    /// Dispatch key.
    pub id: KeywordId,
}

const fn kw(
    words: &'static [&'static str],
    usage: &'static str,
    description: &'static str,
    level: Level,
    id: KeywordId,
) -> Keyword {
    Keyword {
        words,
        help: Some((usage, description)),
        level,
        id,
    }
}

/// All commands in registration order (the order breaks ties between equally good
/// suggestions and picks the first keyword when several match, as in HAProxy).
pub(crate) const KEYWORDS: &[Keyword] = &[
    Keyword {
        words: &["help"],
        help: None,
        level: Level::User,
        id: KeywordId::Help,
    },
    Keyword {
        words: &["prompt"],
        help: None,
        level: Level::User,
        id: KeywordId::Prompt,
    },
    Keyword {
        words: &["quit"],
        help: None,
        level: Level::User,
        id: KeywordId::Quit,
    },
    kw(
        &["show", "cli", "level"],
        "show cli level",
        "display the level of the current CLI session",
        Level::User,
        KeywordId::ShowCliLevel,
    ),
    kw(
        &["show", "version"],
        "show version",
        "show version of the current process",
        Level::User,
        KeywordId::ShowVersion,
    ),
    kw(
        &["disable", "health"],
        "disable health",
        "disable health checks",
        Level::Admin,
        KeywordId::DisableHealth,
    ),
    kw(
        &["disable", "server"],
        "disable server (DEPRECATED)",
        "disable a server for maintenance (use 'set server' instead)",
        Level::Admin,
        KeywordId::DisableServer,
    ),
    kw(
        &["enable", "health"],
        "enable health",
        "enable health checks",
        Level::Admin,
        KeywordId::EnableHealth,
    ),
    kw(
        &["enable", "server"],
        "enable server  (DEPRECATED)",
        "enable a disabled server (use 'set server' instead)",
        Level::Admin,
        KeywordId::EnableServer,
    ),
    kw(
        &["set", "maxconn", "server"],
        "set maxconn server <bk>/<srv>",
        "change a server's maxconn setting",
        Level::Admin,
        KeywordId::SetMaxconnServer,
    ),
    kw(
        &["set", "server"],
        "set server <bk>/<srv> [opts]",
        "change a server's state, weight, address or ssl",
        Level::Admin,
        KeywordId::SetServer,
    ),
    kw(
        &["get", "weight"],
        "get weight <bk>/<srv>",
        "report a server's current weight",
        Level::User,
        KeywordId::GetWeight,
    ),
    kw(
        &["set", "weight"],
        "set weight <bk>/<srv>  (DEPRECATED)",
        "change a server's weight (use 'set server' instead)",
        Level::Admin,
        KeywordId::SetWeight,
    ),
    kw(
        &["set", "maxconn", "frontend"],
        "set maxconn frontend <frontend> <value>",
        "change a frontend's maxconn setting",
        Level::Admin,
        KeywordId::SetMaxconnFrontend,
    ),
    kw(
        &["show", "servers", "state"],
        "show servers state [<backend>]",
        "dump volatile server information (all or for a single backend)",
        Level::User,
        KeywordId::ShowServersState,
    ),
    kw(
        &["show", "backend"],
        "show backend",
        "list backends in the current running config",
        Level::User,
        KeywordId::ShowBackend,
    ),
    kw(
        &["show", "sess"],
        "show sess [id]",
        "report the list of current sessions or dump this exact session",
        Level::Operator,
        KeywordId::ShowSess,
    ),
    kw(
        &["shutdown", "session"],
        "shutdown session [id]",
        "kill a specific session",
        Level::Admin,
        KeywordId::ShutdownSession,
    ),
    kw(
        &["shutdown", "sessions", "server"],
        "shutdown sessions server <bk>/<srv>",
        "kill sessions on a server",
        Level::Admin,
        KeywordId::ShutdownSessionsServer,
    ),
    kw(
        &["show", "info"],
        "show info [desc|json|typed|float]*",
        "report information about the running process",
        Level::User,
        KeywordId::ShowInfo,
    ),
    kw(
        &["show", "stat"],
        "show stat [desc|json|no-maint|typed|up]*",
        "report counters for each proxy and server",
        Level::User,
        KeywordId::ShowStat,
    ),
    kw(
        &["clear", "counters"],
        "clear counters [all]",
        "clear max statistics counters (or all counters)",
        Level::Operator,
        KeywordId::ClearCounters,
    ),
    kw(
        &["disable", "frontend"],
        "disable frontend <frontend>",
        "temporarily disable specific frontend",
        Level::Admin,
        KeywordId::DisableFrontend,
    ),
    kw(
        &["enable", "frontend"],
        "enable frontend <frontend>",
        "re-enable specific frontend",
        Level::Admin,
        KeywordId::EnableFrontend,
    ),
    kw(
        &["set", "maxconn", "global"],
        "set maxconn global <value>",
        "change the per-process maxconn setting",
        Level::Admin,
        KeywordId::SetMaxconnGlobal,
    ),
    kw(
        &["set", "timeout"],
        "set timeout [cli] <delay>",
        "change a timeout setting",
        Level::User,
        KeywordId::SetTimeout,
    ),
    kw(
        &["show", "servers", "conn"],
        "show servers conn [<backend>]",
        "dump server connections status (all or for a single backend)",
        Level::User,
        KeywordId::ShowServersConn,
    ),
    kw(
        &["show", "errors"],
        "show errors [<px>] [request|response]",
        "report last request and/or response errors for each proxy",
        Level::Operator,
        KeywordId::ShowErrors,
    ),
    kw(
        &["add", "server"],
        "add server <bk>/<srv>",
        "create a new server",
        Level::Admin,
        KeywordId::AddServer,
    ),
    kw(
        &["del", "server"],
        "del server <bk>/<srv>",
        "remove a dynamically added server",
        Level::Admin,
        KeywordId::DelServer,
    ),
    kw(
        &["reload"],
        "reload [<file>]",
        "read and apply the configuration file again",
        Level::Admin,
        KeywordId::Reload,
    ),
    kw(
        &["upgrade"],
        "upgrade [<binary>]",
        "start a new binary on every listening socket, then soft-stop",
        Level::Admin,
        KeywordId::Upgrade,
    ),
    kw(
        &["abort", "ssl", "cert"],
        "abort ssl cert <certfile>",
        "abort a transaction for a certificate file",
        Level::Admin,
        KeywordId::AbortSslCert,
    ),
    kw(
        &["commit", "ssl", "cert"],
        "commit ssl cert <certfile>",
        "commit a certificate file",
        Level::Admin,
        KeywordId::CommitSslCert,
    ),
    kw(
        &["set", "ssl", "cert"],
        "set ssl cert <certfile> <payload>",
        "replace a certificate file",
        Level::Admin,
        KeywordId::SetSslCert,
    ),
    kw(
        &["show", "ssl", "cert"],
        "show ssl cert [<certfile>]",
        "display the SSL certificates used in memory, or the details of a file",
        Level::Operator,
        KeywordId::ShowSslCert,
    ),
    kw(
        &["show", "shards"],
        "show shards",
        "report per-shard streams, ring depths and control latency",
        Level::User,
        KeywordId::ShowShards,
    ),
];

/// Words of a keyword considered by the matcher (HAProxy `CLI_PREFIX_KW_NB`).
const PREFIX_WORDS_MAX: usize = 5;
/// Suggestions kept by the fuzzy matcher (HAProxy `CLI_MAX_MATCHES`).
const MATCHES_MAX: usize = 5;
/// Column where the description's colon sits, minus the two leading spaces.
const USAGE_WIDTH: usize = 40;
/// Built-ins, always listed last (they have no help line of their own).
const BUILTIN_LINES: &str =
    "  help [<command>]                        : list matching or all commands\n  \
     prompt                                  : toggle interactive mode with prompt\n  \
     quit                                    : disconnect\n";

/// Header of `help`.
pub(crate) const HELP_HEADER: &str = "The following commands are valid at this level:\n";
/// Header of the reply to an empty command.
pub(crate) const EMPTY_HEADER: &str =
    "Unknown command. Please enter one of the following commands only:\n";
/// Header of the reply to an unknown or partial command.
pub(crate) const UNKNOWN_HEADER: &str =
    "Unknown command, but maybe one of the following ones is a better match:\n";

/// First keyword whose words all equal the leading words of `args` (HAProxy `cli_find_kw`).
pub(crate) fn find(args: &[String]) -> Option<&'static Keyword> {
    KEYWORDS.iter().find(|k| {
        k.words
            .iter()
            .enumerate()
            .all(|(i, w)| args.get(i).is_some_and(|a| a == w))
    })
}

/// Formats one help line: two spaces, usage padded to 40 columns, `: `, description.
fn help_line(out: &mut String, usage: &str, description: &str) {
    out.push_str("  ");
    out.push_str(usage);
    for _ in usage.len()..USAGE_WIDTH {
        out.push(' ');
    }
    out.push_str(": ");
    out.push_str(description);
    out.push('\n');
}

/// The reply to `help <words>` (`is_help`) or to an unknown/empty command (`args` = its
/// words). Port of HAProxy 2.6 `cli_gen_usage_msg`: measure how many leading words match some
/// keyword exactly, then either fuzzy-rank the keywords on the remaining words or list all
/// keywords sharing the matched prefix; entries are sorted by usage text; the three built-ins
/// close the list.
pub(crate) fn usage_message(args: &[String], is_help: bool) -> String {
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");

    let mut length = 0;
    for k in KEYWORDS {
        for (idx, word) in k.words.iter().take(PREFIX_WORDS_MAX).enumerate() {
            if arg(idx).is_empty() || arg(idx) != *word {
                break;
            }
            length = length.max(idx + 1);
        }
    }

    let mut out = String::new();
    out.push_str(if is_help {
        HELP_HEADER
    } else if length == 0 && arg(0).is_empty() {
        EMPTY_HEADER
    } else {
        UNKNOWN_HEADER
    });

    let prefix_matches = |k: &Keyword| (0..length).all(|i| k.words.get(i) == Some(&arg(i)));

    let mut matches: Vec<(&Keyword, usize)> = Vec::with_capacity(MATCHES_MAX + 1);
    if !arg(length).is_empty() {
        for k in KEYWORDS
            .iter()
            .filter(|k| k.help.is_some() && prefix_matches(k))
        {
            let typed: Vec<&str> = (length..PREFIX_WORDS_MAX)
                .map(arg)
                .take_while(|w| !w.is_empty())
                .collect();
            let listed: Vec<&str> = k
                .words
                .iter()
                .take(PREFIX_WORDS_MAX)
                .skip(length)
                .copied()
                .collect();
            let total_len: usize = typed.iter().chain(listed.iter()).map(|w| w.len()).sum();
            let dist = fingerprint_distance(&fingerprint(&typed), &fingerprint(&listed));
            let worst = matches.get(MATCHES_MAX - 1).map_or(usize::MAX, |m| m.1);
            if dist < 5 * total_len / 2 && dist < worst {
                // Insert after every entry with a distance <= dist: ties keep table order.
                let at = matches
                    .iter()
                    .position(|m| m.1 > dist)
                    .unwrap_or(matches.len());
                matches.insert(at, (k, dist));
                matches.truncate(MATCHES_MAX);
            }
        }
    }

    let mut entries: Vec<&Keyword> = Vec::new();
    if let Some(&(_, best)) = matches.first() {
        entries.extend(
            matches
                .iter()
                .take_while(|m| m.1 <= 5 * best / 2)
                .map(|m| m.0),
        );
    } else {
        entries.extend(
            KEYWORDS
                .iter()
                .filter(|k| k.help.is_some() && prefix_matches(k)),
        );
    }
    // HAProxy sorts on its whole preformatted line (usage, padding, description).
    let mut lines: Vec<String> = entries
        .iter()
        .filter_map(|k| k.help)
        .map(|(usage, description)| {
            let mut line = String::new();
            help_line(&mut line, usage, description);
            line
        })
        .collect();
    lines.sort();
    for line in lines {
        out.push_str(&line);
    }
    out.push_str(BUILTIN_LINES);
    out
}

/// The reply to `help [<words>]`. HAProxy 2.6 lists the same commands at every level (the
/// header notwithstanding), so `level` does not filter; it is accepted so that callers need
/// not change if a later version filters.
pub fn render_help(level: Level, words: &[String]) -> String {
    let _ = level;
    usage_message(words, true)
}

/// A word fingerprint: counts of character-class transitions (HAProxy
/// `update_word_fingerprint`), 32×32 cells of `u8` that wrap like the C code.
type Fingerprint = [u8; 1024];

fn fingerprint(words: &[&str]) -> Fingerprint {
    let mut fp = [0u8; 1024];
    for word in words {
        let mut from = 28usize;
        for c in word.bytes() {
            let to = match c.to_ascii_lowercase() {
                c @ b'a'..=b'z' => usize::from(c - b'a') + 1,
                b'0'..=b'9' => 27,
                _ => 28,
            };
            fp[to] = 1;
            fp[32 * from + to] = fp[32 * from + to].wrapping_add(1);
            from = to;
        }
        fp[32 * from + 28] = fp[32 * from + 28].wrapping_add(1);
    }
    fp
}

fn fingerprint_distance(a: &Fingerprint, b: &Fingerprint) -> usize {
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| usize::from(x.abs_diff(*y)))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn find_prefix_match() {
        assert_eq!(
            find(&words("show info json")).map(|k| k.id),
            Some(KeywordId::ShowInfo)
        );
        assert_eq!(
            find(&words("show servers state app")).map(|k| k.id),
            Some(KeywordId::ShowServersState)
        );
        assert!(find(&words("show")).is_none());
        assert!(find(&words("show infoo")).is_none());
        assert!(find(&words("GET WEIGHT")).is_none());
        assert!(find(&[]).is_none());
    }

    #[test]
    fn help_lines_have_colon_at_column_43() {
        let help = render_help(Level::Admin, &[]);
        let mut lines = help.lines();
        assert_eq!(lines.next(), Some(HELP_HEADER.trim_end()));
        for line in lines {
            assert_eq!(line.as_bytes()[42], b':', "{line:?}");
            assert!(line.starts_with("  "));
        }
    }

    #[test]
    fn every_keyword_with_help_is_listed_and_sorted() {
        let help = render_help(Level::User, &[]);
        let listed: Vec<&str> = help.lines().skip(1).collect();
        let with_help = KEYWORDS.iter().filter(|k| k.help.is_some()).count();
        assert_eq!(listed.len(), with_help + 3);
        let body = &listed[..with_help];
        let mut sorted = body.to_vec();
        sorted.sort();
        assert_eq!(body, &sorted[..]);
    }

    #[test]
    fn usage_of_partial_command_lists_siblings() {
        let msg = usage_message(&words("set maxconn"), false);
        assert!(msg.starts_with(UNKNOWN_HEADER));
        assert!(msg.contains("set maxconn frontend"));
        assert!(msg.contains("set maxconn server"));
        assert!(!msg.contains("get weight"));
    }

    #[test]
    fn fingerprint_matches_haproxy_examples() {
        // Distances computed with HAProxy's algorithm over its own table.
        let d = |a: &[&str], b: &[&str]| fingerprint_distance(&fingerprint(a), &fingerprint(b));
        assert_eq!(d(&["GET", "WEIGHT", "app/s1"], &["get", "weight"]), 12);
        assert_eq!(d(&["foo", "bar"], &["user"]), 18);
        assert_eq!(d(&["foo"], &["fd"]), 7);
    }
}
