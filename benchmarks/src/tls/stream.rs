//! A rustls client connection over a tokio `TcpStream`: the load generator's TLS
//! transport. rustls is sans-io; this shell moves its records to and from the socket.
//!
//! Order of calls, as rustls wants them: `write_tls` whenever it `wants_write` (flush),
//! `read_tls` + `process_new_packets` only when its plaintext reader is empty (so its
//! 16 KiB plaintext buffer never overflows), socket bytes it did not take yet kept in
//! `tls_in` for the next turn.

use std::io::{self, Read as _, Write as _};
use std::sync::Arc;

use rustls::{ClientConfig, ClientConnection, HandshakeKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::client::TlsClient;
use crate::record::ErrorKind;

/// Socket read size: up to four full TLS records per read(2).
const TLS_IN_BYTES: usize = 64 * 1024;

/// An established TLS client connection.
pub struct TlsStream {
    tcp: TcpStream,
    tls: ClientConnection,
    /// Bytes read from the socket that rustls has not taken yet: `tls_in[in_start..in_end]`.
    tls_in: Box<[u8]>,
    in_start: usize,
    in_end: usize,
    /// Records rustls produced, on their way to the socket; empty between calls.
    tls_out: Vec<u8>,
}

impl TlsStream {
    /// Runs the handshake on `tcp` (SNI `localhost`). A refused or broken handshake is
    /// [`ErrorKind::Tls`]; a connection that ends during it, [`ErrorKind::Reset`].
    pub async fn handshake(tcp: TcpStream, config: Arc<ClientConfig>) -> Result<Self, ErrorKind> {
        let tls =
            ClientConnection::new(config, TlsClient::server_name()).map_err(|_| ErrorKind::Tls)?;
        let mut s = TlsStream {
            tcp,
            tls,
            tls_in: vec![0u8; TLS_IN_BYTES].into_boxed_slice(),
            in_start: 0,
            in_end: 0,
            tls_out: Vec::new(),
        };
        while s.tls.is_handshaking() {
            s.flush().await?;
            if s.tls.is_handshaking() && !s.fill().await? {
                return Err(ErrorKind::Reset);
            }
        }
        s.flush().await?;
        Ok(s)
    }

    /// Whether the handshake resumed an earlier session.
    pub fn resumed(&self) -> bool {
        self.tls.handshake_kind() == Some(HandshakeKind::Resumed)
    }

    /// Reads plaintext into `out`; 0 at the end of the stream (close_notify, or the peer's
    /// FIN without one: the HTTP framing above decides whether that was too early).
    pub async fn read(&mut self, out: &mut [u8]) -> Result<usize, ErrorKind> {
        loop {
            match self.tls.reader().read(out) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return Ok(0),
            }
            // Post-handshake messages (a key update) may want an answer.
            self.flush().await?;
            if !self.fill().await? {
                return Ok(0);
            }
        }
    }

    /// Encrypts and sends all of `data`.
    pub async fn write_all(&mut self, mut data: &[u8]) -> Result<(), ErrorKind> {
        while !data.is_empty() {
            let n = self
                .tls
                .writer()
                .write(data)
                .map_err(|_| ErrorKind::Reset)?;
            data = &data[n..];
            self.flush().await?;
        }
        Ok(())
    }

    /// Sends close_notify, best effort, and drops the connection.
    pub async fn close(mut self) {
        self.tls.send_close_notify();
        let _ = self.flush().await;
    }

    /// Sends every record rustls has ready.
    async fn flush(&mut self) -> Result<(), ErrorKind> {
        while self.tls.wants_write() {
            self.tls_out.clear();
            self.tls
                .write_tls(&mut self.tls_out)
                .map_err(|_| ErrorKind::Reset)?;
            self.tcp
                .write_all(&self.tls_out)
                .await
                .map_err(|_| ErrorKind::Reset)?;
        }
        Ok(())
    }

    /// Gives rustls more records, reading the socket first if none are buffered; false at
    /// the socket's end.
    async fn fill(&mut self) -> Result<bool, ErrorKind> {
        if self.in_start == self.in_end {
            let n = self
                .tcp
                .read(&mut self.tls_in)
                .await
                .map_err(|_| ErrorKind::Reset)?;
            if n == 0 {
                return Ok(false);
            }
            self.in_start = 0;
            self.in_end = n;
        }
        let mut rest = &self.tls_in[self.in_start..self.in_end];
        let before = rest.len();
        self.tls.read_tls(&mut rest).map_err(|_| ErrorKind::Tls)?;
        self.in_start += before - rest.len();
        self.tls.process_new_packets().map_err(|_| ErrorKind::Tls)?;
        Ok(true)
    }
}
