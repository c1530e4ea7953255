//! Turns a [`Fault`]'s YAML path into a line and column by walking the positioned tree, so
//! semantic errors point into the file as precisely as syntax errors do.
//!
//! A path that does not exist in the file (a default that was never written, such as the
//! `global.shards: auto` a host with no CPUs refuses) is reported at its deepest ancestor
//! that does, or where the document starts when not even the first key is there: every
//! fault gets a line and a column.

use crate::error::{ConfigError, Fault, Mark, Place};
use crate::path::Segment;
use crate::tree::Node;

/// The public error for `fault` in file `file`, positioned in `root` when there is one.
pub(crate) fn error(file: &str, fault: Fault, root: Option<&Node>) -> ConfigError {
    let mark = match fault.place {
        Place::Mark(mark) => mark,
        Place::Key | Place::Value => root.map_or(Mark::START, |root| position(root, &fault)),
    };
    ConfigError {
        file: file.to_owned(),
        line: Some(mark.line),
        column: Some(mark.column),
        path: fault.path.to_string(),
        message: fault.message,
    }
}

/// Where `fault` points: the key or the value at its path, else the deepest ancestor found,
/// else the start of the document.
fn position(root: &Node, fault: &Fault) -> Mark {
    let segments = fault.path.segments();
    let mut node = root;
    // The position of the deepest step found so far.
    let mut found = root.mark;
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match segment {
            Segment::Key(key) => {
                let Some(entry) = node.entry(key) else {
                    return found;
                };
                node = &entry.value;
                found = if last && fault.place == Place::Value {
                    node.mark
                } else {
                    entry.key_mark
                };
            }
            Segment::Index(index) => {
                let Some(item) = node.items().and_then(|items| items.get(*index)) else {
                    return found;
                };
                node = item;
                found = node.mark;
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::path::YamlPath;
    use crate::tree;

    fn at(text: &str, path: &YamlPath, place: Place) -> Option<(usize, usize)> {
        let root = tree::build(text).unwrap().unwrap();
        let fault = Fault {
            path: path.clone(),
            place,
            message: String::new(),
        };
        let error = error("f", fault, Some(&root));
        error.line.zip(error.column)
    }

    #[test]
    fn keys_values_items_and_fallbacks() {
        let text = "a:\n  b: 1\n  c:\n    - x\n    - y\n";
        let root = YamlPath::root();
        assert_eq!(at(text, &root.key("a").key("b"), Place::Key), Some((2, 3)));
        assert_eq!(
            at(text, &root.key("a").key("b"), Place::Value),
            Some((2, 6))
        );
        assert_eq!(
            at(text, &root.key("a").key("c").index(1), Place::Value),
            Some((5, 7))
        );
        assert_eq!(
            at(text, &root.key("a").key("c").index(1), Place::Key),
            Some((5, 7))
        );
        assert_eq!(
            at(text, &root.key("a").key("c").index(9), Place::Value),
            Some((3, 3))
        );
        assert_eq!(at(text, &root, Place::Value), Some((1, 1)));
    }

    #[test]
    fn missing_keys_fall_back_to_the_deepest_ancestor() {
        let text = "a:\n  b: 1\n";
        let root = YamlPath::root();
        assert_eq!(
            at(text, &root.key("a").key("zz"), Place::Value),
            Some((1, 1))
        );
        assert_eq!(at(text, &root.key("zz"), Place::Key), Some((1, 1)));
        let commented = "# percore\n\na:\n  b: 1\n";
        assert_eq!(at(commented, &root.key("zz"), Place::Key), Some((3, 1)));
    }
}
