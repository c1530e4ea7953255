//! No input makes `parse` panic (a panic is an abort in release builds, STYLE §9). Property
//! tests feed it arbitrary text, YAML-looking text built from the schema's own words, and the
//! example files with random edits, and check that any error points inside the text.

use proptest::prelude::*;

use percore_conf::{parse, ConfigError, HostInfo};

const EXAMPLE: &str = include_str!("../examples/tcp.yaml");

/// Words that make generated text reach deep into the schema and the YAML grammar.
const WORDS: &[&str] = &[
    "global",
    "defaults",
    "frontends",
    "backends",
    "shards",
    "maxconn",
    "grace",
    "cli",
    "control_cpu",
    "admin",
    "socket",
    "mode",
    "level",
    "extra",
    "bind",
    "allow_remote",
    "log",
    "target",
    "format",
    "access",
    "facility",
    "tag",
    "sample",
    "rate_max",
    "log_format",
    "accept_proxy",
    "local0",
    "rfc5424",
    "\"udp://127.0.0.1:514\"",
    "\"unix:///dev/log\"",
    "\"%ci %{+Q}r %zz %\"",
    "tune",
    "bufsize",
    "control_ring",
    "io_memory",
    "backlog",
    "max_header_size",
    "max_headers",
    "timeout",
    "connect",
    "client",
    "server",
    "tunnel",
    "http_request",
    "http_keep_alive",
    "queue",
    "retries",
    "redispatch",
    "balance",
    "servers",
    "name",
    "address",
    "weight",
    "send_proxy",
    "default_backend",
    "use_backend",
    "check",
    "metrics",
    "web",
    "app",
    "s1",
    "auto",
    "tcp",
    "http",
    "roundrobin",
    "leastconn",
    "hdr(x)",
    "v1",
    "v2",
    "user",
    "operator",
    "haproxy",
    "stderr",
    "true",
    "false",
    "~",
    "null",
    "0",
    "1",
    "-1",
    "256",
    "257",
    "0600",
    "\"0600\"",
    "10s",
    "0ms",
    "16k",
    "99999999999999999999",
    "1.5",
    ".inf",
    "0x1F",
    "0o17",
    "127.0.0.1:8080",
    "\"[::1]:0\"",
    "localhost:80",
    "[0, 1]",
    "{}",
    "[]",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "- ",
    "? ",
    "&a",
    "*a",
    "*b",
    "!!str",
    "!x",
    "|",
    ">",
    "'",
    "\"",
    "#",
    "---",
    "...",
    "%YAML 1.2",
    "\t",
    "\\",
    "\u{feff}",
    "é",
    "\u{0}",
];

fn word() -> impl Strategy<Value = &'static str> {
    prop::sample::select(WORDS)
}

/// A line such as `    - key: value` assembled from schema words and punctuation.
fn line() -> impl Strategy<Value = String> {
    (
        0usize..10,
        any::<bool>(),
        word(),
        prop::option::of(word()),
        prop::option::of(word()),
    )
        .prop_map(|(indent, item, key, value, more)| {
            let mut line = " ".repeat(indent);
            if item {
                line.push_str("- ");
            }
            line.push_str(key);
            if let Some(value) = value {
                line.push_str(": ");
                line.push_str(value);
            }
            if let Some(more) = more {
                line.push(' ');
                line.push_str(more);
            }
            line
        })
}

/// Random edits of a valid file: each (position, length, replacement) cuts and inserts.
fn edits() -> impl Strategy<Value = Vec<(usize, usize, &'static str)>> {
    prop::collection::vec((any::<usize>(), 0usize..12, word()), 1..6)
}

fn host() -> HostInfo {
    HostInfo {
        cpus: vec![0, 1, 2, 3],
    }
}

/// Parses and checks that an error's position lies within the text.
fn check(text: &str) -> Result<(), TestCaseError> {
    let Err(error) = parse("fuzz.yaml", text, &host()) else {
        return Ok(());
    };
    let ConfigError { line, column, .. } = &error;
    let lines = yaml_lines(text);
    if let Some(line) = line {
        prop_assert!(
            *line >= 1 && *line <= lines.len(),
            "line {line} of {}: {error}",
            lines.len()
        );
    }
    if let Some(column) = column {
        let line = line.expect("a column comes with a line");
        let chars = lines[line - 1];
        prop_assert!(
            *column >= 1 && *column <= chars + 1,
            "column {column} of {chars}: {error}"
        );
    }
    prop_assert!(error.to_string().starts_with("fuzz.yaml"), "{error}");
    Ok(())
}

/// Characters per line, lines split at YAML breaks (`\n`, `\r\n`, `\r`); a final break
/// opens an empty last line.
fn yaml_lines(text: &str) -> Vec<usize> {
    let mut lines = vec![0];
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' && chars.peek() == Some(&'\n') {
            chars.next();
        }
        if c == '\n' || c == '\r' {
            lines.push(0);
        } else {
            *lines.last_mut().expect("never empty") += 1;
        }
    }
    lines
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text(text in "\\PC{0,400}") {
        check(&text)?;
    }

    #[test]
    fn arbitrary_bytes_as_text(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        check(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn yaml_looking_text(lines in prop::collection::vec(line(), 0..40)) {
        check(&lines.join("\n"))?;
    }

    #[test]
    fn edited_example(edits in edits()) {
        let mut text: Vec<char> = EXAMPLE.chars().collect();
        for (at, cut, insert) in edits {
            let at = at % (text.len() + 1);
            let end = (at + cut).min(text.len());
            text.splice(at..end, insert.chars());
        }
        check(&text.into_iter().collect::<String>())?;
    }

    #[test]
    fn example_cut_at_every_length(end in 0usize..EXAMPLE.len()) {
        let end = (0..=end).rev().find(|i| EXAMPLE.is_char_boundary(*i)).unwrap_or(0);
        check(&EXAMPLE[..end])?;
    }
}

#[test]
fn pathological_inputs() {
    let deep_flow = "[".repeat(100_000);
    let deep_block: String = (0..200)
        .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
        .collect();
    let long_key = format!("{}: 1\n", "k".repeat(100_000));
    let many_keys: String = (0..20_000).map(|i| format!("k{i}: {i}\n")).collect();
    let wide_list = format!("frontends: [{}]\n", "1, ".repeat(50_000));
    let mut laughs = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        laughs.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    for text in [
        deep_flow, deep_block, long_key, many_keys, wide_list, laughs,
    ] {
        assert!(parse("p.yaml", &text, &host()).is_err());
    }
}
