//! The session supervisor: what outlives one connection.
//!
//! A [`Connection`] is one transport's session: banner, login, correlation. A
//! [`Session`] sits above it (as quinn-proto's `Endpoint` sits above its
//! `Connection`) and decides everything that spans connections: when to dial,
//! the backoff with jitter between attempts, re-login, the client's [`Status`],
//! the `Disconnected`/`Reconnected` events, which submissions fail fast while
//! down, and the final close. It is driven by the same contract as
//! `Connection`: inputs, commands, `poll_*` outputs, time passed in.

use std::collections::VecDeque;
use std::time::Instant;

use crate::action::Action;
use crate::client::{Error, Event};
use crate::connection::{ActionId, Config, Connection, Output, Reason, Reply};
use crate::packet::Packet;
use crate::updates::Updates;

/// Where a client is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// The first transport is being opened.
    Connecting {
        /// Failed attempts so far: always 0 today, as a client whose first
        /// dial or login fails closes (`Config::reconnect` applies once a
        /// session was ready); there for a retry policy of the first
        /// connection.
        attempt: u32,
    },
    /// The first transport is open; banner and login are under way.
    LoggingIn,
    /// Logged in, with the event mask and filters sent: actions flow.
    Ready,
    /// A session that was ready was lost at `since`; the client is waiting
    /// out its backoff, dialling, or logging in again.
    Reconnecting {
        /// Failed attempts since the loss.
        attempt: u32,
        /// When the session was lost.
        since: Instant,
    },
    /// Closed for good, for this reason: every call fails with it.
    Closed(Reason),
}

/// What the transport should do next; see [`Session::transport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Open a transport now, then report [`Session::handle_connected`] or
    /// [`Session::handle_dial_failed`].
    Dial,
    /// The transport is open: read, write what [`Session::poll_transmit`]
    /// gives, and call [`Session::handle_timeout`] at [`Session::poll_timeout`].
    Open,
    /// No transport (drop any still held): wait until [`Session::poll_timeout`]
    /// and call [`Session::handle_timeout`].
    Wait,
    /// Closed for good: drop the transport and stop.
    Stop,
}

/// One output of a [`Session`], in the order things happened.
#[derive(Debug)]
#[non_exhaustive]
pub enum Update {
    /// An action completed. A failure because the connection was lost is
    /// [`Error::Down`] when the client goes on to reconnect, [`Error::Closed`]
    /// when it does not.
    Reply {
        /// The action.
        id: ActionId,
        /// Its reply or failure.
        result: Result<Reply, Error>,
    },
    /// One item of a list sent with [`Action::stream_list`].
    ListItem {
        /// The list's action.
        id: ActionId,
        /// The item event.
        item: Packet,
    },
    /// An item for the client's event subscribers.
    Event(Event),
    /// The status changed to this.
    Status(Status),
}

/// The sans-IO client session supervisor: what outlives one [`Connection`]
/// (dialling, backoff with jitter, re-login, status, fail-fast while down,
/// the final close).
///
/// # Driving contract
///
/// - **Getters**: [`status`](Self::status), [`transport`](Self::transport),
///   [`ami_version`](Self::ami_version), [`in_flight`](Self::in_flight).
/// - **Inputs**: [`handle_connected`](Self::handle_connected),
///   [`handle_dial_failed`](Self::handle_dial_failed), [`feed`](Self::feed),
///   [`handle_eof`](Self::handle_eof), [`handle_io_error`](Self::handle_io_error),
///   [`handle_timeout`](Self::handle_timeout).
/// - **Commands**: [`send_action`](Self::send_action), [`close`](Self::close).
/// - **Outputs**: [`poll_transmit`](Self::poll_transmit),
///   [`poll_update`](Self::poll_update) (or, for the runs of events between
///   other updates, [`poll_events`](Self::poll_events): the same order, a
///   buffer at a time), [`poll_timeout`](Self::poll_timeout).
///
/// After every input or command: write what `poll_transmit` gives, take
/// `poll_update` until `None`, look at [`transport`](Self::transport) (dial,
/// keep the transport, drop it and wait, or stop), and arm one timer at
/// `poll_timeout`.
///
/// Every action accepted by `send_action` completes exactly once, as an
/// [`Update::Reply`]. While no transport is open the client is down:
/// `send_action` fails at once with [`Error::Down`] (nothing is queued across
/// a reconnect, nothing is ever re-sent); once a transport is open, actions
/// wait for its login inside the connection, within their own deadline.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ami_proto::{Config, Reason, Reconnect, Session, Status, Transport};
///
/// let config = Config { reconnect: Some(Reconnect::default()), ..Config::default() };
/// let now = Instant::now();
/// let mut session = Session::new(config, 7, now);
/// assert_eq!(session.transport(), Transport::Dial);
/// session.handle_connected(now);
/// session.feed(b"Asterisk Call Manager/11.0.0\r\n", now); // no credentials: ready
/// assert_eq!(session.status(), &Status::Ready);
///
/// session.handle_eof(now); // lost: wait out the backoff, then dial again
/// assert_eq!(session.transport(), Transport::Wait);
/// let redial_at = session.poll_timeout().unwrap();
/// assert!(redial_at <= now + Duration::from_millis(250));
/// session.handle_timeout(redial_at);
/// assert_eq!(session.transport(), Transport::Dial);
/// assert!(matches!(session.status(), Status::Reconnecting { attempt: 0, .. }));
/// ```
#[derive(Debug)]
pub struct Session {
    config: Config,
    conn: Option<Connection>,
    status: Status,
    /// The current connection's AMI version.
    version: Option<String>,
    /// splitmix64 state, for jitter.
    rng: u64,
    /// Failed attempts in a row (dials, or connections that did not log in).
    failed: u32,
    /// Some connection logged in: later logins are reconnects.
    ever_up: bool,
    /// The current connection logged in.
    up: bool,
    /// When to dial again (backoff running).
    redial_at: Option<Instant>,
    /// A dial is wanted or under way.
    dialing: bool,
    /// The first ActionID number of the next connection.
    next_number: u64,
    /// Why and when the last ready connection was lost, until the next login.
    lost: Option<(Reason, Instant)>,
    updates: Updates,
}

impl Session {
    /// A client about to dial its first transport. `seed` drives the backoff's
    /// jitter (pass a random one; tests pass a fixed one).
    pub fn new(config: Config, seed: u64, now: Instant) -> Self {
        let _ = now;
        Session {
            config,
            conn: None,
            status: Status::Connecting { attempt: 0 },
            version: None,
            rng: seed,
            failed: 0,
            ever_up: false,
            up: false,
            redial_at: None,
            dialing: true,
            next_number: 0,
            lost: None,
            updates: Updates::default(),
        }
    }

    // ----- getters -----

    /// The client's status.
    pub fn status(&self) -> &Status {
        &self.status
    }

    /// What the transport should do now.
    pub fn transport(&self) -> Transport {
        if matches!(self.status, Status::Closed(_)) {
            Transport::Stop
        } else if self.conn.is_some() {
            Transport::Open
        } else if self.dialing {
            Transport::Dial
        } else {
            Transport::Wait
        }
    }

    /// The AMI version of the current connection's banner.
    pub fn ami_version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// Actions accepted and not yet completed.
    pub fn in_flight(&self) -> usize {
        self.conn.as_ref().map_or(0, Connection::in_flight)
    }

    /// The ActionID an action of the current connection carries on the wire
    /// (its prefix and number); `None` while no transport is open.
    pub fn action_id_text(&self, id: ActionId) -> Option<String> {
        self.conn.as_ref().map(|conn| conn.action_id_text(id))
    }

    /// Whether [`poll_transmit`](Self::poll_transmit) has bytes to give.
    pub fn has_transmit(&self) -> bool {
        self.conn.as_ref().is_some_and(Connection::has_transmit)
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    // ----- inputs -----

    /// A transport opened at `now`: a new connection starts (banner, login).
    /// Ignored unless a dial was wanted.
    pub fn handle_connected(&mut self, now: Instant) {
        self.open(now, Connection::numbered_from);
    }

    /// A transport without a banner (AMI over HTTP) is ready at `now`: a new
    /// connection starts logging in at once.
    pub(crate) fn handle_connected_without_banner(&mut self, now: Instant) {
        self.open(now, Connection::without_banner);
        self.drain(now);
    }

    fn open(&mut self, now: Instant, new: fn(Config, Instant, u64) -> Connection) {
        if !self.dialing || matches!(self.status, Status::Closed(_)) {
            return;
        }
        self.dialing = false;
        self.conn = Some(new(self.config.clone(), now, self.next_number));
        if !self.ever_up {
            self.set_status(Status::LoggingIn);
        }
    }

    /// The current connection, for the HTTP transport's hooks; call
    /// [`drain`](Self::drain) after using it.
    pub(crate) fn connection_mut(&mut self) -> Option<&mut Connection> {
        self.conn.as_mut()
    }

    /// The current connection is lost for `reason` (HTTP: the session expired,
    /// or its long-poll failed).
    pub(crate) fn handle_lost(&mut self, reason: Reason, now: Instant) {
        if let Some(conn) = &mut self.conn {
            conn.lose(reason);
            self.drain(now);
        }
    }

    /// Opening a transport failed, for `reason` (e.g. [`Reason::Connect`]).
    pub fn handle_dial_failed(&mut self, reason: Reason, now: Instant) {
        if !self.dialing || matches!(self.status, Status::Closed(_)) {
            return;
        }
        self.dialing = false;
        self.failed += 1;
        self.after_failure(reason, now);
    }

    /// Bytes received from the transport.
    pub fn feed(&mut self, data: &[u8], now: Instant) {
        if let Some(conn) = &mut self.conn {
            conn.feed(data, now);
            self.drain(now);
        }
    }

    /// Bytes received from the transport, parsed where they lie: the packets
    /// are slices of `data`, with no copy (see
    /// [`Connection::feed_bytes`](crate::Connection::feed_bytes)).
    ///
    /// ```
    /// use ami_proto::{Config, Session, Update};
    /// use bytes::Bytes;
    /// use std::time::Instant;
    ///
    /// let now = Instant::now();
    /// let mut session = Session::new(Config::default(), 7, now);
    /// session.handle_connected(now);
    /// session.feed_bytes(Bytes::from_static(b"Asterisk Call Manager/11.0.0\r\n"), now);
    /// let read = Bytes::from_static(b"Event: Hangup\r\nChannel: PJSIP/1\r\n\r\n");
    /// session.feed_bytes(read.clone(), now);
    /// let event = std::iter::from_fn(|| session.poll_update())
    ///     .find_map(|update| match update {
    ///         Update::Event(ami_proto::Event::Event(packet)) => Some(packet),
    ///         _ => None,
    ///     })
    ///     .unwrap();
    /// assert_eq!(event.as_bytes().as_ptr(), read.as_ptr()); // not copied
    /// ```
    pub fn feed_bytes(&mut self, data: bytes::Bytes, now: Instant) {
        if let Some(conn) = &mut self.conn {
            conn.feed_bytes(data, now);
            self.drain(now);
        }
    }

    /// The transport reached its end.
    pub fn handle_eof(&mut self, now: Instant) {
        if let Some(conn) = &mut self.conn {
            conn.handle_eof();
            self.drain(now);
        }
    }

    /// The transport failed.
    pub fn handle_io_error(&mut self, error: impl std::fmt::Display, now: Instant) {
        if let Some(conn) = &mut self.conn {
            conn.handle_io_error(error);
            self.drain(now);
        }
    }

    /// The transport failed for `reason` (e.g. [`Reason::Tls`]); see
    /// `Connection::handle_transport_error`.
    pub fn handle_transport_error(&mut self, reason: Reason, now: Instant) {
        if let Some(conn) = &mut self.conn {
            conn.handle_transport_error(reason);
            self.drain(now);
        }
    }

    /// Time passed: the connection's deadlines, or the end of a backoff (then
    /// [`transport`](Self::transport) says [`Transport::Dial`]).
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(conn) = &mut self.conn {
            conn.handle_timeout(now);
            self.drain(now);
        } else if self.redial_at.is_some_and(|at| now >= at) {
            self.redial_at = None;
            self.dialing = true;
        }
    }

    // ----- commands -----

    /// Sends an action; its completion comes later as an [`Update::Reply`].
    /// Refused at once: a bad action ([`Error::Invalid`], whatever the state),
    /// any action while no transport is open ([`Error::Down`]) or after the
    /// final close ([`Error::Closed`]).
    pub fn send_action(&mut self, action: Action, now: Instant) -> Result<ActionId, Error> {
        action.check()?;
        if let Status::Closed(reason) = &self.status {
            return Err(Error::Closed(reason.clone()));
        }
        let Some(conn) = &mut self.conn else {
            let reason = self.lost.as_ref().map(|(reason, _)| reason.clone());
            return Err(Error::Down(reason.unwrap_or(Reason::NotConnected)));
        };
        let sent = conn.send_action(action, now);
        self.next_number = conn.next_number();
        self.drain(now);
        sent.map_err(Error::from)
    }

    /// Closes for good: pending actions fail with [`Reason::ClosedByClient`],
    /// no reconnect follows. A session already closed keeps its reason.
    pub fn close(&mut self, now: Instant) {
        if matches!(self.status, Status::Closed(_)) {
            return;
        }
        match &mut self.conn {
            Some(conn) => {
                conn.close();
                self.drain(now);
            }
            None => self.finish(Reason::ClosedByClient),
        }
    }

    // ----- outputs -----

    /// Appends the bytes to write to `buf`; returns how many.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> usize {
        self.conn.as_mut().map_or(0, |conn| conn.poll_transmit(buf))
    }

    /// The next update.
    pub fn poll_update(&mut self) -> Option<Update> {
        self.updates.pop_update()
    }

    /// Moves to the end of `into` the events that come before the next update
    /// of another kind: what [`poll_update`](Self::poll_update) would give as
    /// [`Update::Event`]s, in order, up to that update. When `into` is empty
    /// and no other update waits, the buffers are swapped, not the events
    /// moved: a client takes a flood's events from each read in one go.
    ///
    /// ```
    /// use std::collections::VecDeque;
    /// use std::time::Instant;
    /// use ami_proto::{Config, Event, Session, Update};
    ///
    /// let now = Instant::now();
    /// let mut session = Session::new(Config::default(), 7, now);
    /// session.handle_connected(now);
    /// session.feed(b"Asterisk Call Manager/11.0.0\r\n", now); // no login: ready
    /// while session.poll_update().is_some() {} // the status changes
    /// session.feed(b"Event: Hangup\r\n\r\nEvent: Newchannel\r\n\r\n", now);
    /// let mut events = VecDeque::new();
    /// session.poll_events(&mut events);
    /// assert_eq!(events.len(), 2);
    /// assert!(matches!(&events[0], Event::Event(p) if p.event_name().unwrap() == "Hangup"));
    /// assert!(session.poll_update().is_none(), "taken");
    /// ```
    pub fn poll_events(&mut self, into: &mut VecDeque<Event>) {
        self.updates.take_events(into);
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.conn {
            Some(conn) => conn.poll_timeout(),
            None => self.redial_at,
        }
    }

    // ----- internals -----

    /// Moves the connection's outputs into updates.
    pub(crate) fn drain(&mut self, now: Instant) {
        let Some(conn) = &mut self.conn else {
            return;
        };
        self.next_number = conn.next_number();
        // The close reason comes after the failures it causes, as the last
        // output of a closed connection: decide first whether they are `Down`
        // (a reconnect follows) or `Closed`. Read from the connection's state,
        // so that the outputs are handled as they are taken, not gathered in a
        // list first (a copy of every event, and reallocations, per read).
        let closed = match conn.state() {
            crate::connection::State::Closed(reason) => Some(reason.clone()),
            _ => None,
        };
        let reconnecting = closed.map(|reason| {
            let redial = self.will_redial(&reason);
            (reason, redial)
        });
        loop {
            // The connection's events before its next other output go to the
            // updates whole (its buffer itself, when they are all it holds).
            let output = match &mut self.conn {
                Some(conn) => {
                    conn.move_events(&mut self.updates);
                    conn.poll_output()
                }
                None => None,
            };
            let Some(output) = output else {
                break;
            };
            match output {
                Output::Connected { version } => self.version = version,
                Output::Ready => self.on_ready(),
                Output::Reply { id, result } => {
                    // A failure caused by the close is Down when a reconnect
                    // follows, Closed when not; others (Timeout ...) as they are.
                    let result = result.map_err(|failure| match &reconnecting {
                        Some((reason, true)) if *reason == failure => Error::Down(failure),
                        Some((reason, false)) if *reason == failure => Error::Closed(failure),
                        _ => Error::from(failure),
                    });
                    self.updates.push(Update::Reply { id, result });
                }
                Output::ListItem { id, item } => self.updates.push(Update::ListItem { id, item }),
                Output::Event(packet) => self.publish(Event::Event(packet)),
                Output::Response(packet) => self.publish(Event::Unmatched(packet)),
                Output::Malformed(malformed) => self.publish(Event::Malformed(malformed)),
                Output::Closed(reason) => self.on_closed(reason, now),
            }
        }
    }

    fn publish(&mut self, event: Event) {
        self.updates.push(Update::Event(event));
    }

    fn set_status(&mut self, status: Status) {
        if self.status != status {
            self.status = status.clone();
            self.updates.push(Update::Status(status));
        }
    }

    fn on_ready(&mut self) {
        self.up = true;
        self.failed = 0;
        self.lost = None;
        if std::mem::replace(&mut self.ever_up, true) {
            self.publish(Event::Reconnected);
        }
        self.set_status(Status::Ready);
    }

    /// The current connection closed.
    fn on_closed(&mut self, reason: Reason, now: Instant) {
        self.conn = None;
        self.version = None;
        let was_up = std::mem::take(&mut self.up);
        if was_up || !self.ever_up {
            self.publish(Event::Disconnected(reason.clone()));
        }
        if was_up {
            self.failed = 0;
            self.lost = Some((reason.clone(), now));
        } else {
            self.failed += 1;
        }
        self.after_failure(reason, now);
    }

    /// Whether a loss for `reason` of the current connection leads to a redial.
    fn will_redial(&self, reason: &Reason) -> bool {
        let failed = if self.up { 0 } else { self.failed + 1 };
        self.may_redial(reason, failed)
    }

    fn may_redial(&self, reason: &Reason, failed: u32) -> bool {
        let ever_up = self.ever_up || self.up;
        match self.config.reconnect {
            Some(policy) => ever_up && reason.is_reconnectable() && policy.allows(failed),
            None => false,
        }
    }

    /// After a dial or a connection failed: back off and redial, or close for good.
    fn after_failure(&mut self, reason: Reason, now: Instant) {
        let (Some(policy), true) = (self.config.reconnect, self.may_redial(&reason, self.failed))
        else {
            return self.finish(reason);
        };
        let delay = policy.delay(self.failed, self.next_random());
        self.redial_at = Some(now + delay);
        let since = self.lost.as_ref().map_or(now, |(_, since)| *since);
        self.set_status(Status::Reconnecting {
            attempt: self.failed,
            since,
        });
    }

    /// Closed for good.
    fn finish(&mut self, reason: Reason) {
        self.conn = None;
        self.dialing = false;
        self.redial_at = None;
        self.set_status(Status::Closed(reason));
    }

    /// splitmix64: a full-period generator, enough for jitter.
    fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}
