//! Split-feed equivalence: the same bytes fed whole, one byte at a time and in
//! chunk sizes taken from the input give the same items, whether the chunks are
//! copied in (`feed`) or parsed where they lie (`feed_bytes`).
#![no_main]

use ami_proto::{Limits, Parsed, Parser};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Layout: [flags][n][n chunk sizes][stream]. Flag bit 0: small limits (so the
    // oversize paths are compared too); bits 1..8: which chunks are given as
    // owned `Bytes` (cycled).
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

    let owned = flags >> 1;
    let whole = parse(stream, &[stream.len().max(1)], 0, limits);
    let bytewise = parse(stream, &[1], 0, limits);
    let chunked = parse(stream, &sizes, 0, limits);
    let mixed = parse(stream, &sizes, owned, limits);
    let owned_bytewise = parse(stream, &[1], 0x7f, limits);
    assert_eq!(whole, bytewise, "whole vs one byte at a time");
    assert_eq!(whole, chunked, "whole vs chunks {sizes:?}");
    assert_eq!(whole, mixed, "whole vs chunks {sizes:?}, owned {owned:#b}");
    assert_eq!(whole, owned_bytewise, "whole vs owned bytes one at a time");
});

/// Feeds `data` in the given chunk sizes (cycled), draining after each feed;
/// chunk `i` is given as owned `Bytes` when bit `i % 7` of `owned` is set.
fn parse(data: &[u8], sizes: &[usize], owned: u8, limits: Limits) -> Vec<Parsed> {
    let data = bytes::Bytes::copy_from_slice(data);
    let mut parser = Parser::with_limits(limits);
    let mut items = Vec::new();
    let mut at = 0;
    let mut sizes = sizes.iter().cycle();
    let mut chunk = 0;
    while at < data.len() {
        let size = (*sizes.next().unwrap()).clamp(1, data.len() - at);
        if owned & (1 << (chunk % 7)) != 0 {
            parser.feed_bytes(data.slice(at..at + size));
        } else {
            parser.feed(&data[at..at + size]);
        }
        chunk += 1;
        at += size;
        for item in parser.by_ref() {
            items.push(item);
        }
    }
    items
}
