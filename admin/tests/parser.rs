//! The command grammar: every command's parsed form, every malformed form of the reference
//! index, and the order of checks (keyword, level, arguments). Method: call `split_commands`
//! and `parse` directly and compare values or exact error bodies.

use percore_admin::*;

fn admin(line: &str) -> Result<Command, ErrorReply> {
    parse(line, Level::Admin)
}

fn info(format: Format, desc: bool) -> Command {
    Command::ShowInfo { format, desc }
}

fn json() -> StatOptions {
    StatOptions {
        format: Format::Json,
        ..Default::default()
    }
}

fn sr(backend: &str, server: &str) -> ServerRef {
    ServerRef::new(backend, server)
}

fn deferred_server(backend: &str, server: &str, error: ErrorReply) -> Result<Command, ErrorReply> {
    Ok(Command::ArgumentError {
        target: Lookup::Server(sr(backend, server)),
        error,
    })
}

#[test]
fn every_command_parses() {
    let cases: Vec<(&str, Command)> = vec![
        ("help", Command::Help(vec![])),
        (
            "help show stat",
            Command::Help(vec!["show".into(), "stat".into()]),
        ),
        ("prompt", Command::Prompt),
        ("quit", Command::Quit),
        ("show cli level", Command::ShowCliLevel),
        ("show info", info(Format::Plain, false)),
        ("show info json", info(Format::Json, false)),
        ("show info json typed", info(Format::Typed, false)),
        ("show info desc json float", info(Format::Json, true)),
        ("show info typed desc", info(Format::Typed, true)),
        (
            "show stat",
            Command::ShowStat {
                options: StatOptions::default(),
                filter: None,
            },
        ),
        (
            "show stat json",
            Command::ShowStat {
                options: json(),
                filter: None,
            },
        ),
        (
            "show stat -1 4",
            Command::ShowStat {
                options: StatOptions::default(),
                filter: None,
            },
        ),
        (
            "show stat -1 4 -1 typed desc up no-maint",
            Command::ShowStat {
                options: StatOptions {
                    format: Format::Typed,
                    desc: true,
                    up_only: true,
                    no_maint: true,
                },
                filter: Some(StatFilter {
                    proxy: "-1".into(),
                    type_mask: 4,
                    sid: -1,
                }),
            },
        ),
        (
            "show stat typed desc",
            Command::ShowStat {
                options: StatOptions {
                    format: Format::Typed,
                    desc: true,
                    ..Default::default()
                },
                filter: None,
            },
        ),
        (
            "show stat -1 4 -1",
            Command::ShowStat {
                options: StatOptions::default(),
                filter: Some(StatFilter {
                    proxy: "-1".into(),
                    type_mask: 4,
                    sid: -1,
                }),
            },
        ),
        (
            "show stat app -1 -1 json",
            Command::ShowStat {
                options: json(),
                filter: Some(StatFilter {
                    proxy: "app".into(),
                    type_mask: -1,
                    sid: -1,
                }),
            },
        ),
        (
            "show stat domain proxy 3 4 2",
            Command::ShowStat {
                options: StatOptions::default(),
                filter: Some(StatFilter {
                    proxy: "3".into(),
                    type_mask: 4,
                    sid: 2,
                }),
            },
        ),
        (
            "show servers state",
            Command::ShowServersState { backend: None },
        ),
        (
            "show servers state app",
            Command::ShowServersState {
                backend: Some("app".into()),
            },
        ),
        ("show backend", Command::ShowBackend),
        ("show backend foo", Command::ShowBackend),
        ("show sess", Command::ShowSess(SessTarget::List)),
        ("show sess all", Command::ShowSess(SessTarget::All)),
        ("show sess foo", Command::ShowSess(SessTarget::List)),
        ("show sess 0", Command::ShowSess(SessTarget::List)),
        (
            "show sess 0x1000000000002a",
            Command::ShowSess(SessTarget::Id(0x10_0000_0000_002a)),
        ),
        (
            "shutdown session 0x564e6b830290",
            Command::ShutdownSession(0x564e_6b83_0290),
        ),
        (
            "shutdown sessions server app/s1",
            Command::ShutdownSessionsServer(sr("app", "s1")),
        ),
        (
            "disable server app/s1",
            Command::SetServerState(sr("app", "s1"), AdminState::Maint),
        ),
        (
            "enable server app/s1",
            Command::SetServerState(sr("app", "s1"), AdminState::Ready),
        ),
        (
            "set server app/s1 state ready",
            Command::SetServerState(sr("app", "s1"), AdminState::Ready),
        ),
        (
            "set server app/s1 state drain",
            Command::SetServerState(sr("app", "s1"), AdminState::Drain),
        ),
        (
            "set server app/s1 state maint",
            Command::SetServerState(sr("app", "s1"), AdminState::Maint),
        ),
        (
            "set server app/s1 weight 50",
            Command::SetServerWeight(sr("app", "s1"), WeightSpec::Absolute(50)),
        ),
        (
            "set server app/s1 weight 50%",
            Command::SetServerWeight(sr("app", "s1"), WeightSpec::Percent(50)),
        ),
        (
            "set server app/s1 weight 30000%",
            Command::SetServerWeight(sr("app", "s1"), WeightSpec::Percent(25_600)),
        ),
        (
            "set weight app/s1 3",
            Command::SetServerWeight(sr("app", "s1"), WeightSpec::Absolute(3)),
        ),
        ("get weight app/s1", Command::GetWeight(sr("app", "s1"))),
        ("get weight /s1", Command::GetWeight(sr("", "s1"))),
        ("get weight app/#2", Command::GetWeight(sr("app", "#2"))),
        (
            "disable health app/s1",
            Command::SetHealth(sr("app", "s1"), false),
        ),
        (
            "enable health app/s1",
            Command::SetHealth(sr("app", "s1"), true),
        ),
        (
            "set maxconn server app/s1 10",
            Command::SetMaxconnServer(sr("app", "s1"), 10),
        ),
        (
            "set maxconn server app/s1 0",
            Command::SetMaxconnServer(sr("app", "s1"), 0),
        ),
        (
            "set maxconn frontend web 100",
            Command::SetMaxconnFrontend("web".into(), 100),
        ),
        (
            "set maxconn frontend web abc",
            Command::SetMaxconnFrontend("web".into(), 0),
        ),
        ("show shards", Command::ShowShards),
        ("clear counters", Command::ClearCounters { all: false }),
        ("clear counters foo", Command::ClearCounters { all: false }),
        ("clear counters all", Command::ClearCounters { all: true }),
        (
            "disable frontend web",
            Command::SetFrontendEnabled("web".into(), false),
        ),
        (
            "enable frontend web",
            Command::SetFrontendEnabled("web".into(), true),
        ),
        ("set maxconn global 5000", Command::SetMaxconnGlobal(5000)),
        ("set maxconn global abc", Command::SetMaxconnGlobal(0)),
        ("set maxconn global -1", Command::SetMaxconnGlobal(-1)),
        (
            "set timeout cli 10",
            Command::SetTimeoutCli(std::time::Duration::from_secs(10)),
        ),
        (
            "set timeout cli 2m",
            Command::SetTimeoutCli(std::time::Duration::from_secs(120)),
        ),
        (
            "show servers conn",
            Command::ShowServersConn { backend: None },
        ),
        (
            "show servers conn app",
            Command::ShowServersConn {
                backend: Some("app".into()),
            },
        ),
        (
            "set server app/s1 addr 127.0.0.2 port 19001",
            Command::SetServerAddr {
                server: sr("app", "s1"),
                addr: "127.0.0.2".parse().expect("ip"),
                port: Some(PortArg::Port(19001)),
            },
        ),
        (
            "set server app/s1 addr ::1 port abc",
            Command::SetServerAddr {
                server: sr("app", "s1"),
                addr: "::1".parse().expect("ip"),
                port: Some(PortArg::Invalid("abc".into())),
            },
        ),
        (
            "set server app/s1 addr 127.0.0.1 foo 1",
            Command::SetServerAddr {
                server: sr("app", "s1"),
                addr: "127.0.0.1".parse().expect("ip"),
                port: None,
            },
        ),
        (
            "set server app/s1 health stopping",
            Command::SetServerHealth(sr("app", "s1"), ForcedHealth::Stopping),
        ),
        (
            "set server app/s1 check-port 0",
            Command::SetServerCheckPort(sr("app", "s1"), 0),
        ),
        (
            "set server app/s1 check-addr 127.0.0.1 port 19001",
            Command::SetServerCheckAddr {
                server: sr("app", "s1"),
                addr: "127.0.0.1".parse().expect("ip"),
                port: Some(19001),
            },
        ),
        ("show version", Command::ShowVersion),
    ];
    for (line, expected) in cases {
        assert_eq!(admin(line), Ok(expected), "{line}");
    }
}

#[test]
fn malformed_forms_of_the_index() {
    let cases: Vec<(&str, Result<Command, ErrorReply>)> = vec![
        ("get weight", Err(REQUIRE_BACKEND_SERVER)),
        ("get weight app", Err(REQUIRE_BACKEND_SERVER)),
        ("get weight app/", Err(REQUIRE_BACKEND_SERVER)),
        ("disable server", Err(REQUIRE_BACKEND_SERVER)),
        ("disable server app", Err(REQUIRE_BACKEND_SERVER)),
        ("disable server /s1", Err(REQUIRE_BACKEND_SERVER)),
        ("enable server app/", Err(REQUIRE_BACKEND_SERVER)),
        ("disable health", Err(REQUIRE_BACKEND_SERVER)),
        ("set server", Err(REQUIRE_BACKEND_SERVER)),
        ("set weight app 5", Err(REQUIRE_BACKEND_SERVER)),
        ("set maxconn server", Err(REQUIRE_BACKEND_SERVER)),
        ("shutdown sessions server", Err(REQUIRE_BACKEND_SERVER)),
        ("shutdown sessions server app", Err(REQUIRE_BACKEND_SERVER)),
        (
            "set server app/s1",
            deferred_server("app", "s1", SET_SERVER_USAGE),
        ),
        (
            "set server app/s1 foo",
            deferred_server("app", "s1", SET_SERVER_USAGE),
        ),
        (
            "set server app/s1 state",
            deferred_server("app", "s1", SERVER_STATE_EXPECTED),
        ),
        (
            "set server app/s1 state foo",
            deferred_server("app", "s1", SERVER_STATE_EXPECTED),
        ),
        (
            "set server app/s1 state MAINT",
            deferred_server("app", "s1", SERVER_STATE_EXPECTED),
        ),
        (
            "set server app/s1 weight",
            deferred_server("app", "s1", WEIGHT_REQUIRED),
        ),
        (
            "set server app/s1 weight abc",
            deferred_server("app", "s1", WEIGHT_GARBAGE),
        ),
        (
            "set server app/s1 weight 300",
            deferred_server("app", "s1", WEIGHT_OUT_OF_RANGE),
        ),
        (
            "set server app/s1 weight -1",
            deferred_server("app", "s1", WEIGHT_OUT_OF_RANGE),
        ),
        (
            "set server app/s1 weight -1%",
            deferred_server("app", "s1", WEIGHT_RELATIVE_NEGATIVE),
        ),
        (
            "set server app/s1 weight 5x",
            deferred_server("app", "s1", WEIGHT_TRAILING_GARBAGE),
        ),
        (
            "set weight app/s1",
            deferred_server("app", "s1", WEIGHT_REQUIRED),
        ),
        (
            "set server app/s1 agent up",
            deferred_server("app", "s1", AGENT_NOT_ENABLED),
        ),
        (
            "set server app/s1 fqdn",
            deferred_server("app", "s1", FQDN_REQUIRED),
        ),
        (
            "set server app/s1 fqdn x.example",
            deferred_server("app", "s1", FQDN_NO_RESOLUTION),
        ),
        (
            "set server app/s1 ssl on",
            deferred_server("app", "s1", SSL_NOT_CONFIGURED),
        ),
        (
            "set server app/s1 addr",
            deferred_server("app", "s1", ADDR_REQUIRED),
        ),
        (
            "set server app/s1 addr nosuch..host",
            deferred_server("app", "s1", invalid_addr("nosuch..host")),
        ),
        (
            "set server app/s1 health foo",
            deferred_server("app", "s1", HEALTH_EXPECTED),
        ),
        (
            "set server app/s1 agent-port 1",
            deferred_server("app", "s1", AGENT_NOT_ENABLED_BARE),
        ),
        (
            "set server app/s1 check-port",
            deferred_server("app", "s1", CHECK_PORT_REQUIRED),
        ),
        (
            "set server app/s1 check-port abc",
            deferred_server("app", "s1", PORT_NOT_INTEGER),
        ),
        (
            "set server app/s1 check-port 70000",
            deferred_server("app", "s1", PORT_INVALID),
        ),
        (
            "set server app/s1 check-addr",
            deferred_server("app", "s1", CHECK_ADDR_REQUIRED),
        ),
        (
            "set server app/s1 check-addr foo..bar",
            deferred_server("app", "s1", invalid_check_addr("foo..bar")),
        ),
        (
            "set server app/s1 check-addr 127.0.0.1 port x",
            deferred_server("app", "s1", PORT_NOT_INTEGER),
        ),
        ("set maxconn global", Err(EXPECTS_INTEGER_VALUE)),
        ("set timeout cli", Err(EXPECTS_INTEGER_VALUE)),
        ("set timeout cli abc", Err(INVALID_TIMEOUT)),
        ("set timeout cli 0", Err(INVALID_TIMEOUT)),
        ("set timeout", Err(SET_TIMEOUT_ONLY_CLI)),
        ("set timeout foo 10", Err(SET_TIMEOUT_ONLY_CLI)),
        ("disable frontend", Err(FRONTEND_NAME_EXPECTED)),
        ("enable frontend", Err(FRONTEND_NAME_EXPECTED)),
        (
            "set maxconn server app/s1",
            deferred_server("app", "s1", MAXCONN_REQUIRED),
        ),
        (
            "set maxconn server app/s1 abc",
            deferred_server("app", "s1", MAXCONN_GARBAGE),
        ),
        (
            "set maxconn server app/s1 10x",
            deferred_server("app", "s1", MAXCONN_TRAILING_GARBAGE),
        ),
        ("set maxconn frontend", Err(FRONTEND_NAME_EXPECTED)),
        (
            "set maxconn frontend web",
            Ok(Command::ArgumentError {
                target: Lookup::Frontend("web".into()),
                error: INTEGER_VALUE_EXPECTED,
            }),
        ),
        (
            "set maxconn frontend web -5",
            Ok(Command::ArgumentError {
                target: Lookup::Frontend("web".into()),
                error: VALUE_OUT_OF_RANGE,
            }),
        ),
        ("shutdown session", Err(SESSION_POINTER_EXPECTED)),
        ("shutdown session foo", Err(SESSION_POINTER_EXPECTED)),
        ("shutdown session 0", Err(SESSION_POINTER_EXPECTED)),
        ("show stat domain resolvers", Err(INVALID_STAT_DOMAIN)),
        ("show stat domain", Err(INVALID_STAT_DOMAIN)),
    ];
    for (line, expected) in cases {
        assert_eq!(admin(line), expected, "{line}");
    }
}

fn usage_header(result: Result<Command, ErrorReply>) -> String {
    let body = result.expect_err("usage reply").body().to_owned();
    body.lines().next().unwrap_or_default().to_owned()
}

#[test]
fn unknown_partial_uppercase_and_empty_commands() {
    const MAYBE: &str = "Unknown command, but maybe one of the following ones is a better match:";
    const EMPTY: &str = "Unknown command. Please enter one of the following commands only:";
    for line in [
        "foo bar",
        "show foo",
        "GET WEIGHT app/s1",
        "Show info",
        "set maxconn",
        "shutdown",
        "shutdown sessions",
        "show",
        "show servers",
        "show cli",
        "show infos",
    ] {
        assert_eq!(usage_header(admin(line)), MAYBE, "{line}");
    }
    for line in ["", "   ", "\t", "\\"] {
        assert_eq!(usage_header(admin(line)), EMPTY, "{line:?}");
    }
    // A lone CR is a word for `parse`; the line splitter is what drops it.
    assert_eq!(usage_header(admin("\r")), MAYBE);
    assert_eq!(usage_header(admin(&split_commands("\r\n")[0])), EMPTY);
    // Unknown commands get suggestions at every level, never `Permission denied`.
    assert_eq!(usage_header(parse("foo", Level::User)), MAYBE);
    let shutdown = admin("shutdown sessions")
        .expect_err("usage")
        .body()
        .to_owned();
    assert_eq!(
        shutdown,
        "Unknown command, but maybe one of the following ones is a better match:\n  \
         shutdown sessions server <bk>/<srv>     : kill sessions on a server\n  \
         help [<command>]                        : list matching or all commands\n  \
         prompt                                  : toggle interactive mode with prompt\n  \
         quit                                    : disconnect\n"
    );
}

#[test]
fn permission_denied_for_each_restricted_command() {
    let operator_only = ["show sess", "show sess all", "show sess 0x1"];
    let admin_only = [
        "shutdown session 0x1",
        "shutdown sessions server app/s1",
        "disable server app/s1",
        "enable server app/s1",
        "set server app/s1 state drain",
        "set server app/s1 weight 5",
        "set weight app/s1 5",
        "disable health app/s1",
        "enable health app/s1",
        "set maxconn server app/s1 20",
        "set maxconn frontend web 200",
    ];
    for line in operator_only {
        assert_eq!(parse(line, Level::User), Err(PERMISSION_DENIED), "{line}");
        assert!(parse(line, Level::Operator).is_ok(), "{line}");
    }
    for line in admin_only {
        assert_eq!(parse(line, Level::User), Err(PERMISSION_DENIED), "{line}");
        assert_eq!(
            parse(line, Level::Operator),
            Err(PERMISSION_DENIED),
            "{line}"
        );
        assert!(parse(line, Level::Admin).is_ok(), "{line}");
    }
    for line in [
        "help",
        "prompt",
        "quit",
        "show info",
        "show stat",
        "show servers state",
        "show backend",
        "get weight app/s1",
        "show cli level",
        "show shards",
        "show version",
    ] {
        assert!(parse(line, Level::User).is_ok(), "{line}");
    }
}

#[test]
fn level_check_precedes_argument_validation() {
    for line in [
        "disable server app/nosuch",
        "disable server",
        "shutdown sessions server",
        "set server app/s1 weight abc",
        "set server",
        "set maxconn frontend",
        "shutdown session foo",
    ] {
        assert_eq!(
            parse(line, Level::Operator),
            Err(PERMISSION_DENIED),
            "{line}"
        );
        assert_eq!(parse(line, Level::User), Err(PERMISSION_DENIED), "{line}");
        assert_ne!(parse(line, Level::Admin), Err(PERMISSION_DENIED), "{line}");
    }
}

#[test]
fn chaining_escapes_quotes_and_crlf() {
    let parts = split_commands("show backend;get weight app/s1;show servers state api");
    assert_eq!(
        parts,
        vec![
            "show backend",
            "get weight app/s1",
            "show servers state api"
        ]
    );
    assert_eq!(
        admin(&parts[2]),
        Ok(Command::ShowServersState {
            backend: Some("api".into())
        })
    );

    // Errors in the middle do not stop the chain: each part parses on its own.
    let parts = split_commands("foo;get weight app/s2");
    assert!(admin(&parts[0]).is_err());
    assert_eq!(admin(&parts[1]), Ok(Command::GetWeight(sr("app", "s2"))));
    let parts = split_commands("get weight app/nosuch;set server;get weight app/s2");
    assert_eq!(admin(&parts[1]), Err(REQUIRE_BACKEND_SERVER));
    assert_eq!(admin(&parts[2]), Ok(Command::GetWeight(sr("app", "s2"))));

    // Spaces around `;` do not matter.
    let parts = split_commands("get weight app/s1 ; get weight app/s2");
    assert_eq!(admin(&parts[0]), Ok(Command::GetWeight(sr("app", "s1"))));
    assert_eq!(admin(&parts[1]), Ok(Command::GetWeight(sr("app", "s2"))));

    // Trailing `;` is an empty command.
    let parts = split_commands("get weight app/s1;");
    assert_eq!(parts.len(), 2);
    assert!(admin(&parts[1])
        .expect_err("empty")
        .body()
        .starts_with("Unknown command. Please"));

    // `\;` does not split; the word keeps a literal `;`.
    let parts = split_commands(r"get weight app/s1\;x");
    assert_eq!(parts.len(), 1);
    assert_eq!(admin(&parts[0]), Ok(Command::GetWeight(sr("app", "s1;x"))));

    // Quotes are ordinary characters.
    assert_eq!(
        admin(r#"get weight "app/s1""#),
        Ok(Command::GetWeight(sr("\"app", "s1\"")))
    );

    // CR before LF is dropped.
    let parts = split_commands("get weight app/s1\r\n");
    assert_eq!(admin(&parts[0]), Ok(Command::GetWeight(sr("app", "s1"))));

    // Tabs and runs of spaces separate words; keywords are case-sensitive.
    assert_eq!(
        admin("get\t\tweight   app/s1"),
        Ok(Command::GetWeight(sr("app", "s1")))
    );
    assert!(admin("get Weight app/s1").is_err());
}

#[test]
fn framing_of_error_replies() {
    // Two captured error texts have no own newline: one LF in total after framing.
    let mut w = ReplyWriter::new(false);
    for line in [
        "set server app/s1 weight abc",
        "set maxconn server app/s1 abc",
    ] {
        let Ok(Command::ArgumentError { error, .. }) = admin(line) else {
            panic!("{line}");
        };
        assert!(!error.has_own_newline());
        w.push_error(&error);
    }
    assert_eq!(
        w.take_output(),
        "Empty weight string empty or preceded by garbage\nmaxconn string empty or preceded by garbage\n"
    );
    assert_eq!(terminator(false), "\n");
    assert_eq!(terminator(true), "\n> ");
    let mut w = ReplyWriter::new(true);
    w.push_error(
        &admin("set server app/s1 weight abc")
            .map(|_| ())
            .err()
            .unwrap_or(WEIGHT_GARBAGE),
    );
    assert_eq!(
        w.take_output(),
        "Empty weight string empty or preceded by garbage\n> "
    );
}
