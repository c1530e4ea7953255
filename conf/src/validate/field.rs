//! Checks of single values shared by every section: integer ranges, durations, sizes, names,
//! socket addresses, file modes. Each takes the value as written and its path, and returns the
//! typed value or a fault naming the rule it breaks.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::de::quote;
use crate::error::Fault;
use crate::limits;
use crate::path::YamlPath;
use crate::raw::Int;
use crate::units::{format_duration, format_size, parse_duration, parse_size};

/// Whether an address may use port 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Port {
    /// Port 0 asks the kernel for an ephemeral port (listeners).
    ZeroAllowed,
    /// A port to connect to (servers): 0 is meaningless.
    NonZero,
}

/// An integer within `min..=max`.
pub(crate) fn int(value: Int, path: &YamlPath, min: i64, max: i64) -> Result<i64, Fault> {
    let Int(n) = value;
    if n < min {
        return Err(Fault::value(
            path,
            format!("must be at least {min}, found {n}"),
        ));
    }
    if n > max {
        return Err(Fault::value(
            path,
            format!("must be at most {max}, found {n}"),
        ));
    }
    Ok(n)
}

/// An integer within `min..=max`, as `u32`.
pub(crate) fn int_u32(value: Int, path: &YamlPath, min: u32, max: u32) -> Result<u32, Fault> {
    let n = int(value, path, i64::from(min), i64::from(max))?;
    Ok(u32::try_from(n).expect("bounded by u32 limits just above"))
}

/// An integer within `min..=max`, as `usize`.
pub(crate) fn int_usize(
    value: Int,
    path: &YamlPath,
    min: usize,
    max: usize,
) -> Result<usize, Fault> {
    let wide = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let n = int(value, path, wide(min), wide(max))?;
    usize::try_from(n).map_err(|_| Fault::value(path, format!("must be at most {max}, found {n}")))
}

/// A non-negative integer that fits `usize` (CPU ids).
pub(crate) fn cpu_id(value: Int, path: &YamlPath) -> Result<usize, Fault> {
    int_usize(value, path, 0, usize::MAX)
}

/// Whether a duration of zero is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Zero {
    /// Zero means "not at all" (no grace, no queueing, no keep-alive wait).
    Allowed,
    /// Zero would fail every stream (a connect or inactivity timeout of 0).
    Refused,
}

/// A duration as [`parse_duration`] reads it, at most [`limits::DURATION_MAX`].
pub(crate) fn duration(text: &str, path: &YamlPath, zero: Zero) -> Result<Duration, Fault> {
    let value = parse_duration(text).map_err(|message| Fault::value(path, message))?;
    if value.is_zero() && zero == Zero::Refused {
        return Err(Fault::value(
            path,
            format!("must be greater than 0, found {text}"),
        ));
    }
    if value > limits::DURATION_MAX {
        let max = format_duration(limits::DURATION_MAX);
        return Err(Fault::value(
            path,
            format!("must be at most {max} (about 24.8 days), found {text}"),
        ));
    }
    Ok(value)
}

/// A size as [`parse_size`] reads it, within `min..=max` bytes.
pub(crate) fn size(text: &str, path: &YamlPath, min: usize, max: usize) -> Result<usize, Fault> {
    let value = parse_size(text).map_err(|message| Fault::value(path, message))?;
    if value < min {
        return Err(Fault::value(
            path,
            format!("must be at least {}, found {text}", format_size(min)),
        ));
    }
    if value > max {
        return Err(Fault::value(
            path,
            format!("must be at most {}, found {text}", format_size(max)),
        ));
    }
    Ok(value)
}

/// A frontend, backend or server name: 1 to [`limits::NAME_CHARS_MAX`] characters from
/// `[A-Za-z0-9_.:-]`, so that `backend/server` in admin commands is never ambiguous.
pub(crate) fn name(text: &str, path: &YamlPath, place: NamePlace) -> Result<(), Fault> {
    let fault = |message: String| match place {
        NamePlace::Key => Fault::key(path, message),
        NamePlace::Value => Fault::value(path, message),
    };
    if text.is_empty() {
        return Err(fault("name must not be empty".to_owned()));
    }
    if let Some(bad) = text
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "_.:-".contains(*c)))
    {
        return Err(fault(format!(
            "name {} contains {bad:?}; names may only use A-Z a-z 0-9 _ . : -",
            quote(text)
        )));
    }
    if text.chars().count() > limits::NAME_CHARS_MAX {
        return Err(fault(format!(
            "name is longer than {} characters",
            limits::NAME_CHARS_MAX
        )));
    }
    Ok(())
}

/// Whether a name is a mapping key (`frontends.web`) or a value (`name: s1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NamePlace {
    Key,
    Value,
}

/// An `IP:port` address (`127.0.0.1:80`, `[::1]:80`). Host names are refused: they would
/// need a resolver at start-up and could change under a running proxy.
pub(crate) fn address(text: &str, path: &YamlPath, port: Port) -> Result<SocketAddr, Fault> {
    let fault = |message: String| Fault::value(path, message);
    if let Ok(address) = text.parse::<SocketAddr>() {
        if address.port() == 0 && port == Port::NonZero {
            return Err(fault(format!(
                "port 0 is not a port to connect to, found {}",
                quote(text)
            )));
        }
        return Ok(address);
    }
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    if bare.parse::<IpAddr>().is_ok() {
        return Err(fault(format!(
            "missing port in {} (expected IP:port)",
            quote(text)
        )));
    }
    if let Some((host, port_text)) = text.rsplit_once(':') {
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.parse::<IpAddr>().is_ok() {
            return Err(fault(format!(
                "invalid port {} in {} (expected 0 to 65535)",
                quote(port_text),
                quote(text)
            )));
        }
        if !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-.".contains(c))
        {
            return Err(fault(format!(
                "expected IP:port, found {} (host names are not resolved; use an IP address)",
                quote(text)
            )));
        }
    }
    Err(fault(format!(
        "expected IP:port such as \"127.0.0.1:8080\", found {}",
        quote(text)
    )))
}

/// A file mode written as octal digits (`"0600"`, `"600"`, `"0o600"`), at most `0777`.
pub(crate) fn octal_mode(text: &str, path: &YamlPath) -> Result<u32, Fault> {
    let digits = text.strip_prefix("0o").unwrap_or(text);
    let octal = !digits.is_empty() && digits.len() <= 4 && digits.chars().all(|c| c.is_digit(8));
    let value = if octal {
        u32::from_str_radix(digits, 8).ok()
    } else {
        None
    };
    match value {
        Some(mode) if mode <= 0o777 => Ok(mode),
        Some(_) => Err(Fault::value(
            path,
            format!("mode {} has bits above 0777", quote(text)),
        )),
        None => Err(Fault::value(
            path,
            format!(
                "expected an octal mode such as \"0600\", found {}",
                quote(text)
            ),
        )),
    }
}

/// CPU ids for a message, with runs collapsed as `taskset` prints them (`0-3,6`).
pub(crate) fn cpu_list(cpus: &[usize]) -> String {
    let mut sorted = cpus.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut runs: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        runs.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    if runs.is_empty() {
        return "none".to_owned();
    }
    runs.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path() -> YamlPath {
        YamlPath::root().key("x")
    }

    fn address_error(text: &str, port: Port) -> String {
        address(text, &path(), port).unwrap_err().message
    }

    #[test]
    fn addresses() {
        assert_eq!(
            address("127.0.0.1:80", &path(), Port::NonZero)
                .unwrap()
                .port(),
            80
        );
        assert!(address("[::1]:0", &path(), Port::ZeroAllowed)
            .unwrap()
            .is_ipv6());
        assert_eq!(
            address_error("127.0.0.1:0", Port::NonZero),
            "port 0 is not a port to connect to, found \"127.0.0.1:0\""
        );
        assert_eq!(
            address_error("127.0.0.1", Port::NonZero),
            "missing port in \"127.0.0.1\" (expected IP:port)"
        );
        assert_eq!(
            address_error("::1", Port::NonZero),
            "missing port in \"::1\" (expected IP:port)"
        );
        assert_eq!(
            address_error("[::1]", Port::NonZero),
            "missing port in \"[::1]\" (expected IP:port)"
        );
        assert_eq!(
            address_error("10.0.0.1:99999", Port::NonZero),
            "invalid port \"99999\" in \"10.0.0.1:99999\" (expected 0 to 65535)"
        );
        assert_eq!(
            address_error("localhost:80", Port::NonZero),
            "expected IP:port, found \"localhost:80\" (host names are not resolved; use an IP \
             address)"
        );
        assert_eq!(
            address_error("", Port::NonZero),
            "expected IP:port such as \"127.0.0.1:8080\", found \"\""
        );
    }

    #[test]
    fn modes() {
        assert_eq!(octal_mode("0600", &path()), Ok(0o600));
        assert_eq!(octal_mode("660", &path()), Ok(0o660));
        assert_eq!(octal_mode("0o640", &path()), Ok(0o640));
        assert!(octal_mode("4755", &path()).is_err());
        assert!(octal_mode("0800", &path()).is_err());
        assert!(octal_mode("", &path()).is_err());
        assert!(octal_mode("rw", &path()).is_err());
    }

    #[test]
    fn names() {
        assert!(name("web-1.a:b_c", &path(), NamePlace::Key).is_ok());
        assert!(name("", &path(), NamePlace::Key).is_err());
        assert!(name("a/b", &path(), NamePlace::Key).is_err());
        assert!(name(&"a".repeat(129), &path(), NamePlace::Key).is_err());
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(cpu_list(&[0, 1, 2, 3, 6]), "0-3,6");
        assert_eq!(cpu_list(&[5]), "5");
        assert_eq!(cpu_list(&[]), "none");
    }
}
