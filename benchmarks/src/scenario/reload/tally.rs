//! The reload scenario's counts: every id's end as the client saw it, against the origins'
//! records, with the latency around each reload and upgrade.

use std::collections::HashMap;

use crate::report::ReloadResult;
use crate::scenario::soak::plan::{End, Sent};
use crate::scenario::soak::reconcile::arrivals;

/// Failed ids listed by name.
const EXAMPLES_MAX: usize = 12;
/// The window after an event whose latency is reported apart.
pub const WINDOW_MS: u64 = 1_000;

/// A reload or upgrade as carried out.
#[derive(Debug, Clone)]
pub struct Event {
    /// `reload` or `upgrade`.
    pub kind: &'static str,
    /// Milliseconds from the traffic's start to the command or signal.
    pub at_ms: u64,
    /// Command to confirmation, microseconds; `None` when it failed.
    pub reply_us: Option<u64>,
    /// Why it failed.
    pub error: Option<String>,
}

/// Fills the counts of `r` from the ids' ends, the events and the origins' records.
pub fn tally(r: &mut ReloadResult, sent: &[Sent], events: &[Event], records: &str) {
    let arrived = arrivals(records);
    let mut answers: HashMap<u64, u32> = HashMap::new();
    r.sent = sent.len() as u64;
    for s in sent {
        let n = arrived.get(&s.id).copied().unwrap_or(0);
        if s.kind.idempotent() {
            r.idempotent_sent_twice += u64::from(n >= 2);
        } else {
            r.non_idempotent_sent_twice += u64::from(n >= 2);
        }
        match s.end {
            End::Answered(echo) => {
                *answers.entry(echo).or_insert(0) += 1;
                r.answered += u64::from(echo == s.id);
                r.misdelivered += u64::from(echo != s.id);
            }
            end => failed(r, s, end, events),
        }
    }
    r.answered_twice = answers.values().filter(|&&n| n > 1).count() as u64;
    latencies(r, sent, events);
    replies(r, events);
}

/// One id without an answer: counted by how it ended and what it was.
fn failed(r: &mut ReloadResult, s: &Sent, end: End, events: &[Event]) {
    // A timeout is no answer and no error: lost, not failed.
    r.failed += u64::from(end != End::Timeout);
    match end {
        End::Connect => r.refused += 1,
        End::Reset => r.reset += 1,
        End::Timeout => r.lost += 1,
        _ => {}
    }
    let conn = if s.keep_alive {
        "kept-alive"
    } else {
        "new-conn"
    };
    let key = format!("{} {} {conn}", end.text(), s.kind.as_str());
    *r.failed_by_end.entry(key).or_insert(0) += 1;
    if r.failure_examples.len() < EXAMPLES_MAX {
        let after = events.iter().rev().find(|e| e.at_ms <= s.start_ms).map_or(
            "before any event".to_string(),
            |e| {
                format!(
                    "{} ms after the {} at {} ms",
                    s.start_ms - e.at_ms,
                    e.kind,
                    e.at_ms
                )
            },
        );
        r.failure_examples.push(format!(
            "id {} {} {conn}: {} after {} ms, sent at {} ms, {after}",
            s.id,
            s.kind.as_str(),
            end.text(),
            s.end_ms - s.start_ms,
            s.start_ms,
        ));
    }
}

/// p99 of every answer, and the largest p99 of the answers sent within [`WINDOW_MS`] after
/// an event.
fn latencies(r: &mut ReloadResult, sent: &[Sent], events: &[Event]) {
    let answered = |s: &&Sent| matches!(s.end, End::Answered(_));
    let all: Vec<u64> = sent.iter().filter(answered).map(|s| s.micros).collect();
    r.latency_p99_us = percentile(all, 99.0);
    for e in events {
        let window: Vec<u64> = sent
            .iter()
            .filter(answered)
            .filter(|s| s.start_ms >= e.at_ms && s.start_ms < e.at_ms + WINDOW_MS)
            .map(|s| s.micros)
            .collect();
        let p99 = percentile(window, 99.0);
        if p99 > r.latency_p99_after_event_us {
            r.latency_p99_after_event_us = p99;
            r.worst_window = format!("{} at {} ms", e.kind, e.at_ms);
        }
    }
}

/// Reply times (p50, max) and errors of the reloads and the upgrades.
fn replies(r: &mut ReloadResult, events: &[Event]) {
    let times = |kind: &str| -> Vec<u64> {
        events
            .iter()
            .filter(|e| e.kind == kind)
            .filter_map(|e| e.reply_us)
            .collect()
    };
    let (reloads, upgrades) = (times("reload"), times("upgrade"));
    r.reloads = reloads.len() as u64;
    r.upgrades = upgrades.len() as u64;
    r.reload_reply_us = [
        percentile(reloads.clone(), 50.0),
        reloads.into_iter().max().unwrap_or(0),
    ];
    r.upgrade_reply_us = [
        percentile(upgrades.clone(), 50.0),
        upgrades.into_iter().max().unwrap_or(0),
    ];
    r.event_errors = events
        .iter()
        .filter_map(|e| {
            let err = e.error.as_ref()?;
            Some(format!("{} at {} ms: {err}", e.kind, e.at_ms))
        })
        .collect();
}

/// The `pct` percentile (nearest rank) of `v`; 0 when empty.
pub fn percentile(mut v: Vec<u64>, pct: f64) -> u64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    let rank = ((pct / 100.0 * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::soak::plan::Kind;

    fn sent(id: u64, kind: Kind, at: u64, micros: u64, end: End) -> Sent {
        Sent {
            id,
            kind,
            keep_alive: id.is_multiple_of(2),
            fault: None,
            start_ms: at,
            end_ms: at + micros / 1000,
            micros,
            end,
        }
    }

    #[test]
    fn ends_duplicates_and_windows_are_counted() {
        let events = [
            Event {
                kind: "reload",
                at_ms: 1000,
                reply_us: Some(800),
                error: None,
            },
            Event {
                kind: "upgrade",
                at_ms: 3000,
                reply_us: Some(90_000),
                error: None,
            },
        ];
        let ids = [
            sent(1, Kind::Get, 0, 100, End::Answered(1)),
            sent(2, Kind::Post, 1200, 5000, End::Answered(2)),
            sent(3, Kind::Post, 3100, 100, End::Eof),
            sent(4, Kind::Get, 3200, 100, End::Connect),
            sent(5, Kind::Get, 3300, 100, End::Answered(1)),
            sent(6, Kind::Upload, 5000, 100, End::Timeout),
        ];
        let records = "1 s1 GET\n2 s1 POST\n2 s2 POST\n5 s1 GET\n5 s2 GET\n";
        let mut r = ReloadResult::default();
        tally(&mut r, &ids, &events, records);
        assert_eq!(
            (r.sent, r.answered, r.misdelivered, r.answered_twice),
            (6, 2, 1, 1)
        );
        assert_eq!((r.failed, r.refused, r.reset, r.lost), (2, 1, 0, 1));
        assert_eq!(
            (r.non_idempotent_sent_twice, r.idempotent_sent_twice),
            (1, 1)
        );
        assert_eq!(r.failed_by_end.get("eof post new-conn"), Some(&1));
        assert_eq!(r.latency_p99_after_event_us, 5000);
        assert_eq!(r.worst_window, "reload at 1000 ms");
        assert_eq!(
            (r.reloads, r.upgrades, r.upgrade_reply_us),
            (1, 1, [90_000, 90_000])
        );
        assert!(r.failure_examples[0].contains("100 ms after the upgrade at 3000 ms"));
        assert_eq!(percentile(vec![5, 1, 4, 2, 3], 50.0), 3);
    }
}
