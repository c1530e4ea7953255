//! The YAML schema as serde structs: shapes and scalar types only, `deny_unknown_fields`
//! everywhere, so a misspelt key is an error with a hint rather than a silent default.
//!
//! Values stay as written (durations and sizes as text, integers as `i64`) so that `validate`
//! can name the bound a value breaks. Keys the design has but the engine does not implement
//! yet are accepted here as `_key: IgnoredAny` fields, never read: `not_yet` refuses them from
//! the tree. An explicit null (`key:` with no value) counts as absent, as in serde_yaml.

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

use crate::config::{Level, Mode, ProxyVersion};
use crate::de::OCTAL_TEXT;

/// The whole document.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub(crate) global: Option<RawGlobal>,
    pub(crate) defaults: Option<RawDefaults>,
    pub(crate) frontends: Option<Named<RawFrontend>>,
    pub(crate) backends: Option<Named<RawBackend>>,
}

/// `global`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGlobal {
    pub(crate) shards: Option<RawShards>,
    pub(crate) maxconn: Option<Int>,
    pub(crate) grace: Option<String>,
    pub(crate) timeout: Option<RawGlobalTimeouts>,
    pub(crate) control_cpu: Option<Int>,
    pub(crate) admin: Option<RawAdmin>,
    pub(crate) log: Option<RawLog>,
    pub(crate) tune: Option<RawTune>,
    pub(crate) metrics: Option<RawMetrics>,
}

/// `global.timeout`: the process-wide timeouts; durations as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGlobalTimeouts {
    pub(crate) cli: Option<String>,
}

/// `global.metrics`: the Prometheus endpoint.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMetrics {
    pub(crate) bind: Option<String>,
    pub(crate) allow_remote: Option<bool>,
}

/// `global.shards`: `auto`, a count, or a list of CPU ids.
#[derive(Debug)]
pub(crate) enum RawShards {
    Auto,
    Count(i64),
    Cpus(Vec<Int>),
}

/// `global.admin`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAdmin {
    pub(crate) socket: String,
    pub(crate) mode: Option<OctalText>,
    pub(crate) level: Option<Level>,
    pub(crate) extra: Option<Vec<RawAdminListener>>,
}

/// One entry of `global.admin.extra`: exactly one of `socket` and `bind` (checked later).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAdminListener {
    pub(crate) socket: Option<String>,
    pub(crate) bind: Option<String>,
    pub(crate) mode: Option<OctalText>,
    pub(crate) level: Option<Level>,
    pub(crate) allow_remote: Option<bool>,
}

/// `global.log`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLog {
    pub(crate) target: Option<String>,
    pub(crate) format: Option<LogFormatName>,
    pub(crate) access: Option<bool>,
    pub(crate) facility: Option<Facility>,
    pub(crate) tag: Option<String>,
    pub(crate) sample: Option<Int>,
    pub(crate) rate_max: Option<Int>,
    pub(crate) log_format: Option<String>,
}

/// `global.log.format`: `haproxy` (raw on stderr and files, RFC 3164 to syslog), or one
/// framing named as in HAProxy's `log … format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogFormatName {
    Haproxy,
    Raw,
    Rfc3164,
    Rfc5424,
}

/// `global.log.facility`: the syslog facility names, in their numeric order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Facility {
    Kern,
    User,
    Mail,
    Daemon,
    Auth,
    Syslog,
    Lpr,
    News,
    Uucp,
    Cron,
    Auth2,
    Ftp,
    Ntp,
    Audit,
    Alert,
    Cron2,
    Local0,
    Local1,
    Local2,
    Local3,
    Local4,
    Local5,
    Local6,
    Local7,
}

/// `global.tune`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTune {
    pub(crate) bufsize: Option<String>,
    pub(crate) control_ring: Option<Int>,
    pub(crate) io_memory: Option<String>,
    pub(crate) tls_ticket_rotation: Option<String>,
    pub(crate) backlog: Option<Int>,
    pub(crate) max_header_size: Option<String>,
    pub(crate) max_headers: Option<Int>,
}

/// `defaults`: values every frontend and backend inherits.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDefaults {
    pub(crate) mode: Option<Mode>,
    pub(crate) timeout: Option<RawTimeouts>,
    pub(crate) retries: Option<Int>,
    pub(crate) redispatch: Option<bool>,
    pub(crate) maxconn: Option<Int>,
    pub(crate) balance: Option<String>,
}

/// A `timeout` mapping; durations as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTimeouts {
    pub(crate) connect: Option<String>,
    pub(crate) client: Option<String>,
    pub(crate) server: Option<String>,
    pub(crate) tunnel: Option<String>,
    pub(crate) http_request: Option<String>,
    pub(crate) http_keep_alive: Option<String>,
    pub(crate) queue: Option<String>,
}

/// One entry of `frontends`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFrontend {
    pub(crate) bind: RawBind,
    pub(crate) mode: Option<Mode>,
    pub(crate) maxconn: Option<Int>,
    pub(crate) timeout: Option<RawTimeouts>,
    pub(crate) default_backend: Option<String>,
    pub(crate) use_backend: Option<Vec<RawRoute>>,
    pub(crate) forwardfor: Option<bool>,
    pub(crate) accept_proxy: Option<bool>,
    pub(crate) http_request: Option<Vec<RawRequestRule>>,
    pub(crate) http_response: Option<Vec<RawResponseRule>>,
    pub(crate) errorfiles: Option<Named<String>>,
}

/// One `use_backend` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRoute {
    pub(crate) backend: String,
    pub(crate) when: RawCondition,
}

/// A `when` mapping: every key present must hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCondition {
    pub(crate) host: Option<RawStrings>,
    pub(crate) path_prefix: Option<RawStrings>,
    pub(crate) path_regex: Option<String>,
    pub(crate) method: Option<RawStrings>,
    pub(crate) header: Option<RawHeaderMatch>,
    pub(crate) src: Option<RawStrings>,
    pub(crate) sni: Option<RawStrings>,
    pub(crate) alpn: Option<RawStrings>,
    pub(crate) all: Option<Vec<RawCondition>>,
    pub(crate) any: Option<Vec<RawCondition>>,
    pub(crate) not: Option<Box<RawCondition>>,
}

/// `header: { name, value | prefix }` in a condition.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHeaderMatch {
    pub(crate) name: String,
    pub(crate) value: Option<String>,
    pub(crate) prefix: Option<String>,
}

/// `{ name, value }` of a header action.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHeaderValue {
    pub(crate) name: String,
    pub(crate) value: String,
}

/// `redirect: { location, code }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRedirect {
    pub(crate) location: String,
    pub(crate) code: Option<Int>,
}

/// `return: { status, body, content_type }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReturn {
    pub(crate) status: Int,
    pub(crate) body: Option<String>,
    pub(crate) content_type: Option<String>,
}

/// One `http_request` rule: an optional `when` and exactly one action (checked later).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRequestRule {
    pub(crate) when: Option<RawCondition>,
    pub(crate) set_header: Option<RawHeaderValue>,
    pub(crate) add_header: Option<RawHeaderValue>,
    pub(crate) del_header: Option<String>,
    pub(crate) deny: Option<Int>,
    pub(crate) redirect: Option<RawRedirect>,
    #[serde(rename = "return")]
    pub(crate) return_: Option<RawReturn>,
}

/// One `http_response` rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawResponseRule {
    pub(crate) when: Option<RawCondition>,
    pub(crate) set_header: Option<RawHeaderValue>,
    pub(crate) add_header: Option<RawHeaderValue>,
    pub(crate) del_header: Option<String>,
}

/// A string or a list of strings.
#[derive(Debug)]
pub(crate) enum RawStrings {
    One(String),
    List(Vec<String>),
}

/// `bind`: one entry or a list of them; which form was used decides the error paths.
#[derive(Debug)]
pub(crate) enum RawBind {
    One(RawBindEntry),
    List(Vec<RawBindEntry>),
}

/// One bind: an address, or a mapping with the address and its TLS settings.
#[derive(Debug)]
pub(crate) enum RawBindEntry {
    Address(String),
    Full(RawBindMap),
}

/// The mapping form of a bind entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBindMap {
    pub(crate) address: String,
    pub(crate) tls: Option<RawTls>,
}

/// A bind's `tls` mapping.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTls {
    pub(crate) certs: Vec<String>,
    pub(crate) alpn: Option<Vec<String>>,
    pub(crate) min_version: Option<String>,
    pub(crate) max_version: Option<String>,
    pub(crate) ciphers: Option<Vec<String>>,
    pub(crate) client_ca: Option<String>,
    pub(crate) verify: Option<String>,
    pub(crate) strict_sni: Option<bool>,
}

/// A backend's or a server's `tls` mapping (TLS toward the server); a server's keys
/// override its backend's one by one.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServerTls {
    pub(crate) verify: Option<String>,
    pub(crate) ca: Option<String>,
    pub(crate) sni: Option<String>,
    pub(crate) alpn: Option<Vec<String>>,
    pub(crate) cert: Option<String>,
}

impl RawBindEntry {
    /// The address text.
    pub(crate) fn address(&self) -> &str {
        match self {
            RawBindEntry::Address(text) => text,
            RawBindEntry::Full(map) => &map.address,
        }
    }
}

/// One entry of `backends`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBackend {
    pub(crate) mode: Option<Mode>,
    pub(crate) balance: Option<String>,
    pub(crate) retries: Option<Int>,
    pub(crate) redispatch: Option<bool>,
    pub(crate) timeout: Option<RawTimeouts>,
    pub(crate) servers: Vec<RawServer>,
    pub(crate) http_reuse: Option<crate::http::HttpReuse>,
    pub(crate) pool_max_idle: Option<Int>,
    pub(crate) pool_idle_timeout: Option<String>,
    pub(crate) check: Option<RawCheck>,
    pub(crate) on_marked_down: Option<crate::check::OnMarkedDown>,
    pub(crate) on_marked_up: Option<crate::check::OnMarkedUp>,
    pub(crate) allbackups: Option<bool>,
    pub(crate) hash_type: Option<crate::config::HashType>,
    pub(crate) uri_len: Option<Int>,
    pub(crate) uri_depth: Option<Int>,
    pub(crate) fullconn: Option<Int>,
    pub(crate) tls: Option<RawServerTls>,
}

/// One entry of a backend's `servers`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServer {
    pub(crate) name: String,
    pub(crate) address: String,
    pub(crate) weight: Option<Int>,
    pub(crate) send_proxy: Option<ProxyVersion>,
    pub(crate) maxconn: Option<Int>,
    pub(crate) backup: Option<bool>,
    pub(crate) check: Option<RawServerCheck>,
    pub(crate) slowstart: Option<String>,
    pub(crate) minconn: Option<Int>,
    pub(crate) tls: Option<RawServerTls>,
}

/// A backend's `check` mapping; also the per-server override (every key optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCheck {
    #[serde(rename = "type")]
    pub(crate) kind: Option<crate::check::CheckKind>,
    pub(crate) path: Option<String>,
    pub(crate) method: Option<String>,
    pub(crate) host: Option<String>,
    pub(crate) expect_status: Option<RawStatusRange>,
    pub(crate) disable_on_404: Option<bool>,
    pub(crate) inter: Option<String>,
    pub(crate) fastinter: Option<String>,
    pub(crate) downinter: Option<String>,
    pub(crate) rise: Option<Int>,
    pub(crate) fall: Option<Int>,
    pub(crate) timeout: Option<String>,
    pub(crate) observe: Option<crate::check::Observe>,
    pub(crate) error_limit: Option<Int>,
    pub(crate) on_error: Option<crate::check::OnError>,
}

/// A server's `check`: `false` (no checks), `true`, or overrides of the backend's check.
#[derive(Debug)]
pub(crate) enum RawServerCheck {
    Enabled(bool),
    Override(Box<RawCheck>),
}

/// `expect_status`: a code (`200`) or a range (`"200-399"`).
#[derive(Debug)]
pub(crate) enum RawStatusRange {
    Code(i64),
    Text(String),
}

/// A mapping from names to sections (`frontends`, `backends`), in file order.
#[derive(Debug)]
pub(crate) struct Named<T>(pub(crate) Vec<(String, T)>);

/// An integer as written; `validate` checks its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Int(pub(crate) i64);

/// A file mode, which must be written quoted (`"0600"`); octal digits are checked later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OctalText(pub(crate) String);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IntVisitor;

        impl Visitor<'_> for IntVisitor {
            type Value = Int;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer")
            }

            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Int, E> {
                Ok(Int(n))
            }

            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Int, E> {
                i64::try_from(n)
                    .map(Int)
                    .map_err(|_| E::custom(format!("integer {n} is out of range")))
            }
        }

        deserializer.deserialize_any(IntVisitor)
    }
}

impl<'de> Deserialize<'de> for RawShards {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ShardsVisitor;

        impl<'de> Visitor<'de> for ShardsVisitor {
            type Value = RawShards;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`auto`, a number of shards or a list of CPU ids")
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawShards, E> {
                if s == "auto" {
                    return Ok(RawShards::Auto);
                }
                Err(E::invalid_value(de::Unexpected::Str(s), &self))
            }

            fn visit_i64<E: de::Error>(self, n: i64) -> Result<RawShards, E> {
                Ok(RawShards::Count(n))
            }

            fn visit_u64<E: de::Error>(self, n: u64) -> Result<RawShards, E> {
                i64::try_from(n)
                    .map(RawShards::Count)
                    .map_err(|_| E::custom(format!("integer {n} is out of range")))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawShards, A::Error> {
                let mut cpus = Vec::new();
                while let Some(cpu) = seq.next_element::<Int>()? {
                    cpus.push(cpu);
                }
                Ok(RawShards::Cpus(cpus))
            }
        }

        deserializer.deserialize_any(ShardsVisitor)
    }
}

impl<'de> Deserialize<'de> for RawBind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BindVisitor;

        impl<'de> Visitor<'de> for BindVisitor {
            type Value = RawBind;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "an address such as \"127.0.0.1:8080\", a mapping with `address` (and \
                     `tls`), or a list of them",
                )
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawBind, E> {
                Ok(RawBind::One(RawBindEntry::Address(s.to_owned())))
            }

            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<RawBind, A::Error> {
                let full = RawBindMap::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RawBind::One(RawBindEntry::Full(full)))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawBind, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = seq.next_element::<RawBindEntry>()? {
                    entries.push(entry);
                }
                Ok(RawBind::List(entries))
            }
        }

        deserializer.deserialize_any(BindVisitor)
    }
}

impl<'de> Deserialize<'de> for RawBindEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntryVisitor;

        impl<'de> Visitor<'de> for EntryVisitor {
            type Value = RawBindEntry;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "an address such as \"127.0.0.1:8080\" or a mapping with `address` (and \
                     `tls`)",
                )
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawBindEntry, E> {
                Ok(RawBindEntry::Address(s.to_owned()))
            }

            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<RawBindEntry, A::Error> {
                let full = RawBindMap::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RawBindEntry::Full(full))
            }
        }

        deserializer.deserialize_any(EntryVisitor)
    }
}

impl<'de> Deserialize<'de> for RawStrings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StringsVisitor;

        impl<'de> Visitor<'de> for StringsVisitor {
            type Value = RawStrings;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawStrings, E> {
                Ok(RawStrings::One(s.to_owned()))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawStrings, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    items.push(item);
                }
                Ok(RawStrings::List(items))
            }
        }

        deserializer.deserialize_any(StringsVisitor)
    }
}

impl<'de> Deserialize<'de> for RawServerCheck {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CheckVisitor;

        impl<'de> Visitor<'de> for CheckVisitor {
            type Value = RawServerCheck;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true, false or a check mapping")
            }

            fn visit_bool<E: de::Error>(self, b: bool) -> Result<RawServerCheck, E> {
                Ok(RawServerCheck::Enabled(b))
            }

            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<RawServerCheck, A::Error> {
                RawCheck::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|c| RawServerCheck::Override(Box::new(c)))
            }
        }

        deserializer.deserialize_any(CheckVisitor)
    }
}

impl<'de> Deserialize<'de> for RawStatusRange {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StatusVisitor;

        impl Visitor<'_> for StatusVisitor {
            type Value = RawStatusRange;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a status code such as 200 or a range such as \"200-399\"")
            }

            fn visit_i64<E: de::Error>(self, n: i64) -> Result<RawStatusRange, E> {
                Ok(RawStatusRange::Code(n))
            }

            fn visit_u64<E: de::Error>(self, n: u64) -> Result<RawStatusRange, E> {
                Ok(RawStatusRange::Code(i64::try_from(n).unwrap_or(i64::MAX)))
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawStatusRange, E> {
                Ok(RawStatusRange::Text(s.to_owned()))
            }
        }

        deserializer.deserialize_any(StatusVisitor)
    }
}

impl<'de> Deserialize<'de> for OctalText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OctalVisitor;

        impl Visitor<'_> for OctalVisitor {
            type Value = OctalText;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a quoted octal string such as \"0600\"")
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<OctalText, E> {
                Ok(OctalText(s.to_owned()))
            }
        }

        deserializer.deserialize_newtype_struct(OCTAL_TEXT, OctalVisitor)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Named<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NamedVisitor<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for NamedVisitor<T> {
            type Value = Named<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping from names to sections")
            }

            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Named<T>, A::Error> {
                let mut entries = Vec::new();
                while let Some((name, section)) = map.next_entry::<String, T>()? {
                    entries.push((name, section));
                }
                Ok(Named(entries))
            }
        }

        deserializer.deserialize_map(NamedVisitor(std::marker::PhantomData))
    }
}
