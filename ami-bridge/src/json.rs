//! Packets as JSON. [`packet`] is the one place where a packet becomes JSON,
//! through ami-proto's `serde` feature (the shape `ami --json` prints too).

use ami_proto::{Packet, Reply};
use serde_json::{Map, Value};

/// A packet as one JSON object, the rules of `ami --json` (ami-cli's
/// `output.rs`): keys in wire order with their original spelling; a key that
/// appears once maps to a string, a key that repeats maps to an array of its
/// values in wire order; values decoded as UTF-8 with invalid bytes replaced;
/// the raw body of a legacy `Response: Follows` Command reply becomes `Output`
/// values. Lines without `": "` are left out.
pub fn packet(packet: &Packet) -> Value {
    // ami-proto's `Serialize` for `Packet` is these rules; a map of strings
    // cannot fail to become a `Value`.
    serde_json::to_value(packet).unwrap_or_default()
}

/// The JSON of an action's reply: `{"response": {..}}`, plus `"items"` and
/// `"complete"` for a list, plus `"outcome"` (the `OriginateResponse` event,
/// or null) for an async Originate.
pub fn reply(reply: &Reply) -> Value {
    let mut object = Map::new();
    object.insert("response".into(), packet(reply.response()));
    match reply {
        Reply::List(list) => {
            let items = list.items.iter().map(packet).collect();
            object.insert("items".into(), Value::Array(items));
            object.insert("complete".into(), packet(&list.complete));
        }
        Reply::Originate(outcome) => {
            let event = outcome.event.as_ref().map_or(Value::Null, packet);
            object.insert("outcome".into(), event);
        }
        _ => {}
    }
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Packet {
        let mut parser = ami_proto::Parser::without_banner();
        parser.feed(text.as_bytes());
        match parser.next() {
            Some(ami_proto::Parsed::Packet(p)) => p,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn order_kept_and_repeats_become_arrays() {
        let p = parse("Event: X\r\nB: 1\r\nA: 2\r\nB: 3\r\n\r\n");
        let text = serde_json::to_string(&packet(&p)).unwrap();
        assert_eq!(text, r#"{"Event":"X","B":["1","3"],"A":"2"}"#);
    }
}
