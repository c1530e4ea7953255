//! A bind's `tls` mapping → [`BindTls`]: versions, ALPN, ciphers, client verification, and
//! the certificate files, read and checked (see [`crate::tls`]). A server's `tls` (over its
//! backend's) → [`ServerTls`]: verification, CA bundle, SNI, ALPN, client certificate.

use std::path::PathBuf;

use crate::error::Fault;
use crate::path::YamlPath;
use crate::raw::{RawServerTls, RawTls};
use crate::tls::{self, BindTls, ClientVerify, ServerTls, ServerVerify, TlsVersion};

/// Longest ALPN protocol name (RFC 7301: 1..255 bytes).
const ALPN_NAME_MAX: usize = 255;

/// Validates a bind's TLS settings at `path` (the `tls` key).
pub(crate) fn bind_tls(raw: &RawTls, path: &YamlPath) -> Result<BindTls, Fault> {
    let min_version = match &raw.min_version {
        Some(text) => version(text, &path.key("min_version"))?,
        None => TlsVersion::V1_2,
    };
    let max_version = match &raw.max_version {
        Some(text) => version(text, &path.key("max_version"))?,
        None => TlsVersion::V1_3,
    };
    if max_version < min_version {
        return Err(Fault::value(
            &path.key("max_version"),
            format!(
                "max_version {} is older than min_version {}",
                max_version.as_str(),
                min_version.as_str()
            ),
        ));
    }
    let alpn = alpn(raw.alpn.as_deref().unwrap_or_default(), &path.key("alpn"))?;
    let ciphers = ciphers(
        raw.ciphers.as_deref().unwrap_or_default(),
        path,
        min_version,
        max_version,
    )?;
    let verify = match raw.verify.as_deref() {
        None | Some("none") => ClientVerify::None,
        Some("optional") => ClientVerify::Optional,
        Some("required") => ClientVerify::Required,
        Some(other) => {
            return Err(Fault::value(
                &path.key("verify"),
                format!(
                    "expected none, optional or required, found {}",
                    crate::de::quote(other)
                ),
            ))
        }
    };
    let client_ca = match (&raw.client_ca, verify) {
        (Some(_), ClientVerify::None) => {
            return Err(Fault::key(
                &path.key("client_ca"),
                "client_ca has no effect with verify none (set verify: optional or required)",
            ));
        }
        (Some(file), _) => tls::load_ca(&PathBuf::from(file))
            .map_err(|e| Fault::value(&path.key("client_ca"), e))?,
        (None, ClientVerify::None) => Vec::new(),
        (None, _) => return Err(Fault::key(
            &path.key("verify"),
            "verify needs client_ca, the CA certificates client certificates are checked against",
        )),
    };
    let certs_path = path.key("certs");
    if raw.certs.is_empty() {
        return Err(Fault::value(
            &certs_path,
            "expected at least one certificate file or directory",
        ));
    }
    let entries: Vec<PathBuf> = raw.certs.iter().map(PathBuf::from).collect();
    let certs = tls::load_certs(&entries, tls::unix_now())
        .map_err(|(i, e)| Fault::value(&certs_path.index(i), e))?;
    Ok(BindTls {
        certs,
        alpn,
        min_version,
        max_version,
        ciphers,
        verify,
        client_ca,
        strict_sni: raw.strict_sni.unwrap_or(false),
    })
}

/// A server's TLS settings written in its backend's `tls` (at `backend.1`) and its own
/// (at `server.1`), whose keys win one by one; `None` when neither is written. Each fault
/// names the mapping its key came from.
pub(crate) fn server_tls(
    backend: (Option<&RawServerTls>, &YamlPath),
    server: (Option<&RawServerTls>, &YamlPath),
) -> Result<Option<ServerTls>, Fault> {
    if backend.0.is_none() && server.0.is_none() {
        return Ok(None);
    }
    let layers = Layers { backend, server };
    let (verify, ca) = server_verify(&layers)?;
    let (name, sni_path) = layers.get("sni", |r| r.sni.as_deref());
    let sni = name.map(|name| sni(name, &sni_path)).transpose()?;
    let (names, alpn_path) = layers.get("alpn", |r| r.alpn.as_deref());
    let alpn = alpn(names.unwrap_or_default(), &alpn_path)?;
    let (file, cert_path) = layers.get("cert", |r| r.cert.as_deref());
    let cert = file
        .map(|file| {
            tls::load_identity(&PathBuf::from(file), tls::unix_now())
                .map_err(|e| Fault::value(&cert_path, e))
        })
        .transpose()?;
    Ok(Some(ServerTls {
        verify,
        ca,
        sni,
        alpn,
        cert,
    }))
}

/// A backend's and a server's `tls` mappings, each with its path.
struct Layers<'a> {
    backend: (Option<&'a RawServerTls>, &'a YamlPath),
    server: (Option<&'a RawServerTls>, &'a YamlPath),
}

impl<'a> Layers<'a> {
    /// The value of `key` (the server's, else the backend's) and its path: where it is
    /// written, else the server's mapping when it has one.
    fn get<T: ?Sized>(
        &self,
        key: &str,
        get: impl Fn(&'a RawServerTls) -> Option<&'a T>,
    ) -> (Option<&'a T>, YamlPath) {
        if let Some(value) = self.server.0.and_then(&get) {
            return (Some(value), self.server.1.key(key));
        }
        if let Some(value) = self.backend.0.and_then(&get) {
            return (Some(value), self.backend.1.key(key));
        }
        let at = if self.server.0.is_some() {
            self.server.1
        } else {
            self.backend.1
        };
        (None, at.key(key))
    }
}

/// `verify` (default `required`) and the `ca` bundle it needs.
fn server_verify(layers: &Layers<'_>) -> Result<(ServerVerify, Vec<Vec<u8>>), Fault> {
    let (verify, verify_path) = layers.get("verify", |r| r.verify.as_deref());
    let verify = match verify {
        None | Some("required") => ServerVerify::Required,
        Some("none") => ServerVerify::None,
        Some(other) => {
            return Err(Fault::value(
                &verify_path,
                format!(
                    "expected required or none, found {}",
                    crate::de::quote(other)
                ),
            ))
        }
    };
    let (file, ca_path) = layers.get("ca", |r| r.ca.as_deref());
    // A server may turn verification off under a backend's `ca`: that one is ignored.
    let ca_overridden = layers
        .server
        .0
        .is_some_and(|r| r.verify.is_some() && r.ca.is_none());
    let ca = match (file, verify) {
        (Some(_), ServerVerify::None) if ca_overridden => Vec::new(),
        (Some(_), ServerVerify::None) => {
            return Err(Fault::key(
                &ca_path,
                "ca has no effect with verify none (remove it, or set verify: required)",
            ))
        }
        (Some(file), ServerVerify::Required) => {
            tls::load_ca(&PathBuf::from(file)).map_err(|e| Fault::value(&ca_path, e))?
        }
        (None, ServerVerify::None) => Vec::new(),
        (None, ServerVerify::Required) => {
            return Err(Fault::key(
                &verify_path,
                "verify required needs ca, the CA certificates the server's certificate is \
                 checked against (the system's roots are never used; verify: none skips the check)",
            ))
        }
    };
    Ok((verify, ca))
}

/// The SNI sent to a server: a DNS name (not an address: RFC 6066 forbids IP literals).
fn sni(name: &str, path: &YamlPath) -> Result<String, Fault> {
    match rustls::pki_types::ServerName::try_from(name) {
        Ok(rustls::pki_types::ServerName::DnsName(_)) => Ok(name.to_ascii_lowercase()),
        _ => Err(Fault::value(
            path,
            format!("expected a DNS name, found {}", crate::de::quote(name)),
        )),
    }
}

/// `"1.2"`, `"1.3"` or HAProxy's `TLSv1.2` / `TLSv1.3`.
fn version(text: &str, path: &YamlPath) -> Result<TlsVersion, Fault> {
    match text.strip_prefix("TLSv").unwrap_or(text) {
        "1.2" => Ok(TlsVersion::V1_2),
        "1.3" => Ok(TlsVersion::V1_3),
        "1.0" | "1.1" | "1" => Err(Fault::value(
            path,
            format!("TLS {text} is not offered (broken; TLS 1.2 is the oldest supported)"),
        )),
        _ => Err(Fault::value(
            path,
            format!(
                "expected \"1.2\" or \"1.3\", found {}",
                crate::de::quote(text)
            ),
        )),
    }
}

/// ALPN protocol names: 1..255 bytes each, no duplicates.
fn alpn(names: &[String], path: &YamlPath) -> Result<Vec<String>, Fault> {
    for (i, name) in names.iter().enumerate() {
        if name.is_empty() || name.len() > ALPN_NAME_MAX {
            return Err(Fault::value(
                &path.index(i),
                "an ALPN name is 1 to 255 bytes",
            ));
        }
        if names[..i].contains(name) {
            return Err(Fault::value(
                &path.index(i),
                format!("{name} is listed twice"),
            ));
        }
    }
    Ok(names.to_vec())
}

/// Cipher suites by IANA or OpenSSL name; at least one usable by each enabled version.
fn ciphers(
    names: &[String],
    path: &YamlPath,
    min: TlsVersion,
    max: TlsVersion,
) -> Result<Vec<&'static str>, Fault> {
    let path = path.key("ciphers");
    let mut out = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let Some(iana) = tls::cipher(name) else {
            let known: Vec<&str> = tls::CIPHERS.iter().map(|(_, o)| *o).collect();
            return Err(Fault::value(
                &path.index(i),
                format!(
                    "unknown cipher suite {}; known: {}",
                    crate::de::quote(name),
                    known.join(", ")
                ),
            ));
        };
        out.push(iana);
    }
    if out.is_empty() {
        return Ok(out);
    }
    for (version, prefix) in [(TlsVersion::V1_2, "TLS_"), (TlsVersion::V1_3, "TLS13_")] {
        if version >= min && version <= max && !out.iter().any(|c| c.starts_with(prefix)) {
            return Err(Fault::value(
                &path,
                format!(
                    "no cipher suite for {} (enabled by the version range)",
                    version.as_str()
                ),
            ));
        }
    }
    Ok(out)
}
