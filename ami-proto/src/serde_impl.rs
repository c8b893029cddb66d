//! `serde` support (feature `serde`): the JSON shapes of packets, replies,
//! events, close reasons and errors.
//!
//! A [`Packet`] is an object, keys in wire order with their original spelling.
//! A key that appears once maps to a string; a key that repeats (`Output`,
//! `Variable`, `ChanVariable` ...) maps to an array of its values in wire order,
//! at the place of its first appearance. Keys are compared exactly (case
//! included). Values, and keys, are bytes on the wire: they are decoded as UTF-8
//! with invalid bytes replaced by U+FFFD. Lines without `": "` are left out. The
//! raw body of a legacy (Asterisk 13) `Response: Follows` reply becomes `Output`
//! values, as Asterisk 14+ sends them.
//!
//! A packet deserializes from that shape by rebuilding its text and parsing it.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::client::Error;
use crate::connection::Reason;
use crate::packet::{LineTable, Packet};
use crate::parser::{Limits, Parsed, Parser};

/// The end marker of a legacy `Response: Follows` body.
const END_COMMAND: &str = "--END COMMAND--";

/// A packet's keys in first-appearance order, each with its values in wire order.
type Groups<'a> = Vec<(Cow<'a, str>, Vec<Cow<'a, str>>)>;

fn push_value<'a>(groups: &mut Groups<'a>, key: Cow<'a, str>, value: Cow<'a, str>) {
    match groups.iter_mut().find(|(k, _)| *k == key) {
        Some((_, values)) => values.push(value),
        None => groups.push((key, vec![value])),
    }
}

impl Packet {
    /// The packet's JSON groups: see the module docs.
    fn groups(&self) -> Groups<'_> {
        let mut groups = Groups::new();
        for field in self.fields() {
            let key = String::from_utf8_lossy(field.key);
            push_value(&mut groups, key, field.value.to_str_lossy());
        }
        if self.legacy_body().is_some() {
            for line in self.command_output() {
                push_value(&mut groups, Cow::Borrowed("Output"), line.to_str_lossy());
            }
        }
        groups
    }
}

impl Serialize for Packet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let groups = self.groups();
        let mut map = serializer.serialize_map(Some(groups.len()))?;
        for (key, values) in &groups {
            match values.as_slice() {
                [single] => map.serialize_entry(key, single)?,
                many => map.serialize_entry(key, many)?,
            }
        }
        map.end()
    }
}

/// A JSON value of a packet key: one string or an array of strings.
struct Values(Vec<String>);

impl<'de> Deserialize<'de> for Values {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValuesVisitor;

        impl<'de> Visitor<'de> for ValuesVisitor {
            type Value = Values;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Values, E> {
                Ok(Values(vec![value.to_owned()]))
            }

            fn visit_string<E: de::Error>(self, value: String) -> Result<Values, E> {
                Ok(Values(vec![value]))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Values, A::Error> {
                let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
                while let Some(value) = seq.next_element::<String>()? {
                    values.push(value);
                }
                Ok(Values(values))
            }
        }

        deserializer.deserialize_any(ValuesVisitor)
    }
}

/// Deserializes the object [`Packet`]'s `Serialize` writes: the packet's text is
/// rebuilt (`Key: value` lines, each value of an array on a line of its own, in
/// array order, keys in object order) and parsed. A `Response: Follows` first
/// header rebuilds a legacy reply whose `Output` values form the body.
///
/// Refused: a key with a line end or `": "`, a value with a line end, a body
/// line holding `--END COMMAND--`, and anything whose parsed packet would not
/// serialize back to the same object (e.g. a legacy body ending in an empty
/// line). Keys that repeat non-adjacently on the wire come back adjacent: the
/// JSON object does not keep that order.
impl<'de> Deserialize<'de> for Packet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PacketVisitor;

        impl<'de> Visitor<'de> for PacketVisitor {
            type Value = Packet;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of AMI headers (strings or arrays of strings)")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Packet, A::Error> {
                let mut groups: Vec<(String, Vec<String>)> = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let Values(values) = map.next_value()?;
                    match groups.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, known)) => known.extend(values),
                        None => groups.push((key, values)),
                    }
                }
                rebuild(&groups).map_err(de::Error::custom)
            }
        }

        deserializer.deserialize_map(PacketVisitor)
    }
}

/// The packet whose JSON groups are `groups`.
fn rebuild(groups: &[(String, Vec<String>)]) -> Result<Packet, String> {
    // A group with no values (`"Key": []`) has no line.
    let groups: Vec<_> = groups.iter().filter(|(_, v)| !v.is_empty()).collect();
    let Some((first_key, first_values)) = groups.first() else {
        // What an object of no headers deserializes to: a packet of no lines.
        return Ok(Packet::new(
            bytes::Bytes::from_static(b"\r\n"),
            LineTable::empty(),
            None,
        ));
    };
    let legacy = first_key.eq_ignore_ascii_case("Response")
        && first_values[0].eq_ignore_ascii_case("Follows");
    let mut text = String::new();
    let mut body = String::new();
    for (key, values) in &groups {
        if key.contains('\r') || key.contains('\n') || key.contains(": ") {
            return Err(format!("header key {key:?} cannot be written on one line"));
        }
        for value in values {
            if value.contains('\r') || value.contains('\n') {
                return Err(format!("value of {key:?} holds a line end"));
            }
            if legacy && key.as_str() == "Output" {
                if value.contains(END_COMMAND) {
                    return Err(format!("legacy output line holds {END_COMMAND}"));
                }
                body.push_str(value);
                body.push('\n');
            } else {
                text.push_str(key);
                text.push_str(": ");
                text.push_str(value);
                text.push_str("\r\n");
            }
        }
    }
    if legacy {
        text.push_str(&body);
        text.push_str(END_COMMAND);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    let mut parser = Parser::without_banner_with_limits(Limits {
        max_packet_bytes: usize::MAX,
        max_lines: usize::MAX,
    });
    parser.feed(text.as_bytes());
    let packet = match parser.next() {
        Some(Parsed::Packet(packet)) => packet,
        _ => return Err("the rebuilt packet did not parse".to_owned()),
    };
    // What the parser made of the text must serialize back to the same object.
    let parsed = packet.groups();
    let same = parsed.len() == groups.len()
        && parsed.iter().zip(&groups).all(|((k, v), (key, values))| {
            k == key.as_str()
                && v.iter()
                    .map(|v| v.as_ref())
                    .eq(values.iter().map(String::as_str))
        });
    if !same {
        return Err("the headers cannot be rebuilt as one AMI packet".to_owned());
    }
    Ok(packet)
}

/// A close reason as `{"type": variant, "message": its Display}`, plus
/// `"kind"` (the `std::io::ErrorKind`, e.g. `"ConnectionRefused"`) for
/// `Connect` and `"limit"` for `ListTooLarge`.
impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let kind = match self {
            Reason::Timeout => "Timeout",
            Reason::LoginTimeout => "LoginTimeout",
            Reason::KeepaliveTimeout => "KeepaliveTimeout",
            Reason::AuthFailed(_) => "AuthFailed",
            Reason::Eof => "Eof",
            Reason::Io(_) => "Io",
            Reason::LoggedOff => "LoggedOff",
            Reason::ClosedByClient => "ClosedByClient",
            Reason::Encode(_) => "Encode",
            Reason::ListTooLarge { .. } => "ListTooLarge",
            Reason::NotConnected => "NotConnected",
            Reason::Connect { .. } => "Connect",
            Reason::Tls(_) => "Tls",
            Reason::Protocol(_) => "Protocol",
            Reason::FilterRefused(_) => "FilterRefused",
            Reason::SessionExpired => "SessionExpired",
        };
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("type", kind)?;
        map.serialize_entry("message", &self.to_string())?;
        match self {
            Reason::Connect { kind, .. } => map.serialize_entry("kind", &format!("{kind:?}"))?,
            Reason::ListTooLarge { limit } => map.serialize_entry("limit", limit)?,
            _ => {}
        }
        map.end()
    }
}

/// An error as `{"type": variant, "message": its Display}`, plus `"reason"`
/// (a [`Reason`] object) for `Closed` and `Down`, `"response"` (the packet)
/// for `Rejected`, and `"output"` (the lines) for `CommandFailed`.
impl Serialize for Error {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let kind = match self {
            Error::Connect(_) => "Connect",
            Error::Io(_) => "Io",
            Error::Tls(_) => "Tls",
            Error::Auth(_) => "Auth",
            Error::Timeout { .. } => "Timeout",
            Error::Closed(_) => "Closed",
            Error::Down(_) => "Down",
            Error::CommandFailed { .. } => "CommandFailed",
            Error::Invalid(_) => "Invalid",
            Error::Rejected(_) => "Rejected",
            Error::UnexpectedReply(_) => "UnexpectedReply",
        };
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("type", kind)?;
        map.serialize_entry("message", &self.to_string())?;
        match self {
            Error::Closed(reason) | Error::Down(reason) => map.serialize_entry("reason", reason)?,
            Error::Rejected(packet) => map.serialize_entry("response", packet)?,
            Error::CommandFailed { output, .. } => map.serialize_entry("output", output)?,
            Error::Timeout { what, after } => {
                map.serialize_entry("what", what)?;
                map.serialize_entry("after_ms", &after.map(|d| d.as_millis() as u64))?;
            }
            _ => {}
        }
        map.end()
    }
}

/// Bytes as text, invalid UTF-8 replaced (a [`Malformed`](crate::Malformed)'s head).
pub(crate) fn lossy<S: Serializer>(bytes: &bytes::Bytes, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&String::from_utf8_lossy(bytes))
}
