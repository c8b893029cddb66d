//! # ami-proto
//!
//! The sans-IO core of an Asterisk Manager Interface (AMI) client: a streaming
//! packet [`Parser`], an [`Action`] serializer that refuses injection before a byte
//! is written, and (in [`Connection`]) login, ActionID correlation, list aggregation,
//! async-Originate outcomes, timeouts and keepalive, with time passed in.
//!
//! No IO, no clock, no runtime: adapters (`ami-tokio`, `ami-blocking`, `ami-smol`)
//! move bytes and time between a socket and this crate.
//!
//! # Driving a [`Connection`]
//!
//! Inputs are `feed`/`handle_*` (bytes, time, EOF, transport errors); commands are
//! verbs (`send_action`, `logoff`, `close`); outputs are `poll_*`. After every input
//! or command, drain: `poll_transmit` (write the bytes), `poll_output` until `None`,
//! then arm one timer at `poll_timeout`. The canonical loop over a blocking socket:
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//! use std::time::Instant;
//! use ami_proto::{Action, Config, Connection, Credentials, Output};
//!
//! let mut socket = TcpStream::connect("127.0.0.1:5038")?;
//! let config = Config { credentials: Some(Credentials::md5("admin", "amp111")), ..Config::default() };
//! let mut conn = Connection::new(config, Instant::now());
//! conn.send_action(Action::new("CoreShowChannels"), Instant::now())?;
//! let (mut wire, mut buf) = (Vec::new(), [0u8; 16 * 1024]);
//! loop {
//!     conn.poll_transmit(&mut wire);
//!     socket.write_all(&wire)?;
//!     wire.clear();
//!     while let Some(output) = conn.poll_output() {
//!         match output {
//!             Output::Reply { id, result } => println!("{id}: {result:?}"),
//!             Output::Event(event) => println!("event {:?}", event.event_name()),
//!             Output::Closed(reason) => return Err(reason.into()),
//!             _ => {}
//!         }
//!     }
//!     let wake_at = conn.poll_timeout();
//!     let wait = wake_at.map(|at| at.saturating_duration_since(Instant::now()));
//!     socket.set_read_timeout(wait.map(|w| w.max(std::time::Duration::from_millis(1))))?;
//!     match socket.read(&mut buf) {
//!         Ok(0) => conn.handle_eof(),
//!         Ok(n) => conn.feed(&buf[..n], Instant::now()),
//!         Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
//!             || e.kind() == std::io::ErrorKind::TimedOut => conn.handle_timeout(Instant::now()),
//!         Err(e) => conn.handle_io_error(e),
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! See [`Connection`] for the full contract, [`Session`] for the supervisor that
//! spans connections (status, reconnects), and [`http::HttpSession`] for the same
//! client over Asterisk's HTTP transport (`/rawman`), driven by the same contract
//! with HTTP requests in place of bytes.
//!
//! # Features
//!
//! - `serde` (off by default; pulls in `serde` and nothing else): `Serialize`
//!   for [`Packet`], [`Reply`], [`List`], [`OriginateOutcome`], [`Event`],
//!   [`Reason`] and [`Error`]; `Deserialize` for [`Packet`], [`Reply`], [`List`]
//!   and [`OriginateOutcome`].
//!
//!   A packet is an object in header order whose repeated keys become arrays
//!   (the JSON `ami --json` prints): values are decoded as UTF-8 with invalid
//!   bytes replaced, lines without `": "` are left out, and a legacy
//!   `Response: Follows` body becomes `Output` values. It deserializes by
//!   rebuilding the packet's text and parsing it. The enums [`Reply`] and
//!   [`Event`] are adjacently tagged, `{"type": "Event", "data": {...}}`
//!   (`{"type": "Reconnected"}` for a variant without data), so a consumer
//!   dispatches on one field whatever the variant; [`Reason`] and [`Error`] are
//!   objects `{"type": variant, "message": text}` with the variant's details
//!   (`reason`, `response`, `output`, `kind`, `limit`) where it has some.
//!
//! ```
//! # #[cfg(feature = "serde")] {
//! use ami_proto::{Packet, Parsed, Parser};
//!
//! let mut parser = Parser::without_banner();
//! parser.feed(b"Response: Success\r\nOutput: a\r\nOutput: b\r\n\r\n");
//! let Some(Parsed::Packet(packet)) = parser.next() else { panic!() };
//! let json = serde_json::to_string(&packet).unwrap();
//! assert_eq!(json, r#"{"Response":"Success","Output":["a","b"]}"#);
//! let back: Packet = serde_json::from_str(&json).unwrap();
//! assert_eq!(back.command_text(), "a\nb");
//! # }
//! ```

mod action;
mod auth;
mod client;
mod connection;
mod escape;
pub mod http;
mod originate;
mod packet;
mod parser;
pub mod request;
mod scan;
#[cfg(feature = "serde")]
mod serde_impl;
mod session;
mod updates;

pub use action::{encode_field, Action, EncodeError, MAX_ACTION_LINES, MAX_LINE_BYTES};
pub use auth::md5_key;
pub use client::{Error, Event, Reconnect};
pub use connection::{
    ActionId, AuthMethod, Config, Connection, Credentials, Keepalive, List, ListMismatch,
    OriginateOutcome, Output, Reason, Reply, State, ORIGINATE_RESPONSE_FILTER,
};
pub use escape::unescape;
pub use originate::OriginateReason;
pub use packet::{CommandOutput, Field, Line, Packet, PacketKind, Value};
pub use parser::{Banner, Limits, Malformed, MalformedReason, Parsed, Parser};
pub use request::Request;
pub use session::{Session, Status, Transport, Update};
