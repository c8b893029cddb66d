//! A deterministic test pair, after quinn-proto's `Pair`: a `Connection`, a scripted
//! server that reads the actions it writes, and a virtual clock. No sockets, no sleeps.

#![allow(dead_code)] // each test file uses a different part of the harness

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ami_proto::{
    ActionId, Config, Connection, Credentials, Output, Packet, PacketKind, Parsed, Parser, Reply,
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
                self.conn.feed(&answer, self.now);
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
