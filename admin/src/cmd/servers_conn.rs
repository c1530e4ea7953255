//! `show servers conn [<backend>]`: per-server connection figures in HAProxy 2.6's layout
//! (`cli_io_handler_servers_state` with `SRV_STATE_CONN`): one header, then one line per
//! server with its idle connections per shard where HAProxy lists them per thread.

use std::fmt::Write as _;

use super::Command;
use crate::grammar::Args;

/// One server line of `show servers conn`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerConnRow {
    /// Backend name.
    pub be_name: String,
    /// Server name.
    pub srv_name: String,
    /// Backend id.
    pub be_id: u32,
    /// Server id.
    pub srv_id: u32,
    /// Server IP address.
    pub addr: String,
    /// Server port.
    pub port: u16,
    /// Idle-connection purge delay in ms (`pool_idle_timeout`).
    pub purge_delay_ms: u64,
    /// Server connections in use.
    pub used_cur: u64,
    /// Most server connections in use at once.
    pub used_max: u64,
    /// Estimated connections needed.
    pub need_est: u64,
    /// Idle connections not reusable by other clients.
    pub unsafe_nb: u64,
    /// Idle connections reusable by any client.
    pub safe_nb: u64,
    /// Idle-connection limit, -1 = unlimited.
    pub idle_lim: i64,
    /// Idle connections now.
    pub idle_cur: u64,
    /// Idle connections on each shard.
    pub idle_per_shard: Vec<u64>,
}

/// Renders `show servers conn`: the header (with `idle_per_thr[<shards>]`), one line per row,
/// then nothing more (the framing adds the final empty line). Returns the reply body.
pub fn render_servers_conn(rows: &[ServerConnRow], shards: usize) -> String {
    let mut out = format!(
        "# bkname/svname bkid/svid addr port - purge_delay used_cur used_max need_est \
         unsafe_nb safe_nb idle_lim idle_cur idle_per_thr[{shards}]\n"
    );
    for r in rows {
        let _ = write!(
            out,
            "{}/{} {}/{} {} {} - {} {} {} {} {} {} {} {}",
            r.be_name,
            r.srv_name,
            r.be_id,
            r.srv_id,
            r.addr,
            r.port,
            r.purge_delay_ms,
            r.used_cur,
            r.used_max,
            r.need_est,
            r.unsafe_nb,
            r.safe_nb,
            r.idle_lim,
            r.idle_cur
        );
        for n in &r.idle_per_shard {
            let _ = write!(out, " {n}");
        }
        out.push('\n');
    }
    out
}

/// `show servers conn [<backend>]`; an unknown backend is the engine's `CANT_FIND_BACKEND`.
pub(super) fn parse_show_servers_conn(args: Args<'_>) -> Command {
    let backend = args.get(3);
    Command::ShowServersConn {
        backend: (!backend.is_empty()).then(|| backend.to_owned()),
    }
}
