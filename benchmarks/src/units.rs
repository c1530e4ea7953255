//! Command-line values: durations (`10s`, `500ms`), sizes (`1k`, `64k`), CPU lists (`0`,
//! `1,3`, `2-3`) and comma-separated lists. Parsers return the text of the error clap shows.

use std::time::Duration;

/// `10s`, `500ms`, `2m`, `1.5s`, or a bare number of seconds.
pub fn duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else {
        (t, 1.0)
    };
    match number.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(Duration::from_secs_f64(v * scale)),
        _ => Err(format!(
            "expected a duration like 10s or 500ms, found {text:?}"
        )),
    }
}

/// `0`, `512`, `1k`, `64k`, `1m` (binary multiples).
pub fn size(text: &str) -> Result<usize, String> {
    let t = text.trim().to_ascii_lowercase();
    let (number, scale) = if let Some(n) = t.strip_suffix('k') {
        (n, 1024)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 1024 * 1024)
    } else {
        (t.as_str(), 1)
    };
    number
        .trim()
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| format!("expected a size like 0, 1k or 64k, found {text:?}"))
}

/// `1`, `0,2`, `2-3`, `0-1,4`: CPU ids, in the order written, without duplicates.
pub fn cpu_list(text: &str) -> Result<Vec<usize>, String> {
    let err = || format!("expected CPU ids like 1, 0,2 or 2-3, found {text:?}");
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let lo: usize = lo.parse().map_err(|_| err())?;
        let hi: usize = hi.parse().map_err(|_| err())?;
        if hi < lo || hi >= 1024 {
            return Err(err());
        }
        for cpu in lo..=hi {
            if !out.contains(&cpu) {
                out.push(cpu);
            }
        }
    }
    if out.is_empty() {
        return Err(err());
    }
    Ok(out)
}

/// `1000,5000,20k`: request rates per second, each > 0.
pub fn rate_list(text: &str) -> Result<Vec<f64>, String> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let lower = part.to_ascii_lowercase();
        let (n, scale) = match lower.strip_suffix('k') {
            Some(n) => (n, 1000.0),
            None => (lower.as_str(), 1.0),
        };
        match n.parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 => out.push(v * scale),
            _ => return Err(format!("expected rates like 1000,5000,20k, found {part:?}")),
        }
    }
    if out.is_empty() {
        return Err("expected at least one rate".into());
    }
    Ok(out)
}

/// A CPU list written back the way `cpu_list` reads it.
pub fn cpus_text(cpus: &[usize]) -> String {
    cpus.iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// `1234` → `1234`, `12345` → `12.3k`, `1234567` → `1.23M`: compact counts for the table.
pub fn count_text(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// Microseconds as `85µs`, `1.25ms`, `3.2s`.
pub fn micros_text(us: u64) -> String {
    if us < 1_000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        format!("{:.2}ms", us as f64 / 1e3)
    } else {
        format!("{:.2}s", us as f64 / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(duration("fast").is_err());
        assert!(duration("-1s").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(size("0"), Ok(0));
        assert_eq!(size("1k"), Ok(1024));
        assert_eq!(size("64K"), Ok(65536));
        assert!(size("1x").is_err());
    }

    #[test]
    fn cpus() {
        assert_eq!(cpu_list("1"), Ok(vec![1]));
        assert_eq!(cpu_list("0-2,5,1"), Ok(vec![0, 1, 2, 5]));
        assert!(cpu_list("3-1").is_err());
        assert!(cpu_list("").is_err());
    }

    #[test]
    fn rates() {
        assert_eq!(rate_list("1000, 20k"), Ok(vec![1000.0, 20000.0]));
        assert!(rate_list("0").is_err());
    }
}
