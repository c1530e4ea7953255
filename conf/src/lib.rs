//! percore configuration: YAML text in, a validated [`Config`] with every default applied out,
//! or one [`ConfigError`] printed as `FILE:LINE:COL: yaml.path: message`.
//!
//! The pipeline, one module per step:
//!
//! ```text
//! text ─tree─▶ positioned nodes ─de─▶ raw structs ─validate─▶ Config ─not_yet─▶ Ok(Config)
//!                     │
//!                     └─▶ locate: any step's Fault (a YAML path) → ConfigError FILE:LINE:COL
//! ```
//!
//! - `tree`:     YAML events (saphyr-parser) → nodes with positions; depth/size bounds
//! - `de`:       serde `Deserializer` over nodes; scalar typing; type-error wording
//! - `raw`:      the schema as serde structs (`deny_unknown_fields`)
//! - `validate`: raw → [`Config`]: defaults, ranges, references, conflicts
//! - `not_yet`:  the table of design features refused as "not supported yet"
//! - `locate`:   a fault's YAML path → line and column in the source
//! - `path`:     YAML paths (`backends.app.servers[0]`)
//! - `hint`:     "did you mean" by edit distance
//! - [`errorfile`]: reads and checks the errorfiles a frontend names
//! - `bounded`:  reads a file the configuration names, non-blocking and size-bounded
//! - `error`:    [`ConfigError`] and the internal `Fault`
//! - `fuzzing`:  (hidden) the `config_text` fuzz entry point and its invariants
//! - [`config`]: the validated types
//! - [`limits`]: every bound and built-in default, with its reason
//! - [`logformat`]: HAProxy log-format templates (`log_format`, httplog, tcplog)
//! - [`tls`]:    a bind's TLS settings; reads and checks its certificates and keys
//! - [`units`]:  durations and sizes
//!
//! Nothing here panics on any input (a property test feeds it arbitrary text), does I/O other
//! than [`load`]'s one read and the bounded, non-blocking reads of the errorfiles the
//! configuration names ([`errorfile`], in [`parse`] too) and its certificate files ([`tls`]),
//! or looks at the clock (except to refuse an expired certificate).

#![forbid(unsafe_code)]

mod bounded;
pub mod check;
pub mod config;
mod de;
mod error;
pub mod errorfile;
#[doc(hidden)]
pub mod fuzzing;
mod hint;
pub mod http;
pub mod limits;
mod locate;
pub mod logformat;
mod not_yet;
mod path;
mod raw;
pub mod tls;
mod tree;
pub mod units;
mod validate;

use std::path::Path;

pub use config::{
    Admin, AdminListener, Backend, Balance, Config, Frontend, Global, GlobalTimeouts, HashType,
    Level, Log, LogFraming, LogTarget, Mode, ProxyVersion, Server, Shards, Timeouts, Tune,
};
pub use error::ConfigError;
pub use units::{format_duration, format_size, parse_duration, parse_size};

use crate::error::{Fault, Mark, Place};
use crate::path::YamlPath;

/// What the host offers the configuration; the engine fills it before loading.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostInfo {
    /// CPU ids in the process affinity mask, in the order shards should use them.
    pub cpus: Vec<usize>,
}

/// Reads and validates the configuration file at `path`. A file that cannot be read is an
/// error without position; one larger than [`limits::CONFIG_BYTES_MAX`] is reported at
/// `1:1`, one that is not UTF-8 at the line and column of its first bad byte.
pub fn load(path: &Path, host: &HostInfo) -> Result<Config, ConfigError> {
    let file = path.display().to_string();
    let refused = |mark: Option<Mark>, message: String| ConfigError {
        file: file.clone(),
        line: mark.map(|m| m.line),
        column: mark.map(|m| m.column),
        path: String::new(),
        message,
    };
    let unreadable = |e: std::io::Error| refused(None, format!("cannot read file: {e}"));
    let size = std::fs::metadata(path).map_err(unreadable)?.len();
    if size > limits::CONFIG_BYTES_MAX as u64 {
        return Err(refused(Some(Mark::START), too_large()));
    }
    let bytes = std::fs::read(path).map_err(unreadable)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        refused(Some(Mark::after(valid)), "file is not valid UTF-8".into())
    })?;
    parse(&file, &text, host)
}

/// Validates configuration `text`; `source_name` is the file name used in errors.
pub fn parse(source_name: &str, text: &str, host: &HostInfo) -> Result<Config, ConfigError> {
    let whole_file = |message: String| Fault {
        path: YamlPath::root(),
        place: Place::Mark(Mark::START),
        message,
    };
    if text.len() > limits::CONFIG_BYTES_MAX {
        return Err(locate::error(source_name, whole_file(too_large()), None));
    }
    let root = match tree::build(text) {
        Ok(Some(root)) => root,
        Ok(None) => {
            let fault = whole_file(
                "configuration is empty (expected a mapping with `frontends` and `backends`)"
                    .to_owned(),
            );
            return Err(locate::error(source_name, fault, None));
        }
        Err(fault) => return Err(locate::error(source_name, fault, None)),
    };
    let located = |fault: Fault| locate::error(source_name, fault, Some(&root));
    let raw: raw::RawConfig = de::from_root(&root).map_err(located)?;
    let config = validate::config(&raw, host).map_err(located)?;
    not_yet::reject(&root).map_err(located)?;
    Ok(config)
}

fn too_large() -> String {
    format!("file is larger than {} MiB", limits::CONFIG_BYTES_MAX >> 20)
}
