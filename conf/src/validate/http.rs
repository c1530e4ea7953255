//! HTTP-mode sections of frontends and backends: `use_backend` routes and their `when`
//! conditions, `http_request` / `http_response` rules, `forwardfor`, `errorfiles`, and the
//! backend's connection reuse settings. HTTP keys on a TCP frontend are refused.

use std::net::IpAddr;
use std::path::PathBuf;

use crate::config::{Mode, Tune};
use crate::de::quote;
use crate::error::Fault;
use crate::errorfile::{self, ErrorFile};
use crate::hint;
use crate::http::{
    BackendHttp, Cidr, Condition, FrontendHttp, HeaderAction, HeaderMatcher, PathRegex,
    RequestAction, RequestRule, ResponseRule, Route,
};
use crate::limits;
use crate::path::YamlPath;
use crate::raw::{
    Int, Named, RawBackend, RawCondition, RawFrontend, RawHeaderValue, RawRequestRule,
    RawResponseRule, RawStrings,
};
use crate::validate::field::{self, Zero};

/// The condition keys, for messages.
const CONDITION_KEYS: &str = "host, path_prefix, path_regex, method, header, src, all, any, not";

/// Builds a frontend's HTTP settings; `backend_mode(name)` gives a backend's index and mode.
/// Errorfiles are read and checked here (bounded by `tune`), see [`errorfile`].
pub(crate) fn frontend(
    raw: &RawFrontend,
    mode: Mode,
    path: &YamlPath,
    backends: &Named<RawBackend>,
    backend_mode: impl Fn(&RawBackend) -> Mode,
    tune: &Tune,
) -> Result<FrontendHttp, Fault> {
    if mode == Mode::Tcp {
        let http_only = [
            ("use_backend", raw.use_backend.is_some()),
            ("forwardfor", raw.forwardfor.is_some()),
            ("http_request", raw.http_request.is_some()),
            ("http_response", raw.http_response.is_some()),
            ("errorfiles", raw.errorfiles.is_some()),
        ];
        if let Some((key, _)) = http_only.iter().find(|(_, set)| *set) {
            return Err(Fault::key(
                &path.key(key),
                format!("{key} needs mode http (this frontend is mode tcp)"),
            ));
        }
        return Ok(FrontendHttp::default());
    }
    let mut http = FrontendHttp {
        forwardfor: raw.forwardfor.unwrap_or(false),
        ..FrontendHttp::default()
    };
    let routes_path = path.key("use_backend");
    let routes = raw.use_backend.as_deref().unwrap_or_default();
    bound_rules(routes.len(), &routes_path)?;
    for (i, r) in routes.iter().enumerate() {
        let item = routes_path.index(i);
        let Some(backend) = backends.0.iter().position(|(b, _)| *b == r.backend) else {
            let hint = match hint::closest(&r.backend, backends.0.iter().map(|(b, _)| b.as_str())) {
                Some(best) => format!(" (did you mean {}?)", quote(best)),
                None => String::new(),
            };
            return Err(Fault::value(
                &item.key("backend"),
                format!("unknown backend {}{hint}", quote(&r.backend)),
            ));
        };
        if backend_mode(&backends.0[backend].1) != Mode::Http {
            return Err(Fault::value(
                &item.key("backend"),
                format!("backend {} is not mode http", quote(&r.backend)),
            ));
        }
        http.routes.push(Route {
            backend,
            when: condition(&r.when, &item.key("when"), 0)?,
        });
    }
    let rules_path = path.key("http_request");
    let rules = raw.http_request.as_deref().unwrap_or_default();
    bound_rules(rules.len(), &rules_path)?;
    for (i, r) in rules.iter().enumerate() {
        http.request_rules
            .push(request_rule(r, &rules_path.index(i))?);
    }
    let rules_path = path.key("http_response");
    let rules = raw.http_response.as_deref().unwrap_or_default();
    bound_rules(rules.len(), &rules_path)?;
    for (i, r) in rules.iter().enumerate() {
        http.response_rules
            .push(response_rule(r, &rules_path.index(i))?);
    }
    if let Some(files) = &raw.errorfiles {
        let files_path = path.key("errorfiles");
        for (status, file) in &files.0 {
            let key_path = files_path.key(status);
            let code = status
                .parse::<u16>()
                .ok()
                .filter(|c| (400..=599).contains(c))
                .ok_or_else(|| {
                    Fault::key(
                        &key_path,
                        format!("expected an error status 400..599, found {}", quote(status)),
                    )
                })?;
            if file.is_empty() {
                return Err(Fault::value(&key_path, "expected a file path"));
            }
            let path = PathBuf::from(file);
            let response = errorfile::read(&path, tune).map_err(|m| Fault::value(&key_path, m))?;
            http.errorfiles.push(ErrorFile {
                status: code,
                path,
                response,
            });
        }
    }
    Ok(http)
}

/// Builds a backend's HTTP settings (also read for TCP backends, where they are unused).
pub(crate) fn backend(raw: &RawBackend, path: &YamlPath) -> Result<BackendHttp, Fault> {
    let mut http = BackendHttp::default();
    if let Some(reuse) = raw.http_reuse {
        http.reuse = reuse;
    }
    if let Some(n) = raw.pool_max_idle {
        http.pool_max_idle =
            field::int_u32(n, &path.key("pool_max_idle"), 0, limits::POOL_MAX_IDLE_MAX)?;
    }
    if let Some(text) = &raw.pool_idle_timeout {
        http.pool_idle_timeout =
            field::duration(text, &path.key("pool_idle_timeout"), Zero::Refused)?;
    }
    Ok(http)
}

fn bound_rules(n: usize, path: &YamlPath) -> Result<(), Fault> {
    if n > limits::RULES_MAX {
        return Err(Fault::value(
            path,
            format!("{n} rules is more than the limit of {}", limits::RULES_MAX),
        ));
    }
    Ok(())
}

/// An ALPN protocol name: 1 to 255 bytes.
fn alpn_name(text: &str, path: &YamlPath) -> Result<String, Fault> {
    if text.is_empty() || text.len() > 255 {
        return Err(Fault::value(path, "an ALPN name is 1 to 255 bytes"));
    }
    Ok(text.to_owned())
}

/// A `when` mapping: one condition, or the `all` of several keys.
pub(crate) fn condition(
    raw: &RawCondition,
    path: &YamlPath,
    depth: usize,
) -> Result<Condition, Fault> {
    if depth > limits::CONDITION_DEPTH_MAX {
        return Err(Fault::value(
            path,
            format!(
                "conditions nested deeper than {} levels",
                limits::CONDITION_DEPTH_MAX
            ),
        ));
    }
    let mut all = Vec::new();
    if let Some(hosts) = &raw.host {
        let p = path.key("host");
        all.push(Condition::Host(strings(hosts, &p, host)?));
    }
    if let Some(prefixes) = &raw.path_prefix {
        let p = path.key("path_prefix");
        all.push(Condition::PathPrefix(strings(prefixes, &p, path_prefix)?));
    }
    if let Some(re) = &raw.path_regex {
        all.push(Condition::PathRegex(regex(re, &path.key("path_regex"))?));
    }
    if let Some(methods) = &raw.method {
        let p = path.key("method");
        all.push(Condition::Method(strings(methods, &p, method)?));
    }
    if let Some(h) = &raw.header {
        let p = path.key("header");
        token(&h.name, &p.key("name"), "a header name")?;
        let matcher = match (&h.value, &h.prefix) {
            (Some(_), Some(_)) => {
                return Err(Fault::key(&p, "expected one of value and prefix, not both"))
            }
            (Some(v), None) => HeaderMatcher::Equals(v.clone()),
            (None, Some(pre)) => HeaderMatcher::Prefix(pre.clone()),
            (None, None) => HeaderMatcher::Present,
        };
        all.push(Condition::Header {
            name: h.name.to_ascii_lowercase(),
            matcher,
        });
    }
    if let Some(nets) = &raw.src {
        let p = path.key("src");
        all.push(Condition::Src(strings(nets, &p, cidr)?));
    }
    if let Some(names) = &raw.sni {
        let p = path.key("sni");
        all.push(Condition::Sni(strings(names, &p, host)?));
    }
    if let Some(protocols) = &raw.alpn {
        let p = path.key("alpn");
        all.push(Condition::Alpn(strings(protocols, &p, alpn_name)?));
    }
    for (key, list) in [("all", &raw.all), ("any", &raw.any)] {
        let Some(list) = list else { continue };
        let p = path.key(key);
        if list.is_empty() {
            return Err(Fault::value(&p, "expected at least one condition"));
        }
        bound_rules(list.len(), &p)?;
        let mut inner = Vec::with_capacity(list.len());
        for (i, c) in list.iter().enumerate() {
            inner.push(condition(c, &p.index(i), depth + 1)?);
        }
        all.push(if key == "all" {
            Condition::All(inner)
        } else {
            Condition::Any(inner)
        });
    }
    if let Some(inner) = &raw.not {
        all.push(Condition::Not(Box::new(condition(
            inner,
            &path.key("not"),
            depth + 1,
        )?)));
    }
    match all.len() {
        0 => Err(Fault::value(
            path,
            format!("expected at least one condition ({CONDITION_KEYS})"),
        )),
        1 => Ok(all.remove(0)),
        _ => Ok(Condition::All(all)),
    }
}

fn strings<T>(
    raw: &RawStrings,
    path: &YamlPath,
    each: impl Fn(&str, &YamlPath) -> Result<T, Fault>,
) -> Result<Vec<T>, Fault> {
    match raw {
        RawStrings::One(s) => Ok(vec![each(s, path)?]),
        RawStrings::List(list) => {
            if list.is_empty() {
                return Err(Fault::value(path, "expected at least one value"));
            }
            list.iter()
                .enumerate()
                .map(|(i, s)| each(s, &path.index(i)))
                .collect()
        }
    }
}

fn host(s: &str, path: &YamlPath) -> Result<String, Fault> {
    let ok = !s.is_empty()
        && s.len() <= 255
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.[]:_".contains(c));
    if !ok {
        return Err(Fault::value(
            path,
            format!("expected a host name, found {}", quote(s)),
        ));
    }
    Ok(s.to_ascii_lowercase())
}

fn path_prefix(s: &str, path: &YamlPath) -> Result<String, Fault> {
    if !s.starts_with('/') || s.chars().any(|c| c.is_ascii_control() || c == ' ') {
        return Err(Fault::value(
            path,
            format!("expected a path starting with /, found {}", quote(s)),
        ));
    }
    Ok(s.to_owned())
}

fn method(s: &str, path: &YamlPath) -> Result<String, Fault> {
    token(s, path, "an HTTP method")?;
    Ok(s.to_owned())
}

fn token(s: &str, path: &YamlPath, what: &str) -> Result<(), Fault> {
    let ok = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c));
    if !ok {
        return Err(Fault::value(
            path,
            format!("expected {what}, found {}", quote(s)),
        ));
    }
    Ok(())
}

fn regex(s: &str, path: &YamlPath) -> Result<PathRegex, Fault> {
    regex::RegexBuilder::new(s)
        .size_limit(limits::REGEX_SIZE_MAX)
        .build()
        .map(PathRegex)
        .map_err(|e| {
            let detail = e.to_string();
            let last = detail.lines().last().unwrap_or("").trim();
            Fault::value(path, format!("invalid regular expression: {last}"))
        })
}

fn cidr(s: &str, path: &YamlPath) -> Result<Cidr, Fault> {
    let bad = || {
        Fault::value(
            path,
            format!(
                "expected an IP address or network such as 10.0.0.0/8, found {}",
                quote(s)
            ),
        )
    };
    let (ip, prefix) = match s.split_once('/') {
        Some((ip, p)) => (ip, Some(p)),
        None => (s, None),
    };
    let addr: IpAddr = ip.parse().map_err(|_| bad())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        Some(p) => p
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= max && !p.to_string().is_empty())
            .ok_or_else(bad)?,
        None => max,
    };
    Ok(Cidr { addr, prefix })
}

fn header_value(raw: &RawHeaderValue, path: &YamlPath) -> Result<(String, String), Fault> {
    token(&raw.name, &path.key("name"), "a header name")?;
    if raw.value.chars().any(|c| c.is_ascii_control() && c != '\t') {
        return Err(Fault::value(
            &path.key("value"),
            "header values may not contain control characters",
        ));
    }
    Ok((raw.name.clone(), raw.value.clone()))
}

/// The one action key set among `set` (key, present); its name, or the fault when none or
/// several are set.
fn one_action(path: &YamlPath, set: &[(&'static str, bool)]) -> Result<&'static str, Fault> {
    let chosen: Vec<&'static str> = set.iter().filter(|(_, s)| *s).map(|(k, _)| *k).collect();
    let names: Vec<&str> = set.iter().map(|(k, _)| *k).collect();
    match chosen.as_slice() {
        [one] => Ok(one),
        [] => Err(Fault::value(
            path,
            format!("expected one action ({})", names.join(", ")),
        )),
        more => Err(Fault::value(
            path,
            format!("expected one action per rule, found {}", more.join(" and ")),
        )),
    }
}

fn status(n: Int, path: &YamlPath, min: u32, max: u32) -> Result<u16, Fault> {
    field::int_u32(n, path, min, max).map(|v| v as u16)
}

fn request_rule(raw: &RawRequestRule, path: &YamlPath) -> Result<RequestRule, Fault> {
    let when = match &raw.when {
        Some(w) => Some(condition(w, &path.key("when"), 0)?),
        None => None,
    };
    let which = one_action(
        path,
        &[
            ("set_header", raw.set_header.is_some()),
            ("add_header", raw.add_header.is_some()),
            ("del_header", raw.del_header.is_some()),
            ("deny", raw.deny.is_some()),
            ("redirect", raw.redirect.is_some()),
            ("return", raw.return_.is_some()),
        ],
    )?;
    let action = match which {
        "set_header" | "add_header" | "del_header" => RequestAction::Header(header_action(
            which,
            raw.set_header.as_ref(),
            raw.add_header.as_ref(),
            raw.del_header.as_ref(),
            path,
        )?),
        "deny" => RequestAction::Deny(status(
            raw.deny.expect("chosen action is present"),
            &path.key("deny"),
            400,
            599,
        )?),
        "redirect" => {
            let r = raw.redirect.as_ref().expect("chosen action is present");
            let p = path.key("redirect");
            let code = match r.code {
                Some(c) => {
                    let c = status(c, &p.key("code"), 301, 308)?;
                    if ![301, 302, 303, 307, 308].contains(&c) {
                        return Err(Fault::value(
                            &p.key("code"),
                            format!("expected one of 301, 302, 303, 307, 308, found {c}"),
                        ));
                    }
                    c
                }
                None => 302,
            };
            if r.location.is_empty() || r.location.chars().any(|c| c.is_ascii_control()) {
                return Err(Fault::value(&p.key("location"), "expected a URL"));
            }
            RequestAction::Redirect {
                code,
                location: r.location.clone(),
            }
        }
        _ => {
            let r = raw.return_.as_ref().expect("chosen action is present");
            let p = path.key("return");
            let body = r.body.clone().unwrap_or_default();
            if body.len() > limits::RETURN_BODY_MAX {
                return Err(Fault::value(
                    &p.key("body"),
                    format!("body larger than {} bytes", limits::RETURN_BODY_MAX),
                ));
            }
            let content_type = r
                .content_type
                .clone()
                .unwrap_or_else(|| "text/plain".to_owned());
            if content_type.chars().any(|c| c.is_ascii_control()) {
                return Err(Fault::value(
                    &p.key("content_type"),
                    "expected a media type",
                ));
            }
            RequestAction::Return {
                status: status(r.status, &p.key("status"), 200, 599)?,
                body,
                content_type,
            }
        }
    };
    Ok(RequestRule { when, action })
}

/// The header edit named `which` (one of set_header, add_header, del_header).
fn header_action(
    which: &str,
    set: Option<&RawHeaderValue>,
    add: Option<&RawHeaderValue>,
    del: Option<&String>,
    path: &YamlPath,
) -> Result<HeaderAction, Fault> {
    Ok(match (which, set, add, del) {
        ("set_header", Some(hv), _, _) => {
            let (name, value) = header_value(hv, &path.key(which))?;
            HeaderAction::Set { name, value }
        }
        ("add_header", _, Some(hv), _) => {
            let (name, value) = header_value(hv, &path.key(which))?;
            HeaderAction::Add { name, value }
        }
        (_, _, _, Some(name)) => {
            token(name, &path.key("del_header"), "a header name")?;
            HeaderAction::Del(name.clone())
        }
        _ => unreachable!("one_action returned a header action that is not set"),
    })
}

fn response_rule(raw: &RawResponseRule, path: &YamlPath) -> Result<ResponseRule, Fault> {
    let when = match &raw.when {
        Some(w) => Some(condition(w, &path.key("when"), 0)?),
        None => None,
    };
    let which = one_action(
        path,
        &[
            ("set_header", raw.set_header.is_some()),
            ("add_header", raw.add_header.is_some()),
            ("del_header", raw.del_header.is_some()),
        ],
    )?;
    let action = header_action(
        which,
        raw.set_header.as_ref(),
        raw.add_header.as_ref(),
        raw.del_header.as_ref(),
        path,
    )?;
    Ok(ResponseRule { when, action })
}
