//! Recorded AMI sessions: the file format `ami record` writes, and serving such a
//! file from the fake ([`Builder::recording`](crate::Builder::recording)) so a test
//! replays production traffic.
//!
//! # The format
//!
//! A text file, one record per chunk of bytes as it crossed the wire:
//!
//! ```text
//! ami-record 1
//! server 0 30
//! Asterisk Call Manager/11.0.0
//! client 2 72
//! Action: Login
//! ...
//! ```
//!
//! - The first line is `ami-record 1` (the format's version).
//! - Then, for each chunk in the order it was seen, a header line
//!   `<direction> <milliseconds> <length>`: the direction is `client` (client to
//!   server) or `server` (server to client), the milliseconds count from the start
//!   of the session, the length is the number of bytes that follow.
//! - Then exactly `length` raw bytes (CRLF line ends and all, byte for byte), then
//!   one `\n` that is not part of the chunk, so the next header starts a line.
//! - Lines starting with `#` between records are comments.
//!
//! Because AMI is text, the file reads and diffs like a transcript; because the
//! lengths are exact, any bytes (bare LF, `\r\n\n`, binary junk) survive.
//! `ami record` hides login secrets by default: the values of `Secret:`, and of
//! `Key:` in a Login, become `*`s of the same length ([`Redactor`]).
//!
//! # Replay
//!
//! The recording is cut into exchanges: each client action, and the server's
//! packets from its response up to the next response (its list items, and the
//! events that arrived meanwhile). When a client sends an action, the fake answers
//! with the next unused recorded exchange of the same action name, the recorded
//! `ActionID`s rewritten to the client's; an action the recording does not hold
//! gets the fake's own behaviour. `Login` is checked against the fake's users (a
//! recording holds no usable secret), then answered from the recording. The banner
//! carries the recorded AMI version. Timing is not replayed: each exchange is
//! written at once, in the recorded order.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Write};

use ami_proto::{Packet, PacketKind, Parsed, Parser};
use md5::{Digest, Md5};

use crate::conn::{lock, Conn};
use crate::server::Shared;
use crate::session::EventMask;

const MAGIC: &[u8] = b"ami-record 1\n";

/// Which way a chunk went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the client to the server.
    Client,
    /// From the server to the client.
    Server,
}

impl Direction {
    fn word(self) -> &'static str {
        match self {
            Direction::Client => "client",
            Direction::Server => "server",
        }
    }
}

/// One chunk of bytes as it crossed the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Which way.
    pub direction: Direction,
    /// Milliseconds since the session started.
    pub millis: u64,
    /// The bytes, exactly.
    pub bytes: Vec<u8>,
}

/// A file that is not a recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    /// Byte offset in the file.
    pub offset: usize,
    /// What was wrong there.
    pub message: String,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for FormatError {}

/// A recorded session: its chunks in order.
///
/// ```
/// use ami_testkit::{Chunk, Direction, Recording};
///
/// let mut recording = Recording::default();
/// recording.push(Direction::Server, 0, b"Asterisk Call Manager/11.0.0\r\n");
/// let text = recording.to_bytes();
/// assert_eq!(text, b"ami-record 1\nserver 0 30\nAsterisk Call Manager/11.0.0\r\n\n");
/// assert_eq!(Recording::parse(&text).unwrap(), recording);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recording {
    /// The chunks, in the order they were seen.
    pub chunks: Vec<Chunk>,
}

impl Recording {
    /// Adds a chunk.
    pub fn push(&mut self, direction: Direction, millis: u64, bytes: &[u8]) {
        self.chunks.push(Chunk {
            direction,
            millis,
            bytes: bytes.to_vec(),
        });
    }

    /// The file's first line; write it once, then [`write_chunk`] per chunk.
    pub fn write_header(out: &mut impl Write) -> io::Result<()> {
        out.write_all(MAGIC)
    }

    /// The whole file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        Recording::write_header(&mut out).expect("write to a Vec");
        for chunk in &self.chunks {
            write_chunk(&mut out, chunk.direction, chunk.millis, &chunk.bytes)
                .expect("write to a Vec");
        }
        out
    }

    /// Reads a file written by [`Recording::to_bytes`] or `ami record`.
    pub fn parse(data: &[u8]) -> Result<Recording, FormatError> {
        let fail = |offset, message: &str| FormatError {
            offset,
            message: message.to_owned(),
        };
        if !data.starts_with(MAGIC) {
            return Err(fail(0, "not an ami-record 1 file (no `ami-record 1` line)"));
        }
        let mut at = MAGIC.len();
        let mut chunks = Vec::new();
        while at < data.len() {
            let end = memchr_lf(&data[at..])
                .map(|n| at + n)
                .ok_or_else(|| fail(at, "a record header with no line end"))?;
            let line = &data[at..end];
            if line.is_empty() || line.starts_with(b"#") {
                at = end + 1;
                continue;
            }
            let text = std::str::from_utf8(line).map_err(|_| fail(at, "a bad record header"))?;
            let mut words = text.split(' ');
            let (Some(dir), Some(millis), Some(len), None) =
                (words.next(), words.next(), words.next(), words.next())
            else {
                return Err(fail(at, "a record header is `client|server MILLIS LENGTH`"));
            };
            let direction = match dir {
                "client" => Direction::Client,
                "server" => Direction::Server,
                _ => return Err(fail(at, "the direction is `client` or `server`")),
            };
            let millis = millis
                .parse()
                .map_err(|_| fail(at, "bad milliseconds in a record header"))?;
            let len: usize = len
                .parse()
                .map_err(|_| fail(at, "bad length in a record header"))?;
            let start = end + 1;
            let stop = start
                .checked_add(len)
                .filter(|&stop| stop < data.len() && data[stop] == b'\n')
                .ok_or_else(|| {
                    fail(
                        start,
                        "a chunk shorter than its length, or no `\\n` after it",
                    )
                })?;
            chunks.push(Chunk {
                direction,
                millis,
                bytes: data[start..stop].to_vec(),
            });
            at = stop + 1;
        }
        Ok(Recording { chunks })
    }

    /// All the bytes that went one way, concatenated.
    pub fn stream(&self, direction: Direction) -> Vec<u8> {
        self.chunks
            .iter()
            .filter(|c| c.direction == direction)
            .flat_map(|c| c.bytes.iter().copied())
            .collect()
    }

    /// The AMI version in the recorded banner (`11.0.0` when there is none).
    pub fn ami_version(&self) -> String {
        let server = self.stream(Direction::Server);
        let line = server.split(|&b| b == b'\n').next().unwrap_or_default();
        String::from_utf8_lossy(line)
            .trim_end()
            .split_once('/')
            .map(|(_, version)| version.to_owned())
            .unwrap_or_else(|| "11.0.0".into())
    }
}

/// Appends one record: the header line, the bytes, a `\n`.
pub fn write_chunk(
    out: &mut impl Write,
    direction: Direction,
    millis: u64,
    bytes: &[u8],
) -> io::Result<()> {
    writeln!(out, "{} {millis} {}", direction.word(), bytes.len())?;
    out.write_all(bytes)?;
    out.write_all(b"\n")
}

fn memchr_lf(data: &[u8]) -> Option<usize> {
    data.iter().position(|&b| b == b'\n')
}

/// Hides login secrets in a client's byte stream, chunk by chunk: the value of
/// every `Secret:` header, and of `Key:` in a `Login` action (an MD5 login's hash;
/// `DBPut` has a `Key:` that is no secret), becomes `*`s, so lengths do not change.
#[derive(Debug, Default)]
pub struct Redactor {
    /// The current line so far (its first 64 bytes: enough to know its key).
    line: Vec<u8>,
    hiding: bool,
    /// The current action is a Login (its `Action: Login` line came first).
    login: bool,
}

impl Redactor {
    /// Redacts `chunk` in place (a header may be split across chunks).
    pub fn redact(&mut self, chunk: &mut [u8]) {
        for byte in chunk {
            match *byte {
                b'\n' => {
                    if self.line.is_empty() {
                        self.login = false; // a blank line ends the action
                    } else if self.line.eq_ignore_ascii_case(b"Action: Login") {
                        self.login = true;
                    }
                    self.line.clear();
                    self.hiding = false;
                }
                b'\r' => {}
                _ if self.hiding => *byte = b'*',
                _ => {
                    if self.line.len() < 64 {
                        self.line.push(*byte);
                    }
                    if let Some(key) = self.line.strip_suffix(b": ") {
                        self.hiding = key.eq_ignore_ascii_case(b"Secret")
                            || (self.login && key.eq_ignore_ascii_case(b"Key"));
                    }
                }
            }
        }
    }
}

/// One recorded action and what the server sent from its response on.
#[derive(Debug)]
struct Exchange {
    /// Lower-case action name.
    name: String,
    /// The recorded ActionID, when the action had one.
    action_id: Option<Vec<u8>>,
    /// Raw server packets, in order.
    packets: Vec<Vec<u8>>,
}

/// A recording cut into exchanges, ready to serve.
#[derive(Debug)]
pub(crate) struct Script {
    exchanges: Vec<Exchange>,
}

fn packets(stream: &[u8], banner: bool) -> Vec<Packet> {
    let mut parser = match banner {
        true => Parser::new(),
        false => Parser::without_banner(),
    };
    parser.feed(stream);
    std::iter::from_fn(|| parser.next())
        .filter_map(|item| match item {
            Parsed::Packet(p) => Some(p),
            _ => None,
        })
        .collect()
}

impl Script {
    pub(crate) fn new(recording: &Recording) -> Script {
        let server = recording.stream(Direction::Server);
        let banner_len = memchr_lf(&server).map_or(0, |n| n + 1);
        let mut exchanges: Vec<Exchange> = packets(&recording.stream(Direction::Client), false)
            .iter()
            .map(|action| Exchange {
                name: action
                    .get("Action")
                    .map(|v| v.to_str_lossy().trim().to_ascii_lowercase())
                    .unwrap_or_default(),
                action_id: action
                    .action_id()
                    .map(|v| v.as_bytes().to_vec())
                    .filter(|v| !v.is_empty()),
                packets: Vec::new(),
            })
            .collect();
        // Responses come back in request order; events go with the exchange whose
        // response came last before them (events before any response: the first).
        let mut current: Option<usize> = None;
        for packet in packets(&server[banner_len..], false) {
            if packet.kind() == PacketKind::Response {
                let next = current.map_or(0, |c| c + 1);
                let by_id = packet.action_id().and_then(|id| {
                    exchanges
                        .iter()
                        .enumerate()
                        .skip(next)
                        .find(|(_, e)| e.action_id.as_deref() == Some(id.as_bytes()))
                        .map(|(i, _)| i)
                });
                current = by_id.or(Some(next));
            }
            let index = current.unwrap_or(0);
            if let Some(exchange) = exchanges.get_mut(index) {
                exchange.packets.push(packet.as_bytes().to_vec());
            }
        }
        Script { exchanges }
    }
}

/// What one connection has used of the script.
pub(crate) struct Replay<'a> {
    script: &'a Script,
    used: Vec<bool>,
    /// Recorded ActionID -> this client's (empty: it sent none).
    ids: HashMap<Vec<u8>, Vec<u8>>,
}

impl<'a> Replay<'a> {
    pub(crate) fn new(script: &'a Script) -> Self {
        Replay {
            script,
            used: vec![false; script.exchanges.len()],
            ids: HashMap::new(),
        }
    }

    /// Answers one action: from the recording when it holds one more exchange of
    /// this name, else with the fake's own behaviour.
    pub(crate) fn serve(&mut self, shared: &Shared, conn: &Conn, request: &Packet) {
        let name = request
            .get("Action")
            .map(|v| v.to_str_lossy().trim().to_ascii_lowercase())
            .unwrap_or_default();
        let logged_in = lock(&conn.session).logged_in;
        let found = (0..self.script.exchanges.len())
            .find(|&i| !self.used[i] && self.script.exchanges[i].name == name);
        let allowed = logged_in || matches!(name.as_str(), "login" | "challenge" | "logoff");
        let (Some(index), true) = (found, allowed) else {
            return crate::behaviour::dispatch(shared, conn, request);
        };
        if name == "login" && !self.login(shared, conn, request) {
            return crate::behaviour::dispatch(shared, conn, request); // the fake refuses it
        }
        self.used[index] = true;
        let exchange = &self.script.exchanges[index];
        if let Some(recorded) = &exchange.action_id {
            let theirs = request
                .action_id()
                .map(|v| v.as_bytes().to_vec())
                .unwrap_or_default();
            self.ids.insert(recorded.clone(), theirs);
        }
        let out: Vec<Vec<u8>> = exchange
            .packets
            .iter()
            .map(|p| rewrite_action_ids(p, &self.ids))
            .collect();
        if name == "challenge" {
            let challenge = packets(&out.concat(), false)
                .into_iter()
                .find_map(|p| p.get("Challenge").map(|v| v.to_str_lossy().into_owned()));
            lock(&conn.session).challenge = challenge;
        }
        conn.write_reply(
            out.iter().enumerate().map(|(i, p)| (p.as_slice(), i == 0)),
            None,
        );
        if name == "logoff" {
            conn.close();
        }
    }

    /// Checks a Login against the fake's users; on success marks the session
    /// logged in (the reply then comes from the recording).
    fn login(&self, shared: &Shared, conn: &Conn, request: &Packet) -> bool {
        let text = |key| {
            request
                .get(key)
                .map(|v| v.to_str_lossy().into_owned())
                .unwrap_or_default()
        };
        let user = text("Username");
        let Some(secret) = shared.config.secret_of(&user) else {
            return false;
        };
        let ok = if request.is("AuthType", "MD5") {
            let challenge = lock(&conn.session).challenge.clone().unwrap_or_default();
            let digest = Md5::new()
                .chain_update(challenge.as_bytes())
                .chain_update(secret.as_bytes())
                .finalize();
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            text("Key").eq_ignore_ascii_case(&hex)
        } else {
            text("Secret") == secret
        };
        if ok {
            let mut session = lock(&conn.session);
            session.logged_in = true;
            session.user = Some(user);
            session.mask = request
                .get("Events")
                .map_or(EventMask::All, |v| EventMask::parse(&v.to_str_lossy()));
        }
        ok
    }
}

/// `packet` with every `ActionID:` value found in `ids` replaced (or the line
/// dropped, when the client sent no ActionID).
fn rewrite_action_ids(packet: &[u8], ids: &HashMap<Vec<u8>, Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::with_capacity(packet.len());
    for line in packet.split_inclusive(|&b| b == b'\n') {
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        let ending = &line[content.len()..];
        let value = content
            .get(..10)
            .filter(|key| key.eq_ignore_ascii_case(b"ActionID: "))
            .map(|_| &content[10..]);
        match value.and_then(|v| ids.get(v)) {
            Some(theirs) if theirs.is_empty() => {}
            Some(theirs) => {
                out.extend_from_slice(b"ActionID: ");
                out.extend_from_slice(theirs);
                out.extend_from_slice(ending);
            }
            None => out.extend_from_slice(line),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_inverts_to_bytes_and_refuses_bad_files() {
        let mut recording = Recording::default();
        recording.push(Direction::Server, 0, b"Asterisk Call Manager/11.0.0\r\n");
        recording.push(Direction::Client, 3, b"Action: Ping\r\n\r\n");
        recording.push(Direction::Server, 17, b"odd\n\nbytes\r\n\n\x00\xff");
        let bytes = recording.to_bytes();
        assert_eq!(Recording::parse(&bytes).unwrap(), recording);
        let mut commented = bytes.clone();
        commented.extend_from_slice(b"# a note\n");
        assert_eq!(Recording::parse(&commented).unwrap(), recording);
        assert!(Recording::parse(b"hello\n").is_err());
        assert!(Recording::parse(b"ami-record 1\nclient 0 99\nshort\n").is_err());
        assert!(Recording::parse(b"ami-record 1\nsideways 0 1\nx\n").is_err());
    }

    #[test]
    fn redactor_hides_secrets_split_across_chunks() {
        let mut redactor = Redactor::default();
        let mut a = b"Action: Login\r\nUsername: admin\r\nSec".to_vec();
        let mut b = b"ret: amp111: x\r\nKey: abc\r\n\r\nAction: DBPut\r\nKey: k\r\n\r\n".to_vec();
        redactor.redact(&mut a);
        redactor.redact(&mut b);
        assert_eq!(
            [a, b].concat(),
            b"Action: Login\r\nUsername: admin\r\nSecret: *********\r\nKey: ***\r\n\r\n\
              Action: DBPut\r\nKey: k\r\n\r\n"
        );
    }

    #[test]
    fn script_cuts_exchanges_and_rewrites_action_ids() {
        let mut recording = Recording::default();
        recording.push(Direction::Server, 0, b"Asterisk Call Manager/9.9.9\r\n");
        recording.push(
            Direction::Client,
            1,
            b"Action: Login\r\nActionID: r1\r\nUsername: admin\r\nSecret: ******\r\n\r\n",
        );
        recording.push(
            Direction::Server,
            2,
            b"Response: Success\r\nActionID: r1\r\nMessage: Authentication accepted\r\n\r\nEvent: Newchannel\r\nChannel: A\r\n\r\n",
        );
        recording.push(
            Direction::Client,
            3,
            b"Action: Ping\r\nActionID: r2\r\n\r\n",
        );
        recording.push(
            Direction::Server,
            4,
            b"Response: Success\r\nActionID: r2\r\nPing: Pong\r\n\r\n",
        );
        assert_eq!(recording.ami_version(), "9.9.9");
        let script = Script::new(&recording);
        let names: Vec<_> = script.exchanges.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["login", "ping"]);
        assert_eq!(script.exchanges[0].packets.len(), 2);
        let ids = HashMap::from([(b"r2".to_vec(), b"mine-7".to_vec())]);
        assert_eq!(
            rewrite_action_ids(&script.exchanges[1].packets[0], &ids),
            b"Response: Success\r\nActionID: mine-7\r\nPing: Pong\r\n\r\n"
        );
        let none = HashMap::from([(b"r2".to_vec(), Vec::new())]);
        assert_eq!(
            rewrite_action_ids(&script.exchanges[1].packets[0], &none),
            b"Response: Success\r\nPing: Pong\r\n\r\n"
        );
    }
}
