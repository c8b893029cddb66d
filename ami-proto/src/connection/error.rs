//! Why an action or a connection failed.

use std::fmt;

use crate::action::EncodeError;

/// Why an action did not get its reply, or why the connection closed.
///
/// A `Response: Error` from Asterisk is not an `Error`: it is data, in the
/// [`Reply`](crate::Reply). Every pending action of a connection that closes
/// completes with the close reason, and every later call returns it again.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The action's deadline passed before its reply was complete.
    Timeout,
    /// The banner and login did not complete before the login deadline.
    LoginTimeout,
    /// Nothing arrived within the keepalive timeout after a `Ping`: the link is dead.
    KeepaliveTimeout,
    /// The server refused the login; its `Message` is kept.
    AuthFailed(String),
    /// The server closed the connection.
    Eof,
    /// The transport failed (reported by the adapter).
    Io(String),
    /// The session ended with `Logoff` (`Response: Goodbye`).
    LoggedOff,
    /// The caller closed the connection.
    ClosedByClient,
    /// The action was refused before anything was sent.
    Encode(EncodeError),
    /// A collected list grew past `Config::max_list_items`; stream it instead.
    ListTooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// The server broke the protocol in a way that ends the session (e.g. an MD5
    /// challenge reply without a `Challenge`).
    Protocol(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Timeout => f.write_str("action timed out"),
            Error::LoginTimeout => f.write_str("login timed out"),
            Error::KeepaliveTimeout => f.write_str("keepalive timed out: the link is dead"),
            Error::AuthFailed(message) => write!(f, "authentication failed: {message}"),
            Error::Eof => f.write_str("connection closed by the server"),
            Error::Io(message) => write!(f, "transport error: {message}"),
            Error::LoggedOff => f.write_str("logged off"),
            Error::ClosedByClient => f.write_str("connection closed by the client"),
            Error::Encode(error) => write!(f, "action refused: {error}"),
            Error::Protocol(message) => write!(f, "protocol error: {message}"),
            Error::ListTooLarge { limit } => write!(
                f,
                "list longer than {limit} items: stream it (Action::stream_list) instead"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Encode(error) => Some(error),
            _ => None,
        }
    }
}

impl From<EncodeError> for Error {
    fn from(error: EncodeError) -> Self {
        Error::Encode(error)
    }
}
