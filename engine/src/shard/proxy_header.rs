//! `accept_proxy`: the stage before a stream's machine, which reads the PROXY protocol
//! header (v1 or v2, `percore_protocols::proxy::decode`) a load balancer in front of percore
//! opens every connection with. The announced source then stands for the client everywhere:
//! stream table (`show sess`), logs, `src` rules, `X-Forwarded-For`, `balance: source` and
//! `send_proxy` onwards, because the machine is built with it.
//!
//! Strict, as HAProxy's `accept-proxy`: a connection that sends anything else, sends a
//! malformed or oversized header, closes, or is silent for `timeout.client` is refused —
//! counted in the frontend's request errors (`ereq`), logged with HAProxy's embryonic
//! session line, closed. Bytes read past the header belong to the stream and are handed to
//! its machine first ([`Preread`]).

use std::net::SocketAddr;

use futures_lite::AsyncReadExt;
use glommio::net::TcpStream;
use glommio::timer::Timer;
use percore_protocols::proxy::{self, Header, ProxyError};

use super::Shard;
use crate::logging::Severity;

/// Most bytes read while waiting for a header: the largest v2 header percore takes. Every
/// stream in this stage holds one such buffer, freed once the header is in.
const HEADER_BYTES_MAX: usize = proxy::V2_MAX_BYTES;

/// The connection's endpoints once its header was read.
#[derive(Debug)]
pub struct Announced {
    /// The client: the header's source, or the socket's peer for `UNKNOWN` / `LOCAL`.
    pub client: SocketAddr,
    /// The address the client connected to: the header's destination, or the socket's.
    pub local: SocketAddr,
    /// Client bytes read after the header, if any.
    pub preread: Option<Preread>,
}

/// Client bytes read ahead of the machine; the shell serves reads from them first.
#[derive(Debug)]
pub struct Preread {
    bytes: Box<[u8]>,
    at: usize,
}

impl Preread {
    /// Moves as many bytes as fit into `space`; returns how many.
    pub fn copy_into(&mut self, space: &mut [u8]) -> usize {
        let n = space.len().min(self.bytes.len() - self.at);
        space[..n].copy_from_slice(&self.bytes[self.at..self.at + n]);
        self.at += n;
        n
    }

    /// The bytes not handed over yet.
    pub fn rest(&self) -> &[u8] {
        &self.bytes[self.at..]
    }

    /// Whether every byte was handed over.
    pub fn is_empty(&self) -> bool {
        self.at == self.bytes.len()
    }
}

/// Why a connection was refused, worded as HAProxy's embryonic session errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    NotHeader,
    Invalid,
    Truncated,
    Closed,
    Error,
    Timeout,
}

impl Refusal {
    fn message(self) -> &'static str {
        match self {
            Refusal::NotHeader => {
                "Received something which does not look like a PROXY protocol header"
            }
            Refusal::Invalid => "Received an invalid PROXY protocol header",
            Refusal::Truncated => "Truncated PROXY protocol header received",
            Refusal::Closed => "Connection closed while waiting for PROXY protocol header",
            Refusal::Error => "Connection error while waiting for PROXY protocol header",
            Refusal::Timeout => "Timeout while waiting for PROXY protocol header",
        }
    }
}

impl Shard {
    /// Reads the PROXY header of a connection of `frontend` (its `listener`-th bind, from 1)
    /// from `peer` to `local`, for at most `timeout.client`. `None` when it was refused
    /// (counted and logged): the caller drops the connection.
    pub async fn read_proxy_header(
        &self,
        frontend: usize,
        listener: usize,
        client: &mut TcpStream,
        peer: SocketAddr,
        local: SocketAddr,
    ) -> Option<Announced> {
        let timeout = self.current().config.frontends[frontend].timeout.client;
        let read = read_header(client);
        let timer = async {
            Timer::new(timeout).await;
            Err(Refusal::Timeout)
        };
        match futures_lite::future::or(read, timer).await {
            Ok((header, rest)) => {
                let (client, local) = match header {
                    Header::Proxied {
                        source,
                        destination,
                    } => (source, destination),
                    Header::Unknown => (peer, local),
                };
                let preread = (!rest.is_empty()).then(|| Preread {
                    bytes: rest.into_boxed_slice(),
                    at: 0,
                });
                Some(Announced {
                    client,
                    local,
                    preread,
                })
            }
            Err(refusal) => {
                self.refuse_proxy_header(frontend, listener, peer, refusal);
                None
            }
        }
    }

    /// Counts a refused connection in the frontend's request errors and logs HAProxy's
    /// line for it: `ip:port [date] frontend/listener: message`.
    fn refuse_proxy_header(
        &self,
        frontend: usize,
        listener: usize,
        peer: SocketAddr,
        refusal: Refusal,
    ) {
        self.counters.borrow_mut().frontends[frontend].request_errors += 1;
        let gen = self.current();
        let name = &gen.config.frontends[frontend].name;
        let line = format!(
            "{}:{} [{}] {name}/{listener}: {}",
            peer.ip(),
            peer.port(),
            crate::logging::haproxy_date(std::time::SystemTime::now()),
            refusal.message()
        );
        self.warn_proxy_header(&line);
        if let Some(log) = self.access_log.borrow_mut().as_mut() {
            if log.admit(std::time::Instant::now()) {
                log.push(Severity::Info, &line);
            }
        }
    }
}

/// Reads until `decode` has a whole header; returns it and the bytes read after it.
async fn read_header(client: &mut TcpStream) -> Result<(Header, Vec<u8>), Refusal> {
    let mut buf = vec![0u8; HEADER_BYTES_MAX];
    let mut filled = 0;
    loop {
        let n = match client.read(&mut buf[filled..]).await {
            Ok(0) if filled == 0 => return Err(Refusal::Closed),
            Ok(0) => return Err(Refusal::Truncated),
            Ok(n) => n,
            Err(_) => return Err(Refusal::Error),
        };
        filled += n;
        match proxy::decode(&buf[..filled]) {
            Ok(Some((header, used))) => {
                buf.truncate(filled);
                buf.drain(..used);
                return Ok((header, buf));
            }
            Ok(None) if filled == buf.len() => return Err(Refusal::Invalid),
            Ok(None) => {}
            Err(ProxyError::BadSignature) => return Err(Refusal::NotHeader),
            Err(_) => return Err(Refusal::Invalid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preread_hands_over_every_byte_once() {
        let mut p = Preread {
            bytes: b"GET / HTTP/1.1\r\n".to_vec().into_boxed_slice(),
            at: 0,
        };
        let mut space = [0u8; 10];
        assert_eq!(p.copy_into(&mut space), 10);
        assert_eq!(&space, b"GET / HTTP");
        assert!(!p.is_empty());
        assert_eq!(p.copy_into(&mut space), 6);
        assert_eq!(&space[..6], b"/1.1\r\n");
        assert!(p.is_empty());
        assert_eq!(p.copy_into(&mut space), 0);
    }
}
