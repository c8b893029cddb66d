//! `ami send ACTION Key=Value ...`: one action, its whole reply printed.

use std::io::{IsTerminal, Write};

use ami_proto::{Action, Packet, Reply};

use crate::cli::{ColorWhen, ConnArgs, SendArgs};
use crate::color::write_packet;
use crate::connect::{connect_blocking, resolve};
use crate::error::{refused, CliError, Exit, Phase};
use crate::output::write_json;

/// Builds the action from the command line, refusing bad input before any
/// connection is made.
pub fn action(name: &str, headers: &[String]) -> Result<Action, CliError> {
    let mut action = Action::new(name);
    for header in headers {
        let Some((key, value)) = header.split_once('=') else {
            return Err(CliError::usage(format!(
                "header {header:?} is not KEY=VALUE"
            )));
        };
        action = action.header(key, value);
    }
    action.check().map_err(refused)?;
    Ok(action)
}

/// The packets of a reply in wire order: the response, then list items and the
/// closing event, or the `OriginateResponse` event.
pub fn packets(reply: &Reply) -> Vec<&Packet> {
    match reply {
        Reply::Response(packet) => vec![packet],
        Reply::List(list) => std::iter::once(&list.response)
            .chain(&list.items)
            .chain(std::iter::once(&list.complete))
            .collect(),
        Reply::Originate(outcome) => std::iter::once(&outcome.response)
            .chain(&outcome.event)
            .collect(),
    }
}

/// What a reply means for the exit code: `Response: Error` is exit 8, an async
/// Originate whose `OriginateResponse` says `Failure` (busy, no answer ...) exit 9.
pub fn verdict(reply: &Reply) -> Result<(), CliError> {
    let response = reply.response();
    if response.is_error() {
        let message = response
            .message()
            .map(|m| m.to_str_lossy().into_owned())
            .unwrap_or_else(|| "no message".into());
        return Err(CliError::new(
            Exit::ServerError,
            format!("the server answered Error: {message}"),
        ));
    }
    if let Reply::Originate(outcome) = reply {
        if let (Some(event), false) = (&outcome.event, outcome.is_success()) {
            let field = |key| {
                event
                    .get(key)
                    .map(|v| v.to_str_lossy().into_owned())
                    .unwrap_or_else(|| "?".into())
            };
            let why = match outcome.reason() {
                Some(0) => "no such channel, or it could not be dialled",
                Some(1) => "hung up",
                Some(3) => "no answer",
                Some(5) => "busy",
                Some(8) => "congestion",
                _ => "see the event",
            };
            return Err(CliError::new(
                Exit::CallFailed,
                format!(
                    "the call to {} failed: {why} (OriginateResponse: {}, Reason: {})",
                    field("Channel"),
                    field("Response"),
                    field("Reason")
                ),
            ));
        }
    }
    Ok(())
}

/// Runs `ami send`.
pub fn run(conn: &ConnArgs, args: &SendArgs, color: ColorWhen) -> Result<(), CliError> {
    let color = color.enabled(std::io::stdout().is_terminal()) && !args.json;
    if args.params {
        let text = crate::actions::describe(&args.action).ok_or_else(|| {
            CliError::usage(format!(
                "{} is not in Asterisk 22's documentation; it is sent as given",
                args.action
            ))
        })?;
        print!("{text}");
        return Ok(());
    }
    let given: Vec<&str> = args
        .headers
        .iter()
        .map(|h| h.split_once('=').map_or(h.as_str(), |(key, _)| key))
        .collect();
    let missing = crate::actions::missing_required(&args.action, &given);
    if !missing.is_empty() {
        return Err(CliError::usage(format!(
            "{} needs {} (see `ami send {} --params`)",
            args.action,
            missing.join(", "),
            args.action
        )));
    }
    let action = action(&args.action, &args.headers)?;
    let (target, config) = resolve(conn)?;
    let client = connect_blocking(&target, config)?;
    let reply = match client.send(action).wait() {
        Ok(reply) => reply,
        Err(error) => {
            client.close();
            return Err(target.context.describe(error, Phase::Action(&args.action)));
        }
    };
    let mut out = std::io::stdout().lock();
    for packet in packets(&reply) {
        let written = if args.json {
            write_json(&mut out, packet)
        } else {
            write_packet(&mut out, packet, color)
        };
        crate::stdout_result(written.and_then(|()| out.flush()))?;
    }
    drop(out);
    if !args.action.eq_ignore_ascii_case("Logoff") {
        let _ = client.logoff().wait();
    }
    verdict(&reply)
}
