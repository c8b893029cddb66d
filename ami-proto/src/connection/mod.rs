//! The connection state machine: login, correlation, lists, timeouts, keepalive.

mod config;
mod error;
mod http_hooks;
mod id;
mod pending;
mod reply;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::time::Instant;

pub use config::{AuthMethod, Config, Credentials, Keepalive};
pub use error::Reason;
pub(crate) use http_hooks::Forgotten;
pub use id::ActionId;
pub use reply::{List, ListMismatch, OriginateOutcome, Reply};

use crate::action::{Action, Expect};
use crate::client::Event;
use crate::packet::{starts_with_ignore_case, Packet, PacketKind};
use crate::parser::{Malformed, Parsed, Parser};
use crate::updates::{Outputs, Updates};
use pending::{Internal, Origin, Pending, PendingTable, Phase};

/// Where the session is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum State {
    /// Waiting for the server's banner line.
    AwaitingBanner,
    /// MD5 login: waiting for the challenge.
    Challenging,
    /// Waiting for the login response.
    LoggingIn,
    /// Logged in (or no login configured): actions flow.
    Ready,
    /// Closed; every call returns this reason.
    Closed(Reason),
}

/// What the connection has for the application; see [`Connection::poll_output`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output {
    /// The banner arrived; `version` is the AMI version after the `/`.
    Connected {
        /// AMI protocol version (not the Asterisk version); `None` for a banner
        /// without one.
        version: Option<String>,
    },
    /// Login succeeded (also emitted, right after `Connected`, when no login is
    /// configured). Queued actions are now written.
    Ready,
    /// An action completed: with its reply, or with why it has none.
    Reply {
        /// The action.
        id: ActionId,
        /// Its reply or failure.
        result: Result<Reply, Reason>,
    },
    /// One item of a list sent with [`Action::stream_list`].
    ListItem {
        /// The list's action.
        id: ActionId,
        /// The item event.
        item: Packet,
    },
    /// An event that is not part of any pending reply (including events carrying
    /// other sessions' ActionIDs, and `UserEvent` echoes).
    Event(Packet),
    /// A response that matches no pending action (e.g. a late reply to an action
    /// that timed out, or a refused `Filter`), or a packet that is neither a
    /// response nor an event (its first line is not `Response:`/`Event:`).
    Response(Packet),
    /// A packet the parser dropped; the stream goes on.
    Malformed(Malformed),
    /// The connection closed. Emitted once, after every pending action's failure.
    Closed(Reason),
}

/// The sans-IO AMI client session.
///
/// # Driving contract
///
/// A `Connection` never reads a clock or touches a socket. Its methods come in four
/// kinds:
///
/// - **Getters** (`&self`): [`state`](Self::state), [`action_id_text`](Self::action_id_text),
///   [`in_flight`](Self::in_flight).
/// - **Inputs**, from the transport: [`feed`](Self::feed) (bytes received),
///   [`handle_timeout`](Self::handle_timeout) (the instant from `poll_timeout` was
///   reached; extra calls are harmless), [`handle_eof`](Self::handle_eof),
///   [`handle_io_error`](Self::handle_io_error).
/// - **Commands**, from the application: [`send_action`](Self::send_action),
///   [`logoff`](Self::logoff), [`close`](Self::close).
/// - **Outputs**: [`poll_transmit`](Self::poll_transmit) (bytes to write),
///   [`poll_output`](Self::poll_output) (replies, events, closure),
///   [`poll_timeout`](Self::poll_timeout) (when to call `handle_timeout` next).
///
/// After every input or command, drain the outputs in this order: write what
/// `poll_transmit` appends, take `poll_output` until `None`, then re-arm one timer
/// at `poll_timeout`. Every input that depends on time takes `now`.
///
/// Every action sent completes exactly once, as an [`Output::Reply`]: with its
/// reply, with [`Reason::Timeout`], or with the close reason when the connection
/// closes (all at once, before [`Output::Closed`]).
///
/// ```
/// use std::time::{Duration, Instant};
/// use ami_proto::{Action, Config, Connection, Credentials, Output};
///
/// let config = Config {
///     credentials: Some(Credentials::plain("admin", "amp111")),
///     id_prefix: Some("t-".into()),
///     ..Config::default()
/// };
/// let now = Instant::now();
/// let mut conn = Connection::new(config, now);
/// let ping = conn.send_action(Action::new("Ping"), now).unwrap(); // queued until login
///
/// // The canonical loop, with a scripted "server" instead of a socket.
/// let mut wire = Vec::new();
/// let server_says: [&[u8]; 2] = [
///     b"Asterisk Call Manager/11.0.0\r\n",
///     b"Response: Success\r\nActionID: t-1\r\nMessage: Authentication accepted\r\n\r\n",
/// ];
/// for bytes in server_says {
///     conn.feed(bytes, now);
///     conn.poll_transmit(&mut wire); // write these to the socket
///     while let Some(output) = conn.poll_output() {
///         println!("{output:?}");
///     }
///     let _wake_at = conn.poll_timeout(); // arm the timer
/// }
/// // The Ping (t-0) was queued and written after the Login (t-1) succeeded.
/// assert!(String::from_utf8_lossy(&wire).ends_with("Action: Ping\r\nActionID: t-0\r\n\r\n"));
///
/// conn.feed(b"Response: Success\r\nActionID: t-0\r\nPing: Pong\r\n\r\n", now);
/// match conn.poll_output() {
///     Some(Output::Reply { id, result: Ok(reply) }) => {
///         assert_eq!(id, ping);
///         assert_eq!(reply.response().get("Ping").unwrap(), "Pong");
///     }
///     other => panic!("{other:?}"),
/// }
///
/// // Time is an argument: nothing answers this one, so it times out.
/// let lost = conn.send_action(Action::new("Ping"), now).unwrap();
/// conn.handle_timeout(now + Duration::from_secs(11));
/// assert!(matches!(
///     conn.poll_output(),
///     Some(Output::Reply { id, result: Err(ami_proto::Reason::Timeout) }) if id == lost
/// ));
/// ```
#[derive(Debug)]
pub struct Connection {
    config: Config,
    parser: Parser,
    state: State,
    prefix: String,
    next_number: u64,
    pending: PendingTable,
    /// User actions not yet written (waiting for login or an in-flight slot).
    queue: VecDeque<(u64, Action)>,
    /// Written actions waiting for their response.
    in_flight: usize,
    /// Written synchronous Originates: the server is silent while one runs.
    blocking: usize,
    deadlines: BinaryHeap<Reverse<(Instant, u64)>>,
    login_deadline: Option<Instant>,
    last_rx: Instant,
    /// Keepalive Ping in flight: its number and when it was sent.
    ping: Option<(u64, Instant)>,
    transmit: Vec<u8>,
    outputs: Outputs,
    /// Caller-set ActionIDs of pending actions, to their numbers.
    custom_ids: HashMap<Box<str>, u64>,
}

impl Connection {
    /// A new session, created when the transport connected at `now`. If credentials
    /// are set, it logs in as soon as the banner arrives; actions sent before then
    /// are queued and written after login.
    pub fn new(config: Config, now: Instant) -> Self {
        let prefix = match &config.id_prefix {
            Some(prefix) if id::valid_prefix(prefix) => prefix.clone(),
            _ => id::random_prefix(),
        };
        let parser = Parser::with_limits(config.limits);
        Connection {
            login_deadline: Some(now + config.login_timeout),
            config,
            parser,
            state: State::AwaitingBanner,
            prefix,
            next_number: 0,
            pending: PendingTable::default(),
            queue: VecDeque::new(),
            in_flight: 0,
            blocking: 0,
            deadlines: BinaryHeap::new(),
            last_rx: now,
            ping: None,
            transmit: Vec::new(),
            outputs: Outputs::default(),
            custom_ids: HashMap::new(),
        }
    }

    /// A connection whose ActionID numbers start at `first`, so that the
    /// connections of one [`Session`](crate::Session) never reuse an [`ActionId`].
    pub(crate) fn numbered_from(config: Config, now: Instant, first: u64) -> Self {
        let mut conn = Connection::new(config, now);
        conn.next_number = first;
        conn
    }

    /// The number the next action will get.
    pub(crate) fn next_number(&self) -> u64 {
        self.next_number
    }

    // ----- getters -----

    /// The session's state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The ActionID text this connection writes for `id`.
    pub fn action_id_text(&self, id: ActionId) -> String {
        let mut buf = [0u8; 96];
        id::format_id(&self.prefix, id.0, &mut buf).to_owned()
    }

    /// Whether [`poll_transmit`](Self::poll_transmit) has bytes to give.
    pub fn has_transmit(&self) -> bool {
        !self.transmit.is_empty()
    }

    /// Actions sent and not yet completed (queued, in flight or mid-list).
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    // ----- inputs -----

    /// Bytes received from the server at `now`.
    pub fn feed(&mut self, data: &[u8], now: Instant) {
        if matches!(self.state, State::Closed(_)) {
            return;
        }
        self.parser.feed(data);
        self.process_input(now);
    }

    /// Bytes received from the server at `now`, parsed where they lie: the
    /// packets are slices of `data` (see [`Parser::feed_bytes`](crate::Parser::feed_bytes)),
    /// only an incomplete packet at its end is copied. The same items as
    /// [`feed`](Self::feed) gives for the same bytes.
    pub fn feed_bytes(&mut self, data: bytes::Bytes, now: Instant) {
        if matches!(self.state, State::Closed(_)) {
            return;
        }
        self.parser.feed_bytes(data);
        self.process_input(now);
    }

    /// The parser's input buffer, for adapters that read straight into it; call
    /// [`handle_read`](Self::handle_read) after appending.
    pub fn read_buffer(&mut self, additional: usize) -> &mut bytes::BytesMut {
        self.parser.reserve(additional);
        self.parser.buffer_mut()
    }

    /// Processes bytes appended to [`read_buffer`](Self::read_buffer) at `now`.
    pub fn handle_read(&mut self, now: Instant) {
        if !matches!(self.state, State::Closed(_)) {
            self.process_input(now);
        }
    }

    /// Time passed: fails expired actions, sends a keepalive Ping, detects a dead
    /// link or a login that took too long.
    pub fn handle_timeout(&mut self, now: Instant) {
        if matches!(self.state, State::Closed(_)) {
            return;
        }
        if self.login_deadline.is_some_and(|deadline| now >= deadline) {
            self.close_with(Reason::LoginTimeout);
            return;
        }
        self.expire_actions(now);
        self.drive_keepalive(now);
    }

    /// The server closed the connection. An incomplete trailing packet is dropped.
    pub fn handle_eof(&mut self) {
        self.close_with(Reason::Eof);
    }

    /// The transport failed.
    pub fn handle_io_error(&mut self, error: impl std::fmt::Display) {
        self.close_with(Reason::Io(error.to_string()));
    }

    /// The transport failed, for a reason the caller knows better than
    /// [`Reason::Io`], e.g. [`Reason::Tls`] when the server's TLS layer sends
    /// an alert after the handshake (a refused client certificate).
    pub fn handle_transport_error(&mut self, reason: Reason) {
        self.close_with(reason);
    }

    // ----- commands -----

    /// Sends an action and returns its id; its completion comes later as an
    /// [`Output::Reply`]. A refused action (see [`Action::check`]) returns
    /// [`Reason::Encode`] and writes nothing; on a closed connection, the close reason.
    pub fn send_action(&mut self, action: Action, now: Instant) -> Result<ActionId, Reason> {
        if let State::Closed(reason) = &self.state {
            return Err(reason.clone());
        }
        action.check()?;
        let custom_id = self.claim_custom_id(&action)?;
        let number = self.allocate_number();
        if let Some(id) = &custom_id {
            self.custom_ids.insert(id.clone(), number);
        }
        let timeout = action
            .requested_timeout()
            .unwrap_or(self.config.action_timeout);
        let deadline = now + timeout;
        self.pending.insert(
            number,
            Pending {
                origin: Origin::User,
                phase: Phase::Queued,
                expect: action.expect(),
                stream_list: action.streams_list(),
                blocking: is_sync_originate(&action),
                deadline,
                timeout,
                custom_id,
            },
        );
        self.deadlines.push(Reverse((deadline, number)));
        self.queue.push_back((number, action));
        self.write_queued();
        Ok(ActionId(number))
    }

    /// Sends `Logoff`: the same as `send_action(Action::new("Logoff"))`, so
    /// adapters need no separate path. Its reply is the `Goodbye` response, after
    /// which the connection closes with [`Reason::LoggedOff`]: whatever is still
    /// pending fails with that reason.
    pub fn logoff(&mut self, now: Instant) -> Result<ActionId, Reason> {
        self.send_action(Action::new("Logoff"), now)
    }

    /// Closes the session locally: every pending action fails with
    /// [`Reason::ClosedByClient`]. The adapter then closes the transport.
    pub fn close(&mut self) {
        self.close_with(Reason::ClosedByClient);
    }

    // ----- outputs -----

    /// Appends the bytes to write to `buf`. Returns how many were appended.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> usize {
        let len = self.transmit.len();
        if buf.is_empty() {
            std::mem::swap(buf, &mut self.transmit);
        } else {
            buf.append(&mut self.transmit);
        }
        len
    }

    /// The next output, in the order things happened.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_output()
    }

    /// Moves the events (with unmatched responses and malformed packets)
    /// that come before the next other output to `to`, whole: see
    /// [`Lanes::take_events`](crate::updates::Lanes::take_events).
    pub(crate) fn move_events(&mut self, to: &mut Updates) {
        self.outputs.move_events(to);
    }

    /// The next instant at which [`handle_timeout`](Self::handle_timeout) must be
    /// called, or `None` when nothing is timed (or the connection is closed).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if matches!(self.state, State::Closed(_)) {
            return None;
        }
        let action = self.deadlines.peek().map(|Reverse((at, _))| *at);
        [action, self.login_deadline, self.keepalive_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    // ----- internals: input -----

    fn process_input(&mut self, now: Instant) {
        self.last_rx = now;
        while let Some(item) = self.parser.next() {
            match item {
                Parsed::Banner(banner) => self.on_banner(banner.version().map(str::to_owned)),
                Parsed::Packet(packet) => self.on_packet(packet, now),
                Parsed::Malformed(malformed) => {
                    self.outputs.push_event(Event::Malformed(malformed))
                }
            }
            if matches!(self.state, State::Closed(_)) {
                return;
            }
        }
    }

    fn on_banner(&mut self, version: Option<String>) {
        self.outputs.push_other(Output::Connected { version });
        let Some(credentials) = self.config.credentials.clone() else {
            self.become_ready();
            return;
        };
        match credentials.auth {
            crate::AuthMethod::Plain => {
                let login = self
                    .login_action(&credentials)
                    .header("Secret", &credentials.secret);
                self.state = State::LoggingIn;
                self.send_internal(login, Internal::Login);
            }
            crate::AuthMethod::Md5 => {
                let challenge = Action::new("Challenge").header("AuthType", "MD5");
                self.state = State::Challenging;
                self.send_internal(challenge, Internal::Challenge);
            }
        }
    }

    /// The server's message about a refused login, with the user and method
    /// it is about.
    fn login_context(&self, message: &str) -> String {
        match &self.config.credentials {
            Some(credentials) => {
                let method = match credentials.auth {
                    crate::AuthMethod::Plain => "plain",
                    crate::AuthMethod::Md5 => "MD5",
                };
                format!(
                    "{message} (user {:?}, {method} login)",
                    credentials.username
                )
            }
            None => message.to_owned(),
        }
    }

    fn login_action(&self, credentials: &Credentials) -> Action {
        let login = Action::new("Login").header("Username", &credentials.username);
        // With filters, events stay off until they are in force (see `after_login`).
        let events = match self.config.filters.is_empty() {
            true => self.config.events.as_deref(),
            false => Some("off"),
        };
        match events {
            Some(events) => login.header("Events", events),
            None => login,
        }
    }

    fn on_packet(&mut self, packet: Packet, now: Instant) {
        match packet.kind() {
            PacketKind::Response => self.on_response(packet, now),
            PacketKind::Event => self.on_event(packet, now),
            PacketKind::Action | PacketKind::Other => {
                self.outputs.push_event(Event::Unmatched(packet))
            }
        }
    }

    /// The pending action a packet's ActionID names, if it is one of ours:
    /// the connection's own form, or a caller-set one still pending.
    fn own_number(&self, packet: &Packet) -> Option<u64> {
        let id = packet.action_id()?;
        id::parse_id(self.prefix.as_bytes(), id.as_bytes()).or_else(|| {
            if self.custom_ids.is_empty() {
                return None;
            }
            let text = std::str::from_utf8(id.as_bytes()).ok()?;
            self.custom_ids.get(text).copied()
        })
    }

    /// Checks a caller-set ActionID: unique among pending actions and not in
    /// the connection's own form.
    fn claim_custom_id(&self, action: &Action) -> Result<Option<Box<str>>, Reason> {
        let Some(id) = action.caller_action_id() else {
            return Ok(None);
        };
        let ours = id::parse_id(self.prefix.as_bytes(), id.as_bytes()).is_some();
        if ours || self.custom_ids.contains_key(id) {
            let id = id.to_owned();
            return Err(Reason::Encode(crate::EncodeError::DuplicateActionId { id }));
        }
        Ok(Some(id.into()))
    }

    /// Forgets a completed action's caller-set ActionID.
    fn release_custom_id(&mut self, pending: &Pending) {
        if let Some(id) = &pending.custom_id {
            self.custom_ids.remove(id);
        }
    }

    fn on_response(&mut self, packet: Packet, now: Instant) {
        let number = match packet.action_id() {
            Some(_) => self.own_number(&packet),
            None => self.pending.oldest_awaiting_response(),
        };
        let awaiting = number.and_then(|n| {
            let pending = self.pending.get_mut(n)?;
            (pending.phase == Phase::AwaitingResponse).then_some((n, pending.origin))
        });
        let Some((number, origin)) = awaiting else {
            self.outputs.push_event(Event::Unmatched(packet));
            return;
        };
        self.in_flight -= 1;
        if let Some(pending) = self.pending.get_mut(number) {
            if pending.blocking {
                self.blocking -= 1;
            }
        }
        match origin {
            Origin::User => self.on_user_response(number, packet, now),
            Origin::Internal(internal) => self.on_internal_response(number, internal, packet),
        }
        self.write_queued();
    }

    fn on_user_response(&mut self, number: u64, packet: Packet, now: Instant) {
        let goodbye = packet.is("Response", "Goodbye");
        let Some(pending) = self.pending.get_mut(number) else {
            return;
        };
        let failed = packet.is_error();
        if !failed && opens_list(&packet, pending.expect) {
            pending.phase = Phase::List {
                response: packet,
                items: Vec::new(),
                received: 0,
            };
            return;
        }
        if !failed && pending.expect == Expect::OriginateOutcome {
            pending.phase = Phase::Originate { response: packet };
            pending.deadline = now + self.config.originate_timeout;
            return;
        }
        let reply = match pending.expect {
            Expect::OriginateOutcome => Reply::Originate(Box::new(OriginateOutcome {
                response: packet,
                event: None,
            })),
            Expect::Response | Expect::List => Reply::Response(packet),
        };
        self.complete(number, Ok(reply));
        if goodbye {
            self.close_with(Reason::LoggedOff);
        }
    }

    fn on_internal_response(&mut self, number: u64, internal: Internal, packet: Packet) {
        self.pending.remove(number);
        match internal {
            Internal::Challenge => self.on_challenge(&packet),
            Internal::Login => {
                if packet.is("Response", "Success") {
                    self.after_login();
                } else {
                    let message = packet
                        .message()
                        .map_or_else(String::new, |m| m.to_str_lossy().into_owned());
                    let message = self.login_context(&message);
                    self.close_with(Reason::AuthFailed(message));
                }
            }
            Internal::Filter => {
                if !packet.is("Response", "Success") {
                    let message = packet.message().map_or_else(String::new, |m| m.to_string());
                    self.close_with(Reason::FilterRefused(message));
                }
            }
            Internal::EventMask => {
                if packet.is("Response", "Success") {
                    self.become_ready();
                } else {
                    let message = packet.message().map_or_else(String::new, |m| m.to_string());
                    self.close_with(Reason::Protocol(format!("Events refused: {message}")));
                }
            }
            Internal::Ping => {
                self.ping = None;
            }
        }
    }

    fn on_challenge(&mut self, packet: &Packet) {
        let challenge = packet
            .get("Challenge")
            .and_then(|v| v.as_str().map(str::to_owned));
        let (Some(challenge), Some(credentials)) = (challenge, self.config.credentials.clone())
        else {
            let message = packet
                .message()
                .map_or_else(|| "no challenge in reply".to_owned(), |m| m.to_string());
            let message = self.login_context(&message);
            self.close_with(Reason::AuthFailed(message));
            return;
        };
        let key = crate::md5_key(&challenge, &credentials.secret);
        let login = self
            .login_action(&credentials)
            .header("AuthType", "MD5")
            .header("Key", key);
        self.state = State::LoggingIn;
        self.send_internal(login, Internal::Login);
    }

    fn on_event(&mut self, packet: Packet, now: Instant) {
        let Some(number) = self.own_number(&packet) else {
            self.outputs.push_event(Event::Event(packet));
            return;
        };
        let Some(pending) = self.pending.get_mut(number) else {
            self.outputs.push_event(Event::Event(packet));
            return;
        };
        match &mut pending.phase {
            Phase::List {
                response,
                items,
                received,
            } => {
                if closes_list(&packet) {
                    let list = List {
                        response: response.clone(),
                        items: std::mem::take(items),
                        complete: packet,
                        received: *received,
                    };
                    self.complete(number, Ok(Reply::List(Box::new(list))));
                } else {
                    *received += 1;
                    pending.deadline = now + pending.timeout;
                    if pending.stream_list {
                        self.outputs.push_other(Output::ListItem {
                            id: ActionId(number),
                            item: packet,
                        });
                    } else if items.len() >= self.config.max_list_items {
                        let limit = self.config.max_list_items;
                        self.complete(number, Err(Reason::ListTooLarge { limit }));
                        self.outputs.push_event(Event::Event(packet));
                    } else {
                        items.push(packet);
                    }
                }
            }
            Phase::Originate { response }
                if packet.event_name().is_some_and(|name| {
                    name.as_bytes().eq_ignore_ascii_case(b"OriginateResponse")
                }) =>
            {
                let outcome = OriginateOutcome {
                    response: response.clone(),
                    event: Some(packet),
                };
                self.complete(number, Ok(Reply::Originate(Box::new(outcome))));
            }
            _ => self.outputs.push_event(Event::Event(packet)),
        }
    }

    // ----- internals: sending -----

    fn allocate_number(&mut self) -> u64 {
        let number = self.next_number;
        self.next_number += 1;
        number
    }

    /// Writes one of the connection's own actions at once, ahead of queued ones.
    /// A refused one closes the session, so callers set their state first.
    fn send_internal(&mut self, action: Action, internal: Internal) -> u64 {
        let number = self.allocate_number();
        // `last_rx` is the time of the input being handled: internal actions are
        // only ever sent while handling one.
        let deadline = self.last_rx + self.config.action_timeout;
        let mut buf = [0u8; 96];
        let id_text = id::format_id(&self.prefix, number, &mut buf);
        // Internal actions are built from checked parts; a refusal (e.g. a secret
        // holding CR/LF) ends the session instead of writing a broken action.
        if let Err(error) = action.encode(id_text, &mut self.transmit) {
            self.close_with(Reason::Encode(error));
            return number;
        }
        self.pending.insert(
            number,
            Pending {
                origin: Origin::Internal(internal),
                phase: Phase::AwaitingResponse,
                expect: Expect::Response,
                stream_list: false,
                blocking: false,
                deadline,
                timeout: self.config.action_timeout,
                custom_id: None,
            },
        );
        // The keepalive Ping is bounded by the keepalive's own silence rule, not by
        // an action deadline (which would quietly retire it and ping forever).
        if internal != Internal::Ping {
            self.deadlines.push(Reverse((deadline, number)));
        }
        self.in_flight += 1;
        number
    }

    /// Writes queued user actions while logged in and under the in-flight cap.
    fn write_queued(&mut self) {
        if self.state != State::Ready {
            return;
        }
        while self.in_flight < self.config.max_in_flight.max(1) {
            let Some((number, action)) = self.queue.pop_front() else {
                return;
            };
            let Some(pending) = self.pending.get_mut(number) else {
                continue; // timed out while queued
            };
            pending.phase = Phase::AwaitingResponse;
            if pending.blocking {
                self.blocking += 1;
            }
            let mut buf = [0u8; 96];
            let id_text = id::format_id(&self.prefix, number, &mut buf);
            // Checked in send_action; encoding cannot fail here.
            let _ = action.encode(id_text, &mut self.transmit);
            self.in_flight += 1;
        }
    }

    /// Logged in. Without filters the session is ready. With filters, the
    /// login asked for `Events: off`: the filters go first, then the mask is
    /// turned on (`Action: Events`), and the session is ready at its reply, so
    /// no event a filter blocks is ever delivered (on Asterisk 22, events flow
    /// between the login reply and a Filter's reply).
    fn after_login(&mut self) {
        if self.config.filters.is_empty() {
            return self.become_ready();
        }
        for filter in self.session_filters() {
            let action = Action::new("Filter")
                .header("Operation", "Add")
                .header("Filter", filter);
            self.send_internal(action, Internal::Filter);
        }
        let mask = self.config.events.clone().unwrap_or_else(|| "on".into());
        let events = Action::new("Events").header("EventMask", mask);
        self.send_internal(events, Internal::EventMask);
    }

    /// The configured filters, plus one that lets `OriginateResponse` through
    /// when any of them is a whitelist: on Asterisk 22 a whitelist filter such as
    /// `Event: Hangup` also blocks `OriginateResponse`, and an async Originate
    /// would never learn its outcome.
    fn session_filters(&self) -> Vec<String> {
        let mut filters = self.config.filters.clone();
        if filters.iter().any(|f| !f.starts_with('!')) {
            filters.push(ORIGINATE_RESPONSE_FILTER.to_owned());
        }
        filters
    }

    fn become_ready(&mut self) {
        self.state = State::Ready;
        self.login_deadline = None;
        self.outputs.push_other(Output::Ready);
        self.write_queued();
    }

    // ----- internals: completion and time -----

    fn complete(&mut self, number: u64, result: Result<Reply, Reason>) {
        self.compact_deadlines();
        if let Some(pending) = self.pending.remove(number) {
            self.release_custom_id(&pending);
            if pending.origin == Origin::User {
                self.outputs.push_other(Output::Reply {
                    id: ActionId(number),
                    result,
                });
            }
        }
    }

    /// Drops the timer entries of completed actions once they outnumber the live
    /// ones, so the heap stays proportional to what is pending rather than to
    /// the action rate times the timeout. Amortised O(1) per completion.
    fn compact_deadlines(&mut self) {
        if self.deadlines.len() > 64 && self.deadlines.len() > 2 * self.pending.len() {
            let pending = &self.pending;
            self.deadlines
                .retain(|Reverse((_, number))| pending.contains(*number));
        }
    }

    fn expire_actions(&mut self, now: Instant) {
        while let Some(&Reverse((deadline, number))) = self.deadlines.peek() {
            if deadline > now {
                break;
            }
            self.deadlines.pop();
            let Some(pending) = self.pending.get_mut(number) else {
                continue;
            };
            if pending.deadline > deadline {
                // Moved later (list progress, originate queued): wake again then.
                self.deadlines.push(Reverse((pending.deadline, number)));
                continue;
            }
            if pending.phase == Phase::AwaitingResponse {
                self.in_flight -= 1;
                if pending.blocking {
                    self.blocking -= 1;
                }
            }
            self.complete(number, Err(Reason::Timeout));
        }
        self.write_queued();
    }

    /// Next keepalive instant: when to send a Ping, or when an unanswered one
    /// proves the link dead.
    fn keepalive_deadline(&self) -> Option<Instant> {
        let keepalive = self.config.keepalive?;
        if self.state != State::Ready || self.blocking > 0 {
            return None;
        }
        Some(match self.ping {
            Some(_) => self.last_rx + keepalive.timeout,
            None => self.last_rx + keepalive.interval,
        })
    }

    fn drive_keepalive(&mut self, now: Instant) {
        let Some(keepalive) = self.config.keepalive else {
            return;
        };
        let Some(at) = self.keepalive_deadline() else {
            return;
        };
        if now < at {
            return;
        }
        match self.ping {
            // Nothing at all arrived for `timeout` since the Ping (or since the
            // last byte after it): the link is dead.
            Some((_, sent)) if self.last_rx.max(sent) + keepalive.timeout <= now => {
                self.close_with(Reason::KeepaliveTimeout);
            }
            Some(_) => {}
            None => {
                // Measure silence from the Ping on.
                self.last_rx = now;
                let number = self.send_internal(Action::new("Ping"), Internal::Ping);
                self.ping = Some((number, now));
            }
        }
    }

    fn close_with(&mut self, reason: Reason) {
        if matches!(self.state, State::Closed(_)) {
            return;
        }
        self.state = State::Closed(reason.clone());
        self.queue.clear();
        self.deadlines.clear();
        self.login_deadline = None;
        self.ping = None;
        self.in_flight = 0;
        self.blocking = 0;
        let failed: Vec<(u64, Pending)> = self.pending.drain().collect();
        self.custom_ids.clear();
        for (number, pending) in failed {
            if pending.origin == Origin::User {
                self.outputs.push_other(Output::Reply {
                    id: ActionId(number),
                    result: Err(reason.clone()),
                });
            }
        }
        self.outputs.push_other(Output::Closed(reason));
    }
}

/// The whitelist filter added next to a caller's whitelist, so that async
/// Originate outcomes still arrive.
pub const ORIGINATE_RESPONSE_FILTER: &str = "Event: OriginateResponse";

/// Whether a `Success` response starts a list.
fn opens_list(response: &Packet, expect: Expect) -> bool {
    if response.is("EventList", "start") || expect == Expect::List {
        return true;
    }
    // Before Asterisk 13.2 lists had no EventList; their acks say "... will follow".
    response.get("EventList").is_none()
        && response.message().is_some_and(|message| {
            let text = message.as_bytes();
            text.len() >= 11 && text[text.len() - 11..].eq_ignore_ascii_case(b"will follow")
        })
}

/// Whether an event with a list's ActionID closes it.
fn closes_list(event: &Packet) -> bool {
    event.is("EventList", "Complete")
        || event.event_name().is_some_and(|name| {
            let name = name.as_bytes();
            name.len() >= 8 && starts_with_ignore_case(&name[name.len() - 8..], b"Complete")
        })
}

fn is_sync_originate(action: &Action) -> bool {
    action.name().eq_ignore_ascii_case("Originate") && action.expect() != Expect::OriginateOutcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answered_actions_leave_no_timers_behind() {
        let now = Instant::now();
        let config = Config {
            keepalive: None,
            id_prefix: Some("t-".into()),
            ..Config::default()
        };
        let mut conn = Connection::new(config, now);
        conn.feed(b"Asterisk Call Manager/11.0.0\r\n", now);
        for _ in 0..10_000 {
            let id = conn.send_action(Action::new("Ping"), now).unwrap();
            let reply = format!(
                "Response: Success\r\nActionID: {}\r\nPing: Pong\r\n\r\n",
                conn.action_id_text(id)
            );
            conn.feed(reply.as_bytes(), now);
        }
        assert_eq!(conn.in_flight(), 0);
        assert!(
            conn.deadlines.len() <= 64,
            "{} timers",
            conn.deadlines.len()
        );
    }
}
