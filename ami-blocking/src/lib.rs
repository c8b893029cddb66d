#![doc = include_str!("../README.md")]
//!
//! # Design
//!
//! A pump around [`ami_client::Link`] on std threads: a driver thread dials,
//! reads with a read timeout armed at the session's deadline and waits out
//! backoffs; a writer thread per transport writes what the session
//! transmits. TLS runs through rustls as a codec shared by both threads. The
//! [`Client`], its completions ([`Pending::wait`]) and event streams are
//! `ami-client`'s, the same for every runtime; a waiting caller never blocks
//! past its action's deadline, even if the pump is stuck.

mod http;
mod pump;
mod wire;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use ami_client::api::*;
/// TLS helpers shared by every adapter: [`TlsConfig`], the provider choice,
/// handshake errors in words.
pub use ami_client::tls;
/// Typed actions and zero-copy typed events for all of AMI (the `types`
/// feature, on by default): `types::actions::Originate`, `types::AnyEvent` ...
#[cfg(feature = "types")]
pub use ami_types as types;
pub use http::connect_http;
pub use pump::Driver;
/// Re-exported so a hand-made TLS config uses the same rustls version.
pub use rustls;

use rustls::pki_types::ServerName;
use wire::Dialer;

/// A byte stream the pump can own: a reading handle plus a second handle for
/// the writer thread, a read timeout, and a shutdown that unblocks both.
/// Implemented for `TcpStream` and, on Unix, `UnixStream`.
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

/// Connects to `addr` within `config.connect_timeout`, starts the driver
/// thread and returns once logged in.
///
/// Fails with [`Error::Connect`] (naming the address), [`Error::Auth`],
/// [`Error::Timeout`] (login deadline) or [`Error::Closed`]. With
/// `config.reconnect`, a lost connection is redialled.
pub fn connect(addr: impl ToSocketAddrs, config: Config) -> Result<Client, Error> {
    start(addr, None, config)
}

/// Like [`connect`], over TLS: the certificate is checked against
/// `server_name` with `tls` (a [`TlsConfig`], or a rustls config made by
/// hand). A config that cannot be built (e.g. an unreadable CA file) and
/// handshake failures (an untrusted certificate, another name, a server that
/// does not speak TLS) are [`Error::Tls`], in words.
///
/// ```no_run
/// use ami_blocking::{Config, Credentials, TlsConfig};
///
/// let config = Config::new(Credentials::md5("admin", "amp111"));
/// let tls = TlsConfig::ca_file("/etc/asterisk/keys/ca.pem");
/// let client = ami_blocking::connect_tls("pbx.example.com:5039", "pbx.example.com", tls, config)?;
/// # let _ = client; Ok::<(), ami_blocking::Error>(())
/// ```
pub fn connect_tls(
    addr: impl ToSocketAddrs,
    server_name: &str,
    tls: impl IntoClientConfig,
    config: Config,
) -> Result<Client, Error> {
    let name = ami_client::tls::server_name(server_name)?;
    start(addr, Some((name, tls.into_client_config()?)), config)
}

/// Wraps a stream the caller already has; the caller runs the returned
/// [`Driver`] on a thread of its own. `config.reconnect` is ignored.
pub fn from_stream<S: Socket>(stream: S, mut config: Config) -> (Client, Driver<S>) {
    config.reconnect = None;
    let (client, link) = ami_client::new(config, Instant::now);
    // The transport is open: actions sent from now on wait for the login.
    link.connected();
    (client, Driver::new(link, stream))
}

fn start(
    addr: impl ToSocketAddrs,
    tls: Option<(ServerName<'static>, Arc<rustls::ClientConfig>)>,
    config: Config,
) -> Result<Client, Error> {
    let dialer = Dialer {
        addrs: addr.to_socket_addrs().map_err(Error::Connect)?.collect(),
        tls,
        timeout: config.connect_timeout,
        write_timeout: config.action_timeout.max(Duration::from_secs(1)),
    };
    let deadline = Instant::now() + config.connect_timeout + config.login_timeout;
    let (client, link) = ami_client::new(config, Instant::now);
    let address: Vec<String> = dialer.addrs.iter().map(ToString::to_string).collect();
    link.set_address(&address.join(", "));
    let link = Arc::new(link);
    std::thread::Builder::new()
        .name("ami-driver".into())
        .spawn(move || pump::run(link, None, Some(&move || dialer.dial())))
        .map_err(Error::Io)?;
    client.ready().wait(deadline)?;
    Ok(client)
}
