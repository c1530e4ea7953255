//! The command line: `percore check` exit codes and messages, bad configurations refused
//! before anything is bound, and a port already in use reported with frontend and address.

mod common;

use std::net::TcpListener;

use common::*;

const VALID: &str = "global:\n  shards: 1\nfrontends:\n  fe:\n    bind: \"127.0.0.1:0\"\n    default_backend: app\nbackends:\n  app:\n    servers:\n      - { name: s1, address: \"127.0.0.1:9\" }\n";

#[test]
fn check_valid_config_exits_zero_with_summary() {
    let dir = temp_dir("check-ok");
    std::fs::write(dir.join("ok.yaml"), VALID).expect("write");
    let (st, out, err) = run_cli(&["check", "-c", "ok.yaml"], &dir);
    assert_eq!(st.code(), Some(0), "{out}{err}");
    assert!(out.contains("configuration is valid"), "{out}");
    assert!(out.contains("frontend fe"), "{out}");
    assert!(out.contains("server s1 127.0.0.1:9"), "{out}");
}

#[test]
fn check_invalid_config_exits_two_with_position() {
    let dir = temp_dir("check-bad");
    let bad = VALID.replace("default_backend: app", "default_backend: ap");
    std::fs::write(dir.join("bad.yaml"), bad).expect("write");
    let (st, _, err) = run_cli(&["check", "-c", "bad.yaml"], &dir);
    assert_eq!(st.code(), Some(2), "{err}");
    assert!(err.starts_with("bad.yaml:6:"), "{err}");
    assert!(err.contains("frontends.fe.default_backend"), "{err}");
    assert!(err.contains("did you mean \"app\""), "{err}");
}

#[test]
fn check_missing_file_exits_two() {
    let dir = temp_dir("check-missing");
    let (st, _, err) = run_cli(&["check", "-c", "nope.yaml"], &dir);
    assert_eq!(st.code(), Some(2), "{err}");
    assert!(err.contains("nope.yaml"), "{err}");
}

#[test]
fn bad_config_exits_two_before_binding() {
    // We hold the port: if percore tried to bind before validating, it would report
    // "Address already in use" instead of the config error.
    let held = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = held.local_addr().expect("addr").port();
    let dir = temp_dir("bad-run");
    let bad = VALID
        .replace("127.0.0.1:0", &format!("127.0.0.1:{port}"))
        .replace("address: \"127.0.0.1:9\"", "address: \"nowhere\"");
    std::fs::write(dir.join("bad.yaml"), bad).expect("write");
    let (st, _, err) = run_cli(&["run", "-c", "bad.yaml"], &dir);
    assert_eq!(st.code(), Some(2), "{err}");
    assert!(err.contains("backends.app.servers"), "{err}");
    assert!(!err.contains("in use"), "{err}");
}

#[test]
fn port_in_use_names_frontend_and_address() {
    let held = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = held.local_addr().expect("addr").port();
    let dir = temp_dir("inuse");
    let cfg = VALID.replace("127.0.0.1:0", &format!("127.0.0.1:{port}"));
    std::fs::write(dir.join("c.yaml"), cfg).expect("write");
    let (st, _, err) = run_cli(&["run", "-c", "c.yaml"], &dir);
    assert_eq!(st.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "frontend fe: cannot bind 127.0.0.1:{port}: Address already in use"
        )),
        "{err}"
    );
}

#[test]
fn version_flag() {
    let dir = temp_dir("version");
    let (st, out, _) = run_cli(&["--version"], &dir);
    assert!(st.success());
    assert!(out.starts_with("percore "), "{out}");
}
