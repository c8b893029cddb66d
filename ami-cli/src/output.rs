//! Rendering a packet as AMI text or as one JSON object.
//!
//! JSON is `ami-proto`'s `serde` impl of `Packet` written by `serde_json`: one
//! object per packet, keys in wire order with their original spelling. A key
//! that appears once maps to a string; a key that repeats (`Output`,
//! `Variable`, `ChanVariable` ...) maps to an array of its values in wire order,
//! so `jq .Output` works on a Command reply. Values are bytes on the wire and are
//! decoded as UTF-8 with invalid bytes replaced. The raw body of a legacy
//! (Asterisk 13) `Response: Follows` Command reply becomes `Output` values, as
//! Asterisk 14+ would send them. Lines without `": "` are left out of the JSON.
//! Control characters are escaped the way `serde_json` does (`\b`, `\f`,
//! `\u0001` ...); a program can read the object back into a `Packet` with
//! `serde_json::from_str`.

use std::io::{self, Write};

use ami_proto::{Line, Packet};

/// Writes `packet` as AMI text: its lines ending in `\n` (not CRLF, for terminals
/// and pipes), then an empty line. Values are written as received, byte for byte.
pub fn write_text(out: &mut impl Write, packet: &Packet) -> io::Result<()> {
    for line in packet.lines() {
        match line {
            Line::Field(field) => {
                out.write_all(field.key)?;
                out.write_all(b": ")?;
                out.write_all(field.value.as_bytes())?;
            }
            Line::Opaque(raw) => out.write_all(raw)?,
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

/// Writes `packet` as one JSON object on one line.
pub fn write_json(out: &mut impl Write, packet: &Packet) -> io::Result<()> {
    serde_json::to_writer(&mut *out, packet).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

/// A one-line summary of an event for the tour: its name and the headers a person
/// looks at first.
pub fn summary(packet: &Packet) -> String {
    let name = packet
        .event_name()
        .or_else(|| packet.get("Response"))
        .map(|v| v.to_str_lossy().into_owned())
        .unwrap_or_default();
    let mut text = format!("{name:<17}");
    let keys = [
        "Channel",
        "LocalOneChannel",
        "DestChannel",
        "ChannelStateDesc",
        "DialString",
        "DialStatus",
        "Response",
        "Reason",
    ];
    for key in keys {
        if key == "Response" && packet.event_name().is_none() {
            continue;
        }
        if let Some(value) = packet.get(key) {
            text.push_str(&format!(" {key}={}", value.to_str_lossy()));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use ami_proto::{Parsed, Parser};

    fn json(packet: &Packet) -> String {
        let mut out = Vec::new();
        write_json(&mut out, packet).unwrap();
        let line = String::from_utf8(out).unwrap();
        line.strip_suffix('\n').expect("one line").to_owned()
    }

    fn packet(bytes: &[u8]) -> Packet {
        let mut parser = Parser::without_banner();
        parser.feed(bytes);
        match parser.next() {
            Some(Parsed::Packet(packet)) => packet,
            other => panic!("no packet: {other:?}"),
        }
    }

    #[test]
    fn json_keeps_order_and_turns_repeats_into_arrays() {
        let p = packet(b"Response: Success\r\nMessage: Command output follows\r\nOutput: a \"q\"\r\nOutput: b\\c\r\n\r\n");
        assert_eq!(
            json(&p),
            r#"{"Response":"Success","Message":"Command output follows","Output":["a \"q\"","b\\c"]}"#
        );
    }

    #[test]
    fn json_escapes_control_bytes_and_replaces_invalid_utf8() {
        let p = packet(b"Event: X\r\nData: a\x01\xffz\r\n\r\n");
        assert_eq!(json(&p), "{\"Event\":\"X\",\"Data\":\"a\\u0001\u{fffd}z\"}");
    }

    #[test]
    fn legacy_command_body_becomes_output_values() {
        let p = packet(b"Response: Follows\r\nPrivilege: Command\r\nline one\nline two\n--END COMMAND--\r\n\r\n");
        assert_eq!(
            json(&p),
            r#"{"Response":"Follows","Privilege":"Command","Output":["line one","line two"]}"#
        );
    }

    #[test]
    fn json_reads_back_into_the_same_headers() {
        let p = packet(
            b"Event: VarSet\r\nVariable: a=1\r\nValue: x\x08\x0c\x7f\r\nVariable: b=2\r\n\r\n",
        );
        let line = json(&p);
        assert_eq!(
            line,
            "{\"Event\":\"VarSet\",\"Variable\":[\"a=1\",\"b=2\"],\"Value\":\"x\\b\\f\u{7f}\"}"
        );
        let back: Packet = serde_json::from_str(&line).unwrap();
        assert_eq!(json(&back), line);
        assert_eq!(back.get("Value").unwrap().as_bytes(), b"x\x08\x0c\x7f");
    }

    #[test]
    fn text_uses_lf_and_ends_with_an_empty_line() {
        let p = packet(b"Response: Success\r\nPing: Pong\r\n\r\n");
        let mut out = Vec::new();
        write_text(&mut out, &p).unwrap();
        assert_eq!(out, b"Response: Success\nPing: Pong\n\n");
    }
}
