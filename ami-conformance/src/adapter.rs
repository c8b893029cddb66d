//! The one interface every scenario is written against.

use std::net::SocketAddr;
use std::time::Duration;

use ami_client::tls::IntoClientConfig;
use ami_client::{Client, Events, ListStream, Pending};
use ami_proto::{Action, Config, Error, Event, List, OriginateOutcome, Packet, Reply};

/// What waiting on an event stream gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// The next item of the stream.
    Event(Event),
    /// Nothing arrived within the timeout.
    Timeout,
    /// The stream ended: the client is closed for good.
    Ended,
}

/// One runtime adapter, seen through blocking calls.
///
/// Every adapter returns the same [`Client`]; what differs is how a runtime
/// connects, runs a driver, and waits: an async adapter awaits on its runtime
/// (`block_on`), the blocking adapter calls [`Pending::wait`]. Nothing here
/// may add behaviour (no retries, no timeouts of its own beyond
/// [`Adapter::next_event`]'s), or the suite would test the bridge.
pub trait Adapter: 'static {
    /// The running driver of a [`from_stream`](Adapter::from_stream) client.
    type Driver: Send + 'static;

    /// The address of `fake` this adapter connects to: its AMI port, or its
    /// HTTP port for an adapter over HTTP.
    fn addr(fake: &ami_testkit::FakeAsterisk) -> SocketAddr {
        fake.addr()
    }
    /// `connect(addr, config)`.
    fn connect(addr: SocketAddr, config: Config) -> Result<Client, Error>;
    /// What a caller of `from_stream(stream, config)` does: opens a TCP
    /// connection to `addr` with the runtime's own stream type, wraps it, and
    /// runs the returned driver the way the adapter's docs say (spawned on the
    /// runtime; `Driver::run` on a thread of its own for ami-blocking).
    fn from_stream(addr: SocketAddr, config: Config) -> std::io::Result<(Client, Self::Driver)>;
    /// Waits for a [`from_stream`](Adapter::from_stream) driver to end: its result.
    fn join_driver(driver: Self::Driver) -> Result<(), Error>;
    /// `connect_tls(addr, server_name, tls, config)`, `tls` a rustls config or
    /// a [`TlsConfig`](ami_client::tls::TlsConfig).
    fn connect_tls(
        addr: SocketAddr,
        server_name: &str,
        tls: impl IntoClientConfig + Send + 'static,
        config: Config,
    ) -> Result<Client, Error>;
    /// Waits for a completion the runtime's way.
    fn complete<T: Send + 'static>(pending: Pending<T>) -> Result<T, Error>;
    /// The streamed list's next item; `None` once it ended.
    fn next_item(stream: &mut ListStream) -> Option<Packet>;
    /// The subscriber's next item, waiting at most `timeout`.
    fn next_event(events: &mut Events, timeout: Duration) -> Next;
    /// Waits until the client is ready (`Client::ready`, within `timeout`).
    fn wait_ready(client: &Client, timeout: Duration) -> Result<(), Error>;
    /// Sends every action at once, each from its own task (async runtimes) or
    /// from a pool of threads (blocking), and returns the results in order.
    fn concurrent_sends(client: &Client, actions: Vec<Action>) -> Vec<Result<Reply, Error>>;

    /// `Client::send`.
    fn send(client: &Client, action: Action) -> Result<Reply, Error> {
        Self::complete(client.send(action))
    }
    /// `Client::list`.
    fn list(client: &Client, action: Action) -> Result<List, Error> {
        Self::complete(client.list(action))
    }
    /// `Client::list_stream`.
    fn list_stream(client: &Client, action: Action) -> Result<ListStream, Error> {
        client.list_stream(action)
    }
    /// `ListStream::finish`.
    fn finish(stream: ListStream) -> Result<List, Error> {
        Self::complete(stream.finish())
    }
    /// `Client::command`.
    fn command(client: &Client, command: &str) -> Result<Vec<String>, Error> {
        Self::complete(client.command(command))
    }
    /// `Client::originate`.
    fn originate(client: &Client, action: Action) -> Result<OriginateOutcome, Error> {
        Self::complete(client.originate(action))
    }
    /// `Client::logoff`.
    fn logoff(client: &Client) -> Result<(), Error> {
        Self::complete(client.logoff())
    }
    /// `Client::close`.
    fn close(client: &Client) {
        client.close();
    }
    /// `Client::is_closed`.
    fn is_closed(client: &Client) -> bool {
        client.is_closed()
    }
    /// `Client::ami_version`.
    fn ami_version(client: &Client) -> Option<String> {
        client.ami_version()
    }
    /// `Client::events`.
    fn events(client: &Client) -> Events {
        client.events()
    }
}
