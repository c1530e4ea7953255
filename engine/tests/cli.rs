//! The command line: `percore check` exit codes and messages, bad configurations refused
//! before anything is bound, a port already in use reported with frontend and address, and
//! every subcommand surviving a closed stdout or stderr (a pipe whose reader is gone).

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Instant;

use common::*;

const VALID: &str = "global:\n  shards: 1\nfrontends:\n  fe:\n    bind: \"127.0.0.1:0\"\n    default_backend: app\nbackends:\n  app:\n    servers:\n      - { name: s1, address: \"127.0.0.1:9\" }\n";

#[test]
fn check_valid_config_exits_zero_with_summary() {
    let dir = scratch_dir("check-ok");
    std::fs::write(dir.join("ok.yaml"), VALID).expect("write");
    let (st, out, err) = run_cli(&["check", "-c", "ok.yaml"], &dir);
    assert_eq!(st.code(), Some(0), "{out}{err}");
    assert!(out.contains("configuration is valid"), "{out}");
    assert!(out.contains("frontend fe"), "{out}");
    assert!(out.contains("server s1 127.0.0.1:9"), "{out}");
}

#[test]
fn check_into_a_closed_pipe_exits_zero_without_a_panic() {
    let dir = scratch_dir("check-pipe");
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
    let dir = scratch_dir("check-bad");
    let bad = VALID.replace("default_backend: app", "default_backend: ap");
    std::fs::write(dir.join("bad.yaml"), bad).expect("write");
    let (st, _, err) = run_cli(&["check", "-c", "bad.yaml"], &dir);
    assert_eq!(st.code(), Some(2), "{err}");
    assert!(err.starts_with("bad.yaml:6:"), "{err}");
    assert!(err.contains("frontends.fe.default_backend"), "{err}");
    assert!(err.contains("did you mean \"app\""), "{err}");
}

#[test]
fn check_empty_file_exits_two_at_line_one() {
    let dir = scratch_dir("check-empty");
    std::fs::write(dir.join("empty.yaml"), "").expect("write");
    let (st, out, err) = run_cli(&["check", "-c", "empty.yaml"], &dir);
    assert_eq!(st.code(), Some(2), "{out}{err}");
    assert!(
        err.starts_with("empty.yaml:1:1: configuration is empty"),
        "{err}"
    );
}

/// An admin socket path of 107 bytes, the most a socket address holds, is bound by `run`
/// although the private directory it is first bound in has a longer path; 108 bytes are
/// refused by `check` (and `run`) with the position of the path.
#[test]
fn longest_admin_socket_path_binds_and_longer_is_refused() {
    let dir = scratch_dir("long-sock");
    let prefix = format!("{}/", dir.display());
    assert!(
        prefix.len() < 80,
        "temp dir too long for this test: {prefix}"
    );
    let longest = format!("{prefix}{}", "s".repeat(107 - prefix.len()));
    let config = |socket: &str| {
        VALID.replace(
            "  shards: 1\n",
            &format!("  shards: 1\n  admin:\n    socket: {socket}\n"),
        )
    };
    let too_long = format!("{longest}s");
    std::fs::write(dir.join("long.yaml"), config(&too_long)).expect("write");
    for command in ["check", "run"] {
        let (st, out, err) = run_cli(&[command, "-c", "long.yaml"], &dir);
        assert_eq!(st.code(), Some(2), "{command}: {out}{err}");
        assert!(
            err.starts_with("long.yaml:4:13: global.admin.socket: unix socket path is 108 bytes"),
            "{command}: {err}"
        );
    }
    // Held until the end: dropping it stops the proxy and removes the directory.
    let _proxy = Proxy::start_in(dir.to_path_buf(), &config(&longest));
    assert!(admin(Path::new(&longest), "show info").contains("Name: percore"));
}

#[test]
fn check_missing_file_exits_two() {
    let dir = scratch_dir("check-missing");
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
    let dir = scratch_dir("bad-run");
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
    let dir = scratch_dir("inuse");
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
fn help_lists_the_signals() {
    let dir = scratch_dir("help");
    for args in [&["--help"][..], &["run", "--help"]] {
        let (st, out, _) = run_cli(args, &dir);
        assert!(st.success(), "{args:?}");
        for signal in [
            "SIGUSR1",
            "SIGTERM, SIGINT",
            "SIGHUP",
            "SIGUSR2",
            "SIGTTOU",
            "SIGTTIN",
        ] {
            assert!(out.contains(signal), "{args:?}: {signal} missing:\n{out}");
        }
    }
}

#[test]
fn version_flag() {
    let dir = scratch_dir("version");
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
    let dir = scratch_dir("errorfiles");
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

/// Which of the child's outputs is a pipe whose read end is closed before the child starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Closed {
    Stdout,
    Stderr,
}

/// The write end of a pipe whose read end is already closed: every write gets EPIPE.
fn closed_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    Stdio::from(writer)
}

/// Starts `percore args` in `dir` with the `closed` output a dead pipe and the other piped.
fn spawn_closed(args: &[&str], dir: &Path, closed: Closed) -> Spawned {
    let (out, err) = match closed {
        Closed::Stdout => (closed_pipe(), Stdio::piped()),
        Closed::Stderr => (Stdio::piped(), closed_pipe()),
    };
    let child = Command::new(binary())
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("spawn percore");
    Spawned(Some(child))
}

/// A child process killed when dropped, so that a failing test leaves no `percore` behind.
struct Spawned(Option<Child>);

impl Spawned {
    fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("child not finished yet")
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits at most [`WAIT`] for `child`; returns its status and what its open output said.
fn finish(mut spawned: Spawned, what: &str) -> (ExitStatus, String) {
    let deadline = Instant::now() + WAIT;
    while spawned.child().try_wait().expect("try_wait").is_none() {
        assert!(Instant::now() <= deadline, "{what}: did not exit");
        std::thread::sleep(POLL_EVERY);
    }
    let child = spawned.0.take().expect("child");
    let out = child.wait_with_output().expect("output");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status, text)
}

/// What is wrong with how `child` (started for `what`) ended, if it did not exit with `code`
/// or printed a panic.
fn exit_problem(child: Spawned, what: &str, code: i32) -> Option<String> {
    let (st, text) = finish(child, what);
    (st.code() != Some(code) || text.contains("panicked"))
        .then(|| format!("{what}: {st:?}, expected exit {code}\n{text}"))
}

/// Asserts that `child` (started for `what`) exits with `code` and prints no panic.
fn assert_exits(child: Spawned, what: &str, code: i32) {
    if let Some(problem) = exit_problem(child, what, code) {
        panic!("{problem}");
    }
}

/// Polls until the admin socket `sock` answers `show info`.
fn wait_admin(sock: &Path, child: &mut Spawned, what: &str) {
    poll_until(what, || {
        if let Ok(Some(st)) = child.child().try_wait() {
            panic!("{what}: exited early: {st:?}");
        }
        percore_admin::Client::new(&sock.to_string_lossy())
            .with_timeout(WAIT)
            .send("show info")
    });
}

/// SIGTERM to `child`, which must then exit 0 without a panic.
fn stop_and_assert_zero(mut child: Spawned, what: &str) {
    let pid = nix::unistd::Pid::from_raw(child.child().id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("kill");
    assert_exits(child, what, 0);
}

/// A valid configuration with an admin socket `./admin.sock`.
fn with_admin() -> String {
    VALID.replace(
        "  shards: 1\n",
        "  shards: 1\n  admin:\n    socket: ./admin.sock\n",
    )
}

#[test]
fn every_subcommand_survives_closed_outputs() {
    let dir = scratch_dir("closed-outputs");
    let held = TcpListener::bind("127.0.0.1:0").expect("bind");
    let in_use = VALID.replace(
        "127.0.0.1:0",
        &format!("127.0.0.1:{}", held.local_addr().expect("addr").port()),
    );
    std::fs::write(dir.join("ok.yaml"), VALID).expect("write");
    std::fs::write(dir.join("bad.yaml"), "frontends: [").expect("write");
    std::fs::write(dir.join("in-use.yaml"), in_use).expect("write");
    let live = Proxy::start("closed-outputs-live", &with_admin());
    let live_sock = sock(&live).to_string_lossy().into_owned();
    let dead_sock = dir.join("nobody.sock").to_string_lossy().into_owned();
    let cases: &[(&[&str], i32)] = &[
        (&["--help"], 0),
        (&["help"], 0),
        (&["help", "check"], 0),
        (&["check", "--help"], 0),
        (&["--version"], 0),
        (&["no-such-command"], 2),
        (&["check", "-c", "ok.yaml"], 0),
        (&["check", "-c", "bad.yaml"], 2),
        (&["check", "-c", "missing.yaml"], 2),
        (&["run", "-c", "bad.yaml"], 2),
        (&["run", "-c", "in-use.yaml"], 1),
        (&["ctl", "-s", &dead_sock, "show info"], 2),
        (&["ctl", "-s", &live_sock, "show", "stat"], 0),
        (&["ctl", "-s", &live_sock, "-t", "show", "stat"], 0),
        (&["ctl", "-s", &live_sock, "no such command"], 1),
    ];
    let mut problems = Vec::new();
    for closed in [Closed::Stdout, Closed::Stderr] {
        for (args, code) in cases {
            let what = format!("percore {args:?} with {closed:?} closed");
            problems.extend(exit_problem(spawn_closed(args, &dir, closed), &what, *code));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // `run` itself: it logs to stderr and keeps serving; SIGTERM ends it normally.
    std::fs::write(dir.join("admin.yaml"), with_admin()).expect("write");
    for closed in [Closed::Stdout, Closed::Stderr] {
        let what = format!("percore run with {closed:?} closed");
        let mut child = spawn_closed(&["run", "-c", "admin.yaml"], &dir, closed);
        wait_admin(&dir.join("admin.sock"), &mut child, &what);
        stop_and_assert_zero(child, &what);
    }
}

#[test]
fn demo_survives_a_closed_stdout() {
    for closed in [Closed::Stdout, Closed::Stderr] {
        let dir = scratch_dir("demo-closed");
        let what = format!("percore demo with {closed:?} closed");
        let mut child = spawn_closed(&["demo", "--port", "0"], &dir, closed);
        wait_admin(&dir.join("percore-demo.sock"), &mut child, &what);
        stop_and_assert_zero(child, &what);
        assert!(
            !dir.join("percore-demo.sock").exists(),
            "{what}: admin socket left behind"
        );
    }
}
