//! Connection attempts of one exchange (HTTP) or stream (TCP): at most `1 + retries`
//! connects, avoiding servers that failed, staying on the same server unless `redispatch`.
//! The shell performs each attempt; this decides whether there is another.

use std::time::Instant;

use super::{Connected, Event, Events, Fault, Layer, ServerRequest};
use crate::ids::ServerKey;

/// What happened to one attempt, for the machine.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Connected to this server.
    Ready {
        /// The server.
        server: ServerKey,
        /// From the idle pool.
        reused: bool,
    },
    /// Another attempt was requested (an event is queued).
    Retrying,
    /// No more attempts: the exchange fails with this fault.
    Failed(Fault),
}

/// The attempts of one exchange.
#[derive(Debug, Clone)]
pub struct Attempts {
    backend: usize,
    hash: Option<u64>,
    retries_max: u32,
    redispatch: bool,
    /// Connects made (pool hits do not count).
    connects: u32,
    failed: Vec<usize>,
    current: Option<usize>,
    /// Retries requested so far.
    pub retries: u32,
    /// Retries that were allowed to move to another server.
    pub redispatches: u32,
    /// Total time queued for a slot, over the attempts.
    pub queued_ms: Option<u32>,
    /// When the connection became ready.
    pub connected_at: Option<Instant>,
}

impl Attempts {
    /// Attempts on `backend` with its `retries` and `redispatch`.
    pub fn new(backend: usize, hash: Option<u64>, retries_max: u32, redispatch: bool) -> Self {
        Attempts {
            backend,
            hash,
            retries_max,
            redispatch,
            connects: 0,
            failed: Vec::new(),
            current: None,
            retries: 0,
            redispatches: 0,
            queued_ms: None,
            connected_at: None,
        }
    }

    /// The backend attempted.
    pub fn backend(&self) -> usize {
        self.backend
    }

    /// The first request (or one after a dead pooled connection, with `pool: false`);
    /// `replayable`: the request can be resent if a pooled connection is dead.
    pub fn request(&self, pool: bool, replayable: bool) -> Event {
        Event::NeedServer(ServerRequest {
            backend: self.backend,
            hash: self.hash,
            avoid: self.failed.clone(),
            only: None,
            previous: None,
            pool,
            replayable,
        })
    }

    /// Takes the shell's answer; queues the next request or the failure's observation in
    /// `events`.
    pub fn handle(&mut self, now: Instant, result: Connected, events: &mut Events) -> Outcome {
        match result {
            Connected::Ready {
                server,
                reused,
                queued_ms,
            } => {
                self.add_queued(queued_ms);
                self.current = Some(server.server);
                if !reused {
                    self.connects += 1;
                    events.push(Event::Observe {
                        server,
                        ok: true,
                        layer: Layer::L4,
                    });
                }
                self.connected_at = Some(now);
                Outcome::Ready { server, reused }
            }
            Connected::Failed { server } => {
                self.connects += 1;
                events.push(Event::Observe {
                    server,
                    ok: false,
                    layer: Layer::L4,
                });
                if !self.failed.contains(&server.server) {
                    self.failed.push(server.server);
                }
                self.current = Some(server.server);
                if self.connects > self.retries_max {
                    return Outcome::Failed(Fault::ConnectFailed);
                }
                self.retries += 1;
                if self.redispatch {
                    self.redispatches += 1;
                }
                events.push(Event::NeedServer(ServerRequest {
                    backend: self.backend,
                    hash: self.hash,
                    avoid: self.failed.clone(),
                    only: (!self.redispatch).then_some(server.server),
                    previous: Some(server.server),
                    pool: true,
                    replayable: false,
                }));
                Outcome::Retrying
            }
            Connected::NoServer if self.connects > 0 => Outcome::Failed(Fault::ConnectFailed),
            Connected::NoServer => Outcome::Failed(Fault::NoServer),
            Connected::QueueTimeout => Outcome::Failed(Fault::QueueTimeout),
        }
    }

    fn add_queued(&mut self, ms: u32) {
        self.queued_ms = Some(self.queued_ms.unwrap_or(0).saturating_add(ms));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(server: usize) -> ServerKey {
        ServerKey { backend: 0, server }
    }

    #[test]
    fn retries_then_fails() {
        let now = Instant::now();
        let mut a = Attempts::new(0, None, 2, true);
        let mut ev = Events::default();
        for i in 0..2 {
            let o = a.handle(now, Connected::Failed { server: key(i) }, &mut ev);
            assert_eq!(o, Outcome::Retrying);
        }
        let o = a.handle(now, Connected::Failed { server: key(2) }, &mut ev);
        assert_eq!(o, Outcome::Failed(Fault::ConnectFailed));
        assert_eq!(a.retries, 2);
        let Some(Event::NeedServer(last)) =
            ev.iter().rev().find(|e| matches!(e, Event::NeedServer(_)))
        else {
            panic!("no retry request");
        };
        assert_eq!(last.avoid, vec![0, 1]);
        assert_eq!(last.only, None);
        let observed = ev
            .iter()
            .filter(|e| matches!(e, Event::Observe { ok: false, .. }))
            .count();
        assert_eq!(observed, 3);
    }

    #[test]
    fn without_redispatch_stays_on_the_server() {
        let now = Instant::now();
        let mut a = Attempts::new(0, None, 1, false);
        let mut ev = Events::default();
        a.handle(now, Connected::Failed { server: key(1) }, &mut ev);
        let Some(Event::NeedServer(r)) = ev.pop_last() else {
            panic!("no retry");
        };
        assert_eq!((r.only, r.previous), (Some(1), Some(1)));
        let o = a.handle(
            now,
            Connected::Ready {
                server: key(1),
                reused: false,
                queued_ms: 3,
            },
            &mut ev,
        );
        assert_eq!(
            o,
            Outcome::Ready {
                server: key(1),
                reused: false
            }
        );
        assert_eq!((a.retries, a.redispatches, a.queued_ms), (1, 0, Some(3)));
    }

    #[test]
    fn no_server_and_queue_timeout() {
        let now = Instant::now();
        let mut ev = Events::default();
        let mut a = Attempts::new(0, None, 3, true);
        assert_eq!(
            a.handle(now, Connected::NoServer, &mut ev),
            Outcome::Failed(Fault::NoServer)
        );
        assert_eq!(
            a.handle(now, Connected::QueueTimeout, &mut ev),
            Outcome::Failed(Fault::QueueTimeout)
        );
    }
}
