//! Session ticket keys. The control plane creates them at start-up and on each rotation
//! and sends the same keys to every shard, so a ticket one shard issued resumes on any
//! other (the kernel spreads a client's connections over the shards).
//!
//! A ticket is `key id (4) | nonce (12) | AES-256-GCM(state) | tag (16)`. Two keys are
//! live: new tickets use the current one; tickets of the previous one still decrypt, so a
//! ticket lives between one and two rotation periods (`global.tune.tls_ticket_rotation`).

use std::fmt;
use std::time::Duration;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};

/// Shortest lifetime hint. With very short rotations (tests) a client then still offers a
/// ticket whose key is gone, and gets a full handshake: the key's life, not the hint, is
/// what bounds resumption.
pub const LIFETIME_MIN_SECS: u64 = 60;

const ID_LEN: usize = 4;
const TAG_LEN: usize = 16;

/// Largest ticket accepted for decryption (a TLS 1.3 resumption state is ~100-200 bytes,
/// with a client certificate chain a few KiB).
const TICKET_BYTES_MAX: usize = 16 * 1024;

/// Raw material of one key: its id and AES-256 key bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyBytes {
    id: [u8; ID_LEN],
    key: [u8; 32],
}

impl fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyBytes({:02x?})", self.id)
    }
}

/// The live keys, current first; plain bytes, sent over the control rings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketKeys {
    /// Encrypts new tickets.
    pub current: KeyBytes,
    /// The one before (still decrypts).
    pub previous: Option<KeyBytes>,
    /// Lifetime hint sent with each ticket, seconds: two rotation periods, the longest a
    /// key lives, and at least [`LIFETIME_MIN_SECS`].
    pub lifetime: u32,
}

impl TicketKeys {
    /// Fresh random keys (start-up), to be rotated every `rotation`.
    pub fn generate(rotation: Duration) -> Result<Self, aws_lc_rs::error::Unspecified> {
        let twice = rotation.as_secs().saturating_mul(2).max(LIFETIME_MIN_SECS);
        let lifetime = u32::try_from(twice).unwrap_or(u32::MAX);
        Ok(TicketKeys {
            current: random_key()?,
            previous: None,
            lifetime,
        })
    }

    /// The next keys: a new current one, the current one kept as previous.
    pub fn rotated(&self) -> Result<Self, aws_lc_rs::error::Unspecified> {
        Ok(TicketKeys {
            current: random_key()?,
            previous: Some(self.current.clone()),
            lifetime: self.lifetime,
        })
    }
}

fn random_key() -> Result<KeyBytes, aws_lc_rs::error::Unspecified> {
    let mut k = KeyBytes {
        id: [0; ID_LEN],
        key: [0; 32],
    };
    aws_lc_rs::rand::fill(&mut k.id)?;
    aws_lc_rs::rand::fill(&mut k.key)?;
    Ok(k)
}

/// A shard's ticket encryption for its acceptors: one [`Ticketer`] over the keys the
/// control plane sent, shared by the shard's bind configurations only (see
/// [`super::ShardLocal`]).
#[derive(Clone)]
pub struct Tickets {
    ticketer: std::sync::Arc<dyn rustls::server::ProducesTickets>,
    _shard_local: super::ShardLocal,
}

impl Tickets {
    /// The ticket encryption of `keys`.
    pub fn new(keys: &TicketKeys) -> Self {
        Tickets {
            ticketer: std::sync::Arc::new(Ticketer::new(keys)),
            _shard_local: super::ShardLocal::default(),
        }
    }

    /// What a rustls `ServerConfig` holds.
    pub(super) fn ticketer(&self) -> std::sync::Arc<dyn rustls::server::ProducesTickets> {
        self.ticketer.clone()
    }
}

/// A ticketer over one set of [`TicketKeys`] (immutable: a rotation builds a new one, so
/// rustls's `Send + Sync` bound needs no lock).
pub struct Ticketer {
    lifetime: u32,
    current: ([u8; ID_LEN], LessSafeKey),
    previous: Option<([u8; ID_LEN], LessSafeKey)>,
}

impl fmt::Debug for Ticketer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ticketer(..)")
    }
}

fn aead(k: &KeyBytes) -> ([u8; ID_LEN], LessSafeKey) {
    let unbound = UnboundKey::new(&AES_256_GCM, &k.key).expect("32-byte AES-256 key");
    (k.id, LessSafeKey::new(unbound))
}

impl Ticketer {
    /// The ticketer of `keys`.
    pub fn new(keys: &TicketKeys) -> Self {
        Ticketer {
            lifetime: keys.lifetime,
            current: aead(&keys.current),
            previous: keys.previous.as_ref().map(aead),
        }
    }
}

impl rustls::server::ProducesTickets for Ticketer {
    fn enabled(&self) -> bool {
        true
    }

    fn lifetime(&self) -> u32 {
        self.lifetime
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let (id, key) = &self.current;
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).ok()?;
        let mut out = Vec::with_capacity(ID_LEN + NONCE_LEN + plain.len() + TAG_LEN);
        out.extend_from_slice(id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plain);
        let mut body = out.split_off(ID_LEN + NONCE_LEN);
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(id),
            &mut body,
        )
        .ok()?;
        out.extend_from_slice(&body);
        Some(out)
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        if cipher.len() < ID_LEN + NONCE_LEN + TAG_LEN || cipher.len() > TICKET_BYTES_MAX {
            return None;
        }
        let (id, rest) = cipher.split_at(ID_LEN);
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let key = [Some(&self.current), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .find(|(kid, _)| kid == id)
            .map(|(_, key)| key)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut body = sealed.to_vec();
        let plain = key.open_in_place(nonce, Aad::from(id), &mut body).ok()?;
        let n = plain.len();
        body.truncate(n);
        Some(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::server::ProducesTickets;

    #[test]
    fn a_ticket_decrypts_under_the_same_keys_and_the_next_rotation_only() {
        let k0 = TicketKeys::generate(Duration::from_secs(3600)).unwrap();
        let k1 = k0.rotated().unwrap();
        let k2 = k1.rotated().unwrap();
        let ticket = Ticketer::new(&k0).encrypt(b"state").unwrap();
        assert_eq!(
            Ticketer::new(&k0).decrypt(&ticket).as_deref(),
            Some(&b"state"[..])
        );
        assert_eq!(
            Ticketer::new(&k1).decrypt(&ticket).as_deref(),
            Some(&b"state"[..])
        );
        assert_eq!(
            Ticketer::new(&k2).decrypt(&ticket),
            None,
            "two rotations later"
        );
    }

    proptest::proptest! {
        /// A ticket is attacker-controlled: any bytes are refused (or, if they were sealed
        /// with these keys, opened), never a panic.
        #[test]
        fn any_bytes_decrypt_to_none_without_panicking(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let t = Ticketer::new(&TicketKeys::generate(Duration::from_secs(3600)).unwrap());
            proptest::prop_assert_eq!(t.decrypt(&bytes), None);
        }
    }

    #[test]
    fn tampered_short_and_foreign_tickets_are_refused() {
        let keys = TicketKeys::generate(Duration::from_secs(3600)).unwrap();
        let t = Ticketer::new(&keys);
        let mut ticket = t.encrypt(b"state").unwrap();
        let last = ticket.len() - 1;
        ticket[last] ^= 1;
        assert_eq!(t.decrypt(&ticket), None);
        assert_eq!(t.decrypt(&[0u8; 10]), None);
        let other = Ticketer::new(&TicketKeys::generate(Duration::from_secs(3600)).unwrap());
        assert_eq!(other.decrypt(&t.encrypt(b"x").unwrap()), None);
    }
}
