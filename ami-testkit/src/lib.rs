#![doc = include_str!("../README.md")]

mod behaviour;
mod calls;
mod commands;
mod conn;
mod event;
mod fault;
mod flood;
mod http;
pub mod loopback;
mod numbered;
mod pki;
mod recording;
mod reply;
mod server;
mod session;
mod tls;
mod transport;

pub use event::Event;
pub use fault::Fault;
pub use flood::{event_packets, Flood, Rate};
pub use numbered::numbered_list;
pub use pki::TestPki;
pub use recording::{write_chunk, Chunk, Direction, FormatError, Recording, Redactor};
pub use reply::Reply;
pub use server::{Builder, ClientInfo, FakeAsterisk, Handler};
pub use tls::client_config_trusting;

/// Re-exported so users name the same `Packet` type the handlers receive.
pub use ami_proto;
/// Re-exported so users build TLS clients with the same rustls version.
pub use rustls;
