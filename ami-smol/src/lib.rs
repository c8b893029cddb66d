#![doc = include_str!("../README.md")]

mod client;
mod driver;
mod events;
mod list;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use ami_proto::{
    Action, ClientConfig as Config, ClientError as Error, ClientEvent as Event, Credentials, List,
    OriginateOutcome, Packet, Reconnect, Reply,
};
pub use async_net::AsyncToSocketAddrs;
pub use client::{Client, Driver};
pub use events::Events;
pub use list::ListStream;
pub use tls::connect_tls;

use async_net::TcpStream;
use driver::{Dial, Io};
use futures_lite::future;

/// Connects over TCP (within `config.connect_timeout`), logs in, and returns once
/// the session is ready. The driver runs on smol's global executor, so this works
/// under smol and async-std alike.
///
/// Login refused: [`Error::Auth`]; no banner or login in time: [`Error::Timeout`];
/// the server hung up: [`Error::Closed`]. With `config.reconnect`, a lost
/// connection is redialled (see [`Event::Disconnected`] and [`Event::Reconnected`]).
pub async fn connect(addr: impl AsyncToSocketAddrs, config: Config) -> Result<Client, Error> {
    let timeout = config.connect_timeout;
    let addrs = resolve(addr, timeout).await?;
    let dial: Dial<TcpStream> = Arc::new(move || Box::pin(dial_tcp(addrs.clone(), timeout)));
    launch(dial().await?, config, dial).await
}

/// Spawns the driver and waits for the first login.
async fn launch<S: Io>(stream: S, config: Config, dial: Dial<S>) -> Result<Client, Error> {
    let (ready, login) = async_channel::bounded(1);
    let (client, driver) = client::start(stream, config, Some(dial), Some(ready));
    smol::spawn(driver).detach();
    match login.recv().await {
        Ok(Ok(())) => Ok(client),
        Ok(Err(reason)) => Err(reason.into()),
        Err(_) => Err(Error::Closed(ami_proto::Error::Eof)),
    }
}

async fn resolve(
    addr: impl AsyncToSocketAddrs,
    timeout: Duration,
) -> Result<Vec<SocketAddr>, Error> {
    let addrs = async { async_net::resolve(addr).await.map_err(Error::Connect) };
    within(timeout, addrs).await
}

async fn dial_tcp(addrs: Vec<SocketAddr>, timeout: Duration) -> Result<TcpStream, Error> {
    let connect = async { TcpStream::connect(&addrs[..]).await.map_err(Error::Connect) };
    let stream = within(timeout, connect).await?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// `work`, or [`Error::Timeout`] after `timeout`.
async fn within<T>(
    timeout: Duration,
    work: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let expire = async {
        async_io::Timer::after(timeout).await;
        Err(Error::Timeout)
    };
    future::or(work, expire).await
}
