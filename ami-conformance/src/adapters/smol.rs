//! `ami-smol`, run twice: once with smol as the caller's runtime, once with
//! async-std. The driver itself always runs on smol's global executor (that is
//! the adapter's design); what changes is who polls the caller's futures, spawns
//! the concurrent tasks and runs the timers.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use ami_client::tls::IntoClientConfig;
use ami_client::{Client, Events, ListStream, Pending};
use ami_proto::{Action, Config, Error, Packet, Reply};
use futures_lite::future;

use crate::{Adapter, Next};

/// `ami-smol` called from smol (`smol::block_on`, `smol::spawn`, `smol::Timer`).
#[derive(Debug)]
pub struct SmolOnSmol;

/// `ami-smol` called from async-std (`async_std::task::block_on`/`spawn`,
/// `async_std::future::timeout`).
#[derive(Debug)]
pub struct SmolOnAsyncStd;

/// A spawned `ami-smol` driver (a smol `Task` or an async-std `JoinHandle`).
type DriverTask = Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;

/// How one caller runtime runs futures.
trait CallerRuntime {
    /// Opens a TCP stream of this runtime, wraps it with `Client::from_stream`
    /// and spawns the driver on this runtime.
    fn from_stream(addr: SocketAddr, config: Config) -> std::io::Result<(Client, DriverTask)>;
    fn block_on<T>(future: impl std::future::Future<Output = T>) -> T;
    fn spawn_all<T: Send + 'static>(
        futures: Vec<impl std::future::Future<Output = T> + Send + 'static>,
    ) -> Vec<T>;
    fn next_event(events: &mut Events, timeout: Duration) -> Next;
}

impl CallerRuntime for SmolOnSmol {
    fn from_stream(addr: SocketAddr, config: Config) -> std::io::Result<(Client, DriverTask)> {
        let stream = smol::block_on(smol::net::TcpStream::connect(addr))?;
        let (client, driver) = ami_smol::from_stream(stream, config);
        Ok((client, Box::pin(smol::spawn(driver))))
    }

    fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
        smol::block_on(future)
    }

    fn spawn_all<T: Send + 'static>(
        futures: Vec<impl std::future::Future<Output = T> + Send + 'static>,
    ) -> Vec<T> {
        let tasks: Vec<_> = futures.into_iter().map(smol::spawn).collect();
        smol::block_on(async {
            let mut results = Vec::with_capacity(tasks.len());
            for task in tasks {
                results.push(task.await);
            }
            results
        })
    }

    fn next_event(events: &mut Events, timeout: Duration) -> Next {
        smol::block_on(future::or(
            async {
                match events.next().await {
                    Some(event) => Next::Event(event),
                    None => Next::Ended,
                }
            },
            async {
                smol::Timer::after(timeout).await;
                Next::Timeout
            },
        ))
    }
}

impl CallerRuntime for SmolOnAsyncStd {
    fn from_stream(addr: SocketAddr, config: Config) -> std::io::Result<(Client, DriverTask)> {
        let stream = async_std::task::block_on(async_std::net::TcpStream::connect(addr))?;
        let (client, driver) = ami_smol::from_stream(stream, config);
        Ok((client, Box::pin(async_std::task::spawn(driver))))
    }

    fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
        async_std::task::block_on(future)
    }

    fn spawn_all<T: Send + 'static>(
        futures: Vec<impl std::future::Future<Output = T> + Send + 'static>,
    ) -> Vec<T> {
        let tasks: Vec<_> = futures.into_iter().map(async_std::task::spawn).collect();
        async_std::task::block_on(async {
            let mut results = Vec::with_capacity(tasks.len());
            for task in tasks {
                results.push(task.await);
            }
            results
        })
    }

    fn next_event(events: &mut Events, timeout: Duration) -> Next {
        async_std::task::block_on(async {
            match async_std::future::timeout(timeout, events.next()).await {
                Ok(Some(event)) => Next::Event(event),
                Ok(None) => Next::Ended,
                Err(_) => Next::Timeout,
            }
        })
    }
}

impl<R: CallerRuntime + 'static> Adapter for R {
    type Driver = DriverTask;

    fn connect(addr: SocketAddr, config: Config) -> Result<Client, Error> {
        R::block_on(ami_smol::connect(addr, config))
    }

    fn from_stream(addr: SocketAddr, config: Config) -> std::io::Result<(Client, Self::Driver)> {
        R::from_stream(addr, config)
    }

    fn join_driver(driver: Self::Driver) -> Result<(), Error> {
        R::block_on(driver)
    }

    fn connect_tls(
        addr: SocketAddr,
        server_name: &str,
        tls: impl IntoClientConfig + Send + 'static,
        config: Config,
    ) -> Result<Client, Error> {
        R::block_on(ami_smol::connect_tls(addr, server_name, tls, config))
    }

    fn complete<T: Send + 'static>(pending: Pending<T>) -> Result<T, Error> {
        R::block_on(pending)
    }

    fn next_item(stream: &mut ListStream) -> Option<Packet> {
        R::block_on(stream.next())
    }

    fn next_event(events: &mut Events, timeout: Duration) -> Next {
        R::next_event(events, timeout)
    }

    fn wait_ready(client: &Client, timeout: Duration) -> Result<(), Error> {
        R::block_on(future::or(client.ready(), async {
            smol::Timer::after(timeout).await;
            Err(Error::timeout("ready"))
        }))
    }

    fn concurrent_sends(client: &Client, actions: Vec<Action>) -> Vec<Result<Reply, Error>> {
        let futures: Vec<_> = actions
            .into_iter()
            .map(|action| client.send(action))
            .collect();
        R::spawn_all(futures)
    }
}
