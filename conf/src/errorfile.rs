//! Errorfiles: raw HTTP responses a frontend sends instead of its default error pages. They
//! are read and checked here, while the configuration is validated — before anything is
//! bound, and by `percore check` — so that shards receive bytes, never paths, and a bad file
//! is a configuration error with a position instead of a failure after start-up.
//!
//! What a file must be, checked in this order:
//! - openable, opened with `O_NONBLOCK` so that a FIFO cannot hang validation;
//! - a regular file (`fstat` on the open file, so a symlink to `/dev/zero` is refused too);
//! - at most `global.tune.bufsize` bytes (an error page is written from one buffer);
//! - one valid HTTP/1.x response under the configured head limits, parsed with the same
//!   response parser the data path uses: a final status (200..599), and a body that matches
//!   its framing (`Content-Length` equal to the bytes after the head; no chunked body, which
//!   percore would have to validate chunk by chunk; nothing after a 204/304 head).
//!
//! It does not compare the file's status with the status it replaces: HAProxy allows an
//! errorfile for 503 that answers 200, and so does percore.

use std::path::{Path, PathBuf};

use percore_protocols::http1::{parse_response, BodyFraming, Limits};

use crate::bounded::{kind, read_regular, ReadError};
use crate::config::Tune;

/// One checked errorfile of a frontend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorFile {
    /// The status it replaces (400..599).
    pub status: u16,
    /// The file as written in the configuration (relative paths are relative to the working
    /// directory of the process, as HAProxy's).
    pub path: PathBuf,
    /// The complete response, sent as is; at most `global.tune.bufsize` bytes.
    pub response: Vec<u8>,
}

/// Reads and checks the errorfile at `path` (see the module documentation); the error text
/// names the file and the violated rule.
pub(crate) fn read(path: &Path, tune: &Tune) -> Result<Vec<u8>, String> {
    let shown = path.display();
    let limit = tune.bufsize;
    let bytes = read_regular(path, limit as u64).map_err(|e| match e {
        ReadError::Open(e) => format!("cannot open errorfile {shown}: {e}"),
        ReadError::Stat(e) => format!("cannot stat errorfile {shown}: {e}"),
        ReadError::NotRegular(t) => {
            format!("errorfile {shown} is {}, expected a regular file", kind(&t))
        }
        ReadError::TooLarge(n) => too_large(path, n, limit),
        ReadError::Read(e) => format!("cannot read errorfile {shown}: {e}"),
    })?;
    check_response(&bytes, tune).map_err(|why| format!("errorfile {shown}: {why}"))?;
    Ok(bytes)
}

/// Checks that `bytes` hold exactly one complete, valid HTTP/1.x final response.
fn check_response(bytes: &[u8], tune: &Tune) -> Result<(), String> {
    let limits = Limits {
        max_header_size: tune.max_header_size,
        max_headers: tune.max_headers,
    };
    let (head, head_len) =
        match parse_response(bytes, &limits, false) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => return Err(
                "expected a complete HTTP/1.x response head (status line, fields, empty line), \
                 found a truncated one"
                    .to_owned(),
            ),
            Err(e) => return Err(format!("expected an HTTP/1.x response: {e}")),
        };
    let status = head.status();
    if !(200..=599).contains(&status) {
        return Err(format!("expected a final status 200..599, found {status}"));
    }
    let body = (bytes.len() - head_len) as u64;
    match head.framing() {
        BodyFraming::Length(n) if n != body => Err(format!(
            "content-length is {n} but {body} body byte(s) follow the head"
        )),
        BodyFraming::None if body > 0 => Err(format!(
            "status {status} has no body but {body} byte(s) follow the head"
        )),
        BodyFraming::Chunked => {
            Err("chunked body: use content-length (or no framing field) instead".to_owned())
        }
        _ => Ok(()),
    }
}

fn too_large(path: &Path, size: u64, limit: usize) -> String {
    format!(
        "errorfile {} is {size} bytes, more than global.tune.bufsize ({})",
        path.display(),
        crate::units::format_size(limit)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("percore-conf-ef-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    }

    const GOOD: &str = "HTTP/1.1 503 Busy\r\ncontent-length: 4\r\nconnection: close\r\n\r\nbusy";

    #[test]
    fn good_file_is_returned_as_is() {
        let d = dir("good");
        let p = d.join("503.http");
        std::fs::write(&p, GOOD).expect("write");
        assert_eq!(read(&p, &Tune::default()).expect("valid"), GOOD.as_bytes());
        let close_delimited = "HTTP/1.0 503 Busy\r\n\r\nbusy until close";
        std::fs::write(&p, close_delimited).expect("write");
        assert!(read(&p, &Tune::default()).is_ok());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn missing_directory_fifo_and_device_are_refused() {
        let d = dir("kinds");
        let e = read(&d.join("nope"), &Tune::default()).expect_err("missing");
        assert!(
            e.starts_with("cannot open errorfile ") && e.contains("No such file"),
            "{e}"
        );
        let e = read(&d, &Tune::default()).expect_err("directory");
        assert!(
            e.ends_with("is a directory, expected a regular file"),
            "{e}"
        );
        let fifo = d.join("fifo");
        nix_mkfifo(&fifo);
        // O_NONBLOCK: opening a FIFO with no writer returns at once instead of blocking.
        let e = read(&fifo, &Tune::default()).expect_err("fifo");
        assert!(e.ends_with("is a FIFO, expected a regular file"), "{e}");
        let e = read(Path::new("/dev/zero"), &Tune::default()).expect_err("device");
        assert!(
            e.ends_with("is a character device, expected a regular file"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn larger_than_bufsize_is_refused() {
        let d = dir("big");
        let p = d.join("big.http");
        let tune = Tune {
            bufsize: 1024,
            max_header_size: 1024,
            ..Tune::default()
        };
        let body = "x".repeat(1024);
        let text = format!("HTTP/1.1 503 Busy\r\ncontent-length: 1024\r\n\r\n{body}");
        std::fs::write(&p, &text).expect("write");
        let e = read(&p, &tune).expect_err("too large");
        assert!(
            e.contains(&format!(
                "is {} bytes, more than global.tune.bufsize (1KiB)",
                text.len()
            )),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn invalid_responses_are_refused() {
        let tune = Tune::default();
        let cases: &[(&str, &str)] = &[
            ("<html>oops</html>", "expected an HTTP/1.x response"),
            ("HTTP/1.1 503 Busy\r\ncontent-length: 4\r\n", "truncated"),
            (
                "HTTP/1.1 100 Continue\r\n\r\n",
                "expected a final status 200..599, found 100",
            ),
            (
                "HTTP/1.1 503 Busy\r\ncontent-length: 9\r\n\r\nbusy",
                "content-length is 9 but 4 body byte(s) follow the head",
            ),
            (
                "HTTP/1.1 503 Busy\r\ntransfer-encoding: chunked\r\n\r\n4\r\nbusy\r\n0\r\n\r\n",
                "chunked body",
            ),
            (
                "HTTP/1.1 204 No Content\r\n\r\nbody",
                "status 204 has no body",
            ),
            (
                "HTTP/1.1 503 Busy\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nx",
                "HTTP/1.x",
            ),
            ("HTTP/2 503 Busy\r\n\r\n", "expected an HTTP/1.x response"),
        ];
        for (text, want) in cases {
            let e = check_response(text.as_bytes(), &tune).expect_err(text);
            assert!(e.contains(want), "{text:?}: {e}");
        }
        assert!(check_response(GOOD.as_bytes(), &tune).is_ok());
    }

    /// `mkfifo(3)` without unsafe code: the `mkfifo` command.
    fn nix_mkfifo(path: &Path) {
        let st = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .expect("run mkfifo");
        assert!(st.success(), "mkfifo failed");
    }
}
