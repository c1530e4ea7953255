//! Applying a new configuration generation on this shard ([`Op::ApplyConfig`]).
//!
//! The control plane sends a layout in which every frontend, backend and server keeps its
//! slot (see `shard::generation`), so applying it only grows the per-proxy and per-server
//! tables, rebuilds the balancers whose server set or algorithm changed, swaps the current
//! generation and hands each server its view. Streams in flight keep their own generation; nothing they hold is
//! moved or invalidated, so no stream is touched here.
//!
//! [`Op::ApplyConfig`]: crate::rings::msg::Op::ApplyConfig

use super::balance::Balancer;
use super::generation::Generation;
use super::{server_budget, Shard};
use crate::ids::ServerKey;
use crate::rings::msg::ApplyConfig;

/// Applies generation `a`: afterwards new streams use its routes, rules and timeouts, and
/// every server is as its view says. Returns the previous generation's layout when no
/// stream holds it, for the control plane to free. Ignores a generation older than the
/// current one, and refuses (logs, changes nothing) a layout that would shrink the shard's
/// tables, which the control plane never sends.
pub fn apply(shard: &Shard, a: ApplyConfig) -> Option<Box<percore_conf::Config>> {
    let ApplyConfig {
        generation,
        config,
        views,
        fresh,
    } = a;
    let old = shard.current();
    if generation <= old.number {
        // Two changes raced on a full ring: the newer layout is already here.
        log::debug!("shard {}: stale generation {generation} ignored", shard.id);
        return None;
    }
    let fits = extends(&old.config, &config, &views);
    if !fits {
        log::error!(
            "shard {}: generation {generation} does not extend generation {}; ignored",
            shard.id,
            old.number
        );
        return None;
    }
    grow_tables(shard, &config, &views, &fresh);
    rebuild_balancers(shard, &old.config, &config, &views);
    if let Some(log) = shard.access_log.borrow_mut().as_mut() {
        log.set_thinning(config.global.log.sample, config.global.log.rate_max);
    }
    let gen = Generation::new(generation, config);
    shard.tls.borrow_mut().rebuild(&gen.config);
    shard.generations.borrow_mut().push(&gen);
    let previous = shard.gen.replace(gen);
    drop(old);
    for (backend, list) in views.into_iter().enumerate() {
        for (server, view) in list.into_iter().enumerate() {
            shard.set_server_view(ServerKey { backend, server }, view);
        }
    }
    // Streams that still hold it free it when the last one ends.
    std::rc::Rc::try_unwrap(previous)
        .ok()
        .map(|g| Box::new(g.config))
}

/// Whether `new` (with `views`) only extends `old`: no frontend, backend or server slot
/// less, one view per server slot.
fn extends(
    old: &percore_conf::Config,
    new: &percore_conf::Config,
    views: &[Vec<crate::rings::msg::ServerView>],
) -> bool {
    new.backends.len() >= old.backends.len()
        && new.frontends.len() >= old.frontends.len()
        && views.len() == new.backends.len()
        && new
            .backends
            .iter()
            .zip(views)
            .all(|(be, v)| v.len() == be.servers.len())
        && new
            .backends
            .iter()
            .zip(&old.backends)
            .all(|(n, o)| n.servers.len() >= o.servers.len())
}

/// Room in every per-frontend, per-backend and per-server table for the new layout;
/// `fresh` slots start from zero.
fn grow_tables(
    shard: &Shard,
    config: &percore_conf::Config,
    views: &[Vec<crate::rings::msg::ServerView>],
    fresh: &[ServerKey],
) {
    let servers: Vec<usize> = config.backends.iter().map(|b| b.servers.len()).collect();
    let frontends = config.frontends.len();
    shard.table.borrow_mut().grow_servers(frontends, &servers);
    shard
        .counters
        .borrow_mut()
        .grow_servers(frontends, &servers, fresh);
    shard.errors.borrow_mut().grow(frontends, servers.len());
    grow_passive_errors(shard, &servers, fresh);
    grow_proxies(shard, config);
    grow_budgets(shard, config, views);
    shard.pool.borrow_mut().resize(&super::pool_limits(config));
}

/// Passive-health error counts: room for new slots, fresh ones from zero.
fn grow_passive_errors(shard: &Shard, servers: &[usize], fresh: &[ServerKey]) {
    let mut errors = shard.passive_errors.borrow_mut();
    if errors.len() < servers.len() {
        errors.resize(servers.len(), Vec::new());
    }
    for (list, &n) in errors.iter_mut().zip(servers) {
        if list.len() < n {
            list.resize(n, 0);
        }
    }
    for k in fresh {
        if let Some(c) = errors.get_mut(k.backend).and_then(|b| b.get_mut(k.server)) {
            *c = 0;
        }
    }
}

/// What new frontends and backends need before their servers: a frontend `maxconn` budget
/// (its plain share; the control plane splits it right after), a queue, queue counts and
/// a balancer (built with the servers by `rebuild_balancers`).
fn grow_proxies(shard: &Shard, config: &percore_conf::Config) {
    let mut budgets = shard.frontend_budgets.borrow_mut();
    for f in budgets.len()..config.frontends.len() {
        let b = super::frontend_budget(
            (shard.id, shard.shards),
            &shard.evt_tx,
            f,
            &config.frontends[f],
        );
        budgets.push(b);
    }
    let backends = config.backends.len();
    let mut queues = shard.queues.borrow_mut();
    while queues.len() < backends {
        queues.push(super::queue::WaitQueue::new());
    }
    let mut queued = shard.queued.borrow_mut();
    if queued.len() < backends {
        queued.resize(backends, (0, 0));
    }
}

/// A `maxconn` budget and a view for every appended slot, from its view (whose split
/// generation the budget starts in); existing slots keep theirs (streams hold their slots).
fn grow_budgets(
    shard: &Shard,
    config: &percore_conf::Config,
    views: &[Vec<crate::rings::msg::ServerView>],
) {
    let mut budgets = shard.server_budgets.borrow_mut();
    let mut current = shard.views.borrow_mut();
    budgets.resize(config.backends.len(), Vec::new());
    current.resize(config.backends.len(), Vec::new());
    let queues = shard.queues.borrow();
    for backend in 0..config.backends.len() {
        let queue = &queues[backend];
        let first_new = budgets[backend].len();
        for (server, &view) in views[backend].iter().enumerate().skip(first_new) {
            let key = ServerKey { backend, server };
            let budget = server_budget(
                (shard.id, shard.shards),
                &shard.evt_tx,
                queue,
                key,
                view.maxconn,
            );
            let owned = super::slot_share(view.maxconn, shard.shards, shard.id.0 as usize);
            budget.reset_split(owned, view.split_epoch);
            budgets[backend].push(budget);
            current[backend].push(view);
        }
    }
}

/// A new balancer for every new backend and every backend whose servers were appended or
/// whose algorithm changed (its round-robin position restarts); weights from the views.
fn rebuild_balancers(
    shard: &Shard,
    old: &percore_conf::Config,
    new: &percore_conf::Config,
    views: &[Vec<crate::rings::msg::ServerView>],
) {
    let mut balancers = shard.balancers.borrow_mut();
    for (b, be) in new.backends.iter().enumerate() {
        let same = old.backends.get(b).is_some_and(|was| {
            be.servers.len() == was.servers.len()
                && be.balance == was.balance
                && be.hash_type == was.hash_type
        });
        if same {
            continue;
        }
        let balancer = Balancer::new(
            &be.balance,
            be.hash_type,
            be.servers.iter().map(|s| s.name.clone()).collect(),
            views[b].iter().map(|v| v.weight).collect(),
            0x9e37_79b9_7f4a_7c15 ^ u64::from(shard.id.0),
        );
        if b < balancers.len() {
            balancers[b] = balancer;
        } else {
            balancers.push(balancer);
        }
    }
}
