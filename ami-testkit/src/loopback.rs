//! The adapter-agnostic half of the end-to-end loopback benchmark: the
//! pre-encoded flood, the counter that times a subscriber, and the raw-socket
//! baselines every adapter is compared with.
//!
//! The workspace's `adapters` bench and `ami bench` (ami-cli) both measure
//! events/s through each adapter and pipelined round trips against these
//! baselines, in the same run. They share this module so that their ratios
//! mean the same thing: the same flood ([`Blobs`], about [`BLOB_BYTES`] of
//! whole events per blob, [`FakeAsterisk::flood`] writing 200 blobs per
//! `write`), the same clock (first event counted to the last, [`Counter`]),
//! the same floors ([`flood_raw`]: a `TcpStream` read in 256 KiB with a
//! `memchr` scan for packet ends; [`round_trips_raw`]: Pings pipelined from one
//! thread, and [`round_trips_raw_threaded`]: the same with the reading and
//! the writing on two threads) and the same [`median`]. The consumers that drive an adapter stay
//! with the callers: this crate does not depend on the adapters.
//!
//! Errors are `std::io::Error`s, for each caller to report its own way.
//!
//! ```
//! use ami_testkit::loopback::{flood_raw, Blobs, BLOB_BYTES};
//!
//! let events: Vec<Vec<u8>> = (0..1_000)
//!     .map(|i| format!("Event: Tick\r\nN: {i}\r\n\r\n").into_bytes())
//!     .collect();
//! let flood = Blobs::new(&events, BLOB_BYTES);
//! let flow = flood_raw(&flood)?;
//! assert_eq!(flow.seen, 1_000);
//! assert_eq!(flow.written, 1_000);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::collections::VecDeque;
use std::future::Future;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ami_proto::{Config, Credentials, Event};

use crate::flood::{Flood, Rate};
use crate::server::FakeAsterisk;

/// How long a subscriber (or the raw socket) waits for the next bytes before
/// giving up on the rest.
pub const STALL: Duration = Duration::from_secs(5);

/// Round trips in flight (issue 14: "1,000 in flight").
pub const IN_FLIGHT: usize = 1_000;

/// The flood's events are packed into blobs of about this many bytes, whole
/// events each, which the fake writes as they are: it then does no per-event
/// work and the client, not the producer, is measured.
pub const BLOB_BYTES: usize = 8 * 1024;

/// Bytes asked of the raw socket per `read`: as much as the clients' pumps
/// ask at most under a flood (ami-client's `ReadBuf`). The raw flood is as
/// fast either way here (six interleaved pairs: 7.15-7.56 M events/s with
/// 256 KiB, 6.82-7.44 M with 64 KiB).
const RAW_READ: usize = 256 * 1024;

/// The benchmarks' client `Config`: every default but `event_capacity`, and
/// room for [`IN_FLIGHT`] round trips (the core's default cap is 512).
///
/// ```
/// let config = ami_testkit::loopback::config(10);
/// assert_eq!(config.event_capacity, 10);
/// assert!(config.max_in_flight >= ami_testkit::loopback::IN_FLIGHT);
/// ```
pub fn config(event_capacity: usize) -> Config {
    let mut config = Config::new(Credentials::plain("admin", "amp111"));
    config.max_in_flight = 2 * IN_FLIGHT;
    config.event_capacity = event_capacity;
    config
}

/// A fresh fake per run: one session, so the flood goes to it alone.
fn fake() -> FakeAsterisk {
    FakeAsterisk::builder().start()
}

/// The flood, pre-encoded: the events in order, packed into blobs of whole
/// events that the fake writes verbatim.
#[derive(Debug, Clone)]
pub struct Blobs {
    blobs: Vec<Vec<u8>>,
    /// Events in each blob.
    counts: Vec<u64>,
    events: u64,
    bytes: usize,
}

impl Blobs {
    /// Packs `events` (raw event packets, see [`crate::event_packets`]) into
    /// blobs of about `blob_bytes` ([`BLOB_BYTES`] for the benchmarks; 0: one
    /// event per blob, the per-event producer).
    ///
    /// ```
    /// use ami_testkit::loopback::Blobs;
    ///
    /// let events = vec![b"Event: A\r\n\r\n".to_vec(); 10];
    /// let flood = Blobs::new(&events, 0);
    /// assert_eq!((flood.events(), flood.blob_count(), flood.bytes()), (10, 10, 120));
    /// assert_eq!(Blobs::new(&events, 1024).blob_count(), 1);
    /// ```
    pub fn new(events: &[Vec<u8>], blob_bytes: usize) -> Self {
        let (mut blobs, mut counts) = (Vec::new(), Vec::new());
        let mut blob: Vec<u8> = Vec::new();
        let mut count = 0u64;
        for event in events {
            blob.extend_from_slice(event);
            count += 1;
            if blob.len() >= blob_bytes {
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

    /// Blobs the events are packed into (what the fake writes as flood items).
    pub fn blob_count(&self) -> usize {
        self.blobs.len()
    }

    /// Starts the flood to every logged-in session of `fake` as fast as the
    /// sockets take it, and a [`Counter`] of its events made right before.
    pub fn start(&self, fake: &FakeAsterisk) -> (Counter, Flood) {
        let counter = Counter::new(self.events);
        (counter, fake.flood(self.blobs.clone(), Rate::Unlimited))
    }

    /// Starts the flood to `fake` and counts the events `next` yields (`None`:
    /// the stream ended or stalled) until every one was seen or reported
    /// missed: an adapter's blocking subscriber.
    ///
    /// ```
    /// use ami_testkit::loopback::Blobs;
    ///
    /// let fake = ami_testkit::FakeAsterisk::start();
    /// let flood = Blobs::new(&[b"Event: A\r\n\r\n".to_vec()], 0);
    /// // No session logged in: nothing is written, and nothing comes.
    /// let flow = flood.count(&fake, || None);
    /// assert_eq!((flow.seen, flow.written), (0, 0));
    /// ```
    pub fn count(&self, fake: &FakeAsterisk, mut next: impl FnMut() -> Option<Event>) -> Flow {
        let (mut counter, running) = self.start(fake);
        while !counter.done() && counter.item(next()) {}
        counter.finish(self.written(running.wait()))
    }

    /// [`Blobs::count`] for an async subscriber, `next` awaited on the
    /// caller's runtime.
    pub async fn count_async(
        &self,
        fake: &FakeAsterisk,
        mut next: impl AsyncFnMut() -> Option<Event>,
    ) -> Flow {
        let (mut counter, running) = self.start(fake);
        while !counter.done() && counter.item(next().await) {}
        counter.finish(self.written(running.wait()))
    }

    /// Events written, from the count of flood writes [`Flood::wait`] returns
    /// (to one session: each write is one blob).
    ///
    /// ```
    /// use ami_testkit::loopback::Blobs;
    ///
    /// let events = vec![b"Event: A\r\n\r\n".to_vec(); 10];
    /// assert_eq!(Blobs::new(&events, 0).written(3), 3);
    /// assert_eq!(Blobs::new(&events, 1024).written(u64::MAX), 10);
    /// ```
    pub fn written(&self, blob_writes: u64) -> u64 {
        self.counts.iter().take(blob_writes as usize).sum()
    }
}

/// What one subscriber saw of a flood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    /// Events counted.
    pub seen: u64,
    /// Events the subscriber was told it missed (`Event::Lagged`).
    pub lagged: u64,
    /// Events the flood wrote.
    pub written: u64,
    /// From the first event counted to the last.
    pub elapsed: Duration,
    /// From the flood's start to the last event counted.
    pub wall: Duration,
}

impl Flow {
    /// Events per second between the first event and the last (the first
    /// starts the clock, so it is not counted).
    ///
    /// ```
    /// use std::time::Duration;
    /// use ami_testkit::loopback::Flow;
    ///
    /// let flow = Flow {
    ///     seen: 101,
    ///     lagged: 0,
    ///     written: 101,
    ///     elapsed: Duration::from_millis(10),
    ///     wall: Duration::from_millis(20),
    /// };
    /// assert_eq!(flow.per_second().round(), 10_000.0);
    /// assert_eq!(flow.wall_per_second().round(), 5_050.0);
    /// ```
    pub fn per_second(&self) -> f64 {
        self.seen.saturating_sub(1) as f64 / self.elapsed.as_secs_f64()
    }

    /// Events per second from the flood's start (over HTTP the events come in
    /// a few long-poll answers, so first-to-last says little).
    pub fn wall_per_second(&self) -> f64 {
        self.seen as f64 / self.wall.as_secs_f64()
    }
}

/// Counts a subscriber's events, timing the first counted to the last.
///
/// The clock is read at the first event and when the count completes
/// (events seen plus missed reach the flood's), or when the stream ends
/// before that: not once per event. A clock read costs tens of nanoseconds,
/// about what an adapter spends on an event, and the raw baseline reads it
/// once per 256 KiB read, so a read per event would charge the clients for the
/// measurement.
///
/// ```
/// use ami_testkit::loopback::Counter;
///
/// let mut counter = Counter::new(3);
/// counter.event();
/// counter.lagged(1);
/// assert!(!counter.done());
/// counter.event();
/// assert!(counter.done());
/// let flow = counter.finish(3);
/// assert_eq!((flow.seen, flow.lagged, flow.written), (2, 1, 3));
/// assert!(flow.elapsed <= flow.wall);
/// ```
#[derive(Debug, Clone)]
pub struct Counter {
    expected: u64,
    seen: u64,
    lagged: u64,
    start: Instant,
    first: Option<Instant>,
    last: Instant,
    /// `Instant::now`, or a test's clock that ticks at every read.
    clock: fn() -> Instant,
}

impl Counter {
    /// A counter of `expected` events, its wall clock started now: made right
    /// before the flood starts (as [`Blobs::start`] does).
    pub fn new(expected: u64) -> Self {
        Self::with_clock(expected, Instant::now)
    }

    fn with_clock(expected: u64, clock: fn() -> Instant) -> Self {
        let start = clock();
        Counter {
            expected,
            seen: 0,
            lagged: 0,
            start,
            first: None,
            last: start,
            clock,
        }
    }

    /// Counts one event.
    pub fn event(&mut self) {
        self.seen += 1;
        if self.first.is_none() {
            let now = (self.clock)();
            self.first = Some(now);
            self.last = now;
        } else if self.done() {
            self.last = (self.clock)();
        }
    }

    /// Counts `missed` events the subscriber was told it lost.
    pub fn lagged(&mut self, missed: u64) {
        self.lagged += missed;
        if self.done() {
            self.last = (self.clock)();
        }
    }

    /// The stream ended (or stalled) before the count completed: the clock
    /// stops now. Such a run has `seen + lagged` short of what was written,
    /// unless the fake stopped writing too (its session closed).
    pub fn end(&mut self) {
        if !self.done() {
            self.last = (self.clock)();
        }
    }

    /// Whether every event of the flood was seen or reported missed.
    pub fn done(&self) -> bool {
        self.seen + self.lagged >= self.expected
    }

    /// Counts one item of an adapter's event stream (`None`: it ended or
    /// stalled); false when there will be no more.
    ///
    /// ```
    /// use ami_proto::Event;
    /// use ami_testkit::loopback::Counter;
    /// # fn event(name: &str) -> ami_proto::Event {
    /// #     let mut parser = ami_proto::Parser::without_banner();
    /// #     parser.feed(format!("Event: {name}\r\n\r\n").as_bytes());
    /// #     match parser.next() {
    /// #         Some(ami_proto::Parsed::Packet(packet)) => ami_proto::Event::Event(packet),
    /// #         _ => unreachable!(),
    /// #     }
    /// # }
    ///
    /// let mut counter = Counter::new(5);
    /// assert!(counter.item(Some(event("A"))));
    /// assert!(counter.item(Some(Event::Lagged(2))));
    /// assert!(!counter.item(None));
    /// assert_eq!((counter.seen(), counter.finish(3).lagged), (1, 2));
    /// ```
    pub fn item(&mut self, item: Option<Event>) -> bool {
        match item {
            Some(Event::Event(_)) => self.event(),
            Some(Event::Lagged(missed)) => self.lagged(missed),
            Some(_) => {}
            None => {
                self.end();
                return false;
            }
        }
        true
    }

    /// Events counted so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// What was seen, `written` being the events the flood wrote.
    pub fn finish(self, written: u64) -> Flow {
        Flow {
            seen: self.seen,
            lagged: self.lagged,
            written,
            elapsed: self.first.map_or(Duration::ZERO, |f| self.last - f),
            wall: self.last - self.start,
        }
    }

    /// The raw baseline's clock: read once per socket read, the first read
    /// starting it and the last stopping it.
    fn read(&mut self) {
        self.last = (self.clock)();
        self.first.get_or_insert(self.last);
    }
}

/// The login's own events (`FullyBooted`, then `SuccessfulAuth`) reach the
/// first subscriber; they are not the flood's. True for the last of them; an
/// error when the stream ended (`None`) before it.
///
/// ```
/// use ami_testkit::loopback::ends_login;
/// # fn event(name: &str) -> ami_proto::Event {
/// #     let mut parser = ami_proto::Parser::without_banner();
/// #     parser.feed(format!("Event: {name}\r\n\r\n").as_bytes());
/// #     match parser.next() {
/// #         Some(ami_proto::Parsed::Packet(packet)) => ami_proto::Event::Event(packet),
/// #         _ => unreachable!(),
/// #     }
/// # }
///
/// let (booted, auth) = (event("FullyBooted"), event("SuccessfulAuth"));
/// assert!(!ends_login(Some(&booted)).unwrap());
/// assert!(ends_login(Some(&auth)).unwrap());
/// assert!(ends_login(None).is_err());
/// ```
pub fn ends_login(item: Option<&Event>) -> io::Result<bool> {
    match item {
        Some(Event::Event(packet)) => Ok(packet.is("Event", "SuccessfulAuth")),
        None => Err(io::Error::new(
            ErrorKind::UnexpectedEof,
            "the event stream ended before the login's events",
        )),
        _ => Ok(false),
    }
}

/// Counts packet ends (empty lines) across reads with one `memchr` pass: the
/// raw baselines' only work per byte.
///
/// ```
/// use ami_testkit::loopback::LineScan;
///
/// let mut scan = LineScan::default();
/// scan.scan(b"Event: A\r\n\r");
/// scan.scan(b"\nEvent: B\r\n\r\n");
/// assert_eq!(scan.packets(), 2);
/// ```
#[derive(Debug, Clone, Default)]
pub struct LineScan {
    /// Bytes scanned so far.
    offset: u64,
    /// Absolute position + 1 of the last `\n` (0: none yet).
    last_end: u64,
    packets: u64,
}

impl LineScan {
    /// Scans the next bytes of the stream.
    pub fn scan(&mut self, data: &[u8]) {
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

    /// Packets ended so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }
}

/// Logs in on a raw socket (no delay, reads time out after [`STALL`]) and
/// syncs with a Ping: afterwards nothing is unread.
///
/// ```
/// let fake = ami_testkit::FakeAsterisk::start();
/// let tcp = ami_testkit::loopback::raw_login(fake.addr())?;
/// # drop(tcp);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn raw_login(addr: SocketAddr) -> io::Result<TcpStream> {
    let mut tcp = TcpStream::connect(addr)?;
    tcp.set_nodelay(true)?;
    tcp.set_read_timeout(Some(STALL))?;
    tcp.write_all(
        b"Action: Login\r\nActionID: l\r\nUsername: admin\r\nSecret: amp111\r\n\r\n\
          Action: Ping\r\nActionID: sync\r\n\r\n",
    )?;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let pong = b"ActionID: sync\r\n";
    loop {
        let n = tcp.read(&mut buf)?;
        if n == 0 {
            return Err(closed("during the login"));
        }
        seen.extend_from_slice(&buf[..n]);
        if let Some(at) = memchr::memmem::find(&seen, pong) {
            if memchr::memmem::find(&seen[at..], b"\r\n\r\n").is_some() {
                return Ok(tcp);
            }
        }
    }
}

fn closed(when: &str) -> io::Error {
    io::Error::new(
        ErrorKind::UnexpectedEof,
        format!("the fake closed the connection {when}"),
    )
}

/// The events/s floor: `flood` from a fresh fake to a raw socket read in 64
/// KiB, packet ends counted ([`LineScan`]), nothing parsed. The clock runs
/// from the first read to the last. A read that fails or finds the end of the
/// stream ends the count early; the [`Flow`] then shows fewer events seen than
/// written.
pub fn flood_raw(flood: &Blobs) -> io::Result<Flow> {
    let fake = fake();
    let mut tcp = raw_login(fake.addr())?;
    let mut scan = LineScan::default();
    let mut buf = vec![0u8; RAW_READ];
    let (mut counter, running) = flood.start(&fake);
    while scan.packets < flood.events {
        let Ok(n) = tcp.read(&mut buf) else { break };
        if n == 0 {
            break;
        }
        counter.read();
        scan.scan(&buf[..n]);
    }
    let written = flood.written(running.wait());
    Ok(Flow {
        seen: scan.packets,
        ..counter.finish(written)
    })
}

/// The Ping the raw round trips send.
const PING: &[u8] = b"Action: Ping\r\nActionID: r\r\n\r\n";

/// The round trips' floor with reading and writing on two threads, as
/// ami-blocking's pump does them: a writer thread keeps `in_flight` Pings
/// written ahead of the responses a reader thread counts, until `total`
/// responses came: the elapsed time. The one-thread floor
/// ([`round_trips_raw`]) cannot write while it reads.
///
/// ```
/// let elapsed = ami_testkit::loopback::round_trips_raw_threaded(10, 100)?;
/// # let _ = elapsed;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn round_trips_raw_threaded(in_flight: usize, total: usize) -> io::Result<Duration> {
    let fake = fake();
    let mut tcp = raw_login(fake.addr())?;
    let writer_tcp = tcp.try_clone()?;
    let total = total as u64;
    // Responses counted, and whether the reader has stopped.
    let answered = Arc::new((Mutex::new((0u64, false)), Condvar::new()));
    let start = Instant::now();
    let writer = {
        let answered = Arc::clone(&answered);
        std::thread::spawn(move || write_pings(writer_tcp, in_flight as u64, total, &answered))
    };
    let mut scan = LineScan::default();
    let mut buf = vec![0u8; RAW_READ];
    let read = loop {
        if scan.packets >= total {
            break Ok(());
        }
        match tcp.read(&mut buf) {
            Ok(0) => break Err(closed("during the round trips")),
            Ok(n) => scan.scan(&buf[..n]),
            Err(error) => break Err(error),
        }
        let (count, cv) = &*answered;
        count.lock().unwrap_or_else(PoisonError::into_inner).0 = scan.packets;
        cv.notify_one();
    };
    let elapsed = start.elapsed();
    {
        let (count, cv) = &*answered;
        count.lock().unwrap_or_else(PoisonError::into_inner).1 = true;
        cv.notify_one();
    }
    let written = writer
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the writer thread panicked")));
    read.and(written).map(|()| elapsed)
}

/// [`round_trips_raw_threaded`]'s writer: whenever the reader counted more
/// responses, writes Pings up to `in_flight` ahead of them, `total` in all.
fn write_pings(
    mut tcp: TcpStream,
    in_flight: u64,
    total: u64,
    answered: &(Mutex<(u64, bool)>, Condvar),
) -> io::Result<()> {
    let (count, cv) = answered;
    let (mut sent, mut out) = (0u64, Vec::new());
    loop {
        let target = {
            let mut state = count.lock().unwrap_or_else(PoisonError::into_inner);
            while !state.1 && state.0 + in_flight <= sent && sent < total {
                state = cv.wait(state).unwrap_or_else(PoisonError::into_inner);
            }
            if state.1 {
                return Ok(());
            }
            (state.0 + in_flight).min(total)
        };
        if target > sent {
            out.clear();
            for _ in sent..target {
                out.extend_from_slice(PING);
            }
            tcp.write_all(&out)?;
            sent = target;
        }
        if sent == total {
            return Ok(());
        }
    }
}

/// The round trips' floor: one socket to a fresh fake keeping `in_flight`
/// Pings pipelined from one thread, a new one written for each response
/// counted, until `total` responses came: the elapsed time.
///
/// ```
/// let elapsed = ami_testkit::loopback::round_trips_raw(10, 100)?;
/// # let _ = elapsed;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn round_trips_raw(in_flight: usize, total: usize) -> io::Result<Duration> {
    let fake = fake();
    let mut tcp = raw_login(fake.addr())?;
    let total = total as u64;
    let start = Instant::now();
    let mut out = PING.repeat(in_flight);
    let mut sent = in_flight as u64;
    let mut scan = LineScan::default();
    let mut buf = vec![0u8; RAW_READ];
    tcp.write_all(&out)?;
    while scan.packets < total {
        let n = tcp.read(&mut buf)?;
        if n == 0 {
            return Err(closed("during the round trips"));
        }
        let before = scan.packets;
        scan.scan(&buf[..n]);
        // Saturating: with `total` under `in_flight`, more than `total` were sent.
        let more = (scan.packets - before).min(total.saturating_sub(sent));
        if more > 0 {
            out.clear();
            for _ in 0..more {
                out.extend_from_slice(PING);
            }
            sent += more;
            tcp.write_all(&out)?;
        }
    }
    Ok(start.elapsed())
}

/// Pipelined round trips from one thread: `total` requests, `send` keeping
/// `in_flight` of them submitted and `wait` waiting for them in order, a new
/// one sent as each completes. The elapsed time, or the first error.
///
/// ```
/// let mut sent = 0;
/// let elapsed = ami_testkit::loopback::pipelined(
///     10,
///     100,
///     || sent += 1,
///     |()| Ok::<(), std::io::Error>(()),
/// )?;
/// assert_eq!(sent, 100);
/// # let _ = elapsed;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn pipelined<P, E>(
    in_flight: usize,
    total: usize,
    mut send: impl FnMut() -> P,
    mut wait: impl FnMut(P) -> Result<(), E>,
) -> Result<Duration, E> {
    let start = Instant::now();
    let mut window: VecDeque<P> = (0..in_flight.min(total)).map(|_| send()).collect();
    let mut sent = window.len();
    while let Some(next) = window.pop_front() {
        wait(next)?;
        if sent < total {
            window.push_back(send());
            sent += 1;
        }
    }
    Ok(start.elapsed())
}

/// The output of `next` (an async subscriber's next event), or `None` when
/// the future `stall()` makes finishes first: an async consumer with a stall
/// guard on any runtime (`|| tokio::time::sleep(STALL)`, or a smol timer).
///
/// The stall timer is made only when `next` is not ready at its first poll.
/// A runtime's timer reads the clock when made, and the raw socket's reader
/// reads none per event, so neither do the adapters' consumers for an event
/// that is already waiting: the timer is for a stall.
///
/// ```
/// use std::future::{pending, ready};
/// use ami_testkit::loopback::next_or_stall;
///
/// let stall_made = std::cell::Cell::new(false);
/// let first = next_or_stall(ready(Some(7)), || {
///     stall_made.set(true);
///     ready(())
/// });
/// assert_eq!(futures_block_on(first), Some(7));
/// assert!(!stall_made.get(), "no timer for an event already waiting");
/// let stalled = next_or_stall(pending::<Option<u8>>(), || ready(()));
/// assert_eq!(futures_block_on(stalled), None);
/// # fn futures_block_on<F: std::future::Future>(future: F) -> F::Output {
/// #     let mut future = std::pin::pin!(future);
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     loop {
/// #         if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
/// #             return output;
/// #         }
/// #     }
/// # }
/// ```
pub async fn next_or_stall<T, S: Future<Output = ()>>(
    next: impl Future<Output = Option<T>>,
    stall: impl FnOnce() -> S,
) -> Option<T> {
    use std::task::Poll;
    let mut next = std::pin::pin!(next);
    let first = std::future::poll_fn(|cx| Poll::Ready(next.as_mut().poll(cx))).await;
    if let Poll::Ready(item) = first {
        return item;
    }
    let mut stall = std::pin::pin!(stall());
    std::future::poll_fn(|cx| match next.as_mut().poll(cx) {
        Poll::Ready(item) => Poll::Ready(item),
        Poll::Pending => stall.as_mut().poll(cx).map(|()| None),
    })
    .await
}

/// [`pipelined`] for one task: the futures `send` returns are awaited in
/// order on the caller's runtime.
pub async fn pipelined_async<T, E, F: Future<Output = Result<T, E>>>(
    in_flight: usize,
    total: usize,
    mut send: impl FnMut() -> F,
) -> Result<Duration, E> {
    let start = Instant::now();
    let mut window: VecDeque<F> = (0..in_flight.min(total)).map(|_| send()).collect();
    let mut sent = window.len();
    while let Some(next) = window.pop_front() {
        next.await?;
        if sent < total {
            window.push_back(send());
            sent += 1;
        }
    }
    Ok(start.elapsed())
}

/// The median of `samples` by `key` (the upper one of an even count); `None`
/// when there are none.
///
/// ```
/// use std::time::Duration;
/// use ami_testkit::loopback::median;
///
/// let ms = |n| Duration::from_millis(n);
/// assert_eq!(median(vec![ms(3), ms(1), ms(2)], |d| *d), Some(ms(2)));
/// assert_eq!(median(vec![ms(1), ms(2)], |d| *d), Some(ms(2)));
/// assert_eq!(median(Vec::new(), |d: &Duration| *d), None);
/// ```
pub fn median<T: Copy>(mut samples: Vec<T>, key: impl Fn(&T) -> Duration) -> Option<T> {
    samples.sort_by_key(key);
    samples.get(samples.len() / 2).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_hold_whole_events_in_order() {
        let events: Vec<Vec<u8>> = (0..1000)
            .map(|i| format!("Event: E{i}\r\nPad: {}\r\n\r\n", "x".repeat(i % 50)).into_bytes())
            .collect();
        let blobs = Blobs::new(&events, BLOB_BYTES);
        assert_eq!(blobs.events(), 1000);
        assert_eq!(blobs.blobs.concat(), events.concat());
        assert_eq!(blobs.counts.iter().sum::<u64>(), 1000);
        assert!(blobs.blobs.len() > 1);
        assert!(blobs.blobs.iter().all(|b| b.len() < BLOB_BYTES + 100));
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
            assert_eq!(scan.packets(), 6, "split at {split}");
        }
    }

    /// A clock one microsecond later at every read: a test sees exactly
    /// which calls read it, with no sleep.
    fn ticking() -> Instant {
        use std::cell::Cell;
        use std::sync::OnceLock;
        static BASE: OnceLock<Instant> = OnceLock::new();
        thread_local!(static READS: Cell<u64> = const { Cell::new(0) });
        let reads = READS.with(|reads| {
            reads.set(reads.get() + 1);
            reads.get()
        });
        *BASE.get_or_init(Instant::now) + Duration::from_micros(reads)
    }

    #[test]
    fn the_clock_is_read_at_the_first_event_and_the_last() {
        let mut counter = Counter::with_clock(1_000, ticking);
        counter.event();
        let first = counter.first.expect("the first event starts the clock");
        for _ in 0..998 {
            counter.event();
            assert_eq!(
                counter.last, first,
                "no clock read before the count completes"
            );
        }
        counter.event();
        assert!(counter.done());
        assert!(counter.last > first, "the last event read the clock");
        let last = counter.last;
        assert_eq!(counter.finish(1_000).elapsed, last - first);
    }

    #[test]
    fn a_lag_that_completes_the_count_stops_the_clock() {
        let mut counter = Counter::with_clock(10, ticking);
        counter.event();
        let first = counter.last;
        counter.lagged(5);
        assert_eq!(counter.last, first);
        counter.lagged(4);
        assert!(counter.last > first);
        let flow = counter.finish(10);
        assert_eq!((flow.seen, flow.lagged), (1, 9));
    }

    #[test]
    fn an_early_end_stops_the_clock_but_a_late_one_does_not() {
        let mut counter = Counter::with_clock(10, ticking);
        assert!(counter.item(Some(Event::Lagged(3))));
        assert!(counter.first.is_none());
        assert!(!counter.item(None));
        assert!(counter.last > counter.start);
        assert_eq!(counter.clone().finish(3).elapsed, Duration::ZERO);

        let mut done = Counter::with_clock(1, ticking);
        done.event();
        let last = done.last;
        done.end();
        assert_eq!(done.last, last);
    }

    #[test]
    fn the_raw_flood_sees_every_event() {
        let events = vec![b"Event: Tick\r\nN: 1\r\n\r\n".to_vec(); 500];
        let flow = flood_raw(&Blobs::new(&events, 0)).expect("the raw flood");
        assert_eq!((flow.seen, flow.lagged, flow.written), (500, 0, 500));
        assert!(flow.elapsed <= flow.wall);
    }

    #[test]
    fn the_raw_round_trips_finish() {
        round_trips_raw(50, 120).expect("the raw round trips");
        round_trips_raw(50, 10).expect("fewer than in flight");
        round_trips_raw_threaded(50, 120).expect("on two threads");
        round_trips_raw_threaded(50, 10).expect("on two threads, fewer than in flight");
    }
}
