//! Configuration errors: the public [`ConfigError`] the engine prints, and the crate-internal
//! [`Fault`] that names a YAML path before `locate` has turned it into a line and column.

use std::fmt;

use crate::path::YamlPath;

/// Why a configuration was refused, printed as `FILE:LINE:COL: yaml.path: message`.
///
/// The position is where the offending key or value starts in the source (1-based line and
/// column, columns counted in characters). A key absent from the file is reported at its
/// deepest ancestor that is there (the document itself for a top-level key); a whole-file
/// problem (empty, too large) at `1:1`; invalid UTF-8 at its first bad byte. Only a file that
/// cannot be read has no position and prints as `FILE: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ConfigError {
    /// The file name as given to `load` or `parse`.
    pub file: String,
    /// 1-based line of the offending key or value, when known.
    pub line: Option<usize>,
    /// 1-based column (in characters) of the offending key or value, when known.
    pub column: Option<usize>,
    /// Dotted YAML path such as `backends.app.servers[0].weight`; empty for the whole document.
    pub path: String,
    /// What is wrong, in lower case, with the expected and found values where they help.
    pub message: String,
}

impl ConfigError {
    /// The `Display` text; separate so `thiserror` can call it.
    fn render(&self) -> String {
        let mut out = self.file.clone();
        if let Some(line) = self.line {
            out.push_str(&format!(":{line}"));
            if let Some(column) = self.column {
                out.push_str(&format!(":{column}"));
            }
        }
        out.push_str(": ");
        if !self.path.is_empty() {
            out.push_str(&self.path);
            out.push_str(": ");
        }
        out.push_str(&self.message);
        out
    }
}

/// A 1-based line and column in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Mark {
    /// 1-based line.
    pub(crate) line: usize,
    /// 1-based column, in characters.
    pub(crate) column: usize,
}

/// Which part of the node at a [`Fault`]'s path the position should point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// The mapping key that leads to the node (`bnd:` for an unknown field).
    Key,
    /// The node's value (`0` for `maxconn: 0`).
    Value,
    /// A position already known, for faults found while reading the YAML itself, and
    /// [`Mark::START`] for faults about the whole file.
    Mark(Mark),
}

/// A refusal found before positions are attached: path, where on it, and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fault {
    pub(crate) path: YamlPath,
    pub(crate) place: Place,
    pub(crate) message: String,
}

impl Fault {
    /// A fault about the value at `path`.
    pub(crate) fn value(path: &YamlPath, message: impl Into<String>) -> Self {
        Self {
            path: path.clone(),
            place: Place::Value,
            message: message.into(),
        }
    }

    /// A fault about the key that leads to `path`.
    pub(crate) fn key(path: &YamlPath, message: impl Into<String>) -> Self {
        Self {
            path: path.clone(),
            place: Place::Key,
            message: message.into(),
        }
    }
}

impl Mark {
    /// Line 1, column 1: where whole-file faults (empty, too large) are reported.
    pub(crate) const START: Mark = Mark { line: 1, column: 1 };

    /// The position just after `prefix`, the start of a source text. Lines break where YAML
    /// breaks them (`\n`, `\r\n`, a lone `\r`); columns count characters (bytes that do not
    /// continue a UTF-8 sequence), and a leading byte order mark is not one, as in the
    /// parser's own marks. Works on bytes so that the valid part of a file that is not UTF-8
    /// can be measured.
    pub(crate) fn after(prefix: &[u8]) -> Mark {
        let text = prefix.strip_prefix(b"\xef\xbb\xbf").unwrap_or(prefix);
        let mut mark = Mark::START;
        let mut after_cr = false;
        for &byte in text {
            match byte {
                b'\n' if after_cr => {}
                b'\r' | b'\n' => {
                    mark = Mark {
                        line: mark.line + 1,
                        column: 1,
                    }
                }
                b if b & 0xc0 != 0x80 => mark.column += 1,
                _ => {}
            }
            after_cr = byte == b'\r';
        }
        mark
    }
}

impl fmt::Display for Mark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(line: Option<usize>, column: Option<usize>, path: &str) -> ConfigError {
        ConfigError {
            file: "a.yaml".into(),
            line,
            column,
            path: path.into(),
            message: "boom".into(),
        }
    }

    #[test]
    fn display_leaves_out_unknown_parts() {
        assert_eq!(
            error(Some(3), Some(5), "x.y").to_string(),
            "a.yaml:3:5: x.y: boom"
        );
        assert_eq!(
            error(Some(3), None, "x.y").to_string(),
            "a.yaml:3: x.y: boom"
        );
        assert_eq!(error(None, None, "x.y").to_string(), "a.yaml: x.y: boom");
        assert_eq!(error(None, None, "").to_string(), "a.yaml: boom");
        assert_eq!(error(Some(1), Some(1), "").to_string(), "a.yaml:1:1: boom");
    }

    #[test]
    fn mark_after_counts_yaml_breaks_and_characters() {
        let at = |text: &[u8]| {
            let m = Mark::after(text);
            (m.line, m.column)
        };
        assert_eq!(at(b""), (1, 1));
        assert_eq!(at(b"ab"), (1, 3));
        assert_eq!(at("a\u{e9}\u{1f600}".as_bytes()), (1, 4));
        assert_eq!(at(b"a\nb"), (2, 2));
        assert_eq!(at(b"a\r\nb\r\n"), (3, 1));
        assert_eq!(at(b"a\rb\r"), (3, 1));
        assert_eq!(at(b"\n\n"), (3, 1));
        assert_eq!(at(b"\xef\xbb\xbfab"), (1, 3));
    }
}
