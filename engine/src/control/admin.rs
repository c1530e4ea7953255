//! The admin socket server: unix sockets (and optional loopback TCP listeners) speaking
//! HAProxy's stats-socket protocol, served by the control plane's executor.
//!
//! One task per connection; a slow or silent client only ever delays its own task (each
//! command line must arrive within `global.timeout.cli`, replies are written within a
//! deadline), never a shard or another client. Lines are bounded by `LINE_BYTES_MAX`;
//! concurrent connections per listener by [`ADMIN_CONNS_MAX`], where a new connection takes
//! the slot of the longest idle one. Refusals, such closes and accept errors are warned
//! about through the control plane's rate limits (`control::warnings`).
//!
//! The socket file is created without a window in which it is reachable with the wrong
//! mode: it is bound inside a fresh 0700 directory next to the target path, chmod-ed, then
//! renamed into place (atomically replacing a stale socket). A path held by a live process
//! is refused. The configuration allows paths up to the 107 bytes a socket address holds;
//! the private directory makes the staged path longer, so a staged path that does not fit
//! is bound through the directory's descriptor (`/proc/self/fd/N/s`).

use std::cell::RefCell;
use std::io;
use std::ops::ControlFlow;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use percore_admin::{
    parse_with_payload, split_commands, Command, Level, ReplyWriter, LINE_BYTES_MAX, LINE_TOO_LONG,
};

use super::exec::Ctl;
use super::warnings::Warnings;

/// Concurrent connections per admin listener. At the limit a new connection takes the slot
/// of the one that has waited longest for a command (so an operator can always get in), or
/// is closed at once if every one is running a command.
pub const ADMIN_CONNS_MAX: usize = 64;
/// Name of the socket file inside the private directory it is first bound in.
const STAGED_NAME: &str = "s";
/// A client that does not read its reply within this is dropped.
const ADMIN_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// The file of a bound admin unix socket, identified by inode, for removal at exit.
pub struct SocketFile {
    /// Path of the socket file.
    pub path: PathBuf,
    ino: (u64, u64),
}

impl SocketFile {
    /// Removes the socket file if it is still ours (not replaced by another process).
    pub fn remove_file(&self) {
        if let Ok(m) = std::fs::symlink_metadata(&self.path) {
            if (m.dev(), m.ino()) == self.ino {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

/// One open admin listener of the control plane.
pub struct AdminEntry {
    /// What it is, as an upgrade describes it to the new process.
    pub endpoint: crate::upgrade::Handed,
    /// The listening socket (non-blocking).
    pub socket: Rc<OwnedFd>,
    /// A unix socket's file, removed at exit unless an upgrade handed it over.
    pub file: Option<SocketFile>,
    /// Its accept loop; `None` once it stopped accepting (after an upgrade).
    pub task: Option<glommio::task::JoinHandle<()>>,
}

impl SocketFile {
    /// The file of the unix socket at `path` that this process took over from the one it
    /// upgraded (bound there already), with permission bits `mode`.
    pub fn adopt(path: &Path, mode: u32) -> Result<SocketFile, String> {
        let shown = path.display();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| format!("admin socket {shown}: {e}"))?;
        let m =
            std::fs::symlink_metadata(path).map_err(|e| format!("admin socket {shown}: {e}"))?;
        Ok(SocketFile {
            path: path.to_path_buf(),
            ino: (m.dev(), m.ino()),
        })
    }
}

/// Binds the unix socket `path` with permission bits `mode`; the socket is non-blocking.
pub fn bind_unix(path: &Path, mode: u32) -> Result<(OwnedFd, SocketFile), String> {
    let shown = path.display();
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(format!(
                    "admin socket {shown} is in use by a running process (another percore?)"
                ));
            }
            // Stale socket from a previous run: replaced by the rename below.
        }
        Ok(_) => {
            return Err(format!(
                "admin socket path {shown} exists and is not a socket"
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("admin socket {shown}: {e}")),
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| format!("admin socket path {shown} has no file name"))?;
    let private = parent.join(format!(
        ".{}.percore-{}.tmp",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&private);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&private)
        .map_err(|e| {
            format!(
                "admin socket {shown}: cannot create {}: {e}",
                private.display()
            )
        })?;
    let staged = private.join(STAGED_NAME);
    let result = (|| {
        let listener = bind_staged(&private, &staged)?;
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(mode))
            .map_err(|e| e.to_string())?;
        std::fs::rename(&staged, path).map_err(|e| e.to_string())?;
        let m = std::fs::symlink_metadata(path).map_err(|e| e.to_string())?;
        Ok::<_, String>((
            listener,
            SocketFile {
                path: path.to_path_buf(),
                ino: (m.dev(), m.ino()),
            },
        ))
    })();
    let _ = std::fs::remove_dir_all(&private);
    result.map_err(|e| format!("admin socket {shown}: {e}"))
}

/// Binds a unix listener at `staged`, the file [`STAGED_NAME`] in directory `private`. A
/// staged path longer than a socket address holds is reached through a descriptor of the
/// directory as `/proc/self/fd/N/s` instead, which the kernel resolves to the same file.
fn bind_staged(private: &Path, staged: &Path) -> Result<OwnedFd, String> {
    let listener = if staged.as_os_str().len() <= percore_conf::limits::UNIX_SOCKET_PATH_BYTES_MAX {
        UnixListener::bind(staged).map_err(|e| e.to_string())?
    } else {
        let dir = std::fs::File::open(private).map_err(|e| e.to_string())?;
        let short = format!("/proc/self/fd/{}/{STAGED_NAME}", dir.as_raw_fd());
        UnixListener::bind(&short).map_err(|e| format!("{e} (bound as {short})"))?
    };
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    Ok(OwnedFd::from(listener))
}

/// One admin listener as its accept loop and its connections see it.
pub struct Listener {
    /// Names the listener in warnings (`admin socket ./p.sock`).
    name: String,
    /// What its clients may do.
    level: Level,
    /// Its open connections, at most [`ADMIN_CONNS_MAX`].
    conns: Rc<RefCell<Conns>>,
    /// The control plane's warning limits.
    warnings: Rc<Warnings>,
}

impl Listener {
    /// The listener called `name` (in warnings), serving clients at `level`.
    pub fn new(name: String, level: Level, warnings: &Rc<Warnings>) -> Self {
        Self {
            name,
            level,
            conns: Rc::new(RefCell::new(Conns::default())),
            warnings: warnings.clone(),
        }
    }

    /// A slot for a new connection: a free one, else the one of the connection that has
    /// waited longest for a command (closed for it), else none (the new one is refused).
    fn admit(&self, now: Instant) -> Option<ConnSlot> {
        let mut conns = self.conns.borrow_mut();
        if conns.entries.len() >= ADMIN_CONNS_MAX {
            let Some(idle) = conns.close_oldest_idle(now) else {
                self.warnings.admin_refused.warn(now, || {
                    format!(
                        "{}: connection refused: {ADMIN_CONNS_MAX} already open, none idle",
                        self.name
                    )
                });
                return None;
            };
            self.warnings.admin_dropped.warn(now, || {
                format!(
                    "{}: {ADMIN_CONNS_MAX} connections open: closed the one idle for {} \
                     for a new one",
                    self.name,
                    percore_conf::format_duration(idle)
                )
            });
        }
        Some(conns.insert(&self.conns, now))
    }

    /// A failed `accept`: a rate-limited warning.
    fn warn_accept(&self, e: &dyn std::fmt::Display) {
        self.warnings.admin_accept.warn(Instant::now(), || {
            format!("{}: accept failed: {e}", self.name)
        });
    }
}

/// The open connections of one admin listener, in accept order.
#[derive(Default)]
struct Conns {
    /// At most [`ADMIN_CONNS_MAX`]; an entry leaves when its task ends or is closed here.
    entries: Vec<ConnEntry>,
    /// Id of the next connection.
    next_id: u64,
}

/// One open admin connection.
struct ConnEntry {
    id: u64,
    /// Since when it waits for a command line; `None` while it runs one or writes a reply.
    waiting_since: Option<Instant>,
    /// Its task, cancelled (which closes the socket) when a new connection takes its slot.
    task: Option<glommio::task::JoinHandle<()>>,
}

impl Conns {
    /// Registers a connection that waits for its first command from `now`.
    fn insert(&mut self, conns: &Rc<RefCell<Conns>>, now: Instant) -> ConnSlot {
        assert!(
            self.entries.len() < ADMIN_CONNS_MAX,
            "admitted over the limit"
        );
        let id = self.next_id;
        self.next_id += 1;
        self.entries.push(ConnEntry {
            id,
            waiting_since: Some(now),
            task: None,
        });
        ConnSlot {
            conns: conns.clone(),
            id,
        }
    }

    /// Closes the connection that has waited longest for a command; how long it waited.
    /// Connections running a command are never closed: their reply is on its way.
    fn close_oldest_idle(&mut self, now: Instant) -> Option<Duration> {
        let (i, since) = self
            .entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.waiting_since.map(|since| (i, since)))
            .min_by_key(|&(_, since)| since)?;
        let entry = self.entries.remove(i);
        if let Some(task) = entry.task {
            task.cancel();
        }
        Some(now.saturating_duration_since(since))
    }

    fn entry(&mut self, id: u64) -> Option<&mut ConnEntry> {
        self.entries.iter_mut().find(|e| e.id == id)
    }
}

/// A connection's place in [`Conns`], given back when its task ends (or is cancelled).
struct ConnSlot {
    conns: Rc<RefCell<Conns>>,
    id: u64,
}

impl ConnSlot {
    /// Marks the connection as waiting for a command since `since` (`None`: running one).
    fn set_waiting(&self, since: Option<Instant>) {
        if let Some(e) = self.conns.borrow_mut().entry(self.id) {
            e.waiting_since = since;
        }
    }
}

/// Leaves [`Conns`] unless a new connection already took the slot.
impl Drop for ConnSlot {
    fn drop(&mut self) {
        self.conns.borrow_mut().entries.retain(|e| e.id != self.id);
    }
}

/// Accepts on a unix admin socket forever (cancel-safe: `crate::accept`).
pub async fn serve_unix(ctl: Rc<Ctl>, listener: Rc<OwnedFd>, admin: Listener) {
    let mut ready = glommio::net::Readiness::new(listener.as_fd());
    loop {
        match crate::accept::accept::<glommio::net::UnixStream>(listener.as_fd(), &mut ready).await
        {
            Ok((stream, _peer)) => spawn_conn(&ctl, &admin, stream),
            Err(e) => {
                admin.warn_accept(&e);
                glommio::timer::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Accepts on a TCP admin listener forever (cancel-safe: `crate::accept`).
pub async fn serve_tcp(ctl: Rc<Ctl>, listener: Rc<OwnedFd>, admin: Listener) {
    let mut ready = glommio::net::Readiness::new(listener.as_fd());
    loop {
        match crate::accept::accept::<glommio::net::TcpStream>(listener.as_fd(), &mut ready).await {
            Ok((stream, _peer)) => spawn_conn(&ctl, &admin, stream),
            Err(e) => {
                admin.warn_accept(&e);
                glommio::timer::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Serves `stream` in its own task if [`Listener::admit`] finds it a slot; else closes it.
fn spawn_conn<S>(ctl: &Rc<Ctl>, admin: &Listener, stream: S)
where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let Some(slot) = admin.admit(Instant::now()) else {
        return;
    };
    let (ctl, level, id) = (ctl.clone(), admin.level, slot.id);
    let task = glommio::spawn_local(async move {
        serve_conn(&ctl, stream, level, &slot).await;
    })
    .detach();
    if let Some(e) = admin.conns.borrow_mut().entry(id) {
        e.task = Some(task);
    }
}

/// One admin connection: HAProxy framing (see `percore_admin::ReplyWriter`).
///
/// Each command line must arrive whole within the connection's cli timeout
/// (`global.timeout.cli`, or `set timeout cli`), counted from its first byte, or from the
/// end of the previous reply while nothing comes: more bytes of the same line do not
/// extend it, so a client dripping bytes cannot hold its slot for ever.
async fn serve_conn<S>(ctl: &Rc<Ctl>, mut stream: S, level: Level, slot: &ConnSlot)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut conn = ConnState {
        buf: Vec::with_capacity(1024),
        writer: ReplyWriter::new(false),
        cli_timeout: ctl.state.borrow().config.global.timeout.cli,
    };
    let mut chunk = vec![0u8; 16 * 1024];
    let mut deadline = Instant::now() + conn.cli_timeout;
    loop {
        if conn.buf.contains(&b'\n') {
            slot.set_waiting(None);
            if run_lines(ctl, &mut stream, level, &mut conn)
                .await
                .is_break()
            {
                return;
            }
            let now = Instant::now();
            slot.set_waiting(Some(now));
            deadline = now + conn.cli_timeout;
        }
        if conn.buf.len() > LINE_BYTES_MAX {
            conn.writer.push_error(&LINE_TOO_LONG);
            let _ = send(&mut stream, &mut conn.writer).await;
            return;
        }
        let line_starts = conn.buf.is_empty();
        // EOF: a last line without LF is discarded, as HAProxy does.
        let Some(n) = read_by(&mut stream, &mut chunk, deadline).await else {
            return;
        };
        conn.buf.extend_from_slice(&chunk[..n]);
        if line_starts {
            deadline = Instant::now() + conn.cli_timeout;
        }
    }
}

/// What one admin connection carries from line to line.
struct ConnState {
    /// Bytes read and not yet run: at most one partial line plus what one read brought.
    buf: Vec<u8>,
    /// Replies, prompt mode and `quit`.
    writer: ReplyWriter,
    /// `set timeout cli` changes it for this connection only, as HAProxy's.
    cli_timeout: Duration,
}

/// Runs and answers every complete line in `conn.buf`; `Break` when the connection ends
/// (a line too long, a reply that cannot be written, the end of a non-interactive line).
async fn run_lines<S>(
    ctl: &Rc<Ctl>,
    stream: &mut S,
    level: Level,
    conn: &mut ConnState,
) -> ControlFlow<()>
where
    S: AsyncWrite + Unpin,
{
    while let Some(lf) = conn.buf.iter().position(|&b| b == b'\n') {
        let Some((line, payload)) = take_line(&mut conn.buf, lf) else {
            // A payload still arriving: read on (the buffer's bound still holds).
            return ControlFlow::Continue(());
        };
        if line.len() > LINE_BYTES_MAX {
            conn.writer.push_error(&LINE_TOO_LONG);
            let _ = send(stream, &mut conn.writer).await;
            return ControlFlow::Break(());
        }
        let line = Line {
            text: &line,
            payload: payload.as_deref(),
        };
        let upgraded = run_line(ctl, line, level, &mut conn.writer, &mut conn.cli_timeout).await;
        let sent = send(stream, &mut conn.writer).await;
        // An `upgrade` that succeeded stops this process only now that its reply is out.
        if upgraded {
            ctl.upgrade.stop_if_done();
        }
        if sent.is_err() {
            return ControlFlow::Break(());
        }
        if conn.writer.close_after_line(conn.buf.contains(&b'\n')) {
            return ControlFlow::Break(());
        }
    }
    ControlFlow::Continue(())
}

/// One request line and, when it ended with `<<`, its payload.
struct Line<'a> {
    text: &'a str,
    payload: Option<&'a str>,
}

/// Takes the line ending at `lf` out of `buf`. A line ending with `<<` takes the lines after
/// it up to an empty one as its payload (HAProxy 2.6); `None` while that empty line has not
/// arrived (nothing is taken then).
fn take_line(buf: &mut Vec<u8>, lf: usize) -> Option<(String, Option<String>)> {
    let first = String::from_utf8_lossy(&buf[..lf]);
    let Some(command) = first.trim_end_matches(['\r', ' ']).strip_suffix("<<") else {
        let line = first.into_owned();
        buf.drain(..=lf);
        return Some((line, None));
    };
    let command = command.to_owned();
    let mut at = lf + 1;
    loop {
        let next = buf[at..].iter().position(|&b| b == b'\n')? + at;
        let empty = buf[at..next].iter().all(|&b| b == b'\r');
        if empty {
            let payload = String::from_utf8_lossy(&buf[lf + 1..at]).replace('\r', "");
            buf.drain(..=next);
            return Some((command, Some(payload)));
        }
        at = next + 1;
    }
}

/// Reads what comes before `deadline`; `None` at EOF, on an error or once it passed.
async fn read_by<S: AsyncRead + Unpin>(
    stream: &mut S,
    chunk: &mut [u8],
    deadline: Instant,
) -> Option<usize> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return None;
    }
    let read = glommio::timer::timeout(left, async {
        stream
            .read(chunk)
            .await
            .map_err(glommio::GlommioError::from)
    })
    .await;
    match read {
        Ok(0) | Err(_) => None,
        Ok(n) => Some(n),
    }
}

/// Commands of one line run before the control plane serves its other tasks and I/O.
const COMMANDS_PER_TURN: usize = 32;

/// Runs the commands of one line into `writer`; whether one of them was `upgrade`.
async fn run_line(
    ctl: &Rc<Ctl>,
    line: Line<'_>,
    level: Level,
    writer: &mut ReplyWriter,
    cli_timeout: &mut Duration,
) -> bool {
    let mut upgraded = false;
    let parts = split_commands(line.text);
    let last = parts.len() - 1;
    for (i, part) in parts.into_iter().enumerate() {
        if writer.is_closed() {
            break;
        }
        // A 16 KiB line holds thousands of commands (an unknown one costs ~20 us of
        // keyword ranking): other connections and the shards' replies get their turn.
        if i > 0 && i % COMMANDS_PER_TURN == 0 {
            glommio::executor().yield_task_queue_now().await;
        }
        // The payload is the last command's.
        let payload = if i == last { line.payload } else { None };
        match parse_with_payload(&part, payload, level) {
            Ok(Command::Prompt) => writer.toggle_prompt(),
            Ok(Command::Quit) => writer.quit(),
            Ok(Command::SetTimeoutCli(t)) => {
                *cli_timeout = t;
                writer.push_result(&Ok(String::new()));
            }
            Ok(cmd) => {
                upgraded |= matches!(cmd, Command::Upgrade(_));
                let result = ctl.execute(cmd, level).await;
                writer.push_result(&result);
            }
            Err(e) => writer.push_error(&e),
        }
    }
    upgraded
}

async fn send<S: AsyncWrite + Unpin>(stream: &mut S, writer: &mut ReplyWriter) -> Result<(), ()> {
    let out = writer.take_output();
    if out.is_empty() {
        return Ok(());
    }
    glommio::timer::timeout(ADMIN_WRITE_TIMEOUT, async {
        stream
            .write_all(out.as_bytes())
            .await
            .map_err(glommio::GlommioError::from)?;
        stream.flush().await.map_err(glommio::GlommioError::from)
    })
    .await
    .map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_listener(t0: Instant) -> (Listener, Vec<ConnSlot>) {
        let admin = Listener::new("test".into(), Level::Admin, &Rc::new(Warnings::default()));
        let slots = (0..ADMIN_CONNS_MAX)
            .map(|i| {
                let at = t0 + Duration::from_millis(i as u64);
                admin.admit(at).expect("a free slot")
            })
            .collect();
        (admin, slots)
    }

    #[test]
    fn at_the_limit_the_longest_idle_connection_makes_room() {
        let t0 = Instant::now();
        let (admin, slots) = full_listener(t0);
        // The first two run a command; the third has waited longest of the others.
        slots[0].set_waiting(None);
        slots[1].set_waiting(None);
        let newest = admin.admit(t0 + Duration::from_secs(1)).expect("room made");
        let ids: Vec<u64> = admin.conns.borrow().entries.iter().map(|e| e.id).collect();
        assert_eq!(ids.len(), ADMIN_CONNS_MAX);
        assert!(
            !ids.contains(&slots[2].id),
            "the longest idle one was closed"
        );
        assert!(ids.contains(&slots[0].id) && ids.contains(&slots[1].id));
        assert!(ids.contains(&newest.id));
        // Its task ending later does not free another's slot.
        let closed_id = slots[2].id;
        drop(slots);
        assert!(admin
            .conns
            .borrow()
            .entries
            .iter()
            .all(|e| e.id != closed_id));
        assert_eq!(
            admin.conns.borrow().entries.len(),
            1,
            "only the newest is left"
        );
    }

    #[test]
    fn when_every_connection_runs_a_command_a_new_one_is_refused() {
        let t0 = Instant::now();
        let (admin, slots) = full_listener(t0);
        for slot in &slots {
            slot.set_waiting(None);
        }
        assert!(admin.admit(t0 + Duration::from_secs(1)).is_none());
        // A reply sent: that connection waits again, and may make room.
        slots[5].set_waiting(Some(t0 + Duration::from_secs(2)));
        assert!(admin.admit(t0 + Duration::from_secs(3)).is_some());
        assert!(admin
            .conns
            .borrow()
            .entries
            .iter()
            .all(|e| e.id != slots[5].id));
    }
}
