//! Per-session state (login, Events mask, filters) and the reader thread's loop.

use std::sync::Arc;

use ami_proto::{Parsed, Parser};
use regex::bytes::Regex;

use crate::conn::{lock, Conn};
use crate::event::Prepared;
use crate::recording::Replay;
use crate::server::Shared;
use crate::transport::Source;

/// Which event classes a session receives (`Events:` at login, the `Events` action).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum EventMask {
    #[default]
    All,
    Off,
    Classes(Vec<String>),
}

impl EventMask {
    /// Parses `on`, `off` or a comma list of classes as Asterisk does.
    pub(crate) fn parse(value: &str) -> Self {
        let value = value.trim().to_ascii_lowercase();
        match value.as_str() {
            "on" | "yes" | "true" | "y" | "t" | "1" | "all" => EventMask::All,
            "off" | "no" | "false" | "n" | "f" | "0" | "" => EventMask::Off,
            _ => EventMask::Classes(
                value
                    .split(',')
                    .map(|c| c.trim().to_owned())
                    .filter(|c| !c.is_empty())
                    .collect(),
            ),
        }
    }

    /// True when an event of these classes passes (`None`: no Privilege header).
    pub(crate) fn allows(&self, classes: Option<&[String]>) -> bool {
        match self {
            EventMask::All => true,
            EventMask::Off => false,
            EventMask::Classes(mask) => match classes {
                None => true,
                Some(classes) => classes.iter().any(|c| mask.contains(c)),
            },
        }
    }

    pub(crate) fn allows_class(&self, class: &str) -> bool {
        self.allows(Some(&[class.to_owned()]))
    }
}

/// The state of one AMI session.
#[derive(Debug, Default)]
pub(crate) struct Session {
    pub(crate) logged_in: bool,
    pub(crate) user: Option<String>,
    pub(crate) mask: EventMask,
    /// Filters without `!`: an event must match one of them (when there are any).
    pub(crate) include: Vec<Regex>,
    /// Filters with `!`: an event must match none of them.
    pub(crate) exclude: Vec<Regex>,
    pub(crate) challenge: Option<String>,
}

impl Session {
    /// True when this session gets `event`.
    pub(crate) fn wants(&self, event: &Prepared) -> bool {
        self.logged_in
            && self.mask.allows(event.classes.as_deref())
            && self.passes_filters(&event.bytes)
    }

    /// Asterisk's filters: regexes matched against the whole event text (every
    /// `Key: Value` line, `Event:` and `Privilege:` included). An event passes when
    /// it matches one filter without `!` (if there are any) and none with `!`: so
    /// a whitelist such as `Event: Hangup` blocks `OriginateResponse` too.
    pub(crate) fn passes_filters(&self, bytes: &[u8]) -> bool {
        let included = self.include.is_empty() || self.include.iter().any(|r| r.is_match(bytes));
        included && !self.exclude.iter().any(|r| r.is_match(bytes))
    }
}

/// A change an action makes to its session. It takes effect together with the
/// action's reply, under the connection's writer lock: an event is written either
/// before the reply, as the session was, or after it, as the session is now.
#[derive(Debug)]
pub(crate) enum SessionChange {
    /// A successful login: the user and the `Events:` mask it asked for.
    Login { user: String, mask: EventMask },
    /// The `Events` action's new mask.
    Mask(EventMask),
    /// A `Filter` action's filter; `exclude` for a leading `!`.
    Filter { exclude: bool, regex: Regex },
}

impl SessionChange {
    pub(crate) fn apply(self, session: &mut Session) {
        match self {
            SessionChange::Login { user, mask } => {
                session.logged_in = true;
                session.user = Some(user);
                session.mask = mask;
            }
            SessionChange::Mask(mask) => session.mask = mask,
            SessionChange::Filter {
                exclude: true,
                regex,
            } => session.exclude.push(regex),
            SessionChange::Filter {
                exclude: false,
                regex,
            } => session.include.push(regex),
        }
    }
}

/// Compiles a filter the way Asterisk's `regcomp(REG_EXTENDED)` reads it: no
/// `REG_NEWLINE`, so `.` also matches a line end and `^`/`$` anchor the whole
/// event text.
pub(crate) fn compile_filter(pattern: &str) -> Option<Regex> {
    regex::bytes::RegexBuilder::new(pattern)
        .dot_matches_new_line(true)
        .build()
        .ok()
}

/// The reader thread of one connection: banner, then actions served one at a time.
pub(crate) fn run(shared: Arc<Shared>, conn: Arc<Conn>, mut source: Source) {
    if let Some(transcript) = &shared.config.replay {
        conn.write_raw(transcript);
        conn.close();
    } else {
        let banner = format!("Asterisk Call Manager/{}\r\n", shared.config.ami_version);
        conn.write_raw(banner.as_bytes());
    }
    let mut replay = shared.config.recording.as_deref().map(Replay::new);
    let mut parser = Parser::without_banner();
    let mut buf = vec![0u8; 16 * 1024];
    while conn.wait_readable() {
        let n = match source.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // A stall set while the read was blocked still holds these bytes back.
        if !conn.wait_readable() {
            break;
        }
        lock(&conn.recorded).extend_from_slice(&buf[..n]);
        parser.feed(&buf[..n]);
        for item in parser.by_ref() {
            // After a close (Logoff, failed login, fault) the client is only drained.
            if let Parsed::Packet(packet) = item {
                if conn.is_open() && shared.config.replay.is_none() {
                    match &mut replay {
                        Some(replay) => replay.serve(&shared, &conn, &packet),
                        None => crate::behaviour::dispatch(&shared, &conn, &packet),
                    }
                }
            }
        }
    }
    conn.kill();
}
