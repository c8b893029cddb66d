//! Typed event views against reading headers by string, over the corpus's events
//! (parsed once, outside the timing), then a ratio table measured in the same run.
//!
//! Each candidate reads the same three things per event: the event name, `Channel`
//! and `Uniqueid`. "By string" calls `Packet::get`; "typed" builds `AnyEvent` (the
//! name dispatch) and calls its accessors. The dispatch-only pair isolates what
//! typing costs before any field is read.

use std::hint::black_box;
use std::time::Duration;

use ami_benches::{corpus, Outcome};
use ami_proto::{Packet, PacketKind, Parsed, Parser};
use ami_types::AnyEvent;
use criterion::{criterion_group, Criterion, Throughput};

fn events() -> Vec<Packet> {
    let mut parser = Parser::new();
    parser.feed(&corpus());
    parser
        .by_ref()
        .filter_map(|item| match item {
            Parsed::Packet(packet) if packet.kind() == PacketKind::Event => Some(packet),
            _ => None,
        })
        .collect()
}

fn fold(checksum: &mut u64, value: Option<ami_proto::Value<'_>>) {
    let len = value.map_or(0, |v| v.as_bytes().len() as u64 + 1);
    *checksum = checksum.rotate_left(5) ^ len;
}

/// Baseline: `Event`, `Channel`, `Uniqueid` by string.
fn by_string(events: &[Packet]) -> Outcome {
    let mut checksum = 0u64;
    for packet in events {
        fold(&mut checksum, packet.get("Event"));
        fold(&mut checksum, packet.get("Channel"));
        fold(&mut checksum, packet.get("Uniqueid"));
    }
    Outcome {
        packets: events.len() as u64,
        checksum,
    }
}

/// Typed: `AnyEvent::from_packet`, then the name and the two accessors.
fn typed(events: &[Packet]) -> Outcome {
    let mut checksum = 0u64;
    for packet in events {
        let Some(event) = AnyEvent::from_packet(packet) else {
            continue;
        };
        let name = event.name().map(|n| ami_proto::Value::new(n.as_bytes()));
        fold(&mut checksum, name);
        fold(&mut checksum, event.channel_name());
        fold(&mut checksum, event.uniqueid());
    }
    Outcome {
        packets: events.len() as u64,
        checksum,
    }
}

/// Baseline of the dispatch: the `Event` header only.
fn name_by_string(events: &[Packet]) -> Outcome {
    let mut checksum = 0u64;
    for packet in events {
        fold(&mut checksum, packet.event_name());
    }
    Outcome {
        packets: events.len() as u64,
        checksum,
    }
}

/// Typing only: `AnyEvent::from_packet` and its documented name, no field read.
fn dispatch_only(events: &[Packet]) -> Outcome {
    let mut checksum = 0u64;
    for packet in events {
        let name = AnyEvent::from_packet(packet).and_then(|event| event.name());
        fold(
            &mut checksum,
            name.map(|n| ami_proto::Value::new(n.as_bytes())),
        );
    }
    Outcome {
        packets: events.len() as u64,
        checksum,
    }
}

/// A filter as users write it: every Hangup's cause, by string and typed.
fn hangup_cause_by_string(events: &[Packet]) -> Outcome {
    let mut checksum = 0u64;
    for packet in events {
        if packet.is("Event", "Hangup") {
            let cause = packet
                .get("Cause")
                .and_then(|v| v.as_str()?.parse::<u64>().ok());
            checksum = checksum.rotate_left(5) ^ cause.unwrap_or(u64::MAX);
        }
    }
    Outcome {
        packets: events.len() as u64,
        checksum,
    }
}

fn hangup_cause_typed(events: &[Packet]) -> Outcome {
    let mut checksum = 0u64;
    for packet in events {
        if let Some(AnyEvent::Hangup(hangup)) = AnyEvent::from_packet(packet) {
            let cause = hangup.cause().map(u64::from);
            checksum = checksum.rotate_left(5) ^ cause.unwrap_or(u64::MAX);
        }
    }
    Outcome {
        packets: events.len() as u64,
        checksum,
    }
}

/// The same filter with the one view: `Hangup::from_packet`, no `AnyEvent` dispatch.
fn hangup_cause_view(events: &[Packet]) -> Outcome {
    let mut checksum = 0u64;
    for packet in events {
        if let Some(hangup) = ami_types::events::Hangup::from_packet(packet) {
            let cause = hangup.cause().map(u64::from);
            checksum = checksum.rotate_left(5) ^ cause.unwrap_or(u64::MAX);
        }
    }
    Outcome {
        packets: events.len() as u64,
        checksum,
    }
}

/// The road not taken for the dispatch: a binary search of the lower-cased name
/// in a sorted table (built once), comparing ASCII case-insensitively.
fn binary_search_dispatch(events: &[Packet]) -> Outcome {
    static TABLE: std::sync::OnceLock<Vec<(Vec<u8>, &'static str)>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table: Vec<_> = ami_types::events::EVENT_NAMES
            .iter()
            .map(|name| (name.to_ascii_lowercase().into_bytes(), *name))
            .collect();
        table.sort();
        table
    });
    let mut checksum = 0u64;
    for packet in events {
        let name = packet.event_name().and_then(|name| {
            let name = name.as_bytes();
            let found = table.binary_search_by(|(probe, _)| {
                let lower = name.iter().map(u8::to_ascii_lowercase);
                probe.iter().copied().cmp(lower)
            });
            found.ok().map(|at| table[at].1)
        });
        fold(
            &mut checksum,
            name.map(|n| ami_proto::Value::new(n.as_bytes())),
        );
    }
    Outcome {
        packets: events.len() as u64,
        checksum,
    }
}

type Candidate = (&'static str, fn(&[Packet]) -> Outcome);

const PAIRS: [(Candidate, Candidate); 5] = [
    (
        ("Event+Channel+Uniqueid by string", by_string),
        ("AnyEvent + typed accessors", typed),
    ),
    (
        ("Event header by string", name_by_string),
        ("AnyEvent dispatch only", dispatch_only),
    ),
    (
        ("binary search of the name", binary_search_dispatch),
        ("AnyEvent dispatch only", dispatch_only),
    ),
    (
        ("Hangup Cause by string", hangup_cause_by_string),
        ("Hangup Cause via AnyEvent", hangup_cause_typed),
    ),
    (
        ("Hangup Cause by string", hangup_cause_by_string),
        ("Hangup Cause via Hangup::from_packet", hangup_cause_view),
    ),
];

fn typed_events(c: &mut Criterion) {
    let events = events();
    let mut group = c.benchmark_group("typed_events");
    group.throughput(Throughput::Elements(events.len() as u64));
    let mut done = Vec::new();
    for (baseline, candidate) in PAIRS {
        for (name, run) in [baseline, candidate] {
            if !done.contains(&name) {
                done.push(name);
                group.bench_function(name, |b| b.iter(|| run(black_box(&events))));
            }
        }
    }
    group.finish();
}

/// The fastest of `runs` runs: on a shared machine, interference only ever adds
/// time, so the minimum is the steadiest estimate of a loop this short (~2 ms).
fn min_time(runs: usize, mut f: impl FnMut() -> Outcome) -> f64 {
    black_box(f());
    (0..runs)
        .map(|_| {
            let start = std::time::Instant::now();
            black_box(f());
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// The claim: typed / by-string time ratios, measured now, in this run.
fn ratio_table() {
    let events = events();
    println!(
        "\nratio table (fastest of 51 runs each, {} event packets of the corpus)",
        events.len()
    );
    println!("| by string | ns/event | typed | ns/event | typed / by string |");
    println!("| --- | ---: | --- | ---: | ---: |");
    for ((base_name, base), (typed_name, typed)) in PAIRS {
        // Both read the same values (the checksums fold every length read).
        let (b, t) = (base(&events), typed(&events));
        assert_eq!(b.packets, t.packets);
        assert_eq!(b, t, "{base_name} and {typed_name} read the same bytes");
        let base_time = min_time(51, || base(black_box(&events)));
        let typed_time = min_time(51, || typed(black_box(&events)));
        let per = |secs: f64| secs * 1e9 / events.len() as f64;
        println!(
            "| {base_name} | {:.1} | {typed_name} | {:.1} | {:.2} |",
            per(base_time),
            per(typed_time),
            typed_time / base_time
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = typed_events
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // Under `cargo test --benches` each benchmark ran once: skip the table.
    if std::env::args().any(|a| a == "--bench") {
        ratio_table();
    }
}
