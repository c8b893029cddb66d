//! The streaming packet parser: bytes in, [`Parsed`] items out.

use bytes::{Buf, Bytes, BytesMut};
use memchr::memmem;

use crate::packet::{find_separator, LineTableBuf, Packet};

/// The marker that ends a legacy `Response: Follows` body.
const END_COMMAND: &[u8] = b"--END COMMAND--";

/// The smallest block the input buffer grows by, so that a stream of small reads
/// costs one allocation per block rather than one per read.
const GROW_BLOCK: usize = 64 * 1024;

/// Bounds on what one packet may cost. Exceeding one costs that packet, never the
/// connection: it is dropped, reported as [`Parsed::Malformed`], and parsing goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest packet, in bytes, every line end and the final empty line included.
    /// Default 4 MiB: real `Command` replies reach several hundred KB.
    pub max_packet_bytes: usize,
    /// Most lines in one packet. Default 65,536.
    pub max_lines: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_packet_bytes: 4 * 1024 * 1024,
            max_lines: 65_536,
        }
    }
}

/// One item out of the parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// The server's first line, e.g. `Asterisk Call Manager/11.0.0`.
    Banner(Banner),
    /// A complete packet.
    Packet(Packet),
    /// A packet that was dropped; the stream goes on with the next one.
    Malformed(Malformed),
}

/// The greeting line a server sends once, before any packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Banner {
    line: Bytes,
}

impl Banner {
    /// The whole line, without its line end.
    pub fn line(&self) -> &[u8] {
        &self.line
    }

    /// The AMI version: the text after the first `/` (`11.0.0` on Asterisk 22).
    /// This is not the Asterisk version. `None` when the line has no `/`, nothing
    /// after it, or is not UTF-8.
    pub fn version(&self) -> Option<&str> {
        let slash = memchr::memchr(b'/', &self.line)?;
        std::str::from_utf8(&self.line[slash + 1..])
            .ok()
            .filter(|version| !version.is_empty())
    }
}

/// Why a packet was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "type"))]
#[non_exhaustive]
pub enum MalformedReason {
    /// The packet grew past [`Limits::max_packet_bytes`].
    TooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// The packet had more than [`Limits::max_lines`] lines.
    TooManyLines {
        /// The limit in force.
        limit: usize,
    },
}

/// A report of a dropped packet.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Malformed {
    /// Why it was dropped.
    pub reason: MalformedReason,
    /// How many bytes it had, including those that never needed to be buffered.
    pub size: usize,
    /// Up to 64 bytes of the packet's first line (e.g. `Event: Name`), to tell
    /// which packet it was.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::serde_impl::lossy"))]
    pub head: Bytes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for the banner line.
    Banner,
    /// Reading the lines of a packet (or waiting for one).
    Lines,
    /// Inside a legacy `Response: Follows` body, looking for [`END_COMMAND`] from
    /// `marker_scan` on.
    Follows { marker_scan: usize },
    /// Dropping an oversized packet.
    Discard(Discard),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Discard {
    reason: MalformedReason,
    dropped: usize,
    /// True when the current line already has content that was dropped.
    mid_line: bool,
    /// Dropping a legacy body: look for the end marker first.
    in_follows: bool,
    /// Dropping an over-long banner: stop at the first line end.
    banner: bool,
}

/// A streaming AMI parser.
///
/// Feed it bytes in chunks of any size; take items with `next` (it is an
/// [`Iterator`]) until it returns `None`, which means "need more bytes", never an
/// error. It accepts CRLF
/// and bare-LF line ends, packets ended by `\r\n\n`, legacy `Response: Follows` command
/// bodies, and ignores empty packets. Scanning resumes where it stopped, so the cost
/// is linear in the input whatever the chunk sizes.
///
/// ```
/// use ami_proto::{Parser, Parsed};
///
/// let mut parser = Parser::new();
/// parser.feed(b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nPing: Po");
/// assert!(matches!(parser.next(), Some(Parsed::Banner(b)) if b.version() == Some("11.0.0")));
/// assert_eq!(parser.next(), None); // incomplete: wait for more bytes
/// parser.feed(b"ng\r\n\r\n");
/// let Some(Parsed::Packet(pong)) = parser.next() else { panic!() };
/// assert_eq!(pong.get("Ping").unwrap(), "Pong");
/// ```
#[derive(Debug)]
pub struct Parser {
    buf: BytesMut,
    /// Start of the first line not yet scanned, relative to `buf`.
    pos: usize,
    /// Lines of the packet being read; the packet starts at `buf[0]`.
    lines: LineTableBuf,
    /// Offsets of a legacy body inside the packet being read.
    body: Option<(u32, u32)>,
    state: State,
    limits: Limits,
    marker: memmem::Finder<'static>,
    /// First bytes of the packet being dropped, for its [`Malformed`] report.
    dropped_head: Bytes,
}

impl Default for Parser {
    fn default() -> Self {
        Parser::new()
    }
}

impl Parser {
    /// A parser for the client side: the first line is the server's banner.
    pub fn new() -> Self {
        Parser::with_limits(Limits::default())
    }

    /// A parser for the server side (reading actions): no banner is expected.
    pub fn without_banner() -> Self {
        let mut parser = Parser::new();
        parser.state = State::Lines;
        parser
    }

    /// A server-side parser (no banner) with the given limits.
    #[cfg(feature = "serde")]
    pub(crate) fn without_banner_with_limits(limits: Limits) -> Self {
        let mut parser = Parser::with_limits(limits);
        parser.state = State::Lines;
        parser
    }

    /// A client-side parser with the given limits. `max_packet_bytes` is capped
    /// at 4 GiB - 1, since line offsets are stored in 32 bits.
    pub fn with_limits(mut limits: Limits) -> Self {
        limits.max_packet_bytes = limits.max_packet_bytes.min(u32::MAX as usize - 1);
        Parser {
            buf: BytesMut::new(),
            pos: 0,
            lines: LineTableBuf::default(),
            body: None,
            state: State::Banner,
            limits,
            marker: memmem::Finder::new(END_COMMAND),
            dropped_head: Bytes::new(),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Appends received bytes.
    pub fn feed(&mut self, data: &[u8]) {
        self.reserve(data.len());
        self.buf.extend_from_slice(data);
    }

    /// Makes room for at least `additional` more bytes in [`Parser::buffer_mut`],
    /// growing in blocks so that small reads do not each allocate.
    pub fn reserve(&mut self, additional: usize) {
        if self.buf.capacity() - self.buf.len() < additional {
            self.buf.reserve(additional.max(GROW_BLOCK));
        }
    }

    /// The input buffer, for adapters that read from a socket straight into it
    /// (e.g. tokio's `read_buf`) instead of calling [`Parser::feed`]. Only append.
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Bytes received but not yet part of a returned item (an incomplete packet).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    fn next_item(&mut self) -> Option<Parsed> {
        loop {
            let step = match self.state {
                State::Banner => self.read_banner(),
                State::Lines => self.read_lines(),
                State::Follows { marker_scan } => self.read_follows(marker_scan),
                State::Discard(discard) => self.discard(discard),
            };
            match step {
                Step::Item(item) => return Some(item),
                Step::Continue => {}
                Step::NeedMore => return None,
            }
        }
    }

    fn read_banner(&mut self) -> Step {
        let too_large = MalformedReason::TooLarge {
            limit: self.limits.max_packet_bytes,
        };
        let Some(nl) = memchr::memchr(b'\n', &self.buf) else {
            if self.buf.len() + 1 > self.limits.max_packet_bytes {
                self.start_discard(too_large, false, true);
                return Step::Continue;
            }
            return Step::NeedMore;
        };
        if nl + 1 > self.limits.max_packet_bytes {
            self.start_discard(too_large, false, true);
            return Step::Continue;
        }
        let line = self.buf.split_to(nl + 1).freeze();
        let end = content_end(&line, 0, nl);
        self.state = State::Lines;
        Step::Item(Parsed::Banner(Banner {
            line: line.slice(..end),
        }))
    }

    /// The hot path: index lines until an empty one ends the packet.
    fn read_lines(&mut self) -> Step {
        match self.scan_lines() {
            Scan::Packet(len) => Step::Item(Parsed::Packet(self.take_packet(len))),
            Scan::CompleteButTooLarge(len) => {
                let head = self.first_line_head();
                self.buf.advance(len);
                self.forget_packet();
                Step::Item(Parsed::Malformed(Malformed {
                    reason: MalformedReason::TooLarge {
                        limit: self.limits.max_packet_bytes,
                    },
                    size: len,
                    head,
                }))
            }
            Scan::EmptyPacket(len) => {
                // E.g. the second LF of `\r\n\n`: nothing to report.
                self.buf.advance(len);
                self.pos = 0;
                Step::Continue
            }
            Scan::OverLimit(reason) => {
                self.start_discard(reason, false, false);
                Step::Continue
            }
            Scan::LegacyBody => {
                self.state = State::Follows {
                    marker_scan: self.pos,
                };
                Step::Continue
            }
            Scan::NeedMore => {
                if self.partial_line_over_limit() {
                    let reason = MalformedReason::TooLarge {
                        limit: self.limits.max_packet_bytes,
                    };
                    self.start_discard(reason, false, false);
                    return Step::Continue;
                }
                Step::NeedMore
            }
        }
    }

    /// Indexes complete lines from `self.pos` on, in one pass of a line-end
    /// iterator over the buffer, and says what stopped it. Leaves `self.pos` at the
    /// first line not indexed.
    fn scan_lines(&mut self) -> Scan {
        let buf: &[u8] = &self.buf;
        let start = self.pos;
        let max_bytes = self.limits.max_packet_bytes;
        let max_lines = self.limits.max_lines;
        let mut pos = start;
        for offset in memchr::memchr_iter(b'\n', &buf[start..]) {
            let nl = start + offset;
            let end = content_end(buf, pos, nl);
            let next = nl + 1;
            if end == pos {
                if self.lines.is_empty() {
                    return Scan::EmptyPacket(next);
                }
                if next > max_bytes {
                    return Scan::CompleteButTooLarge(next);
                }
                return Scan::Packet(next);
            }
            self.lines.push(pos, end);
            let line_start = pos;
            pos = next;
            self.pos = pos;
            if next > max_bytes {
                return Scan::OverLimit(MalformedReason::TooLarge { limit: max_bytes });
            }
            if self.lines.len() > max_lines {
                return Scan::OverLimit(MalformedReason::TooManyLines { limit: max_lines });
            }
            if line_start == 0 && buf[..end].eq_ignore_ascii_case(b"Response: Follows") {
                return Scan::LegacyBody;
            }
        }
        Scan::NeedMore
    }

    /// Whether the incomplete line at `pos` already makes the packet too large:
    /// whatever it turns out to be, its line end will take the packet past the
    /// limit, so the outcome never depends on how the input was chunked.
    fn partial_line_over_limit(&self) -> bool {
        self.buf.len() > self.pos && self.buf.len() + 1 > self.limits.max_packet_bytes
    }

    /// Up to 64 bytes of the first line of the packet at `buf[0]`.
    fn first_line_head(&self) -> Bytes {
        let first_line_end = match memchr::memchr(b'\n', &self.buf) {
            Some(nl) => content_end(&self.buf, 0, nl),
            None => self.buf.len(),
        };
        Bytes::copy_from_slice(&self.buf[..first_line_end.min(64)])
    }

    /// Legacy body: CRLF header lines, then raw text up to `--END COMMAND--`.
    fn read_follows(&mut self, marker_scan: usize) -> Step {
        let Some(found) = self.marker.find(&self.buf[marker_scan..]) else {
            let resume = self
                .buf
                .len()
                .saturating_sub(END_COMMAND.len() - 1)
                .max(self.pos);
            if self.buf.len() > self.limits.max_packet_bytes {
                let reason = MalformedReason::TooLarge {
                    limit: self.limits.max_packet_bytes,
                };
                self.start_discard(reason, true, false);
                return Step::Continue;
            }
            self.state = State::Follows {
                marker_scan: resume,
            };
            return Step::NeedMore;
        };
        let marker = marker_scan + found;
        let marker_end = marker + END_COMMAND.len();
        if marker_end > self.limits.max_packet_bytes {
            // Drop through the marker; what follows it is read as after a kept body.
            self.pos = marker_end;
            let reason = MalformedReason::TooLarge {
                limit: self.limits.max_packet_bytes,
            };
            self.start_discard(reason, false, false);
            return Step::Continue;
        }
        let body_start = self.index_legacy_headers(marker);
        self.body = Some((body_start as u32, marker as u32));
        // What follows the marker is read as ordinary lines up to the empty line.
        self.pos = marker + END_COMMAND.len();
        self.state = State::Lines;
        Step::Continue
    }

    /// Indexes the `Key: Value\r\n` lines that precede a legacy body (`Privilege`,
    /// `ActionID`); the body starts at the first line that is not one.
    fn index_legacy_headers(&mut self, marker: usize) -> usize {
        let mut pos = self.pos;
        while let Some(offset) = memchr::memchr(b'\n', &self.buf[pos..marker]) {
            let nl = pos + offset;
            let crlf = nl > pos && self.buf[nl - 1] == b'\r';
            let colon = find_separator(&self.buf[pos..nl]);
            match colon {
                Some(_) if crlf && self.lines.len() < self.limits.max_lines => {
                    self.lines.push(pos, nl - 1);
                    pos = nl + 1;
                }
                _ => break,
            }
        }
        pos
    }

    fn take_packet(&mut self, len: usize) -> Packet {
        let bytes = self.buf.split_to(len).freeze();
        let packet = Packet::new(bytes, self.lines.take(), self.body);
        self.forget_packet();
        packet
    }

    /// Clears what was indexed of the packet just taken or dropped.
    fn forget_packet(&mut self) {
        self.lines.clear();
        self.body = None;
        self.pos = 0;
    }

    /// Drops the packet read so far and switches to dropping the rest of it.
    fn start_discard(&mut self, reason: MalformedReason, in_follows: bool, banner: bool) {
        self.dropped_head = self.first_line_head();
        // Keep what the discard scan still needs: the unscanned tail of lines, or
        // enough bytes to find an end marker split across two reads.
        let drop = if in_follows {
            self.buf.len().saturating_sub(END_COMMAND.len() - 1)
        } else {
            self.pos
        };
        self.buf.advance(drop);
        self.forget_packet();
        self.state = State::Discard(Discard {
            reason,
            dropped: drop,
            mid_line: false,
            in_follows,
            banner,
        });
    }

    /// Drops bytes up to the end of the oversized packet, then reports it.
    fn discard(&mut self, mut discard: Discard) -> Step {
        if discard.in_follows {
            let Some(found) = self.marker.find(&self.buf) else {
                let drop = self.buf.len().saturating_sub(END_COMMAND.len() - 1);
                discard.dropped += drop;
                self.buf.advance(drop);
                self.state = State::Discard(discard);
                return Step::NeedMore;
            };
            let end = found + END_COMMAND.len();
            discard.dropped += end;
            self.buf.advance(end);
            // As for a kept body, the rest of the marker's line may be the empty line.
            discard.in_follows = false;
            discard.mid_line = false;
        }
        while let Some(nl) = memchr::memchr(b'\n', &self.buf) {
            let empty = !discard.mid_line && content_end(&self.buf, 0, nl) == 0;
            discard.dropped += nl + 1;
            self.buf.advance(nl + 1);
            discard.mid_line = false;
            if empty || discard.banner {
                self.state = State::Lines;
                return Step::Item(Parsed::Malformed(Malformed {
                    reason: discard.reason,
                    size: discard.dropped,
                    head: std::mem::take(&mut self.dropped_head),
                }));
            }
        }
        // Keep at most a lone `\r`, which may be half of an empty line.
        let len = self.buf.len();
        if len > 1 || (len == 1 && self.buf[0] != b'\r') {
            discard.mid_line = true;
            discard.dropped += len;
            self.buf.advance(len);
        }
        self.state = State::Discard(discard);
        Step::NeedMore
    }
}

/// Items in order; `None` means "feed more bytes", after which items may come
/// again (the iterator is not fused).
impl Iterator for Parser {
    type Item = Parsed;

    fn next(&mut self) -> Option<Parsed> {
        self.next_item()
    }
}

enum Step {
    Item(Parsed),
    Continue,
    NeedMore,
}

/// Why [`Parser::scan_lines`] stopped.
enum Scan {
    /// A packet of this many bytes is complete.
    Packet(usize),
    /// A packet of this many bytes is complete, but over the size limit only
    /// because of the empty line that ends it.
    CompleteButTooLarge(usize),
    /// An empty line with no packet before it, of this many bytes.
    EmptyPacket(usize),
    OverLimit(MalformedReason),
    /// The first line opened a legacy `Response: Follows` body.
    LegacyBody,
    NeedMore,
}

/// End of a line's content: `nl` minus a `\r` just before it.
#[inline]
fn content_end(buf: &[u8], start: usize, nl: usize) -> usize {
    if nl > start && buf[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    }
}
