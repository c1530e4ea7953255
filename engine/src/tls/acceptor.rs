//! A bind's rustls `ServerConfig`, built by each shard from the validated [`BindTls`] (so no
//! TLS state is shared between shards; the `Arc` is rustls's API, used by one thread).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use percore_conf::tls::{BindTls, ClientVerify, TlsVersion};
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ProducesTickets, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};

use super::ticket::Tickets;

/// The crypto provider: aws-lc-rs measured 13 % cheaper than ring per full TLS 1.3
/// handshake with an ECDSA P-256 certificate (91 vs 104 µs of server CPU) and 30 % per
/// TLS 1.2 one (63 vs 90 µs); see issue 16's note.
pub fn provider(ciphers: &[&str]) -> CryptoProvider {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    if !ciphers.is_empty() {
        let all = std::mem::take(&mut provider.cipher_suites);
        provider.cipher_suites = ciphers
            .iter()
            .filter_map(|name| {
                all.iter()
                    .find(|s| s.suite().as_str() == Some(*name))
                    .copied()
            })
            .collect();
    }
    provider
}

/// One TLS bind's configuration on one shard (see [`super::ShardLocal`]).
#[derive(Clone)]
pub struct Acceptor {
    config: Arc<ServerConfig>,
    _shard_local: super::ShardLocal,
}

impl Acceptor {
    /// The acceptor of `tls` with this shard's `tickets`; an error says what rustls refused.
    pub fn new(tls: &BindTls, tickets: &Tickets) -> Result<Self, String> {
        Ok(Acceptor {
            config: server_config(tls, tickets.ticketer())?,
            _shard_local: super::ShardLocal::default(),
        })
    }

    /// The same acceptor with new ticket keys (a rotation).
    pub fn with_tickets(&self, tickets: &Tickets) -> Self {
        let mut next = (*self.config).clone();
        next.ticketer = tickets.ticketer();
        Acceptor {
            config: Arc::new(next),
            _shard_local: super::ShardLocal::default(),
        }
    }

    /// What a rustls `ServerConnection` is made from.
    pub(super) fn config(&self) -> Arc<ServerConfig> {
        self.config.clone()
    }
}

/// Builds the server configuration of one TLS bind with this shard's ticketer.
fn server_config(
    tls: &BindTls,
    ticketer: Arc<dyn ProducesTickets>,
) -> Result<Arc<ServerConfig>, String> {
    let provider = Arc::new(provider(&tls.ciphers));
    let versions: Vec<&'static SupportedProtocolVersion> = [
        (TlsVersion::V1_2, &rustls::version::TLS12),
        (TlsVersion::V1_3, &rustls::version::TLS13),
    ]
    .into_iter()
    .filter(|(v, _)| *v >= tls.min_version && *v <= tls.max_version)
    .map(|(_, s)| s)
    .collect();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("TLS versions: {e}"))?;
    let builder = match tls.verify {
        ClientVerify::None => builder.with_no_client_auth(),
        verify => {
            let mut roots = RootCertStore::empty();
            for der in &tls.client_ca {
                roots
                    .add(der.clone().into())
                    .map_err(|e| format!("client_ca: {e}"))?;
            }
            let mut v =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
            if verify == ClientVerify::Optional {
                v = v.allow_unauthenticated();
            }
            builder.with_client_cert_verifier(v.build().map_err(|e| format!("client_ca: {e}"))?)
        }
    };
    let resolver = SniResolver::new(tls, &provider)?;
    let mut config = builder.with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = tls.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    // HAProxy's default: the server's cipher order wins.
    config.ignore_client_order = true;
    config.ticketer = ticketer;
    Ok(Arc::new(config))
}

/// Chooses the certificate by SNI: an exact name, else a wildcard covering it, else the
/// default (first) certificate — or none with `strict_sni`, which aborts the handshake.
pub struct SniResolver {
    certs: Vec<Arc<CertifiedKey>>,
    exact: HashMap<String, usize>,
    /// Keyed by the part after `*.`.
    wildcard: HashMap<String, usize>,
    strict: bool,
}

impl fmt::Debug for SniResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SniResolver")
            .field("certs", &self.certs.len())
            .finish_non_exhaustive()
    }
}

impl SniResolver {
    fn new(tls: &BindTls, provider: &CryptoProvider) -> Result<Self, String> {
        let mut r = SniResolver {
            certs: Vec::with_capacity(tls.certs.len()),
            exact: HashMap::new(),
            wildcard: HashMap::new(),
            strict: tls.strict_sni,
        };
        for (i, cert) in tls.certs.iter().enumerate() {
            let key = provider
                .key_provider
                .load_private_key(cert.key.to_der())
                .map_err(|e| format!("{}: {e}", cert.file.display()))?;
            r.certs
                .push(Arc::new(CertifiedKey::new(cert.chain_der(), key)));
            for name in &cert.names {
                // The first certificate listed for a name serves it.
                match name.strip_prefix("*.") {
                    Some(rest) => r.wildcard.entry(rest.to_owned()).or_insert(i),
                    None => r.exact.entry(name.clone()).or_insert(i),
                };
            }
        }
        Ok(r)
    }

    /// The index of the certificate serving `sni` (`None`: no match).
    fn find(&self, sni: &str) -> Option<usize> {
        let sni = sni.to_ascii_lowercase();
        if let Some(&i) = self.exact.get(&sni) {
            return Some(i);
        }
        let (label, rest) = sni.split_once('.')?;
        if label.is_empty() {
            return None;
        }
        self.wildcard.get(rest).copied()
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let found = hello.server_name().and_then(|sni| self.find(sni));
        match found {
            Some(i) => Some(self.certs[i].clone()),
            None if self.strict => None,
            None => self.certs.first().cloned(),
        }
    }
}
