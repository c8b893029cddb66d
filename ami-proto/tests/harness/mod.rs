//! A deterministic test pair, after quinn-proto's `Pair`: a `Connection`, a scripted
//! server that reads the actions it writes, and a virtual clock. No sockets, no sleeps.

#![allow(dead_code)] // each test file uses a different part of the harness

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ami_proto::{
    Action, ActionId, Config, Connection, Credentials, Error, Event, Output, Packet, PacketKind,
    Parsed, Parser, Reason, Reply, Session, Status, Transport, Update,
};

/// What the scripted server does with one action it read.
pub type Script = Box<dyn FnMut(&Packet) -> Vec<u8>>;

/// The scripted server: parses what the client wrote; answers with `script`.
pub struct Server {
    parser: Parser,
    pub received: Vec<Packet>,
    pub script: Script,
}

impl Server {
    pub fn new(script: Script) -> Self {
        Server {
            parser: Parser::without_banner(),
            received: Vec::new(),
            script,
        }
    }

    /// Reads client bytes, returns the server's answers.
    pub fn handle(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.parser.feed(bytes);
        let mut out = Vec::new();
        for item in self.parser.by_ref() {
            if let Parsed::Packet(packet) = item {
                assert_eq!(packet.kind(), PacketKind::Action, "client wrote {packet:?}");
                out.extend((self.script)(&packet));
                self.received.push(packet);
            }
        }
        out
    }

    /// Names of the actions received so far.
    pub fn actions(&self) -> Vec<String> {
        self.received
            .iter()
            .map(|p| p.get("Action").unwrap().to_string())
            .collect()
    }
}

/// A response echoing the action's ActionID.
pub fn response(action: &Packet, lines: &str) -> Vec<u8> {
    let id = action.action_id().unwrap();
    format!("Response: Success\r\nActionID: {id}\r\n{lines}\r\n").into_bytes()
}

/// A server that accepts any login and answers everything else `Success`.
pub fn accepting_server() -> Script {
    Box::new(|action| {
        let id = action.action_id().unwrap();
        match action.get("Action").unwrap().to_string().as_str() {
            "Login" => format!(
                "Response: Success\r\nActionID: {id}\r\nMessage: Authentication accepted\r\n\r\n\
                 Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n"
            )
            .into_bytes(),
            "Challenge" => {
                format!("Response: Success\r\nActionID: {id}\r\nChallenge: 204268188\r\n\r\n")
                    .into_bytes()
            }
            "Logoff" => format!(
                "Response: Goodbye\r\nActionID: {id}\r\nMessage: Thanks for all the fish.\r\n\r\n"
            )
            .into_bytes(),
            "Ping" => {
                format!("Response: Success\r\nActionID: {id}\r\nPing: Pong\r\n\r\n").into_bytes()
            }
            _ => response(action, "Message: ok\r\n"),
        }
    })
}

/// A server that accepts the login, then never answers anything.
pub fn login_only_server() -> Script {
    let mut accept = accepting_server();
    Box::new(move |action| {
        if action.get("Action").unwrap() == "Login" {
            accept(action)
        } else {
            Vec::new()
        }
    })
}

/// A server that never answers anything.
pub fn silent_server() -> Script {
    Box::new(|_| Vec::new())
}

pub const BANNER: &[u8] = b"Asterisk Call Manager/11.0.0\r\n";

/// Connection + server + virtual clock.
pub struct Pair {
    pub conn: Connection,
    pub server: Server,
    pub now: Instant,
    pub start: Instant,
    pub outputs: VecDeque<Output>,
    /// Bytes the server must still deliver (held back by `hold`).
    pub held: Vec<u8>,
    pub hold: bool,
}

pub fn config() -> Config {
    Config {
        credentials: Some(Credentials::plain("admin", "amp111")),
        id_prefix: Some("t-".into()),
        ..Config::default()
    }
}

impl Pair {
    pub fn new(config: Config, script: Script) -> Self {
        let start = Instant::now();
        Pair {
            conn: Connection::new(config, start),
            server: Server::new(script),
            now: start,
            start,
            outputs: VecDeque::new(),
            held: Vec::new(),
            hold: false,
        }
    }

    /// A pair that has received the banner and logged in.
    pub fn logged_in(config: Config, script: Script) -> Self {
        let mut pair = Pair::new(config, script);
        pair.deliver(BANNER);
        assert!(pair.take_until_ready(), "login failed: {:?}", pair.outputs);
        pair.events(); // FullyBooted and the like
        pair
    }

    /// Feeds server bytes to the client, then runs the exchange until quiet.
    pub fn deliver(&mut self, bytes: &[u8]) {
        self.conn.feed(bytes, self.now);
        self.drive();
    }

    /// Moves bytes both ways until neither side has anything to say.
    pub fn drive(&mut self) {
        loop {
            while let Some(output) = self.conn.poll_output() {
                self.outputs.push_back(output);
            }
            let mut wire = Vec::new();
            self.conn.poll_transmit(&mut wire);
            if wire.is_empty() {
                return;
            }
            let answer = self.server.handle(&wire);
            if self.hold {
                self.held.extend(answer);
            } else if !answer.is_empty() {
                // As in the session's harness: answers parsed where they lie.
                self.conn.feed_bytes(answer.into(), self.now);
            }
        }
    }

    /// Delivers the answers held back so far (answers they cause are held again
    /// while `hold` stays set).
    pub fn release(&mut self) {
        let held = std::mem::take(&mut self.held);
        self.deliver(&held);
    }

    pub fn send(&mut self, action: ami_proto::Action) -> ActionId {
        let id = self.conn.send_action(action, self.now).expect("accepted");
        self.drive();
        id
    }

    /// Advances virtual time by `by`, stopping at every deadline on the way.
    pub fn advance(&mut self, by: Duration) {
        let target = self.now + by;
        while let Some(at) = self.conn.poll_timeout() {
            if at > target {
                break;
            }
            self.now = self.now.max(at);
            self.conn.handle_timeout(self.now);
            self.drive();
        }
        self.now = target;
        self.conn.handle_timeout(self.now);
        self.drive();
    }

    fn take_until_ready(&mut self) -> bool {
        let ready = self.outputs.iter().any(|o| matches!(o, Output::Ready));
        self.outputs
            .retain(|o| !matches!(o, Output::Ready | Output::Connected { .. }));
        ready
    }

    /// Removes and returns the reply of `id`, if it arrived.
    pub fn reply(&mut self, id: ActionId) -> Option<Result<Reply, ami_proto::Reason>> {
        let at = self
            .outputs
            .iter()
            .position(|o| matches!(o, Output::Reply { id: got, .. } if *got == id))?;
        match self.outputs.remove(at) {
            Some(Output::Reply { result, .. }) => Some(result),
            _ => unreachable!(),
        }
    }

    /// Removes and returns every ordinary event.
    pub fn events(&mut self) -> Vec<Packet> {
        let mut events = Vec::new();
        self.outputs.retain(|o| match o {
            Output::Event(p) => {
                events.push(p.clone());
                false
            }
            _ => true,
        });
        events
    }

    pub fn wire_id(&self, id: ActionId) -> String {
        self.conn.action_id_text(id)
    }
}

/// A server that refuses every login.
pub fn refusing_server() -> Script {
    Box::new(|action| {
        format!(
            "Response: Error\r\nActionID: {}\r\nMessage: Authentication failed\r\n\r\n",
            action.action_id().unwrap()
        )
        .into_bytes()
    })
}

/// What the next dial of a [`SessionPair`] meets.
pub enum Dial {
    /// The dial fails with this reason.
    Refuse(Reason),
    /// The transport opens and the server sends its banner, then answers with
    /// the script.
    Answer(Script),
    /// The transport opens but the server sends nothing by itself (no banner):
    /// the test delivers what it wants; with `silent_server()` the login times out.
    Open(Script),
}

/// A refused dial, as an adapter would report it.
pub fn refused(what: &str) -> Dial {
    Dial::Refuse(Reason::Connect {
        kind: std::io::ErrorKind::ConnectionRefused,
        message: what.to_string(),
    })
}

/// Session + one scripted server per transport + virtual clock: the `Pair` of the
/// session supervisor. Dials are carried out as soon as the session asks (unless
/// `auto_dial` is off), following `plan`; an empty plan answers with
/// `accepting_server()`.
pub struct SessionPair {
    pub session: Session,
    /// The server of the open transport.
    pub server: Option<Server>,
    /// The servers of transports already gone, oldest first.
    pub past: Vec<Server>,
    pub plan: VecDeque<Dial>,
    pub auto_dial: bool,
    pub now: Instant,
    pub start: Instant,
    /// Every update, in order.
    pub updates: Vec<Update>,
    /// When each dial was made (refused ones included).
    pub dials: Vec<Instant>,
    /// Bytes the session wrote, per transport, including the open one.
    pub written: Vec<Vec<u8>>,
}

impl SessionPair {
    /// A session about to dial; nothing has happened yet.
    pub fn new(config: Config, seed: u64) -> Self {
        let start = Instant::now();
        SessionPair {
            session: Session::new(config, seed, start),
            server: None,
            past: Vec::new(),
            plan: VecDeque::new(),
            auto_dial: true,
            now: start,
            start,
            updates: Vec::new(),
            dials: Vec::new(),
            written: Vec::new(),
        }
    }

    /// A session that dialled, got the banner and logged in.
    pub fn ready(config: Config, seed: u64) -> Self {
        let mut pair = SessionPair::new(config, seed);
        pair.drive();
        assert_eq!(pair.session.status(), &Status::Ready, "{:?}", pair.updates);
        pair
    }

    /// Takes the session's updates, the runs of events through
    /// `poll_events` (into a buffer that already holds one event every other
    /// time, so both its swap and its move are used) and the others through
    /// `poll_update`: every test on the order of updates checks that the two
    /// together keep it.
    fn take_updates(&mut self) {
        let mut events = VecDeque::new();
        loop {
            let marker = self.updates.len() % 2 == 1;
            if marker {
                events.push_back(Event::Lagged(u64::MAX));
            }
            self.session.poll_events(&mut events);
            let taken = events.drain(..).skip(usize::from(marker));
            self.updates.extend(taken.map(Update::Event));
            let Some(update) = self.session.poll_update() else {
                return;
            };
            self.updates.push(update);
        }
    }

    /// Does what the session asks of the transport, and moves bytes both ways
    /// until nobody has anything to say.
    pub fn drive(&mut self) {
        for _ in 0..10_000 {
            self.take_updates();
            match self.session.transport() {
                Transport::Dial if self.auto_dial => self.dial(),
                Transport::Open => {
                    let mut wire = Vec::new();
                    self.session.poll_transmit(&mut wire);
                    if wire.is_empty() {
                        return;
                    }
                    self.written.last_mut().expect("a transport").extend(&wire);
                    let server = self.server.as_mut().expect("a server while open");
                    let answer = server.handle(&wire);
                    if !answer.is_empty() {
                        // The server's answers are parsed where they lie, the
                        // bytes a test delivers are copied in: both ways of
                        // feeding run in every test.
                        self.session.feed_bytes(answer.into(), self.now);
                    }
                }
                _ => {
                    self.retire_server();
                    return;
                }
            }
        }
        panic!("the exchange never went quiet");
    }

    /// Carries out one dial now, following the plan.
    pub fn dial(&mut self) {
        assert_eq!(self.session.transport(), Transport::Dial);
        self.retire_server();
        self.dials.push(self.now);
        let plan = self
            .plan
            .pop_front()
            .unwrap_or_else(|| Dial::Answer(accepting_server()));
        match plan {
            Dial::Refuse(reason) => self.session.handle_dial_failed(reason, self.now),
            Dial::Answer(script) => {
                self.open(script);
                self.session.feed(BANNER, self.now);
            }
            Dial::Open(script) => self.open(script),
        }
    }

    fn open(&mut self, script: Script) {
        self.session.handle_connected(self.now);
        self.server = Some(Server::new(script));
        self.written.push(Vec::new());
    }

    fn retire_server(&mut self) {
        if self.session.transport() != Transport::Open {
            if let Some(server) = self.server.take() {
                self.past.push(server);
            }
        }
    }

    /// Feeds server bytes to the session, then runs the exchange until quiet.
    pub fn deliver(&mut self, bytes: &[u8]) {
        self.session.feed(bytes, self.now);
        self.drive();
    }

    /// The server drops the transport.
    pub fn eof(&mut self) {
        self.session.handle_eof(self.now);
        self.drive();
    }

    /// Sends an action and runs the exchange.
    pub fn send(&mut self, action: Action) -> Result<ActionId, Error> {
        let sent = self.session.send_action(action, self.now);
        self.drive();
        sent
    }

    /// Advances virtual time to `target`, stopping at every deadline on the way.
    pub fn advance_to(&mut self, target: Instant) {
        for _ in 0..100_000 {
            match self.session.poll_timeout() {
                Some(at) if at <= target => {
                    assert!(
                        at >= self.now,
                        "a deadline in the past: {at:?} < {:?}",
                        self.now
                    );
                    self.now = at;
                    self.session.handle_timeout(self.now);
                    self.drive();
                }
                _ => {
                    self.now = self.now.max(target);
                    self.session.handle_timeout(self.now);
                    self.drive();
                    return;
                }
            }
        }
        panic!("time never reached {target:?}");
    }

    /// Advances virtual time by `by`, stopping at every deadline on the way.
    pub fn advance(&mut self, by: Duration) {
        self.advance_to(self.now + by);
    }

    /// The time since the pair started.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// The `Update::Status` updates so far, in order.
    pub fn statuses(&self) -> Vec<Status> {
        self.updates
            .iter()
            .filter_map(|u| match u {
                Update::Status(status) => Some(status.clone()),
                _ => None,
            })
            .collect()
    }

    /// The lifecycle events (`Disconnected`, `Reconnected`) so far, in order.
    pub fn lifecycle(&self) -> Vec<ami_proto::Event> {
        self.updates
            .iter()
            .filter_map(|u| match u {
                Update::Event(
                    e @ (ami_proto::Event::Disconnected(_) | ami_proto::Event::Reconnected),
                ) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }

    /// The completions of `id` so far.
    pub fn replies(&self, id: ActionId) -> Vec<&Result<Reply, Error>> {
        self.updates
            .iter()
            .filter_map(|u| match u {
                Update::Reply { id: got, result } if *got == id => Some(result),
                _ => None,
            })
            .collect()
    }

    /// Every packet the servers received, per transport, oldest first.
    pub fn all_received(&self) -> Vec<&Packet> {
        self.past
            .iter()
            .chain(&self.server)
            .flat_map(|s| &s.received)
            .collect()
    }
}
