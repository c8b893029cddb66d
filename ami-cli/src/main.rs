//! `ami`: a command-line client for the Asterisk Manager Interface, built on the
//! ami-proto core and its three runtime adapters. `ami tour` shows the library at
//! work with no Asterisk at hand; `send`, `command` and `events` do real work
//! against a server; `bench` measures throughput. See README.md and `ami --help`.

mod actions;
mod adapters;
mod bench;
mod bridge;
mod cli;
mod color;
mod command;
mod connect;
mod error;
mod events;
mod fake;
mod interactive;
mod output;
mod record;
mod send;
mod tour;

use std::io;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Commands};
use crate::error::{CliError, Exit};

fn main() -> ExitCode {
    let cli = Cli::parse(); // usage errors exit 2, --help and --version 0
                            // Connection options may come before the subcommand or after it.
    let outer = &cli.conn;
    let result = match &cli.command {
        None => interactive::run(outer, cli.color.or(&cli.color)),
        Some(Commands::Tour(args)) => tour::run(&args.conn.or(outer), args),
        Some(Commands::Send(args)) => {
            send::run(&args.conn.or(outer), args, args.color.or(&cli.color))
        }
        Some(Commands::Command(args)) => command::run(&args.conn.or(outer), args),
        Some(Commands::Events(args)) => {
            events::run(&args.conn.or(outer), args, args.color.or(&cli.color))
        }
        Some(Commands::Bench(args)) => bench::run(args),
        Some(Commands::Fake(args)) => fake::run(args),
        Some(Commands::Record(args)) => record::run(args),
        Some(Commands::Bridge(args)) => bridge::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ami: {error}");
            ExitCode::from(error.exit as u8)
        }
    }
}

/// A write to stdout: a closed pipe (`ami events | head`) is a normal end.
pub(crate) fn stdout_result(result: io::Result<()>) -> Result<(), CliError> {
    stdout_closed(result).map(drop)
}

/// Like [`stdout_result`], telling whether the reader went away.
pub(crate) fn stdout_closed(result: io::Result<()>) -> Result<bool, CliError> {
    match result {
        Ok(()) => Ok(false),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(true),
        Err(e) => Err(CliError::new(
            Exit::Other,
            format!("cannot write output: {e}"),
        )),
    }
}
