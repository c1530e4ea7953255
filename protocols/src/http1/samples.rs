//! Malformed and smuggling-shaped requests that percore must refuse, with the refusal each
//! one gets. The codec's tests run every sample through the parser and the body decoder; the
//! engine's end-to-end tests send the very same bytes through the real proxy (configured with
//! [`Limits::DEFAULT`]) and assert the status of [`Refusal::status`] and that no server saw
//! the request (head refusals) or that the stream was ended (body refusals).

use crate::http1::error::{BodyError, FieldError, RequestError, Side};
use crate::http1::{Limits, LEADING_EMPTY_LINES_MAX};

/// The limits the samples assume (the configuration's defaults).
pub const SAMPLE_LIMITS: Limits = Limits::DEFAULT;

/// Where a sample is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The head is refused before anything is forwarded.
    Head(RequestError),
    /// The head is valid; the body after it is refused (or truncated, for [`BodyError::Truncated`]:
    /// the sample's bytes end before the body does).
    Body(BodyError),
}

impl Refusal {
    /// The status the client gets, when the engine can still answer.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Head(e) => e.status(),
            Refusal::Body(e) => e.status(Side::Client),
        }
    }
}

/// One malformed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedRequest {
    /// A short name for test output.
    pub name: &'static str,
    /// The bytes a client sends.
    pub bytes: Vec<u8>,
    /// How percore refuses them.
    pub refusal: Refusal,
}

/// A POST head with `Host` and the given extra field lines (each ending in CRLF), then
/// `body`.
fn post(fields: &str, body: &[u8]) -> Vec<u8> {
    let mut bytes =
        format!("POST /upload HTTP/1.1\r\nHost: example.com\r\n{fields}\r\n").into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// A chunked POST whose body is `body`.
fn chunked(body: &[u8]) -> Vec<u8> {
    post("Transfer-Encoding: chunked\r\n", body)
}

/// Every malformed request sample.
pub fn malformed_requests() -> Vec<MalformedRequest> {
    use FieldError as F;
    use RequestError as R;
    let head = |name, bytes: &[u8], e: RequestError| MalformedRequest {
        name,
        bytes: bytes.to_vec(),
        refusal: Refusal::Head(e),
    };
    let field = |name, fields: &str, e: FieldError| MalformedRequest {
        name,
        bytes: post(fields, b""),
        refusal: Refusal::Head(R::Field(e)),
    };
    let body = |name, body: &[u8], e: BodyError| MalformedRequest {
        name,
        bytes: chunked(body),
        refusal: Refusal::Body(e),
    };
    let long_extension = format!("5;{}=x\r\nhello\r\n0\r\n\r\n", "a".repeat(5000));
    let mut many_fields = String::new();
    for i in 0..=SAMPLE_LIMITS.max_headers {
        many_fields.push_str(&format!("X-Field-{i}: {i}\r\n"));
    }
    let huge_field = format!("X-Big: {}\r\n", "b".repeat(SAMPLE_LIMITS.max_header_size));
    vec![
        // Framing conflicts: CL.TE and TE.CL.
        field(
            "cl_te",
            "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n",
            F::TransferEncodingWithContentLength,
        ),
        field(
            "te_cl",
            "Transfer-Encoding: chunked\r\nContent-Length: 6\r\n",
            F::TransferEncodingWithContentLength,
        ),
        field(
            "te_chunked_tab_with_cl",
            "Transfer-Encoding: chunked\t\r\nContent-Length: 3\r\n",
            F::TransferEncodingWithContentLength,
        ),
        field(
            "te_zero_cl",
            "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n",
            F::TransferEncodingWithContentLength,
        ),
        // Transfer-Encoding obfuscation.
        field(
            "te_space_before_colon",
            "Transfer-Encoding : chunked\r\n",
            F::NameWhitespace,
        ),
        field(
            "te_tab_before_colon",
            "Transfer-Encoding\t: chunked\r\n",
            F::NameWhitespace,
        ),
        field(
            "te_xchunked",
            "Transfer-Encoding: xchunked\r\n",
            F::TransferCodingUnsupported,
        ),
        field(
            "te_chunked_twice_one_field",
            "Transfer-Encoding: chunked, chunked\r\n",
            F::ChunkedTwice,
        ),
        field(
            "te_duplicated_fields",
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
            F::ChunkedTwice,
        ),
        field(
            "te_gzip_chunked",
            "Transfer-Encoding: gzip, chunked\r\n",
            F::TransferCodingUnsupported,
        ),
        field(
            "te_chunked_gzip",
            "Transfer-Encoding: chunked, gzip\r\n",
            F::ChunkedNotLast,
        ),
        field(
            "te_chunked_then_identity_field",
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n",
            F::ChunkedNotLast,
        ),
        field(
            "te_identity",
            "Transfer-Encoding: identity\r\n",
            F::TransferCodingUnsupported,
        ),
        field(
            "te_empty",
            "Transfer-Encoding: \r\n",
            F::TransferCodingEmpty,
        ),
        field(
            "te_trailing_comma",
            "Transfer-Encoding: chunked,\r\n",
            F::TransferCodingEmpty,
        ),
        field(
            "te_quoted",
            "Transfer-Encoding: \"chunked\"\r\n",
            F::TransferCodingInvalid,
        ),
        field(
            "te_with_parameter",
            "Transfer-Encoding: chunked;q=1\r\n",
            F::TransferCodingInvalid,
        ),
        field(
            "te_vertical_tab",
            "Transfer-Encoding:\x0bchunked\r\n",
            F::ValueByte { byte: 0x0b },
        ),
        field(
            "te_obs_fold",
            "Transfer-Encoding:\r\n chunked\r\n",
            F::ObsFold,
        ),
        head(
            "te_http10",
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            R::Field(F::TransferEncodingInHttp10),
        ),
        // Content-Length forms.
        field(
            "cl_plus",
            "Content-Length: +5\r\n",
            F::ContentLengthNotDigits { byte: b'+' },
        ),
        field(
            "cl_minus",
            "Content-Length: -1\r\n",
            F::ContentLengthNotDigits { byte: b'-' },
        ),
        field(
            "cl_list",
            "Content-Length: 1,2\r\n",
            F::ContentLengthNotDigits { byte: b',' },
        ),
        field(
            "cl_identical_list",
            "Content-Length: 5, 5\r\n",
            F::ContentLengthNotDigits { byte: b',' },
        ),
        field(
            "cl_duplicate_identical",
            "Content-Length: 5\r\nContent-Length: 5\r\n",
            F::DuplicateContentLength,
        ),
        field(
            "cl_duplicate_conflicting",
            "Content-Length: 5\r\nContent-Length: 6\r\n",
            F::DuplicateContentLength,
        ),
        field(
            "cl_hex",
            "Content-Length: 0x5\r\n",
            F::ContentLengthNotDigits { byte: b'x' },
        ),
        field(
            "cl_inner_space",
            "Content-Length: 5 0\r\n",
            F::ContentLengthNotDigits { byte: b' ' },
        ),
        field(
            "cl_overflow",
            "Content-Length: 18446744073709551616\r\n",
            F::ContentLengthOverflow,
        ),
        field("cl_empty", "Content-Length: \r\n", F::ContentLengthEmpty),
        field(
            "cl_space_before_colon",
            "Content-Length : 5\r\n",
            F::NameWhitespace,
        ),
        // Field-line grammar.
        field("name_with_space", "Foo Bar: x\r\n", F::NameWhitespace),
        field("nul_in_value", "X-A: a\0b\r\n", F::ValueByte { byte: 0 }),
        field(
            "del_in_value",
            "X-A: a\x7fb\r\n",
            F::ValueByte { byte: 0x7f },
        ),
        field("cr_in_value", "X-A: a\rb\r\n", F::BareCr),
        field("obs_fold", "X-A: a\r\n b\r\n", F::ObsFold),
        field("empty_name", ": x\r\n", F::EmptyName),
        field("missing_colon", "X-NoColon\r\n", F::MissingColon),
        field("name_non_token", "X(A): x\r\n", F::NameByte { byte: b'(' }),
        field(
            "name_non_ascii",
            "X-\u{e9}: x\r\n",
            F::NameByte { byte: 0xc3 },
        ),
        head(
            "space_before_first_field",
            b"GET / HTTP/1.1\r\n Host: example.com\r\n\r\n",
            R::Field(F::ObsFold),
        ),
        head(
            "bare_lf_in_fields",
            b"GET / HTTP/1.1\r\nHost: example.com\nX-A: b\r\n\r\n",
            R::Field(F::BareLf),
        ),
        head(
            "bare_lf_request_line",
            b"GET / HTTP/1.1\nHost: example.com\r\n\r\n",
            R::Field(F::BareLf),
        ),
        head(
            "bare_lf_everywhere",
            b"GET / HTTP/1.1\nHost: example.com\n\n",
            R::Field(F::BareLf),
        ),
        head(
            "bare_lf_leading",
            b"\nGET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
            R::Field(F::BareLf),
        ),
        field(
            "connection_option_not_token",
            "Connection: \"close\"\r\n",
            F::ConnectionOptionInvalid,
        ),
        // Host.
        head("missing_host", b"GET / HTTP/1.1\r\n\r\n", R::MissingHost),
        head(
            "duplicate_host",
            b"GET / HTTP/1.1\r\nHost: example.com\r\nHost: example.com\r\n\r\n",
            R::DuplicateHost,
        ),
        head(
            "host_userinfo",
            b"GET / HTTP/1.1\r\nHost: user@example.com\r\n\r\n",
            R::HostInvalid,
        ),
        head(
            "host_bad_port",
            b"GET / HTTP/1.1\r\nHost: example.com:99999\r\n\r\n",
            R::HostInvalid,
        ),
        head(
            "host_with_space",
            b"GET / HTTP/1.1\r\nHost: example .com\r\n\r\n",
            R::HostInvalid,
        ),
        head(
            "host_empty",
            b"GET / HTTP/1.1\r\nHost:\r\n\r\n",
            R::HostInvalid,
        ),
        head(
            "absolute_form_host_mismatch",
            b"GET http://internal.example/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
            R::HostMismatch,
        ),
        head(
            "absolute_form_userinfo",
            b"GET http://user@example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
            R::TargetForm,
        ),
        // Request line.
        head(
            "asterisk_form_get",
            b"GET * HTTP/1.1\r\nHost: example.com\r\n\r\n",
            R::AsteriskFormOutsideOptions,
        ),
        head(
            "connect",
            b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
            R::ConnectNotSupported,
        ),
        head(
            "authority_form_get",
            b"GET example.com:80 HTTP/1.1\r\nHost: example.com\r\n\r\n",
            R::TargetForm,
        ),
        head(
            "http2_preface",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            R::Http2Preface,
        ),
        head("http09", b"GET /\r\n\r\n", R::Http09),
        head(
            "http12",
            b"GET / HTTP/1.2\r\nHost: example.com\r\n\r\n",
            R::VersionNotSupported { major: 1, minor: 2 },
        ),
        head(
            "version_lowercase",
            b"GET / http/1.1\r\nHost: example.com\r\n\r\n",
            R::VersionMalformed,
        ),
        head(
            "double_space_request_line",
            b"GET  / HTTP/1.1\r\nHost: example.com\r\n\r\n",
            R::RequestLineSpacing,
        ),
        head(
            "space_in_target",
            b"GET /a b HTTP/1.1\r\nHost: example.com\r\n\r\n",
            R::RequestLineSpacing,
        ),
        head(
            "trailing_space_request_line",
            b"GET / HTTP/1.1 \r\nHost: example.com\r\n\r\n",
            R::RequestLineSpacing,
        ),
        head(
            "tab_separator",
            b"GET\t/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
            R::MethodNotToken { byte: b'\t' },
        ),
        head(
            "nul_in_target",
            b"GET /a\0b HTTP/1.1\r\nHost: example.com\r\n\r\n",
            R::TargetByte { byte: 0 },
        ),
        head(
            "non_ascii_target",
            "GET /caf\u{e9} HTTP/1.1\r\nHost: example.com\r\n\r\n".as_bytes(),
            R::TargetByte { byte: 0xc3 },
        ),
        head(
            "fragment_in_target",
            b"GET /a#b HTTP/1.1\r\nHost: example.com\r\n\r\n",
            R::TargetByte { byte: b'#' },
        ),
        head(
            "method_not_token",
            b"G(T / HTTP/1.1\r\nHost: example.com\r\n\r\n",
            R::MethodNotToken { byte: b'(' },
        ),
        head(
            "too_many_leading_empty_lines",
            b"\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
            R::TooManyLeadingEmptyLines {
                limit: LEADING_EMPTY_LINES_MAX,
            },
        ),
        MalformedRequest {
            name: "too_many_fields",
            bytes: post(&many_fields, b""),
            refusal: Refusal::Head(R::TooManyHeaders {
                limit: SAMPLE_LIMITS.max_headers,
            }),
        },
        MalformedRequest {
            name: "head_too_large",
            bytes: post(&huge_field, b""),
            refusal: Refusal::Head(R::HeadTooLarge {
                limit: SAMPLE_LIMITS.max_header_size,
            }),
        },
        // Chunked framing.
        body(
            "chunk_size_0x",
            b"0x5\r\nhello\r\n0\r\n\r\n",
            BodyError::ChunkSizeByte { byte: b'x' },
        ),
        body(
            "chunk_size_trailing_space",
            b"5 \r\nhello\r\n0\r\n\r\n",
            BodyError::ChunkSizeByte { byte: b' ' },
        ),
        body(
            "chunk_size_leading_space",
            b" 5\r\nhello\r\n0\r\n\r\n",
            BodyError::ChunkSizeByte { byte: b' ' },
        ),
        body(
            "chunk_size_tab",
            b"5\t\r\nhello\r\n0\r\n\r\n",
            BodyError::ChunkSizeByte { byte: b'\t' },
        ),
        body(
            "chunk_size_negative",
            b"-1\r\nhello\r\n0\r\n\r\n",
            BodyError::ChunkSizeByte { byte: b'-' },
        ),
        body(
            "chunk_size_plus",
            b"+5\r\nhello\r\n0\r\n\r\n",
            BodyError::ChunkSizeByte { byte: b'+' },
        ),
        body(
            "chunk_size_empty",
            b"\r\nhello\r\n0\r\n\r\n",
            BodyError::ChunkSizeByte { byte: b'\r' },
        ),
        body(
            "chunk_size_huge",
            b"fffffffffffffffff\r\nhello\r\n0\r\n\r\n",
            BodyError::ChunkSizeTooLong { limit: 16 },
        ),
        body(
            "chunk_size_zero_padded_17",
            b"00000000000000005\r\nhello\r\n0\r\n\r\n",
            BodyError::ChunkSizeTooLong { limit: 16 },
        ),
        body(
            "chunk_bare_lf_size_line",
            b"5\nhello\r\n0\r\n\r\n",
            BodyError::BareLf,
        ),
        body(
            "chunk_bare_lf_after_data",
            b"5\r\nhello\n0\r\n\r\n",
            BodyError::BareLf,
        ),
        body(
            "chunk_bare_cr_after_data",
            b"5\r\nhello\rX0\r\n\r\n",
            BodyError::BareCr,
        ),
        body(
            "chunk_data_longer_than_size",
            b"3\r\nhello\r\n0\r\n\r\n",
            BodyError::ChunkDataNotTerminated { byte: b'l' },
        ),
        body(
            "last_chunk_bare_lf",
            b"5\r\nhello\r\n0\n\r\n",
            BodyError::BareLf,
        ),
        body(
            "missing_final_crlf_then_request",
            b"0\r\nGET /admin HTTP/1.1\r\nHost: example.com\r\n\r\n",
            BodyError::Trailer(F::NameWhitespace),
        ),
        body(
            "missing_final_crlf_eof",
            b"5\r\nhello\r\n0\r\n",
            BodyError::Truncated,
        ),
        body(
            "extension_too_long",
            long_extension.as_bytes(),
            BodyError::ChunkLineTooLong { limit: 4096 },
        ),
        body(
            "extension_with_space",
            b"5; a=b\r\nhello\r\n0\r\n\r\n",
            BodyError::ChunkExtensionByte { byte: b' ' },
        ),
        body(
            "extension_empty_name",
            b"5;\r\nhello\r\n0\r\n\r\n",
            BodyError::ChunkExtensionByte { byte: b'\r' },
        ),
        body(
            "extension_unterminated_quote",
            b"5;a=\"b\r\nhello\r\n0\r\n\r\n",
            BodyError::ChunkExtensionByte { byte: b'\r' },
        ),
        body(
            "trailer_nul",
            b"5\r\nhello\r\n0\r\nX-T: a\0\r\n\r\n",
            BodyError::Trailer(F::ValueByte { byte: 0 }),
        ),
        body(
            "trailer_obs_fold",
            b"5\r\nhello\r\n0\r\nX-T: a\r\n b\r\n\r\n",
            BodyError::Trailer(F::ObsFold),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http1::fuzzing::request_every_split;
    use crate::http1::{BodyDecoder, BodyFraming};

    #[test]
    fn enough_distinct_samples() {
        let samples = malformed_requests();
        assert!(samples.len() >= 40, "{} samples", samples.len());
        let mut names: Vec<_> = samples.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), samples.len(), "sample names are unique");
    }

    #[test]
    fn every_sample_is_refused_as_listed() {
        for sample in malformed_requests() {
            let name = sample.name;
            let parsed = request_every_split(&sample.bytes, &SAMPLE_LIMITS);
            match sample.refusal {
                Refusal::Head(want) => {
                    assert_eq!(parsed.map(|_| ()), Err(want), "{name}");
                    assert_eq!(sample.refusal.status(), want.status());
                }
                Refusal::Body(want) => {
                    let (head, consumed) = parsed
                        .unwrap_or_else(|e| panic!("{name}: head refused: {e}"))
                        .unwrap_or_else(|| panic!("{name}: head incomplete"));
                    assert_eq!(head.framing(), BodyFraming::Chunked, "{name}");
                    let body = &sample.bytes[consumed..];
                    let mut decoder = BodyDecoder::new(head.framing());
                    let mut at = 0;
                    let got = loop {
                        match decoder.handle_input(&body[at..]) {
                            Err(e) => break e,
                            Ok(step) if at + step.consumed == body.len() => {
                                break decoder.handle_eof().expect_err(name);
                            }
                            Ok(step) => {
                                assert!(step.consumed > 0, "{name}: stuck");
                                at += step.consumed;
                            }
                        }
                    };
                    assert_eq!(got, want, "{name}");
                    assert_eq!(sample.refusal.status(), 400);
                }
            }
        }
    }

    #[test]
    fn statuses_of_samples() {
        let status = |name: &str| {
            malformed_requests()
                .into_iter()
                .find(|s| s.name == name)
                .expect("sample exists")
                .refusal
                .status()
        };
        assert_eq!(status("cl_te"), 400);
        assert_eq!(status("te_xchunked"), 501);
        assert_eq!(status("connect"), 501);
        assert_eq!(status("http2_preface"), 505);
        assert_eq!(status("head_too_large"), 431);
        assert_eq!(status("too_many_fields"), 431);
        assert_eq!(status("chunk_size_0x"), 400);
    }
}
