//! The end-to-end rows: events/s through each adapter and pipelined round
//! trips, each against a raw socket measured in the same run.
//!
//! Measured as `benches/benches/adapters.rs` measures them, so that the ratios
//! mean the same thing: the same fresh fake per run, the same pre-encoded flood
//! (blobs of about 8 KiB of whole events, [`FakeAsterisk::flood`] writing 200
//! per `write`), the same consumers (a tokio current_thread and a 2-worker
//! runtime, smol, blocking), the same raw baselines (a `TcpStream` read in 64
//! KiB with a `memchr` scan for packet ends; 1,000 Pings pipelined from one
//! thread), the same clock (first event to last) and the same median. The
//! baselines and consumers are copied here rather than shared: ami-cli cannot
//! depend on ami-benches (`publish = false`, it pulls criterion and
//! asterisk-rs-ami), and ami-testkit does not depend on the adapters. A change
//! to one copy belongs in the other.

use std::collections::VecDeque;
use std::fmt::Display;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use ami_proto::{Action, Config, Credentials, Event};
use ami_testkit::{FakeAsterisk, Flood, Rate};

use super::{Mode, Progress, Row, Table};
use crate::error::{CliError, Exit};

/// How long a subscriber waits for the next event before giving up on the rest.
const STALL: Duration = Duration::from_secs(5);
/// Round trips in flight, as in the bench (issue 14: "1,000 in flight").
pub const IN_FLIGHT: usize = 1_000;
/// The flood's events are packed into blobs of about this many bytes.
const BLOB_BYTES: usize = 8 * 1024;
/// The default `event_capacity`, for the round trips (no events flow).
const DEFAULT_CAPACITY: usize = 1024;
/// Issue 14's target for each adapter's events/s against the raw socket.
const EVENTS_TARGET: f64 = 0.5;
/// Issue 14's target for ami-blocking's pipelined round trips.
const PIPELINED_TARGET: f64 = 0.9;

fn failed(what: &str, error: impl Display) -> CliError {
    CliError::new(Exit::Other, format!("bench: {what}: {error}"))
}

/// The bench's `Config`: every default but `event_capacity`, and room for
/// the round trips' 1,000 in flight (the core's default cap is 512).
fn config(event_capacity: usize) -> Config {
    let mut config = Config::new(Credentials::plain("admin", "amp111"));
    config.max_in_flight = 2 * IN_FLIGHT;
    config.event_capacity = event_capacity;
    config
}

/// A fresh fake per run: one session, so the flood goes to it alone.
fn fake() -> FakeAsterisk {
    FakeAsterisk::builder().start()
}

fn tokio_runtime(workers: usize) -> Result<tokio::runtime::Runtime, CliError> {
    if workers == 0 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(workers);
        builder
    }
    .enable_all()
    .build()
    .map_err(|e| failed("a tokio runtime", e))
}

// ----- events/s -----

/// The flood, pre-encoded: the events in order, packed into blobs of whole
/// events that the fake writes verbatim.
pub struct Blobs {
    blobs: Vec<Vec<u8>>,
    /// Events in each blob.
    counts: Vec<u64>,
    events: u64,
    bytes: usize,
}

impl Blobs {
    /// Packs `events` into blobs of about 8 KiB.
    pub fn new(events: &[Vec<u8>]) -> Self {
        let (mut blobs, mut counts) = (Vec::new(), Vec::new());
        let mut blob: Vec<u8> = Vec::new();
        let mut count = 0u64;
        for event in events {
            blob.extend_from_slice(event);
            count += 1;
            if blob.len() >= BLOB_BYTES {
                blobs.push(std::mem::take(&mut blob));
                counts.push(std::mem::take(&mut count));
            }
        }
        if count > 0 {
            blobs.push(blob);
            counts.push(count);
        }
        Blobs {
            blobs,
            counts,
            events: events.len() as u64,
            bytes: events.iter().map(Vec::len).sum(),
        }
    }

    /// Events in the flood.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Their bytes on the wire.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Starts the flood to every logged-in session of `fake`, and a counter
    /// whose clock starts with it.
    fn start(&self, fake: &FakeAsterisk) -> (Counter, Flood) {
        let counter = Counter::new(self.events);
        (counter, fake.flood(self.blobs.clone(), Rate::Unlimited))
    }

    /// Events written, from the fake's count of blob writes (to one session).
    fn written(&self, blob_writes: u64) -> u64 {
        self.counts.iter().take(blob_writes as usize).sum()
    }
}

/// What one subscriber saw of a flood.
#[derive(Debug, Clone, Copy)]
struct Flow {
    seen: u64,
    lagged: u64,
    /// Events the flood wrote.
    written: u64,
    /// From the first event counted to the last.
    elapsed: Duration,
}

impl Flow {
    fn per_second(&self) -> f64 {
        self.seen.saturating_sub(1) as f64 / self.elapsed.as_secs_f64()
    }
}

/// Counts events, timing the first to the last.
struct Counter {
    expected: u64,
    seen: u64,
    lagged: u64,
    first: Option<Instant>,
    last: Instant,
}

impl Counter {
    fn new(expected: u64) -> Self {
        Counter {
            expected,
            seen: 0,
            lagged: 0,
            first: None,
            last: Instant::now(),
        }
    }

    fn event(&mut self) {
        self.last = Instant::now();
        self.first.get_or_insert(self.last);
        self.seen += 1;
    }

    fn done(&self) -> bool {
        self.seen + self.lagged >= self.expected
    }

    /// Counts one adapter item; false when the stream ended (or stalled).
    fn item(&mut self, item: Option<Event>) -> bool {
        match item {
            Some(Event::Event(_)) => self.event(),
            Some(Event::Lagged(missed)) => self.lagged += missed,
            Some(_) => {}
            None => return false,
        }
        true
    }

    fn finish(self, written: u64) -> Flow {
        Flow {
            seen: self.seen,
            lagged: self.lagged,
            written,
            elapsed: self.first.map_or(Duration::ZERO, |f| self.last - f),
        }
    }
}

/// The login's own events (`FullyBooted`, then `SuccessfulAuth`) reach the
/// first subscriber; they are not the flood's. True for the last of them.
fn ends_login(item: Option<Event>) -> Result<bool, CliError> {
    match item {
        Some(Event::Event(packet)) => Ok(packet.is("Event", "SuccessfulAuth")),
        None => Err(failed("waiting for the login's events", "none came")),
        _ => Ok(false),
    }
}

/// A flood through ami-tokio on a runtime of `workers` (0: current_thread),
/// the subscriber awaiting events on that runtime.
fn flood_tokio(flood: &Blobs, workers: usize) -> Result<Flow, CliError> {
    let fake = fake();
    tokio_runtime(workers)?.block_on(async {
        let client = ami_tokio::connect(fake.addr(), config(flood.events as usize))
            .await
            .map_err(|e| failed("ami-tokio login", e))?;
        client
            .send(Action::new("Ping"))
            .await
            .map_err(|e| failed("Ping", e))?;
        let mut events = client.events();
        while !ends_login(
            tokio::time::timeout(STALL, events.next())
                .await
                .ok()
                .flatten(),
        )? {}
        let (mut counter, running) = flood.start(&fake);
        while !counter.done() {
            let next = tokio::time::timeout(STALL, events.next()).await;
            if !counter.item(next.ok().flatten()) {
                break;
            }
        }
        let written = flood.written(running.wait());
        client.close();
        Ok(counter.finish(written))
    })
}

/// The next event within [`STALL`] (`None`: none came, or the stream ended).
async fn smol_next(events: &mut ami_client::Events) -> Option<Event> {
    smol::future::or(events.next(), async {
        smol::Timer::after(STALL).await;
        None
    })
    .await
}

fn flood_smol(flood: &Blobs) -> Result<Flow, CliError> {
    let fake = fake();
    smol::block_on(async {
        let client = ami_smol::connect(fake.addr(), config(flood.events as usize))
            .await
            .map_err(|e| failed("ami-smol login", e))?;
        client
            .send(Action::new("Ping"))
            .await
            .map_err(|e| failed("Ping", e))?;
        let mut events = client.events();
        while !ends_login(smol_next(&mut events).await)? {}
        let (mut counter, running) = flood.start(&fake);
        while !counter.done() {
            if !counter.item(smol_next(&mut events).await) {
                break;
            }
        }
        let written = flood.written(running.wait());
        client.close();
        Ok(counter.finish(written))
    })
}

fn flood_blocking(flood: &Blobs) -> Result<Flow, CliError> {
    let fake = fake();
    let client = ami_blocking::connect(fake.addr(), config(flood.events as usize))
        .map_err(|e| failed("ami-blocking login", e))?;
    client
        .send(Action::new("Ping"))
        .wait()
        .map_err(|e| failed("Ping", e))?;
    let mut events = client.events();
    while !ends_login(events.recv_timeout(STALL).ok().flatten())? {}
    let (mut counter, running) = flood.start(&fake);
    while !counter.done() {
        if !counter.item(events.recv_timeout(STALL).ok().flatten()) {
            break;
        }
    }
    let written = flood.written(running.wait());
    client.close();
    Ok(counter.finish(written))
}

/// Counts packet ends (empty lines) across reads with one `memchr` pass.
#[derive(Default)]
struct LineScan {
    /// Bytes scanned so far.
    offset: u64,
    /// Absolute position + 1 of the last `\n` (0: none yet).
    last_end: u64,
    packets: u64,
}

impl LineScan {
    fn scan(&mut self, data: &[u8]) {
        for at in memchr::memchr_iter(b'\n', data) {
            let end = self.offset + at as u64 + 1;
            // "\r\n" right after the previous line end: the empty line.
            if end == self.last_end + 2 {
                self.packets += 1;
            }
            self.last_end = end;
        }
        self.offset += data.len() as u64;
    }
}

/// Logs in on a raw socket and syncs with a Ping: afterwards nothing is unread.
fn raw_login(addr: SocketAddr) -> Result<TcpStream, CliError> {
    let io = |e| failed("raw socket login", e);
    let mut tcp = TcpStream::connect(addr).map_err(io)?;
    tcp.set_nodelay(true).map_err(io)?;
    tcp.set_read_timeout(Some(STALL)).map_err(io)?;
    tcp.write_all(
        b"Action: Login\r\nActionID: l\r\nUsername: admin\r\nSecret: amp111\r\n\r\n\
          Action: Ping\r\nActionID: sync\r\n\r\n",
    )
    .map_err(io)?;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let pong = b"ActionID: sync\r\n";
    loop {
        let n = tcp.read(&mut buf).map_err(io)?;
        if n == 0 {
            return Err(failed("raw socket login", "the fake closed the connection"));
        }
        seen.extend_from_slice(&buf[..n]);
        if let Some(at) = memchr::memmem::find(&seen, pong) {
            if memchr::memmem::find(&seen[at..], b"\r\n\r\n").is_some() {
                return Ok(tcp);
            }
        }
    }
}

/// The floor: a raw socket read in 64 KiB, packet ends counted, nothing parsed.
fn flood_raw(flood: &Blobs) -> Result<Flow, CliError> {
    let fake = fake();
    let mut tcp = raw_login(fake.addr())?;
    let mut scan = LineScan::default();
    let mut buf = vec![0u8; 64 * 1024];
    let (mut counter, running) = flood.start(&fake);
    while scan.packets < flood.events {
        let Ok(n) = tcp.read(&mut buf) else { break };
        if n == 0 {
            break;
        }
        counter.event();
        scan.scan(&buf[..n]);
    }
    let written = flood.written(running.wait());
    Ok(Flow {
        seen: scan.packets,
        ..counter.finish(written)
    })
}

type Flooder = fn(&Blobs) -> Result<Flow, CliError>;

/// Events/s of each adapter against the raw socket: every candidate `runs`
/// times, interleaved, the median kept. Each subscriber has room for the whole
/// flood, so nothing can be dropped and the rate is what reaches it.
pub fn events(flood: &Blobs, mode: &Mode, progress: &mut Progress) -> Result<Table, CliError> {
    let candidates: [(&'static str, Option<f64>, Flooder); 5] = [
        ("raw TcpStream read + memchr line scan", None, flood_raw),
        (
            "ami-tokio (current_thread runtime)",
            Some(EVENTS_TARGET),
            |f| flood_tokio(f, 0),
        ),
        (
            "ami-tokio (multi_thread, 2 workers)",
            Some(EVENTS_TARGET),
            |f| flood_tokio(f, 2),
        ),
        ("ami-smol", Some(EVENTS_TARGET), flood_smol),
        ("ami-blocking", Some(EVENTS_TARGET), flood_blocking),
    ];
    let mut samples: Vec<Vec<Flow>> = vec![Vec::new(); candidates.len()];
    for _ in 0..mode.loopback_runs {
        for ((name, _, run), samples) in candidates.iter().zip(&mut samples) {
            progress.start(&format!("events/s: {name}"));
            let flow = run(flood)?;
            if flow.seen + flow.lagged != flow.written || flow.written != flood.events {
                return Err(failed(
                    name,
                    format!(
                        "{} of {} events seen ({} written, {} lost)",
                        flow.seen, flood.events, flow.written, flow.lagged
                    ),
                ));
            }
            samples.push(flow);
            progress.step();
        }
    }
    let rows = candidates
        .iter()
        .zip(samples)
        .map(|((name, target, _), mut samples)| {
            samples.sort_by_key(|f| f.elapsed);
            Row {
                name,
                rate: samples[samples.len() / 2].per_second(),
                target: *target,
            }
        })
        .collect();
    Ok(Table { rows })
}

// ----- round trips -----

/// `total` Ping round trips with `in_flight` outstanding: the elapsed time.
type RoundTrips = fn(in_flight: usize, total: usize) -> Result<Duration, CliError>;

/// The floor: one socket keeping `in_flight` Pings pipelined, a new one written
/// for each response counted.
fn round_trips_raw(in_flight: usize, total: usize) -> Result<Duration, CliError> {
    const PING: &[u8] = b"Action: Ping\r\nActionID: r\r\n\r\n";
    let io = |e| failed("raw socket round trips", e);
    let fake = fake();
    let mut tcp = raw_login(fake.addr())?;
    let total = total as u64;
    let start = Instant::now();
    let mut out = PING.repeat(in_flight);
    let mut sent = in_flight as u64;
    let mut scan = LineScan::default();
    let mut buf = vec![0u8; 64 * 1024];
    tcp.write_all(&out).map_err(io)?;
    while scan.packets < total {
        let n = tcp.read(&mut buf).map_err(io)?;
        if n == 0 {
            return Err(failed("raw socket round trips", "the fake closed"));
        }
        let before = scan.packets;
        scan.scan(&buf[..n]);
        let more = (scan.packets - before).min(total - sent);
        if more > 0 {
            out.clear();
            for _ in 0..more {
                out.extend_from_slice(PING);
            }
            sent += more;
            tcp.write_all(&out).map_err(io)?;
        }
    }
    Ok(start.elapsed())
}

/// One task on a current_thread runtime keeping `in_flight` Pings submitted,
/// awaiting them in order.
fn round_trips_tokio_pipelined(in_flight: usize, total: usize) -> Result<Duration, CliError> {
    let fake = fake();
    tokio_runtime(0)?.block_on(async {
        let client = ami_tokio::connect(fake.addr(), config(DEFAULT_CAPACITY))
            .await
            .map_err(|e| failed("ami-tokio login", e))?;
        let start = Instant::now();
        let mut window: VecDeque<_> = (0..in_flight.min(total))
            .map(|_| client.send(Action::new("Ping")))
            .collect();
        let mut sent = window.len();
        while let Some(next) = window.pop_front() {
            next.await.map_err(|e| failed("Ping", e))?;
            if sent < total {
                window.push_back(client.send(Action::new("Ping")));
                sent += 1;
            }
        }
        let elapsed = start.elapsed();
        client.close();
        Ok(elapsed)
    })
}

/// One thread keeping `in_flight` Pings submitted (`send` returns at once),
/// waiting for them in order.
fn round_trips_blocking_pipelined(in_flight: usize, total: usize) -> Result<Duration, CliError> {
    let fake = fake();
    let client = ami_blocking::connect(fake.addr(), config(DEFAULT_CAPACITY))
        .map_err(|e| failed("ami-blocking login", e))?;
    let start = Instant::now();
    let mut window: VecDeque<_> = (0..in_flight.min(total))
        .map(|_| client.send(Action::new("Ping")))
        .collect();
    let mut sent = window.len();
    while let Some(next) = window.pop_front() {
        next.wait().map_err(|e| failed("Ping", e))?;
        if sent < total {
            window.push_back(client.send(Action::new("Ping")));
            sent += 1;
        }
    }
    let elapsed = start.elapsed();
    client.close();
    Ok(elapsed)
}

/// Pipelined round trips/s against the raw pipelined socket: every candidate
/// `runs` times, interleaved, the median kept.
pub fn round_trips(mode: &Mode, progress: &mut Progress) -> Result<Table, CliError> {
    let candidates: [(&'static str, Option<f64>, RoundTrips); 3] = [
        (
            "raw TcpStream, pipelined (one thread)",
            None,
            round_trips_raw,
        ),
        (
            "ami-tokio (current_thread), one task pipelined",
            None,
            round_trips_tokio_pipelined,
        ),
        (
            "ami-blocking, one thread pipelined",
            Some(PIPELINED_TARGET),
            round_trips_blocking_pipelined,
        ),
    ];
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); candidates.len()];
    for _ in 0..mode.loopback_runs {
        for ((name, _, run), samples) in candidates.iter().zip(&mut samples) {
            progress.start(&format!("round trips: {name}"));
            samples.push(run(IN_FLIGHT, mode.round_trips)?);
            progress.step();
        }
    }
    let rows = candidates
        .iter()
        .zip(samples)
        .map(|((name, target, _), mut samples)| {
            samples.sort();
            Row {
                name,
                rate: mode.round_trips as f64 / samples[samples.len() / 2].as_secs_f64(),
                target: *target,
            }
        })
        .collect();
    Ok(Table { rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_hold_whole_events_in_order() {
        let events: Vec<Vec<u8>> = (0..1000)
            .map(|i| format!("Event: E{i}\r\nPad: {}\r\n\r\n", "x".repeat(i % 50)).into_bytes())
            .collect();
        let blobs = Blobs::new(&events);
        assert_eq!(blobs.events(), 1000);
        assert_eq!(blobs.blobs.concat(), events.concat());
        assert_eq!(blobs.counts.iter().sum::<u64>(), 1000);
        assert!(blobs.blobs.len() > 1);
        assert_eq!(blobs.written(1), blobs.counts[0]);
        assert_eq!(blobs.written(u64::MAX), 1000);
    }

    #[test]
    fn the_line_scan_counts_packet_ends_across_reads() {
        let data = b"Response: Success\r\nActionID: r\r\n\r\nEvent: A\r\n\r\n".repeat(3);
        for split in 0..data.len() {
            let mut scan = LineScan::default();
            scan.scan(&data[..split]);
            scan.scan(&data[split..]);
            assert_eq!(scan.packets, 6, "split at {split}");
        }
    }
}
