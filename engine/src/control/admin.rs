//! The admin socket server: unix sockets (and optional loopback TCP listeners) speaking
//! HAProxy's stats-socket protocol, served by the control plane's executor.
//!
//! One task per connection; a slow or silent client only ever delays its own task (reads
//! and writes have deadlines), never a shard or another client. Lines are bounded by
//! `LINE_BYTES_MAX`; concurrent connections per listener by [`ADMIN_CONNS_MAX`].
//!
//! The socket file is created without a window in which it is reachable with the wrong
//! mode: it is bound inside a fresh 0700 directory next to the target path, chmod-ed, then
//! renamed into place (atomically replacing a stale socket). A path held by a live process
//! is refused. The configuration allows paths up to the 107 bytes a socket address holds;
//! the private directory makes the staged path longer, so a staged path that does not fit
//! is bound through the directory's descriptor (`/proc/self/fd/N/s`).

use std::cell::Cell;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use glommio::net::{TcpListener, UnixListener};
use percore_admin::{
    parse, split_commands, Command, Level, ReplyWriter, LINE_BYTES_MAX, LINE_TOO_LONG,
};

use super::exec::Ctl;

/// Concurrent connections per admin listener; more are closed at once.
pub const ADMIN_CONNS_MAX: usize = 64;
/// Name of the socket file inside the private directory it is first bound in.
const STAGED_NAME: &str = "s";
/// A connection that sends nothing for this long is closed.
const ADMIN_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
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

/// Binds the unix socket `path` with permission bits `mode`.
pub fn bind_unix(path: &Path, mode: u32) -> Result<(UnixListener, SocketFile), String> {
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
fn bind_staged(private: &Path, staged: &Path) -> Result<UnixListener, String> {
    if staged.as_os_str().len() <= percore_conf::limits::UNIX_SOCKET_PATH_BYTES_MAX {
        return UnixListener::bind(staged).map_err(|e| e.to_string());
    }
    let dir = std::fs::File::open(private).map_err(|e| e.to_string())?;
    let short = format!("/proc/self/fd/{}/{STAGED_NAME}", dir.as_raw_fd());
    UnixListener::bind(&short).map_err(|e| format!("{e} (bound as {short})"))
}

/// Accepts on a unix admin socket forever.
pub async fn serve_unix(ctl: Rc<Ctl>, listener: UnixListener, level: Level) {
    let live = Rc::new(Cell::new(0usize));
    loop {
        match listener.accept().await {
            Ok(stream) => spawn_conn(&ctl, &live, stream, level),
            Err(e) => {
                log::warn!("admin socket accept failed: {e}");
                glommio::timer::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Accepts on a TCP admin listener forever.
pub async fn serve_tcp(ctl: Rc<Ctl>, listener: TcpListener, level: Level) {
    let live = Rc::new(Cell::new(0usize));
    loop {
        match listener.accept().await {
            Ok(stream) => spawn_conn(&ctl, &live, stream, level),
            Err(e) => {
                log::warn!("admin TCP accept failed: {e}");
                glommio::timer::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

fn spawn_conn<S>(ctl: &Rc<Ctl>, live: &Rc<Cell<usize>>, stream: S, level: Level)
where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
{
    if live.get() >= ADMIN_CONNS_MAX {
        log::warn!("admin connection refused: {ADMIN_CONNS_MAX} already open");
        return;
    }
    live.set(live.get() + 1);
    let (ctl, live) = (ctl.clone(), live.clone());
    glommio::spawn_local(async move {
        serve_conn(&ctl, stream, level).await;
        live.set(live.get() - 1);
    })
    .detach();
}

/// One admin connection: HAProxy framing (see `percore_admin::ReplyWriter`).
async fn serve_conn<S>(ctl: &Rc<Ctl>, mut stream: S, level: Level)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = vec![0u8; 16 * 1024];
    let mut writer = ReplyWriter::new(false);
    // `set timeout cli` changes it for this connection only, as HAProxy's.
    let mut idle_timeout = ADMIN_IDLE_TIMEOUT;
    loop {
        while let Some(lf) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=lf).collect();
            let line = String::from_utf8_lossy(&line[..lf]).into_owned();
            if line.len() > LINE_BYTES_MAX {
                writer.push_error(&LINE_TOO_LONG);
                let _ = send(&mut stream, &mut writer).await;
                return;
            }
            run_line(ctl, &line, level, &mut writer, &mut idle_timeout).await;
            if send(&mut stream, &mut writer).await.is_err() {
                return;
            }
            if writer.close_after_line(buf.contains(&b'\n')) {
                return;
            }
        }
        if buf.len() > LINE_BYTES_MAX {
            writer.push_error(&LINE_TOO_LONG);
            let _ = send(&mut stream, &mut writer).await;
            return;
        }
        let read = glommio::timer::timeout(idle_timeout, async {
            stream
                .read(&mut chunk)
                .await
                .map_err(glommio::GlommioError::from)
        })
        .await;
        match read {
            // EOF: a last line without LF is discarded, as HAProxy does.
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

async fn run_line(
    ctl: &Rc<Ctl>,
    line: &str,
    level: Level,
    writer: &mut ReplyWriter,
    idle_timeout: &mut Duration,
) {
    for part in split_commands(line) {
        if writer.is_closed() {
            break;
        }
        match parse(&part, level) {
            Ok(Command::Prompt) => writer.toggle_prompt(),
            Ok(Command::Quit) => writer.quit(),
            Ok(Command::SetTimeoutCli(t)) => {
                *idle_timeout = t;
                writer.push_result(&Ok(String::new()));
            }
            Ok(cmd) => {
                let result = ctl.execute(cmd, level).await;
                writer.push_result(&result);
            }
            Err(e) => writer.push_error(&e),
        }
    }
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
