//! Event floods for throughput tests: a list of event packets written to every
//! logged-in session at a set rate or as fast as possible.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ami_proto::{PacketKind, Parsed, Parser};

use crate::event::Prepared;
use crate::server::{FakeAsterisk, Shared};

/// How fast a flood goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    /// As fast as the sockets take them (events written in large batches).
    Unlimited,
    /// About this many events per second.
    PerSecond(u32),
}

/// The raw bytes of every `Event:` packet in an AMI transcript (banner first, as in a
/// `.server` fixture or the benchmark corpus), e.g. to feed [`FakeAsterisk::flood`].
///
/// ```
/// let transcript = b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\n\r\nEvent: A\r\n\r\nEvent: B\r\n\r\n";
/// let events = ami_testkit::event_packets(transcript);
/// assert_eq!(events, vec![b"Event: A\r\n\r\n".to_vec(), b"Event: B\r\n\r\n".to_vec()]);
/// ```
pub fn event_packets(transcript: &[u8]) -> Vec<Vec<u8>> {
    let mut parser = Parser::new();
    parser.feed(transcript);
    std::iter::from_fn(|| parser.next())
        .filter_map(|item| match item {
            Parsed::Packet(p) if p.kind() == PacketKind::Event => Some(p.as_bytes().to_vec()),
            _ => None,
        })
        .collect()
}

/// A running flood. Dropping it stops the flood and waits for its thread.
#[derive(Debug)]
pub struct Flood {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<u64>>,
}

impl Flood {
    /// Waits for the flood to finish; returns how many event writes were made (one per
    /// event per session that wanted it).
    pub fn wait(mut self) -> u64 {
        self.handle.take().map_or(0, |h| h.join().unwrap_or(0))
    }

    /// Stops the flood early; returns how many event writes were made.
    pub fn stop(self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        self.wait()
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// Events per batch when unlimited: one write of roughly 64 KiB per session.
const BATCH: usize = 200;

impl FakeAsterisk {
    /// Writes `events` (raw event packets, see [`event_packets`]) to every logged-in
    /// session that wants them (Events mask and filters apply), in order, at `rate`.
    /// Sessions are looked up per batch, so a client that logs in late joins midway.
    ///
    /// ```no_run
    /// use ami_testkit::{event_packets, FakeAsterisk, Rate};
    ///
    /// let fake = FakeAsterisk::start();
    /// // ... log a client in ...
    /// let corpus = std::fs::read("corpus/asterisk-22.10.1-calls.ami").unwrap();
    /// let sent = fake.flood(event_packets(&corpus), Rate::Unlimited).wait();
    /// # let _ = sent;
    /// ```
    pub fn flood(&self, events: Vec<Vec<u8>>, rate: Rate) -> Flood {
        let stop = Arc::new(AtomicBool::new(false));
        let shared = self.shared.clone();
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("ami-testkit-flood".into())
            .spawn(move || run(&shared, events, rate, &flag))
            .expect("spawn the flood thread");
        Flood {
            stop,
            handle: Some(handle),
        }
    }
}

fn run(shared: &Shared, events: Vec<Vec<u8>>, rate: Rate, stop: &AtomicBool) -> u64 {
    let events: Vec<Prepared> = events.into_iter().map(Prepared::from_raw).collect();
    let start = Instant::now();
    let mut sent = 0u64;
    let mut next = 0;
    while next < events.len() {
        if stop.load(Ordering::SeqCst) || shared.shutdown.load(Ordering::SeqCst) {
            break;
        }
        let end = match rate {
            Rate::Unlimited => (next + BATCH).min(events.len()),
            Rate::PerSecond(per_second) => {
                let per_second = u64::from(per_second.max(1));
                // Pace: event i is due at start + i / rate.
                let due = start + Duration::from_nanos(next as u64 * 1_000_000_000 / per_second);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep((due - now).min(Duration::from_millis(50)));
                    continue;
                }
                let elapsed = now.duration_since(start).as_nanos() as u64;
                let due_count = (elapsed * per_second / 1_000_000_000 + 1) as usize;
                due_count.clamp(next + 1, (next + BATCH).min(events.len()))
            }
        };
        let batch: Vec<&Prepared> = events[next..end].iter().collect();
        for conn in shared.open_conns() {
            sent += conn.write_events(&batch) as u64;
        }
        next = end;
    }
    sent
}
