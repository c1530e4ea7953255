//! TLS termination with rustls, owned by each shard.
//!
//! - [`acceptor`]: a bind's `ServerConfig` (versions, ciphers, SNI certificate choice,
//!   client verification, ALPN), built by each shard from the validated configuration.
//! - [`ticket`]: session ticket keys, made by the control plane and sent to every shard.
//! - [`stream`]: the TLS connection the stream shell reads and writes, and the handshake.
//!
//! A client socket is a [`ClientSock`]: plain or TLS, driven the same way by the shell.

pub mod acceptor;
pub mod stream;
pub mod ticket;

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_lite::{AsyncRead, AsyncWrite};
use glommio::net::TcpStream;

pub use self::stream::{HandshakeError, TlsStream};

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

    /// Disables Nagle on the TCP socket.
    pub fn set_nodelay(&self, on: bool) -> glommio::Result<(), ()> {
        self.tcp().set_nodelay(on)
    }

    /// The local address of the TCP socket.
    pub fn local_addr(&self) -> glommio::Result<SocketAddr, ()> {
        self.tcp().local_addr()
    }

    /// What the handshake negotiated; `None` for a plain connection.
    pub fn facts(&self) -> Option<TlsFacts> {
        match self {
            ClientSock::Plain(_) => None,
            ClientSock::Tls(t) => Some(TlsFacts::of(t.connection())),
        }
    }
}

impl AsyncRead for ClientSock {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientSock::Plain(s) => Pin::new(s).poll_read(cx, buf),
            ClientSock::Tls(t) => Pin::new(&mut **t).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ClientSock {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientSock::Plain(s) => Pin::new(s).poll_write(cx, buf),
            ClientSock::Tls(t) => Pin::new(&mut **t).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientSock::Plain(s) => Pin::new(s).poll_flush(cx),
            ClientSock::Tls(t) => Pin::new(&mut **t).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientSock::Plain(s) => Pin::new(s).poll_close(cx),
            ClientSock::Tls(t) => Pin::new(&mut **t).poll_close(cx),
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
    pub fn of(conn: &rustls::ServerConnection) -> Self {
        let version = match conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_2) => 2,
            Some(rustls::ProtocolVersion::TLSv1_3) => 3,
            _ => 0,
        };
        let cipher = conn
            .negotiated_cipher_suite()
            .and_then(|s| {
                let name = format!("{:?}", s.suite());
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
