//! `ami bench`: the ratios the workspace's benches print (BENCHMARKS.md),
//! measured in this process: the parser against the memchr line-end floor
//! (whole buffer and 4 KiB reads), each adapter's events/s against a raw socket
//! reading the same pre-encoded flood, and pipelined round trips against a raw
//! pipelined socket, each next to issue 14's target. The tour prints the same
//! ratios in a shorter table.
//!
//! The parser's baselines are the same definitions as ami-benches' (`line_floor`,
//! `naive`, `ours_owned_whole`, `ours_owned_chunked` in `benches/src/lib.rs`), copied here
//! (a few lines each) rather than depended on: that crate is `publish = false`
//! and pulls criterion, tokio-util and asterisk-rs-ami into any binary that
//! links it. A change to one copy belongs in the other. The loopback ones are
//! not copied: both use [`ami_testkit::loopback`] (see [`loopback`]).

mod loopback;

use std::collections::HashMap;
use std::hint::black_box;
use std::io::{IsTerminal, Write};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ami_proto::{Config, Credentials, Parsed, Parser};
use ami_testkit::FakeAsterisk;
use bytes::Bytes;

use crate::cli::BenchArgs;
use crate::connect::Target;
use crate::error::{CliError, Context};

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

/// Chunk size of the "4 KiB reads" rows: a typical socket read (ami-benches'
/// `CHUNK`).
pub const CHUNK: usize = 4096;

/// Issue 14's target for the parser against the line-end floor.
const PARSER_TARGET: f64 = 1.0;

/// Baseline: the floor of any line parser, every line end visited with memchr
/// and its position folded into a checksum (no counting shortcut applies).
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

/// ami-proto's parser over the whole buffer at once, parsed where it lies
/// (`Parser::feed_bytes`, as ami-benches' `ours_owned_whole`); returns the
/// packet count.
pub fn ours_whole(data: &'static [u8]) -> u64 {
    let mut parser = Parser::new();
    parser.feed_bytes(Bytes::from_static(data));
    drain(&mut parser)
}

/// ami-proto's parser given `chunk`-byte reads as owned slices, drained after
/// each, as an adapter does (ami-benches' `ours_owned_chunked`); returns the
/// packet count.
pub fn ours_chunked(data: &'static [u8], chunk: usize) -> u64 {
    let mut parser = Parser::new();
    data.chunks(chunk)
        .map(|piece| {
            parser.feed_bytes(Bytes::from_static(piece));
            drain(&mut parser)
        })
        .sum()
}

/// Takes every packet the parser has; returns how many.
fn drain(parser: &mut Parser) -> u64 {
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

/// A progress bar on stderr, drawn only when stderr is a terminal; cleared
/// when dropped, so that an error message starts on a clean line.
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
            let filled = WIDTH * self.done.min(self.total) / self.total.max(1);
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
}

impl Drop for Progress {
    fn drop(&mut self) {
        if self.draw {
            eprint!("\r\x1b[2K");
            let _ = std::io::stderr().flush();
        }
    }
}

/// How much a measurement does. The definitions never change with the mode,
/// only the amounts: a quick run's ratios mean the same, with more noise.
#[derive(Debug, Clone, Copy)]
pub struct Mode {
    /// The parser's traffic: about 1 MB instead of about 8 MB (see [`corpus`]).
    pub small_corpus: bool,
    /// Timed parser runs per candidate (median kept).
    pub parser_runs: usize,
    /// Whether to time the naive parser too (a row without a target).
    pub naive: bool,
    /// Events per flood (the traffic's events, repeated).
    pub flood_events: usize,
    /// Runs per loopback candidate, interleaved (median kept).
    pub loopback_runs: usize,
    /// Round trips per run, with 1,000 in flight.
    pub round_trips: usize,
}

impl Mode {
    /// `ami bench`: a few seconds in a release build. Floods as long as the
    /// adapters bench's (200,000 events): a flood of 100,000 lasts about
    /// 25 ms, and one scheduling delay moved a run's ratio by tenths.
    pub const FULL: Mode = Mode {
        small_corpus: false,
        parser_runs: 7,
        naive: true,
        flood_events: 200_000,
        loopback_runs: 5,
        round_trips: 40_000,
    };

    /// `ami bench --quick`, and the tour's table with `--quick`.
    pub const QUICK: Mode = Mode {
        small_corpus: true,
        parser_runs: 3,
        naive: true,
        flood_events: 10_000,
        loopback_runs: 3,
        round_trips: 5_000,
    };

    /// The tour's closing table: `ami bench`'s floods and runs (shorter
    /// floods weigh the client's ramp-up, its read buffer growing from 4 KiB,
    /// and any scheduling delay more: 50,000-event floods, three runs, put
    /// adapters 0.05-0.1 below `ami bench` and under 0.5 in single runs),
    /// without the naive parser row and with fewer parser runs.
    pub const TOUR: Mode = Mode {
        small_corpus: false,
        parser_runs: 5,
        naive: false,
        flood_events: 200_000,
        loopback_runs: 5,
        round_trips: 20_000,
    };
}

/// One candidate's median rate.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    /// The candidate, named as in the benches.
    pub name: &'static str,
    /// MB/s, events/s or round trips/s.
    pub rate: f64,
    /// Issue 14's target for its ratio to the baseline, if it has one.
    pub target: Option<f64>,
}

/// Candidates measured in one run; the first row is the baseline.
#[derive(Debug, Clone)]
pub struct Table {
    /// Baseline first.
    pub rows: Vec<Row>,
}

impl Table {
    /// Each row's rate over the baseline's.
    pub fn ratio(&self, row: &Row) -> f64 {
        row.rate / self.rows[0].rate
    }
}

/// Times the parser against the line-end floor (and the naive parser, when the
/// mode wants it): each candidate's median of `parser_runs`, as ami-benches'
/// parser ratio table does.
pub fn parser(data: &'static [u8], mode: &Mode, progress: &mut Progress) -> Table {
    type Parse = fn(&'static [u8]) -> u64;
    let mut candidates: Vec<(&'static str, Option<f64>, Parse)> = vec![
        ("floor: memchr line ends", None, line_floor),
        ("ami-proto whole", Some(PARSER_TARGET), ours_whole),
        ("ami-proto 4KiB reads", Some(PARSER_TARGET), |d| {
            ours_chunked(d, CHUNK)
        }),
    ];
    if mode.naive {
        candidates.push(("naive String/HashMap", None, naive));
    }
    let rows = candidates
        .into_iter()
        .map(|(name, target, parse)| {
            progress.start(&format!("parser: {name}"));
            let time = median(mode.parser_runs, || parse(black_box(data)));
            progress.step();
            Row {
                name,
                rate: mb_per_s(data.len(), time),
                target,
            }
        })
        .collect();
    Table { rows }
}

/// Progress steps of [`parser`].
pub fn parser_steps(mode: &Mode) -> usize {
    3 + usize::from(mode.naive)
}

/// Everything `ami bench` measures, from one process run.
#[derive(Debug, Clone)]
pub struct Report {
    /// The amounts measured.
    pub mode: Mode,
    /// The parser's traffic, in bytes.
    pub corpus_bytes: usize,
    /// Its packets.
    pub packets: u64,
    /// Events per flood.
    pub flood_events: u64,
    /// Their bytes on the wire.
    pub flood_bytes: usize,
    /// Parser MB/s, the floor first.
    pub parser: Table,
    /// Events/s, the raw socket first.
    pub events: Table,
    /// Round trips/s, the raw pipelined socket first.
    pub round_trips: Table,
}

/// Measures the parser, the floods and the round trips, in that order.
pub fn measure(mode: &Mode) -> Result<Report, CliError> {
    let data = corpus(mode.small_corpus);
    let mut progress = Progress::new(parser_steps(mode) + 8 * mode.loopback_runs);
    let parser = parser(data, mode, &mut progress);
    progress.start("packing the flood");
    let one_pass = ami_testkit::event_packets(data);
    let events: Vec<Vec<u8>> = one_pass
        .iter()
        .cycle()
        .take(mode.flood_events)
        .cloned()
        .collect();
    let flood = loopback::Blobs::new(&events, ami_testkit::loopback::BLOB_BYTES);
    let events = loopback::events(&flood, mode, &mut progress)?;
    let round_trips = loopback::round_trips(mode, &mut progress)?;
    Ok(Report {
        mode: *mode,
        corpus_bytes: data.len(),
        packets: ours_whole(data),
        flood_events: flood.events(),
        flood_bytes: flood.bytes(),
        parser,
        events,
        round_trips,
    })
}

/// Width of the candidate names' column.
const NAME: usize = 48;

/// One row: the rate (with `detail`), the ratio, the target. The ratio is one
/// token ending in `x`, the first such after the name: the tests read it.
fn print_row(table: &Table, index: usize, detail: bool) {
    let row = &table.rows[index];
    let mut line = match detail {
        true => format!(
            "  {:NAME$} {:>13} {:>11.2}x  ",
            row.name,
            thousands(row.rate as u64),
            table.ratio(row)
        ),
        false => format!("    {:NAME$} {:>5.2}x  ", row.name, table.ratio(row)),
    };
    match row.target {
        Some(target) if table.ratio(row) >= target => {
            line += &format!(">= {target:.1}x met");
        }
        Some(target) => line += &format!(">= {target:.1}x missed"),
        None if index == 0 => line += "(the baseline)",
        None => {}
    }
    println!("{}", line.trim_end());
}

/// A table with every row's rate, the baseline included (`ami bench`).
fn print_detailed(heading: &str, unit: &str, versus: &str, table: &Table) {
    println!("{heading}");
    println!("  {:NAME$} {unit:>13} {versus:>12}  target", "");
    for index in 0..table.rows.len() {
        print_row(table, index, true);
    }
}

/// The ratios alone, without the baselines' own rows (the tour).
fn print_ratios(heading: &str, table: &Table) {
    println!("  {heading}");
    for index in 1..table.rows.len() {
        print_row(table, index, false);
    }
}

/// A note for numbers from a debug build.
fn build_note() -> &'static str {
    if cfg!(debug_assertions) {
        " (debug build: use --release for real numbers)"
    } else {
        ""
    }
}

/// Prints the report in full: every rate, every ratio, every target.
pub fn print_report(report: &Report) {
    let mode = &report.mode;
    println!(
        "ami bench: the ratios `cargo bench -p ami-benches` prints (parser, adapters), measured in this\n\
         process with the same baselines; targets from issue 14, as in BENCHMARKS.md{}.",
        build_note()
    );
    println!();
    print_detailed(
        &format!(
            "parser on {:.1} MB in memory (Asterisk 22.10.1 traffic: a real 60 KB sample, repeated;\n\
             {} packets), median of {} runs:",
            report.corpus_bytes as f64 / 1e6,
            thousands(report.packets),
            mode.parser_runs
        ),
        "MB/s",
        "/ floor",
        &report.parser,
    );
    println!();
    print_detailed(
        &format!(
            "events/s, {} events ({:.1} MB) pre-encoded and flooded over loopback TCP by a fake\n\
             Asterisk, one subscriber counting from the first event to the last, median of {} runs:",
            thousands(report.flood_events),
            report.flood_bytes as f64 / 1e6,
            mode.loopback_runs
        ),
        "events/s",
        "/ raw socket",
        &report.events,
    );
    println!();
    print_detailed(
        &format!(
            "round trips/s, {} Pings with {} in flight, median of {} runs:",
            thousands(mode.round_trips as u64),
            thousands(loopback::IN_FLIGHT as u64),
            mode.loopback_runs
        ),
        "round trips/s",
        "/ raw socket",
        &report.round_trips,
    );
}

/// Prints the ratios alone: the tour's closing table.
pub fn print_report_short(report: &Report) {
    println!(
        "Ratios to the baselines of `ami bench`, measured now (medians of {} parser runs, {} loopback runs){}:",
        report.mode.parser_runs,
        report.mode.loopback_runs,
        build_note()
    );
    print_ratios("parser MB/s / memchr line-end floor", &report.parser);
    print_ratios(
        "events/s / raw socket reading the same pre-encoded flood",
        &report.events,
    );
    print_ratios(
        "round trips/s (1,000 in flight) / raw pipelined socket",
        &report.round_trips,
    );
}

/// Prints the parser's ratios alone (the tour against a real server: no flood).
pub fn print_parser_short(table: &Table, runs: usize) {
    println!(
        "Ratios to the baseline of `ami bench`, measured now (median of {runs} runs each){}:",
        build_note()
    );
    print_ratios("parser MB/s / memchr line-end floor", table);
}

/// The embedded server and a config for the tour's steps against it.
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

/// Runs `ami bench`.
pub fn run(args: &BenchArgs) -> Result<(), CliError> {
    let mode = if args.quick { Mode::QUICK } else { Mode::FULL };
    let report = measure(&mode)?;
    print_report(&report);
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
        assert_eq!(ours_whole(data), 165 * copies as u64);
        assert_eq!(ours_chunked(data, CHUNK), ours_whole(data));
        assert_eq!(
            ami_testkit::event_packets(data).len(),
            ours_whole(data) as usize - 4 * copies
        );
        assert!(ours_whole(data) > 1000);
        assert_ne!(line_floor(data), 0);
        assert_ne!(naive(data), 0);
    }
}
