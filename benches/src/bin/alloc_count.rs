//! Heap allocations per parsed packet on the corpus, for ours and the baselines.
//!
//! `cargo run --release -p ami-benches --bin alloc_count`

use ami_benches::alloc::{counts, reset_peak, CountingAlloc};
use ami_benches::{
    asterisk_rs_chunked, asterisk_rs_whole, corpus, naive, old_chunked, old_whole, ours_chunked,
    ours_whole, Outcome, CHUNK,
};

/// A parse function under test.
type Parse = fn(&[u8]) -> Outcome;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn main() {
    let data = corpus();
    println!(
        "corpus: {} bytes\n\n| parser | packets | allocations | per packet | peak heap (MiB) |\n| --- | ---: | ---: | ---: | ---: |",
        data.len()
    );
    let rows: [(&str, Parse); 7] = [
        ("ami-proto, whole buffer", ours_whole),
        ("ami-proto, 4 KiB reads", |d| ours_chunked(d, CHUNK)),
        ("old ami-proto parser, whole buffer", old_whole),
        ("old ami-proto parser, 4 KiB reads", |d| {
            old_chunked(d, CHUNK)
        }),
        ("naive String/HashMap", naive),
        ("asterisk-rs-ami 0.8, whole buffer", asterisk_rs_whole),
        ("asterisk-rs-ami 0.8, 4 KiB reads", |d| {
            asterisk_rs_chunked(d, CHUNK)
        }),
    ];
    for (name, parse) in rows {
        reset_peak();
        let before = counts();
        let out = parse(&data);
        let after = counts();
        let allocations = after.allocations - before.allocations;
        println!(
            "| {name} | {} | {allocations} | {:.2} | {:.1} |",
            out.packets,
            allocations as f64 / out.packets as f64,
            (after.peak - before.live) as f64 / (1024.0 * 1024.0),
        );
    }
}
