//! The HTTP transport (`/rawman`) of `ami-tokio` and `ami-blocking`: the same
//! `Client`, so the same scenarios, where they make sense over HTTP (no
//! `from_stream`, no AMI-over-TLS port, no banner).

use std::net::SocketAddr;
use std::time::Duration;

use ami_client::tls::IntoClientConfig;
use ami_client::{Client, Events, ListStream, Pending};
use ami_proto::{Action, Config, Error, Packet, Reply};
use ami_testkit::FakeAsterisk;

use crate::adapters::{Blocking, Tokio};
use crate::{Adapter, Next};

/// `ami_tokio::connect_http`, driven like [`Tokio`].
#[derive(Debug)]
pub struct TokioHttp;

/// `ami_blocking::connect_http`, driven like [`Blocking`].
#[derive(Debug)]
pub struct BlockingHttp;

fn url(addr: SocketAddr) -> String {
    format!("http://{addr}/")
}

/// The parts of an adapter that are the same over HTTP as over TCP.
macro_rules! over_http {
    ($adapter:ty, $tcp:ty, $connect:expr) => {
        impl Adapter for $adapter {
            type Driver = ();

            fn addr(fake: &FakeAsterisk) -> SocketAddr {
                fake.http_addr().expect("the fake serves /rawman")
            }

            fn connect(addr: SocketAddr, config: Config) -> Result<Client, Error> {
                $connect(url(addr), config)
            }

            fn from_stream(_: SocketAddr, _: Config) -> std::io::Result<(Client, ())> {
                unreachable!("not a scenario over HTTP")
            }

            fn join_driver((): ()) -> Result<(), Error> {
                unreachable!("not a scenario over HTTP")
            }

            fn connect_tls(
                _: SocketAddr,
                _: &str,
                _: impl IntoClientConfig + Send + 'static,
                _: Config,
            ) -> Result<Client, Error> {
                unreachable!("not a scenario over HTTP")
            }

            fn complete<T: Send + 'static>(pending: Pending<T>) -> Result<T, Error> {
                <$tcp>::complete(pending)
            }

            fn next_item(stream: &mut ListStream) -> Option<Packet> {
                <$tcp>::next_item(stream)
            }

            fn next_event(events: &mut Events, timeout: Duration) -> Next {
                <$tcp>::next_event(events, timeout)
            }

            fn wait_ready(client: &Client, timeout: Duration) -> Result<(), Error> {
                <$tcp>::wait_ready(client, timeout)
            }

            fn concurrent_sends(
                client: &Client,
                actions: Vec<Action>,
            ) -> Vec<Result<Reply, Error>> {
                <$tcp>::concurrent_sends(client, actions)
            }
        }
    };
}

over_http!(TokioHttp, Tokio, |url: String, config| {
    crate::adapters::tokio::runtime().block_on(ami_tokio::connect_http(&url, config))
});
over_http!(BlockingHttp, Blocking, |url: String, config| {
    ami_blocking::connect_http(&url, config)
});
