//! `percore-bench compare` end to end: the real harness binary drives the real percore
//! binary (TCP echo, no peers) and must produce sane JSON, leave no process or temporary
//! directory behind, and clean up the same way when interrupted with SIGINT.
//!
//! percore is looked up beside the harness binary (same target dir and profile: `cargo test
//! --workspace` builds it there), then in `$CARGO_TARGET_DIR` or `<workspace>/target`,
//! debug then release. No timing thresholds: values only have to be present and sane.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{alive, children_of, harness_temp_dirs, percore, temp_path, HARNESS};

fn number(v: &serde_json::Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

#[test]
fn tcp_echo_json_has_sane_values_for_percore_and_direct() {
    let json = temp_path("echo.json");
    let svg = temp_path("echo.svg");
    let child = Command::new(HARNESS)
        .args(["compare", "--peers", "none", "--scenario", "tcp-echo"])
        .args([
            "--duration",
            "2s",
            "--warmup",
            "500ms",
            "--rates",
            "2000",
            "-c",
            "8",
        ])
        .arg("--percore")
        .arg(percore())
        .arg("--json")
        .arg(&json)
        .arg("--svg")
        .arg(&svg)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("harness starts");
    let pid = child.id();
    let out = child.wait_with_output().expect("harness runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "harness failed: {}\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains("tcp-echo") && stdout.contains("percore"),
        "{stdout}"
    );

    let text = std::fs::read_to_string(&json).expect("JSON written");
    let report: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let scenario = &report["scenarios"][0];
    assert_eq!(scenario["name"], "tcp-echo");
    let results = scenario["results"].as_array().expect("results");
    for contender in ["direct", "percore"] {
        for load in ["saturation", "rate"] {
            let m = results
                .iter()
                .find(|m| m["contender"] == contender && m["load"] == load)
                .unwrap_or_else(|| panic!("no {contender} {load} row in {text}"));
            assert!(number(m, "requests") > 0.0, "{m}");
            let lat = &m["latency_us"];
            assert!(number(lat, "p99") >= number(lat, "p50"), "{m}");
            assert!(number(lat, "max") >= number(lat, "p99"), "{m}");
            assert_eq!(m["errors"]["connect"], 0, "{m}");
            if contender == "percore" {
                let cpu = number(m, "cpu_us_per_req");
                assert!(cpu > 0.0 && cpu < 10_000.0, "cpu_us_per_req {cpu}");
                assert!(number(m, "rss_kib") > 0.0, "{m}");
            } else {
                assert!(
                    m.get("cpu_us_per_req").is_none() && m.get("rss_kib").is_none(),
                    "{m}"
                );
            }
        }
    }
    let svg_text = std::fs::read_to_string(&svg).expect("SVG written");
    assert!(svg_text.starts_with("<svg") && svg_text.contains("percore"));

    // Nothing left behind: no proxy process, no temporary directory.
    assert!(children_of(pid).is_empty());
    assert!(
        harness_temp_dirs(pid).is_empty(),
        "{:?}",
        harness_temp_dirs(pid)
    );
    let _ = std::fs::remove_file(json);
    let _ = std::fs::remove_file(svg);
}

#[test]
fn sigint_stops_the_proxy_and_removes_temporary_files() {
    let mut child = Command::new(HARNESS)
        .args(["compare", "--peers", "none", "--scenario", "tcp-echo"])
        .args([
            "--duration",
            "30s",
            "--warmup",
            "0s",
            "-c",
            "2",
            "--no-direct",
        ])
        .arg("--percore")
        .arg(percore())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("harness starts");
    let pid = child.id();
    // Interrupt while percore is measured (--no-direct makes it the first contender).
    let deadline = Instant::now() + Duration::from_secs(45);
    let proxy = loop {
        if let Some((p, _)) = children_of(pid).into_iter().find(|(_, c)| c == "percore") {
            break p;
        }
        assert!(Instant::now() < deadline, "percore never started");
        assert!(
            child.try_wait().expect("wait").is_none(),
            "harness ended early"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        !harness_temp_dirs(pid).is_empty(),
        "percore's config lives in a temp dir"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("signal sent");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "harness did not exit after SIGINT"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130));
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(proxy) {
        assert!(
            Instant::now() < deadline,
            "percore {proxy} survived the harness"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        harness_temp_dirs(pid).is_empty(),
        "{:?}",
        harness_temp_dirs(pid)
    );
}
