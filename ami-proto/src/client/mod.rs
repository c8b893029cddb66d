//! The vocabulary every client shares, whatever its runtime or transport: the
//! error, the items of the event stream, the reconnect policy.

mod config;
mod error;
mod events;

pub use config::Reconnect;
pub use error::Error;
pub use events::Event;
