//! The blocking client against small in-test servers on a unix socket and on loopback TCP:
//! one line out, reply read to EOF, bounded in time; plus the `ctl -t` table and the exit-status
//! heuristic on captured replies.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use percore_admin::*;

const REFERENCE_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/reference/haproxy-runtime/"
);

fn reference(name: &str) -> String {
    std::fs::read_to_string(format!("{REFERENCE_DIR}{name}")).expect("reference file")
}

fn socket_path() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "percore-admin-test-{}-{n}.sock",
        std::process::id()
    ))
}

/// Serves one connection: reads one line, answers `reply(line)`, closes.
fn serve_once_unix(reply: fn(&str) -> String) -> (PathBuf, thread::JoinHandle<String>) {
    let path = socket_path();
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).expect("bind");
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).expect("read");
        let mut stream = reader.into_inner();
        stream.write_all(reply(&line).as_bytes()).expect("write");
        line
    });
    (path, handle)
}

#[test]
fn unix_round_trip_reads_to_eof() {
    let (path, server) = serve_once_unix(|_| "# name\napp\napi\ntcpout\n\n".to_owned());
    let client = Client::new(path.to_str().expect("utf-8 path"));
    assert_eq!(client.endpoint(), &Endpoint::Unix(path.clone()));
    let reply = client.send("show backend").expect("reply");
    assert_eq!(reply, reference("show-backend.txt"));
    assert_eq!(server.join().expect("server"), "show backend\n");
    let _ = std::fs::remove_file(path);
}

#[test]
fn tcp_round_trip() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).expect("read");
        reader
            .into_inner()
            .write_all(b"1 (initial 1)\n\n")
            .expect("write");
        line
    });
    let client = Client::new(&addr.to_string());
    assert!(matches!(client.endpoint(), Endpoint::Tcp(_)));
    assert_eq!(
        client.send("get weight app/s1\n").expect("reply"),
        "1 (initial 1)\n\n"
    );
    assert_eq!(server.join().expect("server"), "get weight app/s1\n");
}

#[test]
fn silent_server_times_out() {
    let path = socket_path();
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).expect("bind");
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        // Hold the connection open without answering until the client gives up.
        let mut rest = String::new();
        let _ = reader.read_line(&mut rest);
    });
    let client = Client::new(path.to_str().expect("path")).with_timeout(Duration::from_millis(200));
    let err = client.send("show info").expect_err("timeout");
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    drop(client);
    server.join().expect("server");
    let _ = std::fs::remove_file(path);
}

#[test]
fn connect_failure_is_an_error() {
    let client = Client::new(socket_path().to_str().expect("path"));
    assert!(client.send("show info").is_err());
}

#[test]
fn stat_table_from_capture() {
    let table = render_stat_table(&reference("show-stat.txt"));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 1 + 10);
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "pxname", "svname", "status", "weight", "scur", "smax", "stot", "bin", "bout", "econ",
            "eresp", "chkfail", "lastchg"
        ]
    );
    assert!(lines[1].starts_with("web     FRONTEND  OPEN"));
    let s1: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(
        s1,
        ["app", "s1", "UP", "1", "2", "2", "2", "0", "0", "0", "0", "0", "23"]
    );
    // Numbers are right-aligned: every line has the same width up to the last column.
    let width = lines[2].len();
    assert!(lines[1..]
        .iter()
        .filter(|l| !l.ends_with(' '))
        .all(|l| l.len() <= width));
    // A status with a space stays one cell.
    let drain = render_stat_table(&reference("show-stat-servers-s1-drain.txt"));
    assert!(drain.lines().nth(1).expect("row").contains("DRAIN 1/3"));
    // Not CSV: passed through.
    assert_eq!(
        render_stat_table("No such proxy.\n\n"),
        "No such proxy.\n\n"
    );
}

#[test]
fn reply_classification_on_captures() {
    let cases = [
        ("get-weight-unknown-server.txt", true),
        ("get-weight.txt", false),
        ("set-server-weight-invalid.txt", true),
        ("set-maxconn-server-invalid-value.txt", true),
        ("unknown-command.txt", true),
        ("set-server-bad-action.txt", true),
        ("show-servers-state-unknown.txt", true),
        ("show-servers-state.txt", false),
        ("show-stat.txt", false),
        ("show-info.txt", false),
        ("show-backend.txt", false),
        ("show-sess.txt", false),
        ("show-sess-unknown-id.txt", true),
        ("shutdown-session-invalid.txt", true),
        ("shutdown-session.txt", false),
        ("set-maxconn-frontend-negative.txt", true),
        ("help.txt", false),
        ("quit.txt", false),
        ("chained-error-middle.txt", true),
    ];
    let index = reference("INDEX.tsv");
    for (file, is_error) in cases {
        let line = index
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{file}\t")))
            .and_then(|rest| rest.split_once('\t'))
            .map(|(_, line)| line.split("   (").next().unwrap_or(line).to_owned())
            .expect("index entry");
        assert_eq!(reply_is_error(&line, &reference(file)), is_error, "{file}");
    }
    assert!(reply_is_error("show sess", "Permission denied\n\n"));
}
