//! `ami-tokio` on a multi-thread tokio runtime owned by this bridge.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ami_proto::{Action, ClientConfig, ClientError, List, OriginateOutcome, Packet, Reply};
use ami_testkit::rustls;
use tokio::runtime::Runtime;

use crate::{Adapter, Next};

/// `ami-tokio`, driven by a 4-worker multi-thread runtime shared by the tests of
/// one process (drivers are spawned on it; callers `block_on` it).
#[derive(Debug)]
pub struct Tokio;

fn runtime() -> &'static Runtime {
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
    type Client = ami_tokio::Client;
    type Events = ami_tokio::Events;
    type ListStream = ami_tokio::ListStream;
    type Driver = tokio::task::JoinHandle<Result<(), ClientError>>;

    fn connect(addr: SocketAddr, config: ClientConfig) -> Result<Self::Client, ClientError> {
        runtime().block_on(ami_tokio::connect(addr, config))
    }

    fn from_stream(
        addr: SocketAddr,
        config: ClientConfig,
    ) -> std::io::Result<(Self::Client, Self::Driver)> {
        let stream = runtime().block_on(tokio::net::TcpStream::connect(addr))?;
        let (client, driver) = ami_tokio::Client::from_stream(stream, config);
        Ok((client, runtime().spawn(driver)))
    }

    fn join_driver(driver: Self::Driver) -> Result<(), ClientError> {
        runtime()
            .block_on(driver)
            .expect("the driver task panicked")
    }

    fn connect_tls(
        addr: SocketAddr,
        server_name: &str,
        tls: Arc<rustls::ClientConfig>,
        config: ClientConfig,
    ) -> Result<Self::Client, ClientError> {
        runtime().block_on(ami_tokio::connect_tls(addr, server_name, tls, config))
    }

    fn send(client: &Self::Client, action: Action) -> Result<Reply, ClientError> {
        runtime().block_on(client.send(action))
    }

    fn list(client: &Self::Client, action: Action) -> Result<List, ClientError> {
        runtime().block_on(client.list(action))
    }

    fn list_stream(client: &Self::Client, action: Action) -> Result<Self::ListStream, ClientError> {
        runtime().block_on(client.list_stream(action))
    }

    fn next_item(stream: &mut Self::ListStream) -> Option<Packet> {
        runtime().block_on(stream.next())
    }

    fn finish(stream: Self::ListStream) -> Result<List, ClientError> {
        runtime().block_on(stream.finish())
    }

    fn command(client: &Self::Client, command: &str) -> Result<Vec<String>, ClientError> {
        runtime().block_on(client.command(command))
    }

    fn originate(client: &Self::Client, action: Action) -> Result<OriginateOutcome, ClientError> {
        runtime().block_on(client.originate(action))
    }

    fn logoff(client: &Self::Client) -> Result<(), ClientError> {
        runtime().block_on(client.logoff())
    }

    fn close(client: &Self::Client) {
        client.close();
    }

    fn is_closed(client: &Self::Client) -> bool {
        client.is_closed()
    }

    fn ami_version(client: &Self::Client) -> Option<String> {
        client.ami_version()
    }

    fn events(client: &Self::Client) -> Self::Events {
        client.events()
    }

    fn next_event(events: &mut Self::Events, timeout: Duration) -> Next {
        runtime().block_on(async {
            match tokio::time::timeout(timeout, events.next()).await {
                Ok(Some(event)) => Next::Event(event),
                Ok(None) => Next::Ended,
                Err(_) => Next::Timeout,
            }
        })
    }

    fn concurrent_sends(
        client: &Self::Client,
        actions: Vec<Action>,
    ) -> Vec<Result<Reply, ClientError>> {
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
