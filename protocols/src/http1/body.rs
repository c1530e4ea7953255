//! Body framing: where a body ends, given its [`BodyFraming`], and how to re-frame payload as
//! chunks on the way out.
//!
//! The shell creates a [`BodyDecoder`] from a head's framing, feeds it the bytes that follow
//! the head with [`BodyDecoder::handle_input`], forwards each returned payload range (zero
//! copy: ranges of the input), and stops at [`BodyDecoder::is_finished`]; on a close it asks
//! [`BodyDecoder::handle_eof`] whether that close was the body's end. When the outgoing side
//! is chunked it writes `[ChunkHeader::new(len).as_bytes(), payload, CHUNK_END]` as one
//! vectored write per payload range and [`LAST_CHUNK`] at the end: chunk boundaries and
//! extensions are never forwarded byte for byte.

use std::num::NonZeroUsize;
use std::ops::Range;

use crate::http1::chunked::ChunkedDecoder;
use crate::http1::error::BodyError;
use crate::http1::BodyFraming;

/// Closes every chunk: the CRLF after its payload.
pub const CHUNK_END: &[u8] = b"\r\n";
/// The last chunk and an empty trailer section: the end of a chunked body.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// What one [`BodyDecoder::handle_input`] call did.
#[must_use = "the payload range must be forwarded and the consumed bytes dropped"]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// Bytes of the input used (framing and payload).
    pub consumed: usize,
    /// The payload within the input; empty when this call only read framing.
    pub payload: Range<usize>,
}

impl Decoded {
    /// `consumed` bytes of framing, no payload.
    pub(crate) fn framing(consumed: usize) -> Self {
        Decoded {
            consumed,
            payload: consumed..consumed,
        }
    }
}

/// Counts down a `Content-Length` body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LengthDecoder {
    remaining: u64,
}

impl LengthDecoder {
    /// A body of `length` bytes.
    pub fn new(length: u64) -> Self {
        LengthDecoder { remaining: length }
    }

    /// Takes the body bytes `input` holds: a payload range starting at 0.
    pub fn handle_input(&mut self, input: &[u8]) -> Decoded {
        let take = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(input.len());
        self.remaining -= take as u64;
        Decoded {
            consumed: take,
            payload: 0..take,
        }
    }

    /// Body bytes still expected.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Whether every byte was seen.
    pub fn is_finished(&self) -> bool {
        self.remaining == 0
    }
}

/// Finds the end of one body, whatever its framing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyDecoder {
    /// No body: finished from the start.
    Empty,
    /// `Content-Length`.
    Length(LengthDecoder),
    /// `Transfer-Encoding: chunked`.
    Chunked(ChunkedDecoder),
    /// Every byte until the peer closes: close-delimited responses and tunnels.
    UntilClose {
        /// The peer closed.
        closed: bool,
    },
}

impl BodyDecoder {
    /// The decoder for a head's framing.
    pub fn new(framing: BodyFraming) -> Self {
        match framing {
            BodyFraming::None | BodyFraming::Length(0) => BodyDecoder::Empty,
            BodyFraming::Length(n) => BodyDecoder::Length(LengthDecoder::new(n)),
            BodyFraming::Chunked => BodyDecoder::Chunked(ChunkedDecoder::new()),
            BodyFraming::UntilClose | BodyFraming::Tunnel => {
                BodyDecoder::UntilClose { closed: false }
            }
        }
    }

    /// Feeds `input`; see [`ChunkedDecoder::handle_input`] for the contract, which every
    /// framing follows. Bytes after the body's end are never consumed.
    pub fn handle_input(&mut self, input: &[u8]) -> Result<Decoded, BodyError> {
        match self {
            BodyDecoder::Empty => Ok(Decoded::framing(0)),
            BodyDecoder::Length(length) => Ok(length.handle_input(input)),
            BodyDecoder::Chunked(chunked) => chunked.handle_input(input),
            BodyDecoder::UntilClose { .. } => Ok(Decoded {
                consumed: input.len(),
                payload: 0..input.len(),
            }),
        }
    }

    /// Whether the body ended.
    pub fn is_finished(&self) -> bool {
        match self {
            BodyDecoder::Empty => true,
            BodyDecoder::Length(length) => length.is_finished(),
            BodyDecoder::Chunked(chunked) => chunked.is_finished(),
            BodyDecoder::UntilClose { closed } => *closed,
        }
    }

    /// The peer closed. A close-delimited body ends here; any other unfinished body was
    /// truncated.
    pub fn handle_eof(&mut self) -> Result<(), BodyError> {
        match self {
            BodyDecoder::UntilClose { closed } => {
                *closed = true;
                Ok(())
            }
            BodyDecoder::Chunked(chunked) => chunked.handle_eof(),
            BodyDecoder::Empty | BodyDecoder::Length(_) if self.is_finished() => Ok(()),
            BodyDecoder::Empty | BodyDecoder::Length(_) => Err(BodyError::Truncated),
        }
    }
}

/// The bytes that open a chunk: its size in lower-case hex and CRLF. Built on the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkHeader {
    bytes: [u8; 18],
    len: u8,
}

impl ChunkHeader {
    /// The header of a chunk of `payload_len` bytes. Zero is not a chunk (it would end the
    /// body): the type makes the caller skip empty payloads.
    pub fn new(payload_len: NonZeroUsize) -> Self {
        let mut bytes = [0u8; 18];
        let n = payload_len.get() as u64;
        let digits = (64 - n.leading_zeros()).div_ceil(4) as usize;
        for (i, slot) in bytes[..digits].iter_mut().enumerate() {
            let shift = 4 * (digits - 1 - i);
            *slot = b"0123456789abcdef"[((n >> shift) & 0xf) as usize];
        }
        bytes[digits] = b'\r';
        bytes[digits + 1] = b'\n';
        ChunkHeader {
            bytes,
            len: (digits + 2) as u8,
        }
    }

    /// `{len:x}\r\n`.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

/// Appends `payload` as one chunk (copying it). For small bodies built in memory; the data
/// path writes [`ChunkHeader`], the payload and [`CHUNK_END`] vectored instead. An empty
/// payload appends nothing.
pub fn encode_chunk(payload: &[u8], out: &mut Vec<u8>) {
    let Some(len) = NonZeroUsize::new(payload.len()) else {
        return;
    };
    out.extend_from_slice(ChunkHeader::new(len).as_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(CHUNK_END);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(n: usize) -> Vec<u8> {
        ChunkHeader::new(NonZeroUsize::new(n).expect("non-zero"))
            .as_bytes()
            .to_vec()
    }

    #[test]
    fn chunk_headers() {
        assert_eq!(header(1), b"1\r\n");
        assert_eq!(header(15), b"f\r\n");
        assert_eq!(header(16), b"10\r\n");
        assert_eq!(header(0xabcdef), b"abcdef\r\n");
        assert_eq!(header(usize::MAX), b"ffffffffffffffff\r\n");
        let mut out = Vec::new();
        encode_chunk(b"hello", &mut out);
        encode_chunk(b"", &mut out);
        out.extend_from_slice(LAST_CHUNK);
        assert_eq!(out, b"5\r\nhello\r\n0\r\n\r\n");
    }

    #[test]
    fn length_bodies() {
        let mut body = BodyDecoder::new(BodyFraming::Length(5));
        assert!(!body.is_finished());
        assert_eq!(
            body.handle_input(b"abc"),
            Ok(Decoded {
                consumed: 3,
                payload: 0..3
            })
        );
        assert_eq!(body.handle_eof(), Err(BodyError::Truncated));
        assert_eq!(
            body.handle_input(b"defGET"),
            Ok(Decoded {
                consumed: 2,
                payload: 0..2
            })
        );
        assert!(body.is_finished());
        assert_eq!(body.handle_input(b"GET"), Ok(Decoded::framing(0)));
        assert_eq!(body.handle_eof(), Ok(()));
        let mut length = LengthDecoder::new(u64::MAX);
        assert_eq!(length.handle_input(b"ab").consumed, 2);
        assert_eq!(length.remaining(), u64::MAX - 2);
    }

    #[test]
    fn empty_and_close_delimited_bodies() {
        for framing in [BodyFraming::None, BodyFraming::Length(0)] {
            let mut body = BodyDecoder::new(framing);
            assert!(body.is_finished());
            assert_eq!(body.handle_input(b"next"), Ok(Decoded::framing(0)));
            assert_eq!(body.handle_eof(), Ok(()));
        }
        for framing in [BodyFraming::UntilClose, BodyFraming::Tunnel] {
            let mut body = BodyDecoder::new(framing);
            assert_eq!(
                body.handle_input(b"all of it"),
                Ok(Decoded {
                    consumed: 9,
                    payload: 0..9
                })
            );
            assert!(!body.is_finished());
            assert_eq!(body.handle_eof(), Ok(()));
            assert!(body.is_finished());
        }
        let mut body = BodyDecoder::new(BodyFraming::Chunked);
        assert_eq!(body.handle_eof(), Err(BodyError::Truncated));
        assert_eq!(BodyError::Truncated.status(crate::http1::Side::Server), 502);
        assert_eq!(BodyError::Truncated.status(crate::http1::Side::Client), 400);
    }
}
