//! The chunked transfer coding decoder (RFC 9112 §7.1): a state machine fed with the bytes
//! of a body, returning which of them are payload, without copying them.
//!
//! The shell calls [`ChunkedDecoder::handle_input`] with the bytes it has; each call consumes
//! framing bytes and returns at most one payload range of that input, then the shell calls
//! again with the rest. [`ChunkedDecoder::is_finished`] turns true after the last chunk and
//! the trailer section. Strict: hex sizes of at most 16 digits with nothing around them,
//! CRLF only, extensions bounded and checked (`;name[=token|quoted-string]`, no whitespace),
//! trailers checked with the head's field grammar, counted and bounded, then **dropped**:
//! percore never forwards trailers (their `Trailer` announcement is hop-by-hop too), so the
//! re-encoded body always ends with `0\r\n\r\n`.
//!
//! ```text
//!            hex digits [;ext] CRLF, size > 0
//!   ┌──────┐ ─────────────────────────────────▶ ┌──────┐ size bytes ┌─────────┐
//!   │ Size │                                     │ Data │ ─────────▶ │ DataEnd │
//!   └──────┘ ◀───────────────────────────────────┴──────┘    CRLF    └─────────┘
//!      │ "0" [;ext] CRLF                                                 │
//!      ▼                                                                 │
//!  ┌──────────┐ empty line ┌──────────┐        any error: ┌────────┐     │
//!  │ Trailers │ ─────────▶ │ Finished │        ─────────▶ │ Failed │     │
//!  └──────────┘            └──────────┘                   └────────┘     │
//!                                      (DataEnd → Size on CRLF) ◀────────┘
//! ```

use std::ops::Range;

use crate::http1::body::Decoded;
use crate::http1::error::BodyError;
use crate::http1::syntax::{is_tchar, FieldLines, LineEvent};

/// Hex digits of a chunk size, leading zeros included: 16 digits cover `u64`.
pub const CHUNK_SIZE_DIGITS_MAX: usize = 16;
/// Bytes of one chunk-size line before its CRLF (size and extensions). Extensions carry
/// nothing percore uses; 4 KiB is far above any real one and bounds the work per line.
pub const CHUNK_LINE_BYTES_MAX: usize = 4096;
/// Trailer fields in one body.
pub const TRAILERS_MAX: usize = 32;
/// Bytes of the trailer section, empty line included.
pub const TRAILER_SECTION_BYTES_MAX: usize = 8192;

/// Decodes one chunked body. Errors are final: every later call returns the same error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkedDecoder {
    state: State,
}

/// The decoder's states; transient ones last only inside a call.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Reading a chunk-size line.
    Size(SizeLine),
    /// Inside a chunk's payload.
    Data(ChunkData),
    /// Expecting the CRLF after a payload.
    DataEnd(DataEnd),
    /// Reading the trailer section after the last chunk.
    Trailers(TrailerSection),
    /// The body ended (terminal).
    Finished,
    /// The body was refused (terminal).
    Failed(BodyError),
}

/// What a state did with the input it was given: bytes consumed and the state after them.
type Step = Result<(usize, State), BodyError>;

impl ChunkedDecoder {
    /// A decoder at the first chunk-size line.
    pub fn new() -> Self {
        ChunkedDecoder {
            state: State::Size(SizeLine::new()),
        }
    }

    /// Feeds `input`. Returns how many bytes were consumed and which range of `input` is
    /// payload (possibly empty). Consumes at least one byte unless `input` is empty or the
    /// body is finished; bytes after the body's end are left unconsumed (they belong to the
    /// next message). `Ok` with `consumed < input.len()` and not finished means: call again
    /// with `&input[consumed..]`.
    pub fn handle_input(&mut self, input: &[u8]) -> Result<Decoded, BodyError> {
        let mut at = 0;
        loop {
            let state = std::mem::replace(&mut self.state, State::Finished);
            let step = match state {
                State::Failed(e) => {
                    self.state = State::Failed(e);
                    return Err(e);
                }
                State::Finished => return Ok(Decoded::framing(at)),
                State::Data(data) => {
                    let (payload, next) = data.read(&input[at..]);
                    self.state = next;
                    return Ok(Decoded {
                        consumed: at + payload.end,
                        payload: at + payload.start..at + payload.end,
                    });
                }
                _ if at == input.len() => {
                    self.state = state;
                    return Ok(Decoded::framing(at));
                }
                State::Size(line) => line.read(&input[at..]),
                State::DataEnd(end) => end.read(&input[at..]),
                State::Trailers(section) => section.read(&input[at..]),
            };
            match step {
                Ok((used, next)) => {
                    at += used;
                    self.state = next;
                }
                Err(e) => {
                    self.state = State::Failed(e);
                    return Err(e);
                }
            }
        }
    }

    /// Whether the last chunk and the trailer section were read.
    pub fn is_finished(&self) -> bool {
        self.state == State::Finished
    }

    /// The connection closed: fine only after the body's end.
    pub fn handle_eof(&self) -> Result<(), BodyError> {
        match &self.state {
            State::Finished => Ok(()),
            State::Failed(e) => Err(*e),
            _ => Err(BodyError::Truncated),
        }
    }
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder::new()
    }
}

/// Where a chunk-size line is: `1*HEXDIG *( ";" token [ "=" ( token / quoted-string ) ] )`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LinePart {
    Digits,
    /// Right after `;`: an extension name must start.
    ExtNameStart,
    ExtName,
    /// Right after `=`: a token or a quoted string must start.
    ExtValueStart,
    ExtToken,
    ExtQuoted,
    /// After `\` inside a quoted string.
    ExtQuotedPair,
    /// After the closing quote: `;` or CR.
    ExtAfterQuoted,
    /// After the CR.
    Cr,
}

/// State: reading a chunk-size line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SizeLine {
    size: u64,
    digits: usize,
    line_bytes: usize,
    part: LinePart,
}

impl SizeLine {
    fn new() -> Self {
        SizeLine {
            size: 0,
            digits: 0,
            line_bytes: 0,
            part: LinePart::Digits,
        }
    }

    /// Reads the line up to its LF; the next state is the chunk's payload or, for size 0,
    /// the trailer section.
    fn read(mut self, input: &[u8]) -> Step {
        for (i, &b) in input.iter().enumerate() {
            if self.part == LinePart::Cr {
                if b != b'\n' {
                    return Err(BodyError::BareCr);
                }
                let next = match self.size {
                    0 => State::Trailers(TrailerSection::new()),
                    size => State::Data(ChunkData { remaining: size }),
                };
                return Ok((i + 1, next));
            }
            self.line_bytes += 1;
            if self.line_bytes > CHUNK_LINE_BYTES_MAX {
                return Err(BodyError::ChunkLineTooLong {
                    limit: CHUNK_LINE_BYTES_MAX,
                });
            }
            self.part = self.next_part(b)?;
        }
        Ok((input.len(), State::Size(self)))
    }

    /// The part after byte `b`, or the rule `b` breaks.
    fn next_part(&mut self, b: u8) -> Result<LinePart, BodyError> {
        let ext = BodyError::ChunkExtensionByte { byte: b };
        Ok(match (self.part, b) {
            (LinePart::Digits, b) if b.is_ascii_hexdigit() => {
                self.digits += 1;
                if self.digits > CHUNK_SIZE_DIGITS_MAX {
                    return Err(BodyError::ChunkSizeTooLong {
                        limit: CHUNK_SIZE_DIGITS_MAX,
                    });
                }
                let digit = (b as char).to_digit(16).expect("checked hex digit");
                self.size = self.size << 4 | u64::from(digit);
                LinePart::Digits
            }
            (LinePart::Digits, b';' | b'\r') if self.digits == 0 => {
                return Err(BodyError::ChunkSizeByte { byte: b })
            }
            (LinePart::Digits, b';') => LinePart::ExtNameStart,
            (LinePart::Digits, b'\r') => LinePart::Cr,
            (LinePart::Digits, b'\n') if self.digits > 0 => return Err(BodyError::BareLf),
            (LinePart::Digits, b) => return Err(BodyError::ChunkSizeByte { byte: b }),
            (LinePart::ExtNameStart | LinePart::ExtName, b) if is_tchar(b) => LinePart::ExtName,
            (LinePart::ExtName | LinePart::ExtToken | LinePart::ExtAfterQuoted, b';') => {
                LinePart::ExtNameStart
            }
            (LinePart::ExtName | LinePart::ExtToken | LinePart::ExtAfterQuoted, b'\r') => {
                LinePart::Cr
            }
            (LinePart::ExtName, b'=') => LinePart::ExtValueStart,
            (LinePart::ExtValueStart, b'"') => LinePart::ExtQuoted,
            (LinePart::ExtValueStart | LinePart::ExtToken, b) if is_tchar(b) => LinePart::ExtToken,
            (LinePart::ExtQuoted, b'"') => LinePart::ExtAfterQuoted,
            (LinePart::ExtQuoted, b'\\') => LinePart::ExtQuotedPair,
            (LinePart::ExtQuoted | LinePart::ExtQuotedPair, b)
                if b == b'\t' || b == b' ' || (0x21..=0x7e).contains(&b) || b >= 0x80 =>
            {
                LinePart::ExtQuoted
            }
            (_, b'\n') => return Err(BodyError::BareLf),
            (_, _) => return Err(ext),
        })
    }
}

/// State: inside a chunk's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ChunkData {
    remaining: u64,
}

impl ChunkData {
    /// Takes the payload bytes `input` holds; the range is relative to `input`.
    fn read(self, input: &[u8]) -> (Range<usize>, State) {
        let take = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(input.len());
        let remaining = self.remaining - take as u64;
        let next = if remaining == 0 {
            State::DataEnd(DataEnd { cr: false })
        } else {
            State::Data(ChunkData { remaining })
        };
        (0..take, next)
    }
}

/// State: expecting CRLF after a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DataEnd {
    cr: bool,
}

impl DataEnd {
    fn read(mut self, input: &[u8]) -> Step {
        for (i, &b) in input.iter().enumerate() {
            match (self.cr, b) {
                (false, b'\r') => self.cr = true,
                (false, b'\n') => return Err(BodyError::BareLf),
                (false, byte) => return Err(BodyError::ChunkDataNotTerminated { byte }),
                (true, b'\n') => return Ok((i + 1, State::Size(SizeLine::new()))),
                (true, _) => return Err(BodyError::BareCr),
            }
        }
        Ok((input.len(), State::DataEnd(self)))
    }
}

/// State: the trailer section after the last chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TrailerSection {
    lines: FieldLines,
    fields: usize,
    bytes: usize,
}

impl TrailerSection {
    fn new() -> Self {
        TrailerSection {
            lines: FieldLines::new(),
            fields: 0,
            bytes: 0,
        }
    }

    /// Validates and drops trailer bytes up to the empty line.
    fn read(mut self, input: &[u8]) -> Step {
        for (i, &b) in input.iter().enumerate() {
            self.bytes += 1;
            if self.bytes > TRAILER_SECTION_BYTES_MAX {
                return Err(BodyError::TrailersTooLarge {
                    limit: TRAILER_SECTION_BYTES_MAX,
                });
            }
            match self.lines.push(b).map_err(BodyError::Trailer)? {
                LineEvent::FieldStart => {
                    self.fields += 1;
                    if self.fields > TRAILERS_MAX {
                        return Err(BodyError::TooManyTrailers {
                            limit: TRAILERS_MAX,
                        });
                    }
                }
                LineEvent::SectionEnd => return Ok((i + 1, State::Finished)),
                LineEvent::Byte | LineEvent::FieldEnd => {}
            }
        }
        Ok((input.len(), State::Trailers(self)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http1::error::FieldError;
    use crate::http1::fuzzing::{decode_chunked_in_pieces, ChunkedOutcome};

    /// Decodes `body` whole and split at every offset; both must agree.
    fn decode(body: &[u8]) -> ChunkedOutcome {
        let whole = decode_chunked_in_pieces(body, &[]);
        let every: Vec<usize> = (0..body.len()).collect();
        assert_eq!(decode_chunked_in_pieces(body, &every), whole, "{body:?}");
        for cut in 0..body.len() {
            assert_eq!(decode_chunked_in_pieces(body, &[cut]), whole, "cut {cut}");
        }
        whole
    }

    fn finished(body: &[u8], payload: &[u8]) {
        let out = decode(body);
        assert_eq!(out.error, None, "{:?}", String::from_utf8_lossy(body));
        assert!(out.finished);
        assert_eq!(out.payload, payload);
        assert_eq!(out.consumed, body.len());
    }

    fn refused(body: &[u8], want: BodyError) {
        let out = decode(body);
        assert_eq!(out.error, Some(want), "{:?}", String::from_utf8_lossy(body));
    }

    #[test]
    fn valid_bodies() {
        finished(b"0\r\n\r\n", b"");
        finished(b"5\r\nhello\r\n0\r\n\r\n", b"hello");
        finished(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", b"hello world");
        finished(b"A\r\n0123456789\r\n0\r\n\r\n", b"0123456789");
        finished(b"a\r\n0123456789\r\n000\r\n\r\n", b"0123456789");
        finished(b"0000000000000001\r\nx\r\n0\r\n\r\n", b"x");
        finished(b"5;a\r\nhello\r\n0;b=c;d=\"e;f \\\" g\"\r\n\r\n", b"hello");
        finished(b"5;name=value;other\r\nhello\r\n0\r\n\r\n", b"hello");
        finished(b"0\r\nX-Trailer: v\r\nX-Other:\t w \r\n\r\n", b"");
        finished(b"1\r\n\r\r\n0\r\n\r\n", b"\r");
    }

    #[test]
    fn bytes_after_the_end_stay() {
        let body = b"3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
        let mut decoder = ChunkedDecoder::new();
        let mut at = 0;
        let mut payload = Vec::new();
        while !decoder.is_finished() {
            let step = decoder.handle_input(&body[at..]).expect("valid");
            payload.extend_from_slice(&body[at..][step.payload]);
            at += step.consumed;
        }
        assert_eq!(payload, b"abc");
        assert_eq!(&body[at..], b"GET / HTTP/1.1\r\n");
        assert_eq!(decoder.handle_input(&body[at..]), Ok(Decoded::framing(0)));
        assert_eq!(decoder.handle_eof(), Ok(()));
    }

    #[test]
    fn one_payload_range_per_call() {
        let body = b"2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n";
        let mut decoder = ChunkedDecoder::new();
        let step = decoder.handle_input(body).expect("valid");
        assert_eq!(
            step,
            Decoded {
                consumed: 5,
                payload: 3..5
            }
        );
        let step = decoder.handle_input(&body[5..]).expect("valid");
        assert_eq!(
            step,
            Decoded {
                consumed: 7,
                payload: 5..7
            }
        );
        let step = decoder.handle_input(&body[12..]).expect("valid");
        assert_eq!(step, Decoded::framing(7));
        assert!(decoder.is_finished());
    }

    #[test]
    fn huge_sizes_are_accepted_and_counted() {
        let mut decoder = ChunkedDecoder::new();
        let step = decoder
            .handle_input(b"ffffffffffffffff\r\nabc")
            .expect("valid");
        assert_eq!(step.payload, 18..21);
        assert_eq!(decoder.handle_eof(), Err(BodyError::Truncated));
    }

    #[test]
    fn refusals() {
        refused(b"0x5\r\n", BodyError::ChunkSizeByte { byte: b'x' });
        refused(b"5 \r\n", BodyError::ChunkSizeByte { byte: b' ' });
        refused(b" 5\r\n", BodyError::ChunkSizeByte { byte: b' ' });
        refused(b"-1\r\n", BodyError::ChunkSizeByte { byte: b'-' });
        refused(b"g\r\n", BodyError::ChunkSizeByte { byte: b'g' });
        refused(b";a\r\n", BodyError::ChunkSizeByte { byte: b';' });
        refused(b"\n", BodyError::ChunkSizeByte { byte: b'\n' });
        refused(
            b"fffffffffffffffff\r\n",
            BodyError::ChunkSizeTooLong { limit: 16 },
        );
        refused(b"5\n", BodyError::BareLf);
        refused(b"5\rx", BodyError::BareCr);
        refused(b"5\r\nhello\n", BodyError::BareLf);
        refused(b"5\r\nhello\rx", BodyError::BareCr);
        refused(
            b"5\r\nhellox",
            BodyError::ChunkDataNotTerminated { byte: b'x' },
        );
        refused(b"5;\r\n", BodyError::ChunkExtensionByte { byte: b'\r' });
        refused(b"5;=a\r\n", BodyError::ChunkExtensionByte { byte: b'=' });
        refused(b"5;a=\r\n", BodyError::ChunkExtensionByte { byte: b'\r' });
        refused(b"5;a b\r\n", BodyError::ChunkExtensionByte { byte: b' ' });
        refused(b"5 ;a\r\n", BodyError::ChunkSizeByte { byte: b' ' });
        refused(
            b"5;a=\"b\"c\r\n",
            BodyError::ChunkExtensionByte { byte: b'c' },
        );
        refused(
            b"5;a=\"\x00\"\r\n",
            BodyError::ChunkExtensionByte { byte: 0 },
        );
        refused(b"5;a\n", BodyError::BareLf);
        refused(
            b"0\r\nX : y\r\n\r\n",
            BodyError::Trailer(FieldError::NameWhitespace),
        );
        refused(b"0\r\nX: y\n\r\n", BodyError::Trailer(FieldError::BareLf));
        refused(b"0\r\n\n", BodyError::Trailer(FieldError::BareLf));
        refused(b"0\r\n\rx", BodyError::Trailer(FieldError::BareCr));
        let mut long = b"1;".to_vec();
        long.extend(std::iter::repeat_n(b'a', CHUNK_LINE_BYTES_MAX));
        refused(
            &long,
            BodyError::ChunkLineTooLong {
                limit: CHUNK_LINE_BYTES_MAX,
            },
        );
        let mut fits = b"1;".to_vec();
        fits.extend(std::iter::repeat_n(b'a', CHUNK_LINE_BYTES_MAX - 3));
        fits.extend_from_slice(b"\r\nx\r\n0\r\n\r\n");
        finished(&fits, b"x");
        let mut many = b"0\r\n".to_vec();
        for i in 0..=TRAILERS_MAX {
            many.extend_from_slice(format!("T{i}: v\r\n").as_bytes());
        }
        refused(
            &many,
            BodyError::TooManyTrailers {
                limit: TRAILERS_MAX,
            },
        );
        let mut big = b"0\r\nT: ".to_vec();
        big.extend(std::iter::repeat_n(b'v', TRAILER_SECTION_BYTES_MAX));
        refused(
            &big,
            BodyError::TrailersTooLarge {
                limit: TRAILER_SECTION_BYTES_MAX,
            },
        );
    }

    #[test]
    fn errors_are_final_and_eof_is_checked() {
        let mut decoder = ChunkedDecoder::new();
        let err = decoder.handle_input(b"x").expect_err("invalid");
        assert_eq!(decoder.handle_input(b"0\r\n\r\n"), Err(err));
        assert_eq!(decoder.handle_eof(), Err(err));
        let mut decoder = ChunkedDecoder::new();
        assert_eq!(decoder.handle_input(b""), Ok(Decoded::framing(0)));
        assert_eq!(decoder.handle_eof(), Err(BodyError::Truncated));
        let _ = decoder.handle_input(b"0\r\n\r").expect("valid so far");
        assert_eq!(decoder.handle_eof(), Err(BodyError::Truncated));
    }
}
