//! The pumps' read buffer, sized by what the reads bring, handed to the
//! session without a copy.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

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

/// Buffers of earlier reads a [`ReadBuf`] keeps, to read into again once no
/// packet parsed from them is alive: enough for the reads whose events a
/// subscriber that keeps up may still hold at the default capacity (its queue
/// and the batch it took, about three 256 KiB reads of corpus events).
const SPARES: usize = 4;

/// A read buffer that doubles when a read fills it (more is waiting: fewer,
/// larger reads, so fewer wake-ups and locks per event under a flood) and
/// halves when reads use under a quarter of it, so an idle client keeps 4 KiB
/// rather than a flood's 256 KiB.
///
/// What a read brought goes to the session without a copy: the packets are
/// parsed where they lie and share the buffer, so each read goes into a
/// buffer of its own. Buffers come back for later reads once the packets
/// parsed from them are gone, so a subscriber that keeps up costs no
/// allocation per read; they are zeroed only when first allocated, as the
/// workspace reads only into initialised memory.
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
    /// Where the next read goes: initialised, owned alone, `size` long.
    next: BytesMut,
    /// The size reads are made at now.
    size: usize,
    /// The read being fed, shared with the packets parsed from it; empty
    /// between reads.
    read: Bytes,
    /// Bytes of `read` already fed (see [`ReadBuf::feed`]).
    fed: usize,
    /// Buffers of earlier reads, oldest first (see [`SPARES`]).
    spares: VecDeque<Bytes>,
}

impl Default for ReadBuf {
    fn default() -> Self {
        ReadBuf {
            next: BytesMut::zeroed(MIN),
            size: MIN,
            read: Bytes::new(),
            fed: 0,
            spares: VecDeque::new(),
        }
    }
}

impl ReadBuf {
    /// Where the next read goes.
    pub fn space(&mut self) -> &mut [u8] {
        &mut self.next
    }

    /// Gives the `n` bytes just read to `feed`, a [`feed_slice`] at a time,
    /// from where the last call stopped, each slice a view of the read's
    /// buffer (no copy). Returns true when it stopped early, a subscriber of
    /// `link` being behind with more left: the pump waits for it, then calls
    /// again. Returns false once all `n` are fed, the buffer sized for the
    /// next read ([`filled`](Self::filled)).
    pub(crate) fn feed(&mut self, n: usize, link: &Link, mut feed: impl FnMut(Bytes)) -> bool {
        if self.read.is_empty() {
            self.read = std::mem::take(&mut self.next).freeze();
        }
        let slice = link.feed_slice();
        while self.fed < n {
            let end = (self.fed + slice).min(n);
            feed(self.read.slice(self.fed..end));
            self.fed = end;
            if self.fed < n && link.subscribers_behind() {
                return true;
            }
        }
        self.fed = 0;
        let read = std::mem::take(&mut self.read);
        if self.spares.len() == SPARES {
            self.spares.pop_front();
        }
        self.spares.push_back(read);
        self.filled(n);
        false
    }

    /// Forgets the rest of a read not wholly fed (its transport is gone).
    pub(crate) fn discard(&mut self) {
        self.fed = 0;
        self.read = Bytes::new();
        if self.next.len() != self.size {
            self.next = BytesMut::zeroed(self.size);
        }
    }

    /// The last read brought `n` bytes: resizes for the next one, and finds
    /// it a buffer.
    pub fn filled(&mut self, n: usize) {
        let size = self.size;
        self.size = match n {
            n if n == size => (size * 2).min(MAX),
            n if n < size / 4 => (size / 2).max(MIN),
            _ => size,
        };
        if self.next.len() != self.size {
            self.next = self.reuse().unwrap_or_else(|| BytesMut::zeroed(self.size));
        }
    }

    /// A spare of the size wanted that no packet holds any more. Spares of
    /// another size are dropped (their memory goes when their packets do).
    fn reuse(&mut self) -> Option<BytesMut> {
        for _ in 0..self.spares.len() {
            let spare = self.spares.pop_front()?;
            if spare.len() != self.size {
                continue;
            }
            match spare.try_into_mut() {
                Ok(free) => return Some(free),
                Err(held) => self.spares.push_back(held),
            }
        }
        None
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
            size: data.len(),
            next: BytesMut::from(&data[..]),
            ..ReadBuf::default()
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
        assert!(
            buf.feed(n, &link, |s| link.received_bytes(s)),
            "stopped early"
        );
        assert_eq!(buf.fed, 2 * feed_slice(1024), "1,024 queued: past half");
        assert_eq!(take(&mut events), 1024);
        assert!(!buf.feed(n, &link, |s| link.received_bytes(s)), "the rest");
        assert_eq!(take(&mut events), 512);
    }

    /// With no subscriber behind, a read is fed whole.
    #[test]
    fn a_read_is_fed_whole_when_nobody_is_behind() {
        let (_client, link, mut events) = client(20_000);
        let data = flood();
        let n = data.len();
        assert!(!read(data).feed(n, &link, |s| link.received_bytes(s)));
        assert_eq!(take(&mut events), 1_536);
    }

    /// Reads `data` into `buf` as a pump does, and feeds it.
    fn read_into(buf: &mut ReadBuf, link: &Link, data: &[u8]) {
        buf.space()[..data.len()].copy_from_slice(data);
        while buf.feed(data.len(), link, |s| link.received_bytes(s)) {}
    }

    /// 40 events of [`SMALL_EVENT`] bytes: a read that keeps a 4 KiB buffer
    /// at its size (more than a quarter of it, less than all).
    fn small_read() -> Vec<u8> {
        flood()[..40 * SMALL_EVENT].to_vec()
    }

    /// The packets a read brings are views of the buffer it went into, and
    /// that buffer is read into again once they are gone, not before.
    #[test]
    fn packets_lie_in_the_read_buffer_which_comes_back_once_they_are_gone() {
        let (_client, link, mut events) = client(1024);
        let mut buf = ReadBuf::default();
        let first = buf.space().as_ptr_range();
        read_into(&mut buf, &link, &small_read());
        let mut held = Vec::new();
        while let Ok(Some(Event::Event(packet))) = events.try_recv() {
            held.push(packet);
        }
        assert_eq!(held.len(), 40);
        assert!(
            held.iter().all(|p| first.contains(&p.as_bytes().as_ptr())),
            "parsed where they lie, not copied"
        );
        assert_ne!(
            buf.space().as_ptr(),
            first.start,
            "still held: a new buffer"
        );
        read_into(&mut buf, &link, &small_read());
        assert_eq!(take(&mut events), 40);
        assert_ne!(buf.space().as_ptr(), first.start, "the first is still held");
        drop(held);
        read_into(&mut buf, &link, &small_read());
        assert_eq!(take(&mut events), 40);
        assert_eq!(
            buf.space().as_ptr(),
            first.start,
            "free again: read into again"
        );
        assert_eq!(buf.space().len(), MIN);
    }

    /// A pump that lost its transport in the middle of a read starts the
    /// next transport's first read from its start, on a whole buffer.
    #[test]
    fn a_discarded_read_leaves_a_whole_buffer() {
        let (_client, link, mut events) = client(1024);
        let data = flood();
        let n = data.len();
        let mut buf = read(data);
        assert!(buf.feed(n, &link, |s| link.received_bytes(s)));
        assert_eq!(take(&mut events), 1024);
        buf.discard();
        assert_eq!((buf.fed, buf.space().len()), (0, n));
        read_into(&mut buf, &link, &small_read());
        assert_eq!(take(&mut events), 40);
    }
}
