//! Sans-io codecs used by percore. Nothing here touches a socket, a clock or an executor:
//! bytes in, values out.
//!
//! - [`proxy`]: PROXY protocol v1 (text) and v2 (binary) headers, encoder and decoder.
#![forbid(unsafe_code)]

pub mod proxy;
