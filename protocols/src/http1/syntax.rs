//! Byte classes and the strict line grammar of RFC 9112 and RFC 9110.
//!
//! This module owns what a well-formed start line, field line, `Host` and `Content-Length`
//! look like. The head parsers call it in two ways: on the hot path for the few checks
//! `httparse` does not make (target bytes, `Host` syntax, framing values), and on the slow path
//! when a head is refused, to name the first violated rule in byte order
//! ([`diagnose_request`], [`diagnose_response`]). [`FieldLines`] validates a field section one
//! byte at a time, so chunked trailers use the very same grammar without buffering.

use std::net::Ipv6Addr;

use crate::http1::error::{FieldError, RequestError, ResponseError};
use crate::http1::Version;

/// Builds a 256-entry membership table from a byte predicate written as a `match`.
macro_rules! byte_table {
    ($pat:pat) => {{
        let mut table = [false; 256];
        let mut i = 0;
        while i < 256 {
            table[i] = matches!(i as u8, $pat);
            i += 1;
        }
        table
    }};
}

/// `tchar` (RFC 9110 §5.6.2): the bytes of methods, field names and other tokens.
static TCHAR: [bool; 256] = byte_table!(
    b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`'
        | b'|' | b'~' | b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z'
);
/// Field value bytes: VCHAR, obs-text, SP and HTAB (RFC 9110 §5.5).
static VALUE: [bool; 256] = byte_table!(b'\t' | b' '..=b'~' | 0x80..=0xff);
/// Request-target bytes: visible ASCII except `#`. Non-ASCII and controls are refused; the
/// finer RFC 3986 classes are not enforced because clients send `|`, `{`, `"` unescaped and
/// none of them changes where a request ends.
static TARGET: [bool; 256] = byte_table!(b'!' | b'$'..=b'~' | b'"');
/// `reg-name` bytes of a host (RFC 3986 §3.2.2): unreserved, sub-delims and `%`.
static REG_NAME: [bool; 256] = byte_table!(
    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'!' | b'$' | b'&'
        | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' | b'%'
);

/// Whether `b` is a `tchar`.
pub(crate) fn is_tchar(b: u8) -> bool {
    TCHAR[b as usize]
}

/// Whether `b` may appear in a field value (or reason phrase).
pub(crate) fn is_value_byte(b: u8) -> bool {
    VALUE[b as usize]
}

/// Whether `b` may appear in a request target.
pub(crate) fn is_target_byte(b: u8) -> bool {
    TARGET[b as usize]
}

/// Whether `s` is a non-empty token.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// `s` without leading and trailing SP/HTAB (OWS).
pub(crate) fn trim_ows(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| b != b' ' && b != b'\t');
    let Some(start) = start else { return &[] };
    let end = s
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .expect("a non-whitespace byte exists");
    &s[start..=end]
}

/// The elements of a comma-separated field value, each without OWS. Quoting is not honoured:
/// the lists percore reads (`Transfer-Encoding`, `Connection`) hold bare tokens only, and an
/// element with a quote is refused as a non-token anyway.
pub(crate) fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(trim_ows)
}

/// Parses a `Content-Length` value: one or more decimal digits, nothing else, at most
/// `u64::MAX`. Leading zeros are accepted (RFC 9110 `1*DIGIT`); the codec re-emits the number
/// without them.
pub(crate) fn parse_content_length(value: &[u8]) -> Result<u64, FieldError> {
    if value.is_empty() {
        return Err(FieldError::ContentLengthEmpty);
    }
    let mut n: u64 = 0;
    for &b in value {
        if !b.is_ascii_digit() {
            return Err(FieldError::ContentLengthNotDigits { byte: b });
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or(FieldError::ContentLengthOverflow)?;
    }
    Ok(n)
}

/// Whether `value` is a valid `Host` / authority: `uri-host [":" port]` (RFC 9110 §7.2),
/// where uri-host is a non-empty reg-name (with well-formed `%HH`), an IPv4 address (a
/// reg-name too) or a bracketed IPv6 address, and port is 1 to 5 digits up to 65535.
/// Refused: empty hosts, userinfo (`@`), whitespace, `IPvFuture`, zone ids, empty ports.
pub(crate) fn is_valid_authority(value: &[u8]) -> bool {
    let (host_ok, rest) = if value.first() == Some(&b'[') {
        let Some(close) = value.iter().position(|&b| b == b']') else {
            return false;
        };
        let inner = &value[1..close];
        let ok = inner
            .iter()
            .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
            && std::str::from_utf8(inner)
                .ok()
                .and_then(|s| s.parse::<Ipv6Addr>().ok())
                .is_some();
        (ok, &value[close + 1..])
    } else {
        let end = value.iter().position(|&b| b == b':').unwrap_or(value.len());
        (is_reg_name(&value[..end]), &value[end..])
    };
    host_ok && (rest.is_empty() || is_port(rest))
}

fn is_reg_name(host: &[u8]) -> bool {
    if host.is_empty() || !host.iter().all(|&b| REG_NAME[b as usize]) {
        return false;
    }
    // Every `%` opens a pct-encoded triplet.
    let mut i = 0;
    while i < host.len() {
        if host[i] == b'%' {
            let hex = host.get(i + 1..i + 3);
            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

/// `:port` with 1 to 5 digits, at most 65535.
fn is_port(rest: &[u8]) -> bool {
    let Some(digits) = rest.strip_prefix(b":") else {
        return false;
    };
    !digits.is_empty()
        && digits.len() <= 5
        && digits.iter().all(u8::is_ascii_digit)
        && digits
            .iter()
            .fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'))
            <= 65535
}

/// A version token checked against `HTTP/DIGIT.DIGIT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VersionCheck {
    /// 1.0 or 1.1.
    Supported(Version),
    /// Well-formed, another number.
    NotSupported { major: u8, minor: u8 },
    /// Not `HTTP/DIGIT.DIGIT`.
    Malformed,
}

pub(crate) fn check_version(v: &[u8]) -> VersionCheck {
    match v {
        b"HTTP/1.1" => VersionCheck::Supported(Version::Http11),
        b"HTTP/1.0" => VersionCheck::Supported(Version::Http10),
        [b'H', b'T', b'T', b'P', b'/', major @ b'0'..=b'9', b'.', minor @ b'0'..=b'9'] => {
            VersionCheck::NotSupported {
                major: major - b'0',
                minor: minor - b'0',
            }
        }
        _ => VersionCheck::Malformed,
    }
}

/// What a field section's validator saw at a byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineEvent {
    /// Inside a line.
    Byte,
    /// The first byte of a field name: one more field.
    FieldStart,
    /// The LF that ends a field line.
    FieldEnd,
    /// The LF of the empty line that ends the section.
    SectionEnd,
}

/// Where [`FieldLines`] is inside a field section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineState {
    /// At the first byte of a line.
    LineStart,
    /// Inside a field name.
    Name,
    /// After the colon, inside OWS or the value.
    Value,
    /// After the CR that ends a field line.
    ValueCr,
    /// After the CR of the empty line.
    EndCr,
    /// After the empty line (terminal).
    Done,
}

/// Byte-at-a-time validator of a field section (`*( field-line CRLF ) CRLF`), strict: CRLF
/// only, no obs-fold, no whitespace before the colon, token names, values free of controls
/// other than HTAB. Used to name the rule a refused head breaks and to check trailers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FieldLines {
    state: LineState,
}

impl FieldLines {
    /// A validator at the start of a section.
    pub(crate) fn new() -> Self {
        FieldLines {
            state: LineState::LineStart,
        }
    }

    /// Feeds one byte. An error is final: the section is invalid whatever follows.
    pub(crate) fn push(&mut self, b: u8) -> Result<LineEvent, FieldError> {
        let (next, event) = match (self.state, b) {
            (LineState::LineStart, b'\r') => (LineState::EndCr, LineEvent::Byte),
            (LineState::LineStart, b'\n') => return Err(FieldError::BareLf),
            (LineState::LineStart, b' ' | b'\t') => return Err(FieldError::ObsFold),
            (LineState::LineStart, b':') => return Err(FieldError::EmptyName),
            (LineState::LineStart, b) if is_tchar(b) => (LineState::Name, LineEvent::FieldStart),
            (LineState::LineStart, b) => return Err(FieldError::NameByte { byte: b }),
            (LineState::Name, b':') => (LineState::Value, LineEvent::Byte),
            (LineState::Name, b) if is_tchar(b) => (LineState::Name, LineEvent::Byte),
            (LineState::Name, b' ' | b'\t') => return Err(FieldError::NameWhitespace),
            (LineState::Name, b'\r' | b'\n') => return Err(FieldError::MissingColon),
            (LineState::Name, b) => return Err(FieldError::NameByte { byte: b }),
            (LineState::Value, b'\r') => (LineState::ValueCr, LineEvent::Byte),
            (LineState::Value, b'\n') => return Err(FieldError::BareLf),
            (LineState::Value, b) if is_value_byte(b) => (LineState::Value, LineEvent::Byte),
            (LineState::Value, b) => return Err(FieldError::ValueByte { byte: b }),
            (LineState::ValueCr, b'\n') => (LineState::LineStart, LineEvent::FieldEnd),
            (LineState::EndCr, b'\n') => (LineState::Done, LineEvent::SectionEnd),
            (LineState::ValueCr | LineState::EndCr, _) => return Err(FieldError::BareCr),
            (LineState::Done, _) => (LineState::Done, LineEvent::SectionEnd),
        };
        self.state = next;
        Ok(event)
    }
}

/// Why a field section was refused: a grammar rule, or one field too many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SectionError {
    Field(FieldError),
    TooMany,
}

/// Checks the field section that starts at `head[from..]`: the first violated rule in byte
/// order, counting a field as soon as its name starts.
fn check_section(head: &[u8], from: usize, max_fields: usize) -> Result<(), SectionError> {
    let mut lines = FieldLines::new();
    let mut fields = 0usize;
    for &b in &head[from..] {
        match lines.push(b).map_err(SectionError::Field)? {
            LineEvent::FieldStart => {
                fields += 1;
                if fields > max_fields {
                    return Err(SectionError::TooMany);
                }
            }
            LineEvent::SectionEnd => return Ok(()),
            LineEvent::Byte | LineEvent::FieldEnd => {}
        }
    }
    Ok(())
}

/// The bytes after a start line's last field: CRLF expected. Returns the offset after it.
fn line_end(head: &[u8], at: usize) -> Result<usize, FieldError> {
    match (head.get(at), head.get(at + 1)) {
        (Some(b'\r'), Some(b'\n')) => Ok(at + 2),
        (Some(b'\n'), _) => Err(FieldError::BareLf),
        _ => Err(FieldError::BareCr),
    }
}

/// Checks a request line (`method SP target SP version CRLF`) at the start of `head`, byte
/// by byte, and returns the offset after its CRLF.
pub(crate) fn check_request_line(head: &[u8]) -> Result<usize, RequestError> {
    let method_end = head
        .iter()
        .position(|&b| !is_tchar(b))
        .unwrap_or(head.len());
    match head.get(method_end) {
        Some(b' ') if method_end > 0 => {}
        Some(b' ') => return Err(RequestError::RequestLineSpacing),
        Some(b'\r' | b'\n') if method_end > 0 => return Err(RequestError::MissingTarget),
        Some(&byte) => return Err(RequestError::MethodNotToken { byte }),
        None => return Err(RequestError::MissingTarget),
    }
    let target_start = method_end + 1;
    match head.get(target_start) {
        Some(b' ') => return Err(RequestError::RequestLineSpacing),
        Some(b'\r' | b'\n') | None => return Err(RequestError::MissingTarget),
        Some(_) => {}
    }
    let target_end = target_start
        + head[target_start..]
            .iter()
            .position(|&b| !is_target_byte(b))
            .unwrap_or(head.len() - target_start);
    match head.get(target_end) {
        Some(b' ') => {}
        Some(b'\r' | b'\n') | None => return Err(RequestError::Http09),
        Some(&byte) => return Err(RequestError::TargetByte { byte }),
    }
    let version_start = target_end + 1;
    let version_end = version_start
        + head[version_start..]
            .iter()
            .position(|&b| matches!(b, b' ' | b'\r' | b'\n'))
            .unwrap_or(head.len() - version_start);
    let version = &head[version_start..version_end];
    if version.is_empty() || head.get(version_end) == Some(&b' ') {
        return Err(RequestError::RequestLineSpacing);
    }
    match check_version(version) {
        VersionCheck::Supported(_) => {}
        VersionCheck::NotSupported { .. }
            if &head[..method_end] == b"PRI" && &head[target_start..target_end] == b"*" =>
        {
            return Err(RequestError::Http2Preface)
        }
        VersionCheck::NotSupported { major, minor } => {
            return Err(RequestError::VersionNotSupported { major, minor })
        }
        VersionCheck::Malformed => return Err(RequestError::VersionMalformed),
    }
    Ok(line_end(head, version_end)?)
}

/// Names the first rule a complete request head breaks, in byte order, or `None` if the
/// strict grammar finds nothing wrong. `head` starts at the request line and ends after the
/// empty line.
pub(crate) fn diagnose_request(head: &[u8], max_headers: usize) -> Option<RequestError> {
    let fields = match check_request_line(head) {
        Ok(at) => at,
        Err(e) => return Some(e),
    };
    match check_section(head, fields, max_headers) {
        Ok(()) => None,
        Err(SectionError::Field(e)) => Some(RequestError::Field(e)),
        Err(SectionError::TooMany) => Some(RequestError::TooManyHeaders { limit: max_headers }),
    }
}

/// Checks the start of a status line (`version SP 3DIGIT`) and returns the offset after the
/// code, where the reason or the line end begins.
pub(crate) fn check_status_code(head: &[u8]) -> Result<usize, ResponseError> {
    let version_end = head
        .iter()
        .position(|&b| matches!(b, b' ' | b'\r' | b'\n'))
        .unwrap_or(head.len());
    match check_version(&head[..version_end]) {
        VersionCheck::Supported(_) => {}
        VersionCheck::NotSupported { major, minor } => {
            return Err(ResponseError::VersionNotSupported { major, minor })
        }
        VersionCheck::Malformed => return Err(ResponseError::VersionMalformed),
    }
    let code = head.get(version_end + 1..version_end + 4);
    let code_ok = head.get(version_end) == Some(&b' ')
        && code.is_some_and(|c| c.iter().all(u8::is_ascii_digit));
    if !code_ok {
        return Err(ResponseError::StatusCodeMalformed);
    }
    Ok(version_end + 4)
}

/// Checks a status line (`version SP 3DIGIT [SP reason] CRLF`; the space before an empty
/// reason may be missing, as many servers omit it) and returns the offset after its CRLF.
pub(crate) fn check_status_line(head: &[u8]) -> Result<usize, ResponseError> {
    let mut at = check_status_code(head)?;
    match head.get(at) {
        Some(b' ') => {
            at += 1;
            while let Some(&b) = head.get(at) {
                if b == b'\r' || b == b'\n' {
                    break;
                }
                if !is_value_byte(b) {
                    return Err(ResponseError::ReasonByte { byte: b });
                }
                at += 1;
            }
        }
        Some(b'\r' | b'\n') => {}
        _ => return Err(ResponseError::StatusCodeMalformed),
    }
    Ok(line_end(head, at)?)
}

/// Names the first rule a complete response head breaks, in byte order, or `None`.
pub(crate) fn diagnose_response(head: &[u8], max_headers: usize) -> Option<ResponseError> {
    let fields = match check_status_line(head) {
        Ok(at) => at,
        Err(e) => return Some(e),
    };
    match check_section(head, fields, max_headers) {
        Ok(()) => None,
        Err(SectionError::Field(e)) => Some(ResponseError::Field(e)),
        Err(SectionError::TooMany) => Some(ResponseError::TooManyHeaders { limit: max_headers }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_classes() {
        assert!(is_tchar(b'a') && is_tchar(b'~') && is_tchar(b'!'));
        assert!(!is_tchar(b' ') && !is_tchar(b':') && !is_tchar(b'"') && !is_tchar(0x80));
        assert!(is_value_byte(b'\t') && is_value_byte(b' ') && is_value_byte(0xff));
        assert!(!is_value_byte(0) && !is_value_byte(0x7f) && !is_value_byte(b'\r'));
        assert!(is_target_byte(b'/') && is_target_byte(b'"') && is_target_byte(b'|'));
        assert!(!is_target_byte(b'#') && !is_target_byte(b' ') && !is_target_byte(0xc3));
        assert!(!is_target_byte(0x7f) && !is_target_byte(0));
    }

    #[test]
    fn content_length_values() {
        assert_eq!(parse_content_length(b"0"), Ok(0));
        assert_eq!(parse_content_length(b"007"), Ok(7));
        assert_eq!(parse_content_length(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(
            parse_content_length(b"18446744073709551616"),
            Err(FieldError::ContentLengthOverflow)
        );
        assert_eq!(
            parse_content_length(b""),
            Err(FieldError::ContentLengthEmpty)
        );
        for (v, byte) in [
            (&b"+5"[..], b'+'),
            (b"-1", b'-'),
            (b"5, 5", b','),
            (b"1,2", b','),
            (b"5 5", b' '),
            (b"0x5", b'x'),
        ] {
            assert_eq!(
                parse_content_length(v),
                Err(FieldError::ContentLengthNotDigits { byte })
            );
        }
    }

    #[test]
    fn authorities() {
        for ok in [
            &b"example.com"[..],
            b"example.com:8080",
            b"EXAMPLE.com:0",
            b"127.0.0.1",
            b"127.0.0.1:65535",
            b"[::1]",
            b"[2001:db8::1]:443",
            b"[::ffff:1.2.3.4]",
            b"a%20b",
            b"xn--bcher-kva.example",
        ] {
            assert!(is_valid_authority(ok), "{:?}", String::from_utf8_lossy(ok));
        }
        for bad in [
            &b""[..],
            b":80",
            b"a:",
            b"a:65536",
            b"a:123456",
            b"a:8x",
            b"a:+80",
            b"user@a",
            b"a b",
            b"a\tb",
            b"[::1",
            b"[::g]",
            b"[v1.x]",
            b"[fe80::1%25eth0]",
            b"[::1]x",
            b"a%2",
            b"a%zz",
            b"a/b",
            b"a:80:80",
            b"\xc3\xa9.example",
        ] {
            assert!(
                !is_valid_authority(bad),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn lists_and_trim() {
        assert_eq!(trim_ows(b" \t a b\t "), b"a b");
        assert_eq!(trim_ows(b" \t "), b"");
        let v: Vec<&[u8]> = list_elements(b"gzip ,\tchunked,,").collect();
        assert_eq!(v, [&b"gzip"[..], b"chunked", b"", b""]);
    }

    #[test]
    fn versions() {
        assert_eq!(
            check_version(b"HTTP/1.1"),
            VersionCheck::Supported(Version::Http11)
        );
        assert_eq!(
            check_version(b"HTTP/2.0"),
            VersionCheck::NotSupported { major: 2, minor: 0 }
        );
        for bad in [
            &b"http/1.1"[..],
            b"HTTP/1.10",
            b"HTTP/1",
            b"HTTP/2",
            b"HTTP/a.b",
        ] {
            assert_eq!(check_version(bad), VersionCheck::Malformed);
        }
    }

    #[test]
    fn field_lines_name_the_first_violation() {
        let cases: &[(&[u8], Result<(), SectionError>)] = &[
            (b"A: b\r\nC:d\r\n\r\n", Ok(())),
            (b"\r\n", Ok(())),
            (b"A: b\n\r\n", Err(SectionError::Field(FieldError::BareLf))),
            (b"A: b\r\n\n", Err(SectionError::Field(FieldError::BareLf))),
            (
                b"A: b\rc\r\n\r\n",
                Err(SectionError::Field(FieldError::BareCr)),
            ),
            (
                b"A: b\r\n c\r\n\r\n",
                Err(SectionError::Field(FieldError::ObsFold)),
            ),
            (
                b"A : b\r\n\r\n",
                Err(SectionError::Field(FieldError::NameWhitespace)),
            ),
            (
                b"A B: b\r\n\r\n",
                Err(SectionError::Field(FieldError::NameWhitespace)),
            ),
            (
                b": b\r\n\r\n",
                Err(SectionError::Field(FieldError::EmptyName)),
            ),
            (
                b"AB\r\n\r\n",
                Err(SectionError::Field(FieldError::MissingColon)),
            ),
            (
                b"A\x00: b\r\n\r\n",
                Err(SectionError::Field(FieldError::NameByte { byte: 0 })),
            ),
            (
                b"A: b\x00\r\n\r\n",
                Err(SectionError::Field(FieldError::ValueByte { byte: 0 })),
            ),
            (
                b"A: b\x7f\r\n\r\n",
                Err(SectionError::Field(FieldError::ValueByte { byte: 0x7f })),
            ),
            (b"A: 1\r\nB: 2\r\nC: 3\r\n\r\n", Err(SectionError::TooMany)),
        ];
        for (input, want) in cases {
            assert_eq!(
                check_section(input, 0, 2),
                *want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
}
