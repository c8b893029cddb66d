//! What every runtime adapter shares, so that switching runtime changes an import
//! and nothing else: the adapter configuration, the error type, the items of the
//! event stream and its fan-out ([`EventHub`]), reconnect backoff, the routing of
//! the core's outputs ([`Dispatch`]), and the typed views of a [`Reply`]. No IO,
//! no runtime: locks and `Waker`s from std only.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::action::EncodeError;
use crate::connection::{ActionId, Config, Error, List, OriginateOutcome, Output, Reply};
use crate::packet::Packet;
use crate::parser::Malformed;

/// An adapter client's settings: the session's [`Config`] plus transport policy.
///
/// ```
/// use ami_proto::{ClientConfig, Credentials, Reconnect};
///
/// let config = ClientConfig {
///     reconnect: Some(Reconnect::default()),
///     ..ClientConfig::new(Credentials::md5("admin", "amp111"))
/// };
/// assert_eq!(config.event_capacity, 1024);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// The session: credentials, events mask, filters, timeouts, keepalive, limits.
    pub connection: Config,
    /// Deadline for the TCP (and TLS) connection. Default 10 s.
    pub connect_timeout: Duration,
    /// How many events each subscriber may fall behind before it is told
    /// [`ClientEvent::Lagged`]. Default 1024. Replies are never dropped.
    pub event_capacity: usize,
    /// Reconnect after the connection is lost; `None` (default) closes for good.
    pub reconnect: Option<Reconnect>,
}

impl ClientConfig {
    /// Defaults, logging in with `credentials`.
    pub fn new(credentials: crate::Credentials) -> Self {
        ClientConfig {
            connection: Config {
                credentials: Some(credentials),
                ..Config::default()
            },
            ..ClientConfig::default()
        }
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connection: Config::default(),
            connect_timeout: Duration::from_secs(10),
            event_capacity: 1024,
            reconnect: None,
        }
    }
}

/// Reconnect policy: exponential backoff with jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconnect {
    /// Delay before the first attempt. Default 250 ms.
    pub initial_delay: Duration,
    /// Longest delay. Default 30 s.
    pub max_delay: Duration,
    /// Give up after this many failed attempts in a row; `None` never gives up.
    pub max_attempts: Option<u32>,
}

impl Default for Reconnect {
    fn default() -> Self {
        Reconnect {
            initial_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            max_attempts: None,
        }
    }
}

impl Reconnect {
    /// The delay before attempt `attempt` (0-based): doubling from
    /// `initial_delay`, capped at `max_delay`, then jittered into its upper half by
    /// `entropy` (any random u64), so that many clients do not reconnect in step.
    ///
    /// ```
    /// use ami_proto::Reconnect;
    /// use std::time::Duration;
    ///
    /// let policy = Reconnect::default();
    /// let d = policy.delay(3, 12345);
    /// assert!(d >= Duration::from_millis(1000) && d <= Duration::from_millis(2000));
    /// assert!(policy.delay(60, u64::MAX) <= policy.max_delay);
    /// ```
    pub fn delay(&self, attempt: u32, entropy: u64) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        let base = self
            .initial_delay
            .saturating_mul(factor)
            .min(self.max_delay);
        let half = base / 2;
        let jitter_nanos = match half.as_nanos() as u64 {
            0 => 0,
            span => entropy % (span + 1),
        };
        half + Duration::from_nanos(jitter_nanos)
    }

    /// Whether another attempt is allowed after `failed` failures in a row.
    pub fn allows(&self, failed: u32) -> bool {
        self.max_attempts.is_none_or(|max| failed < max)
    }
}

/// One item of a client's event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// An AMI event that is not part of any reply.
    Event(Packet),
    /// A response that matched no action (late, unsolicited, refused filter).
    Unmatched(Packet),
    /// A packet the parser dropped (too large); the stream goes on.
    Malformed(Malformed),
    /// This subscriber fell behind and missed this many items.
    Lagged(u64),
    /// The connection was lost; pending actions failed with this reason.
    Disconnected(Error),
    /// A new session is logged in (mask and filters re-applied) after a loss.
    Reconnected,
}

/// One subscriber's bounded queue of events, with the slow-consumer policy every
/// adapter shares: when full, the oldest event is dropped and counted, and the
/// subscriber's next item is [`ClientEvent::Lagged`] with the count. The adapter
/// adds only its way of waking the subscriber (waker, condvar, channel).
///
/// ```
/// use ami_proto::{ClientEvent, EventQueue};
///
/// let mut queue = EventQueue::new(2);
/// for _ in 0..5 {
///     queue.push(ClientEvent::Reconnected);
/// }
/// assert_eq!(queue.pop(), Some(ClientEvent::Lagged(3)));
/// assert_eq!(queue.pop(), Some(ClientEvent::Reconnected));
/// assert_eq!(queue.pop(), Some(ClientEvent::Reconnected));
/// assert_eq!(queue.pop(), None);
/// queue.close();
/// assert!(queue.is_finished());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQueue {
    items: std::collections::VecDeque<ClientEvent>,
    capacity: usize,
    missed: u64,
    closed: bool,
}

impl EventQueue {
    /// An empty queue holding at most `capacity` events (at least 1).
    pub fn new(capacity: usize) -> Self {
        EventQueue {
            items: std::collections::VecDeque::new(),
            capacity: capacity.max(1),
            missed: 0,
            closed: false,
        }
    }

    /// Adds an event, dropping the oldest one if the queue is full.
    pub fn push(&mut self, event: ClientEvent) {
        if self.items.len() >= self.capacity {
            self.items.pop_front();
            self.missed += 1;
        }
        self.items.push_back(event);
    }

    /// The next item: `Lagged(n)` if events were dropped since the last call,
    /// else the oldest event. `None` when empty.
    pub fn pop(&mut self) -> Option<ClientEvent> {
        if self.missed > 0 {
            return Some(ClientEvent::Lagged(std::mem::take(&mut self.missed)));
        }
        self.items.pop_front()
    }

    /// Marks the end of the stream: once drained, [`is_finished`](Self::is_finished).
    pub fn close(&mut self) {
        self.closed = true;
    }

    /// Closed and drained: the subscriber's stream ends here.
    pub fn is_finished(&self) -> bool {
        self.closed && self.missed == 0 && self.items.is_empty()
    }
}

/// How an adapter wakes a subscriber that waits for its next event: the one
/// runtime-specific part of the fan-out ([`EventHub`]). Implemented here for the
/// two wake-ups std offers: [`TaskWaker`] (a task's `Waker`, for any async
/// runtime) and [`Condvar`] (a blocked thread).
pub trait Wakeup: Default + Send + Sync + 'static {
    /// What a waiting subscriber leaves next to its queue, under the same lock
    /// (a `Waker`); `()` when the wake-up needs nothing.
    type Waiter: Default + Send;
    /// Called by the hub, the subscriber's lock held, after it queued an event
    /// or closed the queue.
    fn wake(&self, waiter: &mut Self::Waiter);
}

/// The wake-up of async subscribers: the `Waker` of the task that last found the
/// queue empty. Runtime-agnostic: tokio, smol and async-std tasks alike.
#[derive(Debug, Default)]
pub struct TaskWaker;

impl Wakeup for TaskWaker {
    type Waiter = Option<Waker>;

    fn wake(&self, waiter: &mut Option<Waker>) {
        if let Some(waker) = waiter.take() {
            waker.wake();
        }
    }
}

/// The wake-up of subscribers that block a thread on the queue's lock.
impl Wakeup for Condvar {
    type Waiter = ();

    fn wake(&self, _: &mut ()) {
        self.notify_all();
    }
}

/// One subscriber's side of an [`EventHub`]: its queue (and what its waiter left)
/// under a lock, and its wake-up. The hub keeps one handle, the subscriber the
/// other; dropping the subscriber's unsubscribes it.
pub struct Subscriber<W: Wakeup> {
    state: Mutex<Subscribed<W::Waiter>>,
    wakeup: W,
}

/// A subscriber's state under its lock.
#[derive(Debug)]
pub struct Subscribed<T> {
    /// The events not taken yet.
    pub queue: EventQueue,
    /// What a waiting subscriber left for [`Wakeup::wake`].
    pub waiter: T,
}

impl<W: Wakeup> Subscriber<W> {
    /// Locks the queue (a panic elsewhere does not poison it: the queue is
    /// consistent after every call).
    pub fn lock(&self) -> MutexGuard<'_, Subscribed<W::Waiter>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The wake-up, e.g. the [`Condvar`] to wait on with [`lock`](Self::lock)'s guard.
    pub fn wakeup(&self) -> &W {
        &self.wakeup
    }
}

impl Subscriber<TaskWaker> {
    /// The next item for the task of `cx`: `Ready(None)` once the hub is closed
    /// and the queue drained; `Pending` (the task woken at the next item) when
    /// the queue is empty.
    pub fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Option<ClientEvent>> {
        let mut state = self.lock();
        if let Some(event) = state.queue.pop() {
            return Poll::Ready(Some(event));
        }
        if state.queue.is_finished() {
            return Poll::Ready(None);
        }
        state.waiter = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// A client's event fan-out, shared by every adapter: one [`EventQueue`] per
/// subscriber (bounded to exactly `capacity` events, oldest dropped and counted
/// as [`ClientEvent::Lagged`]), generic over how a waiting subscriber is woken.
/// Publishing never waits on a subscriber. It holds locks, not IO: the driver
/// publishes from its task or thread while subscribers take from theirs.
///
/// ```
/// use ami_proto::{ClientEvent, EventHub, TaskWaker};
///
/// let hub = EventHub::<TaskWaker>::new(2);
/// let subscriber = hub.subscribe();
/// for _ in 0..5 {
///     hub.publish(ClientEvent::Reconnected);
/// }
/// hub.close();
/// let mut state = subscriber.lock();
/// assert_eq!(state.queue.pop(), Some(ClientEvent::Lagged(3)));
/// assert_eq!(state.queue.pop(), Some(ClientEvent::Reconnected));
/// assert_eq!(state.queue.pop(), Some(ClientEvent::Reconnected));
/// assert!(state.queue.is_finished());
/// ```
pub struct EventHub<W: Wakeup> {
    capacity: usize,
    /// The subscribers, and whether the hub is closed.
    subscribers: Mutex<(Vec<Arc<Subscriber<W>>>, bool)>,
}

impl<W: Wakeup> EventHub<W> {
    /// A hub whose subscribers each hold at most `capacity` events (at least 1).
    pub fn new(capacity: usize) -> Self {
        EventHub {
            capacity,
            subscribers: Mutex::new((Vec::new(), false)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, (Vec<Arc<Subscriber<W>>>, bool)> {
        self.subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A new subscriber that receives every event published from now on; its
    /// queue is already finished if the hub is closed.
    pub fn subscribe(&self) -> Arc<Subscriber<W>> {
        let mut subscribers = self.lock();
        let subscriber = Arc::new(Subscriber {
            state: Mutex::new(Subscribed {
                queue: EventQueue::new(self.capacity),
                waiter: W::Waiter::default(),
            }),
            wakeup: W::default(),
        });
        if subscribers.1 {
            subscriber.lock().queue.close();
        } else {
            subscribers.0.push(Arc::clone(&subscriber));
        }
        subscriber
    }

    /// Gives `event` to every live subscriber (one that is full loses its
    /// oldest) and wakes it.
    pub fn publish(&self, event: ClientEvent) {
        let mut subscribers = self.lock();
        // A subscriber only the hub still holds was dropped.
        subscribers.0.retain(|s| Arc::strong_count(s) > 1);
        if let Some((last, others)) = subscribers.0.split_last() {
            for subscriber in others {
                subscriber.push(event.clone());
            }
            last.push(event);
        }
    }

    /// Ends every subscriber's stream, after the events it has queued, for good.
    pub fn close(&self) {
        let mut subscribers = self.lock();
        subscribers.1 = true;
        for subscriber in subscribers.0.drain(..) {
            let mut state = subscriber.lock();
            state.queue.close();
            subscriber.wakeup.wake(&mut state.waiter);
        }
    }
}

impl<W: Wakeup> Subscriber<W> {
    fn push(&self, event: ClientEvent) {
        let mut state = self.lock();
        state.queue.push(event);
        self.wakeup.wake(&mut state.waiter);
    }
}

impl<W: Wakeup> fmt::Debug for EventHub<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let subscribers = self.lock();
        f.debug_struct("EventHub")
            .field("capacity", &self.capacity)
            .field("subscribers", &subscribers.0.len())
            .field("closed", &subscribers.1)
            .finish()
    }
}

impl<W: Wakeup> fmt::Debug for Subscriber<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriber").finish_non_exhaustive()
    }
}

/// What a client's handles and its driver share, besides the commands: the
/// event fan-out, whether the client is closed for good, why it is down (between
/// a loss and the next login, or for good), and the AMI version of the current
/// session's banner. The driver closes the hub when it ends.
///
/// ```
/// use ami_proto::{ClientShared, Error, TaskWaker};
///
/// let shared = ClientShared::<TaskWaker>::new(1024);
/// shared.set_version(Some("7.0.3".into()));
/// shared.finish(Error::LoggedOff);
/// assert!(shared.is_closed());
/// assert_eq!(shared.down(), Some(Error::LoggedOff));
/// assert_eq!(shared.version(), None, "no version once closed");
/// ```
#[derive(Debug)]
pub struct ClientShared<W: Wakeup> {
    /// The event fan-out.
    pub hub: EventHub<W>,
    /// Why the client is down, and the current session's version.
    status: Mutex<(Option<Error>, Option<String>)>,
    closed: AtomicBool,
}

impl<W: Wakeup> ClientShared<W> {
    /// Open, up, no version yet; subscribers hold `event_capacity` events.
    pub fn new(event_capacity: usize) -> Self {
        ClientShared {
            hub: EventHub::new(event_capacity),
            status: Mutex::new((None, None)),
            closed: AtomicBool::new(false),
        }
    }

    fn status(&self) -> MutexGuard<'_, (Option<Error>, Option<String>)> {
        self.status.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Why the client is down; `None` while a session is up (or before the first).
    pub fn down(&self) -> Option<Error> {
        self.status().0.clone()
    }

    /// Records that the client went down for `reason`, or (`None`) is up again.
    pub fn set_down(&self, reason: Option<Error>) {
        self.status().0 = reason;
    }

    /// The current session's AMI version; `None` once closed for good.
    pub fn version(&self) -> Option<String> {
        let status = self.status();
        status.1.clone().filter(|_| !self.is_closed())
    }

    /// Records the current session's version (`None` between sessions).
    pub fn set_version(&self, version: Option<String>) {
        self.status().1 = version;
    }

    /// Closed for good, for `reason`: from now on calls fail with it at once.
    pub fn finish(&self, reason: Error) {
        self.set_down(Some(reason));
        self.closed.store(true, Ordering::SeqCst);
    }

    /// Whether [`finish`](Self::finish) was called.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

/// Whether a connection closed for `reason` may be replaced by a new one: not
/// after a logoff, a local close, a refused login or a login action the core
/// refused to encode (retrying cannot fix those).
///
/// ```
/// use ami_proto::{reconnectable, Error};
///
/// assert!(reconnectable(&Error::Eof));
/// assert!(!reconnectable(&Error::AuthFailed("no".into())));
/// ```
pub fn reconnectable(reason: &Error) -> bool {
    !matches!(
        reason,
        Error::LoggedOff | Error::ClosedByClient | Error::AuthFailed(_) | Error::Encode(_)
    )
}

/// Where an adapter's driver delivers what [`Dispatch::route`] took from the
/// core: the runtime-specific half of routing (channels, locks, wake-ups).
pub trait Deliver {
    /// An action's reply slot (a oneshot sender, ...).
    type Reply;
    /// A streamed list's item queue.
    type Items;
    /// Completes an action.
    fn reply(&mut self, slot: Self::Reply, result: Result<Reply, Error>);
    /// Delivers one item of a streamed list.
    fn item(&mut self, items: &Self::Items, item: Packet);
    /// Gives an event to every subscriber.
    fn publish(&mut self, event: ClientEvent);
    /// The current session's AMI version: from its banner, `None` once it closed.
    fn version(&mut self, version: Option<String>);
    /// The session logged in (`Ok`) or closed (`Err(reason)`), before the
    /// matching `Reconnected`/`Disconnected` is published (e.g. to tell a
    /// waiting `connect` the first login's outcome, or to fail calls fast while
    /// the client is down).
    fn session(&mut self, outcome: Result<(), &Error>);
}

/// What every adapter's driver keeps across the sessions of one client, with
/// the decisions they share: the reply slot of each action in flight and the
/// item queue of each streamed list (by [`ActionId`]), which core output goes
/// where ([`route`](Self::route)), when `Disconnected`/`Reconnected` are
/// published, and whether and when to redial ([`redial_after`](Self::redial_after)).
/// Plain data: the adapter supplies the slots and the delivery ([`Deliver`]).
///
/// ```
/// use ami_proto::{Dispatch, Error, Reconnect};
///
/// let policy = Reconnect { max_attempts: Some(1), ..Reconnect::default() };
/// let mut dispatch = Dispatch::<(), ()>::new(Some(policy));
/// // No session ever logged in: nothing to reconnect to.
/// assert_eq!(dispatch.redial_after(&Error::Eof), None);
/// ```
#[derive(Debug)]
pub struct Dispatch<R, I> {
    replies: HashMap<ActionId, R>,
    items: HashMap<ActionId, I>,
    policy: Option<Reconnect>,
    /// The current session logged in.
    up: bool,
    /// Some session logged in: later logins are reconnects.
    ever_up: bool,
    /// The last closed session had logged in.
    was_up: bool,
    /// Failed attempts in a row (dials, or sessions that did not log in).
    failed: u32,
}

impl<R, I> Dispatch<R, I> {
    /// No action in flight; `policy` is the client's reconnect policy (`None`
    /// for a client that cannot redial).
    pub fn new(policy: Option<Reconnect>) -> Self {
        Dispatch {
            replies: HashMap::new(),
            items: HashMap::new(),
            policy,
            up: false,
            ever_up: false,
            was_up: false,
            failed: 0,
        }
    }

    /// Records the slots of an action the core accepted as `id`.
    pub fn insert(&mut self, id: ActionId, reply: R, items: Option<I>) {
        self.replies.insert(id, reply);
        if let Some(items) = items {
            self.items.insert(id, items);
        }
    }

    /// Routes one core output: completions to their slots (ending a streamed
    /// list's item queue), events to the subscribers, `Reconnected` at each
    /// login after the first, `Disconnected` when a session that logged in (or
    /// the first one) closes, not again for a failed re-login. Returns the
    /// reason once the session closed; its slots are dropped then (the core
    /// failed each pending action before `Closed`).
    pub fn route<D>(&mut self, output: Output, to: &mut D) -> Option<Error>
    where
        D: Deliver<Reply = R, Items = I>,
    {
        let event = match output {
            Output::Reply { id, result } => {
                self.items.remove(&id);
                if let Some(slot) = self.replies.remove(&id) {
                    to.reply(slot, result);
                }
                return None;
            }
            Output::ListItem { id, item } => {
                if let Some(items) = self.items.get(&id) {
                    to.item(items, item);
                }
                return None;
            }
            Output::Connected { version } => {
                to.version(version);
                return None;
            }
            Output::Ready => {
                self.up = true;
                to.session(Ok(()));
                if !std::mem::replace(&mut self.ever_up, true) {
                    return None;
                }
                ClientEvent::Reconnected
            }
            Output::Event(packet) => ClientEvent::Event(packet),
            Output::Response(packet) => ClientEvent::Unmatched(packet),
            Output::Malformed(malformed) => ClientEvent::Malformed(malformed),
            Output::Closed(reason) => {
                self.replies.clear();
                self.items.clear();
                to.version(None);
                to.session(Err(&reason));
                self.was_up = std::mem::take(&mut self.up);
                if self.was_up || !self.ever_up {
                    to.publish(ClientEvent::Disconnected(reason.clone()));
                }
                return Some(reason);
            }
        };
        to.publish(event);
        None
    }

    /// Whether the last session, closed for `reason`, may be followed by another:
    /// a policy, a [`reconnectable`] reason, and a session that logged in once.
    pub fn may_redial(&self, reason: &Error) -> bool {
        self.policy.is_some() && self.ever_up && reconnectable(reason)
    }

    /// Whether the last closed session had logged in.
    pub fn was_up(&self) -> bool {
        self.was_up
    }

    /// After a session closed for `reason`: how long to wait before dialling
    /// again (the policy's backoff), or `None` to close for good.
    pub fn redial_after(&mut self, reason: &Error) -> Option<Duration> {
        self.failed = if self.was_up { 0 } else { self.failed + 1 };
        if !self.may_redial(reason) {
            return None;
        }
        self.backoff()
    }

    /// After a dial failed: how long to wait before the next, or `None` to give up.
    pub fn dial_failed(&mut self) -> Option<Duration> {
        self.failed += 1;
        self.backoff()
    }

    fn backoff(&self) -> Option<Duration> {
        let policy = self.policy?;
        policy
            .allows(self.failed)
            .then(|| policy.delay(self.failed, entropy()))
    }
}

/// The error every adapter returns; variant names are the same in all three.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// The TCP connection could not be made.
    Connect(std::io::Error),
    /// The transport failed.
    Io(std::io::Error),
    /// The TLS handshake or session failed.
    Tls(String),
    /// The server refused the login; its message.
    Auth(String),
    /// The deadline passed.
    Timeout,
    /// The connection is closed, for this reason.
    Closed(Error),
    /// The action was refused before anything was sent.
    Invalid(EncodeError),
    /// The server answered `Response: Error` where a typed helper (list, command,
    /// originate) needed success; the response is kept.
    Rejected(Packet),
    /// The reply had another shape than the helper expected.
    UnexpectedReply(String),
}

impl ClientError {
    /// The server's `Message` for a [`ClientError::Rejected`].
    pub fn message(&self) -> Option<String> {
        match self {
            ClientError::Rejected(packet) => packet.message().map(|m| m.to_string()),
            _ => None,
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Connect(error) => write!(f, "could not connect: {error}"),
            ClientError::Io(error) => write!(f, "transport error: {error}"),
            ClientError::Tls(message) => write!(f, "TLS failure: {message}"),
            ClientError::Auth(message) => write!(f, "authentication failed: {message}"),
            ClientError::Timeout => f.write_str("timed out"),
            ClientError::Closed(reason) => write!(f, "connection closed: {reason}"),
            ClientError::Invalid(error) => write!(f, "action refused before sending: {error}"),
            ClientError::Rejected(packet) => match packet.message() {
                Some(message) => write!(f, "server answered Error: {message}"),
                None => f.write_str("server answered Error"),
            },
            ClientError::UnexpectedReply(what) => write!(f, "unexpected reply: {what}"),
        }
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Connect(error) | ClientError::Io(error) => Some(error),
            ClientError::Invalid(error) => Some(error),
            _ => None,
        }
    }
}

impl From<Error> for ClientError {
    fn from(error: Error) -> Self {
        match error {
            Error::Timeout | Error::LoginTimeout => ClientError::Timeout,
            Error::AuthFailed(message) => ClientError::Auth(message),
            Error::Encode(error) => ClientError::Invalid(error),
            other => ClientError::Closed(other),
        }
    }
}

impl From<EncodeError> for ClientError {
    fn from(error: EncodeError) -> Self {
        ClientError::Invalid(error)
    }
}

/// The list of a reply: `Rejected` for an `Error` response, `UnexpectedReply` for
/// anything but a list.
pub fn expect_list(reply: Reply) -> Result<List, ClientError> {
    match reply {
        Reply::List(list) => Ok(list),
        Reply::Response(packet) if packet.is_error() => Err(ClientError::Rejected(packet)),
        other => Err(unexpected("a list", &other)),
    }
}

/// The output lines of a `Command` reply (either format). An `Error` response (an
/// unknown CLI command) is `Rejected`; its output stays readable from the packet.
pub fn expect_command_output(reply: Reply) -> Result<Vec<String>, ClientError> {
    match reply {
        Reply::Response(packet) if packet.is_error() => Err(ClientError::Rejected(packet)),
        Reply::Response(packet) => Ok(packet
            .command_output()
            .map(|line| line.to_str_lossy().into_owned())
            .collect()),
        other => Err(unexpected("command output", &other)),
    }
}

/// The outcome of an async Originate; `Rejected` when the response was an error.
pub fn expect_originate(reply: Reply) -> Result<OriginateOutcome, ClientError> {
    match reply {
        Reply::Originate(outcome) if outcome.event.is_some() => Ok(outcome),
        Reply::Originate(outcome) => Err(ClientError::Rejected(outcome.response)),
        Reply::Response(packet) if packet.is_error() => Err(ClientError::Rejected(packet)),
        other => Err(unexpected("an OriginateResponse", &other)),
    }
}

/// The outcome of `Logoff`: `Ok(true)` for `Goodbye` (the session is over),
/// `Ok(false)` for another success, `Rejected` for an `Error` response.
pub fn expect_goodbye(reply: Reply) -> Result<bool, ClientError> {
    match reply {
        Reply::Response(packet) if packet.is_error() => Err(ClientError::Rejected(packet)),
        reply => Ok(reply.response().is("Response", "Goodbye")),
    }
}

fn unexpected(wanted: &str, got: &Reply) -> ClientError {
    let shape = match got {
        Reply::Response(_) => "a single response",
        Reply::List(_) => "a list",
        Reply::Originate(_) => "an originate outcome",
    };
    ClientError::UnexpectedReply(format!("wanted {wanted}, got {shape}"))
}

/// Makes `action` an async Originate whose reply is the call's outcome: adds
/// `Async: true` unless an `Async` header is there (Asterisk only sends
/// `OriginateResponse` for async originates) and waits for the outcome.
///
/// ```
/// let action = ami_proto::originate_action(ami_proto::Action::new("Originate"));
/// assert!(action.has_header("Async"));
/// ```
pub fn originate_action(action: crate::Action) -> crate::Action {
    let action = if action.has_header("Async") {
        action
    } else {
        action.header("Async", "true")
    };
    action.wait_for_originate(true)
}

/// The action `Command` with its CLI command line.
///
/// ```
/// let action = ami_proto::command_action("core show channels");
/// assert!(action.check().is_ok());
/// ```
pub fn command_action(command: &str) -> crate::Action {
    crate::Action::new("Command").header("Command", command)
}

/// Entropy for jitter and ActionID prefixes without a dependency: std's randomly
/// keyed hasher.
pub fn entropy() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u8(1);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_stays_in_upper_half() {
        let policy = Reconnect {
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            max_attempts: Some(3),
        };
        for entropy in [0, 1, 777, u64::MAX] {
            let first = policy.delay(0, entropy);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let capped = policy.delay(20, entropy);
            assert!(capped >= Duration::from_millis(500) && capped <= Duration::from_millis(1000));
        }
        assert!(policy.allows(2));
        assert!(!policy.allows(3));
    }

    #[test]
    fn hub_drops_gone_subscribers_and_ends_late_ones() {
        let hub = EventHub::<TaskWaker>::new(10);
        let kept = hub.subscribe();
        drop(hub.subscribe());
        hub.publish(ClientEvent::Reconnected);
        assert_eq!(hub.lock().0.len(), 1, "the dropped subscriber is gone");
        hub.close();
        assert!(hub.subscribe().lock().queue.is_finished());
        let mut state = kept.lock();
        assert_eq!(state.queue.pop(), Some(ClientEvent::Reconnected));
        assert!(state.queue.is_finished());
    }

    #[test]
    fn hub_wakes_a_waiting_task_once_per_wait() {
        struct Count(std::sync::atomic::AtomicUsize);
        impl std::task::Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let count = Arc::new(Count(Default::default()));
        let waker = Waker::from(Arc::clone(&count));
        let hub = EventHub::<TaskWaker>::new(10);
        let subscriber = hub.subscribe();
        let mut cx = Context::from_waker(&waker);
        assert!(subscriber.poll_next(&mut cx).is_pending());
        hub.publish(ClientEvent::Reconnected);
        hub.publish(ClientEvent::Reconnected);
        assert_eq!(count.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(
            subscriber.poll_next(&mut cx),
            Poll::Ready(Some(ClientEvent::Reconnected))
        );
        hub.close();
        assert_eq!(
            subscriber.poll_next(&mut cx),
            Poll::Ready(Some(ClientEvent::Reconnected))
        );
        assert_eq!(subscriber.poll_next(&mut cx), Poll::Ready(None));
    }

    /// Records what [`Dispatch::route`] delivers.
    #[derive(Default)]
    struct Record {
        replies: Vec<(u32, Result<Reply, Error>)>,
        events: Vec<ClientEvent>,
        sessions: Vec<Result<(), Error>>,
        version: Option<String>,
    }

    impl Deliver for Record {
        type Reply = u32;
        type Items = ();
        fn reply(&mut self, slot: u32, result: Result<Reply, Error>) {
            self.replies.push((slot, result));
        }
        fn item(&mut self, _: &(), _: Packet) {}
        fn publish(&mut self, event: ClientEvent) {
            self.events.push(event);
        }
        fn version(&mut self, version: Option<String>) {
            self.version = version;
        }
        fn session(&mut self, outcome: Result<(), &Error>) {
            self.sessions.push(outcome.map_err(Clone::clone));
        }
    }

    fn id(n: u64) -> ActionId {
        ActionId(n)
    }

    #[test]
    fn dispatch_routes_replies_and_marks_each_gap_once() {
        let policy = Reconnect {
            max_attempts: Some(2),
            ..Reconnect::default()
        };
        let mut dispatch = Dispatch::<u32, ()>::new(Some(policy));
        let mut to = Record::default();
        let connected = Output::Connected {
            version: Some("2.0".into()),
        };
        assert_eq!(dispatch.route(connected, &mut to), None);
        assert_eq!(to.version.as_deref(), Some("2.0"));
        assert_eq!(dispatch.route(Output::Ready, &mut to), None);
        assert!(to.events.is_empty(), "the first login is no reconnect");
        dispatch.insert(id(1), 7, None);
        dispatch.insert(id(2), 8, Some(()));
        let done = Output::Reply {
            id: id(1),
            result: Err(Error::Timeout),
        };
        dispatch.route(done, &mut to);
        assert_eq!(to.replies, vec![(7, Err(Error::Timeout))]);

        // The session is lost: Disconnected, slots dropped, redial at once.
        let closed = dispatch.route(Output::Closed(Error::Eof), &mut to);
        assert_eq!(closed, Some(Error::Eof));
        assert_eq!(to.events, vec![ClientEvent::Disconnected(Error::Eof)]);
        assert_eq!(to.version, None);
        assert!(dispatch.replies.is_empty() && dispatch.items.is_empty());
        assert!(dispatch.redial_after(&Error::Eof).is_some());
        // A re-login that fails is no new gap; the policy allows two failures.
        dispatch.route(Output::Closed(Error::LoginTimeout), &mut to);
        assert_eq!(to.events.len(), 1);
        assert!(dispatch.redial_after(&Error::LoginTimeout).is_some());
        assert_eq!(dispatch.dial_failed(), None, "attempts used up");
        // A later login is a reconnect.
        dispatch.route(Output::Ready, &mut to);
        assert_eq!(to.events[1], ClientEvent::Reconnected);
        assert_eq!(
            to.sessions,
            vec![Ok(()), Err(Error::Eof), Err(Error::LoginTimeout), Ok(())]
        );
        // Never after a logoff.
        dispatch.route(Output::Closed(Error::LoggedOff), &mut to);
        assert_eq!(dispatch.redial_after(&Error::LoggedOff), None);
    }

    #[test]
    fn core_errors_map_to_the_adapter_variants() {
        assert!(matches!(
            ClientError::from(Error::Timeout),
            ClientError::Timeout
        ));
        assert!(matches!(
            ClientError::from(Error::AuthFailed("no".into())),
            ClientError::Auth(m) if m == "no"
        ));
        assert!(matches!(
            ClientError::from(Error::Eof),
            ClientError::Closed(Error::Eof)
        ));
    }
}
