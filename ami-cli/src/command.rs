//! `ami command "core show channels"`: a CLI command's output lines.

use std::io::Write;

use ami_proto::request::Command;
use ami_proto::Request;

use crate::cli::{CommandArgs, ConnArgs};
use crate::connect::{connect_blocking, resolve};
use crate::error::{refused, CliError, Exit, Phase};

/// Runs `ami command`.
pub fn run(conn: &ConnArgs, args: &CommandArgs) -> Result<(), CliError> {
    let action = Command::new(&args.command).into_action();
    action.check().map_err(refused)?;
    let (target, config) = resolve(conn)?;
    let client = connect_blocking(&target, config)?;
    let reply = match client.send(action).wait() {
        Ok(reply) => reply,
        Err(error) => {
            client.close();
            return Err(target.context.describe(error, Phase::Action("Command")));
        }
    };
    let _ = client.logoff().wait();
    let response = reply.response();
    let lines: Vec<String> = response
        .command_output()
        .map(|line| line.to_str_lossy().into_owned())
        .collect();
    if args.json {
        let mut out = std::io::stdout().lock();
        crate::stdout_result(crate::output::write_json(&mut out, response))?;
    } else if !response.is_error() {
        let mut out = std::io::stdout().lock();
        let written = lines
            .iter()
            .try_for_each(|line| writeln!(out, "{line}"))
            .and_then(|()| out.flush());
        crate::stdout_result(written)?;
    }
    if response.is_error() {
        let why = match lines.is_empty() {
            false => lines.join("\n"),
            true => response
                .message()
                .map(|m| m.to_str_lossy().into_owned())
                .unwrap_or_else(|| "no message".into()),
        };
        return Err(CliError::new(
            Exit::ServerError,
            format!("the server answered Error: {why}"),
        ));
    }
    Ok(())
}
