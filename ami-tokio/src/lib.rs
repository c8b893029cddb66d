#![doc = include_str!("../README.md")]
//!
//! # Design
//!
//! tokio's bindings for the pump `ami-client` writes once for every async
//! runtime ([`ami_client::Driver`]): tokio's timer and clock (so
//! `#[tokio::test(start_paused = true)]` drives the core's timeouts), tokio's
//! `yield_now` (once per read, so a subscriber on the same thread keeps up
//! under a flood), and tokio streams seen through `tokio-util`'s compat layer.
//! One driver task dials when the session asks, reads and writes the socket
//! concurrently, arms one timer at the session's deadline, and wakes when a
//! handle has something to write. The [`Client`], its completions and event
//! streams are `ami-client`'s, the same for every runtime; login, ActionIDs,
//! lists, timeouts, keepalive, filters and reconnect decisions live in
//! `ami-proto`.

mod http;
pub mod tls;

use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Instant;

use ami_client::pump::{self, Dial};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio_util::compat::{Compat, TokioAsyncReadCompatExt};

pub use ami_client::api::*;
pub use ami_client::Driver;
/// Typed actions and zero-copy typed events for all of AMI (the `types`
/// feature, on by default): `types::actions::Originate`, `types::AnyEvent` ...
#[cfg(feature = "types")]
pub use ami_types as types;
pub use http::{connect_http, connect_http_tls};
/// Re-exported so a hand-made TLS config uses the same rustls version.
pub use rustls;
pub use tls::connect_tls;

/// tokio's timer and clock for ami-client's pump: the clock may be paused in
/// tests (`#[tokio::test(start_paused = true)]`), and the session's time is
/// taken from it.
pub(crate) struct Tokio;

impl ami_client::Runtime for Tokio {
    type Timer = tokio::time::Sleep;

    fn timer(at: Instant) -> Self::Timer {
        tokio::time::sleep_until(at.into())
    }

    fn reset(timer: Pin<&mut Self::Timer>, at: Instant) {
        timer.reset(at.into());
    }

    fn now() -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn yield_now() -> pump::BoxFuture<()> {
        Box::pin(tokio::task::yield_now())
    }
}

/// Connects to `addr` (e.g. `"127.0.0.1:5038"`) within `config.connect_timeout`,
/// spawns the driver on the current tokio runtime and returns once logged in.
///
/// Fails with [`Error::Connect`] (TCP, naming the address), [`Error::Auth`]
/// (refused login), [`Error::Timeout`] (login deadline) or [`Error::Closed`]
/// (the server hung up first). With `config.reconnect`, a connection lost
/// later is re-dialled (the address is resolved once, here).
pub async fn connect(addr: impl ToSocketAddrs, config: Config) -> Result<Client, Error> {
    let addrs = resolve(addr).await?;
    let timeout = config.connect_timeout;
    let address = pump::describe(&addrs);
    let dial: Dial<Compat<TcpStream>> = Box::new(move || {
        let addrs = addrs.clone();
        Box::pin(async move { Ok(dial_tcp(&addrs, timeout).await?.compat()) })
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
    let (client, link) = ami_client::new(config, now);
    link.connected();
    // Boxed: the pump needs an `Unpin` stream, and a caller's may not be.
    let stream = Box::pin(stream).compat();
    (client, Driver::new::<Tokio, _>(link, Some(stream), None))
}

/// The session's clock: tokio's.
pub(crate) fn now() -> Instant {
    <Tokio as ami_client::Runtime>::now()
}

/// Resolves `addr`; none is an error.
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
    let stream =
        pump::dial_within::<Tokio, _, _>(addrs, timeout, TcpStream::connect(addrs)).await?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// Spawns the driver, which dials `address`, and waits for the first login.
pub(crate) async fn start<S>(config: Config, dial: Dial<S>, address: &str) -> Result<Client, Error>
where
    S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin + Send + 'static,
{
    let (client, link) = ami_client::new(config, now);
    link.set_address(address);
    tokio::spawn(Driver::new::<Tokio, _>(link, None, Some(dial)));
    client.ready().await?;
    Ok(client)
}
