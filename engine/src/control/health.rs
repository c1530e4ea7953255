//! Active health checks, run by the control plane (not by shards: one check per server for
//! the whole process, whatever the number of shards).
//!
//! One task per checked server. Start times are spread over the first interval so that
//! checks do not fire together, and at most [`CHECKS_CONCURRENT_MAX`] run at once. Each result
//! feeds the server's `rise`/`fall` state machine ([`CheckState::record`]); a transition is
//! logged, pushed to every shard's server view, and triggers `on_marked_down:
//! shutdown-sessions` (the same broadcast kill as `shutdown sessions server`) or `on_marked_up:
//! shutdown-backup-sessions`. `disable health` and maintenance pause a server's checks
//! without changing its state.
//!
//! A server with `tls` is checked over TLS, as HAProxy's `check-ssl`: a TCP check is a
//! connect and a handshake (`L6OK`; a failed handshake is `L6RSP`, a slow one `L6TOUT`), an
//! HTTP check sends its request inside TLS. Each checker task builds its own connector.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use glommio::sync::Semaphore;
use glommio::timer::Timer;
use percore_admin::CheckStatus;
use percore_conf::check::{Check, CheckKind, OnError, OnMarkedDown, OnMarkedUp};
use percore_protocols::http1::status_line_code;

use super::exec::Ctl;
use crate::ids::ServerKey;
use crate::logging::Severity;
use crate::rings::msg::AdminState;
use crate::tls::connector::Connector;
use crate::tls::{HandshakeError, ServerSock, TlsStream};

/// How a checker reaches its server: plain (`None`), or TLS with a connector, or TLS whose
/// settings rustls refused (every check fails with the reason).
type CheckTls = Option<Result<Connector, String>>;

/// Checks running at the same time, process-wide: bounds sockets and CPU spent on checks.
pub const CHECKS_CONCURRENT_MAX: u64 = 64;
/// Largest HTTP check response head read.
const CHECK_RESPONSE_BYTES_MAX: usize = 4096;

/// The result of one check.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The server passed.
    pub passed: bool,
    /// HAProxy check status.
    pub status: CheckStatus,
    /// HTTP status, for layer-7 checks that got one.
    pub code: Option<u16>,
    /// Detail (`Connection refused`, `HTTP status 500`).
    pub info: String,
    /// A 404 with `disable_on_404`: UP, but no new load-balanced streams.
    pub nolb: bool,
}

/// Starts a checker task for every checked server, spread over the first interval.
pub fn spawn_all(ctl: &Rc<Ctl>) {
    let checked: Vec<(ServerKey, Check)> = {
        let st = ctl.state.borrow();
        st.config
            .backends
            .iter()
            .enumerate()
            .flat_map(|(b, be)| {
                be.servers.iter().enumerate().filter_map(move |(s, srv)| {
                    srv.check.clone().map(|c| {
                        (
                            ServerKey {
                                backend: b,
                                server: s,
                            },
                            c,
                        )
                    })
                })
            })
            .collect()
    };
    let n = checked.len().max(1) as u32;
    for (i, (key, check)) in checked.into_iter().enumerate() {
        let delay = check.inter * i as u32 / n;
        let permits = ctl.check_permits.clone();
        let tls = check_tls(ctl, key);
        let task = glommio::spawn_local(checker(ctl.clone(), permits, (key, tls), check, delay));
        ctl.checkers.borrow_mut().insert(key, task.detach());
    }
}

/// The TLS a check of server `key` uses, from its configured `tls`.
fn check_tls(ctl: &Ctl, key: ServerKey) -> CheckTls {
    let st = ctl.state.borrow();
    let tls = st.config.backends[key.backend].servers[key.server]
        .tls
        .as_ref()?;
    Some(Connector::new(tls))
}

/// After a reload, `add server` or `del server` changed server `key`: its checker (if
/// any) stops, and a new one starts from the settings now configured unless the server is
/// removed or not checked. Its first check comes within one interval, spread by slot.
pub fn restart(ctl: &Rc<Ctl>, key: ServerKey) {
    if let Some(old) = ctl.checkers.borrow_mut().remove(&key) {
        old.cancel();
    }
    let check = {
        let st = ctl.state.borrow();
        let removed = st.servers[key.backend][key.server].removed;
        let configured = st.config.backends[key.backend].servers[key.server]
            .check
            .clone();
        configured.filter(|_| !removed)
    };
    let Some(check) = check else {
        return;
    };
    let delay = check.inter * (key.server % 16) as u32 / 16;
    let permits = ctl.check_permits.clone();
    let tls = check_tls(ctl, key);
    let task = glommio::spawn_local(checker(ctl.clone(), permits, (key, tls), check, delay));
    ctl.checkers.borrow_mut().insert(key, task.detach());
}

async fn checker(
    ctl: Rc<Ctl>,
    permits: Rc<Semaphore>,
    (key, tls): (ServerKey, CheckTls),
    check: Check,
    delay: Duration,
) {
    glommio::timer::sleep(delay).await;
    loop {
        let active = {
            let st = ctl.state.borrow();
            let s = &st.servers[key.backend][key.server];
            s.health_enabled && s.admin != AdminState::Maint
        };
        if active {
            let Ok(permit) = permits.acquire_permit(1).await else {
                return;
            };
            // Read each time: `set server … addr|check-addr|check-port` move the checks.
            let addr = ctl.state.borrow().servers[key.backend][key.server].check_target();
            let t0 = Instant::now();
            let outcome = run_check(&check, addr, tls.as_ref()).await;
            drop(permit);
            on_check(&ctl, key, outcome, t0.elapsed()).await;
        }
        let interval = {
            let mut st = ctl.state.borrow_mut();
            let fast = st.servers[key.backend][key.server]
                .check
                .as_mut()
                .is_some_and(|c| std::mem::take(&mut c.fast_next));
            match &st.servers[key.backend][key.server].check {
                Some(_) if fast => check.fastinter,
                Some(c) if !c.up => check.downinter,
                Some(c) if c.health < c.config.rise + c.config.fall - 1 => check.fastinter,
                _ => check.inter,
            }
        };
        glommio::timer::sleep(interval).await;
    }
}

/// Runs one check against `addr`: a connect (and the TLS handshake with `tls`) for TCP
/// checks; for HTTP checks, that and one request whose status line must come back, all
/// within `check.timeout` of the start.
pub async fn run_check(
    check: &Check,
    addr: SocketAddr,
    tls: Option<&Result<Connector, String>>,
) -> Outcome {
    let deadline = Instant::now() + check.timeout;
    let tcp = match TcpStream::connect_timeout(addr, check.timeout).await {
        Ok(s) => s,
        Err(e) => return check_connect_failure(&e.to_string()),
    };
    let (mut stream, passed) = match tls {
        None => (ServerSock::Plain(tcp), CheckStatus::Layer4Ok),
        Some(tls) => match check_handshake((tcp, addr), tls, deadline).await {
            Ok(sock) => (sock, CheckStatus::Layer6Ok),
            Err(failed) => return failed,
        },
    };
    if check.kind == CheckKind::Tcp {
        return Outcome {
            passed: true,
            status: passed,
            code: None,
            info: String::new(),
            nolb: false,
        };
    }
    let host = check.host.clone().unwrap_or_else(|| addr.to_string());
    let request = format!(
        "{} {} HTTP/1.1\r\nhost: {host}\r\nuser-agent: percore-check\r\nconnection: close\r\n\r\n",
        check.method, check.path
    );
    let left = deadline.saturating_duration_since(Instant::now());
    match http_check_exchange(&mut stream, &request, left).await {
        Ok(bytes) => http_check_verdict(check, &bytes),
        Err(glommio::GlommioError::TimedOut(_)) => Outcome {
            passed: false,
            status: CheckStatus::Layer7Timeout,
            code: None,
            info: String::new(),
            nolb: false,
        },
        Err(e) => Outcome {
            passed: false,
            status: CheckStatus::Layer7InvalidResponse,
            code: None,
            info: short_error(&e.to_string()),
            nolb: false,
        },
    }
}

/// The TLS handshake of a check on the connected `tcp`, done by `deadline`; a failure is
/// the check's outcome: `L6TOUT` when late, `L6RSP` otherwise (with the reason).
async fn check_handshake(
    (tcp, addr): (TcpStream, SocketAddr),
    tls: &Result<Connector, String>,
    deadline: Instant,
) -> Result<ServerSock, Outcome> {
    let failed = |status, info: String| Outcome {
        passed: false,
        status,
        code: None,
        info,
        nolb: false,
    };
    let connector = tls
        .as_ref()
        .map_err(|e| failed(CheckStatus::Layer6InvalidResponse, e.clone()))?;
    let handshake = TlsStream::connect(tcp, connector, addr.ip());
    let timer = async {
        Timer::new(deadline.saturating_duration_since(Instant::now())).await;
        Err(HandshakeError::Timeout)
    };
    match futures_lite::future::or(handshake, timer).await {
        Ok(tls) => Ok(ServerSock::Tls(Box::new(tls))),
        Err(HandshakeError::Timeout) => Err(failed(CheckStatus::Layer6Timeout, String::new())),
        Err(e) => Err(failed(
            CheckStatus::Layer6InvalidResponse,
            short_error(&e.to_string()),
        )),
    }
}

/// The outcome of a check whose connect failed with `text`: a layer-4 timeout when the
/// connect timed out, a layer-4 connection error otherwise.
fn check_connect_failure(text: &str) -> Outcome {
    let status = if text.contains("timed out") {
        CheckStatus::Layer4Timeout
    } else {
        CheckStatus::Layer4Connection
    };
    Outcome {
        passed: false,
        status,
        code: None,
        info: short_error(text),
        nolb: false,
    }
}

/// Writes `request`, then reads until the first CRLF, EOF or [`CHECK_RESPONSE_BYTES_MAX`]
/// bytes, all within `left` (at least 1 ms); returns the bytes read.
async fn http_check_exchange(
    stream: &mut ServerSock,
    request: &str,
    left: Duration,
) -> glommio::Result<Vec<u8>, ()> {
    glommio::timer::timeout(left.max(Duration::from_millis(1)), async {
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(glommio::GlommioError::from)?;
        let mut buf = vec![0u8; CHECK_RESPONSE_BYTES_MAX];
        let mut len = 0;
        loop {
            let n = stream
                .read(&mut buf[len..])
                .await
                .map_err(glommio::GlommioError::from)?;
            len += n;
            if n == 0 || buf[..len].windows(2).any(|w| w == b"\r\n") || len == buf.len() {
                break;
            }
        }
        buf.truncate(len);
        Ok(buf)
    })
    .await
}

/// Judges an HTTP check response by its status line: an expected status passes, a 404
/// with `disable_on_404` passes as NOLB, anything else fails.
fn http_check_verdict(check: &Check, bytes: &[u8]) -> Outcome {
    let code = status_line_code(bytes);
    match code {
        Some(404) if check.disable_on_404 => Outcome {
            passed: true,
            status: CheckStatus::Layer7Ok,
            code: Some(404),
            info: "disabled on 404".into(),
            nolb: true,
        },
        Some(c) if check.expect_status.contains(&c) => Outcome {
            passed: true,
            status: CheckStatus::Layer7Ok,
            code: Some(c),
            info: String::new(),
            nolb: false,
        },
        Some(c) => Outcome {
            passed: false,
            status: CheckStatus::Layer7WrongStatus,
            code: Some(c),
            info: format!("HTTP status {c}"),
            nolb: false,
        },
        None => Outcome {
            passed: false,
            status: CheckStatus::Layer7InvalidResponse,
            code: None,
            info: "not an HTTP response".into(),
            nolb: false,
        },
    }
}

/// `Connection refused (os error 111)` → `Connection refused`.
fn short_error(text: &str) -> String {
    text.split(" (os error").next().unwrap_or(text).to_string()
}

/// Applies one check result: state machine, log line, views, on_marked_down/up actions.
async fn on_check(ctl: &Rc<Ctl>, key: ServerKey, outcome: Outcome, took: Duration) {
    let now = Instant::now();
    let change = {
        let mut st = ctl.state.borrow_mut();
        let s = &mut st.servers[key.backend][key.server];
        let Some(c) = s.check.as_mut() else {
            return;
        };
        c.status = outcome.status;
        c.code = outcome.code;
        c.duration_ms = took.as_millis() as u64;
        c.info = outcome.info.clone();
        let nolb_changed = c.nolb != outcome.nolb && outcome.passed;
        if outcome.passed {
            c.nolb = outcome.nolb;
        }
        let change = c.record(outcome.passed);
        let nolb = nolb_changed.then_some(c.nolb);
        if change.is_some() || nolb_changed {
            s.last_change = now;
        }
        st.account_change(key, now);
        (change, nolb)
    };
    let (change, nolb) = change;
    if let Some(nolb) = nolb {
        let name = {
            let st = ctl.state.borrow();
            let be = &st.config.backends[key.backend];
            format!("{}/{}", be.name, be.servers[key.server].name)
        };
        let line = if nolb {
            format!("Server {name} is stopping (NOLB: http check got 404), no new streams")
        } else {
            format!("Server {name} is back from NOLB")
        };
        log::warn!("{line}");
        ctl.log.event(Severity::Notice, &line);
        let _ = ctl.push_view_to_shards(key).await;
    }
    let Some(up) = change else {
        return;
    };
    let reason = format!(
        "reason: {}{}, check duration: {}ms",
        outcome.status.description(),
        if outcome.info.is_empty() {
            String::new()
        } else {
            format!(", info: \"{}\"", outcome.info)
        },
        took.as_millis()
    );
    announce(ctl, key, up, &reason).await;
}

/// Passive health: a shard saw `error_limit` consecutive traffic errors on `key`; apply the
/// server's `on_error`.
pub async fn on_passive(ctl: &Rc<Ctl>, key: ServerKey) {
    let now = Instant::now();
    let change = {
        let mut st = ctl.state.borrow_mut();
        let s = &mut st.servers[key.backend][key.server];
        let Some(c) = s.check.as_mut() else {
            return;
        };
        c.analysis_failures += 1;
        c.status = CheckStatus::HealthAnalyze;
        let change = match c.config.on_error {
            OnError::Fastinter => {
                c.fast_next = true;
                None
            }
            OnError::FailCheck => c.record(false),
            OnError::SuddenDeath => {
                if c.up {
                    c.health = c.health.min(c.config.rise);
                }
                None
            }
            OnError::MarkDown => {
                c.health = 1;
                c.record(false)
            }
        };
        if change.is_some() {
            s.last_change = now;
        }
        st.account_change(key, now);
        change
    };
    if let Some(up) = change {
        announce(
            ctl,
            key,
            up,
            "reason: Health analyze, info: \"traffic errors reached error_limit\"",
        )
        .await;
    }
}

/// Steps of a slow start: the weight is pushed to the shards this many times.
const SLOWSTART_STEPS: u32 = 20;

/// Raises a server's weight to full over its slow start, pushing each step to the shards.
/// Ends early if the server leaves the ramp (goes DOWN again).
async fn ramp_weight(ctl: Rc<Ctl>, key: ServerKey, length: Duration) {
    let step = (length / SLOWSTART_STEPS).max(Duration::from_millis(50));
    loop {
        glommio::timer::sleep(step).await;
        let done = {
            let mut st = ctl.state.borrow_mut();
            let s = &mut st.servers[key.backend][key.server];
            match s.ramp {
                None => return,
                Some((start, len)) if start.elapsed() >= len => {
                    s.ramp = None;
                    true
                }
                Some(_) => false,
            }
        };
        let _ = ctl.push_view_to_shards(key).await;
        if done {
            return;
        }
    }
}

/// Logs a transition, pushes the new view to every shard and runs on_marked_down/up.
async fn announce(ctl: &Rc<Ctl>, key: ServerKey, up: bool, reason: &str) {
    let (name, backend_name, action_down, action_up, is_backup, left) = {
        let st = ctl.state.borrow();
        let be = &st.config.backends[key.backend];
        // Removed servers are in maintenance, so they are never left.
        let left = (0..be.servers.len())
            .filter(|&i| {
                let s = &st.servers[key.backend][i];
                s.admin == AdminState::Ready && s.op_up()
            })
            .partition::<Vec<usize>, _>(|&i| !be.servers[i].backup);
        (
            be.servers[key.server].name.clone(),
            be.name.clone(),
            be.on_marked_down,
            be.on_marked_up,
            be.servers[key.server].backup,
            (left.0.len(), left.1.len()),
        )
    };
    let (what, servers, severity) = if up {
        ("UP", "online", Severity::Notice)
    } else {
        ("DOWN", "left", Severity::Alert)
    };
    // HAProxy's wording, so that log tools that know its state lines know these.
    let line = format!(
        "Server {backend_name}/{name} is {what}, {reason}. {} active and {} backup servers \
         {servers}.",
        left.0, left.1
    );
    log::warn!("{line}");
    ctl.log.event(severity, &line);
    if !up && left == (0, 0) {
        let line = format!("backend {backend_name} has no server available!");
        log::error!("{line}");
        ctl.log.event(Severity::Emergency, &line);
    }
    announce_slowstart(ctl, key, up);
    if let Err(e) = ctl.push_view_to_shards(key).await {
        log::error!(
            "server {backend_name}/{name}: shards did not take the new state: {}",
            e.body().trim_end()
        );
    }
    if !up && action_down == OnMarkedDown::ShutdownSessions {
        match ctl.kill_server(key).await {
            Ok(n) => {
                log::info!("server {backend_name}/{name}: on_marked_down killed {n} stream(s)")
            }
            Err(e) => log::error!(
                "server {backend_name}/{name}: on_marked_down: {}",
                e.body().trim_end()
            ),
        }
    }
    if up && !is_backup && action_up == OnMarkedUp::ShutdownBackupSessions {
        kill_backup_streams(ctl, key.backend, &backend_name).await;
    }
}

/// On a transition of `key`: an UP server with a `slowstart` starts its weight ramp, a DOWN
/// server leaves any ramp it was on.
fn announce_slowstart(ctl: &Rc<Ctl>, key: ServerKey, up: bool) {
    let slowstart = {
        let mut st = ctl.state.borrow_mut();
        let slowstart = st.config.backends[key.backend].servers[key.server].slowstart;
        let s = &mut st.servers[key.backend][key.server];
        s.ramp = if up {
            slowstart.map(|d| (Instant::now(), d))
        } else {
            None
        };
        slowstart.filter(|_| up)
    };
    if let Some(length) = slowstart {
        glommio::spawn_local(ramp_weight(ctl.clone(), key, length)).detach();
    }
}

/// `on_marked_up: shutdown-backup-sessions`: kills the streams of every backup server of
/// `backend` (named `backend_name` in the log), one server after the other.
async fn kill_backup_streams(ctl: &Rc<Ctl>, backend: usize, backend_name: &str) {
    let backups: Vec<ServerKey> = {
        let st = ctl.state.borrow();
        st.config.backends[backend]
            .servers
            .iter()
            .enumerate()
            .filter(|(_, s)| s.backup)
            .map(|(i, _)| ServerKey { backend, server: i })
            .collect()
    };
    for b in backups {
        if let Ok(n) = ctl.kill_server(b).await {
            if n > 0 {
                log::info!("{backend_name}: on_marked_up killed {n} stream(s) on backup server");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(status_line_code(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(status_line_code(b"HTTP/1.0 503 Busy\r\n"), Some(503));
        assert_eq!(status_line_code(b"HTTP/1.1 20 OK\r\n"), None);
        assert_eq!(status_line_code(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(status_line_code(b""), None);
        assert_eq!(
            short_error("Connection refused (os error 111)"),
            "Connection refused"
        );
    }
}
