//! Parser throughput on the corpus: ours (whole buffer and 4 KiB reads) against
//! the line-end floor, a naive String/HashMap parser and `asterisk-rs-ami` 0.8, then
//! a ratio table measured in the same run.

use std::hint::black_box;
use std::time::Duration;

use ami_benches::{
    asterisk_rs_chunked, asterisk_rs_whole, corpus, line_floor, median_time, naive, ours_chunked,
    ours_whole, Outcome, CHUNK,
};
use criterion::{criterion_group, Criterion, Throughput};

type Candidate = (&'static str, fn(&[u8]) -> Outcome);

fn candidates() -> Vec<Candidate> {
    vec![
        ("floor: memchr line ends", line_floor),
        ("ami-proto whole", ours_whole),
        ("ami-proto 4KiB reads", |d| ours_chunked(d, CHUNK)),
        ("naive String/HashMap", naive),
        ("asterisk-rs-ami whole", asterisk_rs_whole),
        ("asterisk-rs-ami 4KiB reads", |d| {
            asterisk_rs_chunked(d, CHUNK)
        }),
    ]
}

fn parser(c: &mut Criterion) {
    let data = corpus();
    let mut group = c.benchmark_group("parser");
    group.throughput(Throughput::Bytes(data.len() as u64));
    for (name, parse) in candidates() {
        group.bench_function(name, |b| b.iter(|| parse(black_box(&data))));
    }
    group.finish();
}

/// The claim: ratios measured now, on this machine, in this run.
fn ratio_table() {
    let data = corpus();
    let expected = ours_whole(&data).packets;
    let mut rows = Vec::new();
    for (name, parse) in candidates() {
        let out = parse(&data);
        let time = median_time(7, || parse(black_box(&data)));
        rows.push((name, out.packets, time));
    }
    let time_of = |name: &str| rows.iter().find(|r| r.0 == name).unwrap().2.as_secs_f64();
    let ours = time_of("ami-proto whole");
    println!(
        "\nratio table (median of 7 runs each, corpus {} bytes, {expected} packets)",
        data.len()
    );
    println!("| parser | MB/s | packets/s | time (ms) | ami-proto whole is x faster |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (name, packets, time) in &rows {
        let secs = time.as_secs_f64();
        let packets_per_sec = if name.starts_with("floor") {
            "-".to_string()
        } else {
            format!("{:.0}", *packets as f64 / secs)
        };
        println!(
            "| {name} | {:.0} | {packets_per_sec} | {:.2} | {:.2} |",
            data.len() as f64 / secs / 1e6,
            secs * 1e3,
            secs / ours,
        );
    }
    let floor = time_of("floor: memchr line ends");
    let chunked = time_of("ami-proto 4KiB reads");
    let theirs = time_of("asterisk-rs-ami whole");
    println!(
        "\ntargets: ami-proto / floor throughput = {:.2} whole buffer, {:.2} in 4 KiB reads \
         (issue 14: >= 1.0); ami-proto / asterisk-rs-ami = {:.1}x (target >= 10x); \
         4 KiB reads / whole = {:.2}",
        floor / ours,
        floor / chunked,
        theirs / ours,
        ours / chunked,
    );
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
