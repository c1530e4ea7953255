//! Reload: a validated file diffed against the running layout (pure, no I/O).
//!
//! The running configuration is a *layout*: every frontend, backend and server slot ever
//! used keeps its index for the life of the process (shards index their tables, streams
//! and counters by it). A reload therefore never moves anything: what the file still names
//! keeps its slot (with the file's settings), what it no longer names keeps its slot marked
//! removed (its streams finish there), and a new name takes the slot of a removed one of
//! that name or is appended; the file's backend references are mapped to layout slots.
//! Layouts only grow, bounded by [`SERVER_SLOTS_MAX`] and [`PROXY_SLOTS_MAX`].
//!
//! Applied live: servers, backend settings (balance, hash, timeouts, retries, pools,
//! checks), frontend routes, rules, error pages, `forwardfor`, timeouts and `maxconn`,
//! `global.log` but `access` (target, framing, thinning, format) and `global.metrics`, frontends and backends added or removed. Refused with the reason
//! (nothing changes): a frontend's mode or `accept_proxy`, a backend's mode, and the
//! other `global` settings; they need a restart for now. Binds are diffed by `layout`.

use percore_conf::{Backend, Config, Frontend, Global};

/// Server slots of the whole process at most, removed ones included: bounds the per-server
/// tables of every shard (counters, budgets, views, pool lists: about 1 KiB per slot and
/// shard).
pub const SERVER_SLOTS_MAX: usize = 16_384;

/// Frontend and backend slots of the process at most, removed ones included: bounds the
/// per-proxy tables of every shard (counters, queues, budgets, balancers).
pub const PROXY_SLOTS_MAX: usize = 4096;

/// What a reload does to one server slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Named by the file with the same settings.
    Same,
    /// Named by the file with other settings; operator-set runtime state is kept.
    Changed,
    /// A new server: appended, or in the slot of a removed server of the same name.
    Added,
    /// No longer named: marked removed, its streams finish.
    Removed,
    /// Removed earlier, still not named.
    Gone,
    /// Added at run time (`add server`) and not named by the file: kept as it is.
    Dynamic,
}

/// What a reload does to one frontend or backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyFate {
    /// Named by the file: the file's settings.
    Kept,
    /// New: appended, or in the slot of a removed one of the same name.
    Added,
    /// No longer named: marked removed (listeners closed, servers removed).
    Removed,
    /// Removed earlier, still not named.
    Gone,
}

impl ProxyFate {
    /// Whether the proxy exists after the reload.
    pub fn live(self) -> bool {
        matches!(self, ProxyFate::Kept | ProxyFate::Added)
    }
}

/// The outcome of [`plan`]: the new layout and the fate of each of its slots.
#[derive(Debug)]
pub struct Plan {
    /// The file's configuration laid out on the running slots.
    pub layout: Config,
    /// `fates[backend][server]`, one per server slot of `layout`.
    pub fates: Vec<Vec<Fate>>,
    /// One per frontend slot of `layout`.
    pub frontends: Vec<ProxyFate>,
    /// One per backend slot of `layout`.
    pub backends: Vec<ProxyFate>,
}

impl Plan {
    /// Server slots of each fate: (added, removed, changed).
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |f: Fate| self.fates.iter().flatten().filter(|&&x| x == f).count();
        (
            count(Fate::Added),
            count(Fate::Removed),
            count(Fate::Changed),
        )
    }

    /// Frontends and backends (added, removed).
    pub fn proxy_counts(&self) -> (usize, usize) {
        let all = || self.frontends.iter().chain(&self.backends);
        let count = |f: ProxyFate| all().filter(|&&x| x == f).count();
        (count(ProxyFate::Added), count(ProxyFate::Removed))
    }
}

/// Per running server slot: (removed, added at run time).
pub type SlotFlags = (bool, bool);

/// The running layout's removal marks: `servers[backend][server]`, and whether each
/// frontend and backend slot is removed.
pub struct Flags<'a> {
    /// Per server slot.
    pub servers: &'a [Vec<SlotFlags>],
    /// Per frontend slot.
    pub frontends: &'a [bool],
    /// Per backend slot.
    pub backends: &'a [bool],
}

/// Lays `file` out on the `running` layout (whose slots have `flags`). Refuses, with the
/// sentence the operator gets, what cannot be applied live.
pub fn plan(running: &Config, flags: &Flags<'_>, file: Config) -> Result<Plan, String> {
    refuse_global(&running.global, &file.global)?;
    let Config {
        global,
        frontends: file_frontends,
        backends: file_backends,
    } = file;
    let (backends, backend_fates, fates, map) = lay_backends(running, flags, file_backends)?;
    let (frontends, frontend_fates) =
        lay_frontends(running, flags.frontends, file_frontends, &map)?;
    let layout = Config {
        global,
        frontends,
        backends,
    };
    let proxies = layout.frontends.len() + layout.backends.len();
    if proxies > PROXY_SLOTS_MAX {
        return Err(format!(
            "{proxies} frontend and backend slots (removed ones included) would exceed the \
             limit of {PROXY_SLOTS_MAX}; restart to start from the file's"
        ));
    }
    let slots: usize = layout.backends.iter().map(|b| b.servers.len()).sum();
    if slots > SERVER_SLOTS_MAX {
        return Err(format!(
            "{slots} server slots (removed servers included) would exceed the limit of \
             {SERVER_SLOTS_MAX}; restart to start from the file's servers"
        ));
    }
    Ok(Plan {
        layout,
        fates,
        frontends: frontend_fates,
        backends: backend_fates,
    })
}

/// Backend slots and their server slots: running backends in place (the file's settings
/// and merged servers where named; removed, with every server removed, where not), then
/// the file's new backends. Returns them with each file backend's layout index.
#[allow(clippy::type_complexity)] // one caller, which takes the tuple apart
fn lay_backends(
    running: &Config,
    flags: &Flags<'_>,
    file: Vec<Backend>,
) -> Result<(Vec<Backend>, Vec<ProxyFate>, Vec<Vec<Fate>>, Vec<usize>), String> {
    let mut backends = running.backends.clone();
    let mut proxy: Vec<ProxyFate> = flags
        .backends
        .iter()
        .map(|&removed| {
            if removed {
                ProxyFate::Gone
            } else {
                ProxyFate::Removed
            }
        })
        .collect();
    let mut fates: Vec<Vec<Fate>> = flags
        .servers
        .iter()
        .map(|b| {
            b.iter()
                .map(|&(removed, _)| if removed { Fate::Gone } else { Fate::Removed })
                .collect()
        })
        .collect();
    let mut map = Vec::with_capacity(file.len());
    for be in file {
        match backends.iter().position(|b| b.name == be.name) {
            Some(i) => {
                if backends[i].mode != be.mode && !flags.backends[i] {
                    return Err(format!(
                        "backend {}: mode changed: reload cannot apply it yet, restart to \
                         change it",
                        be.name
                    ));
                }
                let (servers, f) = merge_servers(&backends[i], &flags.servers[i], &be.servers);
                proxy[i] = if flags.backends[i] {
                    ProxyFate::Added
                } else {
                    ProxyFate::Kept
                };
                fates[i] = f;
                backends[i] = Backend { servers, ..be };
                map.push(i);
            }
            None => {
                fates.push(vec![Fate::Added; be.servers.len()]);
                proxy.push(ProxyFate::Added);
                map.push(backends.len());
                backends.push(be);
            }
        }
    }
    Ok((backends, proxy, fates, map))
}

/// Frontend slots: running frontends in place (the file's settings where named, removed
/// where not), then the file's new frontends; backend references go through `map`.
fn lay_frontends(
    running: &Config,
    removed: &[bool],
    file: Vec<Frontend>,
    map: &[usize],
) -> Result<(Vec<Frontend>, Vec<ProxyFate>), String> {
    let mut frontends = running.frontends.clone();
    let mut proxy: Vec<ProxyFate> = removed
        .iter()
        .map(|&r| {
            if r {
                ProxyFate::Gone
            } else {
                ProxyFate::Removed
            }
        })
        .collect();
    for mut fe in file {
        fe.default_backend = map[fe.default_backend];
        for r in &mut fe.http.routes {
            r.backend = map[r.backend];
        }
        match frontends.iter().position(|f| f.name == fe.name) {
            Some(i) => {
                let was = &frontends[i];
                if !removed[i] && (was.mode != fe.mode || was.accept_proxy != fe.accept_proxy) {
                    return Err(format!(
                        "frontend {}: mode or accept_proxy changed: reload cannot apply it \
                         yet, restart to change them",
                        fe.name
                    ));
                }
                proxy[i] = if removed[i] {
                    ProxyFate::Added
                } else {
                    ProxyFate::Kept
                };
                frontends[i] = fe;
            }
            None => {
                proxy.push(ProxyFate::Added);
                frontends.push(fe);
            }
        }
    }
    Ok((frontends, proxy))
}

/// One backend's slots: the running ones in place (with the file's settings where named),
/// then the file's new names in file order.
fn merge_servers(
    running: &Backend,
    flags: &[SlotFlags],
    file: &[percore_conf::Server],
) -> (Vec<percore_conf::Server>, Vec<Fate>) {
    let mut servers = running.servers.clone();
    let mut fates: Vec<Fate> = flags
        .iter()
        .map(|&(removed, dynamic)| match (removed, dynamic) {
            (true, _) => Fate::Gone,
            (false, true) => Fate::Dynamic,
            (false, false) => Fate::Removed,
        })
        .collect();
    for srv in file {
        match servers.iter().position(|s| s.name == srv.name) {
            Some(i) => {
                fates[i] = if flags[i].0 {
                    Fate::Added
                } else if servers[i] == *srv {
                    Fate::Same
                } else {
                    Fate::Changed
                };
                servers[i] = srv.clone();
            }
            None => {
                servers.push(srv.clone());
                fates.push(Fate::Added);
            }
        }
    }
    (servers, fates)
}

/// `global` must not change but for the log (its target, framing, thinning and format,
/// as long as `access` and whether the target is stderr stay), the metrics endpoint and
/// `timeout.cli` (read by each admin connection as it opens): shards, limits, admin sockets
/// and tuning are set up once at start.
fn refuse_global(running: &Global, file: &Global) -> Result<(), String> {
    let (r, f) = (&running.log, &file.log);
    let stderr = |l: &percore_conf::Log| l.target == percore_conf::LogTarget::Stderr;
    // Whether a writer thread and a control ring exist is decided at start.
    let log = [
        ("log.access", r.access == f.access),
        ("log.target (to or from stderr)", stderr(r) == stderr(f)),
    ];
    let fields = [
        (
            "shards",
            running.shard_cpus == file.shard_cpus && running.shards == file.shards,
        ),
        ("maxconn", running.maxconn == file.maxconn),
        ("grace", running.grace == file.grace),
        ("control_cpu", running.control_cpu == file.control_cpu),
        ("admin", running.admin == file.admin),
        ("tune", running.tune == file.tune),
    ];
    match fields.iter().chain(&log).find(|(_, same)| !same) {
        Some((name, _)) => Err(format!(
            "global.{name} changed: reload cannot apply it yet, restart to change it"
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(servers: &[(&str, u16)], extra: &str) -> Config {
        let mut yaml = String::from(
            "frontends:\n  f: { bind: \"127.0.0.1:0\", default_backend: b }\n\
             backends:\n  b:\n",
        );
        yaml.push_str(extra);
        yaml.push_str("    servers:\n");
        for (name, port) in servers {
            yaml.push_str(&format!(
                "      - {{ name: {name}, address: \"127.0.0.1:{port}\" }}\n"
            ));
        }
        crate::stream::testing::config(&yaml)
    }

    /// `plan` with these server flags and no removed frontend or backend.
    fn run(running: &Config, servers: &[Vec<SlotFlags>], file: Config) -> Result<Plan, String> {
        let frontends = vec![false; running.frontends.len()];
        let backends = vec![false; running.backends.len()];
        let flags = Flags {
            servers,
            frontends: &frontends,
            backends: &backends,
        };
        plan(running, &flags, file)
    }

    fn names(p: &Plan) -> Vec<String> {
        p.layout.backends[0]
            .servers
            .iter()
            .map(|s| s.name.clone())
            .collect()
    }

    #[test]
    fn servers_keep_their_slots_and_new_ones_are_appended() {
        let running = config(&[("a", 1), ("b", 2), ("c", 3)], "");
        let flags = vec![vec![(false, false); 3]];
        let p = run(
            &running,
            &flags,
            config(&[("d", 4), ("c", 30), ("a", 1)], ""),
        )
        .expect("plan");
        assert_eq!(names(&p), ["a", "b", "c", "d"]);
        assert_eq!(
            p.fates[0],
            [Fate::Same, Fate::Removed, Fate::Changed, Fate::Added]
        );
        assert_eq!(p.counts(), (1, 1, 1));
        assert_eq!(
            p.layout.backends[0].servers[1].address.port(),
            2,
            "a removed server keeps its settings for its last streams"
        );
    }

    #[test]
    fn a_removed_name_comes_back_in_its_slot_and_dynamic_servers_stay() {
        let running = config(&[("a", 1), ("b", 2), ("x", 9)], "");
        let flags = vec![vec![(false, false), (true, false), (false, true)]];
        let p = run(&running, &flags, config(&[("a", 1), ("b", 2)], "")).expect("plan");
        assert_eq!(names(&p), ["a", "b", "x"]);
        assert_eq!(p.fates[0], [Fate::Same, Fate::Added, Fate::Dynamic]);
        let p = run(&running, &flags, config(&[("a", 1)], "")).expect("plan");
        assert_eq!(p.fates[0], [Fate::Same, Fate::Gone, Fate::Dynamic]);
    }

    #[test]
    fn what_cannot_be_applied_live_is_refused_with_the_reason() {
        let running = config(&[("a", 1)], "");
        let flags = vec![vec![(false, false)]];
        let mut file = config(&[("a", 1)], "");
        file.global.log.sample = 10;
        file.global.metrics = None;
        // Admin connections read it when they open.
        file.global.timeout.cli = std::time::Duration::from_secs(30);
        assert!(run(&running, &flags, file).is_ok(), "applied live");
        let mut file = config(&[("a", 1)], "");
        file.global.log.access = !file.global.log.access;
        let e = run(&running, &flags, file).expect_err("log sink");
        assert!(e.starts_with("global.log.access changed"), "{e}");
        let mut file = config(&[("a", 1)], "");
        file.global.maxconn += 1;
        let e = run(&running, &flags, file).expect_err("global");
        assert!(e.starts_with("global.maxconn changed"), "{e}");
        let mut file = config(&[("a", 1)], "");
        file.frontends[0].accept_proxy = true;
        let e = run(&running, &flags, file).expect_err("accept_proxy");
        assert!(e.starts_with("frontend f: mode or accept_proxy"), "{e}");
        let mut file = config(&[("a", 1)], "");
        file.backends[0].mode = percore_conf::Mode::Http;
        let e = run(&running, &flags, file).expect_err("backend mode");
        assert!(e.starts_with("backend b: mode changed"), "{e}");
        let ok = config(&[("a", 1)], "    balance: leastconn\n    retries: 7\n");
        let p = run(&running, &flags, ok).expect("backend settings apply live");
        assert_eq!(p.layout.backends[0].retries, 7);
    }

    #[test]
    fn proxies_keep_their_slots_and_references_follow() {
        let running = config(&[("a", 1)], "");
        let flags = vec![vec![(false, false)]];
        let mut file = config(&[("a", 1)], "");
        file.backends[0].name = "other".into();
        file.frontends[0].name = "g".into();
        let p = run(&running, &flags, file).expect("plan");
        assert_eq!(p.backends, [ProxyFate::Removed, ProxyFate::Added]);
        assert_eq!(p.frontends, [ProxyFate::Removed, ProxyFate::Added]);
        assert_eq!(p.fates, [vec![Fate::Removed], vec![Fate::Added]]);
        assert_eq!(
            p.layout.frontends[1].default_backend, 1,
            "mapped to the new slot"
        );
        assert_eq!(
            p.layout.frontends[0].default_backend, 0,
            "a removed one keeps its own"
        );
        assert_eq!(p.proxy_counts(), (2, 2));
        // Back again by name: the old slots, as new proxies.
        let frontends = [true, false];
        let backends = [true, false];
        let servers = vec![vec![(true, false)], vec![(false, false)]];
        let flags = Flags {
            servers: &servers,
            frontends: &frontends,
            backends: &backends,
        };
        let p = plan(&p.layout, &flags, config(&[("a", 1)], "")).expect("plan");
        assert_eq!(p.backends, [ProxyFate::Added, ProxyFate::Removed]);
        assert_eq!(p.frontends, [ProxyFate::Added, ProxyFate::Removed]);
        assert_eq!(p.fates, [vec![Fate::Added], vec![Fate::Removed]]);
    }

    #[test]
    fn the_slot_bound_holds() {
        let running = config(&[("a", 1)], "");
        let flags = vec![vec![(false, false)]];
        let mut file = config(&[("a", 1)], "");
        let template = file.backends[0].servers[0].clone();
        for i in 0..SERVER_SLOTS_MAX {
            let mut s = template.clone();
            s.name = format!("n{i}");
            file.backends[0].servers.push(s);
        }
        let e = run(&running, &flags, file).expect_err("too many");
        assert!(e.contains("exceed the limit"), "{e}");
    }
}
