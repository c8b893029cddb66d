//! # ami-proto
//!
//! The sans-IO core of an Asterisk Manager Interface (AMI) client: a streaming
//! packet [`Parser`], an [`Action`] serializer that refuses injection before a byte
//! is written, and (in [`Connection`]) login, ActionID correlation, list aggregation,
//! async-Originate outcomes, timeouts and keepalive, with time passed in.
//!
//! No IO, no clock, no runtime: adapters (`ami-tokio`, `ami-blocking`, `ami-smol`)
//! move bytes and time between a socket and this crate.
#![doc = include_str!("../DRIVING.md")]

mod action;
mod escape;
mod packet;
mod parser;

pub use action::{encode_field, Action, EncodeError, MAX_ACTION_LINES, MAX_LINE_BYTES};
pub use escape::unescape;
pub use packet::{CommandOutput, Field, Line, Packet, PacketKind, Value};
pub use parser::{Banner, Limits, Malformed, MalformedReason, Parsed, Parser};
