#![doc = include_str!("../README.md")]
//!
//! # Design
//!
//! Dialling (TCP, and TLS on rustls) for the pump on std threads that
//! `ami-client` writes ([`ami_client::threads`]): a driver thread dials,
//! reads with a read timeout armed at the session's deadline and waits out
//! backoffs; a writer thread per transport writes what the session
//! transmits. TLS runs through rustls as a codec shared by both threads. The
//! [`Client`], its completions ([`Pending::wait`]) and event streams are
//! `ami-client`'s, the same for every runtime; a waiting caller never blocks
//! past its action's deadline, even if the pump is stuck.

mod http;

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ami_client::threads::Wire;

pub use ami_client::api::*;
pub use ami_client::threads::Socket;
/// TLS helpers shared by every adapter: [`TlsConfig`], the provider choice,
/// handshake errors in words.
pub use ami_client::tls;
/// Typed actions and zero-copy typed events for all of AMI (the `types`
/// feature, on by default): `types::actions::Originate`, `types::AnyEvent` ...
#[cfg(feature = "types")]
pub use ami_types as types;
pub use http::connect_http;
/// Re-exported so a hand-made TLS config uses the same rustls version.
pub use rustls;

use rustls::pki_types::ServerName;

/// Runs a client on the calling thread: call [`run`](Driver::run) on a thread
/// of its own. Returned by [`from_stream`].
pub type Driver<S> = ami_client::threads::Driver<S>;

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
    (
        client,
        Driver::new(link, Some((stream, Wire::default())), None),
    )
}

fn start(
    addr: impl ToSocketAddrs,
    tls: Option<(ServerName<'static>, Arc<rustls::ClientConfig>)>,
    config: Config,
) -> Result<Client, Error> {
    let addrs: Vec<SocketAddr> = addr.to_socket_addrs().map_err(Error::Connect)?.collect();
    let (timeout, write_timeout) = (config.connect_timeout, config.action_timeout);
    let deadline = Instant::now() + config.connect_timeout + config.login_timeout;
    let (client, link) = ami_client::new(config, Instant::now);
    link.set_address(&ami_client::pump::describe(&addrs));
    // Kept by the driver for every (re)dial.
    let redial = move || {
        dial(
            &addrs,
            tls.clone(),
            timeout,
            write_timeout.max(Duration::from_secs(1)),
        )
    };
    let driver = Driver::new(link, None, Some(Box::new(redial)));
    std::thread::Builder::new()
        .name("ami-driver".into())
        .spawn(move || driver.run())
        .map_err(Error::Io)?;
    client.ready().wait(deadline)?;
    Ok(client)
}

/// A socket connected to the first of `addrs` that answers within `timeout`,
/// and its codec, the TLS handshake done.
fn dial(
    addrs: &[SocketAddr],
    tls: Option<(ServerName<'static>, Arc<rustls::ClientConfig>)>,
    timeout: Duration,
    write_timeout: Duration,
) -> Result<(TcpStream, Wire), ami_proto::Reason> {
    let mut last = (
        ErrorKind::InvalidInput,
        "no address to connect to".to_owned(),
    );
    for addr in addrs {
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(mut stream) => {
                let _ = stream.set_nodelay(true);
                let wire = match tls {
                    Some((name, config)) => Wire::handshake(&mut stream, name, config, timeout)?,
                    None => Wire::default(),
                };
                let timeout = stream.set_write_timeout(Some(write_timeout));
                timeout.map_err(|e| ami_proto::Reason::Io(e.to_string()))?;
                return Ok((stream, wire));
            }
            Err(error) => last = (error.kind(), format!("{addr}: {error}")),
        }
    }
    let (kind, message) = last;
    Err(ami_proto::Reason::Connect { kind, message })
}
