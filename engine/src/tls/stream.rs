//! A TLS connection over a glommio socket, in the `AsyncRead` / `AsyncWrite` shape the
//! stream shell drives, plus the handshake: server side for accepted clients, client side
//! toward servers (one type: rustls's `Connection` is either, and the rest is the same).
//!
//! Writes keep the plain socket's meaning: bytes are reported written only once their
//! records are on the socket (a plaintext write whose records could not all be sent yet is
//! answered `Pending`, and the same bytes offered again are confirmed once they went), so a
//! machine that finishes after its last write loses nothing buffered inside rustls.

use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_lite::{AsyncRead, AsyncWrite};
use glommio::net::TcpStream;
use rustls::{ClientConnection, Connection, ServerConnection};

use super::acceptor::Acceptor;
use super::connector::Connector;

/// Why a handshake failed.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// The peer closed before the handshake completed.
    #[error("connection closed during the handshake")]
    Closed,
    /// A socket error.
    #[error("socket error: {0}")]
    Io(#[from] io::Error),
    /// The peer broke the protocol, or no parameters were acceptable.
    #[error("{0}")]
    Tls(#[from] rustls::Error),
    /// Not complete within `timeout.client` (clients) or `timeout.connect` (servers).
    #[error("timeout")]
    Timeout,
}

/// A TLS connection, server side (an accepted client) or client side (toward a server).
pub struct TlsStream {
    sock: TcpStream,
    conn: Connection,
    /// Plaintext bytes taken by a `poll_write` whose records are not all on the socket yet.
    unconfirmed: usize,
    close_sent: bool,
}

/// The socket seen as blocking `Read` / `Write` for rustls: `Pending` becomes `WouldBlock`
/// (the waker is registered by the poll).
struct Io<'a, 'b> {
    sock: &'a mut TcpStream,
    cx: &'a mut Context<'b>,
}

impl Read for Io<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match Pin::new(&mut *self.sock).poll_read(self.cx, buf) {
            Poll::Ready(r) => r,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl Write for Io<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match Pin::new(&mut *self.sock).poll_write(self.cx, buf) {
            Poll::Ready(r) => r,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `Ready(r)` unless `r` is `WouldBlock`.
fn ready<T>(r: io::Result<T>) -> Poll<io::Result<T>> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
        other => Poll::Ready(other),
    }
}

impl TlsStream {
    /// Runs the server handshake on an accepted socket whose first bytes `preread` were
    /// already read (after a PROXY header). No time bound: the caller races it with
    /// `timeout.client`. A protocol failure gives the socket back, so that its alert can be delivered (see
    /// [`linger`]).
    pub async fn accept(
        sock: TcpStream,
        acceptor: &Acceptor,
        preread: &[u8],
    ) -> Result<TlsStream, (HandshakeError, Option<TcpStream>)> {
        let mut conn = ServerConnection::new(acceptor.config()).map_err(|e| (e.into(), None))?;
        let mut rest = preread;
        while !rest.is_empty() {
            let fed = conn.read_tls(&mut rest).map_err(HandshakeError::from);
            if let Err(e) = fed.and_then(|_| Ok(conn.process_new_packets()?)) {
                return Err((e, Some(sock)));
            }
        }
        Self::handshake(sock, conn.into()).await
    }

    /// Runs the client handshake toward a server at `ip` on a connected socket (its name
    /// sent as SNI when the configuration has one, and verified). No time bound: the
    /// caller races it with `timeout.connect`.
    pub async fn connect(
        sock: TcpStream,
        connector: &Connector,
        ip: std::net::IpAddr,
    ) -> Result<TlsStream, HandshakeError> {
        let conn = ClientConnection::new(connector.config(), connector.server_name(ip))?;
        Self::handshake(sock, conn.into()).await.map_err(|(e, _)| e)
    }

    /// Drives a handshake; a protocol failure gives the socket back (see [`linger`]).
    async fn handshake(
        sock: TcpStream,
        conn: Connection,
    ) -> Result<TlsStream, (HandshakeError, Option<TcpStream>)> {
        let mut tls = TlsStream {
            sock,
            conn,
            unconfirmed: 0,
            close_sent: false,
        };
        match std::future::poll_fn(|cx| tls.poll_handshake(cx)).await {
            Ok(()) => Ok(tls),
            Err(e @ HandshakeError::Tls(_)) => Err((e, Some(tls.sock))),
            Err(e) => Err((e, None)),
        }
    }

    fn io<'a, 'b>(sock: &'a mut TcpStream, cx: &'a mut Context<'b>) -> Io<'a, 'b> {
        Io { sock, cx }
    }

    fn poll_handshake(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), HandshakeError>> {
        loop {
            match self.poll_flush_tls(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                Poll::Pending => return Poll::Pending,
            }
            if !self.conn.is_handshaking() {
                return Poll::Ready(Ok(()));
            }
            match ready(self.conn.read_tls(&mut Self::io(&mut self.sock, cx))) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(HandshakeError::Closed)),
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                Poll::Pending => return Poll::Pending,
            }
            if let Err(e) = self.conn.process_new_packets() {
                // The alert rustls queued: one best-effort attempt.
                let _ = self.poll_flush_tls(cx);
                return Poll::Ready(Err(e.into()));
            }
        }
    }

    /// Writes queued records until none is left (`Ready(Ok)`) or the socket is full.
    fn poll_flush_tls(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.conn.wants_write() {
            match ready(self.conn.write_tls(&mut Self::io(&mut self.sock, cx))) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// The connection's negotiated facts.
    pub fn connection(&self) -> &rustls::CommonState {
        &self.conn
    }

    /// Whether an idle connection may be reused: no record is pending inside rustls (no
    /// unread plaintext, no close_notify). Bytes still on the socket are the pool's check.
    pub fn is_quiet(&mut self) -> bool {
        self.conn
            .process_new_packets()
            .is_ok_and(|state| state.plaintext_bytes_to_read() == 0 && !state.peer_has_closed())
    }

    /// The SNI an accepted client sent.
    pub fn server_name(&self) -> Option<&str> {
        match &self.conn {
            Connection::Server(s) => s.server_name(),
            Connection::Client(_) => None,
        }
    }

    /// The socket under the TLS layer.
    pub fn socket(&self) -> &TcpStream {
        &self.sock
    }
}

/// How long a refused handshake's socket is drained after its alert.
const LINGER: std::time::Duration = std::time::Duration::from_millis(500);

/// Most bytes drained from it.
const LINGER_BYTES_MAX: usize = 64 * 1024;

/// Closes a socket whose handshake was refused so that the client reads the alert: a TLS
/// 1.3 client keeps sending (its ChangeCipherSpec, its Finished) after the server's hello,
/// and closing with those bytes unread would answer RST, which destroys the alert before
/// the client reads it. Half-closes, then drains until the client closes, for a bounded
/// time and byte count.
pub async fn linger(mut sock: TcpStream) {
    let _ = sock.shutdown(std::net::Shutdown::Write).await;
    let drain = async {
        let mut buf = [0u8; 4096];
        let mut total = 0;
        while total < LINGER_BYTES_MAX {
            match futures_lite::AsyncReadExt::read(&mut sock, &mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    let timer = glommio::timer::sleep(LINGER);
    futures_lite::future::or(drain, timer).await;
}

impl AsyncRead for TlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            match this.conn.reader().read(buf) {
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // A TCP end without close_notify: an end all the same (clients often
                // just close), as HAProxy reads it.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Poll::Ready(Ok(0)),
                Err(e) => return Poll::Ready(Err(e)),
            }
            // Records rustls owes the peer (alerts, key updates) go before more is read.
            if let Poll::Ready(Err(e)) = this.poll_flush_tls(cx) {
                return Poll::Ready(Err(e));
            }
            match ready(this.conn.read_tls(&mut Self::io(&mut this.sock, cx))) {
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
            if let Err(e) = this.conn.process_new_packets() {
                let _ = this.poll_flush_tls(cx);
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e)));
            }
        }
    }
}

impl AsyncWrite for TlsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.unconfirmed == 0 {
            match this.poll_flush_tls(cx) {
                Poll::Ready(Ok(())) => {}
                other => return other.map(|r| r.map(|()| 0)),
            }
            this.unconfirmed = this.conn.writer().write(buf)?;
        }
        match this.poll_flush_tls(cx) {
            Poll::Ready(Ok(())) => {
                let n = std::mem::take(&mut this.unconfirmed).min(buf.len());
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_tls(cx)
    }

    /// Sends close_notify, then half-closes the socket.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.close_sent {
            this.conn.send_close_notify();
            this.close_sent = true;
        }
        match this.poll_flush_tls(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.sock).poll_close(cx),
            other => other,
        }
    }
}
