//! Messages on the rings between the control plane and the shards.
//!
//! One bounded `thingbuf` ring per direction per shard, one producer and one consumer each.
//! `thingbuf` recycles slots, so every message type has a cheap `#[default]` empty value.
//! Every command carries a [`CommandId`]; the shard answers it with exactly one
//! [`ShardEvent::Reply`] carrying the same id (the control plane's barrier counts them).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::counters::Counters;
use crate::ids::{CommandId, ServerKey, ShardId, SlotPool, StreamId};

/// Administrative state of a server, set by the operator (HAProxy's `set server … state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AdminState {
    /// Takes new streams.
    #[default]
    Ready,
    /// No new streams; existing ones continue.
    Drain,
    /// Maintenance: no new streams; existing ones continue until killed explicitly.
    Maint,
}

/// A shard's read-only copy of one server's state; the control plane is the only writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerView {
    /// Operator state.
    pub admin: AdminState,
    /// Current weight (0 = no new streams).
    pub weight: u32,
    /// Connection limit (0 = unlimited).
    pub maxconn: u32,
    /// Operational state from health checks: false = DOWN, no new streams.
    pub up: bool,
    /// Generation of the split of `maxconn` between shards; a new one (after a `maxconn`
    /// change) restarts every shard from its plain share.
    pub split_epoch: u32,
    /// Where new connections go (`set server … addr` changes it; connections already open
    /// keep their peer).
    pub address: SocketAddr,
}

/// Control plane → shard.
#[derive(Debug, Clone, Default)]
pub struct ShardCommand {
    /// Correlates the reply.
    pub id: CommandId,
    /// When the control plane queued it (for the control-task latency in `show shards`).
    pub sent_at: Option<Instant>,
    /// What to do.
    pub op: Op,
}

/// The operation a command asks for.
#[derive(Debug, Clone, Default)]
pub enum Op {
    /// Empty slot; ignored (no reply).
    #[default]
    Nop,
    /// Stop accepting, let streams finish for `grace`, kill the rest, reply
    /// [`Reply::Stopped`], end the shard.
    Stop {
        /// How long live streams may run before they are killed.
        grace: Duration,
    },
    /// Kill one stream; reply [`Reply::Killed`] (0 or 1) once its sockets are closed.
    KillStream(StreamId),
    /// Kill every stream attached to a server; reply [`Reply::Killed`] once all their
    /// sockets are closed.
    KillServer(ServerKey),
    /// Replace a server's view; reply [`Reply::Done`].
    SetServer {
        /// Which server.
        server: ServerKey,
        /// Its new state.
        view: ServerView,
    },
    /// Change this shard's share of a frontend's `maxconn`; reply [`Reply::Done`].
    SetFrontendMaxconn {
        /// Frontend index.
        frontend: usize,
        /// The shard's new share.
        maxconn: u32,
        /// The new split's generation.
        epoch: u32,
    },
    /// Reply [`Reply::Stats`].
    CollectStats,
    /// Reply [`Reply::Streams`] (at most `limit` entries).
    ListStreams {
        /// Bound on the number of entries returned.
        limit: usize,
    },
    /// Reply [`Reply::Streams`] with this one stream, or empty if it is not live here.
    /// Sent only to the stream's own shard (`StreamId::shard`).
    FindStream(StreamId),
    /// The shard now owns `n` more slots of a `maxconn`; reply [`Reply::Done`].
    GrantSlots {
        /// Which limit.
        pool: SlotPool,
        /// Split generation the grant belongs to.
        epoch: u32,
        /// Slots granted.
        n: u32,
    },
    /// Give one slot of a limit back (now if free, else at the next release), announced
    /// by [`ShardEvent::SlotsReturned`]; reply [`Reply::Done`].
    ReclaimSlot {
        /// Which limit.
        pool: SlotPool,
        /// Split generation the request belongs to.
        epoch: u32,
    },
    /// `clear counters [all]`: zero the maxima (or, with `all`, every counter but the
    /// accepted-connection total); reply [`Reply::Done`].
    ClearCounters {
        /// Every counter, not only the maxima.
        all: bool,
    },
    /// `disable|enable frontend`: stop or resume accepting on the frontend's listeners
    /// (they stay bound; connections wait in the backlog); reply [`Reply::Done`] once no
    /// accept of that frontend is pending any more (or again).
    SetFrontendAccepting {
        /// Frontend index.
        frontend: usize,
        /// Accept (true) or pause.
        accepting: bool,
    },
    /// `set maxconn global`: this shard's new share of the process-wide limit; reply
    /// [`Reply::Done`].
    SetGlobalMaxconn {
        /// The shard's new share.
        maxconn: u32,
        /// The new split's generation.
        epoch: u32,
    },
    /// `show errors`: reply [`Reply::Errors`] with the shard's captures.
    ShowErrors,
    /// A new configuration generation (reload, `add|del server`): new streams use it,
    /// streams in flight keep theirs; reply [`Reply::Applied`] once applied.
    ApplyConfig(Box<ApplyConfig>),
    /// A reload added bind `configured` of `frontend`: accept on `fd`, a listening socket
    /// of its SO_REUSEPORT group that the control plane bound for this shard (bound to
    /// `addr`), whose ownership the message carries; reply [`Reply::Done`].
    AddListener {
        /// Frontend index.
        frontend: usize,
        /// The address as configured.
        configured: SocketAddr,
        /// The address bound.
        addr: SocketAddr,
        /// The socket (owned by the shard from now on).
        fd: i32,
        /// Start accepting (false while the frontend is paused).
        accepting: bool,
    },
    /// A reload dropped bind `configured` of `frontend`: stop accepting on it, serve what
    /// its accept queue holds, close it; reply [`Reply::Done`] once it accepts no more.
    RemoveListener {
        /// Frontend index.
        frontend: usize,
        /// The address as configured.
        configured: SocketAddr,
    },
    /// `upgrade`: reply [`Reply::Listeners`], a duplicate of every listening socket of the
    /// shard, paused ones included, for the new process.
    /// Serve this certificate wherever its file is served (`commit ssl cert`).
    SetCert(Box<percore_conf::tls::CertKey>),
    /// New TLS session ticket keys (rotation).
    TicketKeys(Box<crate::tls::ticket::TicketKeys>),
    DupListeners,
}

/// A configuration generation as every shard applies it.
#[derive(Debug, Clone)]
pub struct ApplyConfig {
    /// Its number (the control plane counts reloads and server additions/removals).
    pub generation: u64,
    /// The layout: the previous one's server slots in the same places (removed servers
    /// keep theirs, in maintenance), new servers appended; frontends and backends as before.
    pub config: percore_conf::Config,
    /// The view of every server slot, `views[backend][server]`.
    pub views: Vec<Vec<ServerView>>,
    /// Slots that hold a new server (appended, or a removed server's slot used again):
    /// their counters start from zero.
    pub fresh: Vec<ServerKey>,
}

/// Shard → control plane.
#[derive(Debug, Clone, Default)]
pub enum ShardEvent {
    /// Empty slot; ignored.
    #[default]
    Nop,
    /// The shard has bound its listeners and accepts.
    Ready {
        /// Which shard.
        shard: ShardId,
        /// Number of listeners it accepts on.
        listeners: usize,
    },
    /// The shard could not start or hit an unrecoverable error.
    Fatal {
        /// Which shard.
        shard: ShardId,
        /// Human-readable cause, with the fix when known.
        message: String,
    },
    /// Passive health: a server reached `error_limit` consecutive traffic errors on this
    /// shard (the shard's count restarts from zero).
    ServerErrors {
        /// Which shard.
        shard: ShardId,
        /// Which server.
        server: ServerKey,
    },
    /// A stream (or an accepted connection) waits for a slot of `pool` and the shard has
    /// none free (`wanted`), or no longer needs one.
    SlotWanted {
        /// Which shard.
        shard: ShardId,
        /// Which limit.
        pool: SlotPool,
        /// Split generation.
        epoch: u32,
        /// Wants one more slot.
        wanted: bool,
    },
    /// The shard gave `n` slots of `pool` back (its limit already shrank by `n`).
    SlotsReturned {
        /// Which shard.
        shard: ShardId,
        /// Which limit.
        pool: SlotPool,
        /// Split generation.
        epoch: u32,
        /// Slots returned.
        n: u32,
    },
    /// The answer to one command.
    Reply {
        /// Which shard answers.
        shard: ShardId,
        /// The command answered.
        id: CommandId,
        /// The answer.
        reply: Reply,
    },
}

/// A shard's answer to one command.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Applied.
    Done,
    /// A configuration generation applied; carries the previous one's layout when no
    /// stream held it any more, so that the control plane, which allocated it, frees it
    /// (a shard freeing another thread's allocations costs it more than a `show stat`).
    Applied(Option<Box<percore_conf::Config>>),
    /// Streams killed; their sockets are already closed.
    Killed(usize),
    /// The shard stopped.
    Stopped {
        /// Streams killed at the end of the grace period.
        killed: usize,
        /// Connections accepted over the shard's life.
        accepted: u64,
    },
    /// Counters and gauges.
    Stats(Box<ShardStats>),
    /// Live streams.
    Streams(Vec<StreamInfo>),
    /// `show errors`: heads refused since start, and the last capture per proxy.
    Errors(u64, Vec<ErrorEntry>),
    /// Duplicates of the shard's listening sockets, owned by the receiver.
    Listeners(Vec<ListenerDup>),
}

/// One listening socket of a shard, duplicated for a binary upgrade.
#[derive(Debug, Clone, Copy)]
pub struct ListenerDup {
    /// Frontend index.
    pub frontend: usize,
    /// The address as configured (what the new process matches its binds by).
    pub configured: SocketAddr,
    /// The address bound.
    pub addr: SocketAddr,
    /// A new descriptor of the socket, owned by whoever receives the reply.
    pub fd: i32,
}

/// One captured refused head, for `show errors`.
#[derive(Debug, Clone)]
pub struct ErrorEntry {
    /// When, Unix µs.
    pub unix_us: u64,
    /// Frontend of the stream.
    pub frontend: usize,
    /// Client address.
    pub src: SocketAddr,
    /// Event number on its shard (`event #N`).
    pub event: u64,
    /// The head and the error offset.
    pub capture: crate::stream::capture::ErrorCapture,
}

/// One shard's counters and gauges at the moment of the request.
#[derive(Debug, Clone, Default)]
pub struct ShardStats {
    /// CPU the shard is pinned to.
    pub cpu: usize,
    /// Cumulative counters.
    pub counters: Counters,
    /// Live streams per frontend.
    pub frontend_streams: Vec<u64>,
    /// Live streams per backend.
    pub backend_streams: Vec<u64>,
    /// Live streams per backend, per server.
    pub server_streams: Vec<Vec<u64>>,
    /// All live streams on the shard.
    pub streams: u64,
    /// Streams waiting for a server slot, per backend: (now, most ever).
    pub queued: Vec<(u64, u64)>,
    /// Events waiting in the shard's event ring.
    pub evt_ring_depth: usize,
    /// Access-log lines dropped because the shard's log ring was full.
    pub logs_dropped: u64,
    /// Control-task queueing latency (µs) over recent commands: median.
    pub ctl_latency_us_p50: u64,
    /// Control-task queueing latency (µs) over recent commands: maximum.
    pub ctl_latency_us_max: u64,
    /// Commands handled by the control task.
    pub commands: u64,
    /// Idle pooled server connections, per backend, per server.
    pub idle_conns: Vec<Vec<u64>>,
    /// Configuration generation new streams start with.
    pub generation: u64,
    /// Generations alive on the shard (the current one and those streams still hold).
    pub generations_alive: usize,
}

/// One live stream, for `show sess`.
#[derive(Debug, Clone)]
pub struct StreamInfo {
    /// Stream id.
    pub id: StreamId,
    /// Frontend index.
    pub frontend: usize,
    /// Backend index.
    pub backend: usize,
    /// Server, if attached.
    pub server: Option<ServerKey>,
    /// Client address.
    pub client: SocketAddr,
    /// Time since accept.
    pub age: Duration,
    /// Bytes from the client.
    pub bytes_in: u64,
    /// Bytes to the client.
    pub bytes_out: u64,
    /// `true` while connecting to a server.
    pub connecting: bool,
}
