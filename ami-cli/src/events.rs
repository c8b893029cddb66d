//! `ami events [--filter Key=regex ...] [--json]`: events as they arrive.
//!
//! Filters run in this client, not on the server: Asterisk's own `Filter` action
//! matches a regex against the whole packet text, cannot be removed, and differs
//! between versions; a client-side `Key=regex` says exactly what it matches and
//! needs no permission on the server.

use std::io::{IsTerminal, Write};

use ami_blocking::Event;
use ami_proto::{Error, Packet, Reconnect};
use regex::bytes::Regex;

use crate::cli::{ColorWhen, ConnArgs, EventsArgs};
use crate::color::write_packet;
use crate::connect::{connect_blocking, resolve};
use crate::error::{CliError, Phase};
use crate::output::write_json;

/// One `--filter Key=regex`.
#[derive(Debug)]
pub struct Filter {
    key: String,
    regex: Regex,
}

impl Filter {
    /// Parses `Key=regex` (split at the first `=`).
    pub fn parse(text: &str) -> Result<Filter, CliError> {
        let (key, pattern) = text
            .split_once('=')
            .filter(|(key, _)| !key.is_empty())
            .ok_or_else(|| CliError::usage(format!("--filter {text:?} is not KEY=REGEX")))?;
        let regex = Regex::new(pattern)
            .map_err(|e| CliError::usage(format!("--filter {text:?}: bad regex: {e}")))?;
        Ok(Filter {
            key: key.to_owned(),
            regex,
        })
    }

    /// True when some header `key` (case-insensitive) has a matching value.
    pub fn matches(&self, packet: &Packet) -> bool {
        packet
            .get_all(&self.key)
            .any(|value| self.regex.is_match(value.as_bytes()))
    }
}

/// Runs `ami events` until interrupted or the connection ends.
pub fn run(conn: &ConnArgs, args: &EventsArgs, color: ColorWhen) -> Result<(), CliError> {
    let color = color.enabled(std::io::stdout().is_terminal()) && !args.json;
    let filters = args
        .filter
        .iter()
        .map(|f| Filter::parse(f))
        .collect::<Result<Vec<_>, _>>()?;
    let (target, mut config) = resolve(conn)?;
    config.events = Some(args.mask.clone().unwrap_or_else(|| "on".into()));
    config.event_capacity = 16 * 1024;
    if args.reconnect {
        config.reconnect = Some(Reconnect::default());
    }
    let client = connect_blocking(&target, config)?;
    let events = client.events();
    eprintln!(
        "ami: connected to {}, printing events (Ctrl-C to stop)",
        target.addr
    );
    let mut out = std::io::stdout().lock();
    for event in events {
        match event {
            Event::Event(packet) if filters.iter().all(|f| f.matches(&packet)) => {
                let written = if args.json {
                    write_json(&mut out, &packet)
                } else {
                    write_packet(&mut out, &packet, color)
                };
                if crate::stdout_closed(written.and_then(|()| out.flush()))? {
                    client.close();
                    return Ok(());
                }
            }
            Event::Lagged(missed) => eprintln!("ami: fell behind, {missed} events were lost"),
            Event::Disconnected(reason) if args.reconnect => {
                eprintln!("ami: connection lost ({reason}), reconnecting");
            }
            Event::Reconnected => eprintln!("ami: reconnected"),
            Event::Disconnected(reason) => {
                return Err(target
                    .context
                    .describe(Error::Closed(reason), Phase::Action("events")));
            }
            // Nothing is hidden: what the client dropped or could not match
            // goes to stderr, so stdout stays the event stream.
            Event::Malformed(malformed) => eprintln!(
                "ami: dropped a malformed packet ({:?}, {} bytes, starting {:?})",
                malformed.reason,
                malformed.size,
                String::from_utf8_lossy(&malformed.head)
            ),
            Event::Unmatched(packet) => eprintln!(
                "ami: a response that matches no action: {:?}",
                String::from_utf8_lossy(packet.as_bytes())
            ),
            Event::Event(_) => {} // filtered out
            other => eprintln!("ami: {other:?}"),
        }
    }
    Err(target.context.describe(
        Error::Closed(ami_proto::Reason::Eof),
        Phase::Action("events"),
    ))
}
