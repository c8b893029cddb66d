//! The error every adapter returns.

use std::fmt;

use crate::action::EncodeError;
use crate::connection::Error;
use crate::packet::Packet;

/// The error every adapter returns; variant names are the same in all three.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// The TCP connection could not be made.
    Connect(std::io::Error),
    /// The transport failed.
    Io(std::io::Error),
    /// The TLS handshake or session failed.
    Tls(String),
    /// The server refused the login; its message.
    Auth(String),
    /// The deadline passed.
    Timeout,
    /// The connection is closed, for this reason.
    Closed(Error),
    /// The action was refused before anything was sent.
    Invalid(EncodeError),
    /// The server answered `Response: Error` where a typed helper (list, command,
    /// originate) needed success; the response is kept.
    Rejected(Packet),
    /// The reply had another shape than the helper expected.
    UnexpectedReply(String),
}

impl ClientError {
    /// The server's `Message` for a [`ClientError::Rejected`].
    pub fn message(&self) -> Option<String> {
        match self {
            ClientError::Rejected(packet) => packet.message().map(|m| m.to_string()),
            _ => None,
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Connect(error) => write!(f, "could not connect: {error}"),
            ClientError::Io(error) => write!(f, "transport error: {error}"),
            ClientError::Tls(message) => write!(f, "TLS failure: {message}"),
            ClientError::Auth(message) => write!(f, "authentication failed: {message}"),
            ClientError::Timeout => f.write_str("timed out"),
            ClientError::Closed(reason) => write!(f, "connection closed: {reason}"),
            ClientError::Invalid(error) => write!(f, "action refused before sending: {error}"),
            ClientError::Rejected(packet) => match packet.message() {
                Some(message) => write!(f, "server answered Error: {message}"),
                None => f.write_str("server answered Error"),
            },
            ClientError::UnexpectedReply(what) => write!(f, "unexpected reply: {what}"),
        }
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Connect(error) | ClientError::Io(error) => Some(error),
            ClientError::Invalid(error) => Some(error),
            _ => None,
        }
    }
}

impl From<Error> for ClientError {
    fn from(error: Error) -> Self {
        match error {
            Error::Timeout | Error::LoginTimeout => ClientError::Timeout,
            Error::AuthFailed(message) => ClientError::Auth(message),
            Error::Encode(error) => ClientError::Invalid(error),
            error @ Error::ListTooLarge { .. } => ClientError::UnexpectedReply(error.to_string()),
            other => ClientError::Closed(other),
        }
    }
}

impl From<EncodeError> for ClientError {
    fn from(error: EncodeError) -> Self {
        ClientError::Invalid(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_map_to_the_adapter_variants() {
        assert!(matches!(
            ClientError::from(Error::Timeout),
            ClientError::Timeout
        ));
        assert!(matches!(
            ClientError::from(Error::AuthFailed("no".into())),
            ClientError::Auth(m) if m == "no"
        ));
        assert!(matches!(
            ClientError::from(Error::Eof),
            ClientError::Closed(Error::Eof)
        ));
    }
}
