//! Runbook commands of HAProxy 2.6's runtime API through the real binary: `disable|enable
//! frontend`, `set maxconn global`, `set server … addr|health|check-port|check-addr`,
//! `clear counters [all]`, `show servers conn` and `set timeout cli`. Method: two shards,
//! real TCP origins that greet with their name, and the admin socket; every effect is read
//! back from the wire (which origin answers) and from `show stat` / `show info`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;

use common::*;

/// Backend `app` with the given servers (`check` adds a 100 ms tcp check to each).
fn config(servers: &[(&str, SocketAddr)], check: bool) -> String {
    let check = if check {
        "    check: { type: tcp, inter: 100ms, rise: 1, fall: 1 }\n"
    } else {
        ""
    };
    let mut s = format!(
        "global:\n  shards: 2\n  grace: 1s\n  maxconn: 1000\n  admin:\n    socket: ./admin.sock\n\
         defaults:\n  mode: tcp\n  timeout: {{ connect: 1s, client: 30s, server: 30s }}\n\
         frontends:\n  fe:\n    bind: \"127.0.0.1:0\"\n    default_backend: app\n\
         backends:\n  app:\n{check}    servers:\n"
    );
    for (name, addr) in servers {
        s.push_str(&format!(
            "      - {{ name: {name}, address: \"{addr}\" }}\n"
        ));
    }
    s
}

#[test]
fn disable_frontend_pauses_accepting_until_enable() {
    let o = Origin::start(Behaviour::GreetEcho("s1"));
    let p = Proxy::start("fepause", &config(&[("s1", o.addr)], false));
    let a = |line: &str| admin(&sock(&p), line);
    assert_eq!(a("disable frontend fe"), "\n");
    assert_eq!(
        a("disable frontend fe"),
        "All sockets are already disabled.\n\n"
    );
    assert_eq!(a("disable frontend app"), "No such frontend.\n\n");
    assert_eq!(a("disable frontend"), "A frontend name is expected.\n\n");
    assert_eq!(stat(&a("show stat"), "fe", "FRONTEND", "status"), "PAUSED");
    // The socket stays bound: the connection waits in the backlog, unserved.
    let waiting = connect(p.addr("fe"));
    assert_eq!(stat(&a("show stat"), "fe", "FRONTEND", "stot"), "0");
    assert_eq!(o.accepted(), 0);
    assert_eq!(a("enable frontend fe"), "\n");
    assert_eq!(
        a("enable frontend fe"),
        "All sockets are already enabled.\n\n"
    );
    let mut r = BufReader::new(waiting);
    let mut name = String::new();
    r.read_line(&mut name).expect("served after enable");
    assert_eq!(name, "s1\n");
    assert_eq!(stat(&a("show stat"), "fe", "FRONTEND", "status"), "OPEN");
}

#[test]
fn set_maxconn_global_changes_the_process_limit() {
    let o = Origin::start(Behaviour::GreetEcho("s1"));
    let p = Proxy::start("gmaxconn", &config(&[("s1", o.addr)], false));
    let a = |line: &str| admin(&sock(&p), line);
    let maxconn = |info: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix("Maxconn: "))
            .expect("Maxconn")
            .to_owned()
    };
    assert_eq!(a("set maxconn global 1001"), "Value out of range.\n\n");
    assert_eq!(a("set maxconn global"), "Expects an integer value.\n\n");
    assert_eq!(a("set maxconn global 500"), "\n");
    assert_eq!(maxconn(&a("show info")), "500");
    assert_eq!(a("set maxconn global 0"), "\n");
    assert_eq!(
        maxconn(&a("show info")),
        "1000",
        "0 restores the hard limit"
    );
    assert_eq!(open_greeted(p.addr("fe")).1, "s1");
}

#[test]
fn set_server_addr_moves_new_streams_and_keeps_existing_ones() {
    let first = Origin::start(Behaviour::GreetEcho("first"));
    let second = Origin::start(Behaviour::GreetEcho("second"));
    let p = Proxy::start("srvaddr", &config(&[("s1", first.addr)], false));
    let a = |line: &str| admin(&sock(&p), line);
    let (mut old, name) = open_greeted(p.addr("fe"));
    assert_eq!(name, "first");
    let line = format!(
        "set server app/s1 addr {} port {}",
        second.addr.ip(),
        second.addr.port()
    );
    assert_eq!(
        a(&line),
        format!(
            "no need to change the addr, port changed from '{}' to '{}' by 'stats socket \
             command'\n\n",
            first.addr.port(),
            second.addr.port()
        )
    );
    for _ in 0..6 {
        assert_eq!(open_greeted(p.addr("fe")).1, "second", "new streams move");
    }
    assert_eq!(
        echo_round_trip(&mut old, b"still"),
        b"still",
        "old stream kept"
    );
    assert_eq!(first.accepted(), 1);
    let csv = a("show stat");
    assert_eq!(stat(&csv, "app", "s1", "addr"), second.addr.to_string());
    let state = a("show servers state app");
    assert!(
        state.contains(&format!(" {} - 0 0 - - 0\n", second.addr.port())),
        "{state}"
    );
    assert_eq!(
        a("set server app/s1 addr nosuch..host"),
        "Invalid addr 'nosuch..host' by 'stats socket command'\n\n"
    );
    assert_eq!(
        a("set server app/s1 addr"),
        "set server <b>/<s> addr requires an address and optionally a port.\n\n"
    );
    assert_eq!(
        a("set server app/nosuch addr 127.0.0.1"),
        "No such server.\n\n"
    );
}

#[test]
fn set_server_health_forces_the_operational_state() {
    let o1 = Origin::start(Behaviour::GreetEcho("s1"));
    let o2 = Origin::start(Behaviour::GreetEcho("s2"));
    let p = Proxy::start(
        "srvhealth",
        &config(&[("s1", o1.addr), ("s2", o2.addr)], false),
    );
    let a = |line: &str| admin(&sock(&p), line);
    assert_eq!(a("set server app/s1 health down"), "\n");
    let csv = a("show stat");
    assert_eq!(stat(&csv, "app", "s1", "status"), "DOWN");
    for _ in 0..6 {
        assert_eq!(open_greeted(p.addr("fe")).1, "s2");
    }
    assert_eq!(a("set server app/s1 health stopping"), "\n");
    assert_eq!(stat(&a("show stat"), "app", "s1", "status"), "NOLB");
    for _ in 0..6 {
        assert_eq!(
            open_greeted(p.addr("fe")).1,
            "s2",
            "NOLB takes no new stream"
        );
    }
    assert_eq!(a("set server app/s1 health up"), "\n");
    let names: Vec<String> = (0..10).map(|_| open_greeted(p.addr("fe")).1).collect();
    assert!(names.iter().any(|n| n == "s1"), "{names:?}");
    assert_eq!(
        a("set server app/s1 health foo"),
        "'set server <srv> health' expects 'up', 'stopping', or 'down'.\n\n"
    );
    assert_eq!(
        a("set server app/s1 check-port 80"),
        "health checks are not enabled on this server\n"
    );
    assert_eq!(
        a("set server app/s1 agent up"),
        "agent checks are not enabled on this server.\n\n"
    );
}

#[test]
fn check_port_and_check_addr_move_the_health_checks() {
    let o = Origin::start(Behaviour::GreetEcho("s1"));
    let p = Proxy::start("chkport", &config(&[("s1", o.addr)], true));
    let a = |line: &str| admin(&sock(&p), line);
    let status = || stat(&admin(&sock(&p), "show stat"), "app", "s1", "status");
    poll_until("s1 UP", || {
        if status() == "UP" {
            Ok(())
        } else {
            Err(status())
        }
    });
    let dead = dead_addr();
    assert_eq!(
        a(&format!("set server app/s1 check-port {}", dead.port())),
        "\n"
    );
    poll_until("checks on the dead port fail", || {
        if status() == "DOWN" {
            Ok(())
        } else {
            Err(status())
        }
    });
    let line = format!(
        "set server app/s1 check-addr {} port {}",
        o.addr.ip(),
        o.addr.port()
    );
    assert_eq!(a(&line), "\n");
    poll_until("checks back on the origin", || {
        if status() == "UP" {
            Ok(())
        } else {
            Err(status())
        }
    });
    let state = a("show servers state app");
    assert!(
        state.contains(&format!(" {} 127.0.0.1 - 0\n", o.addr.port())),
        "srv_check_port / srv_check_addr: {state}"
    );
    assert_eq!(
        a("set server app/s1 check-port abc"),
        "provided port is not an integer\n"
    );
}

#[test]
fn clear_counters_and_show_servers_conn() {
    let o = Origin::start(Behaviour::GreetEcho("s1"));
    let p = Proxy::start("clearcnt", &config(&[("s1", o.addr)], false));
    let a = |line: &str| admin(&sock(&p), line);
    for _ in 0..3 {
        drop(open_greeted(p.addr("fe")));
    }
    let csv = poll_until("streams ended", || {
        let csv = admin(&sock(&p), "show stat");
        match stat(&csv, "app", "s1", "scur").as_str() {
            "0" => Ok(csv),
            _ => Err(csv),
        }
    });
    assert_eq!(stat(&csv, "app", "s1", "stot"), "3");
    assert_ne!(stat(&csv, "app", "s1", "smax"), "0");
    let conn = a("show servers conn");
    assert!(conn.starts_with("# bkname/svname bkid/svid addr port - purge_delay used_cur used_max need_est unsafe_nb safe_nb idle_lim idle_cur idle_per_thr[2]\n"), "{conn}");
    assert!(
        conn.contains(&format!("\napp/s1 3/1 127.0.0.1 {} - ", o.addr.port())),
        "{conn}"
    );
    assert_eq!(a("show servers conn nosuch"), "Can't find backend.\n\n");

    assert_eq!(a("clear counters"), "\n");
    let csv = a("show stat");
    assert_eq!(stat(&csv, "app", "s1", "smax"), "0", "maxima cleared");
    assert_eq!(stat(&csv, "app", "s1", "stot"), "3", "totals kept");
    assert_eq!(a("clear counters all"), "\n");
    let csv = a("show stat");
    assert_eq!(stat(&csv, "app", "s1", "stot"), "0");
    assert_eq!(stat(&csv, "fe", "FRONTEND", "stot"), "0");
}

#[test]
fn set_timeout_cli_bounds_this_connection_only() {
    let o = Origin::start(Behaviour::GreetEcho("s1"));
    let p = Proxy::start("clitimeout", &config(&[("s1", o.addr)], false));
    let mut c = UnixStream::connect(sock(&p)).expect("connect");
    c.set_read_timeout(Some(WAIT)).expect("timeout");
    c.write_all(b"prompt\nset timeout cli 1\n").expect("write");
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    // Reads the prompt and the reply, then EOF once the connection idled for 1 s.
    loop {
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("no close after set timeout cli: {e}; got {got:?}"),
        }
    }
    assert_eq!(got, b"\n> \n> ");
    assert_eq!(
        admin(&sock(&p), "set timeout cli 0"),
        "Invalid timeout value.\n\n"
    );
    assert_eq!(
        admin(&sock(&p), "set timeout foo 1"),
        "'set timeout' only supports 'cli'.\n\n"
    );
}

/// An origin that answers every connection with `reply` and closes.
fn raw_origin(reply: &'static [u8]) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(reply);
        }
    });
    addr
}

#[test]
fn show_errors_keeps_the_last_refused_request_and_response() {
    let origin = raw_origin(b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n");
    let yaml = format!(
        "global:\n  shards: 2\n  admin:\n    socket: ./admin.sock\n\
         defaults:\n  mode: http\n  timeout: {{ connect: 1s, client: 5s, server: 5s }}\n\
         frontends:\n  web:\n    bind: \"127.0.0.1:0\"\n    default_backend: app\n\
         backends:\n  app:\n    servers:\n      - {{ name: s1, address: \"{origin}\" }}\n"
    );
    let p = Proxy::start("showerrors", &yaml);
    let a = |line: &str| admin(&sock(&p), line);
    assert!(a("show errors").starts_with("Total events captured on ["));
    assert!(a("show errors").ends_with("] : 0\n\n"));
    let send = |bytes: &[u8]| {
        let mut c = connect(p.addr("web"));
        c.write_all(bytes).expect("write");
        let mut reply = String::new();
        let _ = c.read_to_string(&mut reply);
        reply
    };
    let bad = b"GET / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\nHost: x\r\n\r\nabcd";
    assert!(send(bad).starts_with("HTTP/1.1 400 "));
    assert!(send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").starts_with("HTTP/1.1 502 "));
    let all = a("show errors");
    assert!(all.contains("] : 2\n \n["), "{all}");
    assert!(all.contains("] frontend web (#2): invalid request\n  backend <NONE> (#-1), server <NONE> (#-1), event #"), "{all}");
    assert!(all.contains("  len 69, wraps at 16384, error at position 51\n  \n  00000  GET / HTTP/1.1\\r\\n\n  00016  Content-Length: 3\\r\\n\n"), "{all}");
    assert!(
        all.contains(
            "] backend app (#3): invalid response\n  frontend web (#2), server s1 (#1), event #"
        ),
        "{all}"
    );
    assert!(all.contains("  00000  HTTP/1.1 2x0 OK\\r\\n\n"), "{all}");
    let responses = a("show errors app response");
    assert!(!responses.contains("invalid request") && responses.contains("invalid response"));
    assert!(!a("show errors web response").contains("invalid"));
    assert_eq!(a("show errors nosuch"), "No such proxy.\n\n");
}
