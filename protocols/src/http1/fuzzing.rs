//! Entry points for the `protocols/fuzz` targets and their property-test twins: each runs a
//! parser on arbitrary bytes and asserts the invariants that must hold whatever the bytes.
//! Hidden from docs; not an API.

use crate::http1::chunked::ChunkedDecoder;
use crate::http1::error::BodyError;
use crate::http1::fields::HeadBuf;
use crate::http1::request::{parse_request, RequestHead};
use crate::http1::response::{parse_response, ResponseHead};
use crate::http1::scan::HeadScan;
use crate::http1::syntax::{diagnose_request, diagnose_response};
use crate::http1::{
    encode_chunk, ConnectionHeader, Limits, Version, HEADERS_MAX, HEAD_BYTES_MAX, LAST_CHUNK,
};

/// Limits small enough for a fuzzer to reach them.
pub const FUZZ_LIMITS: Limits = Limits {
    max_header_size: 2048,
    max_headers: 24,
};
/// Limits for re-parsing serialised heads, which may be a little longer than the input.
const REPARSE_LIMITS: Limits = Limits {
    max_header_size: HEAD_BYTES_MAX,
    max_headers: HEADERS_MAX,
};

/// Split points derived from the input, so a fuzzer explores them too.
fn cuts(data: &[u8]) -> Vec<usize> {
    let len = data.len();
    let mut cuts: Vec<usize> = data
        .iter()
        .take(6)
        .map(|&b| {
            if len == 0 {
                0
            } else {
                b as usize * 7 % (len + 1)
            }
        })
        .collect();
    cuts.extend([1, len / 2, len.saturating_sub(1)]);
    cuts.retain(|&c| c <= len);
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

/// Request heads: consumed ≤ input and ≤ the limit; a resumed scan over growing prefixes
/// agrees with the stateless parse; a valid head passes the strict grammar too; its
/// serialisation re-parses to the same method, target, framing and forwarded fields.
pub fn request_head(data: &[u8]) {
    let whole = parse_request(data, &FUZZ_LIMITS);
    let mut scan = HeadScan::new();
    let mut spare = HeadBuf::new();
    for cut in cuts(data) {
        match scan.handle_request(&data[..cut], &FUZZ_LIMITS, &mut spare) {
            Ok(None) => {}
            early => {
                assert_eq!(early, whole, "prefix of {cut} bytes answered early");
                return;
            }
        }
    }
    assert_eq!(scan.handle_request(data, &FUZZ_LIMITS, &mut spare), whole);
    let Ok(Some((head, consumed))) = whole else {
        return;
    };
    assert!(consumed <= data.len() && consumed <= FUZZ_LIMITS.max_header_size);
    assert_eq!(parse_request(&data[..consumed - 1], &FUZZ_LIMITS), Ok(None));
    assert_eq!(
        diagnose_request(head.table_head_bytes(), FUZZ_LIMITS.max_headers),
        None,
        "httparse and the strict grammar disagree"
    );
    let mut out = Vec::new();
    head.write(ConnectionHeader::Omit, &mut out);
    let (again, used) = parse_request(&out, &REPARSE_LIMITS)
        .unwrap_or_else(|e| {
            panic!(
                "serialised head refused: {e}: {:?}",
                String::from_utf8_lossy(&out)
            )
        })
        .expect("serialised head is complete");
    assert_eq!(used, out.len());
    assert_request_forwarded(&head, &again);
}

/// The re-parsed head `again` is what `head` forwards.
pub fn assert_request_forwarded(head: &RequestHead, again: &RequestHead) {
    assert_eq!(again.method(), head.method());
    assert_eq!(again.target(), head.target());
    assert_eq!(again.framing(), head.framing());
    let has_host = head.header("host").is_some();
    let version = if has_host {
        Version::Http11
    } else {
        head.version()
    };
    assert_eq!(again.version(), version);
    assert_eq!(head.forwarded_pairs(), again.forwarded_pairs());
}

/// Response heads: the same invariants; the first byte picks whether the request was HEAD.
pub fn response_head(data: &[u8]) {
    let Some((&flag, data)) = data.split_first() else {
        return;
    };
    let head_request = flag & 1 == 1;
    let whole = parse_response(data, &FUZZ_LIMITS, head_request);
    let mut scan = HeadScan::new();
    let mut spare = HeadBuf::new();
    for cut in cuts(data) {
        match scan.handle_response(&data[..cut], &FUZZ_LIMITS, head_request, &mut spare) {
            Ok(None) => {}
            early => {
                assert_eq!(early, whole, "prefix of {cut} bytes answered early");
                return;
            }
        }
    }
    assert_eq!(
        scan.handle_response(data, &FUZZ_LIMITS, head_request, &mut spare),
        whole
    );
    let Ok(Some((head, consumed))) = whole else {
        return;
    };
    assert!(consumed <= data.len() && consumed <= FUZZ_LIMITS.max_header_size);
    assert_eq!(
        diagnose_response(head.table_head_bytes(), FUZZ_LIMITS.max_headers),
        None,
        "httparse and the strict grammar disagree"
    );
    let mut out = Vec::new();
    head.write(head.framing(), ConnectionHeader::Omit, &mut out);
    let (again, used) = parse_response(&out, &REPARSE_LIMITS, head_request)
        .unwrap_or_else(|e| {
            panic!(
                "serialised head refused: {e}: {:?}",
                String::from_utf8_lossy(&out)
            )
        })
        .expect("serialised head is complete");
    assert_eq!(used, out.len());
    assert_response_forwarded(&head, &again);
}

/// The re-parsed response `again` is what `head` forwards.
pub fn assert_response_forwarded(head: &ResponseHead, again: &ResponseHead) {
    assert_eq!(again.status(), head.status());
    assert_eq!(again.reason(), head.reason());
    assert_eq!(again.framing(), head.framing());
    assert_eq!(head.forwarded_pairs(), again.forwarded_pairs());
}

/// What feeding a chunked body produced.
#[derive(Debug, PartialEq, Eq)]
pub struct ChunkedOutcome {
    /// The payload bytes, concatenated.
    pub payload: Vec<u8>,
    /// Input bytes consumed (0 when refused).
    pub consumed: usize,
    /// The decoder finished.
    pub finished: bool,
    /// The error that stopped it.
    pub error: Option<BodyError>,
}

/// Feeds `data` to a fresh decoder in pieces cut at `cuts` (sorted offsets).
pub fn decode_chunked_in_pieces(data: &[u8], cuts: &[usize]) -> ChunkedOutcome {
    let mut decoder = ChunkedDecoder::new();
    let mut outcome = ChunkedOutcome {
        payload: Vec::new(),
        consumed: 0,
        finished: false,
        error: None,
    };
    let mut bounds: Vec<usize> = cuts.iter().copied().filter(|&c| c <= data.len()).collect();
    bounds.push(data.len());
    for end in bounds {
        // Feed everything received so far that was not consumed, like a shell's buffer.
        while outcome.consumed < end && !decoder.is_finished() {
            let input = &data[outcome.consumed..end];
            match decoder.handle_input(input) {
                Ok(step) => {
                    assert!(step.consumed <= input.len());
                    assert!(step.payload.end <= step.consumed);
                    assert!(step.consumed > 0 || input.is_empty() || decoder.is_finished());
                    outcome.payload.extend_from_slice(&input[step.payload]);
                    outcome.consumed += step.consumed;
                }
                Err(e) => {
                    assert_eq!(decoder.handle_input(input), Err(e), "errors are final");
                    outcome.error = Some(e);
                    // How far a refused body was read depends on the cuts; nothing is owed.
                    outcome.consumed = 0;
                    return outcome;
                }
            }
        }
    }
    outcome.finished = decoder.is_finished();
    outcome
}

/// Chunked bodies: any split decodes like the whole; a finished body's payload re-encodes
/// and decodes back to itself.
pub fn chunked(data: &[u8]) {
    let whole = decode_chunked_in_pieces(data, &[]);
    let pieces = decode_chunked_in_pieces(data, &cuts(data));
    assert_eq!(whole, pieces);
    let every = decode_chunked_in_pieces(data, &(0..data.len()).collect::<Vec<_>>());
    assert_eq!(whole, every);
    if whole.finished {
        let mut encoded = Vec::new();
        for piece in whole.payload.chunks(whole.payload.len() / 3 + 1) {
            encode_chunk(piece, &mut encoded);
        }
        encoded.extend_from_slice(LAST_CHUNK);
        let again = decode_chunked_in_pieces(&encoded, &[]);
        assert!(again.finished && again.error.is_none());
        assert_eq!(again.payload, whole.payload);
        assert_eq!(again.consumed, encoded.len());
    }
}

/// Parses `bytes` whole and cut at every offset, asserting that every prefix answers
/// `Ok(None)` until the head is complete and then exactly what the whole answers, and that a
/// resumed [`HeadScan`] fed one more byte at a time agrees. Returns the whole's answer.
pub fn request_every_split(
    bytes: &[u8],
    limits: &Limits,
) -> Result<Option<(RequestHead, usize)>, crate::http1::RequestError> {
    let whole = parse_request(bytes, limits);
    let mut answered = false;
    let mut scan = HeadScan::new();
    let mut spare = HeadBuf::new();
    for cut in 0..=bytes.len() {
        let prefix = parse_request(&bytes[..cut], limits);
        if !answered {
            let resumed = scan.handle_request(&bytes[..cut], limits, &mut spare);
            assert_eq!(prefix, resumed, "resumed scan differs at {cut}");
        }
        match prefix {
            Ok(None) => assert!(!answered, "Ok(None) after an answer at {cut}"),
            other => {
                assert_eq!(other, whole, "prefix of {cut} bytes answered differently");
                answered = true;
            }
        }
    }
    whole
}

/// [`request_every_split`] for responses.
pub fn response_every_split(
    bytes: &[u8],
    limits: &Limits,
    head_request: bool,
) -> Result<Option<(ResponseHead, usize)>, crate::http1::ResponseError> {
    let whole = parse_response(bytes, limits, head_request);
    let mut answered = false;
    let mut scan = HeadScan::new();
    let mut spare = HeadBuf::new();
    for cut in 0..=bytes.len() {
        let prefix = parse_response(&bytes[..cut], limits, head_request);
        if !answered {
            let resumed = scan.handle_response(&bytes[..cut], limits, head_request, &mut spare);
            assert_eq!(prefix, resumed, "resumed scan differs at {cut}");
        }
        match prefix {
            Ok(None) => assert!(!answered, "Ok(None) after an answer at {cut}"),
            other => {
                assert_eq!(other, whole, "prefix of {cut} bytes answered differently");
                answered = true;
            }
        }
    }
    whole
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::http1::fields::FieldKind;
    use crate::http1::{BodyFraming, RequestError, ResponseError};

    /// A generated valid request: its parts and its bytes.
    #[derive(Debug, Clone)]
    struct GenRequest {
        method: String,
        target: String,
        version: Version,
        fields: Vec<(String, Vec<u8>)>,
        /// Field names listed as `Connection` options.
        listed: Vec<String>,
        framing: BodyFraming,
        bytes: Vec<u8>,
    }

    fn token() -> impl Strategy<Value = String> {
        "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}"
    }

    /// Field names the generator may use freely: not the ones with framing or host rules.
    fn free_name() -> impl Strategy<Value = String> {
        token().prop_filter("free name", |n| {
            !matches!(
                FieldKind::of(n.as_bytes()),
                FieldKind::Host
                    | FieldKind::ContentLength
                    | FieldKind::TransferEncoding
                    | FieldKind::Connection
            )
        })
    }

    /// A field value without leading or trailing whitespace (which the parser strips).
    fn value() -> impl Strategy<Value = Vec<u8>> {
        vec(
            prop_oneof![
                8 => 0x21u8..=0x7e,
                1 => Just(b' '),
                1 => Just(b'\t'),
                1 => 0x80u8..=0xff,
            ],
            0..24,
        )
        .prop_map(|v| crate::http1::syntax::trim_ows(&v).to_vec())
    }

    fn ows() -> impl Strategy<Value = &'static str> {
        prop_oneof![Just(""), Just(" "), Just("\t"), Just(" \t ")]
    }

    fn request() -> impl Strategy<Value = GenRequest> {
        let method = prop_oneof![
            Just("GET".to_owned()),
            Just("POST".to_owned()),
            Just("PUT".to_owned()),
            Just("DELETE".to_owned()),
            token().prop_filter("not CONNECT", |m| m != "CONNECT"),
        ];
        let path = "/[A-Za-z0-9._~!$&'()*+,;=:@%/|{}\"-]{0,20}(\\?[A-Za-z0-9=&/?%-]{0,12})?";
        let host = "[a-z0-9]{1,8}(\\.[a-z]{2,4}){0,2}(:[1-9][0-9]{0,3})?";
        (
            method,
            path,
            host,
            any::<bool>(),
            any::<bool>(),
            vec((free_name(), ows(), value(), ows()), 0..8),
            0u8..3,
            0u64..100_000,
            (0usize..3, vec(any::<u8>(), 0..8), any::<u8>()),
        )
            .prop_map(
                |(
                    method,
                    path,
                    host,
                    http10,
                    with_host,
                    fields,
                    framing,
                    length,
                    (leading, body, pick),
                )| {
                    let version = if http10 {
                        Version::Http10
                    } else {
                        Version::Http11
                    };
                    let with_host = with_host || version == Version::Http11;
                    let framing = match framing {
                        1 => BodyFraming::Length(length),
                        2 if version == Version::Http11 => BodyFraming::Chunked,
                        _ => BodyFraming::None,
                    };
                    let mut bytes = b"\r\n".repeat(leading);
                    bytes.extend_from_slice(
                        format!("{method} {path} {}\r\n", version.as_str()).as_bytes(),
                    );
                    let mut expected = Vec::new();
                    if with_host {
                        bytes.extend_from_slice(format!("Host: {host}\r\n").as_bytes());
                        expected.push(("Host".to_owned(), host.into_bytes()));
                    }
                    let listed: Vec<String> = fields
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| pick % 3 == 0 && (pick >> (i % 8)) & 1 == 1)
                        .map(|(_, (name, ..))| name.to_ascii_uppercase())
                        .filter(|n| !matches!(n.as_str(), "CLOSE" | "KEEP-ALIVE" | "UPGRADE"))
                        .collect();
                    for (name, before, value, after) in fields {
                        bytes.extend_from_slice(format!("{name}:{before}").as_bytes());
                        bytes.extend_from_slice(&value);
                        bytes.extend_from_slice(format!("{after}\r\n").as_bytes());
                        expected.push((name, value));
                    }
                    if !listed.is_empty() {
                        let value = format!("keep-alive, {}", listed.join(" ,"));
                        bytes.extend_from_slice(format!("Connection: {value}\r\n").as_bytes());
                        expected.push(("Connection".to_owned(), value.into_bytes()));
                    }
                    match framing {
                        BodyFraming::Length(n) => {
                            bytes.extend_from_slice(format!("Content-Length: {n}\r\n").as_bytes());
                            expected
                                .push(("Content-Length".to_owned(), n.to_string().into_bytes()));
                        }
                        BodyFraming::Chunked => {
                            bytes.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
                            expected.push(("Transfer-Encoding".to_owned(), b"chunked".to_vec()));
                        }
                        _ => {}
                    }
                    bytes.extend_from_slice(b"\r\n");
                    bytes.extend_from_slice(&body);
                    GenRequest {
                        method,
                        target: path,
                        version,
                        fields: expected,
                        listed,
                        framing,
                        bytes,
                    }
                },
            )
    }

    /// A generated valid response and whether its request was HEAD.
    fn response() -> impl Strategy<Value = (Vec<u8>, bool)> {
        (
            100u16..=599,
            "[ -~]{0,12}",
            any::<bool>(),
            vec((free_name(), ows(), value(), ows()), 0..6),
            0u8..3,
            0u64..1_000_000,
            any::<bool>(),
        )
            .prop_map(|(status, reason, http10, fields, framing, length, head)| {
                let version = if http10 { "HTTP/1.0" } else { "HTTP/1.1" };
                let reason = std::str::from_utf8(crate::http1::syntax::trim_ows(reason.as_bytes()))
                    .expect("ASCII")
                    .to_owned();
                let mut bytes = format!("{version} {status} {reason}\r\n").into_bytes();
                for (name, before, value, after) in fields {
                    bytes.extend_from_slice(format!("{name}:{before}").as_bytes());
                    bytes.extend_from_slice(&value);
                    bytes.extend_from_slice(format!("{after}\r\n").as_bytes());
                }
                match framing {
                    1 => {
                        bytes.extend_from_slice(format!("Content-Length: {length}\r\n").as_bytes())
                    }
                    2 if !http10 => bytes.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
                    _ => {}
                }
                bytes.extend_from_slice(b"\r\n");
                (bytes, head)
            })
    }

    /// Inserts, replaces or deletes one byte of `bytes`.
    fn mutate(bytes: &[u8], at: usize, byte: u8, how: u8) -> Vec<u8> {
        let mut out = bytes.to_vec();
        let at = at % (out.len() + 1);
        match how % 3 {
            0 => out.insert(at, byte),
            1 if at < out.len() => out[at] = byte,
            _ if at < out.len() => {
                out.remove(at);
            }
            _ => out.push(byte),
        }
        out
    }

    #[test]
    fn testdata_inputs() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/fuzz");
        type Target = fn(&[u8]);
        let targets: [(&str, Target); 3] = [
            ("request_head", request_head),
            ("response_head", response_head),
            ("chunked", chunked),
        ];
        let mut inputs = 0;
        for (target, run) in targets {
            for entry in std::fs::read_dir(root.join(target)).expect("testdata folder") {
                let path = entry.expect("readable folder").path();
                run(&std::fs::read(&path).expect("readable input"));
                inputs += 1;
            }
        }
        assert!(inputs >= 3, "{inputs} inputs");
    }

    proptest! {
        #[test]
        fn request_parse_write_parse(r in request(), xff in "[0-9.]{1,15}") {
            let (head, consumed) = request_every_split(&r.bytes, &Limits::DEFAULT)
                .expect("generated request is valid")
                .expect("complete");
            let body_len = r.bytes.len() - consumed;
            prop_assert!(body_len < 8);
            prop_assert_eq!(head.method(), r.method.as_str());
            prop_assert_eq!(head.target(), r.target.as_str());
            prop_assert_eq!(head.version(), r.version);
            prop_assert_eq!(head.framing(), r.framing);
            let fields: Vec<(String, Vec<u8>)> =
                head.headers().map(|(n, v)| (n.to_owned(), v.to_vec())).collect();
            prop_assert_eq!(&fields, &r.fields);
            request_head(&r.bytes);

            let mut out = Vec::new();
            head.write(ConnectionHeader::Omit, &mut out);
            let (again, used) = parse_request(&out, &REPARSE_LIMITS).expect("valid").expect("complete");
            prop_assert_eq!(used, out.len());
            assert_request_forwarded(&head, &again);
            for name in &r.listed {
                prop_assert!(again.header(name).is_none(), "listed {} was forwarded", name);
            }

            // Edits survive the round trip.
            let mut edited = head;
            edited.add_header("X-Forwarded-For", xff.as_bytes()).expect("add");
            edited.set_header("X-Forwarded-Proto", b"http").expect("set");
            let mut out = Vec::new();
            edited.write(ConnectionHeader::KeepAlive, &mut out);
            let (again, _) = parse_request(&out, &REPARSE_LIMITS).expect("valid").expect("complete");
            assert_request_forwarded(&edited, &again);
            prop_assert!(again.keep_alive());
            prop_assert_eq!(again.headers().filter(|(n, _)| *n == "X-Forwarded-Proto").count(), 1);
        }

        #[test]
        fn response_parse_write_parse((bytes, head_request) in response()) {
            let (head, consumed) = response_every_split(&bytes, &Limits::DEFAULT, head_request)
                .expect("generated response is valid")
                .expect("complete");
            prop_assert_eq!(consumed, bytes.len());
            let mut flagged = vec![u8::from(head_request)];
            flagged.extend_from_slice(&bytes);
            response_head(&flagged);
            let mut out = Vec::new();
            head.write(head.framing(), ConnectionHeader::Omit, &mut out);
            let (again, _) = parse_response(&out, &REPARSE_LIMITS, head_request)
                .expect("valid")
                .expect("complete");
            assert_response_forwarded(&head, &again);
        }

        #[test]
        fn mutated_requests_keep_invariants(
            r in request(), at in any::<usize>(), byte in any::<u8>(), how in any::<u8>()
        ) {
            let bytes = mutate(&r.bytes, at, byte, how);
            request_head(&bytes);
            let answer = request_every_split(&bytes, &Limits::DEFAULT);
            prop_assert!(
                !matches!(answer, Err(RequestError::Unparsed(_))),
                "unnamed refusal {:?} of {:?}", answer, String::from_utf8_lossy(&bytes)
            );
        }

        #[test]
        fn mutated_responses_keep_invariants(
            (bytes, head_request) in response(), at in any::<usize>(), byte in any::<u8>(), how in any::<u8>()
        ) {
            let bytes = mutate(&bytes, at, byte, how);
            let answer = response_every_split(&bytes, &Limits::DEFAULT, head_request);
            prop_assert!(
                !matches!(answer, Err(ResponseError::Unparsed(_))),
                "unnamed refusal {:?} of {:?}", answer, String::from_utf8_lossy(&bytes)
            );
            let mut flagged = vec![u8::from(head_request)];
            flagged.extend_from_slice(&bytes);
            response_head(&flagged);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..512)) {
            request_head(&bytes);
            response_head(&bytes);
            chunked(&bytes);
        }

        #[test]
        fn chunked_round_trip(
            pieces in vec(vec(any::<u8>(), 0..300), 0..8),
            extension in proptest::option::of("[a-z]{1,5}(=([a-z]{1,5}|\"([ a-z;]|\\\\\"){0,5}\"))?"),
            trailers in vec(("[A-Za-z-]{1,10}", "[ -~]{0,10}"), 0..3),
            cuts in vec(any::<usize>(), 0..6),
            tail in vec(any::<u8>(), 0..4),
        ) {
            let mut body = Vec::new();
            for piece in &pieces {
                let Some(len) = std::num::NonZeroUsize::new(piece.len()) else { continue };
                body.extend_from_slice(crate::http1::ChunkHeader::new(len).as_bytes());
                if let Some(ext) = &extension {
                    // Move the CRLF after the extension.
                    body.truncate(body.len() - 2);
                    body.extend_from_slice(format!(";{ext}\r\n").as_bytes());
                }
                body.extend_from_slice(piece);
                body.extend_from_slice(crate::http1::CHUNK_END);
            }
            body.extend_from_slice(b"0\r\n");
            for (name, value) in &trailers {
                body.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
            }
            body.extend_from_slice(b"\r\n");
            let end = body.len();
            body.extend_from_slice(&tail);
            let payload: Vec<u8> = pieces.concat();
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
            cuts.sort_unstable();
            let whole = decode_chunked_in_pieces(&body, &[]);
            prop_assert_eq!(&whole.payload, &payload);
            prop_assert!(whole.finished && whole.error.is_none());
            prop_assert_eq!(whole.consumed, end);
            prop_assert_eq!(decode_chunked_in_pieces(&body, &cuts), whole);
            chunked(&body);
        }
    }
}
