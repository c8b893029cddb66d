//! The pumps' read buffer, sized by what the reads bring.

use crate::Link;

/// Smallest buffer: what an idle client keeps.
const MIN: usize = 4 * 1024;
/// Largest buffer: one read of a flood (as large as the benchmarks' raw
/// socket reader's). Every read costs some fixed work whatever it brings (a
/// system call, the session's lock, a batch published and a subscriber
/// woken, a yield to the runtime), so under a flood larger reads cost less
/// per event.
const MAX: usize = 256 * 1024;

/// The smallest event counted on when slicing a read (see [`feed_slice`]);
/// real Asterisk events are larger (150 bytes and more in the corpus).
const SMALL_EVENT: usize = 64;

/// The most a pump gives the session at once, for subscriber queues of
/// `capacity` events: a read is fed in slices of this size, and between two
/// slices the pump waits for a subscriber past half its queue
/// ([`Link::subscribers_behind`], `Config::subscriber_wait`). A slice then
/// holds at most half a queue of events of [`SMALL_EVENT`] bytes or more, so
/// a subscriber that takes its events during the wait (one on the pump's own
/// thread runs then) loses none to a large read: 32 KiB at the default
/// capacity (1024); a whole read when the queues hold 8,192 events or more.
pub(crate) fn feed_slice(capacity: usize) -> usize {
    (capacity / 2 * SMALL_EVENT).max(SMALL_EVENT)
}

/// A read buffer that doubles when a read fills it (more is waiting: fewer,
/// larger reads, so fewer wake-ups and locks per event under a flood) and
/// halves when reads use under a quarter of it, so an idle client keeps 4 KiB
/// rather than a flood's 256 KiB.
///
/// ```
/// let mut buf = ami_client::pump::ReadBuf::default();
/// assert_eq!(buf.space().len(), 4096);
/// let n = buf.space().len();
/// buf.filled(n); // a full read: more is waiting
/// assert_eq!(buf.space().len(), 8192);
/// buf.filled(100); // a small one
/// assert_eq!(buf.space().len(), 4096);
/// ```
#[derive(Debug)]
pub struct ReadBuf {
    bytes: Vec<u8>,
    /// Bytes of the last read already fed (see [`ReadBuf::feed`]).
    fed: usize,
}

impl Default for ReadBuf {
    fn default() -> Self {
        ReadBuf {
            bytes: vec![0; MIN],
            fed: 0,
        }
    }
}

impl ReadBuf {
    /// Where the next read goes.
    pub fn space(&mut self) -> &mut [u8] {
        &mut self.bytes
    }

    /// Gives the `n` bytes just read to `feed`, a [`feed_slice`] at a time,
    /// from where the last call stopped. Returns true when it stopped early,
    /// a subscriber of `link` being behind with more left: the pump waits for
    /// it, then calls again. Returns false once all `n` are fed, the buffer
    /// sized for the next read ([`filled`](Self::filled)).
    pub(crate) fn feed(&mut self, n: usize, link: &Link, mut feed: impl FnMut(&[u8])) -> bool {
        for slice in self.bytes[self.fed..n].chunks(link.feed_slice()) {
            feed(slice);
            self.fed += slice.len();
            if self.fed < n && link.subscribers_behind() {
                return true;
            }
        }
        self.fed = 0;
        self.filled(n);
        false
    }

    /// Forgets the rest of a read not wholly fed (its transport is gone).
    pub(crate) fn discard(&mut self) {
        self.fed = 0;
    }

    /// The last read brought `n` bytes: resizes for the next one.
    pub fn filled(&mut self, n: usize) {
        let size = self.bytes.len();
        let next = match n {
            n if n == size => (size * 2).min(MAX),
            n if n < size / 4 => (size / 2).max(MIN),
            _ => size,
        };
        if next != size {
            self.bytes = vec![0; next];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ami_proto::{Config, Event};

    /// A client logged in (no credentials) with a subscriber whose queue
    /// holds `capacity` events.
    fn client(capacity: usize) -> (crate::Client, Link, crate::Events) {
        let config = Config {
            event_capacity: capacity,
            ..Config::default()
        };
        let (client, link) = crate::new(config, std::time::Instant::now);
        link.step(&mut Vec::new());
        link.connected();
        link.received(b"Asterisk Call Manager/11.0.0\r\n");
        let events = client.events();
        (client, link, events)
    }

    /// 1,536 events of [`SMALL_EVENT`] bytes: three slices' worth at the
    /// default capacity (1024), 512 in each.
    fn flood() -> Vec<u8> {
        let head = b"Event: A\r\nPad: ";
        let mut event = head.to_vec();
        event.resize(SMALL_EVENT - 4, b'x');
        event.extend(b"\r\n\r\n");
        event.repeat(1_536)
    }

    /// The AMI events taken, none lost.
    fn take(events: &mut crate::Events) -> usize {
        std::iter::from_fn(|| events.try_recv().ok().flatten())
            .inspect(|event| assert!(matches!(event, Event::Event(_)), "{event:?}"))
            .count()
    }

    #[test]
    fn a_slice_holds_half_a_queue_of_small_events() {
        assert_eq!(feed_slice(1024), 32 * 1024);
        assert_eq!(feed_slice(8192), MAX);
        assert_eq!(feed_slice(0), SMALL_EVENT);
    }

    /// A buffer holding `data` as if just read.
    fn read(data: Vec<u8>) -> ReadBuf {
        ReadBuf {
            bytes: data,
            fed: 0,
        }
    }

    /// Feeding stops after the slice that left a subscriber past half its
    /// queue, and the rest follows once it has taken its events: a
    /// subscriber at the default capacity loses nothing.
    #[test]
    fn feeding_stops_at_a_subscriber_behind_and_goes_on() {
        let (_client, link, mut events) = client(1024);
        let data = flood();
        let n = data.len();
        let mut buf = read(data);
        assert!(buf.feed(n, &link, |s| link.received(s)), "stopped early");
        assert_eq!(buf.fed, 2 * feed_slice(1024), "1,024 queued: past half");
        assert_eq!(take(&mut events), 1024);
        assert!(!buf.feed(n, &link, |s| link.received(s)), "the rest");
        assert_eq!(take(&mut events), 512);
    }

    /// With no subscriber behind, a read is fed whole.
    #[test]
    fn a_read_is_fed_whole_when_nobody_is_behind() {
        let (_client, link, mut events) = client(20_000);
        let data = flood();
        let n = data.len();
        assert!(!read(data).feed(n, &link, |s| link.received(s)));
        assert_eq!(take(&mut events), 1_536);
    }
}
