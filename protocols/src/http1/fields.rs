//! The parsed field table shared by request and response heads: one copy of the head bytes,
//! one small span record per field, the framing and hop-by-hop classification of each field,
//! and the edits the engine makes before serialising.
//!
//! This module does not know start lines; [`crate::http1::request`] and
//! [`crate::http1::response`] wrap a [`FieldTable`] with theirs. Edits never copy the original
//! head: a removal sets a flag on a span, an addition appends name and value bytes after the
//! head in the same buffer (bounded by [`REWRITE_BYTES_MAX`] and [`ADDED_FIELDS_MAX`]).

use crate::http1::error::{EditError, FieldError};
use crate::http1::syntax::{is_token, is_value_byte, list_elements, parse_content_length};
use crate::http1::{
    ConnectionFlags, Version, ADDED_FIELDS_MAX, CONNECTION_OPTIONS_MAX, REWRITE_BYTES_MAX,
};

/// Head bytes reserved beyond the received head, so `X-Forwarded-For` and
/// `X-Forwarded-Proto` fit without growing a fresh buffer.
const EDIT_BYTES_RESERVE: usize = 128;
/// Span records reserved beyond the received fields, for the same two additions and slack.
const EDIT_FIELDS_RESERVE: usize = 4;

/// Recyclable storage for one parsed head: the byte buffer and the span records. Get one back
/// from [`crate::http1::RequestHead::into_buf`] and pass it to the next parse, so a stream in
/// steady state parses and edits heads without allocating.
#[derive(Debug, Default)]
pub struct HeadBuf {
    pub(crate) bytes: Vec<u8>,
    pub(crate) fields: Vec<FieldSpan>,
}

impl HeadBuf {
    /// Empty storage; the first parse allocates.
    pub fn new() -> Self {
        HeadBuf::default()
    }

    /// Storage with room for a head of `head_bytes` bytes and `fields` fields plus edits.
    pub fn with_capacity(head_bytes: usize, fields: usize) -> Self {
        HeadBuf {
            bytes: Vec::with_capacity(head_bytes + EDIT_BYTES_RESERVE),
            fields: Vec::with_capacity(fields + EDIT_FIELDS_RESERVE),
        }
    }
}

/// A byte range of a head's storage. `u32` keeps span records small; heads are bounded far
/// below 4 GiB (`HEAD_BYTES_MAX`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) end: u32,
}

impl Span {
    /// The span of `part`, a sub-slice of `whole`.
    pub(crate) fn within(whole: &[u8], part: &[u8]) -> Span {
        let start = (part.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize);
        assert!(
            start <= whole.len() && part.len() <= whole.len() - start,
            "httparse returned a slice outside the head"
        );
        Span::new(start, start + part.len())
    }

    pub(crate) fn new(start: usize, end: usize) -> Span {
        Span {
            start: u32::try_from(start).expect("heads are bounded below 4 GiB"),
            end: u32::try_from(end).expect("heads are bounded below 4 GiB"),
        }
    }

    pub(crate) fn of<'a>(&self, bytes: &'a [u8]) -> &'a [u8] {
        &bytes[self.start as usize..self.end as usize]
    }
}

/// What the codec knows a field name to mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldKind {
    Host,
    ContentLength,
    TransferEncoding,
    Connection,
    /// `Keep-Alive`, `Proxy-Connection`, `TE`, `Trailer`: hop-by-hop, always dropped.
    HopByHop,
    Upgrade,
    Expect,
    Other,
}

impl FieldKind {
    /// Classifies a field name, ignoring case. Length first: most names fail there.
    pub(crate) fn of(name: &[u8]) -> FieldKind {
        let is = |known: &str| name.eq_ignore_ascii_case(known.as_bytes());
        match name.len() {
            2 if is("te") => FieldKind::HopByHop,
            4 if is("host") => FieldKind::Host,
            6 if is("expect") => FieldKind::Expect,
            7 if is("upgrade") => FieldKind::Upgrade,
            7 if is("trailer") => FieldKind::HopByHop,
            10 if is("connection") => FieldKind::Connection,
            10 if is("keep-alive") => FieldKind::HopByHop,
            14 if is("content-length") => FieldKind::ContentLength,
            16 if is("proxy-connection") => FieldKind::HopByHop,
            17 if is("transfer-encoding") => FieldKind::TransferEncoding,
            _ => FieldKind::Other,
        }
    }

    /// Names the codec decides about itself: the engine may not add, set or remove them.
    fn is_reserved(self) -> bool {
        matches!(
            self,
            FieldKind::ContentLength
                | FieldKind::TransferEncoding
                | FieldKind::Connection
                | FieldKind::HopByHop
                | FieldKind::Upgrade
        )
    }
}

/// One field of a head: where its name and value are, what it means, and whether it is still
/// forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FieldSpan {
    pub(crate) name: Span,
    pub(crate) value: Span,
    pub(crate) kind: FieldKind,
    /// Removed by an edit: invisible to lookups and not written.
    pub(crate) removed: bool,
    /// Named by a `Connection` option of this hop: not written.
    pub(crate) listed: bool,
}

// The memory formula on `Limits` counts 20 bytes per span record.
const _: () = assert!(std::mem::size_of::<FieldSpan>() == 20);

/// Fills `fields` with the spans of `httparse`'s fields, which are slices of `head`.
pub(crate) fn field_spans(
    head: &[u8],
    parsed: &[httparse::Header<'_>],
    fields: &mut Vec<FieldSpan>,
) {
    fields.clear();
    fields.reserve(parsed.len() + EDIT_FIELDS_RESERVE);
    fields.extend(parsed.iter().map(|h| FieldSpan {
        name: Span::within(head, h.name.as_bytes()),
        value: Span::within(head, h.value),
        kind: FieldKind::of(h.name.as_bytes()),
        removed: false,
        listed: false,
    }));
}

/// The framing field a message declared, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Declared {
    /// Neither `Content-Length` nor `Transfer-Encoding`.
    Nothing,
    /// `Content-Length: N`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// The framing and connection facts of a field section, read in one pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FieldSummary {
    pub(crate) content_length: Option<u64>,
    /// A `Transfer-Encoding` was present; the pass accepts only a single final `chunked`.
    pub(crate) chunked: bool,
    pub(crate) connection: ConnectionFlags,
    pub(crate) expect_continue: bool,
}

impl FieldSummary {
    /// The declared framing of a message of `version`, refusing `Transfer-Encoding` with
    /// `Content-Length` (the smuggling shape) and in HTTP/1.0.
    pub(crate) fn framing(&self, version: Version) -> Result<Declared, FieldError> {
        match (self.chunked, self.content_length) {
            (true, Some(_)) => Err(FieldError::TransferEncodingWithContentLength),
            (true, None) if version == Version::Http10 => Err(FieldError::TransferEncodingInHttp10),
            (true, None) => Ok(Declared::Chunked),
            (false, Some(n)) => Ok(Declared::Length(n)),
            (false, None) => Ok(Declared::Nothing),
        }
    }
}

/// Reads the framing and connection fields of `fields` (spans into `head`), refusing the
/// first broken rule in field order, and marks the fields named by `Connection` options.
/// `Host` and the framing fields are never marked: a client must not be able to make the
/// proxy drop them (`Connection: host`).
pub(crate) fn check_fields(
    head: &[u8],
    fields: &mut [FieldSpan],
) -> Result<FieldSummary, FieldError> {
    let mut summary = FieldSummary::default();
    let mut options = [Span::default(); CONNECTION_OPTIONS_MAX];
    let mut options_len = 0;
    for field in fields.iter() {
        let value = field.value.of(head);
        match field.kind {
            FieldKind::ContentLength => {
                if summary.content_length.is_some() {
                    return Err(FieldError::DuplicateContentLength);
                }
                summary.content_length = Some(parse_content_length(value)?);
            }
            FieldKind::TransferEncoding => {
                for coding in list_elements(value) {
                    summary.chunked = check_coding(coding, summary.chunked)?;
                }
            }
            FieldKind::Connection => {
                for option in list_elements(value).filter(|o| !o.is_empty()) {
                    if !is_token(option) {
                        return Err(FieldError::ConnectionOptionInvalid);
                    }
                    if option.eq_ignore_ascii_case(b"close") {
                        summary.connection.close = true;
                    } else if option.eq_ignore_ascii_case(b"keep-alive") {
                        summary.connection.keep_alive = true;
                    } else if option.eq_ignore_ascii_case(b"upgrade") {
                        summary.connection.upgrade = true;
                    } else {
                        let slot = options.get_mut(options_len).ok_or(
                            FieldError::ConnectionOptionsTooMany {
                                limit: CONNECTION_OPTIONS_MAX,
                            },
                        )?;
                        *slot = Span::within(head, option);
                        options_len += 1;
                    }
                }
            }
            FieldKind::Expect => {
                summary.expect_continue |= value.eq_ignore_ascii_case(b"100-continue");
            }
            FieldKind::Host | FieldKind::HopByHop | FieldKind::Upgrade | FieldKind::Other => {}
        }
    }
    if options_len > 0 {
        for field in fields.iter_mut() {
            if matches!(
                field.kind,
                FieldKind::Other | FieldKind::Expect | FieldKind::HopByHop | FieldKind::Upgrade
            ) {
                let name = field.name.of(head);
                field.listed = options[..options_len]
                    .iter()
                    .any(|o| o.of(head).eq_ignore_ascii_case(name));
            }
        }
    }
    Ok(summary)
}

/// One `Transfer-Encoding` element, given whether `chunked` was already seen. percore accepts
/// exactly one coding, `chunked`, once, last.
fn check_coding(coding: &[u8], chunked_seen: bool) -> Result<bool, FieldError> {
    if coding.is_empty() {
        return Err(FieldError::TransferCodingEmpty);
    }
    if !is_token(coding) {
        return Err(FieldError::TransferCodingInvalid);
    }
    let is_chunked = coding.eq_ignore_ascii_case(b"chunked");
    match (chunked_seen, is_chunked) {
        (true, true) => Err(FieldError::ChunkedTwice),
        (true, false) => Err(FieldError::ChunkedNotLast),
        (false, true) => Ok(true),
        (false, false) => Err(FieldError::TransferCodingUnsupported),
    }
}

/// One head's bytes and fields: the received head, then the bytes of added fields.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct FieldTable {
    pub(crate) bytes: Vec<u8>,
    pub(crate) fields: Vec<FieldSpan>,
    /// Length of the received head inside `bytes`; what follows are added names and values.
    head_len: usize,
    added: usize,
}

impl FieldTable {
    /// Takes `spare`'s storage and copies `head` into it: the one copy of the head bytes.
    /// `fields` already holds the spans, relative to `head`.
    pub(crate) fn new(head: &[u8], spare: &mut HeadBuf) -> FieldTable {
        let mut buf = std::mem::take(spare);
        buf.bytes.clear();
        buf.bytes.reserve(head.len() + EDIT_BYTES_RESERVE);
        buf.bytes.extend_from_slice(head);
        FieldTable {
            bytes: buf.bytes,
            fields: buf.fields,
            head_len: head.len(),
            added: 0,
        }
    }

    /// The received head, start line to empty line.
    pub(crate) fn head_bytes(&self) -> &[u8] {
        &self.bytes[..self.head_len]
    }

    /// Gives the storage back for the next parse.
    pub(crate) fn into_buf(self) -> HeadBuf {
        HeadBuf {
            bytes: self.bytes,
            fields: self.fields,
        }
    }

    pub(crate) fn str_of(&self, span: Span) -> &str {
        std::str::from_utf8(span.of(&self.bytes)).expect("validated tokens are ASCII")
    }

    /// The fields still present, in order.
    pub(crate) fn live(&self) -> impl Iterator<Item = &FieldSpan> {
        self.fields.iter().filter(|f| !f.removed)
    }

    /// The value of the first live field called `name` (any case).
    pub(crate) fn get(&self, name: &str) -> Option<&[u8]> {
        self.live()
            .find(|f| f.name.of(&self.bytes).eq_ignore_ascii_case(name.as_bytes()))
            .map(|f| f.value.of(&self.bytes))
    }

    /// Checks that `name: value` may be added; nothing changes on error.
    pub(crate) fn check_addable(&self, name: &str, value: &[u8]) -> Result<(), EditError> {
        check_name(name)?;
        if let Some(&byte) = value.iter().find(|&&b| !is_value_byte(b)) {
            return Err(EditError::ValueByte { byte });
        }
        if value.first().is_some_and(|b| matches!(b, b' ' | b'\t'))
            || value.last().is_some_and(|b| matches!(b, b' ' | b'\t'))
        {
            return Err(EditError::ValueEdgeWhitespace);
        }
        if self.added >= ADDED_FIELDS_MAX {
            return Err(EditError::TooManyFields {
                limit: ADDED_FIELDS_MAX,
            });
        }
        if self.bytes.len() - self.head_len + name.len() + value.len() > REWRITE_BYTES_MAX {
            return Err(EditError::RewriteTooLarge {
                limit: REWRITE_BYTES_MAX,
            });
        }
        Ok(())
    }

    /// Appends `name: value` after the other fields. Call [`Self::check_addable`] first.
    pub(crate) fn push(&mut self, name: &str, value: &[u8]) {
        let name_start = self.bytes.len();
        self.bytes.extend_from_slice(name.as_bytes());
        let value_start = self.bytes.len();
        self.bytes.extend_from_slice(value);
        self.fields.push(FieldSpan {
            name: Span::new(name_start, value_start),
            value: Span::new(value_start, self.bytes.len()),
            kind: FieldKind::of(name.as_bytes()),
            removed: false,
            listed: false,
        });
        self.added += 1;
    }

    /// Marks every live field called `name` removed; returns how many.
    pub(crate) fn remove(&mut self, name: &str) -> usize {
        let mut count = 0;
        for field in self.fields.iter_mut().filter(|f| !f.removed) {
            if field
                .name
                .of(&self.bytes)
                .eq_ignore_ascii_case(name.as_bytes())
            {
                field.removed = true;
                count += 1;
            }
        }
        count
    }

    /// The fields a serialised head carries, in order. Dropped: removed fields, framing and
    /// `Connection` fields, hop-by-hop fields, fields named by `Connection` options; `Upgrade`
    /// only survives when `keep_upgrade`.
    pub(crate) fn forwarded(&self, keep_upgrade: bool) -> impl Iterator<Item = &FieldSpan> {
        self.live().filter(move |field| match field.kind {
            FieldKind::ContentLength
            | FieldKind::TransferEncoding
            | FieldKind::Connection
            | FieldKind::HopByHop => false,
            FieldKind::Upgrade => keep_upgrade,
            FieldKind::Host | FieldKind::Expect | FieldKind::Other => !field.listed,
        })
    }

    /// Writes the [`Self::forwarded`] fields as `name: value\r\n`, original name case kept.
    pub(crate) fn write(&self, keep_upgrade: bool, out: &mut Vec<u8>) {
        for field in self.forwarded(keep_upgrade) {
            out.extend_from_slice(field.name.of(&self.bytes));
            out.extend_from_slice(b": ");
            out.extend_from_slice(field.value.of(&self.bytes));
            out.extend_from_slice(b"\r\n");
        }
    }

    /// The [`Self::forwarded`] fields as owned pairs, for invariant checks.
    pub(crate) fn forwarded_pairs(&self, keep_upgrade: bool) -> Vec<(String, Vec<u8>)> {
        self.forwarded(keep_upgrade)
            .map(|f| {
                (
                    self.str_of(f.name).to_owned(),
                    f.value.of(&self.bytes).to_vec(),
                )
            })
            .collect()
    }

    /// Bytes [`Self::write`] may need, for one `reserve` before writing.
    pub(crate) fn write_len_hint(&self) -> usize {
        self.bytes.len() + self.fields.len() * 4
    }
}

/// Checks a name the engine wants to add, set or remove.
pub(crate) fn check_name(name: &str) -> Result<FieldKind, EditError> {
    if !is_token(name.as_bytes()) {
        return Err(EditError::NameNotToken);
    }
    let kind = FieldKind::of(name.as_bytes());
    if kind.is_reserved() {
        return Err(EditError::ReservedName);
    }
    Ok(kind)
}

/// Appends `n` in decimal without allocating.
pub(crate) fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// An iterator over a head's live fields as `(name, value)`.
pub struct Headers<'a> {
    table: &'a FieldTable,
    at: usize,
}

impl<'a> Headers<'a> {
    pub(crate) fn new(table: &'a FieldTable) -> Self {
        Headers { table, at: 0 }
    }
}

impl<'a> Iterator for Headers<'a> {
    type Item = (&'a str, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let table = self.table;
        while let Some(field) = table.fields.get(self.at) {
            self.at += 1;
            if !field.removed {
                return Some((table.str_of(field.name), field.value.of(&table.bytes)));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_names() {
        assert_eq!(FieldKind::of(b"HOST"), FieldKind::Host);
        assert_eq!(FieldKind::of(b"Content-length"), FieldKind::ContentLength);
        assert_eq!(
            FieldKind::of(b"transfer-ENCODING"),
            FieldKind::TransferEncoding
        );
        assert_eq!(FieldKind::of(b"TE"), FieldKind::HopByHop);
        assert_eq!(FieldKind::of(b"Keep-Alive"), FieldKind::HopByHop);
        assert_eq!(FieldKind::of(b"Proxy-Connection"), FieldKind::HopByHop);
        assert_eq!(FieldKind::of(b"Trailer"), FieldKind::HopByHop);
        assert_eq!(FieldKind::of(b"Upgrade"), FieldKind::Upgrade);
        assert_eq!(FieldKind::of(b"Hosts"), FieldKind::Other);
        assert_eq!(FieldKind::of(b"Transfer_Encoding"), FieldKind::Other);
    }

    #[test]
    fn codings() {
        assert_eq!(check_coding(b"chunked", false), Ok(true));
        assert_eq!(check_coding(b"CHUNKED", false), Ok(true));
        assert_eq!(
            check_coding(b"chunked", true),
            Err(FieldError::ChunkedTwice)
        );
        assert_eq!(check_coding(b"gzip", true), Err(FieldError::ChunkedNotLast));
        assert_eq!(
            check_coding(b"gzip", false),
            Err(FieldError::TransferCodingUnsupported)
        );
        assert_eq!(
            check_coding(b"", false),
            Err(FieldError::TransferCodingEmpty)
        );
        assert_eq!(
            check_coding(b"\"chunked\"", false),
            Err(FieldError::TransferCodingInvalid)
        );
    }

    #[test]
    fn decimal() {
        for n in [0, 7, 10, 1234567890, u64::MAX] {
            let mut out = Vec::new();
            push_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }
}
