//! TLS for the TLS scenarios: the bench's one certificate and the rustls client that
//! checks it. The proxies terminate TLS; origins stay plain TCP.
//!
//! - [`cert`]: one self-signed ECDSA P-256 certificate per run, written as the files each
//!   proxy reads.
//! - [`client`]: client settings (version, resumption) and a verifier that accepts exactly
//!   the bench's certificate.
//! - [`stream`]: a rustls client connection driven over a tokio `TcpStream`.

pub mod cert;
pub mod client;
pub mod stream;

pub use cert::{BenchCert, TlsFiles};
pub use client::{TlsClient, TlsVersion};
pub use stream::TlsStream;
