//! The serializer: an [`Action`] builder that refuses, before any byte is written,
//! everything the server would misread.

use std::fmt;
use std::time::Duration;

use crate::escape::escape_variable_value;

/// Longest line the server accepts, line end excluded.
pub const MAX_LINE_BYTES: usize = 1022;
/// Most lines the server accepts in one action, `Action:` and `ActionID:` included.
pub const MAX_ACTION_LINES: usize = 128;

/// A value a caller tried to send that the server would misread or reject.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// CR, LF or NUL in a key or value: the server would end the line there, letting
    /// the rest inject headers or whole actions.
    ForbiddenByte {
        /// The key of the offending line (or `Action` for the action name).
        key: String,
        /// The byte.
        byte: u8,
    },
    /// A key that is empty or holds `:`, whitespace or a non-printable byte.
    InvalidKey {
        /// The key, lossily decoded.
        key: String,
    },
    /// A value starting with whitespace, which the server silently drops.
    LeadingWhitespace {
        /// The key of the offending line.
        key: String,
    },
    /// A line longer than [`MAX_LINE_BYTES`].
    LineTooLong {
        /// The key of the offending line.
        key: String,
        /// Its length in bytes, line end excluded.
        len: usize,
    },
    /// More than [`MAX_ACTION_LINES`] lines.
    TooManyLines {
        /// The line count the action would have.
        lines: usize,
    },
    /// A caller-set `ActionID` that is not short ASCII (`[A-Za-z0-9._-]`, 1 to
    /// 64 bytes): Asterisk copies it into fixed buffers.
    InvalidActionId {
        /// The ActionID.
        id: String,
    },
    /// `ActionID` set twice on one action (Asterisk would use the first).
    ActionIdSetTwice {
        /// The ActionID set first.
        first: String,
    },
    /// A caller-set `ActionID` already used by an action still pending on this
    /// connection, or shaped like the connection's own: replies could not be
    /// told apart.
    DuplicateActionId {
        /// The ActionID.
        id: String,
    },
    /// A `Variable` name that is empty or holds `=` or a splitter byte.
    InvalidVariableName {
        /// The name.
        name: String,
    },
    /// An empty action name.
    EmptyActionName,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::ForbiddenByte { key, byte } => {
                write!(f, "value of {key:?} contains forbidden byte 0x{byte:02x} (CR, LF and NUL are refused)")
            }
            EncodeError::InvalidKey { key } => write!(
                f,
                "invalid header name {key:?}: must be non-empty printable ASCII without ':' or whitespace"
            ),
            EncodeError::LeadingWhitespace { key } => {
                write!(f, "value of {key:?} starts with whitespace, which the server drops")
            }
            EncodeError::LineTooLong { key, len } => write!(
                f,
                "line {key:?} is {len} bytes; the server accepts at most {MAX_LINE_BYTES}"
            ),
            EncodeError::TooManyLines { lines } => write!(
                f,
                "action has {lines} lines; the server accepts at most {MAX_ACTION_LINES}"
            ),
            EncodeError::InvalidActionId { id } => write!(
                f,
                "ActionID {id:?} is not 1 to 64 bytes of [A-Za-z0-9._-] (Asterisk copies it into fixed buffers)"
            ),
            EncodeError::ActionIdSetTwice { first } => {
                write!(f, "ActionID set twice on one action (first {first:?})")
            }
            EncodeError::DuplicateActionId { id } => write!(
                f,
                "ActionID {id:?} is already used by a pending action on this connection"
            ),
            EncodeError::InvalidVariableName { name } => {
                write!(f, "invalid variable name {name:?}")
            }
            EncodeError::EmptyActionName => f.write_str("empty action name"),
        }
    }
}

impl std::error::Error for EncodeError {}

/// What reply an action waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// A response; a list if the response opens one.
    Response,
    /// A list even if the response does not say so (Asterisk before 13.2).
    List,
    /// The response, then the `OriginateResponse` event of the same ActionID.
    OriginateOutcome,
}

/// An action to send: a name plus ordered headers.
///
/// Every header is checked as it is added; the first refusal is kept and returned by
/// [`Action::check`] and by whatever sends the action, so nothing of a bad action is
/// ever written.
///
/// ```
/// use ami_proto::Action;
///
/// let action = Action::new("Originate")
///     .header("Channel", "PJSIP/100")
///     .header("Exten", "200")
///     .variable("CALLER", "O'Brien, Pat")
///     .header("Async", "true");
/// let mut wire = Vec::new();
/// action.encode("x-1", &mut wire).unwrap();
/// assert_eq!(
///     wire,
///     b"Action: Originate\r\nActionID: x-1\r\nChannel: PJSIP/100\r\nExten: 200\r\n\
///       Variable: CALLER=O'Brien\\, Pat\r\nAsync: true\r\n\r\n"
/// );
///
/// let injected = Action::new("Ping").header("Data", "x\r\n\r\nAction: Originate");
/// assert!(injected.check().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    name: String,
    /// The encoded header lines, each `Key: Value\r\n`.
    lines: Vec<u8>,
    line_count: usize,
    error: Option<EncodeError>,
    timeout: Option<Duration>,
    stream_list: bool,
    expect: Expect,
    expect_set: bool,
    /// The caller's own ActionID, if set.
    action_id: Option<String>,
}

impl Action {
    /// A new action named `name` (`Ping`, `Originate`, `CoreShowChannels` ...).
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        let error = check_action_name(&name).err();
        Action {
            name,
            lines: Vec::new(),
            line_count: 0,
            error,
            timeout: None,
            stream_list: false,
            expect: Expect::Response,
            expect_set: false,
            action_id: None,
        }
    }

    /// Adds a `Key: Value` header. Keys may repeat; the server uses the first.
    pub fn header(mut self, key: &str, value: impl AsRef<[u8]>) -> Self {
        let value = value.as_ref();
        if self.error.is_none() {
            self.error = self.push_header(key, value).err();
        }
        if !self.expect_set && self.is_async_originate(key, value) {
            self.expect = Expect::OriginateOutcome;
        }
        self
    }

    /// Adds one `Variable: name=value` header, escaping the value for the server's
    /// splitter (`\ " , ( ) [ ]` are preceded by `\`).
    pub fn variable(mut self, name: &str, value: &str) -> Self {
        let bad_name = name.is_empty()
            || name
                .bytes()
                .any(|b| matches!(b, b'=' | b',' | b'"' | b'\\' | b'(' | b')' | b'[' | b']'));
        if bad_name && self.error.is_none() {
            self.error = Some(EncodeError::InvalidVariableName {
                name: name.to_owned(),
            });
            return self;
        }
        let mut pair = Vec::with_capacity(name.len() + 1 + value.len());
        pair.extend_from_slice(name.as_bytes());
        pair.push(b'=');
        escape_variable_value(value, &mut pair);
        self.header("Variable", pair)
    }

    /// Sets this action's timeout, overriding the connection's default. The
    /// action fails with `Timeout` this long after it was sent; for a list, this
    /// long after its latest item, so a long list that keeps arriving completes.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Delivers a list's items one by one as they arrive instead of collecting them,
    /// for lists too large to hold.
    pub fn stream_list(mut self) -> Self {
        self.stream_list = true;
        self
    }

    /// Treats a `Success` response as the start of a list even without
    /// `EventList: start` (lists of Asterisk before 13.2).
    pub fn expect_list(mut self) -> Self {
        self.expect = Expect::List;
        self.expect_set = true;
        self
    }

    /// Whether to wait for the `OriginateResponse` event after the response. Set
    /// automatically for `Originate` with a true `Async` header; this overrides it.
    pub fn wait_for_originate(mut self, wait: bool) -> Self {
        self.expect = if wait {
            Expect::OriginateOutcome
        } else {
            Expect::Response
        };
        self.expect_set = true;
        self
    }

    /// Whether a header named `key` (ASCII case-insensitive) was added.
    ///
    /// ```
    /// let action = ami_proto::Action::new("Originate").header("Async", "true");
    /// assert!(action.has_header("async"));
    /// assert!(!action.has_header("Channel"));
    /// ```
    pub fn has_header(&self, key: &str) -> bool {
        self.lines.split(|&b| b == b'\n').any(|line| {
            line.len() > key.len()
                && line[..key.len()].eq_ignore_ascii_case(key.as_bytes())
                && line[key.len()] == b':'
        })
    }

    /// The action name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The first refusal among this action's name and headers, if any.
    pub fn check(&self) -> Result<(), EncodeError> {
        match &self.error {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }

    /// Appends the action's bytes, with `ActionID: action_id` (or the
    /// caller-set one, see [`action_id`](Self::action_id)), to `out`. Writes
    /// nothing on error.
    pub fn encode(&self, action_id: &str, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.check()?;
        let action_id = self.action_id.as_deref().unwrap_or(action_id);
        check_value("ActionID", action_id.as_bytes())?;
        out.reserve(self.name.len() + action_id.len() + self.lines.len() + 26);
        out.extend_from_slice(b"Action: ");
        out.extend_from_slice(self.name.as_bytes());
        out.extend_from_slice(b"\r\nActionID: ");
        out.extend_from_slice(action_id.as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.lines);
        out.extend_from_slice(b"\r\n");
        Ok(())
    }

    /// The deadline set with [`Action::timeout`], if any (adapters use it for a
    /// backstop of their own).
    pub fn requested_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    pub(crate) fn streams_list(&self) -> bool {
        self.stream_list
    }

    pub(crate) fn expect(&self) -> Expect {
        self.expect
    }

    /// Sets the action's `ActionID` instead of the connection's own, e.g. to
    /// recognise an `OriginateResponse` seen by another process. It must be
    /// short ASCII (`[A-Za-z0-9._-]`, at most 64 bytes) and unique among the
    /// actions pending on the connection (else the action is refused before
    /// anything is sent). `.header("ActionID", id)` does the same.
    ///
    /// ```
    /// use ami_proto::{Action, EncodeError};
    ///
    /// let mut wire = Vec::new();
    /// let action = Action::new("Ping").action_id("crm-42");
    /// action.encode("ignored", &mut wire).unwrap();
    /// assert_eq!(wire, b"Action: Ping\r\nActionID: crm-42\r\n\r\n");
    /// assert!(matches!(
    ///     Action::new("Ping").action_id("no spaces").check(),
    ///     Err(EncodeError::InvalidActionId { .. })
    /// ));
    /// ```
    pub fn action_id(mut self, id: &str) -> Self {
        self.set_action_id(id);
        self
    }

    fn set_action_id(&mut self, id: &str) {
        if let Some(first) = &self.action_id {
            if self.error.is_none() {
                let first = first.clone();
                self.error = Some(EncodeError::ActionIdSetTwice { first });
            }
            return;
        }
        let valid = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !valid && self.error.is_none() {
            self.error = Some(EncodeError::InvalidActionId { id: id.to_owned() });
        }
        self.action_id = Some(id.to_owned());
    }

    /// The caller-set ActionID, if any.
    pub fn caller_action_id(&self) -> Option<&str> {
        self.action_id.as_deref()
    }

    fn push_header(&mut self, key: &str, value: &[u8]) -> Result<(), EncodeError> {
        if key.eq_ignore_ascii_case("ActionID") {
            self.set_action_id(&String::from_utf8_lossy(value));
            return self.check();
        }
        check_value(key, value)?;
        if matches!(value.first(), Some(b' ' | b'\t')) {
            return Err(EncodeError::LeadingWhitespace {
                key: key.to_owned(),
            });
        }
        let len = key.len() + 2 + value.len();
        if len > MAX_LINE_BYTES {
            return Err(EncodeError::LineTooLong {
                key: key.to_owned(),
                len,
            });
        }
        // Two lines are always there: `Action:` and `ActionID:`.
        let lines = self.line_count + 3;
        if lines > MAX_ACTION_LINES {
            return Err(EncodeError::TooManyLines { lines });
        }
        encode_field(&mut self.lines, key, value)?;
        self.line_count += 1;
        Ok(())
    }

    fn is_async_originate(&self, key: &str, value: &[u8]) -> bool {
        self.name.eq_ignore_ascii_case("Originate")
            && key.eq_ignore_ascii_case("Async")
            && is_true(value)
    }
}

/// Asterisk's `ast_true`: yes, true, y, t, 1, on.
fn is_true(value: &[u8]) -> bool {
    ["yes", "true", "y", "t", "1", "on"]
        .iter()
        .any(|t| value.eq_ignore_ascii_case(t.as_bytes()))
}

/// Appends one `Key: Value\r\n` line after checking that the key is a valid header
/// name and the value holds no CR, LF or NUL. This is the check every written line
/// passes; [`Action`] adds the server's length and whitespace rules on top. Useful
/// on the server side (a fake Asterisk writing responses and events).
///
/// ```
/// let mut out = Vec::new();
/// ami_proto::encode_field(&mut out, "Output", b"  indented").unwrap();
/// assert_eq!(out, b"Output:   indented\r\n");
/// assert!(ami_proto::encode_field(&mut out, "Bad Key", b"x").is_err());
/// ```
pub fn encode_field(out: &mut Vec<u8>, key: &str, value: &[u8]) -> Result<(), EncodeError> {
    check_key(key)?;
    check_value(key, value)?;
    out.reserve(key.len() + value.len() + 4);
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
    Ok(())
}

fn check_key(key: &str) -> Result<(), EncodeError> {
    let valid = !key.is_empty() && key.bytes().all(|b| b.is_ascii_graphic() && b != b':');
    if valid {
        Ok(())
    } else {
        Err(EncodeError::InvalidKey {
            key: key.to_owned(),
        })
    }
}

fn check_value(key: &str, value: &[u8]) -> Result<(), EncodeError> {
    match memchr::memchr3(b'\r', b'\n', 0, value) {
        Some(at) => Err(EncodeError::ForbiddenByte {
            key: key.to_owned(),
            byte: value[at],
        }),
        None => Ok(()),
    }
}

fn check_action_name(name: &str) -> Result<(), EncodeError> {
    if name.is_empty() {
        return Err(EncodeError::EmptyActionName);
    }
    check_value("Action", name.as_bytes())?;
    if name.bytes().any(|b| b.is_ascii_whitespace()) {
        return Err(EncodeError::InvalidKey {
            key: name.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(action: Action) -> EncodeError {
        action.check().unwrap_err()
    }

    #[test]
    fn refuses_injection_bytes_in_values_and_names() {
        for bad in ["a\rb", "a\nb", "a\0b"] {
            assert!(matches!(
                refusal(Action::new("Ping").header("K", bad)),
                EncodeError::ForbiddenByte { .. }
            ));
            assert!(Action::new(bad).check().is_err());
        }
    }

    #[test]
    fn refuses_bad_keys() {
        for key in ["", "A B", "A:B", "A\tB", "Ä"] {
            assert!(matches!(
                refusal(Action::new("Ping").header(key, "v")),
                EncodeError::InvalidKey { .. }
            ));
        }
    }

    #[test]
    fn refuses_leading_whitespace_and_checks_a_callers_action_id() {
        assert!(matches!(
            refusal(Action::new("Ping").header("K", " v")),
            EncodeError::LeadingWhitespace { .. }
        ));
        assert!(matches!(
            refusal(Action::new("Ping").header("actionid", "has space")),
            EncodeError::InvalidActionId { .. }
        ));
        assert!(matches!(
            refusal(Action::new("Ping").action_id(&"x".repeat(65))),
            EncodeError::InvalidActionId { .. }
        ));
        // Found by the roundtrip fuzz target: a second ActionID is refused, not
        // silently replacing the first (Asterisk uses the first).
        assert!(matches!(
            refusal(Action::new("Ping").header("ActionID", "a").header("actionid", "b")),
            EncodeError::ActionIdSetTwice { first } if first == "a"
        ));
        let action = Action::new("Ping").header("ActionID", "crm.7_a-b");
        assert_eq!(action.caller_action_id(), Some("crm.7_a-b"));
        let mut wire = Vec::new();
        action.encode("t-1", &mut wire).unwrap();
        assert_eq!(wire, b"Action: Ping\r\nActionID: crm.7_a-b\r\n\r\n");
    }

    #[test]
    fn line_length_limit_is_exactly_1022_bytes() {
        let fits = "x".repeat(MAX_LINE_BYTES - 3);
        assert!(Action::new("Ping").header("K", &fits).check().is_ok());
        let over = "x".repeat(MAX_LINE_BYTES - 2);
        assert!(matches!(
            refusal(Action::new("Ping").header("K", &over)),
            EncodeError::LineTooLong { len: 1023, .. }
        ));
    }

    #[test]
    fn line_count_limit_counts_action_and_action_id() {
        let mut action = Action::new("Ping");
        for i in 0..MAX_ACTION_LINES - 2 {
            action = action.header("K", i.to_string());
        }
        assert!(action.check().is_ok());
        assert!(matches!(
            refusal(action.header("K", "one too many")),
            EncodeError::TooManyLines { lines: 129 }
        ));
    }

    #[test]
    fn first_error_is_kept_and_nothing_is_written() {
        let action = Action::new("Ping")
            .header("K", "a\nb")
            .header("Bad Key", "v");
        assert!(matches!(
            action.check(),
            Err(EncodeError::ForbiddenByte { .. })
        ));
        let mut out = b"before".to_vec();
        assert!(action.encode("id", &mut out).is_err());
        assert_eq!(out, b"before");
    }

    #[test]
    fn async_originate_waits_for_its_outcome() {
        let action = Action::new("Originate").header("Async", "yes");
        assert_eq!(action.expect(), Expect::OriginateOutcome);
        let sync = Action::new("Originate").header("Async", "false");
        assert_eq!(sync.expect(), Expect::Response);
        let opted_out = Action::new("Originate")
            .wait_for_originate(false)
            .header("Async", "true");
        assert_eq!(opted_out.expect(), Expect::Response);
    }

    #[test]
    fn bad_variable_names_are_refused() {
        assert!(Action::new("Originate")
            .variable("A=B", "v")
            .check()
            .is_err());
        assert!(Action::new("Originate").variable("", "v").check().is_err());
    }
}
