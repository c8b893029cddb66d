#![doc = include_str!("../README.md")]
//!
//! # Design
//!
//! A thin pump around [`ami_proto::Connection`]: one driver task reads and writes
//! the socket concurrently, arms one timer at the core's `poll_timeout` (on
//! tokio's clock, so `#[tokio::test(start_paused = true)]` drives the core's
//! timeouts), completes each action through a oneshot and publishes every other
//! output to the core's [`ami_proto::EventHub`] (a bounded queue per subscriber,
//! woken through its task's `Waker`), except the items of a streamed list
//! ([`Client::list_stream`]), which go to their own call's queue. It yields to
//! the runtime once per read, after publishing what the read produced, so a
//! subscriber on the same thread keeps up under a flood. Login, ActionIDs,
//! lists, timeouts, keepalive, filters and the routing of outputs
//! ([`ami_proto::Dispatch`]) all live in the core.

mod client;
mod driver;
mod events;
mod list;
mod tls;

use std::net::SocketAddr;

use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::sync::oneshot;

pub use ami_proto::{
    Action, ClientConfig as Config, ClientError as Error, ClientEvent as Event, Credentials, List,
    OriginateOutcome, Packet, Reconnect, Reply,
};
pub use client::Client;
pub use driver::Driver;
pub use events::Events;
pub use list::ListStream;
pub use tls::connect_tls;

use driver::Dial;

/// Connects to `addr` (e.g. `"127.0.0.1:5038"`) within `config.connect_timeout`,
/// spawns the driver on the current tokio runtime and returns once logged in.
///
/// Fails with [`Error::Connect`] (TCP), [`Error::Auth`] (refused login),
/// [`Error::Timeout`] (connect or login deadline) or [`Error::Closed`] (the server
/// hung up first). With `config.reconnect`, a connection lost later is re-dialled
/// (the address is resolved once, here).
pub async fn connect(addr: impl ToSocketAddrs, config: Config) -> Result<Client, Error> {
    let addrs = resolve(addr).await?;
    let timeout = config.connect_timeout;
    let dial: Dial<TcpStream> = Box::new(move || {
        let addrs = addrs.clone();
        Box::pin(async move {
            tokio::time::timeout(timeout, dial_tcp(&addrs))
                .await
                .map_err(|_| Error::Timeout)?
        })
    });
    start(config, dial).await
}

async fn resolve(addr: impl ToSocketAddrs) -> Result<Vec<SocketAddr>, Error> {
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

async fn dial_tcp(addrs: &[SocketAddr]) -> Result<TcpStream, Error> {
    let stream = TcpStream::connect(addrs).await.map_err(Error::Connect)?;
    stream.set_nodelay(true).map_err(Error::Connect)?;
    Ok(stream)
}

/// Dials, spawns the driver and waits for the first login.
async fn start<S>(config: Config, mut dial: Dial<S>) -> Result<Client, Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let stream = dial().await?;
    let (ready, logged_in) = oneshot::channel();
    let (client, pump) = client::build(config, Some(dial), Some(ready));
    tokio::spawn(pump.run(stream));
    match logged_in.await {
        Ok(Ok(())) => Ok(client),
        Ok(Err(reason)) => Err(Error::from(reason)),
        Err(_) => Err(Error::Closed(ami_proto::Error::Eof)),
    }
}
