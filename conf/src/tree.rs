//! The YAML document as a tree of nodes that remember where they start in the source.
//!
//! Owns reading the text with `saphyr-parser`'s event stream: one document at most, scalar
//! mapping keys, no duplicate keys, no tags, aliases expanded in place. It bounds what a
//! hostile file can cost: nesting depth ([`DEPTH_MAX`]) and node count after alias expansion
//! ([`NODES_MAX`]), so a "billion laughs" document is refused instead of filling memory, and
//! every later walk over the tree (deserializing, dropping, locating) stays shallow.
//!
//! It does not give scalars a type: `de` decides whether `10` is an integer or a string
//! according to what the schema asks for.

use std::collections::{BTreeMap, HashSet};

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use crate::error::{Fault, Mark, Place};
use crate::path::YamlPath;

/// Deepest nesting accepted. The schema needs 5 levels (`global.admin.extra[0].socket`); the
/// margin leaves room for mistakes to be reported as schema errors rather than as depth errors.
pub(crate) const DEPTH_MAX: usize = 32;

/// Most nodes accepted, counting every expansion of an alias and the copy kept of each
/// anchored node. A config with 10 000 servers needs about 100 000; each node costs about
/// 80 bytes, so the tree and its anchors stay under 100 MiB.
pub(crate) const NODES_MAX: usize = 1_000_000;

/// One YAML node and the position where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    /// Where the node starts: the first key of a block mapping, the quote of a quoted scalar.
    pub(crate) mark: Mark,
    /// What the node holds.
    pub(crate) kind: NodeKind,
}

/// The three YAML node kinds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NodeKind {
    /// A scalar, untyped.
    Scalar(Scalar),
    /// A list, in source order.
    Sequence(Vec<Node>),
    /// A mapping with unique string keys, in source order.
    Mapping(Vec<Entry>),
}

/// A scalar's text and whether it was written plain (unquoted, not a block scalar); only
/// plain scalars can be null, booleans or numbers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scalar {
    pub(crate) text: String,
    pub(crate) plain: bool,
}

/// One mapping entry; the key's position is kept for errors about the key itself.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub(crate) key: String,
    pub(crate) key_mark: Mark,
    pub(crate) value: Node,
}

/// Reads `text` into a tree. `Ok(None)` means the document is empty (no node, or a lone null).
///
/// Refuses: YAML syntax errors, a second document, non-scalar mapping keys, duplicate keys,
/// tags, nesting deeper than [`DEPTH_MAX`], more than [`NODES_MAX`] nodes.
pub(crate) fn build(text: &str) -> Result<Option<Node>, Fault> {
    let mut builder = Builder {
        lines: line_lengths(text),
        ..Builder::default()
    };
    for event in Parser::new_from_str(text) {
        match event {
            Ok((event, span)) => builder.event(event, span)?,
            Err(error) => {
                let mark = Mark {
                    line: error.marker().line(),
                    column: error.marker().col() + 1,
                };
                let mark = clamp(&builder.lines, mark);
                return Err(builder.fault(mark, format!("invalid YAML: {}", error.info())));
            }
        }
    }
    Ok(builder.root.filter(|root| !root.is_null()))
}

/// Characters per line of `text` (YAML breaks are `\n`, `\r\n` and `\r`); a final break
/// opens an empty last line.
fn line_lengths(text: &str) -> Vec<usize> {
    let mut lengths = vec![0usize];
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' && chars.peek() == Some(&'\n') {
            chars.next();
        }
        if c == '\n' || c == '\r' {
            lengths.push(0);
        } else {
            *lengths.last_mut().expect("starts with one line") += 1;
        }
    }
    lengths
}

/// `mark` moved inside the text if it lies past the end of its line or of the text: the
/// parser places some errors and empty scalars at end of input, one line past the text. The
/// furthest valid position is just after a line's last character.
fn clamp(lengths: &[usize], mark: Mark) -> Mark {
    let line = mark.line.clamp(1, lengths.len().max(1));
    let column = if line < mark.line {
        usize::MAX
    } else {
        mark.column
    };
    let length = lengths.get(line - 1).copied().unwrap_or(0);
    Mark {
        line,
        column: column.clamp(1, length + 1),
    }
}

impl Node {
    /// Whether this is a plain scalar YAML reads as null (empty, `~`, `null`).
    pub(crate) fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar(scalar) if scalar.is_null())
    }

    /// The entries of a mapping node, or `None` for other kinds.
    pub(crate) fn entries(&self) -> Option<&[Entry]> {
        match &self.kind {
            NodeKind::Mapping(entries) => Some(entries),
            _ => None,
        }
    }

    /// The entry for `key` of a mapping node.
    pub(crate) fn entry(&self, key: &str) -> Option<&Entry> {
        self.entries()?.iter().find(|entry| entry.key == key)
    }

    /// The items of a sequence node, or `None` for other kinds.
    pub(crate) fn items(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Sequence(items) => Some(items),
            _ => None,
        }
    }

    /// The text of a scalar node, or `None` for other kinds.
    pub(crate) fn text(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar(scalar) => Some(&scalar.text),
            _ => None,
        }
    }
}

impl Scalar {
    /// Whether YAML 1.2 (core schema) reads this scalar as null.
    pub(crate) fn is_null(&self) -> bool {
        self.plain && matches!(self.text.as_str(), "" | "~" | "null" | "Null" | "NULL")
    }
}

/// A container being filled, with its cost so far (for anchors and the node budget).
#[derive(Debug)]
struct Frame {
    mark: Mark,
    anchor: usize,
    /// Nodes in this container including itself and expanded aliases.
    size: usize,
    /// Levels from this container down to its deepest leaf, including itself.
    height: usize,
    body: FrameBody,
}

#[derive(Debug)]
enum FrameBody {
    Sequence(Vec<Node>),
    Mapping {
        entries: Vec<Entry>,
        /// Key read, waiting for its value.
        key: Option<(String, Mark)>,
        /// Keys seen, to refuse duplicates without a quadratic scan.
        seen: HashSet<String>,
    },
}

/// A finished node with the cost figures an anchor needs to be expanded safely.
#[derive(Debug, Clone)]
struct Built {
    node: Node,
    size: usize,
    height: usize,
}

#[derive(Debug, Default)]
struct Builder {
    /// Characters per source line, to keep every mark inside the text.
    lines: Vec<usize>,
    stack: Vec<Frame>,
    root: Option<Node>,
    documents: usize,
    /// Nodes created so far, aliases counted at their expanded size.
    nodes: usize,
    anchors: BTreeMap<usize, Built>,
}

impl Builder {
    /// Feeds one parser event.
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), Fault> {
        let mark = Mark {
            line: span.start.line(),
            column: span.start.col() + 1,
        };
        let mark = clamp(&self.lines, mark);
        match event {
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => Ok(()),
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(self.fault(mark, "only one YAML document is allowed"));
                }
                Ok(())
            }
            Event::Scalar(text, style, anchor, tag) => {
                self.refuse_tag(tag.is_some(), mark)?;
                self.count(1, mark)?;
                if self.stack.len() + 1 > DEPTH_MAX {
                    return Err(self.too_deep(mark));
                }
                let node = Node {
                    mark,
                    kind: NodeKind::Scalar(Scalar {
                        text: text.into_owned(),
                        plain: style == ScalarStyle::Plain,
                    }),
                };
                let built = Built {
                    node,
                    size: 1,
                    height: 1,
                };
                self.finish(built, anchor)
            }
            Event::SequenceStart(anchor, tag) => {
                self.open(anchor, tag.is_some(), mark, FrameBody::Sequence(Vec::new()))
            }
            Event::MappingStart(anchor, tag) => {
                let body = FrameBody::Mapping {
                    entries: Vec::new(),
                    key: None,
                    seen: HashSet::new(),
                };
                self.open(anchor, tag.is_some(), mark, body)
            }
            Event::SequenceEnd | Event::MappingEnd => self.close(mark),
            Event::Alias(id) => self.alias(id, mark),
        }
    }

    fn open(
        &mut self,
        anchor: usize,
        tagged: bool,
        mark: Mark,
        body: FrameBody,
    ) -> Result<(), Fault> {
        self.refuse_tag(tagged, mark)?;
        self.count(1, mark)?;
        if self.stack.len() + 1 > DEPTH_MAX {
            return Err(self.too_deep(mark));
        }
        self.stack.push(Frame {
            mark,
            anchor,
            size: 1,
            height: 1,
            body,
        });
        Ok(())
    }

    fn close(&mut self, mark: Mark) -> Result<(), Fault> {
        let Some(frame) = self.stack.pop() else {
            return Err(self.fault(mark, "invalid YAML: unbalanced end of collection"));
        };
        let kind = match frame.body {
            FrameBody::Sequence(items) => NodeKind::Sequence(items),
            FrameBody::Mapping { entries, .. } => NodeKind::Mapping(entries),
        };
        let built = Built {
            node: Node {
                mark: frame.mark,
                kind,
            },
            size: frame.size,
            height: frame.height,
        };
        self.finish(built, frame.anchor)
    }

    /// Expands an alias to a copy of its anchored node, within the depth and node budgets.
    fn alias(&mut self, id: usize, mark: Mark) -> Result<(), Fault> {
        let Some((size, height)) = self.anchors.get(&id).map(|a| (a.size, a.height)) else {
            return Err(self.fault(mark, "alias refers to an anchor that is not complete"));
        };
        if self.stack.len() + height > DEPTH_MAX {
            return Err(self.too_deep(mark));
        }
        self.count(size, mark)?;
        let Some(mut built) = self.anchors.get(&id).cloned() else {
            return Err(self.fault(mark, "alias refers to an anchor that is not complete"));
        };
        built.node.mark = mark;
        self.finish(built, 0)
    }

    /// Places a finished node in its parent (or as the root) and records its anchor. The
    /// anchor's copy counts against the node budget too: nested anchors would otherwise copy
    /// the same nodes once per level.
    fn finish(&mut self, built: Built, anchor: usize) -> Result<(), Fault> {
        if anchor != 0 {
            self.count(built.size, built.node.mark)?;
            self.anchors.insert(anchor, built.clone());
        }
        let Some(parent) = self.stack.last_mut() else {
            self.root = Some(built.node);
            return Ok(());
        };
        parent.size += built.size;
        parent.height = parent.height.max(built.height + 1);
        match &mut parent.body {
            FrameBody::Sequence(items) => items.push(built.node),
            FrameBody::Mapping { entries, key, seen } => match key.take() {
                Some((key, key_mark)) => entries.push(Entry {
                    key,
                    key_mark,
                    value: built.node,
                }),
                None => {
                    let mark = built.node.mark;
                    let NodeKind::Scalar(scalar) = built.node.kind else {
                        return Err(self.fault(mark, "mapping keys must be plain strings"));
                    };
                    if !seen.insert(scalar.text.clone()) {
                        let message = format!("duplicate key `{}`", scalar.text);
                        let path = self.path().key(&scalar.text);
                        return Err(Fault {
                            path,
                            place: Place::Mark(mark),
                            message,
                        });
                    }
                    *key = Some((scalar.text, mark));
                }
            },
        }
        Ok(())
    }

    fn count(&mut self, nodes: usize, mark: Mark) -> Result<(), Fault> {
        self.nodes = self.nodes.saturating_add(nodes);
        if self.nodes > NODES_MAX {
            let message =
                format!("document has more than {NODES_MAX} nodes (aliases counted as expanded)");
            return Err(self.fault(mark, message));
        }
        Ok(())
    }

    fn refuse_tag(&self, tagged: bool, mark: Mark) -> Result<(), Fault> {
        if tagged {
            return Err(self.fault(mark, "YAML tags are not supported"));
        }
        Ok(())
    }

    fn too_deep(&self, mark: Mark) -> Fault {
        self.fault(mark, format!("nesting is deeper than {DEPTH_MAX} levels"))
    }

    /// A fault at `mark` naming the path of the node being built.
    fn fault(&self, mark: Mark, message: impl Into<String>) -> Fault {
        Fault {
            path: self.path(),
            place: Place::Mark(mark),
            message: message.into(),
        }
    }

    /// The path of the node that would be placed next.
    fn path(&self) -> YamlPath {
        let mut path = YamlPath::root();
        for frame in &self.stack {
            match &frame.body {
                FrameBody::Sequence(items) => path = path.index(items.len()),
                FrameBody::Mapping {
                    key: Some((key, _)),
                    ..
                } => path = path.key(key),
                FrameBody::Mapping { key: None, .. } => {}
            }
        }
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(text: &str) -> String {
        let fault = build(text).expect_err("test input is invalid");
        let Place::Mark(mark) = fault.place else {
            panic!("tree faults carry a mark: {fault:?}");
        };
        format!("{mark}: {}: {}", fault.path, fault.message)
    }

    #[test]
    fn marks_are_one_based() {
        let root = build("a:\n  b: [1, 'x']\n").unwrap().unwrap();
        assert_eq!(root.mark, Mark { line: 1, column: 1 });
        let a = root.entry("a").unwrap();
        assert_eq!(a.key_mark, Mark { line: 1, column: 1 });
        let b = a.value.entry("b").unwrap();
        assert_eq!(b.key_mark, Mark { line: 2, column: 3 });
        let items = b.value.items().unwrap();
        assert_eq!(items[0].mark, Mark { line: 2, column: 7 });
        assert_eq!(
            items[1].mark,
            Mark {
                line: 2,
                column: 10
            }
        );
        assert_eq!(
            items[1].kind,
            NodeKind::Scalar(Scalar {
                text: "x".into(),
                plain: false
            })
        );
    }

    #[test]
    fn empty_documents_are_none() {
        assert_eq!(build("").unwrap(), None);
        assert_eq!(build("# only a comment\n").unwrap(), None);
        assert_eq!(build("---\n").unwrap(), None);
        assert_eq!(build("~\n").unwrap(), None);
    }

    #[test]
    fn refuses_duplicate_keys_with_path() {
        assert_eq!(fault("a:\n  b: 1\n  b: 2\n"), "3:3: a.b: duplicate key `b`");
    }

    #[test]
    fn errors_at_end_of_input_stay_in_the_text() {
        let mark = |line, column| Mark { line, column };
        let clamped = |text: &str, m: Mark| clamp(&line_lengths(text), m);
        assert_eq!(clamped("", mark(2, 1)), mark(1, 1));
        assert_eq!(clamped("ab", mark(2, 1)), mark(1, 3));
        assert_eq!(clamped("ab", mark(1, 9)), mark(1, 3));
        assert_eq!(clamped("ab\ncd", mark(1, 2)), mark(1, 2));
        assert_eq!(clamped("a\r\nb\rc\n", mark(9, 9)), mark(4, 1));
        assert_eq!(
            fault("%\u{1}\u{1}\u{1}x\u{0}\n"),
            "1:6: : invalid YAML: found unprintable character"
        );
        assert_eq!(
            fault("%\u{a0}"),
            "1:3: : invalid YAML: did not find expected <document start>"
        );
    }

    #[test]
    fn refuses_second_document() {
        assert_eq!(
            fault("a: 1\n---\nb: 2\n"),
            "2:1: : only one YAML document is allowed"
        );
    }

    #[test]
    fn refuses_complex_keys_and_tags() {
        assert_eq!(
            fault("? [a]\n: 1\n"),
            "1:3: : mapping keys must be plain strings"
        );
        assert_eq!(fault("a: !!str 1\n"), "1:4: a: YAML tags are not supported");
    }

    #[test]
    fn expands_aliases() {
        let root = build("a: &x {b: 1}\nc: *x\n").unwrap().unwrap();
        let c = &root.entry("c").unwrap().value;
        assert_eq!(c.entry("b").unwrap().value.text(), Some("1"));
        assert_eq!(c.mark, Mark { line: 2, column: 4 });
    }

    #[test]
    fn bounds_alias_expansion() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            let aliases = vec![format!("*a{p}"); 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{aliases}]\n"));
        }
        let message = fault(&text);
        assert!(message.contains("more than 1000000 nodes"), "{message}");
    }

    #[test]
    fn bounds_nested_anchor_copies() {
        let mut text = String::new();
        for level in 0..20 {
            text.push_str(&format!("{}k{level}: &a{level}\n", "  ".repeat(level)));
        }
        let leaves: String = (0..60_000)
            .map(|i| format!("{}x{i}: 1\n", "  ".repeat(20)))
            .collect();
        text.push_str(&leaves);
        let message = fault(&text);
        assert!(message.contains("more than 1000000 nodes"), "{message}");
    }

    #[test]
    fn bounds_depth() {
        let text = format!("{}{}", "[".repeat(40), "]".repeat(40));
        let expected = format!(
            "1:33: {}: nesting is deeper than 32 levels",
            "[0]".repeat(32)
        );
        assert_eq!(fault(&text), expected);
        // The parser's own bound on flow nesting comes first for very deep input.
        assert_eq!(
            fault(&"[".repeat(100_000)),
            "1:256: : invalid YAML: recursion limit exceeded"
        );
    }
}
