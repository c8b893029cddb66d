//! The `serde` feature: packets serialize exactly as `ami --json` printed them
//! before it used this impl, and deserialize back to the same headers.
#![cfg(feature = "serde")]

use std::path::{Path, PathBuf};

use ami_proto::{
    Error, Event, List, Malformed, MalformedReason, OriginateOutcome, Packet, Parsed, Parser,
    Reason, Reply,
};
use proptest::prelude::*;

fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// Every packet of a server-side capture (banner first).
fn packets_of(data: &[u8]) -> Vec<Packet> {
    let mut parser = Parser::new();
    parser.feed(data);
    parser
        .filter_map(|item| match item {
            Parsed::Packet(packet) => Some(packet),
            _ => None,
        })
        .collect()
}

fn packet(bytes: &[u8]) -> Packet {
    let mut parser = Parser::without_banner();
    parser.feed(bytes);
    match parser.next() {
        Some(Parsed::Packet(packet)) => packet,
        other => panic!("no packet: {other:?}"),
    }
}

/// `ami-cli/src/output.rs`'s `json()` as it was before `--json` used serde,
/// kept here as the reference the serde impl must reproduce.
fn cli_json(packet: &Packet) -> String {
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

/// The old printer escaped backspace, form feed and DEL as `\u00XX`;
/// serde_json writes `\b`, `\f` and a raw DEL. Same JSON value either way.
fn escapes_differ(packet: &Packet) -> bool {
    packet
        .as_bytes()
        .iter()
        .any(|b| matches!(b, 0x08 | 0x0c | 0x7f))
}

/// Serializes, compares with the CLI's printer, deserializes, serializes again.
fn check(packet: &Packet) {
    let json = serde_json::to_string(packet).unwrap();
    let reference = cli_json(packet);
    if escapes_differ(packet) {
        let a: serde_json::Value = serde_json::from_str(&json).unwrap();
        let b: serde_json::Value = serde_json::from_str(&reference).unwrap();
        assert_eq!(a, b, "{packet:?}");
    } else {
        assert_eq!(json, reference, "{packet:?}");
    }
    let back: Packet = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(serde_json::to_string(&back).unwrap(), json);
}

#[test]
fn fixtures_serialize_as_the_cli_printed_them_and_round_trip() {
    let dir = repo_path("fixtures/asterisk-22.10.1");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "server") {
            for packet in packets_of(&std::fs::read(&path).unwrap()) {
                check(&packet);
                count += 1;
            }
        }
    }
    assert!(count > 20, "only {count} packets in the fixtures");
}

#[test]
fn the_recorded_corpus_serializes_as_the_cli_printed_it_and_round_trips() {
    let data = std::fs::read(repo_path("corpus/asterisk-22.10.1-calls.ami")).unwrap();
    let packets = packets_of(&data);
    assert!(packets.len() > 1000);
    packets.iter().for_each(check);
}

#[test]
fn repeated_keys_become_arrays_in_first_appearance_order() {
    let p = packet(b"Response: Success\r\nMessage: Command output follows\r\nOutput: a \"q\"\r\nOutput: b\\c\r\n\r\n");
    assert_eq!(
        serde_json::to_string(&p).unwrap(),
        r#"{"Response":"Success","Message":"Command output follows","Output":["a \"q\"","b\\c"]}"#
    );
    // Interleaved repeats gather at the first one's place; keys compare exactly.
    let p = packet(
        b"Event: X\r\nVariable: a=1\r\nChannel: c\r\nVariable: b=2\r\nvariable: c=3\r\n\r\n",
    );
    let json = serde_json::to_string(&p).unwrap();
    assert_eq!(
        json,
        r#"{"Event":"X","Variable":["a=1","b=2"],"Channel":"c","variable":"c=3"}"#
    );
    let back: Packet = serde_json::from_str(&json).unwrap();
    let keys: Vec<_> = back.fields().map(|f| f.key.to_vec()).collect();
    assert_eq!(
        keys,
        [
            &b"Event"[..],
            b"Variable",
            b"Variable",
            b"Channel",
            b"variable"
        ]
    );
    check(&p);
}

#[test]
fn invalid_utf8_is_replaced_and_opaque_lines_left_out() {
    let p = packet(b"Event: X\r\nData: a\x01\xffz\r\nno separator here\r\n\r\n");
    assert_eq!(
        serde_json::to_string(&p).unwrap(),
        "{\"Event\":\"X\",\"Data\":\"a\\u0001\u{fffd}z\"}"
    );
    check(&p);
    let back: Packet = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
    assert_eq!(
        back.get("Data").unwrap().as_bytes(),
        "a\x01\u{fffd}z".as_bytes()
    );
}

#[test]
fn a_legacy_command_body_becomes_output_values_and_comes_back_legacy() {
    let p = packet(
        b"Response: Follows\r\nPrivilege: Command\r\nline one\nline two\n--END COMMAND--\r\n\r\n",
    );
    let json = serde_json::to_string(&p).unwrap();
    assert_eq!(
        json,
        r#"{"Response":"Follows","Privilege":"Command","Output":["line one","line two"]}"#
    );
    let back: Packet = serde_json::from_str(&json).unwrap();
    assert_eq!(back.legacy_body(), Some(&b"line one\nline two\n"[..]));
    assert_eq!(back.command_text(), "line one\nline two");
    check(&p);
}

#[test]
fn what_cannot_be_one_packet_is_refused() {
    for bad in [
        r#"{"Event":"a\r\nAction: Originate"}"#,
        r#"{"Bad: key":"x"}"#,
        r#"{"Event":1}"#,
        r#"{"Response":"Follows","Output":"--END COMMAND--"}"#,
        r#"["Event","X"]"#,
    ] {
        assert!(serde_json::from_str::<Packet>(bad).is_err(), "{bad}");
    }
    let empty: Packet = serde_json::from_str("{}").unwrap();
    assert!(empty.is_empty());
    assert_eq!(serde_json::to_string(&empty).unwrap(), "{}");
}

#[test]
fn replies_lists_and_outcomes_are_tagged_and_round_trip() {
    let response = packet(b"Response: Success\r\nEventList: start\r\n\r\n");
    let item = packet(b"Event: CoreShowChannel\r\nChannel: PJSIP/1\r\n\r\n");
    let complete = packet(b"Event: CoreShowChannelsComplete\r\nListItems: 1\r\n\r\n");
    let list = Reply::List(Box::new(List {
        response: response.clone(),
        items: vec![item],
        complete,
        received: 1,
    }));
    let json = serde_json::to_string(&list).unwrap();
    assert_eq!(
        json,
        r#"{"type":"List","data":{"response":{"Response":"Success","EventList":"start"},"items":[{"Event":"CoreShowChannel","Channel":"PJSIP/1"}],"complete":{"Event":"CoreShowChannelsComplete","ListItems":"1"},"received":1}}"#
    );
    assert_eq!(serde_json::from_str::<Reply>(&json).unwrap(), list);

    let pong = Reply::Response(packet(b"Response: Success\r\nPing: Pong\r\n\r\n"));
    let json = serde_json::to_string(&pong).unwrap();
    assert_eq!(
        json,
        r#"{"type":"Response","data":{"Response":"Success","Ping":"Pong"}}"#
    );
    assert_eq!(serde_json::from_str::<Reply>(&json).unwrap(), pong);

    let outcome = OriginateOutcome {
        response,
        event: None,
    };
    let json = serde_json::to_string(&outcome).unwrap();
    assert_eq!(
        json,
        r#"{"response":{"Response":"Success","EventList":"start"},"event":null}"#
    );
    assert_eq!(
        serde_json::from_str::<OriginateOutcome>(&json).unwrap(),
        outcome
    );
}

#[test]
fn events_are_adjacently_tagged() {
    let event = Event::Event(packet(b"Event: Hangup\r\nCause: 16\r\n\r\n"));
    assert_eq!(
        serde_json::to_string(&event).unwrap(),
        r#"{"type":"Event","data":{"Event":"Hangup","Cause":"16"}}"#
    );
    assert_eq!(
        serde_json::to_string(&Event::Reconnected).unwrap(),
        r#"{"type":"Reconnected"}"#
    );
    assert_eq!(
        serde_json::to_string(&Event::Lagged(3)).unwrap(),
        r#"{"type":"Lagged","data":3}"#
    );
    assert_eq!(
        serde_json::to_string(&Event::Disconnected(Reason::Eof)).unwrap(),
        r#"{"type":"Disconnected","data":{"type":"Eof","message":"connection closed by the server"}}"#
    );
    let malformed = Event::Malformed(Malformed {
        reason: MalformedReason::TooLarge { limit: 10 },
        size: 12,
        head: bytes_of(b"Event: Big\xff"),
    });
    assert_eq!(
        serde_json::to_string(&malformed).unwrap(),
        r#"{"type":"Malformed","data":{"reason":{"type":"TooLarge","limit":10},"size":12,"head":"Event: Big�"}}"#
    );
}

fn bytes_of(data: &'static [u8]) -> bytes::Bytes {
    bytes::Bytes::from_static(data)
}

#[test]
fn reasons_and_errors_are_tagged_objects_with_their_message() {
    let refused = Reason::Connect {
        kind: std::io::ErrorKind::ConnectionRefused,
        message: "127.0.0.1:1: refused".into(),
    };
    assert_eq!(
        serde_json::to_string(&refused).unwrap(),
        r#"{"type":"Connect","message":"could not connect to 127.0.0.1:1: refused","kind":"ConnectionRefused"}"#
    );
    assert_eq!(
        serde_json::to_string(&Error::Down(Reason::KeepaliveTimeout)).unwrap(),
        r#"{"type":"Down","message":"connection down, reconnecting (lost: keepalive timed out: the link is dead)","reason":{"type":"KeepaliveTimeout","message":"keepalive timed out: the link is dead"}}"#
    );
    assert_eq!(
        serde_json::to_string(&Error::Timeout {
            what: "Ping".into(),
            after: Some(std::time::Duration::from_secs(10)),
        })
        .unwrap(),
        r#"{"type":"Timeout","message":"Ping timed out (no answer within 10s)","what":"Ping","after_ms":10000}"#
    );
    let rejected = Error::Rejected(packet(b"Response: Error\r\nMessage: No such\r\n\r\n"));
    assert_eq!(
        serde_json::to_string(&rejected).unwrap(),
        r#"{"type":"Rejected","message":"server answered Error: No such","response":{"Response":"Error","Message":"No such"}}"#
    );
}

fn line() -> impl Strategy<Value = Vec<u8>> {
    let key = "[A-Za-z][A-Za-z0-9_()/.-]{0,12}";
    let field = (key, proptest::collection::vec(any::<u8>(), 0..40)).prop_map(|(key, value)| {
        let mut line = key.into_bytes();
        line.extend_from_slice(b": ");
        line.extend(value.into_iter().filter(|b| !matches!(b, b'\r' | b'\n')));
        line
    });
    // Lines without ": " (kept by the parser, left out of the JSON).
    let opaque = "[a-z ]{1,12}".prop_map(String::into_bytes);
    prop_oneof![4 => field, 1 => opaque]
}

proptest! {
    #[test]
    fn any_packet_serializes_as_the_cli_printed_it_and_round_trips(
        first in "[A-Za-z]{1,8}",
        lines in proptest::collection::vec(line(), 0..12),
    ) {
        let mut text = format!("{first}: x\r\n").into_bytes();
        for line in lines {
            text.extend_from_slice(&line);
            text.extend_from_slice(b"\r\n");
        }
        text.extend_from_slice(b"\r\n");
        check(&packet(&text));
    }
}
