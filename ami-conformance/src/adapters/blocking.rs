//! `ami-blocking`: std threads, completions waited for with `Pending::wait`.

use std::net::SocketAddr;
use std::time::Duration;

use ami_client::tls::IntoClientConfig;
use ami_client::{Client, Events, ListStream, Pending};
use ami_proto::{Action, Config, Error, Packet, Reply};

use crate::{Adapter, Next};

/// `ami-blocking` (std threads).
#[derive(Debug)]
pub struct Blocking;

impl Adapter for Blocking {
    type Driver = std::thread::JoinHandle<Result<(), Error>>;

    fn connect(addr: SocketAddr, config: Config) -> Result<Client, Error> {
        ami_blocking::connect(addr, config)
    }

    fn from_stream(addr: SocketAddr, config: Config) -> std::io::Result<(Client, Self::Driver)> {
        let stream = std::net::TcpStream::connect(addr)?;
        let (client, driver) = ami_blocking::from_stream(stream, config);
        Ok((client, std::thread::spawn(move || driver.run())))
    }

    fn join_driver(driver: Self::Driver) -> Result<(), Error> {
        driver.join().expect("the driver thread panicked")
    }

    fn connect_tls(
        addr: SocketAddr,
        server_name: &str,
        tls: impl IntoClientConfig + Send + 'static,
        config: Config,
    ) -> Result<Client, Error> {
        ami_blocking::connect_tls(addr, server_name, tls, config)
    }

    fn complete<T: Send + 'static>(pending: Pending<T>) -> Result<T, Error> {
        pending.wait()
    }

    fn next_item(stream: &mut ListStream) -> Option<Packet> {
        stream.recv()
    }

    fn next_event(events: &mut Events, timeout: Duration) -> Next {
        match events.recv_timeout(timeout) {
            Ok(Some(event)) => Next::Event(event),
            Ok(None) => Next::Ended,
            Err(_) => Next::Timeout,
        }
    }

    fn wait_ready(client: &Client, timeout: Duration) -> Result<(), Error> {
        client.wait_ready(timeout)
    }

    /// Pipelined from one thread: every action is submitted before the first
    /// completion is waited for.
    fn concurrent_sends(client: &Client, actions: Vec<Action>) -> Vec<Result<Reply, Error>> {
        let pending: Vec<_> = actions.into_iter().map(|a| client.send(a)).collect();
        pending.into_iter().map(Pending::wait).collect()
    }
}
