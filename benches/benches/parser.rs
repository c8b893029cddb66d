//! Parser throughput on the corpus: ours (whole buffer and 4 KiB reads) against
//! the line-end floor, the parser before issue 14, a naive String/HashMap parser
//! and `asterisk-rs-ami` 0.8, then on two synthetic worst cases (1-byte values,
//! 1,000-byte values) against the floor on the same data; then ratio tables
//! measured in the same run.

use std::hint::black_box;
use std::time::Duration;

use ami_benches::{
    asterisk_rs_chunked, asterisk_rs_whole, corpus, kilobyte_values, line_floor, median_time,
    naive, old_chunked, old_whole, one_byte_values, ours_chunked, ours_feed_only,
    ours_owned_chunked, ours_owned_whole, ours_whole, Outcome, CHUNK,
};
use bytes::Bytes;
use criterion::{criterion_group, Criterion, Throughput};

/// A candidate parses the data, given as owned `Bytes` (which those that take
/// a slice read where it lies).
type Candidate = (&'static str, fn(&Bytes) -> Outcome);

fn candidates() -> Vec<Candidate> {
    vec![
        ("floor: memchr line ends", |d| line_floor(d)),
        ("ami-proto whole", ours_owned_whole),
        ("ami-proto 4KiB reads", |d| ours_owned_chunked(d, CHUNK)),
        ("ami-proto whole, copied in (feed)", |d| ours_whole(d)),
        ("ami-proto 4KiB reads, copied in (feed)", |d| {
            ours_chunked(d, CHUNK)
        }),
        ("ami-proto feed only (whole copy, no parse)", |d| {
            ours_feed_only(d)
        }),
        ("old ami-proto parser whole", |d| old_whole(d)),
        ("old ami-proto parser 4KiB reads", |d| old_chunked(d, CHUNK)),
        ("naive String/HashMap", |d| naive(d)),
        ("asterisk-rs-ami whole", |d| asterisk_rs_whole(d)),
        ("asterisk-rs-ami 4KiB reads", |d| {
            asterisk_rs_chunked(d, CHUNK)
        }),
    ]
}

/// What runs on the synthetic cases: the floor and ours, parsed where it lies
/// then copied in.
fn synthetic_candidates() -> Vec<Candidate> {
    candidates().into_iter().take(5).collect()
}

/// The synthetic cases, by name.
fn synthetic_cases() -> Vec<(&'static str, Bytes)> {
    vec![
        ("1-byte values", one_byte_values().into()),
        ("1,000-byte values", kilobyte_values().into()),
    ]
}

fn parser(c: &mut Criterion) {
    let data = Bytes::from(corpus());
    let mut group = c.benchmark_group("parser");
    group.throughput(Throughput::Bytes(data.len() as u64));
    for (name, parse) in candidates() {
        group.bench_function(name, |b| b.iter(|| parse(black_box(&data))));
    }
    group.finish();
    for (case, data) in synthetic_cases() {
        let mut group = c.benchmark_group(format!("parser {case}"));
        group.throughput(Throughput::Bytes(data.len() as u64));
        for (name, parse) in synthetic_candidates() {
            group.bench_function(name, |b| b.iter(|| parse(black_box(&data))));
        }
        group.finish();
    }
}

/// Median times of each candidate on `data`, checking that every parser
/// produced the same packets.
fn timed(data: &Bytes, candidates: &[Candidate]) -> Vec<(&'static str, u64, f64)> {
    let expected = ours_whole(data);
    let old = old_whole(data);
    assert_eq!(
        (old.packets, old.checksum),
        (expected.packets, expected.checksum),
        "the old parser indexes the same lines"
    );
    for owned in [ours_owned_whole(data), ours_owned_chunked(data, CHUNK)] {
        assert_eq!(owned, expected, "owned chunks parse as copied ones");
    }
    candidates
        .iter()
        .map(|&(name, parse)| {
            let out = parse(data);
            let time = median_time(7, || parse(black_box(data)));
            (name, out.packets, time.as_secs_f64())
        })
        .collect()
}

/// The claim: ratios measured now, on this machine, in this run.
fn ratio_table() {
    let data = Bytes::from(corpus());
    let expected = ours_whole(&data).packets;
    let rows = timed(&data, &candidates());
    let time_of = |name: &str| rows.iter().find(|r| r.0 == name).unwrap().2;
    let ours = time_of("ami-proto whole");
    let floor = time_of("floor: memchr line ends");
    println!(
        "\nratio table (median of 7 runs each, corpus {} bytes, {expected} packets)",
        data.len()
    );
    println!(
        "| parser | MB/s | packets/s | time (ms) | ami-proto whole is x faster | throughput / floor |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (name, packets, secs) in &rows {
        let packets_per_sec = if *packets == 0 || name.starts_with("floor") {
            "-".to_string()
        } else {
            format!("{:.0}", *packets as f64 / secs)
        };
        println!(
            "| {name} | {:.0} | {packets_per_sec} | {:.2} | {:.2} | {:.2} |",
            data.len() as f64 / secs / 1e6,
            secs * 1e3,
            secs / ours,
            floor / secs,
        );
    }
    let chunked = time_of("ami-proto 4KiB reads");
    let theirs = time_of("asterisk-rs-ami whole");
    println!(
        "\ntargets: ami-proto / floor throughput = {:.2} whole buffer, {:.2} in 4 KiB reads \
         (issue 14: >= 1.0; parsed where they lie); copied in by `feed`: {:.2} whole, {:.2} in \
         4 KiB reads; old parser / floor = {:.2} whole, {:.2} in 4 KiB reads; \
         ami-proto / asterisk-rs-ami = {:.1}x (target >= 10x); 4 KiB reads / whole = {:.2}",
        floor / ours,
        floor / chunked,
        floor / time_of("ami-proto whole, copied in (feed)"),
        floor / time_of("ami-proto 4KiB reads, copied in (feed)"),
        floor / time_of("old ami-proto parser whole"),
        floor / time_of("old ami-proto parser 4KiB reads"),
        theirs / ours,
        ours / chunked,
    );

    println!(
        "\nsynthetic worst cases (median of 7 runs each): throughput / floor on the same data"
    );
    println!("| case | bytes | packets | floor MB/s | whole MB/s | whole / floor | 4 KiB reads MB/s | 4 KiB reads / floor | copied in: whole / floor | copied in: 4 KiB reads / floor |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (case, data) in synthetic_cases() {
        let rows = timed(&data, &synthetic_candidates());
        let [floor, whole, chunked, copied_whole, copied_chunked] =
            [0, 1, 2, 3, 4].map(|i| rows[i].2);
        let mb_s = |secs: f64| data.len() as f64 / secs / 1e6;
        println!(
            "| {case} | {} | {} | {:.0} | {:.0} | {:.2} | {:.0} | {:.2} | {:.2} | {:.2} |",
            data.len(),
            rows[1].1,
            mb_s(floor),
            mb_s(whole),
            floor / whole,
            mb_s(chunked),
            floor / chunked,
            floor / copied_whole,
            floor / copied_chunked,
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = parser
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // `cargo bench` passes `--bench`; `cargo test --all-targets` does not, and then
    // each benchmark above ran once as a smoke test: skip the timing table.
    if std::env::args().any(|a| a == "--bench") {
        ratio_table();
    }
}
