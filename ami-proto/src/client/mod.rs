//! What every runtime adapter shares, so that switching runtime changes an import
//! and nothing else: the adapter configuration, the error type, the items of the
//! event stream and its fan-out ([`EventHub`]), reconnect backoff, the routing of
//! the core's outputs ([`Dispatch`]), and the typed views of a [`Reply`]. No IO,
//! no runtime: locks and `Waker`s from std only.

mod config;
mod dispatch;
mod error;
mod events;
mod replies;
mod shared;

pub use config::*;
pub use dispatch::*;
pub use error::*;
pub use events::*;
pub use replies::*;
pub use shared::*;
