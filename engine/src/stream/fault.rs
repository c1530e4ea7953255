//! Why a stream or exchange ended abnormally, classified by who is at fault, and the one
//! function ([`Fault::effects`]) that maps a fault to what the client is sent, the
//! termination flags, the counters and the passive-health observation.
//!
//! The class decides the blame: a client fault is never counted against a server's health
//! and never as a server error; a server fault never as a request error.

use std::fmt;

use percore_protocols::http1::{BodyError, EditError, RequestError, ResponseError};

use crate::termination::{Cause, Phase, Termination};

use super::Layer;

/// Who is at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultClass {
    /// The client misbehaved, went away or was too slow.
    Client,
    /// The server misbehaved, went away or was too slow.
    Server,
    /// A configured limit was hit (queue, head size, rewrite room).
    Limit,
    /// A valid request percore does not support (version, method).
    Unsupported,
    /// percore itself failed.
    Internal,
}

/// One abnormal end, naming the rule that was violated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// An invalid request head.
    InvalidRequest(RequestError),
    /// An invalid request body (chunk syntax, truncated).
    InvalidRequestBody(BodyError),
    /// The request head did not arrive within `timeout.http_request`.
    RequestHeadTimeout,
    /// The client stopped sending its body for `timeout.client`.
    RequestBodyTimeout,
    /// The client closed or reset before its request was complete.
    ClientAbortedRequest,
    /// The client closed, reset or refused bytes while the response was sent.
    ClientAbortedResponse,
    /// The client did not take response bytes for `timeout.client` (or, in TCP mode, did
    /// not speak).
    ClientTimeout,
    /// Every connection attempt failed.
    ConnectFailed,
    /// No server of the backend takes traffic.
    NoServer,
    /// Every usable server was full for `timeout.queue`.
    QueueTimeout,
    /// An invalid response head.
    InvalidResponse(ResponseError),
    /// An invalid response body (bad chunk, truncated).
    InvalidResponseBody(BodyError),
    /// No response head within `timeout.server`.
    ResponseTimeout,
    /// The server went silent mid-body (or, in TCP mode, did not answer) for
    /// `timeout.server`.
    ServerTimeout,
    /// The server closed or reset before the response head was complete.
    ServerAbortedHead,
    /// The server closed or reset during the body.
    ServerAbortedBody,
    /// Writing the request to the server failed.
    ServerWriteFailed,
    /// A header rule could not be applied (no room for the rewrite).
    RewriteFailed(EditError),
    /// The request head is larger than `tune.max_header_size` / the buffer.
    RequestHeadTooLarge,
    /// The response head is larger than the buffer.
    ResponseHeadTooLarge,
}

/// Which counters a fault bumps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounters {
    /// `ereq`: request errors.
    pub request_error: bool,
    /// `eresp`: response errors (server aborts included, as HAProxy's).
    pub response_error: bool,
    /// `cli_abrt`: data transfers aborted by the client.
    pub client_abort: bool,
    /// `srv_abrt`: data transfers aborted by the server.
    pub server_abort: bool,
}

/// What a fault means for the client, the counters and the server's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Effects {
    /// The status to answer with when no response byte went out yet; `None`: just close.
    pub status: Option<u16>,
    /// Termination flags.
    pub termination: Termination,
    /// Counters to bump.
    pub counters: FaultCounters,
    /// A passive-health failure to report for the server involved.
    pub health: Option<Layer>,
}

impl Fault {
    /// Who is at fault.
    pub fn class(&self) -> FaultClass {
        use Fault::*;
        match self {
            InvalidRequest(e) if matches!(e.status(), 501 | 505) => FaultClass::Unsupported,
            InvalidRequest(RequestError::HeadTooLarge { .. }) | RequestHeadTooLarge => {
                FaultClass::Limit
            }
            InvalidRequest(_)
            | InvalidRequestBody(_)
            | RequestHeadTimeout
            | RequestBodyTimeout
            | ClientAbortedRequest
            | ClientAbortedResponse
            | ClientTimeout => FaultClass::Client,
            QueueTimeout | RewriteFailed(_) => FaultClass::Limit,
            ConnectFailed
            | NoServer
            | InvalidResponse(_)
            | InvalidResponseBody(_)
            | ResponseTimeout
            | ServerTimeout
            | ServerAbortedHead
            | ServerAbortedBody
            | ServerWriteFailed
            | ResponseHeadTooLarge => FaultClass::Server,
        }
    }

    /// The one mapping from a fault to status, flags, counters and health.
    pub fn effects(&self) -> Effects {
        use Fault::*;
        let (status, cause, phase) = match self {
            InvalidRequest(e) => (Some(e.status()), Cause::ProxyRefused, Phase::Request),
            InvalidRequestBody(_) => (Some(400), Cause::ProxyRefused, Phase::Request),
            RequestHeadTimeout => (Some(408), Cause::ClientTimeout, Phase::Request),
            RequestBodyTimeout => (Some(408), Cause::ClientTimeout, Phase::Request),
            ClientAbortedRequest => (None, Cause::ClientError, Phase::Request),
            ClientAbortedResponse => (None, Cause::ClientError, Phase::Data),
            ClientTimeout => (None, Cause::ClientTimeout, Phase::Data),
            ConnectFailed | NoServer => (Some(503), Cause::ServerError, Phase::Connect),
            QueueTimeout => (Some(503), Cause::ServerTimeout, Phase::Queue),
            InvalidResponse(_) | ResponseHeadTooLarge => {
                (Some(502), Cause::ProxyRefused, Phase::Headers)
            }
            InvalidResponseBody(_) => (Some(502), Cause::ProxyRefused, Phase::Data),
            ResponseTimeout => (Some(504), Cause::ServerTimeout, Phase::Headers),
            ServerTimeout => (Some(504), Cause::ServerTimeout, Phase::Data),
            ServerAbortedHead | ServerWriteFailed => {
                (Some(502), Cause::ServerError, Phase::Headers)
            }
            ServerAbortedBody => (Some(502), Cause::ServerError, Phase::Data),
            RewriteFailed(e) => (Some(e.status()), Cause::Resource, Phase::Request),
            RequestHeadTooLarge => (Some(431), Cause::ProxyRefused, Phase::Request),
        };
        let request_side = matches!(
            self,
            InvalidRequest(_)
                | InvalidRequestBody(_)
                | RequestHeadTimeout
                | RequestBodyTimeout
                | RequestHeadTooLarge
        );
        let counters = FaultCounters {
            request_error: request_side,
            // A server fault once connected (HAProxy's `eresp`); failing to connect is `econ`.
            response_error: self.class() == FaultClass::Server
                && !matches!(self, ConnectFailed | NoServer),
            client_abort: matches!(self, ClientAbortedResponse | ClientTimeout),
            server_abort: matches!(self, ServerAbortedBody | ServerTimeout),
        };
        // Connect failures are observed by the attempt that failed, not here.
        let health = match self {
            InvalidResponse(_) | InvalidResponseBody(_) | ResponseHeadTooLarge => Some(Layer::L7),
            ResponseTimeout | ServerTimeout | ServerAbortedHead | ServerAbortedBody
            | ServerWriteFailed => Some(Layer::L4),
            _ => None,
        };
        Effects {
            status,
            termination: Termination::new(cause, phase),
            counters,
            health,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Fault::*;
        match self {
            InvalidRequest(e) => write!(f, "invalid request: {e}"),
            InvalidRequestBody(e) => write!(f, "invalid request body: {e}"),
            RequestHeadTimeout => f.write_str("request head timeout"),
            RequestBodyTimeout => f.write_str("request body timeout"),
            ClientAbortedRequest => f.write_str("client aborted the request"),
            ClientAbortedResponse => f.write_str("client aborted during the response"),
            ClientTimeout => f.write_str("client timeout"),
            ConnectFailed => f.write_str("every connection attempt failed"),
            NoServer => f.write_str("no server available"),
            QueueTimeout => f.write_str("queue timeout"),
            InvalidResponse(e) => write!(f, "invalid response: {e}"),
            InvalidResponseBody(e) => write!(f, "invalid response body: {e}"),
            ResponseTimeout => f.write_str("response head timeout"),
            ServerTimeout => f.write_str("server timeout"),
            ServerAbortedHead => f.write_str("server closed before the response head"),
            ServerAbortedBody => f.write_str("server closed during the response body"),
            ServerWriteFailed => f.write_str("writing the request to the server failed"),
            RewriteFailed(e) => write!(f, "header rewrite failed: {e}"),
            RequestHeadTooLarge => f.write_str("request head too large"),
            ResponseHeadTooLarge => f.write_str("response head too large"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_faults_never_touch_server_health_or_errors() {
        for f in [
            Fault::ClientAbortedResponse,
            Fault::ClientTimeout,
            Fault::ClientAbortedRequest,
            Fault::RequestHeadTimeout,
            Fault::RequestBodyTimeout,
        ] {
            let e = f.effects();
            assert_eq!(f.class(), FaultClass::Client, "{f}");
            assert_eq!(e.health, None, "{f}");
            assert!(
                !e.counters.response_error && !e.counters.server_abort,
                "{f}"
            );
        }
    }

    #[test]
    fn flags_and_statuses() {
        let e = Fault::InvalidResponseBody(BodyError::Truncated).effects();
        assert_eq!(
            (e.status, e.termination.to_string()),
            (Some(502), "PD".into())
        );
        let e = Fault::ResponseTimeout.effects();
        assert_eq!(
            (e.status, e.termination.to_string()),
            (Some(504), "sH".into())
        );
        assert_eq!(e.health, Some(Layer::L4));
        let e = Fault::QueueTimeout.effects();
        assert_eq!(
            (e.status, e.termination.to_string()),
            (Some(503), "sQ".into())
        );
        assert_eq!(Fault::QueueTimeout.class(), FaultClass::Limit);
        let e = Fault::ServerAbortedBody.effects();
        assert!(e.counters.server_abort && e.counters.response_error);
        let e = Fault::ClientAbortedResponse.effects();
        assert!(e.counters.client_abort);
        assert_eq!(e.termination.to_string(), "CD");
    }
}
