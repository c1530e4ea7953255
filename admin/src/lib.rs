//! percore runtime API (admin socket): command grammar, permission levels, replies, client.
//! Filled in by the control-plane work.
#![forbid(unsafe_code)]
