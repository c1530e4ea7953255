//! Binary upgrade (`percore ctl upgrade`, SIGUSR2): a new process takes every listening
//! socket and the admin socket, the old one stops accepting, lets its streams finish within
//! `global.grace` and exits 0; a new binary that fails leaves the old one serving. Method:
//! the real binary (the old process starts it again) with two shards in front of real
//! origins, clients that carry a unique id in every request, reconciled against what the
//! origin received; bounded polls on admin replies, client outcomes and process exits.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use common::http_origin::HttpOrigin;
use common::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// An HTTP frontend `web` to backend `app` (server `s1` at `origin`), two shards, the admin
/// socket `./admin.sock`, and a grace period far longer than any test waits.
fn http_config(origin: SocketAddr) -> String {
    format!(
        "global:\n  shards: 2\n  grace: 60s\n  admin:\n    socket: ./admin.sock\n\
         defaults:\n  mode: http\n  timeout: {{ connect: 1s, client: 30s, server: 30s }}\n\
         frontends:\n  web:\n    bind: \"127.0.0.1:0\"\n    default_backend: app\n\
         backends:\n  app:\n    servers:\n      - {{ name: s1, address: \"{origin}\" }}\n"
    )
}

/// A process the old one started: stopped (SIGTERM, then SIGKILL if needed) when dropped,
/// so that no test leaves one behind.
struct Successor(u32);

impl Successor {
    fn pid(&self) -> Pid {
        Pid::from_raw(self.0 as i32)
    }

    /// Whether the process still runs (a zombie counts as gone).
    fn alive(&self) -> bool {
        std::fs::read_to_string(format!("/proc/{}/stat", self.0)).is_ok_and(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
    }

    /// SIGTERM, then waits until it is gone.
    fn stop(&self) {
        let _ = kill(self.pid(), Signal::SIGTERM);
        poll_until("the new process exits after SIGTERM", || {
            if self.alive() {
                Err("running")
            } else {
                Ok(())
            }
        });
    }
}

impl Drop for Successor {
    fn drop(&mut self) {
        if self.alive() {
            let _ = kill(self.pid(), Signal::SIGKILL);
        }
    }
}

/// The `Pid` line of `show info`.
fn info_pid(socket: &Path) -> u32 {
    let info = admin(socket, "show info");
    info.lines()
        .find_map(|l| l.strip_prefix("Pid: "))
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Pid in\n{info}"))
}

/// The new process's pid, from a successful upgrade's reply (`… (pid N), which …`).
fn new_pid(reply: &str) -> u32 {
    assert!(reply.starts_with("Upgraded to "), "{reply}");
    reply
        .split("(pid ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {reply}"))
}

/// `percore ctl -s <socket> upgrade [--binary <binary>]`: exit code and stdout.
fn ctl_upgrade(p: &Proxy, binary: Option<&Path>) -> (Option<i32>, String) {
    let socket = sock(p);
    let mut args = vec!["ctl", "-s", socket.to_str().expect("utf-8 path"), "upgrade"];
    let shown;
    if let Some(b) = binary {
        shown = b.display().to_string();
        args.extend(["--binary", &shown]);
    }
    let (status, out, err) = run_cli(&args, &p.dir);
    assert!(err.is_empty() || status.code() != Some(0), "{err}");
    (status.code(), out)
}

/// What one load client saw.
#[derive(Default)]
struct Outcome {
    /// Ids of the requests sent.
    sent: Vec<String>,
    /// Ids answered with a 200 whose body names them.
    answered: Vec<String>,
    /// Anything else: connection refused or reset, an early close, a wrong answer.
    errors: Vec<String>,
    /// Responses that carried `Connection: close` on a keep-alive connection.
    closes: usize,
}

/// Clients sending requests with unique ids until told to stop: keep-alive ones (a new
/// connection only after a `Connection: close`) and ones that open a connection per request.
struct Load {
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicUsize>,
    clients: Vec<JoinHandle<Outcome>>,
}

impl Load {
    fn start(addr: SocketAddr, keep_alive: usize, per_request: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicUsize::new(0));
        let mut clients = Vec::new();
        for i in 0..keep_alive + per_request {
            let (stop, answered) = (stop.clone(), answered.clone());
            let tag = if i < keep_alive {
                format!("ka{i}")
            } else {
                format!("nc{i}")
            };
            let ka = i < keep_alive;
            clients.push(std::thread::spawn(move || {
                client(addr, &tag, ka, &stop, &answered)
            }));
        }
        Load {
            stop,
            answered,
            clients,
        }
    }

    fn answered(&self) -> usize {
        self.answered.load(Ordering::Relaxed)
    }

    /// Waits until `n` more requests than now are answered.
    fn wait_more(&self, n: usize) {
        let target = self.answered() + n;
        poll_until("the clients get more answers", || {
            let now = self.answered();
            if now >= target {
                Ok(())
            } else {
                Err(now)
            }
        });
    }

    fn finish(self) -> Vec<Outcome> {
        self.stop.store(true, Ordering::Relaxed);
        self.clients
            .into_iter()
            .map(|c| c.join().expect("client thread"))
            .collect()
    }
}

/// One client's loop; see [`Load`].
fn client(
    addr: SocketAddr,
    tag: &str,
    keep_alive: bool,
    stop: &AtomicBool,
    answered: &AtomicUsize,
) -> Outcome {
    let mut out = Outcome::default();
    let mut conn: Option<(BufReader<TcpStream>, TcpStream)> = None;
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let id = format!("{tag}-{seq}");
        seq += 1;
        if conn.is_none() {
            match TcpStream::connect_timeout(&addr, WAIT) {
                Ok(s) => {
                    s.set_read_timeout(Some(WAIT)).expect("timeout");
                    conn = Some((BufReader::new(s.try_clone().expect("clone")), s));
                }
                Err(e) => {
                    out.errors.push(format!("{id}: connect: {e}"));
                    continue;
                }
            }
        }
        let (r, w) = conn.as_mut().expect("connected");
        out.sent.push(id.clone());
        let close = if keep_alive {
            ""
        } else {
            "connection: close\r\n"
        };
        let request = format!("GET /echo/{id} HTTP/1.1\r\nhost: test\r\n{close}\r\n");
        let result = w
            .write_all(request.as_bytes())
            .map_err(|e| format!("write: {e}"))
            .and_then(|()| read_response(r));
        match result {
            Ok((200, body, closing)) if body.contains(&format!("/echo/{id} ")) => {
                out.answered.push(id);
                answered.fetch_add(1, Ordering::Relaxed);
                if closing || !keep_alive {
                    out.closes += usize::from(keep_alive);
                    conn = None;
                }
            }
            Ok((status, body, _)) => {
                out.errors.push(format!("{id}: status {status}: {body}"));
                conn = None;
            }
            Err(e) => {
                out.errors.push(format!("{id}: {e}"));
                conn = None;
            }
        }
    }
    out
}

/// One response with a Content-Length body: (status, body, `Connection: close`).
fn read_response(r: &mut BufReader<TcpStream>) -> Result<(u16, String, bool), String> {
    let mut line = String::new();
    match r.read_line(&mut line) {
        Ok(0) => return Err("closed before the response".into()),
        Ok(_) => {}
        Err(e) => return Err(format!("read: {e}")),
    }
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {line:?}"))?;
    let (mut length, mut closing) = (0usize, false);
    loop {
        let mut h = String::new();
        r.read_line(&mut h).map_err(|e| format!("read head: {e}"))?;
        let h = h.trim_end().to_ascii_lowercase();
        if h.is_empty() {
            break;
        }
        if let Some(v) = h.strip_prefix("content-length:") {
            length = v.trim().parse().map_err(|_| format!("bad length {h}"))?;
        }
        closing |= h == "connection: close";
    }
    let mut body = vec![0u8; length];
    r.read_exact(&mut body)
        .map_err(|e| format!("read body: {e}"))?;
    Ok((status, String::from_utf8_lossy(&body).into_owned(), closing))
}

/// The ids of the `/echo/<id>` requests the origin received, with how often each came.
fn origin_ids(origin: &HttpOrigin) -> HashMap<String, usize> {
    let mut ids = HashMap::new();
    for head in origin.seen.heads.lock().expect("heads").iter() {
        if let Some(id) = head
            .split(' ')
            .nth(1)
            .and_then(|path| path.strip_prefix("/echo/"))
        {
            *ids.entry(id.to_string()).or_insert(0) += 1;
        }
    }
    ids
}

#[test]
fn upgrade_under_load_answers_every_request_exactly_once() {
    let origin = HttpOrigin::start("o");
    let mut p = Proxy::start("upgrade-load", &http_config(origin.addr));
    let old = p.pid();
    let load = Load::start(p.addr("web"), 4, 4);
    load.wait_more(200);

    let (code, reply) = ctl_upgrade(&p, None);
    assert_eq!(code, Some(0), "{reply}");
    let successor = Successor(new_pid(&reply));
    assert_ne!(successor.0, old);
    // Keep-alive clients are told `Connection: close` by the old process and reconnect to
    // the new one; the old one exits once its last stream ended.
    let status = p.wait_exit(WAIT).expect("the old process exits");
    assert_eq!(status.code(), Some(0), "{}", p.log());
    load.wait_more(200);
    let outcomes = load.finish();

    let errors: Vec<&String> = outcomes.iter().flat_map(|o| &o.errors).collect();
    assert!(errors.is_empty(), "{} failed: {errors:?}", errors.len());
    let sent: Vec<&String> = outcomes.iter().flat_map(|o| &o.sent).collect();
    let answered: Vec<&String> = outcomes.iter().flat_map(|o| &o.answered).collect();
    assert_eq!(sent, answered, "every request sent is answered, in order");
    assert!(
        outcomes.iter().map(|o| o.closes).sum::<usize>() >= 4,
        "each keep-alive client was told to close by the old process"
    );
    let seen = origin_ids(&origin);
    for id in &answered {
        assert_eq!(seen.get(*id), Some(&1), "{id} reached the origin once");
    }
    assert_eq!(
        seen.len(),
        answered.len(),
        "nothing else reached the origin"
    );
    assert_eq!(info_pid(&sock(&p)), successor.0);
    successor.stop();
}

#[test]
fn show_info_names_the_new_pid_and_the_admin_socket_moves() {
    let origin = HttpOrigin::start("o");
    let mut p = Proxy::start("upgrade-info", &http_config(origin.addr));
    let socket = sock(&p);
    let old = p.pid();
    assert_eq!(info_pid(&socket), old);
    let reply = admin(&socket, "upgrade");
    let successor = Successor(new_pid(&reply));
    // The old process stopped accepting on the admin socket before it replied.
    assert_eq!(info_pid(&socket), successor.0);
    assert_eq!(p.wait_exit(WAIT).map(|s| s.code()), Some(Some(0)));
    assert!(
        socket.exists(),
        "the old process left the socket file to the new one"
    );
    assert_eq!(info_pid(&socket), successor.0);
    assert!(http_get(p.addr("web"), "/").contains('o'));
    successor.stop();
    assert!(
        !socket.exists(),
        "the new process removes its socket file at exit"
    );
}

/// `GET /metrics` on `addr`: the status line.
fn scrape(addr: SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).expect("connect to metrics");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send scrape");
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    reply.lines().next().unwrap_or("").to_string()
}

#[test]
fn the_metrics_listener_is_handed_over_on_its_ephemeral_port() {
    let origin = HttpOrigin::start("o");
    let yaml = http_config(origin.addr).replace(
        "  admin:\n",
        "  metrics: { bind: \"127.0.0.1:0\" }\n  admin:\n",
    );
    let mut p = Proxy::start("upgrade-metrics", &yaml);
    let log = p.wait_log("metrics on http://");
    let addr: SocketAddr = log
        .split("metrics on http://")
        .nth(1)
        .and_then(|r| r.split("/metrics").next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no metrics address in {log}"));
    assert_eq!(scrape(addr), "HTTP/1.1 200 OK");
    let successor = Successor(new_pid(&admin(&sock(&p), "upgrade")));
    assert_eq!(p.wait_exit(WAIT).map(|s| s.code()), Some(Some(0)));
    // Only the new process holds the port now: the same one, though it was ephemeral.
    assert_eq!(scrape(addr), "HTTP/1.1 200 OK");
    successor.stop();
}

#[test]
fn sigusr2_upgrades_as_ctl_upgrade_does() {
    let origin = HttpOrigin::start("o");
    let mut p = Proxy::start("upgrade-sigusr2", &http_config(origin.addr));
    let old = p.pid();
    p.signal(Signal::SIGUSR2);
    let line = p.wait_log("Upgraded to ");
    let at = line.find("Upgraded to ").expect("in the line");
    let successor = Successor(new_pid(&line[at..]));
    assert_ne!(successor.0, old);
    assert_eq!(p.wait_exit(WAIT).map(|s| s.code()), Some(Some(0)));
    assert_eq!(info_pid(&sock(&p)), successor.0);
    assert!(http_get(p.addr("web"), "/").contains('o'));
    successor.stop();
}

/// Writes an executable shell script `name` with `body` into `dir`.
fn script(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

#[test]
fn a_failing_new_binary_leaves_the_old_process_serving() {
    let origin = HttpOrigin::start("o");
    let p = Proxy::start("upgrade-fail", &http_config(origin.addr));
    let old = p.pid();
    let exits = script(&p.dir, "exits.sh", "exit 1");
    let bad = p.dir.join("bad.yaml");
    std::fs::write(&bad, "global:\n  shards: 2\n  wieght: 1\n").expect("write");
    let refuses = script(
        &p.dir,
        "refuses.sh",
        &format!("exec {} run -c {}", binary(), bad.display()),
    );
    let quits = script(&p.dir, "quits.sh", "exit 0");
    let missing = p.dir.join("no-such-binary");
    let cases = [
        (exits, "exited before it was ready (exit status: 1)"),
        (refuses, "bad.yaml:3:3: global.wieght"),
        (quits, "exited before it was ready (exit status: 0)"),
        (missing, "cannot start"),
    ];
    for (binary, expected) in cases {
        let (code, reply) = ctl_upgrade(&p, Some(&binary));
        assert_eq!(code, Some(1), "{reply}");
        assert!(reply.starts_with("Upgrade failed: "), "{reply}");
        assert!(reply.contains(expected), "{expected:?} in {reply}");
        assert!(reply.contains("this process keeps serving"), "{reply}");
        // Still the old process, on every listener and the admin socket.
        assert_eq!(info_pid(&sock(&p)), old);
        assert!(http_get(p.addr("web"), "/").contains('o'));
    }
}

#[test]
fn the_old_process_exits_0_after_grace_killing_what_is_left() {
    let origin = Origin::start(Behaviour::Echo);
    let yaml = format!(
        "global:\n  shards: 2\n  grace: 1s\n  admin:\n    socket: ./admin.sock\n\
         defaults:\n  mode: tcp\n  timeout: {{ connect: 1s, client: 30s, server: 30s }}\n\
         frontends:\n  fe:\n    bind: \"127.0.0.1:0\"\n    default_backend: app\n\
         backends:\n  app:\n    servers:\n      - {{ name: s1, address: \"{}\" }}\n",
        origin.addr
    );
    let mut p = Proxy::start("upgrade-grace", &yaml);
    let addr = p.addr("fe");
    let mut held = connect(addr);
    assert_eq!(echo_round_trip(&mut held, b"before"), b"before");
    let successor = Successor(new_pid(&admin(&sock(&p), "upgrade")));
    // The stream stays with the old process while it drains; new ones go to the new one.
    assert_eq!(echo_round_trip(&mut held, b"during"), b"during");
    let mut fresh = connect(addr);
    assert_eq!(echo_round_trip(&mut fresh, b"new"), b"new");
    // At the end of the grace period the old process kills what is left and exits 0.
    let _ = wait_closed(&mut held);
    let status = p
        .wait_exit(WAIT)
        .expect("the old process exits after grace");
    assert_eq!(status.code(), Some(0), "{}", p.log());
    assert!(
        p.log().contains("grace period over, killed 1 stream(s)"),
        "{}",
        p.log()
    );
    assert_eq!(echo_round_trip(&mut fresh, b"after"), b"after");
    successor.stop();
}

#[test]
fn a_new_process_with_fewer_shards_serves_every_handed_socket() {
    let origin = HttpOrigin::start("o");
    let yaml = http_config(origin.addr);
    let mut p = Proxy::start("upgrade-shards", &yaml);
    // The new process runs one shard: it takes both sockets of the bind.
    let one = yaml.replace("shards: 2", "shards: 1");
    std::fs::write(p.dir.join("percore.yaml"), one).expect("rewrite config");
    let successor = Successor(new_pid(&admin(&sock(&p), "upgrade")));
    p.wait_log("took 2 socket(s) of the old process");
    assert_eq!(p.wait_exit(WAIT).map(|s| s.code()), Some(Some(0)));
    // The kernel spreads connections over both sockets of the group by their ports: each
    // one is served only if both are accepted on.
    for _ in 0..50 {
        assert!(http_get(p.addr("web"), "/").contains('o'));
    }
    assert!(admin(&sock(&p), "show info").contains("Nbthread: 1"));
    successor.stop();
}
