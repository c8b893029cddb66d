//! The `Connection` state machine driven by arbitrary server bytes, sends, clock
//! jumps, EOF and close: it must never panic, and every ActionID it hands out must
//! complete exactly once (with a reply, a timeout or the close reason), never twice
//! and never for an id it did not hand out.
#![no_main]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use ami_proto::{Action, ActionId, Config, Connection, Credentials, Output};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

const PREFIX: &str = "f-";

#[derive(Debug, Arbitrary)]
struct Input {
    login: u8,
    max_in_flight: u8,
    ops: Vec<Op>,
}

#[derive(Debug, Arbitrary)]
enum Op {
    /// Raw server bytes, copied in (`feed`).
    Raw(Vec<u8>),
    /// Raw server bytes, parsed where they lie (`feed_bytes`, as the pumps
    /// feed their reads).
    RawShared(Vec<u8>),
    /// The banner.
    Banner,
    /// A well-formed server packet for ActionID `f-<to>` (internal login and
    /// keepalive ids included), shaped by `kind`.
    Reply {
        to: u8,
        kind: u8,
    },
    /// An event with no ActionID.
    Event,
    /// The application sends an action, shaped by `kind`.
    Send {
        kind: u8,
    },
    Logoff,
    /// The clock jumps forward by `quarter_seconds / 4` s, then `handle_timeout`.
    Advance {
        quarter_seconds: u8,
    },
    /// The timer fires exactly at `poll_timeout()`.
    FireTimer,
    Eof,
    Close,
}

fn reply_bytes(to: u8, kind: u8) -> Vec<u8> {
    let id = format!("{PREFIX}{to}");
    let text = match kind % 10 {
        0 => format!("Response: Success\r\nActionID: {id}\r\nMessage: ok\r\n\r\n"),
        1 => format!("Response: Error\r\nActionID: {id}\r\nMessage: Permission denied\r\n\r\n"),
        2 => format!("Response: Success\r\nActionID: {id}\r\nEventList: start\r\nMessage: list follows\r\n\r\n"),
        3 => format!("Event: CoreShowChannel\r\nActionID: {id}\r\nChannel: Local/1\r\n\r\n"),
        4 => format!("Event: CoreShowChannelsComplete\r\nActionID: {id}\r\nEventList: Complete\r\nListItems: 1\r\n\r\n"),
        5 => format!("Event: OriginateResponse\r\nPrivilege: call,all\r\nActionID: {id}\r\nResponse: Success\r\nReason: 4\r\n\r\n"),
        6 => format!("Response: Goodbye\r\nActionID: {id}\r\nMessage: Thanks for all the fish.\r\n\r\n"),
        7 => format!("Response: Success\r\nActionID: {id}\r\nMessage: Authentication accepted\r\n\r\n"),
        8 => format!("Response: Success\r\nActionID: {id}\r\nChallenge: 204268188\r\n\r\n"),
        _ => format!("Response: Follows\r\nPrivilege: Command\r\nActionID: {id}\r\nline one\n--END COMMAND--\r\n\r\n"),
    };
    text.into_bytes()
}

fn action(kind: u8) -> Action {
    match kind % 6 {
        0 => Action::new("Ping"),
        1 => Action::new("CoreShowChannels"),
        2 => Action::new("Originate")
            .header("Channel", "Local/1@test")
            .header("Async", "true"),
        3 => Action::new("Command").header("Command", "core show uptime"),
        4 => Action::new("Status").expect_list(),
        _ => Action::new("CoreShowChannels").stream_list(),
    }
    .timeout(Duration::from_millis(250 * (1 + u64::from(kind / 6))))
}

struct Harness {
    conn: Connection,
    now: Instant,
    sent: HashSet<ActionId>,
    done: HashSet<ActionId>,
    closed: bool,
    wire: Vec<u8>,
}

impl Harness {
    fn drain(&mut self) {
        self.wire.clear();
        self.conn.poll_transmit(&mut self.wire);
        while let Some(output) = self.conn.poll_output() {
            match output {
                Output::Reply { id, .. } => {
                    assert!(!self.closed, "a reply after Closed");
                    assert!(
                        self.sent.contains(&id),
                        "completion of an id never handed out: {id:?}"
                    );
                    assert!(self.done.insert(id), "{id:?} completed twice");
                }
                Output::ListItem { id, .. } => {
                    assert!(self.sent.contains(&id), "list item for an unknown id");
                    assert!(!self.done.contains(&id), "list item after completion");
                }
                Output::Closed(_) => {
                    assert!(!self.closed, "Closed twice");
                    self.closed = true;
                }
                _ => {}
            }
        }
        if let Some(deadline) = self.conn.poll_timeout() {
            // A deadline may be in the past (then handle_timeout is due), never absurd.
            assert!(deadline <= self.now + Duration::from_secs(3600));
        }
        // Nothing hangs: while anything is pending or the login is under way,
        // there is a deadline to wake for.
        let waiting = self.conn.in_flight() > 0
            || !matches!(
                self.conn.state(),
                ami_proto::State::Ready | ami_proto::State::Closed(_)
            );
        assert!(
            !waiting || self.conn.poll_timeout().is_some(),
            "pending without a deadline in {:?}",
            self.conn.state()
        );
    }

    fn sent(&mut self, result: Result<ActionId, ami_proto::Reason>) {
        if let Ok(id) = result {
            assert!(!self.closed, "send accepted after Closed");
            assert!(self.sent.insert(id), "an id handed out twice");
        }
    }
}

fuzz_target!(|input: Input| {
    let credentials = match input.login % 3 {
        0 => None,
        1 => Some(Credentials::plain("admin", "amp111")),
        _ => Some(Credentials::md5("admin", "amp111")),
    };
    let config = Config {
        credentials,
        id_prefix: Some(PREFIX.into()),
        max_in_flight: usize::from(input.max_in_flight % 8) + 1,
        ..Config::default()
    };
    let now = Instant::now();
    let mut h = Harness {
        conn: Connection::new(config, now),
        now,
        sent: HashSet::new(),
        done: HashSet::new(),
        closed: false,
        wire: Vec::new(),
    };
    h.drain();
    for op in input.ops.into_iter().take(256) {
        match op {
            Op::Raw(bytes) => h.conn.feed(&bytes, h.now),
            Op::RawShared(bytes) => h.conn.feed_bytes(bytes.into(), h.now),
            Op::Banner => h.conn.feed(b"Asterisk Call Manager/11.0.0\r\n", h.now),
            Op::Reply { to, kind } => h.conn.feed(&reply_bytes(to, kind), h.now),
            Op::Event => h.conn.feed(
                b"Event: FullyBooted\r\nPrivilege: system,all\r\n\r\n",
                h.now,
            ),
            Op::Send { kind } => {
                let result = h.conn.send_action(action(kind), h.now);
                h.sent(result);
            }
            Op::Logoff => {
                let result = h.conn.logoff(h.now);
                h.sent(result);
            }
            Op::Advance { quarter_seconds } => {
                h.now += Duration::from_millis(250 * u64::from(quarter_seconds));
                h.conn.handle_timeout(h.now);
            }
            Op::FireTimer => {
                if let Some(at) = h.conn.poll_timeout() {
                    h.now = h.now.max(at);
                    h.conn.handle_timeout(h.now);
                }
            }
            Op::Eof => h.conn.handle_eof(),
            Op::Close => h.conn.close(),
        }
        h.drain();
    }
    // The end: close, and every id handed out has completed exactly once.
    h.conn.close();
    h.drain();
    assert!(h.closed, "no Closed after close()");
    let missing: Vec<_> = h.sent.difference(&h.done).collect();
    assert!(missing.is_empty(), "never completed: {missing:?}");
});
