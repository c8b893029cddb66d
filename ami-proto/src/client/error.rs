//! The error every adapter returns.

use std::fmt;

use crate::action::EncodeError;
use crate::connection::Reason;
use crate::packet::Packet;

/// The error every adapter returns; variant names are the same in all three.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The TCP connection could not be made.
    Connect(std::io::Error),
    /// The transport failed.
    Io(std::io::Error),
    /// The TLS handshake or session failed.
    Tls(String),
    /// The server refused the login; its message.
    Auth(String),
    /// The deadline passed.
    Timeout {
        /// What was waited for: the action's name (`Ping`), or `login`.
        what: String,
        /// The deadline it had, when known (an action's own; a list's
        /// restarts at each item, an async Originate's outcome has
        /// `Config::originate_timeout`).
        after: Option<std::time::Duration>,
    },
    /// The client is closed for good, for this reason.
    Closed(Reason),
    /// The connection is down and the client is reconnecting (lost for this
    /// reason): nothing was sent; try again once it is ready.
    Down(Reason),
    /// `Command` ran a CLI command that failed: the server's message and the
    /// output lines, where Asterisk puts the reason.
    CommandFailed {
        /// The response's `Message`.
        message: Option<String>,
        /// The output lines.
        output: Vec<String>,
    },
    /// The action was refused before anything was sent.
    Invalid(EncodeError),
    /// The server answered `Response: Error` where a typed helper (list, command,
    /// originate) needed success; the response is kept.
    Rejected(Packet),
    /// The reply had another shape than the helper expected.
    UnexpectedReply(String),
}

impl Error {
    /// [`Error::Timeout`] waiting for `what`, its deadline unknown.
    pub fn timeout(what: &str) -> Self {
        Error::Timeout {
            what: what.to_owned(),
            after: None,
        }
    }

    /// The server's `Message` for a [`Error::Rejected`].
    pub fn message(&self) -> Option<String> {
        match self {
            Error::Rejected(packet) => packet.message().map(|m| m.to_string()),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Connect(error) => write!(f, "could not connect: {error}"),
            Error::Io(error) => write!(f, "transport error: {error}"),
            Error::Tls(message) => write!(f, "TLS failure: {message}"),
            Error::Auth(message) => write!(f, "authentication failed: {message}"),
            Error::Timeout { what, after } => match after {
                Some(after) => write!(f, "{what} timed out (no answer within {after:?})"),
                None => write!(f, "{what} timed out"),
            },
            Error::Closed(reason) => write!(f, "client closed: {reason}"),
            Error::Down(reason) => write!(f, "connection down, reconnecting (lost: {reason})"),
            Error::CommandFailed { message, output } => {
                f.write_str("command failed")?;
                if let Some(message) = message {
                    write!(f, " ({message})")?;
                }
                match output.is_empty() {
                    true => Ok(()),
                    false => write!(f, ": {}", output.join(" / ")),
                }
            }
            Error::Invalid(error) => write!(f, "action refused before sending: {error}"),
            Error::Rejected(packet) => match packet.message() {
                Some(message) => write!(f, "server answered Error: {message}"),
                None => f.write_str("server answered Error"),
            },
            Error::UnexpectedReply(what) => write!(f, "unexpected reply: {what}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Connect(error) | Error::Io(error) => Some(error),
            Error::Invalid(error) => Some(error),
            _ => None,
        }
    }
}

impl From<Reason> for Error {
    fn from(error: Reason) -> Self {
        match error {
            Reason::Timeout => Error::timeout("the action"),
            Reason::LoginTimeout => Error::timeout("login"),
            Reason::AuthFailed(message) => Error::Auth(message),
            Reason::Encode(error) => Error::Invalid(error),
            Reason::Connect { kind, message } => Error::Connect(std::io::Error::new(kind, message)),
            Reason::Tls(message) => Error::Tls(message),
            error @ Reason::ListTooLarge { .. } => Error::UnexpectedReply(error.to_string()),
            other => Error::Closed(other),
        }
    }
}

impl From<EncodeError> for Error {
    fn from(error: EncodeError) -> Self {
        Error::Invalid(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_map_to_the_adapter_variants() {
        assert!(matches!(
            Error::from(Reason::Timeout),
            Error::Timeout { .. }
        ));
        assert!(matches!(
            Error::from(Reason::AuthFailed("no".into())),
            Error::Auth(m) if m == "no"
        ));
        assert!(matches!(
            Error::from(Reason::Eof),
            Error::Closed(Reason::Eof)
        ));
    }
}
