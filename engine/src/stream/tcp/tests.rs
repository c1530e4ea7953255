//! The TCP machine fed byte by byte, with no socket.

use std::time::Duration;

use super::TcpMachine;
use crate::ids::ServerKey;
use crate::stream::testing::{config, tcp_pair, Connect, Pair};
use crate::stream::{Connected, Event, Layer, Machine, Side};

fn pair_with(server_extra: &str) -> Pair<TcpMachine> {
    pair_with_connect(server_extra, Connect::Fresh)
}

fn pair_with_connect(server_extra: &str, connect: Connect) -> Pair<TcpMachine> {
    let cfg = config(&format!(
        "global:\n  shards: 1\n  tune: {{ bufsize: 1k, max_header_size: 1k }}\n\
         defaults:\n  mode: tcp\n  retries: 1\n  timeout: {{ connect: 1s, client: 10s, server: 20s, tunnel: 60s }}\n\
         frontends:\n  fe:\n    bind: \"127.0.0.1:0\"\n    default_backend: app\n\
         backends:\n  app:\n    servers:\n      - {{ name: s0, address: \"127.0.0.1:9\"{server_extra} }}\n"
    ));
    tcp_pair(cfg, connect)
}

#[test]
fn copies_both_ways_with_half_close_and_exact_bytes() {
    let mut p = pair_with("");
    // Larger than the 1 KiB buffer: copied in several turns, nothing lost.
    let big: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(p.client(&big), 3000);
    assert_eq!(p.to_server, big);
    // Connected and copying: the event queue that asked for the server is given back.
    assert_eq!(p.m.events.0.capacity(), 0);
    p.to_server.clear();
    p.client(b"hello, server");
    assert_eq!(p.take_server(), "hello, server");
    p.server(b"hi there, client");
    assert_eq!(p.take_client(), "hi there, client");
    p.eof(Side::Client);
    assert!(
        p.server_shut && !p.client_shut,
        "FIN forwarded one way only"
    );
    p.server(b"late");
    assert_eq!(p.take_client(), "late");
    p.eof(Side::Server);
    assert!(p.client_shut && p.m.is_done());
    p.park();
    assert_eq!(p.pools.buffers_in_use(), 0, "no buffer held after the end");
    let r = &p.records[0];
    assert_eq!((r.bytes_in, r.bytes_out), (3013, 20));
    assert_eq!(r.termination.to_string(), "--");
    assert_eq!(
        r.server,
        Some(ServerKey {
            backend: 0,
            server: 0
        })
    );
}

#[test]
fn timeouts_blame_the_silent_side() {
    let mut p = pair_with("");
    p.advance(Duration::from_secs(11));
    assert_eq!(p.records[0].termination.to_string(), "cD");
    let mut p = pair_with("");
    p.client(b"ping");
    p.advance(Duration::from_secs(15));
    assert!(p.records.is_empty(), "the server gets timeout.server");
    p.advance(Duration::from_secs(6));
    assert_eq!(p.records[0].termination.to_string(), "sD");
    let e = p.records[0].fault.as_ref().expect("fault").effects();
    assert!(e.counters.server_abort && !e.counters.client_abort);
    // Both directions spoke: the tunnel timeout applies to either side's silence.
    let mut p = pair_with("");
    p.client(b"a");
    p.server(b"b");
    p.advance(Duration::from_secs(59));
    assert!(p.records.is_empty());
    p.advance(Duration::from_secs(2));
    assert_eq!(p.records[0].termination.to_string(), "cD");
}

#[test]
fn proxy_header_goes_first_and_is_not_client_data() {
    let mut p = pair_with(", send_proxy: v1");
    p.client(b"x");
    assert_eq!(
        p.take_server(),
        "PROXY TCP4 192.0.2.7 127.0.0.1 5555 80\r\nx"
    );
    p.eof(Side::Client);
    p.eof(Side::Server);
    assert_eq!(p.records[0].bytes_in, 1);
}

#[test]
fn connect_failures_retry_then_sc() {
    let mut p = pair_with_connect("", Connect::Manual);
    let key = ServerKey {
        backend: 0,
        server: 0,
    };
    p.connect(Connected::Failed { server: key });
    assert_eq!(p.pending.len(), 1, "one retry (retries: 1)");
    p.connect(Connected::Failed { server: key });
    let r = &p.records[0];
    assert_eq!((r.retries, r.termination.to_string()), (1, "SC".into()));
    assert!(p.m.is_done());
    let failures = p
        .events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::Observe {
                    ok: false,
                    layer: Layer::L4,
                    ..
                }
            )
        })
        .count();
    assert_eq!(failures, 2);
}

#[test]
fn killed_stream_keeps_its_bytes_and_phase() {
    let mut p = pair_with("");
    p.client(b"abc");
    p.server(b"de");
    let r = p.m.killed_record(p.now).expect("live");
    assert_eq!(
        (r.bytes_in, r.bytes_out, r.termination.to_string()),
        (3, 2, "KD".into())
    );
}

#[test]
fn resets_are_attributed() {
    let mut p = pair_with("");
    p.reset(Side::Server);
    assert_eq!(p.records[0].termination.to_string(), "SD");
    let mut p = pair_with("");
    p.reset(Side::Client);
    assert_eq!(p.records[0].termination.to_string(), "CD");
}
