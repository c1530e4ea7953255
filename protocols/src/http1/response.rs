//! Response heads from servers: parsing, strict validation, body framing (which depends on
//! the request), accessors, edits and serialisation toward the client.
//!
//! The shell calls [`parse_response`] (or [`crate::http1::HeadScan::handle_response`]) with
//! whether the request was `HEAD`, forwards interim responses ([`ResponseHead::is_interim`])
//! and reads the next head, writes the final one with [`ResponseHead::write`], and forwards
//! its body per [`ResponseHead::framing`]. Every refusal answers the client 502.

use std::mem::MaybeUninit;

use crate::http1::error::{EditError, FieldError, ResponseError};
use crate::http1::fields::{
    check_fields, check_name, field_spans, push_decimal, Declared, FieldSpan, FieldTable, HeadBuf,
    Headers, Span,
};
use crate::http1::scan::HeadScan;
use crate::http1::syntax::{check_status_code, diagnose_response};
use crate::http1::{BodyFraming, ConnectionFlags, ConnectionHeader, Limits, Version, HEADERS_MAX};

/// A parsed, validated response head. Owns one copy of the head bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct ResponseHead {
    table: FieldTable,
    version: Version,
    status: u16,
    reason: Span,
    framing: BodyFraming,
    declared: Declared,
    connection: ConnectionFlags,
    /// The request was `HEAD`.
    head_request: bool,
}

/// Parses the response head at the start of `buf`; `request_method_is_head` says whether the
/// request was `HEAD`. Same contract as [`crate::http1::parse_request`]; every error maps to
/// 502.
///
/// Framing (RFC 9112 §6.3): 101 → [`BodyFraming::Tunnel`]; HEAD responses, other 1xx, 204
/// and 304 → [`BodyFraming::None`] (their framing fields are still validated); otherwise
/// `Transfer-Encoding: chunked` → `Chunked`, `Content-Length` → `Length`, neither →
/// [`BodyFraming::UntilClose`].
pub fn parse_response(
    buf: &[u8],
    limits: &Limits,
    request_method_is_head: bool,
) -> Result<Option<(ResponseHead, usize)>, ResponseError> {
    HeadScan::new().handle_response(buf, limits, request_method_is_head, &mut HeadBuf::new())
}

/// The status code at the start of `bytes` (`HTTP/1.x SP 3DIGIT`, then SP, CR or the end of
/// `bytes`) if it is in 100..=599, else `None`. For health checks, which read no more than
/// the status line and judge only its code.
pub fn status_line_code(bytes: &[u8]) -> Option<u16> {
    let at = check_status_code(bytes).ok()?;
    if !matches!(bytes.get(at), None | Some(b' ' | b'\r')) {
        return None;
    }
    let code = bytes[at - 3..at]
        .iter()
        .fold(0, |n, d| n * 10 + u16::from(d - b'0'));
    (100..=599).contains(&code).then_some(code)
}

/// Parses a complete head (`head` starts at the status line and ends after the empty line).
/// Grammar first (in byte order), then the meaning: status range, framing.
pub(crate) fn parse_head(
    head: &[u8],
    bare_lf: bool,
    limits: &Limits,
    head_request: bool,
    spare: &mut HeadBuf,
) -> Result<ResponseHead, ResponseError> {
    let (version, status) = tokenize(head, bare_lf, limits, &mut spare.fields)?;
    if !(100..=599).contains(&status) {
        return Err(ResponseError::StatusCodeOutOfRange { code: status });
    }
    let summary = check_fields(head, &mut spare.fields)?;
    let declared = summary.framing(version)?;
    let framing = match (status, declared) {
        (101, _) => BodyFraming::Tunnel,
        (100..=199 | 204 | 304, _) => BodyFraming::None,
        _ if head_request => BodyFraming::None,
        (_, Declared::Chunked) => BodyFraming::Chunked,
        (_, Declared::Length(n)) => BodyFraming::Length(n),
        (_, Declared::Nothing) => BodyFraming::UntilClose,
    };
    Ok(ResponseHead {
        version,
        status,
        reason: reason_span(head),
        framing,
        declared,
        connection: summary.connection,
        head_request,
        table: FieldTable::new(head, spare),
    })
}

/// Tokenises `head` with `httparse` into version, status code and field spans (into
/// `fields`); on any refusal, [`diagnose_response`] names the first violated rule.
fn tokenize(
    head: &[u8],
    bare_lf: bool,
    limits: &Limits,
    fields: &mut Vec<FieldSpan>,
) -> Result<(Version, u16), ResponseError> {
    let refused =
        |fallback: ResponseError| diagnose_response(head, limits.max_headers).unwrap_or(fallback);
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; HEADERS_MAX];
    let mut resp = httparse::Response::new(&mut []);
    match httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut resp,
        head,
        &mut slots[..limits.max_headers],
    ) {
        Ok(httparse::Status::Complete(n)) if n == head.len() => {}
        Ok(_) => return Err(refused(ResponseError::Unparsed(httparse::Error::NewLine))),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(refused(ResponseError::TooManyHeaders {
                limit: limits.max_headers,
            }))
        }
        Err(e) => return Err(refused(ResponseError::Unparsed(e))),
    }
    let (Some(minor), Some(status)) = (resp.version, resp.code) else {
        return Err(refused(ResponseError::Unparsed(httparse::Error::Status)));
    };
    // httparse accepts bare LF.
    if bare_lf {
        return Err(refused(ResponseError::Field(FieldError::BareLf)));
    }
    field_spans(head, resp.headers, fields);
    let version = if minor == 0 {
        Version::Http10
    } else {
        Version::Http11
    };
    Ok((version, status))
}

/// The reason phrase of a validated status line (`HTTP/1.x NNN[ reason]CRLF`).
fn reason_span(head: &[u8]) -> Span {
    let line_end = head
        .iter()
        .position(|&b| b == b'\r')
        .expect("a validated head has CRLF line ends");
    let start = 13.min(line_end);
    Span::new(start, line_end.max(start))
}

impl ResponseHead {
    /// The status code, 100..=599.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase (may be empty; may hold obs-text bytes).
    pub fn reason(&self) -> &[u8] {
        self.reason.of(&self.table.bytes)
    }

    /// The version received (the head is written as HTTP/1.1).
    pub fn version(&self) -> Version {
        self.version
    }

    /// The live fields, in order, as `(name, value)`.
    pub fn headers(&self) -> Headers<'_> {
        Headers::new(&self.table)
    }

    /// The value of the first live field called `name`, compared ignoring ASCII case.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.table.get(name)
    }

    /// How the body is delimited; see [`parse_response`].
    pub fn framing(&self) -> BodyFraming {
        self.framing
    }

    /// The options of the `Connection` fields.
    pub fn connection(&self) -> ConnectionFlags {
        self.connection
    }

    /// Whether the server keeps the connection after this response: never after a
    /// close-delimited body or a tunnel; HTTP/1.1 unless `close`; HTTP/1.0 only with
    /// `keep-alive`.
    pub fn keep_alive(&self) -> bool {
        if matches!(self.framing, BodyFraming::UntilClose | BodyFraming::Tunnel) {
            return false;
        }
        match self.version {
            Version::Http11 => !self.connection.close,
            Version::Http10 => self.connection.keep_alive && !self.connection.close,
        }
    }

    /// Whether this is an interim response (1xx other than 101): a final one follows.
    pub fn is_interim(&self) -> bool {
        (100..=199).contains(&self.status) && self.status != 101
    }

    /// The `Upgrade` value when `Connection` has the `upgrade` option.
    pub fn upgrade(&self) -> Option<&[u8]> {
        if self.connection.upgrade {
            self.table.get("upgrade")
        } else {
            None
        }
    }

    /// Appends `name: value` after the other fields; see
    /// [`crate::http1::RequestHead::add_header`].
    pub fn add_header(&mut self, name: &str, value: &[u8]) -> Result<(), EditError> {
        self.table.check_addable(name, value)?;
        self.table.push(name, value);
        Ok(())
    }

    /// Removes every `name` field and appends `name: value`.
    pub fn set_header(&mut self, name: &str, value: &[u8]) -> Result<(), EditError> {
        self.table.check_addable(name, value)?;
        self.table.remove(name);
        self.table.push(name, value);
        Ok(())
    }

    /// Removes every `name` field; returns how many there were.
    pub fn remove_header(&mut self, name: &str) -> Result<usize, EditError> {
        check_name(name)?;
        Ok(self.table.remove(name))
    }

    /// Appends the head as sent to the client: `HTTP/1.1 NNN reason`, the forwarded fields
    /// (hop-by-hop ones dropped as for requests), a framing field for `body`, `connection`,
    /// and the empty line.
    ///
    /// `body` is how the engine will send the body: usually [`Self::framing`]; `Chunked` to
    /// re-frame a close-delimited body for a keep-alive client. With [`BodyFraming::None`],
    /// a HEAD or 304 response keeps the framing field it declared (it describes the
    /// representation); 1xx and 204 responses never get a framing field.
    pub fn write(&self, body: BodyFraming, connection: ConnectionHeader, out: &mut Vec<u8>) {
        out.reserve(self.table.write_len_hint() + 64);
        out.extend_from_slice(b"HTTP/1.1 ");
        push_decimal(out, u64::from(self.status));
        out.push(b' ');
        out.extend_from_slice(self.reason());
        out.extend_from_slice(b"\r\n");
        self.table
            .write(connection == ConnectionHeader::Upgrade, out);
        let no_framing_field = (100..=199).contains(&self.status) || self.status == 204;
        let field = match body {
            _ if no_framing_field => Declared::Nothing,
            BodyFraming::Length(n) => Declared::Length(n),
            BodyFraming::Chunked => Declared::Chunked,
            BodyFraming::None if self.head_request || self.status == 304 => self.declared,
            BodyFraming::None | BodyFraming::UntilClose | BodyFraming::Tunnel => Declared::Nothing,
        };
        match field {
            Declared::Length(n) => {
                out.extend_from_slice(b"content-length: ");
                push_decimal(out, n);
                out.extend_from_slice(b"\r\n");
            }
            Declared::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
            Declared::Nothing => {}
        }
        out.extend_from_slice(connection.line());
        out.extend_from_slice(b"\r\n");
    }

    /// The received head bytes, for invariant checks.
    pub(crate) fn table_head_bytes(&self) -> &[u8] {
        self.table.head_bytes()
    }

    /// The fields a write without upgrade carries, for invariant checks.
    pub(crate) fn forwarded_pairs(&self) -> Vec<(String, Vec<u8>)> {
        self.table.forwarded_pairs(false)
    }

    /// Gives the head's storage back for the next parse.
    pub fn into_buf(self) -> HeadBuf {
        self.table.into_buf()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http1::fuzzing::response_every_split;
    use crate::http1::LEADING_EMPTY_LINES_MAX;

    const L: Limits = Limits::DEFAULT;

    fn ok(bytes: &[u8], head_request: bool) -> (ResponseHead, usize) {
        match response_every_split(bytes, &L, head_request) {
            Ok(Some(parsed)) => parsed,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(bytes)),
        }
    }

    fn refused(bytes: &[u8], want: ResponseError) {
        assert_eq!(
            response_every_split(bytes, &L, false).map(|o| o.map(|(_, n)| n)),
            Err(want),
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
        assert_eq!(want.status(), 502);
    }

    fn framing(bytes: &[u8], head_request: bool) -> BodyFraming {
        ok(bytes, head_request).0.framing()
    }

    fn written(head: &ResponseHead, body: BodyFraming, connection: ConnectionHeader) -> String {
        let mut out = Vec::new();
        head.write(body, connection, &mut out);
        String::from_utf8(out).expect("ASCII head")
    }

    #[test]
    fn simple_ok() {
        let bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: s\r\n\r\nhello";
        let (head, consumed) = ok(bytes, false);
        assert_eq!(consumed, bytes.len() - 5);
        assert_eq!(head.status(), 200);
        assert_eq!(head.reason(), b"OK");
        assert_eq!(head.version(), Version::Http11);
        assert_eq!(head.framing(), BodyFraming::Length(5));
        assert_eq!(head.header("server"), Some(&b"s"[..]));
        assert!(head.keep_alive());
        assert!(!head.is_interim());
    }

    #[test]
    fn framing_depends_on_status_and_request() {
        let cl = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
        let te = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        let neither = b"HTTP/1.1 200 OK\r\n\r\n";
        assert_eq!(framing(cl, false), BodyFraming::Length(5));
        assert_eq!(framing(te, false), BodyFraming::Chunked);
        assert_eq!(framing(neither, false), BodyFraming::UntilClose);
        for bytes in [&cl[..], te, neither] {
            assert_eq!(framing(bytes, true), BodyFraming::None, "HEAD");
        }
        for status in [
            "100 Continue",
            "102 Processing",
            "103 Early Hints",
            "204 No Content",
            "304 Not Modified",
        ] {
            let bytes = format!("HTTP/1.1 {status}\r\nContent-Length: 5\r\n\r\n");
            assert_eq!(
                framing(bytes.as_bytes(), false),
                BodyFraming::None,
                "{status}"
            );
        }
        let switching = b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n";
        let (head, _) = ok(switching, false);
        assert_eq!(head.framing(), BodyFraming::Tunnel);
        assert_eq!(head.upgrade(), Some(&b"websocket"[..]));
        assert!(!head.keep_alive());
        assert!(!head.is_interim());
        let (head, _) = ok(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
            false,
        );
        assert!(head.is_interim());
        assert_eq!(head.framing(), BodyFraming::None);
    }

    #[test]
    fn keep_alive_rules() {
        assert!(ok(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false)
            .0
            .keep_alive());
        assert!(!ok(
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            false
        )
        .0
        .keep_alive());
        assert!(!ok(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false)
            .0
            .keep_alive());
        assert!(ok(
            b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n",
            false
        )
        .0
        .keep_alive());
        assert!(
            !ok(b"HTTP/1.1 200 OK\r\n\r\n", false).0.keep_alive(),
            "close-delimited"
        );
        assert!(
            ok(b"HTTP/1.1 200 OK\r\n\r\n", true).0.keep_alive(),
            "HEAD has no body"
        );
    }

    #[test]
    fn status_line_codes_for_checks() {
        assert_eq!(status_line_code(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(status_line_code(b"HTTP/1.0 503 Busy\r\n"), Some(503));
        assert_eq!(status_line_code(b"HTTP/1.1 204"), Some(204));
        assert_eq!(status_line_code(b"HTTP/1.1 200\r\n"), Some(200));
        assert_eq!(status_line_code(b"HTTP/1.1 20 OK\r\n"), None);
        assert_eq!(status_line_code(b"HTTP/1.1 2000 OK\r\n"), None);
        assert_eq!(status_line_code(b"HTTP/1.1 099 OK\r\n"), None);
        assert_eq!(status_line_code(b"HTTP/1.1 600 OK\r\n"), None);
        assert_eq!(status_line_code(b"HTTP/1.1 200\n"), None);
        assert_eq!(status_line_code(b"HTTP/1.1  200 OK\r\n"), None);
        assert_eq!(status_line_code(b"HTTP/2.0 200 OK\r\n"), None);
        assert_eq!(status_line_code(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(status_line_code(b""), None);
    }

    #[test]
    fn status_lines() {
        assert_eq!(ok(b"HTTP/1.1 200\r\n\r\n", false).0.reason(), b"");
        assert_eq!(ok(b"HTTP/1.1 200 \r\n\r\n", false).0.reason(), b"");
        assert_eq!(
            ok(b"HTTP/1.0 404 Not  Found\t\r\n\r\n", false).0.reason(),
            b"Not  Found\t"
        );
        assert_eq!(
            ok(b"HTTP/1.1 599 x\xffy\r\n\r\n", false).0.reason(),
            b"x\xffy"
        );
        assert_eq!(
            ok(b"\r\nHTTP/1.1 100 Continue\r\n\r\n", false).0.status(),
            100
        );
        refused(
            b"HTTP/1.1 099 Low\r\n\r\n",
            ResponseError::StatusCodeOutOfRange { code: 99 },
        );
        refused(
            b"HTTP/1.1 600 High\r\n\r\n",
            ResponseError::StatusCodeOutOfRange { code: 600 },
        );
        refused(
            b"HTTP/1.1 20 OK\r\n\r\n",
            ResponseError::StatusCodeMalformed,
        );
        refused(
            b"HTTP/1.1 2000 OK\r\n\r\n",
            ResponseError::StatusCodeMalformed,
        );
        refused(
            b"HTTP/1.1  200 OK\r\n\r\n",
            ResponseError::StatusCodeMalformed,
        );
        refused(
            b"HTTP/1.1 abc OK\r\n\r\n",
            ResponseError::StatusCodeMalformed,
        );
        refused(b"HTTP/1.1\r\n\r\n", ResponseError::StatusCodeMalformed);
        refused(
            b"HTTP/1.1 200 O\x00K\r\n\r\n",
            ResponseError::ReasonByte { byte: 0 },
        );
        refused(
            b"HTTP/2.0 200 OK\r\n\r\n",
            ResponseError::VersionNotSupported { major: 2, minor: 0 },
        );
        refused(b"HTTP/1.1x 200 OK\r\n\r\n", ResponseError::VersionMalformed);
        refused(b"<html>\r\n\r\n", ResponseError::VersionMalformed);
        refused(b"HTTP/1.1 200 OK\n\n", FieldError::BareLf.into());
        refused(b"HTTP/1.1 200 OK\r\r\n\r\n", FieldError::BareCr.into());
        let mut many = b"\r\n".repeat(LEADING_EMPTY_LINES_MAX + 1);
        many.extend_from_slice(b"HTTP/1.1 200 OK\r\n\r\n");
        refused(
            &many,
            ResponseError::TooManyLeadingEmptyLines {
                limit: LEADING_EMPTY_LINES_MAX,
            },
        );
    }

    #[test]
    fn strict_fields() {
        let cases: &[(&[u8], FieldError)] = &[
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
                FieldError::DuplicateContentLength,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                FieldError::TransferEncodingWithContentLength,
            ),
            (
                b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                FieldError::TransferEncodingInHttp10,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
                FieldError::TransferCodingUnsupported,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
                FieldError::ChunkedNotLast,
            ),
            (
                b"HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\n\r\n",
                FieldError::ObsFold,
            ),
            (
                b"HTTP/1.1 200 OK\r\nX-A : a\r\n\r\n",
                FieldError::NameWhitespace,
            ),
            (
                b"HTTP/1.1 200 OK\r\nX-A: a\x00\r\n\r\n",
                FieldError::ValueByte { byte: 0 },
            ),
            (b"HTTP/1.1 200 OK\r\nX-A: a\n\r\n", FieldError::BareLf),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                FieldError::ContentLengthNotDigits { byte: b'-' },
            ),
            // Even where the framing fields do not count, they must be well-formed.
            (
                b"HTTP/1.1 204 No Content\r\nContent-Length: x\r\n\r\n",
                FieldError::ContentLengthNotDigits { byte: b'x' },
            ),
        ];
        for (bytes, want) in cases {
            refused(bytes, ResponseError::Field(*want));
        }
        let limits = Limits {
            max_header_size: 1024,
            max_headers: 1,
        };
        assert_eq!(
            response_every_split(b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n", &limits, false)
                .map(|_| ()),
            Err(ResponseError::TooManyHeaders { limit: 1 })
        );
        let tiny = Limits {
            max_header_size: 10,
            max_headers: 1,
        };
        assert_eq!(
            response_every_split(b"HTTP/1.1 200 OK\r\n\r\n", &tiny, false).map(|_| ()),
            Err(ResponseError::HeadTooLarge { limit: 10 })
        );
    }

    #[test]
    fn write_response() {
        let (head, _) = ok(
            b"HTTP/1.0 200 Fine\r\nServer: s\r\nConnection: close, X-Hop\r\nX-Hop: h\r\nKeep-Alive: 1\r\n\r\n",
            false,
        );
        assert_eq!(head.framing(), BodyFraming::UntilClose);
        assert_eq!(
            written(&head, head.framing(), ConnectionHeader::Close),
            "HTTP/1.1 200 Fine\r\nServer: s\r\nconnection: close\r\n\r\n"
        );
        assert_eq!(
            written(&head, BodyFraming::Chunked, ConnectionHeader::Omit),
            "HTTP/1.1 200 Fine\r\nServer: s\r\ntransfer-encoding: chunked\r\n\r\n"
        );
    }

    #[test]
    fn write_keeps_declared_length_of_head_and_304() {
        let (head, _) = ok(b"HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n", true);
        assert_eq!(
            written(&head, head.framing(), ConnectionHeader::Omit),
            "HTTP/1.1 200 OK\r\ncontent-length: 42\r\n\r\n"
        );
        let (head, _) = ok(
            b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
            false,
        );
        assert_eq!(
            written(&head, head.framing(), ConnectionHeader::Omit),
            "HTTP/1.1 304 Not Modified\r\ntransfer-encoding: chunked\r\n\r\n"
        );
        let (head, _) = ok(
            b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
            false,
        );
        assert_eq!(
            written(&head, BodyFraming::Length(0), ConnectionHeader::Omit),
            "HTTP/1.1 204 No Content\r\n\r\n"
        );
        let (head, _) = ok(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", false);
        assert_eq!(
            written(&head, head.framing(), ConnectionHeader::Upgrade),
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nconnection: upgrade\r\n\r\n"
        );
    }

    #[test]
    fn response_edits() {
        let (mut head, _) = ok(
            b"HTTP/1.1 200 OK\r\nServer: s\r\nContent-Length: 0\r\n\r\n",
            false,
        );
        head.set_header("Server", b"percore").expect("set");
        head.add_header("X-Cache", b"MISS").expect("add");
        assert_eq!(
            head.remove_header("content-length"),
            Err(EditError::ReservedName)
        );
        assert_eq!(
            written(&head, head.framing(), ConnectionHeader::Omit),
            "HTTP/1.1 200 OK\r\nServer: percore\r\nX-Cache: MISS\r\ncontent-length: 0\r\n\r\n"
        );
        assert_eq!(head.remove_header("x-cache"), Ok(1));
    }
}
