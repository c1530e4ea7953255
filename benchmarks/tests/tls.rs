//! The TLS scenarios' short form against HAProxy: `percore-bench compare --scenario
//! tls-handshake,tls-keepalive` for a second per load point, and the counts must add up —
//! handshakes done, none resumed without tickets and at least 90 % with them, requests
//! served on kept-alive TLS connections, every idle TLS connection opened, 0 errors — and
//! nothing may be left behind (proxies, the certificate's directory). Counts only, no
//! timings. Skipped, with the reason printed, where HAProxy is not installed
//! (`scripts/install-peers.sh` installs it).

mod common;

use std::path::Path;

use common::{assert_nothing_left, count, run_compare};

/// HAProxy where the harness looks for it (PATH, then the sbin directories).
fn haproxy_installed() -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(Into::into))
        .any(|d| Path::new(&d).join("haproxy").is_file())
}

fn errors_total(m: &serde_json::Value) -> u64 {
    ["connect", "reset", "timeout", "bad_response", "tls"]
        .iter()
        .map(|k| count(&m["errors"], k))
        .sum()
}

fn row<'a>(rows: &'a serde_json::Value, load: &str, stdout: &str) -> &'a serde_json::Value {
    rows.as_array()
        .expect("rows")
        .iter()
        .find(|m| m["contender"] == "haproxy" && m["load"] == load)
        .unwrap_or_else(|| panic!("no haproxy {load} row\n{stdout}"))
}

#[test]
fn short_tls_handshake_and_keepalive_against_haproxy() {
    if !haproxy_installed() {
        eprintln!("skipped: haproxy is not installed (scripts/install-peers.sh installs it)");
        return;
    }
    let run = run_compare(&[
        "--peers",
        "haproxy",
        "--no-direct",
        "--scenario",
        "tls-handshake,tls-keepalive",
        "--duration",
        "1s",
        "--warmup",
        "300ms",
        "-c",
        "4",
        "--rates",
        "500",
        "--tls-idle-connections",
        "50",
    ]);
    let (report, stdout, pid) = (&run.report, &run.stdout, run.pid);
    let handshake = &report["scenarios"][0];
    assert_eq!(handshake["name"], "tls-handshake", "{stdout}");
    let full = row(&handshake["results"], "full", stdout);
    assert!(count(full, "handshakes") > 0, "{full}\n{stdout}");
    assert_eq!(count(full, "handshakes"), count(full, "requests"), "{full}");
    assert_eq!(count(full, "handshakes_resumed"), 0, "{full}");
    assert_eq!(errors_total(full), 0, "{full}\n{stdout}");
    let resumed = row(&handshake["results"], "resumed", stdout);
    let (done, again) = (
        count(resumed, "handshakes"),
        count(resumed, "handshakes_resumed"),
    );
    assert!(done > 0, "{resumed}\n{stdout}");
    assert!(
        again * 10 >= done * 9,
        "{again} of {done} resumed\n{stdout}"
    );
    assert_eq!(errors_total(resumed), 0, "{resumed}\n{stdout}");
    assert!(
        resumed["handshakes_per_core_sec"].as_f64().is_some(),
        "{resumed}"
    );

    let keepalive = &report["scenarios"][1];
    assert_eq!(keepalive["name"], "tls-keepalive", "{stdout}");
    for load in ["saturation", "rate"] {
        let m = row(&keepalive["results"], load, stdout);
        assert!(count(m, "requests") > 0, "{m}\n{stdout}");
        assert_eq!(errors_total(m), 0, "{m}\n{stdout}");
    }
    let idle = keepalive["idle"]
        .as_array()
        .expect("idle rows")
        .iter()
        .find(|r| r["contender"] == "haproxy" && r["mode"] == "tls")
        .unwrap_or_else(|| panic!("no haproxy tls idle row\n{stdout}"));
    assert_eq!(count(idle, "connections_open"), 50, "{idle}\n{stdout}");
    assert_eq!(errors_total(idle), 0, "{idle}\n{stdout}");

    assert_nothing_left(pid);
}
