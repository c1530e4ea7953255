//! The client side's TLS settings, and the verifier that accepts the bench's certificate.
//!
//! Every load connection builds its own [`ClientConfig`] from one [`TlsClient`]: its
//! session cache is then its own, as a browser's would be for one site, and concurrent
//! connections do not take each other's single-use TLS 1.3 tickets.
//!
//! Verification compares the server's end-entity certificate with the bench's own, byte
//! for byte, instead of building a chain: the same answer for this one certificate, at a
//! fraction of the client's CPU. The handshake signatures are still verified with the
//! provider's algorithms, so the server must hold the certificate's key.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::crypto::{aws_lc_rs, CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

/// The SNI every client sends, and the name the certificate is for.
pub const SERVER_NAME: &str = "localhost";

/// Sessions a connection's cache keeps: it talks to one server, and each resumption takes
/// one ticket while the server hands out one or two.
const SESSIONS_MAX: usize = 4;

/// The protocol version the clients offer (the only one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    /// TLS 1.2 (resumption by ticket or session id).
    Tls12,
    /// TLS 1.3 (resumption by PSK ticket, still with an X25519 exchange).
    Tls13,
}

impl TlsVersion {
    /// Parses `1.2` or `1.3`.
    pub fn parse(text: &str) -> Result<TlsVersion, String> {
        match text {
            "1.2" => Ok(TlsVersion::Tls12),
            "1.3" => Ok(TlsVersion::Tls13),
            other => Err(format!("TLS version {other:?}: expected 1.2 or 1.3")),
        }
    }

    /// `1.2` or `1.3`.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Tls12 => "1.2",
            TlsVersion::Tls13 => "1.3",
        }
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TLS {}", self.as_str())
    }
}

/// What a load connection's TLS looks like.
#[derive(Debug, Clone)]
pub struct TlsClient {
    /// The only version offered.
    pub version: TlsVersion,
    /// Keep session tickets and offer them on the next connection.
    pub resume: bool,
    /// ALPN protocols offered (`http/1.1` in HTTP mode, none in TCP mode).
    pub alpn: Vec<Vec<u8>>,
    /// The one certificate accepted.
    pub server_cert: CertificateDer<'static>,
}

impl TlsClient {
    /// A fresh configuration with an empty session cache. Key exchange is X25519, so that
    /// every proxy does the same work (rustls would also offer a post-quantum hybrid that
    /// OpenSSL 3.0 lacks): TLS 1.3 sends a key share for the first group only. P-256 is
    /// listed second because an OpenSSL server refuses TLS 1.2 with an ECDSA certificate
    /// whose curve the client does not list (HandshakeFailure); X25519 still wins there.
    pub fn config(&self) -> Arc<ClientConfig> {
        let provider = CryptoProvider {
            kx_groups: vec![aws_lc_rs::kx_group::X25519, aws_lc_rs::kx_group::SECP256R1],
            ..aws_lc_rs::default_provider()
        };
        let verifier = ExactCertVerifier {
            der: self.server_cert.clone(),
            algorithms: provider.signature_verification_algorithms,
        };
        let versions: &[&rustls::SupportedProtocolVersion] = match self.version {
            TlsVersion::Tls12 => &[&rustls::version::TLS12],
            TlsVersion::Tls13 => &[&rustls::version::TLS13],
        };
        let mut config = ClientConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(versions)
            .expect("the aws-lc-rs provider supports TLS 1.2 and 1.3")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        config.resumption = if self.resume {
            Resumption::in_memory_sessions(SESSIONS_MAX)
        } else {
            Resumption::disabled()
        };
        config.alpn_protocols = self.alpn.clone();
        Arc::new(config)
    }

    /// The name the clients connect to.
    pub fn server_name() -> ServerName<'static> {
        ServerName::try_from(SERVER_NAME).expect("a valid DNS name")
    }
}

/// Accepts exactly one certificate: the bench's own.
#[derive(Debug)]
struct ExactCertVerifier {
    der: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for ExactCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.der.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        assert_eq!(TlsVersion::parse("1.3"), Ok(TlsVersion::Tls13));
        assert_eq!(TlsVersion::parse("1.2"), Ok(TlsVersion::Tls12));
        assert!(TlsVersion::parse("1.1").is_err());
        assert_eq!(TlsVersion::Tls12.to_string(), "TLS 1.2");
    }

    #[test]
    fn only_the_bench_certificate_is_accepted() {
        let mine = CertificateDer::from(vec![1u8, 2, 3]);
        let v = ExactCertVerifier {
            der: mine.clone(),
            algorithms: aws_lc_rs::default_provider().signature_verification_algorithms,
        };
        let name = TlsClient::server_name();
        let now = UnixTime::now();
        assert!(v.verify_server_cert(&mine, &[], &name, &[], now).is_ok());
        let other = CertificateDer::from(vec![1u8, 2, 4]);
        assert!(v.verify_server_cert(&other, &[], &name, &[], now).is_err());
    }
}
