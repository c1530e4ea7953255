//! idle-conns: how much memory a proxy spends per idle keep-alive connection.
//!
//! For each proxy and mode (TCP, then HTTP): warm up with 100 short connections, read RSS,
//! open N client connections through it, each carrying one GET and its response and then
//! left idle, read RSS again, close them all and read it a third time. The growth divided
//! by N is the user-space cost of an idle connection (kernel socket buffers are not in
//! RSS). N is bounded by `ulimit -n`: each connection holds two descriptors in the proxy
//! and two in this process (client socket + origin socket).
//!
//! [`run_tls`] does the same with TLS connections (handshake done, one GET served) for
//! tls-keepalive, `--tls-idle-connections` of them, mode `tls`.

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, Semaphore};

use super::{start_contender, wait_until, Bench};
use crate::contender::{Mode, Name, Running, Setup};
use crate::load::Conn;
use crate::origin::{Kind, Origin};
use crate::pool::Pool;
use crate::record::{ErrorKind, Errors};
use crate::report::{IdleResult, ScenarioReport};
use crate::tls::TlsClient;

/// Connections opening at once per worker: enough to be quick, few enough not to overflow
/// listen backlogs (SYN drops would turn into 1 s retransmit stalls).
const CONNECTS_IN_FLIGHT: usize = 128;

/// Warm-up connections before the baseline RSS is read.
const WARM_CONNECTIONS: usize = 100;

/// Time allowed for memory to settle before each RSS reading.
const SETTLE: Duration = Duration::from_millis(500);

/// Most time a proxy gets to close the connections before RSS after close is read.
const CLOSE_LIMIT: Duration = Duration::from_secs(10);

/// Waits (bounded) until the proxy holds no more descriptors than before the connections
/// opened: RSS read while it is still closing them would count their memory as kept.
fn wait_closed(child: &crate::child::Child, fds_before: u64) {
    let deadline = Instant::now() + CLOSE_LIMIT;
    while child.usage().fds > fds_before + 8 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs idle-conns for every proxy contender.
pub fn run(b: &Bench) -> ScenarioReport {
    let o = b.opts;
    let limit = b.host.maxconn().saturating_sub(100) as usize;
    let n = o.idle_connections.min(limit).max(1);
    let mut report = ScenarioReport {
        name: "idle-conns".into(),
        description: format!(
            "{n} idle keep-alive connections (one GET each, {}-byte body), TCP and HTTP mode",
            o.body
        ),
        mode: "tcp+http".into(),
        unit: "connection".into(),
        ..ScenarioReport::default()
    };
    if n < o.idle_connections {
        report.notes.push(format!(
            "{} connections asked, {n} used: each needs two descriptors in the proxy and two here, \
             and ulimit -n is {}",
            o.idle_connections, b.host.nofile
        ));
    }
    let origin = match Origin::start(
        b.pool,
        SocketAddr::from(([127, 0, 0, 1], 0)),
        Kind::Http { body: o.body },
    ) {
        Ok(o) => o,
        Err(e) => {
            report.notes.push(format!("cannot start the origin: {e}"));
            return report;
        }
    };
    for mode in [Mode::Tcp, Mode::Http] {
        let setup = Setup {
            mode,
            servers: vec![origin.addr],
            admin: false,
            idle_timeout: crate::contender::IDLE_TIMEOUT,
            tls: None,
        };
        let mode_name = if mode == Mode::Tcp { "tcp" } else { "http" };
        let label = format!("idle-conns ({mode_name})");
        let mut skipped = Vec::new();
        for &name in b.contenders.iter().filter(|&&c| c != Name::Direct) {
            let Some(running) = start_contender(b, name, &setup, &label, &mut skipped) else {
                continue;
            };
            let r = measure_idle(b, &running, n, mode_name, None);
            report.idle.push(r);
            running.stop();
        }
        for mut s in skipped {
            s.contender = format!("{} ({mode_name})", s.contender);
            report.skipped.push(s);
        }
    }
    report
}

/// tls-keepalive's memory part: for every proxy contender, a fresh start with `setup`
/// (which terminates TLS), then `--tls-idle-connections` idle TLS connections measured as
/// above; rows (mode `tls`) and skips go into `report`.
pub fn run_tls(b: &Bench, setup: &Setup, tls: &TlsClient, report: &mut ScenarioReport) {
    let limit = b.host.maxconn().saturating_sub(100) as usize;
    let asked = b.opts.tls_idle_connections;
    let n = asked.min(limit).max(1);
    if n < asked {
        report.notes.push(format!(
            "{asked} idle TLS connections asked, {n} used: ulimit -n is {}",
            b.host.nofile
        ));
    }
    let mut skipped = Vec::new();
    for &name in b.contenders.iter().filter(|&&c| c != Name::Direct) {
        let Some(running) = start_contender(b, name, setup, "tls idle", &mut skipped) else {
            continue;
        };
        let mut r = measure_idle(b, &running, n, "tls", Some(tls));
        r.connections_requested = asked;
        report.idle.push(r);
        running.stop();
    }
    for s in skipped {
        if !report.skipped.iter().any(|k| k.contender == s.contender) {
            report.skipped.push(s);
        }
    }
}

fn measure_idle(
    b: &Bench,
    running: &Running,
    n: usize,
    mode: &str,
    tls: Option<&TlsClient>,
) -> IdleResult {
    let child = running.child.as_ref().expect("proxies only");
    let body = b.opts.body as u64;
    let what = format!("idle-conns ({mode}) · {}", running.name);
    b.progress.step(&format!("{what} · warm-up"));
    drop(Held::open(
        b.pool,
        running.addr,
        WARM_CONNECTIONS,
        body,
        b.opts.timeout,
        tls,
    ));
    std::thread::sleep(SETTLE);
    let before = child.usage();
    b.progress
        .step(&format!("{what} · opening {n} connections"));
    let held = Held::open(b.pool, running.addr, n, body, b.opts.timeout, tls);
    wait_until(b.progress, Instant::now() + SETTLE, &|_| {
        format!("{what} · holding {}", held.open)
    });
    let open = child.usage();
    let (opened, errors) = (held.open, held.errors);
    drop(held);
    b.progress.step(&format!("{what} · closing"));
    wait_closed(child, before.fds);
    std::thread::sleep(SETTLE * 2);
    let after = child.usage();
    let grown_bytes = open.rss_kib.saturating_sub(before.rss_kib) as f64 * 1024.0;
    IdleResult {
        contender: running.name.to_string(),
        mode: mode.into(),
        connections_requested: b.opts.idle_connections,
        connections_open: opened,
        errors,
        rss_before_kib: before.rss_kib,
        rss_open_kib: open.rss_kib,
        rss_after_close_kib: after.rss_kib,
        rss_bytes_per_conn: if opened > 0 {
            grown_bytes / opened as f64
        } else {
            0.0
        },
        cpu_us_per_conn: if opened > 0 {
            open.cpu_us.saturating_sub(before.cpu_us) as f64 / opened as f64
        } else {
            0.0
        },
    }
}

/// Connections opened on the pool's workers and held until this is dropped.
struct Held {
    open: usize,
    errors: Errors,
    release: Vec<oneshot::Sender<()>>,
}

impl Held {
    /// Opens `n` connections (spread over the workers), over TLS when `tls` is given, one
    /// GET each; returns once all are open or failed.
    fn open(
        pool: &Pool,
        addr: SocketAddr,
        n: usize,
        body: u64,
        timeout: Duration,
        tls: Option<&TlsClient>,
    ) -> Held {
        let (tx, rx) = mpsc::channel();
        let mut release = Vec::new();
        let workers = pool.len();
        for w in 0..workers {
            let count = n / workers + usize::from(w < n % workers);
            let (rel_tx, rel_rx) = oneshot::channel::<()>();
            release.push(rel_tx);
            let tx = tx.clone();
            let tls = tls.cloned();
            pool.spawn(
                w,
                Box::new(move || Box::pin(hold(addr, count, body, timeout, tls, tx, rel_rx))),
            );
        }
        drop(tx);
        let mut held = Held {
            open: 0,
            errors: Errors::default(),
            release,
        };
        let limit = Instant::now() + timeout * 4 + Duration::from_secs(n as u64 / 1000 + 10);
        for _ in 0..workers {
            match rx.recv_timeout(limit.saturating_duration_since(Instant::now())) {
                Ok((open, errors)) => {
                    held.open += open;
                    held.errors.merge(&errors);
                }
                Err(_) => break,
            }
        }
        held
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        for r in self.release.drain(..) {
            let _ = r.send(());
        }
    }
}

/// Read buffer of a held connection: a response head and body chunks stream through it.
const HELD_READ_BYTES: usize = 8 * 1024;

async fn hold(
    addr: SocketAddr,
    count: usize,
    body: u64,
    timeout: Duration,
    tls: Option<TlsClient>,
    report: mpsc::Sender<(usize, Errors)>,
    release: oneshot::Receiver<()>,
) {
    let gate = Rc::new(Semaphore::new(CONNECTS_IN_FLIGHT));
    // Resumption off: every held connection did a full handshake, as a first visit does.
    let config = tls.map(|t| TlsClient { resume: false, ..t }.config());
    let tasks: Vec<_> = (0..count)
        .map(|_| {
            let gate = gate.clone();
            let config = config.clone();
            tokio::task::spawn_local(async move {
                let _permit = gate.acquire().await;
                let once = async {
                    let mut c = Conn::open_with(addr, HELD_READ_BYTES, config.as_ref()).await?;
                    c.get(true, body).await?;
                    Ok::<Conn, ErrorKind>(c)
                };
                tokio::time::timeout(timeout, once)
                    .await
                    .unwrap_or(Err(ErrorKind::Timeout))
            })
        })
        .collect();
    let mut conns = Vec::with_capacity(count);
    let mut errors = Errors::default();
    for t in tasks {
        match t.await {
            Ok(Ok(c)) => conns.push(c),
            Ok(Err(kind)) => errors.add(kind),
            Err(_) => errors.add(ErrorKind::Reset),
        }
    }
    let _ = report.send((conns.len(), errors));
    let _ = release.await;
    drop(conns);
}
