//! The reload scenario's short form: `percore-bench compare --scenario reload` against the
//! real percore binary for a few seconds with 3 reloads and 1 binary upgrade, and every
//! request id must be accounted for — none lost, refused, reset or failed, none answered
//! twice or misdelivered, no POST at an origin twice, every reload and upgrade confirmed —
//! and nothing may be left behind, the process the upgrade started included. Counts only,
//! no timings.

mod common;

use common::{alive, assert_nothing_left, count, run_compare};

#[test]
fn short_reload_loses_no_request() {
    let run = run_compare(&[
        "--peers",
        "none",
        "--no-direct",
        "--scenario",
        "reload",
        "--reload-duration",
        "5s",
        "--reload-count",
        "3",
        "--upgrade-count",
        "1",
        "--reload-rate",
        "300",
    ]);
    let (report, stdout, pid) = (&run.report, &run.stdout, run.pid);
    let r = &report["scenarios"][0]["reload"][0];
    assert_eq!(r["contender"], "percore", "{stdout}");
    assert!(count(r, "answered") > 500, "{stdout}");
    assert_eq!(count(r, "answered"), count(r, "sent"), "{stdout}");
    for must_be_zero in [
        "failed",
        "refused",
        "reset",
        "lost",
        "answered_twice",
        "misdelivered",
        "non_idempotent_sent_twice",
        "panics",
    ] {
        assert_eq!(count(r, must_be_zero), 0, "{must_be_zero}\n{stdout}");
    }
    assert_eq!(
        (count(r, "reloads"), count(r, "upgrades")),
        (3, 1),
        "{stdout}"
    );
    assert_eq!(
        r["event_errors"].as_array().map(Vec::len),
        Some(0),
        "{stdout}"
    );
    assert!(count(r, "processes_at_end") >= 1, "{stdout}");
    let upgraded = r["upgraded_pids"].as_array().expect("pids").clone();
    assert_eq!(upgraded.len(), 1, "{stdout}");
    for p in upgraded {
        let p = p.as_u64().expect("pid") as u32;
        assert!(!alive(p), "the upgraded percore {p} still runs");
    }
    assert_nothing_left(pid);
}
