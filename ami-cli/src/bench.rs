//! `ami bench`: parser throughput against its baselines, and events per second
//! through each adapter from the embedded server's flood. The measurements are
//! shared with the tour's closing table.
//!
//! The baselines are the same definitions as ami-benches' `line_floor` and
//! `naive`, copied here (a few lines) rather than depended on: that crate is
//! `publish = false` and pulls criterion, tokio-util and asterisk-rs-ami into any
//! binary that links it.

use std::collections::HashMap;
use std::hint::black_box;
use std::io::{IsTerminal, Write};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ami_proto::{Config, Credentials, Event, Parsed, Parser};
use ami_testkit::{FakeAsterisk, Rate};

use crate::adapters::{Adapter, Blocking, EventSource, Next, Smol, Tokio};
use crate::cli::BenchArgs;
use crate::connect::Target;
use crate::error::{CliError, Context, Exit, Phase};

/// A real sample kept inside this crate (so the binary carries no large data):
/// 60 KB, 165 packets (161 events, 4 Originate responses) of the stream Asterisk 22.10.1 sent while calls were
/// originated (Newchannel, VarSet, Newexten, DialBegin/End, bridges,
/// OriginateResponse, UserEvent ...), cut at packet ends from the workspace's
/// benchmark corpus (`corpus/asterisk-22.10.1-calls.ami`).
pub static SAMPLE: &[u8] = include_bytes!("sample.ami");

/// The banner the generated traffic starts with, as Asterisk 22 sends it.
const BANNER: &[u8] = b"Asterisk Call Manager/11.0.0\r\n";

/// The traffic the tour and the bench measure: the banner, then [`SAMPLE`]
/// repeated to about 8 MB (with `quick`, about 1 MB). Built once per process.
pub fn corpus(quick: bool) -> &'static [u8] {
    static FULL: OnceLock<Vec<u8>> = OnceLock::new();
    static QUICK: OnceLock<Vec<u8>> = OnceLock::new();
    let (cell, size) = match quick {
        true => (&QUICK, 1 << 20),
        false => (&FULL, 8 << 20),
    };
    cell.get_or_init(|| generate(size))
}

/// The banner and whole copies of [`SAMPLE`], at least `size` bytes.
pub fn generate(size: usize) -> Vec<u8> {
    let copies = size.div_ceil(SAMPLE.len()).max(1);
    let mut data = Vec::with_capacity(BANNER.len() + copies * SAMPLE.len());
    data.extend_from_slice(BANNER);
    for _ in 0..copies {
        data.extend_from_slice(SAMPLE);
    }
    data
}

/// Baseline: the floor of any line parser, every line end visited with memchr.
pub fn line_floor(data: &[u8]) -> u64 {
    let mut checksum = 0u64;
    for at in memchr::memchr_iter(b'\n', data) {
        checksum = checksum.rotate_left(5) ^ at as u64;
    }
    checksum
}

/// Baseline: the naive parser most AMI clients have (split at blank lines, then at
/// `": "`, one `HashMap<String, String>` per packet).
pub fn naive(data: &[u8]) -> u64 {
    let text = String::from_utf8_lossy(data);
    let body = text.split_once("\r\n").map_or(&*text, |(_, rest)| rest);
    let mut checksum = 0u64;
    for block in body.split("\r\n\r\n").filter(|b| !b.is_empty()) {
        let map: HashMap<String, String> = block
            .split("\r\n")
            .filter_map(|line| line.split_once(": "))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        checksum = checksum.rotate_left(5) ^ map.len() as u64;
        black_box(&map);
    }
    checksum
}

/// ami-proto's parser over the whole buffer; returns the packet count.
pub fn ours(data: &[u8]) -> u64 {
    let mut parser = Parser::new();
    parser.feed(data);
    let mut packets = 0;
    // Works whether `Parser::next` is inherent or `Iterator::next`.
    for item in std::iter::from_fn(|| parser.next()) {
        if let Parsed::Packet(packet) = item {
            packets += 1;
            black_box(&packet);
        }
    }
    packets
}

/// Median wall time of `runs` calls (after one warm-up).
pub fn median(runs: usize, mut f: impl FnMut() -> u64) -> Duration {
    black_box(f());
    let mut times: Vec<Duration> = (0..runs.max(1))
        .map(|_| {
            let start = Instant::now();
            black_box(f());
            start.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// Megabytes (10^6 bytes) per second.
pub fn mb_per_s(bytes: usize, time: Duration) -> f64 {
    bytes as f64 / 1e6 / time.as_secs_f64().max(1e-9)
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What one adapter received from a flood.
#[derive(Debug, Clone)]
pub struct FloodResult {
    /// The adapter.
    pub adapter: &'static str,
    /// Events received (lost ones excluded).
    pub events: u64,
    /// Events the subscriber lost by falling behind.
    pub lagged: u64,
    /// Their bytes on the wire.
    pub bytes: u64,
    /// From the flood's start to the last event.
    pub elapsed: Duration,
}

impl FloodResult {
    /// Events per second.
    pub fn per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Floods `events` from `fake` to `client` (the only logged-in session) and counts
/// what its subscriber receives.
pub fn flood<A: Adapter>(client: &A, fake: &FakeAsterisk, events: &[Vec<u8>]) -> FloodResult {
    let mut subscriber = client.events();
    let bytes: u64 = events.iter().map(|e| e.len() as u64).sum();
    let start = Instant::now();
    let flood = fake.flood(events.to_vec(), Rate::Unlimited);
    let (mut received, mut lagged, mut last) = (0u64, 0u64, start);
    while received + lagged < events.len() as u64 {
        match subscriber.next_within(Duration::from_secs(5)) {
            Next::Event(Event::Lagged(n)) => lagged += n,
            Next::Event(Event::Event(_) | Event::Unmatched(_)) => {
                received += 1;
                last = Instant::now();
            }
            Next::Event(_) => {}
            Next::Timeout | Next::Ended => break,
        }
    }
    let _ = flood.stop();
    FloodResult {
        adapter: A::NAME,
        events: received,
        lagged,
        bytes,
        elapsed: last.duration_since(start),
    }
}

/// A progress bar on stderr, drawn only when stderr is a terminal.
pub struct Progress {
    total: usize,
    done: usize,
    draw: bool,
}

impl Progress {
    /// A bar of `total` steps.
    pub fn new(total: usize) -> Self {
        Progress {
            total,
            done: 0,
            draw: std::io::stderr().is_terminal(),
        }
    }

    /// Shows that `label` is running.
    pub fn start(&self, label: &str) {
        if self.draw {
            const WIDTH: usize = 30;
            let filled = WIDTH * self.done / self.total.max(1);
            eprint!(
                "\r\x1b[2K[{}{}] {}/{} {label}",
                "#".repeat(filled),
                "-".repeat(WIDTH - filled),
                self.done,
                self.total
            );
            let _ = std::io::stderr().flush();
        }
    }

    /// Marks a step done.
    pub fn step(&mut self) {
        self.done += 1;
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if self.draw {
            eprint!("\r\x1b[2K");
            let _ = std::io::stderr().flush();
        }
    }
}

/// The parser's rates against its baselines, in MB/s.
#[derive(Debug, Clone, Copy)]
pub struct ParserRates {
    /// ami-proto, whole buffer.
    pub ours: f64,
    /// Packets per second of ami-proto.
    pub packets_per_s: f64,
    /// The memchr line floor.
    pub floor: f64,
    /// The naive parser, when measured.
    pub naive: Option<f64>,
}

/// Measures the parser (and the floor, and the naive parser when `naive`).
pub fn parser_rates(
    data: &[u8],
    runs: usize,
    naive_too: bool,
    progress: &mut Progress,
) -> ParserRates {
    progress.start("parser: memchr line floor");
    let floor = median(runs, || line_floor(data));
    progress.step();
    progress.start("parser: ami-proto");
    let packets = ours(data);
    let time = median(runs, || ours(data));
    progress.step();
    let naive = naive_too.then(|| {
        progress.start("parser: naive HashMap baseline");
        let rate = mb_per_s(data.len(), median(runs, || naive(data)));
        progress.step();
        rate
    });
    ParserRates {
        ours: mb_per_s(data.len(), time),
        packets_per_s: packets as f64 / time.as_secs_f64().max(1e-9),
        floor: mb_per_s(data.len(), floor),
        naive,
    }
}

/// Prints the parser rows of a table.
pub fn print_parser(rates: &ParserRates) {
    println!(
        "  {:<30} {:>9.0} MB/s",
        "memchr line-end floor", rates.floor
    );
    println!(
        "  {:<30} {:>9.0} MB/s  {:>5.2} M packets/s  {:>3.0}% of the floor",
        "ami-proto parser",
        rates.ours,
        rates.packets_per_s / 1e6,
        100.0 * rates.ours / rates.floor
    );
    if let Some(naive) = rates.naive {
        println!(
            "  {:<30} {:>9.0} MB/s  (ami-proto is {:.1}x faster)",
            "naive split + HashMap parser",
            naive,
            rates.ours / naive
        );
    }
}

/// Prints the adapter rows of a table.
pub fn print_floods(results: &[FloodResult], parser_packets_per_s: f64) {
    for r in results {
        let lost = match r.lagged {
            0 => String::new(),
            n => format!("  ({n} lost: subscriber lagged)"),
        };
        println!(
            "  {:<30} {:>9} events/s {:>5.0} MB/s  {:>3.0}% of the parser alone{lost}",
            format!("{} adapter", r.adapter),
            thousands(r.per_second() as u64),
            mb_per_s(r.bytes as usize, r.elapsed),
            100.0 * r.per_second() / parser_packets_per_s
        );
    }
}

/// The embedded server and a config for flooding it.
pub fn embedded() -> (FakeAsterisk, Target, Config) {
    let fake = FakeAsterisk::builder().start();
    let addr = fake.addr().to_string();
    let target = Target {
        addr: addr.clone(),
        tls: None,
        url: None,
        context: Context {
            addr,
            user: "admin".into(),
            timeout: Duration::from_secs(10),
        },
    };
    let mut config = Config::new(Credentials::md5("admin", "amp111"));
    config.event_capacity = 1 << 16; // the whole traffic: a flood never laps the subscriber
    (fake, target, config)
}

fn flood_one<A: Adapter>(
    fake: &FakeAsterisk,
    target: &Target,
    config: &Config,
    events: &[Vec<u8>],
    runs: usize,
) -> Result<FloodResult, CliError> {
    let client = A::connect(target, config.clone())
        .map_err(|e| target.context.describe(e, Phase::Connect))?;
    let mut results: Vec<FloodResult> = (0..runs).map(|_| flood(&client, fake, events)).collect();
    let _ = client.logoff();
    results.sort_by(|a, b| a.per_second().total_cmp(&b.per_second()));
    Ok(results.swap_remove(results.len() / 2))
}

/// Runs `ami bench`.
pub fn run(args: &BenchArgs) -> Result<(), CliError> {
    let data = corpus(args.quick);
    let (runs, flood_runs) = if args.quick { (3, 1) } else { (7, 3) };
    let mut progress = Progress::new(6);
    progress.start("generating the traffic");
    let events = ami_testkit::event_packets(data);
    let rates = parser_rates(data, runs, true, &mut progress);
    let (fake, target, config) = embedded();
    let mut floods = Vec::new();
    progress.start("tokio adapter: flood");
    floods.push(flood_one::<Tokio>(
        &fake, &target, &config, &events, flood_runs,
    )?);
    progress.step();
    progress.start("blocking adapter: flood");
    floods.push(flood_one::<Blocking>(
        &fake, &target, &config, &events, flood_runs,
    )?);
    progress.step();
    progress.start("smol adapter: flood");
    floods.push(flood_one::<Smol>(
        &fake, &target, &config, &events, flood_runs,
    )?);
    progress.step();
    progress.finish();

    println!(
        "ami bench: {:.1} MB of Asterisk 22.10.1 traffic (a real 60 KB sample, repeated), {} packets ({} events); median of {runs} parser runs, {flood_runs} floods per adapter{}",
        data.len() as f64 / 1e6,
        thousands(ours(data)),
        thousands(events.len() as u64),
        if cfg!(debug_assertions) {
            " (debug build: use --release for real numbers)"
        } else {
            ""
        }
    );
    println!();
    println!("parser, whole buffer in memory:");
    print_parser(&rates);
    println!();
    println!("adapters, events flooded by the embedded server over loopback TCP:");
    print_floods(&floods, rates.packets_per_s);
    if let Some(short) = floods
        .iter()
        .find(|r| r.events + r.lagged < events.len() as u64)
    {
        return Err(CliError::new(
            Exit::Other,
            format!(
                "{} adapter received {} of {} events",
                short.adapter,
                short.events,
                events.len()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(25_688), "25,688");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn generated_traffic_is_whole_packets_and_parses_like_the_baselines() {
        let data = corpus(true);
        assert!(data.len() >= 1 << 20 && data.len() < corpus(false).len());
        assert!(data.starts_with(BANNER) && data.ends_with(b"\r\n\r\n"));
        let copies = (data.len() - BANNER.len()) / SAMPLE.len();
        assert_eq!(ours(data), 165 * copies as u64);
        assert_eq!(
            ami_testkit::event_packets(data).len(),
            ours(data) as usize - 4 * copies
        );
        assert!(ours(data) > 1000);
        assert_ne!(line_floor(data), 0);
        assert_ne!(naive(data), 0);
    }
}
