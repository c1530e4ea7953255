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
