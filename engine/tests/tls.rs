//! TLS termination: the real binary with TLS binds and certificates made by the tests
//! (rcgen), clients on rustls (and curl when installed). Checks what a client sees (status,
//! the certificate served, ALPN, resumption, alerts) and what percore counts and logs.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;

use common::http_origin::HttpOrigin;
use common::*;
use percore::tls::connector::NoVerify;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, StreamOwned};

/// A certificate and its key, as PEM and DER.
struct Cert {
    pem: String,
    key_pem: String,
    der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

/// A self-signed certificate for `names`.
fn self_signed(names: &[&str]) -> Cert {
    let key = rcgen::KeyPair::generate().expect("key");
    let params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("params");
    let cert = params.self_signed(&key).expect("cert");
    Cert {
        pem: cert.pem(),
        key_pem: key.serialize_pem(),
        der: cert.der().clone(),
        key_der: key.serialize_der(),
    }
}

/// A CA and a certificate it signed for `name` (client certificates).
fn ca_and_leaf(name: &str) -> (Cert, Cert) {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let issuer = rcgen::Issuer::new(ca_params, &ca_key);
    let leaf_key = rcgen::KeyPair::generate().expect("key");
    let leaf = rcgen::CertificateParams::new(vec![name.to_string()])
        .expect("params")
        .signed_by(&leaf_key, &issuer)
        .expect("leaf");
    (
        Cert {
            pem: ca.pem(),
            key_pem: ca_key.serialize_pem(),
            der: ca.der().clone(),
            key_der: ca_key.serialize_der(),
        },
        Cert {
            pem: leaf.pem(),
            key_pem: leaf_key.serialize_pem(),
            der: leaf.der().clone(),
            key_der: leaf_key.serialize_der(),
        },
    )
}

/// Writes `cert` as one combined PEM file in `dir`; returns its path.
fn write_pem(dir: &Path, name: &str, cert: &Cert) -> String {
    let path = dir.join(name);
    std::fs::write(&path, format!("{}{}", cert.pem, cert.key_pem)).expect("write pem");
    path.display().to_string()
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Client settings: trust `root` (or any certificate), protocol `versions`, ALPN offer.
struct Client {
    root: Option<CertificateDer<'static>>,
    versions: Vec<&'static rustls::SupportedProtocolVersion>,
    alpn: Vec<Vec<u8>>,
    identity: Option<(CertificateDer<'static>, Vec<u8>)>,
}

impl Client {
    fn trusting(root: &Cert) -> Self {
        Client {
            root: Some(root.der.clone()),
            versions: vec![&rustls::version::TLS13, &rustls::version::TLS12],
            alpn: Vec::new(),
            identity: None,
        }
    }

    fn any() -> Self {
        Client {
            root: None,
            ..Client::trusting(&self_signed(&["unused.test"]))
        }
    }

    fn config(&self) -> Arc<ClientConfig> {
        let builder = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&self.versions)
            .expect("versions");
        let builder = match &self.root {
            Some(root) => {
                let mut roots = rustls::RootCertStore::empty();
                roots.add(root.clone()).expect("root");
                builder.with_root_certificates(roots)
            }
            None => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerify::new(provider()))),
        };
        let mut config = match &self.identity {
            Some((cert, key)) => builder
                .with_client_auth_cert(
                    vec![cert.clone()],
                    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.clone())),
                )
                .expect("client cert"),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = self.alpn.clone();
        Arc::new(config)
    }
}

type Tls = StreamOwned<ClientConnection, TcpStream>;

/// Connects and completes the handshake with SNI `sni`.
fn handshake(addr: SocketAddr, config: Arc<ClientConfig>, sni: &str) -> Result<Tls, String> {
    let tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(WAIT)).expect("timeout");
    let name = ServerName::try_from(sni.to_string()).expect("sni");
    let conn = ClientConnection::new(config, name).map_err(|e| e.to_string())?;
    let mut tls = StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        tls.conn
            .complete_io(&mut tls.sock)
            .map_err(|e| e.to_string())?;
    }
    Ok(tls)
}

/// Sends one `connection: close` GET and reads the response until the end. Returns the
/// response text and whether the end was a clean close_notify.
fn get(tls: &mut Tls, path: &str) -> (String, bool) {
    try_get(tls, path).expect("GET over TLS")
}

/// [`get`], with a TLS or socket error returned.
fn try_get(tls: &mut Tls, path: &str) -> Result<(String, bool), String> {
    let req = format!("GET {path} HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n");
    tls.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let clean = loop {
        match tls.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break false,
            Err(e) => return Err(e.to_string()),
        }
    };
    Ok((String::from_utf8_lossy(&out).into_owned(), clean))
}

fn status(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// An HTTP proxy whose frontend `web` binds plain and TLS (`tls` is the flow mapping).
fn http_yaml(origin: SocketAddr, tls: &str) -> String {
    format!(
        "global:\n  shards: 2\n  admin: {{ socket: ./admin.sock }}\n  \
         metrics: {{ bind: \"127.0.0.1:0\" }}\n  \
         log: {{ target: ./access.log, access: true, log_format: \"%cp %ID %sslv %sslc %ST %r\" }}\n\
         defaults:\n  mode: http\n  timeout: {{ client: 500ms }}\n\
         frontends:\n  web:\n    bind:\n      - \"127.0.0.1:0\"\n      \
         - {{ address: \"127.0.0.1:0\", tls: {tls} }}\n    forwardfor: true\n    \
         default_backend: app\n\
         backends:\n  app:\n    servers: [{{ name: s1, address: \"{origin}\" }}]\n"
    )
}

/// What most tests start from, dropped proxy first: an HTTP origin, a certificate for
/// `names` written to a scratch directory, and a proxy whose frontend `web` binds plain
/// and TLS with it (`extra` is appended to the `tls` mapping).
struct Fixture {
    p: Proxy,
    origin: HttpOrigin,
    cert: Cert,
    pem: String,
    dir: TempDir,
}

fn fixture(tag: &str, names: &[&str], extra: &str) -> Fixture {
    let origin = HttpOrigin::start("app");
    let dir = scratch_dir(tag);
    let cert = self_signed(names);
    let pem = write_pem(&dir, "site.pem", &cert);
    let p = Proxy::start(
        tag,
        &http_yaml(origin.addr, &format!("{{ certs: [{pem}]{extra} }}")),
    );
    Fixture {
        p,
        origin,
        cert,
        pem,
        dir,
    }
}

/// The two listening addresses of `web`: (plain, TLS).
fn addrs(p: &Proxy) -> (SocketAddr, SocketAddr) {
    let web: Vec<SocketAddr> = p
        .listening
        .iter()
        .filter(|(f, _)| f == "web")
        .map(|(_, a)| *a)
        .collect();
    (web[0], web[1])
}

fn access_log(p: &Proxy) -> String {
    std::fs::read_to_string(p.dir.join("access.log")).unwrap_or_default()
}

/// The body of `GET /metrics` (the address is in the proxy's log).
fn scrape(p: &Proxy) -> String {
    let mut s = TcpStream::connect(metrics_addr(p)).expect("connect metrics");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    s.write_all(b"GET /metrics HTTP/1.1\r\nhost: m\r\nconnection: close\r\n\r\n")
        .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

/// The frontend's `column` in `show stat`.
fn fe_stat(p: &Proxy, column: &str) -> u64 {
    let csv = admin(&sock(p), "show stat");
    stat(&csv, "web", "FRONTEND", column)
        .parse()
        .expect("number")
}

#[test]
fn https_over_tls_1_2_and_1_3_is_proxied_marked_https_logged_and_counted() {
    let Fixture {
        p,
        origin,
        cert,
        pem: _pem,
        dir: _dir,
    } = fixture("tls-basic", &["localhost"], "");
    let (plain, tls_addr) = addrs(&p);

    let mut client = Client::trusting(&cert);
    for (versions, name) in [
        (vec![&rustls::version::TLS13], "TLSv1.3"),
        (vec![&rustls::version::TLS12], "TLSv1.2"),
    ] {
        client.versions = versions;
        let mut tls = handshake(tls_addr, client.config(), "localhost").expect("handshake");
        let (response, clean) = get(&mut tls, &format!("/{name}"));
        assert_eq!(status(&response), 200, "{response}");
        assert!(clean, "the response ends with close_notify");
        let head = origin.last_head().to_ascii_lowercase();
        assert!(head.contains("x-forwarded-proto: https"), "{head}");
        let port = tls.sock.local_addr().unwrap().port();
        let line = poll_until("access log line", || {
            let log = access_log(&p);
            log.lines()
                .find(|l| l.starts_with(&format!("{port} ")))
                .map(str::to_owned)
                .ok_or(log)
        });
        assert!(line.contains(&format!(" {name} ")), "{line}");
        let cipher = line.split(' ').nth(3).unwrap();
        assert!(
            cipher.starts_with("TLS_AES_") || cipher.starts_with("ECDHE-ECDSA-"),
            "an OpenSSL cipher name: {line}"
        );
    }
    assert_eq!(
        http_get(plain, "/plain").trim(),
        "app",
        "served over plain TCP"
    );
    assert!(origin
        .last_head()
        .to_ascii_lowercase()
        .contains("x-forwarded-proto: http\r\n"));
    let line = poll_until("plain log line", || {
        let log = access_log(&p);
        log.lines()
            .find(|l| l.contains("/plain"))
            .map(str::to_owned)
            .ok_or(log)
    });
    assert!(line.contains(" - - 200 "), "plain: no TLS facts: {line}");
    assert_eq!(fe_stat(&p, "ssl_sess"), 2);
    assert_eq!(fe_stat(&p, "ssl_failed_handshake"), 0);
}

#[test]
fn curl_gets_a_page_over_tls_1_2_and_1_3() {
    if std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: curl is not installed");
        return;
    }
    let origin = HttpOrigin::start("app");
    let dir = scratch_dir("tls-curl");
    let cert = self_signed(&["localhost"]);
    let pem = write_pem(&dir, "site.pem", &cert);
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &cert.pem).unwrap();
    let p = Proxy::start(
        "tls-curl",
        &http_yaml(
            origin.addr,
            &format!("{{ certs: [{pem}], alpn: [http/1.1] }}"),
        ),
    );
    let (_, tls_addr) = addrs(&p);
    for version in ["--tlsv1.3", "--tlsv1.2"] {
        let max = if version == "--tlsv1.2" { "1.2" } else { "1.3" };
        let out = std::process::Command::new("curl")
            .args([
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code} %{ssl_verify_result}",
                version,
            ])
            .args(["--tls-max", max, "--max-time", "10", "--cacert"])
            .arg(&ca)
            .arg(format!("https://localhost:{}/curl", tls_addr.port()))
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            text,
            "200 0",
            "curl {version}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn sni_chooses_the_exact_then_the_wildcard_then_the_default_certificate() {
    let origin = HttpOrigin::start("app");
    let dir = scratch_dir("tls-sni");
    let default = self_signed(&["default.test"]);
    let exact = self_signed(&["a.test"]);
    let wildcard = self_signed(&["*.b.test"]);
    let files = [
        write_pem(&dir, "0.pem", &default),
        write_pem(&dir, "1.pem", &exact),
        write_pem(&dir, "2.pem", &wildcard),
    ];
    let p = Proxy::start(
        "tls-sni",
        &http_yaml(origin.addr, &format!("{{ certs: [{}] }}", files.join(", "))),
    );
    let (_, tls_addr) = addrs(&p);
    let served = |sni: &str| {
        let tls = handshake(tls_addr, Client::any().config(), sni).expect("handshake");
        tls.conn.peer_certificates().expect("certs")[0].clone()
    };
    assert_eq!(served("a.test"), exact.der);
    assert_eq!(served("A.TEST"), exact.der, "names are case-insensitive");
    assert_eq!(served("www.b.test"), wildcard.der);
    assert_eq!(
        served("b.test"),
        default.der,
        "a wildcard covers one label only"
    );
    assert_eq!(served("x.y.b.test"), default.der);
    assert_eq!(served("other.test"), default.der);
    // A verifying client accepts the chosen certificate by name.
    let mut tls =
        handshake(tls_addr, Client::trusting(&wildcard).config(), "api.b.test").expect("verified");
    assert_eq!(status(&get(&mut tls, "/").0), 200);
}

#[test]
fn strict_sni_refuses_unknown_names_and_counts_them() {
    let Fixture {
        p,
        origin: _origin,
        cert: _cert,
        pem: _pem,
        dir: _dir,
    } = fixture("tls-strict", &["a.test"], ", strict_sni: true");
    let (_, tls_addr) = addrs(&p);
    assert!(handshake(tls_addr, Client::any().config(), "a.test").is_ok());
    let err = handshake(tls_addr, Client::any().config(), "other.test").expect_err("refused");
    assert!(err.contains("alert") || err.contains("Alert"), "{err}");
    poll_until("failed handshake counted", || {
        match fe_stat(&p, "ssl_failed_handshake") {
            1 => Ok(()),
            n => Err(n),
        }
    });
    p.wait_log("web/2: SSL handshake failure");
}

#[test]
fn alpn_is_negotiated_and_a_client_with_no_common_protocol_is_refused() {
    let Fixture {
        p,
        origin: _origin,
        cert,
        pem: _pem,
        dir: _dir,
    } = fixture("tls-alpn", &["localhost"], ", alpn: [http/1.1]");
    let (_, tls_addr) = addrs(&p);
    let mut client = Client::trusting(&cert);
    client.alpn = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let tls = handshake(tls_addr, client.config(), "localhost").expect("handshake");
    assert_eq!(tls.conn.alpn_protocol(), Some(&b"http/1.1"[..]));
    client.alpn = vec![b"h2".to_vec()];
    let err = handshake(tls_addr, client.config(), "localhost").expect_err("refused");
    assert!(err.contains("NoApplicationProtocol"), "{err}");
    client.alpn = Vec::new();
    let tls = handshake(tls_addr, client.config(), "localhost").expect("no ALPN offered");
    assert_eq!(tls.conn.alpn_protocol(), None);
}

#[test]
fn a_session_resumes_on_the_other_shard() {
    let Fixture {
        p,
        origin: _origin,
        cert,
        pem: _pem,
        dir: _dir,
    } = fixture("tls-resume", &["localhost"], "");
    let (_, tls_addr) = addrs(&p);
    let config = Client::trusting(&cert).config();
    // Each connection resumes with a ticket of an earlier one. Once both shards served a
    // connection, the first one the second shard served resumed a ticket the first shard
    // issued: all resumed + both shards seen = a cross-shard resumption.
    let mut shards = std::collections::BTreeSet::new();
    let mut resumed = 0;
    let mut connections = 0;
    while connections < 64 && (shards.len() < 2 || connections < 8) {
        let mut tls = handshake(tls_addr, config.clone(), "localhost").expect("handshake");
        let kind = tls.conn.handshake_kind();
        let port = tls.sock.local_addr().unwrap().port();
        assert_eq!(status(&get(&mut tls, "/").0), 200);
        if connections > 0 {
            assert_eq!(
                kind,
                Some(rustls::HandshakeKind::Resumed),
                "connection {connections}"
            );
            resumed += 1;
        }
        let line = poll_until("log line", || {
            let log = access_log(&p);
            log.lines()
                .find(|l| l.starts_with(&format!("{port} ")))
                .map(str::to_owned)
                .ok_or(log)
        });
        // %ID is the stream id in hex; its top 16 of 64 bits are the shard.
        let id = u64::from_str_radix(line.split(' ').nth(1).unwrap().trim_start_matches("0x"), 16)
            .expect("hex id");
        shards.insert(id >> 48);
        connections += 1;
    }
    assert_eq!(shards.len(), 2, "both shards served connections");
    assert_eq!(fe_stat(&p, "ssl_reused_sess"), resumed);
    let info = admin(&sock(&p), "show info");
    assert!(
        info.contains(&format!("\nCumSslConns: {connections}\n")),
        "{info}"
    );
    let pct = resumed * 100 / connections;
    assert!(
        info.contains(&format!("\nSslFrontendSessionReuse_pct: {pct}\n")),
        "{info}"
    );
}

#[test]
fn client_certificates_required_and_optional() {
    let origin = HttpOrigin::start("app");
    let dir = scratch_dir("tls-mtls");
    let server = self_signed(&["localhost"]);
    let pem = write_pem(&dir, "site.pem", &server);
    let (ca, leaf) = ca_and_leaf("client.test");
    let (_, stranger) = ca_and_leaf("stranger.test");
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, &ca.pem).unwrap();
    let ca_file = ca_file.display().to_string();
    for verify in ["required", "optional"] {
        let tls = format!("{{ certs: [{pem}], verify: {verify}, client_ca: {ca_file} }}");
        let p = Proxy::start("tls-mtls", &http_yaml(origin.addr, &tls));
        let (_, addr) = addrs(&p);
        let mut client = Client::trusting(&server);
        client.identity = Some((leaf.der.clone(), leaf.key_der.clone()));
        let mut ok = handshake(addr, client.config(), "localhost").expect("trusted client");
        assert_eq!(status(&get(&mut ok, "/").0), 200, "{verify}");
        client.identity = Some((stranger.der.clone(), stranger.key_der.clone()));
        // TLS 1.3: the server checks the certificate after the client's handshake ends,
        // so the refusal shows on the first read.
        let refused = handshake(addr, client.config(), "localhost").and_then(|mut t| {
            t.write_all(b"GET / HTTP/1.1\r\nhost: t\r\n\r\n")
                .map_err(|e| e.to_string())?;
            let mut b = [0u8; 64];
            match t.read(&mut b) {
                Ok(n) if n > 0 => Ok(()),
                Ok(_) => Err("closed".to_string()),
                Err(e) => Err(e.to_string()),
            }
        });
        assert!(
            refused.is_err(),
            "{verify}: a certificate of another CA is refused"
        );
        client.identity = None;
        let without = handshake(addr, client.config(), "localhost").and_then(|mut t| {
            let (r, _) = try_get(&mut t, "/")?;
            if status(&r) == 200 {
                Ok(())
            } else {
                Err(r)
            }
        });
        match verify {
            "required" => assert!(without.is_err(), "no certificate: refused"),
            _ => assert!(without.is_ok(), "optional: served without one: {without:?}"),
        }
        p.wait_log("web/2: SSL client certificate not trusted");
    }
}

/// Sends `bytes`, then (if `close`) half-closes; returns how the proxy closed.
fn send_raw(addr: SocketAddr, bytes: &[u8], close: bool) -> Ended {
    let mut s = connect(addr);
    let _ = s.write_all(bytes);
    if close {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    wait_closed(&mut s)
}

#[test]
fn bad_handshakes_are_closed_counted_and_logged_and_the_proxy_serves_on() {
    let origin = HttpOrigin::start("app");
    let dir = scratch_dir("tls-bad");
    let cert = self_signed(&["localhost"]);
    let pem = write_pem(&dir, "site.pem", &cert);
    let tls =
        format!("{{ certs: [{pem}], ciphers: [TLS13_AES_256_GCM_SHA384], min_version: \"1.3\" }}");
    let p = Proxy::start("tls-bad", &http_yaml(origin.addr, &tls));
    let (_, addr) = addrs(&p);
    // SSLv2-compatible ClientHello (RFC 6101 appendix E) and an SSLv3 one.
    let sslv2 = [
        0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10,
    ];
    let mut sslv3 = vec![
        0x16, 0x03, 0x00, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x2b, 0x03, 0x00,
    ];
    sslv3.extend_from_slice(&[0u8; 32]);
    sslv3.extend_from_slice(&[0x00, 0x00, 0x04, 0x00, 0x2f, 0x00, 0x35, 0x01, 0x00]);
    let cases: [(&str, &[u8], bool); 4] = [
        ("garbage", b"GET / HTTP/1.1\r\nhost: t\r\n\r\n", false),
        ("sslv2", &sslv2, false),
        ("sslv3", &sslv3, false),
        (
            "truncated",
            &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00],
            true,
        ),
    ];
    for (what, bytes, close) in cases {
        // Bounded: wait_closed fails the test if the proxy keeps the connection open.
        let ended = send_raw(addr, bytes, close);
        eprintln!("{what}: {ended:?}");
    }
    // No shared cipher: the client offers only ChaCha20.
    let mut only_chacha = rustls::crypto::aws_lc_rs::default_provider();
    only_chacha
        .cipher_suites
        .retain(|s| format!("{:?}", s.suite()) == "TLS13_CHACHA20_POLY1305_SHA256");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der.clone()).unwrap();
    let cfg = ClientConfig::builder_with_provider(Arc::new(only_chacha))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let err = handshake(addr, Arc::new(cfg), "localhost").expect_err("no shared cipher");
    assert!(err.contains("HandshakeFailure"), "{err}");
    // A client that never finishes its handshake: closed after timeout.client (500ms).
    let mut slow = connect(addr);
    slow.write_all(&[0x16, 0x03, 0x01]).unwrap();
    wait_closed(&mut slow);
    let failed = 6;
    poll_until("failed handshakes counted", || {
        match fe_stat(&p, "ssl_failed_handshake") {
            n if n == failed => Ok(()),
            n => Err(n),
        }
    });
    for message in [
        "SSL handshake failure",
        "Connection closed during SSL handshake",
        "Timeout during SSL handshake",
    ] {
        poll_until(message, || {
            let log = access_log(&p);
            log.contains(&format!("web/2: {message}"))
                .then_some(())
                .ok_or(log)
        });
    }
    let metrics = scrape(&p);
    assert!(
        metrics.contains("percore_frontend_ssl_failed_handshakes_total{proxy=\"web\"} 6\n"),
        "{metrics}"
    );
    // Still serving.
    let mut ok =
        handshake(addr, Client::trusting(&cert).config(), "localhost").expect("good client");
    assert_eq!(status(&get(&mut ok, "/").0), 200);
}

#[test]
fn tcp_mode_terminates_tls_in_front_of_a_plain_origin() {
    let origin = Origin::start(Behaviour::Echo);
    let dir = scratch_dir("tls-tcp");
    let cert = self_signed(&["localhost"]);
    let pem = write_pem(&dir, "site.pem", &cert);
    let yaml = format!(
        "global:\n  shards: 2\n  admin: {{ socket: ./admin.sock }}\n\
         frontends:\n  web:\n    bind: [{{ address: \"127.0.0.1:0\", tls: {{ certs: [{pem}] }} }}]\n    \
         default_backend: echo\n\
         backends:\n  echo:\n    servers: [{{ name: e1, address: \"{}\" }}]\n",
        origin.addr
    );
    let p = Proxy::start("tls-tcp", &yaml);
    let mut tls =
        handshake(p.addr("web"), Client::trusting(&cert).config(), "localhost").expect("handshake");
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let mut echoed = vec![0u8; payload.len()];
    // Write and read in turns: the echo origin answers as it reads.
    let mut written = 0;
    let mut read = 0;
    while read < payload.len() {
        if written < payload.len() {
            let end = (written + 16 * 1024).min(payload.len());
            tls.write_all(&payload[written..end]).unwrap();
            written = end;
        }
        let n = tls.read(&mut echoed[read..]).unwrap();
        assert!(n > 0, "echo ended early at {read}");
        read += n;
    }
    assert!(echoed == payload, "every byte echoed in order");
    assert_eq!(
        stat(
            &admin(&sock(&p), "show stat"),
            "web",
            "FRONTEND",
            "ssl_sess"
        ),
        "1"
    );
}

#[test]
fn check_refuses_a_key_that_does_not_match_its_certificate_with_its_position() {
    let dir = scratch_dir("tls-check");
    let a = self_signed(&["a.test"]);
    let b = self_signed(&["b.test"]);
    std::fs::write(dir.join("a.crt"), &a.pem).unwrap();
    std::fs::write(dir.join("b.key"), &b.key_pem).unwrap();
    let yaml = "frontends:\n  web:\n    bind:\n      - address: \"127.0.0.1:0\"\n        tls:\n          certs: [a.crt, b.key]\n    default_backend: app\nbackends:\n  app:\n    servers: [{ name: s1, address: \"127.0.0.1:9\" }]\n";
    std::fs::write(dir.join("p.yaml"), yaml).unwrap();
    let (status, _, stderr) = run_cli(&["check", "-c", "p.yaml"], &dir);
    assert_eq!(status.code(), Some(2), "{stderr}");
    let column = yaml.lines().nth(5).unwrap().find("a.crt").unwrap() + 1;
    let wanted = format!(
        "p.yaml:6:{column}: frontends.web.bind[0].tls.certs[0]: a.crt: the private key does not \
         match the certificate"
    );
    assert!(stderr.contains(&wanted), "{stderr}");
    // The same configuration with the right key: valid, and the summary names the bind's
    // certificates and the nearest expiry.
    std::fs::write(dir.join("b.key"), &a.key_pem).unwrap();
    let (status, stdout, stderr) = run_cli(&["check", "-c", "p.yaml"], &dir);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        stdout.contains("(tls, 1 certificate(s), first expiry ") && stdout.contains(" (a.crt))"),
        "{stdout}"
    );
}

/// Sends `command <<`, the payload lines and the empty line that ends them, as an operator
/// would with socat; returns the reply.
fn admin_payload(socket: &Path, command: &str, payload: &str) -> String {
    let mut s = std::os::unix::net::UnixStream::connect(socket).expect("admin socket");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    write!(s, "{command} <<\n{payload}\n").expect("write");
    let mut reply = String::new();
    s.read_to_string(&mut reply).expect("reply");
    reply
}

#[test]
fn a_certificate_is_swapped_live_on_every_shard_with_no_failed_request() {
    let origin = HttpOrigin::start("app");
    let dir = scratch_dir("tls-swap");
    let old = self_signed(&["localhost"]);
    let new = self_signed(&["localhost"]);
    let pem = write_pem(&dir, "site.pem", &old);
    let p = Proxy::start(
        "tls-swap",
        &http_yaml(origin.addr, &format!("{{ certs: [{pem}] }}")),
    );
    let (_, addr) = addrs(&p);
    let socket = sock(&p);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let (served, failures) = std::thread::scope(|s| {
        let load = s.spawn(|| {
            // Full handshakes only: a resumed one shows the certificate of its first session.
            let mut config = (*Client::any().config()).clone();
            config.resumption = rustls::client::Resumption::disabled();
            let config = Arc::new(config);
            let (mut served, mut failures) = (Vec::new(), Vec::new());
            let mut after_stop = 0;
            // Bounded: 20 requests after the commit, at most 5 000 in all.
            for _ in 0..5_000 {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    after_stop += 1;
                    if after_stop > 20 {
                        break;
                    }
                }
                match handshake(addr, config.clone(), "localhost")
                    .and_then(|mut t| try_get(&mut t, "/").map(|r| (t, r)))
                {
                    Ok((t, (r, _))) if status(&r) == 200 => {
                        served.push(t.conn.peer_certificates().unwrap()[0].clone())
                    }
                    Ok((_, (r, _))) => failures.push(r),
                    Err(e) => failures.push(e),
                }
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            (served, failures)
        });
        poll_until("load running", || {
            match done.load(std::sync::atomic::Ordering::Relaxed) {
                n if n >= 20 => Ok(()),
                n => Err(n),
            }
        });
        let set = admin_payload(
            &socket,
            &format!("set ssl cert {pem}"),
            &format!("{}{}", new.pem, new.key_pem),
        );
        assert_eq!(
            set,
            format!("Transaction created for certificate {pem}!\n\n")
        );
        let listed = admin(&socket, "show ssl cert");
        assert_eq!(
            listed,
            format!("# transaction\n*{pem}\n# filename\n{pem}\n\n")
        );
        let commit = admin(&socket, &format!("commit ssl cert {pem}"));
        assert_eq!(commit, format!("Committing {pem}\nSuccess!\n\n"));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        load.join().expect("load thread")
    });
    assert!(
        failures.is_empty(),
        "failed requests during the swap: {failures:?}"
    );
    assert_eq!(served.first(), Some(&old.der), "the old certificate first");
    assert_eq!(
        served.last(),
        Some(&new.der),
        "the new one after the commit"
    );
    // After the commit every shard serves the new certificate.
    for _ in 0..16 {
        let tls = handshake(addr, Client::trusting(&new).config(), "localhost").expect("new cert");
        assert_eq!(tls.conn.peer_certificates().unwrap()[0], new.der);
    }
    let details = admin(&socket, &format!("show ssl cert {pem}"));
    assert!(
        details.starts_with(&format!("Filename: {pem}\nStatus: Used\nSerial: ")),
        "{details}"
    );
    assert!(
        details.contains("Subject Alternative Name: DNS:localhost\n"),
        "{details}"
    );
}

#[test]
fn ssl_cert_commands_refuse_what_they_cannot_do_in_haproxy_words() {
    let Fixture {
        p,
        origin: _origin,
        cert,
        pem,
        dir: _dir,
    } = fixture("tls-cmds", &["localhost"], "");
    let socket = sock(&p);
    let other = self_signed(&["other.test"]);
    let payload = format!("{}{}", other.pem, other.key_pem);
    assert_eq!(
        admin_payload(&socket, "set ssl cert /nope.pem", &payload),
        "Can't replace a certificate which is not referenced by the configuration!\n\n"
    );
    assert_eq!(
        admin(&socket, &format!("commit ssl cert {pem}")),
        "No ongoing transaction! !\n\n"
    );
    assert_eq!(
        admin(&socket, &format!("abort ssl cert {pem}")),
        "No ongoing transaction!\n\n"
    );
    let mismatched = format!("{}{}", other.pem, cert.key_pem);
    let refused = admin_payload(&socket, &format!("set ssl cert {pem}"), &mismatched);
    assert!(
        refused.contains("the private key does not match the certificate"),
        "{refused}"
    );
    assert_eq!(
        admin_payload(&socket, &format!("set ssl cert {pem}"), &payload),
        format!("Transaction created for certificate {pem}!\n\n")
    );
    assert_eq!(
        admin(&socket, &format!("abort ssl cert {pem}")),
        format!("Transaction aborted for certificate '{pem}'!\n\n")
    );
    assert_eq!(
        admin(&socket, "show ssl cert"),
        format!("# transaction\n# filename\n{pem}\n\n")
    );
    // The aborted certificate was never served.
    let tls = handshake(addrs(&p).1, Client::trusting(&cert).config(), "localhost").expect("old");
    assert_eq!(tls.conn.peer_certificates().unwrap()[0], cert.der);
}

#[test]
fn requests_are_routed_by_sni_and_alpn() {
    let app = HttpOrigin::start("app");
    let api = HttpOrigin::start("api");
    let dir = scratch_dir("tls-route");
    let default = self_signed(&["default.test"]);
    let named = self_signed(&["api.test"]);
    let files = [
        write_pem(&dir, "0.pem", &default),
        write_pem(&dir, "1.pem", &named),
    ];
    let yaml = format!(
        "global:\n  shards: 2\n  admin: {{ socket: ./admin.sock }}\n\
         defaults:\n  mode: http\n\
         frontends:\n  web:\n    bind:\n      - \"127.0.0.1:0\"\n      \
         - {{ address: \"127.0.0.1:0\", tls: {{ certs: [{}], alpn: [http/1.1, x-test] }} }}\n    \
         use_backend:\n      - {{ backend: api, when: {{ sni: API.test }} }}\n      \
         - {{ backend: api, when: {{ alpn: x-test }} }}\n    default_backend: app\n\
         backends:\n  app:\n    servers: [{{ name: a1, address: \"{}\" }}]\n  \
         api:\n    servers: [{{ name: p1, address: \"{}\" }}]\n",
        files.join(", "),
        app.addr,
        api.addr
    );
    let p = Proxy::start("tls-route", &yaml);
    let (plain, addr) = addrs(&p);
    let body = |sni: &str, alpn: &[&[u8]]| {
        let mut client = Client::any();
        client.alpn = alpn.iter().map(|a| a.to_vec()).collect();
        let mut tls = handshake(addr, client.config(), sni).expect("handshake");
        let (response, _) = get(&mut tls, "/");
        assert_eq!(status(&response), 200, "{response}");
        response
            .rsplit("\r\n\r\n")
            .next()
            .unwrap()
            .trim()
            .to_owned()
    };
    assert_eq!(body("api.test", &[]), "api", "SNI (case-insensitive)");
    assert_eq!(body("other.test", &[]), "app", "no route matches");
    assert_eq!(body("other.test", &[b"x-test"]), "api", "ALPN");
    assert_eq!(body("other.test", &[b"http/1.1"]), "app");
    assert_eq!(
        http_get(plain, "/").trim(),
        "app",
        "a plain connection has no SNI"
    );
}

#[test]
fn a_reload_serves_new_certificate_files_and_keeps_open_connections() {
    let origin = HttpOrigin::start("app");
    let dir = scratch_dir("tls-reload");
    let old = self_signed(&["localhost"]);
    let new = self_signed(&["localhost"]);
    let pem = write_pem(&dir, "site.pem", &old);
    let p = Proxy::start(
        "tls-reload",
        &http_yaml(origin.addr, &format!("{{ certs: [{pem}] }}")),
    );
    let (_, addr) = addrs(&p);
    let mut open = handshake(addr, Client::trusting(&old).config(), "localhost").expect("old");
    let keep_alive = b"GET /before HTTP/1.1\r\nhost: t\r\n\r\n";
    open.write_all(keep_alive).unwrap();
    let mut buf = [0u8; 4096];
    assert!(open.read(&mut buf).unwrap() > 0);
    write_pem(&dir, "site.pem", &new);
    let reply = admin(&sock(&p), "reload");
    assert!(
        reply.contains("Success") || reply.starts_with("Reloaded") || reply.contains("reload"),
        "{reply}"
    );
    for _ in 0..8 {
        let tls = handshake(addr, Client::trusting(&new).config(), "localhost").expect("new");
        assert_eq!(tls.conn.peer_certificates().unwrap()[0], new.der);
    }
    // The connection opened before the reload is still served.
    let (response, _) = get(&mut open, "/after");
    assert!(
        response.contains("200 OK") || status(&response) == 200,
        "{response}"
    );
}

/// A client session store that keeps the first TLS 1.2 session it is given and offers it
/// on every later connection, so a test can present one old ticket again and again.
#[derive(Debug, Default)]
struct FirstTicket(std::sync::Mutex<Option<rustls::client::Tls12ClientSessionValue>>);

impl rustls::client::ClientSessionStore for FirstTicket {
    fn set_kx_hint(&self, _: ServerName<'static>, _: rustls::NamedGroup) {}
    fn kx_hint(&self, _: &ServerName<'_>) -> Option<rustls::NamedGroup> {
        None
    }
    fn set_tls12_session(
        &self,
        _: ServerName<'static>,
        v: rustls::client::Tls12ClientSessionValue,
    ) {
        self.0.lock().unwrap().get_or_insert(v);
    }
    fn tls12_session(&self, _: &ServerName<'_>) -> Option<rustls::client::Tls12ClientSessionValue> {
        self.0.lock().unwrap().clone()
    }
    fn remove_tls12_session(&self, _: &ServerName<'static>) {}
    fn insert_tls13_ticket(
        &self,
        _: ServerName<'static>,
        _: rustls::client::Tls13ClientSessionValue,
    ) {
    }
    fn take_tls13_ticket(
        &self,
        _: &ServerName<'static>,
    ) -> Option<rustls::client::Tls13ClientSessionValue> {
        None
    }
}

#[test]
fn ticket_keys_rotate_on_every_shard_and_old_tickets_stop_resuming() {
    let origin = HttpOrigin::start("app");
    let dir = scratch_dir("tls-rotate");
    let cert = self_signed(&["localhost"]);
    let pem = write_pem(&dir, "site.pem", &cert);
    let yaml = http_yaml(origin.addr, &format!("{{ certs: [{pem}] }}")).replace(
        "global:\n",
        "global:\n  tune: { tls_ticket_rotation: 1s }\n",
    );
    let p = Proxy::start("tls-rotate", &yaml);
    let (_, addr) = addrs(&p);
    let mut client = Client::trusting(&cert);
    client.versions = vec![&rustls::version::TLS12];
    let mut config = (*client.config()).clone();
    config.resumption = rustls::client::Resumption::store(Arc::new(FirstTicket::default()));
    let config = Arc::new(config);
    let kind = |config: &Arc<ClientConfig>| {
        let mut tls = handshake(addr, config.clone(), "localhost").expect("handshake");
        assert_eq!(status(&get(&mut tls, "/").0), 200);
        tls.conn.handshake_kind()
    };
    assert_eq!(kind(&config), Some(rustls::HandshakeKind::Full));
    assert_eq!(
        kind(&config),
        Some(rustls::HandshakeKind::Resumed),
        "the first ticket resumes"
    );
    // Two rotations later (1 s each) its key is gone on every shard: the same ticket gets a
    // full handshake, whichever shard takes the connection. The client would still offer it
    // for a minute (the lifetime hint's floor), far beyond this poll's bound: only the
    // shards' new keys can end its resumptions here.
    poll_until("the first ticket expires", || match kind(&config) {
        Some(rustls::HandshakeKind::Full) => Ok(()),
        other => Err(other),
    });
    for _ in 0..8 {
        assert_eq!(kind(&config), Some(rustls::HandshakeKind::Full));
    }
    // A fresh client's ticket resumes under the current keys.
    let fresh = Client::trusting(&cert).config();
    assert_eq!(kind(&fresh), Some(rustls::HandshakeKind::Full));
    assert_eq!(kind(&fresh), Some(rustls::HandshakeKind::Resumed));
}
