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
fn check_into_a_closed_pipe_exits_zero_without_a_panic() {
    let dir = temp_dir("check-pipe");
    std::fs::write(dir.join("ok.yaml"), VALID).expect("write");
    let mut child = std::process::Command::new(binary())
        .args(["check", "-c", "ok.yaml"])
        .current_dir(&dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn percore check");
    // Close the read end before the child has parsed its file: its first write then fails
    // with EPIPE, as under `percore check -c big.yaml | head -1`.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
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

/// Errorfiles are read and checked with the configuration: `check` refuses a bad one, and
/// `run` refuses it with exit 2 before binding anything (the held port would otherwise be
/// reported as in use). A FIFO must not hang either command.
#[test]
fn bad_errorfiles_exit_two_before_binding() {
    let held = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = held.local_addr().expect("addr").port();
    let dir = temp_dir("errorfiles");
    let st = std::process::Command::new("mkfifo")
        .arg(dir.join("fifo.http"))
        .status()
        .expect("mkfifo");
    assert!(st.success());
    std::fs::create_dir(dir.join("pages")).expect("dir");
    let body = "x".repeat(2048);
    std::fs::write(
        dir.join("big.http"),
        format!("HTTP/1.1 503 Busy\r\ncontent-length: 2048\r\n\r\n{body}"),
    )
    .expect("write");
    std::fs::write(dir.join("page.html"), "<html>busy</html>\n").expect("write");
    let cases = [
        ("missing.http", "cannot open errorfile missing.http"),
        (
            "pages",
            "errorfile pages is a directory, expected a regular file",
        ),
        (
            "fifo.http",
            "errorfile fifo.http is a FIFO, expected a regular file",
        ),
        ("big.http", "more than global.tune.bufsize (1KiB)"),
        (
            "page.html",
            "errorfile page.html: expected an HTTP/1.x response",
        ),
    ];
    for (file, want) in cases {
        let cfg = format!(
            "global:\n  shards: 1\n  tune: {{ bufsize: 1k }}\nfrontends:\n  fe:\n    mode: http\n    \
             bind: \"127.0.0.1:{port}\"\n    default_backend: app\n    errorfiles: {{ \"503\": {file} }}\n\
             backends:\n  app:\n    mode: http\n    servers:\n      - {{ name: s1, address: \"127.0.0.1:9\" }}\n"
        );
        std::fs::write(dir.join("c.yaml"), cfg).expect("write");
        for command in ["check", "run"] {
            let (st, out, err) = run_cli(&[command, "-c", "c.yaml"], &dir);
            assert_eq!(st.code(), Some(2), "{command} {file}: {out}{err}");
            assert!(
                err.starts_with("c.yaml:9:26: frontends.fe.errorfiles.503: "),
                "{command} {file}: {err}"
            );
            assert!(err.contains(want), "{command} {file}: {err}");
            assert!(!err.contains("in use"), "{command} {file}: {err}");
        }
    }
}
