//! This shard's TLS acceptors and connectors: one rustls `ServerConfig` per TLS bind and
//! one `ClientConfig` per distinct server `tls` setting of the current generation, built
//! here from the validated settings (and, for binds, the ticket keys the control plane
//! sent). A reload rebuilds only the settings (certificate bytes included) that changed;
//! connections keep the configuration their handshake used.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use glommio::net::TcpStream;
use glommio::timer::Timer;

use percore_conf::tls::{BindTls, ServerTls};
use percore_conf::Config;

use super::proxy_header::Preread;
use super::Shard;
use crate::ids::ServerKey;
use crate::logging::Severity;
use crate::tls::acceptor::Acceptor;
use crate::tls::connector::Connector;
use crate::tls::ticket::{TicketKeys, Tickets};
use crate::tls::{ClientSock, HandshakeError, ServerSock, TlsStream};

/// What a bind asks of its connections.
#[derive(Clone)]
pub enum Security {
    /// Plain TCP.
    Plain,
    /// A TLS handshake with this configuration.
    Tls(Acceptor),
    /// TLS whose configuration could not be built (logged): every connection is refused.
    Broken,
}

/// What connections to a server ask.
pub enum ServerSecurity {
    /// Plain TCP.
    Plain,
    /// A TLS handshake with this configuration, to this address.
    Tls(Connector, IpAddr),
    /// TLS whose configuration could not be built (logged): every connect fails.
    Broken,
}

/// One bind: its configured address, settings and what it asks.
type Bind = (SocketAddr, Option<BindTls>, Security);

/// The acceptors and connectors of one shard.
pub struct ShardTls {
    tickets: Tickets,
    /// Per frontend, its binds in configuration order.
    binds: Vec<Vec<Bind>>,
    /// Binds the last reload removed, per frontend: their listeners still serve the
    /// connections already queued.
    retired: Vec<(usize, Bind)>,
    /// The distinct server `tls` settings of the current generation, each with its
    /// connector (`None`: rustls refused it, logged). Servers with equal settings share
    /// one, session cache included.
    connectors: Vec<(ServerTls, Option<Connector>)>,
    /// `servers[backend][server]`: index into `connectors`; `None` for a plain server.
    servers: Vec<Vec<Option<usize>>>,
}

impl ShardTls {
    /// The acceptors of `config` with `keys`.
    pub fn new(config: &Config, keys: &TicketKeys) -> Self {
        let mut tls = ShardTls {
            tickets: Tickets::new(keys),
            binds: Vec::new(),
            retired: Vec::new(),
            connectors: Vec::new(),
            servers: Vec::new(),
        };
        tls.rebuild(config);
        tls
    }

    /// What connecting to server `key` at `ip` asks (plain for a server this generation
    /// does not know yet).
    pub fn server_security(&self, key: ServerKey, ip: IpAddr) -> ServerSecurity {
        let index = self
            .servers
            .get(key.backend)
            .and_then(|b| b.get(key.server))
            .copied()
            .flatten();
        match index.map(|i| &self.connectors[i].1) {
            None => ServerSecurity::Plain,
            Some(Some(c)) => ServerSecurity::Tls(c.clone(), ip),
            Some(None) => ServerSecurity::Broken,
        }
    }

    /// Follows a new generation's servers: settings already known keep their connector.
    fn rebuild_connectors(&mut self, config: &Config) {
        let mut old = std::mem::take(&mut self.connectors);
        let mut servers = Vec::with_capacity(config.backends.len());
        for be in &config.backends {
            let mut list = Vec::with_capacity(be.servers.len());
            for srv in &be.servers {
                let index = srv.tls.as_ref().map(|tls| {
                    self.connector_index(tls, &mut old, &format!("{}/{}", be.name, srv.name))
                });
                list.push(index);
            }
            servers.push(list);
        }
        self.servers = servers;
    }

    /// The index of `tls` in the new `connectors`: found there, else moved from `old`,
    /// else built (a refusal is logged, naming `server`).
    fn connector_index(
        &mut self,
        tls: &ServerTls,
        old: &mut Vec<(ServerTls, Option<Connector>)>,
        server: &str,
    ) -> usize {
        if let Some(i) = self.connectors.iter().position(|(t, _)| t == tls) {
            return i;
        }
        let entry = match old.iter().position(|(t, _)| t == tls) {
            Some(i) => old.swap_remove(i),
            None => {
                let built = Connector::new(tls)
                    .map_err(|e| {
                        log::error!(
                            "server {server}: TLS settings refused, connects will fail: {e}"
                        )
                    })
                    .ok();
                (tls.clone(), built)
            }
        };
        self.connectors.push(entry);
        self.connectors.len() - 1
    }

    /// Follows a new generation: unchanged TLS settings keep their acceptor or connector.
    pub fn rebuild(&mut self, config: &Config) {
        self.rebuild_connectors(config);
        let old = std::mem::take(&mut self.binds);
        self.binds = config
            .frontends
            .iter()
            .enumerate()
            .map(|(f, fe)| {
                fe.bind
                    .iter()
                    .zip(&fe.tls)
                    .map(|(&addr, tls)| {
                        let kept = old.get(f).and_then(|binds| {
                            binds
                                .iter()
                                .find(|(_, t, _)| t == tls)
                                .map(|(_, _, s)| s.clone())
                        });
                        let security = kept.unwrap_or_else(|| self.build(&fe.name, tls.as_ref()));
                        (addr, tls.clone(), security)
                    })
                    .collect()
            })
            .collect();
        self.retired.clear();
        for (f, binds) in old.into_iter().enumerate() {
            for bind in binds {
                let gone = self
                    .binds
                    .get(f)
                    .is_none_or(|now| now.iter().all(|b| b.0 != bind.0));
                if gone {
                    self.retired.push((f, bind));
                }
            }
        }
    }

    /// New ticket keys: every acceptor is rebuilt around them (open connections keep theirs).
    pub fn set_keys(&mut self, keys: &TicketKeys) {
        self.tickets = Tickets::new(keys);
        let all = self.binds.iter_mut().flatten();
        for (_, _, security) in all.chain(self.retired.iter_mut().map(|(_, b)| b)) {
            if let Security::Tls(acceptor) = security {
                *security = Security::Tls(acceptor.with_tickets(&self.tickets));
            }
        }
    }

    /// Serves `cert` wherever a bind serves its file (`commit ssl cert`); those binds get
    /// new acceptors, connections open or handshaking keep theirs.
    pub fn replace_cert(&mut self, cert: &percore_conf::tls::CertKey) {
        let mut binds = std::mem::take(&mut self.binds);
        for (addr, tls, security) in binds.iter_mut().flatten() {
            let Some(tls) = tls
                .as_mut()
                .filter(|t| t.certs.iter().any(|c| c.file == cert.file))
            else {
                continue;
            };
            for c in tls.certs.iter_mut().filter(|c| c.file == cert.file) {
                *c = cert.clone();
            }
            *security = self.build(&addr.to_string(), Some(tls));
        }
        self.binds = binds;
    }

    fn build(&self, frontend: &str, tls: Option<&BindTls>) -> Security {
        let Some(tls) = tls else {
            return Security::Plain;
        };
        match Acceptor::new(tls, &self.tickets) {
            Ok(acceptor) => Security::Tls(acceptor),
            Err(e) => {
                log::error!(
                    "frontend {frontend}: TLS bind refused, connections will be closed: {e}"
                );
                Security::Broken
            }
        }
    }

    /// What bind `configured` of `frontend` asks: the `nth` bind written with that address
    /// (a frontend may bind `127.0.0.1:0` twice), else the first; a bind the last reload
    /// removed keeps what it asked.
    pub fn security(&self, frontend: usize, configured: SocketAddr, nth: usize) -> Security {
        let binds = self
            .binds
            .get(frontend)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut same = binds.iter().filter(|b| b.0 == configured);
        let first = same.clone().next();
        if let Some(bind) = same.nth(nth).or(first) {
            return bind.2.clone();
        }
        self.retired
            .iter()
            .find(|(f, b)| *f == frontend && b.0 == configured)
            .map_or(Security::Plain, |(_, b)| b.2.clone())
    }
}

impl Shard {
    /// The client connection of bind `(frontend, listener)` from `peer` as its bind asks:
    /// plain, or TLS once the handshake completed within `timeout.client`. Bytes already
    /// read after a PROXY header go to the handshake, or back to the caller when plain.
    /// `None` when the handshake failed (counted and logged): the caller drops it.
    pub async fn secure(
        &self,
        (frontend, listener, peer): (usize, usize, SocketAddr),
        client: TcpStream,
        security: Security,
        preread: Option<Preread>,
    ) -> Option<(ClientSock, Option<Preread>)> {
        let acceptor = match security {
            Security::Plain => return Some((ClientSock::Plain(client), preread)),
            Security::Tls(acceptor) => acceptor,
            Security::Broken => {
                self.refuse_tls(
                    (frontend, listener, peer),
                    &HandshakeError::Closed,
                    "SSL handshake failure",
                );
                return None;
            }
        };
        let timeout = self.current().config.frontends[frontend].timeout.client;
        let early = preread.as_ref().map_or(&[][..], |p| p.rest());
        let handshake = TlsStream::accept(client, &acceptor, early);
        let timer = async {
            Timer::new(timeout).await;
            Err((HandshakeError::Timeout, None))
        };
        match futures_lite::future::or(handshake, timer).await {
            Ok(tls) => {
                let resumed =
                    tls.connection().handshake_kind() == Some(rustls::HandshakeKind::Resumed);
                let mut c = self.counters.borrow_mut();
                c.frontends[frontend].ssl_sess += 1;
                c.frontends[frontend].ssl_reused_sess += u64::from(resumed);
                Some((ClientSock::Tls(Box::new(tls)), None))
            }
            Err((e, sock)) => {
                self.refuse_tls((frontend, listener, peer), &e, haproxy_message(&e));
                if let Some(sock) = sock {
                    crate::tls::stream::linger(sock).await;
                }
                None
            }
        }
    }

    /// The connection to server `key` at `addr` on the connected `tcp` socket, as the server
    /// asks: plain, or TLS once the handshake completed within `left` (what remains of
    /// `timeout.connect`). `None` when the handshake failed: logged (rate-limited) with the
    /// reason; the caller counts a connect error.
    pub async fn secure_server(
        &self,
        key: ServerKey,
        (tcp, addr): (TcpStream, SocketAddr),
        left: Duration,
    ) -> Option<ServerSock> {
        let security = self.tls.borrow().server_security(key, addr.ip());
        let (connector, ip) = match security {
            ServerSecurity::Plain => return Some(ServerSock::Plain(tcp)),
            ServerSecurity::Tls(connector, ip) => (connector, ip),
            ServerSecurity::Broken => {
                self.warn_server_tls(key, addr, &"TLS settings refused at load");
                return None;
            }
        };
        let handshake = TlsStream::connect(tcp, &connector, ip);
        let timer = async {
            Timer::new(left).await;
            Err(HandshakeError::Timeout)
        };
        match futures_lite::future::or(handshake, timer).await {
            Ok(tls) => Some(ServerSock::Tls(Box::new(tls))),
            Err(e) => {
                self.warn_server_tls(key, addr, &e);
                None
            }
        }
    }

    /// A failed handshake with server `key`: a rate-limited warning with the reason.
    fn warn_server_tls(&self, key: ServerKey, addr: SocketAddr, why: &dyn std::fmt::Display) {
        let gen = self.current();
        let be = &gen.config.backends[key.backend];
        let name = be.servers.get(key.server).map_or("?", |s| s.name.as_str());
        self.warn_server_handshake(&format!(
            "server {}/{name} ({addr}): SSL handshake failure: {why}",
            be.name
        ));
    }

    /// Counts a failed handshake and logs HAProxy's line for it,
    /// `ip:port [date] frontend/listener: message`; the warning (rate-limited) adds why.
    fn refuse_tls(
        &self,
        (frontend, listener, peer): (usize, usize, SocketAddr),
        error: &HandshakeError,
        message: &str,
    ) {
        self.counters.borrow_mut().frontends[frontend].ssl_failed_handshake += 1;
        let gen = self.current();
        let name = &gen.config.frontends[frontend].name;
        let line = format!(
            "{}:{} [{}] {name}/{listener}: {message}",
            peer.ip(),
            peer.port(),
            crate::logging::haproxy_date(std::time::SystemTime::now()),
        );
        self.warn_tls(&format!("{line} ({error})"));
        if let Some(log) = self.access_log.borrow_mut().as_mut() {
            if log.admit(Instant::now()) {
                log.push(Severity::Info, &line);
            }
        }
    }
}

/// HAProxy's wording of a failed handshake (its `CO_ER_SSL_*` connection errors).
fn haproxy_message(e: &HandshakeError) -> &'static str {
    match e {
        HandshakeError::Closed => "Connection closed during SSL handshake",
        HandshakeError::Io(_) => "Connection error during SSL handshake",
        HandshakeError::Timeout => "Timeout during SSL handshake",
        HandshakeError::Tls(
            rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented,
        ) => "SSL client certificate not trusted",
        HandshakeError::Tls(_) => "SSL handshake failure",
    }
}
