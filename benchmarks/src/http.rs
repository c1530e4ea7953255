//! Just enough HTTP/1.1 for a load generator: the request heads it sends and an incremental
//! response parser that frames bodies by Content-Length, chunked encoding or connection
//! close, counting body bytes without copying them.

/// Longest response head accepted.
pub const HEAD_BYTES_MAX: usize = 16 * 1024;

/// Longest chunk-size or trailer line accepted.
const LINE_BYTES_MAX: usize = 1024;

/// Headers parsed per message; the origins send three or four.
const HEADERS_MAX: usize = 32;

/// A GET request head, keep-alive or asking the server to close.
pub fn get_request(keep_alive: bool) -> &'static [u8] {
    if keep_alive {
        b"GET / HTTP/1.1\r\nHost: percore-bench\r\nUser-Agent: percore-bench\r\n\r\n"
    } else {
        b"GET / HTTP/1.1\r\nHost: percore-bench\r\nUser-Agent: percore-bench\r\nConnection: close\r\n\r\n"
    }
}

/// A complete response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// The server will close the connection after it (`Connection: close`, HTTP/1.0, or a
    /// body framed by the close).
    pub close: bool,
    /// Body bytes received.
    pub body_bytes: u64,
}

/// A response that breaks HTTP/1.1 framing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadResponse(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    Fixed { remaining: u64 },
    ChunkSize,
    ChunkData { remaining: u64 },
    ChunkDataEnd,
    Trailer,
    UntilClose,
}

/// Parses one response at a time from bytes fed in order.
#[derive(Debug, Clone)]
pub struct ResponseParser {
    state: State,
    status: u16,
    close: bool,
    body_bytes: u64,
}

impl Default for ResponseParser {
    fn default() -> Self {
        ResponseParser::new()
    }
}

impl ResponseParser {
    /// A parser waiting for a response head.
    pub fn new() -> Self {
        ResponseParser {
            state: State::Head,
            status: 0,
            close: false,
            body_bytes: 0,
        }
    }

    /// Consumes a prefix of `buf`. Returns how many bytes were used and the response once it
    /// is complete; call again with the rest. A head is only consumed whole, so when nothing
    /// is used the caller must read more bytes after the unconsumed ones.
    pub fn feed(&mut self, buf: &[u8]) -> Result<(usize, Option<Response>), BadResponse> {
        let mut used = 0;
        loop {
            let rest = &buf[used..];
            match self.state {
                State::Head => {
                    let Some(n) = self.head(rest)? else {
                        return Ok((used, None));
                    };
                    used += n;
                }
                State::Fixed { remaining } => {
                    let n = remaining.min(rest.len() as u64);
                    self.body_bytes += n;
                    used += n as usize;
                    if n < remaining {
                        self.state = State::Fixed {
                            remaining: remaining - n,
                        };
                        return Ok((used, None));
                    }
                    return Ok((used, Some(self.finish())));
                }
                State::ChunkSize => {
                    let Some((line, n)) = line(rest)? else {
                        return Ok((used, None));
                    };
                    let hex = line.split(|&b| b == b';').next().unwrap_or(line);
                    let size = std::str::from_utf8(hex)
                        .ok()
                        .and_then(|s| u64::from_str_radix(s.trim(), 16).ok())
                        .ok_or_else(|| BadResponse("bad chunk size".into()))?;
                    used += n;
                    self.state = if size == 0 {
                        State::Trailer
                    } else {
                        State::ChunkData { remaining: size }
                    };
                }
                State::ChunkData { remaining } => {
                    let n = remaining.min(rest.len() as u64);
                    self.body_bytes += n;
                    used += n as usize;
                    if n < remaining {
                        self.state = State::ChunkData {
                            remaining: remaining - n,
                        };
                        return Ok((used, None));
                    }
                    self.state = State::ChunkDataEnd;
                }
                State::ChunkDataEnd => {
                    let Some((line, n)) = line(rest)? else {
                        return Ok((used, None));
                    };
                    if !line.is_empty() {
                        return Err(BadResponse("chunk data longer than its size".into()));
                    }
                    used += n;
                    self.state = State::ChunkSize;
                }
                State::Trailer => {
                    let Some((line, n)) = line(rest)? else {
                        return Ok((used, None));
                    };
                    used += n;
                    if line.is_empty() {
                        return Ok((used, Some(self.finish())));
                    }
                }
                State::UntilClose => {
                    self.body_bytes += rest.len() as u64;
                    return Ok((buf.len(), None));
                }
            }
        }
    }

    /// The connection reached EOF: completes a body framed by the close, refuses others.
    pub fn eof(&mut self) -> Option<Response> {
        match self.state {
            State::UntilClose => Some(self.finish()),
            _ => None,
        }
    }

    fn finish(&mut self) -> Response {
        let r = Response {
            status: self.status,
            close: self.close,
            body_bytes: self.body_bytes,
        };
        *self = ResponseParser::new();
        r
    }

    /// Parses a complete head at the start of `buf`; `None` if incomplete.
    fn head(&mut self, buf: &[u8]) -> Result<Option<usize>, BadResponse> {
        let mut headers = [httparse::EMPTY_HEADER; HEADERS_MAX];
        let mut resp = httparse::Response::new(&mut headers);
        let n = match resp.parse(buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) if buf.len() >= HEAD_BYTES_MAX => {
                return Err(BadResponse("response head too long".into()))
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(BadResponse(format!("bad response head: {e}"))),
        };
        let status = resp.code.unwrap_or(0);
        let mut close = resp.version == Some(0);
        let mut length = None;
        let mut chunked = false;
        for h in resp.headers.iter() {
            if h.name.eq_ignore_ascii_case("content-length") {
                let v = std::str::from_utf8(h.value)
                    .ok()
                    .and_then(|s| s.trim().parse::<u64>().ok())
                    .ok_or_else(|| BadResponse("bad content-length".into()))?;
                length = Some(v);
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = contains_token(h.value, b"chunked");
            } else if h.name.eq_ignore_ascii_case("connection") {
                if contains_token(h.value, b"close") {
                    close = true;
                } else if contains_token(h.value, b"keep-alive") {
                    close = false;
                }
            }
        }
        self.status = status;
        self.close = close;
        self.body_bytes = 0;
        let bodyless = status == 204 || status == 304 || (100..200).contains(&status);
        self.state = if bodyless {
            State::Fixed { remaining: 0 }
        } else if chunked {
            State::ChunkSize
        } else if let Some(len) = length {
            State::Fixed { remaining: len }
        } else {
            self.close = true;
            State::UntilClose
        };
        Ok(Some(n))
    }
}

/// A CRLF-terminated line at the start of `buf` (without the CRLF) and its length with it.
fn line(buf: &[u8]) -> Result<Option<(&[u8], usize)>, BadResponse> {
    match buf.windows(2).position(|w| w == b"\r\n") {
        Some(i) => Ok(Some((&buf[..i], i + 2))),
        None if buf.len() > LINE_BYTES_MAX => Err(BadResponse("chunk line too long".into())),
        None => Ok(None),
    }
}

/// Whether a comma-separated header value contains `token` (ASCII case-insensitive).
pub fn contains_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `wire` split at `cut`, as two reads into one buffer, and collects responses.
    fn parse_split(wire: &[u8], cut: usize) -> Vec<Response> {
        let mut p = ResponseParser::new();
        let mut out = Vec::new();
        let mut pending: Vec<u8> = Vec::new();
        for part in [&wire[..cut], &wire[cut..]] {
            pending.extend_from_slice(part);
            loop {
                let (n, r) = p.feed(&pending).expect("valid");
                pending.drain(..n);
                match r {
                    Some(r) => out.push(r),
                    None => break,
                }
            }
        }
        out
    }

    #[test]
    fn content_length_pipelined_any_split() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\ncontent-length: 0\r\nConnection: close\r\n\r\n";
        for cut in 0..=wire.len() {
            let got = parse_split(wire, cut);
            assert_eq!(
                got,
                vec![
                    Response {
                        status: 200,
                        close: false,
                        body_bytes: 5
                    },
                    Response {
                        status: 200,
                        close: true,
                        body_bytes: 0
                    },
                ],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn chunked_any_split() {
        let wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\nX-T: 1\r\n\r\n";
        for cut in 0..=wire.len() {
            let got = parse_split(wire, cut);
            assert_eq!(
                got,
                vec![Response {
                    status: 200,
                    close: false,
                    body_bytes: 8
                }],
                "cut {cut}"
            );
        }
    }

    #[test]
    fn until_close() {
        let mut p = ResponseParser::new();
        let (n, r) = p.feed(b"HTTP/1.0 200 OK\r\n\r\nabc").expect("valid");
        assert_eq!((n, r), (22, None));
        assert_eq!(
            p.eof(),
            Some(Response {
                status: 200,
                close: true,
                body_bytes: 3
            })
        );
    }

    #[test]
    fn refuses_garbage() {
        assert!(ResponseParser::new().feed(b"hello world\r\n\r\n").is_err());
        assert!(ResponseParser::new()
            .feed(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n")
            .is_err());
        assert_eq!(ResponseParser::new().eof(), None);
    }
}
