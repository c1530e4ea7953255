//! Health checks: a backend's `check`, merged with each server's overrides, and the
//! server-state options (`on_marked_down`, `on_marked_up`, backups).

use std::time::Duration;

use crate::check::Check;
use crate::de::quote;
use crate::error::Fault;
use crate::limits;
use crate::path::YamlPath;
use crate::raw::{RawCheck, RawServerCheck, RawStatusRange};
use crate::validate::field::{self, Zero};

/// The check of one server: the backend's `check` (if any) with the server's overrides;
/// `None` when the server is not checked.
pub(crate) fn server_check(
    backend: Option<&RawCheck>,
    backend_path: &YamlPath,
    server: Option<&RawServerCheck>,
    server_path: &YamlPath,
) -> Result<Option<Check>, Fault> {
    let (enabled, overrides) = match server {
        Some(RawServerCheck::Enabled(false)) => return Ok(None),
        Some(RawServerCheck::Enabled(true)) => (true, None),
        Some(RawServerCheck::Override(o)) => (true, Some(o)),
        None => (backend.is_some(), None),
    };
    if !enabled {
        return Ok(None);
    }
    let mut check = defaults();
    if let Some(b) = backend {
        apply(&mut check, b, backend_path)?;
    }
    if let Some(o) = overrides {
        apply(&mut check, o, &server_path.key("check"))?;
    }
    Ok(Some(check))
}

fn defaults() -> Check {
    Check::default()
}

/// Applies the keys written in `raw` (at `path`) to `check`.
fn apply(check: &mut Check, raw: &RawCheck, path: &YamlPath) -> Result<(), Fault> {
    if let Some(kind) = raw.kind {
        check.kind = kind;
    }
    if let Some(p) = &raw.path {
        if !p.starts_with('/') || p.chars().any(|c| c.is_ascii_control() || c == ' ') {
            return Err(Fault::value(
                &path.key("path"),
                format!("expected a path starting with /, found {}", quote(p)),
            ));
        }
        check.path = p.clone();
    }
    if let Some(m) = &raw.method {
        let ok = !m.is_empty()
            && m.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c));
        if !ok {
            return Err(Fault::value(
                &path.key("method"),
                format!("expected an HTTP method, found {}", quote(m)),
            ));
        }
        check.method = m.clone();
    }
    if let Some(h) = &raw.host {
        if h.is_empty() || h.chars().any(|c| c.is_ascii_control() || c == ' ') {
            return Err(Fault::value(&path.key("host"), "expected a host name"));
        }
        check.host = Some(h.clone());
    }
    if let Some(s) = &raw.expect_status {
        check.expect_status = status_range(s, &path.key("expect_status"))?;
    }
    if let Some(b) = raw.disable_on_404 {
        check.disable_on_404 = b;
    }
    let inter_set = raw.inter.is_some();
    if let Some(t) = &raw.inter {
        check.inter = field::duration(t, &path.key("inter"), Zero::Refused)?;
    }
    let fastinter = match &raw.fastinter {
        Some(t) => Some(field::duration(t, &path.key("fastinter"), Zero::Refused)?),
        None => None,
    };
    let downinter = match &raw.downinter {
        Some(t) => Some(field::duration(t, &path.key("downinter"), Zero::Refused)?),
        None => None,
    };
    // As HAProxy: fastinter and downinter default to inter.
    check.fastinter = fastinter.unwrap_or(if inter_set {
        check.inter
    } else {
        check.fastinter
    });
    check.downinter = downinter.unwrap_or(if inter_set {
        check.inter
    } else {
        check.downinter
    });
    if let Some(n) = raw.rise {
        check.rise = field::int_u32(n, &path.key("rise"), 1, limits::CHECK_RISE_FALL_MAX)?;
    }
    if let Some(n) = raw.fall {
        check.fall = field::int_u32(n, &path.key("fall"), 1, limits::CHECK_RISE_FALL_MAX)?;
    }
    if let Some(o) = raw.observe {
        check.observe = Some(o);
    }
    if let Some(n) = raw.error_limit {
        check.error_limit =
            field::int_u32(n, &path.key("error_limit"), 1, limits::CHECK_RISE_FALL_MAX)?;
    }
    if let Some(o) = raw.on_error {
        check.on_error = o;
    }
    match &raw.timeout {
        Some(t) => check.timeout = field::duration(t, &path.key("timeout"), Zero::Refused)?,
        None if inter_set => check.timeout = check.inter.min(Duration::from_secs(10)),
        None => {}
    }
    Ok(())
}

fn status_range(
    raw: &RawStatusRange,
    path: &YamlPath,
) -> Result<std::ops::RangeInclusive<u16>, Fault> {
    let bad = |text: String| {
        Fault::value(
            path,
            format!("expected a status 100..599 or a range such as \"200-399\", found {text}"),
        )
    };
    let code = |n: i64| u16::try_from(n).ok().filter(|c| (100..=599).contains(c));
    match raw {
        RawStatusRange::Code(n) => code(*n).map(|c| c..=c).ok_or_else(|| bad(n.to_string())),
        RawStatusRange::Text(t) => {
            let parsed = match t.split_once('-') {
                Some((a, b)) => a
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .and_then(code)
                    .zip(b.trim().parse::<i64>().ok().and_then(code)),
                None => t.trim().parse::<i64>().ok().and_then(code).map(|c| (c, c)),
            };
            match parsed {
                Some((a, b)) if a <= b => Ok(a..=b),
                _ => Err(bad(quote(t))),
            }
        }
    }
}
