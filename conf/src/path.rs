//! YAML paths such as `backends.app.servers[0].weight`: how every error names the place it is
//! about. This module only spells paths; finding them in the source is `locate`'s job.

use std::fmt;

/// A path from the document root to one node: map keys and list indices, outermost first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct YamlPath {
    segments: Vec<Segment>,
}

/// One step of a [`YamlPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// The value under a mapping key.
    Key(String),
    /// The item at a list index (0-based).
    Index(usize),
}

impl YamlPath {
    /// The document root (the empty path).
    pub(crate) fn root() -> Self {
        Self::default()
    }

    /// This path extended by a mapping key.
    pub(crate) fn key(&self, key: &str) -> Self {
        let mut segments = self.segments.clone();
        segments.push(Segment::Key(key.to_owned()));
        Self { segments }
    }

    /// This path extended by a list index.
    pub(crate) fn index(&self, index: usize) -> Self {
        let mut segments = self.segments.clone();
        segments.push(Segment::Index(index));
        Self { segments }
    }

    /// The steps from the root, outermost first.
    pub(crate) fn segments(&self) -> &[Segment] {
        &self.segments
    }
}

impl fmt::Display for YamlPath {
    /// Keys joined by `.`, indices as `[i]`; the root prints as the empty string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Key(key) if i == 0 => write!(f, "{key}")?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_joins_keys_and_indices() {
        let path = YamlPath::root()
            .key("backends")
            .key("app")
            .key("servers")
            .index(2)
            .key("weight");
        assert_eq!(path.to_string(), "backends.app.servers[2].weight");
        assert_eq!(YamlPath::root().to_string(), "");
        assert_eq!(YamlPath::root().index(0).to_string(), "[0]");
    }
}
