//! PROXY protocol headers (HAProxy's `proxy-protocol.txt`), v1 and v2.
//!
//! The engine writes one with [`encode`] before any payload when a server has `send_proxy`,
//! and reads one with [`decode`] when a frontend has `accept_proxy`. This module only
//! knows the wire format; it never reads or writes a socket. [`decode`] is incremental: it
//! returns `Ok(None)` while the header is incomplete, so the shell keeps reading.

use std::net::{IpAddr, SocketAddr};

/// Longest v1 header, including CRLF, as fixed by the specification.
pub const V1_MAX_BYTES: usize = 107;
/// The 12-byte signature that opens every v2 header.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// Largest v2 header we accept: 16-byte fixed part plus addresses plus bounded TLVs.
/// TLVs are skipped, so a cap keeps a hostile peer from making us buffer 64 KiB.
pub const V2_MAX_BYTES: usize = 16 + 216 + 1024;

/// Which PROXY protocol version to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// Human-readable `PROXY TCP4 …\r\n`.
    V1,
    /// Binary header with the 12-byte signature.
    V2,
}

/// What a PROXY header announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// The connection's real endpoints: `source` is the client, `destination` the address the
    /// client connected to.
    Proxied {
        /// The original client address.
        source: SocketAddr,
        /// The address the original client connected to.
        destination: SocketAddr,
    },
    /// v1 `UNKNOWN` or v2 `LOCAL`/unsupported family: the receiver uses the socket's own
    /// addresses.
    Unknown,
}

/// Why a PROXY header was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    /// Neither the v1 `PROXY ` prefix nor the v2 signature.
    #[error("not a PROXY protocol header")]
    BadSignature,
    /// A v1 line longer than 107 bytes without CRLF.
    #[error("PROXY v1 line longer than {V1_MAX_BYTES} bytes")]
    V1TooLong,
    /// A v1 line that does not follow `PROXY TCP4|TCP6|UNKNOWN src dst sport dport`.
    #[error("malformed PROXY v1 line: {0}")]
    V1Malformed(&'static str),
    /// A v2 version nibble other than 2, or a command other than LOCAL/PROXY.
    #[error("unsupported PROXY v2 version/command byte {0:#04x}")]
    V2BadVersionCommand(u8),
    /// The declared v2 length cannot hold the declared address family.
    #[error("PROXY v2 length {got} too short for its address family (need {need})")]
    V2ShortAddresses {
        /// Bytes required by the address family.
        need: usize,
        /// Bytes declared in the header.
        got: usize,
    },
    /// The declared v2 length is above [`V2_MAX_BYTES`].
    #[error("PROXY v2 header of {0} bytes exceeds the limit")]
    V2TooLong(usize),
}

/// Appends the PROXY header for a connection from `source` to `destination` to `out`.
///
/// Mixed families (IPv4 client to an IPv6 listener) are written as IPv6 with IPv4-mapped
/// addresses, so the receiver always gets both endpoints.
pub fn encode(version: Version, source: SocketAddr, destination: SocketAddr, out: &mut Vec<u8>) {
    let (source, destination) = same_family(source, destination);
    match version {
        Version::V1 => encode_v1(source, destination, out),
        Version::V2 => encode_v2(source, destination, out),
    }
}

fn same_family(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    match (a, b) {
        (SocketAddr::V4(_), SocketAddr::V4(_)) | (SocketAddr::V6(_), SocketAddr::V6(_)) => (a, b),
        _ => (to_v6(a), to_v6(b)),
    }
}

fn to_v6(a: SocketAddr) -> SocketAddr {
    match a.ip() {
        IpAddr::V4(ip) => SocketAddr::new(IpAddr::V6(ip.to_ipv6_mapped()), a.port()),
        IpAddr::V6(_) => a,
    }
}

fn encode_v1(source: SocketAddr, destination: SocketAddr, out: &mut Vec<u8>) {
    use std::io::Write;
    let family = if source.is_ipv4() { "TCP4" } else { "TCP6" };
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        "PROXY {family} {} {} {} {}\r\n",
        source.ip(),
        destination.ip(),
        source.port(),
        destination.port()
    );
}

fn encode_v2(source: SocketAddr, destination: SocketAddr, out: &mut Vec<u8>) {
    out.extend_from_slice(&V2_SIGNATURE);
    out.push(0x21); // version 2, command PROXY
    match (source, destination) {
        (SocketAddr::V4(s), SocketAddr::V4(d)) => {
            out.push(0x11); // AF_INET, STREAM
            out.extend_from_slice(&12u16.to_be_bytes());
            out.extend_from_slice(&s.ip().octets());
            out.extend_from_slice(&d.ip().octets());
            out.extend_from_slice(&s.port().to_be_bytes());
            out.extend_from_slice(&d.port().to_be_bytes());
        }
        (SocketAddr::V6(s), SocketAddr::V6(d)) => {
            out.push(0x21); // AF_INET6, STREAM
            out.extend_from_slice(&36u16.to_be_bytes());
            out.extend_from_slice(&s.ip().octets());
            out.extend_from_slice(&d.ip().octets());
            out.extend_from_slice(&s.port().to_be_bytes());
            out.extend_from_slice(&d.port().to_be_bytes());
        }
        _ => unreachable!("same_family() returned mixed families"),
    }
}

/// Parses a PROXY header at the start of `input`.
///
/// Returns `Ok(Some((header, consumed)))` once a whole header is present, `Ok(None)` when more
/// bytes are needed, and an error as soon as the bytes seen cannot start a valid header.
pub fn decode(input: &[u8]) -> Result<Option<(Header, usize)>, ProxyError> {
    if input.is_empty() {
        return Ok(None);
    }
    if input[0] == b'P' {
        return decode_v1(input);
    }
    let n = input.len().min(V2_SIGNATURE.len());
    if input[..n] != V2_SIGNATURE[..n] {
        return Err(ProxyError::BadSignature);
    }
    decode_v2(input)
}

fn decode_v1(input: &[u8]) -> Result<Option<(Header, usize)>, ProxyError> {
    let prefix = b"PROXY ";
    let n = input.len().min(prefix.len());
    if input[..n] != prefix[..n] {
        return Err(ProxyError::BadSignature);
    }
    let window = &input[..input.len().min(V1_MAX_BYTES)];
    let Some(lf) = window.iter().position(|&b| b == b'\n') else {
        return if input.len() >= V1_MAX_BYTES {
            Err(ProxyError::V1TooLong)
        } else {
            Ok(None)
        };
    };
    if lf == 0 || window[lf - 1] != b'\r' {
        return Err(ProxyError::V1Malformed("line must end with CRLF"));
    }
    let line = std::str::from_utf8(&window[prefix.len()..lf - 1])
        .map_err(|_| ProxyError::V1Malformed("not ASCII"))?;
    let mut parts = line.split(' ');
    let header = match parts.next() {
        Some("UNKNOWN") => Header::Unknown,
        Some(family @ ("TCP4" | "TCP6")) => {
            let mut next = |what| parts.next().ok_or(ProxyError::V1Malformed(what));
            let src: IpAddr = next("missing source")?
                .parse()
                .map_err(|_| ProxyError::V1Malformed("bad source address"))?;
            let dst: IpAddr = next("missing destination")?
                .parse()
                .map_err(|_| ProxyError::V1Malformed("bad destination address"))?;
            let sport = parse_port(next("missing source port")?)?;
            let dport = parse_port(next("missing destination port")?)?;
            if parts.next().is_some() {
                return Err(ProxyError::V1Malformed("trailing fields"));
            }
            let v4 = family == "TCP4";
            if src.is_ipv4() != v4 || dst.is_ipv4() != v4 {
                return Err(ProxyError::V1Malformed("address does not match family"));
            }
            Header::Proxied {
                source: SocketAddr::new(src, sport),
                destination: SocketAddr::new(dst, dport),
            }
        }
        _ => return Err(ProxyError::V1Malformed("unknown protocol family")),
    };
    Ok(Some((header, lf + 1)))
}

fn parse_port(s: &str) -> Result<u16, ProxyError> {
    // The spec forbids leading zeros and signs; u16::from_str would accept "+80".
    let ok = !s.is_empty()
        && s.len() <= 5
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    if !ok {
        return Err(ProxyError::V1Malformed("bad port"));
    }
    s.parse().map_err(|_| ProxyError::V1Malformed("bad port"))
}

fn decode_v2(input: &[u8]) -> Result<Option<(Header, usize)>, ProxyError> {
    if input.len() < 16 {
        return Ok(None);
    }
    let ver_cmd = input[12];
    if ver_cmd >> 4 != 2 || ver_cmd & 0x0f > 1 {
        return Err(ProxyError::V2BadVersionCommand(ver_cmd));
    }
    let len = u16::from_be_bytes([input[14], input[15]]) as usize;
    if 16 + len > V2_MAX_BYTES {
        return Err(ProxyError::V2TooLong(16 + len));
    }
    if input.len() < 16 + len {
        return Ok(None);
    }
    let body = &input[16..16 + len];
    let consumed = 16 + len;
    if ver_cmd & 0x0f == 0 {
        return Ok(Some((Header::Unknown, consumed)));
    }
    let header = match input[13] {
        0x11 => {
            if len < 12 {
                return Err(ProxyError::V2ShortAddresses { need: 12, got: len });
            }
            let ip = |o: usize| IpAddr::from([body[o], body[o + 1], body[o + 2], body[o + 3]]);
            Header::Proxied {
                source: SocketAddr::new(ip(0), u16::from_be_bytes([body[8], body[9]])),
                destination: SocketAddr::new(ip(4), u16::from_be_bytes([body[10], body[11]])),
            }
        }
        0x21 => {
            if len < 36 {
                return Err(ProxyError::V2ShortAddresses { need: 36, got: len });
            }
            let ip = |o: usize| {
                let mut b = [0u8; 16];
                b.copy_from_slice(&body[o..o + 16]);
                IpAddr::from(b)
            };
            Header::Proxied {
                source: SocketAddr::new(ip(0), u16::from_be_bytes([body[32], body[33]])),
                destination: SocketAddr::new(ip(16), u16::from_be_bytes([body[34], body[35]])),
            }
        }
        // UNSPEC, UDP and unix families: the spec says to accept and use the real addresses.
        _ => Header::Unknown,
    };
    Ok(Some((header, consumed)))
}

/// Entry point of the `proxy_header` fuzz target and its property-test twin. Hidden from
/// docs; not an API.
#[doc(hidden)]
pub mod fuzzing {
    use super::{decode, encode, Header, Version, V1_MAX_BYTES, V2_MAX_BYTES};

    /// Decodes arbitrary bytes whole and cut at offsets derived from them, asserting: a prefix
    /// answers `Ok(None)` or exactly what the whole answers (errors are final, a header never
    /// depends on bytes after it); a decoded header consumed at least one byte and no more
    /// than the input; the header alone decodes to itself; and an announced pair of
    /// addresses re-encodes in the same version within its size limit and decodes back.
    pub fn proxy_header(data: &[u8]) {
        let whole = decode(data);
        for cut in cuts(data) {
            let prefix = decode(&data[..cut]);
            assert!(
                prefix == Ok(None) || prefix == whole,
                "prefix of {cut} bytes answered {prefix:?}, the whole {whole:?}"
            );
        }
        let Ok(Some((header, consumed))) = whole else {
            return;
        };
        assert!(consumed >= 1 && consumed <= data.len());
        assert_eq!(
            decode(&data[..consumed]),
            whole,
            "the header needs its tail"
        );
        assert_eq!(decode(&data[..consumed - 1]), Ok(None));
        let Header::Proxied {
            source,
            destination,
        } = header
        else {
            return;
        };
        let (version, limit) = if data[0] == b'P' {
            (Version::V1, V1_MAX_BYTES)
        } else {
            (Version::V2, V2_MAX_BYTES)
        };
        let mut out = Vec::new();
        encode(version, source, destination, &mut out);
        assert!(
            out.len() <= limit,
            "{version:?} header of {} bytes",
            out.len()
        );
        assert_eq!(decode(&out), Ok(Some((header, out.len()))));
    }

    /// Split points derived from the input, so a fuzzer explores them too; every offset for
    /// short inputs (a header is short).
    fn cuts(data: &[u8]) -> Vec<usize> {
        if data.len() <= 64 {
            return (0..data.len()).collect();
        }
        let len = data.len();
        let mut cuts: Vec<usize> = data.iter().take(8).map(|&b| b as usize * 7 % len).collect();
        cuts.extend([1, 12, 15, 16, len / 2, len - 1]);
        cuts.retain(|&c| c < len);
        cuts.sort_unstable();
        cuts.dedup();
        cuts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().expect("test address")
    }

    fn enc(v: Version, s: &str, d: &str) -> Vec<u8> {
        let mut out = Vec::new();
        encode(v, sa(s), sa(d), &mut out);
        out
    }

    #[test]
    fn v1_tcp4_exact_bytes() {
        assert_eq!(
            enc(Version::V1, "192.0.2.1:56324", "198.51.100.7:443"),
            b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n"
        );
    }

    #[test]
    fn v1_tcp6_exact_bytes() {
        assert_eq!(
            enc(Version::V1, "[2001:db8::1]:1000", "[::1]:80"),
            b"PROXY TCP6 2001:db8::1 ::1 1000 80\r\n"
        );
    }

    #[test]
    fn v1_mixed_families_become_tcp6() {
        assert_eq!(
            enc(Version::V1, "127.0.0.1:5", "[::1]:80"),
            b"PROXY TCP6 ::ffff:127.0.0.1 ::1 5 80\r\n"
        );
    }

    #[test]
    fn v1_longest_fits_limit() {
        let out = enc(
            Version::V1,
            "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
            "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
        );
        assert_eq!(out.len(), 104);
        assert!(out.len() <= V1_MAX_BYTES);
    }

    #[test]
    fn v2_tcp4_exact_bytes() {
        let out = enc(Version::V2, "127.0.0.1:4660", "10.0.0.2:80");
        let mut want = V2_SIGNATURE.to_vec();
        want.extend_from_slice(&[
            0x21, 0x11, 0, 12, 127, 0, 0, 1, 10, 0, 0, 2, 0x12, 0x34, 0, 80,
        ]);
        assert_eq!(out, want);
    }

    #[test]
    fn v2_tcp6_length() {
        let out = enc(Version::V2, "[::1]:1", "[::2]:2");
        assert_eq!(out.len(), 16 + 36);
        assert_eq!(&out[12..16], &[0x21, 0x21, 0, 36]);
    }

    #[test]
    fn decode_every_split_point() {
        for v in [Version::V1, Version::V2] {
            let mut bytes = enc(v, "192.0.2.1:56324", "198.51.100.7:443");
            let whole = bytes.len();
            bytes.extend_from_slice(b"GET / HTTP/1.1\r\n");
            for cut in 0..whole {
                assert_eq!(decode(&bytes[..cut]), Ok(None), "{v:?} cut {cut}");
            }
            let (h, used) = decode(&bytes).expect("valid").expect("complete");
            assert_eq!(used, whole);
            assert_eq!(
                h,
                Header::Proxied {
                    source: sa("192.0.2.1:56324"),
                    destination: sa("198.51.100.7:443")
                }
            );
        }
    }

    #[test]
    fn decode_unknown_and_local() {
        assert_eq!(
            decode(b"PROXY UNKNOWN\r\n"),
            Ok(Some((Header::Unknown, 15)))
        );
        let mut local = V2_SIGNATURE.to_vec();
        local.extend_from_slice(&[0x20, 0x00, 0, 0]);
        assert_eq!(decode(&local), Ok(Some((Header::Unknown, 16))));
    }

    #[test]
    fn decode_rejects_malformed() {
        let bad: &[(&[u8], ProxyError)] = &[
            (b"GET / HTTP/1.1\r\n", ProxyError::BadSignature),
            (b"PROXX", ProxyError::BadSignature),
            (
                b"PROXY TCP5 1.1.1.1 2.2.2.2 1 2\r\n",
                ProxyError::V1Malformed("unknown protocol family"),
            ),
            (
                b"PROXY TCP4 1.1.1.1 2.2.2.2 1 2\n",
                ProxyError::V1Malformed("line must end with CRLF"),
            ),
            (
                b"PROXY TCP4 1.1.1.1 2.2.2.2 01 2\r\n",
                ProxyError::V1Malformed("bad port"),
            ),
            (
                b"PROXY TCP4 1.1.1.1 2.2.2.2 +1 2\r\n",
                ProxyError::V1Malformed("bad port"),
            ),
            (
                b"PROXY TCP4 1.1.1.1 2.2.2.2 1 65536\r\n",
                ProxyError::V1Malformed("bad port"),
            ),
            (
                b"PROXY TCP4 ::1 2.2.2.2 1 2\r\n",
                ProxyError::V1Malformed("address does not match family"),
            ),
            (
                b"PROXY TCP4 1.1.1.1 2.2.2.2 1 2 3\r\n",
                ProxyError::V1Malformed("trailing fields"),
            ),
            (
                b"PROXY TCP4 1.1.1.1 2.2.2.2 1\r\n",
                ProxyError::V1Malformed("missing destination port"),
            ),
        ];
        for (input, want) in bad {
            assert_eq!(
                decode(input).as_ref(),
                Err(want),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        let long = [b"PROXY TCP4 ".as_slice(), &[b'1'; 120]].concat();
        assert_eq!(decode(&long), Err(ProxyError::V1TooLong));
        let mut v3 = V2_SIGNATURE.to_vec();
        v3.extend_from_slice(&[0x31, 0x11, 0, 12]);
        assert_eq!(decode(&v3), Err(ProxyError::V2BadVersionCommand(0x31)));
        let mut short = V2_SIGNATURE.to_vec();
        short.extend_from_slice(&[0x21, 0x11, 0, 4, 1, 2, 3, 4]);
        assert_eq!(
            decode(&short),
            Err(ProxyError::V2ShortAddresses { need: 12, got: 4 })
        );
        let mut huge = V2_SIGNATURE.to_vec();
        huge.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
        assert_eq!(decode(&huge), Err(ProxyError::V2TooLong(16 + 0xffff)));
    }

    fn any_addr() -> impl Strategy<Value = SocketAddr> {
        prop_oneof![
            (any::<[u8; 4]>(), any::<u16>())
                .prop_map(|(ip, p)| SocketAddr::new(IpAddr::from(ip), p)),
            (any::<[u8; 16]>(), any::<u16>())
                .prop_map(|(ip, p)| SocketAddr::new(IpAddr::from(ip), p)),
        ]
    }

    proptest! {
        #[test]
        fn round_trip(s in any_addr(), d in any_addr(), v2 in any::<bool>()) {
            let v = if v2 { Version::V2 } else { Version::V1 };
            let mut out = Vec::new();
            encode(v, s, d, &mut out);
            let (h, used) = decode(&out).expect("valid").expect("complete");
            prop_assert_eq!(used, out.len());
            let (ws, wd) = same_family(s, d);
            prop_assert_eq!(h, Header::Proxied { source: ws, destination: wd });
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn decode_v2_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut bytes = V2_SIGNATURE.to_vec();
            bytes.extend_from_slice(&tail);
            if let Ok(Some((_, used))) = decode(&bytes) {
                prop_assert!(used <= bytes.len());
            }
            fuzzing::proxy_header(&bytes);
        }

        #[test]
        fn fuzz_entry_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            fuzzing::proxy_header(&bytes);
        }

        /// Valid headers with one byte replaced and some payload after them: the fuzz
        /// entry's invariants hold near the valid grammar too.
        #[test]
        fn fuzz_entry_on_mutated_headers(
            s in any_addr(),
            d in any_addr(),
            v2 in any::<bool>(),
            at in any::<usize>(),
            byte in any::<u8>(),
            tail in proptest::collection::vec(any::<u8>(), 0..20),
        ) {
            let v = if v2 { Version::V2 } else { Version::V1 };
            let mut bytes = Vec::new();
            encode(v, s, d, &mut bytes);
            fuzzing::proxy_header(&bytes);
            let at = at % bytes.len();
            bytes[at] = byte;
            bytes.extend_from_slice(&tail);
            fuzzing::proxy_header(&bytes);
        }
    }

    /// Every input kept in `testdata/fuzz/proxy_header` (seeds and findings of the fuzz
    /// target) keeps the invariants.
    #[test]
    fn testdata_inputs() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/fuzz/proxy_header");
        let mut inputs = 0;
        for entry in std::fs::read_dir(&dir).expect("testdata folder") {
            let path = entry.expect("readable folder").path();
            if path.extension().is_some_and(|e| e == "md") {
                continue;
            }
            fuzzing::proxy_header(&std::fs::read(&path).expect("readable input"));
            inputs += 1;
        }
        assert!(inputs >= 3, "{inputs} inputs in {}", dir.display());
    }
}
