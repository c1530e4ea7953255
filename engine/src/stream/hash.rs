//! Keys of the hash-based balancing algorithms (`source`, `uri`, `hdr`), computed the same
//! way on every shard.

/// 64-bit hash of a key: FNV-1a, then a splitmix64 finaliser for avalanche (FNV alone
/// clusters similar keys such as `/a/1`, `/a/2`). Stable across shards and restarts.
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The part of `path` a `balance uri` hash covers (`uri_len` characters, `uri_depth`
/// segments).
pub fn uri_key(path: &str, len: Option<u32>, depth: Option<u32>) -> &str {
    let mut end = path.len();
    if let Some(d) = depth {
        let mut seen = 0;
        for (i, c) in path.char_indices() {
            if c == '/' {
                seen += 1;
                if seen > d {
                    end = end.min(i);
                    break;
                }
            }
        }
    }
    if let Some(l) = len {
        end = end.min(l as usize);
    }
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    &path[..end]
}

/// The `balance source` key of a client address (IPv4-mapped IPv6 hashed as IPv4, so a
/// dual-stack listener maps a client the same way).
pub fn source_hash(ip: std::net::IpAddr) -> u64 {
    match ip {
        std::net::IpAddr::V4(v4) => hash_bytes(&v4.octets()),
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => hash_bytes(&v4.octets()),
            None => hash_bytes(&v6.octets()),
        },
    }
}
