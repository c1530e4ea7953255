//! `show|set|commit|abort ssl cert`: a certificate swapped at run time on every shard. One
//! transaction at a time, as HAProxy's: `set` parses and checks the PEM (chain, key that
//! matches, not expired) and keeps it here; `commit` sends it to every shard, which rebuilds
//! the acceptors of the binds serving that file (handshakes in progress keep the old one),
//! and replies once all did. A reload reads the files again: a committed certificate that
//! was not also written to its file is replaced by the file's.

use std::path::Path;

use percore_admin::{self as admin, CertDetails, ErrorReply};
use percore_conf::tls::CertKey;

use super::exec::Ctl;
use crate::rings::msg::Op;

/// HAProxy 2.6's reply to a file no bind serves.
const NOT_REFERENCED: ErrorReply = ErrorReply::from_static(
    "Can't replace a certificate which is not referenced by the configuration!\n",
);

impl Ctl {
    /// Every certificate file of the configuration, in bind order, each once.
    fn cert_files(&self) -> Vec<String> {
        let st = self.state.borrow();
        let mut files: Vec<String> = Vec::new();
        for cert in certs(&st.config) {
            let name = cert.file.display().to_string();
            if !files.contains(&name) {
                files.push(name);
            }
        }
        files
    }

    /// The configuration's certificate of `file`.
    fn cert_of(&self, file: &str) -> Option<CertKey> {
        let st = self.state.borrow();
        let found = certs(&st.config)
            .find(|c| c.file == Path::new(file))
            .cloned();
        found
    }

    /// `show ssl cert [<file>]`; `*<file>` names the transaction's certificate.
    pub(super) fn show_ssl_cert(&self, file: Option<String>) -> Result<String, ErrorReply> {
        let txn = self.ssl_txn.borrow();
        let Some(file) = file else {
            let open = txn.as_ref().map(|c| c.file.display().to_string());
            return Ok(admin::render_ssl_cert_list(
                open.as_deref(),
                &self.cert_files(),
            ));
        };
        let (cert, name) = match file.strip_prefix('*') {
            Some(f) => (
                txn.as_ref().filter(|c| c.file == Path::new(f)).cloned(),
                file.clone(),
            ),
            None => (self.cert_of(&file), file.clone()),
        };
        let cert = cert.ok_or(ErrorReply::from_static(
            "Can't display a certificate which is not referenced by the configuration!\n",
        ))?;
        Ok(admin::render_ssl_cert_details(&details(&cert, name)))
    }

    /// `set ssl cert <file> <payload>`: opens or updates the transaction.
    pub(super) fn set_ssl_cert(&self, file: &str, payload: &str) -> Result<String, ErrorReply> {
        let mut txn = self.ssl_txn.borrow_mut();
        if let Some(open) = txn.as_ref().filter(|c| c.file != Path::new(file)) {
            return Err(ErrorReply::from_string(format!(
                "The ongoing transaction is about '{}' but you are trying to set '{file}'\n",
                open.file.display()
            )));
        }
        if self.cert_of(file).is_none() {
            return Err(NOT_REFERENCED);
        }
        let now = percore_conf::tls::unix_now();
        let cert = percore_conf::tls::cert_key_from_pem(Path::new(file), payload.as_bytes(), now)
            .map_err(|e| ErrorReply::from_string(format!("{e}\n")))?;
        let verb = if txn.is_some() { "updated" } else { "created" };
        *txn = Some(cert);
        Ok(format!("Transaction {verb} for certificate {file}!\n"))
    }

    /// `commit ssl cert <file>`: applies the transaction on every shard, then replies.
    pub(super) async fn commit_ssl_cert(&self, file: &str) -> Result<String, ErrorReply> {
        let cert = {
            let txn = self.ssl_txn.borrow();
            match txn.as_ref() {
                None => return Err(ErrorReply::from_static("No ongoing transaction! !\n")),
                Some(c) if c.file != Path::new(file) => {
                    return Err(ErrorReply::from_string(format!(
                        "The ongoing transaction is about '{}' but you are trying to set '{file}'\n",
                        c.file.display()
                    )))
                }
                Some(c) => c.clone(),
            }
        };
        self.broadcast_op(Op::SetCert(Box::new(cert.clone())))
            .await?;
        self.replace_cert(&cert);
        *self.ssl_txn.borrow_mut() = None;
        log::info!(
            "certificate {file} replaced on every shard (serial {})",
            cert.serial
        );
        Ok(format!("Committing {file}\nSuccess!\n"))
    }

    /// `abort ssl cert <file>`.
    pub(super) fn abort_ssl_cert(&self, file: &str) -> Result<String, ErrorReply> {
        let mut txn = self.ssl_txn.borrow_mut();
        match txn.as_ref() {
            Some(c) if c.file == Path::new(file) => {
                *txn = None;
                Ok(format!("Transaction aborted for certificate '{file}'!\n"))
            }
            _ => Err(ErrorReply::from_static("No ongoing transaction!\n")),
        }
    }

    /// The control plane's configuration serves `cert` wherever it served its file.
    fn replace_cert(&self, cert: &CertKey) {
        let mut st = self.state.borrow_mut();
        for tls in st
            .config
            .frontends
            .iter_mut()
            .flat_map(|f| f.tls.iter_mut().flatten())
        {
            for c in tls.certs.iter_mut().filter(|c| c.file == cert.file) {
                *c = cert.clone();
            }
        }
    }
}

/// Every `global.tune.tls_ticket_rotation`, new ticket keys to every shard: a ticket then
/// resumes for one to two periods. A shard that misses a rotation (ring full or
/// timeout) keeps its keys until the next one; its tickets still resume elsewhere for a
/// period.
pub(super) async fn rotate_ticket_keys(
    ctl: std::rc::Rc<Ctl>,
    mut keys: crate::tls::ticket::TicketKeys,
) {
    loop {
        let period = ctl.state.borrow().config.global.tune.tls_ticket_rotation;
        glommio::timer::sleep(period).await;
        if ctl.stopping.get() {
            return;
        }
        match keys.rotated() {
            Ok(next) => keys = next,
            Err(_) => {
                log::warn!("TLS ticket keys not rotated: the system RNG failed");
                continue;
            }
        }
        match ctl
            .broadcast_op(Op::TicketKeys(Box::new(keys.clone())))
            .await
        {
            Ok(()) => log::debug!("TLS ticket keys rotated on every shard"),
            Err(e) => log::warn!(
                "TLS ticket key rotation not acknowledged by every shard: {}",
                e.body().trim_end()
            ),
        }
    }
}

/// Every certificate of every TLS bind, in configuration order.
fn certs(config: &percore_conf::Config) -> impl Iterator<Item = &CertKey> {
    config
        .frontends
        .iter()
        .flat_map(|f| f.tls.iter().flatten())
        .flat_map(|t| &t.certs)
}

/// `show ssl cert <file>` fields of `cert`.
fn details(cert: &CertKey, filename: String) -> CertDetails {
    CertDetails {
        filename,
        status: "Used",
        serial: cert.serial.clone(),
        not_before: gmt(cert.not_before),
        not_after: gmt(cert.not_after),
        san: cert
            .names
            .iter()
            .map(|n| format!("DNS:{n}"))
            .collect::<Vec<_>>()
            .join(", "),
        subject: slashed(&cert.subject),
        issuer: slashed(&cert.issuer),
    }
}

/// OpenSSL's `ASN1_TIME_print` form: `Sep 13 21:20:24 2019 GMT`.
fn gmt(unix: i64) -> String {
    let secs = u64::try_from(unix).unwrap_or(0);
    let (y, mo, d) = admin::civil_from_days(secs / 86_400);
    let t = secs % 86_400;
    format!(
        "{} {d:2} {:02}:{:02}:{:02} {y} GMT",
        admin::MONTHS[usize::from(mo - 1)],
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

/// `CN=a, O=b` (RFC 4514 order as x509-parser prints it) in HAProxy's `/CN=a/O=b` form.
fn slashed(dn: &str) -> String {
    dn.split(", ").map(|part| format!("/{part}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_print_as_openssl_does() {
        assert_eq!(super::gmt(1_568_409_624), "Sep 13 21:20:24 2019 GMT");
        assert_eq!(super::gmt(0), "Jan  1 00:00:00 1970 GMT");
    }
}
