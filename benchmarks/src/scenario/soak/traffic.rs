//! The soak's client traffic: HTTP tasks on kept-alive connections and on a new connection
//! per request, TCP stream tasks, each paced to its share of the rate and choosing kinds
//! and per-request faults from its own seeded generator. Every request carries a unique id
//! (`X-Id`, and in the path `/soak/<kind>/<id>`, which the access logs show); each ends in
//! one [`Sent`] record. Everything runs on one pool thread; no request outlives the
//! client timeout.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::plan::{End, Fault, Kind, Rng, Sent};

/// Which client tasks run, and whether requests carry per-request faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    /// HTTP tasks keeping their client connection between requests.
    pub keep_alive_tasks: u64,
    /// HTTP tasks opening a connection per request (`Connection: close`).
    pub new_conn_tasks: u64,
    /// TCP stream tasks.
    pub tcp_tasks: u64,
    /// Per-request origin and client faults drawn (soak), or none (reload).
    pub faults: bool,
}

impl Mix {
    /// The soak's: 6 kept-alive, 3 new-connection, 2 TCP tasks, with faults.
    pub const SOAK: Mix = Mix {
        keep_alive_tasks: 6,
        new_conn_tasks: 3,
        tcp_tasks: 2,
        faults: true,
    };

    fn tasks(self) -> u64 {
        self.keep_alive_tasks + self.new_conn_tasks + self.tcp_tasks
    }
}

/// Response body bytes of a GET.
const GET_BODY: usize = 1024;
/// Response body a client-abort GET asks for: far more than it reads.
const ABORT_RESPONSE_BODY: usize = 4 << 20;
/// Bytes read of it before the reset.
const ABORT_RESPONSE_AFTER: usize = 16 * 1024;
/// Bytes of a request body sent before a client-abort reset.
const ABORT_REQUEST_AFTER: usize = 4 * 1024;
/// Bytes a TCP stream sends after its id line (all echoed).
const TCP_PAYLOAD: usize = 16 * 1024;
/// How long an `Expect: 100-continue` upload waits for `100 Continue` before sending anyway.
const EXPECT_WAIT: Duration = Duration::from_secs(1);
/// Longest response head read.
const RESPONSE_HEAD_MAX: usize = 16 * 1024;

/// What the traffic needs to run.
#[derive(Clone)]
pub struct TrafficPlan {
    /// The proxy's HTTP frontend.
    pub http: SocketAddr,
    /// The proxy's TCP frontend.
    pub tcp: SocketAddr,
    /// Requests and streams per second, all tasks together.
    pub rate: f64,
    /// The run's start: `Sent` times count from here.
    pub t0: Instant,
    /// No request starts after this.
    pub until: Instant,
    /// Ids are taken from here (shared with the slowloris fault); none at or above
    /// `ids_max` is used.
    pub ids: Arc<AtomicU64>,
    /// Bound on ids over the run.
    pub ids_max: u64,
    /// Per-request limit.
    pub timeout: Duration,
    /// Seed of every task's choices.
    pub seed: u64,
    /// The client tasks.
    pub mix: Mix,
}

impl TrafficPlan {
    /// A plan that starts now and sends for `duration`, ids counted from 0.
    pub fn starting_now(
        (http, tcp): (SocketAddr, SocketAddr),
        rate: f64,
        duration: Duration,
        ids_max: u64,
        timeout: Duration,
        seed: u64,
        mix: Mix,
    ) -> TrafficPlan {
        let t0 = Instant::now();
        TrafficPlan {
            http,
            tcp,
            rate,
            t0,
            until: t0 + duration,
            ids: Arc::new(AtomicU64::new(0)),
            ids_max,
            timeout,
            seed,
            mix,
        }
    }

    /// The next id, or `None` once the run's bound is reached.
    pub fn next_id(&self) -> Option<u64> {
        let id = self.ids.fetch_add(1, Ordering::Relaxed);
        (id < self.ids_max).then_some(id)
    }

    /// Milliseconds since the run's start.
    pub fn ms(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.t0).as_millis() as u64
    }
}

/// Runs every task until `until` (or the id bound) and returns every id's record.
pub async fn run(plan: TrafficPlan) -> Vec<Sent> {
    let out = Rc::new(RefCell::new(Vec::new()));
    let mix = plan.mix;
    let tasks = mix.tasks();
    let every = Duration::from_secs_f64(tasks as f64 / plan.rate.max(1.0));
    let mut handles = Vec::new();
    for i in 0..tasks {
        let (plan, out) = (plan.clone(), out.clone());
        handles.push(tokio::task::spawn_local(async move {
            let mut rng = Rng::new(plan.seed, i);
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut conn = None;
            loop {
                tick.tick().await;
                if Instant::now() >= plan.until {
                    return;
                }
                let Some(id) = plan.next_id() else {
                    return;
                };
                let (kind, fault) = rng.request();
                let request = (kind, fault.filter(|_| mix.faults));
                let sent = if i < mix.keep_alive_tasks {
                    http_one(&plan, &mut conn, id, true, request).await
                } else if i < mix.keep_alive_tasks + mix.new_conn_tasks {
                    http_one(&plan, &mut None, id, false, request).await
                } else {
                    tcp_one(&plan, id).await
                };
                out.borrow_mut().push(sent);
            }
        }));
    }
    for h in handles {
        let _ = h.await;
    }
    Rc::try_unwrap(out).map_or_else(|rc| rc.borrow().clone(), RefCell::into_inner)
}

/// Starts [`run`] on the first thread of `pool`; its ids come on the returned channel.
pub fn spawn(pool: &crate::pool::Pool, plan: &TrafficPlan) -> std::sync::mpsc::Receiver<Vec<Sent>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let plan = plan.clone();
    pool.spawn(
        0,
        Box::new(move || {
            Box::pin(async move {
                let _ = tx.send(run(plan).await);
            })
        }),
    );
    rx
}

/// One HTTP request on `conn` (opened if `None`; left `None` when the connection cannot
/// carry another request).
async fn http_one(
    plan: &TrafficPlan,
    conn: &mut Option<TcpStream>,
    id: u64,
    keep_alive: bool,
    (kind, fault): (Kind, Option<Fault>),
) -> Sent {
    let start = Instant::now();
    let end = match tokio::time::timeout(
        plan.timeout,
        exchange(plan, conn, id, kind, fault, keep_alive),
    )
    .await
    {
        Ok(Ok(end)) => end,
        Ok(Err(end)) => {
            *conn = None;
            end
        }
        Err(_) => {
            *conn = None;
            End::Timeout
        }
    };
    if !keep_alive {
        *conn = None;
    }
    Sent {
        id,
        kind,
        keep_alive,
        fault,
        start_ms: plan.ms(start),
        end_ms: plan.ms(Instant::now()),
        micros: start.elapsed().as_micros() as u64,
        end,
    }
}

/// The request's head.
fn head(id: u64, kind: Kind, fault: Option<Fault>, keep_alive: bool) -> Vec<u8> {
    let method = if kind == Kind::Get { "GET" } else { "POST" };
    let mut h = format!(
        "{method} /soak/{}/{id} HTTP/1.1\r\nhost: soak\r\nx-id: {id}\r\n",
        kind.as_str()
    );
    match fault {
        Some(f) if f.is_origin_header() => h += &format!("x-fault: {}\r\n", f.as_str()),
        _ => {}
    }
    let body_out = if fault == Some(Fault::AbortResponse) {
        ABORT_RESPONSE_BODY
    } else {
        GET_BODY
    };
    h += &format!("x-body: {body_out}\r\n");
    if kind.body_bytes() > 0 {
        h += &format!("content-length: {}\r\n", kind.body_bytes());
    }
    if kind == Kind::UploadExpect {
        h += "expect: 100-continue\r\n";
    }
    if !keep_alive {
        h += "connection: close\r\n";
    }
    h += "\r\n";
    h.into_bytes()
}

/// Sends the request and reads its answer. `Err` when the connection is not reusable.
async fn exchange(
    plan: &TrafficPlan,
    conn: &mut Option<TcpStream>,
    id: u64,
    kind: Kind,
    fault: Option<Fault>,
    keep_alive: bool,
) -> Result<End, End> {
    if conn.is_none() {
        let c = TcpStream::connect(plan.http)
            .await
            .map_err(|_| End::Connect)?;
        let _ = c.set_nodelay(true);
        *conn = Some(c);
    }
    let c = conn.as_mut().expect("opened above");
    let head = head(id, kind, fault, keep_alive);
    let body = vec![b'b'; kind.body_bytes()];
    let mut buf = Vec::new();
    match fault {
        Some(Fault::AbortRequest) => {
            c.write_all(&head).await.map_err(io_end)?;
            c.write_all(&body[..ABORT_REQUEST_AFTER.min(body.len())])
                .await
                .map_err(io_end)?;
            return Err(abort(conn));
        }
        Some(Fault::AbortResponse) => {
            c.write_all(&head).await.map_err(io_end)?;
            while buf.len() < ABORT_RESPONSE_AFTER {
                read_more(c, &mut buf).await?;
            }
            return Err(abort(conn));
        }
        _ => {}
    }
    if kind == Kind::UploadExpect {
        c.write_all(&head).await.map_err(io_end)?;
        // A final answer before the body (an error page) ends the exchange here.
        if let Ok(r) = tokio::time::timeout(EXPECT_WAIT, read_response(c, &mut buf, true)).await {
            if let Some(end) = r?.final_end() {
                return Err(end);
            }
        }
        c.write_all(&body).await.map_err(io_end)?;
    } else {
        let mut all = head;
        all.extend_from_slice(&body);
        c.write_all(&all).await.map_err(io_end)?;
    }
    let r = read_response(c, &mut buf, false).await?;
    let end = r.final_end().unwrap_or(End::Bad);
    if r.close || !buf.is_empty() || !matches!(end, End::Answered(_)) {
        return Err(end);
    }
    Ok(end)
}

/// Resets the connection (SO_LINGER 0) and forgets it: the client-side aborts.
fn abort(conn: &mut Option<TcpStream>) -> End {
    if let Some(c) = conn.take() {
        let _ = socket2::SockRef::from(&c).set_linger(Some(Duration::ZERO));
    }
    End::Aborted
}

/// A response as read: its status, echoed id, whether the connection closes after it.
struct Response {
    status: u16,
    id: Option<u64>,
    close: bool,
    /// The body had the announced length (or the origin's length for a 200).
    whole: bool,
}

impl Response {
    /// How a final response ends the id (`None` for an interim one). A 200 without an id
    /// echo is no answer of ours.
    fn final_end(&self) -> Option<End> {
        match (self.status, self.id) {
            (100..=199, _) => None,
            (200, Some(id)) if self.whole => Some(End::Answered(id)),
            (200, _) => Some(End::Bad),
            (s, _) => Some(End::Status(s)),
        }
    }
}

/// Reads one response (an interim one too when `interim`, else interim ones are skipped),
/// its body consumed from `buf`.
async fn read_response(
    c: &mut TcpStream,
    buf: &mut Vec<u8>,
    interim: bool,
) -> Result<Response, End> {
    loop {
        let (status, id, len, close, head_len) = loop {
            if let Some(parsed) = parse_response(buf)? {
                break parsed;
            }
            if buf.len() > RESPONSE_HEAD_MAX {
                return Err(End::Bad);
            }
            read_more(c, buf).await?;
        };
        buf.drain(..head_len);
        if (100..200).contains(&status) {
            if interim {
                return Ok(Response {
                    status,
                    id,
                    close: false,
                    whole: true,
                });
            }
            continue;
        }
        let whole = match len {
            Some(n) => {
                while buf.len() < n {
                    read_more(c, buf).await?;
                }
                buf.drain(..n);
                status != 200 || n == GET_BODY
            }
            None => {
                // Delimited by the close: an error page without a length.
                while read_more(c, buf).await.is_ok() {}
                buf.clear();
                true
            }
        };
        return Ok(Response {
            status,
            id,
            close: close || len.is_none(),
            whole,
        });
    }
}

/// (status, x-id, content-length, connection: close, head bytes) of a complete head.
pub(super) type Parsed = (u16, Option<u64>, Option<usize>, bool, usize);

pub(super) fn parse_response(buf: &[u8]) -> Result<Option<Parsed>, End> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut r = httparse::Response::new(&mut headers);
    let head_len = match r.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(End::Bad),
    };
    let status = r.code.ok_or(End::Bad)?;
    let (mut id, mut len, mut close) = (None, None, false);
    for h in r.headers.iter() {
        let v = std::str::from_utf8(h.value).unwrap_or("").trim();
        match h.name.to_ascii_lowercase().as_str() {
            "x-id" => id = v.parse().ok(),
            "content-length" => len = Some(v.parse().map_err(|_| End::Bad)?),
            "connection" => close = v.eq_ignore_ascii_case("close"),
            "transfer-encoding" => return Err(End::Bad),
            _ => {}
        }
    }
    if (100..200).contains(&status) || status == 204 || status == 304 {
        len = Some(0);
    }
    Ok(Some((status, id, len, close, head_len)))
}

/// Reads more bytes into `buf`; EOF and errors end the request.
async fn read_more(c: &mut TcpStream, buf: &mut Vec<u8>) -> Result<(), End> {
    let mut chunk = [0u8; 16 * 1024];
    match c.read(&mut chunk).await {
        Ok(0) => Err(End::Eof),
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            Ok(())
        }
        Err(e) => Err(io_end(e)),
    }
}

pub(super) fn io_end(e: std::io::Error) -> End {
    match e.kind() {
        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe => End::Reset,
        std::io::ErrorKind::UnexpectedEof => End::Eof,
        _ => End::Reset,
    }
}

/// One TCP stream: the id line and a payload, all echoed back.
async fn tcp_one(plan: &TrafficPlan, id: u64) -> Sent {
    let start = Instant::now();
    let end = match tokio::time::timeout(plan.timeout, tcp_exchange(plan.tcp, id)).await {
        Ok(Ok(())) => End::Answered(id),
        Ok(Err(end)) => end,
        Err(_) => End::Timeout,
    };
    Sent {
        id,
        kind: Kind::Tcp,
        keep_alive: false,
        fault: None,
        start_ms: plan.ms(start),
        end_ms: plan.ms(Instant::now()),
        micros: start.elapsed().as_micros() as u64,
        end,
    }
}

async fn tcp_exchange(addr: SocketAddr, id: u64) -> Result<(), End> {
    let mut c = TcpStream::connect(addr).await.map_err(|_| End::Connect)?;
    let _ = c.set_nodelay(true);
    let mut out = format!("{id}\n").into_bytes();
    out.extend((0..TCP_PAYLOAD).map(|i| (i % 251) as u8));
    let (mut rd, mut wr) = c.split();
    let send = async {
        wr.write_all(&out).await.map_err(io_end)?;
        wr.shutdown().await.map_err(io_end)
    };
    let mut back = Vec::with_capacity(out.len());
    let recv = async {
        rd.read_to_end(&mut back).await.map_err(io_end)?;
        Ok::<(), End>(())
    };
    let (s, r) = tokio::join!(send, recv);
    s?;
    r?;
    if back == out {
        Ok(())
    } else if back.len() < out.len() {
        Err(End::Eof)
    } else {
        Err(End::Bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_name_kind_id_and_fault() {
        let h = String::from_utf8(head(42, Kind::UploadExpect, Some(Fault::RstMid), false))
            .expect("ascii");
        assert!(
            h.starts_with("POST /soak/upload-expect/42 HTTP/1.1\r\n"),
            "{h}"
        );
        assert!(
            h.contains("x-id: 42\r\n") && h.contains("x-fault: rst-mid\r\n"),
            "{h}"
        );
        assert!(h.contains("expect: 100-continue\r\n") && h.contains("connection: close\r\n"));
        assert!(h.contains(&format!("content-length: {}\r\n", 128 * 1024)));
        let g =
            String::from_utf8(head(7, Kind::Get, Some(Fault::AbortResponse), true)).expect("ascii");
        assert!(!g.contains("x-fault") && g.contains(&format!("x-body: {ABORT_RESPONSE_BODY}")));
    }

    #[test]
    fn responses_parse_with_their_id_and_length() {
        let r = b"HTTP/1.1 200 OK\r\nx-id: 9\r\ncontent-length: 3\r\n\r\nabc";
        assert_eq!(
            parse_response(r),
            Ok(Some((200, Some(9), Some(3), false, 47)))
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 100 Continue\r\n\r\n"),
            Ok(Some((100, None, Some(0), false, 25)))
        );
        assert_eq!(parse_response(b"HTTP/1.1 200 OK\r\n"), Ok(None));
        assert_eq!(parse_response(b"HTTP/1.1 2x0 OK\r\n\r\n"), Err(End::Bad));
    }
}
