//! AMI over HTTP: Asterisk's `/rawman` transport (AJAM), sans-IO.
//!
//! Over HTTP each action is one request whose parameters are its headers, the
//! answer body holds the same packets as on TCP, a session cookie
//! (`mansession_id`, valid `Max-Age` seconds after the last request) ties the
//! requests together, and events are fetched by long-polling `WaitEvent`.
//!
//! [`HttpSession`] runs that on top of the same state machine as TCP (login,
//! MD5 challenge, event mask and filters, ActionID correlation, lists, async
//! Originate outcomes, timeouts) and the same supervisor (status, re-login
//! under the reconnect policy), and says which HTTP requests to make. The HTTP
//! exchange itself (connections, TLS, chunked bodies) is the adapter's.

mod form;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

pub use form::{decode_component, decode_form, encode_form};

use crate::action::Action;
use crate::client::{Error, Event};
use crate::connection::{ActionId, Config, Forgotten, Reason};
use crate::packet::Packet;
use crate::session::{Session, Status, Update};

/// Longest `WaitEvent` long-poll asked for. Asterisk clamps it further to
/// `Max-Age - 10` seconds.
pub const MAX_LONG_POLL: Duration = Duration::from_secs(30);

/// Longest query string sent with GET; longer parameters go in a POST form body
/// (Asterisk reads request lines of a few KB, bodies up to 40 KB).
pub const MAX_QUERY_LEN: usize = 2000;

/// How long after a long-poll that came back early and empty the next one
/// goes out.
pub const EARLY_POLL_PAUSE: Duration = Duration::from_secs(1);

/// The session lifetime assumed until the server states one (Asterisk's
/// default `httptimeout`).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(60);

/// Identifies one request; pass it back with its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(u64);

impl RequestId {
    /// The counter value.
    pub fn number(self) -> u64 {
        self.0
    }
}

/// Which HTTP connection a request goes on: the long-poll must not hold up actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lane {
    /// Actions (login, the application's actions, keepalive): many may be in flight.
    Action,
    /// The `WaitEvent` long-poll: at most one in flight, on a connection of its own.
    Events,
}

/// The HTTP method of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Parameters in the query string.
    Get,
    /// Parameters in an `application/x-www-form-urlencoded` body.
    Post,
}

/// One HTTP request to make; see [`HttpSession::poll_request`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpRequest {
    /// Pass it back to [`HttpSession::handle_response`] or
    /// [`HttpSession::handle_failure`].
    pub id: RequestId,
    /// Which connection to use.
    pub lane: Lane,
    /// GET (query string) or POST (form body).
    pub method: Method,
    /// The path, `/rawman` under the base path, without query.
    pub path: String,
    /// The parameters (the action's headers, in order, repeats kept), decoded.
    pub params: Vec<(String, Vec<u8>)>,
    /// The parameters URL-encoded: the query string (GET) or the body (POST).
    pub form: String,
    /// The `Cookie` header value (`mansession_id=<hex>`), when there is a session.
    pub cookie: Option<String>,
    /// When the core gives up on this exchange (the long-poll); the adapter may
    /// abort it then. Actions are bounded by their own deadlines in the core.
    pub deadline: Option<Instant>,
}

impl HttpRequest {
    /// The request target: `path?form` for GET, the path for POST.
    pub fn target(&self) -> String {
        match self.method {
            Method::Get => format!("{}?{}", self.path, self.form),
            Method::Post => self.path.clone(),
        }
    }

    /// The body: the form for POST, `None` for GET.
    pub fn body(&self) -> Option<&[u8]> {
        match self.method {
            Method::Get => None,
            Method::Post => Some(self.form.as_bytes()),
        }
    }

    /// The `Content-Type` of the body, for POST.
    pub fn content_type(&self) -> Option<&'static str> {
        match self.method {
            Method::Get => None,
            Method::Post => Some("application/x-www-form-urlencoded"),
        }
    }

    /// The first parameter named `name` (ASCII case-insensitive).
    pub fn param(&self, name: &str) -> Option<&[u8]> {
        self.params
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_slice())
    }
}

/// What a request in flight was for.
#[derive(Debug)]
enum Kind {
    /// An action the connection wrote (the application's or its own).
    Action { number: Option<u64>, name: String },
    /// The long-poll, sent at `started` with this `Timeout`.
    WaitEvent { started: Instant, timeout: Duration },
    /// A keepalive `Ping` of the HTTP session's own (events not polled).
    Keepalive,
    /// The best-effort `Logoff` sent on close.
    Farewell,
}

#[derive(Debug)]
struct Sent {
    generation: u64,
    kind: Kind,
}

/// The sans-IO AMI-over-HTTP client session.
///
/// # Driving contract
///
/// The same as [`Session`]'s, with HTTP requests in place of bytes:
///
/// - **Getters**: [`status`](Self::status), [`in_flight`](Self::in_flight),
///   [`session_id`](Self::session_id), [`max_age`](Self::max_age),
///   [`config`](Self::config).
/// - **Inputs**: [`handle_response`](Self::handle_response) (status, the
///   `Set-Cookie` value, the body), [`handle_failure`](Self::handle_failure) (no
///   response: connection refused or closed, I/O error, the adapter's own
///   timeout), [`handle_timeout`](Self::handle_timeout).
/// - **Commands**: [`send_action`](Self::send_action), [`close`](Self::close).
/// - **Outputs**: [`poll_request`](Self::poll_request) (requests to make),
///   [`poll_update`](Self::poll_update) (the same [`Update`]s as [`Session`]),
///   [`poll_timeout`](Self::poll_timeout).
///
/// After every input or command: take `poll_request` until `None` and start
/// each exchange ([`Lane::Events`] on its own connection: at most one is in
/// flight, and it lasts up to [`MAX_LONG_POLL`]), take `poll_update` until
/// `None`, and arm one timer at `poll_timeout`. Report every exchange exactly
/// once; reports for requests the core has forgotten are ignored.
///
/// What it does: logs in at once (the cookie of the login's answer is the
/// session), then long-polls `WaitEvent` (after the filters are in place, so
/// they apply to every event) with a `Timeout` well under the cookie's
/// `Max-Age`, so the session never expires while open (with `events: off` it
/// sends a `Ping` within `Max-Age` instead: `WaitEvent` would turn events on).
/// A long-poll that comes back early and empty (Asterisk clamps `Timeout` to
/// `Max-Age - 10 s`) is repeated only half its `Timeout` after it was sent,
/// so a short `Max-Age` never makes it spin. Events come out in order, each once. A `Permission denied` (the session
/// expired or was logged off) loses the session: every pending action fails
/// with [`Reason::SessionExpired`] ([`Error::Down`] when a re-login follows
/// under `Config::reconnect`), nothing is re-sent. A failed exchange or a
/// non-200 status fails its action with [`Error::Io`]; on the long-poll, on the
/// login or the filters it loses the session (events may have been lost), as
/// does a long-poll unanswered past its deadline.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ami_proto::http::{HttpSession, Lane};
/// use ami_proto::{Action, Config, Credentials, Status, Update};
///
/// let config = Config { id_prefix: Some("t-".into()), ..Config::new(Credentials::plain("admin", "amp111")) };
/// let now = Instant::now();
/// let mut http = HttpSession::new(config, "/", 7, now);
/// let ping = http.send_action(Action::new("Ping"), now).unwrap(); // waits for the login
///
/// let login = http.poll_request().unwrap();
/// assert_eq!(login.target(), "/rawman?Action=Login&ActionID=t-0&Username=admin&Secret=amp111");
/// let cookie = br#"mansession_id="15bc4f0c"; Version=1; Max-Age=60"#;
/// let body = b"Response: Success\r\nActionID: t-0\r\nMessage: Authentication accepted\r\n\r\n";
/// http.handle_response(login.id, 200, Some(cookie), body, now);
/// assert_eq!(http.status(), &Status::Ready);
///
/// // Now the queued Ping goes out, and the long-poll on its own lane.
/// let request = http.poll_request().unwrap();
/// assert_eq!(request.cookie.as_deref(), Some("mansession_id=15bc4f0c"));
/// let wait = http.poll_request().unwrap();
/// assert_eq!((wait.lane, wait.param("Action")), (Lane::Events, Some(&b"WaitEvent"[..])));
///
/// let body = b"Response: Success\r\nActionID: t-1\r\nPing: Pong\r\n\r\n";
/// http.handle_response(request.id, 200, Some(cookie), body, now);
/// while let Some(update) = http.poll_update() {
///     if let Update::Reply { id, result } = update {
///         assert_eq!(id, ping);
///         assert!(result.is_ok());
///     }
/// }
/// assert!(http.poll_timeout().unwrap() <= now + Duration::from_secs(60));
/// ```
#[derive(Debug)]
pub struct HttpSession {
    session: Session,
    path: String,
    /// Bumped whenever a connection (an HTTP session) ends or starts: answers
    /// to requests of an older one are ignored.
    generation: u64,
    /// A connection is open (logging in or logged in).
    live: bool,
    next_request: u64,
    requests: VecDeque<HttpRequest>,
    in_flight: HashMap<RequestId, Sent>,
    /// The `mansession_id` value of the current session.
    cookie: Option<String>,
    max_age: Duration,
    /// When the last request carrying the cookie was made.
    last_request: Option<Instant>,
    /// The long-poll in flight and its deadline.
    wait: Option<(RequestId, Instant)>,
    /// No long-poll before this: the last one came back early and empty
    /// (a server clamping its `Timeout`), and polling at once would spin.
    next_wait_at: Option<Instant>,
    /// Events published so far.
    events_out: u64,
    waits_sent: u64,
    /// ActionIDs of this connection's long-polls start with this.
    wait_prefix: String,
    /// `OriginateResponse` events that arrived (on the events lane) before the
    /// response of their Originate (on the action lane).
    early: Vec<(u64, Packet)>,
    updates: VecDeque<Update>,
    transmit: Vec<u8>,
}

impl HttpSession {
    /// A client about to log in over HTTP at `base_path` (`/` for
    /// `http://host:8088/`, `/asterisk` with `prefix=asterisk` in http.conf).
    /// `seed` drives the reconnect jitter, as in [`Session::new`].
    pub fn new(config: Config, base_path: &str, seed: u64, now: Instant) -> Self {
        let path = format!("{}/rawman", base_path.trim_end_matches('/'));
        let mut http = HttpSession {
            session: Session::new(config, seed, now),
            path,
            generation: 0,
            live: false,
            next_request: 0,
            requests: VecDeque::new(),
            in_flight: HashMap::new(),
            cookie: None,
            max_age: DEFAULT_MAX_AGE,
            last_request: None,
            wait: None,
            next_wait_at: None,
            events_out: 0,
            waits_sent: 0,
            wait_prefix: String::new(),
            early: Vec::new(),
            updates: VecDeque::new(),
            transmit: Vec::new(),
        };
        http.advance(now);
        http
    }

    // ----- getters -----

    /// The client's status, as for TCP.
    pub fn status(&self) -> &Status {
        self.session.status()
    }

    /// Actions accepted and not yet completed.
    pub fn in_flight(&self) -> usize {
        self.session.in_flight()
    }

    /// The current `mansession_id`, once the server gave one.
    pub fn session_id(&self) -> Option<&str> {
        self.cookie.as_deref()
    }

    /// The session lifetime the server stated (`Max-Age`), or
    /// [`DEFAULT_MAX_AGE`] until it does.
    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        self.session.config()
    }

    // ----- inputs -----

    /// The response to request `id`: its HTTP `status`, its `Set-Cookie` header
    /// value (the one naming `mansession_id`, if any) and its whole body.
    pub fn handle_response(
        &mut self,
        id: RequestId,
        status: u16,
        set_cookie: Option<&[u8]>,
        body: &[u8],
        now: Instant,
    ) {
        let Some(sent) = self.take_sent(id) else {
            return;
        };
        if sent.generation != self.generation || !self.live {
            return self.advance(now);
        }
        if status != 200 {
            let message = format!("HTTP status {status} from {}", self.path);
            self.fault(sent.kind, message, now);
            return self.advance(now);
        }
        if let Some(set_cookie) = set_cookie {
            self.take_cookie(set_cookie, now);
        }
        if matches!(sent.kind, Kind::Farewell) {
            return self.advance(now);
        }
        if is_permission_denied(body) {
            // After the application's Logoff the server ends the session:
            // the Logoff's Goodbye decides how it ends.
            if !self.logging_off() {
                self.session.handle_lost(Reason::SessionExpired, now);
            }
            return self.advance(now);
        }
        if matches!(sent.kind, Kind::Keepalive) {
            return self.advance(now);
        }
        let events_before = self.events_out;
        self.feed_body(body, now);
        if let Kind::WaitEvent { started, timeout } = sent.kind {
            let early = now < started + timeout / 2;
            // A poll that comes back early and empty (the server clamped its
            // Timeout, or ended it for another request) is not repeated at once,
            // so nothing spins; a short pause keeps event latency low.
            if early && self.events_out == events_before {
                self.next_wait_at = Some(now + EARLY_POLL_PAUSE);
            }
        }
        if let Kind::Action {
            number: Some(number),
            name,
        } = &sent.kind
        {
            let unanswered = self
                .session
                .connection_mut()
                .is_some_and(|conn| conn.awaits_response(*number));
            if unanswered {
                let message = format!(
                    "the {} bytes answering {name} held no response to it (a packet over the limits is dropped)",
                    body.len()
                );
                self.fault(sent.kind, message, now);
            }
        }
        self.release_early(now);
        self.advance(now);
    }

    /// Request `id` got no response: `error` says why (connection refused or
    /// closed, I/O error, the adapter's timeout).
    pub fn handle_failure(&mut self, id: RequestId, error: impl std::fmt::Display, now: Instant) {
        let Some(sent) = self.take_sent(id) else {
            return;
        };
        if sent.generation == self.generation && self.live {
            let message = format!("HTTP request to {} failed: {error}", self.path);
            self.fault(sent.kind, message, now);
        }
        self.advance(now);
    }

    /// Time passed: action deadlines, the long-poll's deadline, the keepalive,
    /// the end of a reconnect backoff. Extra calls are harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some((id, deadline)) = self.wait {
            if now >= deadline {
                self.wait = None;
                self.in_flight.remove(&id);
                let message = format!(
                    "no answer to the WaitEvent long-poll on {} by its deadline",
                    self.path
                );
                self.session.handle_lost(Reason::Io(message), now);
            }
        }
        self.session.handle_timeout(now);
        self.advance(now);
    }

    // ----- commands -----

    /// Sends an action; its completion comes later as an [`Update::Reply`].
    /// Refused at once as by [`Session::send_action`].
    pub fn send_action(&mut self, action: Action, now: Instant) -> Result<ActionId, Error> {
        let sent = self.session.send_action(action, now);
        self.advance(now);
        sent
    }

    /// Closes for good: pending actions fail with [`Reason::ClosedByClient`].
    /// A last `Logoff` request ends the server's session (its answer may be
    /// reported or not).
    pub fn close(&mut self, now: Instant) {
        if self.live && self.cookie.is_some() {
            let params = vec![("Action".to_owned(), b"Logoff".to_vec())];
            self.push_request(Lane::Action, params, Kind::Farewell, None, now);
        }
        self.session.close(now);
        self.advance(now);
    }

    // ----- outputs -----

    /// Whether [`poll_request`](Self::poll_request) has a request to give.
    pub fn has_request(&self) -> bool {
        !self.requests.is_empty()
    }

    /// The next HTTP request to make.
    pub fn poll_request(&mut self) -> Option<HttpRequest> {
        self.requests.pop_front()
    }

    /// The next update, as from [`Session::poll_update`].
    pub fn poll_update(&mut self) -> Option<Update> {
        self.updates.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let wait = self.wait.map(|(_, deadline)| deadline);
        let next_wait = self
            .next_wait_at
            .filter(|_| self.wait.is_none() && self.live);
        [
            self.session.poll_timeout(),
            wait,
            next_wait,
            self.keepalive_at(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // ----- internals -----

    fn take_sent(&mut self, id: RequestId) -> Option<Sent> {
        let sent = self.in_flight.remove(&id)?;
        if self.wait.is_some_and(|(wait, _)| wait == id) {
            self.wait = None;
        }
        Some(sent)
    }

    /// After every input or command: open a connection when the supervisor
    /// wants one, turn written actions into requests, move updates out, start
    /// the long-poll or the keepalive.
    fn advance(&mut self, now: Instant) {
        self.collect_updates();
        self.notice_loss();
        if self.session.transport() == crate::Transport::Dial {
            self.generation += 1;
            self.session.handle_connected_without_banner(now);
            self.live = self.session.connection_mut().is_some();
            if let Some(conn) = self.session.connection_mut() {
                self.wait_prefix = format!("{}w", conn.prefix());
            }
            self.collect_updates();
            self.notice_loss();
        }
        self.take_transmit(now);
        self.collect_updates();
        self.notice_loss();
        if self.live && self.session.status() == &Status::Ready && self.cookie.is_some() {
            if self.polls_events() {
                self.start_long_poll(now);
            } else if self.keepalive_at().is_some_and(|at| now >= at) {
                let params = vec![("Action".to_owned(), b"Ping".to_vec())];
                self.push_request(Lane::Action, params, Kind::Keepalive, None, now);
            }
        }
    }

    /// The connection ended: forget everything of its HTTP session.
    fn notice_loss(&mut self) {
        if self.live && self.session.connection_mut().is_none() {
            self.live = false;
            self.generation += 1;
            self.cookie = None;
            self.max_age = DEFAULT_MAX_AGE;
            self.wait = None;
            self.next_wait_at = None;
            self.in_flight.clear();
            for (_, packet) in std::mem::take(&mut self.early) {
                self.updates.push_back(Update::Event(Event::Event(packet)));
            }
        }
    }

    /// Whether the events lane long-polls: not with `events: off`, since
    /// `WaitEvent` turns a session's events on.
    fn polls_events(&self) -> bool {
        !self
            .session
            .config()
            .events
            .as_deref()
            .is_some_and(|events| events.trim().eq_ignore_ascii_case("off"))
    }

    /// When a keepalive `Ping` is due: only when no long-poll keeps the
    /// session alive, half a `Max-Age` after the last request.
    fn keepalive_at(&self) -> Option<Instant> {
        let ready = self.live && self.session.status() == &Status::Ready;
        if !ready || self.polls_events() || self.cookie.is_none() {
            return None;
        }
        Some(self.last_request? + self.max_age / 2)
    }

    fn start_long_poll(&mut self, now: Instant) {
        if self.wait.is_some() || self.next_wait_at.is_some_and(|at| now < at) {
            return;
        }
        self.next_wait_at = None;
        // The filters first, so that they apply to every event fetched.
        let filtering = self.in_flight.values().any(|sent| {
            sent.generation == self.generation
                && matches!(&sent.kind, Kind::Action { name, .. } if name.eq_ignore_ascii_case("Filter"))
        });
        if filtering {
            return;
        }
        let timeout = (self.max_age / 2).clamp(Duration::from_secs(1), MAX_LONG_POLL);
        let deadline = now + timeout + self.session.config().action_timeout;
        self.waits_sent += 1;
        let params = vec![
            ("Action".to_owned(), b"WaitEvent".to_vec()),
            (
                "ActionID".to_owned(),
                format!("{}{}", self.wait_prefix, self.waits_sent).into_bytes(),
            ),
            (
                "Timeout".to_owned(),
                timeout.as_secs().to_string().into_bytes(),
            ),
        ];
        let kind = Kind::WaitEvent {
            started: now,
            timeout,
        };
        let id = self.push_request(Lane::Events, params, kind, Some(deadline), now);
        self.wait = Some((id, deadline));
    }

    fn push_request(
        &mut self,
        lane: Lane,
        params: Vec<(String, Vec<u8>)>,
        kind: Kind,
        deadline: Option<Instant>,
        now: Instant,
    ) -> RequestId {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        let form = encode_form(params.iter().map(|(k, v)| (k.as_str(), v.as_slice())));
        let method = if self.path.len() + 1 + form.len() > MAX_QUERY_LEN {
            Method::Post
        } else {
            Method::Get
        };
        let cookie = self.cookie.as_ref().map(|c| format!("mansession_id={c}"));
        if cookie.is_some() {
            self.last_request = Some(now);
        }
        self.in_flight.insert(
            id,
            Sent {
                generation: self.generation,
                kind,
            },
        );
        self.requests.push_back(HttpRequest {
            id,
            lane,
            method,
            path: self.path.clone(),
            params,
            form,
            cookie,
            deadline,
        });
        id
    }

    /// Turns the actions the connection wrote into requests, one each.
    fn take_transmit(&mut self, now: Instant) {
        let mut bytes = std::mem::take(&mut self.transmit);
        bytes.clear();
        self.session.poll_transmit(&mut bytes);
        let mut params: Vec<(String, Vec<u8>)> = Vec::new();
        for line in bytes.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                if !params.is_empty() {
                    self.push_action(std::mem::take(&mut params), now);
                }
                continue;
            }
            // Keys hold no ':', so the first ": " splits (values may hold more).
            let at = memchr::memmem::find(line, b": ").unwrap_or(line.len());
            let key = String::from_utf8_lossy(&line[..at]).into_owned();
            let value = line.get(at + 2..).unwrap_or_default().to_vec();
            params.push((key, value));
        }
        self.transmit = bytes;
    }

    fn push_action(&mut self, params: Vec<(String, Vec<u8>)>, now: Instant) {
        let find = |name: &str| {
            params
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.clone())
        };
        let name = String::from_utf8_lossy(&find("Action").unwrap_or_default()).into_owned();
        let number = find("ActionID").and_then(|id| {
            self.session
                .connection_mut()
                .and_then(|conn| conn.number_of(&id))
        });
        self.push_request(
            Lane::Action,
            params,
            Kind::Action { number, name },
            None,
            now,
        );
    }

    /// Feeds one body to the connection as a complete run of packets.
    fn feed_body(&mut self, body: &[u8], now: Instant) {
        self.session.feed(body, now);
        let end: &[u8] = if body.is_empty() || body.ends_with(b"\n\r\n") || body.ends_with(b"\n\n")
        {
            b""
        } else if body.ends_with(b"\n") {
            b"\r\n"
        } else {
            b"\r\n\r\n"
        };
        if !end.is_empty() {
            self.session.feed(end, now);
        }
        self.collect_updates();
    }

    /// Moves the supervisor's updates out, minus the long-poll's own packets,
    /// holding back `OriginateResponse` events that beat their response.
    fn collect_updates(&mut self) {
        while let Some(update) = self.session.poll_update() {
            match update {
                Update::Event(Event::Unmatched(packet)) if self.is_long_poll_packet(&packet) => {}
                Update::Event(Event::Event(packet)) => {
                    if self.is_long_poll_packet(&packet) {
                        continue;
                    }
                    self.events_out += 1;
                    match self.early_originate(&packet) {
                        Some(number) => self.early.push((number, packet)),
                        None => self.updates.push_back(Update::Event(Event::Event(packet))),
                    }
                }
                other => self.updates.push_back(other),
            }
        }
    }

    fn is_long_poll_packet(&self, packet: &Packet) -> bool {
        !self.wait_prefix.is_empty()
            && packet
                .action_id()
                .is_some_and(|id| id.as_bytes().starts_with(self.wait_prefix.as_bytes()))
    }

    /// The Originate an `OriginateResponse` belongs to, when that one still
    /// waits for its response.
    fn early_originate(&mut self, packet: &Packet) -> Option<u64> {
        let name = packet.event_name()?;
        if !name.as_bytes().eq_ignore_ascii_case(b"OriginateResponse") {
            return None;
        }
        let id = packet.action_id()?.as_bytes().to_vec();
        let conn = self.session.connection_mut()?;
        let number = conn.number_of(&id)?;
        conn.awaits_response(number).then_some(number)
    }

    /// Feeds held-back `OriginateResponse` events once their Originate has its
    /// response.
    fn release_early(&mut self, now: Instant) {
        let early = std::mem::take(&mut self.early);
        for (number, packet) in early {
            let waiting = self
                .session
                .connection_mut()
                .is_some_and(|conn| conn.awaits_response(number));
            if waiting {
                self.early.push((number, packet));
            } else {
                self.feed_body(packet.as_bytes(), now);
            }
        }
    }

    fn take_cookie(&mut self, set_cookie: &[u8], now: Instant) {
        let Some((value, max_age)) = parse_set_cookie(set_cookie) else {
            return;
        };
        let adopt = self.cookie.is_none();
        if adopt || self.cookie.as_deref() == Some(value.as_str()) {
            if let Some(max_age) = max_age {
                self.max_age = max_age;
            }
            if adopt {
                self.cookie = Some(value);
                // The server (re)started the session's clock when it answered.
                self.last_request = Some(now);
            }
        }
    }

    /// An exchange failed (no response, or not a 200).
    fn fault(&mut self, kind: Kind, message: String, now: Instant) {
        match kind {
            Kind::Action {
                number: Some(number),
                ..
            } => {
                let forgotten = self
                    .session
                    .connection_mut()
                    .and_then(|conn| conn.forget(number));
                match forgotten {
                    Some(Forgotten::User) => self.updates.push_back(Update::Reply {
                        id: ActionId(number),
                        result: Err(Error::Io(std::io::Error::other(message))),
                    }),
                    Some(Forgotten::Login | Forgotten::Other) => {
                        self.session.handle_lost(Reason::Io(message), now)
                    }
                    None => {}
                }
            }
            Kind::Action { number: None, .. } | Kind::Farewell => {}
            // Events may have been taken off the server's queue: the session is
            // no longer trustworthy.
            // While a Logoff is in flight the server ends the session and
            // drops the long-poll: the Logoff's answer decides how it ends.
            Kind::WaitEvent { .. } | Kind::Keepalive if self.logging_off() => {}
            Kind::WaitEvent { .. } | Kind::Keepalive => {
                self.session.handle_lost(Reason::Io(message), now)
            }
        }
    }

    /// Whether the application's `Logoff` is in flight.
    fn logging_off(&self) -> bool {
        self.in_flight.values().any(|sent| {
            matches!(&sent.kind, Kind::Action { name, .. } if name.eq_ignore_ascii_case("Logoff"))
        })
    }
}

/// Whether a body's first packet is `Response: Error` / `Message: Permission denied`.
fn is_permission_denied(body: &[u8]) -> bool {
    let mut lines = body
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
    let first = lines.next().unwrap_or_default();
    if !first.eq_ignore_ascii_case(b"Response: Error") {
        return false;
    }
    lines
        .take_while(|line| !line.is_empty())
        .any(|line| line.eq_ignore_ascii_case(b"Message: Permission denied"))
}

/// The `mansession_id` value and the `Max-Age` of a `Set-Cookie` header value,
/// e.g. `mansession_id="15bc4f0c"; Version=1; Max-Age=60`.
pub fn parse_set_cookie(value: &[u8]) -> Option<(String, Option<Duration>)> {
    let text = std::str::from_utf8(value).ok()?;
    let mut parts = text.split(';').map(str::trim);
    let (name, id) = parts.next()?.split_once('=')?;
    if !name.trim().eq_ignore_ascii_case("mansession_id") {
        return None;
    }
    let id = id.trim().trim_matches('"');
    if id.is_empty() {
        return None;
    }
    let max_age = parts.find_map(|part| {
        let (key, value) = part.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("Max-Age")
            .then(|| value.trim().parse::<u64>().ok())
            .flatten()
            .map(Duration::from_secs)
    });
    Some((id.to_owned(), max_age))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_cookie_of_the_fixture() {
        assert_eq!(
            parse_set_cookie(br#"mansession_id="15bc4f0c"; Version=1; Max-Age=60"#),
            Some(("15bc4f0c".into(), Some(Duration::from_secs(60))))
        );
        assert_eq!(parse_set_cookie(b"other=1"), None);
    }

    #[test]
    fn permission_denied_is_recognised_on_the_first_packet_only() {
        assert!(is_permission_denied(
            b"Response: Error\r\nActionID: x\r\nMessage: Permission denied\r\n\r\n"
        ));
        assert!(!is_permission_denied(
            b"Response: Success\r\n\r\nResponse: Error\r\nMessage: Permission denied\r\n\r\n"
        ));
    }
}
