//! Responses percore writes itself: HAProxy-like error pages (with `errorfiles` overrides),
//! redirects and `return` responses. Bodies are built once per shard at start-up, from
//! errorfile bytes the configuration already read and checked.

use std::collections::HashMap;

use percore_conf::http::ErrorFile;

/// Reason phrase of a status code percore may emit.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Payload Too Large",
        414 => "URI Too Long",
        421 => "Misdirected Request",
        425 => "Too Early",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// The sentence HAProxy's default error page carries for `status`.
fn explanation(status: u16) -> &'static str {
    match status {
        400 => "Your browser sent an invalid request.",
        403 => "Request forbidden by administrative rules.",
        404 => "The requested URL was not found on this server.",
        408 => "Your browser didn't send a complete request in time.",
        413 => "The request body is larger than the server accepts.",
        431 => "The request header fields are too large.",
        500 => "An internal server error occurred.",
        501 => "The server does not support this request.",
        502 => "The server returned an invalid or incomplete response.",
        503 => "No server is available to handle this request.",
        504 => "The server didn't respond in time.",
        505 => "The HTTP version is not supported.",
        _ => "",
    }
}

/// A complete response for `status` in HAProxy's default style. The connection is always
/// closed after an error page (`connection: close`), as HAProxy does.
pub fn default_page(status: u16) -> Vec<u8> {
    let body = format!(
        "<html><body><h1>{status} {}</h1>\n{}\n</body></html>\n",
        reason(status),
        explanation(status)
    );
    format!(
        "HTTP/1.1 {status} {}\r\ncontent-length: {}\r\ncache-control: no-cache\r\n\
         content-type: text/html\r\nconnection: close\r\n\r\n{body}",
        reason(status),
        body.len()
    )
    .into_bytes()
}

/// Pre-rendered error responses of one frontend: defaults plus `errorfiles`.
#[derive(Debug, Clone, Default)]
pub struct ErrorPages {
    custom: HashMap<u16, Vec<u8>>,
}

impl ErrorPages {
    /// The error pages of a frontend from its `errorfiles`, which the configuration already
    /// read and checked (a bounded, complete HTTP response each, see
    /// `percore_conf::errorfile`): shards never read files.
    pub fn new(files: &[ErrorFile]) -> Self {
        let custom = files
            .iter()
            .map(|f| (f.status, f.response.clone()))
            .collect();
        ErrorPages { custom }
    }

    /// The response to send for `status`.
    pub fn page(&self, status: u16) -> Vec<u8> {
        self.custom
            .get(&status)
            .cloned()
            .unwrap_or_else(|| default_page(status))
    }
}

/// A redirect response (`connection` as the caller decides).
pub fn redirect(code: u16, location: &str, close: bool) -> Vec<u8> {
    format!(
        "HTTP/1.1 {code} {}\r\nlocation: {location}\r\ncontent-length: 0\r\ncache-control: no-cache\r\n{}\r\n",
        reason(code),
        if close { "connection: close\r\n" } else { "" }
    )
    .into_bytes()
}

/// A `return` response.
pub fn fixed(status: u16, content_type: &str, body: &str, close: bool) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n{}\r\n{body}",
        reason(status),
        body.len(),
        if close { "connection: close\r\n" } else { "" }
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_page_is_a_valid_response() {
        let p = String::from_utf8(default_page(503)).expect("utf8");
        let (head, body) = p.split_once("\r\n\r\n").expect("head");
        assert!(head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert!(head.contains("connection: close"));
        assert!(body.contains("No server is available"));
    }

    #[test]
    fn errorfiles_replace_defaults() {
        let busy = b"HTTP/1.1 503 Busy\r\ncontent-length: 4\r\n\r\nbusy".to_vec();
        let pages = ErrorPages::new(&[ErrorFile {
            status: 503,
            path: "503.http".into(),
            response: busy.clone(),
        }]);
        assert_eq!(pages.page(503), busy);
        assert!(pages.page(502).starts_with(b"HTTP/1.1 502 Bad Gateway"));
    }
}
