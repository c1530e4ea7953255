//! Request heads: parsing with `httparse`, percore's strict validation, accessors, edits and
//! serialisation toward a server.
//!
//! The shell calls [`parse_request`] (or [`crate::http1::HeadScan::handle_request`] to resume
//! across reads), reads and edits the returned [`RequestHead`], writes it with
//! [`RequestHead::write`], and recycles its storage with [`RequestHead::into_buf`]. What is
//! refused, and with which status, is listed on [`RequestError`].

use std::mem::MaybeUninit;

use crate::http1::error::{EditError, FieldError, RequestError};
use crate::http1::fields::{
    check_fields, check_name, field_spans, push_decimal, Declared, FieldKind, FieldSpan,
    FieldTable, HeadBuf, Headers, Span,
};
use crate::http1::scan::HeadScan;
use crate::http1::syntax::{diagnose_request, is_target_byte, is_valid_authority};
use crate::http1::{BodyFraming, ConnectionFlags, ConnectionHeader, Limits, Version, HEADERS_MAX};

/// A parsed, validated request head. Owns one copy of the head bytes; every accessor returns
/// a slice of it. Two heads are equal when they hold the same bytes, fields and edits.
#[derive(Debug, PartialEq, Eq)]
pub struct RequestHead {
    table: FieldTable,
    method: Span,
    target: Span,
    /// The path part of the target: empty for an absolute-form target without a path.
    path: Span,
    /// The authority of an absolute-form target.
    authority: Option<Span>,
    version: Version,
    framing: BodyFraming,
    connection: ConnectionFlags,
    expect_continue: bool,
}

/// Parses the request head at the start of `buf`, the bytes received so far.
///
/// `Ok(None)`: incomplete and shorter than `limits.max_header_size`, read more.
/// `Ok(Some((head, consumed)))`: a valid head; the body starts at `buf[consumed..]`.
/// `Err(e)`: refused; answer `e.status()`. The head is judged only once complete, so any
/// split of the same bytes gives `Ok(None)` and then the same answer. Stateless: searches
/// from the first byte on every call; see [`HeadScan`] to resume instead.
pub fn parse_request(
    buf: &[u8],
    limits: &Limits,
) -> Result<Option<(RequestHead, usize)>, RequestError> {
    HeadScan::new().handle_request(buf, limits, &mut HeadBuf::new())
}

/// Parses a complete head (`head` starts at the request line and ends after the empty line).
/// Grammar first (in byte order), then the meaning: method, target form, framing, `Host`.
pub(crate) fn parse_head(
    head: &[u8],
    bare_lf: bool,
    limits: &Limits,
    spare: &mut HeadBuf,
) -> Result<RequestHead, RequestError> {
    let line = tokenize(head, bare_lf, limits, &mut spare.fields)?;
    if line.method == "CONNECT" {
        return Err(RequestError::ConnectNotSupported);
    }
    let form = target_form(line.method, line.target)?;
    let summary = check_fields(head, &mut spare.fields)?;
    let framing = summary.framing(line.version)?;
    check_host(head, &spare.fields, &line, form)?;
    let (path, authority) = match form {
        TargetForm::Origin { path } | TargetForm::Asterisk { path } => (path, None),
        TargetForm::Absolute { authority, path } => (path, Some(authority)),
    };
    Ok(RequestHead {
        method: Span::within(head, line.method.as_bytes()),
        target: Span::within(head, line.target.as_bytes()),
        path,
        authority,
        version: line.version,
        framing: match framing {
            Declared::Chunked => BodyFraming::Chunked,
            Declared::Length(n) => BodyFraming::Length(n),
            Declared::Nothing => BodyFraming::None,
        },
        connection: summary.connection,
        expect_continue: summary.expect_continue && line.version == Version::Http11,
        table: FieldTable::new(head, spare),
    })
}

/// The request line's parts, slices of the head.
struct RequestLine<'h> {
    method: &'h str,
    target: &'h str,
    version: Version,
}

/// Tokenises `head` with `httparse` into its request line and field spans (into `fields`),
/// and refuses what the strict grammar refuses: on any refusal, [`diagnose_request`] names
/// the first violated rule in byte order.
fn tokenize<'h>(
    head: &'h [u8],
    bare_lf: bool,
    limits: &Limits,
    fields: &mut Vec<FieldSpan>,
) -> Result<RequestLine<'h>, RequestError> {
    let refused =
        |fallback: RequestError| diagnose_request(head, limits.max_headers).unwrap_or(fallback);
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; HEADERS_MAX];
    let mut req = httparse::Request::new(&mut []);
    match httparse::ParserConfig::default().parse_request_with_uninit_headers(
        &mut req,
        head,
        &mut slots[..limits.max_headers],
    ) {
        Ok(httparse::Status::Complete(n)) if n == head.len() => {}
        Ok(_) => return Err(refused(RequestError::Unparsed(httparse::Error::NewLine))),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(refused(RequestError::TooManyHeaders {
                limit: limits.max_headers,
            }))
        }
        Err(e) => return Err(refused(RequestError::Unparsed(e))),
    }
    let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
        return Err(refused(RequestError::Unparsed(httparse::Error::Token)));
    };
    // httparse accepts bare LF, and non-ASCII bytes in the target.
    if bare_lf {
        return Err(refused(RequestError::Field(FieldError::BareLf)));
    }
    if let Some(&byte) = target.as_bytes().iter().find(|&&b| !is_target_byte(b)) {
        return Err(refused(RequestError::TargetByte { byte }));
    }
    field_spans(head, req.headers, fields);
    Ok(RequestLine {
        method,
        target,
        version: if minor == 0 {
            Version::Http10
        } else {
            Version::Http11
        },
    })
}

/// `Host` rules (RFC 9112 §3.2): exactly one in HTTP/1.1, at most one in HTTP/1.0, a valid
/// authority, equal (ignoring case) to an absolute-form target's authority.
fn check_host(
    head: &[u8],
    fields: &[FieldSpan],
    line: &RequestLine<'_>,
    form: TargetForm,
) -> Result<(), RequestError> {
    let mut hosts = fields.iter().filter(|f| f.kind == FieldKind::Host);
    let host = match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => return Err(RequestError::DuplicateHost),
        (None, _) if line.version == Version::Http11 => return Err(RequestError::MissingHost),
        (None, _) => return Ok(()),
        (Some(host), None) => host.value.of(head),
    };
    if !is_valid_authority(host) {
        return Err(RequestError::HostInvalid);
    }
    if let TargetForm::Absolute { authority, .. } = form {
        if !authority
            .of(line.target.as_bytes())
            .eq_ignore_ascii_case(host)
        {
            return Err(RequestError::HostMismatch);
        }
    }
    Ok(())
}

/// The accepted request-target forms (RFC 9112 §3.2), with spans relative to the target.
#[derive(Debug, Clone, Copy)]
enum TargetForm {
    /// `/path?query`.
    Origin { path: Span },
    /// `http[s]://authority/path?query`.
    Absolute { authority: Span, path: Span },
    /// `*`, OPTIONS only.
    Asterisk { path: Span },
}

/// Classifies `target` (a slice of the head), refusing forms percore does not forward:
/// authority-form (CONNECT's, refused earlier), asterisk-form outside OPTIONS, schemes other
/// than http and https, userinfo and malformed authorities.
fn target_form(method: &str, target: &str) -> Result<TargetForm, RequestError> {
    let whole = target.as_bytes();
    let path_of = |path: &[u8]| {
        let end = path.iter().position(|&b| b == b'?').unwrap_or(path.len());
        Span::within(whole, &path[..end])
    };
    if whole == b"*" {
        if method != "OPTIONS" {
            return Err(RequestError::AsteriskFormOutsideOptions);
        }
        return Ok(TargetForm::Asterisk {
            path: Span::within(whole, whole),
        });
    }
    if whole.first() == Some(&b'/') {
        return Ok(TargetForm::Origin {
            path: path_of(whole),
        });
    }
    let scheme_end = whole
        .iter()
        .position(|&b| b == b':')
        .ok_or(RequestError::TargetForm)?;
    let scheme = &whole[..scheme_end];
    if !(scheme.eq_ignore_ascii_case(b"http") || scheme.eq_ignore_ascii_case(b"https")) {
        return Err(RequestError::TargetForm);
    }
    let rest = whole[scheme_end..]
        .strip_prefix(b"://")
        .ok_or(RequestError::TargetForm)?;
    let authority_end = rest
        .iter()
        .position(|&b| b == b'/' || b == b'?')
        .unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    if !is_valid_authority(authority) {
        return Err(RequestError::TargetForm);
    }
    Ok(TargetForm::Absolute {
        authority: Span::within(whole, authority),
        path: path_of(&rest[authority_end..]),
    })
}

impl RequestHead {
    /// The method, e.g. `GET` (any token; case-sensitive).
    pub fn method(&self) -> &str {
        self.table.str_of(self.method)
    }

    /// The request target as received (origin-, absolute- or asterisk-form).
    pub fn target(&self) -> &str {
        self.table.str_of(self.target)
    }

    /// The target's path, without query: `/a/b` for `/a/b?x` and for `http://h/a/b?x`; `/`
    /// for an absolute-form target without a path; `*` for asterisk-form.
    pub fn path(&self) -> &str {
        let path = self.table.str_of(self.rebased(self.path));
        if path.is_empty() {
            "/"
        } else {
            path
        }
    }

    /// The target's query without `?`, if any.
    pub fn query(&self) -> Option<&str> {
        self.target().split_once('?').map(|(_, q)| q)
    }

    /// The version received (the head is written as HTTP/1.1, see [`Self::write`]).
    pub fn version(&self) -> Version {
        self.version
    }

    /// The live fields, in order, as `(name, value)`; names keep their case.
    pub fn headers(&self) -> Headers<'_> {
        Headers::new(&self.table)
    }

    /// The value of the first live field called `name`, compared ignoring ASCII case.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.table.get(name)
    }

    /// The `Host` value (validated when received), or the absolute-form target's authority
    /// for an HTTP/1.0 request without `Host`.
    pub fn host(&self) -> Option<&str> {
        match self.table.get("host") {
            Some(host) => std::str::from_utf8(host).ok(),
            None => self.authority.map(|a| self.table.str_of(self.rebased(a))),
        }
    }

    /// How the body is delimited: `Length`, `Chunked` or `None`.
    pub fn framing(&self) -> BodyFraming {
        self.framing
    }

    /// The options of the `Connection` fields.
    pub fn connection(&self) -> ConnectionFlags {
        self.connection
    }

    /// Whether the client wants to keep the connection after this exchange: HTTP/1.1 unless
    /// `close`, HTTP/1.0 only with `keep-alive` and without `close`.
    pub fn keep_alive(&self) -> bool {
        match self.version {
            Version::Http11 => !self.connection.close,
            Version::Http10 => self.connection.keep_alive && !self.connection.close,
        }
    }

    /// Whether an HTTP/1.1 client sent `Expect: 100-continue` (ignored in HTTP/1.0).
    pub fn expect_continue(&self) -> bool {
        self.expect_continue
    }

    /// The `Upgrade` value when `Connection` has the `upgrade` option (HTTP/1.1 only).
    pub fn upgrade(&self) -> Option<&[u8]> {
        if self.connection.upgrade && self.version == Version::Http11 {
            self.table.get("upgrade")
        } else {
            None
        }
    }

    /// Whether the method is idempotent (RFC 9110 §9.2.2): GET HEAD PUT DELETE OPTIONS TRACE.
    /// Only such requests may be retried on another connection.
    pub fn is_idempotent(&self) -> bool {
        matches!(
            self.method(),
            "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS" | "TRACE"
        )
    }

    /// Whether the method is `HEAD` (its response has no body).
    pub fn is_head(&self) -> bool {
        self.method() == "HEAD"
    }

    /// Appends `name: value` after the other fields (e.g. `X-Forwarded-For`). Refused for
    /// framing and hop-by-hop names, a second `Host`, invalid bytes, and beyond the rewrite
    /// bounds; nothing changes on error.
    pub fn add_header(&mut self, name: &str, value: &[u8]) -> Result<(), EditError> {
        self.table.check_addable(name, value)?;
        if FieldKind::of(name.as_bytes()) == FieldKind::Host && self.table.get("host").is_some() {
            return Err(EditError::HostExists);
        }
        self.table.push(name, value);
        Ok(())
    }

    /// Removes every `name` field and appends `name: value` (HAProxy `set-header`).
    pub fn set_header(&mut self, name: &str, value: &[u8]) -> Result<(), EditError> {
        self.table.check_addable(name, value)?;
        self.table.remove(name);
        self.table.push(name, value);
        Ok(())
    }

    /// Removes every `name` field; returns how many there were. `Host` of an HTTP/1.1
    /// request cannot be removed (use [`Self::set_header`]).
    pub fn remove_header(&mut self, name: &str) -> Result<usize, EditError> {
        let kind = check_name(name)?;
        if kind == FieldKind::Host && self.version == Version::Http11 {
            return Err(EditError::HostRequired);
        }
        Ok(self.table.remove(name))
    }

    /// Appends the head as sent to a server: `method SP target SP HTTP/1.1`, the forwarded
    /// fields, the framing field the codec derives from [`Self::framing`]
    /// (`content-length: N` or `transfer-encoding: chunked`), `connection`, and the empty
    /// line.
    ///
    /// Dropped: `Connection`, `Keep-Alive`, `Proxy-Connection`, `TE`, `Trailer`, the original
    /// framing fields, fields named by `Connection` options (except `Host`), and `Upgrade`
    /// unless `connection` is [`ConnectionHeader::Upgrade`]. An HTTP/1.0 request without
    /// `Host` keeps `HTTP/1.0`: a 1.1 request without `Host` is invalid (RFC 9112 §3.2).
    pub fn write(&self, connection: ConnectionHeader, out: &mut Vec<u8>) {
        out.reserve(self.table.write_len_hint() + 64);
        out.extend_from_slice(self.method().as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.target().as_bytes());
        let version = if self.version == Version::Http10 && self.table.get("host").is_none() {
            Version::Http10
        } else {
            Version::Http11
        };
        out.push(b' ');
        out.extend_from_slice(version.as_str().as_bytes());
        out.extend_from_slice(b"\r\n");
        self.table
            .write(connection == ConnectionHeader::Upgrade, out);
        match self.framing {
            BodyFraming::Length(n) => {
                out.extend_from_slice(b"content-length: ");
                push_decimal(out, n);
                out.extend_from_slice(b"\r\n");
            }
            BodyFraming::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
            BodyFraming::None | BodyFraming::UntilClose | BodyFraming::Tunnel => {}
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

    /// Target-relative spans (path, authority) are stored relative to the target.
    fn rebased(&self, span: Span) -> Span {
        Span {
            start: span.start + self.target.start,
            end: span.end + self.target.start,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http1::fuzzing::request_every_split;
    use crate::http1::{LEADING_EMPTY_LINES_MAX, REWRITE_BYTES_MAX};

    const L: Limits = Limits::DEFAULT;

    /// Parses `bytes` at every split and expects a valid head.
    fn ok(bytes: &[u8]) -> (RequestHead, usize) {
        match request_every_split(bytes, &L) {
            Ok(Some(parsed)) => parsed,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(bytes)),
        }
    }

    /// Parses `bytes` at every split and expects `want`.
    fn refused(bytes: &[u8], want: RequestError) {
        refused_with(bytes, &L, want);
    }

    fn refused_with(bytes: &[u8], limits: &Limits, want: RequestError) {
        assert_eq!(
            request_every_split(bytes, limits).map(|o| o.map(|(_, n)| n)),
            Err(want),
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
    }

    fn written(head: &RequestHead, connection: ConnectionHeader) -> String {
        let mut out = Vec::new();
        head.write(connection, &mut out);
        String::from_utf8(out).expect("ASCII head")
    }

    #[test]
    fn simple_get() {
        let bytes = b"GET /a/b?x=1&y HTTP/1.1\r\nHost: Example.com:8080\r\nAccept: */*\r\n\r\nNEXT";
        let (head, consumed) = ok(bytes);
        assert_eq!(consumed, bytes.len() - 4);
        assert_eq!(head.method(), "GET");
        assert_eq!(head.target(), "/a/b?x=1&y");
        assert_eq!(head.path(), "/a/b");
        assert_eq!(head.query(), Some("x=1&y"));
        assert_eq!(head.version(), Version::Http11);
        assert_eq!(head.host(), Some("Example.com:8080"));
        assert_eq!(head.header("ACCEPT"), Some(&b"*/*"[..]));
        assert_eq!(head.header("accept-encoding"), None);
        assert_eq!(head.framing(), BodyFraming::None);
        assert!(head.keep_alive());
        assert!(!head.expect_continue());
        assert_eq!(head.upgrade(), None);
        assert!(head.is_idempotent());
        assert!(!head.is_head());
        let fields: Vec<_> = head.headers().collect();
        assert_eq!(
            fields,
            [("Host", &b"Example.com:8080"[..]), ("Accept", &b"*/*"[..])]
        );
    }

    #[test]
    fn valid_forms() {
        for bytes in [
            &b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"[..],
            b"\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET / HTTP/1.0\r\n\r\n",
            b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET http://a.example/x HTTP/1.1\r\nHost: A.example\r\n\r\n",
            b"GET HTTPS://a.example:8443 HTTP/1.1\r\nHost: a.example:8443\r\n\r\n",
            b"GET //double HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: 10.0.0.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Ows:  \t v \t \r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nX-Obs: caf\xc3\xa9\r\n\r\n",
            b"GET /a|b{c}\"d HTTP/1.1\r\nHost: a\r\n\r\n",
            b"M-SEARCH /x HTTP/1.1\r\nHost: a\r\n\r\n",
            b"PROPFIND /x HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET / HTTP/1.1\r\nhost: a\r\nConnection: , ,\r\n\r\n",
        ] {
            ok(bytes);
        }
    }

    #[test]
    fn framing_fields() {
        let (head, _) = ok(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n");
        assert_eq!(head.framing(), BodyFraming::Length(7));
        let (head, _) = ok(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(head.framing(), BodyFraming::Length(0));
        let (head, _) = ok(b"POST / HTTP/1.0\r\nContent-Length:  12 \r\n\r\n");
        assert_eq!(head.framing(), BodyFraming::Length(12));
        for te in [
            "chunked",
            "Chunked",
            "CHUNKED",
            " chunked\t",
            "chunked ,",
            "",
        ] {
            let bytes = format!("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:{te}\r\n\r\n");
            let result = request_every_split(bytes.as_bytes(), &L);
            match te {
                "chunked ," | "" => assert_eq!(
                    result.map(|_| ()),
                    Err(FieldError::TransferCodingEmpty.into())
                ),
                _ => assert_eq!(
                    result.expect("valid").expect("complete").0.framing(),
                    BodyFraming::Chunked,
                    "{te:?}"
                ),
            }
        }
    }

    #[test]
    fn valid_made_invalid() {
        let valid = b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX-A: b\r\n\r\n";
        ok(valid);
        let with = |from: &str, to: &str| {
            let s = std::str::from_utf8(valid)
                .expect("ASCII")
                .replacen(from, to, 1);
            s.into_bytes()
        };
        let cases: Vec<(Vec<u8>, RequestError)> = vec![
            (with("POST", "PO ST"), RequestError::RequestLineSpacing),
            (
                with("POST", "P\0ST"),
                RequestError::MethodNotToken { byte: 0 },
            ),
            (with("/x", "/\x7f"), RequestError::TargetByte { byte: 0x7f }),
            (with("/x", "/\t"), RequestError::TargetByte { byte: b'\t' }),
            (
                with("1.1", "1.3"),
                RequestError::VersionNotSupported { major: 1, minor: 3 },
            ),
            (
                with("HTTP/1.1", "HTTP/1.1x"),
                RequestError::VersionMalformed,
            ),
            (
                with("HTTP/1.1", "HTTP/3.0"),
                RequestError::VersionNotSupported { major: 3, minor: 0 },
            ),
            (with(" HTTP/1.1", ""), RequestError::Http09),
            (with(" /x HTTP/1.1", ""), RequestError::MissingTarget),
            (
                with("5\r\n", "5\r\nContent-Length: 5\r\n"),
                FieldError::DuplicateContentLength.into(),
            ),
            (
                with(
                    "Content-Length: 5",
                    "Transfer-Encoding: chunked\r\nContent-Length: 5",
                ),
                FieldError::TransferEncodingWithContentLength.into(),
            ),
            (with("X-A: b", "X-A : b"), FieldError::NameWhitespace.into()),
            (
                with("X-A: b", "X-A: \x01"),
                FieldError::ValueByte { byte: 1 }.into(),
            ),
            (with("X-A: b\r\n", "X-A: b\n"), FieldError::BareLf.into()),
            (
                with("X-A: b\r\n", "X-A: b\r\n\tc\r\n"),
                FieldError::ObsFold.into(),
            ),
            (with("Host: a", "Host: a:0x50"), RequestError::HostInvalid),
            (with("Host: a\r\n", ""), RequestError::MissingHost),
            (with("/x", "*"), RequestError::AsteriskFormOutsideOptions),
            (with("/x", "ftp://a/x"), RequestError::TargetForm),
            (with("/x", "http:/a/x"), RequestError::TargetForm),
            (with("/x", "http://b/x"), RequestError::HostMismatch),
            (with("/x", "http://a:80/x"), RequestError::HostMismatch),
            (with("POST", "CONNECT"), RequestError::ConnectNotSupported),
        ];
        for (bytes, want) in cases {
            refused(&bytes, want);
        }
    }

    #[test]
    fn first_violation_in_byte_order_wins() {
        // A bad target comes before a bad field.
        refused(
            b"GET /\xff HTTP/1.1\r\nBad Name: x\r\n\r\n",
            RequestError::TargetByte { byte: 0xff },
        );
        // A field-line error beats a later one and the missing Host.
        refused(
            b"GET / HTTP/1.1\r\nA: \x00\r\nB : c\r\n\r\n",
            FieldError::ValueByte { byte: 0 }.into(),
        );
        // Bare LF after a bad target byte: the target byte is first.
        refused(
            b"GET /\xc3\xa9 HTTP/1.1\nHost: a\n\n",
            RequestError::TargetByte { byte: 0xc3 },
        );
    }

    #[test]
    fn status_mapping() {
        assert_eq!(RequestError::HeadTooLarge { limit: 1 }.status(), 431);
        assert_eq!(RequestError::TooManyHeaders { limit: 1 }.status(), 431);
        assert_eq!(
            RequestError::Field(FieldError::TransferCodingUnsupported).status(),
            501
        );
        assert_eq!(RequestError::ConnectNotSupported.status(), 501);
        assert_eq!(
            RequestError::VersionNotSupported { major: 2, minor: 0 }.status(),
            505
        );
        assert_eq!(RequestError::Http2Preface.status(), 505);
        assert_eq!(RequestError::Http09.status(), 400);
        assert_eq!(RequestError::Field(FieldError::BareLf).status(), 400);
        assert_eq!(RequestError::HostMismatch.status(), 400);
    }

    #[test]
    fn head_size_limit() {
        let bytes = b"GET / HTTP/1.1\r\nHost: a\r\nX-Pad: 0123456789\r\n\r\n";
        let exact = Limits {
            max_header_size: bytes.len(),
            max_headers: 10,
        };
        assert!(request_every_split(bytes, &exact).expect("fits").is_some());
        let short = Limits {
            max_header_size: bytes.len() - 1,
            max_headers: 10,
        };
        refused_with(
            bytes,
            &short,
            RequestError::HeadTooLarge {
                limit: bytes.len() - 1,
            },
        );
        // An incomplete head shorter than the limit waits; at the limit it is refused.
        assert_eq!(parse_request(&bytes[..bytes.len() - 2], &short), Ok(None));
        assert_eq!(
            parse_request(&bytes[..bytes.len() - 1], &short).map(|_| ()),
            Err(RequestError::HeadTooLarge {
                limit: bytes.len() - 1
            })
        );
        // Leading empty lines count.
        let mut padded = b"\r\n".to_vec();
        padded.extend_from_slice(bytes);
        refused_with(
            &padded,
            &exact,
            RequestError::HeadTooLarge { limit: bytes.len() },
        );
        // Body bytes after the head do not.
        let mut with_body = bytes.to_vec();
        with_body.extend_from_slice(&[b'x'; 100]);
        assert!(request_every_split(&with_body, &exact)
            .expect("fits")
            .is_some());
    }

    #[test]
    fn field_count_limit() {
        let bytes = b"GET / HTTP/1.1\r\nHost: a\r\nB: 1\r\nC: 2\r\n\r\n";
        let three = Limits {
            max_header_size: 1024,
            max_headers: 3,
        };
        assert!(request_every_split(bytes, &three).expect("fits").is_some());
        let two = Limits {
            max_header_size: 1024,
            max_headers: 2,
        };
        refused_with(bytes, &two, RequestError::TooManyHeaders { limit: 2 });
        // A syntax error before the extra field is named first.
        refused_with(
            b"GET / HTTP/1.1\r\nHost: a\r\nB:\x01\r\nC: 2\r\n\r\n",
            &two,
            FieldError::ValueByte { byte: 1 }.into(),
        );
    }

    #[test]
    fn leading_empty_lines() {
        let mut bytes = b"\r\n".repeat(LEADING_EMPTY_LINES_MAX);
        bytes.extend_from_slice(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        let (_, consumed) = ok(&bytes);
        assert_eq!(consumed, bytes.len());
        let mut more = b"\r\n".to_vec();
        more.extend_from_slice(&bytes);
        refused(
            &more,
            RequestError::TooManyLeadingEmptyLines {
                limit: LEADING_EMPTY_LINES_MAX,
            },
        );
        refused(b"\r\rGET / HTTP/1.1\r\n\r\n", FieldError::BareCr.into());
    }

    #[test]
    fn connection_options() {
        let (head, _) = ok(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, close\r\n\r\n");
        assert_eq!(
            head.connection(),
            ConnectionFlags {
                close: true,
                keep_alive: true,
                upgrade: false
            }
        );
        assert!(!head.keep_alive());
        let (head, _) = ok(b"GET / HTTP/1.0\r\n\r\n");
        assert!(!head.keep_alive());
        let (head, _) = ok(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert!(head.keep_alive());
        let (head, _) =
            ok(b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
        assert_eq!(head.upgrade(), Some(&b"websocket"[..]));
        let (head, _) = ok(b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n");
        assert_eq!(
            head.upgrade(),
            None,
            "Upgrade without the Connection option"
        );
        let (head, _) = ok(b"GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n");
        assert_eq!(head.upgrade(), None, "Upgrade is ignored in HTTP/1.0");
        let many = format!(
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: {}\r\n\r\n",
            (0..=crate::http1::CONNECTION_OPTIONS_MAX)
                .map(|i| format!("x{i}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        refused(
            many.as_bytes(),
            FieldError::ConnectionOptionsTooMany {
                limit: crate::http1::CONNECTION_OPTIONS_MAX,
            }
            .into(),
        );
    }

    #[test]
    fn expect_continue() {
        let (head, _) =
            ok(b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n");
        assert!(head.expect_continue());
        let (head, _) = ok(b"PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n");
        assert!(!head.expect_continue());
        let (head, _) = ok(b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n");
        assert!(!head.expect_continue());
    }

    #[test]
    fn idempotent_methods() {
        for (method, idempotent) in [
            ("GET", true),
            ("HEAD", true),
            ("PUT", true),
            ("DELETE", true),
            ("OPTIONS", true),
            ("TRACE", true),
            ("POST", false),
            ("PATCH", false),
            ("get", false),
        ] {
            let bytes = format!("{method} / HTTP/1.1\r\nHost: a\r\n\r\n");
            assert_eq!(
                ok(bytes.as_bytes()).0.is_idempotent(),
                idempotent,
                "{method}"
            );
        }
    }

    #[test]
    fn paths_and_hosts_of_target_forms() {
        let (head, _) = ok(b"GET http://a.example HTTP/1.1\r\nHost: a.example\r\n\r\n");
        assert_eq!(head.path(), "/");
        let (head, _) = ok(b"GET http://a.example?q HTTP/1.1\r\nHost: a.example\r\n\r\n");
        assert_eq!((head.path(), head.query()), ("/", Some("q")));
        let (head, _) = ok(b"GET http://a.example/p/q?r HTTP/1.1\r\nHost: a.example\r\n\r\n");
        assert_eq!(head.path(), "/p/q");
        let (head, _) = ok(b"GET http://b.example/p HTTP/1.0\r\n\r\n");
        assert_eq!(head.host(), Some("b.example"));
        let (head, _) = ok(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(head.path(), "*");
    }

    #[test]
    fn write_normalises_and_drops_hop_by_hop() {
        let bytes = b"POST /x HTTP/1.1\r\nhost: a\r\nConnection: keep-alive, X-Secret, Host\r\n\
            Keep-Alive: timeout=5\r\nX-Secret: s\r\nTE: trailers\r\nTrailer: X-T\r\n\
            Proxy-Connection: close\r\nUpgrade: h2c\r\nTransfer-Encoding: chunked\r\nX-Keep: k\r\n\r\n";
        let (head, _) = ok(bytes);
        assert_eq!(head.framing(), BodyFraming::Chunked);
        assert_eq!(
            written(&head, ConnectionHeader::Omit),
            "POST /x HTTP/1.1\r\nhost: a\r\nX-Keep: k\r\ntransfer-encoding: chunked\r\n\r\n"
        );
        assert_eq!(
            written(&head, ConnectionHeader::Close),
            "POST /x HTTP/1.1\r\nhost: a\r\nX-Keep: k\r\ntransfer-encoding: chunked\r\n\
             connection: close\r\n\r\n"
        );
        // Hop-by-hop fields stay visible to routing rules.
        assert_eq!(head.header("x-secret"), Some(&b"s"[..]));
    }

    #[test]
    fn write_keeps_upgrade_only_when_upgrading() {
        let (head, _) =
            ok(b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n");
        assert_eq!(
            written(&head, ConnectionHeader::Upgrade),
            "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nconnection: upgrade\r\n\r\n"
        );
        assert_eq!(
            written(&head, ConnectionHeader::KeepAlive),
            "GET /ws HTTP/1.1\r\nHost: a\r\nconnection: keep-alive\r\n\r\n"
        );
    }

    #[test]
    fn write_versions_and_lengths() {
        let (head, _) = ok(b"POST /x HTTP/1.0\r\nHost: a\r\nContent-Length: 0010\r\n\r\n");
        assert_eq!(
            written(&head, ConnectionHeader::Omit),
            "POST /x HTTP/1.1\r\nHost: a\r\ncontent-length: 10\r\n\r\n"
        );
        let (head, _) = ok(b"GET /x HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(
            written(&head, ConnectionHeader::KeepAlive),
            "GET /x HTTP/1.0\r\ncontent-length: 0\r\nconnection: keep-alive\r\n\r\n"
        );
    }

    #[test]
    fn edits() {
        let (mut head, _) = ok(
            b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.1.1.1\r\nX-B: 1\r\nx-b: 2\r\n\r\n",
        );
        head.add_header("X-Forwarded-For", b"10.0.0.1")
            .expect("add");
        head.set_header("X-Forwarded-Proto", b"https").expect("set");
        assert_eq!(head.remove_header("X-b"), Ok(2));
        assert_eq!(head.remove_header("X-b"), Ok(0));
        head.set_header("host", b"backend.internal")
            .expect("set host");
        assert_eq!(head.host(), Some("backend.internal"));
        assert_eq!(head.header("x-b"), None);
        assert_eq!(
            written(&head, ConnectionHeader::Omit),
            "GET / HTTP/1.1\r\nX-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 10.0.0.1\r\n\
             X-Forwarded-Proto: https\r\nhost: backend.internal\r\n\r\n"
        );
        assert_eq!(head.add_header("Host", b"x"), Err(EditError::HostExists));
        assert_eq!(head.remove_header("host"), Err(EditError::HostRequired));
        for reserved in [
            "Content-Length",
            "transfer-encoding",
            "Connection",
            "Keep-Alive",
            "TE",
            "Trailer",
            "Upgrade",
            "Proxy-Connection",
        ] {
            assert_eq!(
                head.add_header(reserved, b"1"),
                Err(EditError::ReservedName)
            );
            assert_eq!(
                head.set_header(reserved, b"1"),
                Err(EditError::ReservedName)
            );
            assert_eq!(head.remove_header(reserved), Err(EditError::ReservedName));
        }
        assert_eq!(head.add_header("a b", b"1"), Err(EditError::NameNotToken));
        assert_eq!(head.add_header("", b"1"), Err(EditError::NameNotToken));
        assert_eq!(
            head.add_header("x", b"a\r\nb: c"),
            Err(EditError::ValueByte { byte: b'\r' })
        );
        assert_eq!(
            head.add_header("x", b" a"),
            Err(EditError::ValueEdgeWhitespace)
        );
        assert_eq!(
            head.add_header("x", b"a\t"),
            Err(EditError::ValueEdgeWhitespace)
        );
        assert_eq!(EditError::ReservedName.status(), 500);
    }

    #[test]
    fn edit_bounds() {
        let (mut head, _) = ok(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        for i in 0..crate::http1::ADDED_FIELDS_MAX {
            head.add_header("x", format!("{i}").as_bytes())
                .expect("within bound");
        }
        assert_eq!(
            head.add_header("x", b"1"),
            Err(EditError::TooManyFields {
                limit: crate::http1::ADDED_FIELDS_MAX
            })
        );
        let (mut head, _) = ok(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        let big = vec![b'v'; REWRITE_BYTES_MAX - 1];
        head.add_header("x", &big).expect("exactly the bound");
        assert_eq!(
            head.add_header("y", b""),
            Err(EditError::RewriteTooLarge {
                limit: REWRITE_BYTES_MAX
            })
        );
    }

    #[test]
    fn connection_listed_fields_are_dropped_but_not_host() {
        let (head, _) = ok(
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: x-forwarded-for, host, content-length\r\n\
              X-Forwarded-For: 6.6.6.6\r\nContent-Length: 0\r\n\r\n",
        );
        let (mut edited, _) = ok(
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: x-forwarded-for, host, content-length\r\n\
              X-Forwarded-For: 6.6.6.6\r\nContent-Length: 0\r\n\r\n",
        );
        assert_eq!(
            written(&head, ConnectionHeader::Omit),
            "GET / HTTP/1.1\r\nHost: a\r\ncontent-length: 0\r\n\r\n"
        );
        // The proxy's own X-Forwarded-For survives.
        edited
            .add_header("X-Forwarded-For", b"10.0.0.1")
            .expect("add");
        assert_eq!(
            written(&edited, ConnectionHeader::Omit),
            "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.1\r\ncontent-length: 0\r\n\r\n"
        );
    }

    #[test]
    fn storage_is_recycled() {
        let bytes = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        let mut scan = HeadScan::new();
        let mut spare = HeadBuf::with_capacity(1024, 16);
        let bytes_ptr = spare.bytes.as_ptr();
        let (head, _) = scan
            .handle_request(bytes, &L, &mut spare)
            .expect("valid")
            .expect("complete");
        assert_eq!(spare.bytes.capacity(), 0, "storage taken");
        let back = head.into_buf();
        assert_eq!(back.bytes.as_ptr(), bytes_ptr, "same allocation returned");
    }

    #[test]
    fn spare_untouched_on_incomplete() {
        let mut spare = HeadBuf::with_capacity(64, 4);
        let mut scan = HeadScan::new();
        assert_eq!(
            scan.handle_request(b"GET / HTTP/1.1\r\n", &L, &mut spare),
            Ok(None)
        );
        assert!(spare.bytes.capacity() >= 64);
    }

    #[test]
    fn scan_restarts_on_a_shorter_buffer() {
        let mut scan = HeadScan::new();
        let mut spare = HeadBuf::new();
        assert_eq!(
            scan.handle_request(b"GET / HTTP/1.1\r\nHost: a\r\nX: yyyyyy", &L, &mut spare),
            Ok(None)
        );
        let (head, n) = scan
            .handle_request(b"GET / HTTP/1.1\r\nHost: b\r\n\r\n", &L, &mut spare)
            .expect("valid")
            .expect("complete");
        assert_eq!((head.host(), n), (Some("b"), 27));
    }
}
