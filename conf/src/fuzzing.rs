//! Entry point of the `config_text` fuzz target (`fuzz/`) and its property-test twins: the
//! whole pipeline on arbitrary text, with the invariants that must hold whatever the text.
//! Hidden from docs; not an API.

use crate::{parse, HostInfo};

/// Longest input the entry point reads: enough for every construct, small enough that one
/// run stays well under a millisecond budget's worth of work even at the node bound.
pub const INPUT_BYTES_MAX: usize = 64 << 10;

/// Parses the first [`INPUT_BYTES_MAX`] bytes of `data` (lossy UTF-8: invalid bytes are
/// `load`'s business and only make the fuzzer's mutations less useful here) as a
/// configuration. Asserts: the answer is deterministic; an error has a message and a
/// position (`fuzz.yaml:LINE:COL: …`, as issue 17 requires of every configuration error),
/// and that position lies inside the text (at most one past the end of its line; a final
/// line break opens an empty last line).
pub fn config_text(data: &[u8]) {
    let data = &data[..data.len().min(INPUT_BYTES_MAX)];
    let text = String::from_utf8_lossy(data);
    let host = HostInfo { cpus: vec![0, 1] };
    let answer = parse("fuzz.yaml", &text, &host);
    assert_eq!(
        answer,
        parse("fuzz.yaml", &text, &host),
        "parse is deterministic"
    );
    let Err(error) = answer else {
        return;
    };
    assert!(!error.message.is_empty(), "{error:?}");
    let (Some(line), Some(column)) = (error.line, error.column) else {
        panic!("configuration error without a position: {error:?}");
    };
    assert!(
        error
            .to_string()
            .starts_with(&format!("fuzz.yaml:{line}:{column}: ")),
        "{error}"
    );
    let lines = lines(&text);
    assert!(
        line >= 1 && line <= lines.len(),
        "line {line} of {}: {error}",
        lines.len()
    );
    let width = lines[line - 1].chars().count();
    assert!(
        column >= 1 && column <= width + 1,
        "column {column} of a {width}-character line: {error}"
    );
}

/// The text's lines as YAML counts them: LF, CRLF and a lone CR end a line.
fn lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                lines.push(&text[start..i]);
                start = i + 1;
            }
            b'\r' => {
                lines.push(&text[start..i]);
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    lines.push(&text[start..]);
    lines
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Every input kept in `testdata/fuzz/config_text` (seeds and findings of the fuzz
    /// target) keeps the invariants.
    #[test]
    fn testdata_inputs() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/fuzz/config_text");
        let mut inputs = 0;
        for entry in std::fs::read_dir(&dir).expect("testdata folder") {
            let path = entry.expect("readable folder").path();
            if path.extension().is_some_and(|e| e == "md") {
                continue;
            }
            config_text(&std::fs::read(&path).expect("readable input"));
            inputs += 1;
        }
        assert!(inputs >= 1, "{inputs} inputs in {}", dir.display());
    }

    #[test]
    fn lines_end_at_lf_crlf_and_cr() {
        assert_eq!(lines("a\nb\r\nc\rd"), ["a", "b", "c", "d"]);
        assert_eq!(lines("a\n"), ["a", ""]);
    }

    const VALID: &str = "frontends:\n  web:\n    bind: \"127.0.0.1:8080\"\n    \
        default_backend: app\nbackends:\n  app:\n    servers:\n      \
        - { name: s0, address: \"127.0.0.1:9000\", weight: 3 }\n";

    proptest! {
        #[test]
        fn arbitrary_text_keeps_invariants(text in "\\PC{0,200}") {
            config_text(text.as_bytes());
        }

        /// A valid file with one byte replaced, inserted or removed: errors deep in the
        /// schema, with positions to check.
        #[test]
        fn mutated_config_keeps_invariants(at in any::<usize>(), byte in any::<u8>(), how in 0u8..3) {
            let mut bytes = VALID.as_bytes().to_vec();
            let at = at % bytes.len();
            match how {
                0 => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                _ => { bytes.remove(at); }
            }
            config_text(&bytes);
        }
    }
}
