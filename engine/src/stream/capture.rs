//! Error captures for `show errors`: the bytes of a refused request or response head and
//! where in them the rule was broken, as HAProxy keeps the last one of each proxy. Pure:
//! the machine builds a [`ErrorCapture`], the shell files it (`shard/errors.rs`).
//!
//! The HTTP/1 parser reports *which* rule a head broke, not at which byte; [`error_offset`]
//! finds the first byte that breaks that rule, which is where a byte-by-byte parser such as
//! HAProxy's stops. Rules about the head as a whole (missing `Host`, size) point at its end.

use percore_protocols::http1::{FieldError, RequestError, ResponseError};

use crate::ids::ServerKey;

/// Bytes of a head kept at most (HAProxy keeps one buffer: `tune.bufsize`, 16 KiB by
/// default); the memory bound is one capture per frontend and per backend per shard.
pub const CAPTURE_BYTES_MAX: usize = 16 * 1024;

/// One refused head, as the machine saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorCapture {
    /// A response from a server (`true`) or a request from a client.
    pub response: bool,
    /// The head bytes received so far (at most [`CAPTURE_BYTES_MAX`]).
    pub bytes: Vec<u8>,
    /// Offset of the first byte that broke the rule.
    pub error_at: usize,
    /// Backend of the exchange, when routed.
    pub backend: Option<usize>,
    /// Server that sent the response.
    pub server: Option<ServerKey>,
}

impl ErrorCapture {
    /// A refused request head.
    pub fn request(bytes: &[u8], e: &RequestError) -> Self {
        ErrorCapture {
            response: false,
            error_at: request_offset(bytes, e).min(bytes.len()),
            bytes: bytes[..bytes.len().min(CAPTURE_BYTES_MAX)].to_vec(),
            backend: None,
            server: None,
        }
    }

    /// A refused response head from `server`.
    pub fn response(bytes: &[u8], e: &ResponseError, server: Option<ServerKey>) -> Self {
        let error_at = match e {
            ResponseError::Field(f) => field_offset(bytes, f),
            _ => line_end_from(bytes, 0),
        };
        ErrorCapture {
            response: true,
            error_at: error_at.min(bytes.len()),
            bytes: bytes[..bytes.len().min(CAPTURE_BYTES_MAX)].to_vec(),
            backend: server.map(|k| k.backend),
            server,
        }
    }
}

/// Where a request head breaks `e`.
fn request_offset(bytes: &[u8], e: &RequestError) -> usize {
    use RequestError as E;
    match e {
        E::Field(f) => field_offset(bytes, f),
        E::MethodNotToken { byte } | E::TargetByte { byte } => find_byte(bytes, *byte, 0),
        E::MissingHost | E::HeadTooLarge { .. } | E::TooManyHeaders { .. } => head_end(bytes),
        E::DuplicateHost => nth_field(bytes, b"host", 2),
        E::HostInvalid | E::HostMismatch => nth_field(bytes, b"host", 1),
        // Request-line rules: the parser stops on that line.
        _ => 0,
    }
}

/// Where a head breaks the field-line rule `f`.
fn field_offset(bytes: &[u8], f: &FieldError) -> usize {
    use FieldError as F;
    let fields = line_end_from(bytes, 0);
    match f {
        F::BareLf => (0..bytes.len())
            .find(|&i| bytes[i] == b'\n' && (i == 0 || bytes[i - 1] != b'\r'))
            .unwrap_or(0),
        F::BareCr => (0..bytes.len())
            .find(|&i| bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n'))
            .unwrap_or(0),
        F::NameByte { byte } | F::ValueByte { byte } => find_byte(bytes, *byte, fields),
        // HAProxy stops on the second value, after `Content-Length: `.
        F::DuplicateContentLength => value_start(bytes, nth_field(bytes, b"content-length", 2)),
        _ => bad_field_line(bytes, fields),
    }
}

/// Offset of the first `byte` at or after `from` (the end when absent).
fn find_byte(bytes: &[u8], byte: u8, from: usize) -> usize {
    bytes[from.min(bytes.len())..]
        .iter()
        .position(|&b| b == byte)
        .map_or(bytes.len(), |i| from + i)
}

/// Offset just after the LF of the line starting at `at` (the end of the bytes when the line
/// is not complete); at 0, where the field lines start.
fn line_end_from(bytes: &[u8], at: usize) -> usize {
    bytes[at..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |i| at + i + 1)
}

/// Offset of the empty line ending the head (the end of the bytes when not there yet).
fn head_end(bytes: &[u8]) -> usize {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(bytes.len(), |i| i + 2)
}

/// Start of the `n`th (1-based) field line named `name` (case-insensitive).
fn nth_field(bytes: &[u8], name: &[u8], n: usize) -> usize {
    let mut seen = 0;
    let mut at = line_end_from(bytes, 0);
    while at < bytes.len() {
        let line = &bytes[at..];
        let named = line.len() > name.len()
            && line[..name.len()].eq_ignore_ascii_case(name)
            && line[name.len()] == b':';
        if named {
            seen += 1;
            if seen == n {
                return at;
            }
        }
        at = line_end_from(bytes, at);
    }
    head_end(bytes)
}

/// Offset of the value of the field line starting at `line`: after the colon and spaces.
fn value_start(bytes: &[u8], line: usize) -> usize {
    let Some(colon) = bytes[line.min(bytes.len())..]
        .iter()
        .position(|&b| b == b':')
    else {
        return line;
    };
    let mut at = line + colon + 1;
    while bytes.get(at).is_some_and(|&b| b == b' ' || b == b'\t') {
        at += 1;
    }
    at
}

/// Start of the first field line that is not `name: value` with a token name: obs-fold,
/// no colon, empty name, whitespace in the name.
fn bad_field_line(bytes: &[u8], from: usize) -> usize {
    let mut at = from;
    while at < bytes.len() {
        let end = line_end_from(bytes, at);
        let text = &bytes[at..end];
        let text = text.strip_suffix(b"\n").unwrap_or(text);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if text.is_empty() {
            break;
        }
        let colon = text.iter().position(|&b| b == b':');
        let name_ok = colon
            .is_some_and(|c| c > 0 && text[..c].iter().all(|&b| b.is_ascii_graphic() && b != b':'));
        if !name_ok {
            return at;
        }
        at = end;
    }
    at.min(bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_point_at_the_broken_rule() {
        let dup =
            b"GET / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\nHost: x\r\n\r\nabcd";
        let e = RequestError::Field(FieldError::DuplicateContentLength);
        assert_eq!(
            ErrorCapture::request(dup, &e).error_at,
            51,
            "HAProxy's position"
        );
        let fold = b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n";
        assert_eq!(field_offset(fold, &FieldError::ObsFold), 25);
        let nocolon = b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n";
        assert_eq!(field_offset(nocolon, &FieldError::MissingColon), 25);
        let bare = b"GET / HTTP/1.1\nHost: x\r\n\r\n";
        assert_eq!(field_offset(bare, &FieldError::BareLf), 14);
        let two = b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n";
        assert_eq!(request_offset(two, &RequestError::DuplicateHost), 25);
        let nohost = b"GET / HTTP/1.1\r\nX: y\r\n\r\n";
        assert_eq!(request_offset(nohost, &RequestError::MissingHost), 22);
        let target = b"GET /a\x01b HTTP/1.1\r\n\r\n";
        let e = RequestError::TargetByte { byte: 1 };
        assert_eq!(request_offset(target, &e), 6);
    }

    #[test]
    fn captures_are_bounded() {
        let big = vec![b'a'; CAPTURE_BYTES_MAX + 10];
        let c = ErrorCapture::request(&big, &RequestError::MissingTarget);
        assert_eq!(c.bytes.len(), CAPTURE_BYTES_MAX);
        assert!(c.error_at <= big.len());
    }
}
