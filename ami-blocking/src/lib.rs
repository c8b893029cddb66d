#![doc = include_str!("../README.md")]

mod client;
mod driver;
mod events;
mod list;
mod tls;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

pub use ami_proto::{
    Action, ClientConfig as Config, ClientError as Error, ClientEvent as Event, Credentials, List,
    OriginateOutcome, Packet, Reconnect, Reply,
};
pub use client::{Client, Driver};
pub use events::Events;
pub use list::ListStream;

use driver::{Dialer, Shared};

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

impl Socket for TcpStream {
    fn split(&self) -> std::io::Result<Self> {
        self.try_clone()
    }
    fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
    fn shut(&self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

#[cfg(unix)]
impl Socket for std::os::unix::net::UnixStream {
    fn split(&self) -> std::io::Result<Self> {
        self.try_clone()
    }
    fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        std::os::unix::net::UnixStream::set_read_timeout(self, timeout)
    }
    fn shut(&self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

/// Connects to an AMI server over TCP within `config.connect_timeout`, starts the
/// reader thread, and returns once logged in (`Error::Auth` when refused,
/// `Error::Timeout` when the login deadline passes). With `config.reconnect` the
/// client reconnects to the same resolved addresses after a loss.
pub fn connect(addr: impl ToSocketAddrs, config: Config) -> Result<Client, Error> {
    start(addr, None, config)
}

/// Like [`connect`], over TLS (rustls) with `server_name` checked against the
/// server's certificate. Asterisk serves AMI over TLS on port 5039.
pub fn connect_tls(
    addr: impl ToSocketAddrs,
    server_name: &str,
    tls: Arc<rustls::ClientConfig>,
    config: Config,
) -> Result<Client, Error> {
    start(addr, Some((server_name.to_owned(), tls)), config)
}

fn start(
    addr: impl ToSocketAddrs,
    tls: Option<(String, Arc<rustls::ClientConfig>)>,
    config: Config,
) -> Result<Client, Error> {
    let dialer = Dialer {
        addrs: addr.to_socket_addrs().map_err(Error::Connect)?.collect(),
        tls,
        timeout: config.connect_timeout,
        write_timeout: config.connection.action_timeout.max(Duration::from_secs(1)),
    };
    let (stream, session) = dialer.dial()?;
    let shutter = stream.try_clone().map_err(Error::Io)?;
    let shared = Shared::new(config, true);
    let client = Client::new(Arc::clone(&shared));
    let (login, logged_in) = std::sync::mpsc::sync_channel(1);
    shared.attach(
        Box::new(move || shutter.shut()),
        session,
        Some(login),
        false,
    );
    thread::Builder::new()
        .name("ami-reader".into())
        .spawn(move || shared.run(stream, dialer))
        .map_err(Error::Io)?;
    client.shared().wait(&logged_in)?;
    Ok(client)
}
