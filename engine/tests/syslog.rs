//! Logs reach a syslog daemon as HAProxy's do: percore runs with `target: udp://…` on an
//! ephemeral loopback port, this test is the daemon, and each datagram must be one RFC 3164
//! framed line in HAProxy 2.6's exact httplog layout — for a normal request, a bad request,
//! a timed-out head, a killed stream — or a server state change in HAProxy's wording.

mod common;

use std::io::Write;
use std::net::UdpSocket;

use common::http_origin::{HttpClient, HttpOrigin};
use common::*;

/// Datagrams read at most before the test gives up looking for the expected lines.
const DATAGRAMS_MAX: usize = 200;

/// A fake syslog daemon on 127.0.0.1.
struct Daemon {
    socket: UdpSocket,
    /// Every datagram received so far, as text.
    seen: Vec<String>,
}

impl Daemon {
    fn start() -> Daemon {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket.set_read_timeout(Some(WAIT)).expect("timeout");
        Daemon {
            socket,
            seen: Vec::new(),
        }
    }

    /// Reads datagrams until one contains `needle`; returns it. Bounded by
    /// [`DATAGRAMS_MAX`] datagrams and [`WAIT`] per datagram.
    fn wait_for(&mut self, needle: &str) -> String {
        if let Some(line) = self.seen.iter().find(|l| l.contains(needle)) {
            return line.clone();
        }
        let mut buf = [0u8; 65536];
        while self.seen.len() < DATAGRAMS_MAX {
            let n = self
                .socket
                .recv(&mut buf)
                .unwrap_or_else(|e| panic!("no datagram with {needle:?}: {e}; {:#?}", self.seen));
            let line = String::from_utf8_lossy(&buf[..n]).into_owned();
            self.seen.push(line.clone());
            if line.contains(needle) {
                return line;
            }
        }
        panic!("no datagram with {needle:?} in {:#?}", self.seen)
    }
}

/// The RFC 3164 header HAProxy sends, `<PRI>Mmm dd hh:mm:ss tag[pid]: `, checked and cut
/// off; returns the priority and the message.
fn split_header(datagram: &str) -> (u32, String) {
    let rest = datagram.strip_prefix('<').expect("<PRI>");
    let (pri, rest) = rest.split_once('>').expect("<PRI>");
    // "Dec  2 03:19:26 " is 16 bytes.
    let (date, rest) = rest.split_at(16);
    assert_eq!(date.as_bytes()[3], b' ', "{datagram:?}");
    assert_eq!(&date[9..10], ":", "{datagram:?}");
    let (tag, msg) = rest.split_once(": ").expect("tag[pid]: ");
    assert!(
        tag.starts_with("lb1[") && tag.ends_with(']'),
        "{datagram:?}"
    );
    assert!(msg.ends_with('\n'), "one line per datagram: {datagram:?}");
    (
        pri.parse().expect("pri"),
        msg.trim_end_matches('\n').to_owned(),
    )
}

#[test]
fn syslog_lines_are_haproxys() {
    let o = HttpOrigin::start("o1");
    let mut daemon = Daemon::start();
    let yaml = format!(
        "global:\n  shards: 1\n  admin: {{ socket: ./admin.sock }}\n  \
         log: {{ target: \"udp://{}\", access: true, facility: local0, tag: lb1 }}\n\
         defaults:\n  mode: http\n  timeout: {{ http_request: 300ms }}\n\
         frontends:\n  web: {{ bind: \"127.0.0.1:0\", default_backend: app }}\n\
         backends:\n  app:\n    servers:\n      - {{ name: o1, address: \"{}\" }}\n  \
         dead:\n    check: {{ inter: 100ms, rise: 1, fall: 1, timeout: 100ms }}\n    \
         servers:\n      - {{ name: d1, address: \"{}\" }}\n",
        daemon.socket.local_addr().expect("addr"),
        o.addr,
        dead_addr()
    );
    let p = Proxy::start("syslog", &yaml);
    let web = p.addr("web");

    let mut c = HttpClient::connect(web);
    assert_eq!(c.get("/ok").status, 200);
    let (pri, ok) = split_header(&daemon.wait_for("\"GET /ok HTTP/1.1\""));
    assert_eq!(pri, 16 * 8 + 6, "local0.info");
    assert_httplog(&ok, "web app/o1 ", "200", "----", "GET /ok HTTP/1.1");

    let mut bad = connect(web);
    bad.write_all(b"GARBAGE\r\n\r\n").expect("write");
    let _ = read_to_close(&mut bad);
    let (_, badreq) = split_header(&daemon.wait_for("<BADREQ>"));
    assert_httplog(&badreq, "web web/<NOSRV> ", "400", "PR--", "<BADREQ>");
    assert!(badreq.contains(" -1/-1/-1/-1/"), "{badreq}");

    // A head that never completes: 408 after timeout.http_request, still a full line.
    let mut slow = connect(web);
    slow.write_all(b"GET /slow HTTP/1.1\r\n").expect("write");
    let _ = read_to_close(&mut slow);
    let (_, timeout) = split_header(&daemon.wait_for(" 408 "));
    assert_httplog(&timeout, "web web/<NOSRV> ", "408", "cR--", "<BADREQ>");

    // A request the origin never answers, killed by the admin.
    c.send(b"GET /hang HTTP/1.1\r\nhost: t\r\n\r\n");
    poll_until("request at the origin", || match o.requests() {
        n if n >= 2 => Ok(()),
        n => Err(n),
    });
    let reply = admin(&p.dir.join("admin.sock"), "shutdown sessions server app/o1");
    assert_eq!(reply.trim(), "", "{reply}");
    let (_, killed) = split_header(&daemon.wait_for("\"GET /hang HTTP/1.1\""));
    assert_httplog(&killed, "web app/o1 ", "0", "KH--", "GET /hang HTTP/1.1");

    let (pri, down) = split_header(&daemon.wait_for("Server dead/d1 is DOWN"));
    assert_eq!(pri, 16 * 8 + 1, "local0.alert, as HAProxy: {down}");
    assert!(
        down.starts_with("Server dead/d1 is DOWN, reason: Layer4 ")
            && down.ends_with(". 0 active and 0 backup servers left."),
        "{down}"
    );
    let (pri, none) = split_header(&daemon.wait_for("has no server available"));
    assert_eq!(pri, 16 * 8, "local0.emerg, as HAProxy");
    assert_eq!(none, "backend dead has no server available!");
}

/// One httplog line: `ip:port [date] frontend backend/server TR/Tw/Tc/Tr/Ta status bytes
/// - - flags ac/fc/bc/sc/rc sq/bq "request"`, with nothing after the request.
fn assert_httplog(line: &str, route: &str, status: &str, flags: &str, request: &str) {
    let fields: Vec<&str> = line.split(' ').collect();
    assert!(fields[0].starts_with("127.0.0.1:"), "{line}");
    assert!(
        fields[1].starts_with('[') && fields[1].ends_with(']') && fields[1].len() == 26,
        "{line}"
    );
    assert!(line.contains(&format!(" {route}")), "{line}");
    assert_eq!(fields[5], status, "{line}");
    assert_eq!(&fields[7..10], ["-", "-", flags], "{line}");
    assert_eq!(fields[4].split('/').count(), 5, "{line}");
    assert_eq!(fields[10].split('/').count(), 5, "{line}");
    assert_eq!(fields[11].split('/').count(), 2, "{line}");
    assert!(line.ends_with(&format!(" \"{request}\"")), "{line}");
}
