//! The one interface every scenario is written against.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ami_proto::{
    Action, ClientConfig, ClientError, ClientEvent, List, OriginateOutcome, Packet, Reply,
};
use ami_testkit::rustls;

/// What waiting on an event stream gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// The next item of the stream.
    Event(ClientEvent),
    /// Nothing arrived within the timeout.
    Timeout,
    /// The stream ended: the client is closed for good.
    Ended,
}

/// One runtime adapter, seen through blocking calls.
///
/// Each method is a thin bridge to the adapter's own API: an async adapter runs
/// the call to completion on its runtime (`block_on`), the blocking adapter calls
/// straight through. Nothing here may add behaviour (no retries, no timeouts of its
/// own beyond [`Adapter::next_event`]'s), or the suite would test the bridge.
pub trait Adapter: 'static {
    /// A handle to one session, shared between threads.
    type Client: Clone + Send + Sync + std::fmt::Debug + 'static;
    /// One subscription to the client's events.
    type Events: Send + 'static;
    /// One streamed list, from `Client::list_stream`.
    type ListStream: Send + 'static;
    /// The running driver of a [`from_stream`](Adapter::from_stream) client.
    type Driver: Send + 'static;

    /// `connect(addr, config)`.
    fn connect(addr: SocketAddr, config: ClientConfig) -> Result<Self::Client, ClientError>;
    /// What a caller of `Client::from_stream(stream, config)` does: opens a TCP
    /// connection to `addr` with the runtime's own stream type, wraps it, and
    /// runs the returned driver the way the adapter's docs say (spawned on the
    /// runtime; `Driver::run` on a thread of its own for ami-blocking).
    fn from_stream(
        addr: SocketAddr,
        config: ClientConfig,
    ) -> std::io::Result<(Self::Client, Self::Driver)>;
    /// Waits for a [`from_stream`](Adapter::from_stream) driver to end: its result.
    fn join_driver(driver: Self::Driver) -> Result<(), ClientError>;
    /// `connect_tls(addr, server_name, tls, config)`.
    fn connect_tls(
        addr: SocketAddr,
        server_name: &str,
        tls: Arc<rustls::ClientConfig>,
        config: ClientConfig,
    ) -> Result<Self::Client, ClientError>;
    /// `Client::send`.
    fn send(client: &Self::Client, action: Action) -> Result<Reply, ClientError>;
    /// `Client::list`.
    fn list(client: &Self::Client, action: Action) -> Result<List, ClientError>;
    /// `Client::list_stream`.
    fn list_stream(client: &Self::Client, action: Action) -> Result<Self::ListStream, ClientError>;
    /// The streamed list's next item (`ListStream::next`); `None` once it ended.
    fn next_item(stream: &mut Self::ListStream) -> Option<Packet>;
    /// `ListStream::finish`.
    fn finish(stream: Self::ListStream) -> Result<List, ClientError>;
    /// `Client::command`.
    fn command(client: &Self::Client, command: &str) -> Result<Vec<String>, ClientError>;
    /// `Client::originate`.
    fn originate(client: &Self::Client, action: Action) -> Result<OriginateOutcome, ClientError>;
    /// `Client::logoff`.
    fn logoff(client: &Self::Client) -> Result<(), ClientError>;
    /// `Client::close`.
    fn close(client: &Self::Client);
    /// `Client::is_closed`.
    fn is_closed(client: &Self::Client) -> bool;
    /// `Client::ami_version`.
    fn ami_version(client: &Self::Client) -> Option<String>;
    /// `Client::events`: a new subscriber from now on.
    fn events(client: &Self::Client) -> Self::Events;
    /// The subscriber's next item, waiting at most `timeout`.
    fn next_event(events: &mut Self::Events, timeout: Duration) -> Next;
    /// Sends every action at once, each from its own task (async runtimes) or from
    /// a pool of threads (blocking), and returns the results in the order given.
    fn concurrent_sends(
        client: &Self::Client,
        actions: Vec<Action>,
    ) -> Vec<Result<Reply, ClientError>>;
}
