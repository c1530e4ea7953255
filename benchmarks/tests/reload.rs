//! The reload scenario's short form: `percore-bench compare --scenario reload` against the
//! real percore binary for a few seconds with 3 reloads and 1 binary upgrade, and every
//! request id must be accounted for — none lost, refused, reset or failed, none answered
//! twice or misdelivered, no POST at an origin twice, every reload and upgrade confirmed —
//! and nothing may be left behind, the process the upgrade started included. Counts only,
//! no timings.

use std::process::{Command, Stdio};

mod common;

use common::{alive, children_of, harness_temp_dirs, percore, temp_path, HARNESS};

fn count(v: &serde_json::Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

#[test]
fn short_reload_loses_no_request() {
    let json = temp_path("reload.json");
    let child = Command::new(HARNESS)
        .args(["compare", "--peers", "none", "--no-direct"])
        .args(["--scenario", "reload", "--reload-duration", "5s"])
        .args(["--reload-count", "3", "--upgrade-count", "1"])
        .args(["--reload-rate", "300"])
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
