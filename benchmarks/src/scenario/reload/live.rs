//! A proxy of the reload scenario while it runs, and how each contender is reloaded and
//! upgraded:
//!
//! | | reload | upgrade |
//! |---|---|---|
//! | percore | `reload` on the admin socket, reply `Reloaded …` | `upgrade` on the admin socket (same binary), reply `Upgraded to … (pid N)`: N serves from then on |
//! | HAProxy | SIGUSR2 to the master (`-W`), done at its next `Loading success.` | the same: the master re-executes itself |
//! | nginx | SIGHUP to the master, done at its next `start worker processes` | SIGUSR2: a new master on the inherited listeners; once its workers start, SIGWINCH and SIGQUIT to the old master |
//!
//! nginx runs in the foreground (`daemon off`) in the harness's process group. It ignores
//! SIGUSR2 while its parent is the process that started it (ngx_process.c: "the changing
//! binary signal is ignored"), so it is started through a shell that exits once nginx wrote
//! its pid file ([`start_nginx`]). SIGWINCH is ignored by a master that is not daemonized
//! (it only acts `if (ngx_daemonized)`): SIGQUIT then stops the old workers gracefully.
//! Every process stays in the group the harness started, so [`Child`] stops them all.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::config::{self, Layout, Variant};
use crate::child::{Child, TempDir};
use crate::contender::{self, Host, Launch, Mode, Name, NotRun};
use crate::scenario::soak::{faults::admin_command, haproxy_reload};

/// How long nginx may take to confirm a reload or start a new master's workers.
const NGINX_CONFIRM_LIMIT: Duration = Duration::from_secs(10);
/// How long a proxy may take to start.
const START_LIMIT: Duration = Duration::from_secs(10);
/// The log line of an nginx master starting its workers (at start, reload, new binary).
const NGINX_WORKERS_STARTED: &str = "start worker processes";

/// A running reload-scenario proxy.
pub struct Live {
    /// Which contender.
    pub name: Name,
    /// The process group the harness started (every later process of the proxy is in it).
    pub child: Child,
    /// Where clients connect.
    pub http: SocketAddr,
    /// The process signals and `show info` concern: percore's serving process, HAProxy's
    /// and nginx's master.
    pub pid: i32,
    /// Reloads done: the configuration is [`Variant::after`] this.
    pub reloads: usize,
    host: Host,
    servers: [SocketAddr; 3],
    config: PathBuf,
    admin: PathBuf,
    log: PathBuf,
    dir: TempDir,
}

impl Live {
    /// Writes the first configuration and starts `name` in front of `servers`.
    pub fn start(host: &Host, name: Name, servers: [SocketAddr; 3]) -> Result<Live, NotRun> {
        let failed = |e: std::io::Error| NotRun::Failed(e.to_string());
        let dir = TempDir::new(&format!("reload-{name}")).map_err(failed)?;
        let file = match name {
            Name::Haproxy => "haproxy.cfg",
            Name::Nginx => "nginx.conf",
            _ => "percore.yaml",
        };
        let (config, admin) = (dir.path().join(file), dir.path().join("admin.sock"));
        let log = dir.path().join(format!("{name}.log"));
        let http = contender::free_port().map_err(failed)?;
        let layout = Layout {
            http,
            servers,
            admin: &admin,
            dir: dir.path(),
        };
        write_config(name, host, &layout, 0, &config).map_err(NotRun::Failed)?;
        let (child, pid) = if name == Name::Nginx {
            let proxy_conf = dir.path().join("proxy.conf");
            std::fs::write(proxy_conf, config::nginx_proxy_conf()).map_err(failed)?;
            let child = start_nginx(host, &layout, &config, log.clone())?;
            let pid = read_pid(&dir.path().join("nginx.pid"))
                .ok_or_else(|| NotRun::Failed("nginx wrote no pid file".into()))?;
            (child, pid)
        } else {
            let how = Launch {
                config: &config,
                addr: http,
                log: log.clone(),
                mode: Mode::Http,
                master_worker: true,
            };
            let mut child = contender::launch(name, host, how)?;
            contender::wait_admin(&mut child, &admin).map_err(NotRun::Failed)?;
            let pid = child.pid();
            (child, pid)
        };
        Ok(Live {
            name,
            child,
            http,
            pid,
            reloads: 0,
            host: host.clone(),
            servers,
            config,
            admin,
            log,
            dir,
        })
    }

    /// Everything the proxy wrote so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops every process of the proxy and removes its files.
    pub fn stop(self) {
        self.child.stop();
        drop(self.dir);
    }

    /// Moves to the next configuration generation and reloads; `Ok` carries the time from
    /// the command (or signal) to its confirmation.
    pub fn reload(&mut self) -> Result<Duration, String> {
        self.reloads += 1;
        self.write_config()?;
        let t = Instant::now();
        match self.name {
            Name::Haproxy => haproxy_reload(self.pid, &self.log)?,
            Name::Nginx => {
                let before = self.log_text().matches(NGINX_WORKERS_STARTED).count();
                signal(self.pid, Signal::SIGHUP)?;
                self.nginx_wait_workers(before)?;
            }
            _ => {
                let reply = admin_command(&self.admin, "reload")?;
                if !reply.starts_with("Reloaded") {
                    return Err(format!("reload: {:?}", reply.trim()));
                }
            }
        }
        Ok(t.elapsed())
    }

    /// A binary upgrade with the same binary and configuration; `Ok` carries the time from
    /// the command (or signal) until the new process serves. [`Live::pid`] is the new
    /// process's from then on.
    pub fn upgrade(&mut self) -> Result<Duration, String> {
        let t = Instant::now();
        match self.name {
            Name::Haproxy => haproxy_reload(self.pid, &self.log)?,
            Name::Nginx => {
                let took = self.nginx_upgrade()?;
                return Ok(took);
            }
            _ => {
                let reply = admin_command(&self.admin, "upgrade")?;
                self.pid = upgraded_pid(&reply)?;
            }
        }
        Ok(t.elapsed())
    }

    /// SIGUSR2 to the master; once the new master (its pid in `nginx.pid`, the old one's in
    /// `nginx.pid.oldbin`) started its workers, SIGWINCH and SIGQUIT to the old master.
    fn nginx_upgrade(&mut self) -> Result<Duration, String> {
        let pid_file = self.dir.path().join("nginx.pid");
        let before = self.log_text().matches(NGINX_WORKERS_STARTED).count();
        let t = Instant::now();
        signal(self.pid, Signal::SIGUSR2)?;
        self.nginx_wait_workers(before)?;
        let took = t.elapsed();
        let new = read_pid(&pid_file)
            .filter(|&p| p != self.pid)
            .ok_or_else(|| {
                format!(
                    "nginx: no new master in {} after SIGUSR2",
                    pid_file.display()
                )
            })?;
        // Ignored by a foreground master (module doc); sent as the documented procedure says.
        signal(self.pid, Signal::SIGWINCH)?;
        signal(self.pid, Signal::SIGQUIT)?;
        self.pid = new;
        Ok(took)
    }

    /// Waits until the log has more "start worker processes" lines than `before`.
    fn nginx_wait_workers(&self, before: usize) -> Result<(), String> {
        let deadline = Instant::now() + NGINX_CONFIRM_LIMIT;
        while Instant::now() < deadline {
            let log = self.log_text();
            if log.matches(NGINX_WORKERS_STARTED).count() > before {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Err(format!(
            "nginx: no new \"{NGINX_WORKERS_STARTED}\" within {NGINX_CONFIRM_LIMIT:?}"
        ))
    }

    fn write_config(&self) -> Result<(), String> {
        let layout = Layout {
            http: self.http,
            servers: self.servers,
            admin: &self.admin,
            dir: self.dir.path(),
        };
        write_config(self.name, &self.host, &layout, self.reloads, &self.config)
    }
}

/// Writes the configuration of generation `reloads` for `name` to `path`.
fn write_config(
    name: Name,
    host: &Host,
    layout: &Layout,
    reloads: usize,
    path: &Path,
) -> Result<(), String> {
    let v = Variant::after(reloads);
    let text = match name {
        Name::Haproxy => config::haproxy(host, layout, v),
        Name::Nginx => config::nginx(host, layout, v),
        _ => config::percore(host, layout, v),
    };
    std::fs::write(path, text).map_err(|e| format!("rewrite: {e}"))
}

/// Starts nginx through a shell that exits once nginx wrote its pid file, so that nginx's
/// parent is no longer the process that started it and it honours SIGUSR2 (module doc).
fn start_nginx(host: &Host, l: &Layout, config: &Path, log: PathBuf) -> Result<Child, NotRun> {
    let bin = host
        .nginx
        .as_ref()
        .ok_or_else(|| NotRun::Skipped("nginx not found; run scripts/install-peers.sh".into()))?;
    let mut cmd = Command::new("/bin/sh");
    // At most 10 s of 50 ms waits for the pid file.
    cmd.arg("-c")
        .arg(
            "p=$1; shift; \"$@\" & i=0; \
             while [ ! -s \"$p\" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done",
        )
        .arg("sh")
        .arg(l.dir.join("nginx.pid"))
        .arg(bin)
        .arg("-p")
        .arg(l.dir)
        .arg("-c")
        .arg(config);
    let mut c = Child::spawn("nginx", cmd, &host.proxy_cpus, log, Signal::SIGTERM)
        .map_err(|e| NotRun::Failed(e.to_string()))?;
    let addr = l.http;
    c.wait_ready(START_LIMIT, |_| {
        std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
    })
    .map_err(|e| NotRun::Failed(e.text))?;
    Ok(c)
}

/// The new process's pid from percore's `Upgraded to … (pid N), which …` reply.
fn upgraded_pid(reply: &str) -> Result<i32, String> {
    if !reply.starts_with("Upgraded to ") {
        return Err(format!("upgrade: {:?}", reply.trim()));
    }
    reply
        .split("(pid ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("upgrade: no pid in {:?}", reply.trim()))
}

fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn signal(pid: i32, sig: Signal) -> Result<(), String> {
    kill(Pid::from_raw(pid), sig).map_err(|e| format!("{sig} to {pid}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_new_pid_comes_from_the_upgrade_reply() {
        let ok = "Upgraded to ./percore (pid 4243), which now serves every listener and the \
                  admin socket; this process (pid 4242) stopped accepting and exits once its \
                  streams end, within 10s.\n";
        assert_eq!(upgraded_pid(ok), Ok(4243));
        assert!(upgraded_pid("Upgrade failed: x; this process keeps serving.").is_err());
    }
}
