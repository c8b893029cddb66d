//! Correlation cost: 10,000 actions in flight on one `Connection`, their responses
//! fed back out of order, against a naive `HashMap<String, _>` client measured in
//! the same run, and against the same core with only 10 actions in flight (does
//! the cost per action grow with the number in flight?).
//!
//! One iteration sends `ACTIONS` Pings (`send_action` + `poll_transmit`), feeds
//! their pre-rendered responses (shuffled, in 16 KiB reads, as an adapter reads
//! them) and drains every `Output::Reply`. The connection is logged in through a
//! scripted banner and login reply and warmed by one earlier batch, outside the
//! timing.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use ami_proto::{Action, ActionId, Config, Connection, Credentials, Output, State};
use criterion::{criterion_group, BatchSize, Criterion, Throughput};

/// Actions per iteration.
const ACTIONS: usize = 10_000;
/// Bytes per `feed`, like an adapter's read.
const READ: usize = 16 * 1024;
const PREFIX: &str = "b-";

/// A logged-in connection (no keepalive, no in-flight cap below `ACTIONS`).
fn logged_in() -> Connection {
    let config = Config {
        credentials: Some(Credentials::plain("admin", "amp111")),
        keepalive: None,
        max_in_flight: 2 * ACTIONS,
        action_timeout: Duration::from_secs(3600),
        id_prefix: Some(PREFIX.into()),
        ..Config::default()
    };
    let now = Instant::now();
    let mut conn = Connection::new(config, now);
    let mut wire = Vec::new();
    conn.feed(b"Asterisk Call Manager/11.0.0\r\n", now);
    conn.poll_transmit(&mut wire);
    // The login is the connection's first action: number 0.
    conn.feed(
        b"Response: Success\r\nActionID: b-0\r\nMessage: Authentication accepted\r\n\r\n",
        now,
    );
    while conn.poll_output().is_some() {}
    assert_eq!(conn.state(), &State::Ready);
    conn
}

/// A deterministic shuffle (xorshift), so replies come back out of order.
fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        items.swap(i, (seed % (i as u64 + 1)) as usize);
    }
}

/// The ids the first `2 * ACTIONS` user actions of a fresh `logged_in()`
/// connection get: numbering is deterministic, so a scout connection sending the
/// same actions learns them through the public API.
fn scout_ids() -> (Connection, Vec<ActionId>) {
    let mut scout = logged_in();
    let now = Instant::now();
    let ids = (0..2 * ACTIONS)
        .map(|_| scout.send_action(Action::new("Ping"), now).expect("open"))
        .collect();
    (scout, ids)
}

/// The wire responses to `ids`, in groups of `group`, shuffled within each group,
/// one buffer per group; ActionIDs written by `conn.action_id_text`.
fn responses(conn: &Connection, ids: &[ActionId], group: usize) -> Vec<Vec<u8>> {
    let mut ids = ids.to_vec();
    ids.chunks_mut(group)
        .enumerate()
        .map(|(i, chunk)| {
            shuffle(chunk, 0x9E37_79B9_7F4A_7C15 ^ i as u64);
            let mut wire = Vec::with_capacity(chunk.len() * 96);
            for &action in chunk.iter() {
                let id = conn.action_id_text(action);
                wire.extend_from_slice(b"Response: Success\r\nActionID: ");
                wire.extend_from_slice(id.as_bytes());
                wire.extend_from_slice(b"\r\nPing: Pong\r\nTimestamp: 1760000000.123456\r\n\r\n");
            }
            wire
        })
        .collect()
}

/// The responses of a warm-up batch and of the timed batch, for one group size.
struct Fixture {
    warm: Vec<Vec<u8>>,
    timed: Vec<Vec<u8>>,
    group: usize,
}

impl Fixture {
    fn new(group: usize) -> Self {
        let (scout, ids) = scout_ids();
        Fixture {
            warm: responses(&scout, &ids[..ACTIONS], group),
            timed: responses(&scout, &ids[ACTIONS..], group),
            group,
        }
    }

    /// A logged-in connection after the warm-up batch (which grows the core's
    /// tables to size), ready for the timed batch.
    fn connection(&self) -> Connection {
        let mut conn = logged_in();
        assert_eq!(ours(&mut conn, &self.warm, self.group), ACTIONS);
        conn
    }

    /// The timed work: returns the replies received.
    fn run(&self, mut conn: Connection) -> usize {
        ours(&mut conn, &self.timed, self.group)
    }
}

/// Ours: `group` actions sent, then their responses fed; repeated until `ACTIONS`
/// are done. Returns the replies received.
fn ours(conn: &mut Connection, groups: &[Vec<u8>], group: usize) -> usize {
    let now = Instant::now();
    let mut wire = Vec::with_capacity(group * 40);
    let mut replies = 0;
    for responses in groups {
        for _ in 0..group {
            black_box(conn.send_action(Action::new("Ping"), now).expect("open"));
        }
        conn.poll_transmit(&mut wire);
        black_box(&wire);
        wire.clear();
        while let Some(output) = conn.poll_output() {
            black_box(output);
        }
        for read in responses.chunks(READ) {
            conn.feed(read, now);
            while let Some(output) = conn.poll_output() {
                if let Output::Reply { result: Ok(_), .. } = &output {
                    replies += 1;
                }
                black_box(output);
            }
        }
    }
    replies
}

/// The naive client most AMI libraries are: format the action into a `String`,
/// keep `HashMap<String, usize>` by ActionID text, split each response into a
/// `HashMap<String, String>` and look its ActionID up. Same bytes, same order.
fn naive(groups: &[Vec<u8>], first: u64, group: usize) -> usize {
    let mut pending: HashMap<String, usize> = HashMap::new();
    let mut wire = String::new();
    let mut number = first;
    let mut replies = 0;
    for responses in groups {
        for _ in 0..group {
            let id = format!("{PREFIX}{number}");
            wire.push_str(&format!("Action: Ping\r\nActionID: {id}\r\n\r\n"));
            pending.insert(id, number as usize);
            number += 1;
        }
        black_box(&wire);
        wire.clear();
        let text = String::from_utf8_lossy(responses);
        for block in text.split("\r\n\r\n").filter(|b| !b.is_empty()) {
            let fields: HashMap<String, String> = block
                .split("\r\n")
                .filter_map(|line| line.split_once(": "))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            if let Some(slot) = fields.get("ActionID").and_then(|id| pending.remove(id)) {
                black_box(slot);
                replies += 1;
            }
        }
    }
    replies
}

/// The table alone, the floor of any string-keyed correlation: insert by a
/// formatted ActionID, remove by the ActionID text of each response (already
/// extracted, in the same shuffled order). No parsing, no encoding.
fn table_only(ids: &[String], first: u64) -> usize {
    let mut pending: HashMap<String, usize> = HashMap::with_capacity(ACTIONS);
    for number in first..first + ids.len() as u64 {
        pending.insert(format!("{PREFIX}{number}"), number as usize);
    }
    ids.iter()
        .filter(|id| black_box(pending.remove(id.as_str())).is_some())
        .count()
}

/// The ActionID texts in a response buffer, in order.
fn ids_of(groups: &[Vec<u8>]) -> Vec<String> {
    groups
        .iter()
        .flat_map(|g| {
            String::from_utf8_lossy(g)
                .split("\r\n")
                .filter_map(|line| line.strip_prefix("ActionID: ").map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn correlation(c: &mut Criterion) {
    let mut group = c.benchmark_group("correlation");
    group.throughput(Throughput::Elements(ACTIONS as u64));
    let wide = Fixture::new(ACTIONS);
    let narrow = Fixture::new(10);
    for (name, fixture) in [
        ("ami-proto 10000 in flight", &wide),
        ("ami-proto 10 in flight", &narrow),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || fixture.connection(),
                |conn| assert_eq!(fixture.run(conn), ACTIONS),
                BatchSize::PerIteration,
            )
        });
    }
    let first = 1 + ACTIONS as u64;
    group.bench_function("naive HashMap client 10000 in flight", |b| {
        b.iter(|| assert_eq!(naive(black_box(&wide.timed), first, ACTIONS), ACTIONS))
    });
    let ids = ids_of(&wide.timed);
    group.bench_function("naive HashMap table only", |b| {
        b.iter(|| assert_eq!(table_only(black_box(&ids), first), ACTIONS))
    });
    group.finish();
}

/// Median over `runs` of the time of `work` on a fresh `setup` (not timed).
fn median<S>(runs: usize, mut setup: impl FnMut() -> S, mut work: impl FnMut(S)) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let state = setup();
            let start = Instant::now();
            work(state);
            start.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn ratio_table() {
    let first = 1 + ACTIONS as u64;
    let runs = 15;
    let wide = Fixture::new(ACTIONS);
    let narrow = Fixture::new(10);
    let ours_10k = median(
        runs,
        || wide.connection(),
        |conn| assert_eq!(wide.run(conn), ACTIONS),
    );
    let ours_10 = median(
        runs,
        || narrow.connection(),
        |conn| assert_eq!(narrow.run(conn), ACTIONS),
    );
    let naive_time = median(
        runs,
        || (),
        |()| assert_eq!(naive(&wide.timed, first, ACTIONS), ACTIONS),
    );
    let ids = ids_of(&wide.timed);
    let table = median(
        runs,
        || (),
        |()| assert_eq!(table_only(&ids, first), ACTIONS),
    );
    let per = |d: Duration| d.as_secs_f64() * 1e9 / ACTIONS as f64;
    println!(
        "\ncorrelation ratio table (median of {runs} runs, {ACTIONS} Pings per run: \
         send + transmit + response parsed + reply output)"
    );
    println!("| candidate | ns per action | actions/s | ami-proto 10k is x faster |");
    println!("| --- | ---: | ---: | ---: |");
    for (name, time) in [
        ("ami-proto, 10,000 in flight", ours_10k),
        ("ami-proto, 10 in flight", ours_10),
        ("naive String/HashMap client, 10,000 in flight", naive_time),
        ("naive HashMap table only (no parse, no encode)", table),
    ] {
        println!(
            "| {name} | {:.0} | {:.0} | {:.2} |",
            per(time),
            ACTIONS as f64 / time.as_secs_f64(),
            time.as_secs_f64() / ours_10k.as_secs_f64(),
        );
    }
    println!(
        "\ncost per action at 10,000 in flight / at 10 in flight = {:.2} (1.0 = flat)",
        ours_10k.as_secs_f64() / ours_10.as_secs_f64()
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = correlation
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // `cargo bench` passes `--bench`; in test mode each benchmark ran once.
    if std::env::args().any(|a| a == "--bench") {
        ratio_table();
    }
}
