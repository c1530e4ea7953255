//! `percore demo`: two built-in origins on loopback and a proxy in front of them, configured
//! by an embedded YAML file, so a new user sees percore work with one command.

use std::net::{SocketAddr, TcpListener};

use percore_conf::Config;

use crate::origin;
use crate::runtime::{self, RunError};

/// The embedded configuration; `{PORT}`, `{ALPHA}`, `{BETA}`, `{SOCKET}` are filled in at
/// start.
pub const DEMO_CONFIG: &str = include_str!("demo.yaml");

/// Port the demo proxy prefers; an ephemeral one is used if it is taken.
pub const DEMO_PORT: u16 = 8080;

/// The demo's admin socket, in the current directory.
pub const DEMO_SOCKET: &str = "percore-demo.sock";

/// Runs the demo until Ctrl-C.
pub fn run(port: Option<u16>) -> Result<(), RunError> {
    let signals = runtime::block_signals();
    let loopback = |p| SocketAddr::from(([127, 0, 0, 1], p));
    let alpha = origin::spawn("alpha", loopback(0)).map_err(RunError::Thread)?;
    let beta = origin::spawn("beta", loopback(0)).map_err(RunError::Thread)?;
    let port = port.unwrap_or_else(|| {
        if TcpListener::bind(loopback(DEMO_PORT)).is_ok() {
            DEMO_PORT
        } else {
            0
        }
    });
    let text = DEMO_CONFIG
        .replace("{PORT}", &port.to_string())
        .replace("{ALPHA}", &alpha.addr.to_string())
        .replace("{BETA}", &beta.addr.to_string())
        .replace("{SOCKET}", DEMO_SOCKET);
    let config: Config = percore_conf::parse("<demo>", &text, &runtime::host_info())
        .map_err(|e| RunError::Failed(format!("embedded demo config is invalid: {e}")))?;
    let running = runtime::start(config, None, signals, Default::default())?;
    let addr = running
        .listening
        .first()
        .map(|(_, a)| *a)
        .unwrap_or(loopback(port));
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| {
            let cwd = std::env::current_dir().ok()?;
            Some(
                p.strip_prefix(&cwd)
                    .map(|r| format!("./{}", r.display()))
                    .unwrap_or_else(|_| p.display().to_string()),
            )
        })
        .unwrap_or_else(|| "percore".into());
    let ctl = format!("{exe} ctl -s {DEMO_SOCKET}");
    crate::output::stdout(&format!(
        "\npercore demo is running.\n\
         \n  proxy         http://{addr}/   (HTTP mode: / round-robins alpha and beta, /api/ goes to beta)\n  \
         origins       alpha at {} and beta at {}\n  \
         admin socket  {DEMO_SOCKET}  (HAProxy stats-socket commands)\n\
         \nTry:\n  \
         curl http://{addr}/hello                        # repeat: alpha and beta take turns\n  \
         curl -i http://{addr}/api/users                 # routed by path to beta only\n  \
         {ctl} -t show stat          # live counters per frontend, backend, server\n  \
         {ctl} set server app/alpha state maint   # then curl: only beta answers\n  \
         {ctl} shutdown sessions server app/beta  # kill beta's live streams on every shard\n  \
         {ctl}                       # interactive admin prompt (help lists commands)\n\
         \nCtrl-C stops gracefully. The embedded configuration is engine/src/demo.yaml; \
         `percore run -c FILE` runs yours.\n",
        alpha.addr, beta.addr
    ));
    running.wait()
}
