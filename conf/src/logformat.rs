//! HAProxy log-format templates (`global.log.log_format`, and the built-in `httplog` and
//! `tcplog` layouts): text with `%`-variables, parsed once at configuration time into
//! [`LogFormat`] so that rendering a line never parses anything.
//!
//! Only the variables percore has a value for are known ([`LogVar`]); any other is refused
//! with its name, so an operator never gets a silently empty field. The one flag taken is
//! `+Q` (quote the value), as in HAProxy's own `%{+Q}r`.

use std::fmt;

/// HAProxy 2.6's `option httplog` layout.
pub const HTTPLOG: &str = "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc \
                           %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r";

/// HAProxy 2.6's `option tcplog` layout.
pub const TCPLOG: &str = "%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq";

/// Longest template accepted, in bytes: far above HAProxy's own layouts (≈ 100 bytes), small
/// enough that a template cannot make every line huge by itself.
pub const LOG_FORMAT_BYTES_MAX: usize = 1024;

/// A parsed template: literal text, separators and variables in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFormat {
    /// The items, in template order.
    pub items: Vec<LogItem>,
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogItem {
    /// Text copied as is.
    Text(String),
    /// A run of spaces: one space, written only when something was written since the last
    /// one (HAProxy collapses the separators around variables that write nothing, `%hr`).
    Separator,
    /// A variable.
    Var {
        /// Which value.
        var: LogVar,
        /// `%{+Q}`: the value is written between double quotes.
        quoted: bool,
    },
}

/// The HAProxy log-format variables percore fills; see HAProxy's configuration.txt §8.2.4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogVar {
    /// `%ci`: client IP (the one a PROXY header announced, if any).
    ClientIp,
    /// `%cp`: client port.
    ClientPort,
    /// `%tr`: date the request started, `dd/Mmm/yyyy:hh:mm:ss.mmm`.
    RequestDate,
    /// `%t`: date the stream was accepted.
    AcceptDate,
    /// `%ft` and `%f`: frontend name.
    Frontend,
    /// `%b`: backend name (the frontend's when none was chosen).
    Backend,
    /// `%s`: server name, `<NOSRV>` when none was reached.
    Server,
    /// `%TR`: time to receive the request head, ms (-1 when it never came).
    RequestTime,
    /// `%Tw`: time waiting in the queue, ms.
    QueueTime,
    /// `%Tc`: time to connect to the server, ms.
    ConnectTime,
    /// `%Tr`: time for the server to answer with a head, ms.
    ResponseTime,
    /// `%Ta`: active time of the request, ms.
    ActiveTime,
    /// `%Tt`: total time of the stream, ms.
    TotalTime,
    /// `%ST`: HTTP status sent to the client.
    Status,
    /// `%B`: bytes sent to the client.
    BytesOut,
    /// `%U`: bytes received from the client.
    BytesIn,
    /// `%CC`: captured request cookie (`-`: percore captures none).
    RequestCookie,
    /// `%CS`: captured response cookie (`-`).
    ResponseCookie,
    /// `%ts`: the two-character termination state.
    TerminationState,
    /// `%tsc`: the termination state with the two cookie characters (`--`).
    TerminationStateCookie,
    /// `%ac`: streams open on the shard.
    ActiveConns,
    /// `%fc`: streams open on the frontend (this shard).
    FrontendConns,
    /// `%bc`: streams open on the backend (this shard).
    BackendConns,
    /// `%sc`: streams open on the server (this shard).
    ServerConns,
    /// `%rc`: connection retries.
    Retries,
    /// `%sq`: server queue length (0: percore's queue is per shard and not reported here).
    ServerQueue,
    /// `%bq`: backend queue length (0, as `%sq`).
    BackendQueue,
    /// `%hr`: captured request headers (none: writes nothing).
    RequestHeaders,
    /// `%hs`: captured response headers (none: writes nothing).
    ResponseHeaders,
    /// `%r`: the request line, `<BADREQ>` when no valid one was received.
    RequestLine,
    /// `%HM`: request method.
    Method,
    /// `%HU`: request URI.
    Uri,
    /// `%HP`: request path (URI without query string).
    Path,
    /// `%HQ`: query string, `?` included.
    Query,
    /// `%HV`: HTTP version.
    Version,
    /// `%ID`: percore's stream id in hex (HAProxy's unique id slot).
    StreamId,
    /// `%pid`: process id.
    Pid,
    /// `%sslv`: the client connection's TLS version (`TLSv1.3`), `-` when plain.
    SslVersion,
    /// `%sslc`: the client connection's cipher suite, OpenSSL's name, `-` when plain.
    SslCipher,
}

/// Name ↔ variable, in HAProxy's spelling.
const VARS: &[(&str, LogVar)] = &[
    ("ci", LogVar::ClientIp),
    ("cp", LogVar::ClientPort),
    ("tr", LogVar::RequestDate),
    ("t", LogVar::AcceptDate),
    ("ft", LogVar::Frontend),
    ("f", LogVar::Frontend),
    ("b", LogVar::Backend),
    ("s", LogVar::Server),
    ("TR", LogVar::RequestTime),
    ("Tw", LogVar::QueueTime),
    ("Tc", LogVar::ConnectTime),
    ("Tr", LogVar::ResponseTime),
    ("Ta", LogVar::ActiveTime),
    ("Tt", LogVar::TotalTime),
    ("ST", LogVar::Status),
    ("B", LogVar::BytesOut),
    ("U", LogVar::BytesIn),
    ("CC", LogVar::RequestCookie),
    ("CS", LogVar::ResponseCookie),
    ("ts", LogVar::TerminationState),
    ("tsc", LogVar::TerminationStateCookie),
    ("ac", LogVar::ActiveConns),
    ("fc", LogVar::FrontendConns),
    ("bc", LogVar::BackendConns),
    ("sc", LogVar::ServerConns),
    ("rc", LogVar::Retries),
    ("sq", LogVar::ServerQueue),
    ("bq", LogVar::BackendQueue),
    ("hr", LogVar::RequestHeaders),
    ("hs", LogVar::ResponseHeaders),
    ("r", LogVar::RequestLine),
    ("HM", LogVar::Method),
    ("HU", LogVar::Uri),
    ("HP", LogVar::Path),
    ("HQ", LogVar::Query),
    ("HV", LogVar::Version),
    ("ID", LogVar::StreamId),
    ("pid", LogVar::Pid),
    ("sslv", LogVar::SslVersion),
    ("sslc", LogVar::SslCipher),
];

/// Why a template was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogFormatError {
    /// Longer than [`LOG_FORMAT_BYTES_MAX`].
    TooLong(usize),
    /// A `%` with no variable name after it.
    MissingName(usize),
    /// A `%{` without its `}`.
    UnclosedFlags(usize),
    /// A flag other than `+Q`.
    UnknownFlag(String),
    /// A variable percore has no value for.
    UnknownVar(String),
}

impl fmt::Display for LogFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogFormatError::TooLong(n) => write!(
                f,
                "expected at most {LOG_FORMAT_BYTES_MAX} bytes, found {n}"
            ),
            LogFormatError::MissingName(at) => {
                write!(f, "`%` at byte {at} is not followed by a variable name")
            }
            LogFormatError::UnclosedFlags(at) => write!(f, "`%{{` at byte {at} has no `}}`"),
            LogFormatError::UnknownFlag(flag) => {
                write!(
                    f,
                    "unknown log-format flag `{flag}` (only `+Q` is supported)"
                )
            }
            LogFormatError::UnknownVar(name) => write!(
                f,
                "unknown log-format variable `%{name}`; percore has: {}",
                VARS.iter()
                    .map(|(n, _)| format!("%{n}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        }
    }
}

impl LogFormat {
    /// Parses a template. Accepts `%name`, `%{+Q}name` and `%%` (a literal `%`); refuses
    /// unknown variables and flags, a dangling `%`, and templates over
    /// [`LOG_FORMAT_BYTES_MAX`].
    pub fn parse(text: &str) -> Result<Self, LogFormatError> {
        if text.len() > LOG_FORMAT_BYTES_MAX {
            return Err(LogFormatError::TooLong(text.len()));
        }
        let mut items = Vec::new();
        let mut literal = String::new();
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b' ' => {
                    flush_text(&mut items, &mut literal);
                    if items.last() != Some(&LogItem::Separator) {
                        items.push(LogItem::Separator);
                    }
                    i += 1;
                }
                b'%' if bytes.get(i + 1) == Some(&b'%') => {
                    literal.push('%');
                    i += 2;
                }
                b'%' => {
                    flush_text(&mut items, &mut literal);
                    let (item, next) = parse_var(text, i)?;
                    items.push(item);
                    i = next;
                }
                _ => {
                    let ch = text[i..].chars().next().expect("i is at a char boundary");
                    literal.push(ch);
                    i += ch.len_utf8();
                }
            }
        }
        flush_text(&mut items, &mut literal);
        Ok(LogFormat { items })
    }

    /// HAProxy's `httplog` layout.
    pub fn httplog() -> Self {
        LogFormat::parse(HTTPLOG).expect("the built-in httplog layout parses")
    }

    /// HAProxy's `tcplog` layout.
    pub fn tcplog() -> Self {
        LogFormat::parse(TCPLOG).expect("the built-in tcplog layout parses")
    }
}

fn flush_text(items: &mut Vec<LogItem>, literal: &mut String) {
    if !literal.is_empty() {
        items.push(LogItem::Text(std::mem::take(literal)));
    }
}

/// The variable at `text[at]` (a `%`): the item and the index after it.
fn parse_var(text: &str, at: usize) -> Result<(LogItem, usize), LogFormatError> {
    let mut i = at + 1;
    let mut quoted = false;
    if text[i..].starts_with('{') {
        let close = text[i..]
            .find('}')
            .ok_or(LogFormatError::UnclosedFlags(at))?;
        for flag in text[i + 1..i + close].split(',') {
            match flag {
                "+Q" => quoted = true,
                "-Q" | "" => {}
                other => return Err(LogFormatError::UnknownFlag(other.to_owned())),
            }
        }
        i += close + 1;
    }
    let name_len = text[i..]
        .bytes()
        .take_while(u8::is_ascii_alphanumeric)
        .count();
    if name_len == 0 {
        return Err(LogFormatError::MissingName(at));
    }
    let name = &text[i..i + name_len];
    let var = VARS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .ok_or_else(|| LogFormatError::UnknownVar(name.to_owned()))?;
    Ok((LogItem::Var { var, quoted }, i + name_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_layouts_parse() {
        let http = LogFormat::httplog();
        assert_eq!(
            http.items.last(),
            Some(&LogItem::Var {
                var: LogVar::RequestLine,
                quoted: true
            })
        );
        assert_eq!(
            http.items[..4],
            [
                LogItem::Var {
                    var: LogVar::ClientIp,
                    quoted: false
                },
                LogItem::Text(":".into()),
                LogItem::Var {
                    var: LogVar::ClientPort,
                    quoted: false
                },
                LogItem::Separator,
            ]
        );
        assert!(LogFormat::tcplog().items.len() > 10);
    }

    #[test]
    fn literals_separators_and_percent() {
        let f = LogFormat::parse("a  %%b%ID é").expect("parses");
        assert_eq!(
            f.items,
            [
                LogItem::Text("a".into()),
                LogItem::Separator,
                LogItem::Text("%b".into()),
                LogItem::Var {
                    var: LogVar::StreamId,
                    quoted: false
                },
                LogItem::Separator,
                LogItem::Text("é".into()),
            ]
        );
    }

    #[test]
    fn refusals_name_the_problem() {
        let err = |t: &str| LogFormat::parse(t).expect_err(t);
        assert_eq!(err("%zz"), LogFormatError::UnknownVar("zz".into()));
        assert_eq!(err("x %"), LogFormatError::MissingName(2));
        assert_eq!(err("%{+Q"), LogFormatError::UnclosedFlags(0));
        assert_eq!(err("%{+X}r"), LogFormatError::UnknownFlag("+X".into()));
        assert_eq!(err("%[src]"), LogFormatError::MissingName(0));
        let long = "a".repeat(LOG_FORMAT_BYTES_MAX + 1);
        assert_eq!(
            err(&long),
            LogFormatError::TooLong(LOG_FORMAT_BYTES_MAX + 1)
        );
        assert!(err("%zz").to_string().contains("%ci"));
    }

    /// No input panics: every prefix of tricky templates either parses or is refused.
    #[test]
    fn every_prefix_is_handled() {
        let t = "%{+Q}r %ci:%cp [%tr] é%%{";
        for end in (0..=t.len()).filter(|&e| t.is_char_boundary(e)) {
            let _ = LogFormat::parse(&t[..end]);
        }
    }
}
