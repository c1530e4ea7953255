//! Configuration generations on one shard.
//!
//! A [`Generation`] is one applied configuration: the layout the control plane sent (every
//! server slot, removed ones included) and what the shard derives from it once (error
//! pages). The shard holds the newest; each stream holds, through an `Rc`, the one it
//! started with, so a reload changes routes and timeouts for new streams only. A generation
//! is freed when the shard and its last stream let go of it; [`Generations`] only counts
//! them (weak references), it keeps none alive.
//!
//! Layouts only grow: a reload appends new frontends, backends and servers and marks removed
//! ones, so an index that is valid in one generation stays valid, and names the same object,
//! in every later one.

use std::rc::{Rc, Weak};

use percore_conf::Config;

use crate::stream::http::errors::ErrorPages;

/// One applied configuration of this shard.
pub struct Generation {
    /// Reload counter of the control plane (0 = the configuration started with).
    pub number: u64,
    /// The layout: frontends, backends and every server slot ever used.
    pub config: Config,
    /// Error pages of each frontend (defaults plus errorfiles).
    pub pages: Vec<ErrorPages>,
}

impl Generation {
    /// Generation `number` of `config`, with its error pages built.
    pub fn new(number: u64, config: Config) -> Rc<Self> {
        let pages = config
            .frontends
            .iter()
            .map(|fe| ErrorPages::new(&fe.http.errorfiles))
            .collect();
        Rc::new(Generation {
            number,
            config,
            pages,
        })
    }
}

/// The generations a shard has applied that may still be alive.
#[derive(Default)]
pub struct Generations {
    /// Weak handles, oldest first; dead ones are pruned on each push, so the list is
    /// bounded by the live streams (each alive generation but the newest has one).
    seen: Vec<Weak<Generation>>,
}

impl Generations {
    /// Records a newly applied generation and forgets the dead ones.
    pub fn push(&mut self, g: &Rc<Generation>) {
        self.seen.retain(|w| w.strong_count() > 0);
        self.seen.push(Rc::downgrade(g));
    }

    /// Generations still alive (the current one included).
    pub fn alive(&self) -> usize {
        self.seen.iter().filter(|w| w.strong_count() > 0).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generation_lives_as_long_as_its_last_holder() {
        let config = crate::stream::testing::config(
            "frontends:\n  f: { bind: \"127.0.0.1:0\", default_backend: b }\n\
             backends:\n  b: { servers: [ { name: s, address: \"127.0.0.1:9\" } ] }\n",
        );
        let mut gens = Generations::default();
        let g0 = Generation::new(0, config.clone());
        gens.push(&g0);
        let stream_holds = g0.clone();
        drop(g0);
        let g1 = Generation::new(1, config.clone());
        gens.push(&g1);
        assert_eq!(gens.alive(), 2, "a stream still holds generation 0");
        drop(stream_holds);
        assert_eq!(gens.alive(), 1);
        let g2 = Generation::new(2, config);
        gens.push(&g2);
        drop(g1);
        assert_eq!(gens.seen.len(), 2, "dead generation 0 was pruned");
        assert_eq!(gens.alive(), 1);
    }
}
