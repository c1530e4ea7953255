//! Body relay shared by both directions: decode what arrived, re-frame it for the other
//! side (as chunks when that side is chunked), as far as the output has room.

use percore_protocols::http1::{BodyDecoder, BodyError, LAST_CHUNK};

use super::request::frame;
use crate::stream::buf::{Buf, Pools};

/// What one [`pump`] call ended with.
pub(super) enum Pumped {
    /// The body ended (and its last chunk was queued when the output is chunked).
    Finished,
    /// More input or more output room is needed.
    Waiting,
    /// The body broke its framing.
    Failed(BodyError),
}

/// Moves body bytes from `input` to `output` while room allows, adding the input bytes it
/// used (framing included) to `consumed`.
pub(super) fn pump(
    decoder: &mut BodyDecoder,
    (input, output): (&mut Buf, &mut Buf),
    chunked_out: bool,
    pools: &Pools,
    consumed: &mut u64,
) -> Pumped {
    loop {
        if decoder.is_finished() {
            if chunked_out {
                output.extend(pools, LAST_CHUNK);
            }
            return Pumped::Finished;
        }
        let room = output.room(pools);
        if input.is_empty() || room == 0 {
            return Pumped::Waiting;
        }
        let bytes = &input.bytes()[..input.len().min(room)];
        let step = match decoder.handle_input(bytes) {
            Ok(step) => step,
            Err(e) => return Pumped::Failed(e),
        };
        let payload = &bytes[step.payload.clone()];
        output.append_with(pools, |v| frame(v, payload, chunked_out));
        input.consume(step.consumed);
        *consumed += step.consumed as u64;
        if step.consumed == 0 {
            return Pumped::Waiting;
        }
    }
}
