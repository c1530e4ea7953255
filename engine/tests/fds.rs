//! The descriptor ceiling (issue 17): `percore run` raises the soft `ulimit -n` as far as the
//! configuration needs, lowers a default `global.maxconn` that does not fit and warns about a
//! configured one. Method: the real binary under `prlimit`, `show info` and the process log.

mod common;

use std::net::SocketAddr;

use common::*;

/// Two shards, one TCP frontend to `origin`, the admin socket, and `maxconn` (a YAML line
/// under `global`, or nothing).
fn config(origin: SocketAddr, maxconn: &str) -> String {
    format!(
        "global:\n  shards: 2\n  {maxconn}\n  admin:\n    socket: ./admin.sock\n\
         defaults:\n  mode: tcp\n  timeout: {{ connect: 1s, client: 30s, server: 30s }}\n\
         frontends:\n  fe:\n    bind: \"127.0.0.1:0\"\n    default_backend: app\n\
         backends:\n  app:\n    servers:\n      - {{ name: s1, address: \"{origin}\" }}\n"
    )
}

/// The value of `field` in `show info`.
fn info(p: &Proxy, field: &str) -> u64 {
    let out = admin(&sock(p), "show info");
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}: ")))
        .unwrap_or_else(|| panic!("no {field} in show info:\n{out}"));
    line.trim().parse().expect("a number")
}

#[test]
fn a_default_maxconn_is_lowered_to_what_ulimit_allows() {
    let origin = Origin::start(Behaviour::Echo);
    let yaml = config(origin.addr, "grace: 1s");
    let mut p = Proxy::start_under("fds-low", &yaml, &["prlimit", "--nofile=300:300"]);
    let maxconn = info(&p, "Maxconn");
    assert!(
        maxconn > 0 && maxconn < 150,
        "Maxconn {maxconn} under ulimit -n 300"
    );
    let log = p.wait_log("global.maxconn lowered to");
    assert!(log.contains(&format!("lowered to {maxconn} ")), "{log}");
    assert!(info(&p, "Maxsock") <= 300);
    let mut c = connect(p.addr("fe"));
    assert_eq!(echo_round_trip(&mut c, b"still served"), b"still served");
    drop(c);
    p.stop();
}

#[test]
fn a_configured_maxconn_that_does_not_fit_is_kept_with_a_warning() {
    let origin = Origin::start(Behaviour::Echo);
    let yaml = config(origin.addr, "maxconn: 10000");
    let mut p = Proxy::start_under("fds-short", &yaml, &["prlimit", "--nofile=300:300"]);
    let log = p.wait_log("global.maxconn 10000 needs up to");
    assert!(log.contains("ulimit -n allows 300"), "{log}");
    assert!(log.contains("WARN"), "{log}");
    assert_eq!(info(&p, "Maxconn"), 10000);
    p.stop();
}

#[test]
fn the_soft_limit_is_raised_as_far_as_needed() {
    let origin = Origin::start(Behaviour::Echo);
    let yaml = config(origin.addr, "maxconn: 2000");
    let mut p = Proxy::start_under("fds-raise", &yaml, &["prlimit", "--nofile=300:8192"]);
    let ulimit = info(&p, "Ulimit-n");
    assert!((4000..=8192).contains(&ulimit), "Ulimit-n {ulimit}");
    assert!(info(&p, "Maxsock") >= 4000);
    assert_eq!(info(&p, "Maxconn"), 2000);
    p.stop();
    assert!(!p.log().contains("needs up to"), "{}", p.log());
}
