//! `ami-blocking`: the calls are already blocking.

use std::net::SocketAddr;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::time::Duration;

use ami_proto::{Action, ClientConfig, ClientError, List, OriginateOutcome, Packet, Reply};
use ami_testkit::rustls;

use crate::{Adapter, Next};

/// `ami-blocking` (std threads).
#[derive(Debug)]
pub struct Blocking;

/// Threads used by [`Adapter::concurrent_sends`]; actions are dealt round-robin.
const THREADS: usize = 64;

impl Adapter for Blocking {
    type Client = ami_blocking::Client;
    type Events = ami_blocking::Events;
    type ListStream = ami_blocking::ListStream;
    type Driver = std::thread::JoinHandle<Result<(), ClientError>>;

    fn connect(addr: SocketAddr, config: ClientConfig) -> Result<Self::Client, ClientError> {
        ami_blocking::connect(addr, config)
    }

    fn from_stream(
        addr: SocketAddr,
        config: ClientConfig,
    ) -> std::io::Result<(Self::Client, Self::Driver)> {
        let stream = std::net::TcpStream::connect(addr)?;
        let (client, driver) = ami_blocking::Client::from_stream(stream, config);
        Ok((client, std::thread::spawn(move || driver.run())))
    }

    fn join_driver(driver: Self::Driver) -> Result<(), ClientError> {
        driver.join().expect("the driver thread panicked")
    }

    fn connect_tls(
        addr: SocketAddr,
        server_name: &str,
        tls: Arc<rustls::ClientConfig>,
        config: ClientConfig,
    ) -> Result<Self::Client, ClientError> {
        ami_blocking::connect_tls(addr, server_name, tls, config)
    }

    fn send(client: &Self::Client, action: Action) -> Result<Reply, ClientError> {
        client.send(action)
    }

    fn list(client: &Self::Client, action: Action) -> Result<List, ClientError> {
        client.list(action)
    }

    fn list_stream(client: &Self::Client, action: Action) -> Result<Self::ListStream, ClientError> {
        client.list_stream(action)
    }

    fn next_item(stream: &mut Self::ListStream) -> Option<Packet> {
        stream.next()
    }

    fn finish(stream: Self::ListStream) -> Result<List, ClientError> {
        stream.finish()
    }

    fn command(client: &Self::Client, command: &str) -> Result<Vec<String>, ClientError> {
        client.command(command)
    }

    fn originate(client: &Self::Client, action: Action) -> Result<OriginateOutcome, ClientError> {
        client.originate(action)
    }

    fn logoff(client: &Self::Client) -> Result<(), ClientError> {
        client.logoff()
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
        match events.recv_timeout(timeout) {
            Ok(event) => Next::Event(event),
            Err(RecvTimeoutError::Timeout) => Next::Timeout,
            Err(RecvTimeoutError::Disconnected) => Next::Ended,
        }
    }

    fn concurrent_sends(
        client: &Self::Client,
        actions: Vec<Action>,
    ) -> Vec<Result<Reply, ClientError>> {
        let count = actions.len();
        let threads = THREADS.min(count.max(1));
        let mut shares: Vec<Vec<(usize, Action)>> = (0..threads).map(|_| Vec::new()).collect();
        for (index, action) in actions.into_iter().enumerate() {
            shares[index % threads].push((index, action));
        }
        let mut results: Vec<Option<Result<Reply, ClientError>>> =
            (0..count).map(|_| None).collect();
        std::thread::scope(|scope| {
            let handles: Vec<_> = shares
                .into_iter()
                .map(|share| {
                    let client = client.clone();
                    scope.spawn(move || {
                        share
                            .into_iter()
                            .map(|(index, action)| (index, client.send(action)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for handle in handles {
                for (index, result) in handle.join().expect("a send thread panicked") {
                    results[index] = Some(result);
                }
            }
        });
        results
            .into_iter()
            .map(|r| r.expect("every action has a result"))
            .collect()
    }
}
