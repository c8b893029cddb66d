//! What went wrong, in words a person understands, and the exit code that says it
//! to a script.

use std::fmt;
use std::io::ErrorKind;
use std::time::Duration;

use ami_proto::Error;

/// The exit codes, documented in `ami --help` and the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 1: anything not listed below.
    Other = 1,
    /// 2: bad options or arguments (clap uses 2 for its own errors too).
    Usage = 2,
    /// 3: could not connect, or the connection was lost.
    Connect = 3,
    /// 4: the server refused the login.
    Auth = 4,
    /// 5: the connection, the login or a reply took longer than `--timeout`.
    Timeout = 5,
    /// 6: TLS handshake or certificate failure.
    Tls = 6,
    /// 7: input refused before anything was sent.
    RefusedInput = 7,
    /// 8: the server answered `Response: Error`.
    ServerError = 8,
    /// 9: an async Originate's outcome was `Failure` (busy, no answer ...).
    CallFailed = 9,
}

/// An error to print (prefixed `ami: `) before exiting with its code.
#[derive(Debug)]
pub struct CliError {
    /// The exit code.
    pub exit: Exit,
    /// The message, one or two sentences.
    pub message: String,
}

impl CliError {
    /// An error with this code and message.
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        CliError {
            exit,
            message: message.into(),
        }
    }

    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        CliError::new(Exit::Usage, message)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Where an error happened, for its message.
#[derive(Debug, Clone)]
pub struct Context {
    /// `host:port`.
    pub addr: String,
    /// The user logging in.
    pub user: String,
    /// The `--timeout` in force.
    pub timeout: Duration,
}

/// What the client was doing.
#[derive(Debug, Clone, Copy)]
pub enum Phase<'a> {
    /// Connecting and logging in.
    Connect,
    /// Waiting for the reply to this action.
    Action(&'a str),
}

impl Context {
    /// Turns an adapter error into a message and an exit code.
    pub fn describe(&self, error: Error, phase: Phase<'_>) -> CliError {
        let addr = &self.addr;
        let secs = self.timeout.as_secs_f64();
        match error {
            Error::Connect(e) => {
                let hint = match e.kind() {
                    ErrorKind::ConnectionRefused => {
                        " (is Asterisk running with AMI enabled in manager.conf, on this port?)"
                    }
                    _ => "",
                };
                let what = match e.kind() {
                    ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                    _ => e.to_string(),
                };
                CliError::new(
                    Exit::Connect,
                    format!("cannot connect to {addr}: {what}{hint}"),
                )
            }
            Error::Io(e) => {
                CliError::new(Exit::Connect, format!("connection to {addr} failed: {e}"))
            }
            Error::Auth(message) => CliError::new(
                Exit::Auth,
                format!(
                    "authentication failed for user {:?} on {addr}: {message} \
                     (check --user and the secret; the user must exist in manager.conf \
                     and be permitted from this address)",
                    self.user
                ),
            ),
            Error::Timeout { .. } => {
                let (what, hint) = match phase {
                    Phase::Connect => (
                        format!("connecting to {addr} and logging in"),
                        "is this an AMI port, and does it need --tls? \
                         Raise --timeout if the server is slow",
                    ),
                    Phase::Action(action) => (
                        format!("waiting for the reply to {action}"),
                        "raise --timeout if the server is slow",
                    ),
                };
                CliError::new(
                    Exit::Timeout,
                    format!("timed out after {secs} s {what} ({hint})"),
                )
            }
            Error::Tls(message) => {
                let hint = if message.contains("certificate") || message.contains("Certificate") {
                    " (trust the server's certificate with --ca FILE; check --tls-name)"
                } else {
                    " (does this port speak TLS? AMI over TLS is usually port 5039)"
                };
                CliError::new(
                    Exit::Tls,
                    format!("TLS failure with {addr}: {message}{hint}"),
                )
            }
            Error::Invalid(e) => refused(e),
            Error::Rejected(packet) => {
                let message = packet
                    .message()
                    .map(|m| m.to_str_lossy().into_owned())
                    .unwrap_or_else(|| "no message".into());
                CliError::new(
                    Exit::ServerError,
                    format!("the server answered Error: {message}"),
                )
            }
            Error::Closed(reason) => closed(reason, addr, phase),
            Error::Down(reason) => closed(reason, addr, phase),
            other => CliError::new(Exit::Other, other.to_string()),
        }
    }
}

fn closed(reason: ami_proto::Reason, addr: &str, phase: Phase<'_>) -> CliError {
    use ami_proto::Reason as E;
    match reason {
        E::Eof if matches!(phase, Phase::Connect) => CliError::new(
            Exit::Connect,
            format!(
                "{addr} closed the connection before the login completed (is this an AMI port?)"
            ),
        ),
        E::Eof => CliError::new(Exit::Connect, format!("{addr} closed the connection")),
        E::Io(message) => CliError::new(
            Exit::Connect,
            format!("connection to {addr} lost: {message}"),
        ),
        E::KeepaliveTimeout => CliError::new(
            Exit::Timeout,
            format!("{addr} stopped answering (keepalive timed out)"),
        ),
        E::Timeout | E::LoginTimeout => CliError::new(Exit::Timeout, format!("{reason}")),
        E::AuthFailed(message) => CliError::new(
            Exit::Auth,
            format!("authentication failed on {addr}: {message}"),
        ),
        E::Encode(e) => refused(e),
        other => CliError::new(Exit::Other, format!("connection to {addr} closed: {other}")),
    }
}

/// Input the library refused before sending anything.
pub fn refused(error: ami_proto::EncodeError) -> CliError {
    CliError::new(
        Exit::RefusedInput,
        format!("refused before sending anything: {error}"),
    )
}
