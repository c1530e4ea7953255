//! Line grammar shared by every command: `;` chaining, word splitting with backslash escapes,
//! and the C number parsers (`strtol`, `strtoul`, `atoi`) whose exact leniency HAProxy's replies
//! depend on. Ported from HAProxy 2.6 `cli_io_handler` / `cli_parse_request`; what a command
//! does with its words is in `cmd/`.
//!
//! The `<<` payload marker (a line ending with it is followed by payload lines up to an
//! empty line) is the connection loop's: it passes the payload to `parse_with_payload`.

/// Most words kept from one command (HAProxy `MAX_CLI_ARGS`); further words are ignored.
pub const ARGS_MAX: usize = 64;

/// Splits one request line into its `;`-separated commands, in order.
///
/// `line` is one line as read from the socket, without its LF (one trailing `\n` is tolerated
/// and dropped). Like HAProxy, a backslash protects the next byte (`\;` does not split; the
/// backslash stays in the part and is removed by [`tokenize`]), and one CR at the end of each
/// part is dropped (so `cmd\r\n` and `a\r;b` behave as `cmd` and `a;b`). There are always
/// `count(';') + 1` parts: an empty line or a trailing `;` yields an empty part, which parses
/// as the empty command.
pub fn split_commands(line: &str) -> Vec<String> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let bytes = line.as_bytes();
    let mut parts = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b';' => {
                parts.push(strip_one_cr(&line[start..i]).to_owned());
                start = i + 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    parts.push(strip_one_cr(&line[start..]).to_owned());
    parts
}

/// Splits one command into words: runs of spaces/tabs separate words, `\x` stands for `x`
/// (`\\` for a backslash), quotes are ordinary bytes, a NUL byte ends the current word (and the
/// line when it appears between words), and at most [`ARGS_MAX`] words are kept.
pub fn tokenize(part: &str) -> Vec<String> {
    let bytes = part.as_bytes();
    let at = |i: usize| bytes.get(i).copied().unwrap_or(0);
    let mut words = Vec::new();
    let mut p = 0;
    while words.len() < ARGS_MAX && p < bytes.len() {
        while at(p) == b' ' || at(p) == b'\t' {
            p += 1;
        }
        if at(p) == 0 {
            break;
        }
        let start = p;
        loop {
            while !matches!(at(p), b' ' | b'\t' | b'\\' | 0) {
                p += 1;
            }
            if at(p) != b'\\' {
                break;
            }
            p += 1;
            if at(p) == 0 {
                break;
            }
            p += 1;
            if at(p) == 0 {
                break;
            }
        }
        let raw = &bytes[start..p.min(bytes.len())];
        p += 1;
        words.push(unescape(raw));
    }
    words
}

/// Removes one level of backslash escaping; a lone trailing backslash disappears.
fn unescape(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut k = 0;
    while k < raw.len() {
        if raw[k] == b'\\' {
            if raw.get(k + 1) == Some(&b'\\') {
                k += 1;
            } else {
                k += 1;
                continue;
            }
        }
        out.push(raw[k]);
        k += 1;
    }
    // Only ASCII backslashes were removed, so `out` is still UTF-8; lossy never allocates a
    // replacement here but avoids an unwrap on socket input.
    String::from_utf8_lossy(&out).into_owned()
}

fn strip_one_cr(part: &str) -> &str {
    part.strip_suffix('\r').unwrap_or(part)
}

/// Words of one command with HAProxy's convention that a missing word reads as `""`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Args<'a>(pub &'a [String]);

impl<'a> Args<'a> {
    /// Word `i`, or `""` past the end.
    pub fn get(&self, i: usize) -> &'a str {
        self.0.get(i).map(String::as_str).unwrap_or("")
    }
}

/// glibc `isspace` in the C locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// What C's number parsers skip before the digits: leading C white space, then one optional
/// sign. Returns the index of the first digit position and whether the sign was `-`.
fn c_number_prefix(b: &[u8]) -> (usize, bool) {
    let mut i = 0;
    while i < b.len() && is_c_space(b[i]) {
        i += 1;
    }
    match b.get(i) {
        Some(b'-') => (i + 1, true),
        Some(b'+') => (i + 1, false),
        _ => (i, false),
    }
}

/// C `strtol(s, &end, 10)` on a 64-bit target: returns the value (saturated on overflow like
/// glibc) and the number of bytes consumed (0 when no digit was found, as C's `end == s`).
pub(crate) fn strtol(s: &str) -> (i64, usize) {
    let b = s.as_bytes();
    let (mut i, negative) = c_number_prefix(b);
    let digits_start = i;
    let mut magnitude: u64 = 0;
    let mut overflow = false;
    while let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
        match magnitude
            .checked_mul(10)
            .and_then(|m| m.checked_add(u64::from(d - b'0')))
        {
            Some(m) => magnitude = m,
            None => overflow = true,
        }
        i += 1;
    }
    if i == digits_start {
        return (0, 0);
    }
    let value = if negative {
        if overflow || magnitude > i64::MIN.unsigned_abs() {
            i64::MIN
        } else {
            0i64.wrapping_sub_unsigned(magnitude)
        }
    } else if overflow || magnitude > i64::MAX as u64 {
        i64::MAX
    } else {
        magnitude as i64
    };
    (value, i)
}

/// C `atoi`: `(int)strtol(s, NULL, 10)`, truncated to 32 bits like glibc.
pub(crate) fn atoi(s: &str) -> i32 {
    strtol(s).0 as i32
}

/// C `strtoul(s, NULL, 0)` on a 64-bit target: `0x` hex, leading-`0` octal, else decimal; a
/// leading `-` negates modulo 2^64; overflow saturates to `u64::MAX`; no digits gives 0.
pub(crate) fn strtoul0(s: &str) -> u64 {
    let b = s.as_bytes();
    let (mut i, negative) = c_number_prefix(b);
    let radix = if b.get(i) == Some(&b'0')
        && matches!(b.get(i + 1), Some(b'x' | b'X'))
        && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    {
        i += 2;
        16
    } else if b.get(i) == Some(&b'0') {
        8
    } else {
        10
    };
    let mut value: u64 = 0;
    let mut overflow = false;
    while let Some(d) = b.get(i).and_then(|c| char::from(*c).to_digit(radix)) {
        match value
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(u64::from(d)))
        {
            Some(v) => value = v,
            None => overflow = true,
        }
        i += 1;
    }
    if overflow {
        u64::MAX
    } else if negative {
        value.wrapping_neg()
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn split_plain_chained_and_trailing() {
        assert_eq!(split_commands("show info"), v(&["show info"]));
        assert_eq!(split_commands(""), v(&[""]));
        assert_eq!(split_commands("a;b;c"), v(&["a", "b", "c"]));
        assert_eq!(split_commands("a ; b"), v(&["a ", " b"]));
        assert_eq!(split_commands("a;"), v(&["a", ""]));
        assert_eq!(split_commands(";"), v(&["", ""]));
    }

    #[test]
    fn split_escapes_and_cr() {
        assert_eq!(
            split_commands(r"get weight app/s1\;x"),
            v(&[r"get weight app/s1\;x"])
        );
        assert_eq!(split_commands(r"a\\;b"), v(&[r"a\\", "b"]));
        assert_eq!(
            split_commands("get weight app/s1\r"),
            v(&["get weight app/s1"])
        );
        assert_eq!(
            split_commands("get weight app/s1\r\n"),
            v(&["get weight app/s1"])
        );
        assert_eq!(split_commands("a\r;b\r"), v(&["a", "b"]));
        assert_eq!(split_commands("a\r\r"), v(&["a\r"]));
        assert_eq!(split_commands("x\\"), v(&["x\\"]));
    }

    #[test]
    fn tokenize_spaces_tabs_quotes() {
        assert_eq!(
            tokenize("  get \t weight   app/s1 "),
            v(&["get", "weight", "app/s1"])
        );
        assert_eq!(
            tokenize(r#"get weight "app/s1""#),
            v(&["get", "weight", "\"app/s1\""])
        );
        assert!(tokenize("").is_empty());
        assert!(tokenize(" \t ").is_empty());
    }

    #[test]
    fn tokenize_backslashes() {
        assert_eq!(tokenize(r"app/s1\;x"), v(&["app/s1;x"]));
        assert_eq!(tokenize(r"a\ b c"), v(&["a b", "c"]));
        assert_eq!(tokenize(r"a\\b"), v(&[r"a\b"]));
        assert_eq!(tokenize(r"a\\ b"), v(&[r"a\", "b"]));
        assert_eq!(tokenize("a\\"), v(&["a"]));
        assert_eq!(tokenize("\\"), v(&[""]));
        assert_eq!(tokenize("a\\é b"), v(&["aé", "b"]));
    }

    #[test]
    fn tokenize_nul_and_limit() {
        assert_eq!(tokenize("show\0info"), v(&["show", "info"]));
        assert_eq!(tokenize("show \0info"), v(&["show"]));
        let many = vec!["w"; 100].join(" ");
        assert_eq!(tokenize(&many).len(), ARGS_MAX);
    }

    #[test]
    fn strtol_like_c() {
        assert_eq!(strtol("50"), (50, 2));
        assert_eq!(strtol("50%"), (50, 2));
        assert_eq!(strtol("-1"), (-1, 2));
        assert_eq!(strtol("+7x"), (7, 2));
        assert_eq!(strtol(" \x0b12"), (12, 4));
        assert_eq!(strtol("abc"), (0, 0));
        assert_eq!(strtol("-"), (0, 0));
        assert_eq!(strtol(""), (0, 0));
        assert_eq!(strtol("99999999999999999999"), (i64::MAX, 20));
        assert_eq!(strtol("-99999999999999999999"), (i64::MIN, 21));
        assert_eq!(strtol("-9223372036854775808"), (i64::MIN, 20));
    }

    #[test]
    fn atoi_truncates_like_glibc() {
        assert_eq!(atoi("100"), 100);
        assert_eq!(atoi("abc"), 0);
        assert_eq!(atoi("-5"), -5);
        assert_eq!(atoi("4294967297"), 1);
    }

    #[test]
    fn strtoul_base_zero() {
        assert_eq!(strtoul0("0x564e6b951010"), 0x564e_6b95_1010);
        assert_eq!(strtoul0("0X1f"), 0x1f);
        assert_eq!(strtoul0("0x"), 0);
        assert_eq!(strtoul0("0xg"), 0);
        assert_eq!(strtoul0("010"), 8);
        assert_eq!(strtoul0("09"), 0);
        assert_eq!(strtoul0("123abc"), 123);
        assert_eq!(strtoul0("foo"), 0);
        assert_eq!(strtoul0("-1"), u64::MAX);
        assert_eq!(strtoul0("0x1ffffffffffffffff"), u64::MAX);
    }
}
