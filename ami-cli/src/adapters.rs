//! The three runtime adapters behind one small trait, so that the tour and the
//! bench are written once and run through each. Every adapter returns the same
//! `Client`; what differs is how it connects and where its pump runs (tokio: a
//! two-worker runtime; smol: its global executor; blocking: a driver thread).
//! The CLI waits for completions with `Pending::wait`.

use std::sync::Arc;
use std::time::Duration;

use ami_client::{Client, Events};
use ami_proto::{Action, Config, Error, Event, Reply};

use crate::connect::Target;

/// What waiting for an event gave.
#[derive(Debug)]
pub enum Next {
    /// An event.
    Event(Event),
    /// Nothing within the time given.
    Timeout,
    /// The client is closed for good.
    Ended,
}

/// One subscriber's events, waited for with a deadline.
pub trait EventSource {
    /// The next event, waiting at most `timeout`.
    fn next_within(&mut self, timeout: Duration) -> Next;
}

impl EventSource for Events {
    fn next_within(&mut self, timeout: Duration) -> Next {
        match self.recv_timeout(timeout) {
            Ok(Some(event)) => Next::Event(event),
            Ok(None) => Next::Ended,
            Err(_) => Next::Timeout,
        }
    }
}

/// A connected client of one adapter.
pub trait Adapter: Sized {
    /// `tokio`, `blocking` or `smol`.
    const NAME: &'static str;
    /// Connects and logs in.
    fn connect(target: &Target, config: Config) -> Result<Self, Error>;
    /// The client.
    fn client(&self) -> &Client;

    /// Sends one action and waits for its reply.
    fn send(&self, action: Action) -> Result<Reply, Error> {
        self.client().send(action).wait()
    }
    /// Sends every action at once (pipelined: all are submitted before the
    /// first reply is waited for) and returns the replies in order.
    fn send_all(&self, actions: Vec<Action>) -> Vec<Result<Reply, Error>> {
        let pending: Vec<_> = actions.into_iter().map(|a| self.client().send(a)).collect();
        pending.into_iter().map(ami_client::Pending::wait).collect()
    }
    /// A new subscriber.
    fn events(&self) -> Events {
        self.client().events()
    }
    /// Logs off.
    fn logoff(&self) -> Result<(), Error> {
        self.client().logoff().wait()
    }
    /// The AMI version from the server's banner.
    fn ami_version(&self) -> Option<String> {
        self.client().ami_version()
    }
}

/// ami-tokio on a runtime of its own.
pub struct Tokio {
    /// Runs the pump; kept alive with the client.
    _runtime: Arc<tokio::runtime::Runtime>,
    client: Client,
}

impl Adapter for Tokio {
    const NAME: &'static str = "tokio";

    fn connect(target: &Target, config: Config) -> Result<Self, Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(Error::Io)?;
        let client = runtime.block_on(async {
            match &target.tls {
                Some((name, tls)) => {
                    ami_tokio::connect_tls(target.addr.as_str(), name, tls.clone(), config).await
                }
                None => ami_tokio::connect(target.addr.as_str(), config).await,
            }
        })?;
        Ok(Tokio {
            _runtime: Arc::new(runtime),
            client,
        })
    }

    fn client(&self) -> &Client {
        &self.client
    }
}

/// ami-blocking: threads.
pub struct Blocking(Client);

impl Adapter for Blocking {
    const NAME: &'static str = "blocking";

    fn connect(target: &Target, config: Config) -> Result<Self, Error> {
        let client = match &target.tls {
            Some((name, tls)) => {
                ami_blocking::connect_tls(target.addr.as_str(), name, tls.clone(), config)
            }
            None => ami_blocking::connect(target.addr.as_str(), config),
        }?;
        Ok(Blocking(client))
    }

    fn client(&self) -> &Client {
        &self.0
    }
}

/// ami-smol: the pump on smol's global executor.
pub struct Smol(Client);

impl Adapter for Smol {
    const NAME: &'static str = "smol";

    fn connect(target: &Target, config: Config) -> Result<Self, Error> {
        let client = smol::block_on(async {
            match &target.tls {
                Some((name, tls)) => {
                    ami_smol::connect_tls(target.addr.as_str(), name, tls.clone(), config).await
                }
                None => ami_smol::connect(target.addr.as_str(), config).await,
            }
        })?;
        Ok(Smol(client))
    }

    fn client(&self) -> &Client {
        &self.0
    }
}
