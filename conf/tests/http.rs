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

/// A fresh directory for errorfiles of one test.
fn temp_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("percore-conf-http-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

const PAGE_503: &str = "HTTP/1.1 503 Busy\r\ncontent-length: 4\r\n\r\nbusy";

#[test]
fn valid_rules_parse() {
    let dir = temp_dir("valid");
    let page = dir.join("503.http");
    std::fs::write(&page, PAGE_503).expect("errorfile");
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
         \x20   errorfiles: { \"503\": PAGE }\n",
    )
    .replace("PAGE", &page.display().to_string());
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
    assert_eq!(web.http.errorfiles.len(), 1);
    assert_eq!(web.http.errorfiles[0].status, 503);
    assert_eq!(web.http.errorfiles[0].path, page);
    assert_eq!(web.http.errorfiles[0].response, PAGE_503.as_bytes());
    let _ = std::fs::remove_dir_all(&dir);
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

/// Errorfiles are read and checked during validation: every refusal points at the file's
/// value in the `errorfiles` mapping, and a FIFO does not block (opened non-blocking).
#[test]
fn errorfiles_are_checked_with_position() {
    let dir = temp_dir("errorfiles");
    let big = dir.join("big.http");
    let body = "x".repeat(2000);
    std::fs::write(
        &big,
        format!("HTTP/1.1 503 Busy\r\ncontent-length: 2000\r\n\r\n{body}"),
    )
    .expect("write");
    let html = dir.join("page.html");
    std::fs::write(&html, "<html>busy</html>").expect("write");
    let fifo = dir.join("fifo");
    let st = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(st.success());
    let d = dir.display().to_string();
    let at = "h.yaml:6:26: frontends.web.errorfiles.503";
    let cases = [
        (
            format!("{d}/nope.http"),
            format!(
                "{at}: cannot open errorfile {d}/nope.http: No such file or directory (os error 2)"
            ),
        ),
        (
            d.clone(),
            format!("{at}: errorfile {d} is a directory, expected a regular file"),
        ),
        (
            format!("{d}/fifo"),
            format!("{at}: errorfile {d}/fifo is a FIFO, expected a regular file"),
        ),
        (
            "/dev/zero".to_owned(),
            format!("{at}: errorfile /dev/zero is a character device, expected a regular file"),
        ),
        (
            format!("{d}/page.html"),
            format!("{at}: errorfile {d}/page.html: expected an HTTP/1.x response"),
        ),
    ];
    let mut wrong = Vec::new();
    for (file, want) in &cases {
        let got = error(&http(&format!(
            "    errorfiles: {{ \"503\": \"{file}\" }}\n"
        )));
        if !got.starts_with(want.as_str()) {
            wrong.push(format!("  got:  {got}\n  want: {want}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Larger than global.tune.bufsize (here 1k).
    let text = format!(
        "global:\n  tune: {{ bufsize: 1k }}\n{}",
        http(&format!(
            "    errorfiles: {{ \"503\": \"{}\" }}\n",
            big.display()
        ))
    );
    let got = error(&text);
    let want = format!(
        "h.yaml:8:26: frontends.web.errorfiles.503: errorfile {} is 2043 bytes, more than \
         global.tune.bufsize (1KiB)",
        big.display()
    );
    assert_eq!(got, want);
    let _ = std::fs::remove_dir_all(&dir);
}
