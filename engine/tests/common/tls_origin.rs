//! An HTTPS origin for the server-side TLS tests: a std-thread server on rustls
//! (`ServerConnection` + `StreamOwned`) answering every HTTP/1.1 request with 200 and its
//! name, keeping connections alive. It records what percore's handshakes sent (SNI, ALPN,
//! client certificate) and counts connections and requests. Certificates come from rcgen.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ServerConfig, ServerConnection, StreamOwned};

/// A certificate and its key, as PEM and DER.
pub struct Cert {
    /// The certificate, PEM.
    pub pem: String,
    /// The key, PEM.
    pub key_pem: String,
    /// The certificate, DER.
    pub der: CertificateDer<'static>,
    /// The key, PKCS#8 DER.
    pub key_der: Vec<u8>,
}

/// A certificate authority that signs leaves.
pub struct Ca {
    /// The CA's own certificate (what `ca:` files hold).
    pub cert: Cert,
    params: rcgen::CertificateParams,
    key: rcgen::KeyPair,
}

impl Ca {
    /// A fresh self-signed CA.
    pub fn new() -> Ca {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = params.self_signed(&key).expect("ca");
        Ca {
            cert: Cert {
                pem: ca.pem(),
                key_pem: key.serialize_pem(),
                der: ca.der().clone(),
                key_der: key.serialize_der(),
            },
            params,
            key,
        }
    }

    /// A leaf for `names` signed by this CA.
    pub fn leaf(&self, names: &[&str]) -> Cert {
        let issuer = rcgen::Issuer::new(self.params.clone(), &self.key);
        let key = rcgen::KeyPair::generate().expect("key");
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let leaf = rcgen::CertificateParams::new(names)
            .expect("params")
            .signed_by(&key, &issuer)
            .expect("leaf");
        Cert {
            pem: leaf.pem(),
            key_pem: key.serialize_pem(),
            der: leaf.der().clone(),
            key_der: key.serialize_der(),
        }
    }
}

impl Cert {
    /// Writes the certificate and key as one combined PEM file; returns its path.
    pub fn write_combined(&self, dir: &std::path::Path, name: &str) -> String {
        let path = dir.join(name);
        std::fs::write(&path, format!("{}{}", self.pem, self.key_pem)).expect("write pem");
        path.display().to_string()
    }

    /// Writes the certificate alone (a CA bundle); returns its path.
    pub fn write_cert(&self, dir: &std::path::Path, name: &str) -> String {
        let path = dir.join(name);
        std::fs::write(&path, &self.pem).expect("write pem");
        path.display().to_string()
    }
}

/// What one accepted TLS connection presented.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// The SNI sent, if any.
    pub sni: Option<String>,
    /// The ALPN protocol negotiated, if any.
    pub alpn: Option<String>,
    /// A client certificate was presented (and verified).
    pub client_cert: bool,
}

/// A running HTTPS origin.
pub struct TlsOrigin {
    /// Where it listens.
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
    idle_closed: Arc<AtomicUsize>,
}

/// What a connection thread shares with the test.
#[derive(Clone)]
struct Shared {
    config: Arc<ServerConfig>,
    requests: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
    idle_closed: Arc<AtomicUsize>,
    /// Close (close_notify, then FIN) a connection idle for this long.
    idle_close: Option<std::time::Duration>,
}

impl TlsOrigin {
    /// Serves `cert`; asks for client certificates of `client_ca` when given (required);
    /// offers `alpn`.
    pub fn start(cert: &Cert, client_ca: Option<&Cert>, alpn: &[&str]) -> TlsOrigin {
        Self::start_closing_idle(cert, client_ca, alpn, None)
    }

    /// [`TlsOrigin::start`], closing connections idle for `idle_close`.
    pub fn start_closing_idle(
        cert: &Cert,
        client_ca: Option<&Cert>,
        alpn: &[&str],
        idle_close: Option<std::time::Duration>,
    ) -> TlsOrigin {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("versions");
        let builder = match client_ca {
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                roots.add(ca.der.clone()).expect("root");
                let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                    .build()
                    .expect("verifier");
                builder.with_client_cert_verifier(v)
            }
            None => builder.with_no_client_auth(),
        };
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_der.clone()));
        let mut config = builder
            .with_single_cert(vec![cert.der.clone()], key)
            .expect("cert");
        config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let origin = TlsOrigin {
            addr: listener.local_addr().expect("addr"),
            accepted: Arc::default(),
            requests: Arc::default(),
            seen: Arc::default(),
            idle_closed: Arc::default(),
        };
        let accepted = origin.accepted.clone();
        let shared = Shared {
            config,
            requests: origin.requests.clone(),
            seen: origin.seen.clone(),
            idle_closed: origin.idle_closed.clone(),
            idle_close,
        };
        std::thread::spawn(move || {
            for tcp in listener.incoming() {
                let Ok(tcp) = tcp else { continue };
                accepted.fetch_add(1, Ordering::SeqCst);
                let shared = shared.clone();
                std::thread::spawn(move || serve(tcp, &shared));
            }
        });
        origin
    }

    /// Connections closed for being idle so far.
    pub fn idle_closed(&self) -> usize {
        self.idle_closed.load(Ordering::SeqCst)
    }

    /// TCP connections accepted so far (handshakes that failed included).
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Requests answered so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// What each completed handshake presented, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen").clone()
    }
}

/// One connection: handshake, then requests (a `content-length` body is skipped) answered
/// until the peer closes, or the connection was idle for `idle_close`.
fn serve(tcp: TcpStream, shared: &Shared) {
    let idle = shared
        .idle_close
        .unwrap_or(std::time::Duration::from_secs(30));
    let _ = tcp.set_read_timeout(Some(std::time::Duration::from_secs(30)));
    let Ok(conn) = ServerConnection::new(shared.config.clone()) else {
        return;
    };
    let mut tls = StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        if tls.conn.complete_io(&mut tls.sock).is_err() {
            return;
        }
    }
    let _ = tls.sock.set_read_timeout(Some(idle));
    shared.seen.lock().expect("seen").push(Seen {
        sni: tls.conn.server_name().map(str::to_owned),
        alpn: tls
            .conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
        client_cert: tls.conn.peer_certificates().is_some_and(|c| !c.is_empty()),
    });
    let mut pending = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        while let Some(end) = find(&pending, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&pending[..end]).to_ascii_lowercase();
            let body_len = content_length(&head);
            if pending.len() < end + 4 + body_len {
                break;
            }
            pending.drain(..end + 4 + body_len);
            shared.requests.fetch_add(1, Ordering::SeqCst);
            let body = "tls-origin";
            let close = head.contains("connection: close");
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n{}\r\n{body}",
                body.len(),
                if close { "connection: close\r\n" } else { "" }
            );
            if tls
                .write_all(response.as_bytes())
                .and_then(|()| tls.flush())
                .is_err()
            {
                return;
            }
            if close {
                tls.conn.send_close_notify();
                let _ = tls.conn.complete_io(&mut tls.sock);
                return;
            }
        }
        match tls.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => pending.extend_from_slice(&buf[..n]),
            Err(e) if shared.idle_close.is_some() && is_timeout(&e) => {
                tls.conn.send_close_notify();
                let _ = tls.conn.complete_io(&mut tls.sock);
                let _ = tls.sock.shutdown(std::net::Shutdown::Write);
                shared.idle_closed.fetch_add(1, Ordering::SeqCst);
                // Linger until the peer closes: its reads see the close_notify, not a reset.
                let _ = tls
                    .sock
                    .set_read_timeout(Some(std::time::Duration::from_secs(30)));
                let _ = tls.sock.read(&mut buf);
                return;
            }
            Err(_) => return,
        }
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// The `content-length` of a lowercased request head (0 without one).
fn content_length(head: &str) -> usize {
    head.lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
