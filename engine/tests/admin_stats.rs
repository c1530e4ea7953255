//! `show stat` / `show info` fidelity against HAProxy 2.6, through the real binary. Method:
//! percore runs the configuration of the HAProxy captures in
//! `shared/reference/haproxy-runtime/` (frontends web and tcpin, backends app, api, tcpout,
//! tcp checks) with real origins; after the same kind of traffic, every row must fill
//! exactly the columns HAProxy filled in `show-stat.txt`, proxy ids must be HAProxy's for
//! that configuration order, and maintenance, DOWN servers and the `typed` / `desc` forms
//! must read as HAProxy's.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use common::*;

const REFERENCE_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/reference/haproxy-runtime/"
);

/// The capture's configuration with the given server addresses (s1, s2, s3, a1, t1) and
/// check interval.
fn config(addrs: &[SocketAddr; 5], inter: &str) -> String {
    let check = format!("{{ type: tcp, inter: {inter}, rise: 2, fall: 3 }}");
    format!(
        "global:\n  shards: 2\n  admin:\n    socket: ./admin.sock\n\
         defaults:\n  timeout: {{ connect: 1s, client: 30s, server: 30s }}\n\
         frontends:\n\
         \x20 web:\n    bind: \"127.0.0.1:0\"\n    mode: http\n    default_backend: app\n\
         \x20 tcpin:\n    bind: \"127.0.0.1:0\"\n    mode: tcp\n    default_backend: tcpout\n\
         backends:\n\
         \x20 app:\n    mode: http\n    check: {check}\n    servers:\n\
         \x20     - {{ name: s1, address: \"{}\" }}\n\
         \x20     - {{ name: s2, address: \"{}\" }}\n\
         \x20     - {{ name: s3, address: \"{}\", backup: true }}\n\
         \x20 api:\n    mode: http\n    check: {check}\n    servers:\n\
         \x20     - {{ name: a1, address: \"{}\" }}\n\
         \x20 tcpout:\n    mode: tcp\n    check: {check}\n    servers:\n\
         \x20     - {{ name: t1, address: \"{}\" }}\n",
        addrs[0], addrs[1], addrs[2], addrs[3], addrs[4]
    )
}

/// `(pxname, svname)` → set of non-empty column names, percore's own column left out.
fn filled(csv: &str) -> BTreeMap<(String, String), Vec<String>> {
    let (header, lines) = stat_header(csv);
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let names = header
                .iter()
                .zip(&f)
                .filter(|(h, v)| !v.is_empty() && !h.is_empty() && **h != "percore_killed")
                .map(|(h, _)| (*h).to_owned())
                .collect();
            ((f[0].to_owned(), f[1].to_owned()), names)
        })
        .collect()
}

fn origins() -> (Vec<Origin>, [SocketAddr; 5]) {
    let o = vec![
        Origin::start(Behaviour::Http("s1")),
        Origin::start(Behaviour::Http("s2")),
        Origin::start(Behaviour::Http("s3")),
        Origin::start(Behaviour::Http("a1")),
        Origin::start(Behaviour::Echo),
    ];
    let addrs = [o[0].addr, o[1].addr, o[2].addr, o[3].addr, o[4].addr];
    (o, addrs)
}

/// Waits until every checked server had a passing check (`check_status` L4OK).
fn wait_checked(p: &Proxy) -> String {
    poll_until("first checks", || {
        let csv = admin(&sock(p), "show stat -1 4 -1");
        let ok = csv.lines().skip(1).filter(|l| l.contains(",L4OK,")).count();
        if ok == 5 {
            Ok(csv)
        } else {
            Err(csv)
        }
    })
}

#[test]
fn show_stat_fills_exactly_the_columns_haproxy_fills() {
    let (_o, addrs) = origins();
    let p = Proxy::start("statcols", &config(&addrs, "200ms"));
    wait_checked(&p);
    for _ in 0..3 {
        assert!(http_get(p.addr("web"), "/").starts_with('s'));
    }
    let mut c = connect(p.addr("tcpin"));
    assert_eq!(echo_round_trip(&mut c, b"hi"), b"hi");
    drop(c);
    let ours = poll_until("streams accounted", || {
        let csv = admin(&sock(&p), "show stat");
        match stat(&csv, "tcpout", "BACKEND", "stot").as_str() {
            "1" => Ok(csv),
            _ => Err(csv),
        }
    });
    let theirs = std::fs::read_to_string(format!("{REFERENCE_DIR}show-stat.txt")).expect("ref");
    let (ours, theirs) = (filled(&ours), filled(&theirs));
    assert_eq!(ours.len(), theirs.len());
    for (row, columns) in &theirs {
        assert_eq!(ours.get(row), Some(columns), "{row:?}");
    }
}

#[test]
fn proxy_ids_typed_and_desc_forms_read_as_haproxy() {
    let (_o, addrs) = origins();
    let p = Proxy::start("statids", &config(&addrs, "200ms"));
    wait_checked(&p);
    // HAProxy numbers proxies from 2 in declaration order: frontends, then backends here.
    let csv = admin(&sock(&p), "show stat");
    for (px, sv, iid) in [
        ("web", "FRONTEND", "2"),
        ("tcpin", "FRONTEND", "3"),
        ("app", "BACKEND", "4"),
        ("api", "a1", "5"),
        ("tcpout", "t1", "6"),
    ] {
        assert_eq!(stat(&csv, px, sv, "iid"), iid, "{px}/{sv}");
    }
    let one = admin(&sock(&p), "show stat 4 4 2");
    assert_eq!(one.lines().count(), 3, "{one}");
    assert!(one.lines().nth(1).expect("row").starts_with("app,s2,"));

    let typed = admin(&sock(&p), "show stat 4 4 2 typed");
    assert!(typed.starts_with("S.4.2.0.pxname.1:KNS:str:app\nS.4.2.1.svname.1:KNS:str:s2\n"));
    assert!(
        typed.contains("\nS.4.2.17.status.1:SGP:str:UP\n"),
        "{typed}"
    );
    assert!(typed.ends_with("\n\n"));
    let desc = admin(&sock(&p), "show stat 4 4 2 typed desc");
    assert!(desc.contains("\nS.4.2.4.scur.1:MGP:u32:0:\"Number of current sessions on the frontend, backend or server\"\n"), "{desc}");
    assert_eq!(
        admin(&sock(&p), "show stat desc").lines().next(),
        csv.lines().next()
    );

    let info = admin(&sock(&p), "show info");
    let release = info
        .lines()
        .find_map(|l| l.strip_prefix("Release_date: "))
        .expect("Release_date");
    assert_eq!(release.len(), 10, "YYYY/MM/DD: {release}");
    let typed = admin(&sock(&p), "show info typed desc");
    assert!(
        typed.starts_with("0.Name.1:POS:str:percore:\"Product name\"\n"),
        "{typed}"
    );
    assert!(typed.contains(&format!(
        "\n2.Release_date.1:POS:str:{release}:\"Date of latest source code update\"\n"
    )));
    let help = admin(&sock(&p), "help");
    assert!(help.contains("  reload [<file>]  "), "{help}");
}

#[test]
fn maintenance_counts_as_down_time_like_haproxy() {
    let (_o, addrs) = origins();
    let p = Proxy::start("statmaint", &config(&addrs, "200ms"));
    wait_checked(&p);
    assert_eq!(admin(&sock(&p), "set server app/s1 state maint"), "\n");
    let state = admin(&sock(&p), "show servers state app");
    let s1: Vec<&str> = state
        .lines()
        .find(|l| l.starts_with("4 app 1 s1 "))
        .expect("s1")
        .split(' ')
        .collect();
    assert_eq!(
        (s1[5], s1[6], s1[12], s1[13]),
        ("0", "1", "0", "14"),
        "{state}"
    );
    let csv = poll_until("downtime accrues in maintenance", || {
        let csv = admin(&sock(&p), "show stat");
        match stat(&csv, "app", "s1", "downtime").as_str() {
            "0" => Err(csv),
            _ => Ok(csv),
        }
    });
    assert_eq!(stat(&csv, "app", "s1", "status"), "MAINT");
    assert_eq!(stat(&csv, "app", "s1", "chkdown"), "1");
    for col in ["check_status", "check_desc", "check_health", "check_rise"] {
        assert_eq!(stat(&csv, "app", "s1", col), "", "{col} in maintenance");
    }
    assert_eq!(
        stat(&csv, "app", "BACKEND", "chkdown"),
        "0",
        "s2 still runs"
    );
    assert_eq!(admin(&sock(&p), "set server app/s1 state ready"), "\n");
    let csv = admin(&sock(&p), "show stat");
    assert_eq!(stat(&csv, "app", "s1", "chkdown"), "1");
    assert_ne!(
        stat(&csv, "app", "s1", "downtime"),
        "0",
        "kept after maintenance"
    );
    // With checks disabled HAProxy shows no check counters at all (show-stat-servers-s2-nocheck).
    assert_eq!(admin(&sock(&p), "disable health app/s2"), "\n");
    let csv = admin(&sock(&p), "show stat");
    assert_eq!(stat(&csv, "app", "s2", "status"), "no check");
    for col in [
        "chkfail",
        "chkdown",
        "downtime",
        "check_status",
        "check_health",
    ] {
        assert_eq!(
            stat(&csv, "app", "s2", col),
            "",
            "{col} with checks disabled"
        );
    }
}

#[test]
fn a_down_server_counts_no_more_check_failures() {
    let (_o, mut addrs) = origins();
    addrs[3] = dead_addr();
    let p = Proxy::start("statdown", &config(&addrs, "100ms"));
    let csv = poll_until("a1 DOWN", || {
        let csv = admin(&sock(&p), "show stat");
        match stat(&csv, "api", "a1", "status").as_str() {
            "DOWN" => Ok(csv),
            _ => Err(csv),
        }
    });
    assert_eq!(
        stat(&csv, "api", "a1", "chkfail"),
        "3",
        "fall 3 from full health"
    );
    // Several more failing checks run (100 ms apart) before lastchg reaches 2 s.
    let csv = poll_until("checks keep failing while DOWN", || {
        let csv = admin(&sock(&p), "show stat");
        match stat(&csv, "api", "a1", "lastchg").parse::<u64>() {
            Ok(n) if n >= 2 => Ok(csv),
            _ => Err(csv),
        }
    });
    assert_eq!(stat(&csv, "api", "a1", "chkfail"), "3");
    assert_eq!(stat(&csv, "api", "a1", "chkdown"), "1");
    assert_eq!(stat(&csv, "api", "BACKEND", "chkdown"), "1");
    assert_eq!(stat(&csv, "api", "BACKEND", "status"), "DOWN");
    assert_ne!(stat(&csv, "api", "BACKEND", "downtime"), "0");
    let state = admin(&sock(&p), "show servers state api");
    assert!(state.contains("\n5 api 1 a1 127.0.0.1 0 0 "), "{state}");
}
