//! Process-wide commands: `clear counters [all]`, `set maxconn global <n>` and
//! `set timeout cli <delay>`, ported from HAProxy 2.6 (`cli_parse_clear_counters`,
//! `cli_parse_set_maxconn_global`, `cli_parse_set_timeout`) with their texts and quirks:
//! `set maxconn global` reads its value with `atoi` (so `abc` is 0) and takes 0 or less as
//! "back to the hard limit"; `set timeout cli` reads a time in seconds with an optional unit.

use std::time::Duration;

use super::Command;
use crate::error::{
    ErrorReply, EXPECTS_INTEGER_VALUE, INVALID_TIMEOUT, PERMISSION_DENIED, SET_TIMEOUT_ONLY_CLI,
};
use crate::grammar::{atoi, Args};
use crate::level::Level;

/// `clear counters [all]`: the keyword is operator level, `all` needs admin (HAProxy checks
/// it inside the command); other trailing words are ignored.
pub(super) fn parse_clear_counters(args: Args<'_>, level: Level) -> Result<Command, ErrorReply> {
    let all = args.get(2) == "all";
    if all && level < Level::Admin {
        return Err(PERMISSION_DENIED);
    }
    Ok(Command::ClearCounters { all })
}

/// `set maxconn global <n>`: only a missing value is refused here; the range check needs the
/// hard limit and is the engine's (`Value out of range.`).
pub(super) fn parse_set_maxconn_global(args: Args<'_>) -> Result<Command, ErrorReply> {
    let value = args.get(3);
    if value.is_empty() {
        return Err(EXPECTS_INTEGER_VALUE);
    }
    Ok(Command::SetMaxconnGlobal(atoi(value)))
}

/// `set timeout cli <delay>`: the idle timeout of this admin connection.
pub(super) fn parse_set_timeout(args: Args<'_>) -> Result<Command, ErrorReply> {
    if args.get(2) != "cli" {
        return Err(SET_TIMEOUT_ONLY_CLI);
    }
    let value = args.get(3);
    if value.is_empty() {
        return Err(EXPECTS_INTEGER_VALUE);
    }
    match parse_time_seconds(value) {
        Some(t) if t >= Duration::from_secs(1) => Ok(Command::SetTimeoutCli(t)),
        _ => Err(INVALID_TIMEOUT),
    }
}

/// Longest accepted `set timeout cli` (HAProxy's timers are 32-bit milliseconds).
const TIMEOUT_CLI_MAX: Duration = Duration::from_millis(i32::MAX as u64);

/// HAProxy `parse_time_err(text, TIME_UNIT_S)`: decimal digits and an optional unit (`us`,
/// `ms`, `s`, `m`, `h`, `d`; none = seconds). `None` when malformed or too large. HAProxy
/// truncates sub-second results to whole seconds (its unit here), and so does this.
fn parse_time_seconds(text: &str) -> Option<Duration> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let n: u64 = text[..digits].parse().ok()?;
    let micros_per_unit: u64 = match &text[digits..] {
        "" | "s" => 1_000_000,
        "us" => 1,
        "ms" => 1_000,
        "m" => 60_000_000,
        "h" => 3_600_000_000,
        "d" => 86_400_000_000,
        _ => return None,
    };
    let secs = n.checked_mul(micros_per_unit)? / 1_000_000;
    let t = Duration::from_secs(secs);
    (t <= TIMEOUT_CLI_MAX).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_units() {
        assert_eq!(parse_time_seconds("10"), Some(Duration::from_secs(10)));
        assert_eq!(parse_time_seconds("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_time_seconds("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_time_seconds("1500ms"), Some(Duration::from_secs(1)));
        assert_eq!(parse_time_seconds("500ms"), Some(Duration::ZERO));
        assert_eq!(parse_time_seconds("abc"), None);
        assert_eq!(parse_time_seconds("10x"), None);
        assert_eq!(parse_time_seconds("99999999999999999999"), None);
        assert_eq!(parse_time_seconds("999999999d"), None);
    }
}
