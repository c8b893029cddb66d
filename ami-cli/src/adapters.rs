//! The three runtime adapters behind one small synchronous trait, so that the tour
//! and the bench are written once and run through each. The async adapters are
//! driven with their own runtime's `block_on`; their drivers run on that runtime's
//! threads (tokio: a two-worker runtime; smol: its global executor).

use std::sync::Arc;
use std::time::Duration;

use ami_proto::{Action, ClientConfig, ClientError, ClientEvent, Reply};

use crate::connect::Target;

/// What waiting for an event gave.
#[derive(Debug)]
pub enum Next {
    /// An event.
    Event(ClientEvent),
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

/// A connected client of one adapter.
pub trait Adapter: Sized {
    /// `tokio`, `blocking` or `smol`.
    const NAME: &'static str;
    /// Its event subscription.
    type Events: EventSource;
    /// Connects and logs in.
    fn connect(target: &Target, config: ClientConfig) -> Result<Self, ClientError>;
    /// Sends one action and waits for its reply.
    fn send(&self, action: Action) -> Result<Reply, ClientError>;
    /// Sends every action at once (tasks or threads) and waits for all replies, in
    /// the order of `actions`.
    fn send_all(&self, actions: Vec<Action>) -> Vec<Result<Reply, ClientError>>;
    /// A new subscriber, from now on.
    fn events(&self) -> Self::Events;
    /// Logs off.
    fn logoff(&self) -> Result<(), ClientError>;
    /// The AMI version from the server's banner.
    fn ami_version(&self) -> Option<String>;
}

/// ami-tokio on a runtime of its own.
pub struct Tokio {
    runtime: Arc<tokio::runtime::Runtime>,
    client: ami_tokio::Client,
}

/// A tokio subscriber.
pub struct TokioEvents {
    runtime: Arc<tokio::runtime::Runtime>,
    events: ami_tokio::Events,
}

impl Adapter for Tokio {
    const NAME: &'static str = "tokio";
    type Events = TokioEvents;

    fn connect(target: &Target, config: ClientConfig) -> Result<Self, ClientError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(ClientError::Io)?;
        let client = runtime.block_on(async {
            match &target.tls {
                Some((name, tls)) => {
                    ami_tokio::connect_tls(target.addr.as_str(), name, tls.clone(), config).await
                }
                None => ami_tokio::connect(target.addr.as_str(), config).await,
            }
        })?;
        Ok(Tokio {
            runtime: Arc::new(runtime),
            client,
        })
    }

    fn send(&self, action: Action) -> Result<Reply, ClientError> {
        self.runtime.block_on(self.client.send(action))
    }

    fn send_all(&self, actions: Vec<Action>) -> Vec<Result<Reply, ClientError>> {
        self.runtime.block_on(async {
            let tasks: Vec<_> = actions
                .into_iter()
                .map(|action| {
                    let client = self.client.clone();
                    tokio::spawn(async move { client.send(action).await })
                })
                .collect();
            let mut replies = Vec::with_capacity(tasks.len());
            for task in tasks {
                replies.push(task.await.unwrap_or_else(|e| {
                    Err(ClientError::UnexpectedReply(format!("task failed: {e}")))
                }));
            }
            replies
        })
    }

    fn events(&self) -> TokioEvents {
        TokioEvents {
            runtime: self.runtime.clone(),
            events: self.client.events(),
        }
    }

    fn logoff(&self) -> Result<(), ClientError> {
        self.runtime.block_on(self.client.logoff())
    }

    fn ami_version(&self) -> Option<String> {
        self.client.ami_version()
    }
}

impl EventSource for TokioEvents {
    fn next_within(&mut self, timeout: Duration) -> Next {
        let events = &mut self.events;
        // The timer is made inside the runtime: tokio's timers need its context.
        match self
            .runtime
            .block_on(async { tokio::time::timeout(timeout, events.next()).await })
        {
            Ok(Some(event)) => Next::Event(event),
            Ok(None) => Next::Ended,
            Err(_) => Next::Timeout,
        }
    }
}

/// ami-blocking: threads.
pub struct Blocking(ami_blocking::Client);

impl Adapter for Blocking {
    const NAME: &'static str = "blocking";
    type Events = ami_blocking::Events;

    fn connect(target: &Target, config: ClientConfig) -> Result<Self, ClientError> {
        let client = match &target.tls {
            Some((name, tls)) => {
                ami_blocking::connect_tls(target.addr.as_str(), name, tls.clone(), config)
            }
            None => ami_blocking::connect(target.addr.as_str(), config),
        }?;
        Ok(Blocking(client))
    }

    fn send(&self, action: Action) -> Result<Reply, ClientError> {
        self.0.send(action)
    }

    /// One thread per action: blocking calls are concurrent only across threads.
    fn send_all(&self, actions: Vec<Action>) -> Vec<Result<Reply, ClientError>> {
        std::thread::scope(|scope| {
            let threads: Vec<_> = actions
                .into_iter()
                .map(|action| {
                    let client = self.0.clone();
                    scope.spawn(move || client.send(action))
                })
                .collect();
            threads
                .into_iter()
                .map(|t| {
                    t.join().unwrap_or_else(|_| {
                        Err(ClientError::UnexpectedReply("thread panicked".into()))
                    })
                })
                .collect()
        })
    }

    fn events(&self) -> ami_blocking::Events {
        self.0.events()
    }

    fn logoff(&self) -> Result<(), ClientError> {
        self.0.logoff()
    }

    fn ami_version(&self) -> Option<String> {
        self.0.ami_version()
    }
}

impl EventSource for ami_blocking::Events {
    fn next_within(&mut self, timeout: Duration) -> Next {
        match self.recv_timeout(timeout) {
            Ok(event) => Next::Event(event),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Next::Timeout,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Next::Ended,
        }
    }
}

/// ami-smol: the driver on smol's global executor.
pub struct Smol(ami_smol::Client);

impl Adapter for Smol {
    const NAME: &'static str = "smol";
    type Events = ami_smol::Events;

    fn connect(target: &Target, config: ClientConfig) -> Result<Self, ClientError> {
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

    fn send(&self, action: Action) -> Result<Reply, ClientError> {
        smol::block_on(self.0.send(action))
    }

    fn send_all(&self, actions: Vec<Action>) -> Vec<Result<Reply, ClientError>> {
        smol::block_on(async {
            let tasks: Vec<_> = actions
                .into_iter()
                .map(|action| {
                    let client = self.0.clone();
                    smol::spawn(async move { client.send(action).await })
                })
                .collect();
            let mut replies = Vec::with_capacity(tasks.len());
            for task in tasks {
                replies.push(task.await);
            }
            replies
        })
    }

    fn events(&self) -> ami_smol::Events {
        self.0.events()
    }

    fn logoff(&self) -> Result<(), ClientError> {
        smol::block_on(self.0.logoff())
    }

    fn ami_version(&self) -> Option<String> {
        self.0.ami_version()
    }
}

impl EventSource for ami_smol::Events {
    fn next_within(&mut self, timeout: Duration) -> Next {
        smol::block_on(futures_lite::future::or(
            async {
                match self.next().await {
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
