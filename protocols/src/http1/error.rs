//! Why the codec refused something, and the one function per enum that maps a refusal to the
//! HTTP status the engine answers with.
//!
//! Classes follow who is at fault: a client's head ([`RequestError`]: 400, or 431 for a limit
//! hit, 501 for what percore does not implement, 505 for versions), a server's head
//! ([`ResponseError`]: always 502), either side's body ([`BodyError`]: 400 from a client, 502
//! from a server) and the engine's own edits ([`EditError`]: 500, a configuration or engine
//! bug). [`FieldError`] is the part of the grammar heads and trailers share. No variant
//! allocates: a peer can make us build many of them.

/// Which side of a stream sent the bytes a [`BodyError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The client side: its refusal is the client's fault (400).
    Client,
    /// The server side: its refusal is answered to the client with 502.
    Server,
}

/// A violated rule of the field-line grammar or of the framing fields, in heads and trailers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// A line ends with LF alone. percore requires CRLF everywhere (HAProxy accepts bare LF):
    /// a lone LF is read differently by different parsers, the root of request smuggling.
    #[error("line ends with a bare LF (CRLF required)")]
    BareLf,
    /// A CR not followed by LF.
    #[error("CR not followed by LF")]
    BareCr,
    /// A field line starts with SP or HTAB: obs-fold (RFC 9112 §5.2), or whitespace between
    /// the start line and the first field (§2.2).
    #[error("field line starts with whitespace (obs-fold)")]
    ObsFold,
    /// Whitespace inside a field name or between the name and the colon (RFC 9112 §5.1).
    #[error("whitespace in a field name or before its colon")]
    NameWhitespace,
    /// A field name byte that is not a `tchar`.
    #[error("byte {byte:#04x} not allowed in a field name")]
    NameByte {
        /// The offending byte.
        byte: u8,
    },
    /// A field line that starts with its colon.
    #[error("empty field name")]
    EmptyName,
    /// A field line without a colon.
    #[error("field line without a colon")]
    MissingColon,
    /// A field value byte that is a control character other than HTAB (NUL, VT, DEL…).
    #[error("byte {byte:#04x} not allowed in a field value")]
    ValueByte {
        /// The offending byte.
        byte: u8,
    },
    /// More than one `Content-Length` field line, even with identical values (`5` and `5`):
    /// RFC 9110 §8.6 lets a recipient merge identical values; percore refuses so that no
    /// server behind it ever sees a duplicate it might read differently.
    #[error("more than one Content-Length field")]
    DuplicateContentLength,
    /// `Content-Length` is empty.
    #[error("empty Content-Length")]
    ContentLengthEmpty,
    /// `Content-Length` holds something other than decimal digits: a sign, inner whitespace,
    /// a list (`5, 5` and `1,2` alike), hex.
    #[error("Content-Length byte {byte:#04x} is not a decimal digit")]
    ContentLengthNotDigits {
        /// The first byte that is not a digit.
        byte: u8,
    },
    /// `Content-Length` does not fit in 64 bits.
    #[error("Content-Length does not fit in 64 bits")]
    ContentLengthOverflow,
    /// An empty `Transfer-Encoding` value or list element (`chunked,`).
    #[error("empty Transfer-Encoding element")]
    TransferCodingEmpty,
    /// A `Transfer-Encoding` element that is not a bare token (quotes, parameters).
    #[error("Transfer-Encoding element is not a token")]
    TransferCodingInvalid,
    /// A transfer coding other than `chunked` before or instead of it (`gzip`, `identity`,
    /// `xchunked`…). percore implements only `chunked`.
    #[error("transfer coding other than chunked")]
    TransferCodingUnsupported,
    /// `chunked` twice, in one field or across several.
    #[error("chunked applied more than once")]
    ChunkedTwice,
    /// A coding after `chunked`: the body would not be chunk-delimited (RFC 9112 §6.3).
    #[error("chunked is not the final transfer coding")]
    ChunkedNotLast,
    /// `Transfer-Encoding` and `Content-Length` together: the CL.TE / TE.CL smuggling shape.
    #[error("both Transfer-Encoding and Content-Length")]
    TransferEncodingWithContentLength,
    /// `Transfer-Encoding` in an HTTP/1.0 message, which cannot use it (RFC 9112 §6.1).
    #[error("Transfer-Encoding in an HTTP/1.0 message")]
    TransferEncodingInHttp10,
    /// A `Connection` option that is not a token.
    #[error("Connection option is not a token")]
    ConnectionOptionInvalid,
    /// More `Connection` options than [`crate::http1::CONNECTION_OPTIONS_MAX`].
    #[error("more than {limit} Connection options")]
    ConnectionOptionsTooMany {
        /// The bound.
        limit: usize,
    },
}

/// Why a request head was refused. [`RequestError::status`] gives the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// A field-line or framing rule (shared with responses and trailers).
    #[error(transparent)]
    Field(#[from] FieldError),
    /// No complete head within `max_header_size` bytes.
    #[error("request head larger than {limit} bytes")]
    HeadTooLarge {
        /// `max_header_size`.
        limit: usize,
    },
    /// More than `max_headers` field lines.
    #[error("more than {limit} request fields")]
    TooManyHeaders {
        /// `max_headers`.
        limit: usize,
    },
    /// More empty lines before the request line than
    /// [`crate::http1::LEADING_EMPTY_LINES_MAX`].
    #[error("more than {limit} empty lines before the request line")]
    TooManyLeadingEmptyLines {
        /// The bound.
        limit: usize,
    },
    /// A method byte that is not a `tchar`.
    #[error("byte {byte:#04x} not allowed in a method")]
    MethodNotToken {
        /// The offending byte.
        byte: u8,
    },
    /// The request line ends after the method.
    #[error("request line has no target")]
    MissingTarget,
    /// The request line is not `method SP target SP version`: leading, doubled or trailing
    /// spaces, a space inside the target, extra fields.
    #[error("request line fields not separated by exactly one space")]
    RequestLineSpacing,
    /// `method SP target` with no version: HTTP/0.9, which percore does not speak.
    #[error("HTTP/0.9 request line (no version)")]
    Http09,
    /// A target byte outside visible ASCII, or `#` (fragments are not sent, RFC 9112 §3.2).
    #[error("byte {byte:#04x} not allowed in a request target")]
    TargetByte {
        /// The offending byte.
        byte: u8,
    },
    /// A version that is not `HTTP/DIGIT.DIGIT` (case-sensitive).
    #[error("malformed HTTP version")]
    VersionMalformed,
    /// A well-formed version other than 1.0 and 1.1.
    #[error("HTTP version {major}.{minor} not supported")]
    VersionNotSupported {
        /// Major digit received.
        major: u8,
        /// Minor digit received.
        minor: u8,
    },
    /// The HTTP/2 connection preface `PRI * HTTP/2.0`: h2c with prior knowledge.
    #[error("HTTP/2 connection preface")]
    Http2Preface,
    /// `CONNECT`: percore is a reverse proxy and does not open tunnels on request.
    #[error("CONNECT not supported")]
    ConnectNotSupported,
    /// `*` as target with a method other than OPTIONS.
    #[error("asterisk-form target outside OPTIONS")]
    AsteriskFormOutsideOptions,
    /// A target that is neither origin-form (`/…`), absolute-form (`http[s]://authority…`
    /// without userinfo) nor asterisk-form.
    #[error("request target form not accepted")]
    TargetForm,
    /// An HTTP/1.1 request without `Host` (RFC 9112 §3.2).
    #[error("missing Host")]
    MissingHost,
    /// More than one `Host` field line.
    #[error("more than one Host field")]
    DuplicateHost,
    /// A `Host` that is not `host[:port]`: empty, userinfo, spaces, bad port, bad IP literal.
    #[error("invalid Host")]
    HostInvalid,
    /// An absolute-form target whose authority differs from `Host` (compared ignoring case,
    /// ports included).
    #[error("Host differs from the target's authority")]
    HostMismatch,
    /// `httparse` refused a head in a way the strict grammar did not name. Kept distinct so a
    /// gap in naming is visible in logs and tests instead of hiding behind another variant.
    #[error("head refused by the tokenizer: {0}")]
    Unparsed(httparse::Error),
}

impl RequestError {
    /// The status percore answers a refused request with. The one place that maps request
    /// errors to statuses.
    pub fn status(&self) -> u16 {
        match self {
            RequestError::HeadTooLarge { .. } | RequestError::TooManyHeaders { .. } => 431,
            RequestError::Field(FieldError::TransferCodingUnsupported)
            | RequestError::ConnectNotSupported => 501,
            RequestError::VersionNotSupported { .. } | RequestError::Http2Preface => 505,
            RequestError::Field(_)
            | RequestError::TooManyLeadingEmptyLines { .. }
            | RequestError::MethodNotToken { .. }
            | RequestError::MissingTarget
            | RequestError::RequestLineSpacing
            | RequestError::Http09
            | RequestError::TargetByte { .. }
            | RequestError::VersionMalformed
            | RequestError::AsteriskFormOutsideOptions
            | RequestError::TargetForm
            | RequestError::MissingHost
            | RequestError::DuplicateHost
            | RequestError::HostInvalid
            | RequestError::HostMismatch
            | RequestError::Unparsed(_) => 400,
        }
    }
}

/// Why a response head from a server was refused. [`ResponseError::status`] gives the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// A field-line or framing rule (shared with requests and trailers).
    #[error(transparent)]
    Field(#[from] FieldError),
    /// No complete head within `max_header_size` bytes.
    #[error("response head larger than {limit} bytes")]
    HeadTooLarge {
        /// `max_header_size`.
        limit: usize,
    },
    /// More than `max_headers` field lines.
    #[error("more than {limit} response fields")]
    TooManyHeaders {
        /// `max_headers`.
        limit: usize,
    },
    /// More empty lines before the status line than
    /// [`crate::http1::LEADING_EMPTY_LINES_MAX`].
    #[error("more than {limit} empty lines before the status line")]
    TooManyLeadingEmptyLines {
        /// The bound.
        limit: usize,
    },
    /// A version that is not `HTTP/DIGIT.DIGIT`, or no version at all (HTTP/0.9 responses).
    #[error("malformed HTTP version")]
    VersionMalformed,
    /// A well-formed version other than 1.0 and 1.1.
    #[error("HTTP version {major}.{minor} not supported")]
    VersionNotSupported {
        /// Major digit received.
        major: u8,
        /// Minor digit received.
        minor: u8,
    },
    /// The status code is not exactly three digits after one space.
    #[error("malformed status code")]
    StatusCodeMalformed,
    /// A three-digit status code outside 100..=599.
    #[error("status code {code} outside 100..=599")]
    StatusCodeOutOfRange {
        /// The code received.
        code: u16,
    },
    /// A reason-phrase byte that is a control character other than HTAB.
    #[error("byte {byte:#04x} not allowed in a reason phrase")]
    ReasonByte {
        /// The offending byte.
        byte: u8,
    },
    /// `httparse` refused a head in a way the strict grammar did not name.
    #[error("head refused by the tokenizer: {0}")]
    Unparsed(httparse::Error),
}

impl ResponseError {
    /// The status percore answers the client with when a server's head is refused: always
    /// 502, whatever the rule. The one place that maps response errors to statuses.
    pub fn status(&self) -> u16 {
        502
    }
}

/// Why a body was refused (chunked framing, trailers, or an early close).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// A chunk-size line byte that is not a hex digit where one is required, or a byte after
    /// the size that is neither `;` nor CR: signs, `0x`, spaces around the size.
    #[error("byte {byte:#04x} not allowed in a chunk size")]
    ChunkSizeByte {
        /// The offending byte.
        byte: u8,
    },
    /// More than 16 hex digits (leading zeros count): the size could not fit in 64 bits.
    #[error("chunk size longer than {limit} hex digits")]
    ChunkSizeTooLong {
        /// The bound, 16.
        limit: usize,
    },
    /// A chunk extension that is not `;name[=token|quoted-string]` (no whitespace).
    #[error("byte {byte:#04x} not allowed in a chunk extension")]
    ChunkExtensionByte {
        /// The offending byte.
        byte: u8,
    },
    /// A chunk-size line (size and extensions) longer than
    /// [`crate::http1::chunked::CHUNK_LINE_BYTES_MAX`].
    #[error("chunk line longer than {limit} bytes")]
    ChunkLineTooLong {
        /// The bound.
        limit: usize,
    },
    /// Chunk data not followed by CRLF: the chunk is longer than its declared size.
    #[error("chunk data followed by byte {byte:#04x} instead of CRLF")]
    ChunkDataNotTerminated {
        /// The byte found where CR was due.
        byte: u8,
    },
    /// A chunk framing line ending with LF alone.
    #[error("chunk line ends with a bare LF (CRLF required)")]
    BareLf,
    /// A CR in chunk framing not followed by LF.
    #[error("CR not followed by LF in chunk framing")]
    BareCr,
    /// A trailer field breaks the field-line grammar.
    #[error("trailer: {0}")]
    Trailer(FieldError),
    /// More trailer fields than [`crate::http1::chunked::TRAILERS_MAX`].
    #[error("more than {limit} trailer fields")]
    TooManyTrailers {
        /// The bound.
        limit: usize,
    },
    /// A trailer section longer than [`crate::http1::chunked::TRAILER_SECTION_BYTES_MAX`].
    #[error("trailer section longer than {limit} bytes")]
    TrailersTooLarge {
        /// The bound.
        limit: usize,
    },
    /// The connection closed before the body's end (content-length or chunked).
    #[error("body truncated by a close")]
    Truncated,
}

impl BodyError {
    /// The status percore answers with when the body from `from` is refused: 400 for a
    /// client's, 502 for a server's. The one place that maps body errors to statuses.
    pub fn status(&self, from: Side) -> u16 {
        match from {
            Side::Client => 400,
            Side::Server => 502,
        }
    }
}

/// Why an edit of a parsed head was refused: a bug in the engine or its configuration, never
/// peer input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The field name is not a token.
    #[error("field name is not a token")]
    NameNotToken,
    /// A value byte that is a control character other than HTAB.
    #[error("byte {byte:#04x} not allowed in a field value")]
    ValueByte {
        /// The offending byte.
        byte: u8,
    },
    /// A value starting or ending with whitespace, which the receiver would strip.
    #[error("field value starts or ends with whitespace")]
    ValueEdgeWhitespace,
    /// A framing or hop-by-hop name (`content-length`, `transfer-encoding`, `connection`,
    /// `keep-alive`, `proxy-connection`, `te`, `trailer`, `upgrade`): the codec owns them.
    #[error("field is owned by the codec")]
    ReservedName,
    /// `add_header("host", …)` on a head that has one: use `set_header`.
    #[error("head already has a Host")]
    HostExists,
    /// Removing `Host` from an HTTP/1.1 request, which must have one.
    #[error("an HTTP/1.1 request needs its Host")]
    HostRequired,
    /// More added fields than [`crate::http1::ADDED_FIELDS_MAX`].
    #[error("more than {limit} added fields")]
    TooManyFields {
        /// The bound.
        limit: usize,
    },
    /// More added bytes than [`crate::http1::REWRITE_BYTES_MAX`].
    #[error("more than {limit} bytes of added fields")]
    RewriteTooLarge {
        /// The bound.
        limit: usize,
    },
}

impl EditError {
    /// The status of an exchange whose head could not be edited: 500, our own fault.
    pub fn status(&self) -> u16 {
        500
    }
}
