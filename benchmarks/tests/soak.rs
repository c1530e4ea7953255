//! The soak's short form: `percore-bench compare --scenario soak` against the real percore
//! binary for a few seconds, one full cycle of scheduled faults, and its reconciliation must
//! hold — no id lost, answered twice or misdelivered, no POST or TCP stream delivered twice,
//! no GET more than twice, every answer logged once, no panic, descriptors back to their
//! count before the traffic — and nothing may be left behind. Counts only, no timings.

mod common;

use common::{assert_nothing_left, count, run_compare};

/// Every fault the cycle must have injected at least once.
const FAULTS: [&str; 12] = [
    "rst-mid",
    "malformed",
    "close-early",
    "abort-request",
    "abort-response",
    "slowloris",
    "origin-kill",
    "origin-stall",
    "shutdown-sessions",
    "maint",
    "reload",
    "fd-burst",
];

#[test]
fn short_soak_reconciles_every_id() {
    let run = run_compare(&[
        "--peers",
        "none",
        "--no-direct",
        "--scenario",
        "soak",
        "--soak-duration",
        "16s",
        "--soak-fault-every",
        "300ms",
        "--soak-rate",
        "300",
        "--soak-burst",
        "200",
    ]);
    let (report, stdout, pid) = (&run.report, &run.stdout, run.pid);
    let r = &report["scenarios"][0]["soak"][0];
    assert_eq!(r["contender"], "percore", "{stdout}");
    assert!(count(r, "answered") > 1000, "{stdout}");
    for must_be_zero in [
        "lost",
        "answered_twice",
        "misdelivered",
        "answered_unseen",
        "non_idempotent_sent_twice",
        "idempotent_sent_over_twice",
        "answered_not_logged_once",
        "panics",
    ] {
        assert_eq!(count(r, must_be_zero), 0, "{must_be_zero}\n{stdout}");
    }
    assert_eq!(r["proxy_exited"], false, "{stdout}");
    assert_eq!(
        r["fault_errors"].as_array().map(Vec::len),
        Some(0),
        "{stdout}"
    );
    assert!(count(r, "fds_end") <= count(r, "fds_start"), "{stdout}");
    assert!(
        count(r, "reloads") >= 1 && count(r, "burst_opened") == 200,
        "{stdout}"
    );
    let faults = r["faults"].as_array().expect("faults");
    for fault in FAULTS {
        let row = faults
            .iter()
            .find(|f| f["fault"] == fault)
            .unwrap_or_else(|| panic!("no {fault} row\n{stdout}"));
        assert!(
            count(row, "injected") >= 1,
            "{fault} never injected\n{stdout}"
        );
    }
    assert_nothing_left(pid);
}
