//! How a [`Connection`](super::Connection) logs in and how long it waits.

use std::time::Duration;

use crate::parser::Limits;

/// A client's settings: the session (login, events, filters, timeouts, keepalive,
/// limits) and its transport policy (connect deadline, event capacity, reconnect). `Config::default()` has no credentials, events `on` left
/// to the server, and timeouts a demanding user would pick; see each field.
///
/// ```
/// use ami_proto::{Config, Credentials};
/// use std::time::Duration;
///
/// let config = Config {
///     credentials: Some(Credentials::md5("admin", "amp111")),
///     events: Some("call,system".into()),
///     action_timeout: Duration::from_secs(5),
///     ..Config::default()
/// };
/// assert!(config.keepalive.is_some());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Login credentials; `None` skips login (the session is ready after the banner).
    pub credentials: Option<Credentials>,
    /// The `Events:` value sent at login: `on`, `off` or a class list such as
    /// `call,system`. `None` sends none (the server's default: on).
    pub events: Option<String>,
    /// Event filters (`Action: Filter`, `Operation: Add`) applied after every login,
    /// in order. A leading `!` excludes.
    pub filters: Vec<String>,
    /// Default deadline of an action, from the moment it is sent. Default 10 s.
    pub action_timeout: Duration,
    /// Deadline for the banner plus login. Default 10 s.
    pub login_timeout: Duration,
    /// After an async `Originate` is queued, how long to wait for its
    /// `OriginateResponse`. Default 60 s (Asterisk's own originate timeout is 30 s).
    pub originate_timeout: Duration,
    /// Liveness probing with `Ping`; `None` disables it. Default: every 20 s of
    /// silence, dead after 10 s more with nothing received.
    pub keepalive: Option<Keepalive>,
    /// Most actions written and awaiting their response at once; the rest wait,
    /// in order, inside the connection. Default 512.
    pub max_in_flight: usize,
    /// Most items a collected list may hold; a longer one completes with
    /// [`Reason::ListTooLarge`](crate::Reason::ListTooLarge) (so a server cannot grow
    /// memory without bound), and its remaining items arrive as ordinary events.
    /// Streamed lists ([`Action::stream_list`](crate::Action::stream_list)) have no
    /// cap. Default 1,000,000.
    pub max_list_items: usize,
    /// Parser limits. Default: 4 MiB packets, 65,536 lines.
    pub limits: Limits,
    /// The ActionID prefix of this connection. `None` picks a random one, so that
    /// ActionIDs never collide with another session's; tests set it to stay
    /// deterministic. Must be short `[A-Za-z0-9._-]`.
    pub id_prefix: Option<String>,
    /// Deadline for the TCP (and TLS) connection. Default 10 s.
    pub connect_timeout: Duration,
    /// How many events each subscriber may fall behind before it is told
    /// [`Event::Lagged`](crate::Event::Lagged). Default 1024. Replies are never dropped.
    /// A client's pump feeds a large read to the session in slices of at most
    /// half this many 64-byte events (32 KiB at the default), and after a
    /// slice that leaves a subscriber more than half full it waits for that
    /// subscriber (see [`subscriber_wait`](Self::subscriber_wait)).
    pub event_capacity: usize,
    /// How long a client's pump waits, before it reads on, for a subscriber
    /// more than half full to take its events. Default 5 ms.
    ///
    /// A subscriber that keeps up on average is then never lapped by a burst
    /// it was not scheduled in time for (on a busy machine, a thread may wait
    /// a scheduler's time slice, milliseconds, for a core, while a flood
    /// fills 1,024 events in a quarter of one; with 1 ms, subscribers on
    /// another thread still lost events in most floods of 1,000,000 events on
    /// two cores, with 5 ms none did). A subscriber that takes nothing during a whole wait is not
    /// waited for again until it takes events: a stuck or forgotten stream
    /// costs one wait, then lags and is told [`Event::Lagged`](crate::Event::Lagged)
    /// as usual. Replies read after the events wait with them, so this bounds
    /// how much a subscriber can delay them each time it takes events (one
    /// that awaits a reply before it takes its next events delays that reply
    /// by up to this much: keep it short). `Duration::ZERO` never
    /// waits: the pump only yields its thread, and a subscriber on another
    /// thread may lag under a flood however fast it is. Over HTTP there is no
    /// wait: each `WaitEvent` answer reaches the subscribers whole.
    pub subscriber_wait: Duration,
    /// Reconnect after the connection is lost; `None` (default) closes for good.
    pub reconnect: Option<crate::Reconnect>,
}

impl Config {
    /// Defaults, logging in with `credentials`.
    ///
    /// ```
    /// use ami_proto::{Config, Credentials, Reconnect};
    ///
    /// let config = Config {
    ///     reconnect: Some(Reconnect::default()),
    ///     ..Config::new(Credentials::md5("admin", "amp111"))
    /// };
    /// assert_eq!(config.event_capacity, 1024);
    /// ```
    pub fn new(credentials: Credentials) -> Self {
        Config {
            credentials: Some(credentials),
            ..Config::default()
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            credentials: None,
            events: None,
            filters: Vec::new(),
            action_timeout: Duration::from_secs(10),
            login_timeout: Duration::from_secs(10),
            originate_timeout: Duration::from_secs(60),
            keepalive: Some(Keepalive::default()),
            max_in_flight: 512,
            max_list_items: 1_000_000,
            limits: Limits::default(),
            id_prefix: None,
            connect_timeout: Duration::from_secs(10),
            event_capacity: 1024,
            subscriber_wait: Duration::from_millis(5),
            reconnect: None,
        }
    }
}

/// Login credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The manager user (`[admin]` in manager.conf).
    pub username: String,
    /// Its secret.
    pub secret: String,
    /// How the secret is proven.
    pub auth: AuthMethod,
}

impl Credentials {
    /// Plain login: the secret is sent as is.
    pub fn plain(username: impl Into<String>, secret: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            secret: secret.into(),
            auth: AuthMethod::Plain,
        }
    }

    /// MD5 challenge login: only md5(challenge + secret) is sent.
    pub fn md5(username: impl Into<String>, secret: impl Into<String>) -> Self {
        Credentials {
            auth: AuthMethod::Md5,
            ..Credentials::plain(username, secret)
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("secret", &"<redacted>")
            .field("auth", &self.auth)
            .finish()
    }
}

/// How a login proves the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// `Secret:` in the clear.
    Plain,
    /// `Action: Challenge` then `Key:` = lowercase hex md5(challenge + secret).
    Md5,
}

/// Keepalive timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Send a `Ping` after this long with nothing received.
    pub interval: Duration,
    /// Declare the link dead when nothing at all arrives this long after a `Ping`.
    pub timeout: Duration,
}

impl Default for Keepalive {
    fn default() -> Self {
        Keepalive {
            interval: Duration::from_secs(20),
            timeout: Duration::from_secs(10),
        }
    }
}
