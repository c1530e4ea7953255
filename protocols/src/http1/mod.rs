//! HTTP/1.x codec: strict head parsing, head editing and re-serialisation, body framing.
//!
//! This module owns the wire format of HTTP/1.0 and HTTP/1.1 messages as a smuggling-safe
//! reverse proxy sees it. It never reads a socket, a clock or a configuration file: bytes and
//! [`Limits`] in, values out. It does not route, pool, time out or log; the engine does.
//!
//! - [`syntax`]: byte classes and the strict line grammar (start lines, field lines), shared by
//!   heads and chunked trailers; names the violated rule when a head is refused.
//! - [`error`]: one error enum per direction ([`RequestError`], [`ResponseError`]), the shared
//!   [`FieldError`], [`EditError`] and [`BodyError`], each with the one function that maps it
//!   to an HTTP status.
//! - [`fields`]: the parsed field table (one copy of the head bytes plus index spans), header
//!   classification (framing, hop-by-hop), edits.
//! - [`request`]: [`RequestHead`], [`parse_request`], request validation and serialisation.
//! - [`response`]: [`ResponseHead`], [`parse_response`], response framing and serialisation.
//! - [`scan`]: [`HeadScan`], the resumable search for the end of a head.
//! - [`body`]: [`BodyDecoder`] (content-length, chunked, until-close) and the chunked encoder.
//! - [`chunked`]: [`ChunkedDecoder`], the chunked transfer-coding state machine.
//! - `samples` (hidden): malformed and smuggling requests with their refusals, shared with the
//!   engine's end-to-end tests. `fuzzing` (hidden): invariant-checking entry points for the
//!   fuzz targets and property tests.
//!
//! # How the shell drives an exchange
//!
//! 1. Read client bytes into a buffer and call [`HeadScan::handle_request`] (or the stateless
//!    [`parse_request`]) after every read. `Ok(None)` means "read more"; an error is answered
//!    with [`RequestError::status`] and the stream closes. Heads are only judged once complete
//!    (up to the empty line), so every split of the same bytes gives the same answer.
//! 2. On `Ok(Some((head, consumed)))`, route on [`RequestHead::host`], [`RequestHead::path`],
//!    [`RequestHead::header`]…, apply header actions and `X-Forwarded-*` with
//!    [`RequestHead::set_header`] / [`RequestHead::add_header`] /
//!    [`RequestHead::remove_header`].
//! 3. Serialise with [`RequestHead::write`] into the server-side write buffer. Hop-by-hop
//!    fields are always dropped there, and the codec itself re-emits the framing field and the
//!    `connection` value the engine chooses.
//! 4. Forward the body: [`BodyDecoder::new`]`(head.framing())`, then feed the bytes after
//!    `consumed` to [`BodyDecoder::handle_input`]; forward each returned payload range,
//!    re-framed with [`ChunkHeader`] / [`CHUNK_END`] / [`LAST_CHUNK`] when the outgoing side is
//!    chunked. [`BodyDecoder::is_finished`] says when the body ended;
//!    [`BodyDecoder::handle_eof`] says whether a close was an acceptable end.
//! 5. Read the response the same way with [`HeadScan::handle_response`] (it needs to know
//!    whether the request was `HEAD`), write it with [`ResponseHead::write`], forward its body.
//!    Interim responses (1xx but 101) are followed by the final one; 101 turns the stream into a
//!    tunnel ([`BodyFraming::Tunnel`]).
//! 6. Recycle the storage: [`RequestHead::into_buf`] gives back a [`HeadBuf`] for the next
//!    parse, so a stream in steady state allocates nothing per exchange.
//!
//! Heads are parsed by `httparse` (fast, SIMD) and then checked by percore's own strict rules;
//! when `httparse` refuses a head, [`syntax`] walks it again to name the first violated rule.
//!
//! ```
//! use std::num::NonZeroUsize;
//! use percore_protocols::http1::*;
//!
//! let limits = Limits::DEFAULT;
//! let mut scan = HeadScan::new();
//! let mut spare = HeadBuf::new(); // recycled across exchanges
//! let rbuf = b"POST /up HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\n\r\n\
//!              5\r\nhello\r\n0\r\n\r\n";
//!
//! // 1. Head: Ok(None) would mean "read more"; an error is answered with e.status().
//! let (mut head, consumed) = scan.handle_request(rbuf, &limits, &mut spare)?.unwrap();
//! assert_eq!((head.host(), head.path()), (Some("app"), "/up"));
//!
//! // 2. Edit, 3. serialise toward the server.
//! head.add_header("X-Forwarded-For", b"192.0.2.7")?;
//! let mut wbuf = Vec::new();
//! head.write(ConnectionHeader::Omit, &mut wbuf);
//!
//! // 4. Body: payload ranges of the input, re-framed as chunks.
//! let mut body = BodyDecoder::new(head.framing());
//! let mut at = consumed;
//! while !body.is_finished() {
//!     let step = body.handle_input(&rbuf[at..])?;
//!     let payload = &rbuf[at..][step.payload];
//!     if let Some(len) = NonZeroUsize::new(payload.len()) {
//!         // A vectored write of these three slices on the data path.
//!         for part in [ChunkHeader::new(len).as_bytes(), payload, CHUNK_END] {
//!             wbuf.extend_from_slice(part);
//!         }
//!     }
//!     at += step.consumed;
//! }
//! wbuf.extend_from_slice(LAST_CHUNK);
//! assert_eq!(
//!     wbuf,
//!     b"POST /up HTTP/1.1\r\nHost: app\r\nX-Forwarded-For: 192.0.2.7\r\n\
//!       transfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
//! );
//!
//! // 5. The response, for a non-HEAD request.
//! let sbuf = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=5\r\n\r\nok";
//! let (resp, used) = HeadScan::new().handle_response(sbuf, &limits, head.is_head(), &mut HeadBuf::new())?.unwrap();
//! assert_eq!(resp.framing(), BodyFraming::Length(2));
//! let mut cbuf = Vec::new();
//! resp.write(resp.framing(), ConnectionHeader::Omit, &mut cbuf);
//! assert_eq!(cbuf, b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n");
//! assert_eq!(&sbuf[used..], b"ok");
//!
//! // 6. Recycle.
//! spare = head.into_buf();
//! # let _ = spare;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod body;
pub mod chunked;
pub mod error;
pub mod fields;
#[doc(hidden)]
pub mod fuzzing;
pub mod request;
pub mod response;
#[doc(hidden)]
pub mod samples;
pub mod scan;
pub mod syntax;

pub use body::{
    encode_chunk, BodyDecoder, ChunkHeader, Decoded, LengthDecoder, CHUNK_END, LAST_CHUNK,
};
pub use chunked::ChunkedDecoder;
pub use error::{BodyError, EditError, FieldError, RequestError, ResponseError, Side};
pub use fields::{HeadBuf, Headers};
pub use request::{parse_request, RequestHead};
pub use response::{parse_response, status_line_code, ResponseHead};
pub use scan::HeadScan;

/// Largest `max_headers` the codec accepts: the size of the parser's on-stack slot array
/// (`HEADERS_MAX × 32` bytes = 32 KiB of stack per parse). Equal to the configuration's own
/// bound (`tune.max_headers` ≤ 1024); HAProxy's default is 101.
pub const HEADERS_MAX: usize = 1024;
/// Largest `max_header_size` the codec accepts: 16 MiB, the configuration's largest buffer.
/// Offsets into a head are `u32`, so this must stay far below 4 GiB.
pub const HEAD_BYTES_MAX: usize = 16 << 20;
/// Fields the engine may add to one head (`X-Forwarded-For`, `X-Forwarded-Proto`, header
/// actions). Above it an edit is refused, never grown: a configuration cannot need more.
pub const ADDED_FIELDS_MAX: usize = 64;
/// Bytes of names and values the engine may add to one head, like HAProxy's `tune.maxrewrite`.
/// A head's storage is at most `max_header_size + REWRITE_BYTES_MAX` bytes.
pub const REWRITE_BYTES_MAX: usize = 8 << 10;
/// Empty lines (CRLF) skipped before a start line. RFC 9112 §2.2 asks to skip "at least one"
/// (clients sometimes send a CRLF after a POST body); more is not a client, so it is refused.
pub const LEADING_EMPTY_LINES_MAX: usize = 4;
/// Options one message may list in its `Connection` fields. Each custom option removes the
/// fields of that name, a pass over the field table: the bound keeps that pass short.
pub const CONNECTION_OPTIONS_MAX: usize = 16;

const _: () = assert!(HEAD_BYTES_MAX + REWRITE_BYTES_MAX < u32::MAX as usize);
const _: () = assert!(HEADERS_MAX + ADDED_FIELDS_MAX < u16::MAX as usize);

/// Bounds on one head, from `global.tune` in the configuration.
///
/// Memory per parsed head (its [`HeadBuf`]): at most `max_header_size + REWRITE_BYTES_MAX`
/// bytes of head storage plus `(max_headers + ADDED_FIELDS_MAX) × 20` bytes of span records;
/// a parse also uses `HEADERS_MAX × 32` bytes of stack, released on return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest head in bytes, start line and final empty line included (leading empty lines
    /// count too). At most [`HEAD_BYTES_MAX`].
    pub max_header_size: usize,
    /// Largest number of field lines in a head. At most [`HEADERS_MAX`].
    pub max_headers: usize,
}

impl Limits {
    /// The configuration's defaults: 16 KiB and 100 fields.
    pub const DEFAULT: Limits = Limits {
        max_header_size: 16 << 10,
        max_headers: 100,
    };

    /// Checks the bounds the configuration already enforces; a violation is a bug in the
    /// caller, not peer input.
    pub(crate) fn assert_valid(&self) {
        assert!(
            self.max_header_size <= HEAD_BYTES_MAX,
            "max_header_size {} above HEAD_BYTES_MAX",
            self.max_header_size
        );
        assert!(
            self.max_headers <= HEADERS_MAX,
            "max_headers {} above HEADERS_MAX",
            self.max_headers
        );
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// The HTTP versions percore speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `HTTP/1.0`.
    Http10,
    /// `HTTP/1.1`.
    Http11,
}

impl Version {
    /// The version as written on a start line.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// How a message's body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body: no framing field in a request; HEAD, 1xx, 204 and 304 responses.
    None,
    /// `Content-Length: N` bytes follow the head.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Responses only: the body ends when the server closes the connection.
    UntilClose,
    /// Responses only (101 Switching Protocols): the connection becomes a tunnel.
    Tunnel,
}

/// The options of a message's `Connection` fields that the codec acts on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionFlags {
    /// `close`: the sender closes after this exchange.
    pub close: bool,
    /// `keep-alive`: an HTTP/1.0 sender asks to keep the connection.
    pub keep_alive: bool,
    /// `upgrade`: the `Upgrade` field is meant for this hop.
    pub upgrade: bool,
}

/// The `connection` field the serialiser writes after the other fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionHeader {
    /// Write none (HTTP/1.1 keep-alive is the default).
    Omit,
    /// `connection: keep-alive`.
    KeepAlive,
    /// `connection: close`.
    Close,
    /// `connection: upgrade`, and the message's `Upgrade` field is kept.
    Upgrade,
}

impl ConnectionHeader {
    fn line(self) -> &'static [u8] {
        match self {
            ConnectionHeader::Omit => b"",
            ConnectionHeader::KeepAlive => b"connection: keep-alive\r\n",
            ConnectionHeader::Close => b"connection: close\r\n",
            ConnectionHeader::Upgrade => b"connection: upgrade\r\n",
        }
    }
}
