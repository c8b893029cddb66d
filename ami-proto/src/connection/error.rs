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
pub enum Reason {
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
    /// The server refused a configured event filter (its message): the
    /// session cannot promise what it filters.
    FilterRefused(String),
    /// No transport is open yet (the first one is being dialled).
    NotConnected,
    /// Opening the transport failed: the address and what went wrong.
    Connect {
        /// What kind of failure (refused, timed out ...).
        kind: std::io::ErrorKind,
        /// The address and the system's message.
        message: String,
    },
    /// The TLS handshake failed.
    Tls(String),
    /// AMI over HTTP: the server answered `Permission denied` to a logged-in
    /// session, which expired (no request within its `Max-Age`) or was logged
    /// off. The action that met it fails with this reason; it is never re-sent.
    SessionExpired,
    /// The server broke the protocol in a way that ends the session (e.g. an MD5
    /// challenge reply without a `Challenge`).
    Protocol(String),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Timeout => f.write_str("action timed out"),
            Reason::LoginTimeout => f.write_str("login timed out"),
            Reason::KeepaliveTimeout => f.write_str("keepalive timed out: the link is dead"),
            Reason::AuthFailed(message) => write!(f, "authentication failed: {message}"),
            Reason::Eof => f.write_str("connection closed by the server"),
            Reason::Io(message) => write!(f, "transport error: {message}"),
            Reason::LoggedOff => f.write_str("logged off"),
            Reason::ClosedByClient => f.write_str("connection closed by the client"),
            Reason::Encode(error) => write!(f, "action refused: {error}"),
            Reason::Protocol(message) => write!(f, "protocol error: {message}"),
            Reason::SessionExpired => f.write_str(
                "HTTP session expired or logged off (the server answered Permission denied)",
            ),
            Reason::NotConnected => f.write_str("not connected yet"),
            Reason::FilterRefused(message) => {
                write!(f, "the server refused an event filter: {message}")
            }
            Reason::Connect { message, .. } => write!(f, "could not connect to {message}"),
            Reason::Tls(message) => write!(f, "TLS failure: {message}"),
            Reason::ListTooLarge { limit } => write!(
                f,
                "list longer than {limit} items: stream it (Action::stream_list) instead"
            ),
        }
    }
}

impl Reason {
    /// Whether a connection lost for this reason may be replaced by a new one:
    /// not after a logoff, a local close, a refused login or a login action the
    /// core refused to encode (retrying cannot fix those).
    ///
    /// ```
    /// use ami_proto::Reason;
    ///
    /// assert!(Reason::Eof.is_reconnectable());
    /// assert!(!Reason::AuthFailed("no".into()).is_reconnectable());
    /// ```
    pub fn is_reconnectable(&self) -> bool {
        !matches!(
            self,
            Reason::LoggedOff
                | Reason::ClosedByClient
                | Reason::AuthFailed(_)
                | Reason::Encode(_)
                | Reason::FilterRefused(_)
        )
    }
}

impl std::error::Error for Reason {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Reason::Encode(error) => Some(error),
            _ => None,
        }
    }
}

impl From<EncodeError> for Reason {
    fn from(error: EncodeError) -> Self {
        Reason::Encode(error)
    }
}
