//! The access-log line builder: a finished exchange's (HTTP) or stream's (TCP) [`Record`]
//! and a few facts about the proxy at that moment, rendered through a [`LogFormat`] —
//! HAProxy 2.6's `httplog` / `tcplog` layouts by default, byte for byte, or the operator's
//! `log_format`.
//!
//! Pure: no clock, no shard. The shard (`shard/account.rs`) gathers the facts.

use std::fmt::Write;
use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

use percore_conf::logformat::{LogFormat, LogItem, LogVar};

use crate::ids::StreamId;
use crate::stream::Record;

/// What a line says besides the record.
#[derive(Debug, Clone)]
pub struct LineFacts<'a> {
    /// The client address (announced by a PROXY header, if any).
    pub client: SocketAddr,
    /// Frontend name.
    pub frontend: &'a str,
    /// Backend name; for an exchange that never reached a backend (bad request, frontend
    /// rule), the frontend's, as HAProxy.
    pub backend: &'a str,
    /// Server name; `None` writes `<NOSRV>`.
    pub server: Option<&'a str>,
    /// Wall-clock time of `Record::started`.
    pub started: SystemTime,
    /// Streams open on the shard, the frontend, the backend and the server.
    pub conns: [usize; 4],
    /// The stream.
    pub stream: StreamId,
    /// What the client's TLS handshake negotiated (`None`: plain connection).
    pub tls: Option<crate::tls::TlsFacts>,
}

/// Renders one line of `r` through `format` into `out` (no newline). Runs of spaces are
/// one separator, written only after something else was, so that variables writing
/// nothing (`%hr`, `%hs`) leave no double space — HAProxy's rule.
pub fn render(out: &mut String, format: &LogFormat, facts: &LineFacts<'_>, r: &Record) {
    let mut after_space = true;
    for item in &format.items {
        match item {
            LogItem::Text(t) => {
                out.push_str(t);
                after_space = false;
            }
            LogItem::Separator => {
                if !after_space {
                    out.push(' ');
                    after_space = true;
                }
            }
            LogItem::Var { var, quoted } => {
                let before = out.len();
                if *quoted {
                    out.push('"');
                }
                var_value(out, *var, facts, r);
                if *quoted {
                    out.push('"');
                }
                after_space &= out.len() == before;
            }
        }
    }
}

/// Milliseconds from `from` to `to`, or -1 when `to` never happened.
fn ms_between(to: Option<Instant>, from: Instant) -> i64 {
    to.map_or(-1, |t| t.saturating_duration_since(from).as_millis() as i64)
}

/// HAProxy's timers of `r`: (TR, Tw, Tc, Tr, Ta/Tt). HTTP: `Tc` excludes the queue and
/// counts from the end of the head; TCP: `Tw` is 0 when never queued and `Tc` counts from
/// the accept.
fn timers(r: &Record) -> (i64, i64, i64, i64, i64) {
    let total = r.ended.saturating_duration_since(r.started).as_millis() as i64;
    if !r.http {
        let tw = r.queued_ms.map_or(0, i64::from);
        return (-1, tw, ms_between(r.connected_at, r.started), -1, total);
    }
    let tr_head = ms_between(r.head_at, r.started);
    let tw = r.queued_ms.map_or(-1, i64::from);
    let tc = match (r.connected_at, r.head_at) {
        (Some(c), Some(h)) => c.saturating_duration_since(h).as_millis() as i64 - tw.max(0),
        _ => -1,
    };
    let tr = match (r.response_at, r.connected_at) {
        (Some(resp), Some(c)) => resp.saturating_duration_since(c).as_millis() as i64,
        _ => -1,
    };
    (tr_head, tw, tc, tr, total)
}

fn var_value(out: &mut String, var: LogVar, f: &LineFacts<'_>, r: &Record) {
    let (t_head, tw, tc, tr, total) = timers(r);
    // Writing into a String cannot fail.
    let _ = match var {
        LogVar::ClientIp => write!(out, "{}", f.client.ip()),
        LogVar::ClientPort => write!(out, "{}", f.client.port()),
        LogVar::RequestDate | LogVar::AcceptDate => {
            out.push_str(&super::haproxy_date(f.started));
            Ok(())
        }
        LogVar::Frontend => write!(out, "{}", f.frontend),
        LogVar::Backend => write!(out, "{}", f.backend),
        LogVar::Server => write!(out, "{}", f.server.unwrap_or("<NOSRV>")),
        LogVar::RequestTime => write!(out, "{t_head}"),
        LogVar::QueueTime => write!(out, "{tw}"),
        LogVar::ConnectTime => write!(out, "{tc}"),
        LogVar::ResponseTime => write!(out, "{tr}"),
        LogVar::ActiveTime | LogVar::TotalTime => write!(out, "{total}"),
        LogVar::Status => write!(out, "{}", r.status),
        LogVar::BytesOut => write!(out, "{}", r.bytes_out),
        LogVar::BytesIn => write!(out, "{}", r.bytes_in),
        LogVar::RequestCookie | LogVar::ResponseCookie => write!(out, "-"),
        LogVar::TerminationState => write!(out, "{}", r.termination),
        LogVar::TerminationStateCookie => write!(out, "{}--", r.termination),
        LogVar::ActiveConns => write!(out, "{}", f.conns[0]),
        LogVar::FrontendConns => write!(out, "{}", f.conns[1]),
        LogVar::BackendConns => write!(out, "{}", f.conns[2]),
        LogVar::ServerConns => write!(out, "{}", f.conns[3]),
        LogVar::Retries => write!(out, "{}", r.retries),
        LogVar::ServerQueue | LogVar::BackendQueue => write!(out, "0"),
        LogVar::RequestHeaders | LogVar::ResponseHeaders => Ok(()),
        LogVar::RequestLine if r.request_line.is_empty() => write!(out, "<BADREQ>"),
        LogVar::RequestLine => {
            escape(out, &r.request_line);
            Ok(())
        }
        LogVar::Method | LogVar::Uri | LogVar::Path | LogVar::Query | LogVar::Version => {
            escape(out, request_part(var, &r.request_line));
            Ok(())
        }
        LogVar::StreamId => write!(out, "{}", f.stream),
        LogVar::Pid => write!(out, "{}", std::process::id()),
        LogVar::SslVersion => write!(out, "{}", f.tls.map_or("-", |t| t.version_name())),
        LogVar::SslCipher => write!(out, "{}", f.tls.map_or("-", |t| t.cipher_name())),
    };
}

/// The part of a `METHOD URI VERSION` request line a variable names; `-` when absent.
fn request_part(var: LogVar, line: &str) -> &str {
    let mut words = line.splitn(3, ' ');
    let (method, uri, version) = (words.next(), words.next(), words.next());
    let part = match var {
        LogVar::Method => method,
        LogVar::Uri => uri,
        LogVar::Path => uri.map(|u| u.split_once('?').map_or(u, |(p, _)| p)),
        LogVar::Query => uri.and_then(|u| u.find('?').map(|i| &u[i..])),
        _ => version,
    };
    part.filter(|p| !p.is_empty()).unwrap_or("-")
}

/// Appends `text` with HAProxy's escaping of logged URIs: control bytes, bytes ≥ 127, `"`
/// and `#` become `#XX` (upper-case hex), so a line never breaks or unbalances its quotes.
fn escape(out: &mut String, text: &str) {
    for b in text.bytes() {
        if !(32..127).contains(&b) || b == b'"' || b == b'#' {
            let _ = write!(out, "#{b:02X}");
        } else {
            out.push(b as char);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::ids::ServerKey;
    use crate::termination::{Cause, Phase, Termination};

    /// 2026-12-02 03:19:26.497 UTC, the date of the captured HAProxy lines.
    fn date() -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(1_796_181_566_497)
    }

    fn facts<'a>(backend: &'a str, server: Option<&'a str>) -> LineFacts<'a> {
        LineFacts {
            client: "127.0.0.1:34502".parse().expect("addr"),
            frontend: "web",
            backend,
            server,
            started: date(),
            conns: [1, 1, 0, 0],
            stream: StreamId(0x1000000000002a),
            tls: None,
        }
    }

    fn line(format: &LogFormat, f: &LineFacts<'_>, r: &Record) -> String {
        let mut out = String::new();
        render(&mut out, format, f, r);
        out
    }

    fn ok_exchange() -> Record {
        let t = Instant::now();
        let ms = Duration::from_millis;
        let mut r = Record::new(0, t, true);
        r.head_at = Some(t);
        r.queued_ms = Some(0);
        r.connected_at = Some(t);
        r.response_at = Some(t + ms(7));
        r.ended = t + ms(7);
        r.status = 404;
        r.bytes_out = 500;
        r.server = Some(ServerKey::default());
        r.request_line = "GET /x?y=1 HTTP/1.1".into();
        r
    }

    /// The line HAProxy 2.6 wrote for the same exchange (captured, `option httplog`).
    #[test]
    fn httplog_is_haproxys() {
        assert_eq!(
            line(
                &LogFormat::httplog(),
                &facts("app", Some("s1")),
                &ok_exchange()
            ),
            "127.0.0.1:34502 [02/Dec/2026:03:19:26.497] web app/s1 0/0/0/7/7 404 500 - - ---- \
             1/1/0/0/0 0/0 \"GET /x?y=1 HTTP/1.1\""
        );
    }

    /// A bad request: frontend/<NOSRV>, `<BADREQ>`, `PR--`, timers -1 but the total.
    #[test]
    fn bad_request_is_haproxys() {
        let t = Instant::now();
        let mut r = Record::new(0, t, true);
        r.status = 400;
        r.termination = Termination::new(Cause::ProxyRefused, Phase::Request);
        assert_eq!(
            line(&LogFormat::httplog(), &facts("web", None), &r),
            "127.0.0.1:34502 [02/Dec/2026:03:19:26.497] web web/<NOSRV> -1/-1/-1/-1/0 400 0 - - \
             PR-- 1/1/0/0/0 0/0 \"<BADREQ>\""
        );
    }

    #[test]
    fn killed_and_timed_out_exchanges_keep_the_layout() {
        let mut r = ok_exchange();
        r.response_at = None;
        r.status = 0;
        r.bytes_out = 0;
        r.termination = Termination::new(Cause::Killed, Phase::Headers);
        let got = line(&LogFormat::httplog(), &facts("app", Some("s1")), &r);
        assert!(
            got.contains(" app/s1 0/0/0/-1/7 0 0 - - KH-- 1/1/0/0/0 0/0 \"GET "),
            "{got}"
        );
        r.termination = Termination::new(Cause::ServerTimeout, Phase::Headers);
        r.status = 504;
        let got = line(&LogFormat::httplog(), &facts("app", Some("s1")), &r);
        assert!(got.contains(" 504 0 - - sH-- "), "{got}");
    }

    /// HAProxy's tcplog line for a stream of 500 bytes to the client, connected in 0 ms,
    /// 4 ms long.
    #[test]
    fn tcplog_is_haproxys() {
        let t = Instant::now();
        let mut r = Record::new(0, t, false);
        r.queued_ms = Some(1);
        r.connected_at = Some(t);
        r.ended = t + Duration::from_millis(4);
        r.bytes_out = 500;
        r.server = Some(ServerKey::default());
        let mut f = facts("tcpx", Some("t1"));
        f.frontend = "tcpx";
        f.client = "127.0.0.1:50960".parse().expect("addr");
        assert_eq!(
            line(&LogFormat::tcplog(), &f, &r),
            "127.0.0.1:50960 [02/Dec/2026:03:19:26.497] tcpx tcpx/t1 1/0/4 500 -- 1/1/0/0/0 0/0"
        );
        r.termination = Termination::new(Cause::Killed, Phase::Data);
        assert!(line(&LogFormat::tcplog(), &f, &r).contains(" 500 KD 1/1/0/0/0 0/0"));
    }

    #[test]
    fn ipv6_clients_and_escaped_request_lines() {
        let mut f = facts("app", Some("s1"));
        f.client = "[::1]:8080".parse().expect("addr");
        let mut r = ok_exchange();
        r.request_line = "GET /a\"b#c\u{e9} HTTP/1.1".into();
        let got = line(&LogFormat::httplog(), &f, &r);
        assert!(got.starts_with("::1:8080 ["), "{got}");
        assert!(got.ends_with("\"GET /a#22b#23c#C3#A9 HTTP/1.1\""), "{got}");
    }

    #[test]
    fn custom_format_has_percore_fields_through_haproxy_variables() {
        let format = LogFormat::parse("%ci %HM %HP %HQ %HV %U %Tt %ID %{+Q}ft%%").expect("ok");
        let got = line(&format, &facts("app", Some("s1")), &ok_exchange());
        assert_eq!(
            got,
            "127.0.0.1 GET /x ?y=1 HTTP/1.1 0 7 0x1000000000002a \"web\"%"
        );
    }
}
