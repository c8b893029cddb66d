//! Typed views of a reply, and the actions the adapters' helpers send.

use crate::connection::{List, OriginateOutcome, Reply};

use super::ClientError;

/// The list of a reply: `Rejected` for an `Error` response, `UnexpectedReply` for
/// anything but a list.
pub fn expect_list(reply: Reply) -> Result<List, ClientError> {
    match reply {
        Reply::List(list) => Ok(list),
        Reply::Response(packet) if packet.is_error() => Err(ClientError::Rejected(packet)),
        other => Err(unexpected("a list", &other)),
    }
}

/// The output lines of a `Command` reply (either format). An `Error` response (an
/// unknown CLI command) is `Rejected`; its output stays readable from the packet.
pub fn expect_command_output(reply: Reply) -> Result<Vec<String>, ClientError> {
    match reply {
        Reply::Response(packet) if packet.is_error() => Err(ClientError::Rejected(packet)),
        Reply::Response(packet) => Ok(packet
            .command_output()
            .map(|line| line.to_str_lossy().into_owned())
            .collect()),
        other => Err(unexpected("command output", &other)),
    }
}

/// The outcome of an async Originate; `Rejected` when the response was an error.
pub fn expect_originate(reply: Reply) -> Result<OriginateOutcome, ClientError> {
    match reply {
        Reply::Originate(outcome) if outcome.event.is_some() => Ok(outcome),
        Reply::Originate(outcome) => Err(ClientError::Rejected(outcome.response)),
        Reply::Response(packet) if packet.is_error() => Err(ClientError::Rejected(packet)),
        other => Err(unexpected("an OriginateResponse", &other)),
    }
}

/// The outcome of `Logoff`: `Ok(true)` for `Goodbye` (the session is over),
/// `Ok(false)` for another success, `Rejected` for an `Error` response.
pub fn expect_goodbye(reply: Reply) -> Result<bool, ClientError> {
    match reply {
        Reply::Response(packet) if packet.is_error() => Err(ClientError::Rejected(packet)),
        reply => Ok(reply.response().is("Response", "Goodbye")),
    }
}

fn unexpected(wanted: &str, got: &Reply) -> ClientError {
    let shape = match got {
        Reply::Response(_) => "a single response",
        Reply::List(_) => "a list",
        Reply::Originate(_) => "an originate outcome",
    };
    ClientError::UnexpectedReply(format!("wanted {wanted}, got {shape}"))
}

/// Makes `action` an async Originate whose reply is the call's outcome: adds
/// `Async: true` unless an `Async` header is there (Asterisk only sends
/// `OriginateResponse` for async originates) and waits for the outcome.
///
/// ```
/// let action = ami_proto::originate_action(ami_proto::Action::new("Originate"));
/// assert!(action.has_header("Async"));
/// ```
pub fn originate_action(action: crate::Action) -> crate::Action {
    let action = if action.has_header("Async") {
        action
    } else {
        action.header("Async", "true")
    };
    action.wait_for_originate(true)
}

/// The action `Command` with its CLI command line.
///
/// ```
/// let action = ami_proto::command_action("core show channels");
/// assert!(action.check().is_ok());
/// ```
pub fn command_action(command: &str) -> crate::Action {
    crate::Action::new("Command").header("Command", command)
}
