//! Reload: a validated file diffed against the running layout (pure, no I/O).
//!
//! The running configuration is a *layout*: every server slot ever used keeps its index for
//! the life of the process (shards index their tables, streams and counters by it). A
//! reload therefore never moves a server: a server the file still names keeps its slot
//! (with the file's settings), a server it no longer names keeps its slot marked removed
//! (its streams finish there), and a new name takes the slot of a removed server of that
//! name or is appended. Layouts only grow, bounded by [`SERVER_SLOTS_MAX`].
//!
//! Applied live: servers, backend settings (balance, hash, timeouts, retries, pools,
//! checks), frontend routes, rules, error pages, `forwardfor`, timeouts and `maxconn`,
//! `global.log` thinning and format (`sample`, `rate_max`, `log_format`) and
//! `global.metrics`. Refused with the reason (nothing changes): frontends or backends
//! added, removed, renamed or reordered, a frontend's mode or `accept_proxy`, and the
//! other `global` settings; they need a restart for now. Binds are diffed by `layout`.

use percore_conf::{Backend, Config, Frontend, Global};

/// Server slots of the whole process at most, removed ones included: bounds the per-server
/// tables of every shard (counters, budgets, views, pool lists: about 1 KiB per slot and
/// shard).
pub const SERVER_SLOTS_MAX: usize = 16_384;

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

/// The outcome of [`plan`]: the new layout and the fate of each of its slots.
#[derive(Debug)]
pub struct Plan {
    /// The file's configuration laid out on the running slots.
    pub layout: Config,
    /// `fates[backend][server]`, one per slot of `layout`.
    pub fates: Vec<Vec<Fate>>,
}

impl Plan {
    /// Slots of each fate: (added, removed, changed).
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |f: Fate| self.fates.iter().flatten().filter(|&&x| x == f).count();
        (
            count(Fate::Added),
            count(Fate::Removed),
            count(Fate::Changed),
        )
    }
}

/// Per running slot: (removed, added at run time).
pub type SlotFlags = (bool, bool);

/// Lays `file` out on the `running` layout (whose slots have `flags`). Refuses, with the
/// sentence the operator gets, what cannot be applied live.
pub fn plan(running: &Config, flags: &[Vec<SlotFlags>], file: Config) -> Result<Plan, String> {
    refuse_global(&running.global, &file.global)?;
    refuse_proxies(running, &file)?;
    let mut layout = file;
    let mut fates = Vec::with_capacity(layout.backends.len());
    let mut slots = 0;
    for (b, be) in layout.backends.iter_mut().enumerate() {
        let (servers, f) = merge_servers(&running.backends[b], &flags[b], &be.servers);
        be.servers = servers;
        slots += be.servers.len();
        fates.push(f);
    }
    if slots > SERVER_SLOTS_MAX {
        return Err(format!(
            "{slots} server slots (removed servers included) would exceed the limit of \
             {SERVER_SLOTS_MAX}; restart to start from the file's servers"
        ));
    }
    Ok(Plan { layout, fates })
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

/// `global` must not change but for the log's thinning and format and the metrics
/// endpoint: shards, limits, admin sockets, the log sink and tuning are set up once at
/// start.
fn refuse_global(running: &Global, file: &Global) -> Result<(), String> {
    let (r, f) = (&running.log, &file.log);
    let log = [
        ("log.target", r.target == f.target),
        ("log.access", r.access == f.access),
        ("log.format", r.framing == f.framing),
        ("log.facility", r.facility == f.facility),
        ("log.tag", r.tag == f.tag),
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

/// Frontends and backends must be the same ones, in the same order, with the same modes:
/// per-proxy tables are not added or removed live yet (binds may change).
fn refuse_proxies(running: &Config, file: &Config) -> Result<(), String> {
    let names = |v: &[Frontend]| v.iter().map(|f| f.name.clone()).collect::<Vec<_>>();
    if names(&running.frontends) != names(&file.frontends) {
        return Err(
            "frontends added, removed or reordered: reload cannot apply it yet, \
                    restart to change them"
                .into(),
        );
    }
    for (r, f) in running.frontends.iter().zip(&file.frontends) {
        if r.mode != f.mode || r.accept_proxy != f.accept_proxy {
            return Err(format!(
                "frontend {}: mode or accept_proxy changed: reload cannot apply it yet, \
                 restart to change them",
                r.name
            ));
        }
    }
    let backends = |v: &[Backend]| v.iter().map(|b| b.name.clone()).collect::<Vec<_>>();
    if backends(&running.backends) != backends(&file.backends) {
        return Err(
            "backends added, removed or reordered: reload cannot apply it yet, \
                    restart to change them"
                .into(),
        );
    }
    match running
        .backends
        .iter()
        .zip(&file.backends)
        .find(|(r, f)| r.mode != f.mode)
    {
        Some((r, _)) => Err(format!(
            "backend {}: mode changed: reload cannot apply it yet, restart to change it",
            r.name
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
        let p = plan(
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
        let p = plan(&running, &flags, config(&[("a", 1), ("b", 2)], "")).expect("plan");
        assert_eq!(names(&p), ["a", "b", "x"]);
        assert_eq!(p.fates[0], [Fate::Same, Fate::Added, Fate::Dynamic]);
        let p = plan(&running, &flags, config(&[("a", 1)], "")).expect("plan");
        assert_eq!(p.fates[0], [Fate::Same, Fate::Gone, Fate::Dynamic]);
    }

    #[test]
    fn what_cannot_be_applied_live_is_refused_with_the_reason() {
        let running = config(&[("a", 1)], "");
        let flags = vec![vec![(false, false)]];
        let mut file = config(&[("a", 1)], "");
        file.global.log.sample = 10;
        file.global.metrics = None;
        assert!(plan(&running, &flags, file).is_ok(), "applied live");
        let mut file = config(&[("a", 1)], "");
        file.global.log.access = !file.global.log.access;
        let e = plan(&running, &flags, file).expect_err("log sink");
        assert!(e.starts_with("global.log.access changed"), "{e}");
        let mut file = config(&[("a", 1)], "");
        file.global.maxconn += 1;
        let e = plan(&running, &flags, file).expect_err("global");
        assert!(e.starts_with("global.maxconn changed"), "{e}");
        let mut file = config(&[("a", 1)], "");
        file.frontends[0].accept_proxy = true;
        let e = plan(&running, &flags, file).expect_err("accept_proxy");
        assert!(e.starts_with("frontend f: mode or accept_proxy"), "{e}");
        let mut file = config(&[("a", 1)], "");
        file.backends[0].name = "other".into();
        assert!(plan(&running, &flags, file).is_err());
        let ok = config(&[("a", 1)], "    balance: leastconn\n    retries: 7\n");
        let p = plan(&running, &flags, ok).expect("backend settings apply live");
        assert_eq!(p.layout.backends[0].retries, 7);
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
        let e = plan(&running, &flags, file).expect_err("too many");
        assert!(e.contains("exceed the limit"), "{e}");
    }
}
