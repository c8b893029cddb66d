//! Raw bytes into the parser: it must never panic, every packet it returns must be
//! internally consistent, and nothing it holds may outgrow the configured limits.
#![no_main]

use ami_proto::{Limits, Line, Parsed, Parser};
use libfuzzer_sys::fuzz_target;

/// Small limits, so the fuzzer reaches the oversize paths with small inputs.
const LIMITS: Limits = Limits {
    max_packet_bytes: 512,
    max_lines: 16,
};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the mode (client with banner, server without banner) and
    // whether small limits are in force; the rest is the stream.
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    let limits = if mode & 2 == 0 {
        LIMITS
    } else {
        Limits::default()
    };
    let mut parser = Parser::with_limits(limits);
    if mode & 1 == 1 {
        // Server side: no banner. `without_banner` has default limits only, so a
        // leading empty line stands in for the banner when small limits are wanted.
        parser = if mode & 2 == 0 {
            let mut p = Parser::with_limits(limits);
            p.feed(b"Asterisk Call Manager/11.0.0\r\n");
            assert!(matches!(p.next(), Some(Parsed::Banner(_))));
            p
        } else {
            Parser::without_banner()
        };
    }
    parser.feed(data);
    let mut consumed = 0usize;
    while let Some(item) = parser.next() {
        match item {
            Parsed::Banner(banner) => {
                assert!(!banner.line().contains(&b'\n'));
                let _ = banner.version();
            }
            Parsed::Packet(packet) => {
                check_packet(&packet, parser.limits());
                consumed += packet.as_bytes().len();
            }
            Parsed::Malformed(malformed) => {
                assert!(malformed.head.len() <= 64);
                consumed += malformed.size;
            }
        }
        // What the parser still holds is what it has not returned.
        assert!(parser.buffered() <= data.len());
    }
    assert!(consumed <= data.len());
});

fn check_packet(packet: &ami_proto::Packet, limits: Limits) {
    assert!(
        !packet.is_empty(),
        "the parser never returns an empty packet"
    );
    assert!(packet.len() <= limits.max_lines, "line limit exceeded");
    let size = packet.as_bytes().len();
    assert!(
        size <= limits.max_packet_bytes,
        "size limit exceeded: {size}"
    );
    for line in packet.lines() {
        let raw = match line {
            Line::Field(field) => {
                assert!(
                    !field.key.windows(2).any(|w| w == b": "),
                    "key holds the separator"
                );
                field.value.as_bytes()
            }
            Line::Opaque(raw) => {
                assert!(
                    !raw.windows(2).any(|w| w == b": "),
                    "opaque line with a separator"
                );
                raw
            }
        };
        assert!(!raw.contains(&b'\n'), "a line end inside a line");
    }
    // Exercise every accessor.
    let _ = packet.kind();
    let _ = packet.event_name();
    let _ = packet.response();
    // Found while indexing: the same as a lookup through the lines.
    assert_eq!(
        packet.action_id().map(|v| v.as_bytes().to_vec()),
        packet.get("ActionID").map(|v| v.as_bytes().to_vec()),
        "the ActionID noted while indexing is the first ActionID line"
    );
    let _ = packet.is_error();
    let _ = packet.list_items();
    let _ = packet.command_text();
    let _ = packet.legacy_body();
    let _ = packet.variables().count();
    for field in packet.fields() {
        let _ = field.value.as_str();
        let _ = field.value.to_str_lossy();
        let _ = ami_proto::unescape(field.value.as_bytes());
    }
    let _ = format!("{packet:?}");
}
