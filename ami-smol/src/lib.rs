#![doc = include_str!("../README.md")]
//!
//! # Design
//!
//! A pump around [`ami_client::Link`] written against `futures-io`, so it
//! serves smol and async-std alike: one driver task dials when the session
//! asks, reads and writes concurrently, arms one `async-io` timer at the
//! session's deadline and wakes when a handle has something to write. The
//! [`Client`], its completions and event streams are `ami-client`'s, the same
//! for every runtime.

mod pump;
pub mod tls;

use std::net::SocketAddr;
use std::time::Duration;

use async_net::TcpStream;
use futures_lite::future;

pub use ami_client::api::*;
/// Typed actions and zero-copy typed events for all of AMI (the `types`
/// feature, on by default): `types::actions::Originate`, `types::AnyEvent` ...
#[cfg(feature = "types")]
pub use ami_types as types;
pub use async_net::AsyncToSocketAddrs;
pub use pump::Driver;
/// Re-exported so a hand-made TLS config uses the same rustls version.
pub use rustls;
pub use tls::connect_tls;

use pump::{Dial, Io};

/// Connects over TCP (within `config.connect_timeout`), logs in, and returns
/// once the session is ready. The driver runs on smol's global executor, so
/// this works under smol and async-std alike.
///
/// Fails with [`Error::Connect`] (naming the address), [`Error::Auth`],
/// [`Error::Timeout`] (login deadline) or [`Error::Closed`]. With
/// `config.reconnect`, a lost connection is redialled (see
/// [`Event::Disconnected`] and [`Event::Reconnected`]).
pub async fn connect(addr: impl AsyncToSocketAddrs, config: Config) -> Result<Client, Error> {
    let timeout = config.connect_timeout;
    let addrs = resolve(addr, timeout).await?;
    let address = describe_addrs(&addrs);
    let dial: Dial<TcpStream> = Box::new(move || Box::pin(dial_tcp(addrs.clone(), timeout)));
    launch(config, dial, &address).await
}

/// Wraps a stream the caller already has; the caller spawns the returned
/// [`Driver`]. `config.reconnect` is ignored: the adapter cannot re-open a
/// stream it did not open.
pub fn from_stream<S>(stream: S, mut config: Config) -> (Client, Driver)
where
    S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin + Send + 'static,
{
    config.reconnect = None;
    let (client, link) = ami_client::new(config, std::time::Instant::now);
    // The transport is open: actions sent from now on wait for the login.
    link.connected();
    let driver = Driver::new(Box::pin(pump::run(link, Some(stream), None)));
    (client, driver)
}

/// Spawns the driver, which dials `address`, and waits for the first login.
async fn launch<S: Io>(config: Config, dial: Dial<S>, address: &str) -> Result<Client, Error> {
    let (client, link) = ami_client::new(config, std::time::Instant::now);
    link.set_address(address);
    smol::spawn(pump::run(link, None, Some(dial))).detach();
    client.ready().await?;
    Ok(client)
}

/// The resolved addresses, for the client's `tracing` span.
fn describe_addrs(addrs: &[SocketAddr]) -> String {
    let addrs: Vec<String> = addrs.iter().map(ToString::to_string).collect();
    addrs.join(", ")
}

async fn resolve(
    addr: impl AsyncToSocketAddrs,
    timeout: Duration,
) -> Result<Vec<SocketAddr>, Error> {
    let lookup = async { async_net::resolve(addr).await.map_err(Error::Connect) };
    let expire = async {
        async_io::Timer::after(timeout).await;
        Err(Error::timeout("resolving the address"))
    };
    let addrs = future::or(lookup, expire).await?;
    if addrs.is_empty() {
        let error = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
        return Err(Error::Connect(error));
    }
    Ok(addrs)
}

/// Opens a TCP connection to the first address that answers, within `timeout`.
async fn dial_tcp(addrs: Vec<SocketAddr>, timeout: Duration) -> Result<TcpStream, Reason> {
    let failed = |kind, message: String| Reason::Connect {
        kind,
        message: format!("{}: {message}", addrs[0]),
    };
    let connect = async { Some(TcpStream::connect(&addrs[..]).await) };
    let expire = async {
        async_io::Timer::after(timeout).await;
        None
    };
    let stream = match future::or(connect, expire).await {
        Some(Ok(stream)) => stream,
        Some(Err(error)) => return Err(failed(error.kind(), error.to_string())),
        None => {
            let message = format!("no answer within {timeout:?}");
            return Err(failed(std::io::ErrorKind::TimedOut, message));
        }
    };
    let _ = stream.set_nodelay(true);
    Ok(stream)
}
