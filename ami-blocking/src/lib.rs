#![doc = include_str!("../README.md")]

mod client;
mod driver;
mod events;
mod list;
mod wire;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

pub use ami_proto::{
    Action, ClientConfig as Config, ClientError as Error, ClientEvent as Event, Credentials, List,
    OriginateOutcome, Packet, Reconnect, Reply,
};
pub use client::{Client, Driver};
pub use events::Events;
pub use list::ListStream;

/// A stream whose two halves can be used from two threads: a reader thread and a
/// writer thread. Implemented for [`TcpStream`] and, on unix, `UnixStream`.
pub trait Socket: Read + Write + Send + Sized + 'static {
    /// Another handle to the same stream (like [`TcpStream::try_clone`]).
    fn split(&self) -> std::io::Result<Self>;
    /// How long one read may block; `None` blocks until data or EOF.
    fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()>;
    /// Shuts both directions down, unblocking every handle's reads and writes.
    fn shut(&self);
}

macro_rules! socket {
    ($stream:ty) => {
        impl Socket for $stream {
            fn split(&self) -> std::io::Result<Self> {
                self.try_clone()
            }
            fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
                <$stream>::set_read_timeout(self, timeout)
            }
            fn shut(&self) {
                let _ = self.shutdown(Shutdown::Both);
            }
        }
    };
}

socket!(TcpStream);
#[cfg(unix)]
socket!(std::os::unix::net::UnixStream);

/// Connects to an AMI server over TCP within `config.connect_timeout`, starts the
/// reader thread, and returns once logged in (`Error::Auth` when refused,
/// `Error::Timeout` when the login deadline passes). With `config.reconnect` the
/// client reconnects to the same resolved addresses after a loss.
pub fn connect(addr: impl ToSocketAddrs, config: Config) -> Result<Client, Error> {
    driver::start(addr, None, config)
}

/// Like [`connect`], over TLS (rustls) with `server_name` checked against the
/// server's certificate. Asterisk serves AMI over TLS on port 5039.
pub fn connect_tls(
    addr: impl ToSocketAddrs,
    server_name: &str,
    tls: Arc<rustls::ClientConfig>,
    config: Config,
) -> Result<Client, Error> {
    driver::start(addr, Some((server_name.to_owned(), tls)), config)
}
