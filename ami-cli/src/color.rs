//! Colour on a terminal: when to use it (`--color`, `NO_COLOR`) and AMI text
//! with the keys and the status values coloured.
//!
//! Plain ANSI SGR sequences, written here rather than through a crate: four
//! colours on one kind of output do not need one. The bytes of keys and values
//! are the same as [`write_text`]'s, only wrapped in escape sequences.

use std::io::{self, Write};

use ami_proto::{Line, Packet};

use crate::cli::ColorWhen;
use crate::output::write_text;

const KEY: &[u8] = b"\x1b[36m"; // cyan
const GOOD: &[u8] = b"\x1b[1;32m"; // bold green
const BAD: &[u8] = b"\x1b[1;31m"; // bold red
const EVENT: &[u8] = b"\x1b[1;33m"; // bold yellow
const DIM: &[u8] = b"\x1b[2m";
const RESET: &[u8] = b"\x1b[0m";

impl ColorWhen {
    /// Whether to colour a stream that is (or is not) a terminal: `always` and
    /// `never` say so; `auto` colours a terminal unless `NO_COLOR` is set to a
    /// non-empty value (<https://no-color.org>) or `TERM` is `dumb`.
    pub fn enabled(self, terminal: bool) -> bool {
        match self {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => {
                let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
                let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
                terminal && !no_color && !dumb
            }
        }
    }
}

/// Writes `packet` as AMI text ([`write_text`]), coloured when `color`: keys in
/// cyan, `Event` names in yellow, `Response` values green for success and red
/// for `Error`/`Failure`, lines without `": "` dimmed.
pub fn write_packet(out: &mut impl Write, packet: &Packet, color: bool) -> io::Result<()> {
    if !color {
        return write_text(out, packet);
    }
    for line in packet.lines() {
        match line {
            Line::Field(field) => {
                let value = field.value.as_bytes();
                out.write_all(KEY)?;
                out.write_all(field.key)?;
                out.write_all(RESET)?;
                out.write_all(b": ")?;
                match value_style(field.key, value) {
                    Some(style) => {
                        out.write_all(style)?;
                        out.write_all(value)?;
                        out.write_all(RESET)?;
                    }
                    None => out.write_all(value)?,
                }
            }
            Line::Opaque(raw) => {
                out.write_all(DIM)?;
                out.write_all(raw)?;
                out.write_all(RESET)?;
            }
        }
        out.write_all(b"\n")?;
    }
    if let Some(body) = packet.legacy_body() {
        out.write_all(body)?;
        if !body.ends_with(b"\n") {
            out.write_all(b"\n")?;
        }
    }
    out.write_all(b"\n")
}

fn value_style(key: &[u8], value: &[u8]) -> Option<&'static [u8]> {
    if key.eq_ignore_ascii_case(b"Event") {
        return Some(EVENT);
    }
    if !key.eq_ignore_ascii_case(b"Response") {
        return None;
    }
    let bad = value.eq_ignore_ascii_case(b"Error") || value.eq_ignore_ascii_case(b"Failure");
    Some(if bad { BAD } else { GOOD })
}

/// `text` in red when `color` (for error lines in the interactive mode).
pub fn error_text(text: &str, color: bool) -> String {
    match color {
        true => format!("\x1b[1;31m{text}\x1b[0m"),
        false => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ami_proto::{Parsed, Parser};

    #[test]
    fn coloured_text_is_the_plain_text_plus_escapes() {
        let mut parser = Parser::without_banner();
        parser.feed(b"Response: Error\r\nMessage: No such\r\n\r\n");
        let Some(Parsed::Packet(packet)) = parser.next() else {
            panic!("no packet")
        };
        let (mut plain, mut coloured) = (Vec::new(), Vec::new());
        write_packet(&mut plain, &packet, false).unwrap();
        write_packet(&mut coloured, &packet, true).unwrap();
        assert_eq!(plain, b"Response: Error\nMessage: No such\n\n");
        let text = String::from_utf8(coloured).unwrap();
        assert!(text.contains("\x1b[1;31mError\x1b[0m"), "{text:?}");
        let stripped = text
            .split('\x1b')
            .enumerate()
            .map(|(i, part)| match i {
                0 => part,
                _ => part.split_once('m').map_or(part, |(_, rest)| rest),
            })
            .collect::<String>();
        assert_eq!(stripped.as_bytes(), plain);
    }
}
