//! Entry points of the `http_stream` and `tcp_stream` fuzz targets (`fuzz/`) and their
//! property-test twins: a machine driven by the socket-free [`Pair`] through an operation
//! sequence decoded from arbitrary bytes (reads in arbitrary pieces from either peer, EOFs,
//! resets, write windows and write errors, connect answers, clock steps, parks), with the
//! invariants that must hold whatever the peers do checked after every operation. Hidden
//! from docs; not an API.

use std::sync::OnceLock;
use std::time::Duration;

use percore_conf::Config;

use super::testing::{config, http_pair, tcp_pair, Connect, Pair};
use super::{Connected, Event, Machine, Side};
use crate::ids::ServerKey;

/// Data buffers one stream may hold: both sides' read and write buffers.
const BUFFERS_MAX: usize = 4;
/// Operations decoded from one input: enough for several exchanges, bounded so a run stays
/// short whatever the input.
const OPS_MAX: usize = 256;
/// Clock steps an operation may take, around the configured timeouts (1 s connect, 2 s
/// keep-alive, 5 s request, 10 s client/server, 30 s tunnel).
const STEPS: [Duration; 8] = [
    Duration::from_millis(1),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(5),
    Duration::from_secs(10),
    Duration::from_secs(31),
    Duration::from_secs(61),
];

/// Requests and responses spliced into the peers' bytes, so the fuzzer starts from valid
/// exchanges rather than having to find the grammar.
const SNIPPETS: [&[u8]; 8] = [
    b"GET /a HTTP/1.1\r\nhost: t\r\n\r\n",
    b"POST /p HTTP/1.1\r\nhost: t\r\ncontent-length: 5\r\n\r\nhello",
    b"PUT /c HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    b"GET /u HTTP/1.1\r\nhost: t\r\nconnection: upgrade\r\nupgrade: x\r\n\r\n",
    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: x\r\n\r\n",
    b"HTTP/1.0 200 OK\r\n\r\nuntil close",
];

/// One HTTP stream under one of a few configurations picked by the first byte, driven by
/// the rest. See [`drive`] for the invariants.
pub fn http_stream(data: &[u8]) {
    let Some((&pick, ops)) = data.split_first() else {
        return;
    };
    let configs = http_configs();
    let cfg = configs[pick as usize % configs.len()].clone();
    let pair = http_pair(cfg, Connect::Manual, "192.0.2.7:5555", pick & 0x80 != 0);
    drive(pair, ops, true);
}

/// One TCP stream under one of a few configurations picked by the first byte, driven by
/// the rest. See [`drive`] for the invariants.
pub fn tcp_stream(data: &[u8]) {
    let Some((&pick, ops)) = data.split_first() else {
        return;
    };
    let configs = tcp_configs();
    let cfg = configs[pick as usize % configs.len()].clone();
    let pair = tcp_pair(cfg, Connect::Manual);
    drive(pair, ops, false);
}

/// What the driver saw, to check the machine's accounting against.
#[derive(Debug, Default)]
struct Ledger {
    /// Client bytes the machine took.
    client_fed: u64,
    /// A server connection was handed over and not yet released or closed.
    connected: bool,
    /// Events of `pair.events` already checked.
    seen: usize,
    /// Server requests seen.
    requests: usize,
}

/// Runs the operations decoded from `ops` on `pair`, then kills the stream if it is still
/// running. After every operation: at most [`BUFFERS_MAX`] data buffers in use; the records'
/// `bytes_in` never exceed the client bytes taken, nor their `bytes_out` the bytes written to
/// the client; a stream has at most one record per exchange (TCP: one; HTTP: at most one
/// without client bytes). HTTP: a server request comes only with no server attached, and
/// each connection handed over is released or closed at most once (the shell drops what is
/// left with the stream); TCP never releases (it keeps one server to its end) and makes at
/// most 3 attempts. A done stream emits no record more, and once parked holds no buffer.
fn drive<M: Machine>(mut pair: Pair<M>, ops: &[u8], http: bool) {
    let mut ledger = Ledger::default();
    let mut input = ops.iter().copied();
    let mut next = move || input.next();
    check(&mut pair, &mut ledger, http);
    for _ in 0..OPS_MAX {
        let Some(op) = next() else {
            break;
        };
        let done_before = pair.m.is_done();
        let records_before = pair.records.len();
        apply(&mut pair, &mut ledger, op, &mut next);
        if done_before {
            assert_eq!(pair.records.len(), records_before, "a record after the end");
        }
        check(&mut pair, &mut ledger, http);
    }
    finish(&mut pair, &mut ledger, http);
}

/// Runs operation `op` on `pair`, its argument and any bytes it carries taken from `next`.
fn apply<M: Machine>(
    pair: &mut Pair<M>,
    ledger: &mut Ledger,
    op: u8,
    next: &mut impl FnMut() -> Option<u8>,
) {
    let arg = next().unwrap_or(0);
    let side = |client: bool| if client { Side::Client } else { Side::Server };
    let kind = op % 14;
    match kind {
        0 | 1 => {
            let len = usize::from(arg) + 1;
            let bytes: Vec<u8> = (0..len).map_while(|_| next()).collect();
            feed(pair, ledger, side(kind == 0), &bytes, next().unwrap_or(0));
        }
        2 | 3 => {
            let bytes = SNIPPETS[usize::from(arg) % SNIPPETS.len()];
            feed(pair, ledger, side(kind == 2), bytes, next().unwrap_or(0));
        }
        4 => pair.eof(Side::Client),
        5 => pair.eof(Side::Server),
        6 => pair.reset(side(arg & 1 == 0)),
        7 => pair.advance(STEPS[usize::from(arg) % STEPS.len()]),
        8 => answer(pair, ledger, arg),
        9 => pair.client_window = usize::from(arg),
        10 => pair.server_window = usize::from(arg),
        11 => {
            pair.client_write_fails = arg & 1 != 0;
            pair.server_write_fails = arg & 2 != 0;
            pair.pump();
        }
        12 => pair.park(),
        _ => {
            // Windows and failures lifted: whatever was held back is written now.
            pair.client_window = 0;
            pair.server_window = 0;
            pair.client_write_fails = false;
            pair.server_write_fails = false;
            pair.pump();
        }
    }
}

/// The end of a run: a live stream is killed (at most one more record); a done one emits
/// no record more and, once parked, holds no buffer.
fn finish<M: Machine>(pair: &mut Pair<M>, ledger: &mut Ledger, http: bool) {
    let now = pair.now;
    if !pair.m.is_done() {
        // The shell kills what is left (admin, stop grace): at most one more record.
        if let Some(record) = pair.m.killed_record(now) {
            pair.records.push(record);
        }
        check(pair, ledger, http);
        return;
    }
    // A done stream recorded its every exchange: the shell's kill finds nothing left.
    assert!(
        pair.m.killed_record(now).is_none(),
        "a record after the end"
    );
    pair.park();
    assert_eq!(
        pair.pools.buffers_in_use(),
        0,
        "done and parked, holding buffers"
    );
}

/// The peer on `side` sends `bytes` in reads of `piece + 1` bytes (0: all at once).
fn feed<M: Machine>(pair: &mut Pair<M>, ledger: &mut Ledger, side: Side, bytes: &[u8], piece: u8) {
    pair.chunk = if piece == 0 { 0 } else { usize::from(piece) };
    let taken = match side {
        Side::Client => pair.client(bytes),
        Side::Server => pair.server(bytes),
    };
    assert!(taken <= bytes.len());
    if side == Side::Client {
        ledger.client_fed += taken as u64;
    }
}

/// Answers the oldest pending server request as `arg` says, if one is pending.
fn answer<M: Machine>(pair: &mut Pair<M>, ledger: &mut Ledger, arg: u8) {
    let Some(request) = pair.pending.first() else {
        return;
    };
    let key = ServerKey {
        backend: request.backend,
        server: request.only.unwrap_or(usize::from(arg >> 4) % 2),
    };
    let result = match arg % 6 {
        0 | 1 => Connected::Ready {
            server: key,
            reused: false,
            queued_ms: 0,
        },
        2 => Connected::Ready {
            server: key,
            reused: request.pool,
            queued_ms: u32::from(arg),
        },
        3 => Connected::Failed { server: key },
        4 => Connected::NoServer,
        _ => Connected::QueueTimeout,
    };
    if matches!(result, Connected::Ready { .. }) {
        ledger.connected = true;
    }
    pair.connect(result);
}

fn check<M: Machine>(pair: &mut Pair<M>, ledger: &mut Ledger, http: bool) {
    assert!(
        pair.pools.buffers_in_use() <= BUFFERS_MAX,
        "{} buffers in use",
        pair.pools.buffers_in_use()
    );
    let bytes_in: u64 = pair.records.iter().map(|r| r.bytes_in).sum();
    let bytes_out: u64 = pair.records.iter().map(|r| r.bytes_out).sum();
    assert!(
        bytes_in <= ledger.client_fed,
        "records hold {bytes_in} client bytes of {} received",
        ledger.client_fed
    );
    assert!(
        bytes_out <= pair.to_client.len() as u64,
        "records hold {bytes_out} bytes sent of {} written",
        pair.to_client.len()
    );
    if http {
        // A new exchange needs new client bytes, so only the last record of a stream can
        // hold none (a head that never came); together with the byte sums above, one
        // exchange cannot be recorded twice.
        let empty = pair.records.iter().filter(|r| r.bytes_in == 0).count();
        assert!(empty <= 1, "{empty} records without client bytes");
    } else {
        assert!(
            pair.records.len() <= 1,
            "{} records of one TCP stream",
            pair.records.len()
        );
    }
    for event in &pair.events[ledger.seen..] {
        match event {
            Event::NeedServer(_) => {
                ledger.requests += 1;
                if http {
                    assert!(!ledger.connected, "a server request with a server attached");
                }
            }
            Event::ReleaseServer { .. } | Event::CloseServer => {
                // A TCP stream keeps its one server to the end; the shell drops it then.
                assert!(http, "{event:?} from a TCP stream");
                assert!(ledger.connected, "{event:?} without a server attached");
                ledger.connected = false;
            }
            _ => {}
        }
    }
    ledger.seen = pair.events.len();
    if !http {
        // One attempt and at most `retries` (2 at most in these configurations) more.
        assert!(ledger.requests <= 3, "{} server requests", ledger.requests);
    }
}

/// The HTTP configurations inputs pick from: the test suite's, with rules, with PROXY
/// headers to servers, and with small buffers (so heads and bodies fill them).
fn http_configs() -> &'static [Config] {
    static CONFIGS: OnceLock<Vec<Config>> = OnceLock::new();
    CONFIGS.get_or_init(|| {
        let rules = "    http_request:\n\
             \x20     - { deny: 403, when: { path_prefix: /admin } }\n\
             \x20     - { return: { status: 200, body: \"alive\" }, when: { path_prefix: /health } }\n\
             \x20     - { set_header: { name: x-a, value: \"1\" } }\n\
             \x20   http_response:\n\
             \x20     - { set_header: { name: x-proxy, value: percore } }\n";
        [
            http_yaml("", "", ""),
            http_yaml("", rules, "    http_reuse: always\n    redispatch: true\n"),
            http_yaml("", "", "").replace("127.0.0.1:9\" }", "127.0.0.1:9\", send_proxy: v1 }"),
            http_yaml("  tune: { bufsize: 1k, max_header_size: 1k }\n", "", ""),
        ]
        .iter()
        .map(|yaml| config(yaml))
        .collect()
    })
}

fn http_yaml(global: &str, web: &str, backend: &str) -> String {
    format!(
        "global:\n  shards: 1\n{global}\
         defaults:\n  mode: http\n  retries: 2\n  timeout: {{ connect: 1s, client: 10s, \
         server: 10s, http_request: 5s, http_keep_alive: 2s, tunnel: 30s }}\n\
         frontends:\n  web:\n    bind: \"127.0.0.1:0\"\n    default_backend: app\n{web}\
         backends:\n  app:\n{backend}    servers:\n      - {{ name: s0, address: \"127.0.0.1:9\" }}\n\
         \x20     - {{ name: s1, address: \"127.0.0.1:10\" }}\n"
    )
}

/// The TCP configurations inputs pick from: small buffers, with and without retries and
/// PROXY headers.
fn tcp_configs() -> &'static [Config] {
    static CONFIGS: OnceLock<Vec<Config>> = OnceLock::new();
    CONFIGS.get_or_init(|| {
        [(1, ""), (0, ", send_proxy: v2"), (2, ", send_proxy: v1")]
            .iter()
            .map(|(retries, server)| {
                config(&format!(
                    "global:\n  shards: 1\n  tune: {{ bufsize: 1k, max_header_size: 1k }}\n\
                     defaults:\n  mode: tcp\n  retries: {retries}\n  timeout: {{ connect: 1s, \
                     client: 10s, server: 20s, tunnel: 60s }}\n\
                     frontends:\n  fe:\n    bind: \"127.0.0.1:0\"\n    default_backend: app\n\
                     backends:\n  app:\n    servers:\n      - {{ name: s0, address: \
                     \"127.0.0.1:9\"{server} }}\n      - {{ name: s1, address: \"127.0.0.1:10\" }}\n"
                ))
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Every input kept in `testdata/fuzz/<target>` (seeds and findings of the fuzz targets)
    /// keeps the invariants.
    #[test]
    fn testdata_inputs() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/fuzz");
        type Target = fn(&[u8]);
        let targets: [(&str, Target); 2] =
            [("http_stream", http_stream), ("tcp_stream", tcp_stream)];
        for (target, run) in targets {
            let mut inputs = 0;
            for entry in std::fs::read_dir(root.join(target)).expect("testdata folder") {
                let path = entry.expect("readable folder").path();
                if path.extension().is_some_and(|e| e == "md") {
                    continue;
                }
                run(&std::fs::read(&path).expect("readable input"));
                inputs += 1;
            }
            assert!(inputs >= 1, "{inputs} inputs for {target}");
        }
    }

    /// Found by the `http_stream` target: a server reset during an upgraded (101) tunnel
    /// left the machine done with the exchange unrecorded (neither logged nor counted), handed
    /// out later by `killed_record` (`tunnel-reset-loses-record`) or by a client reset after
    /// the end (`tunnel-reset-then-record`). Both also run in [`testdata_inputs`]; here they
    /// fail by name.
    #[test]
    fn tunnel_reset_records_exchange_once() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/fuzz/http_stream");
        for name in ["tunnel-reset-loses-record", "tunnel-reset-then-record"] {
            http_stream(&std::fs::read(dir.join(name)).expect("readable input"));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn http_stream_keeps_invariants(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            http_stream(&bytes);
        }

        #[test]
        fn tcp_stream_keeps_invariants(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            tcp_stream(&bytes);
        }

        /// Mostly valid exchanges and connect answers, so runs get past the first head.
        #[test]
        fn http_stream_with_snippets_keeps_invariants(
            pick in any::<u8>(),
            ops in prop::collection::vec((prop::sample::select(vec![2u8, 3, 8, 7, 12, 5, 4]), any::<u8>(), any::<u8>()), 0..40),
        ) {
            let mut bytes = vec![pick];
            for (op, arg, piece) in ops {
                bytes.extend_from_slice(&[op, arg, piece]);
            }
            http_stream(&bytes);
        }
    }
}
