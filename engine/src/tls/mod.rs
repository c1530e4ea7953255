//! TLS with rustls, owned by each shard: termination on binds, origination toward servers.
//!
//! - [`acceptor`]: a bind's `ServerConfig` (versions, ciphers, SNI certificate choice,
//!   client verification, ALPN), built by each shard from the validated configuration.
//! - [`connector`]: a server's `ClientConfig` (CA, SNI, ALPN, client certificate), built by
//!   each shard (and by the health checks) from the validated configuration.
//! - [`ticket`]: session ticket keys, made by the control plane and sent to every shard.
//! - [`stream`]: the TLS connection the stream shell reads and writes, and both handshakes.
//!
//! A client socket is a [`ClientSock`], a server one a [`ServerSock`]: plain or TLS, driven
//! the same way by the shell.

pub mod acceptor;
pub mod connector;
pub mod stream;
pub mod ticket;

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_lite::{AsyncRead, AsyncWrite};
use glommio::net::TcpStream;

pub use self::stream::{HandshakeError, TlsStream};

/// Makes a handle `!Send`: rustls takes its configurations as `Arc`s, and the handles
/// holding them ([`acceptor::Acceptor`], [`connector::Connector`], [`ticket::Tickets`])
/// carry this marker so that they cannot leave the thread that built them. Each shard
/// (and the control plane, for health checks) owns its own; the reference counts inside
/// are only ever touched by one thread, and no TLS state is shared between shards.
pub(crate) type ShardLocal = std::marker::PhantomData<std::rc::Rc<()>>;

/// The accepted client connection of a stream.
pub enum ClientSock {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP; boxed, as it is ~1 KiB and most streams are plain.
    Tls(Box<TlsStream>),
}

impl ClientSock {
    /// The TCP socket under any TLS layer.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            ClientSock::Plain(s) => s,
            ClientSock::Tls(t) => t.socket(),
        }
    }

    /// The local address of the TCP socket.
    pub fn local_addr(&self) -> glommio::Result<SocketAddr, ()> {
        self.tcp().local_addr()
    }

    /// The SNI and ALPN protocol of the handshake; `None` for a plain connection.
    pub fn names(&self) -> Option<crate::stream::http::TlsNames> {
        match self {
            ClientSock::Plain(_) => None,
            ClientSock::Tls(t) => Some(crate::stream::http::TlsNames {
                sni: t.server_name().map(|s| s.to_ascii_lowercase().into()),
                alpn: t
                    .connection()
                    .alpn_protocol()
                    .map(|a| String::from_utf8_lossy(a).into()),
            }),
        }
    }

    /// What the handshake negotiated, as logs see it; `None` for a plain connection.
    pub fn facts(&self) -> Option<TlsFacts> {
        match self {
            ClientSock::Plain(_) => None,
            ClientSock::Tls(t) => Some(TlsFacts::of(t.connection())),
        }
    }
}

/// `AsyncRead` / `AsyncWrite` for a socket enum of `Plain(TcpStream)` and
/// `Tls(Box<TlsStream>)`, passing each call to the variant.
macro_rules! plain_or_tls_io {
    ($sock:ident) => {
        impl AsyncRead for $sock {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                match self.get_mut() {
                    $sock::Plain(s) => Pin::new(s).poll_read(cx, buf),
                    $sock::Tls(t) => Pin::new(&mut **t).poll_read(cx, buf),
                }
            }
        }

        impl AsyncWrite for $sock {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                match self.get_mut() {
                    $sock::Plain(s) => Pin::new(s).poll_write(cx, buf),
                    $sock::Tls(t) => Pin::new(&mut **t).poll_write(cx, buf),
                }
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                match self.get_mut() {
                    $sock::Plain(s) => Pin::new(s).poll_flush(cx),
                    $sock::Tls(t) => Pin::new(&mut **t).poll_flush(cx),
                }
            }

            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                match self.get_mut() {
                    $sock::Plain(s) => Pin::new(s).poll_close(cx),
                    $sock::Tls(t) => Pin::new(&mut **t).poll_close(cx),
                }
            }
        }
    };
}

plain_or_tls_io!(ClientSock);
plain_or_tls_io!(ServerSock);

/// The connection of a stream to a server.
pub enum ServerSock {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP (`tls` on the server); boxed, as it is ~1 KiB and pooled idle.
    Tls(Box<TlsStream>),
}

impl ServerSock {
    /// The TCP socket under any TLS layer.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            ServerSock::Plain(s) => s,
            ServerSock::Tls(t) => t.socket(),
        }
    }

    /// Whether the TLS layer holds nothing unread (always true for plain TCP): an idle
    /// connection that received a record is not reusable.
    pub fn is_quiet(&mut self) -> bool {
        match self {
            ServerSock::Plain(_) => true,
            ServerSock::Tls(t) => t.is_quiet(),
        }
    }
}

/// What a TLS handshake negotiated, as logs and rules see it. Two bytes: kept in every TLS
/// stream's table entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TlsFacts {
    /// 2 = TLS 1.2, 3 = TLS 1.3, 0 = unknown.
    pub version: u8,
    /// Index into [`percore_conf::tls::CIPHERS`] (`u8::MAX`: unknown).
    pub cipher: u8,
    /// The session was resumed.
    pub resumed: bool,
}

impl TlsFacts {
    /// The facts of a connection whose handshake completed.
    pub fn of(conn: &rustls::CommonState) -> Self {
        let version = match conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_2) => 2,
            Some(rustls::ProtocolVersion::TLSv1_3) => 3,
            _ => 0,
        };
        let cipher = conn
            .negotiated_cipher_suite()
            .and_then(|s| {
                let name = s.suite().as_str()?;
                percore_conf::tls::CIPHERS
                    .iter()
                    .position(|(iana, _)| *iana == name)
            })
            .map_or(u8::MAX, |i| i as u8);
        let resumed = conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
        TlsFacts {
            version,
            cipher,
            resumed,
        }
    }

    /// HAProxy's `%sslv`: `TLSv1.2` / `TLSv1.3`.
    pub fn version_name(&self) -> &'static str {
        match self.version {
            2 => "TLSv1.2",
            3 => "TLSv1.3",
            _ => "-",
        }
    }

    /// HAProxy's `%sslc`: the OpenSSL name of the cipher suite.
    pub fn cipher_name(&self) -> &'static str {
        percore_conf::tls::CIPHERS
            .get(usize::from(self.cipher))
            .map_or("-", |(_, openssl)| openssl)
    }
}
