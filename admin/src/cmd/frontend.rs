//! `disable|enable frontend <fe>` and `set maxconn frontend <fe> <n>`, ported from HAProxy 2.6 `cli_parse_set_maxconn_frontend`
//! with its quirks: the value goes through `atoi`, so non-numeric text is accepted as 0 and
//! values are truncated to 32 bits; only a negative result is refused. The name is checked
//! for presence here and resolved (frontends only) by the engine, before the value errors.
//! `disable frontend` pauses the frontend's listeners (connections wait in the kernel
//! backlog, as with HAProxy's paused listeners) until `enable frontend`.

use super::{Command, Lookup};
use crate::error::{
    ErrorReply, FRONTEND_NAME_EXPECTED, INTEGER_VALUE_EXPECTED, VALUE_OUT_OF_RANGE,
};
use crate::grammar::{atoi, Args};

/// Parses `set maxconn frontend <fe> <n>` (words 3 and 4).
pub(super) fn parse_set_maxconn_frontend(args: Args<'_>) -> Result<Command, ErrorReply> {
    let name = args.get(3);
    if name.is_empty() {
        return Err(FRONTEND_NAME_EXPECTED);
    }
    let deferred = |error| Command::ArgumentError {
        target: Lookup::Frontend(name.to_owned()),
        error,
    };
    let value = args.get(4);
    if value.is_empty() {
        return Ok(deferred(INTEGER_VALUE_EXPECTED));
    }
    match u32::try_from(atoi(value)) {
        Ok(maxconn) => Ok(Command::SetMaxconnFrontend(name.to_owned(), maxconn)),
        Err(_) => Ok(deferred(VALUE_OUT_OF_RANGE)),
    }
}

/// `disable frontend <fe>` (`enabled` false) / `enable frontend <fe>`: the name is resolved
/// by the engine (`No such frontend.`), which also answers `All sockets are already …`.
pub(super) fn parse_set_frontend_state(
    args: Args<'_>,
    enabled: bool,
) -> Result<Command, ErrorReply> {
    let name = args.get(2);
    if name.is_empty() {
        return Err(FRONTEND_NAME_EXPECTED);
    }
    Ok(Command::SetFrontendEnabled(name.to_owned(), enabled))
}
