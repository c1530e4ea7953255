//! Request matching: evaluates `when` conditions of `use_backend`, `http_request` and
//! `http_response` rules against one request. Pure and allocation-free; the request is seen
//! through [`RequestView`] so these rules are testable without a codec or a socket.

use std::net::IpAddr;

use percore_conf::http::{Condition, HeaderMatcher, Route};

/// What a condition may look at.
pub trait RequestView {
    /// Method, as sent.
    fn method(&self) -> &str;
    /// Path, without the query string.
    fn path(&self) -> &str;
    /// Host without port, as sent (compared case-insensitively).
    fn host(&self) -> Option<&str>;
    /// Calls `f` with each value of the header `name` (lowercase); stops when `f` is true and
    /// returns true.
    fn any_header(&self, name: &str, f: &mut dyn FnMut(&[u8]) -> bool) -> bool;
    /// Client address.
    fn src(&self) -> IpAddr;
    /// The client's TLS SNI (`None`: plain, or none sent).
    fn sni(&self) -> Option<&str> {
        None
    }
    /// The protocol the client's TLS handshake negotiated by ALPN.
    fn alpn(&self) -> Option<&str> {
        None
    }
}

/// Whether `c` holds for `req`. Recursion depth is bounded by the configuration
/// (`CONDITION_DEPTH_MAX`), never by the peer.
pub fn matches(c: &Condition, req: &dyn RequestView) -> bool {
    match c {
        Condition::Host(hosts) => req
            .host()
            .is_some_and(|h| hosts.iter().any(|x| x.eq_ignore_ascii_case(h))),
        Condition::PathPrefix(prefixes) => {
            let path = req.path();
            prefixes.iter().any(|p| path.starts_with(p.as_str()))
        }
        Condition::PathRegex(re) => re.0.is_match(req.path()),
        Condition::Method(methods) => methods.iter().any(|m| m == req.method()),
        Condition::Header { name, matcher } => match matcher {
            HeaderMatcher::Present => req.any_header(name, &mut |_| true),
            HeaderMatcher::Equals(v) => req.any_header(name, &mut |x| x == v.as_bytes()),
            HeaderMatcher::Prefix(p) => req.any_header(name, &mut |x| x.starts_with(p.as_bytes())),
        },
        Condition::Src(nets) => {
            let ip = req.src();
            nets.iter().any(|n| n.contains(ip))
        }
        Condition::Sni(names) => req
            .sni()
            .is_some_and(|s| names.iter().any(|n| n.eq_ignore_ascii_case(s))),
        Condition::Alpn(protocols) => req.alpn().is_some_and(|a| protocols.iter().any(|p| p == a)),
        Condition::All(cs) => cs.iter().all(|c| matches(c, req)),
        Condition::Any(cs) => cs.iter().any(|c| matches(c, req)),
        Condition::Not(c) => !matches(c, req),
    }
}

/// The backend for `req`: the first matching route, else `default_backend` (`None` when
/// there is none: the request gets a 404).
pub fn route(
    routes: &[Route],
    default_backend: Option<usize>,
    req: &dyn RequestView,
) -> Option<usize> {
    routes
        .iter()
        .find(|r| matches(&r.when, req))
        .map(|r| r.backend)
        .or(default_backend)
}

/// Host header value without its port (`example.com:8080` → `example.com`, `[::1]:80` →
/// `[::1]`).
pub fn host_without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |i| &host[..=i]);
    }
    host.rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use percore_conf::http::{Cidr, PathRegex};

    struct Req {
        method: &'static str,
        path: &'static str,
        host: Option<&'static str>,
        headers: Vec<(&'static str, &'static str)>,
        src: IpAddr,
    }

    impl RequestView for Req {
        fn method(&self) -> &str {
            self.method
        }
        fn path(&self) -> &str {
            self.path
        }
        fn host(&self) -> Option<&str> {
            self.host
        }
        fn any_header(&self, name: &str, f: &mut dyn FnMut(&[u8]) -> bool) -> bool {
            self.headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .any(|(_, v)| f(v.as_bytes()))
        }
        fn src(&self) -> IpAddr {
            self.src
        }
    }

    fn req() -> Req {
        Req {
            method: "GET",
            path: "/api/v1/users",
            host: Some("Example.COM"),
            headers: vec![("x-debug", "1"), ("user-agent", "curl/8.0")],
            src: "10.1.2.3".parse().expect("ip"),
        }
    }

    #[test]
    fn each_condition() {
        let r = req();
        let yes = |c: Condition| assert!(matches(&c, &r), "{c:?}");
        let no = |c: Condition| assert!(!matches(&c, &r), "{c:?}");
        yes(Condition::Host(vec!["example.com".into()]));
        no(Condition::Host(vec!["other.com".into()]));
        yes(Condition::PathPrefix(vec!["/x".into(), "/api/".into()]));
        no(Condition::PathPrefix(vec!["/apix".into()]));
        yes(Condition::PathRegex(PathRegex(
            regex::Regex::new("^/api/v[0-9]+/").expect("re"),
        )));
        yes(Condition::Method(vec!["POST".into(), "GET".into()]));
        no(Condition::Method(vec!["get".into()]));
        yes(Condition::Header {
            name: "x-debug".into(),
            matcher: HeaderMatcher::Present,
        });
        yes(Condition::Header {
            name: "user-agent".into(),
            matcher: HeaderMatcher::Prefix("curl/".into()),
        });
        no(Condition::Header {
            name: "user-agent".into(),
            matcher: HeaderMatcher::Equals("curl".into()),
        });
        yes(Condition::Src(vec![Cidr {
            addr: "10.0.0.0".parse().expect("ip"),
            prefix: 8,
        }]));
        no(Condition::Not(Box::new(Condition::Method(vec![
            "GET".into()
        ]))));
        yes(Condition::Any(vec![
            Condition::Method(vec!["PUT".into()]),
            Condition::PathPrefix(vec!["/api".into()]),
        ]));
        no(Condition::All(vec![
            Condition::Method(vec!["PUT".into()]),
            Condition::PathPrefix(vec!["/api".into()]),
        ]));
    }

    #[test]
    fn first_route_wins_else_default() {
        let routes = vec![
            Route {
                backend: 1,
                when: Condition::PathPrefix(vec!["/static/".into()]),
            },
            Route {
                backend: 2,
                when: Condition::PathPrefix(vec!["/api/".into()]),
            },
            Route {
                backend: 3,
                when: Condition::Method(vec!["GET".into()]),
            },
        ];
        assert_eq!(route(&routes, Some(0), &req()), Some(2));
        assert_eq!(route(&routes[..1], Some(0), &req()), Some(0));
        assert_eq!(route(&routes[..1], None, &req()), None);
    }

    #[test]
    fn host_ports_are_ignored() {
        assert_eq!(host_without_port("example.com:8080"), "example.com");
        assert_eq!(host_without_port("example.com"), "example.com");
        assert_eq!(host_without_port("[::1]:80"), "[::1]");
        assert_eq!(host_without_port("[::1]"), "[::1]");
    }
}
