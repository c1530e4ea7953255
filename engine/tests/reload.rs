//! Live reload and dynamic servers through the real binary: the configuration file is
//! rewritten and `reload` (or SIGHUP) applied while real clients hold streams to real
//! origins; `add server` / `del server` on the admin socket. Assertions are on admin replies,
//! on which origin a stream reaches (greeting origins name themselves) and on the order of
//! events, never on elapsed time.

mod common;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Instant;

use common::http_origin::{HttpClient, HttpOrigin};
use common::*;

fn sock(p: &Proxy) -> PathBuf {
    p.dir.join("admin.sock")
}

/// A TCP-mode configuration: backend `app` with `servers` (name, address, extra keys).
fn tcp_config(timeouts: &str, servers: &[(&str, SocketAddr, &str)]) -> String {
    let mut s = format!(
        "global:\n  shards: 2\n  grace: 1s\n  admin: {{ socket: ./admin.sock }}\n\
         defaults:\n  mode: tcp\n  timeout: {{ connect: 1s, {timeouts} }}\n  retries: 1\n\
         frontends:\n  fe: {{ bind: \"127.0.0.1:0\", default_backend: app }}\n\
         backends:\n  app:\n    servers:\n"
    );
    for (name, addr, extra) in servers {
        s.push_str(&format!(
            "      - {{ name: {name}, address: \"{addr}\"{extra} }}\n"
        ));
    }
    s
}

fn rewrite(p: &Proxy, yaml: &str) {
    std::fs::write(p.dir.join("percore.yaml"), yaml).expect("rewrite config");
}

/// A stream through the proxy and the name its origin greeted it with.
fn greeted(addr: SocketAddr) -> (TcpStream, String) {
    let s = connect(addr);
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    let mut name = String::new();
    r.read_line(&mut name).expect("greeting");
    (s, name.trim().to_string())
}

fn names(addr: SocketAddr, n: usize) -> Vec<String> {
    (0..n).map(|_| greeted(addr).1).collect()
}

fn has_row(csv: &str, px: &str, sv: &str) -> bool {
    csv.lines().any(|l| l.starts_with(&format!("{px},{sv},")))
}

#[test]
fn reload_adds_a_server_and_removes_one_whose_streams_finish() {
    let o1 = Origin::start(Behaviour::GreetEcho("s1"));
    let o2 = Origin::start(Behaviour::GreetEcho("s2"));
    let timeouts = "client: 30s, server: 30s";
    let p = Proxy::start(
        "reload-servers",
        &tcp_config(timeouts, &[("s1", o1.addr, "")]),
    );
    let addr = p.addr("fe");
    let (mut held, name) = greeted(addr);
    assert_eq!(name, "s1");
    rewrite(&p, &tcp_config(timeouts, &[("s2", o2.addr, "")]));
    let reply = admin(&sock(&p), "reload");
    assert!(
        reply.contains("1 server(s) added, 1 removed, 0 changed"),
        "{reply}"
    );
    // From the reply on, every shard runs the new layout: no new stream reaches s1.
    assert!(names(addr, 20).iter().all(|n| n == "s2"));
    assert_eq!(
        echo_round_trip(&mut held, b"still here"),
        b"still here",
        "a removed server's stream goes on"
    );
    let csv = admin(&sock(&p), "show stat");
    assert!(
        has_row(&csv, "app", "s2") && !has_row(&csv, "app", "s1"),
        "{csv}"
    );
    let state = admin(&sock(&p), "show servers state app");
    assert!(!state.contains(" s1 "), "{state}");
    assert_eq!(
        admin(&sock(&p), "disable server app/s1"),
        "No such server.\n\n"
    );
    drop(held);
    // Adding it back by name takes its old slot again, as a new server.
    rewrite(
        &p,
        &tcp_config(timeouts, &[("s2", o2.addr, ""), ("s1", o1.addr, "")]),
    );
    let reply = admin(&sock(&p), "reload");
    assert!(reply.contains("1 server(s) added, 0 removed"), "{reply}");
    let seen = names(addr, 20);
    assert!(seen.iter().any(|n| n == "s1") && seen.iter().any(|n| n == "s2"));
    let csv = admin(&sock(&p), "show stat");
    assert_eq!(stat(&csv, "app", "s1", "sid"), "1", "same slot, same id");
}

#[test]
fn reload_changes_a_timeout_for_new_streams_only() {
    let o1 = Origin::start(Behaviour::GreetEcho("s1"));
    let servers = [("s1", o1.addr, "")];
    let p = Proxy::start(
        "reload-timeout",
        &tcp_config("client: 1h, server: 1h, tunnel: 1h", &servers),
    );
    let addr = p.addr("fe");
    let (mut old, _) = greeted(addr);
    rewrite(
        &p,
        &tcp_config("client: 200ms, server: 200ms, tunnel: 200ms", &servers),
    );
    let reply = admin(&sock(&p), "reload");
    assert!(reply.contains("as generation 1"), "{reply}");
    let (mut new, _) = greeted(addr);
    // The new stream is idle on the client side: the new client timeout ends it.
    wait_closed(&mut new);
    // The old stream, idle as long, keeps its generation's timeout.
    assert_eq!(echo_round_trip(&mut old, b"ping"), b"ping");
    // Its shard keeps generation 0 alive for it, and frees it once it ends.
    assert_eq!(
        generations_alive(&p),
        2 + 1,
        "{}",
        admin(&sock(&p), "show shards")
    );
    drop(old);
    poll_until("generation 0 freed", || match generations_alive(&p) {
        2 => Ok(()),
        n => Err(n),
    });
}

/// `gens_alive` of `show shards`, summed over the shards.
fn generations_alive(p: &Proxy) -> u64 {
    admin(&sock(p), "show shards")
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
        .sum()
}

#[test]
fn a_bad_file_is_refused_with_its_position_and_the_old_one_keeps_serving() {
    let o1 = Origin::start(Behaviour::GreetEcho("s1"));
    let timeouts = "client: 30s, server: 30s";
    let good = tcp_config(timeouts, &[("s1", o1.addr, "")]);
    let p = Proxy::start("reload-bad", &good);
    let addr = p.addr("fe");
    // Line 14 is the server entry, `wieght` (unknown) its first key at column 21.
    let bad = good.replace("address:", "wieght: 3, address:");
    rewrite(&p, &bad);
    let reply = admin(&sock(&p), "reload");
    assert!(reply.starts_with("Reload failed: "), "{reply}");
    let at = format!("{}:14:21: ", p.dir.join("percore.yaml").display());
    assert!(reply.contains(&at), "position {at} in {reply}");
    assert!(reply.contains("wieght"), "{reply}");
    let line = p.wait_log("reload refused");
    assert!(
        line.contains(&at),
        "the log carries the position too: {line}"
    );
    assert_eq!(
        greeted(addr).1,
        "s1",
        "the running configuration still serves"
    );
    // A change reload cannot apply live is refused the same way, naming it.
    rewrite(&p, &good.replace("grace: 1s", "grace: 2s"));
    let reply = admin(&sock(&p), "reload");
    assert!(reply.contains("global.grace changed"), "{reply}");
    let info = admin(&sock(&p), "show stat");
    assert!(has_row(&info, "app", "s1"));
}

#[test]
fn operator_state_is_kept_across_a_reload() {
    let o1 = Origin::start(Behaviour::GreetEcho("s1"));
    let o2 = Origin::start(Behaviour::GreetEcho("s2"));
    let o3 = Origin::start(Behaviour::GreetEcho("s3"));
    let moved = Origin::start(Behaviour::GreetEcho("moved"));
    let timeouts = "client: 30s, server: 30s";
    let yaml = tcp_config(timeouts, &[("s1", o1.addr, ""), ("s2", o2.addr, "")]);
    let p = Proxy::start("reload-maint", &yaml);
    let addr = p.addr("fe");
    assert_eq!(admin(&sock(&p), "set server app/s1 state maint"), "\n");
    assert_eq!(admin(&sock(&p), "set server app/s2 weight 7"), "\n");
    let to = format!(
        "set server app/s2 addr 127.0.0.1 port {}",
        moved.addr.port()
    );
    assert!(admin(&sock(&p), &to).contains("changed"));
    // s1 changes (weight), s2 is unchanged, s3 is new.
    rewrite(
        &p,
        &tcp_config(
            timeouts,
            &[
                ("s1", o1.addr, ", weight: 5"),
                ("s2", o2.addr, ""),
                ("s3", o3.addr, ""),
            ],
        ),
    );
    let reply = admin(&sock(&p), "reload");
    assert!(
        reply.contains("1 server(s) added, 0 removed, 1 changed"),
        "{reply}"
    );
    let csv = admin(&sock(&p), "show stat");
    assert_eq!(stat(&csv, "app", "s1", "status"), "MAINT");
    assert_eq!(
        stat(&csv, "app", "s2", "weight"),
        "7",
        "operator weight kept"
    );
    assert_eq!(admin(&sock(&p), "get weight app/s1"), "5 (initial 5)\n\n");
    assert_eq!(
        stat(&csv, "app", "s2", "addr"),
        moved.addr.to_string(),
        "operator addr kept"
    );
    let seen = names(addr, 30);
    assert!(!seen.iter().any(|n| n == "s1"), "{seen:?}");
    assert!(seen.iter().any(|n| n == "s3"), "{seen:?}");
    assert!(
        seen.iter().any(|n| n == "moved") && !seen.iter().any(|n| n == "s2"),
        "{seen:?}"
    );
}

#[test]
fn sighup_reloads_like_the_command() {
    let o1 = Origin::start(Behaviour::GreetEcho("s1"));
    let o2 = Origin::start(Behaviour::GreetEcho("s2"));
    let timeouts = "client: 30s, server: 30s";
    let p = Proxy::start("reload-hup", &tcp_config(timeouts, &[("s1", o1.addr, "")]));
    let addr = p.addr("fe");
    rewrite(&p, &tcp_config(timeouts, &[("s2", o2.addr, "")]));
    p.signal(nix::sys::signal::Signal::SIGHUP);
    p.wait_log("as generation 1: 1 server(s) added, 1 removed");
    assert!(names(addr, 10).iter().all(|n| n == "s2"));
    // A bad file on SIGHUP: logged with its position, nothing changes.
    rewrite(&p, "frontends: [");
    p.signal(nix::sys::signal::Signal::SIGHUP);
    let line = p.wait_log("reload refused");
    let at = format!("{}:1:", p.dir.join("percore.yaml").display());
    assert!(line.contains(&at), "the position {at} in {line}");
    assert!(names(addr, 5).iter().all(|n| n == "s2"));
}

#[test]
fn reload_changes_a_route_for_new_requests() {
    let app = HttpOrigin::start("app");
    let api = HttpOrigin::start("api");
    let yaml = |prefix: &str| {
        format!(
            "global:\n  shards: 2\n  admin: {{ socket: ./admin.sock }}\n\
             defaults:\n  mode: http\n\
             frontends:\n  web:\n    bind: \"127.0.0.1:0\"\n    default_backend: app\n\
             \x20   use_backend:\n      - {{ backend: api, when: {{ path_prefix: {prefix} }} }}\n\
             backends:\n\
             \x20 app: {{ servers: [ {{ name: a1, address: \"{}\" }} ] }}\n\
             \x20 api: {{ servers: [ {{ name: p1, address: \"{}\" }} ] }}\n",
            app.addr, api.addr
        )
    };
    let p = Proxy::start("reload-route", &yaml("/api/"));
    let addr = p.addr("web");
    assert_eq!(http_get(addr, "/api/x").trim_end(), "api");
    let mut kept = HttpClient::connect(addr);
    assert_eq!(kept.get("/api/x").text().trim_end(), "api");
    rewrite(&p, &yaml("/v2/"));
    let reply = admin(&sock(&p), "reload");
    assert!(reply.contains("0 server(s) added"), "{reply}");
    assert_eq!(http_get(addr, "/v2/x").trim_end(), "api");
    assert_eq!(http_get(addr, "/api/x").trim_end(), "app");
    // A keep-alive connection opened before the reload keeps the routes it started with.
    assert_eq!(kept.get("/api/x").text().trim_end(), "api");
    assert_eq!(kept.get("/v2/x").text().trim_end(), "app");
}

#[test]
fn add_server_and_del_server_follow_haproxy() {
    let o1 = Origin::start(Behaviour::GreetEcho("s1"));
    let o2 = Origin::start(Behaviour::GreetEcho("s2"));
    let timeouts = "client: 30s, server: 30s";
    let yaml = tcp_config(timeouts, &[("s1", o1.addr, "")]);
    let p = Proxy::start("dyn-servers", &yaml);
    let (addr, s) = (p.addr("fe"), sock(&p));
    let add = format!("add server app/s2 {} weight 3", o2.addr);
    assert_eq!(admin(&s, &add), "New server registered.\n\n");
    assert_eq!(
        admin(&s, &add),
        "Already exists a server with the same name in backend.\n\n"
    );
    assert_eq!(
        admin(&s, "add server nope/s2 127.0.0.1:1"),
        "No such backend.\n\n"
    );
    let csv = admin(&s, "show stat");
    assert_eq!(
        stat(&csv, "app", "s2", "status"),
        "MAINT",
        "new servers start in maintenance"
    );
    assert!(names(addr, 10).iter().all(|n| n == "s1"));
    assert_eq!(admin(&s, "set server app/s2 state ready"), "\n");
    let (mut on_s2, _) = poll_until("a stream on s2", || match greeted(addr) {
        (st, n) if n == "s2" => Ok((st, n)),
        (_, n) => Err(n),
    });
    assert_eq!(
        admin(&s, "del server app/s2"),
        "Only a server in maintenance mode can be deleted.\n\n"
    );
    assert_eq!(admin(&s, "set server app/s2 state maint"), "\n");
    assert_eq!(
        admin(&s, "del server app/s2"),
        "Server still has connections attached to it, cannot remove it.\n\n"
    );
    assert_eq!(echo_round_trip(&mut on_s2, b"x"), b"x");
    drop(on_s2);
    poll_until("del server once its stream ended", || {
        match admin(&s, "del server app/s2").as_str() {
            "Server deleted.\n\n" => Ok(()),
            other => Err(other.to_string()),
        }
    });
    assert!(!has_row(&admin(&s, "show stat"), "app", "s2"));
    // A server added at run time is kept by a reload that does not name it (percore's
    // choice; HAProxy loses it).
    assert_eq!(
        admin(&s, &format!("add server app/s3 {}", o2.addr)),
        "New server registered.\n\n"
    );
    let reply = admin(&s, "reload");
    assert!(reply.contains("0 server(s) added, 0 removed"), "{reply}");
    assert!(has_row(&admin(&s, "show stat"), "app", "s3"));
    let metrics_like = admin(&s, "show servers state app");
    assert!(metrics_like.contains(" s3 "), "{metrics_like}");
}

#[test]
fn add_server_is_refused_on_a_static_algorithm() {
    let o1 = Origin::start(Behaviour::GreetEcho("s1"));
    let yaml = tcp_config("client: 30s, server: 30s", &[("s1", o1.addr, "")])
        .replace("  app:\n", "  app:\n    balance: static-rr\n");
    let p = Proxy::start("dyn-static", &yaml);
    assert_eq!(
        admin(&sock(&p), "add server app/s2 127.0.0.1:1"),
        "Backend must use a dynamic load balancing to support dynamic servers.\n\n"
    );
}

/// Reply time of `reload` with N servers, and what it costs each shard next to one `show
/// stat` (prints, asserts nothing about time): run with
/// `cargo test --release -p percore --test reload -- --ignored --nocapture reply_time`.
#[test]
#[ignore]
fn reload_reply_time_by_server_count() {
    // The shards log how long each command took at debug level.
    std::env::set_var("PERCORE_LOG", "debug");
    let o1 = Origin::start(Behaviour::Echo);
    for n in [10usize, 100, 1000] {
        let list = |weight: u32| -> String {
            let extra = format!(", weight: {weight}");
            let servers: Vec<(String, SocketAddr)> =
                (0..n).map(|i| (format!("s{i}"), o1.addr)).collect();
            let refs: Vec<(&str, SocketAddr, &str)> = servers
                .iter()
                .map(|(name, a)| (name.as_str(), *a, extra.as_str()))
                .collect();
            tcp_config("client: 30s, server: 30s", &refs)
        };
        let p = Proxy::start("reload-time", &list(1));
        let (mut reload_us, mut stat_us) = (Vec::new(), Vec::new());
        for round in 0..5u32 {
            rewrite(&p, &list(2 + round));
            let t0 = Instant::now();
            let reply = admin(&sock(&p), "reload");
            reload_us.push(t0.elapsed().as_micros());
            assert!(reply.contains(&format!("{n} changed")), "{reply}");
            let t0 = Instant::now();
            admin(&sock(&p), "show stat");
            stat_us.push(t0.elapsed().as_micros());
        }
        let shard_us = |what: &str| -> Vec<u64> {
            p.lines
                .lock()
                .expect("lines")
                .iter()
                .filter_map(|l| l.split(&format!("{what}: ")).nth(1))
                .filter_map(|rest| rest.strip_suffix(" us")?.parse().ok())
                .collect()
        };
        let median = |mut v: Vec<u64>| {
            v.sort_unstable();
            v.get(v.len() / 2).copied().unwrap_or(0)
        };
        let med = |v: &Vec<u128>| median(v.iter().map(|&x| x as u64).collect());
        eprintln!(
            "servers={n}: reload reply median {} us (all {reload_us:?}); show stat reply \
             median {} us; per shard: apply median {} us, collect stats median {} us",
            med(&reload_us),
            med(&stat_us),
            median(shard_us("apply a configuration generation")),
            median(shard_us("collect stats")),
        );
    }
}

#[test]
fn reload_moves_the_metrics_endpoint_and_changes_the_log() {
    let o1 = Origin::start(Behaviour::GreetEcho("s1"));
    let (a, b) = (free_port(), free_port());
    let yaml = |port: u16, tag: &str, file: &str| {
        tcp_config("client: 30s, server: 30s", &[("s1", o1.addr, "")]).replace(
            "  grace: 1s\n",
            &format!(
                "  grace: 1s\n  metrics: {{ bind: \"127.0.0.1:{port}\" }}\n  log: {{ target: \
                 ./{file}, access: true, log_format: \"{tag} %b/%s\" }}\n"
            ),
        )
    };
    let p = Proxy::start("reload-metrics", &yaml(a, "first", "access.log"));
    let addr = p.addr("fe");
    let scrape = |port: u16| {
        let mut s = TcpStream::connect(("127.0.0.1", port))?;
        std::io::Write::write_all(&mut s, b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n")?;
        let mut head = String::new();
        BufReader::new(s).read_line(&mut head)?;
        Ok::<String, std::io::Error>(head)
    };
    assert!(scrape(a).expect("scrape a").starts_with("HTTP/1.1 200"));
    drop(greeted(addr));
    let log = p.dir.join("access.log");
    poll_until("first line", || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.contains("first app/s1").then_some(()).ok_or(text)
    });
    rewrite(&p, &yaml(b, "second", "other.log"));
    let reply = admin(&sock(&p), "reload");
    assert!(reply.starts_with("Reloaded "), "{reply}");
    assert!(scrape(b).expect("scrape b").starts_with("HTTP/1.1 200"));
    poll_until("the old endpoint closed", || match scrape(a) {
        Err(_) => Ok(()),
        Ok(head) => Err(head),
    });
    // A server added at run time is in the metrics too.
    let add = format!("add server app/dyn {}", o1.addr);
    assert_eq!(admin(&sock(&p), &add), "New server registered.\n\n");
    let mut m = TcpStream::connect(("127.0.0.1", b)).expect("metrics");
    std::io::Write::write_all(&mut m, b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n").expect("get");
    let mut body = String::new();
    std::io::Read::read_to_string(&mut m, &mut body).expect("body");
    assert!(body.contains("proxy=\"app\",server=\"dyn\""), "{body}");
    drop(greeted(addr));
    // The new target gets the lines, in the new format.
    let other = p.dir.join("other.log");
    poll_until("a line in the new format", || {
        let text = std::fs::read_to_string(&other).unwrap_or_default();
        text.contains("second app/s1").then_some(()).ok_or(text)
    });
    let first = std::fs::read_to_string(&log).expect("first log");
    assert!(!first.contains("second"), "{first}");
    // A log that moved away (rotation) is reopened by the next reload.
    std::fs::rename(&other, p.dir.join("other.log.1")).expect("rotate");
    assert!(admin(&sock(&p), "reload").starts_with("Reloaded "));
    drop(greeted(addr));
    poll_until("the file reopened", || {
        let text = std::fs::read_to_string(&other).unwrap_or_default();
        text.contains("second app/s1").then_some(()).ok_or(text)
    });
}

#[test]
fn reload_adds_and_removes_binds() {
    let o1 = Origin::start(Behaviour::GreetEcho("s1"));
    let (a, b) = (free_port(), free_port());
    let yaml = |binds: &str| {
        tcp_config("client: 30s, server: 30s", &[("s1", o1.addr, "")])
            .replace("bind: \"127.0.0.1:0\"", &format!("bind: [{binds}]"))
    };
    let at = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let p = Proxy::start("reload-binds", &yaml(&format!("\"127.0.0.1:{a}\"")));
    let (mut old, _) = greeted(at(a));
    rewrite(&p, &yaml(&format!("\"127.0.0.1:{a}\", \"127.0.0.1:{b}\"")));
    assert!(admin(&sock(&p), "reload").starts_with("Reloaded "));
    assert_eq!(greeted(at(b)).1, "s1", "the new bind accepts");
    assert_eq!(greeted(at(a)).1, "s1", "the kept bind was never closed");
    rewrite(&p, &yaml(&format!("\"127.0.0.1:{b}\"")));
    assert!(admin(&sock(&p), "reload").starts_with("Reloaded "));
    poll_until("the removed bind refuses", || {
        match TcpStream::connect(at(a)) {
            Err(_) => Ok(()),
            Ok(_) => Err("still accepting"),
        }
    });
    assert_eq!(echo_round_trip(&mut old, b"on"), b"on", "its streams go on");
    assert_eq!(greeted(at(b)).1, "s1");
    // (That a removed listener serves the connections already in its accept queue is not
    // asserted: a queue only forms while its accept loop is paused, and glommio may still
    // hold a cancelled io_uring accept then, which takes such a connection and never hands
    // it over — the same limitation `disable frontend` has.)
}

#[test]
fn check_state_survives_a_reload_for_unchanged_servers() {
    let o1 = Origin::start(Behaviour::GreetEcho("s1"));
    let dead = dead_addr();
    let yaml = |retries: u32, s1_maxconn: u32| {
        tcp_config(
            "client: 30s, server: 30s",
            &[
                ("s1", o1.addr, &format!(", maxconn: {s1_maxconn}")),
                ("s2", dead, ""),
            ],
        )
        .replace(
            "    servers:\n",
            "    check: { inter: 100ms, rise: 2, fall: 2, timeout: 100ms }\n    servers:\n",
        )
        .replace("retries: 1", &format!("retries: {retries}"))
    };
    let p = Proxy::start("reload-checks", &yaml(1, 10));
    let down = || {
        let csv = admin(&sock(&p), "show stat");
        match stat(&csv, "app", "s2", "status").as_str() {
            "DOWN" => Ok(csv),
            other => Err(other.to_string()),
        }
    };
    poll_until("s2 DOWN by its checks", down);
    rewrite(&p, &yaml(2, 20));
    let reply = admin(&sock(&p), "reload");
    assert!(reply.contains("1 changed"), "{reply}");
    // Right after the reply: s2's checks were not restarted (a restart begins UP, INI).
    let csv = admin(&sock(&p), "show stat");
    assert_eq!(stat(&csv, "app", "s2", "status"), "DOWN", "{csv}");
    assert_eq!(stat(&csv, "app", "s2", "check_status"), "L4CON");
    assert_eq!(
        stat(&csv, "app", "s1", "slim"),
        "20",
        "maxconn from the file"
    );
    assert_eq!(greeted(p.addr("fe")).1, "s1");
}

#[test]
fn reload_adds_and_removes_frontends_and_backends() {
    let o1 = Origin::start(Behaviour::GreetEcho("s1"));
    let o2 = Origin::start(Behaviour::GreetEcho("s2"));
    let port = free_port();
    let base = tcp_config("client: 30s, server: 30s", &[("s1", o1.addr, "")]);
    let more = base
        .replace(
            "backends:\n",
            &format!(
                "  fe2: {{ bind: \"127.0.0.1:{port}\", default_backend: other }}\nbackends:\n"
            ),
        )
        .replace(
            "  app:\n",
            &format!(
                "  other: {{ servers: [ {{ name: s2, address: \"{}\" }} ] }}\n  app:\n",
                o2.addr
            ),
        );
    let p = Proxy::start("reload-proxies", &base);
    let (s, fe2) = (sock(&p), SocketAddr::from(([127, 0, 0, 1], port)));
    rewrite(&p, &more);
    let reply = admin(&s, "reload");
    assert!(
        reply.contains("2 frontend(s)/backend(s) added, 0 removed"),
        "{reply}"
    );
    let (mut held, name) = greeted(fe2);
    assert_eq!(name, "s2");
    assert_eq!(
        greeted(p.addr("fe")).1,
        "s1",
        "the kept frontend is untouched"
    );
    let csv = admin(&s, "show stat");
    assert!(
        has_row(&csv, "fe2", "FRONTEND") && has_row(&csv, "other", "s2"),
        "{csv}"
    );
    assert!(admin(&s, "show backend").contains("other\n"));
    rewrite(&p, &base);
    let reply = admin(&s, "reload");
    assert!(
        reply.contains("0 frontend(s)/backend(s) added, 2 removed"),
        "{reply}"
    );
    poll_until("fe2's bind closed", || match TcpStream::connect(fe2) {
        Err(_) => Ok(()),
        Ok(_) => Err("still accepting"),
    });
    assert_eq!(
        echo_round_trip(&mut held, b"on"),
        b"on",
        "its streams finish"
    );
    let csv = admin(&s, "show stat");
    assert!(!has_row(&csv, "fe2", "FRONTEND") && !has_row(&csv, "other", "BACKEND"));
    assert_eq!(admin(&s, "disable server other/s2"), "No such backend.\n\n");
    assert!(!admin(&s, "show backend").contains("other\n"));
    drop(held);
    // Named again: the same slots, alive again.
    rewrite(&p, &more);
    let reply = admin(&s, "reload");
    assert!(reply.contains("2 frontend(s)/backend(s) added"), "{reply}");
    assert_eq!(greeted(fe2).1, "s2");
}
