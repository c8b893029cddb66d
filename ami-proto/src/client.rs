//! What every runtime adapter shares, so that switching runtime changes an import
//! and nothing else: the adapter configuration, the error type, the items of the
//! event stream, reconnect backoff, and the typed views of a [`Reply`]. No IO here.

use std::fmt;
use std::time::Duration;

use crate::action::EncodeError;
use crate::connection::{Config, Error, List, OriginateOutcome, Reply};
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
