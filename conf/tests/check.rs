//! Health-check configuration: defaults, backend settings merged with server overrides,
//! `check: false`, backups, on_marked_down/up, and invalid forms with exact positions.

use std::time::Duration;

use percore_conf::check::{CheckKind, OnMarkedDown, OnMarkedUp};
use percore_conf::{parse, HostInfo};

fn host() -> HostInfo {
    HostInfo { cpus: vec![0, 1] }
}

fn with_backend(backend: &str) -> String {
    format!(
        "frontends:\n  web: {{ bind: \"127.0.0.1:8080\", default_backend: app }}\nbackends:\n  app:\n{backend}"
    )
}

fn error(text: &str) -> String {
    match parse("c.yaml", text, &host()) {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn backend_check_merged_with_server_overrides() {
    let text = with_backend(
        "    check: { type: http, path: /health, expect_status: \"200-299\", inter: 1s, rise: 3, fall: 2, observe: layer7, error_limit: 5, on_error: sudden-death }\n\
         \x20   on_marked_down: shutdown-sessions\n\
         \x20   on_marked_up: shutdown-backup-sessions\n\
         \x20   servers:\n\
         \x20     - { name: s1, address: \"127.0.0.1:9001\" }\n\
         \x20     - { name: s2, address: \"127.0.0.1:9002\", check: { inter: 500ms, expect_status: 204 } }\n\
         \x20     - { name: s3, address: \"127.0.0.1:9003\", check: false }\n\
         \x20     - { name: b1, address: \"127.0.0.1:9004\", backup: true }\n",
    );
    let c = parse("c.yaml", &text, &host()).expect("valid");
    let be = &c.backends[0];
    assert_eq!(be.on_marked_down, OnMarkedDown::ShutdownSessions);
    assert_eq!(be.on_marked_up, OnMarkedUp::ShutdownBackupSessions);
    let s1 = be.servers[0].check.as_ref().expect("checked");
    assert_eq!(s1.kind, CheckKind::Http);
    assert_eq!(s1.path, "/health");
    assert_eq!(s1.expect_status, 200..=299);
    assert_eq!(
        (s1.inter, s1.fastinter, s1.downinter),
        (
            Duration::from_secs(1),
            Duration::from_secs(1),
            Duration::from_secs(1)
        )
    );
    assert_eq!((s1.rise, s1.fall), (3, 2));
    assert_eq!(s1.observe, Some(percore_conf::check::Observe::Layer7));
    assert_eq!(s1.error_limit, 5);
    assert_eq!(s1.on_error, percore_conf::check::OnError::SuddenDeath);
    let s2 = be.servers[1].check.as_ref().expect("checked");
    assert_eq!(s2.inter, Duration::from_millis(500));
    assert_eq!(s2.expect_status, 204..=204);
    assert_eq!(s2.path, "/health", "inherited");
    assert!(be.servers[2].check.is_none());
    assert!(be.servers[3].backup);
    assert!(be.servers[3].check.is_some(), "backups are checked too");
}

#[test]
fn defaults_without_backend_check() {
    let text = with_backend(
        "    servers:\n      - { name: s1, address: \"127.0.0.1:9001\", check: true }\n      - { name: s2, address: \"127.0.0.1:9002\" }\n",
    );
    let c = parse("c.yaml", &text, &host()).expect("valid");
    let s1 = c.backends[0].servers[0].check.as_ref().expect("checked");
    assert_eq!(s1.kind, CheckKind::Tcp);
    assert_eq!((s1.rise, s1.fall, s1.inter), (2, 3, Duration::from_secs(2)));
    assert!(c.backends[0].servers[1].check.is_none());
}

#[test]
fn invalid_checks() {
    let cases = [
        (
            "    check: { type: udp }\n    servers: [{ name: s1, address: \"127.0.0.1:9001\" }]\n",
            "c.yaml:5:20: backends.app.check.type: unknown value `udp`, expected one of `tcp`, `http`",
        ),
        (
            "    check: { rise: 0 }\n    servers: [{ name: s1, address: \"127.0.0.1:9001\" }]\n",
            "c.yaml:5:20: backends.app.check.rise: must be at least 1, found 0",
        ),
        (
            "    check: { expect_status: \"300-200\" }\n    servers: [{ name: s1, address: \"127.0.0.1:9001\" }]\n",
            "c.yaml:5:29: backends.app.check.expect_status: expected a status 100..599 or a range such as \"200-399\", found \"300-200\"",
        ),
        (
            "    check: { path: health }\n    servers: [{ name: s1, address: \"127.0.0.1:9001\" }]\n",
            "c.yaml:5:20: backends.app.check.path: expected a path starting with /, found \"health\"",
        ),
        (
            "    check: { inter: 0s }\n    servers: [{ name: s1, address: \"127.0.0.1:9001\" }]\n",
            "c.yaml:5:21: backends.app.check.inter: must be greater than 0, found 0s",
        ),
        (
            "    on_marked_down: kill\n    servers: [{ name: s1, address: \"127.0.0.1:9001\" }]\n",
            "c.yaml:5:21: backends.app.on_marked_down: unknown value `kill`, expected one of `nothing`, `shutdown-sessions`",
        ),
        (
            "    servers: [{ name: s1, address: \"127.0.0.1:9001\", check: { fall: x } }]\n",
            "c.yaml:5:69: backends.app.servers[0].check.fall: expected an integer, found string \"x\"",
        ),
    ];
    let mut wrong = Vec::new();
    for (backend, want) in cases {
        let got = error(&with_backend(backend));
        if got != want {
            wrong.push(format!("got:  {got}\nwant: {want}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
