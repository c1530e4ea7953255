//! Invalid configurations are refused with one exact message: `FILE:LINE:COL: path: message`.
//! Each test writes a small config with one mistake and asserts the whole error string, so a
//! change of wording or position is a deliberate, reviewed change.

use percore_conf::{load, parse, ConfigError, HostInfo};

fn host() -> HostInfo {
    HostInfo {
        cpus: vec![0, 1, 2, 3],
    }
}

fn error(text: &str) -> String {
    match parse("test.yaml", text, &host()) {
        Ok(config) => panic!("accepted an invalid config: {config:?}"),
        Err(error) => error.to_string(),
    }
}

/// `global.admin` with one extra listener written as a flow mapping, at line 5 column 9.
fn admin_extra(listener: &str) -> String {
    format!("global:\n  admin:\n    socket: ./p.sock\n    extra:\n      - {{ {listener} }}\n")
}

/// A valid frontend + backend pair to append to `global`/`defaults` cases, so that the only
/// fault is the one under test. Lines 1-5 of any text that starts with it.
const PROXY: &str = "\
frontends:
  web: { bind: \"127.0.0.1:8080\", default_backend: app }
backends:
  app:
    servers: [{ name: s1, address: \"127.0.0.1:9001\" }]
";

fn with_proxy(section: &str) -> String {
    format!("{PROXY}{section}")
}

// ---- document and YAML level ----

#[test]
fn empty_document() {
    assert_eq!(
        error(""),
        "test.yaml:1:1: configuration is empty (expected a mapping with `frontends` and \
         `backends`)"
    );
    assert_eq!(
        error("# comments only\n\n"),
        "test.yaml:1:1: configuration is empty (expected a mapping with `frontends` and \
         `backends`)"
    );
}

#[test]
fn document_is_not_a_mapping() {
    assert_eq!(
        error("- a\n- b\n"),
        "test.yaml:1:1: expected a mapping, found a list"
    );
    assert_eq!(
        error("just text\n"),
        "test.yaml:1:1: expected a mapping, found string \"just text\""
    );
}

#[test]
fn yaml_syntax_error() {
    let text = "frontends:\n  web: { bind: \"127.0.0.1:8080\", default_backend: app\n";
    assert_eq!(
        error(text),
        "test.yaml:3:1: frontends.web: invalid YAML: while parsing a flow mapping, did not find \
         expected ',' or '}'"
    );
}

#[test]
fn crlf_and_bom_keep_positions() {
    let text = "global:\n  maxconn: 0\n";
    let expected = "test.yaml:2:12: global.maxconn: must be at least 1, found 0";
    assert_eq!(error(&text.replace('\n', "\r\n")), expected);
    assert_eq!(error(&format!("\u{feff}{text}")), expected);
}

#[test]
fn second_document() {
    assert_eq!(
        error("a: 1\n---\nb: 2\n"),
        "test.yaml:2:1: only one YAML document is allowed"
    );
}

#[test]
fn tags() {
    assert_eq!(
        error("global: !!map { maxconn: 1 }\n"),
        "test.yaml:1:9: global: YAML tags are not supported"
    );
}

#[test]
fn duplicate_map_keys() {
    let text = "\
frontends:
  web: { bind: \"127.0.0.1:8080\", default_backend: app }
  web: { bind: \"127.0.0.1:8081\", default_backend: app }
";
    assert_eq!(
        error(text),
        "test.yaml:3:3: frontends.web: duplicate key `web`"
    );
    assert_eq!(
        error("global:\n  maxconn: 1\n  maxconn: 2\n"),
        "test.yaml:3:3: global.maxconn: duplicate key `maxconn`"
    );
}

// ---- schema: unknown keys and wrong types ----

#[test]
fn unknown_field_with_hint() {
    let text = "\
global:
  maxconn: 1000
frontends:
  web:
    bind: [\"127.0.0.1:8080\"]
    default_backend: app
    bnd: 1
backends:
  app:
    servers:
      - { name: s1, address: \"127.0.0.1:9001\" }
";
    assert_eq!(
        error(text),
        "test.yaml:7:5: frontends.web.bnd: unknown field `bnd` (did you mean `bind`?)"
    );
}

#[test]
fn unknown_section_with_hint() {
    assert_eq!(
        error("frontend:\n  web: {}\n"),
        "test.yaml:1:1: frontend: unknown field `frontend` (did you mean `frontends`?)"
    );
}

#[test]
fn unknown_nested_field_with_hint() {
    let text = with_proxy("defaults:\n  timeout:\n    conect: 1s\n");
    assert_eq!(
        error(&text),
        "test.yaml:8:5: defaults.timeout.conect: unknown field `conect` (did you mean `connect`?)"
    );
}

#[test]
fn unknown_field_without_hint_lists_the_keys() {
    assert_eq!(
        error("global: { foo: 1 }\n"),
        "test.yaml:1:11: global.foo: unknown field `foo`, expected one of `shards`, `maxconn`, \
         `grace`, `timeout`, `control_cpu`, `admin`, `log`, `tune`, `metrics`"
    );
}

#[test]
fn wrong_types() {
    assert_eq!(
        error("global: { maxconn: lots }\n"),
        "test.yaml:1:20: global.maxconn: expected an integer, found string \"lots\""
    );
    assert_eq!(
        error("global:\n  maxconn: 1.5\n"),
        "test.yaml:2:12: global.maxconn: expected an integer, found floating point 1.5"
    );
    assert_eq!(
        error("frontends: [a, b]\n"),
        "test.yaml:1:12: frontends: expected a mapping, found a list"
    );
    assert_eq!(
        error("frontends:\n  web: { bind: 8080, default_backend: app }\n"),
        "test.yaml:2:16: frontends.web.bind: expected an address such as \"127.0.0.1:8080\", a \
         mapping with `address` (and `tls`), or a list of them, found integer 8080"
    );
    let text = PROXY.replace("  app:\n", "  app:\n    redispatch: yes\n");
    assert_eq!(
        error(&text),
        "test.yaml:5:17: backends.app.redispatch: expected true or false, found string \"yes\""
    );
    let text = PROXY.replace(
        "servers: [{ name: s1, address: \"127.0.0.1:9001\" }]",
        "servers: s1",
    );
    assert_eq!(
        error(&text),
        "test.yaml:5:14: backends.app.servers: expected a list, found string \"s1\""
    );
}

#[test]
fn unknown_enum_values() {
    assert_eq!(
        error("global:\n  admin: { socket: ./p.sock, level: admn }\n"),
        "test.yaml:2:37: global.admin.level: unknown value `admn` (did you mean `admin`?)"
    );
    let text = PROXY.replace("9001\" }", "9001\", send_proxy: v3 }");
    assert_eq!(
        error(&text),
        "test.yaml:5:66: backends.app.servers[0].send_proxy: unknown value `v3`, expected one of \
         `v1`, `v2`"
    );
    assert_eq!(
        error("global:\n  log: { format: json }\n"),
        "test.yaml:2:18: global.log.format: unknown value `json`, expected one of `haproxy`, \
         `raw`, `rfc3164`, `rfc5424`"
    );
    assert_eq!(
        error(&with_proxy("defaults:\n  mode: tpc\n")),
        "test.yaml:7:9: defaults.mode: unknown value `tpc` (did you mean `tcp`?)"
    );
}

#[test]
fn missing_required_fields() {
    let text = "\
frontends:
  web:
    bind: \"127.0.0.1:8080\"
backends:
  app:
    servers: [{ name: s1, address: \"127.0.0.1:9001\" }]
";
    assert_eq!(
        error(text),
        "test.yaml:2:3: frontends.web: default_backend is required in mode tcp"
    );
    let text = PROXY.replace(", address: \"127.0.0.1:9001\"", "");
    assert_eq!(
        error(&text),
        "test.yaml:5:15: backends.app.servers[0]: missing field `address`"
    );
}

#[test]
fn unquoted_admin_mode() {
    assert_eq!(
        error("global:\n  admin:\n    socket: ./p.sock\n    mode: 0600\n"),
        "test.yaml:4:11: global.admin.mode: expected a quoted octal string such as \"0600\", \
         found unquoted number 0600 (quote it: \"0600\")"
    );
}

// ---- references and conflicts ----

#[test]
fn unknown_backend_reference() {
    let text = PROXY.replace("default_backend: app", "default_backend: ap");
    assert_eq!(
        error(&text),
        "test.yaml:2:51: frontends.web.default_backend: unknown backend \"ap\" (did you mean \
         \"app\"?)"
    );
    let text = "frontends:\n  web: { bind: \"127.0.0.1:8080\", default_backend: app }\n";
    assert_eq!(
        error(text),
        "test.yaml:2:51: frontends.web.default_backend: unknown backend \"app\" (no backends are \
         defined)"
    );
}

#[test]
fn mode_conflict() {
    let text = PROXY.replace("  app:\n", "  app:\n    mode: http\n");
    assert_eq!(
        error(&text),
        "test.yaml:2:3: frontends.web: mode tcp conflicts with backend \"app\" mode http"
    );
}

#[test]
fn same_bind_in_two_frontends() {
    let text = PROXY.replace(
        "frontends:\n",
        "frontends:\n  api:\n    bind: [\"127.0.0.1:8081\", \"127.0.0.1:8080\"]\n    \
         default_backend: app\n",
    );
    let text = text.replace(
        "  web: { bind: \"127.0.0.1:8080\"",
        "  web: { bind: \"127.0.0.1:8081\"",
    );
    assert_eq!(
        error(&text),
        "test.yaml:5:16: frontends.web.bind: address 127.0.0.1:8081 is already bound by frontend \
         \"api\" (frontends.api.bind[0])"
    );
}

#[test]
fn same_bind_twice_in_one_frontend() {
    let text = "\
frontends:
  web:
    bind:
      - 127.0.0.1:8080
      - \"127.0.0.1:8080\"
    default_backend: app
backends:
  app:
    servers: [{ name: s1, address: \"127.0.0.1:9001\" }]
";
    assert_eq!(
        error(text),
        "test.yaml:5:9: frontends.web.bind[1]: address 127.0.0.1:8080 is listed twice (also at \
         frontends.web.bind[0])"
    );
}

#[test]
fn frontend_bind_clashes_with_admin_listener() {
    let text = with_proxy(
        "global:\n  admin:\n    socket: ./p.sock\n    extra: [{ bind: \"127.0.0.1:8080\" }]\n",
    );
    assert_eq!(
        error(&text),
        "test.yaml:2:16: frontends.web.bind: address 127.0.0.1:8080 is already bound by the admin \
         API (global.admin.extra[0].bind)"
    );
}

#[test]
fn duplicate_server_names() {
    let text = "\
frontends:
  web: { bind: \"127.0.0.1:8080\", default_backend: app }
backends:
  app:
    servers:
      - { name: s1, address: \"127.0.0.1:9001\" }
      - { name: s1, address: \"127.0.0.1:9002\" }
";
    assert_eq!(
        error(text),
        "test.yaml:7:17: backends.app.servers[1].name: duplicate server name \"s1\" (also at \
         backends.app.servers[0])"
    );
}

// ---- addresses and names ----

#[test]
fn hostname_instead_of_ip() {
    let text = PROXY.replace("127.0.0.1:8080", "localhost:8080");
    assert_eq!(
        error(&text),
        "test.yaml:2:16: frontends.web.bind: expected IP:port, found \"localhost:8080\" (host \
         names are not resolved; use an IP address)"
    );
}

#[test]
fn missing_port() {
    let text = PROXY.replace("127.0.0.1:9001", "127.0.0.1");
    assert_eq!(
        error(&text),
        "test.yaml:5:36: backends.app.servers[0].address: missing port in \"127.0.0.1\" (expected \
         IP:port)"
    );
}

#[test]
fn server_port_zero() {
    let text = PROXY.replace("127.0.0.1:9001", "127.0.0.1:0");
    assert_eq!(
        error(&text),
        "test.yaml:5:36: backends.app.servers[0].address: port 0 is not a port to connect to, \
         found \"127.0.0.1:0\""
    );
}

#[test]
fn bad_names() {
    let text = PROXY.replace("  web:", "  web/1:");
    assert_eq!(
        error(&text),
        "test.yaml:2:3: frontends.web/1: name \"web/1\" contains '/'; names may only use A-Z a-z \
         0-9 _ . : -"
    );
    let text = PROXY.replace("name: s1", "name: \"s 1\"");
    assert_eq!(
        error(&text),
        "test.yaml:5:23: backends.app.servers[0].name: name \"s 1\" contains ' '; names may only \
         use A-Z a-z 0-9 _ . : -"
    );
    let text = PROXY.replace("name: s1", "name: \"\"");
    assert_eq!(
        error(&text),
        "test.yaml:5:23: backends.app.servers[0].name: name must not be empty"
    );
}

// ---- empty lists and missing sections ----

#[test]
fn empty_server_list() {
    let text = PROXY.replace("[{ name: s1, address: \"127.0.0.1:9001\" }]", "[]");
    assert_eq!(
        error(&text),
        "test.yaml:5:14: backends.app.servers: expected at least one server"
    );
}

#[test]
fn empty_bind_list() {
    let text = PROXY.replace("bind: \"127.0.0.1:8080\"", "bind: []");
    assert_eq!(
        error(&text),
        "test.yaml:2:16: frontends.web.bind: expected at least one address"
    );
}

#[test]
fn no_frontends() {
    assert_eq!(
        error("global: {}\n"),
        "test.yaml:1:1: frontends: expected at least one frontend"
    );
    // A missing top-level key is reported where the document's mapping starts.
    assert_eq!(
        error("# percore\n\nglobal: {}\n"),
        "test.yaml:3:1: frontends: expected at least one frontend"
    );
    assert_eq!(
        error("frontends: {}\n"),
        "test.yaml:1:1: frontends: expected at least one frontend"
    );
}

// ---- limits ----

#[test]
fn zero_and_negative_limits() {
    assert_eq!(
        error("global:\n  maxconn: 0\n"),
        "test.yaml:2:12: global.maxconn: must be at least 1, found 0"
    );
    assert_eq!(
        error("global:\n  tune:\n    control_ring: 0\n"),
        "test.yaml:3:19: global.tune.control_ring: must be at least 1, found 0"
    );
    assert_eq!(
        error(&with_proxy("defaults:\n  retries: -1\n")),
        "test.yaml:7:12: defaults.retries: must be at least 0, found -1"
    );
    let text = PROXY.replace("  web: { bind", "  web: { maxconn: 0, bind");
    assert_eq!(
        error(&text),
        "test.yaml:2:19: frontends.web.maxconn: must be at least 1, found 0"
    );
    assert_eq!(
        error("global:\n  tune: { backlog: 70000 }\n"),
        "test.yaml:2:20: global.tune.backlog: must be at most 65535, found 70000"
    );
}

#[test]
fn buffer_size_bounds() {
    assert_eq!(
        error("global:\n  tune: { bufsize: 512 }\n"),
        "test.yaml:2:20: global.tune.bufsize: must be at least 1KiB, found 512"
    );
    assert_eq!(
        error("global:\n  tune: { bufsize: 32m }\n"),
        "test.yaml:2:20: global.tune.bufsize: must be at most 16MiB, found 32m"
    );
    assert_eq!(
        error("global:\n  tune: { bufsize: 8k, max_header_size: 16k }\n"),
        "test.yaml:2:41: global.tune.max_header_size: a head must fit one buffer: must be at most \
         global.tune.bufsize (8KiB), found 16k"
    );
}

#[test]
fn weight_above_256() {
    let text = PROXY.replace("9001\" }", "9001\", weight: 257 }");
    assert_eq!(
        error(&text),
        "test.yaml:5:62: backends.app.servers[0].weight: must be at most 256, found 257"
    );
}

#[test]
fn bad_durations_and_sizes() {
    assert_eq!(
        error(&with_proxy("defaults:\n  timeout: { connect: 5 s }\n")),
        "test.yaml:7:23: defaults.timeout.connect: expected a duration such as 250ms, 2s, 5m, 1h \
         or 1d, found \"5 s\""
    );
    assert_eq!(
        error("global:\n  grace: -1s\n"),
        "test.yaml:2:10: global.grace: expected a duration such as 250ms, 2s, 5m, 1h or 1d, found \
         \"-1s\""
    );
    assert_eq!(
        error("global:\n  grace: 30d\n"),
        "test.yaml:2:10: global.grace: must be at most 2147483647ms (about 24.8 days), found 30d"
    );
    assert_eq!(
        error("global:\n  grace: 99999999999999999999999s\n"),
        "test.yaml:2:10: global.grace: duration \"99999999999999999999999s\" is too large"
    );
    assert_eq!(
        error("global: { tune: { io_memory: 16kB } }\n"),
        "test.yaml:1:30: global.tune.io_memory: expected a size such as 16384, 16k, 16KiB, 1m or \
         1g, found \"16kB\""
    );
}

#[test]
fn zero_timeouts_where_meaningless() {
    assert_eq!(
        error(&with_proxy("defaults:\n  timeout:\n    connect: 0\n")),
        "test.yaml:8:14: defaults.timeout.connect: must be greater than 0, found 0"
    );
    let text = PROXY.replace("  app:\n", "  app:\n    timeout: { server: 0s }\n");
    assert_eq!(
        error(&text),
        "test.yaml:5:24: backends.app.timeout.server: must be greater than 0, found 0s"
    );
    let text = PROXY.replace("  web: { bind", "  web: { timeout: { client: 0ms }, bind");
    assert_eq!(
        error(&text),
        "test.yaml:2:29: frontends.web.timeout.client: must be greater than 0, found 0ms"
    );
    assert_eq!(
        error("global:\n  timeout: { cli: 0s }\n"),
        "test.yaml:2:19: global.timeout.cli: must be greater than 0, found 0s"
    );
    assert_eq!(
        error("global:\n  timeout: { client: 5s }\n"),
        "test.yaml:2:14: global.timeout.client: unknown field `client`, expected one of `cli`"
    );
}

// ---- shards and CPUs ----

#[test]
fn shard_cpus_not_in_host() {
    assert_eq!(
        error("global:\n  shards: [0, 7]\n"),
        "test.yaml:2:15: global.shards[1]: CPU 7 is not in the process affinity mask (0-3)"
    );
    assert_eq!(
        error("global:\n  control_cpu: 9\n"),
        "test.yaml:2:16: global.control_cpu: CPU 9 is not in the process affinity mask (0-3)"
    );
}

#[test]
fn shard_cpus_listed_twice() {
    assert_eq!(
        error("global:\n  shards: [1, 2, 1]\n"),
        "test.yaml:2:18: global.shards[2]: CPU 1 is listed twice (also at global.shards[0])"
    );
}

#[test]
fn shard_counts() {
    assert_eq!(
        error("global:\n  shards: 0\n"),
        "test.yaml:2:11: global.shards: must be at least 1, found 0"
    );
    assert_eq!(
        error("global:\n  shards: 8\n"),
        "test.yaml:2:11: global.shards: 8 shards need 8 CPUs but the process affinity mask has 4 \
         (0-3)"
    );
    assert_eq!(
        error("global:\n  shards: many\n"),
        "test.yaml:2:11: global.shards: expected `auto`, a number of shards or a list of CPU ids, \
         found string \"many\""
    );
    assert_eq!(
        error("global:\n  shards: []\n"),
        "test.yaml:2:11: global.shards: expected at least one CPU id"
    );
}

#[test]
fn host_without_cpus() {
    let host = HostInfo::default();
    let error = parse("test.yaml", PROXY, &host).unwrap_err();
    assert_eq!(
        error.to_string(),
        "test.yaml:1:1: global.shards: the process affinity mask has no CPUs"
    );
}

// ---- admin listeners ----

#[test]
fn admin_listener_needs_exactly_one_of_socket_and_bind() {
    let text = admin_extra("socket: ./a.sock, bind: \"127.0.0.1:1\"");
    assert_eq!(
        error(&text),
        "test.yaml:5:9: global.admin.extra[0]: set either `socket` (unix) or `bind` (TCP), not both"
    );
    let text = admin_extra("level: user");
    assert_eq!(
        error(&text),
        "test.yaml:5:9: global.admin.extra[0]: missing `socket` (unix) or `bind` (TCP)"
    );
}

#[test]
fn admin_listener_keys_of_the_other_kind() {
    let text = admin_extra("socket: ./a.sock, allow_remote: true");
    assert_eq!(
        error(&text),
        "test.yaml:5:29: global.admin.extra[0].allow_remote: allow_remote only applies to a TCP \
         listener (`bind`)"
    );
    let text = admin_extra("bind: \"127.0.0.1:1\", mode: \"0600\"");
    assert_eq!(
        error(&text),
        "test.yaml:5:32: global.admin.extra[0].mode: mode only applies to a unix socket listener \
         (`socket`)"
    );
}

#[test]
fn admin_tcp_listener_off_loopback() {
    let text =
        "global:\n  admin:\n    socket: ./p.sock\n    extra:\n      - bind: \"0.0.0.0:9999\"\n";
    assert_eq!(
        error(text),
        "test.yaml:5:15: global.admin.extra[0].bind: 0.0.0.0:9999 is not a loopback address; set \
         `allow_remote: true` to open the admin API to the network"
    );
    let allowed = text.replace(
        "- bind: \"0.0.0.0:9999\"",
        "- { bind: \"0.0.0.0:9999\", allow_remote: true }",
    );
    assert_eq!(
        parse("test.yaml", &with_proxy(&allowed), &host()).err(),
        None
    );
}

#[test]
fn admin_socket_used_twice() {
    let text = "global:\n  admin:\n    socket: ./p.sock\n    extra:\n      - socket: ./p.sock\n";
    assert_eq!(
        error(text),
        "test.yaml:5:17: global.admin.extra[0].socket: already used by global.admin.socket"
    );
}

#[test]
fn admin_mode_not_octal() {
    let text = "global:\n  admin:\n    socket: ./p.sock\n    mode: \"rw-------\"\n";
    assert_eq!(
        error(text),
        "test.yaml:4:11: global.admin.mode: expected an octal mode such as \"0600\", found \
         \"rw-------\""
    );
}

// ---- not supported yet ----

#[test]
fn mode_http_frontend_needs_http_backend() {
    let text = PROXY.replace(
        "default_backend: app }",
        "default_backend: app, mode: http }",
    );
    assert_eq!(
        error(&text),
        "test.yaml:2:3: frontends.web: mode http conflicts with backend \"app\" mode tcp"
    );
}

#[test]
fn accept_proxy_is_a_boolean() {
    let text = PROXY.replace("  web: { bind", "  web: { accept_proxy: [], bind");
    assert_eq!(
        error(&text),
        "test.yaml:2:24: frontends.web.accept_proxy: expected true or false, found a list"
    );
}

#[test]
fn http_keys_need_mode_http() {
    for (key, value) in [
        ("use_backend", "[]"),
        ("forwardfor", "true"),
        ("http_request", "[]"),
        ("http_response", "[]"),
        ("errorfiles", "{}"),
    ] {
        let text = PROXY.replace("  web: { bind", &format!("  web: {{ {key}: {value}, bind"));
        assert_eq!(
            error(&text),
            format!(
                "test.yaml:2:10: frontends.web.{key}: {key} needs mode http (this frontend is \
                 mode tcp)"
            )
        );
    }
}

#[test]
fn backend_keys_not_supported_yet() {
    let text = PROXY.replace("  app:\n", "  app:\n    fullconn: 0\n");
    assert_eq!(
        error(&text),
        "test.yaml:5:15: backends.app.fullconn: must be at least 1, found 0"
    );
    let text = PROXY.replace("name: s1,", "name: s1, minconn: 5,");
    assert_eq!(
        error(&text),
        "test.yaml:5:36: backends.app.servers[0].minconn: minconn 5 needs a maxconn at least as large"
    );
}

#[test]
fn global_metrics_refuses_remote_bad_and_unknown_values() {
    assert_eq!(
        error(&format!(
            "global:\n  metrics: {{ bind: \"0.0.0.0:9101\" }}\n{PROXY}"
        )),
        "test.yaml:2:20: global.metrics.bind: 0.0.0.0:9101 is not a loopback address; set \
         `allow_remote: true` to serve the metrics to the network"
    );
    let bad = error(&format!(
        "global:\n  metrics:\n    bind: \"localhost:x\"\n{PROXY}"
    ));
    assert!(
        bad.starts_with("test.yaml:3:11: global.metrics.bind: "),
        "{bad}"
    );
    let unknown = error(&format!(
        "global:\n  metrics:\n    bnd: \"127.0.0.1:9101\"\n{PROXY}"
    ));
    assert!(unknown.starts_with("test.yaml:3:5: "), "{unknown}");
}

#[test]
fn balance_algorithms() {
    let text = PROXY.replace("  app:\n", "  app:\n    balance: hdr(Host)\n");
    assert_eq!(
        error(&text),
        "test.yaml:5:14: backends.app.balance: balance uri and hdr(<name>) need mode http"
    );
    let text = PROXY.replace("  app:\n", "  app:\n    balance: source\n    uri_len: 5\n");
    assert_eq!(
        error(&text),
        "test.yaml:6:5: backends.app.uri_len: uri_len needs balance uri"
    );
    let text = PROXY.replace("  app:\n", "  app:\n    hash_type: x\n");
    assert_eq!(
        error(&text),
        "test.yaml:5:16: backends.app.hash_type: unknown value `x`, expected one of `map-based`, `consistent`"
    );
    let text = PROXY.replace("  app:\n", "  app:\n    balance: round-robin\n");
    assert_eq!(
        error(&text),
        "test.yaml:5:14: backends.app.balance: expected one of `roundrobin`, `static-rr`, \
         `leastconn`, `first`, `random`, `source`, `uri`, `hdr(<name>)`, found \"round-robin\" \
         (did you mean `roundrobin`?)"
    );
}

#[test]
fn real_mistakes_are_reported_before_unsupported_features() {
    let text = PROXY
        .replace("  web: { bind", "  web: { accept_proxy: true, bind")
        .replace("name: s1", "name: s/1");
    assert_eq!(
        error(&text),
        "test.yaml:5:23: backends.app.servers[0].name: name \"s/1\" contains '/'; names may only \
         use A-Z a-z 0-9 _ . : -"
    );
}

/// A unix socket path must fit `sun_path` (108 bytes with its NUL): a longer one would pass
/// `check` and only fail when `run` binds it (or, for a log target, lose every line).
#[test]
fn unix_socket_paths_longer_than_sun_path_are_refused() {
    let fits = format!("/{}", "s".repeat(106));
    let long = format!("/{}", "s".repeat(107));
    let main = |socket: &str| with_proxy(&format!("global:\n  admin:\n    socket: {socket}\n"));
    assert!(parse("test.yaml", &main(&fits), &host()).is_ok());
    assert_eq!(
        error(&main(&long)),
        "test.yaml:8:13: global.admin.socket: unix socket path is 108 bytes, longer than the \
         107 a unix socket address holds"
    );
    let extra = with_proxy(&admin_extra(&format!("socket: {long}")));
    assert_eq!(
        error(&extra),
        "test.yaml:10:19: global.admin.extra[0].socket: unix socket path is 108 bytes, longer \
         than the 107 a unix socket address holds"
    );
    let log = |socket: &str| with_proxy(&format!("global:\n  log:\n    target: unix://{socket}\n"));
    assert!(parse("test.yaml", &log(&fits), &host()).is_ok());
    assert_eq!(
        error(&log(&long)),
        "test.yaml:8:13: global.log.target: unix socket path is 108 bytes, longer than the 107 a \
         unix socket address holds"
    );
}

// ---- load ----

/// A fresh directory for one `load` test, removed when dropped (also when the test fails).
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("percore-conf-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn invalid_utf8_is_reported_at_the_bad_byte() {
    let dir = TempDir::new("utf8");
    let cases: [(&[u8], &str); 4] = [
        (b"\xff", "1:1"),
        (b"global:\n  tag: \"ab\xc3\xa9\xff\"\n", "2:12"),
        (b"a: 1\r\nb: 2\r\nc: \xe9\n", "3:4"),
        (b"\xef\xbb\xbfa: 1\rb: \xc3(\n", "2:4"),
    ];
    for (bytes, at) in cases {
        let file = dir.0.join("bad.yaml");
        std::fs::write(&file, bytes).expect("write");
        assert_eq!(
            load(&file, &host()).unwrap_err().to_string(),
            format!("{}:{at}: file is not valid UTF-8", file.display()),
            "{bytes:?}"
        );
    }
}

#[test]
fn too_large_files_are_reported_at_the_start() {
    let dir = TempDir::new("large");
    let file = dir.0.join("big.yaml");
    let f = std::fs::File::create(&file).expect("create");
    f.set_len(percore_conf::limits::CONFIG_BYTES_MAX as u64 + 1)
        .expect("sparse file");
    assert_eq!(
        load(&file, &host()).unwrap_err().to_string(),
        format!("{}:1:1: file is larger than 16 MiB", file.display())
    );
    let text = " ".repeat(percore_conf::limits::CONFIG_BYTES_MAX + 1);
    assert_eq!(error(&text), "test.yaml:1:1: file is larger than 16 MiB");
}

#[test]
fn unreadable_file_has_no_position() {
    let error = load(std::path::Path::new("/nonexistent/percore.yaml"), &host()).unwrap_err();
    assert_eq!(
        error,
        ConfigError {
            file: "/nonexistent/percore.yaml".into(),
            line: None,
            column: None,
            path: String::new(),
            message: "cannot read file: No such file or directory (os error 2)".into(),
        }
    );
    assert_eq!(
        error.to_string(),
        "/nonexistent/percore.yaml: cannot read file: No such file or directory (os error 2)"
    );
}

#[test]
fn error_fields_are_one_based() {
    let error = parse("t.yaml", "global:\n  maxconn: 0\n", &host()).unwrap_err();
    assert_eq!(
        error,
        ConfigError {
            file: "t.yaml".into(),
            line: Some(2),
            column: Some(12),
            path: "global.maxconn".into(),
            message: "must be at least 1, found 0".into(),
        }
    );
}

#[test]
fn log_keys_are_checked() {
    assert_eq!(
        error("global:\n  log: { target: \"udp://localhost:514\" }\n"),
        "test.yaml:2:18: global.log.target: expected IP:port, found \"localhost:514\" (host names \
         are not resolved; use an IP address)"
    );
    assert_eq!(
        error("global:\n  log: { target: \"unix://dev/log\" }\n"),
        "test.yaml:2:18: global.log.target: expected `stderr`, a file path, `udp://IP:PORT` or \
         `unix:///path`: the unix socket path must be absolute, found \"unix://dev/log\""
    );
    assert_eq!(
        error("global:\n  log: { target: \"tcp://127.0.0.1:514\" }\n"),
        "test.yaml:2:18: global.log.target: expected `stderr`, a file path, `udp://IP:PORT` or \
         `unix:///path`, found \"tcp://127.0.0.1:514\""
    );
    assert_eq!(
        error("global:\n  log: { facility: local9 }\n"),
        "test.yaml:2:20: global.log.facility: unknown value `local9`, expected one of `kern`, \
         `user`, `mail`, `daemon`, `auth`, `syslog`, `lpr`, `news`, `uucp`, `cron`, `auth2`, \
         `ftp`, `ntp`, `audit`, `alert`, `cron2`, `local0`, `local1`, `local2`, `local3`, \
         `local4`, `local5`, `local6`, `local7`"
    );
    assert_eq!(
        error("global:\n  log: { tag: \"a b\" }\n"),
        "test.yaml:2:15: global.log.tag: expected 1 to 32 printable ASCII characters without \
         space, `[`, `]` or `:`, found \"a b\""
    );
    assert_eq!(
        error("global:\n  log: { sample: 0 }\n"),
        "test.yaml:2:18: global.log.sample: must be at least 1, found 0"
    );
    assert_eq!(
        error("global:\n  log: { log_format: \"%ci %shard\" }\n"),
        "test.yaml:2:22: global.log.log_format: unknown log-format variable `%shard`; percore \
         has: %ci %cp %tr %t %ft %f %b %s %TR %Tw %Tc %Tr %Ta %Tt %ST %B %U %CC %CS %ts %tsc %ac \
         %fc %bc %sc %rc %sq %bq %hr %hs %r %HM %HU %HP %HQ %HV %ID %pid %sslv %sslc"
    );
}
