//! Commands that change the set of servers or the whole configuration: `add server`,
//! `del server` (HAProxy 2.6 `cli_parse_add_server` / `cli_parse_delete_server`: argument
//! rules and reply texts) and percore's `reload [<file>]`. The engine does the lookups and
//! the rules that need the running state (duplicate names, maintenance, live streams).

use std::net::SocketAddr;

use super::server::ServerRef;
use super::Command;
use crate::error::{ErrorReply, REQUIRE_BACKEND_SERVER};
use crate::grammar::Args;

/// Reply to a successful `add server`.
pub const NEW_SERVER_REGISTERED: &str = "New server registered.\n";
/// Reply to a successful `del server`.
pub const SERVER_DELETED: &str = "Server deleted.\n";
/// `add server <bk>/<srv>` without an address.
pub const ADD_SERVER_USAGE: ErrorReply =
    ErrorReply::from_static("'server' expects <name> and <addr>[:<port>] as arguments.\n");
/// `add server` naming a server that exists.
pub const SERVER_EXISTS: ErrorReply =
    ErrorReply::from_static("Already exists a server with the same name in backend.\n");
/// `add server` into a backend whose algorithm cannot take servers at run time
/// (`static-rr`, map-based hashing).
pub const BACKEND_NOT_DYNAMIC: ErrorReply = ErrorReply::from_static(
    "Backend must use a dynamic load balancing to support dynamic servers.\n",
);
/// `del server` on a server that is not in maintenance.
pub const DELETE_NEEDS_MAINT: ErrorReply =
    ErrorReply::from_static("Only a server in maintenance mode can be deleted.\n");
/// `del server` on a server that still has streams (or idle or queued connections).
pub const DELETE_HAS_CONNECTIONS: ErrorReply =
    ErrorReply::from_static("Server still has connections attached to it, cannot remove it.\n");

/// `add server` arguments, HAProxy keywords: `weight <n>`, `maxconn <n>`, `check`,
/// `backup`, `send-proxy`, `send-proxy-v2`, `disabled`, `enabled`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddServer {
    /// `<bk>/<srv>`.
    pub server: ServerRef,
    /// `<ip>:<port>`.
    pub address: SocketAddr,
    /// `weight` (default 1), 0..=256.
    pub weight: u32,
    /// `maxconn` (default 0: unlimited).
    pub maxconn: u32,
    /// `check`: active health checks with the backend's check settings.
    pub check: bool,
    /// `backup`.
    pub backup: bool,
    /// `send-proxy` (1) or `send-proxy-v2` (2).
    pub send_proxy: Option<u8>,
}

/// Most weight a server may have (HAProxy `SRV_UWGHT_MAX`).
const WEIGHT_MAX: u32 = 256;

/// `add server <bk>/<srv> <addr>:<port> [keywords]`.
pub(super) fn parse_add_server(args: Args<'_>) -> Result<Command, ErrorReply> {
    let server = server_ref(args.get(2))?;
    let addr = args.get(3);
    if addr.is_empty() {
        return Err(ADD_SERVER_USAGE);
    }
    let address = addr.parse::<SocketAddr>().map_err(|_| {
        ErrorReply::from_string(format!(
            "'server {server}' : invalid address: '{addr}' (an IP address and a port are \
             required).\n"
        ))
    })?;
    let mut add = AddServer {
        server,
        address,
        weight: 1,
        maxconn: 0,
        check: false,
        backup: false,
        send_proxy: None,
    };
    let mut i = 4;
    while i < args.0.len() {
        let word = args.get(i);
        match word {
            "weight" | "maxconn" => {
                let value = number(word, args.get(i + 1))?;
                if word == "weight" {
                    if value > WEIGHT_MAX {
                        return Err(ErrorReply::from_string(format!(
                            "'weight' : weight of server {} is not within 0 and 256 ({value}).\n",
                            add.server
                        )));
                    }
                    add.weight = value;
                } else {
                    add.maxconn = value;
                }
                i += 1;
            }
            "check" => add.check = true,
            "backup" => add.backup = true,
            "send-proxy" => add.send_proxy = Some(1),
            "send-proxy-v2" => add.send_proxy = Some(2),
            // A new server starts in maintenance either way, as in HAProxy.
            "disabled" | "enabled" => {}
            other => {
                return Err(ErrorReply::from_string(format!(
                    "unknown keyword '{other}'.\n"
                )))
            }
        }
        i += 1;
    }
    Ok(Command::AddServer(add))
}

/// `del server <bk>/<srv>`.
pub(super) fn parse_del_server(args: Args<'_>) -> Result<Command, ErrorReply> {
    Ok(Command::DelServer(server_ref(args.get(2))?))
}

/// `reload [<file>]`.
pub(super) fn parse_reload(args: Args<'_>) -> Result<Command, ErrorReply> {
    let file = args.get(1);
    Ok(Command::Reload((!file.is_empty()).then(|| file.to_owned())))
}

/// `upgrade [<binary>]`.
pub(super) fn parse_upgrade(args: Args<'_>) -> Result<Command, ErrorReply> {
    let binary = args.get(1);
    Ok(Command::Upgrade(
        (!binary.is_empty()).then(|| binary.to_owned()),
    ))
}

fn server_ref(arg: &str) -> Result<ServerRef, ErrorReply> {
    match arg.split_once('/') {
        Some((backend, server)) if !backend.is_empty() && !server.is_empty() => {
            Ok(ServerRef::new(backend, server))
        }
        _ => Err(REQUIRE_BACKEND_SERVER),
    }
}

/// A keyword's non-negative integer argument, HAProxy's wording when it is not one.
fn number(keyword: &str, text: &str) -> Result<u32, ErrorReply> {
    text.parse::<u32>().map_err(|_| {
        ErrorReply::from_string(format!(
            "'{keyword}' expects an integer argument, found '{text}'.\n"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::parse;
    use crate::Level;

    #[test]
    fn add_server_takes_haproxy_keywords() {
        let cmd = parse(
            "add server app/s9 127.0.0.1:8080 weight 5 maxconn 10 check backup send-proxy-v2",
            Level::Admin,
        )
        .expect("parse");
        assert_eq!(
            cmd,
            Command::AddServer(AddServer {
                server: ServerRef::new("app", "s9"),
                address: "127.0.0.1:8080".parse().expect("addr"),
                weight: 5,
                maxconn: 10,
                check: true,
                backup: true,
                send_proxy: Some(2),
            })
        );
    }

    #[test]
    fn add_server_errors_are_haproxy_texts() {
        let err = |line: &str| parse(line, Level::Admin).expect_err(line);
        assert_eq!(err("add server"), REQUIRE_BACKEND_SERVER);
        assert_eq!(err("add server app/s9"), ADD_SERVER_USAGE);
        assert_eq!(
            err("add server app/s9 127.0.0.1:1 colour red").body(),
            "unknown keyword 'colour'.\n"
        );
        assert!(err("add server app/s9 127.0.0.1:1 weight 300")
            .body()
            .contains("not within 0 and 256"));
        assert!(err("add server app/s9 nowhere")
            .body()
            .contains("invalid address"));
        assert_eq!(
            parse("add server app/s9 127.0.0.1:1", Level::Operator),
            Err(crate::PERMISSION_DENIED)
        );
    }

    #[test]
    fn del_server_and_reload() {
        assert_eq!(
            parse("del server app/s1", Level::Admin),
            Ok(Command::DelServer(ServerRef::new("app", "s1")))
        );
        assert_eq!(
            parse("del server app", Level::Admin),
            Err(REQUIRE_BACKEND_SERVER)
        );
        assert_eq!(parse("reload", Level::Admin), Ok(Command::Reload(None)));
        assert_eq!(parse("upgrade", Level::Admin), Ok(Command::Upgrade(None)));
        assert_eq!(
            parse("upgrade /usr/sbin/percore", Level::Admin),
            Ok(Command::Upgrade(Some("/usr/sbin/percore".into())))
        );
        assert_eq!(
            parse("upgrade", Level::Operator),
            Err(crate::PERMISSION_DENIED)
        );
        assert_eq!(
            parse("reload /etc/p.yaml", Level::Admin),
            Ok(Command::Reload(Some("/etc/p.yaml".into())))
        );
        assert_eq!(
            parse("reload", Level::Operator),
            Err(crate::PERMISSION_DENIED)
        );
    }
}
