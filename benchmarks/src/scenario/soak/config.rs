//! The soak's equivalent configurations: an HTTP frontend and a TCP frontend, each with a
//! backend over the two soak origins (s1, s2), the same retries (3, redispatching to
//! another server), timeouts, `maxconn`, pool idle time, an admin socket, and an access log
//! on the proxy's output in one format both proxies can write:
//! `<frontend> <status> <termination> "<request>"`.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use crate::contender::Host;

/// Where a soak proxy listens and what it proxies to.
pub struct SoakLayout<'a> {
    /// HTTP frontend.
    pub http: SocketAddr,
    /// TCP frontend.
    pub tcp: SocketAddr,
    /// (HTTP, TCP) ports of s1 and s2.
    pub servers: [(SocketAddr, SocketAddr); 2],
    /// Admin socket.
    pub admin: &'a Path,
    /// s2's weight: every reload flips it between 100 and 50, so that it changes something.
    pub s2_weight: u32,
}

/// Server connect timeout; a refused connect is retried at once.
pub const CONNECT_S: u32 = 1;
/// Client-side inactivity.
pub const CLIENT_S: u32 = 10;
/// Server-side inactivity: longer than an origin stall.
pub const SERVER_S: u32 = 5;
/// A request head must arrive within this: what cuts slowloris heads.
pub const HTTP_REQUEST_S: u32 = 3;
/// Idle time of a kept-alive client connection between requests.
pub const KEEP_ALIVE_S: u32 = 5;
/// Retries of a failed connect, each on another server when possible.
pub const RETRIES: u32 = 3;
/// Idle pooled server connections are closed after this, so that descriptors return to
/// their count before the traffic soon after it ends.
pub const POOL_IDLE_S: u32 = 1;
/// The access-log format, in both proxies' log-format syntax.
const LOG_FORMAT: &str = "%ft %ST %tsc %{+Q}r";

/// percore YAML.
pub fn percore(host: &Host, l: &SoakLayout) -> String {
    let mut y = crate::contender::percore_global("percore-bench soak", host);
    let _ = writeln!(y, "  admin: {{ socket: \"{}\" }}", l.admin.display());
    let _ = writeln!(
        y,
        "  log: {{ target: stderr, access: true, log_format: \"{LOG_FORMAT}\" }}"
    );
    percore_defaults(&mut y);
    let _ = writeln!(y, "frontends:");
    let _ = writeln!(
        y,
        "  soak_http: {{ bind: \"{}\", default_backend: app }}",
        l.http
    );
    let _ = writeln!(
        y,
        "  soak_tcp: {{ bind: \"{}\", mode: tcp, default_backend: tcp_app }}",
        l.tcp
    );
    let _ = writeln!(y, "backends:");
    let _ = writeln!(y, "  app:");
    let _ = writeln!(y, "    balance: roundrobin");
    let _ = writeln!(y, "    http_reuse: always");
    let _ = writeln!(y, "    pool_idle_timeout: {POOL_IDLE_S}s");
    let _ = writeln!(y, "    servers:");
    let weights = [100, l.s2_weight];
    for (i, (http, _)) in l.servers.iter().enumerate() {
        let _ = writeln!(
            y,
            "      - {{ name: s{}, address: \"{http}\", weight: {} }}",
            i + 1,
            weights[i]
        );
    }
    let _ = writeln!(y, "  tcp_app:");
    let _ = writeln!(y, "    mode: tcp");
    let _ = writeln!(y, "    balance: roundrobin");
    let _ = writeln!(y, "    servers:");
    for (i, (_, tcp)) in l.servers.iter().enumerate() {
        let _ = writeln!(y, "      - {{ name: s{}, address: \"{tcp}\" }}", i + 1);
    }
    y
}

/// The lines of HAProxy's `defaults` section the soak and the reload scenario share (after
/// `defaults` itself): HTTP keep-alive and reuse, retries, timeouts.
pub fn haproxy_defaults(c: &mut String) {
    let _ = writeln!(c, "    mode http");
    let _ = writeln!(c, "    option http-keep-alive");
    let _ = writeln!(c, "    http-reuse always");
    let _ = writeln!(c, "    retries {RETRIES}");
    // Redispatch on every retry, as percore's `redispatch: true` (HAProxy's default, -1,
    // redispatches only on the last one).
    let _ = writeln!(c, "    option redispatch 1");
    let _ = writeln!(c, "    timeout connect {CONNECT_S}s");
    let _ = writeln!(c, "    timeout client {CLIENT_S}s");
    let _ = writeln!(c, "    timeout server {SERVER_S}s");
    let _ = writeln!(c, "    timeout http-request {HTTP_REQUEST_S}s");
    let _ = writeln!(c, "    timeout http-keep-alive {KEEP_ALIVE_S}s");
    let _ = writeln!(c, "    timeout tunnel 30s");
}

/// percore's `defaults:` section, the soak's and the reload scenario's: HTTP, retries with
/// redispatch, timeouts as HAProxy's.
pub fn percore_defaults(y: &mut String) {
    let _ = writeln!(y, "defaults:");
    let _ = writeln!(y, "  mode: http");
    let _ = writeln!(y, "  retries: {RETRIES}");
    let _ = writeln!(y, "  redispatch: true");
    let _ = writeln!(
        y,
        "  timeout: {{ connect: {CONNECT_S}s, client: {CLIENT_S}s, server: {SERVER_S}s, \
         http_request: {HTTP_REQUEST_S}s, http_keep_alive: {KEEP_ALIVE_S}s, tunnel: 30s }}"
    );
}

/// HAProxy configuration (master-worker: reloaded by `SIGUSR2`).
pub fn haproxy(host: &Host, l: &SoakLayout) -> String {
    let mut c = crate::contender::haproxy_global("percore-bench soak", host);
    let _ = writeln!(
        c,
        "    stats socket {} mode 600 level admin",
        l.admin.display()
    );
    // An old worker still serving after a reload is stopped after this (bounded cleanup).
    let _ = writeln!(c, "    hard-stop-after 10s");
    let _ = writeln!(c, "    log stdout format raw local0");
    let _ = writeln!(c, "defaults");
    let _ = writeln!(c, "    log global");
    haproxy_defaults(&mut c);
    let _ = writeln!(c, "frontend soak_http");
    let _ = writeln!(c, "    bind {}", l.http);
    let _ = writeln!(c, "    log-format \"{LOG_FORMAT}\"");
    let _ = writeln!(c, "    default_backend app");
    let _ = writeln!(c, "frontend soak_tcp");
    let _ = writeln!(c, "    mode tcp");
    let _ = writeln!(c, "    bind {}", l.tcp);
    let _ = writeln!(c, "    log-format \"%ft - %ts -\"");
    let _ = writeln!(c, "    default_backend tcp_app");
    let _ = writeln!(c, "backend app");
    let _ = writeln!(c, "    balance roundrobin");
    let _ = writeln!(c, "    default-server pool-purge-delay {POOL_IDLE_S}s");
    let weights = [100, l.s2_weight];
    for (i, (http, _)) in l.servers.iter().enumerate() {
        let _ = writeln!(c, "    server s{} {http} weight {}", i + 1, weights[i]);
    }
    let _ = writeln!(c, "backend tcp_app");
    let _ = writeln!(c, "    mode tcp");
    let _ = writeln!(c, "    balance roundrobin");
    for (i, (_, tcp)) in l.servers.iter().enumerate() {
        let _ = writeln!(c, "    server s{} {tcp}", i + 1);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_proxies_get_the_same_retries_timeouts_and_servers() {
        let host = Host::for_tests(&[1]);
        let a = |p: u16| -> SocketAddr { format!("127.0.0.1:{p}").parse().expect("addr") };
        let l = SoakLayout {
            http: a(1),
            tcp: a(2),
            servers: [(a(3), a(4)), (a(5), a(6))],
            admin: Path::new("/tmp/s.sock"),
            s2_weight: 50,
        };
        let p = percore(&host, &l);
        assert!(
            p.contains("retries: 3") && p.contains("redispatch: true"),
            "{p}"
        );
        assert!(p.contains("http_request: 3s") && p.contains("pool_idle_timeout: 1s"));
        assert!(p.contains("address: \"127.0.0.1:5\", weight: 50") && p.contains("mode: tcp"));
        let h = haproxy(&host, &l);
        assert!(
            h.contains("retries 3") && h.contains("option redispatch 1"),
            "{h}"
        );
        assert!(h.contains("timeout http-request 3s") && h.contains("pool-purge-delay 1s"));
        assert!(h.contains("server s2 127.0.0.1:5 weight 50") && h.contains("level admin"));
        assert!(p.contains(LOG_FORMAT) && h.contains(LOG_FORMAT));
    }
}
