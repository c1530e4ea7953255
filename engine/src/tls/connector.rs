//! A server's rustls `ClientConfig`, built from the validated [`ServerTls`] by each shard
//! (and by the control plane for health checks), so that no TLS state is shared between
//! shards. The `Arc` is rustls's API, used by one thread; so is the session cache inside
//! (rustls locks it, uncontended: only this shard's connections resume from it).
//!
//! Verification follows HAProxy's `verify required`: the chain must lead to the `ca`
//! bundle, and the certificate must name `sni` when one is set. Without `sni` no name is
//! sent nor checked (HAProxy's behaviour without `sni` and `verifyhost`): only the chain.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use percore_conf::tls::{ServerTls, ServerVerify};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};

use super::acceptor::provider;

/// What a shard needs to open TLS connections to servers with the same settings (see
/// [`super::ShardLocal`]).
#[derive(Clone)]
pub struct Connector {
    /// The rustls configuration (session cache included).
    config: Arc<ClientConfig>,
    /// The name sent as SNI and verified; `None`: the server's address, neither sent nor
    /// checked.
    sni: Option<ServerName<'static>>,
    _shard_local: super::ShardLocal,
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("sni", &self.sni)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// Builds the connector of `tls`; an error says which setting rustls refused.
    pub fn new(tls: &ServerTls) -> Result<Self, String> {
        let sni = match &tls.sni {
            Some(name) => {
                Some(ServerName::try_from(name.clone()).map_err(|e| format!("sni {name}: {e}"))?)
            }
            None => None,
        };
        Ok(Connector {
            config: client_config(tls)?,
            sni,
            _shard_local: super::ShardLocal::default(),
        })
    }

    /// What a rustls `ClientConnection` is made from.
    pub(super) fn config(&self) -> Arc<ClientConfig> {
        self.config.clone()
    }

    /// The name a connection to a server at `ip` is opened for.
    pub fn server_name(&self, ip: IpAddr) -> ServerName<'static> {
        self.sni
            .clone()
            .unwrap_or_else(|| ServerName::IpAddress(ip.into()))
    }
}

/// The client configuration of `tls`: TLS 1.2 and 1.3, its verification, ALPN, client
/// certificate, SNI only when a name is set.
fn client_config(tls: &ServerTls) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(provider(&[]));
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?;
    let verifier: Arc<dyn ServerCertVerifier> = match tls.verify {
        ServerVerify::None => Arc::new(NoVerify(provider)),
        ServerVerify::Required => {
            let mut roots = RootCertStore::empty();
            for der in &tls.ca {
                roots
                    .add(der.clone().into())
                    .map_err(|e| format!("ca: {e}"))?;
            }
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| format!("ca: {e}"))?;
            match tls.sni {
                Some(_) => webpki,
                None => Arc::new(ChainOnly(webpki)),
            }
        }
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match &tls.cert {
        Some(cert) => builder
            .with_client_auth_cert(cert.chain_der(), cert.key.to_der())
            .map_err(|e| format!("cert {}: {e}", cert.file.display()))?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = tls.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    config.enable_sni = tls.sni.is_some();
    Ok(Arc::new(config))
}

/// `verify required` without `sni`: the chain is verified, the name is not.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // webpki checks the chain (and validity) before the name: a name error means the
        // chain passed.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `verify none`: any certificate is accepted; the handshake's signatures are still
/// checked (they prove the server holds the key of the certificate it sent).
#[derive(Debug)]
pub struct NoVerify(Arc<CryptoProvider>);

impl NoVerify {
    /// Checks handshake signatures with `provider`'s algorithms.
    pub fn new(provider: Arc<CryptoProvider>) -> Self {
        NoVerify(provider)
    }
}

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algs)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
