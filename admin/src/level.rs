//! Permission levels of an admin socket (`user` < `operator` < `admin`), as HAProxy's
//! `stats socket … level`. This module only names and orders them; which command needs which
//! level lives in the command table (`table.rs`).

use std::fmt;
use std::str::FromStr;

/// Access level of an admin socket or session. Ordered: `User < Operator < Admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Level {
    /// Read-only statistics (`show info`, `show stat`, `get weight`, …).
    User,
    /// `user` plus stream listings (`show sess`). HAProxy's default for a socket.
    #[default]
    Operator,
    /// Everything, including commands that change state or kill streams.
    Admin,
}

impl Level {
    /// The keyword used in configuration and printed by `show cli level`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::User => "user",
            Level::Operator => "operator",
            Level::Admin => "admin",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A level keyword other than `user`, `operator` or `admin`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown level '{0}', expected 'user', 'operator' or 'admin'")]
pub struct UnknownLevel(pub String);

impl FromStr for Level {
    type Err = UnknownLevel;

    /// Accepts exactly `user`, `operator` or `admin` (case-sensitive, like HAProxy).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "user" => Ok(Level::User),
            "operator" => Ok(Level::Operator),
            "admin" => Ok(Level::Admin),
            other => Err(UnknownLevel(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_round_trip() {
        assert!(Level::User < Level::Operator && Level::Operator < Level::Admin);
        for level in [Level::User, Level::Operator, Level::Admin] {
            assert_eq!(level.to_string().parse::<Level>(), Ok(level));
        }
        assert!("Admin".parse::<Level>().is_err());
        assert!("".parse::<Level>().is_err());
    }
}
