//! The run's certificate: ECDSA P-256, self-signed, SAN `localhost` and `127.0.0.1`,
//! generated once per run with rcgen into the run's temporary directory. It does not
//! outlive the directory, and nothing but loopback traffic is ever signed with it.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use rustls::pki_types::CertificateDer;

use crate::child::TempDir;

/// Where the run's certificate is, in the forms the proxies read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate then PKCS#8 key, PEM (HAProxy `crt`, percore `certs`).
    pub combined: PathBuf,
    /// Certificate alone, PEM (nginx `ssl_certificate`).
    pub cert: PathBuf,
    /// PKCS#8 key alone, PEM (nginx `ssl_certificate_key`).
    pub key: PathBuf,
}

/// The run's certificate: its files and its DER form (what the client accepts).
pub struct BenchCert {
    /// The certificate, DER: the client's verifier compares the server's with it.
    pub der: CertificateDer<'static>,
    /// Its files.
    pub files: TlsFiles,
    /// Holds the files; removed when the certificate is dropped (and on Ctrl-C).
    _dir: TempDir,
}

impl BenchCert {
    /// Generates a fresh key and certificate and writes them to a new temporary directory.
    pub fn generate() -> Result<BenchCert, String> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| format!("cannot generate the TLS key: {e}"))?;
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .map_err(|e| format!("cannot build the certificate: {e}"))?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "percore-bench");
        let cert = params
            .self_signed(&key)
            .map_err(|e| format!("cannot sign the certificate: {e}"))?;
        let dir = TempDir::new("tls").map_err(|e| format!("cannot create the TLS dir: {e}"))?;
        let cert_pem = cert.pem();
        let key_pem = key.serialize_pem();
        let files = TlsFiles {
            combined: dir.path().join("site.pem"),
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("key.pem"),
        };
        write_private(&files.combined, &format!("{cert_pem}{key_pem}"))?;
        write_private(&files.cert, &cert_pem)?;
        write_private(&files.key, &key_pem)?;
        Ok(BenchCert {
            der: cert.der().clone(),
            files,
            _dir: dir,
        })
    }
}

/// Writes `text` to a new file only its owner may read (it holds a private key).
fn write_private(path: &Path, text: &str) -> Result<(), String> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_hold_the_certificate_then_the_pkcs8_key() {
        let c = BenchCert::generate().expect("certificate");
        let combined = std::fs::read_to_string(&c.files.combined).expect("combined");
        let cert = std::fs::read_to_string(&c.files.cert).expect("cert");
        let key = std::fs::read_to_string(&c.files.key).expect("key");
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"), "{cert}");
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{key}");
        assert_eq!(combined, format!("{cert}{key}"));
        let dir = c.files.combined.parent().expect("dir").to_path_buf();
        drop(c);
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}
