//! Property tests: round trips, chunking invariance, robustness, and "every action
//! completes exactly once".

mod harness;

use std::collections::HashMap;
use std::time::Duration;

use ami_proto::{Action, ActionId, Config, Keepalive, Limits, Output, PacketKind, Parsed, Parser};
use proptest::prelude::*;

fn parse_in_chunks(input: &[u8], chunks: &[usize], limits: Limits) -> (Vec<Parsed>, usize) {
    parse_fed(input, chunks, &[false], limits)
}

/// Feeds `input` in `chunks` (cycled), each by `Parser::feed_bytes` (where
/// `owned`, cycled, says so: parsed where it lies) or `Parser::feed` (copied),
/// and collects every item, with the most bytes the parser held between reads.
fn parse_fed(
    input: &[u8],
    chunks: &[usize],
    owned: &[bool],
    limits: Limits,
) -> (Vec<Parsed>, usize) {
    let mut parser = Parser::with_limits(limits);
    let mut items = Vec::new();
    let mut peak = 0;
    let mut at = 0;
    let mut sizes = chunks.iter().cycle();
    let mut owned = owned.iter().cycle();
    let input = bytes::Bytes::copy_from_slice(input);
    while at < input.len() {
        let size = (*sizes.next().unwrap()).clamp(1, input.len() - at);
        if *owned.next().unwrap() {
            parser.feed_bytes(input.slice(at..at + size));
        } else {
            parser.feed(&input[at..at + size]);
        }
        at += size;
        items.extend(std::iter::from_fn(|| parser.next()));
        peak = peak.max(parser.buffered());
    }
    (items, peak)
}

fn key() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_()/.-]{1,24}".prop_filter("reserved", |k| !k.eq_ignore_ascii_case("ActionID"))
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..80).prop_map(|mut bytes| {
        bytes.retain(|b| !matches!(b, b'\r' | b'\n' | 0));
        while matches!(bytes.first(), Some(b' ' | b'\t')) {
            bytes.remove(0);
        }
        bytes
    })
}

/// Bytes drawn mostly from the characters that matter to framing.
fn framing_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        Just(b'\r'),
        Just(b'\n'),
        Just(b':'),
        Just(b' '),
        Just(b'-'),
        Just(b'a'),
        any::<u8>(),
    ];
    let token = prop_oneof![
        proptest::collection::vec(byte, 1..8),
        Just(b"Response: Follows\r\n".to_vec()),
        Just(b"--END COMMAND--".to_vec()),
        Just(b"Event: X\r\n".to_vec()),
        Just(b"ActionID: 7\r\n".to_vec()),
        Just(b"actionid: ".to_vec()),
        Just(b"\r\n\r\n".to_vec()),
        // An endless line: longer than every limit these tests use.
        (100usize..700).prop_map(|n| vec![b'y'; n]),
    ];
    proptest::collection::vec(token, 0..120).prop_map(|tokens| tokens.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn serialize_then_parse_is_the_identity(
        name in "[A-Za-z]{1,20}",
        headers in proptest::collection::vec((key(), value()), 0..20),
        id in "[A-Za-z0-9._-]{1,20}",
    ) {
        let mut action = Action::new(name.clone());
        for (k, v) in &headers {
            action = action.header(k, v);
        }
        prop_assert!(action.check().is_ok());
        let mut wire = Vec::new();
        action.encode(&id, &mut wire).unwrap();
        let (items, _) = parse_in_chunks(&wire, &[wire.len()], Limits::default());
        let mut parser = Parser::without_banner();
        parser.feed(&wire);
        let Some(Parsed::Packet(packet)) = parser.next() else {
            return Err(TestCaseError::fail(format!("no packet: {items:?}")));
        };
        let fields: Vec<(Vec<u8>, Vec<u8>)> = packet
            .fields()
            .map(|f| (f.key.to_vec(), f.value.as_bytes().to_vec()))
            .collect();
        let mut expected = vec![
            (b"Action".to_vec(), name.into_bytes()),
            (b"ActionID".to_vec(), id.into_bytes()),
        ];
        expected.extend(headers.into_iter().map(|(k, v)| (k.into_bytes(), v)));
        prop_assert_eq!(fields, expected);
        prop_assert_eq!(packet.len(), packet.fields().count(), "no opaque lines");
        prop_assert!(parser.next().is_none());
    }

    #[test]
    fn any_chunking_gives_the_same_items(
        input in framing_bytes(),
        chunks in proptest::collection::vec(1usize..64, 1..16),
    ) {
        let limits = Limits { max_packet_bytes: 128, max_lines: 6 };
        let (whole, _) = parse_in_chunks(&input, &[input.len().max(1)], limits);
        let (chunked, _) = parse_in_chunks(&input, &chunks, limits);
        prop_assert_eq!(&whole, &chunked);
        let (owned, _) = parse_fed(&input, &[input.len().max(1)], &[true], limits);
        prop_assert_eq!(&whole, &owned);
    }

    #[test]
    fn chunks_parsed_where_they_lie_give_the_same_items_as_copied_ones(
        input in framing_bytes(),
        chunks in proptest::collection::vec(1usize..64, 1..16),
        owned in proptest::collection::vec(any::<bool>(), 1..8),
    ) {
        let limits = Limits { max_packet_bytes: 128, max_lines: 6 };
        let (whole, _) = parse_in_chunks(&input, &[input.len().max(1)], limits);
        let (mixed, _) = parse_fed(&input, &chunks, &owned, limits);
        prop_assert_eq!(whole, mixed);
    }

    #[test]
    fn routing_lookups_agree_with_a_search(
        input in framing_bytes(),
        chunks in proptest::collection::vec(1usize..200, 1..16),
    ) {
        let limits = Limits { max_packet_bytes: 512, max_lines: 12 };
        let (items, _) = parse_in_chunks(&input, &chunks, limits);
        for item in items {
            if let Parsed::Packet(p) = item {
                prop_assert_eq!(p.action_id(), p.get("ActionID"));
                let event = p.get("Event").filter(|_| p.kind() == PacketKind::Event);
                prop_assert_eq!(p.event_name(), event);
                let response = p.get("Response").filter(|_| p.kind() == PacketKind::Response);
                prop_assert_eq!(p.response(), response);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_memory_stays_bounded(
        input in prop_oneof![framing_bytes(), proptest::collection::vec(any::<u8>(), 0..4096)],
        chunk in 1usize..512,
        owned in any::<bool>(),
    ) {
        let limits = Limits { max_packet_bytes: 256, max_lines: 16 };
        let (items, peak) = parse_fed(&input, &[chunk], &[owned], limits);
        // A packet never holds more than the limit plus one read; a dropped one
        // keeps at most a marker-sized tail.
        prop_assert!(peak <= 256 + chunk, "peak {peak}");
        for item in items {
            if let Parsed::Packet(p) = item {
                prop_assert!(p.as_bytes().len() <= 256);
                prop_assert!(p.len() <= 16);
            }
        }
    }
}

/// A line end, a bare LF or CRLF.
fn line_end() -> impl Strategy<Value = &'static [u8]> {
    prop_oneof![Just(&b"\r\n"[..]), Just(&b"\n"[..])]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn an_endless_line_is_reported_once_at_the_limit_and_the_reply_after_it_parses(
        inside_a_packet in any::<bool>(),
        line in proptest::collection::vec(any::<u8>(), 0..2000)
            .prop_map(|mut l| { l.retain(|&b| b != b'\n'); l }),
        end in line_end(),
        packet_end in any::<bool>(),
        chunks in proptest::collection::vec(1usize..300, 1..16),
    ) {
        let limits = Limits { max_packet_bytes: 128, max_lines: 6 };
        let reply = b"Response: Success\r\nActionID: p-1\r\nPing: Pong\r\n\r\n";
        let start: &[u8] = if inside_a_packet { b"Event: Big\r\nData: " } else { b"" };
        // Long enough to cross the limit, never ending in a lone CR (which would
        // make the line end below part of the line).
        let mut line = [start, &[b'y'; 129], &line].concat();
        line.push(b'y');
        // The end of the packet must follow a line inside one; after a first line
        // it is optional (an empty line there is an empty packet, ignored).
        let packet_end: &[u8] = if inside_a_packet || packet_end { end } else { b"" };
        let input = [b"Event: Before\r\n\r\n".as_slice(), &line, end, packet_end, reply].concat();

        let (whole, _) = parse_in_chunks(&input, &[input.len()], limits);
        let (bytewise, _) = parse_in_chunks(&input, &[1], limits);
        let (chunked, peak) = parse_in_chunks(&input, &chunks, limits);
        prop_assert_eq!(&whole, &bytewise);
        prop_assert_eq!(&whole, &chunked);
        prop_assert!(peak <= 128 + 300, "peak {}", peak);
        prop_assert_eq!(whole.len(), 3, "{:?}", whole);
        let is_report = matches!(
            &whole[1],
            Parsed::Malformed(m) if m.size == 129
                && m.reason == ami_proto::MalformedReason::TooLarge { limit: 128 }
        );
        prop_assert!(is_report, "{:?}", whole[1]);
        let Parsed::Packet(got) = &whole[2] else {
            return Err(TestCaseError::fail(format!("{:?}", whole[2])));
        };
        prop_assert_eq!(got.as_bytes(), &reply[..]);

        // Reported as soon as the limit is crossed, not when the line ends.
        let mut parser = Parser::with_limits(limits);
        let cut = b"Event: Before\r\n\r\n".len() + line.len();
        parser.feed(&input[..cut]);
        let items: Vec<Parsed> = parser.by_ref().collect();
        prop_assert_eq!(&items[..], &whole[..2]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn lines_split_at_the_first_colon_space(
        line in proptest::collection::vec(
            prop_oneof![Just(b':'), Just(b' '), Just(b'a'), Just(0xbau8), any::<u8>()],
            1..40,
        ).prop_map(|mut l| { l.retain(|b| !matches!(b, b'\r' | b'\n')); l })
         .prop_filter("not empty", |l| !l.is_empty()),
    ) {
        let input = [b"Event: X\r\n".as_slice(), &line, b"\r\n\r\n"].concat();
        let mut parser = Parser::without_banner();
        parser.feed(&input);
        let Some(Parsed::Packet(packet)) = parser.next() else {
            return Err(TestCaseError::fail("no packet"));
        };
        let got = packet.lines().nth(1).unwrap();
        match line.windows(2).position(|w| w == b": ") {
            Some(colon) => {
                let key = std::str::from_utf8(&line[..colon]).ok();
                prop_assert_eq!(
                    got,
                    ami_proto::Line::Field(ami_proto::Field {
                        key: &line[..colon],
                        value: ami_proto::Value::new(&line[colon + 2..]),
                    })
                );
                if let Some(key) = key {
                    prop_assert_eq!(packet.get(key).map(|v| v.as_bytes()), Some(&line[colon + 2..]));
                }
            }
            None => prop_assert_eq!(got, ami_proto::Line::Opaque(&line)),
        }
    }
}

/// One step of a random session.
#[derive(Debug, Clone)]
enum Step {
    Send {
        timeout_ms: u64,
        list: bool,
    },
    /// The server answers the n-th oldest unanswered action.
    Answer(usize),
    /// The server answers a list action with items.
    AnswerList(usize, u8),
    Garbage(Vec<u8>),
    Advance(u64),
    Eof,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (1u64..5000, any::<bool>()).prop_map(|(timeout_ms, list)| Step::Send { timeout_ms, list }),
        3 => (0usize..4).prop_map(Step::Answer),
        1 => (0usize..4, 0u8..4).prop_map(|(n, items)| Step::AnswerList(n, items)),
        1 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(Step::Garbage),
        2 => (0u64..3000).prop_map(Step::Advance),
        1 => Just(Step::Eof),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_action_completes_exactly_once(steps in proptest::collection::vec(step(), 0..60)) {
        let config = Config {
            keepalive: Some(Keepalive { interval: Duration::from_secs(2), timeout: Duration::from_secs(1) }),
            max_in_flight: 3,
            ..harness::config()
        };
        let mut pair = harness::Pair::logged_in(config, harness::login_only_server());
        let mut sent: Vec<ActionId> = Vec::new();
        for step in steps {
            match step {
                Step::Send { timeout_ms, list } => {
                    let mut action = Action::new(if list { "CoreShowChannels" } else { "Ping" })
                        .timeout(Duration::from_millis(timeout_ms));
                    if list {
                        action = action.expect_list();
                    }
                    match pair.conn.send_action(action, pair.now) {
                        Ok(id) => sent.push(id),
                        Err(_) => prop_assert!(matches!(pair.conn.state(), ami_proto::State::Closed(_))),
                    }
                    pair.drive();
                }
                Step::Answer(n) | Step::AnswerList(n, _) if pair.server.received.len() > 1 => {
                    let index = 1 + n % (pair.server.received.len() - 1);
                    let id = pair.server.received[index].action_id().unwrap().to_string();
                    let mut bytes = format!("Response: Success\r\nActionID: {id}\r\n\r\n").into_bytes();
                    if let Step::AnswerList(_, items) = step {
                        for _ in 0..items {
                            bytes.extend(format!("Event: Item\r\nActionID: {id}\r\n\r\n").bytes());
                        }
                        bytes.extend(format!("Event: ListComplete\r\nActionID: {id}\r\nEventList: Complete\r\n\r\n").bytes());
                    }
                    pair.deliver(&bytes);
                }
                Step::Answer(_) | Step::AnswerList(..) => {}
                Step::Garbage(bytes) => pair.deliver(&bytes),
                Step::Advance(ms) => pair.advance(Duration::from_millis(ms)),
                Step::Eof => {
                    pair.conn.handle_eof();
                    pair.drive();
                }
            }
            // Nothing hangs: whatever is pending has a deadline to wake for.
            let waiting = pair.conn.in_flight() > 0
                || !matches!(pair.conn.state(), ami_proto::State::Ready | ami_proto::State::Closed(_));
            prop_assert!(!waiting || pair.conn.poll_timeout().is_some(), "pending without a deadline");
        }
        // Finally the connection dies: whatever was still pending must fail now.
        pair.conn.handle_eof();
        pair.drive();
        let mut completions: HashMap<ActionId, usize> = HashMap::new();
        for output in &pair.outputs {
            if let Output::Reply { id, .. } = output {
                *completions.entry(*id).or_default() += 1;
            }
        }
        for id in &sent {
            prop_assert_eq!(completions.get(id).copied(), Some(1), "action {} completions", id);
        }
        prop_assert_eq!(completions.len(), sent.len(), "no completion for an unknown id");
        prop_assert_eq!(pair.conn.in_flight(), 0);
    }
}
