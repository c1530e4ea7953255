//! The contenders — `direct` (no proxy), percore, HAProxy, nginx — and the equivalent
//! configuration each gets for a scenario: same listen address family, same servers, same
//! CPUs (every proxy process is pinned to the proxy CPUs at exec), one shard / thread /
//! worker per proxy CPU, no logging, 16 KiB buffers, connection pooling to the servers in
//! HTTP mode, and the same `maxconn`, derived from `ulimit -n` so that HAProxy accepts it.
//! With [`Setup::tls`], every proxy terminates TLS on its listener with the run's one
//! certificate (ALPN `http/1.1` in HTTP mode) and speaks plain TCP to the servers.

use std::fmt;
use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::child::{Child, NotReady, TempDir};
use crate::tls::TlsFiles;

/// How long a proxy may take to start.
const START_LIMIT: Duration = Duration::from_secs(10);

/// File descriptors kept aside from `maxconn`'s share (listeners, logs, admin, epoll).
const FD_RESERVE: u64 = 100;

/// Who is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Name {
    /// Client straight to the origin: the ceiling for every proxy row.
    Direct,
    /// The proxy under test.
    Percore,
    /// A second percore build (`--percore-b`), e.g. before/after a change, measured
    /// interleaved with the first under the same load.
    PercoreB,
    /// HAProxy, the reference the ratios are computed against.
    Haproxy,
    /// nginx.
    Nginx,
}

impl Name {
    /// Lower-case name used in tables, JSON and `--peers`.
    pub fn as_str(self) -> &'static str {
        match self {
            Name::Direct => "direct",
            Name::Percore => "percore",
            Name::PercoreB => "percore-b",
            Name::Haproxy => "haproxy",
            Name::Nginx => "nginx",
        }
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which layer the proxy works at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Byte stream (HAProxy `mode tcp`, nginx `stream {}`).
    Tcp,
    /// HTTP/1.1 with keep-alive and server connection reuse.
    Http,
}

/// What a scenario needs from a proxy.
#[derive(Debug, Clone)]
pub struct Setup {
    /// TCP or HTTP.
    pub mode: Mode,
    /// Servers of backend `app`, in order (`s1`, `s2`, …).
    pub servers: Vec<SocketAddr>,
    /// Start an admin socket (HAProxy `stats socket … level admin`, percore
    /// `global.admin.socket`).
    pub admin: bool,
    /// Client and server inactivity timeout: longer than any idle period of the scenario,
    /// or the proxy itself ends streams the scenario holds open on purpose.
    pub idle_timeout: Duration,
    /// Terminate TLS on the listener with this certificate; `None`: plain TCP.
    pub tls: Option<TlsFiles>,
}

/// Inactivity timeout of every scenario except kill, which holds idle streams longer.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Facts about the host every configuration depends on.
#[derive(Debug, Clone)]
pub struct Host {
    /// percore binary.
    pub percore: PathBuf,
    /// Second percore binary (`--percore-b`), if given.
    pub percore_b: Option<PathBuf>,
    /// haproxy binary, if installed.
    pub haproxy: Option<PathBuf>,
    /// nginx binary, if installed.
    pub nginx: Option<PathBuf>,
    /// How nginx gets its stream module: `Ok(None)` built in, `Ok(Some(path))` dynamic
    /// module to load, `Err(why)` unavailable.
    pub nginx_stream: Result<Option<PathBuf>, String>,
    /// CPUs of the proxy.
    pub proxy_cpus: Vec<usize>,
    /// `ulimit -n`.
    pub nofile: u64,
}

impl Host {
    /// Connection limit every proxy gets: half the descriptors (each stream holds a client
    /// and a server socket) minus a reserve, rounded down to 100. HAProxy refuses a
    /// `maxconn` whose descriptors exceed `ulimit -n`.
    pub fn maxconn(&self) -> u64 {
        (self.nofile.saturating_sub(FD_RESERVE) / 2 / 100 * 100).max(100)
    }
}

impl Host {
    /// A host for configuration tests: the proxy on `cpus`, 20 000 descriptors, no peers.
    #[cfg(test)]
    pub fn for_tests(cpus: &[usize]) -> Host {
        Host {
            percore: PathBuf::from("/bin/percore"),
            percore_b: None,
            haproxy: None,
            nginx: None,
            nginx_stream: Ok(None),
            proxy_cpus: cpus.to_vec(),
            nofile: 20_000,
        }
    }
}

/// Looks for a program in PATH and in the sbin directories (not always in a user's PATH).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(
            ["/usr/sbin", "/usr/local/sbin", "/sbin"]
                .iter()
                .map(PathBuf::from),
        )
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// How this nginx build provides `stream {}`.
pub fn nginx_stream_support(nginx: &Path) -> Result<Option<PathBuf>, String> {
    let out = Command::new(nginx)
        .arg("-V")
        .output()
        .map_err(|e| format!("cannot run {} -V: {e}", nginx.display()))?;
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    if text.contains("--with-stream ") || text.ends_with("--with-stream") {
        return Ok(None);
    }
    if !text.contains("--with-stream=dynamic") {
        return Err("this nginx is built without the stream module".into());
    }
    let dir = text
        .split_whitespace()
        .find_map(|a| a.strip_prefix("--modules-path="))
        .unwrap_or("/usr/lib/nginx/modules");
    let module = Path::new(dir).join("ngx_stream_module.so");
    if module.is_file() {
        Ok(Some(module))
    } else {
        Err(format!(
            "nginx's stream module is not installed ({} missing; Debian package \
             libnginx-mod-stream, which scripts/install-peers.sh installs)",
            module.display()
        ))
    }
}

/// First line a program prints for its version, for the report.
pub fn version(name: Name, host: &Host) -> Option<String> {
    let (bin, arg) = match name {
        Name::Direct => return None,
        Name::Percore => (host.percore.clone(), "--version"),
        Name::PercoreB => (host.percore_b.clone()?, "--version"),
        Name::Haproxy => (host.haproxy.clone()?, "-v"),
        Name::Nginx => (host.nginx.clone()?, "-v"),
    };
    let out = Command::new(bin).arg(arg).output().ok()?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    text.lines().next().map(|l| l.trim().to_string())
}

/// Why a contender did not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotRun {
    /// Expected: the feature or program is not there (HTTP mode in this percore build,
    /// nginx without stream module, no admin socket, peer not installed).
    Skipped(String),
    /// It should have run but failed to start.
    Failed(String),
}

impl NotRun {
    /// The text after `name: `.
    pub fn text(&self) -> String {
        match self {
            NotRun::Skipped(why) => format!("skipped ({why})"),
            NotRun::Failed(why) => format!("failed to start ({why})"),
        }
    }
}

/// A running contender: where clients connect, and the proxy process (none for direct).
pub struct Running {
    /// Which one.
    pub name: Name,
    /// Address clients connect to.
    pub addr: SocketAddr,
    /// The proxy process group.
    pub child: Option<Child>,
    /// Admin socket path, when asked for and available.
    pub admin: Option<PathBuf>,
    /// Configuration and logs; removed when the contender stops.
    _dir: Option<TempDir>,
}

impl Running {
    /// Stops the proxy and removes its files.
    pub fn stop(self) {
        if let Some(c) = self.child {
            c.stop();
        }
    }
}

/// A free loopback port (bound and released; the proxy binds it right after).
pub fn free_port() -> std::io::Result<SocketAddr> {
    TcpListener::bind("127.0.0.1:0")?.local_addr()
}

/// Starts `name` for `setup`.
pub fn start(name: Name, host: &Host, setup: &Setup) -> Result<Running, NotRun> {
    if name == Name::Direct {
        return Ok(Running {
            name,
            addr: setup.servers[0],
            child: None,
            admin: None,
            _dir: None,
        });
    }
    let failed = |e: std::io::Error| NotRun::Failed(e.to_string());
    let dir = TempDir::new(name.as_str()).map_err(failed)?;
    let addr = free_port().map_err(failed)?;
    let admin = setup.admin.then(|| dir.path().join("admin.sock"));
    let log = dir.path().join(format!("{name}.log"));
    let cpus = &host.proxy_cpus;
    let mut child = match name {
        Name::Direct => unreachable!("handled above"),
        Name::Percore | Name::PercoreB | Name::Haproxy => {
            let (file, text) = if name == Name::Haproxy {
                (
                    "haproxy.cfg",
                    haproxy_config(host, setup, addr, admin.as_deref()),
                )
            } else {
                (
                    "percore.yaml",
                    percore_config(host, setup, addr, admin.as_deref()),
                )
            };
            let path = dir.path().join(file);
            std::fs::write(&path, text).map_err(failed)?;
            let how = Launch {
                config: &path,
                addr,
                log,
                mode: setup.mode,
                master_worker: false,
            };
            launch(name, host, how).map_err(|e| match &setup.tls {
                Some(_) if name != Name::Haproxy => percore_tls_refusal(e),
                _ => e,
            })?
        }
        Name::Nginx => {
            let bin = host.nginx.as_ref().ok_or_else(|| missing("nginx"))?;
            let module = match (setup.mode, &host.nginx_stream) {
                (Mode::Http, _) => None,
                (Mode::Tcp, Ok(m)) => m.clone(),
                (Mode::Tcp, Err(why)) => return Err(NotRun::Skipped(why.clone())),
            };
            let path = dir.path().join("nginx.conf");
            std::fs::write(
                &path,
                nginx_config(host, setup, addr, dir.path(), module.as_deref()),
            )
            .map_err(failed)?;
            let mut cmd = Command::new(bin);
            cmd.arg("-p").arg(dir.path()).arg("-c").arg(&path);
            let mut c = Child::spawn("nginx", cmd, cpus, log, Signal::SIGTERM).map_err(failed)?;
            c.wait_ready(START_LIMIT, |_| accepts(addr))
                .map_err(|e| NotRun::Failed(e.text))?;
            c
        }
    };
    if let Some(sock) = &admin {
        if let Err(why) = wait_admin(&mut child, sock) {
            return Err(NotRun::Skipped(why));
        }
    }
    Ok(Running {
        name,
        addr,
        child: Some(child),
        admin,
        _dir: Some(dir),
    })
}

/// How [`launch`] starts a proxy.
pub struct Launch<'a> {
    /// Its configuration file.
    pub config: &'a Path,
    /// Where it serves once ready.
    pub addr: SocketAddr,
    /// Its stdout and stderr.
    pub log: PathBuf,
    /// The mode of the configuration (for percore's refusal text).
    pub mode: Mode,
    /// HAProxy in master-worker mode (`-W`): `SIGUSR2` to the master reloads it (soak).
    pub master_worker: bool,
}

/// Starts percore or HAProxy as `how` says and waits until it serves.
pub fn launch(name: Name, host: &Host, how: Launch) -> Result<Child, NotRun> {
    let failed = |e: std::io::Error| NotRun::Failed(e.to_string());
    let cpus = &host.proxy_cpus;
    match name {
        Name::Percore | Name::PercoreB => {
            let bin = match name {
                Name::PercoreB => host
                    .percore_b
                    .as_ref()
                    .ok_or_else(|| missing("percore-b"))?,
                _ => &host.percore,
            };
            let mut cmd = Command::new(bin);
            cmd.arg("run").arg("-c").arg(how.config);
            let mut c =
                Child::spawn("percore", cmd, cpus, how.log, Signal::SIGTERM).map_err(failed)?;
            let ready = c.wait_ready(START_LIMIT, |log| log.contains("] ready: "));
            if let Err(why) = ready {
                return Err(percore_refusal(how.mode, &why));
            }
            Ok(c)
        }
        Name::Haproxy => {
            let bin = host.haproxy.as_ref().ok_or_else(|| missing("haproxy"))?;
            let mut cmd = Command::new(bin);
            if how.master_worker {
                cmd.arg("-W");
            }
            cmd.arg("-f").arg(how.config).arg("-db");
            let mut c =
                Child::spawn("haproxy", cmd, cpus, how.log, Signal::SIGTERM).map_err(failed)?;
            let addr = how.addr;
            c.wait_ready(START_LIMIT, |_| accepts(addr))
                .map_err(|e| NotRun::Failed(e.text))?;
            Ok(c)
        }
        Name::Direct | Name::Nginx => Err(NotRun::Skipped(format!(
            "{name} is not started from a configuration file here"
        ))),
    }
}

fn missing(program: &str) -> NotRun {
    NotRun::Skipped(format!("{program} not found; run scripts/install-peers.sh"))
}

/// Turns percore's start-up failure into the reason shown: a refused `mode: http` (or
/// another "not supported yet" key) is an expected skip in builds without that feature.
fn percore_refusal(mode: Mode, why: &NotReady) -> NotRun {
    if why.first_line.contains("not supported yet") {
        let feature = if mode == Mode::Http && why.first_line.contains("mode") {
            "HTTP mode"
        } else {
            "a configuration key this scenario needs"
        };
        return NotRun::Skipped(format!(
            "{feature} not available in this build: {}",
            why.first_line
        ));
    }
    NotRun::Failed(why.text.clone())
}

/// A percore that refuses a TLS bind entry (a mapping where it expects an address, or an
/// unknown `tls` key) is a build without TLS termination: an expected skip, said plainly.
fn percore_tls_refusal(e: NotRun) -> NotRun {
    match e {
        NotRun::Failed(text)
            if text.contains(".bind") && (text.contains("mapping") || text.contains("tls")) =>
        {
            let line = text.split_once("): ").map_or(text.as_str(), |(_, l)| l);
            NotRun::Skipped(format!(
                "TLS termination not available in this build: {}",
                line.lines().next().unwrap_or(line)
            ))
        }
        other => other,
    }
}

/// True once `addr` accepts a TCP connection.
fn accepts(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// Waits (briefly) for the admin socket to accept connections.
pub fn wait_admin(child: &mut Child, sock: &Path) -> Result<(), String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        if std::os::unix::net::UnixStream::connect(sock).is_ok() {
            return Ok(());
        }
        if child.exited().is_some() || std::time::Instant::now() >= deadline {
            return Err(format!(
                "admin socket not available in this build: nothing listens on {} after start",
                sock.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The start of every generated percore file: a header naming `by`, and the `global`
/// settings all scenarios share (shards on the proxy CPUs, maxconn, grace, buffers).
pub fn percore_global(by: &str, host: &Host) -> String {
    let shards = host
        .proxy_cpus
        .iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let mut y = String::new();
    let _ = writeln!(y, "# {by}: generated, do not edit");
    let _ = writeln!(y, "global:");
    let _ = writeln!(y, "  shards: [{shards}]");
    let _ = writeln!(y, "  maxconn: {}", host.maxconn());
    let _ = writeln!(y, "  grace: 1s");
    let _ = writeln!(y, "  tune: {{ bufsize: 16k }}");
    y
}

/// percore YAML.
pub fn percore_config(
    host: &Host,
    setup: &Setup,
    addr: SocketAddr,
    admin: Option<&Path>,
) -> String {
    let mut y = percore_global("percore-bench", host);
    if let Some(sock) = admin {
        let _ = writeln!(y, "  admin: {{ socket: \"{}\" }}", sock.display());
    }
    let mode = match setup.mode {
        Mode::Tcp => "tcp",
        Mode::Http => "http",
    };
    let t = setup.idle_timeout.as_secs().max(1);
    let _ = writeln!(y, "defaults:");
    let _ = writeln!(y, "  mode: {mode}");
    match setup.mode {
        Mode::Tcp => {
            let _ = writeln!(
                y,
                "  timeout: {{ connect: 2s, client: {t}s, server: {t}s }}"
            );
        }
        Mode::Http => {
            let _ = writeln!(
                y,
                "  timeout: {{ connect: 2s, client: {t}s, server: {t}s, http_request: {t}s, \
                 http_keep_alive: {t}s }}"
            );
        }
    }
    let _ = writeln!(y, "frontends:");
    match &setup.tls {
        None => {
            let _ = writeln!(y, "  fe: {{ bind: \"{addr}\", default_backend: app }}");
        }
        Some(files) => {
            let _ = writeln!(y, "  fe:");
            let _ = writeln!(y, "    bind:");
            let _ = writeln!(y, "      - address: \"{addr}\"");
            let _ = writeln!(y, "        tls:");
            let _ = writeln!(y, "          certs: [\"{}\"]", files.combined.display());
            if setup.mode == Mode::Http {
                let _ = writeln!(y, "          alpn: [\"http/1.1\"]");
            }
            let _ = writeln!(y, "    default_backend: app");
        }
    }
    let _ = writeln!(y, "backends:");
    let _ = writeln!(y, "  app:");
    let _ = writeln!(y, "    balance: roundrobin");
    if setup.mode == Mode::Http {
        // As HAProxy's `http-reuse always`: any idle server connection serves any request.
        let _ = writeln!(y, "    http_reuse: always");
    }
    let _ = writeln!(y, "    servers:");
    for (i, s) in setup.servers.iter().enumerate() {
        let _ = writeln!(y, "      - {{ name: s{}, address: \"{s}\" }}", i + 1);
    }
    y
}

/// The start of every generated HAProxy file: a header naming `by`, and the `global`
/// settings all scenarios share (one thread per proxy CPU, pinned; maxconn; buffers).
pub fn haproxy_global(by: &str, host: &Host) -> String {
    let mut c = String::new();
    let _ = writeln!(c, "# {by}: generated, do not edit");
    let _ = writeln!(c, "global");
    let _ = writeln!(c, "    nbthread {}", host.proxy_cpus.len());
    for (i, cpu) in host.proxy_cpus.iter().enumerate() {
        let _ = writeln!(c, "    cpu-map 1/{} {cpu}", i + 1);
    }
    let _ = writeln!(c, "    maxconn {}", host.maxconn());
    let _ = writeln!(c, "    tune.bufsize 16384");
    c
}

/// HAProxy configuration.
pub fn haproxy_config(
    host: &Host,
    setup: &Setup,
    addr: SocketAddr,
    admin: Option<&Path>,
) -> String {
    let mut c = haproxy_global("percore-bench", host);
    if let Some(sock) = admin {
        let _ = writeln!(
            c,
            "    stats socket {} mode 600 level admin",
            sock.display()
        );
    }
    let t = setup.idle_timeout.as_secs().max(1);
    let _ = writeln!(c, "defaults");
    match setup.mode {
        Mode::Tcp => {
            let _ = writeln!(c, "    mode tcp");
        }
        Mode::Http => {
            let _ = writeln!(c, "    mode http");
            let _ = writeln!(c, "    option http-keep-alive");
            let _ = writeln!(c, "    http-reuse always");
            let _ = writeln!(c, "    timeout http-keep-alive {t}s");
            let _ = writeln!(c, "    timeout http-request {t}s");
        }
    }
    let _ = writeln!(c, "    timeout connect 2s");
    let _ = writeln!(c, "    timeout client {t}s");
    let _ = writeln!(c, "    timeout server {t}s");
    let _ = writeln!(c, "frontend fe");
    match (&setup.tls, setup.mode) {
        (None, _) => {
            let _ = writeln!(c, "    bind {addr}");
        }
        (Some(files), Mode::Http) => {
            let crt = files.combined.display();
            let _ = writeln!(c, "    bind {addr} ssl crt {crt} alpn http/1.1");
        }
        (Some(files), Mode::Tcp) => {
            let _ = writeln!(c, "    bind {addr} ssl crt {}", files.combined.display());
        }
    }
    let _ = writeln!(c, "    default_backend app");
    let _ = writeln!(c, "backend app");
    let _ = writeln!(c, "    balance roundrobin");
    for (i, s) in setup.servers.iter().enumerate() {
        let _ = writeln!(c, "    server s{} {s}", i + 1);
    }
    c
}

/// The start of every generated nginx file: a header naming `by`, the stream module if
/// needed, the main-context settings all scenarios share (foreground master, one worker per
/// proxy CPU, pinned; the pid file in `dir`; errors at `error_level` on stderr) and
/// `events {}`.
pub fn nginx_main(
    by: &str,
    host: &Host,
    dir: &Path,
    stream_module: Option<&Path>,
    error_level: &str,
) -> String {
    let workers = host.proxy_cpus.len();
    let cpu_max = host.proxy_cpus.iter().copied().max().unwrap_or(0);
    let masks: Vec<String> = host
        .proxy_cpus
        .iter()
        .map(|&cpu| {
            (0..=cpu_max)
                .rev()
                .map(|i| if i == cpu { '1' } else { '0' })
                .collect()
        })
        .collect();
    let d = dir.display();
    let mut c = String::new();
    let _ = writeln!(c, "# {by}: generated, do not edit");
    if let Some(m) = stream_module {
        let _ = writeln!(c, "load_module {};", m.display());
    }
    let _ = writeln!(c, "daemon off;");
    let _ = writeln!(c, "master_process on;");
    let _ = writeln!(c, "worker_processes {workers};");
    let _ = writeln!(c, "worker_cpu_affinity {};", masks.join(" "));
    let _ = writeln!(c, "worker_rlimit_nofile {};", host.nofile);
    let _ = writeln!(c, "pid {d}/nginx.pid;");
    let _ = writeln!(c, "error_log stderr {error_level};");
    let _ = writeln!(
        c,
        "events {{ worker_connections {}; }}",
        host.maxconn() * 2 + 50
    );
    c
}

/// nginx configuration: `http {}` with upstream keep-alive, or `stream {}` for TCP.
pub fn nginx_config(
    host: &Host,
    setup: &Setup,
    addr: SocketAddr,
    dir: &Path,
    stream_module: Option<&Path>,
) -> String {
    let mut c = nginx_main("percore-bench", host, dir, stream_module, "warn");
    let d = dir.display();
    let servers: String = setup
        .servers
        .iter()
        .map(|s| format!("        server {s};\n"))
        .collect();
    let (listen, tls) = match &setup.tls {
        None => (
            format!("listen {addr} reuseport backlog=4096;"),
            String::new(),
        ),
        Some(files) => (
            format!("listen {addr} ssl reuseport backlog=4096;"),
            format!(
                "        ssl_certificate {};\n        ssl_certificate_key {};\n        \
                 ssl_protocols TLSv1.2 TLSv1.3;\n        ssl_session_tickets on;\n",
                files.cert.display(),
                files.key.display()
            ),
        ),
    };
    let t = setup.idle_timeout.as_secs().max(1);
    match setup.mode {
        Mode::Http => {
            let _ = writeln!(c, "http {{");
            let _ = writeln!(c, "    access_log off;");
            for t in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"] {
                let _ = writeln!(c, "    {t}_temp_path {d}/{t}_temp;");
            }
            let _ = writeln!(c, "    keepalive_requests 1000000;");
            let _ = writeln!(c, "    keepalive_timeout {t}s;");
            let _ = writeln!(c, "    upstream app {{");
            let _ = write!(c, "{servers}");
            let _ = writeln!(c, "        keepalive 1024;");
            let _ = writeln!(c, "        keepalive_requests 1000000;");
            let _ = writeln!(c, "    }}");
            let _ = writeln!(c, "    server {{");
            let _ = writeln!(c, "        {listen}");
            let _ = write!(c, "{tls}");
            let _ = writeln!(c, "        location / {{");
            let _ = writeln!(c, "            proxy_pass http://app;");
            let _ = writeln!(c, "            proxy_http_version 1.1;");
            let _ = writeln!(c, "            proxy_set_header Connection \"\";");
            let _ = writeln!(c, "            proxy_connect_timeout 2s;");
            let _ = writeln!(c, "            proxy_read_timeout {t}s;");
            let _ = writeln!(c, "            proxy_send_timeout {t}s;");
            let _ = writeln!(c, "            proxy_max_temp_file_size 0;");
            let _ = writeln!(c, "        }}");
            let _ = writeln!(c, "    }}");
            let _ = writeln!(c, "}}");
        }
        Mode::Tcp => {
            let _ = writeln!(c, "stream {{");
            let _ = writeln!(c, "    upstream app {{");
            let _ = write!(c, "{servers}");
            let _ = writeln!(c, "    }}");
            let _ = writeln!(c, "    server {{");
            let _ = writeln!(c, "        {listen}");
            let _ = write!(c, "{tls}");
            let _ = writeln!(c, "        proxy_pass app;");
            let _ = writeln!(c, "        proxy_connect_timeout 2s;");
            let _ = writeln!(c, "        proxy_timeout {t}s;");
            let _ = writeln!(c, "        proxy_buffer_size 16k;");
            let _ = writeln!(c, "    }}");
            let _ = writeln!(c, "}}");
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> Host {
        Host::for_tests(&[1, 3])
    }

    fn setup(mode: Mode) -> Setup {
        Setup {
            mode,
            servers: vec![
                "127.0.0.1:9001".parse().expect("addr"),
                "127.0.0.1:9002".parse().expect("addr"),
            ],
            admin: true,
            idle_timeout: IDLE_TIMEOUT,
            tls: None,
        }
    }

    fn tls_setup(mode: Mode) -> Setup {
        Setup {
            admin: false,
            tls: Some(TlsFiles {
                combined: "/t/site.pem".into(),
                cert: "/t/cert.pem".into(),
                key: "/t/key.pem".into(),
            }),
            ..setup(mode)
        }
    }

    #[test]
    fn tls_configs_terminate_with_the_one_certificate() {
        let h = host();
        let addr: SocketAddr = "127.0.0.1:7443".parse().expect("addr");
        let p = percore_config(&h, &tls_setup(Mode::Http), addr, None);
        assert!(
            p.contains(
                "  fe:\n    bind:\n      - address: \"127.0.0.1:7443\"\n        tls:\n          \
                 certs: [\"/t/site.pem\"]\n          alpn: [\"http/1.1\"]\n    \
                 default_backend: app\n"
            ),
            "{p}"
        );
        let pt = percore_config(&h, &tls_setup(Mode::Tcp), addr, None);
        assert!(
            pt.contains("certs: [\"/t/site.pem\"]") && !pt.contains("alpn"),
            "{pt}"
        );
        let ha = haproxy_config(&h, &tls_setup(Mode::Http), addr, None);
        assert!(
            ha.contains("    bind 127.0.0.1:7443 ssl crt /t/site.pem alpn http/1.1\n"),
            "{ha}"
        );
        let hat = haproxy_config(&h, &tls_setup(Mode::Tcp), addr, None);
        assert!(
            hat.contains("    bind 127.0.0.1:7443 ssl crt /t/site.pem\n"),
            "{hat}"
        );
        let dir = Path::new("/tmp/d");
        for mode in [Mode::Http, Mode::Tcp] {
            let ng = nginx_config(&h, &tls_setup(mode), addr, dir, None);
            for line in [
                "listen 127.0.0.1:7443 ssl reuseport backlog=4096;",
                "ssl_certificate /t/cert.pem;",
                "ssl_certificate_key /t/key.pem;",
                "ssl_session_tickets on;",
            ] {
                assert!(ng.contains(line), "{line} missing in {ng}");
            }
        }
        let plain = nginx_config(&h, &setup(Mode::Http), addr, dir, None);
        assert!(!plain.contains("ssl"), "{plain}");
    }

    #[test]
    fn percore_without_tls_is_a_skip() {
        let line =
            "/tmp/x/percore.yaml:8:9: frontends.fe.bind[0]: expected a string, found a mapping";
        let failed = NotRun::Failed(format!("percore exited (exit status: 2): {line}"));
        assert_eq!(
            percore_tls_refusal(failed),
            NotRun::Skipped(format!(
                "TLS termination not available in this build: {line}"
            ))
        );
        let other = NotRun::Failed("percore exited: cannot bind 127.0.0.1:1".into());
        assert_eq!(percore_tls_refusal(other.clone()), other);
    }

    #[test]
    fn maxconn_fits_the_descriptor_limit() {
        let h = host();
        assert_eq!(h.maxconn(), 9_900);
        assert!(
            2 * h.maxconn() + 14 <= h.nofile,
            "HAProxy needs 2 × maxconn + a few fds"
        );
    }

    #[test]
    fn configs_agree_on_cpus_servers_and_limits() {
        let h = host();
        let addr: SocketAddr = "127.0.0.1:7000".parse().expect("addr");
        let sock = Path::new("/tmp/a.sock");
        let p = percore_config(&h, &setup(Mode::Tcp), addr, Some(sock));
        assert!(p.contains("shards: [1, 3]") && p.contains("maxconn: 9900"));
        assert!(p.contains("mode: tcp") && p.contains("name: s2, address: \"127.0.0.1:9002\""));
        assert!(p.contains("admin: { socket: \"/tmp/a.sock\" }") && !p.contains("http_reuse"));
        let ph = percore_config(&h, &setup(Mode::Http), addr, None);
        assert!(ph.contains("mode: http") && ph.contains("http_reuse: always"));
        assert!(ph.contains("http_keep_alive: 30s"));
        let ha = haproxy_config(&h, &setup(Mode::Http), addr, Some(sock));
        assert!(ha.contains("nbthread 2") && ha.contains("cpu-map 1/2 3"));
        assert!(ha.contains("http-reuse always") && ha.contains("level admin"));
        assert!(ha.contains("server s1 127.0.0.1:9001") && ha.contains("maxconn 9900"));
        let ng = nginx_config(&h, &setup(Mode::Http), addr, Path::new("/tmp/d"), None);
        assert!(
            ng.contains("worker_processes 2;") && ng.contains("worker_cpu_affinity 0010 1000;")
        );
        assert!(ng.contains("proxy_http_version 1.1;") && ng.contains("keepalive 1024;"));
        let ngs = nginx_config(
            &h,
            &setup(Mode::Tcp),
            addr,
            Path::new("/tmp/d"),
            Some(Path::new("/m/s.so")),
        );
        assert!(ngs.starts_with("# percore-bench") && ngs.contains("load_module /m/s.so;"));
        assert!(ngs.contains("stream {") && !ngs.contains("http {"));
    }

    #[test]
    fn percore_http_refusal_is_a_skip() {
        let line = "/tmp/x/percore.yaml:8:9: defaults.mode: mode http is not supported yet";
        let why = NotReady {
            text: format!("percore exited (exit status: 2): {line}"),
            first_line: line.into(),
        };
        match percore_refusal(Mode::Http, &why) {
            NotRun::Skipped(text) => {
                assert_eq!(
                    text,
                    format!("HTTP mode not available in this build: {line}")
                );
            }
            other => panic!("{other:?}"),
        }
        let bind = NotReady {
            text: "percore exited: cannot bind".into(),
            first_line: "cannot bind".into(),
        };
        assert!(matches!(
            percore_refusal(Mode::Tcp, &bind),
            NotRun::Failed(_)
        ));
    }
}
