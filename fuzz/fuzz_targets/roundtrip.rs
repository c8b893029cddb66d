//! Serialize -> parse round trip: whatever the serializer accepts, the parser reads
//! back as exactly the fields that were put in, in order, bytes for bytes.
#![no_main]

use ami_proto::{encode_field, Action, Line, Parsed, Parser};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    actions: Vec<ActionInput>,
    /// A server-side packet written with `encode_field`.
    packet: Vec<(String, Vec<u8>)>,
    /// Chunk size for feeding the encoded stream.
    chunk: u8,
}

#[derive(Debug, Arbitrary)]
struct ActionInput {
    name: String,
    action_id: String,
    headers: Vec<(String, Vec<u8>)>,
}

fuzz_target!(|input: Input| {
    let mut wire = Vec::new();
    let mut expected: Vec<Vec<(Vec<u8>, Vec<u8>)>> = Vec::new();

    for a in &input.actions {
        let mut action = Action::new(a.name.as_str());
        for (key, value) in &a.headers {
            action = action.header(key, value);
        }
        let before = wire.len();
        match action.encode(&a.action_id, &mut wire) {
            Ok(()) => {
                // A caller's `ActionID` header replaces the connection's.
                let is_id = |k: &str| k.eq_ignore_ascii_case("ActionID");
                let action_id = a
                    .headers
                    .iter()
                    .find(|(k, _)| is_id(k))
                    .map_or_else(|| a.action_id.as_bytes().to_vec(), |(_, v)| v.clone());
                let mut fields = vec![
                    (b"Action".to_vec(), a.name.as_bytes().to_vec()),
                    (b"ActionID".to_vec(), action_id),
                ];
                fields.extend(
                    a.headers
                        .iter()
                        .filter(|(k, _)| !is_id(k))
                        .map(|(k, v)| (k.as_bytes().to_vec(), v.clone())),
                );
                expected.push(fields);
            }
            Err(_) => assert_eq!(wire.len(), before, "a refused action wrote bytes"),
        }
    }

    // A packet as a fake server would write it. A first line `Response: Follows`
    // opens a legacy body (a different framing), so that one case is left out.
    let follows = input.packet.first().is_some_and(|(k, v)| {
        k.eq_ignore_ascii_case("Response") && v.eq_ignore_ascii_case(b"Follows")
    });
    if !follows {
        let mut packet = Vec::new();
        let mut fields = Vec::new();
        for (key, value) in &input.packet {
            let before = packet.len();
            match encode_field(&mut packet, key, value) {
                Ok(()) => fields.push((key.as_bytes().to_vec(), value.clone())),
                Err(_) => assert_eq!(packet.len(), before, "a refused field wrote bytes"),
            }
        }
        if !fields.is_empty() {
            packet.extend_from_slice(b"\r\n");
            wire.extend_from_slice(&packet);
            expected.push(fields);
        }
    }

    let mut parser = Parser::without_banner();
    let mut got = Vec::new();
    for chunk in wire.chunks(input.chunk as usize + 1) {
        parser.feed(chunk);
        for item in parser.by_ref() {
            let Parsed::Packet(packet) = item else {
                panic!("not a packet: {item:?}");
            };
            let fields: Vec<_> = packet
                .lines()
                .map(|line| match line {
                    Line::Field(f) => (f.key.to_vec(), f.value.as_bytes().to_vec()),
                    Line::Opaque(raw) => panic!("opaque line {raw:?} in {packet:?}"),
                })
                .collect();
            got.push(fields);
        }
    }
    assert_eq!(parser.buffered(), 0, "bytes left over");
    assert_eq!(got, expected);
});
