//! A fleet of Asterisk servers behind one handle (tokio).
//!
//! A [`Fleet`] holds N named PBX connections, each with its own
//! [`Config`] (credentials, event mask, filters, reconnect policy). It gives:
//!
//! - [`Fleet::pbx`]: that PBX's [`Client`], to send actions as usual;
//! - [`Fleet::events`]: one merged stream of [`FleetEvent`]s, each tagged with
//!   the name of the PBX it came from. [`Event::Lagged`], `Disconnected` and
//!   `Reconnected` stay per PBX: they arrive tagged like any other item;
//! - [`Fleet::status`] per PBX and [`Fleet::health`], a summary of the fleet;
//! - [`Fleet::add`] and [`Fleet::remove`] at run time.
//!
//! # Decisions
//!
//! - **A PBX that is down never blocks the others.** Each PBX has its own
//!   task and its own event forwarder; actions go straight to that PBX's
//!   [`Client`], which fails at once with `Error::Down` while it is down.
//! - **A PBX whose first connect fails is still added**, in
//!   [`Status::Connecting`] with the failed attempts counted: [`Fleet::add`]
//!   never waits for the network. The fleet retries the first connect on the
//!   PBX's own [`Reconnect`](ami_proto::Reconnect) policy (`config.reconnect`);
//!   with `reconnect: None` one failed attempt closes that PBX for good
//!   ([`Status::Closed`] with the reason), and it stays listed until removed.
//!   Once a PBX was logged in once, its [`Client`] reconnects by itself, on the
//!   same policy.
//! - [`Fleet::pbx`] returns `None` for an unknown name **and** for a PBX that
//!   never logged in yet (there is no [`Client`] to hand out until then).
//! - **Back-pressure is per PBX.** Each subscriber of [`Fleet::events`] has
//!   its own subscription on every PBX's client and a bounded merged queue
//!   ([`Fleet::with_capacity`]); a slow subscriber falls behind on each PBX
//!   separately and is told so with a tagged [`Event::Lagged`] (the client's
//!   `Config::event_capacity` rules), never with a silent loss.
//!
//! # Example
//!
//! ```no_run
//! use ami_fleet::Fleet;
//! use ami_proto::{Action, Config, Credentials, Event, Reconnect};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let fleet = Fleet::new();
//! let config = Config {
//!     reconnect: Some(Reconnect::default()),
//!     ..Config::new(Credentials::md5("admin", "amp111"))
//! };
//! fleet.add("paris", "10.0.0.1:5038", config.clone())?;
//! fleet.add("lyon", "10.0.0.2:5038", config)?;
//!
//! // One stream for every PBX, each item tagged with its PBX.
//! let mut events = fleet.events();
//! fleet.ready("paris").await?;
//! if let Some(paris) = fleet.pbx("paris") {
//!     paris.send(Action::new("Ping")).await?;
//! }
//! while let Some(item) = events.next().await {
//!     match &item.event {
//!         Event::Event(packet) => println!("{}: {:?}", item.pbx, packet.event_name()),
//!         Event::Lagged(n) => eprintln!("{} missed {n} events", item.pbx),
//!         _ => {}
//!     }
//! }
//! println!("{:?}", fleet.health());
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use ami_client::Client;
use ami_proto::{Config, Error, Event, Reason, Status};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// One item of [`Fleet::events`]: an event and the PBX it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetEvent {
    /// The name the PBX was added under.
    pub pbx: Arc<str>,
    /// The item of that PBX's client event stream.
    pub event: Event,
}

/// Why [`Fleet::add`] refused a PBX.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FleetError {
    /// A PBX of this name is already in the fleet.
    Duplicate(String),
    /// No PBX of this name is in the fleet.
    Unknown(String),
}

impl fmt::Display for FleetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FleetError::Duplicate(name) => {
                write!(f, "a PBX named {name:?} is already in the fleet")
            }
            FleetError::Unknown(name) => write!(f, "no PBX named {name:?} in the fleet"),
        }
    }
}

impl std::error::Error for FleetError {}

/// A summary of the fleet; see [`Fleet::health`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Health {
    /// PBXs logged in and ready.
    pub ready: usize,
    /// PBXs dialling or logging in for the first time.
    pub connecting: usize,
    /// PBXs that were ready and are reconnecting.
    pub reconnecting: usize,
    /// PBXs closed for good (still listed until removed).
    pub closed: usize,
    /// Every PBX with its status, by name.
    pub pbxs: Vec<(Arc<str>, Status)>,
}

impl Health {
    /// True when every PBX is ready (and there is at least one).
    pub fn all_ready(&self) -> bool {
        !self.pbxs.is_empty() && self.ready == self.pbxs.len()
    }
}

/// A handle over N named PBX connections. `Clone + Send + Sync`; must be
/// created and used inside a tokio runtime (it spawns one task per PBX).
#[derive(Clone)]
pub struct Fleet {
    inner: Arc<Inner>,
}

impl fmt::Debug for Fleet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fleet")
            .field("health", &self.health())
            .finish()
    }
}

struct Inner {
    runtime: tokio::runtime::Handle,
    capacity: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    pbxs: BTreeMap<Arc<str>, Pbx>,
    subscribers: Vec<mpsc::Sender<FleetEvent>>,
}

struct Pbx {
    /// The client once the first login succeeded, else the status to report.
    slot: watch::Sender<Slot>,
    task: JoinHandle<()>,
}

#[derive(Clone)]
enum Slot {
    Waiting(Status),
    Up(Client),
}

fn lock(mutex: &Mutex<State>) -> MutexGuard<'_, State> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Default for Fleet {
    fn default() -> Self {
        Fleet::new()
    }
}

impl Fleet {
    /// An empty fleet whose merged event queues hold 1024 items per
    /// subscriber. Panics outside a tokio runtime.
    pub fn new() -> Self {
        Fleet::with_capacity(1024)
    }

    /// An empty fleet whose merged event queues hold `capacity` items per
    /// subscriber (beyond that, each PBX's own subscription buffers, then
    /// reports [`Event::Lagged`]). Panics outside a tokio runtime.
    pub fn with_capacity(capacity: usize) -> Self {
        Fleet {
            inner: Arc::new(Inner {
                runtime: tokio::runtime::Handle::current(),
                capacity: capacity.max(1),
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// Adds a PBX and starts connecting to it in the background; returns at
    /// once (see the crate docs for a first connect that fails). `addr` is
    /// resolved at each first-connect attempt.
    pub fn add(
        &self,
        name: impl AsRef<str>,
        addr: impl Into<String>,
        config: Config,
    ) -> Result<(), FleetError> {
        let name: Arc<str> = Arc::from(name.as_ref());
        let mut state = lock(&self.inner.state);
        if state.pbxs.contains_key(&name) {
            return Err(FleetError::Duplicate(name.to_string()));
        }
        let (slot, _) = watch::channel(Slot::Waiting(Status::Connecting { attempt: 0 }));
        let task = self.inner.runtime.spawn(supervise(
            Arc::downgrade(&self.inner),
            Arc::clone(&name),
            addr.into(),
            config,
            slot.clone(),
        ));
        state.pbxs.insert(name, Pbx { slot, task });
        Ok(())
    }

    /// Removes a PBX: stops connecting, closes its client (pending actions fail
    /// with `Closed(ClosedByClient)`); its events stop flowing into
    /// [`Fleet::events`] (what was already queued is still delivered).
    pub fn remove(&self, name: &str) -> Result<(), FleetError> {
        let pbx = lock(&self.inner.state).pbxs.remove(name);
        let Some(pbx) = pbx else {
            return Err(FleetError::Unknown(name.to_owned()));
        };
        pbx.task.abort();
        if let Slot::Up(client) = &*pbx.slot.borrow() {
            client.close();
        }
        Ok(())
    }

    /// The names of the PBXs, sorted.
    pub fn names(&self) -> Vec<Arc<str>> {
        lock(&self.inner.state).pbxs.keys().cloned().collect()
    }

    /// The client of PBX `name`: `None` if there is no such PBX, or it has
    /// not logged in once yet.
    pub fn pbx(&self, name: &str) -> Option<Client> {
        let state = lock(&self.inner.state);
        let slot = state.pbxs.get(name)?.slot.borrow().clone();
        match slot {
            Slot::Up(client) => Some(client),
            Slot::Waiting(_) => None,
        }
    }

    /// The status of PBX `name`, `None` if there is no such PBX.
    pub fn status(&self, name: &str) -> Option<Status> {
        let state = lock(&self.inner.state);
        let slot = state.pbxs.get(name)?.slot.borrow().clone();
        Some(slot_status(&slot))
    }

    /// Waits until PBX `name` is logged in (`Ok`) or closed for good (`Err`
    /// with the reason). Wrap it in a timeout.
    pub async fn ready(&self, name: &str) -> Result<Client, Error> {
        let mut slot = {
            let state = lock(&self.inner.state);
            match state.pbxs.get(name) {
                Some(pbx) => pbx.slot.subscribe(),
                None => return Err(Error::Closed(Reason::NotConnected)),
            }
        };
        loop {
            let current = slot.borrow_and_update().clone();
            match current {
                Slot::Up(client) => {
                    client.ready().await?;
                    return Ok(client);
                }
                Slot::Waiting(Status::Closed(reason)) => return Err(Error::Closed(reason)),
                Slot::Waiting(_) => {}
            }
            if slot.changed().await.is_err() {
                return Err(Error::Closed(Reason::ClosedByClient));
            }
        }
    }

    /// Ready, connecting, reconnecting and closed counts, and every PBX's
    /// status.
    pub fn health(&self) -> Health {
        let state = lock(&self.inner.state);
        let mut health = Health::default();
        for (name, pbx) in &state.pbxs {
            let status = slot_status(&pbx.slot.borrow());
            match status {
                Status::Ready => health.ready += 1,
                Status::Connecting { .. } | Status::LoggingIn => health.connecting += 1,
                Status::Reconnecting { .. } => health.reconnecting += 1,
                Status::Closed(_) => health.closed += 1,
                _ => health.connecting += 1,
            }
            health.pbxs.push((Arc::clone(name), status));
        }
        health
    }

    /// A new subscriber to the merged events of every PBX, present and
    /// added later. Each PBX contributes from the moment of subscription (a
    /// PBX that logs in later: from its login). Items of one PBX keep their
    /// order; items of different PBXs interleave as they arrive.
    pub fn events(&self) -> FleetEvents {
        let (tx, rx) = mpsc::channel(self.inner.capacity);
        let mut state = lock(&self.inner.state);
        state.subscribers.retain(|s| !s.is_closed());
        for (name, pbx) in &state.pbxs {
            if let Slot::Up(client) = &*pbx.slot.borrow() {
                forward(&self.inner.runtime, Arc::clone(name), client, tx.clone());
            }
        }
        state.subscribers.push(tx);
        FleetEvents { rx }
    }

    /// Closes every PBX and empties the fleet.
    pub fn close(&self) {
        for name in self.names() {
            let _ = self.remove(&name);
        }
    }
}

fn slot_status(slot: &Slot) -> Status {
    match slot {
        Slot::Up(client) => client.status(),
        Slot::Waiting(status) => status.clone(),
    }
}

/// Copies one client's events, tagged, into one merged queue.
fn forward(
    runtime: &tokio::runtime::Handle,
    name: Arc<str>,
    client: &Client,
    tx: mpsc::Sender<FleetEvent>,
) {
    let mut events = client.events();
    runtime.spawn(async move {
        while let Some(event) = events.next().await {
            let item = FleetEvent {
                pbx: Arc::clone(&name),
                event,
            };
            if tx.send(item).await.is_err() {
                break;
            }
        }
    });
}

/// The first connect of one PBX, retried on its own reconnect policy; then
/// hands its client to the fleet (the client reconnects by itself).
async fn supervise(
    fleet: std::sync::Weak<Inner>,
    name: Arc<str>,
    addr: String,
    config: Config,
    slot: watch::Sender<Slot>,
) {
    let mut failed: u32 = 0;
    let mut entropy = seed(&name);
    loop {
        match ami_tokio::connect(addr.as_str(), config.clone()).await {
            Ok(client) => {
                let Some(inner) = fleet.upgrade() else {
                    client.close();
                    return;
                };
                // Attach the subscribers before anyone can see the client, under
                // the fleet's lock, so that no subscriber misses its first events.
                let mut state = lock(&inner.state);
                state.subscribers.retain(|s| !s.is_closed());
                for tx in &state.subscribers {
                    forward(&inner.runtime, Arc::clone(&name), &client, tx.clone());
                }
                slot.send_replace(Slot::Up(client));
                return;
            }
            Err(error) => {
                failed = failed.saturating_add(1);
                let policy = match config.reconnect {
                    Some(policy) if policy.max_attempts.is_none_or(|max| failed < max) => policy,
                    _ => {
                        slot.send_replace(Slot::Waiting(Status::Closed(reason_of(error))));
                        return;
                    }
                };
                slot.send_replace(Slot::Waiting(Status::Connecting { attempt: failed }));
                entropy = entropy
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let delay = policy.delay(failed - 1, entropy);
                tokio::time::sleep(delay.max(Duration::from_millis(1))).await;
            }
        }
    }
}

fn seed(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    h ^ std::process::id() as u64
}

/// The reason a first connect failed, in the core's words.
fn reason_of(error: Error) -> Reason {
    match error {
        Error::Connect(io) => Reason::Connect {
            kind: io.kind(),
            message: io.to_string(),
        },
        Error::Auth(message) => Reason::AuthFailed(message),
        Error::Timeout { .. } => Reason::LoginTimeout,
        Error::Closed(reason) | Error::Down(reason) => reason,
        other => Reason::Protocol(other.to_string()),
    }
}

/// The merged events of a [`Fleet`]; see [`Fleet::events`]. A [`Stream`]
/// and an async [`next`](Self::next). Ends only when the fleet is dropped
/// and every PBX is closed.
///
/// [`Stream`]: futures_core::Stream
#[derive(Debug)]
pub struct FleetEvents {
    rx: mpsc::Receiver<FleetEvent>,
}

impl FleetEvents {
    /// The next tagged event.
    pub async fn next(&mut self) -> Option<FleetEvent> {
        self.rx.recv().await
    }

    /// The next tagged event if one is queued now.
    pub fn try_next(&mut self) -> Option<FleetEvent> {
        self.rx.try_recv().ok()
    }
}

impl futures_core::Stream for FleetEvents {
    type Item = FleetEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<FleetEvent>> {
        self.rx.poll_recv(cx)
    }
}

/// The README's example compiles.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
