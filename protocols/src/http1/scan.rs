//! The search for a complete head in the bytes received so far, resumable across reads.
//!
//! A head is judged only once complete (request or status line, fields, empty line), so the
//! answer never depends on how the bytes were split into reads. [`HeadScan`] remembers how
//! far it searched, so a peer that sends its head one byte at a time costs O(n) in total
//! instead of O(n²). The shell calls [`HeadScan::handle_request`] or
//! [`HeadScan::handle_response`] after every read with the whole buffer since the head's
//! first byte, until it gets a head or an error; the scan then resets for the next head.

use crate::http1::error::{FieldError, RequestError, ResponseError};
use crate::http1::fields::HeadBuf;
use crate::http1::request::{self, RequestHead};
use crate::http1::response::{self, ResponseHead};
use crate::http1::syntax::is_tchar;
use crate::http1::{Limits, LEADING_EMPTY_LINES_MAX};

/// Resumable search for the end of a head. Start one per head with [`HeadScan::new`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeadScan {
    /// Bytes of the window already searched for the empty line, without finding it.
    searched: usize,
    /// A bare LF was seen in the searched bytes (the head is then refused once complete).
    bare_lf: bool,
}

/// Where a complete head lies in the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeadSpan {
    /// First byte of the start line (after skipped empty lines).
    pub(crate) start: usize,
    /// One past the empty line's LF: the bytes the head consumed.
    pub(crate) end: usize,
    /// Some line of the head ends with a bare LF.
    pub(crate) bare_lf: bool,
}

/// Why the bytes before a start line, or its first byte, were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeadingError {
    Field(FieldError),
    TooMany,
    /// The start line's first byte cannot start a valid one (a request line starts with a
    /// method token, a status line with `H`). Refused at once, without waiting for the
    /// head's end: a TLS ClientHello on a plain port gets its 400 immediately.
    StartByte(u8),
}

impl From<LeadingError> for RequestError {
    fn from(e: LeadingError) -> Self {
        match e {
            LeadingError::Field(e) => RequestError::Field(e),
            LeadingError::TooMany => RequestError::TooManyLeadingEmptyLines {
                limit: LEADING_EMPTY_LINES_MAX,
            },
            // What the strict grammar says of such a line once complete.
            LeadingError::StartByte(b' ') => RequestError::RequestLineSpacing,
            LeadingError::StartByte(byte) => RequestError::MethodNotToken { byte },
        }
    }
}

impl From<LeadingError> for ResponseError {
    fn from(e: LeadingError) -> Self {
        match e {
            LeadingError::Field(e) => ResponseError::Field(e),
            LeadingError::TooMany => ResponseError::TooManyLeadingEmptyLines {
                limit: LEADING_EMPTY_LINES_MAX,
            },
            LeadingError::StartByte(_) => ResponseError::VersionMalformed,
        }
    }
}

/// What a search found.
pub(crate) enum Search {
    /// A complete head within the window.
    Complete(HeadSpan),
    /// No complete head and the window is full: the head is larger than the limit.
    TooLarge,
    /// No complete head yet.
    Incomplete,
}

impl HeadScan {
    /// A scan at the first byte of a head.
    pub fn new() -> Self {
        HeadScan::default()
    }

    /// Parses the request head at the start of `buf`, the bytes received so far. `spare` is
    /// storage to reuse (taken on success, left as it was otherwise).
    ///
    /// `Ok(None)`: the head is incomplete and shorter than `max_header_size`; read more and
    /// call again with the grown buffer. `Ok(Some((head, consumed)))`: the body, or the next
    /// request, starts at `buf[consumed..]`. An error is final; answer
    /// [`RequestError::status`] and close.
    pub fn handle_request(
        &mut self,
        buf: &[u8],
        limits: &Limits,
        spare: &mut HeadBuf,
    ) -> Result<Option<(RequestHead, usize)>, RequestError> {
        let window = self.window(buf, limits);
        let span = match self.search(window, limits.max_header_size, is_tchar) {
            Ok(Search::Complete(span)) => span,
            Ok(Search::Incomplete) => return Ok(None),
            Ok(Search::TooLarge) => {
                return Err(RequestError::HeadTooLarge {
                    limit: limits.max_header_size,
                })
            }
            Err(e) => return Err(e.into()),
        };
        let head = request::parse_head(&window[span.start..span.end], span.bare_lf, limits, spare)?;
        Ok(Some((head, span.end)))
    }

    /// Parses the response head at the start of `buf`, like [`Self::handle_request`].
    /// `request_method_is_head` tells whether the request was `HEAD`: its response has no
    /// body whatever its framing fields say.
    pub fn handle_response(
        &mut self,
        buf: &[u8],
        limits: &Limits,
        request_method_is_head: bool,
        spare: &mut HeadBuf,
    ) -> Result<Option<(ResponseHead, usize)>, ResponseError> {
        let window = self.window(buf, limits);
        let span = match self.search(window, limits.max_header_size, |b| b == b'H') {
            Ok(Search::Complete(span)) => span,
            Ok(Search::Incomplete) => return Ok(None),
            Ok(Search::TooLarge) => {
                return Err(ResponseError::HeadTooLarge {
                    limit: limits.max_header_size,
                })
            }
            Err(e) => return Err(e.into()),
        };
        let head = response::parse_head(
            &window[span.start..span.end],
            span.bare_lf,
            limits,
            request_method_is_head,
            spare,
        )?;
        Ok(Some((head, span.end)))
    }

    /// The part of `buf` a head may occupy. Bytes past `max_header_size` are never looked at,
    /// so the answer for a long buffer is the answer for its first `max_header_size` bytes.
    fn window<'b>(&mut self, buf: &'b [u8], limits: &Limits) -> &'b [u8] {
        limits.assert_valid();
        let window = &buf[..buf.len().min(limits.max_header_size)];
        if self.searched > window.len() {
            // The caller started over with another buffer: search it from the start.
            *self = HeadScan::new();
        }
        window
    }

    /// Looks for the empty line that ends the head, resuming where the last call stopped.
    /// Resets the scan when it returns anything but `Incomplete`.
    pub(crate) fn search(
        &mut self,
        window: &[u8],
        max_header_size: usize,
        starts_line: fn(u8) -> bool,
    ) -> Result<Search, LeadingError> {
        let found = self.search_inner(window, max_header_size, starts_line);
        if !matches!(found, Ok(Search::Incomplete)) {
            *self = HeadScan::new();
        }
        found
    }

    fn search_inner(
        &mut self,
        window: &[u8],
        max_header_size: usize,
        starts_line: fn(u8) -> bool,
    ) -> Result<Search, LeadingError> {
        let Some(start) = skip_leading_empty_lines(window)? else {
            return Ok(self.incomplete(window, max_header_size));
        };
        if !starts_line(window[start]) {
            return Err(LeadingError::StartByte(window[start]));
        }
        // The end marker is up to three bytes (LF CR LF): resume two bytes back.
        let mut at = self.searched.saturating_sub(2).max(start);
        while let Some(offset) = window[at..].iter().position(|&b| b == b'\n') {
            let lf = at + offset;
            // `window[start]` is neither CR nor LF, so every LF has a byte before it.
            if window[lf - 1] != b'\r' {
                self.bare_lf = true;
            }
            match (window.get(lf + 1), window.get(lf + 2)) {
                (Some(b'\n'), _) => {
                    return Ok(Search::Complete(HeadSpan {
                        start,
                        end: lf + 2,
                        bare_lf: true,
                    }))
                }
                (Some(b'\r'), Some(b'\n')) => {
                    return Ok(Search::Complete(HeadSpan {
                        start,
                        end: lf + 3,
                        bare_lf: self.bare_lf,
                    }))
                }
                (None, _) | (Some(b'\r'), None) => break,
                (Some(_), _) => at = lf + 1,
            }
        }
        Ok(self.incomplete(window, max_header_size))
    }

    fn incomplete(&mut self, window: &[u8], max_header_size: usize) -> Search {
        self.searched = window.len();
        if window.len() >= max_header_size {
            Search::TooLarge
        } else {
            Search::Incomplete
        }
    }
}

/// The offset of the start line after at most [`LEADING_EMPTY_LINES_MAX`] CRLFs, or `None`
/// if the window ends first.
fn skip_leading_empty_lines(window: &[u8]) -> Result<Option<usize>, LeadingError> {
    let mut at = 0;
    let mut lines = 0;
    loop {
        match (window.get(at), window.get(at + 1)) {
            (Some(b'\r'), Some(b'\n')) => {
                lines += 1;
                if lines > LEADING_EMPTY_LINES_MAX {
                    return Err(LeadingError::TooMany);
                }
                at += 2;
            }
            (Some(b'\r'), None) | (None, _) => return Ok(None),
            (Some(b'\r'), Some(_)) => return Err(LeadingError::Field(FieldError::BareCr)),
            (Some(b'\n'), _) => return Err(LeadingError::Field(FieldError::BareLf)),
            (Some(_), _) => return Ok(Some(at)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http1::{parse_request, parse_response};

    #[test]
    fn hopeless_first_bytes_are_refused_at_once() {
        let l = Limits::DEFAULT;
        // A TLS ClientHello on a plain-text port.
        assert_eq!(
            parse_request(b"\x16\x03\x01\x02\x00\x01", &l).map(|_| ()),
            Err(RequestError::MethodNotToken { byte: 0x16 })
        );
        assert_eq!(
            parse_request(b"\x16", &l).map(|_| ()),
            Err(RequestError::MethodNotToken { byte: 0x16 })
        );
        assert_eq!(
            parse_request(b"\r\n GET", &l).map(|_| ()),
            Err(RequestError::RequestLineSpacing)
        );
        assert_eq!(
            parse_response(b"<html>", &l, false).map(|_| ()),
            Err(ResponseError::VersionMalformed)
        );
        // A plausible first byte waits for the head's end.
        assert_eq!(parse_request(b"G\x00", &l), Ok(None));
    }

    #[test]
    fn resumed_search_finds_ends_split_anywhere() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        for cut in 0..head.len() {
            let mut scan = HeadScan::new();
            let window = &head[..cut];
            assert!(matches!(
                scan.search(window, 100, is_tchar),
                Ok(Search::Incomplete)
            ));
            match scan.search(head, 100, is_tchar) {
                Ok(Search::Complete(span)) => assert_eq!(
                    span,
                    HeadSpan {
                        start: 0,
                        end: head.len(),
                        bare_lf: false
                    }
                ),
                _ => panic!("cut {cut}"),
            }
        }
    }

    #[test]
    fn bare_lf_seen_in_an_earlier_read_is_remembered() {
        let head = b"GET / HTTP/1.1\nHost: a\r\n\r\n";
        let mut scan = HeadScan::new();
        assert!(matches!(
            scan.search(&head[..20], 100, is_tchar),
            Ok(Search::Incomplete)
        ));
        match scan.search(head, 100, is_tchar) {
            Ok(Search::Complete(span)) => assert!(span.bare_lf),
            _ => panic!("complete"),
        }
    }
}
