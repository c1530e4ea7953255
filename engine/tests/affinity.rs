//! `shards: auto` and `global.control_cpu` against the process's CPU affinity mask. The real
//! binary starts under `taskset`; the admin socket (`show shards`, `show info`) says which
//! shards run on which CPU, and each thread's `Cpus_allowed_list` in /proc says where the
//! kernel lets it run.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};

use common::*;

/// A configuration with `shards: auto` and `global_extra` lines under `global`.
fn config(global_extra: &str) -> String {
    format!(
        "global:\n  shards: auto\n  grace: 1s\n{global_extra}  admin: {{ socket: ./admin.sock }}\n\
         defaults:\n  mode: tcp\n\
         frontends:\n  fe:\n    bind: \"127.0.0.1:0\"\n    default_backend: app\n\
         backends:\n  app:\n    servers:\n      - {{ name: s1, address: \"127.0.0.1:9\" }}\n"
    )
}

/// Whether `taskset` can be run; prints why the test is skipped when it cannot.
fn have_taskset(test: &str) -> bool {
    let ran = Command::new("taskset")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let ok = ran.is_ok_and(|s| s.success());
    if !ok {
        eprintln!("{test}: skipped, `taskset` (util-linux) is not installed");
    }
    ok
}

/// CPUs the test process itself may run on (`Cpus_allowed_list` of /proc/self/status).
fn own_cpus() -> Vec<usize> {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let list = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .expect("Cpus_allowed_list");
    cpu_list(list.trim())
}

/// `0-2,5` → [0, 1, 2, 5].
fn cpu_list(text: &str) -> Vec<usize> {
    let mut cpus = Vec::new();
    for part in text.split(',').filter(|p| !p.is_empty()) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let (lo, hi): (usize, usize) = (lo.parse().expect("cpu"), hi.parse().expect("cpu"));
        cpus.extend(lo..=hi);
    }
    cpus
}

/// `(shard, cpu)` of each `show shards` row.
fn shard_cpus(p: &Proxy) -> Vec<(String, String)> {
    admin(&sock(p), "show shards")
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut words = l.split_whitespace();
            let shard = words.next().expect("shard").to_string();
            (shard, words.next().expect("cpu").to_string())
        })
        .collect()
}

/// `Nbthread` of `show info`.
fn nbthread(p: &Proxy) -> String {
    admin(&sock(p), "show info")
        .lines()
        .find_map(|l| l.strip_prefix("Nbthread: "))
        .expect("Nbthread")
        .to_string()
}

/// Thread name → the CPUs the kernel lets it run on, for every thread of the proxy.
fn thread_cpus(p: &Proxy) -> BTreeMap<String, Vec<usize>> {
    let tasks = std::fs::read_dir(format!("/proc/{}/task", p.pid())).expect("task dir");
    let mut out = BTreeMap::new();
    for task in tasks.flatten() {
        let path = task.path();
        let (Ok(comm), Ok(status)) = (
            std::fs::read_to_string(path.join("comm")),
            std::fs::read_to_string(path.join("status")),
        ) else {
            continue;
        };
        if let Some(list) = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        {
            out.insert(comm.trim().to_string(), cpu_list(list.trim()));
        }
    }
    out
}

#[test]
fn auto_under_one_cpu_runs_one_shard_on_it() {
    if !have_taskset("auto_under_one_cpu_runs_one_shard_on_it") {
        return;
    }
    let cpu = own_cpus()[0].to_string();
    let p = Proxy::start_under("aff1", &config(""), &["taskset", "-c", &cpu]);
    assert_eq!(shard_cpus(&p), [("0".to_string(), cpu.clone())]);
    assert_eq!(nbthread(&p), "1");
    let threads = thread_cpus(&p);
    assert_eq!(
        threads.get("percore-shard-0"),
        Some(&cpu_list(&cpu)),
        "{threads:?}"
    );
    assert!(!threads.contains_key("percore-shard-1"), "{threads:?}");
}

#[test]
fn auto_under_two_cpus_runs_a_shard_on_each_and_pins_the_control_plane() {
    let test = "auto_under_two_cpus_runs_a_shard_on_each_and_pins_the_control_plane";
    if !have_taskset(test) {
        return;
    }
    let own = own_cpus();
    let [a, b] = [own[0], own[own.len() - 1]];
    if a == b {
        eprintln!("{test}: skipped, this test process may run on one CPU only ({own:?})");
        return;
    }
    let mask = format!("{a},{b}");
    let yaml = config(&format!("  control_cpu: {b}\n"));
    let p = Proxy::start_under("aff2", &yaml, &["taskset", "-c", &mask]);
    let expected = [
        ("0".to_string(), a.to_string()),
        ("1".to_string(), b.to_string()),
    ];
    assert_eq!(shard_cpus(&p), expected);
    assert_eq!(nbthread(&p), "2");
    let threads = thread_cpus(&p);
    assert_eq!(
        threads.get("percore-shard-0"),
        Some(&vec![a]),
        "{threads:?}"
    );
    assert_eq!(
        threads.get("percore-shard-1"),
        Some(&vec![b]),
        "{threads:?}"
    );
    assert_eq!(threads.get("percore-ctl"), Some(&vec![b]), "{threads:?}");
}
