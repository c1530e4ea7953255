//! Semantic validation: turns the schema-shaped `raw` value into a [`Config`], applying
//! defaults and refusing anything the engine could not run as written. Stops at the first
//! fault, checking sections in the usual file order (global, defaults, frontends, backends).
//!
//! - `field`:  single values (ranges, durations, sizes, names, addresses, modes)
//! - `global`: the `global` section
//! - `proxy`:  `defaults`, frontends, backends and servers
//!
//! It does not refuse not-yet-supported features: `not_yet` does, after it, so that a config
//! with both a real mistake and an unsupported feature reports the mistake.

mod check;
mod field;
mod global;
mod http;
mod proxy;
mod tls;

use std::net::SocketAddr;

pub(crate) use proxy::Algorithm;

use crate::config::{AdminListener, Config};
use crate::error::Fault;
use crate::path::YamlPath;
use crate::raw::{Named, RawConfig};
use crate::HostInfo;

/// Validates a whole configuration against the host.
pub(crate) fn config(raw: &RawConfig, host: &HostInfo) -> Result<Config, Fault> {
    let global = global::global(raw.global.as_ref(), host)?;
    let defaults = proxy::defaults(raw.defaults.as_ref(), &global)?;
    let no_backends = Named(Vec::new());
    let backends_raw = raw.backends.as_ref().unwrap_or(&no_backends);
    let frontends_raw = match &raw.frontends {
        Some(frontends) if !frontends.0.is_empty() => frontends,
        _ => {
            return Err(Fault::key(
                &YamlPath::root().key("frontends"),
                "expected at least one frontend",
            ))
        }
    };

    let mut bound = BoundAddresses::default();
    for (i, listener) in global
        .admin
        .iter()
        .flat_map(|admin| admin.extra.iter())
        .enumerate()
    {
        if let AdminListener::Tcp { address, .. } = listener {
            let path = YamlPath::root()
                .key("global")
                .key("admin")
                .key("extra")
                .index(i);
            bound.claim(*address, path.key("bind"), "the admin API".to_owned())?;
        }
    }
    let mut frontends = Vec::with_capacity(frontends_raw.0.len());
    for (name, frontend_raw) in &frontends_raw.0 {
        let frontend = proxy::frontend(name, frontend_raw, &defaults, backends_raw)?;
        for (i, address) in frontend.bind.iter().enumerate() {
            let path = proxy::bind_path(name, &frontend_raw.bind, i);
            bound.claim(
                *address,
                path,
                format!("frontend {}", crate::de::quote(name)),
            )?;
        }
        frontends.push(frontend);
    }
    let mut backends = Vec::with_capacity(backends_raw.0.len());
    for (name, backend_raw) in &backends_raw.0 {
        backends.push(proxy::backend(name, backend_raw, &defaults)?);
    }
    for (b, backend) in backends.iter_mut().enumerate() {
        let path = YamlPath::root().key("backends").key(&backend.name);
        for (i, s) in backend.servers.iter().enumerate() {
            if s.minconn > 0 && (s.maxconn == 0 || s.minconn > s.maxconn) {
                return Err(Fault::value(
                    &path.key("servers").index(i).key("minconn"),
                    format!("minconn {} needs a maxconn at least as large", s.minconn),
                ));
            }
        }
        if backend.fullconn == 0 {
            // HAProxy's default: 10 % of the maxconn of the frontends that can route here.
            let sum: u64 = frontends
                .iter()
                .filter(|f| f.default_backend == b || f.http.routes.iter().any(|r| r.backend == b))
                .map(|f| u64::from(f.maxconn))
                .sum();
            backend.fullconn = u32::try_from(sum / 10).unwrap_or(u32::MAX).max(1);
        }
    }
    Ok(Config {
        global,
        frontends,
        backends,
    })
}

/// Listening addresses claimed so far and by whom, to refuse binding one twice: with
/// `SO_REUSEPORT` the kernel would accept both and split connections between them.
#[derive(Debug, Default)]
struct BoundAddresses {
    owners: Vec<(SocketAddr, YamlPath, String)>,
}

impl BoundAddresses {
    /// Claims `address` for `owner`; port 0 never clashes (each bind gets a new port).
    fn claim(&mut self, address: SocketAddr, path: YamlPath, owner: String) -> Result<(), Fault> {
        if address.port() != 0 {
            if let Some((_, first, first_owner)) =
                self.owners.iter().find(|(a, _, _)| *a == address)
            {
                let message = if *first_owner == owner {
                    format!("address {address} is listed twice (also at {first})")
                } else {
                    format!("address {address} is already bound by {first_owner} ({first})")
                };
                return Err(Fault::value(&path, message));
            }
        }
        self.owners.push((address, path, owner));
        Ok(())
    }
}
