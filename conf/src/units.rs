//! Durations (`250ms`, `2s`, `5m`) and sizes (`16k`, `1MiB`) as operators write them, and back.
//!
//! Both parsers are strict: no spaces, no signs, no fractions, no overflow. They say what is
//! wrong; where the value sits in the file is the caller's business.

use std::time::Duration;

/// Duration suffixes and their length in microseconds, longest suffix first so `ms` is not
/// read as `m` followed by garbage.
const DURATION_UNITS: &[(&str, u64)] = &[
    ("us", 1),
    ("ms", 1_000),
    ("s", 1_000_000),
    ("m", 60_000_000),
    ("h", 3_600_000_000),
    ("d", 86_400_000_000),
];

/// Size suffixes (compared without case) and their multiplier: binary, as HAProxy's `k`.
const SIZE_UNITS: &[(&str, u64)] = &[
    ("", 1),
    ("k", 1 << 10),
    ("ki", 1 << 10),
    ("kib", 1 << 10),
    ("m", 1 << 20),
    ("mi", 1 << 20),
    ("mib", 1 << 20),
    ("g", 1 << 30),
    ("gi", 1 << 30),
    ("gib", 1 << 30),
];

/// Parses a duration: digits then `us`, `ms`, `s`, `m`, `h` or `d`; bare digits are
/// milliseconds, as in HAProxy. Refuses signs, fractions, spaces, other units and overflow.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let garbage = || format!("expected a duration such as 250ms, 2s, 5m, 1h or 1d, found {s:?}");
    let digits_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, suffix) = s.split_at(digits_end);
    if digits.is_empty() {
        return Err(garbage());
    }
    let micros_per_unit = if suffix.is_empty() {
        1_000
    } else {
        match DURATION_UNITS.iter().find(|(unit, _)| *unit == suffix) {
            Some((_, micros)) => *micros,
            None => return Err(garbage()),
        }
    };
    let too_large = || format!("duration {s:?} is too large");
    let count: u64 = digits.parse().map_err(|_| too_large())?;
    let micros = count.checked_mul(micros_per_unit).ok_or_else(too_large)?;
    Ok(Duration::from_micros(micros))
}

/// Formats a duration in the largest unit that divides it exactly (`90s` → `90s`,
/// `120s` → `2m`), so [`parse_duration`] reads it back to the same value. Sub-microsecond
/// parts are dropped: no configured duration has them.
pub fn format_duration(duration: Duration) -> String {
    let micros = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
    if micros == 0 {
        return "0s".to_owned();
    }
    let (unit, per_unit) = DURATION_UNITS
        .iter()
        .rev()
        .find(|(_, per_unit)| micros.is_multiple_of(*per_unit))
        .copied()
        .unwrap_or(("us", 1));
    format!("{}{unit}", micros / per_unit)
}

/// Parses a size in bytes: digits then nothing, `k`, `m` or `g`, optionally followed by `i` or
/// `iB` (`16k`, `16K`, `16KiB`, `1MiB`, `1g`), all binary multiples. Refuses signs,
/// fractions, spaces, SI spellings such as `kB` and overflow.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let garbage = || format!("expected a size such as 16384, 16k, 16KiB, 1m or 1g, found {s:?}");
    let digits_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, suffix) = s.split_at(digits_end);
    if digits.is_empty() {
        return Err(garbage());
    }
    let suffix = suffix.to_ascii_lowercase();
    let Some((_, multiplier)) = SIZE_UNITS.iter().find(|(unit, _)| *unit == suffix) else {
        return Err(garbage());
    };
    let too_large = || format!("size {s:?} is too large");
    let count: u64 = digits.parse().map_err(|_| too_large())?;
    let bytes = count.checked_mul(*multiplier).ok_or_else(too_large)?;
    usize::try_from(bytes).map_err(|_| too_large())
}

/// Formats a size in the largest binary unit that divides it exactly (`16384` → `16KiB`), so
/// [`parse_size`] reads it back to the same value.
pub fn format_size(bytes: usize) -> String {
    const UNITS: [(&str, usize); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    if bytes == 0 {
        return "0".to_owned();
    }
    for (unit, per_unit) in UNITS {
        if bytes.is_multiple_of(per_unit) {
            return format!("{}{unit}", bytes / per_unit);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    #[test]
    fn durations_in_every_unit() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("10us"), Ok(Duration::from_micros(10)));
        assert_eq!(parse_duration("1500"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("007s"), Ok(Duration::from_secs(7)));
    }

    #[test]
    fn durations_refused() {
        let expected =
            |s: &str| format!("expected a duration such as 250ms, 2s, 5m, 1h or 1d, found {s:?}");
        for bad in [
            "", "s", "-1s", "+1s", "1.5s", "1 s", " 1s", "1s ", "1S", "1sec", "1w", "ms5", "1m1s",
            "１s",
        ] {
            assert_eq!(parse_duration(bad), Err(expected(bad)), "{bad:?}");
        }
        assert_eq!(
            parse_duration("99999999999999999999"),
            Err("duration \"99999999999999999999\" is too large".to_owned())
        );
        assert_eq!(
            parse_duration("18446744073709551615d"),
            Err("duration \"18446744073709551615d\" is too large".to_owned())
        );
    }

    #[test]
    fn sizes_in_every_unit() {
        assert_eq!(parse_size("16384"), Ok(16_384));
        assert_eq!(parse_size("16k"), Ok(16_384));
        assert_eq!(parse_size("16K"), Ok(16_384));
        assert_eq!(parse_size("16KiB"), Ok(16_384));
        assert_eq!(parse_size("1m"), Ok(1 << 20));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("2Gi"), Ok(2 << 30));
        assert_eq!(parse_size("0"), Ok(0));
    }

    #[test]
    fn sizes_refused() {
        let expected =
            |s: &str| format!("expected a size such as 16384, 16k, 16KiB, 1m or 1g, found {s:?}");
        for bad in [
            "", "k", "-1", "1.5k", "1 k", "16kB", "16KB", "1t", "1kk", "0x10",
        ] {
            assert_eq!(parse_size(bad), Err(expected(bad)), "{bad:?}");
        }
        assert_eq!(
            parse_size("18446744073709551616"),
            Err("size \"18446744073709551616\" is too large".to_owned())
        );
        assert_eq!(
            parse_size("17179869184g"),
            Err("size \"17179869184g\" is too large".to_owned())
        );
    }

    #[test]
    fn formats_in_largest_exact_unit() {
        assert_eq!(format_duration(Duration::from_secs(120)), "2m");
        assert_eq!(format_duration(Duration::from_secs(90)), "90s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_size(16_384), "16KiB");
        assert_eq!(format_size(1000), "1000");
        assert_eq!(format_size(0), "0");
    }

    proptest! {
        #[test]
        fn duration_round_trips(micros in any::<u64>()) {
            let duration = Duration::from_micros(micros);
            prop_assert_eq!(parse_duration(&format_duration(duration)), Ok(duration));
        }

        #[test]
        fn duration_units_multiply(count in 0u64..1_000_000, unit in 0usize..DURATION_UNITS.len()) {
            let (suffix, micros) = DURATION_UNITS[unit];
            let parsed = parse_duration(&format!("{count}{suffix}"));
            prop_assert_eq!(parsed, Ok(Duration::from_micros(count * micros)));
        }

        #[test]
        fn size_round_trips(bytes in any::<usize>()) {
            prop_assert_eq!(parse_size(&format_size(bytes)), Ok(bytes));
        }

        #[test]
        fn size_units_multiply(count in 0u64..1_000_000, unit in 0usize..SIZE_UNITS.len()) {
            let (suffix, multiplier) = SIZE_UNITS[unit];
            let upper = suffix.to_ascii_uppercase();
            let expected = usize::try_from(count * multiplier).unwrap();
            prop_assert_eq!(parse_size(&format!("{count}{suffix}")), Ok(expected));
            prop_assert_eq!(parse_size(&format!("{count}{upper}")), Ok(expected));
        }

        #[test]
        fn parsers_never_panic(s in "\\PC*") {
            let _ = parse_duration(&s);
            let _ = parse_size(&s);
        }
    }
}
