//! HAProxy 2.6 `show stat` column table: names in CSV order and, per object type, the JSON
//! value type and tags HAProxy emits. Generated from HAProxy 2.6 `stats.c` (`stats_fill_fe_stats`,
//! `stats_fill_sv_stats`, `stats_fill_be_stats`) and checked against the captured
//! `show-stat-json.txt`; the 24 module columns (ssl, h2, h1) come from that capture. Do not edit
//! by hand: a wrong tag here is a silent incompatibility for JSON consumers.

// Every column has an index constant so renderers can name the ones percore fills; most are
// unused on purpose.
#![allow(dead_code)]

use super::stat::{FieldMeta, JsonType};

/// One `show stat` column: its name and the JSON metadata per object type (`None`: HAProxy never
/// fills it for that type).
#[derive(Debug, Clone, Copy)]
pub(crate) struct StatColumn {
    /// Column name as in the CSV header.
    pub name: &'static str,
    /// Metadata on FRONTEND rows.
    pub frontend: Option<FieldMeta>,
    /// Metadata on BACKEND rows.
    pub backend: Option<FieldMeta>,
    /// Metadata on server rows.
    pub server: Option<FieldMeta>,
}

/// Number of core columns; the literal `-` column follows them in CSV.
pub(crate) const CORE_COLUMNS: usize = 103;

/// Number of columns without the `-` separator (HAProxy JSON `pos` runs over these).
pub(crate) const COLUMNS: usize = 127;

pub(crate) const PXNAME: usize = 0;
pub(crate) const SVNAME: usize = 1;
pub(crate) const QCUR: usize = 2;
pub(crate) const QMAX: usize = 3;
pub(crate) const SCUR: usize = 4;
pub(crate) const SMAX: usize = 5;
pub(crate) const SLIM: usize = 6;
pub(crate) const STOT: usize = 7;
pub(crate) const BIN: usize = 8;
pub(crate) const BOUT: usize = 9;
pub(crate) const DREQ: usize = 10;
pub(crate) const DRESP: usize = 11;
pub(crate) const EREQ: usize = 12;
pub(crate) const ECON: usize = 13;
pub(crate) const ERESP: usize = 14;
pub(crate) const WRETR: usize = 15;
pub(crate) const WREDIS: usize = 16;
pub(crate) const STATUS: usize = 17;
pub(crate) const WEIGHT: usize = 18;
pub(crate) const ACT: usize = 19;
pub(crate) const BCK: usize = 20;
pub(crate) const CHKFAIL: usize = 21;
pub(crate) const CHKDOWN: usize = 22;
pub(crate) const LASTCHG: usize = 23;
pub(crate) const DOWNTIME: usize = 24;
pub(crate) const QLIMIT: usize = 25;
pub(crate) const PID: usize = 26;
pub(crate) const IID: usize = 27;
pub(crate) const SID: usize = 28;
pub(crate) const THROTTLE: usize = 29;
pub(crate) const LBTOT: usize = 30;
pub(crate) const TRACKED: usize = 31;
pub(crate) const TYPE: usize = 32;
pub(crate) const RATE: usize = 33;
pub(crate) const RATE_LIM: usize = 34;
pub(crate) const RATE_MAX: usize = 35;
pub(crate) const CHECK_STATUS: usize = 36;
pub(crate) const CHECK_CODE: usize = 37;
pub(crate) const CHECK_DURATION: usize = 38;
pub(crate) const HRSP_1XX: usize = 39;
pub(crate) const HRSP_2XX: usize = 40;
pub(crate) const HRSP_3XX: usize = 41;
pub(crate) const HRSP_4XX: usize = 42;
pub(crate) const HRSP_5XX: usize = 43;
pub(crate) const HRSP_OTHER: usize = 44;
pub(crate) const HANAFAIL: usize = 45;
pub(crate) const REQ_RATE: usize = 46;
pub(crate) const REQ_RATE_MAX: usize = 47;
pub(crate) const REQ_TOT: usize = 48;
pub(crate) const CLI_ABRT: usize = 49;
pub(crate) const SRV_ABRT: usize = 50;
pub(crate) const COMP_IN: usize = 51;
pub(crate) const COMP_OUT: usize = 52;
pub(crate) const COMP_BYP: usize = 53;
pub(crate) const COMP_RSP: usize = 54;
pub(crate) const LASTSESS: usize = 55;
pub(crate) const LAST_CHK: usize = 56;
pub(crate) const LAST_AGT: usize = 57;
pub(crate) const QTIME: usize = 58;
pub(crate) const CTIME: usize = 59;
pub(crate) const RTIME: usize = 60;
pub(crate) const TTIME: usize = 61;
pub(crate) const AGENT_STATUS: usize = 62;
pub(crate) const AGENT_CODE: usize = 63;
pub(crate) const AGENT_DURATION: usize = 64;
pub(crate) const CHECK_DESC: usize = 65;
pub(crate) const AGENT_DESC: usize = 66;
pub(crate) const CHECK_RISE: usize = 67;
pub(crate) const CHECK_FALL: usize = 68;
pub(crate) const CHECK_HEALTH: usize = 69;
pub(crate) const AGENT_RISE: usize = 70;
pub(crate) const AGENT_FALL: usize = 71;
pub(crate) const AGENT_HEALTH: usize = 72;
pub(crate) const ADDR: usize = 73;
pub(crate) const COOKIE: usize = 74;
pub(crate) const MODE: usize = 75;
pub(crate) const ALGO: usize = 76;
pub(crate) const CONN_RATE: usize = 77;
pub(crate) const CONN_RATE_MAX: usize = 78;
pub(crate) const CONN_TOT: usize = 79;
pub(crate) const INTERCEPTED: usize = 80;
pub(crate) const DCON: usize = 81;
pub(crate) const DSES: usize = 82;
pub(crate) const WREW: usize = 83;
pub(crate) const CONNECT: usize = 84;
pub(crate) const REUSE: usize = 85;
pub(crate) const CACHE_LOOKUPS: usize = 86;
pub(crate) const CACHE_HITS: usize = 87;
pub(crate) const SRV_ICUR: usize = 88;
pub(crate) const SRC_ILIM: usize = 89;
pub(crate) const QTIME_MAX: usize = 90;
pub(crate) const CTIME_MAX: usize = 91;
pub(crate) const RTIME_MAX: usize = 92;
pub(crate) const TTIME_MAX: usize = 93;
pub(crate) const EINT: usize = 94;
pub(crate) const IDLE_CONN_CUR: usize = 95;
pub(crate) const SAFE_CONN_CUR: usize = 96;
pub(crate) const USED_CONN_CUR: usize = 97;
pub(crate) const NEED_CONN_EST: usize = 98;
pub(crate) const UWEIGHT: usize = 99;
pub(crate) const AGG_SERVER_STATUS: usize = 100;
pub(crate) const AGG_SERVER_CHECK_STATUS: usize = 101;
pub(crate) const AGG_CHECK_STATUS: usize = 102;
pub(crate) const SSL_SESS: usize = 103;
pub(crate) const SSL_REUSED_SESS: usize = 104;
pub(crate) const SSL_FAILED_HANDSHAKE: usize = 105;
pub(crate) const H2_HEADERS_RCVD: usize = 106;
pub(crate) const H2_DATA_RCVD: usize = 107;
pub(crate) const H2_SETTINGS_RCVD: usize = 108;
pub(crate) const H2_RST_STREAM_RCVD: usize = 109;
pub(crate) const H2_GOAWAY_RCVD: usize = 110;
pub(crate) const H2_DETECTED_CONN_PROTOCOL_ERRORS: usize = 111;
pub(crate) const H2_DETECTED_STRM_PROTOCOL_ERRORS: usize = 112;
pub(crate) const H2_RST_STREAM_RESP: usize = 113;
pub(crate) const H2_GOAWAY_RESP: usize = 114;
pub(crate) const H2_OPEN_CONNECTIONS: usize = 115;
pub(crate) const H2_BACKEND_OPEN_STREAMS: usize = 116;
pub(crate) const H2_TOTAL_CONNECTIONS: usize = 117;
pub(crate) const H2_BACKEND_TOTAL_STREAMS: usize = 118;
pub(crate) const H1_OPEN_CONNECTIONS: usize = 119;
pub(crate) const H1_OPEN_STREAMS: usize = 120;
pub(crate) const H1_TOTAL_CONNECTIONS: usize = 121;
pub(crate) const H1_TOTAL_STREAMS: usize = 122;
pub(crate) const H1_BYTES_IN: usize = 123;
pub(crate) const H1_BYTES_OUT: usize = 124;
pub(crate) const H1_SPLICED_BYTES_IN: usize = 125;
pub(crate) const H1_SPLICED_BYTES_OUT: usize = 126;

/// All columns in CSV order, without the `-` separator.
pub(crate) static STAT_COLUMNS: [StatColumn; COLUMNS] = [
    StatColumn {
        name: "pxname",
        frontend: Some(FieldMeta::new(JsonType::Str, "Key", "Name", "Service")),
        backend: Some(FieldMeta::new(JsonType::Str, "Key", "Name", "Service")),
        server: Some(FieldMeta::new(JsonType::Str, "Key", "Name", "Service")),
    },
    StatColumn {
        name: "svname",
        frontend: Some(FieldMeta::new(JsonType::Str, "Key", "Name", "Service")),
        backend: Some(FieldMeta::new(JsonType::Str, "Key", "Name", "Service")),
        server: Some(FieldMeta::new(JsonType::Str, "Key", "Name", "Service")),
    },
    StatColumn {
        name: "qcur",
        frontend: None,
        backend: Some(FieldMeta::new(JsonType::U32, "Metric", "Gauge", "Process")),
        server: Some(FieldMeta::new(JsonType::U32, "Metric", "Gauge", "Process")),
    },
    StatColumn {
        name: "qmax",
        frontend: None,
        backend: Some(FieldMeta::new(JsonType::U32, "Metric", "Max", "Process")),
        server: Some(FieldMeta::new(JsonType::U32, "Metric", "Max", "Process")),
    },
    StatColumn {
        name: "scur",
        frontend: Some(FieldMeta::new(JsonType::U32, "Metric", "Gauge", "Process")),
        backend: Some(FieldMeta::new(JsonType::U32, "Metric", "Gauge", "Process")),
        server: Some(FieldMeta::new(JsonType::U32, "Metric", "Gauge", "Process")),
    },
    StatColumn {
        name: "smax",
        frontend: Some(FieldMeta::new(JsonType::U32, "Metric", "Max", "Process")),
        backend: Some(FieldMeta::new(JsonType::U32, "Metric", "Max", "Process")),
        server: Some(FieldMeta::new(JsonType::U32, "Metric", "Max", "Process")),
    },
    StatColumn {
        name: "slim",
        frontend: Some(FieldMeta::new(JsonType::U32, "Config", "Limit", "Process")),
        backend: Some(FieldMeta::new(JsonType::U32, "Config", "Limit", "Process")),
        server: Some(FieldMeta::new(JsonType::U32, "Config", "Limit", "Process")),
    },
    StatColumn {
        name: "stot",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
    },
    StatColumn {
        name: "bin",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
    },
    StatColumn {
        name: "bout",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
    },
    StatColumn {
        name: "dreq",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: None,
    },
    StatColumn {
        name: "dresp",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
    },
    StatColumn {
        name: "ereq",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: None,
        server: None,
    },
    StatColumn {
        name: "econ",
        frontend: None,
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
    },
    StatColumn {
        name: "eresp",
        frontend: None,
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
    },
    StatColumn {
        name: "wretr",
        frontend: None,
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
    },
    StatColumn {
        name: "wredis",
        frontend: None,
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
    },
    StatColumn {
        name: "status",
        frontend: Some(FieldMeta::new(JsonType::Str, "Status", "Gauge", "Process")),
        backend: Some(FieldMeta::new(JsonType::Str, "Status", "Gauge", "Process")),
        server: Some(FieldMeta::new(JsonType::Str, "Status", "Gauge", "Process")),
    },
    StatColumn {
        name: "weight",
        frontend: None,
        backend: Some(FieldMeta::new(JsonType::U32, "Metric", "Avg", "Process")),
        server: Some(FieldMeta::new(JsonType::U32, "Metric", "Avg", "Process")),
    },
    StatColumn {
        name: "act",
        frontend: None,
        backend: Some(FieldMeta::new(JsonType::U32, "Metric", "Gauge", "Process")),
        server: Some(FieldMeta::new(JsonType::U32, "Status", "Gauge", "Process")),
    },
    StatColumn {
        name: "bck",
        frontend: None,
        backend: Some(FieldMeta::new(JsonType::U32, "Metric", "Gauge", "Process")),
        server: Some(FieldMeta::new(JsonType::U32, "Status", "Gauge", "Process")),
    },
    StatColumn {
        name: "chkfail",
        frontend: None,
        backend: None,
        server: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
    },
    StatColumn {
        name: "chkdown",
        frontend: None,
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
    },
    StatColumn {
        name: "lastchg",
        frontend: None,
        backend: Some(FieldMeta::new(JsonType::U32, "Metric", "Age", "Process")),
        server: Some(FieldMeta::new(JsonType::U32, "Metric", "Age", "Process")),
    },
    StatColumn {
        name: "downtime",
        frontend: None,
        backend: Some(FieldMeta::new(
            JsonType::U32,
            "Metric",
            "Counter",
            "Process",
        )),
        server: Some(FieldMeta::new(
            JsonType::U32,
            "Metric",
            "Counter",
            "Process",
        )),
    },
    StatColumn {
        name: "qlimit",
        frontend: None,
        backend: None,
        server: Some(FieldMeta::new(JsonType::U32, "Config", "Gauge", "Service")),
    },
    StatColumn {
        name: "pid",
        frontend: Some(FieldMeta::new(JsonType::U32, "Key", "Gauge", "Process")),
        backend: Some(FieldMeta::new(JsonType::U32, "Key", "Gauge", "Process")),
        server: Some(FieldMeta::new(JsonType::U32, "Key", "Gauge", "Process")),
    },
    StatColumn {
        name: "iid",
        frontend: Some(FieldMeta::new(JsonType::U32, "Key", "Gauge", "Service")),
        backend: Some(FieldMeta::new(JsonType::U32, "Key", "Gauge", "Service")),
        server: Some(FieldMeta::new(JsonType::U32, "Key", "Gauge", "Service")),
    },
    StatColumn {
        name: "sid",
        frontend: Some(FieldMeta::new(JsonType::U32, "Key", "Gauge", "Service")),
        backend: Some(FieldMeta::new(JsonType::U32, "Key", "Gauge", "Service")),
        server: Some(FieldMeta::new(JsonType::U32, "Key", "Gauge", "Service")),
    },
    StatColumn {
        name: "throttle",
        frontend: None,
        backend: None,
        server: Some(FieldMeta::new(JsonType::U32, "Metric", "Avg", "Process")),
    },
    StatColumn {
        name: "lbtot",
        frontend: None,
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
    },
    StatColumn {
        name: "tracked",
        frontend: None,
        backend: None,
        server: Some(FieldMeta::new(JsonType::Str, "Config", "Name", "Service")),
    },
    StatColumn {
        name: "type",
        frontend: Some(FieldMeta::new(JsonType::U32, "Config", "Gauge", "Service")),
        backend: Some(FieldMeta::new(JsonType::U32, "Config", "Gauge", "Service")),
        server: Some(FieldMeta::new(JsonType::U32, "Config", "Gauge", "Service")),
    },
    StatColumn {
        name: "rate",
        frontend: Some(FieldMeta::new(JsonType::U32, "Metric", "Rate", "Process")),
        backend: Some(FieldMeta::new(JsonType::U32, "Metric", "Gauge", "Process")),
        server: Some(FieldMeta::new(JsonType::U32, "Metric", "Rate", "Process")),
    },
    StatColumn {
        name: "rate_lim",
        frontend: Some(FieldMeta::new(JsonType::U32, "Config", "Limit", "Process")),
        backend: None,
        server: None,
    },
    StatColumn {
        name: "rate_max",
        frontend: Some(FieldMeta::new(JsonType::U32, "Metric", "Max", "Process")),
        backend: Some(FieldMeta::new(JsonType::U32, "Metric", "Gauge", "Process")),
        server: Some(FieldMeta::new(JsonType::U32, "Metric", "Max", "Process")),
    },
    StatColumn {
        name: "check_status",
        frontend: None,
        backend: None,
        server: Some(FieldMeta::new(JsonType::Str, "Metric", "Output", "Process")),
    },
    StatColumn {
        name: "check_code",
        frontend: None,
        backend: None,
        server: Some(FieldMeta::new(JsonType::U32, "Metric", "Output", "Process")),
    },
    StatColumn {
        name: "check_duration",
        frontend: None,
        backend: None,
        server: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Duration",
            "Process",
        )),
    },
    StatColumn {
        name: "hrsp_1xx",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
    },
    StatColumn {
        name: "hrsp_2xx",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
    },
    StatColumn {
        name: "hrsp_3xx",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
    },
    StatColumn {
        name: "hrsp_4xx",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
    },
    StatColumn {
        name: "hrsp_5xx",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
    },
    StatColumn {
        name: "hrsp_other",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
    },
    StatColumn {
        name: "hanafail",
        frontend: None,
        backend: None,
        server: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
    },
    StatColumn {
        name: "req_rate",
        frontend: Some(FieldMeta::new(JsonType::U32, "Metric", "Rate", "Process")),
        backend: None,
        server: None,
    },
    StatColumn {
        name: "req_rate_max",
        frontend: Some(FieldMeta::new(JsonType::U32, "Metric", "Max", "Process")),
        backend: None,
        server: None,
    },
    StatColumn {
        name: "req_tot",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
    },
    StatColumn {
        name: "cli_abrt",
        frontend: None,
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
    },
    StatColumn {
        name: "srv_abrt",
        frontend: None,
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
    },
    StatColumn {
        name: "comp_in",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: None,
    },
    StatColumn {
        name: "comp_out",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: None,
    },
    StatColumn {
        name: "comp_byp",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: None,
    },
    StatColumn {
        name: "comp_rsp",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: None,
    },
    StatColumn {
        name: "lastsess",
        frontend: None,
        backend: Some(FieldMeta::new(JsonType::S32, "Metric", "Age", "Process")),
        server: Some(FieldMeta::new(JsonType::S32, "Metric", "Age", "Process")),
    },
    StatColumn {
        name: "last_chk",
        frontend: None,
        backend: None,
        server: Some(FieldMeta::new(JsonType::Str, "Metric", "Output", "Process")),
    },
    StatColumn {
        name: "last_agt",
        frontend: None,
        backend: None,
        server: Some(FieldMeta::new(JsonType::Str, "Metric", "Output", "Process")),
    },
    StatColumn {
        name: "qtime",
        frontend: None,
        backend: Some(FieldMeta::new(JsonType::U32, "Metric", "Avg", "Process")),
        server: Some(FieldMeta::new(JsonType::U32, "Metric", "Avg", "Process")),
    },
    StatColumn {
        name: "ctime",
        frontend: None,
        backend: Some(FieldMeta::new(JsonType::U32, "Metric", "Avg", "Process")),
        server: Some(FieldMeta::new(JsonType::U32, "Metric", "Avg", "Process")),
    },
    StatColumn {
        name: "rtime",
        frontend: None,
        backend: Some(FieldMeta::new(JsonType::U32, "Metric", "Avg", "Process")),
        server: Some(FieldMeta::new(JsonType::U32, "Metric", "Avg", "Process")),
    },
    StatColumn {
        name: "ttime",
        frontend: None,
        backend: Some(FieldMeta::new(JsonType::U32, "Metric", "Avg", "Process")),
        server: Some(FieldMeta::new(JsonType::U32, "Metric", "Avg", "Process")),
    },
    StatColumn {
        name: "agent_status",
        frontend: None,
        backend: None,
        server: Some(FieldMeta::new(JsonType::Str, "Metric", "Output", "Process")),
    },
    StatColumn {
        name: "agent_code",
        frontend: None,
        backend: None,
        server: Some(FieldMeta::new(JsonType::U32, "Metric", "Output", "Process")),
    },
    StatColumn {
        name: "agent_duration",
        frontend: None,
        backend: None,
        server: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Duration",
            "Process",
        )),
    },
    StatColumn {
        name: "check_desc",
        frontend: None,
        backend: None,
        server: Some(FieldMeta::new(JsonType::Str, "Metric", "Output", "Process")),
    },
    StatColumn {
        name: "agent_desc",
        frontend: None,
        backend: None,
        server: Some(FieldMeta::new(JsonType::Str, "Metric", "Output", "Process")),
    },
    StatColumn {
        name: "check_rise",
        frontend: None,
        backend: None,
        server: Some(FieldMeta::new(JsonType::U32, "Config", "Gauge", "Service")),
    },
    StatColumn {
        name: "check_fall",
        frontend: None,
        backend: None,
        server: Some(FieldMeta::new(JsonType::U32, "Config", "Gauge", "Service")),
    },
    StatColumn {
        name: "check_health",
        frontend: None,
        backend: None,
        server: Some(FieldMeta::new(JsonType::U32, "Config", "Gauge", "Service")),
    },
    StatColumn {
        name: "agent_rise",
        frontend: None,
        backend: None,
        server: Some(FieldMeta::new(JsonType::U32, "Config", "Gauge", "Service")),
    },
    StatColumn {
        name: "agent_fall",
        frontend: None,
        backend: None,
        server: Some(FieldMeta::new(JsonType::U32, "Config", "Gauge", "Service")),
    },
    StatColumn {
        name: "agent_health",
        frontend: None,
        backend: None,
        server: Some(FieldMeta::new(JsonType::U32, "Config", "Gauge", "Service")),
    },
    StatColumn {
        name: "addr",
        frontend: None,
        backend: None,
        server: Some(FieldMeta::new(JsonType::Str, "Config", "Gauge", "Service")),
    },
    StatColumn {
        name: "cookie",
        frontend: None,
        backend: Some(FieldMeta::new(JsonType::Str, "Config", "Name", "Service")),
        server: Some(FieldMeta::new(JsonType::Str, "Config", "Name", "Service")),
    },
    StatColumn {
        name: "mode",
        frontend: Some(FieldMeta::new(JsonType::Str, "Config", "Gauge", "Service")),
        backend: Some(FieldMeta::new(JsonType::Str, "Config", "Gauge", "Service")),
        server: Some(FieldMeta::new(JsonType::Str, "Config", "Gauge", "Service")),
    },
    StatColumn {
        name: "algo",
        frontend: None,
        backend: Some(FieldMeta::new(JsonType::Str, "Config", "Gauge", "Service")),
        server: None,
    },
    StatColumn {
        name: "conn_rate",
        frontend: Some(FieldMeta::new(JsonType::U32, "Metric", "Rate", "Process")),
        backend: None,
        server: None,
    },
    StatColumn {
        name: "conn_rate_max",
        frontend: Some(FieldMeta::new(JsonType::U32, "Metric", "Max", "Process")),
        backend: None,
        server: None,
    },
    StatColumn {
        name: "conn_tot",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: None,
        server: None,
    },
    StatColumn {
        name: "intercepted",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: None,
        server: None,
    },
    StatColumn {
        name: "dcon",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: None,
        server: None,
    },
    StatColumn {
        name: "dses",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: None,
        server: None,
    },
    StatColumn {
        name: "wrew",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
    },
    StatColumn {
        name: "connect",
        frontend: None,
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
    },
    StatColumn {
        name: "reuse",
        frontend: None,
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
    },
    StatColumn {
        name: "cache_lookups",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: None,
    },
    StatColumn {
        name: "cache_hits",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: None,
    },
    StatColumn {
        name: "srv_icur",
        frontend: None,
        backend: None,
        server: Some(FieldMeta::new(JsonType::U32, "Metric", "Gauge", "Process")),
    },
    StatColumn {
        name: "src_ilim",
        frontend: None,
        backend: None,
        server: Some(FieldMeta::new(JsonType::U32, "Config", "Limit", "Process")),
    },
    StatColumn {
        name: "qtime_max",
        frontend: None,
        backend: Some(FieldMeta::new(JsonType::U32, "Metric", "Max", "Process")),
        server: Some(FieldMeta::new(JsonType::U32, "Metric", "Max", "Process")),
    },
    StatColumn {
        name: "ctime_max",
        frontend: None,
        backend: Some(FieldMeta::new(JsonType::U32, "Metric", "Max", "Process")),
        server: Some(FieldMeta::new(JsonType::U32, "Metric", "Max", "Process")),
    },
    StatColumn {
        name: "rtime_max",
        frontend: None,
        backend: Some(FieldMeta::new(JsonType::U32, "Metric", "Max", "Process")),
        server: Some(FieldMeta::new(JsonType::U32, "Metric", "Max", "Process")),
    },
    StatColumn {
        name: "ttime_max",
        frontend: None,
        backend: Some(FieldMeta::new(JsonType::U32, "Metric", "Max", "Process")),
        server: Some(FieldMeta::new(JsonType::U32, "Metric", "Max", "Process")),
    },
    StatColumn {
        name: "eint",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
    },
    StatColumn {
        name: "idle_conn_cur",
        frontend: None,
        backend: None,
        server: Some(FieldMeta::new(JsonType::U32, "Metric", "Gauge", "Process")),
    },
    StatColumn {
        name: "safe_conn_cur",
        frontend: None,
        backend: None,
        server: Some(FieldMeta::new(JsonType::U32, "Metric", "Gauge", "Process")),
    },
    StatColumn {
        name: "used_conn_cur",
        frontend: None,
        backend: None,
        server: Some(FieldMeta::new(JsonType::U32, "Metric", "Gauge", "Process")),
    },
    StatColumn {
        name: "need_conn_est",
        frontend: None,
        backend: None,
        server: Some(FieldMeta::new(JsonType::U32, "Metric", "Gauge", "Process")),
    },
    StatColumn {
        name: "uweight",
        frontend: None,
        backend: Some(FieldMeta::new(JsonType::U32, "Metric", "Avg", "Process")),
        server: Some(FieldMeta::new(JsonType::U32, "Metric", "Avg", "Process")),
    },
    StatColumn {
        name: "agg_server_status",
        frontend: None,
        backend: Some(FieldMeta::new(JsonType::U32, "Metric", "Gauge", "Process")),
        server: None,
    },
    StatColumn {
        name: "agg_server_check_status",
        frontend: None,
        backend: Some(FieldMeta::new(JsonType::U32, "Metric", "Gauge", "Process")),
        server: None,
    },
    StatColumn {
        name: "agg_check_status",
        frontend: None,
        backend: Some(FieldMeta::new(JsonType::U32, "Metric", "Gauge", "Process")),
        server: None,
    },
    StatColumn {
        name: "ssl_sess",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
    },
    StatColumn {
        name: "ssl_reused_sess",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
    },
    StatColumn {
        name: "ssl_failed_handshake",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
    },
    StatColumn {
        name: "h2_headers_rcvd",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: None,
    },
    StatColumn {
        name: "h2_data_rcvd",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: None,
    },
    StatColumn {
        name: "h2_settings_rcvd",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: None,
    },
    StatColumn {
        name: "h2_rst_stream_rcvd",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: None,
    },
    StatColumn {
        name: "h2_goaway_rcvd",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: None,
    },
    StatColumn {
        name: "h2_detected_conn_protocol_errors",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: None,
    },
    StatColumn {
        name: "h2_detected_strm_protocol_errors",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: None,
    },
    StatColumn {
        name: "h2_rst_stream_resp",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: None,
    },
    StatColumn {
        name: "h2_goaway_resp",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: None,
    },
    StatColumn {
        name: "h2_open_connections",
        frontend: Some(FieldMeta::new(JsonType::U64, "Metric", "Gauge", "Process")),
        backend: Some(FieldMeta::new(JsonType::U64, "Metric", "Gauge", "Process")),
        server: None,
    },
    StatColumn {
        name: "h2_backend_open_streams",
        frontend: Some(FieldMeta::new(JsonType::U64, "Metric", "Gauge", "Process")),
        backend: Some(FieldMeta::new(JsonType::U64, "Metric", "Gauge", "Process")),
        server: None,
    },
    StatColumn {
        name: "h2_total_connections",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: None,
    },
    StatColumn {
        name: "h2_backend_total_streams",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: None,
    },
    StatColumn {
        name: "h1_open_connections",
        frontend: Some(FieldMeta::new(JsonType::U64, "Metric", "Gauge", "Process")),
        backend: Some(FieldMeta::new(JsonType::U64, "Metric", "Gauge", "Process")),
        server: None,
    },
    StatColumn {
        name: "h1_open_streams",
        frontend: Some(FieldMeta::new(JsonType::U64, "Metric", "Gauge", "Process")),
        backend: Some(FieldMeta::new(JsonType::U64, "Metric", "Gauge", "Process")),
        server: None,
    },
    StatColumn {
        name: "h1_total_connections",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: None,
    },
    StatColumn {
        name: "h1_total_streams",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: None,
    },
    StatColumn {
        name: "h1_bytes_in",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: None,
    },
    StatColumn {
        name: "h1_bytes_out",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: None,
    },
    StatColumn {
        name: "h1_spliced_bytes_in",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: None,
    },
    StatColumn {
        name: "h1_spliced_bytes_out",
        frontend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        backend: Some(FieldMeta::new(
            JsonType::U64,
            "Metric",
            "Counter",
            "Process",
        )),
        server: None,
    },
];
