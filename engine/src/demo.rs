//! `percore demo`: two built-in origins on loopback and a proxy in front of them, configured
//! by an embedded YAML file, so a new user sees percore work with one command.

use std::net::{SocketAddr, TcpListener};

use percore_conf::Config;

use crate::origin;
use crate::runtime::{self, RunError};

/// The embedded configuration; `{PORT}`, `{ALPHA}`, `{BETA}` are filled in at start.
pub const DEMO_CONFIG: &str = include_str!("demo.yaml");

/// Port the demo proxy prefers; an ephemeral one is used if it is taken.
pub const DEMO_PORT: u16 = 8080;

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
        .replace("{BETA}", &beta.addr.to_string());
    let config: Config = percore_conf::parse("<demo>", &text, &runtime::host_info())
        .map_err(|e| RunError::Failed(format!("embedded demo config is invalid: {e}")))?;
    let running = runtime::start(config, signals)?;
    let addr = running
        .listening
        .first()
        .map(|(_, a)| *a)
        .unwrap_or(loopback(port));
    println!(
        "\npercore demo is running.\n\
         \n  proxy   http://{addr}/   (TCP mode, round-robin over two origins)\n  \
         origins alpha at {} and beta at {}\n\
         \nTry:\n  \
         curl http://{addr}/hello          # again and again: alpha and beta take turns\n  \
         curl -s http://{addr}/ http://{addr}/ http://{addr}/   # one connection, one origin\n  \
         ab/wrk/h2load against http://{addr}/ to load it; Ctrl-C stops gracefully.\n\
         \nThe embedded configuration is engine/src/demo.yaml; `percore run -c FILE` runs yours.\n",
        alpha.addr, beta.addr
    );
    running.wait()
}
