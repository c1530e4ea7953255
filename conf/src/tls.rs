//! TLS settings of binds and servers. Certificates and keys are read and checked here, while the
//! configuration is validated — before anything is bound, and by `percore check` — so that a
//! shard receives DER bytes, never paths, and a bad file is an error with a position.
//!
//! `certs` lists files and directories, HAProxy's `crt` in YAML:
//! - a PEM file holding a certificate chain and its key (HAProxy's combined form);
//! - a PEM file holding the chain only, whose key is the next entry when that entry holds a
//!   key only (`[cert.pem, key.pem]`), else the file `<name>.key` beside it (HAProxy's
//!   `ssl-load-extra-files` default);
//! - a directory: each of its `*.pem` and `*.crt` files as above, in name order.
//!
//! Each pair is checked: readable, a key that matches the certificate, not expired, at least
//! one DNS name (subjectAltName, else the common name) for SNI. The first pair is the
//! default certificate, served when no name matches (or the client sends no SNI).
//! Relative paths are relative to the working directory, as HAProxy's.
//!
//! A server's `tls` ([`ServerTls`]) is read the same way: its CA bundle and its optional
//! client certificate (mTLS), which needs no DNS name.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::pki_types::pem::{PemObject, SectionKind};

use crate::bounded::{read_regular, ReadError};
use rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
};

/// Largest certificate, key or CA file read (a chain of a few certificates is ~10 KiB).
pub const PEM_FILE_BYTES_MAX: u64 = 1024 * 1024;

/// Most certificate pairs one bind may serve (each is held by every shard).
pub const CERTS_PER_BIND_MAX: usize = 10_000;

/// TLS termination on one bind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindTls {
    /// Certificates in the order written; the first is the default one.
    pub certs: Vec<CertKey>,
    /// ALPN protocols offered, in preference order (empty: no ALPN).
    pub alpn: Vec<String>,
    /// Oldest protocol version accepted.
    pub min_version: TlsVersion,
    /// Newest protocol version accepted.
    pub max_version: TlsVersion,
    /// Cipher suites allowed (IANA names), in preference order; empty: the provider's.
    pub ciphers: Vec<&'static str>,
    /// Client certificates: whether they are asked for and required.
    pub verify: ClientVerify,
    /// CA certificates (DER) client certificates are verified against.
    pub client_ca: Vec<Vec<u8>>,
    /// Refuse a handshake whose SNI matches no certificate (or that has none).
    pub strict_sni: bool,
}

/// A TLS protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.2.
    V1_2,
    /// TLS 1.3.
    V1_3,
}

impl TlsVersion {
    /// HAProxy's `%sslv` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::V1_2 => "TLSv1.2",
            TlsVersion::V1_3 => "TLSv1.3",
        }
    }
}

/// Client certificate policy of a bind (HAProxy's `verify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientVerify {
    /// No client certificate is asked for.
    None,
    /// Asked for; a client without one is served, one with a bad one refused.
    Optional,
    /// Asked for and required.
    Required,
}

/// TLS toward one server (HAProxy's `ssl` on a `server` line): settings of the backend's
/// `tls` mapping overridden key by key by the server's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTls {
    /// Whether the server's certificate is verified.
    pub verify: ServerVerify,
    /// CA certificates (DER) the server's certificate is verified against (empty with
    /// `verify: none`; percore never uses the system's roots).
    pub ca: Vec<Vec<u8>>,
    /// Name sent as SNI and checked against the certificate; `None`: no SNI, and with
    /// verification only the chain is checked (HAProxy's default without `sni`).
    pub sni: Option<String>,
    /// ALPN protocols offered, in preference order (empty: no ALPN).
    pub alpn: Vec<String>,
    /// Client certificate and key presented to the server (mTLS).
    pub cert: Option<CertKey>,
}

/// Server certificate policy of a server (HAProxy's `verify` on a `server` line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerVerify {
    /// The certificate is not checked at all.
    None,
    /// The chain must lead to `ca`, and the name to `sni` when one is set.
    Required,
}

/// One certificate chain and its private key, checked to match.
#[derive(Clone, PartialEq, Eq)]
pub struct CertKey {
    /// The certificate file as written (as HAProxy's `show ssl cert` names it).
    pub file: PathBuf,
    /// The chain in DER, leaf first.
    pub chain: Vec<Vec<u8>>,
    /// The private key.
    pub key: PrivateKey,
    /// DNS names of the leaf, lowercased (`*.example.com` for a wildcard).
    pub names: Vec<String>,
    /// End of validity, seconds since the epoch.
    pub not_after: i64,
    /// Start of validity, seconds since the epoch.
    pub not_before: i64,
    /// The leaf's subject and issuer, as `show ssl cert` prints them.
    pub subject: String,
    /// The leaf's issuer.
    pub issuer: String,
    /// The leaf's serial number in hex.
    pub serial: String,
}

impl fmt::Debug for CertKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertKey")
            .field("file", &self.file)
            .field("names", &self.names)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// A private key in DER; its bytes are never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKey {
    kind: KeyKind,
    der: Vec<u8>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Pkcs8,
    Sec1,
    Pkcs1,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(..)")
    }
}

impl PrivateKey {
    /// The key in the form rustls loads.
    pub fn to_der(&self) -> PrivateKeyDer<'static> {
        let der = self.der.clone();
        match self.kind {
            KeyKind::Pkcs8 => PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der)),
            KeyKind::Sec1 => PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(der)),
            KeyKind::Pkcs1 => PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der)),
        }
    }
}

impl CertKey {
    /// The chain in the form rustls serves.
    pub fn chain_der(&self) -> Vec<CertificateDer<'static>> {
        self.chain
            .iter()
            .map(|c| CertificateDer::from(c.clone()))
            .collect()
    }

    /// Whether this certificate serves the (lowercase) server name `sni`.
    pub fn serves(&self, sni: &str) -> bool {
        self.names.iter().any(|name| name_matches(name, sni))
    }
}

/// Whether certificate name `pattern` covers host `name` (both lowercase): equal, or a
/// wildcard `*.rest` covering exactly one more leftmost label.
pub fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(rest) => match name.split_once('.') {
            Some((label, tail)) => !label.is_empty() && tail == rest,
            None => false,
        },
        None => pattern == name,
    }
}

/// The cipher suites percore can offer: (IANA name, OpenSSL name), TLS 1.3 first.
pub const CIPHERS: &[(&str, &str)] = &[
    ("TLS13_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384"),
    ("TLS13_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"),
    (
        "TLS13_CHACHA20_POLY1305_SHA256",
        "TLS_CHACHA20_POLY1305_SHA256",
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "ECDHE-ECDSA-AES128-GCM-SHA256",
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "ECDHE-RSA-CHACHA20-POLY1305",
    ),
];

/// The IANA name of cipher suite `name`, given by its IANA or OpenSSL name.
pub fn cipher(name: &str) -> Option<&'static str> {
    CIPHERS
        .iter()
        .find(|(iana, openssl)| name.eq_ignore_ascii_case(iana) || name == *openssl)
        .map(|(iana, _)| *iana)
}

/// The OpenSSL name of an IANA cipher suite name (HAProxy's `%sslc`); the name itself if
/// unknown.
pub fn openssl_cipher_name(iana: &str) -> &str {
    CIPHERS
        .iter()
        .find(|(i, _)| *i == iana)
        .map_or(iana, |(_, openssl)| openssl)
}

/// What one PEM file holds.
struct Pem {
    chain: Vec<Vec<u8>>,
    key: Option<PrivateKey>,
}

/// Reads a PEM file of at most [`PEM_FILE_BYTES_MAX`] bytes (see [`crate::bounded`]).
fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    let shown = path.display();
    read_regular(path, PEM_FILE_BYTES_MAX).map_err(|e| match e {
        ReadError::Open(e) => format!("cannot open {shown}: {e}"),
        ReadError::Stat(e) => format!("cannot stat {shown}: {e}"),
        ReadError::NotRegular(_) => format!("{shown} is not a regular file"),
        ReadError::TooLarge(n) => {
            format!("{shown} is {n} bytes, more than the {PEM_FILE_BYTES_MAX} allowed")
        }
        ReadError::Read(e) => format!("cannot read {shown}: {e}"),
    })
}

/// Parses PEM text: certificates in order and at most one private key.
fn parse_pem(bytes: &[u8], shown: &str) -> Result<Pem, String> {
    let mut pem = Pem {
        chain: Vec::new(),
        key: None,
    };
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(bytes) {
        let (kind, der) = section.map_err(|e| format!("{shown}: bad PEM: {e}"))?;
        let key_kind = match kind {
            SectionKind::Certificate => {
                pem.chain.push(der);
                continue;
            }
            SectionKind::PrivateKey => KeyKind::Pkcs8,
            SectionKind::EcPrivateKey => KeyKind::Sec1,
            SectionKind::RsaPrivateKey => KeyKind::Pkcs1,
            _ => continue,
        };
        if pem.key.is_some() {
            return Err(format!("{shown} holds more than one private key"));
        }
        pem.key = Some(PrivateKey {
            kind: key_kind,
            der,
        });
    }
    Ok(pem)
}

/// Reads and parses one PEM file.
fn load_pem(path: &Path) -> Result<Pem, String> {
    let bytes = read_file(path)?;
    parse_pem(&bytes, &path.display().to_string())
}

/// Loads the `certs` entries into checked pairs. An error names the index of the entry at
/// fault and what is wrong. `now` (seconds since the epoch) refuses expired certificates.
pub fn load_certs(entries: &[PathBuf], now: i64) -> Result<Vec<CertKey>, (usize, String)> {
    let mut pairs = Vec::new();
    let mut i = 0;
    while i < entries.len() {
        let entry = &entries[i];
        if entry.is_dir() {
            for file in dir_files(entry).map_err(|e| (i, e))? {
                pairs.push(load_pair(&file, None, now).map_err(|e| (i, e))?);
            }
            i += 1;
            continue;
        }
        let pem = load_pem(entry).map_err(|e| (i, e))?;
        let next_is_key = pem.key.is_none()
            && entries
                .get(i + 1)
                .filter(|p| !p.is_dir())
                .and_then(|p| load_pem(p).ok())
                .is_some_and(|p| p.chain.is_empty() && p.key.is_some());
        let key_file = next_is_key.then(|| entries[i + 1].clone());
        pairs.push(pair_from(entry, pem, key_file.as_deref(), now).map_err(|e| (i, e))?);
        i += if next_is_key { 2 } else { 1 };
        if pairs.len() > CERTS_PER_BIND_MAX {
            return Err((
                i - 1,
                format!("more than {CERTS_PER_BIND_MAX} certificates"),
            ));
        }
    }
    if pairs.is_empty() {
        return Err((0, "no certificate found".to_owned()));
    }
    Ok(pairs)
}

/// The certificate files of a directory, in name order (`.pem` and `.crt`).
fn dir_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let shown = dir.display();
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| format!("cannot read directory {shown}: {e}"))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("pem" | "crt")))
        .collect();
    files.sort();
    if files.len() > CERTS_PER_BIND_MAX {
        return Err(format!(
            "{shown} holds more than {CERTS_PER_BIND_MAX} certificates"
        ));
    }
    if files.is_empty() {
        return Err(format!("directory {shown} holds no .pem or .crt file"));
    }
    Ok(files)
}

/// Loads the certificate file `file` with its key (inside, in `key_file`, or beside it).
fn load_pair(file: &Path, key_file: Option<&Path>, now: i64) -> Result<CertKey, String> {
    let pem = load_pem(file)?;
    pair_from(file, pem, key_file, now)
}

/// Completes a parsed certificate file into a checked pair.
fn pair_from(file: &Path, pem: Pem, key_file: Option<&Path>, now: i64) -> Result<CertKey, String> {
    let (chain, key) = chain_and_key(file, pem, key_file)?;
    cert_key(file.to_path_buf(), chain, key, now)
}

/// The chain of a parsed certificate file and its key (inside, in `key_file`, or beside it).
fn chain_and_key(
    file: &Path,
    pem: Pem,
    key_file: Option<&Path>,
) -> Result<(Vec<Vec<u8>>, PrivateKey), String> {
    if pem.chain.is_empty() {
        return Err(format!("{} holds no certificate", file.display()));
    }
    let key = match (pem.key, key_file) {
        (Some(key), _) => key,
        (None, Some(key_file)) => load_pem(key_file)?
            .key
            .ok_or_else(|| format!("{} holds no private key", key_file.display()))?,
        (None, None) => sibling_key(file)?,
    };
    Ok((pem.chain, key))
}

/// Loads the client certificate percore presents to a server (a combined PEM file, or a
/// chain with its key beside it): checked as a bind's certificate is, except that it needs
/// no DNS name.
pub(crate) fn load_identity(file: &Path, now: i64) -> Result<CertKey, String> {
    let (chain, key) = chain_and_key(file, load_pem(file)?, None)?;
    checked_pair(file.to_path_buf(), chain, key, now)
}

/// The key in `<file>.key` or `<stem>.key` beside a certificate file.
fn sibling_key(file: &Path) -> Result<PrivateKey, String> {
    let mut candidates = vec![PathBuf::from(format!("{}.key", file.display()))];
    candidates.push(file.with_extension("key"));
    for candidate in &candidates {
        if candidate.is_file() {
            return load_pem(candidate)?
                .key
                .ok_or_else(|| format!("{} holds no private key", candidate.display()));
        }
    }
    Err(format!(
        "{} holds no private key, and no {} is beside it",
        file.display(),
        candidates[0].display()
    ))
}

/// Parses a certificate and key given as PEM text (`set ssl cert` payloads), checked as a
/// file would be.
pub fn cert_key_from_pem(file: &Path, pem: &[u8], now: i64) -> Result<CertKey, String> {
    let parsed = parse_pem(pem, &file.display().to_string())?;
    if parsed.chain.is_empty() {
        return Err("the payload holds no certificate".to_owned());
    }
    let key = parsed
        .key
        .ok_or_else(|| "the payload holds no private key".to_owned())?;
    cert_key(file.to_path_buf(), parsed.chain, key, now)
}

/// Checks a chain and key, and that the leaf names a DNS host (for SNI).
fn cert_key(
    file: PathBuf,
    chain: Vec<Vec<u8>>,
    key: PrivateKey,
    now: i64,
) -> Result<CertKey, String> {
    let pair = checked_pair(file, chain, key, now)?;
    if pair.names.is_empty() {
        return Err(format!(
            "{}: the certificate names no DNS host (no subjectAltName or common name)",
            pair.file.display()
        ));
    }
    Ok(pair)
}

/// Checks a chain and key (they match, the leaf is not expired) and reads the leaf's facts.
fn checked_pair(
    file: PathBuf,
    chain: Vec<Vec<u8>>,
    key: PrivateKey,
    now: i64,
) -> Result<CertKey, String> {
    let shown = file.display().to_string();
    let leaf = Leaf::parse(&chain[0]).map_err(|e| format!("{shown}: {e}"))?;
    check_key_matches(&chain, &key).map_err(|e| format!("{shown}: {e}"))?;
    if leaf.not_after < now {
        return Err(format!(
            "{shown}: the certificate expired on {}",
            leaf.not_after_text
        ));
    }
    Ok(CertKey {
        file,
        chain,
        key,
        names: leaf.names,
        not_after: leaf.not_after,
        not_before: leaf.not_before,
        subject: leaf.subject,
        issuer: leaf.issuer,
        serial: leaf.serial,
    })
}

/// Refuses a key that does not belong to the chain's leaf, or that the provider cannot use.
fn check_key_matches(chain: &[Vec<u8>], key: &PrivateKey) -> Result<(), String> {
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let signing = provider
        .key_provider
        .load_private_key(key.to_der())
        .map_err(|e| format!("unusable private key: {e}"))?;
    let certs = chain
        .iter()
        .map(|c| CertificateDer::from(c.clone()))
        .collect();
    rustls::sign::CertifiedKey::new(certs, signing)
        .keys_match()
        .map_err(|_| "the private key does not match the certificate".to_owned())
}

/// Facts of a leaf certificate.
struct Leaf {
    names: Vec<String>,
    not_before: i64,
    not_after: i64,
    not_after_text: String,
    subject: String,
    issuer: String,
    serial: String,
}

impl Leaf {
    fn parse(der: &[u8]) -> Result<Leaf, String> {
        use x509_parser::extensions::GeneralName;
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| format!("not a valid X.509 certificate: {e}"))?;
        let mut names: Vec<String> = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                if let GeneralName::DNSName(dns) = name {
                    names.push(dns.to_ascii_lowercase());
                }
            }
        }
        if names.is_empty() {
            if let Some(cn) = cert.subject().iter_common_name().next() {
                if let Ok(text) = cn.as_str() {
                    names.push(text.to_ascii_lowercase());
                }
            }
        }
        let validity = cert.validity();
        Ok(Leaf {
            names,
            not_before: validity.not_before.timestamp(),
            not_after: validity.not_after.timestamp(),
            not_after_text: validity.not_after.to_string(),
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            serial: cert
                .raw_serial_as_string()
                .replace(':', "")
                .to_ascii_uppercase(),
        })
    }
}

/// Reads a CA bundle (PEM certificates) for client or server verification.
pub(crate) fn load_ca(path: &Path) -> Result<Vec<Vec<u8>>, String> {
    let pem = load_pem(path)?;
    if pem.chain.is_empty() {
        return Err(format!("{} holds no certificate", path.display()));
    }
    let mut roots = rustls::RootCertStore::empty();
    for der in &pem.chain {
        roots
            .add(CertificateDer::from(der.clone()))
            .map_err(|e| format!("{}: unusable CA certificate: {e}", path.display()))?;
    }
    Ok(pem.chain)
}

/// Seconds since the epoch now (0 if the clock is before it).
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_exactly_one_label() {
        assert!(name_matches("*.example.com", "www.example.com"));
        assert!(!name_matches("*.example.com", "example.com"));
        assert!(!name_matches("*.example.com", "a.b.example.com"));
        assert!(!name_matches("*.example.com", ".example.com"));
        assert!(name_matches("example.com", "example.com"));
        assert!(!name_matches("example.com", "www.example.com"));
    }

    #[test]
    fn ciphers_are_named_either_way() {
        assert_eq!(
            cipher("ECDHE-ECDSA-AES128-GCM-SHA256"),
            Some("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")
        );
        assert_eq!(
            cipher("tls13_aes_128_gcm_sha256"),
            Some("TLS13_AES_128_GCM_SHA256")
        );
        assert_eq!(cipher("RC4-MD5"), None);
        assert_eq!(
            openssl_cipher_name("TLS13_AES_128_GCM_SHA256"),
            "TLS_AES_128_GCM_SHA256"
        );
    }
}
