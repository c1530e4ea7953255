//! `show servers state [<backend>]` and `show backend`: their snapshot rows and HAProxy 2.6
//! renderers (`dump_servers_state`, `cli_io_handler_show_backend`). The numeric codes are
//! HAProxy's so that tools reading state files keep working; constants for them are below.

use std::fmt::Write as _;

use super::Command;
use crate::grammar::Args;

/// `srv_op_state`: server down.
pub const SRV_OP_STOPPED: u32 = 0;
/// `srv_op_state`: server up, warming up (slow start).
pub const SRV_OP_STARTING: u32 = 1;
/// `srv_op_state`: server fully up.
pub const SRV_OP_RUNNING: u32 = 2;
/// `srv_op_state`: server up but soft-stopping.
pub const SRV_OP_STOPPING: u32 = 3;
/// `srv_admin_state` bit: forced maintenance (`set server … state maint`).
pub const SRV_ADMIN_FORCED_MAINT: u32 = 0x01;
/// `srv_admin_state` bit: forced drain (`set server … state drain`).
pub const SRV_ADMIN_FORCED_DRAIN: u32 = 0x08;
/// `srv_check_state` bit: a health check is configured.
pub const SRV_CHECK_STATE_CONFIGURED: u32 = 0x02;
/// `srv_check_state` bit: checks are enabled (`enable health`).
pub const SRV_CHECK_STATE_ENABLED: u32 = 0x04;
/// `srv_check_state` bit: checks are paused because the server is in maintenance.
pub const SRV_CHECK_STATE_PAUSED: u32 = 0x08;

/// Version line of the state format.
const STATE_FORMAT_VERSION: &str = "1\n";
/// Header line of the state format.
const STATE_HEADER: &str = "# be_id be_name srv_id srv_name srv_addr srv_op_state \
srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status \
srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id \
srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr \
srv_agent_addr srv_agent_port\n";

/// One server line of `show servers state`. Empty strings print as `-`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerStateRow {
    /// Backend id.
    pub be_id: u32,
    /// Backend name.
    pub be_name: String,
    /// Server id within the backend.
    pub srv_id: u32,
    /// Server name.
    pub srv_name: String,
    /// Server IP address without port.
    pub srv_addr: String,
    /// Operational state (`SRV_OP_*`).
    pub srv_op_state: u32,
    /// Administrative state bits (`SRV_ADMIN_*`).
    pub srv_admin_state: u32,
    /// Current user weight.
    pub srv_uweight: u32,
    /// Configured weight.
    pub srv_iweight: u32,
    /// Seconds since the last state change.
    pub srv_time_since_last_change: u64,
    /// Last check status code (`CheckStatus::code`).
    pub srv_check_status: u32,
    /// Last check result (`CheckStatus::result_code`).
    pub srv_check_result: u32,
    /// Check health counter.
    pub srv_check_health: u32,
    /// Check state bits (`SRV_CHECK_STATE_*`).
    pub srv_check_state: u32,
    /// Agent check state bits (percore: 0).
    pub srv_agent_state: u32,
    /// 1 when the backend id was set in the configuration.
    pub bk_f_forced_id: u32,
    /// 1 when the server id was set in the configuration.
    pub srv_f_forced_id: u32,
    /// Server FQDN, if any.
    pub srv_fqdn: String,
    /// Server port.
    pub srv_port: u32,
    /// SRV record name, if any.
    pub srvrecord: String,
    /// 1 when the server side uses TLS.
    pub srv_use_ssl: u32,
    /// Health-check port (0 = server port).
    pub srv_check_port: u32,
    /// Health-check address, if different.
    pub srv_check_addr: String,
    /// Agent address (percore: none).
    pub srv_agent_addr: String,
    /// Agent port (percore: 0).
    pub srv_agent_port: u32,
}

fn dash(s: &str) -> &str {
    if s.is_empty() {
        "-"
    } else {
        s
    }
}

/// Renders `show servers state`: `1`, the header, one line per row. Returns the reply body
/// (both header lines are printed even when there is no row).
pub fn render_servers_state(rows: &[ServerStateRow]) -> String {
    let mut out = String::with_capacity(STATE_HEADER.len() + 2 + rows.len() * 80);
    out.push_str(STATE_FORMAT_VERSION);
    out.push_str(STATE_HEADER);
    for r in rows {
        let _ = writeln!(
            out,
            "{} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {}",
            r.be_id,
            dash(&r.be_name),
            r.srv_id,
            dash(&r.srv_name),
            dash(&r.srv_addr),
            r.srv_op_state,
            r.srv_admin_state,
            r.srv_uweight,
            r.srv_iweight,
            r.srv_time_since_last_change,
            r.srv_check_status,
            r.srv_check_result,
            r.srv_check_health,
            r.srv_check_state,
            r.srv_agent_state,
            r.bk_f_forced_id,
            r.srv_f_forced_id,
            dash(&r.srv_fqdn),
            r.srv_port,
            dash(&r.srvrecord),
            r.srv_use_ssl,
            r.srv_check_port,
            dash(&r.srv_check_addr),
            dash(&r.srv_agent_addr),
            r.srv_agent_port,
        );
    }
    out
}

/// Renders `show backend`: `# name` then one backend name per line, in id order as given.
pub fn render_backends<S: AsRef<str>>(names: &[S]) -> String {
    let mut out = String::from("# name\n");
    for name in names {
        out.push_str(name.as_ref());
        out.push('\n');
    }
    out
}

/// `show servers state [<backend>]` (word 3; further words ignored).
pub(super) fn parse_show_servers_state(args: Args<'_>) -> Command {
    let backend = Some(args.get(3))
        .filter(|b| !b.is_empty())
        .map(str::to_owned);
    Command::ShowServersState { backend }
}
