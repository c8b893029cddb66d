#![doc = include_str!("../README.md")]
//!
//! # Design
//!
//! async-io's timer for the pump `ami-client` writes once for every async
//! runtime ([`ami_client::Driver`], over `futures-io`), so it serves smol and
//! async-std alike: one driver task dials when the session asks, reads and
//! writes concurrently, arms one `async-io` timer at the session's deadline
//! and wakes when a handle has something to write. The
//! [`Client`], its completions and event streams are `ami-client`'s, the same
//! for every runtime.

pub mod tls;

use std::net::SocketAddr;
use std::pin::Pin;
use std::time::{Duration, Instant};

use ami_client::pump::{self, Dial};
use async_net::TcpStream;

pub use ami_client::api::*;
pub use ami_client::Driver;
/// Typed actions and zero-copy typed events for all of AMI (the `types`
/// feature, on by default): `types::actions::Originate`, `types::AnyEvent` ...
#[cfg(feature = "types")]
pub use ami_types as types;
pub use async_net::AsyncToSocketAddrs;
/// Re-exported so a hand-made TLS config uses the same rustls version.
pub use rustls;
pub use tls::connect_tls;

/// async-io's timer for ami-client's pump (the reactor smol and async-std share).
struct AsyncIo;

impl ami_client::Runtime for AsyncIo {
    type Timer = async_io::Timer;

    fn timer(at: Instant) -> Self::Timer {
        async_io::Timer::at(at)
    }

    fn reset(timer: Pin<&mut Self::Timer>, at: Instant) {
        timer.get_mut().set_at(at);
    }
}

/// Any byte stream the pump can own.
trait Io: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin + Send + 'static {}
impl<S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin + Send + 'static> Io for S {}

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
    let address = pump::describe(&addrs);
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
    let (client, link) = ami_client::new(config, Instant::now);
    link.connected();
    (client, Driver::new::<AsyncIo, _>(link, Some(stream), None))
}

/// Spawns the driver, which dials `address`, and waits for the first login.
async fn launch<S: Io>(config: Config, dial: Dial<S>, address: &str) -> Result<Client, Error> {
    let (client, link) = ami_client::new(config, Instant::now);
    link.set_address(address);
    smol::spawn(Driver::new::<AsyncIo, _>(link, None, Some(dial))).detach();
    client.ready().await?;
    Ok(client)
}

/// Resolves `addr` within `timeout`; none is an error.
async fn resolve(
    addr: impl AsyncToSocketAddrs,
    timeout: Duration,
) -> Result<Vec<SocketAddr>, Error> {
    let lookup = pump::within::<AsyncIo, _>(timeout, async_net::resolve(addr));
    let addrs = lookup
        .await
        .ok_or_else(|| Error::timeout("resolving the address"))?
        .map_err(Error::Connect)?;
    if addrs.is_empty() {
        let error = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
        return Err(Error::Connect(error));
    }
    Ok(addrs)
}

/// Opens a TCP connection to the first address that answers, within `timeout`.
async fn dial_tcp(addrs: Vec<SocketAddr>, timeout: Duration) -> Result<TcpStream, Reason> {
    let connect = TcpStream::connect(&addrs[..]);
    let stream = pump::dial_within::<AsyncIo, _, _>(&addrs, timeout, connect).await?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}
