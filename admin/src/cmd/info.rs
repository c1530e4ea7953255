//! `show info [json|typed] [desc]`: the process snapshot ([`InfoSnapshot`]) and its HAProxy 2.6 renderers.
//! Field names, order, JSON positions, types and tags are HAProxy's (`stats_fill_info`);
//! `ZlibMemUsage`, `MaxZlibMemUsage` (no zlib) and `description` (not configurable) are skipped
//! exactly as HAProxy skips fields without a value, so positions 45, 46 and 51 are absent.
//! Fields percore has no counterpart for (pipes, SSL, compression, peers) print 0.

use std::fmt::Write as _;

use super::descriptions::info_description;
use super::stat::{
    write_json_tags_and_value, write_typed_value, Cell, FieldMeta, JsonType, StatOptions,
};
use super::Command;
use crate::grammar::Args;

/// Process-wide values for `show info`, merged by the control plane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoSnapshot {
    /// Product name (`Name`), "percore".
    pub name: String,
    /// Version string (`Version`, `Build info`).
    pub version: String,
    /// Release date, `YYYY/MM/DD`.
    pub release_date: String,
    /// Number of shards (`Nbthread`).
    pub nbthread: u64,
    /// Process id.
    pub pid: u64,
    /// Seconds since start (`Uptime`, `Uptime_sec`).
    pub uptime_sec: u64,
    /// Memory limit in MiB (0 = none).
    pub memmax_mb: u64,
    /// Bytes allocated by pools.
    pub pool_alloc_bytes: u64,
    /// Bytes of pools in use.
    pub pool_used_bytes: u64,
    /// Failed pool allocations.
    pub pool_failed: u64,
    /// File descriptor limit.
    pub ulimit_n: u64,
    /// Socket limit.
    pub maxsock: u64,
    /// Global connection limit.
    pub maxconn: u64,
    /// Hard connection limit.
    pub hard_maxconn: u64,
    /// Current client connections.
    pub curr_conns: u64,
    /// Client connections since start.
    pub cum_conns: u64,
    /// HTTP requests since start.
    pub cum_req: u64,
    /// TLS handshakes completed on client connections since start (`CumSslConns`).
    pub cum_ssl_conns: u64,
    /// Of those, the percentage that resumed a session (`SslFrontendSessionReuse_pct`).
    pub ssl_reuse_pct: u64,
    /// Connections per second.
    pub conn_rate: u64,
    /// Configured connection rate limit.
    pub conn_rate_limit: u64,
    /// Highest connection rate.
    pub max_conn_rate: u64,
    /// Sessions per second.
    pub sess_rate: u64,
    /// Configured session rate limit.
    pub sess_rate_limit: u64,
    /// Highest session rate.
    pub max_sess_rate: u64,
    /// Tasks (streams plus internal tasks) over all shards.
    pub tasks: u64,
    /// Runnable tasks.
    pub run_queue: u64,
    /// Idle percentage of the shards.
    pub idle_pct: u64,
    /// Node name (hostname by default).
    pub node: String,
    /// A graceful stop is in progress.
    pub stopping: bool,
    /// Active jobs (listeners, streams, …).
    pub jobs: u64,
    /// Jobs that block stopping.
    pub unstoppable_jobs: u64,
    /// Bound listeners.
    pub listeners: u64,
    /// Log lines dropped.
    pub dropped_logs: u64,
    /// Bytes sent to clients since start.
    pub total_bytes_out: u64,
    /// Bytes per second sent to clients.
    pub bytes_out_rate: u64,
    /// Process start, Unix seconds.
    pub start_time_sec: u64,
    /// Taint flags, printed `%#x` (0 → `0`).
    pub tainted: u64,
}

impl Default for InfoSnapshot {
    fn default() -> Self {
        InfoSnapshot {
            name: "percore".to_owned(),
            version: String::new(),
            release_date: String::new(),
            nbthread: 0,
            pid: 0,
            uptime_sec: 0,
            memmax_mb: 0,
            pool_alloc_bytes: 0,
            pool_used_bytes: 0,
            pool_failed: 0,
            ulimit_n: 0,
            maxsock: 0,
            maxconn: 0,
            hard_maxconn: 0,
            curr_conns: 0,
            cum_conns: 0,
            cum_req: 0,
            cum_ssl_conns: 0,
            ssl_reuse_pct: 0,
            conn_rate: 0,
            conn_rate_limit: 0,
            max_conn_rate: 0,
            sess_rate: 0,
            sess_rate_limit: 0,
            max_sess_rate: 0,
            tasks: 0,
            run_queue: 0,
            idle_pct: 100,
            node: String::new(),
            stopping: false,
            jobs: 0,
            unstoppable_jobs: 0,
            listeners: 0,
            dropped_logs: 0,
            total_bytes_out: 0,
            bytes_out_rate: 0,
            start_time_sec: 0,
            tainted: 0,
        }
    }
}

/// One rendered field: position in HAProxy's table, name, metadata, value.
struct InfoField<'a> {
    pos: usize,
    name: &'static str,
    meta: FieldMeta,
    value: Value<'a>,
}

enum Value<'a> {
    Number(u64),
    Text(&'a str),
    Owned(String),
}

const MIB: u64 = 1024 * 1024;

impl InfoSnapshot {
    /// Every field in output order.
    fn fields(&self) -> Vec<InfoField<'_>> {
        use JsonType::{Str, U32, U64};
        use Value::{Number as N, Owned as O, Text as T};
        let m = FieldMeta::new;
        let f = |pos, name, meta, value| InfoField {
            pos,
            name,
            meta,
            value,
        };
        let d = self.uptime_sec;
        let uptime = format!(
            "{}d {}h{:02}m{:02}s",
            d / 86_400,
            d % 86_400 / 3_600,
            d % 3_600 / 60,
            d % 60
        );
        let tainted = if self.tainted == 0 {
            "0".to_owned()
        } else {
            format!("{:#x}", self.tainted)
        };
        vec![
            f(
                0,
                "Name",
                m(Str, "Product", "Output", "Service"),
                T(&self.name),
            ),
            f(
                1,
                "Version",
                m(Str, "Product", "Output", "Service"),
                T(&self.version),
            ),
            f(
                2,
                "Release_date",
                m(Str, "Product", "Output", "Service"),
                T(&self.release_date),
            ),
            f(
                3,
                "Nbthread",
                m(U32, "Config", "Gauge", "Service"),
                N(self.nbthread),
            ),
            f(4, "Nbproc", m(U32, "Config", "Gauge", "Service"), N(1)),
            f(5, "Process_num", m(U32, "Key", "Gauge", "Process"), N(1)),
            f(6, "Pid", m(U32, "Status", "Gauge", "Process"), N(self.pid)),
            f(
                7,
                "Uptime",
                m(Str, "Metric", "Duration", "Process"),
                O(uptime),
            ),
            f(
                8,
                "Uptime_sec",
                m(U32, "Metric", "Duration", "Process"),
                N(self.uptime_sec),
            ),
            f(
                9,
                "Memmax_MB",
                m(U32, "Config", "Limit", "Process"),
                N(self.memmax_mb),
            ),
            f(
                10,
                "PoolAlloc_MB",
                m(U32, "Metric", "Gauge", "Process"),
                N(self.pool_alloc_bytes / MIB),
            ),
            f(
                11,
                "PoolUsed_MB",
                m(U32, "Metric", "Gauge", "Process"),
                N(self.pool_used_bytes / MIB),
            ),
            f(
                12,
                "PoolFailed",
                m(U32, "Metric", "Counter", "Process"),
                N(self.pool_failed),
            ),
            f(
                13,
                "Ulimit-n",
                m(U32, "Config", "Limit", "Process"),
                N(self.ulimit_n),
            ),
            f(
                14,
                "Maxsock",
                m(U32, "Config", "Limit", "Process"),
                N(self.maxsock),
            ),
            f(
                15,
                "Maxconn",
                m(U32, "Config", "Limit", "Process"),
                N(self.maxconn),
            ),
            f(
                16,
                "Hard_maxconn",
                m(U32, "Config", "Limit", "Process"),
                N(self.hard_maxconn),
            ),
            f(
                17,
                "CurrConns",
                m(U32, "Metric", "Gauge", "Process"),
                N(self.curr_conns),
            ),
            f(
                18,
                "CumConns",
                m(U32, "Metric", "Counter", "Process"),
                N(self.cum_conns),
            ),
            f(
                19,
                "CumReq",
                m(U32, "Metric", "Counter", "Process"),
                N(self.cum_req),
            ),
            f(20, "MaxSslConns", m(U32, "Metric", "Max", "Process"), N(0)),
            f(
                21,
                "CurrSslConns",
                m(U32, "Metric", "Gauge", "Process"),
                N(0),
            ),
            f(
                22,
                "CumSslConns",
                m(U32, "Metric", "Counter", "Process"),
                N(self.cum_ssl_conns),
            ),
            f(23, "Maxpipes", m(U32, "Config", "Limit", "Process"), N(0)),
            f(24, "PipesUsed", m(U32, "Metric", "Gauge", "Process"), N(0)),
            f(25, "PipesFree", m(U32, "Metric", "Gauge", "Process"), N(0)),
            f(
                26,
                "ConnRate",
                m(U32, "Metric", "Rate", "Process"),
                N(self.conn_rate),
            ),
            f(
                27,
                "ConnRateLimit",
                m(U32, "Config", "Limit", "Process"),
                N(self.conn_rate_limit),
            ),
            f(
                28,
                "MaxConnRate",
                m(U32, "Metric", "Max", "Process"),
                N(self.max_conn_rate),
            ),
            f(
                29,
                "SessRate",
                m(U32, "Metric", "Rate", "Process"),
                N(self.sess_rate),
            ),
            f(
                30,
                "SessRateLimit",
                m(U32, "Config", "Limit", "Process"),
                N(self.sess_rate_limit),
            ),
            f(
                31,
                "MaxSessRate",
                m(U32, "Metric", "Rate", "Process"),
                N(self.max_sess_rate),
            ),
            f(32, "SslRate", m(U32, "Metric", "Rate", "Process"), N(0)),
            f(
                33,
                "SslRateLimit",
                m(U32, "Config", "Limit", "Process"),
                N(0),
            ),
            f(34, "MaxSslRate", m(U32, "Metric", "Max", "Process"), N(0)),
            f(
                35,
                "SslFrontendKeyRate",
                m(U32, "Metric", "Gauge", "Process"),
                N(0),
            ),
            f(
                36,
                "SslFrontendMaxKeyRate",
                m(U32, "Metric", "Max", "Process"),
                N(0),
            ),
            f(
                37,
                "SslFrontendSessionReuse_pct",
                m(U32, "Metric", "Gauge", "Process"),
                N(self.ssl_reuse_pct),
            ),
            f(
                38,
                "SslBackendKeyRate",
                m(U32, "Metric", "Rate", "Process"),
                N(0),
            ),
            f(
                39,
                "SslBackendMaxKeyRate",
                m(U32, "Metric", "Max", "Process"),
                N(0),
            ),
            f(
                40,
                "SslCacheLookups",
                m(U32, "Metric", "Counter", "Process"),
                N(0),
            ),
            f(
                41,
                "SslCacheMisses",
                m(U32, "Metric", "Counter", "Process"),
                N(0),
            ),
            f(
                42,
                "CompressBpsIn",
                m(U32, "Metric", "Rate", "Process"),
                N(0),
            ),
            f(
                43,
                "CompressBpsOut",
                m(U32, "Metric", "Rate", "Process"),
                N(0),
            ),
            f(
                44,
                "CompressBpsRateLim",
                m(U32, "Config", "Limit", "Process"),
                N(0),
            ),
            f(
                47,
                "Tasks",
                m(U32, "Metric", "Gauge", "Process"),
                N(self.tasks),
            ),
            f(
                48,
                "Run_queue",
                m(U32, "Metric", "Gauge", "Process"),
                N(self.run_queue),
            ),
            f(
                49,
                "Idle_pct",
                m(U32, "Metric", "Avg", "Process"),
                N(self.idle_pct),
            ),
            f(
                50,
                "node",
                m(Str, "Config", "Output", "Service"),
                T(&self.node),
            ),
            f(
                52,
                "Stopping",
                m(U32, "Metric", "Gauge", "Process"),
                N(u64::from(self.stopping)),
            ),
            f(
                53,
                "Jobs",
                m(U32, "Metric", "Gauge", "Process"),
                N(self.jobs),
            ),
            f(
                54,
                "Unstoppable Jobs",
                m(U32, "Metric", "Gauge", "Process"),
                N(self.unstoppable_jobs),
            ),
            f(
                55,
                "Listeners",
                m(U32, "Metric", "Gauge", "Process"),
                N(self.listeners),
            ),
            f(
                56,
                "ActivePeers",
                m(U32, "Metric", "Gauge", "Process"),
                N(0),
            ),
            f(
                57,
                "ConnectedPeers",
                m(U32, "Metric", "Gauge", "Process"),
                N(0),
            ),
            f(
                58,
                "DroppedLogs",
                m(U32, "Metric", "Gauge", "Process"),
                N(self.dropped_logs),
            ),
            f(
                59,
                "BusyPolling",
                m(U32, "Metric", "Gauge", "Process"),
                N(0),
            ),
            f(
                60,
                "FailedResolutions",
                m(U32, "Metric", "Gauge", "Process"),
                N(0),
            ),
            f(
                61,
                "TotalBytesOut",
                m(U64, "Metric", "Gauge", "Process"),
                N(self.total_bytes_out),
            ),
            f(
                62,
                "TotalSplicdedBytesOut",
                m(U64, "Metric", "Gauge", "Process"),
                N(0),
            ),
            f(
                63,
                "BytesOutRate",
                m(U64, "Metric", "Rate", "Process"),
                N(self.bytes_out_rate),
            ),
            f(
                64,
                "DebugCommandsIssued",
                m(U32, "Metric", "Gauge", "Process"),
                N(0),
            ),
            f(
                65,
                "CumRecvLogs",
                m(U32, "Metric", "Counter", "Process"),
                N(0),
            ),
            f(
                66,
                "Build info",
                m(Str, "Product", "Output", "Service"),
                T(&self.version),
            ),
            f(
                67,
                "Memmax_bytes",
                m(U32, "Config", "Limit", "Process"),
                N(self.memmax_mb.saturating_mul(MIB)),
            ),
            f(
                68,
                "PoolAlloc_bytes",
                m(U64, "Metric", "Gauge", "Process"),
                N(self.pool_alloc_bytes),
            ),
            f(
                69,
                "PoolUsed_bytes",
                m(U64, "Metric", "Gauge", "Process"),
                N(self.pool_used_bytes),
            ),
            f(
                70,
                "Start_time_sec",
                m(U32, "Metric", "Duration", "Process"),
                N(self.start_time_sec),
            ),
            f(
                71,
                "Tainted",
                m(Str, "Status", "Gauge", "Process"),
                O(tainted),
            ),
        ]
    }
}

impl InfoSnapshot {
    /// The numeric value of the field called `name` (as in `show info`), for the Prometheus
    /// renderer; `None` for text fields and unknown names.
    pub(crate) fn number(&self, name: &str) -> Option<u64> {
        self.fields()
            .into_iter()
            .find(|f| f.name == name)
            .and_then(|f| match f.value {
                Value::Number(n) => Some(n),
                _ => None,
            })
    }
}

/// Renders `show info`: one `Name: value` line per field, with `desc` followed by
/// `:"<description>"` (HAProxy `stats_dump_info_fields`). Returns the reply body.
pub fn render_info(info: &InfoSnapshot, desc: bool) -> String {
    let mut out = String::with_capacity(if desc { 6000 } else { 1400 });
    for field in info.fields() {
        let _ = match &field.value {
            Value::Number(n) => write!(out, "{}: {n}", field.name),
            Value::Text(s) => write!(out, "{}: {s}", field.name),
            Value::Owned(s) => write!(out, "{}: {s}", field.name),
        };
        push_description(&mut out, desc, field.pos);
    }
    out
}

/// Renders `show info typed` (HAProxy `stats_dump_typed_info_fields`): one
/// `<pos>.<name>.1:<tags>:<type>:<value>` line per field, `:"<description>"` appended with
/// `desc`. Returns the reply body.
pub fn render_info_typed(info: &InfoSnapshot, desc: bool) -> String {
    let mut out = String::with_capacity(if desc { 8000 } else { 2500 });
    for field in info.fields() {
        let _ = write!(
            out,
            "{}.{}.1:{}:",
            field.pos,
            field.name,
            field.meta.letters()
        );
        let cell = field.cell();
        write_typed_value(&mut out, &field.meta, &cell);
        push_description(&mut out, desc, field.pos);
    }
    out
}

/// Ends one field's line, with its description first when `desc`.
fn push_description(out: &mut String, desc: bool, pos: usize) {
    if desc {
        let _ = write!(out, ":\"{}\"", info_description(pos));
    }
    out.push('\n');
}

impl InfoField<'_> {
    /// The value as a stat cell, for the JSON and typed encoders.
    fn cell(&self) -> Cell<'_> {
        match &self.value {
            Value::Number(n) => Cell::Unsigned(*n),
            Value::Text(s) => Cell::Text(s),
            Value::Owned(s) => Cell::Text(s),
        }
    }
}

/// Renders `show info json`: the whole array on one line, then `\n`. Returns the reply body.
pub fn render_info_json(info: &InfoSnapshot) -> String {
    let mut out = String::from("[");
    for (i, field) in info.fields().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"field\":{{\"pos\":{},\"name\":\"{}\"}},\"processNum\":1,",
            field.pos, field.name
        );
        let cell = field.cell();
        write_json_tags_and_value(&mut out, &field.meta, &cell);
        out.push('}');
    }
    out.push_str("]\n");
    out
}

/// `show info [json|typed|desc|float]*`: the last of `json`/`typed` wins; `desc` appends the
/// descriptions; `float` changes nothing (percore has no float fields).
pub(super) fn parse_show_info(args: Args<'_>) -> Command {
    let o = StatOptions::parse(args, 2);
    Command::ShowInfo {
        format: o.format,
        desc: o.desc,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_and_tainted_format() {
        let info = InfoSnapshot {
            uptime_sec: 104,
            tainted: 0,
            ..Default::default()
        };
        let text = render_info(&info, false);
        assert!(text.contains("\nUptime: 0d 0h01m44s\n"));
        assert!(text.contains("\nTainted: 0\n"));
        let info = InfoSnapshot {
            uptime_sec: 90_061,
            tainted: 0x12,
            ..Default::default()
        };
        let text = render_info(&info, false);
        assert!(text.contains("\nUptime: 1d 1h01m01s\n"));
        assert!(text.contains("\nTainted: 0x12\n"));
    }

    #[test]
    fn empty_strings_are_kept() {
        let text = render_info(&InfoSnapshot::default(), false);
        assert!(text.starts_with("Name: percore\nVersion: \n"));
        assert!(text.contains("\nnode: \n"));
    }
}
