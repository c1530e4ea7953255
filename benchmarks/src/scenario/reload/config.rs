//! The reload scenario's configurations: one HTTP frontend `web` over backend `app` (s1, s2
//! and, in some generations, s3) and backend `alt` (s1, s2), with the soak's retries,
//! timeouts and pool idle time, for percore, HAProxy and nginx. A [`Variant`] says what a
//! generation looks like; each reload moves to the next one, which differs from it in one
//! thing, in turn: s2's weight, s3 present or not, the route of `/soak/post/` to `alt`.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use crate::contender::{self, Host};
use crate::scenario::soak::config::{
    haproxy_defaults, percore_defaults, CLIENT_S, CONNECT_S, HTTP_REQUEST_S, KEEP_ALIVE_S,
    POOL_IDLE_S, SERVER_S,
};

/// The path prefix the extra route sends to backend `alt`: the traffic's POSTs, so that the
/// route changes where non-idempotent requests go.
pub const ROUTE_PREFIX: &str = "/soak/post/";

/// Where a reload-scenario proxy listens and what it proxies to.
pub struct Layout<'a> {
    /// The HTTP frontend.
    pub http: SocketAddr,
    /// s1, s2, s3 (HTTP ports of the origins).
    pub servers: [SocketAddr; 3],
    /// The admin socket (percore, HAProxy).
    pub admin: &'a Path,
    /// The proxy's directory (nginx: pid file and temp paths).
    pub dir: &'a Path,
}

/// What one configuration generation contains beyond the fixed part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variant {
    /// s2's weight in `app`: 100 or 50.
    pub s2_weight: u32,
    /// s3 is a server of `app`.
    pub s3: bool,
    /// `/soak/post/` is routed to `alt`.
    pub route: bool,
}

impl Variant {
    /// The generation the proxy starts with.
    pub const START: Variant = Variant {
        s2_weight: 100,
        s3: false,
        route: false,
    };

    /// The generation after `reloads` reloads: reload k changes one thing of generation
    /// k − 1, in turn s2's weight, s3, the route.
    pub fn after(reloads: usize) -> Variant {
        let mut v = Variant::START;
        for k in 1..=reloads {
            match k % 3 {
                1 => v.s2_weight = if v.s2_weight == 100 { 50 } else { 100 },
                2 => v.s3 = !v.s3,
                _ => v.route = !v.route,
            }
        }
        v
    }

    /// `app`'s servers with their weights.
    fn app_servers(self, l: &Layout) -> Vec<Server> {
        let mut out = vec![(1, l.servers[0], 100), (2, l.servers[1], self.s2_weight)];
        if self.s3 {
            out.push((3, l.servers[2], 100));
        }
        out
    }

    /// Every backend, `app` and the routed-to `alt`, with its servers (number, address,
    /// weight), as each proxy's configuration spells them.
    fn backends(self, l: &Layout) -> [(&'static str, Vec<Server>); 2] {
        let alt = vec![(1, l.servers[0], 100), (2, l.servers[1], 100)];
        [("app", self.app_servers(l)), ("alt", alt)]
    }
}

/// A server of a generated configuration: its number (name `s<n>`), address and weight.
type Server = (usize, SocketAddr, u32);

/// percore YAML.
pub fn percore(host: &Host, l: &Layout, v: Variant) -> String {
    let mut y = contender::percore_global("percore-bench reload", host);
    let _ = writeln!(y, "  admin: {{ socket: \"{}\" }}", l.admin.display());
    percore_defaults(&mut y);
    let _ = writeln!(y, "frontends:");
    let _ = writeln!(y, "  web:");
    let _ = writeln!(y, "    bind: \"{}\"", l.http);
    if v.route {
        let _ = writeln!(y, "    use_backend:");
        let _ = writeln!(
            y,
            "      - {{ backend: alt, when: {{ path_prefix: {ROUTE_PREFIX} }} }}"
        );
    }
    let _ = writeln!(y, "    default_backend: app");
    let _ = writeln!(y, "backends:");
    for (name, servers) in v.backends(l) {
        let _ = writeln!(y, "  {name}:");
        let _ = writeln!(y, "    balance: roundrobin");
        let _ = writeln!(y, "    http_reuse: always");
        let _ = writeln!(y, "    pool_idle_timeout: {POOL_IDLE_S}s");
        let _ = writeln!(y, "    servers:");
        for (i, addr, w) in servers {
            let _ = writeln!(
                y,
                "      - {{ name: s{i}, address: \"{addr}\", weight: {w} }}"
            );
        }
    }
    y
}

/// HAProxy configuration, for master-worker mode: the stats socket exposes the listeners,
/// so that the master passes them to each new worker (`-x`, added by the master itself on
/// SIGUSR2) and no connection is refused during a reload.
pub fn haproxy(host: &Host, l: &Layout, v: Variant) -> String {
    let mut c = contender::haproxy_global("percore-bench reload", host);
    let _ = writeln!(
        c,
        "    stats socket {} mode 600 level admin expose-fd listeners",
        l.admin.display()
    );
    // An old worker still serving after a reload is stopped after this (bounded cleanup).
    let _ = writeln!(c, "    hard-stop-after 10s");
    let _ = writeln!(c, "defaults");
    haproxy_defaults(&mut c);
    let _ = writeln!(c, "frontend web");
    let _ = writeln!(c, "    bind {}", l.http);
    if v.route {
        let _ = writeln!(c, "    use_backend alt if {{ path_beg {ROUTE_PREFIX} }}");
    }
    let _ = writeln!(c, "    default_backend app");
    for (name, servers) in v.backends(l) {
        let _ = writeln!(c, "backend {name}");
        let _ = writeln!(c, "    balance roundrobin");
        let _ = writeln!(c, "    default-server pool-purge-delay {POOL_IDLE_S}s");
        for (i, addr, w) in servers {
            let _ = writeln!(c, "    server s{i} {addr} weight {w}");
        }
    }
    c
}

/// nginx configuration: errors at `notice`, so that its log shows every start of workers
/// (what confirms a reload) and binary change. `proxy_next_upstream` stays at its default:
/// a failed connect is retried on the next server, a POST never.
pub fn nginx(host: &Host, l: &Layout, v: Variant) -> String {
    let mut c = contender::nginx_main("percore-bench reload", host, l.dir, None, "notice");
    let d = l.dir.display();
    let _ = writeln!(c, "http {{");
    let _ = writeln!(c, "    access_log off;");
    for t in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"] {
        let _ = writeln!(c, "    {t}_temp_path {d}/{t}_temp;");
    }
    let _ = writeln!(c, "    keepalive_timeout {KEEP_ALIVE_S}s;");
    let _ = writeln!(c, "    client_header_timeout {HTTP_REQUEST_S}s;");
    let _ = writeln!(c, "    client_body_timeout {CLIENT_S}s;");
    for (name, servers) in v.backends(l) {
        let _ = writeln!(c, "    upstream {name} {{");
        for (_, addr, w) in servers {
            let _ = writeln!(c, "        server {addr} weight={w};");
        }
        let _ = writeln!(c, "        keepalive 64;");
        let _ = writeln!(c, "        keepalive_timeout {POOL_IDLE_S}s;");
        let _ = writeln!(c, "    }}");
    }
    let _ = writeln!(c, "    server {{");
    let _ = writeln!(c, "        listen {} reuseport backlog=4096;", l.http);
    let _ = writeln!(c, "        client_max_body_size 1m;");
    let _ = writeln!(
        c,
        "        location / {{ proxy_pass http://app; include proxy.conf; }}"
    );
    if v.route {
        let _ = writeln!(
            c,
            "        location {ROUTE_PREFIX} {{ proxy_pass http://alt; include proxy.conf; }}"
        );
    }
    let _ = writeln!(c, "    }}");
    let _ = writeln!(c, "}}");
    c
}

/// nginx's `proxy.conf` beside its configuration: what every location shares.
pub fn nginx_proxy_conf() -> String {
    let mut c = String::new();
    let _ = writeln!(c, "proxy_http_version 1.1;");
    let _ = writeln!(c, "proxy_set_header Connection \"\";");
    let _ = writeln!(c, "proxy_connect_timeout {CONNECT_S}s;");
    let _ = writeln!(c, "proxy_read_timeout {SERVER_S}s;");
    let _ = writeln!(c, "proxy_send_timeout {SERVER_S}s;");
    let _ = writeln!(c, "proxy_request_buffering off;");
    let _ = writeln!(c, "proxy_max_temp_file_size 0;");
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reload_changes_one_thing_and_every_proxy_renders_it() {
        for k in 1..30 {
            assert_ne!(Variant::after(k), Variant::after(k - 1), "reload {k}");
        }
        let v = Variant::after(3);
        assert_eq!(
            v,
            Variant {
                s2_weight: 50,
                s3: true,
                route: true
            }
        );
        let host = Host::for_tests(&[1]);
        let a = |p: u16| -> SocketAddr { format!("127.0.0.1:{p}").parse().expect("addr") };
        let l = Layout {
            http: a(1),
            servers: [a(3), a(4), a(5)],
            admin: Path::new("/tmp/s.sock"),
            dir: Path::new("/tmp/d"),
        };
        let p = percore(&host, &l, v);
        assert!(p.contains("name: s3, address: \"127.0.0.1:5\"") && p.contains("path_prefix"));
        assert!(p.contains("address: \"127.0.0.1:4\", weight: 50"), "{p}");
        assert!(!percore(&host, &l, Variant::START).contains("s3"));
        let h = haproxy(&host, &l, v);
        assert!(h.contains("expose-fd listeners") && h.contains("use_backend alt if"));
        assert!(h.contains("server s3 127.0.0.1:5") && h.contains("127.0.0.1:4 weight 50"));
        let n = nginx(&host, &l, v);
        assert!(n.contains("location /soak/post/") && n.contains("server 127.0.0.1:5"));
        assert!(n.contains("error_log stderr notice;") && n.contains("127.0.0.1:4 weight=50"));
    }
}
