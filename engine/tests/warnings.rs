//! Repeated warnings of the process log are rate-limited per kind and reset: a flood of bad
//! requests through the real binary (one shard, so one limit) costs a handful of lines, a
//! summary counts every suppressed one exactly, and a bad request after the interval is
//! logged again.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::*;

/// Malformed requests of the flood.
const FLOOD: usize = 500;

#[test]
fn a_bad_request_flood_logs_a_handful_of_lines_and_a_later_one_is_logged_again() {
    let o = Origin::start(Behaviour::Http("o1"));
    let yaml = format!(
        "global:\n  shards: 1\n\
         defaults:\n  mode: http\n\
         frontends:\n  web: {{ bind: \"127.0.0.1:0\", default_backend: app }}\n\
         backends:\n  app:\n    servers:\n      - {{ name: o1, address: \"{}\" }}\n",
        o.addr
    );
    let p = Proxy::start("warn-flood", &yaml);
    let addr = p.addr("web");
    for _ in 0..FLOOD {
        bad_request(addr);
    }
    // Every bad request is either a warning line or counted in a summary, which comes when
    // its interval ends.
    let lines = warnings_reporting(&p, FLOOD);
    assert!(lines.len() <= 4, "{} lines: {lines:#?}", lines.len());
    assert!(
        lines
            .iter()
            .any(|l| l.contains("more suppressed in the last")),
        "{lines:#?}"
    );
    // The summary closed the interval: the next bad request is logged at once.
    let logged = lines.iter().filter(|l| is_bad_request_line(l)).count();
    bad_request(addr);
    let after = warnings_reporting(&p, FLOOD + 1);
    assert_eq!(
        after.iter().filter(|l| is_bad_request_line(l)).count(),
        logged + 1,
        "{after:#?}"
    );
    assert_eq!(o.accepted(), 0, "nothing reached the origin");
}

/// Sends one request that is not HTTP and reads the 400 until the proxy closes.
fn bad_request(addr: std::net::SocketAddr) {
    let mut c = connect(addr);
    c.write_all(b"NOT HTTP AT ALL\r\n\r\n").expect("write");
    let (reply, _) = read_until_closed(&mut c);
    assert!(reply.starts_with(b"HTTP/1.1 400"), "{reply:?}");
}

/// The warnings about bad requests once they account for `requests` of them (bounded by
/// [`WAIT`]).
fn warnings_reporting(p: &Proxy, requests: usize) -> Vec<String> {
    let deadline = Instant::now() + WAIT;
    loop {
        let lines: Vec<String> = p
            .lines
            .lock()
            .expect("lines")
            .iter()
            .filter(|l| l.contains("[WARN]") && l.contains("shard 0"))
            .cloned()
            .collect();
        let reported: usize = lines.iter().map(|l| requests_in(l)).sum();
        if reported == requests {
            return lines;
        }
        assert!(reported < requests, "over-reported: {lines:#?}");
        assert!(
            Instant::now() < deadline,
            "{reported} of {requests}: {lines:#?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Bad requests one line reports: one for a warning about a stream, N for a summary.
fn requests_in(line: &str) -> usize {
    match line.split_once("invalid requests: ") {
        Some((_, rest)) => rest
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .expect("a count"),
        None => usize::from(is_bad_request_line(line)),
    }
}

fn is_bad_request_line(line: &str) -> bool {
    line.contains("shard 0 stream ") && line.contains(" from 127.0.0.1:")
}
