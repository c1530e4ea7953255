//! Field descriptions printed by `show stat typed desc` and `show info [typed] desc`, HAProxy
//! 2.6's texts byte for byte (spelling included). Generated from replies of HAProxy 2.6.12
//! (`show stat typed desc` on configurations that fill every column, `show info typed desc`);
//! `throttle` and `agent_code`, which those runs left empty, come from HAProxy's `stats.c`.
//! Do not edit by hand.

/// Description of each `show stat` column, by JSON position (the `-` separator has none).
pub(crate) const STAT_DESCRIPTIONS: [&str; super::stat_fields::COLUMNS] = [
    // 0 pxname
    "Proxy name",
    // 1 svname
    "Server name",
    // 2 qcur
    "Number of current queued connections",
    // 3 qmax
    "Highest value of queued connections encountered since process started",
    // 4 scur
    "Number of current sessions on the frontend, backend or server",
    // 5 smax
    "Highest value of current sessions encountered since process started",
    // 6 slim
    "Frontend/listener/server's maxconn, backend's fullconn",
    // 7 stot
    "Total number of sessions since process started",
    // 8 bin
    "Total number of request bytes since process started",
    // 9 bout
    "Total number of response bytes since process started",
    // 10 dreq
    "Total number of denied requests since process started",
    // 11 dresp
    "Total number of denied responses since process started",
    // 12 ereq
    "Total number of invalid requests since process started",
    // 13 econ
    "Total number of failed connections to server since the worker process started",
    // 14 eresp
    "Total number of invalid responses since the worker process started",
    // 15 wretr
    "Total number of server connection retries since the worker process started",
    // 16 wredis
    "Total number of server redispatches due to connection failures since the worker process started",
    // 17 status
    "Frontend/listen status: OPEN/WAITING/FULL/STOP; backend: UP/DOWN; server: last check status",
    // 18 weight
    "Server's effective weight, or sum of active servers' effective weights for a backend",
    // 19 act
    "Total number of active UP servers with a non-zero weight",
    // 20 bck
    "Total number of backup UP servers with a non-zero weight",
    // 21 chkfail
    "Total number of failed individual health checks per server/backend, since the worker process started",
    // 22 chkdown
    "Total number of failed checks causing UP to DOWN server transitions, per server/backend, since the worker process started",
    // 23 lastchg
    "How long ago the last server state changed, in seconds",
    // 24 downtime
    "Total time spent in DOWN state, for server or backend",
    // 25 qlimit
    "Limit on the number of connections in queue, for servers only (maxqueue argument)",
    // 26 pid
    "Relative worker process number (1)",
    // 27 iid
    "Frontend or Backend numeric identifier ('id' setting)",
    // 28 sid
    "Server numeric identifier ('id' setting)",
    // 29 throttle
    "Throttling ratio applied to a server's maxconn and weight during the slowstart period (0 to 100%)",
    // 30 lbtot
    "Total number of requests routed by load balancing since the worker process started (ignores queue pop and stickiness)",
    // 31 tracked
    "Name of the other server this server tracks for its state",
    // 32 type
    "Type of the object (Listener, Frontend, Backend, Server)",
    // 33 rate
    "Total number of sessions processed by this object over the last second (sessions for listeners/frontends, requests for backends/servers)",
    // 34 rate_lim
    "Limit on the number of sessions accepted in a second (frontend only, 'rate-limit sessions' setting)",
    // 35 rate_max
    "Highest value of sessions per second observed since the worker process started",
    // 36 check_status
    "Status report of the server's latest health check, prefixed with '*' if a check is currently in progress",
    // 37 check_code
    "HTTP/SMTP/LDAP status code reported by the latest server health check",
    // 38 check_duration
    "Total duration of the latest server health check, in milliseconds",
    // 39 hrsp_1xx
    "Total number of HTTP responses with status 100-199 returned by this object since the worker process started",
    // 40 hrsp_2xx
    "Total number of HTTP responses with status 200-299 returned by this object since the worker process started",
    // 41 hrsp_3xx
    "Total number of HTTP responses with status 300-399 returned by this object since the worker process started",
    // 42 hrsp_4xx
    "Total number of HTTP responses with status 400-499 returned by this object since the worker process started",
    // 43 hrsp_5xx
    "Total number of HTTP responses with status 500-599 returned by this object since the worker process started",
    // 44 hrsp_other
    "Total number of HTTP responses with status <100, >599 returned by this object since the worker process started (error -1 included)",
    // 45 hanafail
    "Total number of failed checks caused by an 'on-error' directive after an 'observe' condition matched",
    // 46 req_rate
    "Number of HTTP requests processed over the last second on this object",
    // 47 req_rate_max
    "Highest value of http requests observed since the worker process started",
    // 48 req_tot
    "Total number of HTTP requests processed by this object since the worker process started",
    // 49 cli_abrt
    "Total number of requests or connections aborted by the client since the worker process started",
    // 50 srv_abrt
    "Total number of requests or connections aborted by the server since the worker process started",
    // 51 comp_in
    "Total number of bytes submitted to the HTTP compressor for this object since the worker process started",
    // 52 comp_out
    "Total number of bytes emitted by the HTTP compressor for this object since the worker process started",
    // 53 comp_byp
    "Total number of bytes that bypassed HTTP compression for this object since the worker process started (CPU/memory/bandwidth limitation)",
    // 54 comp_rsp
    "Total number of HTTP responses that were compressed for this object since the worker process started",
    // 55 lastsess
    "How long ago some traffic was seen on this object on this worker process, in seconds",
    // 56 last_chk
    "Short description of the latest health check report for this server (see also check_desc)",
    // 57 last_agt
    "Short description of the latest agent check report for this server (see also agent_desc)",
    // 58 qtime
    "Time spent in the queue, in milliseconds, averaged over the 1024 last requests (backend/server)",
    // 59 ctime
    "Time spent waiting for a connection to complete, in milliseconds, averaged over the 1024 last requests (backend/server)",
    // 60 rtime
    "Time spent waiting for a server response, in milliseconds, averaged over the 1024 last requests (backend/server)",
    // 61 ttime
    "Total request+response time (request+queue+connect+response+processing), in milliseconds, averaged over the 1024 last requests (backend/server)",
    // 62 agent_status
    "Status report of the server's latest agent check, prefixed with '*' if a check is currently in progress",
    // 63 agent_code
    "Status code reported by the latest server agent check",
    // 64 agent_duration
    "Total duration of the latest server agent check, in milliseconds",
    // 65 check_desc
    "Textual description of the latest health check report for this server",
    // 66 agent_desc
    "Textual description of the latest agent check report for this server",
    // 67 check_rise
    "Number of successful health checks before declaring a server UP (server 'rise' setting)",
    // 68 check_fall
    "Number of failed health checks before declaring a server DOWN (server 'fall' setting)",
    // 69 check_health
    "Current server health check level (0..fall-1=DOWN, fall..rise-1=UP)",
    // 70 agent_rise
    "Number of successful agent checks before declaring a server UP (server 'rise' setting)",
    // 71 agent_fall
    "Number of failed agent checks before declaring a server DOWN (server 'fall' setting)",
    // 72 agent_health
    "Current server agent check level (0..fall-1=DOWN, fall..rise-1=UP)",
    // 73 addr
    "Server's address:port, shown only if show-legends is set, or at levels oper/admin for the CLI",
    // 74 cookie
    "Backend's cookie name or Server's cookie value, shown only if show-legends is set, or at levels oper/admin for the CLI",
    // 75 mode
    "'mode' setting (tcp/http/health/cli)",
    // 76 algo
    "Backend's load balancing algorithm, shown only if show-legends is set, or at levels oper/admin for the CLI",
    // 77 conn_rate
    "Number of new connections accepted over the last second on the frontend for this worker process",
    // 78 conn_rate_max
    "Highest value of connections per second observed since the worker process started",
    // 79 conn_tot
    "Total number of new connections accepted on this frontend since the worker process started",
    // 80 intercepted
    "Total number of HTTP requests intercepted on the frontend (redirects/stats/services) since the worker process started",
    // 81 dcon
    "Total number of incoming connections blocked on a listener/frontend by a tcp-request connection rule since the worker process started",
    // 82 dses
    "Total number of incoming sessions blocked on a listener/frontend by a tcp-request connection rule since the worker process started",
    // 83 wrew
    "Total number of failed HTTP header rewrites since the worker process started",
    // 84 connect
    "Total number of outgoing connection attempts on this backend/server since the worker process started",
    // 85 reuse
    "Total number of reused connection on this backend/server since the worker process started",
    // 86 cache_lookups
    "Total number of HTTP requests looked up in the cache on this frontend/backend since the worker process started",
    // 87 cache_hits
    "Total number of HTTP requests not found in the cache on this frontend/backend since the worker process started",
    // 88 srv_icur
    "Current number of idle connections available for reuse on this server",
    // 89 src_ilim
    "Limit on the number of available idle connections on this server (server 'pool_max_conn' directive)",
    // 90 qtime_max
    "Maximum observed time spent in the queue, in milliseconds (backend/server)",
    // 91 ctime_max
    "Maximum observed time spent waiting for a connection to complete, in milliseconds (backend/server)",
    // 92 rtime_max
    "Maximum observed time spent waiting for a server response, in milliseconds (backend/server)",
    // 93 ttime_max
    "Maximum observed total request+response time (request+queue+connect+response+processing), in milliseconds (backend/server)",
    // 94 eint
    "Total number of internal errors since process started",
    // 95 idle_conn_cur
    "Current number of unsafe idle connections",
    // 96 safe_conn_cur
    "Current number of safe idle connections",
    // 97 used_conn_cur
    "Current number of connections in use",
    // 98 need_conn_est
    "Estimated needed number of connections",
    // 99 uweight
    "Server's user weight, or sum of active servers' user weights for a backend",
    // 100 agg_server_status
    "Backend's aggregated gauge of servers' status",
    // 101 agg_server_check_status
    "Backend's aggregated gauge of servers' state check status",
    // 102 agg_check_status
    "Backend's aggregated gauge of servers' state check status",
    // 103 ssl_sess
    "Total number of ssl sessions established",
    // 104 ssl_reused_sess
    "Total number of ssl sessions reused",
    // 105 ssl_failed_handshake
    "Total number of failed handshake",
    // 106 h2_headers_rcvd
    "Total number of received HEADERS frames",
    // 107 h2_data_rcvd
    "Total number of received DATA frames",
    // 108 h2_settings_rcvd
    "Total number of received SETTINGS frames",
    // 109 h2_rst_stream_rcvd
    "Total number of received RST_STREAM frames",
    // 110 h2_goaway_rcvd
    "Total number of received GOAWAY frames",
    // 111 h2_detected_conn_protocol_errors
    "Total number of connection protocol errors",
    // 112 h2_detected_strm_protocol_errors
    "Total number of stream protocol errors",
    // 113 h2_rst_stream_resp
    "Total number of RST_STREAM sent on detected error",
    // 114 h2_goaway_resp
    "Total number of GOAWAY sent on detected error",
    // 115 h2_open_connections
    "Count of currently open connections",
    // 116 h2_backend_open_streams
    "Count of currently open streams",
    // 117 h2_total_connections
    "Total number of connections",
    // 118 h2_backend_total_streams
    "Total number of streams",
    // 119 h1_open_connections
    "Count of currently open connections",
    // 120 h1_open_streams
    "Count of currently open streams",
    // 121 h1_total_connections
    "Total number of connections",
    // 122 h1_total_streams
    "Total number of streams",
    // 123 h1_bytes_in
    "Total number of bytes received",
    // 124 h1_bytes_out
    "Total number of bytes send",
    // 125 h1_spliced_bytes_in
    "Total number of bytes received using kernel splicing",
    // 126 h1_spliced_bytes_out
    "Total number of bytes sendusing kernel splicing",
];

/// Description of each `show info` field, by position (positions HAProxy never prints here —
/// 45, 46 and 51 — have none).
pub(crate) fn info_description(pos: usize) -> &'static str {
    match pos {
        0 => "Product name", // Name
        1 => "Product version", // Version
        2 => "Date of latest source code update", // Release_date
        3 => "Number of started threads (global.nbthread)", // Nbthread
        4 => "Number of started worker processes (historical, always 1)", // Nbproc
        5 => "Relative worker process number (1)", // Process_num
        6 => "This worker process identifier for the system", // Pid
        7 => "How long ago this worker process was started (days+hours+minutes+seconds)", // Uptime
        8 => "How long ago this worker process was started (seconds)", // Uptime_sec
        9 => "Worker process's hard limit on memory usage in MB (-m on command line)", // Memmax_MB
        10 => "Amount of memory allocated in pools (in MB)", // PoolAlloc_MB
        11 => "Amount of pool memory currently used (in MB)", // PoolUsed_MB
        12 => "Number of failed pool allocations since this worker was started", // PoolFailed
        13 => "Hard limit on the number of per-process file descriptors", // Ulimit-n
        14 => "Hard limit on the number of per-process sockets", // Maxsock
        15 => "Hard limit on the number of per-process connections (configured or imposed by Ulimit-n)", // Maxconn
        16 => "Hard limit on the number of per-process connections (imposed by Memmax_MB or Ulimit-n)", // Hard_maxconn
        17 => "Current number of connections on this worker process", // CurrConns
        18 => "Total number of connections on this worker process since started", // CumConns
        19 => "Total number of requests on this worker process since started", // CumReq
        20 => "Hard limit on the number of per-process SSL endpoints (front+back), 0=unlimited", // MaxSslConns
        21 => "Current number of SSL endpoints on this worker process (front+back)", // CurrSslConns
        22 => "Total number of SSL endpoints on this worker process since started (front+back)", // CumSslConns
        23 => "Hard limit on the number of pipes for splicing, 0=unlimited", // Maxpipes
        24 => "Current number of pipes in use in this worker process", // PipesUsed
        25 => "Current number of allocated and available pipes in this worker process", // PipesFree
        26 => "Number of front connections created on this worker process over the last second", // ConnRate
        27 => "Hard limit for ConnRate (global.maxconnrate)", // ConnRateLimit
        28 => "Highest ConnRate reached on this worker process since started (in connections per second)", // MaxConnRate
        29 => "Number of sessions created on this worker process over the last second", // SessRate
        30 => "Hard limit for SessRate (global.maxsessrate)", // SessRateLimit
        31 => "Highest SessRate reached on this worker process since started (in sessions per second)", // MaxSessRate
        32 => "Number of SSL connections created on this worker process over the last second", // SslRate
        33 => "Hard limit for SslRate (global.maxsslrate)", // SslRateLimit
        34 => "Highest SslRate reached on this worker process since started (in connections per second)", // MaxSslRate
        35 => "Number of SSL keys created on frontends in this worker process over the last second", // SslFrontendKeyRate
        36 => "Highest SslFrontendKeyRate reached on this worker process since started (in SSL keys per second)", // SslFrontendMaxKeyRate
        37 => "Percent of frontend SSL connections which did not require a new key", // SslFrontendSessionReuse_pct
        38 => "Number of SSL keys created on backends in this worker process over the last second", // SslBackendKeyRate
        39 => "Highest SslBackendKeyRate reached on this worker process since started (in SSL keys per second)", // SslBackendMaxKeyRate
        40 => "Total number of SSL session ID lookups in the SSL session cache on this worker since started", // SslCacheLookups
        41 => "Total number of SSL session ID lookups that didn't find a session in the SSL session cache on this worker since started", // SslCacheMisses
        42 => "Number of bytes submitted to the HTTP compressor in this worker process over the last second", // CompressBpsIn
        43 => "Number of bytes emitted by the HTTP compressor in this worker process over the last second", // CompressBpsOut
        44 => "Limit of CompressBpsOut beyond which HTTP compression is automatically disabled", // CompressBpsRateLim
        47 => "Total number of tasks in the current worker process (active + sleeping)", // Tasks
        48 => "Total number of active tasks+tasklets in the current worker process", // Run_queue
        49 => "Percentage of last second spent waiting in the current worker thread", // Idle_pct
        50 => "Node name (global.node)", // node
        52 => "1 if the worker process is currently stopping, otherwise zero", // Stopping
        53 => "Current number of active jobs on the current worker process (frontend connections, master connections, listeners)", // Jobs
        54 => "Current number of unstoppable jobs on the current worker process (master connections)", // Unstoppable Jobs
        55 => "Current number of active listeners on the current worker process", // Listeners
        56 => "Current number of verified active peers connections on the current worker process", // ActivePeers
        57 => "Current number of peers having passed the connection step on the current worker process", // ConnectedPeers
        58 => "Total number of dropped logs for current worker process since started", // DroppedLogs
        59 => "1 if busy-polling is currently in use on the worker process, otherwise zero (config.busy-polling)", // BusyPolling
        60 => "Total number of failed DNS resolutions in current worker process since started", // FailedResolutions
        61 => "Total number of bytes emitted by current worker process since started", // TotalBytesOut
        62 => "Total number of bytes emitted by current worker process through a kernel pipe since started", // TotalSplicdedBytesOut
        63 => "Number of bytes emitted by current worker process over the last second", // BytesOutRate
        64 => "Number of debug commands issued on this process (anything > 0 is unsafe)", // DebugCommandsIssued
        65 => "Total number of log messages received by log-forwarding listeners on this worker process since started", // CumRecvLogs
        66 => "Build info", // Build info
        67 => "Worker process's hard limit on memory usage in byes (-m on command line)", // Memmax_bytes
        68 => "Amount of memory allocated in pools (in bytes)", // PoolAlloc_bytes
        69 => "Amount of pool memory currently used (in bytes)", // PoolUsed_bytes
        70 => "Start time in seconds", // Start_time_sec
        71 => "Experimental features used", // Tainted
        _ => "",
    }
}
