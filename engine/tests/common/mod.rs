//! Shared helpers for the integration tests: start the real `percore` binary on loopback
//! with a given YAML configuration, real origin servers on plain threads, and bounded waits.
//! Every process started here is killed when its handle drops.
#![allow(dead_code)]

pub mod http_origin;
pub mod tls_origin;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Upper bound for anything a test waits on.
pub const WAIT: Duration = Duration::from_secs(15);

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

/// A fresh temporary directory for one test.
pub fn temp_dir(tag: &str) -> PathBuf {
    let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("percore-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// A [`temp_dir`] removed when dropped, also when the test fails.
pub struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = std::path::Path;

    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl AsRef<std::path::Path> for TempDir {
    fn as_ref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh temporary directory for one test, removed with the returned guard.
pub fn scratch_dir(tag: &str) -> TempDir {
    TempDir(temp_dir(tag))
}

/// The `percore` binary built by cargo for this test run.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_percore")
}

/// A running `percore run` process.
pub struct Proxy {
    child: Option<Child>,
    /// Every stderr line so far.
    pub lines: Arc<Mutex<Vec<String>>>,
    /// `(frontend, address)` from the "listening on" lines.
    pub listening: Vec<(String, SocketAddr)>,
    /// The test's temporary directory (config file lives there).
    pub dir: PathBuf,
}

impl Proxy {
    /// Writes `yaml` to a file and runs `percore run -c` on it; waits for `ready`.
    pub fn start(tag: &str, yaml: &str) -> Proxy {
        let dir = temp_dir(tag);
        Self::start_in(dir, yaml)
    }

    /// Same as [`Proxy::start`] in a given directory.
    pub fn start_in(dir: PathBuf, yaml: &str) -> Proxy {
        Self::launch(dir, yaml, &[])
    }

    /// Same as [`Proxy::start`], with the binary run by `launcher` (e.g. `taskset -c 0`),
    /// which must exec it so that the child's pid stays percore's.
    pub fn start_under(tag: &str, yaml: &str, launcher: &[&str]) -> Proxy {
        Self::launch(temp_dir(tag), yaml, launcher)
    }

    fn launch(dir: PathBuf, yaml: &str, launcher: &[&str]) -> Proxy {
        let path = dir.join("percore.yaml");
        std::fs::write(&path, yaml).expect("write config");
        let mut words = launcher.to_vec();
        words.push(binary());
        let mut child = Command::new(words[0])
            .args(&words[1..])
            .arg("run")
            .arg("-c")
            .arg(&path)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn percore");
        let stderr = child.stderr.take().expect("stderr piped");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if std::env::var_os("PERCORE_TEST_ECHO").is_some() {
                    eprintln!("[percore] {line}");
                }
                sink.lock().expect("lines").push(line.clone());
                let _ = tx.send(line);
            }
        });
        let mut listening = Vec::new();
        let deadline = Instant::now() + WAIT;
        let mut proxy = Proxy {
            child: Some(child),
            lines,
            listening: Vec::new(),
            dir,
        };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.split(" frontend ").nth(1) {
                        if let Some((name, addr)) = rest.split_once(" listening on ") {
                            listening.push((name.to_string(), addr.parse().expect("addr")));
                        }
                    }
                    if line.contains("] ready:") {
                        break;
                    }
                }
                Err(_) => panic!(
                    "percore did not become ready; stderr:\n{}",
                    proxy.lines.lock().expect("lines").join("\n")
                ),
            }
        }
        proxy.listening = listening;
        proxy
    }

    /// Address of the first listener of `frontend`.
    pub fn addr(&self, frontend: &str) -> SocketAddr {
        self.listening
            .iter()
            .find(|(n, _)| n == frontend)
            .map(|(_, a)| *a)
            .unwrap_or_else(|| panic!("no listener for {frontend}: {:?}", self.listening))
    }

    /// Sends a signal to the process.
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        let pid = self.child.as_ref().expect("running").id() as i32;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig).expect("kill");
    }

    /// Waits for the process to exit, at most `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        let child = self.child.as_mut()?;
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                self.child = None;
                // Let the reader thread drain the last lines.
                std::thread::sleep(Duration::from_millis(50));
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGTERM, then wait for exit.
    pub fn stop(&mut self) -> ExitStatus {
        self.signal(nix::sys::signal::Signal::SIGTERM);
        self.wait_exit(WAIT)
            .expect("percore did not exit after SIGTERM")
    }

    /// The process id of the running proxy.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Resident memory of the process in KiB (VmRSS).
    pub fn rss_kib(&self) -> u64 {
        let pid = self.pid();
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
            .unwrap_or(0)
    }

    /// All stderr lines so far, joined.
    pub fn log(&self) -> String {
        self.lines.lock().expect("lines").join("\n")
    }

    /// Waits until a stderr line contains `needle`.
    pub fn wait_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(l) = self
                .lines
                .lock()
                .expect("lines")
                .iter()
                .find(|l| l.contains(needle))
            {
                return l.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no log line with {needle:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `percore` with arguments to completion; returns (status, stdout, stderr).
pub fn run_cli(args: &[&str], dir: &std::path::Path) -> (ExitStatus, String, String) {
    let mut child = Command::new(binary())
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn percore");
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(_st) = child.try_wait().expect("wait") {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("percore {args:?} did not exit");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// An address where nothing listens (connections are refused).
pub fn dead_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

/// What an origin saw.
#[derive(Default)]
pub struct OriginStats {
    /// Connections accepted.
    pub accepted: AtomicUsize,
    /// Bytes the origin received after a client half-closed.
    pub after_fin: Mutex<Vec<u8>>,
    /// First bytes of each connection (for PROXY headers).
    pub heads: Mutex<Vec<Vec<u8>>>,
}

/// Kinds of origin behaviour.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Echo every byte; on EOF, half-close back.
    Echo,
    /// Read but never answer.
    Silent,
    /// Send a greeting, shut down the write side, then collect what arrives until EOF.
    GreetThenHalfClose,
    /// Answer each HTTP request head with a 200 carrying the origin's name.
    Http(&'static str),
    /// Send `name\n` on connect, then echo.
    GreetEcho(&'static str),
}

/// A real origin on loopback, one thread per connection, stopped when dropped.
pub struct Origin {
    /// Listening address.
    pub addr: SocketAddr,
    /// What it saw.
    pub stats: Arc<OriginStats>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Origin {
    /// Starts an origin with the given behaviour on an ephemeral port.
    pub fn start(behaviour: Behaviour) -> Origin {
        Self::start_on("127.0.0.1:0".parse().expect("addr"), behaviour)
    }

    /// Starts an origin on `addr` (e.g. the address of a stopped one, to restart it).
    pub fn start_on(addr: SocketAddr, behaviour: Behaviour) -> Origin {
        let listener = TcpListener::bind(addr).expect("bind origin");
        let addr = listener.local_addr().expect("addr");
        listener.set_nonblocking(true).expect("nonblocking");
        let stats = Arc::new(OriginStats::default());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (s2, st2) = (stats.clone(), stop.clone());
        std::thread::spawn(move || {
            while !st2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        conn.set_nonblocking(false).expect("blocking");
                        s2.accepted.fetch_add(1, Ordering::Relaxed);
                        let s3 = s2.clone();
                        std::thread::spawn(move || serve(conn, behaviour, &s3));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Origin { addr, stats, stop }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.stats.accepted.load(Ordering::Relaxed)
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(mut conn: TcpStream, behaviour: Behaviour, stats: &OriginStats) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let mut buf = [0u8; 16384];
    match behaviour {
        Behaviour::Echo => {
            let mut first = true;
            loop {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => {
                        let _ = conn.shutdown(Shutdown::Write);
                        return;
                    }
                    Ok(n) => {
                        if first {
                            stats.heads.lock().expect("heads").push(buf[..n].to_vec());
                            first = false;
                        }
                        if conn.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                }
            }
        }
        Behaviour::GreetEcho(name) => {
            if conn.write_all(format!("{name}\n").as_bytes()).is_err() {
                return;
            }
            serve(conn, Behaviour::Echo, stats);
        }
        Behaviour::Silent => {
            while let Ok(n) = conn.read(&mut buf) {
                if n == 0 {
                    return;
                }
            }
        }
        Behaviour::GreetThenHalfClose => {
            let _ = conn.write_all(b"hello, then FIN");
            let _ = conn.shutdown(Shutdown::Write);
            let mut got = Vec::new();
            while let Ok(n) = conn.read(&mut buf) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            *stats.after_fin.lock().expect("after_fin") = got;
        }
        Behaviour::Http(name) => {
            let mut pending = Vec::new();
            loop {
                while let Some(i) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                    pending.drain(..i + 4);
                    let body = format!("{name}\n");
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if conn.write_all(resp.as_bytes()).is_err() {
                        return;
                    }
                }
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => pending.extend_from_slice(&buf[..n]),
                }
            }
        }
    }
}

/// Connects with a bounded timeout and read timeout.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, WAIT).expect("connect to proxy");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    s.set_nodelay(true).expect("nodelay");
    s
}

/// Writes `msg` and reads exactly as many bytes back.
pub fn echo_round_trip(s: &mut TcpStream, msg: &[u8]) -> Vec<u8> {
    s.write_all(msg).expect("write");
    let mut got = vec![0u8; msg.len()];
    s.read_exact(&mut got).expect("read echo");
    got
}

/// One HTTP/1.1 GET over a fresh connection; returns the body.
pub fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut s = connect(addr);
    write!(
        s,
        "GET {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n"
    )
    .expect("write");
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    resp.split("\r\n\r\n").nth(1).unwrap_or("").to_string()
}

/// Reads until EOF or error; returns (bytes, saw_eof_cleanly, elapsed).
pub fn read_to_close(s: &mut TcpStream) -> (Vec<u8>, bool, Duration) {
    let t0 = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (out, true, t0.elapsed()),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (out, false, t0.elapsed()),
        }
    }
}

/// How a socket's peer ended it, as seen by a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Orderly close: the read returned 0.
    Eof,
    /// Reset or abort by the peer.
    Reset,
}

/// Reads (and discards) until the peer ends the connection; returns how it ended. A read
/// timeout (`WouldBlock`/`TimedOut`, after the socket's read timeout, [`WAIT`] for
/// [`connect`]) means the connection is still open: it fails the test, it is never taken
/// for a close.
pub fn wait_closed(s: &mut TcpStream) -> Ended {
    read_until_closed(s).1
}

/// [`wait_closed`] that also returns the bytes read before the end.
pub fn read_until_closed(s: &mut TcpStream) -> (Vec<u8>, Ended) {
    use std::io::ErrorKind;
    if s.read_timeout().ok().flatten().is_none() {
        s.set_read_timeout(Some(WAIT)).expect("read timeout");
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (got, Ended::Eof),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("connection still open after the read timeout: {e}")
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset
                        | ErrorKind::ConnectionAborted
                        | ErrorKind::BrokenPipe
                ) =>
            {
                return (got, Ended::Reset)
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("unexpected read error: {e}"),
        }
    }
}

/// How long [`poll_until`] waits at most, and how often it looks.
pub const POLL_LIMIT: Duration = Duration::from_secs(10);
/// Interval between two looks of [`poll_until`].
pub const POLL_EVERY: Duration = Duration::from_millis(10);

/// Calls `probe` every [`POLL_EVERY`] until it returns `Ok`; fails the test with `what` and
/// the last `Err` if that takes more than [`POLL_LIMIT`]. For waiting on observable state
/// (admin replies, counters, sockets) instead of sleeping a fixed time.
pub fn poll_until<T, E: std::fmt::Debug>(what: &str, mut probe: impl FnMut() -> Result<T, E>) -> T {
    let deadline = Instant::now() + POLL_LIMIT;
    loop {
        match probe() {
            Ok(v) => return v,
            Err(last) => {
                assert!(
                    Instant::now() < deadline,
                    "{what}: not within {POLL_LIMIT:?}; last: {last:?}"
                );
            }
        }
        std::thread::sleep(POLL_EVERY);
    }
}

/// Sends one admin line to `socket` and returns the whole reply.
pub fn admin(socket: &std::path::Path, line: &str) -> String {
    percore_admin::Client::new(&socket.to_string_lossy())
        .with_timeout(WAIT)
        .send(line)
        .unwrap_or_else(|e| panic!("admin {line:?}: {e}"))
}

/// The `/metrics` address a proxy with `global.metrics` logged at start.
pub fn metrics_addr(p: &Proxy) -> SocketAddr {
    p.lines
        .lock()
        .expect("lines")
        .iter()
        .find_map(|l| l.split("metrics on http://").nth(1))
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .expect("metrics address logged")
        .parse()
        .expect("addr")
}

/// The admin socket of a proxy whose configuration names it `./admin.sock`.
pub fn sock(p: &Proxy) -> PathBuf {
    p.dir.join("admin.sock")
}

/// Connects through the proxy and reads the origin's greeting (its server name).
pub fn open_greeted(addr: SocketAddr) -> (TcpStream, String) {
    let s = connect(addr);
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    let mut name = String::new();
    r.read_line(&mut name).expect("greeting");
    (s, name.trim().to_string())
}

/// The column names of a `show stat` reply (its `# ` line), and its remaining lines.
pub fn stat_header(csv: &str) -> (Vec<&str>, std::str::Lines<'_>) {
    let mut lines = csv.lines();
    let header = lines
        .next()
        .and_then(|h| h.strip_prefix("# "))
        .expect("header")
        .split(',')
        .collect();
    (header, lines)
}

/// Value of `column` in the `show stat` row `pxname/svname`.
pub fn stat(csv: &str, pxname: &str, svname: &str, column: &str) -> String {
    let (header, lines) = stat_header(csv);
    let idx = header
        .iter()
        .position(|h| *h == column)
        .unwrap_or_else(|| panic!("no column {column}"));
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        if f.first() == Some(&pxname) && f.get(1) == Some(&svname) {
            return f[idx].to_string();
        }
    }
    panic!("no row {pxname}/{svname} in\n{csv}")
}
