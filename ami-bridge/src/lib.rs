//! Bridges a fleet of Asterisk servers onto NATS JetStream (see README.md for a
//! walkthrough with three fake Asterisks).
//!
//! - **Events**: every AMI event of PBX `<pbx>` is published to JetStream as
//!   one JSON object (see [`json::packet`]) on `<prefix>.<pbx>.event.<EventName>`
//!   (`ami.paris.event.Hangup`), in a stream created for `<prefix>.*.event.>` if
//!   missing (not `<prefix>.>`: the stream would capture the action requests
//!   too and answer them with its publish acknowledgement), so consumers anywhere subscribe by PBX and by event name,
//!   durably and replayably.
//! - **Actions**: a NATS request on `<prefix>.<pbx>.action` with the JSON
//!   `{"action": "Ping", "headers": {"Key": "value", "Variable": ["a=1", "b=2"]}, "id": "req-1"}`
//!   is sent on the bridge's own AMI session to that PBX; the reply is
//!   `{"id": "req-1", "response": {..}}`, plus `"items"` and `"complete"`
//!   for a list and `"outcome"` for an async Originate; failures are
//!   `{"id": "req-1", "error": "..."}`.
//!
//! The binary `ami-bridge` (in this crate, not a subcommand of `ami`) runs a
//! [`Bridge`] from a TOML file and flags; `ami-bridge --help` shows an example.
//!
//! # Delivery promises
//!
//! 1. **Never silently lost.** Every event the bridge receives from a PBX is
//!    either published (JetStream acknowledged it) or counted as dropped,
//!    per reason, in [`Stats::dropped`]: `buffer_full` (the buffer below
//!    was full), `lagged` (the bridge's AMI subscription fell behind by more
//!    than the PBX's `event_capacity`, 16,384 by default: the number the
//!    client reported), `malformed` (a packet the parser
//!    dropped), `unnamed` (an event packet without a valid name for a
//!    subject token). `Stats::received == Stats::published + sum(dropped) +
//!    Stats::buffered` at all times, apart from the event in hand.
//! 2. **Buffered while NATS is unreachable.** Events wait in a bounded
//!    in-memory buffer (`nats.buffer`) until JetStream acknowledges them;
//!    when it is full, new events are counted as `buffer_full` drops (the
//!    oldest, already waiting, are kept). When NATS returns, the buffer is
//!    published in order.
//! 3. **No duplicates from retries.** A publish whose acknowledgement did not
//!    arrive is retried with the same `Nats-Msg-Id` (`<run>-<sequence>`), so
//!    JetStream's duplicate window (2 minutes by default) stores it once.
//! 4. **Every request is answered**, never left hanging: a malformed JSON, an
//!    unknown or not yet connected PBX, an action that the `[actions]`
//!    allow/deny lists refuse (unauthorised), an action that fails or times
//!    out (the PBX's `action_timeout`, 10 s) each get an `{"error": ..}` reply.
//!    A request without a reply subject cannot be answered and is ignored.
//! 5. **An action is sent at most once per request id.** The bridge keeps the
//!    last `actions.dedupe` ids per PBX with their replies: a redelivered
//!    request with an id seen before is answered with the first reply (or
//!    waits for it if the first is still in flight) and is not sent to
//!    Asterisk again. A request without `"id"` is not deduplicated.
//!
//! Events are published per PBX in the order received. AMI packets that are
//! not events (`Disconnected`, `Reconnected` notices, unmatched responses)
//! are not published.

pub mod config;
pub mod json;

mod actions;
mod publish;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ami_fleet::Fleet;
use tokio::task::JoinHandle;

pub use config::{ActionsConfig, BridgeConfig, NatsConfig, PbxConfig};

/// What the bridge did with the events it received; see the crate docs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events received from every PBX (drops reported by a `Lagged` count
    /// here as many events).
    pub received: u64,
    /// Events JetStream acknowledged.
    pub published: u64,
    /// Events waiting in the buffer.
    pub buffered: u64,
    /// Dropped events, by reason.
    pub dropped: BTreeMap<String, u64>,
    /// Received events per PBX.
    pub received_per_pbx: BTreeMap<String, u64>,
    /// Action requests answered (errors included).
    pub requests: u64,
    /// Requests answered from the dedupe cache (not sent again).
    pub deduplicated: u64,
}

impl Stats {
    /// Every dropped event, whatever the reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }
}

/// Why the bridge could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum BridgeError {
    /// The configuration is invalid.
    Config(String),
    /// NATS refused the options (an unreachable server is not an error: the
    /// bridge keeps retrying).
    Nats(String),
}

impl std::fmt::Display for BridgeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BridgeError::Config(message) => write!(f, "configuration: {message}"),
            BridgeError::Nats(message) => write!(f, "NATS: {message}"),
        }
    }
}

impl std::error::Error for BridgeError {}

/// A running bridge: a [`Fleet`], a NATS connection, the publisher and the
/// action responder. Stops when dropped or [`shut down`](Self::shutdown).
#[derive(Debug)]
pub struct Bridge {
    fleet: Fleet,
    stats: Arc<Mutex<Stats>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Bridge {
    /// Starts the bridge: adds every PBX (a PBX that is down is retried, see
    /// `ami_fleet`), connects to NATS (retried until it answers: an
    /// unreachable NATS is not an error, events wait in the buffer),
    /// subscribes to the action subjects before returning, and starts
    /// publishing and answering. Must run inside a multi-threaded tokio
    /// runtime.
    pub async fn start(config: BridgeConfig) -> Result<Bridge, BridgeError> {
        config.validate().map_err(BridgeError::Config)?;
        let fleet = Fleet::new();
        let events = fleet.events();
        for pbx in &config.pbx {
            fleet
                .add(&pbx.name, pbx.addr.clone(), pbx.client_config())
                .map_err(|e| BridgeError::Config(e.to_string()))?;
        }
        let mut options = async_nats::ConnectOptions::new();
        if let (Some(user), Some(password)) = (&config.nats.user, &config.nats.password) {
            options = options.user_and_password(user.clone(), password.clone());
        }
        if let Some(token) = &config.nats.token {
            options = options.token(token.clone());
        }
        if let Some(creds) = &config.nats.creds {
            options = options
                .credentials_file(creds)
                .await
                .map_err(|e| BridgeError::Nats(format!("{}: {e}", creds.display())))?;
        }
        let nats = options
            .retry_on_initial_connect()
            .max_reconnects(None)
            .reconnect_delay_callback(|attempts| {
                Duration::from_millis((attempts as u64 * 50).min(1_000))
            })
            .connect(config.nats.url.as_str())
            .await
            .map_err(|e| BridgeError::Nats(e.to_string()))?;
        // Subscribed before `start` returns: once NATS has it (flushed here
        // when NATS is reachable), requests are answered.
        let subscription = nats
            .subscribe(format!("{}.*.action", config.nats.prefix))
            .await
            .map_err(|e| BridgeError::Nats(e.to_string()))?;
        let _ = tokio::time::timeout(config.nats.ack_timeout(), nats.flush()).await;
        let stats = Arc::new(Mutex::new(Stats::default()));
        let buffer = publish::Buffer::new(config.nats.buffer, Arc::clone(&stats));
        let tasks = vec![
            tokio::spawn(publish::intake(
                events,
                buffer.clone(),
                config.nats.prefix.clone(),
            )),
            tokio::spawn(publish::publisher(
                nats.clone(),
                config.nats.clone(),
                buffer,
            )),
            tokio::spawn(actions::serve(
                nats,
                subscription,
                fleet.clone(),
                config.nats.prefix.clone(),
                config.actions.clone(),
                Arc::clone(&stats),
            )),
        ];
        Ok(Bridge {
            fleet,
            stats,
            tasks,
        })
    }

    /// The fleet behind the bridge (health, clients).
    pub fn fleet(&self) -> &Fleet {
        &self.fleet
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.stats.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Stops publishing and answering and closes every PBX.
    pub fn shutdown(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        self.fleet.close();
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.shutdown();
    }
}
