//! Sans-io codecs used by percore. Nothing here touches a socket, a clock or an executor:
//! bytes in, values out.
//!
//! - [`proxy`]: PROXY protocol v1 (text) and v2 (binary) headers, encoder and decoder.
//! - [`http1`]: HTTP/1.0 and HTTP/1.1 heads (strict parsing, editing, serialisation) and
//!   bodies (content-length, chunked).
#![forbid(unsafe_code)]

pub mod http1;
pub mod proxy;
