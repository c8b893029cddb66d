//! # ami-client
//!
//! The client handle of the AMI client, written once for every runtime and
//! transport: [`Client`] (one generic [`send`](Client::send) over typed
//! requests, lists collected or streamed, events with `Lagged`, status, close),
//! its completions ([`Pending`]: `.await` it or [`wait`](Pending::wait) for
//! it), the event fan-out ([`Events`]) and streamed lists ([`ListStream`]).
//!
//! The pumps are written here once too, like quinn's runtime-generic driver:
//! the async one ([`Driver`], over `futures-io` streams, polling read, write,
//! one timer and the wake-up together) takes its timer from a [`Runtime`];
//! the one on std threads is [`threads::Driver`]; over HTTP, [`HttpLink::run`]
//! and [`HttpLink::run_blocking`] start the exchanges an adapter's HTTP client
//! makes. Runtime adapters (`ami-tokio`, `ami-smol`, `ami-blocking`)
//! re-export the client and add only their runtime's pieces: the timer and
//! clock, dialling and TLS, the HTTP client, and their idioms. The session
//! itself (login, correlation, reconnect decisions, status) is
//! `ami_proto::Session`, sans-IO.
//!
//! TLS, written once too (feature `rustls`, which the adapters enable): the
//! `tls` module's `TlsConfig` builds a rustls config from the system's roots,
//! a PEM CA file and a client certificate, with a crypto provider chosen
//! explicitly (never rustls' implicit process default), and says in words why
//! a handshake failed.
//!
//! Why a crate of its own: `ami-proto` stays pure state machines with no
//! locks, wakers or threads; this crate holds what a runtime needs to share
//! that state between handles (std locks and `Waker`s only, no runtime), so
//! every adapter gets the same handle, the same backpressure and the same
//! fail-fast rules.
//!
//! Backpressure: the session holds every accepted action (queued inside the
//! core while `Config::max_in_flight` are written and unanswered); each has a
//! deadline, so what is pending is bounded by the action rate times the
//! timeout. There is no separate command queue between handles and pump: a
//! handle locks the session, encodes, and wakes the pump.
//!
//! Events: the events of a read reach a subscriber as one batch, not one by
//! one: the session hands over its buffer of them (`Session::poll_events`),
//! the hub queues it whole in each subscriber's [`EventQueue`] (one lock and
//! one wake-up per subscriber), and [`Events`] takes the queued batches whole
//! and hands them out outside the lock; emptied buffers go back, so nothing
//! allocates per batch. A subscriber that falls `Config::event_capacity`
//! behind loses the oldest events, counted in an
//! [`Event::Lagged`](ami_proto::Event::Lagged). Before that happens to one
//! that keeps up on average: a pump feeds a large read in slices of at most
//! half a queue, and when a slice leaves a subscriber more than half full,
//! the pump stops reading (writes go on) until that subscriber has taken its
//! events, at most `Config::subscriber_wait` (5 ms by default). The wait is
//! what lets a subscriber on another thread, not scheduled in time on a busy
//! machine, keep every event of a flood; one on the pump's own thread runs
//! during it. A subscriber that does not come for its events during a whole
//! wait is not waited for again until it does: a stuck or forgotten stream
//! costs one wait, then lags as usual.
//!
//! # Features
//!
//! - `tracing` (on by default): the client tells [`tracing`](https://docs.rs/tracing)
//!   what happens to it, written once here for every runtime (the pumps only
//!   report what only they know through [`Link`]: the address, dial and
//!   transport failures). Nothing is written unless the application installs a
//!   subscriber; the parser's hot path (`ami-proto`) has no tracing at all.
//!   Target `ami_client`; spans `client{id, address}` (INFO, one per client,
//!   numbered in the process) and `action{name, action_id}` (DEBUG, one per
//!   action, its child). Events:
//!
//!   | event | level | fields |
//!   |---|---|---|
//!   | `connecting` | INFO | `attempt` |
//!   | `connected` / `connect failed` | INFO / WARN | `reason` |
//!   | `login ok` / `login failed` | INFO / WARN | `user`, `method`, `reason` (never the secret) |
//!   | `ready`, `reconnected` | INFO | |
//!   | `reconnecting` | WARN | `attempt` |
//!   | `connection lost`, `keepalive failed` | WARN | `reason` |
//!   | `closed` | INFO (by the client, logoff) / WARN | `reason` |
//!   | `transport error` | WARN | `error` |
//!   | `malformed packet dropped` | WARN | `reason`, `size`, `head` |
//!   | `unmatched response` | INFO | `action_id`, `response` |
//!   | `event subscriber fell behind` | WARN | `missed` |
//!   | `waited in vain for an event subscriber` (the pump reads on; see `Config::subscriber_wait`) | DEBUG | `wait_us` |
//!   | `sent`, `completed`, `failed`, `refused` (in the action span) | DEBUG (`failed` on timeout: WARN) | `response`, `error` |
//!
//!   Turn it off with `default-features = false` (on this crate or an adapter).
//!
//! ```
//! # #[cfg(feature = "tracing")] {
//! use ami_proto::{Action, Config};
//! use tracing_subscriber::filter::LevelFilter;
//!
//! // Any subscriber; DEBUG shows the action spans.
//! tracing_subscriber::fmt().with_max_level(LevelFilter::DEBUG).init();
//!
//! let (client, link) = ami_client::new(Config::default(), std::time::Instant::now);
//! link.set_address("127.0.0.1:5038"); // what an adapter's connect does
//! link.step(&mut Vec::new()); // INFO client{id=1 address=127.0.0.1:5038}: ami_client: connecting attempt=0
//! link.connected(); //           INFO ... connected
//! link.received(b"Asterisk Call Manager/11.0.0\r\n"); // INFO ... ready
//! let _pong = client.send(Action::new("Ping")); // DEBUG ...:action{name="Ping" action_id="...-1"}: ami_client: sent
//! # }
//! ```
//!
//! - `serde` (off by default): turns on `ami-proto`'s `serde` feature
//!   (`Serialize` for `Packet`, `Reply`, `List`, `OriginateOutcome`, `Event`,
//!   `Reason`, `Error`; `Deserialize` for `Packet`, `Reply`, `List`,
//!   `OriginateOutcome`); see the `ami-proto` docs for the JSON shapes.

mod client;
mod engine;
mod events;
mod http_link;
mod hub;
mod link;
mod list;
mod mailbox;
mod pending;
pub mod pump;
mod queue;
mod read_buf;
mod shared;
pub mod threads;
#[cfg(feature = "rustls")]
pub mod tls;
mod trace;

pub use client::Client;
pub use events::{Events, TimedOut};
pub use http_link::{new_http, Answer, Call, HttpLink};
pub use link::{new, Link, Step};
pub use list::ListStream;
pub use pending::{Pending, Ready};
pub use pump::{Driver, Runtime};
pub use queue::EventQueue;
pub use shared::Clock;

/// Everything a runtime adapter's public API shows, re-exported by each
/// adapter (`pub use ami_client::api::*`) so that a user never adds
/// `ami-proto` or `ami-client` to name a type: the client and its
/// completions, the vocabulary of the core, and (with `rustls`) the TLS
/// helpers.
pub mod api {
    #[cfg(feature = "rustls")]
    pub use crate::tls::{IntoClientConfig, TlsConfig};
    pub use crate::{Client, EventQueue, Events, ListStream, Pending, Ready, TimedOut};
    pub use ami_proto::{
        request, Action, ActionId, AuthMethod, CommandOutput, Config, Credentials, EncodeError,
        Error, Event, Field, Keepalive, Limits, Line, List, ListMismatch, Malformed,
        MalformedReason, OriginateOutcome, Packet, Reason, Reconnect, Reply, Request, Status,
        Value,
    };
}
