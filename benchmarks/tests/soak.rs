//! The soak's short form: `percore-bench compare --scenario soak` against the real percore
//! binary for a few seconds, one full cycle of scheduled faults, and its reconciliation must
//! hold — no id lost, answered twice or misdelivered, no POST or TCP stream delivered twice,
//! no GET more than twice, every answer logged once, no panic, descriptors back to their
//! count before the traffic — and nothing may be left behind. Counts only, no timings.

use std::process::{Command, Stdio};

mod common;

use common::{children_of, harness_temp_dirs, percore, temp_path, HARNESS};

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

fn count(v: &serde_json::Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

#[test]
fn short_soak_reconciles_every_id() {
    let json = temp_path("soak.json");
    let child = Command::new(HARNESS)
        .args([
            "compare",
            "--peers",
            "none",
            "--no-direct",
            "--scenario",
            "soak",
        ])
        .args(["--soak-duration", "16s", "--soak-fault-every", "300ms"])
        .args(["--soak-rate", "300", "--soak-burst", "200"])
        .arg("--percore")
        .arg(percore())
        .arg("--json")
        .arg(&json)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("harness starts");
    let pid = child.id();
    let out = child.wait_with_output().expect("harness runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}\n{stdout}\n{stderr}", out.status);
    let text = std::fs::read_to_string(&json).expect("JSON written");
    let _ = std::fs::remove_file(&json);
    let report: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
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
    assert!(
        children_of(pid).is_empty(),
        "children left: {:?}",
        children_of(pid)
    );
    assert!(
        harness_temp_dirs(pid).is_empty(),
        "{:?}",
        harness_temp_dirs(pid)
    );
}
