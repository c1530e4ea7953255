//! NOT SUPPORTED YET: keys and values of the full design (DESIGN §7, §8, §10) that the schema
//! accepts but the engine cannot run yet. They are refused with "… is not supported yet" so an
//! operator is never silently ignored. As the engine grows a feature, delete its row here and
//! read the key in `validate`.
//!
//! The key and value tables are checked on the tree after `validate`, so a real mistake
//! elsewhere is reported first; `mode: http` in particular must pass `validate`'s frontend /
//! backend mode comparison. `balance` is refused inside `validate` (by [`balance`]) because a
//! [`Balance`] cannot hold an algorithm the engine does not run.

use crate::config::Balance;
use crate::error::Fault;
use crate::path::YamlPath;
use crate::tree::{Node, NodeKind};
use crate::validate::Algorithm;

/// Keys refused wherever they are written: (section pattern, key). In a pattern `*` is every
/// entry of a mapping and `[*]` every item of a list.
const KEYS: &[(&str, &str)] = &[];

/// Values refused: (section pattern, key, value).
const VALUES: &[(&str, &str, &str)] = &[];

/// Refuses the first (in file order) key or value of the tables above.
pub(crate) fn reject(root: &Node) -> Result<(), Fault> {
    reject_in(root, KEYS, VALUES)
}

/// [`reject`] with given tables.
fn reject_in(
    root: &Node,
    keys: &[(&str, &str)],
    values: &[(&str, &str, &str)],
) -> Result<(), Fault> {
    let mut found: Vec<(crate::error::Mark, Fault)> = Vec::new();
    for (pattern, key) in keys {
        for (path, section) in sections(root, pattern) {
            if let Some(entry) = section.entry(key) {
                let fault = Fault::key(&path.key(key), format!("{key} is not supported yet"));
                found.push((entry.key_mark, fault));
            }
        }
    }
    for (pattern, key, value) in values {
        for (path, section) in sections(root, pattern) {
            if let Some(entry) = section.entry(key).filter(|e| e.value.text() == Some(value)) {
                let fault = Fault::value(
                    &path.key(key),
                    format!("{key} {value} is not supported yet"),
                );
                found.push((entry.value.mark, fault));
            }
        }
    }
    match found.into_iter().min_by_key(|(mark, _)| *mark) {
        Some((_, fault)) => Err(fault),
        None => Ok(()),
    }
}

/// The balance algorithm for a validated name (every design algorithm runs now).
pub(crate) fn balance(algorithm: &Algorithm, _path: &YamlPath) -> Result<Balance, Fault> {
    Ok(match algorithm {
        Algorithm::RoundRobin => Balance::RoundRobin,
        Algorithm::StaticRr => Balance::StaticRr,
        Algorithm::LeastConn => Balance::LeastConn,
        Algorithm::First => Balance::First,
        Algorithm::Random => Balance::Random,
        Algorithm::Source => Balance::Source,
        Algorithm::Uri => Balance::Uri {
            len: None,
            depth: None,
        },
        Algorithm::Hdr(name) => Balance::Hdr(name.to_ascii_lowercase()),
    })
}

/// The nodes a section pattern (`backends.*.servers[*]`) names, with their paths.
fn sections<'a>(root: &'a Node, pattern: &str) -> Vec<(YamlPath, &'a Node)> {
    let mut current = vec![(YamlPath::root(), root)];
    for step in pattern.split('.') {
        let (key, each_item) = match step.strip_suffix("[*]") {
            Some(key) => (key, true),
            None => (step, false),
        };
        let mut next = Vec::new();
        for (path, node) in current {
            if key == "*" {
                for entry in node.entries().unwrap_or_default() {
                    next.push((path.key(&entry.key), &entry.value));
                }
            } else if let Some(entry) = node.entry(key) {
                next.push((path.key(key), &entry.value));
            }
        }
        if each_item {
            next = next
                .into_iter()
                .flat_map(|(path, node)| {
                    let items = node.items().unwrap_or_default();
                    items
                        .iter()
                        .enumerate()
                        .map(move |(i, item)| (path.index(i), item))
                })
                .collect();
        }
        current = next;
    }
    current.retain(|(_, node)| matches!(node.kind, NodeKind::Mapping(_)));
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::tree;

    #[test]
    fn patterns_walk_entries_and_items() {
        let root =
            tree::build("backends:\n  a:\n    servers: [{x: 1}, {y: 2}]\n  b:\n    servers: []\n")
                .unwrap()
                .unwrap();
        let found: Vec<String> = sections(&root, "backends.*.servers[*]")
            .into_iter()
            .map(|(path, _)| path.to_string())
            .collect();
        assert_eq!(found, ["backends.a.servers[0]", "backends.a.servers[1]"]);
    }

    #[test]
    fn reports_the_first_in_file_order() {
        let root = tree::build("frontends:\n  w:\n    later: 1\nglobal:\n  soon: {}\n")
            .unwrap()
            .unwrap();
        let keys = [("global", "soon"), ("frontends.*", "later")];
        let fault = reject_in(&root, &keys, &[]).unwrap_err();
        assert_eq!(fault.path.to_string(), "frontends.w.later");
        assert_eq!(fault.message, "later is not supported yet");
        assert!(reject(&root).is_ok(), "every key of the design runs now");
    }
}
