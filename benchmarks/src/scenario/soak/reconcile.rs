//! The soak's reconciliation: every id's end as the client saw it, against what the origins
//! recorded and what the proxy logged, with every failure attributed to the injected fault
//! that explains it, or counted as lost.
//!
//! Attribution: a request carrying a per-request fault is that fault's; any other failed
//! id is the scheduled fault's whose window (plus [`WINDOW_TAIL_MS`]) overlaps its life;
//! else it is lost.

use std::collections::{BTreeMap, HashMap};

use super::plan::{End, Fault, Kind, Sent, Window, WINDOW_TAIL_MS};
use crate::report::{tally_text, SoakFault, SoakResult};

/// Lost ids listed by name.
const LOST_EXAMPLES_MAX: usize = 10;

/// The per-fault row order: per-request faults, then the scheduled ones.
const FAULT_ORDER: [Fault; 12] = [
    Fault::RstMid,
    Fault::Malformed,
    Fault::CloseEarly,
    Fault::AbortRequest,
    Fault::AbortResponse,
    Fault::Slowloris,
    Fault::OriginKill,
    Fault::OriginStall,
    Fault::ShutdownSessions,
    Fault::Maint,
    Fault::Reload,
    Fault::FdBurst,
];

/// The fault that explains a failed id, if any.
pub fn attribute(s: &Sent, windows: &[Window]) -> Option<Fault> {
    if s.fault.is_some() {
        return s.fault;
    }
    windows
        .iter()
        .find(|w| s.start_ms <= w.end_ms + WINDOW_TAIL_MS && s.end_ms >= w.start_ms)
        .map(|w| w.fault)
}

/// Arrivals per id from the origins' record lines (`<id> <server> <method>`).
pub fn arrivals(records: &str) -> HashMap<u64, u32> {
    let mut out = HashMap::new();
    for line in records.lines() {
        if let Some(id) = line.split(' ').next().and_then(|id| id.parse().ok()) {
            *out.entry(id).or_insert(0) += 1;
        }
    }
    out
}

/// Access-log lines of the HTTP frontend (`soak_http <status> <termination> "<request>"`,
/// both proxies' configured format): per id, the termination codes of its lines.
pub fn log_lines(log: &str) -> (u64, HashMap<u64, Vec<String>>) {
    let mut total = 0;
    let mut per_id: HashMap<u64, Vec<String>> = HashMap::new();
    for line in log.lines() {
        let Some(at) = line.find("soak_http ") else {
            continue;
        };
        let mut fields = line[at..].split_whitespace();
        let (Some(_), Some(_), Some(tsc)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        total += 1;
        let id = line
            .split("/soak/")
            .nth(1)
            .and_then(|rest| rest.split('/').nth(1))
            .and_then(|rest| rest.split([' ', '"', '?']).next())
            .and_then(|id| id.parse().ok());
        if let Some(id) = id {
            per_id.entry(id).or_default().push(tsc.to_string());
        }
    }
    (total, per_id)
}

/// Fills the reconciliation figures of `r` from the ids' ends, the scheduled windows, the
/// origins' records and the proxy's log.
pub fn reconcile(r: &mut SoakResult, sent: &[Sent], windows: &[Window], records: &str, log: &str) {
    let arrived = arrivals(records);
    let (lines, logged) = log_lines(log);
    r.log_lines = lines;
    r.ids = sent.len() as u64;
    let mut t = Tally::new();
    for w in windows {
        t.row(w.fault).injected += 1;
    }
    for s in sent {
        count_arrivals(r, s, arrived.get(&s.id).copied().unwrap_or(0));
        // Scheduled faults count their windows, not the ids they carried (slowloris).
        if let Some(f) = s.fault.filter(|f| !Fault::SCHEDULED.contains(f)) {
            t.row(f).injected += 1;
        }
        let fault = match s.end {
            End::Answered(echo) => t.answered(r, s, echo, &arrived, &logged),
            end => t.failed(r, s, end, windows),
        };
        if let (Some(f), Some(codes)) = (fault, logged.get(&s.id)) {
            t.row(f).log_lines += codes.len() as u64;
            for c in codes {
                *t.terminations
                    .entry(f)
                    .or_default()
                    .entry(c.clone())
                    .or_insert(0) += 1;
            }
        }
    }
    t.finish(r);
}

/// What [`reconcile`] gathers id by id.
struct Tally {
    /// Answers per echoed id.
    answers: HashMap<u64, u32>,
    rows: BTreeMap<Fault, SoakFault>,
    /// Per fault: the ends of the failed ids attributed to it.
    ends: BTreeMap<Fault, BTreeMap<String, u64>>,
    /// Per fault: the termination codes of its ids' log lines.
    terminations: BTreeMap<Fault, BTreeMap<String, u64>>,
}

impl Tally {
    fn new() -> Tally {
        let rows = FAULT_ORDER
            .iter()
            .map(|f| {
                let row = SoakFault {
                    fault: f.as_str().into(),
                    ..SoakFault::default()
                };
                (*f, row)
            })
            .collect();
        Tally {
            answers: HashMap::new(),
            rows,
            ends: BTreeMap::new(),
            terminations: BTreeMap::new(),
        }
    }

    fn row(&mut self, f: Fault) -> &mut SoakFault {
        self.rows.entry(f).or_default()
    }

    /// An answer echoing `echo`: counted, checked against the records and the log.
    fn answered(
        &mut self,
        r: &mut SoakResult,
        s: &Sent,
        echo: u64,
        arrived: &HashMap<u64, u32>,
        logged: &HashMap<u64, Vec<String>>,
    ) -> Option<Fault> {
        *self.answers.entry(echo).or_insert(0) += 1;
        if echo == s.id {
            r.answered += 1;
        } else {
            r.misdelivered += 1;
        }
        let once = logged.get(&s.id).is_some_and(|l| l.len() == 1);
        if s.kind != Kind::Tcp && !once {
            r.answered_not_logged_once += 1;
        }
        if !arrived.contains_key(&s.id) {
            r.answered_unseen += 1;
        }
        s.fault
    }

    /// An id without an answer: a client-side fault's, attributed, or lost.
    fn failed(
        &mut self,
        r: &mut SoakResult,
        s: &Sent,
        end: End,
        windows: &[Window],
    ) -> Option<Fault> {
        let fault = attribute(s, windows);
        if s.fault.is_some_and(Fault::is_client_side) {
            r.client_faults += 1;
        } else {
            r.failed += 1;
            *r.failed_by_end.entry(end.text()).or_insert(0) += 1;
            match fault {
                Some(f) => {
                    r.failed_attributed += 1;
                    r.failed_scheduled += u64::from(Fault::SCHEDULED.contains(&f));
                }
                None => lost(r, s),
            }
        }
        if let Some(f) = fault {
            self.row(f).failed += 1;
            *self
                .ends
                .entry(f)
                .or_default()
                .entry(end.text())
                .or_insert(0) += 1;
        }
        fault
    }

    fn finish(self, r: &mut SoakResult) {
        r.answered_twice = self.answers.values().filter(|&&n| n > 1).count() as u64;
        let (ends, terminations) = (self.ends, self.terminations);
        r.faults = self
            .rows
            .into_iter()
            .map(|(f, mut row)| {
                row.ends = ends.get(&f).map_or("-".into(), tally_text);
                row.terminations = terminations.get(&f).map_or("-".into(), tally_text);
                row
            })
            .collect();
    }
}

/// Counts an id's deliveries to the origins against what its method allows.
fn count_arrivals(r: &mut SoakResult, s: &Sent, n: u32) {
    if s.kind.idempotent() {
        r.idempotent_sent_twice += u64::from(n == 2);
        r.idempotent_sent_over_twice += u64::from(n > 2);
    } else {
        r.non_idempotent_sent_twice += u64::from(n >= 2);
    }
}

fn lost(r: &mut SoakResult, s: &Sent) {
    r.lost += 1;
    if r.lost_examples.len() < LOST_EXAMPLES_MAX {
        r.lost_examples.push(format!(
            "id {} {}{} {} after {} ms, sent at {} ms",
            s.id,
            s.kind.as_str(),
            if s.keep_alive { " (kept alive)" } else { "" },
            s.end.text(),
            s.end_ms - s.start_ms,
            s.start_ms
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(id: u64, kind: Kind, fault: Option<Fault>, at: u64, end: End) -> Sent {
        Sent {
            id,
            kind,
            keep_alive: true,
            fault,
            start_ms: at,
            end_ms: at + 10,
            micros: 10_000,
            end,
        }
    }

    #[test]
    fn every_failure_is_attributed_or_lost_and_duplicates_are_counted() {
        let windows = [Window {
            fault: Fault::OriginKill,
            start_ms: 1000,
            end_ms: 2000,
            error: None,
        }];
        let ids = [
            sent(1, Kind::Get, None, 0, End::Answered(1)),
            sent(2, Kind::Post, Some(Fault::RstMid), 100, End::Eof),
            sent(3, Kind::Post, None, 2500, End::Status(502)),
            sent(4, Kind::Get, None, 5000, End::Reset),
            sent(5, Kind::Get, None, 5100, End::Answered(1)),
            sent(6, Kind::Post, Some(Fault::AbortRequest), 5200, End::Aborted),
        ];
        let records =
            "1 s1 GET\n2 s1 POST\n3 s2 POST\n3 s1 POST\n4 s1 GET\n4 s2 GET\n4 s1 GET\n5 s2 GET\n";
        let log = "soak_http 200 ---- \"GET /soak/get/1 HTTP/1.1\"\n\
                   soak_http 502 SH-- \"POST /soak/post/3 HTTP/1.1\"\n";
        let mut r = SoakResult::default();
        reconcile(&mut r, &ids, &windows, records, log);
        assert_eq!(
            (r.ids, r.answered, r.misdelivered, r.answered_twice),
            (6, 1, 1, 1)
        );
        assert_eq!(
            (r.failed, r.failed_attributed, r.lost, r.client_faults),
            (3, 2, 1, 1)
        );
        assert_eq!(r.non_idempotent_sent_twice, 1, "id 3");
        assert_eq!(r.idempotent_sent_over_twice, 1, "id 4");
        assert_eq!(r.answered_not_logged_once, 1, "id 5's answer has no line");
        assert!(
            r.lost_examples[0].starts_with("id 4 get"),
            "{:?}",
            r.lost_examples
        );
        let kill = r
            .faults
            .iter()
            .find(|f| f.fault == "origin-kill")
            .expect("row");
        assert_eq!((kill.injected, kill.failed, kill.log_lines), (1, 1, 1));
        assert_eq!(
            (kill.ends.as_str(), kill.terminations.as_str()),
            ("502 1", "SH-- 1")
        );
        assert_eq!(r.log_lines, 2);
    }
}
