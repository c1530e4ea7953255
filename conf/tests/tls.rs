//! TLS binds: certificate files are read and checked at load time, and every mistake is
//! refused with its position (`percore check` prints the same).

use std::path::{Path, PathBuf};

use percore_conf::tls::{ClientVerify, TlsVersion};
use percore_conf::{parse, HostInfo};

fn host() -> HostInfo {
    HostInfo { cpus: vec![0, 1] }
}

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("percore-conf-tls-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    fn file(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write");
        path.display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A self-signed certificate for `names` and its key, as PEM text.
fn cert(names: &[&str]) -> (String, String) {
    let key = rcgen::KeyPair::generate().expect("key");
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let cert = rcgen::CertificateParams::new(names)
        .expect("params")
        .self_signed(&key)
        .expect("cert");
    (cert.pem(), key.serialize_pem())
}

fn expired_cert() -> (String, String) {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(vec!["old.test".to_string()]).expect("params");
    params.not_before = rcgen::date_time_ymd(2000, 1, 1);
    params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    (
        params.self_signed(&key).expect("cert").pem(),
        key.serialize_pem(),
    )
}

/// A config whose one frontend binds `tls` (a flow mapping) at line 4.
fn config(tls: &str) -> String {
    format!(
        "frontends:\n  web:\n    bind:\n      - {{ address: \"127.0.0.1:0\", tls: {tls} }}\n    default_backend: app\nbackends:\n  app:\n    servers:\n      - {{ name: s1, address: \"127.0.0.1:9\" }}\n"
    )
}

fn error(text: &str) -> String {
    match parse("test.yaml", text, &host()) {
        Ok(_) => panic!("accepted an invalid config:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_combined_pem_a_pair_and_a_directory_each_load_with_the_first_as_default() {
    let dir = TempDir::new("load");
    let (c1, k1) = cert(&["a.test"]);
    let combined = dir.file("a.pem", &format!("{c1}{k1}"));
    let (c2, k2) = cert(&["b.test", "*.b.test"]);
    let b_cert = dir.file("b.crt", &c2);
    let b_key = dir.file("b.key.pem", &k2);
    let sub = dir.0.join("more");
    std::fs::create_dir_all(&sub).unwrap();
    let (c3, k3) = cert(&["c.test"]);
    std::fs::write(sub.join("c.pem"), &c3).unwrap();
    std::fs::write(sub.join("c.pem.key"), &k3).unwrap();
    let text = config(&format!(
        "{{ certs: [{combined}, {b_cert}, {b_key}, {}], alpn: [h2, http/1.1], min_version: \"1.3\" }}",
        sub.display()
    ));
    let cfg = parse("test.yaml", &text, &host()).expect("valid");
    let tls = cfg.frontends[0].tls[0].as_ref().expect("tls bind");
    let names: Vec<&Vec<String>> = tls.certs.iter().map(|c| &c.names).collect();
    assert_eq!(
        names,
        vec![
            &vec!["a.test".to_string()],
            &vec!["b.test".to_string(), "*.b.test".to_string()],
            &vec!["c.test".to_string()]
        ]
    );
    assert_eq!(tls.certs[0].file, Path::new(&combined));
    assert!(tls.certs[1].serves("www.b.test"));
    assert_eq!(tls.alpn, vec!["h2", "http/1.1"]);
    assert_eq!(tls.min_version, TlsVersion::V1_3);
    assert_eq!(tls.max_version, TlsVersion::V1_3);
    assert_eq!(tls.verify, ClientVerify::None);
    assert!(
        !format!("{tls:?}").contains("PRIVATE"),
        "keys are never printed"
    );
}

#[test]
fn plain_and_mapping_binds_mix_and_keep_their_order() {
    let dir = TempDir::new("mix");
    let (c, k) = cert(&["a.test"]);
    let pem = dir.file("a.pem", &format!("{c}{k}"));
    let text = format!(
        "frontends:\n  web:\n    bind: [\"127.0.0.1:0\", {{ address: \"127.0.0.1:0\", tls: {{ certs: [{pem}] }} }}, {{ address: \"[::1]:0\" }}]\n    default_backend: app\nbackends:\n  app:\n    servers: [{{ name: s1, address: \"127.0.0.1:9\" }}]\n"
    );
    let cfg = parse("test.yaml", &text, &host()).expect("valid");
    let fe = &cfg.frontends[0];
    assert_eq!(fe.bind.len(), 3);
    assert!(fe.tls[0].is_none() && fe.tls[1].is_some() && fe.tls[2].is_none());
}

#[test]
fn a_key_that_does_not_match_its_certificate_is_refused_at_its_position() {
    let dir = TempDir::new("mismatch");
    let (c1, _) = cert(&["a.test"]);
    let (_, k2) = cert(&["b.test"]);
    let cert_file = dir.file("a.crt", &c1);
    let key_file = dir.file("b.key", &k2);
    let text = config(&format!("{{ certs: [{cert_file}, {key_file}] }}"));
    let err = error(&text);
    let column = text.lines().nth(3).unwrap().find(&cert_file).unwrap() + 1;
    assert_eq!(
        err,
        format!(
            "test.yaml:4:{column}: frontends.web.bind[0].tls.certs[0]: {cert_file}: the private key does not match the certificate"
        )
    );
}

#[test]
fn bad_certificate_files_are_refused_with_what_is_wrong() {
    let dir = TempDir::new("bad");
    let (c, k) = cert(&["a.test"]);
    let no_key = dir.file("nokey.pem", &c);
    let garbage = dir.file(
        "garbage.pem",
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
    );
    let key_only = dir.file("k.pem", &k);
    let (ec, ek) = expired_cert();
    let expired = dir.file("old.pem", &format!("{ec}{ek}"));
    let missing = dir.0.join("missing.pem").display().to_string();
    let cases = [
        (no_key.clone(), "holds no private key, and no"),
        (garbage, "bad PEM"),
        (key_only, "holds no certificate"),
        (expired, "the certificate expired on"),
        (missing, "cannot open"),
    ];
    for (file, wanted) in cases {
        let err = error(&config(&format!("{{ certs: [{file}] }}")));
        assert!(
            err.starts_with("test.yaml:4:")
                && err.contains("tls.certs[0]: ")
                && err.contains(wanted),
            "{file}: {err}"
        );
    }
    let err = error(&config("{ certs: [] }"));
    assert!(err.contains("tls.certs: expected at least one"), "{err}");
}

#[test]
fn versions_ciphers_alpn_and_verify_are_checked() {
    let dir = TempDir::new("opts");
    let (c, k) = cert(&["a.test"]);
    let pem = dir.file("a.pem", &format!("{c}{k}"));
    let ca = dir.file("ca.pem", &c);
    let ok = |extra: &str| {
        let text = config(&format!("{{ certs: [{pem}], {extra} }}"));
        parse("test.yaml", &text, &host()).map(|cfg| cfg.frontends[0].tls[0].clone().unwrap())
    };
    let bad = |extra: &str| error(&config(&format!("{{ certs: [{pem}], {extra} }}")));
    assert!(bad("min_version: \"1.1\"").contains("tls.min_version: TLS 1.1 is not offered"));
    assert!(bad("min_version: \"1.3\", max_version: \"1.2\"")
        .contains("max_version TLSv1.2 is older than min_version TLSv1.3"));
    assert!(bad("ciphers: [RC4-MD5]").contains("tls.ciphers[0]: unknown cipher suite \"RC4-MD5\""));
    assert!(bad("ciphers: [ECDHE-ECDSA-AES128-GCM-SHA256]").contains("no cipher suite for TLSv1.3"));
    assert!(bad("alpn: [http/1.1, http/1.1]").contains("tls.alpn[1]: http/1.1 is listed twice"));
    assert!(bad("verify: required").contains("verify needs client_ca"));
    assert!(bad(&format!("client_ca: {ca}")).contains("client_ca has no effect with verify none"));
    assert!(bad("verify: maybe").contains("expected none, optional or required"));
    let tls = ok(&format!(
        "verify: optional, client_ca: {ca}, ciphers: [TLS13_AES_128_GCM_SHA256, ECDHE-ECDSA-AES128-GCM-SHA256], min_version: TLSv1.2, strict_sni: true"
    ))
    .expect("valid");
    assert_eq!(tls.verify, ClientVerify::Optional);
    assert_eq!(tls.client_ca.len(), 1);
    assert_eq!(
        tls.ciphers,
        vec![
            "TLS13_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
        ]
    );
    assert!(tls.strict_sni);
    assert!(
        bad("cert: x").contains("unknown field"),
        "{}",
        bad("cert: x")
    );
}

/// A config whose backend `app` has `backend_tls` (a flow mapping, or empty) at line 7 and
/// two servers at lines 9 and 10, the first with `server_tls` (or none).
fn server_config(backend_tls: &str, server_tls: &str) -> String {
    let backend = if backend_tls.is_empty() {
        "    balance: roundrobin\n".to_string()
    } else {
        format!("    tls: {backend_tls}\n")
    };
    let own = if server_tls.is_empty() {
        String::new()
    } else {
        format!(", tls: {server_tls}")
    };
    format!(
        "frontends:\n  web:\n    bind: \"127.0.0.1:0\"\n    default_backend: app\nbackends:\n  app:\n{backend}    servers:\n      - {{ name: s1, address: \"127.0.0.1:9\"{own} }}\n      - {{ name: s2, address: \"127.0.0.1:10\" }}\n"
    )
}

#[test]
fn server_tls_inherits_the_backends_settings_key_by_key() {
    use percore_conf::tls::ServerVerify;
    let dir = TempDir::new("srv");
    let (c, _) = cert(&["origin.test"]);
    let ca = dir.file("ca.pem", &c);
    let (cc, ck) = cert(&["client.test"]);
    let identity = dir.file("client.pem", &format!("{cc}{ck}"));
    let text = server_config(
        &format!("{{ ca: {ca}, sni: Origin.Test, alpn: [http/1.1] }}"),
        &format!("{{ sni: other.test, cert: {identity} }}"),
    );
    let cfg = parse("test.yaml", &text, &host()).expect("valid");
    let servers = &cfg.backends[0].servers;
    let s1 = servers[0].tls.as_ref().expect("s1 tls");
    let s2 = servers[1].tls.as_ref().expect("s2 inherits");
    assert_eq!(s1.verify, ServerVerify::Required, "the default");
    assert_eq!((s1.ca.len(), s2.ca.len()), (1, 1));
    assert_eq!(s1.sni.as_deref(), Some("other.test"));
    assert_eq!(s2.sni.as_deref(), Some("origin.test"), "lowercased");
    assert_eq!(s1.alpn, vec!["http/1.1"]);
    assert_eq!(
        s1.cert.as_ref().map(|c| c.names.clone()),
        Some(vec!["client.test".into()])
    );
    assert!(s2.cert.is_none());
    assert!(
        !format!("{s1:?}").contains("PRIVATE"),
        "keys are never printed"
    );

    // Only a server: the other stays plain; verify none needs no ca, and turns the
    // backend's off.
    let cfg = parse("test.yaml", &server_config("", "{ verify: none }"), &host()).expect("valid");
    let tls = cfg.backends[0].servers[0].tls.as_ref().expect("tls");
    assert_eq!(
        (tls.verify, tls.ca.len(), tls.sni.as_deref()),
        (ServerVerify::None, 0, None)
    );
    assert!(cfg.backends[0].servers[1].tls.is_none());
    let text = server_config(&format!("{{ ca: {ca} }}"), "{ verify: none }");
    let cfg = parse("test.yaml", &text, &host()).expect("valid");
    assert_eq!(cfg.backends[0].servers[0].tls.as_ref().unwrap().ca.len(), 0);
    // A client certificate needs no DNS name; an identity without SAN or CN still loads.
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    let bare = params.self_signed(&key).unwrap();
    let bare = dir.file(
        "bare.pem",
        &format!("{}{}", bare.pem(), key.serialize_pem()),
    );
    let text = server_config("", &format!("{{ verify: none, cert: {bare} }}"));
    assert!(parse("test.yaml", &text, &host()).is_ok());
}

#[test]
fn server_tls_mistakes_are_refused_where_they_are_written() {
    let dir = TempDir::new("srvbad");
    let (c, k) = cert(&["origin.test"]);
    let ca = dir.file("ca.pem", &c);
    let (_, other_key) = cert(&["x.test"]);
    let mismatched = dir.file("mismatch.pem", &format!("{c}{other_key}"));
    let (ec, ek) = expired_cert();
    let expired = dir.file("old.pem", &format!("{ec}{ek}"));
    let key_only = dir.file("key.pem", &k);
    let at = |text: &str, line: usize, needle: &str| {
        let column = text.lines().nth(line - 1).unwrap().find(needle).unwrap() + 1;
        format!("test.yaml:{line}:{column}: ")
    };

    let text = server_config("{ sni: a.test }", "");
    let err = error(&text);
    assert!(
        err.starts_with("test.yaml:7:")
            && err.contains("backends.app.tls.verify: verify required needs ca")
            && err.contains("system's roots are never used"),
        "{err}"
    );
    let text = server_config("", "{ sni: a.test }");
    let err = error(&text);
    assert!(
        err.contains("backends.app.servers[0].tls.verify: verify required needs ca"),
        "{err}"
    );
    let text = server_config("", &format!("{{ verify: none, ca: {ca} }}"));
    assert!(error(&text).contains("servers[0].tls.ca: ca has no effect with verify none"));
    let text = server_config("", "{ verify: maybe }");
    assert!(error(&text).contains("tls.verify: expected required or none, found \"maybe\""));
    let text = server_config(&format!("{{ ca: {ca}, sni: \"127.0.0.1\" }}"), "");
    assert!(error(&text).contains("backends.app.tls.sni: expected a DNS name"));
    let text = server_config(&format!("{{ ca: {ca}, alpn: [h2, h2] }}"), "");
    assert!(error(&text).contains("tls.alpn[1]: h2 is listed twice"));
    let text = server_config(&format!("{{ ca: {key_only} }}"), "");
    assert!(
        error(&text).contains("backends.app.tls.ca: ")
            && error(&text).contains("holds no certificate")
    );
    for (file, wanted) in [
        (
            &mismatched,
            "the private key does not match the certificate",
        ),
        (&expired, "the certificate expired on"),
        (&ca, "holds no private key"),
    ] {
        let text = server_config(&format!("{{ ca: {ca} }}"), &format!("{{ cert: {file} }}"));
        let err = error(&text);
        assert!(
            err.starts_with(&at(&text, 9, file))
                && err.contains("backends.app.servers[0].tls.cert: ")
                && err.contains(wanted),
            "{file}: {err}"
        );
    }
    let text = server_config(&format!("{{ ca: {ca} }}"), "{ certs: [x] }");
    assert!(error(&text).contains("unknown field"), "{}", error(&text));
    let text = server_config(&format!("{{ ca: {ca} }}"), "").replace(
        "address: \"127.0.0.1:10\"",
        "address: \"127.0.0.1:10\", send_proxy: v2",
    );
    assert!(
        error(&text).contains("servers[1].send_proxy: send_proxy with tls is not supported yet")
    );
}

#[test]
fn sni_and_alpn_conditions_are_read_and_checked() {
    let text = "defaults: { mode: http }\nfrontends:\n  web:\n    bind: \"127.0.0.1:0\"\n    use_backend:\n      - { backend: app, when: { sni: [API.Example.com], alpn: h2 } }\n    default_backend: app\nbackends:\n  app:\n    servers: [{ name: s1, address: \"127.0.0.1:9\" }]\n";
    let cfg = parse("test.yaml", text, &host()).expect("valid");
    let when = format!("{:?}", cfg.frontends[0].http.routes[0].when);
    assert!(when.contains("Sni([\"api.example.com\"])"), "{when}");
    assert!(when.contains("Alpn([\"h2\"])"), "{when}");
    let bad = error(&text.replace("sni: [API.Example.com]", "sni: \"a b\""));
    assert!(bad.contains("when.sni: expected a host name"), "{bad}");
    let bad = error(&text.replace("alpn: h2", "alpn: \"\""));
    assert!(
        bad.contains("when.alpn: an ALPN name is 1 to 255 bytes"),
        "{bad}"
    );
}

#[test]
fn the_ticket_rotation_period_is_bounded() {
    let base = "frontends:\n  web: { bind: \"127.0.0.1:0\", default_backend: app }\nbackends:\n  app: { servers: [ { name: s1, address: \"127.0.0.1:9\" } ] }\n";
    let cfg = parse("test.yaml", base, &host()).expect("valid");
    assert_eq!(
        cfg.global.tune.tls_ticket_rotation,
        std::time::Duration::from_secs(3600)
    );
    let with = |v: &str| format!("global: {{ tune: {{ tls_ticket_rotation: {v} }} }}\n{base}");
    let cfg = parse("test.yaml", &with("10m"), &host()).expect("valid");
    assert_eq!(
        cfg.global.tune.tls_ticket_rotation,
        std::time::Duration::from_secs(600)
    );
    for bad in ["500ms", "4d"] {
        let e = error(&with(bad));
        assert!(
            e.contains("global.tune.tls_ticket_rotation: expected a duration from 1s to 3d"),
            "{e}"
        );
    }
}
