//! `show stat`: the argument grammar (`[domain proxy] [<proxy> <type> <sid>] [json]`), the row
//! snapshot the engine fills ([`StatRow`], one per frontend, backend and server), the row
//! filter, and the HAProxy 2.6 CSV and JSON renderers. Column order, the `-` separator column,
//! CSV quoting and JSON tags are HAProxy's (`stats.c`); columns percore does not track stay
//! empty in CSV and are omitted in JSON, as HAProxy does for fields without a value.

use std::fmt::Write as _;

use super::descriptions::STAT_DESCRIPTIONS;
use super::stat_fields::{self as col, StatColumn, COLUMNS, CORE_COLUMNS, STAT_COLUMNS};
use super::Command;
use crate::error::{ErrorReply, INVALID_STAT_DOMAIN, NO_SUCH_PROXY};
use crate::grammar::{atoi, Args};
use crate::level::Level;

/// HAProxy 2.6's `show stat` columns, as one literal shared by the two headers below.
macro_rules! haproxy_stat_columns {
    () => {
        "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,\
dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,\
qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,\
check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,\
req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,\
last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,\
check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,\
conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,\
cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,\
safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,\
agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,\
h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,\
h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,\
h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connections,\
h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,\
h1_spliced_bytes_in,h1_spliced_bytes_out,"
    };
}

/// Exact first line of `show stat` in HAProxy 2.6, newline included.
pub const HAPROXY_STAT_CSV_HEADER: &str = concat!(haproxy_stat_columns!(), "\n");

/// First line of percore's `show stat`: HAProxy 2.6's header, then percore's own module
/// columns appended at the end, the way HAProxy appends module columns (`h2_*`, `h1_*`)
/// after the `-` separator; consumers that address columns by name keep working.
/// `percore_killed`: streams killed by `shutdown session(s)` or at the end of a stop grace.
pub const STAT_CSV_HEADER: &str = concat!(haproxy_stat_columns!(), "percore_killed,\n");

/// Which object a stat row describes (`type` column: 0, 1, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StatKind {
    /// A frontend (`svname` FRONTEND).
    #[default]
    Frontend,
    /// A backend (`svname` BACKEND).
    Backend,
    /// A server of a backend.
    Server,
}

impl StatKind {
    /// HAProxy `STATS_TYPE_*` value of the `type` column.
    pub fn type_code(self) -> u32 {
        match self {
            StatKind::Frontend => 0,
            StatKind::Backend => 1,
            StatKind::Server => 2,
        }
    }

    /// `objType` in JSON output.
    fn json_name(self) -> &'static str {
        match self {
            StatKind::Frontend => "Frontend",
            StatKind::Backend => "Backend",
            StatKind::Server => "Server",
        }
    }
}

/// Proxy mode (`mode` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// `mode: tcp`.
    #[default]
    Tcp,
    /// `mode: http`.
    Http,
}

impl Mode {
    /// `tcp` or `http`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Tcp => "tcp",
            Mode::Http => "http",
        }
    }
}

/// One `show stat` row as merged by the control plane. `None` / empty string = column left
/// empty, as HAProxy does where a value does not apply (e.g. `qcur` on a FRONTEND row, `slim`
/// on an unlimited server, check columns while checks are disabled). `pid` is always 1 and
/// `type` comes from `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatRow {
    /// Proxy (frontend or backend) name.
    pub pxname: String,
    /// `FRONTEND`, `BACKEND` or the server name.
    pub svname: String,
    /// Object type.
    pub kind: StatKind,
    /// Proxy id (`iid`), unique over frontends and backends.
    pub iid: u32,
    /// Server id within its backend (`sid`), 0 on FRONTEND/BACKEND rows.
    pub sid: u32,
    /// Proxy mode.
    pub mode: Mode,
    /// Requests queued now.
    pub qcur: Option<u64>,
    /// Most requests queued at once.
    pub qmax: Option<u64>,
    /// Current streams.
    pub scur: Option<u64>,
    /// Most concurrent streams.
    pub smax: Option<u64>,
    /// Stream limit (maxconn).
    pub slim: Option<u64>,
    /// Total streams.
    pub stot: Option<u64>,
    /// Bytes received from clients.
    pub bin: Option<u64>,
    /// Bytes sent to clients.
    pub bout: Option<u64>,
    /// Requests denied.
    pub dreq: Option<u64>,
    /// Responses denied.
    pub dresp: Option<u64>,
    /// Request errors.
    pub ereq: Option<u64>,
    /// Connection errors towards servers.
    pub econ: Option<u64>,
    /// Response errors.
    pub eresp: Option<u64>,
    /// Connect retries.
    pub wretr: Option<u64>,
    /// Redispatches.
    pub wredis: Option<u64>,
    /// `OPEN`, `UP`, `DOWN`, `MAINT`, `DRAIN`, `no check`, `UP 1/3`, …
    pub status: String,
    /// Effective weight (BACKEND: sum over active servers).
    pub weight: Option<u64>,
    /// 1 for an active server / number of active servers on BACKEND.
    pub act: Option<u64>,
    /// 1 for a backup server / number of backup servers on BACKEND.
    pub bck: Option<u64>,
    /// Failed health checks.
    pub chkfail: Option<u64>,
    /// UP→DOWN transitions.
    pub chkdown: Option<u64>,
    /// Seconds since the last status change.
    pub lastchg: Option<u64>,
    /// Seconds spent down.
    pub downtime: Option<u64>,
    /// Queue limit.
    pub qlimit: Option<u64>,
    /// Slow-start throttle in percent.
    pub throttle: Option<u64>,
    /// Times the server was selected by load balancing.
    pub lbtot: Option<u64>,
    /// Streams per second over the last second.
    pub rate: Option<u64>,
    /// Configured stream rate limit.
    pub rate_lim: Option<u64>,
    /// Highest stream rate.
    pub rate_max: Option<u64>,
    /// Last check status (`CheckStatus::info`, prefixed `* ` while a check runs).
    pub check_status: String,
    /// HTTP status of the last layer-7 check.
    pub check_code: Option<u64>,
    /// Last check result (`CheckStatus::info`) also while checks are paused or disabled,
    /// when `check_status` is empty: what `haproxy_backend_agg_check_status` counts.
    pub check_last: String,
    /// Duration of the last check in ms.
    pub check_duration: Option<u64>,
    /// HTTP responses 1xx.
    pub hrsp_1xx: Option<u64>,
    /// HTTP responses 2xx.
    pub hrsp_2xx: Option<u64>,
    /// HTTP responses 3xx.
    pub hrsp_3xx: Option<u64>,
    /// HTTP responses 4xx.
    pub hrsp_4xx: Option<u64>,
    /// HTTP responses 5xx.
    pub hrsp_5xx: Option<u64>,
    /// HTTP responses with other codes.
    pub hrsp_other: Option<u64>,
    /// Failed passive health observations.
    pub hanafail: Option<u64>,
    /// HTTP requests per second.
    pub req_rate: Option<u64>,
    /// Highest HTTP request rate.
    pub req_rate_max: Option<u64>,
    /// Total HTTP requests.
    pub req_tot: Option<u64>,
    /// Transfers aborted by the client.
    pub cli_abrt: Option<u64>,
    /// Transfers aborted by the server.
    pub srv_abrt: Option<u64>,
    /// Bytes fed to the HTTP compressor (percore does not compress: 0 where HAProxy shows it).
    pub comp_in: Option<u64>,
    /// Bytes out of the HTTP compressor.
    pub comp_out: Option<u64>,
    /// Bytes that bypassed the compressor.
    pub comp_byp: Option<u64>,
    /// Responses compressed.
    pub comp_rsp: Option<u64>,
    /// Seconds since the last stream was assigned (-1 = never).
    pub lastsess: Option<i64>,
    /// Last check's detail text (e.g. `Connection refused`).
    pub last_chk: String,
    /// Average queue time in ms.
    pub qtime: Option<u64>,
    /// Average connect time in ms.
    pub ctime: Option<u64>,
    /// Average response time in ms.
    pub rtime: Option<u64>,
    /// Average total time in ms.
    pub ttime: Option<u64>,
    /// Last check status, long form (`CheckStatus::description`).
    pub check_desc: String,
    /// Check `rise` setting.
    pub check_rise: Option<u64>,
    /// Check `fall` setting.
    pub check_fall: Option<u64>,
    /// Check health counter, 0..rise+fall-1.
    pub check_health: Option<u64>,
    /// Server `ip:port` (left empty at user level).
    pub addr: String,
    /// Balance algorithm (BACKEND rows).
    pub algo: String,
    /// Connections per second.
    pub conn_rate: Option<u64>,
    /// Highest connection rate.
    pub conn_rate_max: Option<u64>,
    /// Total connections.
    pub conn_tot: Option<u64>,
    /// Requests answered by the proxy itself.
    pub intercepted: Option<u64>,
    /// Connections denied at accept.
    pub dcon: Option<u64>,
    /// Sessions denied.
    pub dses: Option<u64>,
    /// Failed header rewrites.
    pub wrew: Option<u64>,
    /// Connection attempts to servers.
    pub connect: Option<u64>,
    /// Reuses of pooled server connections.
    pub reuse: Option<u64>,
    /// HTTP cache lookups (percore has no cache: 0 on HTTP proxies, as HAProxy).
    pub cache_lookups: Option<u64>,
    /// HTTP cache hits.
    pub cache_hits: Option<u64>,
    /// Idle pooled connections now.
    pub srv_icur: Option<u64>,
    /// Idle pool limit.
    pub src_ilim: Option<u64>,
    /// Max queue time in ms.
    pub qtime_max: Option<u64>,
    /// Max connect time in ms.
    pub ctime_max: Option<u64>,
    /// Max response time in ms.
    pub rtime_max: Option<u64>,
    /// Max total time in ms.
    pub ttime_max: Option<u64>,
    /// Internal errors.
    pub eint: Option<u64>,
    /// Idle connections in the pool.
    pub idle_conn_cur: Option<u64>,
    /// Safe (reusable) idle connections.
    pub safe_conn_cur: Option<u64>,
    /// Server connections in use.
    pub used_conn_cur: Option<u64>,
    /// Estimated connections needed.
    pub need_conn_est: Option<u64>,
    /// User weight (before slow start).
    pub uweight: Option<u64>,
    /// Aggregated server status (BACKEND).
    pub agg_server_status: Option<u64>,
    /// Aggregated server check status (BACKEND).
    pub agg_server_check_status: Option<u64>,
    /// Aggregated check status (BACKEND).
    pub agg_check_status: Option<u64>,
    /// HAProxy's module columns after the `-` separator (ssl, h2, h1).
    pub modules: Modules,
    /// percore: streams killed by the admin socket or a stop (`percore_killed` column).
    pub killed: Option<u64>,
}

/// Which of HAProxy's module columns (`ssl_*`, `h2_*`, `h1_*`) a row fills. HAProxy fills
/// every module column of FRONTEND and BACKEND rows (0 where the module saw nothing) and only
/// the `ssl_*` ones on server rows; percore has no TLS or HTTP/2 yet, so those are 0.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Modules {
    /// Every module column empty.
    #[default]
    Absent,
    /// Server rows: the three `ssl_*` columns, 0.
    SslOnly,
    /// FRONTEND/BACKEND rows: every module column, `ssl_*` and `h1_*` from these figures.
    All(H1Module, SslModule),
}

/// The `ssl_*` module columns of a FRONTEND row (0 elsewhere: percore does not originate
/// TLS yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SslModule {
    /// TLS handshakes completed (`ssl_sess`).
    pub sess: u64,
    /// Of which resumed a session (`ssl_reused_sess`).
    pub reused_sess: u64,
    /// TLS handshakes that failed (`ssl_failed_handshake`).
    pub failed_handshake: u64,
    /// The frontend has a TLS bind (its counters go to `/metrics`).
    pub enabled: bool,
}

/// The `h1_*` module columns of a FRONTEND or BACKEND row (all 0 in TCP mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct H1Module {
    /// HTTP/1 connections open now (`h1_open_connections`).
    pub open_connections: u64,
    /// HTTP/1 exchanges in progress (`h1_open_streams`).
    pub open_streams: u64,
    /// HTTP/1 connections since start (`h1_total_connections`).
    pub total_connections: u64,
    /// HTTP/1 exchanges since start (`h1_total_streams`).
    pub total_streams: u64,
    /// Bytes received on HTTP/1 connections (`h1_bytes_in`).
    pub bytes_in: u64,
    /// Bytes sent on HTTP/1 connections (`h1_bytes_out`).
    pub bytes_out: u64,
}

/// One cell of a row, before encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cell<'a> {
    Empty,
    Unsigned(u64),
    Signed(i64),
    Text(&'a str),
}

impl StatRow {
    /// All cells in column order (without the `-` separator). `addr` is blanked below
    /// operator level, as HAProxy does without `STAT_SHLGNDS`.
    pub(crate) fn cells(&self, level: Level) -> [Cell<'_>; COLUMNS] {
        fn u(v: Option<u64>) -> Cell<'static> {
            v.map_or(Cell::Empty, Cell::Unsigned)
        }
        fn t(s: &str) -> Cell<'_> {
            if s.is_empty() {
                Cell::Empty
            } else {
                Cell::Text(s)
            }
        }
        let mut c = [Cell::Empty; COLUMNS];
        c[col::PXNAME] = Cell::Text(&self.pxname);
        c[col::SVNAME] = Cell::Text(&self.svname);
        c[col::QCUR] = u(self.qcur);
        c[col::QMAX] = u(self.qmax);
        c[col::SCUR] = u(self.scur);
        c[col::SMAX] = u(self.smax);
        c[col::SLIM] = u(self.slim);
        c[col::STOT] = u(self.stot);
        c[col::BIN] = u(self.bin);
        c[col::BOUT] = u(self.bout);
        c[col::DREQ] = u(self.dreq);
        c[col::DRESP] = u(self.dresp);
        c[col::EREQ] = u(self.ereq);
        c[col::ECON] = u(self.econ);
        c[col::ERESP] = u(self.eresp);
        c[col::WRETR] = u(self.wretr);
        c[col::WREDIS] = u(self.wredis);
        c[col::STATUS] = t(&self.status);
        c[col::WEIGHT] = u(self.weight);
        c[col::ACT] = u(self.act);
        c[col::BCK] = u(self.bck);
        c[col::CHKFAIL] = u(self.chkfail);
        c[col::CHKDOWN] = u(self.chkdown);
        c[col::LASTCHG] = u(self.lastchg);
        c[col::DOWNTIME] = u(self.downtime);
        c[col::QLIMIT] = u(self.qlimit);
        c[col::PID] = Cell::Unsigned(1);
        c[col::IID] = Cell::Unsigned(u64::from(self.iid));
        c[col::SID] = Cell::Unsigned(u64::from(self.sid));
        c[col::THROTTLE] = u(self.throttle);
        c[col::LBTOT] = u(self.lbtot);
        c[col::TYPE] = Cell::Unsigned(u64::from(self.kind.type_code()));
        c[col::RATE] = u(self.rate);
        c[col::RATE_LIM] = u(self.rate_lim);
        c[col::RATE_MAX] = u(self.rate_max);
        c[col::CHECK_STATUS] = t(&self.check_status);
        c[col::CHECK_CODE] = u(self.check_code);
        c[col::CHECK_DURATION] = u(self.check_duration);
        c[col::HRSP_1XX] = u(self.hrsp_1xx);
        c[col::HRSP_2XX] = u(self.hrsp_2xx);
        c[col::HRSP_3XX] = u(self.hrsp_3xx);
        c[col::HRSP_4XX] = u(self.hrsp_4xx);
        c[col::HRSP_5XX] = u(self.hrsp_5xx);
        c[col::HRSP_OTHER] = u(self.hrsp_other);
        c[col::HANAFAIL] = u(self.hanafail);
        c[col::REQ_RATE] = u(self.req_rate);
        c[col::REQ_RATE_MAX] = u(self.req_rate_max);
        c[col::REQ_TOT] = u(self.req_tot);
        c[col::CLI_ABRT] = u(self.cli_abrt);
        c[col::SRV_ABRT] = u(self.srv_abrt);
        c[col::COMP_IN] = u(self.comp_in);
        c[col::COMP_OUT] = u(self.comp_out);
        c[col::COMP_BYP] = u(self.comp_byp);
        c[col::COMP_RSP] = u(self.comp_rsp);
        c[col::LASTSESS] = self.lastsess.map_or(Cell::Empty, Cell::Signed);
        // HAProxy emits last_chk (possibly empty) whenever check_status is shown, so JSON
        // carries an empty string there rather than omitting the field.
        c[col::LAST_CHK] = if self.check_status.is_empty() {
            t(&self.last_chk)
        } else {
            Cell::Text(&self.last_chk)
        };
        c[col::QTIME] = u(self.qtime);
        c[col::CTIME] = u(self.ctime);
        c[col::RTIME] = u(self.rtime);
        c[col::TTIME] = u(self.ttime);
        c[col::CHECK_DESC] = t(&self.check_desc);
        c[col::CHECK_RISE] = u(self.check_rise);
        c[col::CHECK_FALL] = u(self.check_fall);
        c[col::CHECK_HEALTH] = u(self.check_health);
        if level >= Level::Operator {
            c[col::ADDR] = t(&self.addr);
        }
        c[col::MODE] = Cell::Text(self.mode.as_str());
        c[col::ALGO] = t(&self.algo);
        c[col::CONN_RATE] = u(self.conn_rate);
        c[col::CONN_RATE_MAX] = u(self.conn_rate_max);
        c[col::CONN_TOT] = u(self.conn_tot);
        c[col::INTERCEPTED] = u(self.intercepted);
        c[col::DCON] = u(self.dcon);
        c[col::DSES] = u(self.dses);
        c[col::WREW] = u(self.wrew);
        c[col::CONNECT] = u(self.connect);
        c[col::REUSE] = u(self.reuse);
        c[col::CACHE_LOOKUPS] = u(self.cache_lookups);
        c[col::CACHE_HITS] = u(self.cache_hits);
        c[col::SRV_ICUR] = u(self.srv_icur);
        c[col::SRC_ILIM] = u(self.src_ilim);
        c[col::QTIME_MAX] = u(self.qtime_max);
        c[col::CTIME_MAX] = u(self.ctime_max);
        c[col::RTIME_MAX] = u(self.rtime_max);
        c[col::TTIME_MAX] = u(self.ttime_max);
        c[col::EINT] = u(self.eint);
        c[col::IDLE_CONN_CUR] = u(self.idle_conn_cur);
        c[col::SAFE_CONN_CUR] = u(self.safe_conn_cur);
        c[col::USED_CONN_CUR] = u(self.used_conn_cur);
        c[col::NEED_CONN_EST] = u(self.need_conn_est);
        c[col::UWEIGHT] = u(self.uweight);
        c[col::AGG_SERVER_STATUS] = u(self.agg_server_status);
        c[col::AGG_SERVER_CHECK_STATUS] = u(self.agg_server_check_status);
        c[col::AGG_CHECK_STATUS] = u(self.agg_check_status);
        self.module_cells(&mut c);
        c
    }

    /// Fills the module columns (`col::SSL_SESS` onwards) as [`Modules`] says.
    fn module_cells(&self, c: &mut [Cell<'_>; COLUMNS]) {
        let h1 = match &self.modules {
            Modules::Absent => return,
            Modules::SslOnly => {
                c[col::SSL_SESS..=col::SSL_FAILED_HANDSHAKE].fill(Cell::Unsigned(0));
                return;
            }
            Modules::All(h1, ssl) => {
                c[col::SSL_SESS..COLUMNS].fill(Cell::Unsigned(0));
                c[col::SSL_SESS] = Cell::Unsigned(ssl.sess);
                c[col::SSL_REUSED_SESS] = Cell::Unsigned(ssl.reused_sess);
                c[col::SSL_FAILED_HANDSHAKE] = Cell::Unsigned(ssl.failed_handshake);
                h1
            }
        };
        c[col::H1_OPEN_CONNECTIONS] = Cell::Unsigned(h1.open_connections);
        c[col::H1_OPEN_STREAMS] = Cell::Unsigned(h1.open_streams);
        c[col::H1_TOTAL_CONNECTIONS] = Cell::Unsigned(h1.total_connections);
        c[col::H1_TOTAL_STREAMS] = Cell::Unsigned(h1.total_streams);
        c[col::H1_BYTES_IN] = Cell::Unsigned(h1.bytes_in);
        c[col::H1_BYTES_OUT] = Cell::Unsigned(h1.bytes_out);
    }
}

/// Renders `show stat` as HAProxy 2.6 CSV: [`STAT_CSV_HEADER`], then one line per row with
/// every value followed by `,` and the `-` column after the core columns. `level` is the
/// socket's: below operator the `addr` column stays empty. Returns the reply body.
pub fn render_stat_csv(rows: &[StatRow], level: Level) -> String {
    let mut out = String::with_capacity(STAT_CSV_HEADER.len() + rows.len() * 256);
    out.push_str(STAT_CSV_HEADER);
    for row in rows {
        for (i, cell) in row.cells(level).iter().enumerate() {
            match *cell {
                Cell::Empty => {}
                Cell::Unsigned(v) => {
                    let _ = write!(out, "{v}");
                }
                Cell::Signed(v) => {
                    let _ = write!(out, "{v}");
                }
                Cell::Text(s) => csv_encode(&mut out, s),
            }
            out.push(',');
            if i + 1 == CORE_COLUMNS {
                out.push_str("-,");
            }
        }
        if let Some(killed) = row.killed {
            let _ = write!(out, "{killed}");
        }
        out.push_str(",\n");
    }
    out
}

/// Renders `show stat json` like HAProxy 2.6: one line holding an array of rows, each an
/// array of the non-empty fields with position, name, tags and typed value; then `\n`.
pub fn render_stat_json(rows: &[StatRow], level: Level) -> String {
    let mut out = String::from("[");
    for (r, row) in rows.iter().enumerate() {
        if r > 0 {
            out.push(',');
        }
        out.push('[');
        let mut first = true;
        for (pos, cell) in row.cells(level).iter().enumerate() {
            if *cell == Cell::Empty {
                continue;
            }
            if !first {
                out.push(',');
            }
            first = false;
            let column = &STAT_COLUMNS[pos];
            let meta = column_meta(column, row.kind, cell);
            let _ = write!(
                out,
                "{{\"objType\":\"{}\",\"proxyId\":{},\"id\":{},\"field\":{{\"pos\":{},\"name\":\"{}\"}},\
                 \"processNum\":1,",
                row.kind.json_name(),
                row.iid,
                row.sid,
                pos,
                column.name
            );
            write_json_tags_and_value(&mut out, &meta, cell);
            out.push('}');
        }
        out.push(']');
    }
    out.push_str("]\n");
    out
}

/// Renders `show stat typed` like HAProxy 2.6 (`stats_dump_fields_typed`): one line per
/// non-empty field, `<T>.<iid>.<sid>.<pos>.<name>.1:<tags>:<type>:<value>` with `T` one of
/// `F`/`B`/`S` and the three tag letters of [`FieldMeta::letters`]; with `desc`, each line
/// ends with `:"<description>"`. No header, no blank line between objects. Returns the body.
pub fn render_stat_typed(rows: &[StatRow], level: Level, desc: bool) -> String {
    let mut out = String::with_capacity(rows.len() * 4096);
    for row in rows {
        let kind = match row.kind {
            StatKind::Frontend => 'F',
            StatKind::Backend => 'B',
            StatKind::Server => 'S',
        };
        for (pos, cell) in row.cells(level).iter().enumerate() {
            if *cell == Cell::Empty {
                continue;
            }
            let column = &STAT_COLUMNS[pos];
            let meta = column_meta(column, row.kind, cell);
            let _ = write!(
                out,
                "{kind}.{}.{}.{pos}.{}.1:{}:",
                row.iid,
                row.sid,
                column.name,
                meta.letters()
            );
            write_typed_value(&mut out, &meta, cell);
            if desc {
                let _ = write!(out, ":\"{}\"", STAT_DESCRIPTIONS[pos]);
            }
            out.push('\n');
        }
    }
    out
}

/// Appends `<type>:<value>` of one typed field (HAProxy `stats_emit_typed_data_field`).
pub(crate) fn write_typed_value(out: &mut String, meta: &FieldMeta, cell: &Cell<'_>) {
    match *cell {
        Cell::Text(s) => {
            out.push_str("str:");
            csv_encode(out, s);
        }
        Cell::Unsigned(v) => {
            let ty = if meta.ty == JsonType::Str {
                JsonType::U64
            } else {
                meta.ty
            };
            let _ = write!(out, "{}:{v}", ty.as_str());
        }
        Cell::Signed(v) => {
            let ty = if meta.ty == JsonType::Str {
                JsonType::S64
            } else {
                meta.ty
            };
            let _ = write!(out, "{}:{v}", ty.as_str());
        }
        Cell::Empty => {}
    }
}

/// JSON value type of a field, as HAProxy names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonType {
    U32,
    U64,
    S32,
    S64,
    Str,
}

impl JsonType {
    fn as_str(self) -> &'static str {
        match self {
            JsonType::U32 => "u32",
            JsonType::U64 => "u64",
            JsonType::S32 => "s32",
            JsonType::S64 => "s64",
            JsonType::Str => "str",
        }
    }
}

/// JSON type and tags of one field (HAProxy `FF_*`, `FO_*`, `FN_*`, `FS_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FieldMeta {
    pub ty: JsonType,
    pub origin: &'static str,
    pub nature: &'static str,
    pub scope: &'static str,
}

impl FieldMeta {
    /// The three tag letters of `typed` output: origin, nature, scope (HAProxy
    /// `stats_emit_field_tags`), `?` for a word HAProxy does not know.
    pub(crate) fn letters(&self) -> String {
        let origin = match self.origin {
            "Metric" => 'M',
            "Status" => 'S',
            "Key" => 'K',
            "Config" => 'C',
            "Product" => 'P',
            _ => '?',
        };
        let nature = match self.nature {
            "Gauge" => 'G',
            "Limit" => 'L',
            "Min" => 'm',
            "Max" => 'M',
            "Rate" => 'R',
            "Counter" => 'C',
            "Duration" => 'D',
            "Age" => 'A',
            "Time" => 'T',
            "Name" => 'N',
            "Output" => 'O',
            "Avg" => 'a',
            _ => '?',
        };
        let scope = match self.scope {
            "Process" => 'P',
            "Service" => 'S',
            "System" => 's',
            "Cluster" => 'C',
            _ => '?',
        };
        [origin, nature, scope].iter().collect()
    }

    pub(crate) const fn new(
        ty: JsonType,
        origin: &'static str,
        nature: &'static str,
        scope: &'static str,
    ) -> Self {
        FieldMeta {
            ty,
            origin,
            nature,
            scope,
        }
    }
}

/// Metadata for a cell: HAProxy's for this object type, else the column's for another type,
/// else a neutral default matching the cell's kind.
fn column_meta(column: &StatColumn, kind: StatKind, cell: &Cell<'_>) -> FieldMeta {
    let own = match kind {
        StatKind::Frontend => column.frontend,
        StatKind::Backend => column.backend,
        StatKind::Server => column.server,
    };
    own.or(column.server)
        .or(column.backend)
        .or(column.frontend)
        .unwrap_or(match cell {
            Cell::Text(_) => FieldMeta::new(JsonType::Str, "Metric", "Output", "Process"),
            _ => FieldMeta::new(JsonType::U64, "Metric", "Gauge", "Process"),
        })
}

/// Appends `"tags":{…},"value":{"type":…,"value":…}` for one field.
pub(crate) fn write_json_tags_and_value(out: &mut String, meta: &FieldMeta, cell: &Cell<'_>) {
    let _ = write!(
        out,
        "\"tags\":{{\"origin\":\"{}\",\"nature\":\"{}\",\"scope\":\"{}\"}},\"value\":{{\"type\":",
        meta.origin, meta.nature, meta.scope
    );
    match *cell {
        Cell::Text(s) => {
            out.push_str("\"str\",\"value\":\"");
            json_escape(out, s);
            out.push('"');
        }
        Cell::Unsigned(v) => {
            let ty = if meta.ty == JsonType::Str {
                JsonType::U64
            } else {
                meta.ty
            };
            let _ = write!(out, "\"{}\",\"value\":{v}", ty.as_str());
        }
        Cell::Signed(v) => {
            let ty = if meta.ty == JsonType::Str {
                JsonType::S64
            } else {
                meta.ty
            };
            let _ = write!(out, "\"{}\",\"value\":{v}", ty.as_str());
        }
        Cell::Empty => out.push_str("\"str\",\"value\":\"\""),
    }
    out.push('}');
}

/// HAProxy `csv_enc_append` with automatic quoting: quote when the text holds `\n`, `\r`,
/// `,` or `"`, doubling inner quotes.
fn csv_encode(out: &mut String, s: &str) {
    if !s.contains(['\n', '\r', ',', '"']) {
        out.push_str(s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
}

/// Escapes a JSON string body. HAProxy 2.6 writes names raw; escaping only differs for names
/// holding quotes, backslashes or control characters, which would otherwise break the JSON.
pub(crate) fn json_escape(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

/// Row selection of `show stat <proxy> <type> <sid>`, HAProxy semantics: `proxy` is a name or
/// a numeric id (`-1` = all); `type_mask` has bit 0 for frontends, 1 for backends, 2 for
/// servers (`-1` = all); `sid` selects one server id (`-1` = all; ignored for non-server rows).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StatFilter {
    /// First positional argument, unresolved.
    pub proxy: String,
    /// Second positional argument through `atoi`.
    pub type_mask: i32,
    /// Third positional argument through `atoi`.
    pub sid: i32,
}

impl StatFilter {
    /// Resolves the proxy argument to an id: by name via `find_by_name`, else as a number;
    /// a result of 0 (unknown name, `0`, non-numeric) is `No such proxy.`. `-1` means all.
    pub fn resolve_proxy(
        &self,
        find_by_name: impl FnOnce(&str) -> Option<u32>,
    ) -> Result<i32, ErrorReply> {
        let iid = match find_by_name(&self.proxy) {
            Some(id) => id as i32,
            None => atoi(&self.proxy),
        };
        if iid == 0 {
            return Err(NO_SUCH_PROXY);
        }
        Ok(iid)
    }

    /// Whether `row` is selected once the proxy resolved to `proxy_iid`.
    pub fn matches(&self, proxy_iid: i32, row: &StatRow) -> bool {
        let proxy_ok = proxy_iid == -1 || i64::from(proxy_iid) == i64::from(row.iid);
        let type_ok = self.type_mask & (1 << row.kind.type_code()) != 0;
        let sid_ok = row.kind != StatKind::Server
            || self.sid == -1
            || i64::from(self.sid) == i64::from(row.sid);
        proxy_ok && type_ok && sid_ok
    }

    /// Resolves the proxy name against the rows themselves (every proxy has a FRONTEND or
    /// BACKEND row, so the full snapshot knows every name) and keeps the selected rows.
    pub fn apply(&self, rows: &mut Vec<StatRow>) -> Result<(), ErrorReply> {
        let iid =
            self.resolve_proxy(|name| rows.iter().find(|r| r.pxname == name).map(|r| r.iid))?;
        rows.retain(|r| self.matches(iid, r));
        Ok(())
    }
}

/// Output form of `show stat` and `show info`: the last of `json` / `typed` given wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// CSV (`show stat`) or `Name: value` lines (`show info`).
    #[default]
    Plain,
    /// One JSON array on one line.
    Json,
    /// One `typed` line per field.
    Typed,
}

/// The trailing words of `show stat` / `show info`: format, `desc`, `up`, `no-maint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatOptions {
    /// Output form.
    pub format: Format,
    /// `desc`: append each field's description (typed output, `show info` lines).
    pub desc: bool,
    /// `up`: list only servers that are UP (hides DOWN and MAINT ones).
    pub up_only: bool,
    /// `no-maint`: hide servers in maintenance.
    pub no_maint: bool,
}

impl StatOptions {
    /// Reads the option words from word `i` on; unknown words are ignored, as HAProxy does.
    pub(crate) fn parse(args: Args<'_>, mut i: usize) -> Self {
        let mut o = StatOptions::default();
        while !args.get(i).is_empty() {
            match args.get(i) {
                "json" => o.format = Format::Json,
                "typed" => o.format = Format::Typed,
                "desc" => o.desc = true,
                "up" => o.up_only = true,
                "no-maint" => o.no_maint = true,
                _ => {}
            }
            i += 1;
        }
        o
    }

    /// Drops the server rows `up` / `no-maint` hide (HAProxy `STAT_HIDE_DOWN`,
    /// `STAT_HIDE_MAINT`), judged by their status column.
    pub fn hide_servers(&self, rows: &mut Vec<StatRow>) {
        let (up_only, no_maint) = (self.up_only, self.no_maint);
        rows.retain(|r| {
            let maint = r.status == "MAINT";
            let down = r.status.starts_with("DOWN");
            r.kind != StatKind::Server || !((no_maint && maint) || (up_only && (maint || down)))
        });
    }
}

/// `show stat [domain proxy] [<proxy> <type> <sid>] [json|typed|desc|no-maint|up]*`: the three
/// positional arguments count only when all three are non-empty (fewer are ignored, as are
/// unknown words); then the options of [`StatOptions`].
pub(super) fn parse_show_stat(args: Args<'_>) -> Result<Command, ErrorReply> {
    let mut i = 2;
    if args.get(i) == "domain" {
        i += 1;
        if args.get(i) != "proxy" {
            return Err(INVALID_STAT_DOMAIN);
        }
        i += 1;
    }
    let mut filter = None;
    if !args.get(i).is_empty() && !args.get(i + 1).is_empty() && !args.get(i + 2).is_empty() {
        filter = Some(StatFilter {
            proxy: args.get(i).to_owned(),
            type_mask: atoi(args.get(i + 1)),
            sid: atoi(args.get(i + 2)),
        });
        i += 3;
    }
    Ok(Command::ShowStat {
        options: StatOptions::parse(args, i),
        filter,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_the_column_table() {
        let mut names: Vec<&str> = STAT_COLUMNS.iter().map(|c| c.name).collect();
        names.insert(CORE_COLUMNS, "-");
        let built = format!("# {},\n", names.join(","));
        assert_eq!(built, HAPROXY_STAT_CSV_HEADER);
        assert_eq!(
            STAT_CSV_HEADER,
            format!("{}percore_killed,\n", built.trim_end())
        );
    }

    #[test]
    fn csv_quoting() {
        let mut s = String::new();
        csv_encode(&mut s, "plain text");
        csv_encode(&mut s, "|a,b\"c|");
        assert_eq!(s, "plain text\"|a,b\"\"c|\"");
    }

    #[test]
    fn filter_semantics() {
        let fe = StatRow {
            pxname: "web".into(),
            iid: 2,
            kind: StatKind::Frontend,
            ..Default::default()
        };
        let s1 = StatRow {
            pxname: "app".into(),
            iid: 3,
            sid: 1,
            kind: StatKind::Server,
            ..Default::default()
        };
        let s2 = StatRow {
            pxname: "app".into(),
            iid: 3,
            sid: 2,
            kind: StatKind::Server,
            ..Default::default()
        };
        let be = StatRow {
            pxname: "app".into(),
            iid: 3,
            kind: StatKind::Backend,
            ..Default::default()
        };
        let all = vec![fe, s1, s2, be];
        let run = |proxy: &str, type_mask, sid| {
            let mut rows = all.clone();
            StatFilter {
                proxy: proxy.into(),
                type_mask,
                sid,
            }
            .apply(&mut rows)
            .map(|()| {
                rows.iter()
                    .map(|r| (r.iid, r.sid, r.kind))
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(run("-1", 4, -1).map(|v| v.len()), Ok(2));
        assert_eq!(run("3", 4, 2), Ok(vec![(3, 2, StatKind::Server)]));
        assert_eq!(run("app", -1, -1).map(|v| v.len()), Ok(3));
        assert_eq!(run("-1", 3, -1).map(|v| v.len()), Ok(2));
        assert_eq!(run("nosuch", -1, -1), Err(NO_SUCH_PROXY));
        assert_eq!(run("0", -1, -1), Err(NO_SUCH_PROXY));
        assert_eq!(run("99", -1, -1), Ok(vec![]));
    }
}
