//! A bind's `tls` mapping → [`BindTls`]: versions, ALPN, ciphers, client verification, and
//! the certificate files, read and checked (see [`crate::tls`]).

use std::path::PathBuf;

use crate::error::Fault;
use crate::path::YamlPath;
use crate::raw::RawTls;
use crate::tls::{self, BindTls, ClientVerify, TlsVersion};

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
        (Some(file), ClientVerify::None) => {
            let _ = file;
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
