//! Termination flags: why and when a stream ended, as HAProxy's two-character code
//! (first: who or what ended it; second: in which phase).

use std::fmt;

/// What ended the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Both sides closed normally (`-`).
    Normal,
    /// Killed by the admin socket or at the end of the stop grace period (`K`).
    Killed,
    /// The client reset or failed (`C`).
    ClientError,
    /// The server refused, reset or failed (`S`).
    ServerError,
    /// The client side timed out (`c`).
    ClientTimeout,
    /// The server side timed out (`s`).
    ServerTimeout,
    /// percore refused the message: invalid request or response, deny rule (`P`).
    ProxyRefused,
    /// percore answered itself: redirect, return (`L`).
    Local,
    /// Internal resource limit (`R`).
    Resource,
}

/// Where the stream was when it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for or reading the request head (`R`).
    Request,
    /// Waiting for the response head (`H`).
    Headers,
    /// Waiting in the queue for a server slot (`Q`).
    Queue,
    /// Waiting for a server connection (`C`).
    Connect,
    /// Copying data (`D`).
    Data,
}

/// A cause and a phase; displays as e.g. `SC`, `cD`, `KD`, or `--` for a normal end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Termination {
    /// What ended the stream.
    pub cause: Cause,
    /// In which phase.
    pub phase: Phase,
}

impl Termination {
    /// Builds a termination code.
    pub fn new(cause: Cause, phase: Phase) -> Self {
        Termination { cause, phase }
    }
}

impl fmt::Display for Termination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = match self.cause {
            Cause::Normal => return f.write_str("--"),
            Cause::Killed => 'K',
            Cause::ClientError => 'C',
            Cause::ServerError => 'S',
            Cause::ClientTimeout => 'c',
            Cause::ServerTimeout => 's',
            Cause::ProxyRefused => 'P',
            Cause::Local => 'L',
            Cause::Resource => 'R',
        };
        let p = match self.phase {
            Phase::Request => 'R',
            Phase::Headers => 'H',
            Phase::Queue => 'Q',
            Phase::Connect => 'C',
            Phase::Data => 'D',
        };
        write!(f, "{c}{p}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        let t = |c, p| Termination::new(c, p).to_string();
        assert_eq!(t(Cause::Normal, Phase::Data), "--");
        assert_eq!(t(Cause::ServerError, Phase::Connect), "SC");
        assert_eq!(t(Cause::Killed, Phase::Data), "KD");
        assert_eq!(t(Cause::ClientTimeout, Phase::Data), "cD");
        assert_eq!(t(Cause::ServerTimeout, Phase::Data), "sD");
    }
}
