//! TLS toward servers: the real binary in front of HTTPS origins written here (rustls on std
//! threads, certificates from rcgen). Checks what the origin saw (SNI, ALPN, client
//! certificate, connections), what the client got, and what percore counted.

mod common;

use std::net::SocketAddr;

use common::http_origin::HttpClient;
use common::tls_origin::{Ca, TlsOrigin};
use common::*;

/// An HTTP proxy (one shard) whose backend `app` has one server `s1` at `origin` with the
/// server keys `server` (`, tls: {..}` and the like).
fn http_yaml(origin: SocketAddr, server: &str) -> String {
    format!(
        "global:\n  shards: 1\n  admin: {{ socket: ./admin.sock }}\n\
         defaults:\n  mode: http\n  timeout: {{ connect: 2s }}\n\
         frontends:\n  web:\n    bind: \"127.0.0.1:0\"\n    default_backend: app\n\
         backends:\n  app:\n    retries: 1\n    \
         servers: [{{ name: s1, address: \"{origin}\"{server} }}]\n"
    )
}

fn server_stat(p: &Proxy, column: &str) -> u64 {
    stat(&admin(&sock(p), "show stat"), "app", "s1", column)
        .parse()
        .expect("number")
}

#[test]
fn requests_reach_a_verified_origin_with_sni_and_alpn_over_one_pooled_connection() {
    let dir = scratch_dir("srvtls-ok");
    let ca = Ca::new();
    let origin = TlsOrigin::start(&ca.leaf(&["origin.test"]), None, &["http/1.1"]);
    let ca_file = ca.cert.write_cert(&dir, "ca.pem");
    let tls = format!(
        ", tls: {{ verify: required, ca: {ca_file}, sni: origin.test, alpn: [h2, http/1.1] }}"
    );
    let p = Proxy::start("srvtls-ok", &http_yaml(origin.addr, &tls));
    let mut client = HttpClient::connect(p.addr("web"));
    for i in 0..3 {
        let r = client.get(&format!("/{i}"));
        assert_eq!((r.status, r.text()), (200, "tls-origin".to_string()), "{i}");
    }
    assert_eq!(origin.requests(), 3);
    assert_eq!(
        origin.accepted(),
        1,
        "one TLS connection, pooled between requests"
    );
    let seen = origin.seen();
    assert_eq!(seen[0].sni.as_deref(), Some("origin.test"));
    assert_eq!(seen[0].alpn.as_deref(), Some("http/1.1"));
    assert!(!seen[0].client_cert);
    // A request that cannot be resent takes the pooled connection after the idle check.
    assert_eq!(post(&mut client), 200);
    assert_eq!(origin.accepted(), 1);
    assert_eq!(server_stat(&p, "econ"), 0);
}

/// Sends a POST with a body (not resendable: a pooled connection is checked before use).
fn post(client: &mut HttpClient) -> u16 {
    client.send(b"POST /form HTTP/1.1\r\nhost: test\r\ncontent-length: 5\r\n\r\nhello");
    client.read_response(false).expect("response").status
}

#[test]
fn a_pooled_tls_connection_the_origin_closed_is_not_reused() {
    let dir = scratch_dir("srvtls-idle");
    let ca = Ca::new();
    let idle = Some(std::time::Duration::from_millis(200));
    let origin = TlsOrigin::start_closing_idle(&ca.leaf(&["origin.test"]), None, &[], idle);
    let ca_file = ca.cert.write_cert(&dir, "ca.pem");
    let tls = format!(", tls: {{ ca: {ca_file}, sni: origin.test }}");
    let p = Proxy::start("srvtls-idle", &http_yaml(origin.addr, &tls));
    let mut client = HttpClient::connect(p.addr("web"));
    assert_eq!(client.get("/").status, 200);
    poll_until("origin closed the idle connection", || {
        match origin.idle_closed() {
            1 => Ok(()),
            n => Err(n),
        }
    });
    // The close_notify and FIN wait in the pooled socket: a POST must not be sent there.
    assert_eq!(post(&mut client), 200);
    assert_eq!(origin.accepted(), 2);
    assert_eq!(origin.requests(), 2);
}

#[test]
fn a_certificate_for_another_name_is_refused_and_verify_none_accepts_it() {
    let dir = scratch_dir("srvtls-name");
    let ca = Ca::new();
    let origin = TlsOrigin::start(&ca.leaf(&["wrong.test"]), None, &[]);
    let ca_file = ca.cert.write_cert(&dir, "ca.pem");
    let verified = format!(", tls: {{ ca: {ca_file}, sni: origin.test }}");
    let p = Proxy::start("srvtls-name", &http_yaml(origin.addr, &verified));
    let r = HttpClient::connect(p.addr("web")).get("/");
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(
        origin.requests(),
        0,
        "nothing sent over an unverified connection"
    );
    assert!(
        server_stat(&p, "econ") >= 1,
        "a refused handshake is a connect error"
    );
    p.wait_log("server app/s1");
    let line = p.wait_log("SSL handshake failure");
    assert!(
        line.contains("NotValidForName") || line.contains("not valid for name"),
        "{line}"
    );
    drop(p);

    for (tag, tls) in [
        (
            "none",
            ", tls: { verify: none, sni: origin.test }".to_string(),
        ),
        // No sni: HAProxy checks the chain only.
        ("chain", format!(", tls: {{ ca: {ca_file} }}")),
    ] {
        let p = Proxy::start("srvtls-name", &http_yaml(origin.addr, &tls));
        let r = HttpClient::connect(p.addr("web")).get("/");
        assert_eq!(r.status, 200, "{tag}: {}", r.text());
    }
    assert_eq!(origin.seen().last().unwrap().sni, None, "no sni: none sent");

    // A certificate of another CA fails the chain even without sni.
    let stranger = TlsOrigin::start(&Ca::new().leaf(&["origin.test"]), None, &[]);
    let p = Proxy::start(
        "srvtls-name",
        &http_yaml(stranger.addr, &format!(", tls: {{ ca: {ca_file} }}")),
    );
    assert_eq!(HttpClient::connect(p.addr("web")).get("/").status, 503);
    assert_eq!(stranger.requests(), 0);
}

#[test]
fn a_client_certificate_is_presented_to_an_origin_that_requires_one() {
    let dir = scratch_dir("srvtls-mtls");
    let ca = Ca::new();
    let clients = Ca::new();
    let origin = TlsOrigin::start(&ca.leaf(&["origin.test"]), Some(&clients.cert), &[]);
    let ca_file = ca.cert.write_cert(&dir, "ca.pem");
    let identity = clients
        .leaf(&["percore.test"])
        .write_combined(&dir, "client.pem");
    let with = format!(", tls: {{ ca: {ca_file}, sni: origin.test, cert: {identity} }}");
    let p = Proxy::start("srvtls-mtls", &http_yaml(origin.addr, &with));
    assert_eq!(HttpClient::connect(p.addr("web")).get("/").status, 200);
    assert!(origin.seen()[0].client_cert);
    drop(p);
    let without = format!(", tls: {{ ca: {ca_file}, sni: origin.test }}");
    let p = Proxy::start("srvtls-mtls", &http_yaml(origin.addr, &without));
    // TLS 1.3: the origin refuses after percore's side of the handshake ended, so the
    // refusal comes instead of the response: 502, not a connect error.
    let status = HttpClient::connect(p.addr("web")).get("/").status;
    assert!(matches!(status, 502 | 503), "{status}");
    assert_eq!(
        origin.requests(),
        1,
        "only the request with a certificate was served"
    );
}

#[test]
fn tcp_mode_originates_tls_too() {
    let dir = scratch_dir("srvtls-tcp");
    let ca = Ca::new();
    let origin = TlsOrigin::start(&ca.leaf(&["origin.test"]), None, &[]);
    let ca_file = ca.cert.write_cert(&dir, "ca.pem");
    let yaml = format!(
        "global:\n  shards: 2\n\
         frontends:\n  raw:\n    mode: tcp\n    bind: \"127.0.0.1:0\"\n    default_backend: app\n\
         backends:\n  app:\n    mode: tcp\n    servers:\n      - {{ name: s1, address: \"{}\", \
         tls: {{ ca: {ca_file}, sni: origin.test }} }}\n",
        origin.addr
    );
    let p = Proxy::start("srvtls-tcp", &yaml);
    let mut client = HttpClient::connect(p.addr("raw"));
    for i in 0..2 {
        let r = client.get(&format!("/{i}"));
        assert_eq!((r.status, r.text()), (200, "tls-origin".to_string()));
    }
    assert_eq!(origin.accepted(), 1, "one stream, one TLS connection");
    assert_eq!(origin.seen()[0].sni.as_deref(), Some("origin.test"));
}

/// A one-shard proxy whose backend `app` checks (`check`: the backend's flow mapping) two
/// servers over TLS verified for `origin.test`: `good` and `bad`.
fn checked_yaml(check: &str, ca_file: &str, good: SocketAddr, bad: SocketAddr) -> String {
    format!(
        "global:\n  shards: 1\n  admin: {{ socket: ./admin.sock }}\n\
         defaults:\n  mode: http\n\
         frontends:\n  web:\n    bind: \"127.0.0.1:0\"\n    default_backend: app\n\
         backends:\n  app:\n    check: {check}\n    \
         tls: {{ ca: {ca_file}, sni: origin.test }}\n    servers:\n      \
         - {{ name: good, address: \"{good}\" }}\n      - {{ name: bad, address: \"{bad}\" }}\n"
    )
}

/// Waits until server `name` shows `status` and `check_status`.
fn wait_check(p: &Proxy, name: &str, status: &str, check_status: &str) {
    poll_until(&format!("{name} {status} {check_status}"), || {
        let csv = admin(&sock(p), "show stat");
        let got = (
            stat(&csv, "app", name, "status"),
            stat(&csv, "app", name, "check_status"),
        );
        if got.0 == status && got.1 == check_status {
            Ok(())
        } else {
            Err(got)
        }
    });
}

#[test]
fn health_checks_run_over_tls_and_a_wrong_certificate_marks_the_server_down() {
    let dir = scratch_dir("srvtls-check");
    let ca = Ca::new();
    let ca_file = ca.cert.write_cert(&dir, "ca.pem");
    let good = TlsOrigin::start(&ca.leaf(&["origin.test"]), None, &[]);
    let bad = TlsOrigin::start(&ca.leaf(&["wrong.test"]), None, &[]);
    let tcp = "{ type: tcp, inter: 100ms, rise: 1, fall: 1 }";
    let p = Proxy::start(
        "srvtls-check",
        &checked_yaml(tcp, &ca_file, good.addr, bad.addr),
    );
    wait_check(&p, "good", "UP", "L6OK");
    wait_check(&p, "bad", "DOWN", "L6RSP");
    let csv = admin(&sock(&p), "show stat");
    assert_eq!(
        stat(&csv, "app", "bad", "check_desc"),
        "Layer6 invalid response"
    );
    assert!(good
        .seen()
        .iter()
        .all(|s| s.sni.as_deref() == Some("origin.test")));
    assert_eq!(good.requests(), 0, "a TCP check sends no request");
    // Traffic goes to the server that passes.
    for _ in 0..3 {
        assert_eq!(HttpClient::connect(p.addr("web")).get("/").status, 200);
    }
    drop(p);

    let http = "{ type: http, path: /health, inter: 100ms, rise: 1, fall: 1 }";
    let p = Proxy::start(
        "srvtls-check",
        &checked_yaml(http, &ca_file, good.addr, bad.addr),
    );
    wait_check(&p, "good", "UP", "L7OK");
    wait_check(&p, "bad", "DOWN", "L6RSP");
    assert!(good.requests() > 3, "HTTP checks are requests inside TLS");
}
