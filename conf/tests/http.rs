//! HTTP-mode configuration: routes, conditions, request/response rules, errorfiles and
//! backend reuse settings. Invalid forms are checked with their exact message and position.

use percore_conf::http::{Cidr, Condition, HeaderAction, HttpReuse, RequestAction};
use percore_conf::{parse, HostInfo};

fn host() -> HostInfo {
    HostInfo { cpus: vec![0, 1] }
}

fn error(text: &str) -> String {
    match parse("h.yaml", text, &host()) {
        Ok(config) => panic!("accepted an invalid config: {config:?}"),
        Err(error) => error.to_string(),
    }
}

/// An HTTP frontend whose body (indented 4) is `web`, with backends app and api.
fn http(web: &str) -> String {
    [
        "frontends:\n",
        "  web:\n",
        "    mode: http\n",
        "    bind: \"127.0.0.1:8080\"\n",
        "    default_backend: app\n",
        web,
        "backends:\n",
        "  app:\n",
        "    mode: http\n",
        "    servers: [{ name: s1, address: \"127.0.0.1:9001\" }]\n",
        "  api:\n",
        "    mode: http\n",
        "    servers: [{ name: a1, address: \"127.0.0.1:9002\" }]\n",
        "  raw:\n",
        "    servers: [{ name: r1, address: \"127.0.0.1:9003\" }]\n",
    ]
    .concat()
}

#[test]
fn valid_rules_parse() {
    let text = http(
        "    forwardfor: true\n\
         \x20   use_backend:\n\
         \x20     - { backend: api, when: { path_prefix: [/api/, /v2/], method: [GET, POST] } }\n\
         \x20     - { backend: api, when: { any: [ { host: API.example.com }, { src: 10.0.0.0/8 } ] } }\n\
         \x20     - { backend: api, when: { not: { header: { name: X-Debug } } } }\n\
         \x20     - { backend: api, when: { path_regex: \"^/static/.*\\\\.(css|js)$\" } }\n\
         \x20   http_request:\n\
         \x20     - { set_header: { name: X-Env, value: prod } }\n\
         \x20     - { deny: 403, when: { header: { name: User-Agent, prefix: curl } } }\n\
         \x20     - { redirect: { location: \"https://example.com/\", code: 301 }, when: { host: old.example.com } }\n\
         \x20     - { return: { status: 200, body: \"ok\\n\" }, when: { path_prefix: /health } }\n\
         \x20   http_response:\n\
         \x20     - { del_header: Server }\n\
         \x20   errorfiles: { \"503\": ./errors/503.http }\n",
    );
    let config = parse("h.yaml", &text, &host()).expect("valid");
    let web = &config.frontends[0];
    assert_eq!(web.mode, percore_conf::Mode::Http);
    assert!(web.http.forwardfor);
    assert_eq!(web.http.routes.len(), 4);
    assert!(web.http.routes.iter().all(|r| r.backend == 1));
    assert_eq!(
        web.http.routes[0].when,
        Condition::All(vec![
            Condition::PathPrefix(vec!["/api/".into(), "/v2/".into()]),
            Condition::Method(vec!["GET".into(), "POST".into()]),
        ])
    );
    assert_eq!(
        web.http.routes[1].when,
        Condition::Any(vec![
            Condition::Host(vec!["api.example.com".into()]),
            Condition::Src(vec![Cidr {
                addr: "10.0.0.0".parse().expect("ip"),
                prefix: 8
            }]),
        ])
    );
    assert_eq!(web.http.request_rules.len(), 4);
    assert_eq!(
        web.http.request_rules[2].action,
        RequestAction::Redirect {
            code: 301,
            location: "https://example.com/".into()
        }
    );
    assert_eq!(
        web.http.response_rules[0].action,
        HeaderAction::Del("Server".into())
    );
    assert_eq!(web.http.errorfiles, vec![(503, "./errors/503.http".into())]);
    assert_eq!(config.backends[1].http.reuse, HttpReuse::Safe);
}

#[test]
fn invalid_rules() {
    let cases: &[(&str, &str)] = &[
        (
            "    use_backend:\n      - { backend: apii, when: { host: a.b } }\n",
            "h.yaml:7:20: frontends.web.use_backend[0].backend: unknown backend \"apii\" (did you mean \"api\"?)",
        ),
        (
            "    use_backend:\n      - { backend: raw, when: { host: a.b } }\n",
            "h.yaml:7:20: frontends.web.use_backend[0].backend: backend \"raw\" is not mode http",
        ),
        (
            "    use_backend:\n      - { backend: api, when: {} }\n",
            "h.yaml:7:31: frontends.web.use_backend[0].when: expected at least one condition (host, path_prefix, path_regex, method, header, src, all, any, not)",
        ),
        (
            "    use_backend:\n      - { backend: api, when: { path_prefix: api } }\n",
            "h.yaml:7:46: frontends.web.use_backend[0].when.path_prefix: expected a path starting with /, found \"api\"",
        ),
        (
            "    use_backend:\n      - { backend: api, when: { path_regex: \"(\" } }\n",
            "h.yaml:7:45: frontends.web.use_backend[0].when.path_regex: invalid regular expression: error: unclosed group",
        ),
        (
            "    use_backend:\n      - { backend: api, when: { src: 10.0.0.0/33 } }\n",
            "h.yaml:7:38: frontends.web.use_backend[0].when.src: expected an IP address or network such as 10.0.0.0/8, found \"10.0.0.0/33\"",
        ),
        (
            "    use_backend:\n      - { backend: api, when: { method: \"GE T\" } }\n",
            "h.yaml:7:41: frontends.web.use_backend[0].when.method: expected an HTTP method, found \"GE T\"",
        ),
        (
            "    use_backend:\n      - { backend: api, when: { header: { name: X, value: a, prefix: b } } }\n",
            "h.yaml:7:33: frontends.web.use_backend[0].when.header: expected one of value and prefix, not both",
        ),
        (
            "    use_backend:\n      - { backend: api, when: { any: [] } }\n",
            "h.yaml:7:38: frontends.web.use_backend[0].when.any: expected at least one condition",
        ),
        (
            "    use_backend:\n      - { backend: api, when: { hots: a } }\n",
            "h.yaml:7:33: frontends.web.use_backend[0].when.hots: unknown field `hots` (did you mean `host`?)",
        ),
        (
            "    http_request:\n      - { when: { host: a } }\n",
            "h.yaml:7:9: frontends.web.http_request[0]: expected one action (set_header, add_header, del_header, deny, redirect, return)",
        ),
        (
            "    http_request:\n      - { deny: 403, del_header: X }\n",
            "h.yaml:7:9: frontends.web.http_request[0]: expected one action per rule, found del_header and deny",
        ),
        (
            "    http_request:\n      - { deny: 200 }\n",
            "h.yaml:7:17: frontends.web.http_request[0].deny: must be at least 400, found 200",
        ),
        (
            "    http_request:\n      - { redirect: { location: /x, code: 304 } }\n",
            "h.yaml:7:43: frontends.web.http_request[0].redirect.code: expected one of 301, 302, 303, 307, 308, found 304",
        ),
        (
            "    http_request:\n      - { set_header: { name: \"X Y\", value: v } }\n",
            "h.yaml:7:31: frontends.web.http_request[0].set_header.name: expected a header name, found \"X Y\"",
        ),
        (
            "    http_response:\n      - { deny: 403 }\n",
            "h.yaml:7:11: frontends.web.http_response[0].deny: unknown field `deny`, expected one of `when`, `set_header`, `add_header`, `del_header`",
        ),
        (
            "    errorfiles: { \"200\": ./x }\n",
            "h.yaml:6:19: frontends.web.errorfiles.200: expected an error status 400..599, found \"200\"",
        ),
    ];
    let mut wrong = Vec::new();
    for (web, want) in cases {
        let got = error(&http(web));
        if &got != want {
            wrong.push(format!("{web}\n  got:  {got}\n  want: {want}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn backend_pool_settings() {
    let text = http("").replace(
        "  api:\n    mode: http\n",
        "  api:\n    mode: http\n    http_reuse: sometimes\n",
    );
    let e = error(&text);
    assert!(
        e.starts_with("h.yaml:12:17: backends.api.http_reuse:"),
        "{e}"
    );
    let text = http("").replace(
        "  api:\n    mode: http\n",
        "  api:\n    mode: http\n    pool_idle_timeout: 0s\n",
    );
    let e = error(&text);
    assert!(
        e.starts_with("h.yaml:12:24: backends.api.pool_idle_timeout:"),
        "{e}"
    );
}

#[test]
fn default_backend_is_optional_in_http_mode() {
    let text = http("    use_backend:\n      - { backend: api, when: { path_prefix: /api/ } }\n")
        .replace("    default_backend: app\n", "");
    let config = parse("h.yaml", &text, &host()).expect("valid");
    assert!(config.frontends[0].http.not_found_without_route);
    assert_eq!(config.frontends[0].default_backend, 1);
    let text = http("").replace("    default_backend: app\n", "");
    assert_eq!(
        error(&text),
        "h.yaml:2:3: frontends.web: expected default_backend or at least one use_backend rule"
    );
}
