//! The response side of an exchange: interim responses, the final head (rules, framing
//! toward the client, keep-alive), the body toward the client, and tunnel bytes downward.
//!
//! HTTP/1.0 clients never get `Transfer-Encoding: chunked` (RFC 9112 §6.1): a chunked body
//! that is already complete in the buffer goes out with `Content-Length` (the connection
//! may stay open), any other is de-chunked and delimited by the close.

use std::time::Instant;

use percore_protocols::http1::{
    BodyDecoder, BodyError, BodyFraming, ConnectionHeader, HeadScan, ResponseHead, Version,
};

use super::body::{pump, Pumped};
use super::request::{edit_headers, View};
use super::{observe_status, Close, HttpMachine, Req, Resp};
use crate::stream::capture::ErrorCapture;
use crate::stream::{Env, Event, Fault};

impl HttpMachine {
    /// Response-side progress: heads, bodies and tunnel bytes.
    pub(super) fn advance_response(&mut self, env: &Env<'_>, now: Instant) {
        if matches!(self.close, Close::Done) {
            return;
        }
        match self.resp {
            Resp::Head { .. } => self.advance_response_head(env, now),
            Resp::Body { .. } => self.advance_response_body(env, now),
            Resp::Hold { .. } if self.hold_is_over(env) => {
                let Resp::Hold { head } = std::mem::replace(&mut self.resp, Resp::Done) else {
                    unreachable!("matched above");
                };
                self.queue_final_head(env, *head);
                self.advance_response_body(env, now);
            }
            Resp::Tunnel => {
                let n = self.sin.len().min(self.cout.room(env.pools));
                if n > 0 {
                    self.cout.extend(env.pools, &self.sin.bytes()[..n]);
                    self.sin.consume(n);
                }
            }
            _ => {}
        }
    }

    /// Parses response heads: relays interim ones, handles the final one.
    fn advance_response_head(&mut self, env: &Env<'_>, now: Instant) {
        let Some(ex) = self.ex.as_ref() else {
            return;
        };
        let (is_head, version) = (ex.is_head, ex.version);
        let Resp::Head { scan } = &mut self.resp else {
            return;
        };
        let mut spare = env.pools.take_head();
        let parsed = scan.handle_response(self.sin.bytes(), env.limits, is_head, &mut spare);
        if !matches!(parsed, Ok(Some(_))) {
            env.pools.give_head(spare);
        }
        match parsed {
            Ok(Some((head, consumed))) => {
                self.sin.consume(consumed);
                if head.is_interim() {
                    // 1xx is not for HTTP/1.0 clients (RFC 9110 §15.2).
                    if version == Version::Http11 {
                        self.cout.append_with(env.pools, |v| {
                            head.write(BodyFraming::None, ConnectionHeader::Omit, v)
                        });
                    }
                    env.pools.give_head(head.into_buf());
                    self.resp = Resp::Head {
                        scan: HeadScan::new(),
                    };
                } else {
                    self.on_response_head(env, now, head);
                }
            }
            Ok(None) if self.sin.is_full(env.pools) => {
                self.fail(env, now, Fault::ResponseHeadTooLarge)
            }
            Ok(None) if self.server.is_some_and(|s| s.eof) => {
                if !self.retry_on_fresh_connection(env) {
                    self.fail(env, now, Fault::ServerAbortedHead);
                }
            }
            Ok(None) => {}
            Err(e) => {
                let server = self.server.map(|s| s.key);
                let capture = ErrorCapture::response(self.sin.bytes(), &e, server);
                self.events.push(Event::CaptureError(Box::new(capture)));
                self.fail(env, now, Fault::InvalidResponse(e))
            }
        }
    }

    /// The final response head: rules, then queued for the client with the framing and
    /// `connection` the exchange calls for.
    fn on_response_head(&mut self, env: &Env<'_>, now: Instant, mut head: ResponseHead) {
        let status = head.status();
        let fe = &env.config.frontends[self.frontend];
        let src = self.peer.ip();
        let tls = self.tls.as_deref();
        let ex = self.ex.as_mut().expect("exchange in progress");
        ex.record.response_at = Some(now);
        ex.record.status = status;
        if let Some(server) = self.server {
            self.events.push(observe_status(server.key, status));
        }
        let request = ex.head.as_ref().expect("head parsed");
        for rule in &fe.http.response_rules {
            let applies = rule.when.as_ref().is_none_or(|w| {
                super::route::matches(
                    w,
                    &View {
                        head: request,
                        src,
                        tls,
                    },
                )
            });
            if applies {
                if let Err(e) = edit_headers(&mut head, &rule.action) {
                    env.pools.give_head(head.into_buf());
                    self.fail(env, now, Fault::RewriteFailed(e));
                    return;
                }
            }
        }
        if head.framing() == BodyFraming::Tunnel {
            ex.final_offset = Some(self.cout.len());
            self.cout.append_with(env.pools, |v| {
                head.write(BodyFraming::None, ConnectionHeader::Upgrade, v)
            });
            env.pools.give_head(head.into_buf());
            ex.response_started = true;
            self.req = Req::Tunnel;
            self.resp = Resp::Tunnel;
            return;
        }
        let version = ex.version;
        if version == Version::Http10 && head.framing() == BodyFraming::Chunked {
            self.resp = Resp::Hold {
                head: Box::new(head),
            };
            if !self.hold_is_over(env) {
                return;
            }
            let Resp::Hold { head } = std::mem::replace(&mut self.resp, Resp::Done) else {
                unreachable!("set above");
            };
            self.queue_final_head(env, *head);
            return;
        }
        self.queue_final_head(env, head);
    }

    /// Whether a held HTTP/1.0 response must go now: its whole body is buffered (or broken:
    /// the body relay answers that), the buffer is full, or the server closed.
    fn hold_is_over(&self, env: &Env<'_>) -> bool {
        !matches!(dechunk_whole(self.sin.bytes()), Ok(None))
            || self.sin.is_full(env.pools)
            || self.server.is_none_or(|s| s.eof)
    }

    /// Writes the final head toward the client and enters the body.
    fn queue_final_head(&mut self, env: &Env<'_>, head: ResponseHead) {
        let ex = self.ex.as_mut().expect("exchange in progress");
        let request = ex.head.as_ref().expect("head parsed");
        let framing = head.framing();
        let mut out_framing = framing;
        let mut whole_body = None;
        if ex.version == Version::Http10 && framing == BodyFraming::Chunked {
            whole_body = dechunk_whole(self.sin.bytes()).ok().flatten();
            out_framing = match &whole_body {
                Some((payload, _)) => BodyFraming::Length(payload.len() as u64),
                None => BodyFraming::UntilClose,
            };
        }
        let request_done = matches!(self.req, Req::Done);
        let close = !request.keep_alive()
            || out_framing == BodyFraming::UntilClose
            || !request_done
            || env.stopping;
        let conn = if close {
            ConnectionHeader::Close
        } else if ex.version == Version::Http10 {
            ConnectionHeader::KeepAlive
        } else {
            ConnectionHeader::Omit
        };
        ex.server_keeps = head.keep_alive() && framing != BodyFraming::UntilClose;
        ex.close |= close;
        ex.response_started = true;
        ex.final_offset = Some(self.cout.len());
        self.cout
            .append_with(env.pools, |v| head.write(out_framing, conn, v));
        env.pools.give_head(head.into_buf());
        if let Some((payload, consumed)) = whole_body {
            self.cout.extend(env.pools, &payload);
            self.sin.consume(consumed);
            self.resp = Resp::Done;
            return;
        }
        self.resp = Resp::Body {
            decoder: BodyDecoder::new(framing),
            chunked_out: out_framing == BodyFraming::Chunked,
        };
    }

    /// Relays response body bytes toward the client as room allows.
    fn advance_response_body(&mut self, env: &Env<'_>, now: Instant) {
        let Resp::Body {
            decoder,
            chunked_out,
        } = &mut self.resp
        else {
            return;
        };
        let bufs = (&mut self.sin, &mut self.cout);
        let mut from_server = 0;
        let mut failed = match pump(decoder, bufs, *chunked_out, env.pools, &mut from_server) {
            Pumped::Finished => {
                self.resp = Resp::Done;
                return;
            }
            Pumped::Waiting => None,
            Pumped::Failed(e) => Some(Fault::InvalidResponseBody(e)),
        };
        let server_eof = self.server.is_none_or(|s| s.eof);
        if failed.is_none() && server_eof && self.sin.is_empty() {
            match decoder.handle_eof() {
                Ok(()) => {
                    self.resp = Resp::Done;
                    return;
                }
                Err(BodyError::Truncated) => failed = Some(Fault::ServerAbortedBody),
                Err(e) => failed = Some(Fault::InvalidResponseBody(e)),
            }
        }
        if let Some(fault) = failed {
            self.fail(env, now, fault);
        }
    }
}

/// The payload of a chunked body that is complete in `input`, and the bytes it used;
/// `Ok(None)` when more is to come.
fn dechunk_whole(input: &[u8]) -> Result<Option<(Vec<u8>, usize)>, BodyError> {
    let mut decoder = BodyDecoder::new(BodyFraming::Chunked);
    let mut payload = Vec::new();
    let mut at = 0;
    while !decoder.is_finished() {
        let step = decoder.handle_input(&input[at..])?;
        payload.extend_from_slice(&input[at..][step.payload]);
        at += step.consumed;
        if step.consumed == 0 {
            return Ok(None);
        }
    }
    Ok(Some((payload, at)))
}
