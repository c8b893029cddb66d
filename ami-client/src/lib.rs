//! # ami-client
//!
//! The client handle of the AMI client, written once for every runtime and
//! transport: [`Client`] (one generic [`send`](Client::send) over typed
//! requests, lists collected or streamed, events with `Lagged`, status, close),
//! its completions ([`Pending`]: `.await` it or [`wait`](Pending::wait) for
//! it), the event fan-out ([`Events`]) and streamed lists ([`ListStream`]).
//!
//! Runtime adapters (`ami-tokio`, `ami-smol`, `ami-blocking`) re-export these
//! and add only a pump: connect, TLS, read, write, one timer, dial, driven
//! through a [`Link`]. The session itself (login, correlation, reconnect
//! decisions, status) is `ami_proto::Session`, sans-IO.
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

mod client;
mod engine;
mod events;
mod http_link;
mod hub;
mod link;
mod list;
mod mailbox;
mod pending;
mod queue;
mod shared;
#[cfg(feature = "rustls")]
pub mod tls;

pub use client::Client;
pub use events::{Events, TimedOut};
pub use http_link::{new_http, HttpLink};
pub use link::{new, Link, Step};
pub use list::ListStream;
pub use pending::{Pending, Ready};
pub use queue::EventQueue;
pub use shared::Clock;
