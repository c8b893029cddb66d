#![doc = include_str!("../README.md")]
//!
//! # Design
//!
//! A pump around [`ami_client::Link`]: one driver task dials when the session
//! asks, reads and writes the socket concurrently, arms one timer at the
//! session's deadline (on tokio's clock, so `#[tokio::test(start_paused = true)]`
//! drives the core's timeouts), and wakes when a handle has something to
//! write. It yields to the runtime once per read, so a subscriber on the same
//! thread keeps up under a flood. The [`Client`], its completions and event
//! streams are `ami-client`'s, the same for every runtime; login, ActionIDs,
//! lists, timeouts, keepalive, filters and reconnect decisions live in
//! `ami-proto`.

mod http;
mod pump;
pub mod tls;

use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, ToSocketAddrs};

pub use ami_client::api::*;
/// Typed actions and zero-copy typed events for all of AMI (the `types`
/// feature, on by default): `types::actions::Originate`, `types::AnyEvent` ...
#[cfg(feature = "types")]
pub use ami_types as types;
pub use http::{connect_http, connect_http_tls};
pub use pump::Driver;
/// Re-exported so a hand-made TLS config uses the same rustls version.
pub use rustls;
pub use tls::connect_tls;

use pump::Dial;

/// Connects to `addr` (e.g. `"127.0.0.1:5038"`) within `config.connect_timeout`,
/// spawns the driver on the current tokio runtime and returns once logged in.
///
/// Fails with [`Error::Connect`] (TCP, naming the address), [`Error::Auth`]
/// (refused login), [`Error::Timeout`] (login deadline) or [`Error::Closed`]
/// (the server hung up first). With `config.reconnect`, a connection lost
/// later is re-dialled (the address is resolved once, here).
pub async fn connect(addr: impl ToSocketAddrs, config: Config) -> Result<Client, Error> {
    let addrs = resolve(addr).await?;
    let address = describe(&addrs);
    let timeout = config.connect_timeout;
    let dial: Dial<TcpStream> = Box::new(move || {
        let addrs = addrs.clone();
        Box::pin(async move { dial_tcp(&addrs, timeout).await })
    });
    start(config, dial, &address).await
}

/// Wraps a stream the caller already has (a `TcpStream`, a TLS stream, a
/// `tokio::io::duplex` half ...). The caller must run the returned [`Driver`],
/// e.g. `tokio::spawn(driver)`; nothing moves until it does. Actions sent
/// before the login completes wait inside the core. `config.reconnect` is
/// ignored: the adapter cannot re-open a stream it did not open.
pub fn from_stream<S>(stream: S, mut config: Config) -> (Client, Driver)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    config.reconnect = None;
    let (client, link) = ami_client::new(config, pump::now);
    // The transport is open: actions sent from now on wait for the login.
    link.connected();
    let driver = Driver::new(Box::pin(pump::run(link, Some(stream), None)));
    (client, driver)
}

/// The resolved addresses, for the client's `tracing` span.
pub(crate) fn describe(addrs: &[SocketAddr]) -> String {
    let addrs: Vec<String> = addrs.iter().map(ToString::to_string).collect();
    addrs.join(", ")
}

pub(crate) async fn resolve(addr: impl ToSocketAddrs) -> Result<Vec<SocketAddr>, Error> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(addr)
        .await
        .map_err(Error::Connect)?
        .collect();
    if addrs.is_empty() {
        let error = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
        return Err(Error::Connect(error));
    }
    Ok(addrs)
}

/// Opens a TCP connection to the first address that answers, within `timeout`.
pub(crate) async fn dial_tcp(
    addrs: &[SocketAddr],
    timeout: std::time::Duration,
) -> Result<TcpStream, Reason> {
    let failed = |kind, message: String| Reason::Connect {
        kind,
        message: format!("{}: {message}", addrs[0]),
    };
    let stream = match tokio::time::timeout(timeout, TcpStream::connect(addrs)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => return Err(failed(error.kind(), error.to_string())),
        Err(_) => {
            let message = format!("no answer within {timeout:?}");
            return Err(failed(std::io::ErrorKind::TimedOut, message));
        }
    };
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// Spawns the driver, which dials `address`, and waits for the first login.
pub(crate) async fn start<S>(config: Config, dial: Dial<S>, address: &str) -> Result<Client, Error>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (client, link) = ami_client::new(config, pump::now);
    link.set_address(address);
    tokio::spawn(pump::run(link, None, Some(dial)));
    client.ready().await?;
    Ok(client)
}
