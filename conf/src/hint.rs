//! "Did you mean …?" hints: the closest known word to a misspelt one, by edit distance.

/// Words longer than this get no hint: the quadratic distance is not worth it, and nobody
/// misspells a 64-character key by a few letters.
const WORD_CHARS_MAX: usize = 64;

/// The candidate closest to `word`, if it is close enough to be a likely typo.
///
/// Close enough means an optimal-string-alignment distance (insertions, deletions,
/// substitutions, adjacent transpositions; case ignored) of at most a third of the word's
/// length, at least 1 and at most 3. Two different candidates equally close give no hint:
/// `v3` could be `v1` or `v2`, and a wrong guess is worse than the full list.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word: Vec<char> = word.to_lowercase().chars().collect();
    if word.is_empty() || word.len() > WORD_CHARS_MAX {
        return None;
    }
    let limit = (word.len() / 3).clamp(1, 3);
    let mut best: Option<(usize, &str)> = None;
    let mut tied = false;
    for candidate in candidates {
        let lowered: Vec<char> = candidate.to_lowercase().chars().collect();
        if lowered.len() > WORD_CHARS_MAX {
            continue;
        }
        let distance = distance(&word, &lowered);
        if distance > limit {
            continue;
        }
        match best {
            Some((d, _)) if distance > d => {}
            Some((d, b)) if distance == d => tied |= b != candidate,
            _ => {
                best = Some((distance, candidate));
                tied = false;
            }
        }
    }
    if tied {
        return None;
    }
    best.map(|(_, candidate)| candidate)
}

/// Lists words for a message: `` `a`, `b`, `c` ``.
pub(crate) fn list(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|word| format!("`{word}`")).collect();
    quoted.join(", ")
}

/// Optimal string alignment distance between two words.
fn distance(a: &[char], b: &[char]) -> usize {
    // Three rolling rows: the one before the previous is needed for transpositions.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            current[j] = d;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[&str] = &["bind", "mode", "maxconn", "timeout", "default_backend"];

    #[test]
    fn suggests_typos() {
        assert_eq!(closest("bnd", FIELDS.iter().copied()), Some("bind"));
        assert_eq!(closest("bnid", FIELDS.iter().copied()), Some("bind"));
        assert_eq!(closest("Mode", FIELDS.iter().copied()), Some("mode"));
        assert_eq!(
            closest("defualt_backend", FIELDS.iter().copied()),
            Some("default_backend")
        );
        assert_eq!(closest("timeouts", FIELDS.iter().copied()), Some("timeout"));
        assert_eq!(closest("ap", ["app", "api2"]), Some("app"));
        assert_eq!(closest("mode", ["mode", "node"]), Some("mode"));
    }

    #[test]
    fn stays_quiet_when_nothing_is_close() {
        assert_eq!(closest("xyz", FIELDS.iter().copied()), None);
        assert_eq!(closest("", FIELDS.iter().copied()), None);
        assert_eq!(closest(&"b".repeat(1000), FIELDS.iter().copied()), None);
        assert_eq!(closest("v3", ["v1", "v2"]), None);
    }

    #[test]
    fn distance_counts_edits() {
        let d = |a: &str, b: &str| {
            distance(
                &a.chars().collect::<Vec<_>>(),
                &b.chars().collect::<Vec<_>>(),
            )
        };
        assert_eq!(d("", ""), 0);
        assert_eq!(d("abc", ""), 3);
        assert_eq!(d("", "abc"), 3);
        assert_eq!(d("kitten", "sitting"), 3);
        assert_eq!(d("ab", "ba"), 1);
    }
}
