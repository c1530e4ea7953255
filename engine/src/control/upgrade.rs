//! The old process's side of a binary upgrade (`upgrade [<binary>]`, SIGUSR2); the protocol
//! and the new process's side are in `crate::upgrade`.
//!
//! ```text
//!  upgrade ──> duplicate every listening socket (shards: DupListeners; admin sockets)
//!          ──> start `<binary> run -c <file>`, send it the sockets
//!          ──> wait for its answer (at most READY_TIMEOUT)
//!                 ├─ failed / exit / timeout ──> kill it, reply the error, keep serving
//!                 └─ ready <pid> ──> stop accepting on the admin sockets and every frontend
//!                                    (the sockets stay open: queued connections are the
//!                                    new process's), reply, then soft-stop (SIGUSR1's path:
//!                                    HTTP responses say `Connection: close`, streams get
//!                                    `global.grace`, the rest is killed, exit 0)
//! ```
//!
//! The soft stop is asked for once the reply is written ([`Upgrade::stop_if_done`]), so
//! that the operator gets the reply before the process goes. Admin socket files handed
//! over are not removed at exit: they are the new process's.

use std::cell::{Cell, RefCell};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use futures_lite::AsyncReadExt;
use percore_admin::ErrorReply;

use super::exec::Ctl;
use super::ProcessRequest;
use crate::rings::msg::{Op, Reply};
use crate::upgrade::{self as handoff, Answer, Handed, Spawned, MESSAGE_BYTES_MAX};

/// After the new process ended its side of the channel, how long its exit status is
/// waited for (the error names it), in steps of [`EXIT_POLL`].
const EXIT_WAIT: Duration = Duration::from_secs(1);
/// Interval of the exit-status polls.
const EXIT_POLL: Duration = Duration::from_millis(10);

/// The control plane's upgrade state.
#[derive(Default)]
pub struct Upgrade {
    /// The binary the process was started from (the default of `upgrade`).
    exe: RefCell<Option<PathBuf>>,
    /// Where the soft stop is asked for.
    stop: RefCell<Option<thingbuf::mpsc::Sender<ProcessRequest>>>,
    /// A new process took over: stop once the reply is out.
    done: Cell<bool>,
}

impl Upgrade {
    /// Records the default binary and where to ask for the stop.
    pub fn set_up(&self, exe: Option<PathBuf>, stop: thingbuf::mpsc::Sender<ProcessRequest>) {
        *self.exe.borrow_mut() = exe;
        *self.stop.borrow_mut() = Some(stop);
    }

    /// After a successful upgrade's reply: asks for this process's soft stop, once.
    pub fn stop_if_done(&self) {
        if !self.done.replace(false) {
            return;
        }
        if let Some(tx) = self.stop.borrow().as_ref() {
            if tx.try_send(ProcessRequest::Stop).is_err() {
                log::error!("upgrade: cannot ask for the soft stop; send SIGUSR1");
            }
        }
    }
}

/// The reply of a failed upgrade (the process keeps serving).
fn failed(detail: &str) -> ErrorReply {
    ErrorReply::from_string(format!(
        "Upgrade failed: {}; this process keeps serving.\n",
        detail.trim_end()
    ))
}

impl Ctl {
    /// `upgrade [<binary>]` and SIGUSR2: starts `binary` (default: the one this process was
    /// started from) on the configuration file, hands it every listening socket, and once
    /// it is ready stops accepting and soft-stops. Any failure leaves this process serving
    /// and is the reply. One at a time, and not with a reload or during a stop.
    pub async fn upgrade(self: &Rc<Self>, binary: Option<PathBuf>) -> Result<String, ErrorReply> {
        let _changing = self.begin_change()?;
        let result = self.upgrade_to(binary).await;
        match &result {
            Ok(line) => log::info!("{}", line.trim_end()),
            Err(e) => log::warn!("{}", e.body().trim_end()),
        }
        result
    }

    async fn upgrade_to(self: &Rc<Self>, binary: Option<PathBuf>) -> Result<String, ErrorReply> {
        let (binary, config) = self.upgrade_target(binary).map_err(|e| failed(&e))?;
        let sockets = self.handed_sockets().await.map_err(|e| failed(&e))?;
        log::info!(
            "upgrade: starting {} with {} socket(s)",
            binary.display(),
            sockets.len()
        );
        let spawned = handoff::spawn(&binary, &config, &sockets).map_err(|e| failed(&e))?;
        drop(sockets);
        let new_pid = wait_ready(spawned, &binary).await.map_err(|e| failed(&e))?;
        self.hand_over().await;
        self.upgrade.done.set(true);
        let grace = self.state.borrow().config.global.grace;
        Ok(format!(
            "Upgraded to {} (pid {new_pid}), which now serves every listener and the admin \
             socket; this process (pid {}) stopped accepting and exits once its streams \
             end, within {}.\n",
            binary.display(),
            std::process::id(),
            percore_conf::format_duration(grace)
        ))
    }

    /// The binary to start and the configuration file it is to run.
    fn upgrade_target(&self, binary: Option<PathBuf>) -> Result<(PathBuf, PathBuf), String> {
        let Some(config) = self.state.borrow().path.clone() else {
            return Err(
                "this process runs an embedded configuration (percore demo): \
                        an upgrade needs a configuration file"
                    .into(),
            );
        };
        let binary = binary
            .or_else(|| self.upgrade.exe.borrow().clone())
            .ok_or("the path of this process's binary is unknown: give one (upgrade <binary>)")?;
        Ok((binary, config))
    }

    /// A duplicate of every listening socket, described for the new process: each shard's
    /// frontend listeners (paused ones too), then the admin sockets and the metrics one.
    async fn handed_sockets(&self) -> Result<Vec<(Handed, OwnedFd)>, String> {
        let replies = self
            .broadcast_replies(Op::DupListeners)
            .await
            .map_err(|e| e.body().trim_end().to_string())?;
        let mut out = Vec::new();
        let st = self.state.borrow();
        for dup in replies.into_iter().flat_map(|r| match r {
            Reply::Listeners(l) => l,
            _ => Vec::new(),
        }) {
            // SAFETY: the shard duplicated this descriptor for this reply alone and gave it
            // up (into_raw_fd); nothing else owns it.
            let fd = unsafe { OwnedFd::from_raw_fd(dup.fd) };
            let frontend = st.config.frontends[dup.frontend].name.clone();
            let what = Handed::Listener {
                configured: dup.configured,
                addr: dup.addr,
                frontend,
            };
            out.push((what, fd));
        }
        for entry in self.admin.borrow().iter() {
            let fd = entry
                .socket
                .try_clone()
                .map_err(|e| format!("duplicating an admin socket: {e}"))?;
            out.push((entry.endpoint.clone(), fd));
        }
        if let Some(m) = self.metrics.borrow().as_ref() {
            let fd = m
                .socket
                .try_clone()
                .map_err(|e| format!("duplicating the metrics socket: {e}"))?;
            out.push((Handed::Metrics(m.configured), fd));
        }
        Ok(out)
    }

    /// The new process is ready: stop accepting on the admin sockets (their files are the
    /// new process's now), on the metrics socket and on every frontend. The sockets themselves stay open here
    /// until exit, so that nothing queued in them is lost.
    async fn hand_over(&self) {
        // From now on this process is stopping: no reload or second upgrade may start
        // (`begin_change`), even on an admin connection that is still open.
        self.stopping.set(true);
        for entry in self.admin.borrow_mut().iter_mut() {
            if let Some(t) = entry.task.take() {
                t.cancel();
            }
            entry.file = None;
        }
        // The socket stays open with the endpoint: a scrape queued in it is the new
        // process's to accept.
        if let Some(m) = self.metrics.borrow_mut().as_mut() {
            m.task.cancel();
        }
        self.set_every_frontend_accepting(false, "upgrade").await;
    }

    /// Stops every admin accept loop and removes the socket files still this process's.
    pub fn close_admin(&self) {
        for entry in self.admin.borrow_mut().drain(..) {
            if let Some(t) = entry.task {
                t.cancel();
            }
            if let Some(f) = entry.file {
                f.remove_file();
            }
        }
    }
}

/// Waits for the new process's answer, at most [`handoff::READY_TIMEOUT`]; its pid once it
/// is ready. On any other outcome it is killed (if still running) and reaped, and the
/// error says what happened.
async fn wait_ready(spawned: Spawned, binary: &std::path::Path) -> Result<u32, String> {
    let Spawned {
        mut child,
        channel,
        send_error,
    } = spawned;
    let pid = child.id();
    let answer = match send_error {
        Some(_) => Ok(None),
        None => {
            glommio::timer::timeout(handoff::READY_TIMEOUT, async {
                Ok(read_answer(channel).await)
            })
            .await
        }
    };
    let shown = binary.display();
    let why = match answer {
        Ok(Some(Answer::Ready(p))) => {
            // Never waited for: it outlives this process.
            drop(child);
            return Ok(p);
        }
        Ok(Some(Answer::Failed(e))) => format!("{shown} (pid {pid}): {e}"),
        Ok(None) => match (exit_status(&mut child).await, send_error) {
            (Some(st), _) => format!("{shown} (pid {pid}) exited before it was ready ({st})"),
            (None, Some(e)) => format!("{shown} (pid {pid}) did not take the sockets: {e}"),
            (None, None) => {
                format!("{shown} (pid {pid}) closed the upgrade channel before it was ready")
            }
        },
        Err(_) => format!(
            "{shown} (pid {pid}) was not ready within {}",
            percore_conf::format_duration(handoff::READY_TIMEOUT)
        ),
    };
    if child.try_wait().ok().flatten().is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    Err(why)
}

/// The one answer message on `channel`; `None` at end of file or on anything else.
async fn read_answer(channel: OwnedFd) -> Option<Answer> {
    if crate::accept::set_nonblocking(channel.as_fd()).is_err() {
        return None;
    }
    // SAFETY: `channel` is a connected unix socket owned here; the stream takes it over.
    let mut stream = unsafe {
        <glommio::net::UnixStream as FromRawFd>::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(
            channel,
        ))
    };
    let mut buf = vec![0u8; MESSAGE_BYTES_MAX];
    // A seqpacket socket: one read is one whole message.
    match stream.read(&mut buf).await {
        Ok(n) if n > 0 => Answer::decode(&buf[..n]),
        _ => None,
    }
}

/// The exit status of `child`, if it exits within [`EXIT_WAIT`].
async fn exit_status(child: &mut std::process::Child) -> Option<std::process::ExitStatus> {
    let mut waited = Duration::ZERO;
    while waited < EXIT_WAIT {
        if let Ok(Some(st)) = child.try_wait() {
            return Some(st);
        }
        glommio::timer::sleep(EXIT_POLL).await;
        waited += EXIT_POLL;
    }
    None
}
