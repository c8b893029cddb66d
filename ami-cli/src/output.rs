//! Rendering a packet as AMI text or as one JSON object.
//!
//! JSON: one object per packet, keys in wire order with their original spelling. A
//! key that appears once maps to a string; a key that repeats (`Output`,
//! `Variable`, `ChanVariable` ...) maps to an array of its values in wire order, so
//! `jq .Output` works on a Command reply. Values are bytes on the wire and are
//! decoded as UTF-8 with invalid bytes replaced. The raw body of a legacy
//! (Asterisk 13) `Response: Follows` Command reply becomes `Output` values, as
//! Asterisk 14+ would send them. Lines without `": "` are left out of the JSON.

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
    out.write_all(json(packet).as_bytes())?;
    out.write_all(b"\n")
}

/// The JSON object of a packet (see the module docs for the shape).
pub fn json(packet: &Packet) -> String {
    let mut keys: Vec<(String, Vec<String>)> = Vec::new();
    let mut add = |key: String, value: String| match keys.iter_mut().find(|(k, _)| *k == key) {
        Some((_, values)) => values.push(value),
        None => keys.push((key, vec![value])),
    };
    for field in packet.fields() {
        add(
            String::from_utf8_lossy(field.key).into_owned(),
            field.value.to_str_lossy().into_owned(),
        );
    }
    if packet.legacy_body().is_some() {
        for line in packet.command_output() {
            add("Output".to_owned(), line.to_str_lossy().into_owned());
        }
    }
    let mut text = String::from("{");
    for (i, (key, values)) in keys.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        push_string(&mut text, key);
        text.push(':');
        if let [single] = values.as_slice() {
            push_string(&mut text, single);
        } else {
            text.push('[');
            for (j, value) in values.iter().enumerate() {
                if j > 0 {
                    text.push(',');
                }
                push_string(&mut text, value);
            }
            text.push(']');
        }
    }
    text.push('}');
    text
}

/// Appends `s` as a JSON string literal.
fn push_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
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
    fn text_uses_lf_and_ends_with_an_empty_line() {
        let p = packet(b"Response: Success\r\nPing: Pong\r\n\r\n");
        let mut out = Vec::new();
        write_text(&mut out, &p).unwrap();
        assert_eq!(out, b"Response: Success\nPing: Pong\n\n");
    }
}
