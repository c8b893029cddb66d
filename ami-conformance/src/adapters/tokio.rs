//! `ami-tokio` on a multi-thread tokio runtime owned by this bridge.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use ami_client::tls::IntoClientConfig;
use ami_client::{Client, Events, ListStream, Pending};
use ami_proto::{Action, Config, Error, Packet, Reply};
use tokio::runtime::Runtime;

use crate::{Adapter, Next};

/// `ami-tokio`, driven by a 4-worker multi-thread runtime shared by the tests of
/// one process (drivers are spawned on it; callers `block_on` it).
#[derive(Debug)]
pub struct Tokio;

pub(crate) fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .expect("build the tokio runtime")
    })
}

impl Adapter for Tokio {
    type Driver = tokio::task::JoinHandle<Result<(), Error>>;

    fn connect(addr: SocketAddr, config: Config) -> Result<Client, Error> {
        runtime().block_on(ami_tokio::connect(addr, config))
    }

    fn from_stream(addr: SocketAddr, config: Config) -> std::io::Result<(Client, Self::Driver)> {
        let stream = runtime().block_on(tokio::net::TcpStream::connect(addr))?;
        let (client, driver) = ami_tokio::from_stream(stream, config);
        Ok((client, runtime().spawn(driver)))
    }

    fn join_driver(driver: Self::Driver) -> Result<(), Error> {
        runtime()
            .block_on(driver)
            .expect("the driver task panicked")
    }

    fn connect_tls(
        addr: SocketAddr,
        server_name: &str,
        tls: impl IntoClientConfig + Send + 'static,
        config: Config,
    ) -> Result<Client, Error> {
        runtime().block_on(ami_tokio::connect_tls(addr, server_name, tls, config))
    }

    fn complete<T: Send + 'static>(pending: Pending<T>) -> Result<T, Error> {
        runtime().block_on(pending)
    }

    fn next_item(stream: &mut ListStream) -> Option<Packet> {
        runtime().block_on(stream.next())
    }

    fn next_event(events: &mut Events, timeout: Duration) -> Next {
        runtime().block_on(async {
            match tokio::time::timeout(timeout, events.next()).await {
                Ok(Some(event)) => Next::Event(event),
                Ok(None) => Next::Ended,
                Err(_) => Next::Timeout,
            }
        })
    }

    fn wait_ready(client: &Client, timeout: Duration) -> Result<(), Error> {
        runtime().block_on(async {
            match tokio::time::timeout(timeout, client.ready()).await {
                Ok(result) => result,
                Err(_) => Err(Error::timeout("ready")),
            }
        })
    }

    fn concurrent_sends(client: &Client, actions: Vec<Action>) -> Vec<Result<Reply, Error>> {
        let tasks: Vec<_> = actions
            .into_iter()
            .map(|action| {
                let client = client.clone();
                runtime().spawn(async move { client.send(action).await })
            })
            .collect();
        runtime().block_on(async {
            let mut results = Vec::with_capacity(tasks.len());
            for task in tasks {
                results.push(task.await.expect("a send task panicked"));
            }
            results
        })
    }
}
