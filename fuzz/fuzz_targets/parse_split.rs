//! Split-feed equivalence: the same bytes fed whole, one byte at a time and in
//! chunk sizes taken from the input give the same items.
#![no_main]

use ami_proto::{Limits, Parsed, Parser};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Layout: [flags][n][n chunk sizes][stream]. Flag bit 0: small limits (so the
    // oversize paths are compared too).
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Some((&n, rest)) = rest.split_first() else {
        return;
    };
    let n = (n as usize % 16).min(rest.len());
    let (sizes, stream) = rest.split_at(n);
    let sizes: Vec<usize> = if sizes.is_empty() {
        vec![1]
    } else {
        sizes.iter().map(|&s| s as usize + 1).collect()
    };
    let limits = if flags & 1 == 1 {
        Limits {
            max_packet_bytes: 256,
            max_lines: 8,
        }
    } else {
        Limits::default()
    };

    let whole = parse(stream, &[stream.len().max(1)], limits);
    let bytewise = parse(stream, &[1], limits);
    let chunked = parse(stream, &sizes, limits);
    assert_eq!(whole, bytewise, "whole vs one byte at a time");
    assert_eq!(whole, chunked, "whole vs chunks {sizes:?}");
});

/// Feeds `data` in the given chunk sizes (cycled), draining after each feed.
fn parse(data: &[u8], sizes: &[usize], limits: Limits) -> Vec<Parsed> {
    let mut parser = Parser::with_limits(limits);
    let mut items = Vec::new();
    let mut at = 0;
    let mut sizes = sizes.iter().cycle();
    while at < data.len() {
        let size = (*sizes.next().unwrap()).clamp(1, data.len() - at);
        parser.feed(&data[at..at + size]);
        at += size;
        for item in parser.by_ref() {
            items.push(item);
        }
    }
    items
}
