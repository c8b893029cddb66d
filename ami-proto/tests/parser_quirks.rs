//! Real Asterisk quirks, each with a test: bare LF, `\r\n\n`, stray LF in values,
//! legacy command bodies, repeated and odd keys, opaque lines, limits.

use ami_proto::{Limits, Line, MalformedReason, Packet, Parsed, Parser};

fn packets(input: &[u8]) -> Vec<Packet> {
    let mut parser = Parser::without_banner();
    parser.feed(input);
    std::iter::from_fn(|| parser.next())
        .map(|item| match item {
            Parsed::Packet(p) => p,
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

#[test]
fn bare_lf_line_ends_are_accepted() {
    let got = packets(b"Event: A\nKey: v\n\nEvent: B\n\n");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].get("Key").unwrap(), "v");
}

#[test]
fn crlf_lf_packet_end_does_not_merge_packets() {
    let got =
        packets(b"Event: CoreShowChannelMapComplete\r\nListItems: 0\r\n\nEvent: Next\r\n\r\n");
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].event_name().unwrap(), "Next");
}

#[test]
fn trailing_lf_in_a_value_loses_nothing() {
    let got =
        packets(b"Response: Error\r\nMessage: No endpoints found\n\r\n\r\nEvent: After\r\n\r\n");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].message().unwrap(), "No endpoints found");
    assert_eq!(got[1].event_name().unwrap(), "After");
}

#[test]
fn repeated_keys_keep_wire_order_and_original_spelling() {
    let got = packets(b"Response: Success\r\nOutput: one\r\noutput: two\r\nOUTPUT: three\r\n\r\n");
    let all: Vec<_> = got[0].get_all("Output").map(|v| v.to_string()).collect();
    assert_eq!(all, ["one", "two", "three"]);
    let keys: Vec<_> = got[0].fields().map(|f| f.key.to_vec()).collect();
    assert_eq!(keys[2], b"output");
}

#[test]
fn odd_keys_split_at_the_first_colon_space() {
    let got = packets(
        b"Event: X\r\n100rel: yes\r\nCause-txt: Normal\r\nKey(0): a\r\nChanVariable(IAX2/host:4569-1): FOO=bar\r\nTrail: sp  \r\nEmpty: \r\n\r\n",
    );
    let p = &got[0];
    assert_eq!(p.get("100rel").unwrap(), "yes");
    assert_eq!(p.get("cause-TXT").unwrap(), "Normal");
    assert_eq!(p.get("Key(0)").unwrap(), "a");
    assert_eq!(p.get("Trail").unwrap(), "sp  ", "trailing spaces are data");
    assert_eq!(p.get("Empty").unwrap(), "");
    let vars: Vec<_> = p
        .variables()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(vars, [("FOO".to_string(), "bar".to_string())]);
}

#[test]
fn lines_without_separator_are_kept_as_opaque() {
    let got = packets(b"Event: X\r\njust text\r\nKey:novalue\r\n\r\n");
    let lines: Vec<_> = got[0].lines().collect();
    assert_eq!(lines[1], Line::Opaque(b"just text"));
    assert_eq!(lines[2], Line::Opaque(b"Key:novalue"));
}

#[test]
fn values_are_bytes_with_lossy_text() {
    let got = packets(b"Event: X\r\nCallerIDName: Jos\xe9 O\\'Brien\r\n\r\n");
    let name = got[0].get("CallerIDName").unwrap();
    assert_eq!(name.as_str(), None);
    assert_eq!(name.to_str_lossy(), "Jos\u{fffd} O\\'Brien");
    assert_eq!(&*name.unescaped(), b"Jos\xe9 O'Brien");
}

#[test]
fn empty_packets_are_ignored() {
    let got = packets(b"\r\n\r\n\nEvent: A\r\n\r\n\r\n\n");
    assert_eq!(got.len(), 1);
}

#[test]
fn legacy_follows_body_keeps_blank_lines_and_lookalike_headers() {
    let input = b"Response: Follows\r\nPrivilege: Command\r\nActionID: c1\r\n\
Channel              Location             State   Application(Data)\n\
\n\
Key: not a header\n\
0 active channels--END COMMAND--\r\n\r\nEvent: Next\r\n\r\n";
    let got = packets(input);
    assert_eq!(got.len(), 2);
    let reply = &got[0];
    assert_eq!(reply.response().unwrap(), "Follows");
    assert_eq!(reply.action_id().unwrap(), "c1");
    assert_eq!(reply.get("Key"), None, "body lines are not headers");
    let lines: Vec<_> = reply.command_output().map(|l| l.to_string()).collect();
    assert_eq!(
        lines,
        [
            "Channel              Location             State   Application(Data)",
            "",
            "Key: not a header",
            "0 active channels"
        ]
    );
    assert_eq!(got[1].event_name().unwrap(), "Next");
}

#[test]
fn routing_headers_are_found_wherever_and_however_spelled() {
    let got = packets(
        b"Event: Hangup\r\nChannel: PJSIP/1\r\nactionid: low\r\nActionID: second\r\n\r\n\
Response: Success\r\nActionIDs: not it\r\nActionID:no-space\r\nACTIONID: \r\n\r\n\
Response: Error\r\nMessage: no id\r\n\r\n\
OriginateResponse: x\r\nEvent: NotFirst\r\n\r\n\
Response: Follows\r\nActionID: legacy\r\nbody\n--END COMMAND--\r\n\r\n\
Response: Follows\r\nPrivilege: Command\r\nbody\n--END COMMAND--ActionID: after\r\n\r\n",
    );
    assert_eq!(got.len(), 6);
    // The first ActionID line counts, whatever the key's case.
    assert_eq!(got[0].action_id().unwrap(), "low");
    assert_eq!(got[0].event_name().unwrap(), "Hangup");
    assert_eq!(got[0].response(), None);
    // A longer key or no space after the colon is not an ActionID; an empty value is.
    assert_eq!(got[1].action_id().unwrap(), "");
    assert_eq!(got[1].response().unwrap(), "Success");
    assert_eq!(got[2].action_id(), None);
    assert_eq!(got[2].response().unwrap(), "Error");
    assert!(got[2].is_error());
    // Only the first line decides the kind.
    assert_eq!(got[3].event_name(), None);
    // Before a legacy body, or on the rest of its marker's line.
    assert_eq!(got[4].action_id().unwrap(), "legacy");
    assert_eq!(got[5].action_id().unwrap(), "after");
    for packet in &got {
        assert_eq!(packet.action_id(), packet.get("ActionID"), "{packet:?}");
    }
}

#[test]
fn lines_longer_than_a_scanning_block_index_alike_in_any_chunking() {
    let mut input = Vec::new();
    for len in [0, 1, 62, 63, 64, 65, 127, 128, 129, 1000, 5000] {
        input.extend_from_slice(b"Event: Long\r\nValue: ");
        input.extend(std::iter::repeat_n(b'v', len));
        input.extend_from_slice(b"\r\nActionID: ");
        input.extend_from_slice(len.to_string().as_bytes());
        input.extend_from_slice(b"\n\r\n");
    }
    let whole = packets(&input);
    assert_eq!(whole.len(), 11);
    for (packet, len) in whole
        .iter()
        .zip([0, 1, 62, 63, 64, 65, 127, 128, 129, 1000, 5000])
    {
        assert_eq!(packet.get("Value").unwrap().as_bytes().len(), len);
        assert_eq!(packet.action_id().unwrap(), len.to_string().as_str());
    }
    for chunk in [1, 3, 63, 64, 65, 4096] {
        let mut parser = Parser::without_banner();
        let mut got = Vec::new();
        for piece in input.chunks(chunk) {
            parser.feed(piece);
            got.extend(std::iter::from_fn(|| parser.next()));
        }
        let whole: Vec<_> = whole.iter().cloned().map(Parsed::Packet).collect();
        assert_eq!(got, whole, "chunk {chunk}");
    }
}

#[test]
fn an_idle_parser_holds_a_small_buffer() {
    let mut parser = Parser::new();
    parser.feed(b"Asterisk Call Manager/11.0.0\r\n");
    parser.feed(b"Response: Success\r\nActionID: 1\r\nMessage: Authentication accepted\r\n\r\n");
    parser.feed(b"Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n");
    assert_eq!(parser.by_ref().count(), 3);
    // The first block is 4 KiB: an idle connection does not hold 64 KiB.
    assert!(parser.buffer_mut().capacity() <= 4 * 1024);
    // Under load blocks double, so that small reads do not each allocate.
    let event = b"Event: Newexten\r\nChannel: PJSIP/100-00000001\r\nApplication: Dial\r\n\r\n";
    let mut largest = 0;
    for _ in 0..10_000 {
        parser.feed(event);
        largest = largest.max(parser.buffer_mut().capacity());
        assert_eq!(parser.by_ref().count(), 1);
    }
    assert!(largest >= 64 * 1024, "largest block {largest}");
}

#[test]
fn legacy_follows_marker_split_across_reads() {
    let input: &[u8] = b"Response: Follows\r\nPrivilege: Command\r\nline\n--END COMMAND--\r\n\r\n";
    for split in 1..input.len() {
        let mut parser = Parser::without_banner();
        parser.feed(&input[..split]);
        let mut items: Vec<_> = std::iter::from_fn(|| parser.next()).collect();
        parser.feed(&input[split..]);
        items.extend(std::iter::from_fn(|| parser.next()));
        assert_eq!(items.len(), 1, "split at {split}");
        let Parsed::Packet(p) = &items[0] else {
            panic!()
        };
        assert_eq!(p.command_text(), "line", "split at {split}");
    }
}

fn small_limits() -> Limits {
    Limits {
        max_packet_bytes: 256,
        max_lines: 8,
    }
}

fn parse_all(parser: &mut Parser, input: &[u8], chunk: usize) -> Vec<Parsed> {
    let mut items = Vec::new();
    for piece in input.chunks(chunk) {
        parser.feed(piece);
        items.extend(std::iter::from_fn(|| parser.next()));
        assert!(parser.buffered() <= 256 + chunk, "memory stays bounded");
    }
    items
}

#[test]
fn oversized_packet_is_dropped_reported_and_the_next_one_parses() {
    let big = format!("Event: Big\r\nData: {}\r\n\r\n", "y".repeat(100_000));
    let input = [
        b"Event: Before\r\n\r\n".as_slice(),
        big.as_bytes(),
        b"Event: After\r\n\r\n",
    ]
    .concat();
    for chunk in [1, 7, 4096, input.len()] {
        let mut parser = Parser::with_limits(small_limits());
        parser.feed(b"Asterisk Call Manager/11.0.0\r\n");
        assert!(matches!(parser.next(), Some(Parsed::Banner(_))));
        let items = parse_all(&mut parser, &input, chunk);
        assert_eq!(items.len(), 3, "chunk {chunk}: {items:?}");
        let Parsed::Malformed(m) = &items[1] else {
            panic!("{:?}", items[1])
        };
        assert_eq!(m.reason, MalformedReason::TooLarge { limit: 256 });
        // Reported as it crossed the limit: the 257th byte.
        assert_eq!(m.size, 257, "chunk {chunk}");
        assert_eq!(&m.head[..], b"Event: Big");
        assert!(matches!(&items[2], Parsed::Packet(p) if p.event_name().unwrap() == "After"));
    }
}

#[test]
fn too_many_lines_is_dropped_and_reported() {
    let many: String = (0..20).map(|i| format!("K{i}: v\r\n")).collect();
    let input = format!("Event: Many\r\n{many}\r\nEvent: After\r\n\r\n");
    let mut parser = Parser::with_limits(small_limits());
    parser.feed(b"banner\r\n");
    let items = parse_all(&mut parser, input.as_bytes(), 3);
    let reasons: Vec<_> = items
        .iter()
        .filter_map(|i| match i {
            Parsed::Malformed(m) => Some(m.reason),
            _ => None,
        })
        .collect();
    assert_eq!(reasons, [MalformedReason::TooManyLines { limit: 8 }]);
    assert!(matches!(items.last(), Some(Parsed::Packet(p)) if p.event_name().unwrap() == "After"));
}

#[test]
fn oversized_legacy_body_is_dropped_up_to_its_marker() {
    let body = "z\n".repeat(10_000);
    let input = format!(
        "Response: Follows\r\nPrivilege: Command\r\n{body}--END COMMAND--\r\n\r\nEvent: After\r\n\r\n"
    );
    for chunk in [5, 1000] {
        let mut parser = Parser::with_limits(small_limits());
        parser.feed(b"banner\n");
        let items = parse_all(&mut parser, input.as_bytes(), chunk);
        assert!(matches!(items[1], Parsed::Malformed(_)), "{items:?}");
        assert!(
            matches!(items.last(), Some(Parsed::Packet(p)) if p.event_name().unwrap() == "After")
        );
    }
}

#[test]
fn a_megabyte_command_reply_fed_bytewise_parses_in_linear_time() {
    // Quadratic rescanning would take ~10^12 steps here and never finish.
    let mut input = b"Response: Success\r\nMessage: Command output follows\r\n".to_vec();
    while input.len() < 1 << 20 {
        input.extend_from_slice(b"Output: 0x7f19 PJSIP/100-00000001 Up Dial(PJSIP/200)\r\n");
    }
    input.extend_from_slice(b"\r\n");
    let mut parser = Parser::without_banner();
    let mut got = None;
    for byte in input.chunks(1) {
        parser.feed(byte);
        if let Some(item) = parser.next() {
            got = Some(item);
        }
    }
    let Some(Parsed::Packet(reply)) = got else {
        panic!()
    };
    assert!(reply.command_output().count() > 18_000);
}

#[test]
fn over_long_banner_is_reported_and_packets_follow() {
    let mut parser = Parser::with_limits(small_limits());
    let input = [vec![b'b'; 1000], b"\r\nEvent: A\r\n\r\n".to_vec()].concat();
    let items = parse_all(&mut parser, &input, 64);
    assert!(matches!(items[0], Parsed::Malformed(_)));
    assert!(matches!(&items[1], Parsed::Packet(p) if p.event_name().unwrap() == "A"));
}

#[test]
fn the_size_limit_counts_the_empty_line_that_ends_a_packet() {
    // A 62-byte line + CRLF is 64 bytes; the empty line makes the packet 66.
    let packet = [
        b"K: ".as_slice(),
        &[b'x'; 59],
        b"\r\n\r\nEvent: After\r\n\r\n",
    ]
    .concat();
    for chunk in [1, 2, 3, 64, 65, 66, packet.len()] {
        let mut parser = Parser::with_limits(Limits {
            max_packet_bytes: 65,
            max_lines: 8,
        });
        parser.feed(b"banner\r\n");
        let items = parse_all_unbounded(&mut parser, &packet, chunk);
        assert!(
            matches!(items[1], Parsed::Malformed(ref m) if m.size == 66),
            "chunk {chunk}: {items:?}"
        );
        assert!(matches!(&items[2], Parsed::Packet(p) if p.event_name().unwrap() == "After"));
    }
    let mut parser = Parser::with_limits(Limits {
        max_packet_bytes: 66,
        max_lines: 8,
    });
    parser.feed(b"banner\r\n");
    let items = parse_all_unbounded(&mut parser, &packet, packet.len());
    assert!(matches!(&items[1], Parsed::Packet(p) if p.as_bytes().len() == 66));
}

fn parse_all_unbounded(parser: &mut Parser, input: &[u8], chunk: usize) -> Vec<Parsed> {
    let mut items = Vec::new();
    for piece in input.chunks(chunk) {
        parser.feed(piece);
        items.extend(parser.by_ref());
    }
    items
}

#[test]
fn a_legacy_body_dropped_for_size_leaves_nothing_behind() {
    // Found by fuzzing: the body offsets of a legacy reply dropped at its final
    // empty line were applied to the next packet.
    let body = "x\n".repeat(40);
    let dropped = format!("Response: Follows\r\nActionID: a\r\n{body}--END COMMAND--tail\r\n\r\n");
    let input = format!("{dropped}Event: Next\r\nShort: y\r\n\r\n");
    // Over the limit only by the final empty line: dropped when complete.
    let limit = dropped.len() - 1;
    let mut parser = Parser::with_limits(Limits {
        max_packet_bytes: limit,
        max_lines: 8,
    });
    parser.feed(b"banner\r\n");
    let items = parse_all_unbounded(&mut parser, input.as_bytes(), input.len());
    assert!(matches!(items[1], Parsed::Malformed(_)), "{items:?}");
    let Parsed::Packet(next) = &items[2] else {
        panic!("{items:?}")
    };
    assert_eq!(next.legacy_body(), None);
    assert_eq!(next.command_output().count(), 0);
}

#[test]
fn banner_version_is_the_text_after_the_slash_if_any() {
    for (line, version) in [
        (&b"Asterisk Call Manager/11.0.0\r\n"[..], Some("11.0.0")),
        (b"Asterisk Call Manager/1.1\n", Some("1.1")),
        (b"Some other server\r\n", None),
        (b"Asterisk Call Manager/\r\n", None),
    ] {
        let mut parser = Parser::new();
        parser.feed(line);
        let Some(Parsed::Banner(banner)) = parser.next() else {
            panic!()
        };
        assert_eq!(banner.version(), version);
    }
}

/// Feeds `input` in `chunk`-byte reads; returns the items with, for each, how many
/// bytes had been fed when it came out. Checks the buffer after every read.
fn parse_timed(
    parser: &mut Parser,
    input: &[u8],
    chunk: usize,
    bound: usize,
) -> Vec<(usize, Parsed)> {
    let mut items = Vec::new();
    let mut fed = 0;
    for piece in input.chunks(chunk) {
        parser.feed(piece);
        fed += piece.len();
        items.extend(parser.by_ref().map(|item| (fed, item)));
        assert!(
            parser.buffered() <= bound,
            "memory stays bounded: {} buffered after {fed} bytes",
            parser.buffered()
        );
    }
    items
}

const ENDLESS_LIMIT: usize = 64 * 1024;
const REPLY: &[u8] = b"Response: Success\r\nActionID: p-1\r\nPing: Pong\r\nTimestamp: 1.5\r\n\r\n";

fn endless_limits() -> Limits {
    Limits {
        max_packet_bytes: ENDLESS_LIMIT,
        max_lines: 128,
    }
}

fn assert_reply(item: &Parsed) {
    let Parsed::Packet(reply) = item else {
        panic!("{item:?}")
    };
    assert_eq!(reply.as_bytes(), REPLY, "the reply is parsed intact");
    assert_eq!(reply.action_id().unwrap(), "p-1");
}

#[test]
fn an_endless_line_is_reported_before_its_line_end_and_the_reply_after_it_parses() {
    // 10 MiB without a line end, in 4 KiB reads, then its end and a reply. The
    // line may be the start of a packet (garbage) or a value inside one.
    let line = vec![b'y'; 10 << 20];
    for (before, after) in [
        (&b""[..], &b"\r\n"[..]),
        (b"", b"\n"),
        (b"", b"\r\n\r\n"),
        (b"Event: Big\r\nData: ", b"\r\n\r\n"),
        (b"Event: Big\r\nData: ", b"\r\nMore: x\r\n\r\n"),
        (b"Event: Big\r\nData: ", b"\n\n"),
    ] {
        let start = [b"Event: Before\r\n\r\n".as_slice(), before].concat();
        let mut parser = Parser::with_limits(endless_limits());
        parser.feed(b"Asterisk Call Manager/11.0.0\r\n");
        assert!(matches!(parser.next(), Some(Parsed::Banner(_))));
        let mut items = parse_timed(&mut parser, &start, 4096, ENDLESS_LIMIT);
        items.extend(parse_timed(&mut parser, &line, 4096, ENDLESS_LIMIT));
        let case = String::from_utf8_lossy(before);
        // Reported the moment the limit was crossed, long before any line end.
        let [(_, Parsed::Packet(first)), (fed, Parsed::Malformed(m))] = &items[..] else {
            panic!("{case}: {items:?}")
        };
        assert_eq!(first.event_name().unwrap(), "Before");
        assert_eq!(
            m.reason,
            MalformedReason::TooLarge {
                limit: ENDLESS_LIMIT
            }
        );
        assert_eq!(m.size, ENDLESS_LIMIT + 1);
        let head: &[u8] = if before.is_empty() {
            &[b'y'; 64]
        } else {
            b"Event: Big"
        };
        assert_eq!(&m.head[..], head, "{case}");
        assert!(
            *fed <= ENDLESS_LIMIT + 4096,
            "{case}: reported after {fed} bytes"
        );
        assert_eq!(
            parser.buffered(),
            0,
            "{case}: the rest of the line is not kept"
        );
        // The line ends; the reply that follows is parsed intact.
        let rest = [after, REPLY, b"Event: After\r\n\r\n"].concat();
        let items = parse_timed(&mut parser, &rest, 4096, ENDLESS_LIMIT);
        let [(_, reply), (_, Parsed::Packet(last))] = &items[..] else {
            panic!("{case}: {items:?}")
        };
        assert_reply(reply);
        assert_eq!(last.event_name().unwrap(), "After");
    }
}

#[test]
fn an_endless_first_line_resynchronises_at_its_line_end() {
    // Garbage with no packet structure: whatever follows its line end is a new
    // packet, even without an empty line in between.
    let input = [&[b'z'; 1000][..], b"\n", REPLY].concat();
    for chunk in [1, 3, 64, 4096, input.len()] {
        let mut parser = Parser::with_limits(small_limits());
        parser.feed(b"banner\r\n");
        let items = parse_all(&mut parser, &input, chunk);
        assert!(
            matches!(&items[1], Parsed::Malformed(m) if m.size == 257 && m.head[..] == [b'z'; 64]),
            "chunk {chunk}: {items:?}"
        );
        assert_reply(&items[2]);
        assert_eq!(items.len(), 3);
    }
}

#[test]
fn an_endless_line_inside_a_packet_skips_to_the_end_of_that_packet() {
    // The rest of the packet after the long line is dropped with it, whatever it
    // holds; the packet after it parses.
    let input = [
        b"Event: Big\r\nData: ".as_slice(),
        &[b'x'; 1000],
        b"\r\nResponse: Success\r\nActionID: lookalike\r\n\r\n",
        REPLY,
    ]
    .concat();
    for chunk in [1, 2, 17, 256, input.len()] {
        let mut parser = Parser::with_limits(small_limits());
        parser.feed(b"banner\r\n");
        let items = parse_all(&mut parser, &input, chunk);
        assert_eq!(items.len(), 3, "chunk {chunk}: {items:?}");
        assert!(matches!(&items[1], Parsed::Malformed(m) if m.head[..] == b"Event: Big"[..]));
        assert_reply(&items[2]);
    }
}

#[test]
fn a_packet_over_the_line_limit_is_reported_at_the_line_that_crosses_it() {
    // Reported when the ninth line arrives, before the packet's end.
    let many: String = (0..9).map(|i| format!("K{i}: v\r\n")).collect();
    let mut parser = Parser::with_limits(small_limits());
    parser.feed(b"banner\r\n");
    assert!(matches!(parser.next(), Some(Parsed::Banner(_))));
    parser.feed(format!("Event: Many\r\n{many}").as_bytes());
    let Some(Parsed::Malformed(m)) = parser.next() else {
        panic!()
    };
    assert_eq!(m.reason, MalformedReason::TooManyLines { limit: 8 });
    assert_eq!(m.size, "Event: Many\r\n".len() + 8 * "K0: v\r\n".len());
    assert_eq!(parser.buffered(), 7, "the last line is not yet dropped");
    parser.feed(b"K9: v\r\n\r\n");
    parser.feed(REPLY);
    assert_reply(&parser.next().unwrap());
    assert_eq!(parser.next(), None);
}

#[test]
fn an_endless_legacy_body_is_reported_at_once_and_dropped_to_its_marker() {
    let mut parser = Parser::with_limits(small_limits());
    parser.feed(b"banner\r\n");
    assert!(matches!(parser.next(), Some(Parsed::Banner(_))));
    parser.feed(b"Response: Follows\r\nPrivilege: Command\r\n");
    assert_eq!(parser.next(), None);
    let mut reported = 0;
    for _ in 0..1000 {
        parser.feed(b"output line\n");
        reported += parser
            .by_ref()
            .filter(|i| matches!(i, Parsed::Malformed(_)))
            .count();
        assert!(parser.buffered() < 256);
    }
    assert_eq!(reported, 1);
    // A marker split across two reads is still found.
    parser.feed(b"--END COM");
    parser.feed(b"MAND--\r\n\r\n");
    parser.feed(REPLY);
    assert_reply(&parser.next().unwrap());
}

#[test]
fn an_endless_banner_is_reported_at_once() {
    let mut parser = Parser::with_limits(small_limits());
    parser.feed(&[b'b'; 257]);
    let Some(Parsed::Malformed(m)) = parser.next() else {
        panic!()
    };
    assert_eq!(m.size, 257);
    assert_eq!(parser.buffered(), 0);
    parser.feed(&[b'b'; 10_000]);
    assert_eq!(parser.next(), None);
    parser.feed(b"\r\n");
    parser.feed(REPLY);
    assert_reply(&parser.next().unwrap());
}

#[test]
fn the_rest_of_a_packet_whose_first_line_was_endless_is_a_headless_packet() {
    // The documented cost of resynchronising at the line end: nothing tells a
    // garbage line from the huge first line of a real packet, so that packet's
    // other lines come out on their own, with no Event/Response line to classify
    // (and so never taken for a reply).
    let input = [
        b"Event: ".as_slice(),
        &[b'n'; 1000],
        b"\r\nActionID: x\r\n\r\n",
        REPLY,
    ]
    .concat();
    for chunk in [1, 100, input.len()] {
        let mut parser = Parser::with_limits(small_limits());
        parser.feed(b"banner\r\n");
        let items = parse_all(&mut parser, &input, chunk);
        assert!(matches!(&items[1], Parsed::Malformed(m) if m.head.starts_with(b"Event: nnn")));
        let Parsed::Packet(rest) = &items[2] else {
            panic!("{items:?}")
        };
        assert_eq!(rest.kind(), ami_proto::PacketKind::Other);
        assert_eq!(rest.as_bytes(), b"ActionID: x\r\n\r\n");
        assert_reply(&items[3]);
    }
}
