//! Helpers of the harness's end-to-end tests: the harness and percore binaries, and what a
//! run leaves behind (child processes, temporary directories).

#![allow(dead_code)] // each test file uses its own subset

use std::path::{Path, PathBuf};

/// The harness binary under test.
pub const HARNESS: &str = env!("CARGO_BIN_EXE_percore-bench");

pub fn percore() -> PathBuf {
    let beside = Path::new(HARNESS).with_file_name("percore");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let candidates = [
        beside,
        target.join("debug/percore"),
        target.join("release/percore"),
    ];
    for c in &candidates {
        if c.is_file() {
            return c.clone();
        }
    }
    panic!(
        "no percore binary in {candidates:?}: build it first with `cargo build -p percore` \
         (`cargo test --workspace` does it), using the same CARGO_TARGET_DIR"
    );
}

/// A count of a JSON report object; it must be there.
pub fn count(v: &serde_json::Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

/// A finished `percore-bench compare` run: its JSON report, stdout and pid.
pub struct Run {
    pub report: serde_json::Value,
    pub stdout: String,
    pub pid: u32,
}

/// Runs `percore-bench compare <args> --percore <percore> --json <tmp>` to its end; it
/// must succeed.
pub fn run_compare(args: &[&str]) -> Run {
    let json = temp_path(&format!("{}.json", args.join("_").replace(['/', ' '], "")));
    let child = std::process::Command::new(HARNESS)
        .arg("compare")
        .args(args)
        .arg("--percore")
        .arg(percore())
        .arg("--json")
        .arg(&json)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("harness starts");
    let pid = child.id();
    let out = child.wait_with_output().expect("harness runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}\n{stdout}\n{stderr}", out.status);
    let text = std::fs::read_to_string(&json).expect("JSON written");
    let _ = std::fs::remove_file(&json);
    let report = serde_json::from_str(&text).expect("valid JSON");
    Run {
        report,
        stdout,
        pid,
    }
}

pub fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("percore-bench-test.{}.{name}", std::process::id()))
}

/// Processes whose parent is `pid`, as (pid, comm).
pub fn children_of(pid: u32) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("procfs").flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_string();
        let ppid = stat[close + 1..]
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid) {
            if let Ok(child) = entry.file_name().to_string_lossy().parse() {
                out.push((child, comm));
            }
        }
    }
    out
}

pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

pub fn harness_temp_dirs(pid: u32) -> Vec<PathBuf> {
    let prefix = format!("percore-bench.{pid}.");
    std::fs::read_dir(std::env::temp_dir())
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

/// The harness `pid` left no child process and no temporary directory behind.
pub fn assert_nothing_left(pid: u32) {
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
