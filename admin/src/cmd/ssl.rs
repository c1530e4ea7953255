//! `show ssl cert`, `set ssl cert`, `commit ssl cert`, `abort ssl cert`: swapping a
//! certificate at run time in HAProxy 2.6's syntax and words (`ssl_ckch.c`). `set` takes
//! its PEM as the command's payload (a line ending with `<<`, then the PEM, then an empty
//! line) and opens a transaction; `commit` applies it on every shard; `abort` drops it.

use super::Command;
use crate::error::ErrorReply;
use crate::grammar::Args;

/// The details `show ssl cert <file>` prints of one certificate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CertDetails {
    /// The file as the configuration names it (`*` prefixed for a transaction's).
    pub filename: String,
    /// `Used` (served) or `Unused`.
    pub status: &'static str,
    /// Serial number, hex.
    pub serial: String,
    /// `notBefore`, `Mmm dd hh:mm:ss yyyy GMT`.
    pub not_before: String,
    /// `notAfter`.
    pub not_after: String,
    /// DNS names, `DNS:a, DNS:b`.
    pub san: String,
    /// Subject, `/CN=..` form.
    pub subject: String,
    /// Issuer.
    pub issuer: String,
}

pub(super) fn parse_show(args: Args<'_>) -> Command {
    let file = args.get(3);
    Command::ShowSslCert((!file.is_empty()).then(|| file.to_owned()))
}

pub(super) fn parse_set(args: Args<'_>, payload: Option<&str>) -> Result<Command, ErrorReply> {
    let file = args.get(3);
    match payload {
        Some(pem) if !file.is_empty() && !pem.is_empty() => Ok(Command::SetSslCert {
            file: file.to_owned(),
            payload: pem.to_owned(),
        }),
        _ => Err(ErrorReply::from_static(
            "'set ssl cert' expects a filename and a certificate as a payload\n",
        )),
    }
}

pub(super) fn parse_commit(args: Args<'_>) -> Result<Command, ErrorReply> {
    match args.get(3) {
        "" => Err(ErrorReply::from_static(
            "'commit ssl cert' expects a filename\n",
        )),
        file => Ok(Command::CommitSslCert(file.to_owned())),
    }
}

pub(super) fn parse_abort(args: Args<'_>) -> Result<Command, ErrorReply> {
    match args.get(3) {
        "" => Err(ErrorReply::from_static(
            "'abort ssl cert' expects a filename\n",
        )),
        file => Ok(Command::AbortSslCert(file.to_owned())),
    }
}

/// `show ssl cert`: the transaction's file (if any), then every certificate file in use.
pub fn render_ssl_cert_list(transaction: Option<&str>, files: &[String]) -> String {
    let mut out = String::from("# transaction\n");
    if let Some(file) = transaction {
        out.push('*');
        out.push_str(file);
        out.push('\n');
    }
    out.push_str("# filename\n");
    for file in files {
        out.push_str(file);
        out.push('\n');
    }
    out
}

/// `show ssl cert <file>`: one certificate's details, HAProxy's layout.
pub fn render_ssl_cert_details(d: &CertDetails) -> String {
    format!(
        "Filename: {}\nStatus: {}\nSerial: {}\nnotBefore: {}\nnotAfter: {}\n\
         Subject Alternative Name: {}\nSubject: {}\nIssuer: {}\n",
        d.filename, d.status, d.serial, d.not_before, d.not_after, d.san, d.subject, d.issuer
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_with_payload, Level};

    #[test]
    fn set_needs_a_file_and_a_payload() {
        let pem = "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n";
        assert_eq!(
            parse_with_payload("set ssl cert site.pem", Some(pem), Level::Admin),
            Ok(Command::SetSslCert {
                file: "site.pem".into(),
                payload: pem.into()
            })
        );
        for (line, payload) in [("set ssl cert site.pem", None), ("set ssl cert", Some(pem))] {
            let e = parse_with_payload(line, payload, Level::Admin).unwrap_err();
            assert_eq!(
                e.body(),
                "'set ssl cert' expects a filename and a certificate as a payload\n"
            );
        }
        assert!(parse_with_payload("commit ssl cert a.pem", None, Level::Operator).is_err());
        assert_eq!(
            parse_with_payload("show ssl cert", None, Level::Operator),
            Ok(Command::ShowSslCert(None))
        );
    }

    #[test]
    fn the_list_marks_the_transaction() {
        let files = ["a.pem".to_string(), "b.pem".to_string()];
        assert_eq!(
            render_ssl_cert_list(Some("a.pem"), &files),
            "# transaction\n*a.pem\n# filename\na.pem\nb.pem\n"
        );
        assert_eq!(
            render_ssl_cert_list(None, &[]),
            "# transaction\n# filename\n"
        );
    }
}
