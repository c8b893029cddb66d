//! Typed requests: an action that knows what its reply becomes.
//!
//! A [`Request`] builds its [`Action`] (with the expectations the core needs,
//! such as "wait for the `OriginateResponse`") and turns the complete [`Reply`]
//! into its output. A client has one generic `send` over every request, so
//! `Command`, `Originate`, collected lists, `Logoff` and generated typed actions
//! all go through the same path.

use std::time::Duration;

use crate::action::Action;
use crate::client::Error;
use crate::connection::{List, OriginateOutcome, Reply};

/// A request: how to build its action, and what its reply becomes.
///
/// ```
/// use ami_proto::{Action, Reply, Request, Error};
///
/// /// `Ping`, answered by the server's timestamp.
/// struct Ping;
///
/// impl Request for Ping {
///     type Output = String;
///     fn into_action(self) -> Action {
///         Action::new("Ping")
///     }
///     fn parse(reply: Reply) -> Result<String, Error> {
///         let response = ami_proto::request::success(reply)?;
///         Ok(response.get("Timestamp").map(|t| t.to_string()).unwrap_or_default())
///     }
/// }
/// assert_eq!(Ping.into_action().name(), "Ping");
/// ```
pub trait Request {
    /// What the request completes with.
    type Output;
    /// The action to send, with its expectations set.
    fn into_action(self) -> Action;
    /// Turns the complete reply into the output. A `Response: Error` where the
    /// request needs success is [`Error::Rejected`].
    fn parse(reply: Reply) -> Result<Self::Output, Error>;
}

/// A plain action completes with its [`Reply`], whatever it says: a
/// `Response: Error` is data here, not an `Err`.
impl Request for Action {
    type Output = Reply;

    fn into_action(self) -> Action {
        self
    }

    fn parse(reply: Reply) -> Result<Reply, Error> {
        Ok(reply)
    }
}

/// The response of a single-response reply, or [`Error::Rejected`] for a
/// `Response: Error`: the usual parse of a request whose output is in its
/// response's headers.
pub fn success(reply: Reply) -> Result<crate::Packet, Error> {
    match reply {
        Reply::Response(packet) if packet.is_error() => Err(Error::Rejected(packet)),
        Reply::Response(packet) => Ok(packet),
        other => Err(unexpected("a single response", &other)),
    }
}

/// `Command`: a CLI command line, answered by its output lines (in either
/// output format: `Output:` headers, or the legacy `Response: Follows` body).
///
/// ```
/// let action = ami_proto::Request::into_action(ami_proto::request::Command::new("core show version"));
/// assert!(action.has_header("Command"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    line: String,
    timeout: Option<Duration>,
}

impl Command {
    /// The CLI command `line`, e.g. `core show channels`.
    pub fn new(line: impl Into<String>) -> Self {
        Command {
            line: line.into(),
            timeout: None,
        }
    }

    /// Overrides the action's deadline.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

impl Request for Command {
    type Output = Vec<String>;

    fn into_action(self) -> Action {
        let action = Action::new("Command").header("Command", &self.line);
        match self.timeout {
            Some(timeout) => action.timeout(timeout),
            None => action,
        }
    }

    /// An `Error` response (an unknown CLI command) is [`Error::CommandFailed`]
    /// with the output lines, where Asterisk puts the reason.
    fn parse(reply: Reply) -> Result<Vec<String>, Error> {
        let packet = match reply {
            Reply::Response(packet) => packet,
            other => return Err(unexpected("command output", &other)),
        };
        let lines = packet
            .command_output()
            .map(|line| line.to_str_lossy().into_owned())
            .collect();
        if packet.is_error() {
            return Err(Error::CommandFailed {
                message: packet.message().map(|m| m.to_string()),
                output: lines,
            });
        }
        Ok(lines)
    }
}

/// An async `Originate`, answered by the call's outcome (the `OriginateResponse`
/// event). `Async: true` is added unless the action has an `Async` header:
/// Asterisk sends `OriginateResponse` only for async originates.
///
/// ```
/// use ami_proto::{Action, Request, request::Originate};
///
/// let action = Originate::new(Action::new("Originate").header("Channel", "PJSIP/100")).into_action();
/// assert!(action.has_header("Async"));
/// ```
#[derive(Debug, Clone)]
pub struct Originate(Action);

impl Originate {
    /// Wraps an `Originate` action built by the caller.
    pub fn new(action: Action) -> Self {
        Originate(action)
    }
}

impl Request for Originate {
    type Output = OriginateOutcome;

    fn into_action(self) -> Action {
        let action = if self.0.has_header("Async") {
            self.0
        } else {
            self.0.header("Async", "true")
        };
        action.wait_for_originate(true)
    }

    fn parse(reply: Reply) -> Result<OriginateOutcome, Error> {
        match reply {
            Reply::Originate(outcome) if outcome.event.is_some() => Ok(*outcome),
            Reply::Originate(outcome) => Err(Error::Rejected(outcome.response)),
            Reply::Response(packet) if packet.is_error() => Err(Error::Rejected(packet)),
            other => Err(unexpected("an OriginateResponse", &other)),
        }
    }
}

/// A list action (`CoreShowChannels`, `QueueStatus` ...) whose items are
/// collected into one [`List`], capped by `Config::max_list_items`.
#[derive(Debug, Clone)]
pub struct CollectList(Action);

impl CollectList {
    /// Wraps a list action.
    pub fn new(action: Action) -> Self {
        CollectList(action)
    }
}

impl Request for CollectList {
    type Output = List;

    fn into_action(self) -> Action {
        self.0
    }

    fn parse(reply: Reply) -> Result<List, Error> {
        match reply {
            Reply::List(list) => Ok(*list),
            Reply::Response(packet) if packet.is_error() => Err(Error::Rejected(packet)),
            other => Err(unexpected("a list", &other)),
        }
    }
}

/// `Logoff`: the server answers `Goodbye` and closes the session for good.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Logoff;

impl Request for Logoff {
    type Output = ();

    fn into_action(self) -> Action {
        Action::new("Logoff")
    }

    fn parse(reply: Reply) -> Result<(), Error> {
        match reply {
            Reply::Response(packet) if packet.is_error() => Err(Error::Rejected(packet)),
            _ => Ok(()),
        }
    }
}

fn unexpected(wanted: &str, got: &Reply) -> Error {
    let shape = match got {
        Reply::Response(_) => "a single response",
        Reply::List(_) => "a list",
        Reply::Originate(_) => "an originate outcome",
    };
    Error::UnexpectedReply(format!("wanted {wanted}, got {shape}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Parsed, Parser};

    fn packet(text: &str) -> crate::Packet {
        let mut parser = Parser::without_banner();
        parser.feed(text.as_bytes());
        match parser.next() {
            Some(Parsed::Packet(packet)) => packet,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn command_error_keeps_the_output_lines() {
        let reply = Reply::Response(packet(
            "Response: Error\r\nMessage: Command output follows\r\nOutput: No such command 'x'\r\n\r\n",
        ));
        match Command::parse(reply) {
            Err(Error::CommandFailed { output, .. }) => {
                assert_eq!(output, vec!["No such command 'x'".to_owned()])
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn originate_keeps_a_callers_async_header() {
        let action =
            Originate::new(Action::new("Originate").header("Async", "false")).into_action();
        let mut wire = Vec::new();
        action.encode("x", &mut wire).unwrap();
        let text = String::from_utf8(wire).unwrap();
        assert!(text.contains("Async: false") && !text.contains("Async: true"));
    }

    #[test]
    fn refused_logoff_is_rejected() {
        let reply = Reply::Response(packet("Response: Error\r\nMessage: no\r\n\r\n"));
        assert!(matches!(Logoff::parse(reply), Err(Error::Rejected(_))));
    }
}
