//! Valid configurations parse to the expected values: the example files under `examples/`
//! (loaded from disk with `load`) and inline texts, checking that defaults are merged key by
//! key (built-in ← `defaults` ← section).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use percore_conf::{
    load, parse, Admin, AdminListener, Backend, Balance, Config, Frontend, Global, GlobalTimeouts,
    HostInfo, Level, Log, LogFraming, LogTarget, Mode, ProxyVersion, Server, Shards, Timeouts,
    Tune,
};

fn host() -> HostInfo {
    HostInfo {
        cpus: vec![0, 1, 2, 3],
    }
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

/// A minimal valid config with the given `global` section.
fn with_global(global: &str) -> String {
    format!(
        "global: {global}\n\
         frontends: {{ w: {{ bind: '127.0.0.1:1', default_backend: b }} }}\n\
         backends: {{ b: {{ servers: [{{ name: s, address: '127.0.0.1:2' }}] }} }}\n"
    )
}

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("test addresses are valid")
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn full_tcp_example() {
    let config = load(&example("tcp.yaml"), &host()).expect("example is valid");
    let defaults_timeout = Timeouts {
        connect: secs(5),
        client: secs(30),
        server: secs(30),
        tunnel: secs(3600),
        http_request: secs(10),
        http_keep_alive: secs(5),
        queue: secs(5),
    };
    let expected = Config {
        global: Global {
            metrics: None,
            shards: Shards::Auto,
            shard_cpus: vec![0, 1, 2, 3],
            maxconn: 100_000,
            maxconn_configured: true,
            grace: secs(10),
            timeout: GlobalTimeouts { cli: secs(30) },
            control_cpu: Some(1),
            admin: Some(Admin {
                socket: PathBuf::from("./percore.sock"),
                mode: 0o600,
                level: Level::Admin,
                extra: vec![
                    AdminListener::Unix {
                        socket: PathBuf::from("./ro.sock"),
                        mode: 0o660,
                        level: Level::User,
                    },
                    AdminListener::Tcp {
                        address: addr("127.0.0.1:9999"),
                        level: Level::Operator,
                        allow_remote: false,
                    },
                ],
            }),
            log: Log::default(),
            tune: Tune {
                bufsize: 16 * 1024,
                control_ring: 1024,
                io_memory: 512 * 1024,
                backlog: 1024,
                max_header_size: 16 * 1024,
                max_headers: 100,
                tls_ticket_rotation: std::time::Duration::from_secs(3600),
            },
        },
        frontends: vec![Frontend {
            name: "web".into(),
            mode: Mode::Tcp,
            bind: vec![addr("127.0.0.1:8080")],
            maxconn: 5000,
            default_backend: 0,
            timeout: defaults_timeout.clone(),
            http: Default::default(),
            accept_proxy: false,
            tls: vec![None],
        }],
        backends: vec![Backend {
            name: "app".into(),
            mode: Mode::Tcp,
            balance: Balance::RoundRobin,
            retries: 3,
            redispatch: true,
            timeout: Timeouts {
                connect: secs(2),
                ..defaults_timeout
            },
            servers: vec![Server {
                name: "s1".into(),
                address: addr("127.0.0.1:9001"),
                weight: 10,
                send_proxy: Some(ProxyVersion::V2),
                backup: false,
                maxconn: 0,
                check: None,
                slowstart: None,
                minconn: 0,
                tls: None,
            }],
            http: Default::default(),
            on_marked_down: Default::default(),
            on_marked_up: Default::default(),
            allbackups: false,
            hash_type: Default::default(),
            fullconn: 500,
        }],
    };
    assert_eq!(config, expected);
    assert_eq!(config.backend_index("app"), Some(0));
    assert_eq!(config.frontend_index("web"), Some(0));
    assert_eq!(config.backend_index("web"), None);
}

#[test]
fn minimal_example_gets_every_default() {
    let config = load(&example("minimal.yaml"), &host()).expect("example is valid");
    let expected = Config {
        global: Global {
            metrics: None,
            shards: Shards::Auto,
            shard_cpus: vec![0, 1, 2, 3],
            maxconn: 10_000,
            maxconn_configured: false,
            grace: secs(10),
            timeout: GlobalTimeouts::default(),
            control_cpu: None,
            admin: None,
            log: Log::default(),
            tune: Tune::default(),
        },
        frontends: vec![Frontend {
            name: "web".into(),
            mode: Mode::Tcp,
            bind: vec![addr("127.0.0.1:8080")],
            maxconn: 10_000,
            default_backend: 0,
            timeout: Timeouts::default(),
            http: Default::default(),
            accept_proxy: false,
            tls: vec![None],
        }],
        backends: vec![Backend {
            name: "app".into(),
            mode: Mode::Tcp,
            balance: Balance::RoundRobin,
            retries: 3,
            redispatch: true,
            timeout: Timeouts::default(),
            servers: vec![Server {
                name: "s1".into(),
                address: addr("127.0.0.1:9001"),
                weight: 1,
                send_proxy: None,
                backup: false,
                maxconn: 0,
                check: None,
                slowstart: None,
                minconn: 0,
                tls: None,
            }],
            http: Default::default(),
            on_marked_down: Default::default(),
            on_marked_up: Default::default(),
            allbackups: false,
            hash_type: Default::default(),
            fullconn: 1000,
        }],
    };
    assert_eq!(config, expected);
    assert_eq!(
        Tune::default(),
        Tune {
            bufsize: 16384,
            control_ring: 1024,
            io_memory: 524_288,
            backlog: 1024,
            max_header_size: 16384,
            max_headers: 100,
            tls_ticket_rotation: std::time::Duration::from_secs(3600),
        }
    );
    assert_eq!(
        Timeouts::default(),
        Timeouts {
            connect: secs(5),
            client: secs(30),
            server: secs(30),
            tunnel: secs(3600),
            http_request: secs(10),
            http_keep_alive: secs(5),
            queue: secs(5),
        }
    );
}

#[test]
fn multi_example_merges_defaults_key_by_key() {
    let config = load(&example("multi.yaml"), &host()).expect("example is valid");
    assert_eq!(config.global.shards, Shards::Cpus(vec![0, 1]));
    assert_eq!(config.global.shard_cpus, vec![0, 1]);
    assert_eq!(config.global.grace, secs(30));
    assert_eq!(
        config.global.log.target,
        LogTarget::File("/var/log/percore.log".into())
    );
    assert!(config.global.log.access);
    assert_eq!(config.global.tune.bufsize, 32 * 1024);
    assert_eq!(config.global.tune.backlog, 4096);

    let public = &config.frontends[config.frontend_index("public").unwrap()];
    assert_eq!(public.bind, vec![addr("0.0.0.0:443"), addr("[::]:443")]);
    assert_eq!(
        public.maxconn, 20_000,
        "no defaults.maxconn: the global one"
    );
    assert_eq!(public.timeout.client, secs(60));
    assert_eq!(public.timeout.connect, secs(1));
    assert_eq!(
        public.timeout.tunnel,
        secs(3600),
        "built-in, not in defaults"
    );

    let internal = &config.frontends[1];
    assert_eq!(internal.bind, vec![addr("127.0.0.1:0")]);
    assert_eq!(internal.maxconn, 100);
    assert_eq!(
        internal.timeout.client,
        secs(5),
        "section overrides defaults"
    );
    assert_eq!(
        internal.timeout.server,
        secs(60),
        "defaults override built-in"
    );
    assert_eq!(internal.default_backend, 0);

    let pool = &config.backends[0];
    assert_eq!(pool.retries, 2);
    assert!(!pool.redispatch);
    assert_eq!(pool.servers.len(), 3);
    assert_eq!(pool.servers[0].send_proxy, Some(ProxyVersion::V1));
    assert_eq!(pool.servers[2].address, addr("[fd00::13]:443"));
    assert_eq!(pool.servers[2].weight, 0);
}

#[test]
fn shard_count_takes_the_first_host_cpus() {
    let host = HostInfo {
        cpus: vec![4, 6, 8],
    };
    let config = parse("t.yaml", &with_global("{ shards: 2 }"), &host).expect("valid");
    assert_eq!(config.global.shards, Shards::Count(2));
    assert_eq!(config.global.shard_cpus, vec![4, 6]);
}

#[test]
fn small_bufsize_lowers_the_default_header_limit() {
    let text = with_global("{ tune: { bufsize: 4k } }");
    let config = parse("t.yaml", &text, &host()).expect("valid");
    assert_eq!(config.global.tune.bufsize, 4096);
    assert_eq!(config.global.tune.max_header_size, 4096);
}

#[test]
fn yaml_features_that_stay_accepted() {
    // Anchors and aliases, explicit nulls as absent keys, integers for sizes and durations,
    // octal mode spellings, unquoted names that look like numbers.
    let text = r#"
global:
  maxconn: ~
  grace: 2500
  admin: { socket: /run/p.sock, mode: "0o640" }
  tune: { bufsize: 8192 }
defaults:
  timeout: &t { connect: 250ms, queue: 0 }
frontends:
  80:
    bind: "[::1]:80"
    timeout: *t
    default_backend: 80
backends:
  80:
    servers:
      - { name: 1, address: "::ffff:127.0.0.1", weight: 256 }
"#;
    let text = text.replace("\"::ffff:127.0.0.1\"", "\"[::ffff:127.0.0.1]:80\"");
    let config = parse("t.yaml", &text, &host()).expect("valid");
    assert_eq!(config.global.maxconn, 10_000);
    assert_eq!(config.global.grace, Duration::from_millis(2500));
    assert_eq!(config.global.admin.as_ref().unwrap().mode, 0o640);
    assert_eq!(config.global.tune.bufsize, 8192);
    assert_eq!(config.frontends[0].name, "80");
    assert_eq!(
        config.frontends[0].timeout.connect,
        Duration::from_millis(250)
    );
    assert_eq!(config.frontends[0].timeout.queue, Duration::ZERO);
    assert_eq!(config.backends[0].servers[0].name, "1");
    assert_eq!(config.backends[0].servers[0].weight, 256);
}

#[test]
fn syslog_targets_framings_and_limits() {
    let log = |yaml: &str| {
        let text = format!(
            "global:\n  log: {yaml}\nfrontends:\n  web: {{ bind: \"127.0.0.1:8080\", \
             default_backend: app }}\nbackends:\n  app:\n    servers: [{{ name: s1, \
             address: \"127.0.0.1:9001\" }}]\n"
        );
        percore_conf::parse("t.yaml", &text, &host())
            .expect("valid")
            .global
            .log
    };
    let udp = log("{ target: \"udp://127.0.0.1:514\", access: true }");
    assert_eq!(udp.target, LogTarget::Udp(addr("127.0.0.1:514")));
    assert_eq!(
        udp.framing,
        LogFraming::Rfc3164,
        "syslog targets get a header"
    );
    assert_eq!(
        (udp.facility, udp.tag.as_str(), udp.sample),
        (16, "percore", 1)
    );
    let unix = log(
        "{ target: \"unix:///dev/log\", format: rfc5424, facility: local7, tag: lb1, \
         sample: 10, rate_max: 5000, log_format: \"%ci %ID %{+Q}r\" }",
    );
    assert_eq!(unix.target, LogTarget::Unix("/dev/log".into()));
    assert_eq!(unix.framing, LogFraming::Rfc5424);
    assert_eq!((unix.facility, unix.tag.as_str()), (23, "lb1"));
    assert_eq!((unix.sample, unix.rate_max), (10, Some(5000)));
    assert_eq!(unix.log_format.expect("template").items.len(), 5);
    assert_eq!(log("{ target: ./a.log }").framing, LogFraming::Raw);
    assert_eq!(
        log("{ target: ./a.log, format: rfc3164 }").framing,
        LogFraming::Rfc3164
    );
}

#[test]
fn global_metrics_defaults_to_loopback_and_allows_remote_when_told() {
    let base = "frontends:\n  web: { bind: \"127.0.0.1:8080\", default_backend: app }\n\
                backends:\n  app:\n    servers: [{ name: s1, address: \"127.0.0.1:9001\" }]\n";
    let metrics = |global: &str| {
        percore_conf::parse("t.yaml", &format!("{global}{base}"), &host())
            .expect("valid")
            .global
            .metrics
    };
    assert_eq!(metrics(""), None);
    let m = metrics("global:\n  metrics: {}\n").expect("metrics");
    assert_eq!(m.bind.to_string(), "127.0.0.1:9101");
    assert!(!m.allow_remote);
    let m = metrics("global:\n  metrics: { bind: \"[::1]:9200\" }\n").expect("metrics");
    assert_eq!(m.bind.to_string(), "[::1]:9200");
    let m = metrics("global:\n  metrics: { bind: \"0.0.0.0:9101\", allow_remote: true }\n")
        .expect("metrics");
    assert!(m.allow_remote && m.bind.ip().is_unspecified());
}
