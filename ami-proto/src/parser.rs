//! The streaming packet parser: bytes in, [`Parsed`] items out.

use bytes::{Buf, Bytes, BytesMut};
use memchr::memmem;

use crate::packet::{
    entry, find_separator, is_action_id_line, LineTableBuf, Packet, END_COMMAND, INDEX_BYTES,
};
use crate::scan::{full_mask, newline_mask_at, LineEnds, BLOCK};

/// The first block the input buffer takes: small, because an idle connection
/// holds its buffer for as long as it lives.
const MIN_GROW_BLOCK: usize = 4 * 1024;

/// The largest block the input buffer grows by. Blocks double from
/// [`MIN_GROW_BLOCK`] up to this each time the buffer needs a new one, so that a
/// busy stream of small reads costs one allocation per 64 KiB, not one per read.
const GROW_BLOCK: usize = 64 * 1024;

/// Bounds on what one packet may cost. Exceeding one costs that packet, never the
/// connection: it is reported as [`Parsed::Malformed`] as soon as it crosses the
/// bound, dropped, and parsing goes on (see [`Parser`] for where it resumes).
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
    /// A packet that crossed a [`Limits`] bound, reported the moment it did; the
    /// rest of it is dropped and the stream goes on after it (see
    /// [`Parser`]'s "Limits and resynchronisation").
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
    /// How many bytes of the packet had been read when it crossed the limit (it is
    /// reported at that moment, before its end has arrived): `limit + 1` for
    /// [`MalformedReason::TooLarge`], the bytes through the line that crossed the
    /// limit for [`MalformedReason::TooManyLines`]. The rest of the packet is dropped
    /// without being counted, so the size never depends on how the input was chunked.
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
    /// Dropping what is left of a packet already reported as [`Parsed::Malformed`].
    Skip(Skip),
}

/// What is left to drop of a packet that crossed a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    /// The rest of an over-long line that was the first line of its packet (or the
    /// banner): drop through its line end; the next byte starts a new packet.
    Line,
    /// The rest of an oversized legacy body: drop through [`END_COMMAND`], then
    /// the rest of the packet as for [`Skip::Packet`].
    Marker,
    /// The rest of a packet: drop lines up to the empty line that ends it.
    Packet(LineSoFar),
}

/// What has been dropped of the current line while skipping to a packet's end,
/// which tells whether its line end makes it the empty line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineSoFar {
    /// Nothing yet.
    Nothing,
    /// A lone `\r`, which may be half of an empty line.
    Cr,
    /// Content: this line is not the empty one.
    Content,
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
/// # Limits and resynchronisation
///
/// A packet that crosses a [`Limits`] bound is reported as [`Parsed::Malformed`] the
/// moment it crosses it, without waiting for the rest of it (a line that never ends
/// is reported as soon as it is one byte over `max_packet_bytes`). The parser then
/// drops bytes as they arrive, holding none of them (at most the 14 bytes an end
/// marker split across two reads needs), until it is back in step:
///
/// - Over `max_lines`, or over `max_packet_bytes` in any line but the first: the
///   packet had a beginning, so the rest of it is dropped up to the empty line that
///   ends it, and the next packet starts after that. If the crossing happened
///   inside a line, that line is dropped through its line end first (it cannot be
///   the empty one), then lines up to the empty line.
/// - Over `max_packet_bytes` in the first line of a packet (or the banner): there
///   is no packet structure to follow, only one endless line, so the parser drops
///   through that line's end and the next byte starts a new packet. The reply that
///   follows such a line is therefore parsed intact. The price: when the line was
///   the huge first line of a real packet, that packet's other lines come out as a
///   packet of their own, whose first line is neither `Response:` nor `Event:`
///   ([`PacketKind::Other`](crate::PacketKind::Other)), so it is never taken for
///   a reply or an event.
/// - Over `max_packet_bytes` inside a legacy `Response: Follows` body: dropped
///   through the `--END COMMAND--` marker, then up to the empty line.
/// - A packet over `max_packet_bytes` only because of the empty line that ends it
///   is complete: reported, nothing more to drop.
///
/// Each dropped packet is reported exactly once, and every item (the report
/// included) is the same whether the input is fed whole, byte by byte or in any
/// chunks. Memory stays bounded by the limit plus one read.
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
    /// Bytes copied in ([`Parser::feed`], [`Parser::buffer_mut`]), and the start
    /// of an item that a chunk given by [`Parser::feed_bytes`] left incomplete.
    buf: BytesMut,
    /// What is left of the chunk given by [`Parser::feed_bytes`]: it comes after
    /// `buf`, and is parsed where it lies while `buf` is empty.
    chunk: Bytes,
    /// Size of the input buffer's next block (see [`GROW_BLOCK`]).
    next_block: usize,
    scan: Scanner,
}

/// The parser's state between reads: where it is in the input and in the
/// packet being read. Positions are relative to the start of the input being
/// scanned (the parser's buffer, or a chunk parsed where it lies).
#[derive(Debug)]
struct Scanner {
    /// Start of the first line not yet scanned.
    pos: usize,
    /// Lines of the packet being read; the packet starts at the input's start.
    lines: LineTableBuf,
    /// Offsets of a legacy body inside the packet being read.
    body: Option<(u32, u32)>,
    state: State,
    limits: Limits,
    marker: memmem::Finder<'static>,
    /// Where the last scan stopped inside the incomplete line at `pos`, when it
    /// needed more bytes: the next scan looks for the line end from there, so a
    /// long line that arrives in many small reads is scanned once, not once per
    /// read (quadratic). Valid for the next scan only (it is taken there); the
    /// input is only appended to in between.
    resume: Option<usize>,
}

/// The input a [`Scanner`] reads: the parser's own buffer, or a chunk given to
/// it, parsed where it lies. Items are split off its front.
trait Input: std::ops::Deref<Target = [u8]> {
    /// The first `len` bytes, split off as a shared slice.
    fn take_front(&mut self, len: usize) -> Bytes;
    /// Drops the first `len` bytes.
    fn advance(&mut self, len: usize);
    /// Drops every byte.
    fn clear(&mut self);
}

impl Input for BytesMut {
    #[inline]
    fn take_front(&mut self, len: usize) -> Bytes {
        self.split_to(len).freeze()
    }

    #[inline]
    fn advance(&mut self, len: usize) {
        Buf::advance(self, len);
    }

    fn clear(&mut self) {
        BytesMut::clear(self);
    }
}

impl Input for Bytes {
    #[inline]
    fn take_front(&mut self, len: usize) -> Bytes {
        self.split_to(len)
    }

    #[inline]
    fn advance(&mut self, len: usize) {
        Buf::advance(self, len);
    }

    fn clear(&mut self) {
        Bytes::clear(self);
    }
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
        parser.scan.state = State::Lines;
        parser
    }

    /// A server-side parser (no banner) with the given limits.
    #[cfg(feature = "serde")]
    pub(crate) fn without_banner_with_limits(limits: Limits) -> Self {
        let mut parser = Parser::with_limits(limits);
        parser.scan.state = State::Lines;
        parser
    }

    /// A client-side parser with the given limits. `max_packet_bytes` is capped
    /// at 4 GiB - 1, since line offsets are stored in 32 bits.
    pub fn with_limits(mut limits: Limits) -> Self {
        limits.max_packet_bytes = limits.max_packet_bytes.min(u32::MAX as usize - 1);
        Parser {
            buf: BytesMut::new(),
            chunk: Bytes::new(),
            next_block: MIN_GROW_BLOCK,
            scan: Scanner {
                pos: 0,
                lines: LineTableBuf::default(),
                body: None,
                state: State::Banner,
                limits,
                marker: memmem::Finder::new(END_COMMAND),
                resume: None,
            },
        }
    }

    /// Expects no banner: the input starts with packets (AMI over HTTP).
    pub(crate) fn skip_banner(&mut self) {
        self.scan.state = State::Lines;
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.scan.limits
    }

    /// Appends received bytes, copying them.
    pub fn feed(&mut self, data: &[u8]) {
        self.absorb_chunk();
        self.reserve(data.len());
        self.buf.extend_from_slice(data);
    }

    /// Appends received bytes without copying them: packets are parsed where they
    /// lie and come out as slices of `data`. Only what an incomplete packet at the
    /// end of `data` needs is copied, to be completed by the bytes that follow.
    /// The way to feed a chunk one already owns (an HTTP body's, a read buffer
    /// split off); the items are the same as [`Parser::feed`]'s.
    ///
    /// ```
    /// use ami_proto::{Parser, Parsed};
    /// use bytes::Bytes;
    ///
    /// let mut parser = Parser::without_banner();
    /// let read = Bytes::from_static(b"Event: A\r\n\r\nEvent: B\r\nX: ");
    /// parser.feed_bytes(read.clone());
    /// let Some(Parsed::Packet(a)) = parser.next() else { panic!() };
    /// assert_eq!(a.as_bytes().as_ptr(), read.as_ptr()); // not copied
    /// assert_eq!(parser.next(), None);
    /// parser.feed_bytes(Bytes::from_static(b"1\r\n\r\n"));
    /// let Some(Parsed::Packet(b)) = parser.next() else { panic!() };
    /// assert_eq!(b.get("X").unwrap(), "1");
    /// ```
    pub fn feed_bytes(&mut self, data: Bytes) {
        self.absorb_chunk();
        self.chunk = data;
    }

    /// Moves what is left of the chunk into the buffer, so that bytes can be
    /// appended after it.
    fn absorb_chunk(&mut self) {
        if !self.chunk.is_empty() {
            let chunk = std::mem::take(&mut self.chunk);
            self.reserve(chunk.len());
            self.buf.extend_from_slice(&chunk);
        }
    }

    /// Makes room for at least `additional` more bytes in [`Parser::buffer_mut`],
    /// growing in blocks so that small reads do not each allocate: 4 KiB first,
    /// then twice the last block, up to 64 KiB.
    pub fn reserve(&mut self, additional: usize) {
        if self.buf.capacity() - self.buf.len() < additional {
            self.grow(additional);
        }
    }

    #[cold]
    fn grow(&mut self, additional: usize) {
        self.buf.reserve(additional.max(self.next_block));
        self.next_block = (self.next_block * 2).min(GROW_BLOCK);
    }

    /// The input buffer, for adapters that read from a socket straight into it
    /// (e.g. tokio's `read_buf`) instead of calling [`Parser::feed`]. Only append.
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        self.absorb_chunk();
        &mut self.buf
    }

    /// Bytes received but not yet part of a returned item (an incomplete packet).
    pub fn buffered(&self) -> usize {
        self.buf.len() + self.chunk.len()
    }

    /// The next item: from the chunk where it lies while nothing is buffered,
    /// else from the buffer, which takes from the chunk what completes its item.
    fn next_item(&mut self) -> Option<Parsed> {
        loop {
            if self.buf.is_empty() {
                if let Some(item) = self.scan.next_item(&mut self.chunk) {
                    return Some(item);
                }
                // The chunk ends inside an item: keep its start where what
                // follows can be appended to it. Positions stay valid: the
                // buffer now starts where the chunk did.
                self.absorb_chunk();
                return None;
            }
            if let Some(item) = self.scan.next_item(&mut self.buf) {
                return Some(item);
            }
            if self.chunk.is_empty() {
                return None;
            }
            if self.buf.is_empty() {
                // Dropped, not incomplete (a packet over the limits).
                continue;
            }
            let len = self.scan.completing(&self.buf, &self.chunk);
            self.reserve(len);
            self.buf.extend_from_slice(&self.chunk[..len]);
            Buf::advance(&mut self.chunk, len);
        }
    }
}

impl Scanner {
    /// How much of `chunk`, which follows `buf`, to copy into `buf` to complete
    /// the packet it holds: through the first empty line, or all of it. Any
    /// answer is correct (the bytes are moved in order); this one moves as few
    /// as it can, so that the packets after it are parsed where they lie. Not
    /// known for a legacy body, whose text may hold empty lines: all of it.
    fn completing(&self, buf: &[u8], chunk: &[u8]) -> usize {
        if self.state != State::Lines {
            return chunk.len();
        }
        let mut line_start = 0;
        // The chunk's first line continues the buffer's incomplete one.
        let mut before = &buf[self.pos.min(buf.len())..];
        for nl in LineEnds::new(chunk) {
            let line = &chunk[line_start..nl];
            let empty = matches!((before, line), (b"", b"" | b"\r") | (b"\r", b""));
            if empty {
                return nl + 1;
            }
            before = b"";
            line_start = nl + 1;
        }
        chunk.len()
    }

    fn next_item<B: Input>(&mut self, buf: &mut B) -> Option<Parsed> {
        loop {
            let step = match self.state {
                State::Banner => self.read_banner(buf),
                State::Lines => self.read_lines(buf),
                State::Follows { marker_scan } => self.read_follows(buf, marker_scan),
                State::Skip(skip) => self.skip(buf, skip),
            };
            match step {
                Step::Item(item) => return Some(item),
                Step::Continue => {}
                Step::NeedMore => return None,
            }
        }
    }

    fn read_banner<B: Input>(&mut self, buf: &mut B) -> Step {
        let max = self.limits.max_packet_bytes;
        // `pos` is where the previous call stopped looking for the line end.
        let found = memchr::memchr(b'\n', &buf[self.pos..]).map(|at| self.pos + at);
        match found {
            Some(nl) if nl < max => {
                self.pos = 0;
                let line = buf.take_front(nl + 1);
                let end = content_end(&line, 0, nl);
                self.state = State::Lines;
                Step::Item(Parsed::Banner(Banner {
                    line: line.slice(..end),
                }))
            }
            Some(nl) => {
                let report = self.too_large(buf);
                self.drop_packet(buf, report, nl + 1, State::Lines)
            }
            None if buf.len() > max => {
                let report = self.too_large(buf);
                let len = buf.len();
                self.drop_packet(buf, report, len, State::Skip(Skip::Line))
            }
            None => {
                self.pos = buf.len();
                Step::NeedMore
            }
        }
    }

    /// The hot path: index lines until an empty one ends the packet.
    fn read_lines<B: Input>(&mut self, buf: &mut B) -> Step {
        match self.scan_lines(buf) {
            Scan::Packet(len) => Step::Item(Parsed::Packet(self.take_packet(buf, len))),
            Scan::EmptyPacket(len) => {
                // E.g. the second LF of `\r\n\n`: nothing to report.
                buf.advance(len);
                self.pos = 0;
                Step::Continue
            }
            Scan::CompleteButTooLarge(len) => {
                let report = self.too_large(buf);
                self.drop_packet(buf, report, len, State::Lines)
            }
            Scan::TooLarge { line_end, first } => {
                let report = self.too_large(buf);
                let then = if first {
                    State::Lines
                } else {
                    State::Skip(Skip::Packet(LineSoFar::Nothing))
                };
                self.drop_packet(buf, report, line_end, then)
            }
            Scan::TooManyLines(line_end) => {
                let limit = self.limits.max_lines;
                let report = self.malformed(buf, MalformedReason::TooManyLines { limit }, line_end);
                let then = State::Skip(Skip::Packet(LineSoFar::Nothing));
                self.drop_packet(buf, report, line_end, then)
            }
            Scan::LegacyBody => {
                self.state = State::Follows {
                    marker_scan: self.pos,
                };
                Step::Continue
            }
            Scan::NeedMore => {
                if self.partial_line_over_limit(buf) {
                    let report = self.too_large(buf);
                    let then = if self.lines.is_empty() {
                        Skip::Line
                    } else {
                        Skip::Packet(LineSoFar::Content)
                    };
                    let len = buf.len();
                    return self.drop_packet(buf, report, len, State::Skip(then));
                }
                self.resume = Some(buf.len());
                Step::NeedMore
            }
        }
    }

    /// Indexes complete lines from `self.pos` on and says what stopped it. Leaves
    /// `self.pos` at the first line not indexed.
    fn scan_lines(&mut self, buf: &[u8]) -> Scan {
        let from = self.resume.take().map_or(self.pos, |at| at.max(self.pos));
        let (scan, pos) = index_lines(buf, self.pos, from, self.limits, &mut self.lines);
        self.pos = pos;
        scan
    }

    /// Whether the incomplete line at `pos` has taken the packet past the size
    /// limit. A lone `\r` does not count yet: it may be half of the empty line that
    /// ends the packet, which [`Scan::CompleteButTooLarge`] reports once complete.
    /// Either way the report is the same as if the line had arrived whole.
    fn partial_line_over_limit(&self, buf: &[u8]) -> bool {
        let partial = &buf[self.pos..];
        buf.len() > self.limits.max_packet_bytes && !partial.is_empty() && partial != b"\r"
    }

    /// The report for the packet at `buf[0]`, which has just gone one byte past
    /// the size limit.
    fn too_large(&self, buf: &[u8]) -> Parsed {
        let limit = self.limits.max_packet_bytes;
        self.malformed(buf, MalformedReason::TooLarge { limit }, limit + 1)
    }

    /// The report for the packet at `buf[0]`. Its head is taken only from the
    /// bytes up to the one that crossed the size limit, so it is the same however
    /// many more bytes happen to be buffered.
    fn malformed(&self, buf: &[u8], reason: MalformedReason, size: usize) -> Parsed {
        const HEAD: usize = 64;
        // Two bytes more than the head, to see a line end right after it.
        let seen = buf
            .len()
            .min(self.limits.max_packet_bytes + 1)
            .min(HEAD + 2);
        let seen = &buf[..seen];
        let end = match memchr::memchr(b'\n', seen) {
            Some(nl) => content_end(seen, 0, nl),
            None => seen.len(),
        };
        Parsed::Malformed(Malformed {
            reason,
            size,
            head: Bytes::copy_from_slice(&seen[..end.min(HEAD)]),
        })
    }

    /// Drops the first `len` bytes of the packet being read (already reported),
    /// then goes on in state `then`.
    fn drop_packet<B: Input>(
        &mut self,
        buf: &mut B,
        report: Parsed,
        len: usize,
        then: State,
    ) -> Step {
        buf.advance(len);
        self.forget_packet();
        self.state = then;
        Step::Item(report)
    }

    /// Legacy body: CRLF header lines, then raw text up to `--END COMMAND--`.
    fn read_follows<B: Input>(&mut self, buf: &mut B, marker_scan: usize) -> Step {
        let Some(found) = self.marker.find(&buf[marker_scan..]) else {
            if buf.len() > self.limits.max_packet_bytes {
                // Keep enough bytes to find a marker split across two reads.
                let keep_from = buf
                    .len()
                    .saturating_sub(END_COMMAND.len() - 1)
                    .max(self.pos);
                let report = self.too_large(buf);
                return self.drop_packet(buf, report, keep_from, State::Skip(Skip::Marker));
            }
            let resume = buf
                .len()
                .saturating_sub(END_COMMAND.len() - 1)
                .max(self.pos);
            self.state = State::Follows {
                marker_scan: resume,
            };
            return Step::NeedMore;
        };
        let marker = marker_scan + found;
        let marker_end = marker + END_COMMAND.len();
        if marker_end > self.limits.max_packet_bytes {
            // Drop through the marker; what follows it is read as after a kept body.
            let report = self.too_large(buf);
            let then = State::Skip(Skip::Packet(LineSoFar::Nothing));
            return self.drop_packet(buf, report, marker_end, then);
        }
        let body_start = self.index_legacy_headers(buf, marker);
        self.body = Some((body_start as u32, marker as u32));
        // What follows the marker is read as ordinary lines up to the empty line.
        self.pos = marker + END_COMMAND.len();
        self.state = State::Lines;
        Step::Continue
    }

    /// Indexes the `Key: Value\r\n` lines that precede a legacy body (`Privilege`,
    /// `ActionID`); the body starts at the first line that is not one.
    fn index_legacy_headers(&mut self, buf: &[u8], marker: usize) -> usize {
        let mut pos = self.pos;
        while let Some(offset) = memchr::memchr(b'\n', &buf[pos..marker]) {
            let nl = pos + offset;
            let crlf = nl > pos && buf[nl - 1] == b'\r';
            let colon = find_separator(&buf[pos..nl]);
            match colon {
                Some(_) if crlf && self.lines.len() < self.limits.max_lines => {
                    self.lines.push(nl);
                    if is_action_id_line(&buf[pos..nl - 1]) {
                        self.lines.mark_action_id();
                    }
                    pos = nl + 1;
                }
                _ => break,
            }
        }
        pos
    }

    fn take_packet<B: Input>(&mut self, buf: &mut B, len: usize) -> Packet {
        let bytes = buf.take_front(len);
        let packet = Packet::new(bytes, self.lines.take(len), self.body);
        self.forget_packet();
        packet
    }

    /// Clears what was indexed of the packet just taken or dropped.
    fn forget_packet(&mut self) {
        self.lines.clear();
        self.body = None;
        self.pos = 0;
    }

    /// Drops what is left of a reported packet as it arrives, holding no bytes
    /// but a possibly split end marker, until the parser is back in step.
    fn skip<B: Input>(&mut self, buf: &mut B, skip: Skip) -> Step {
        match skip {
            Skip::Line => {
                let Some(nl) = memchr::memchr(b'\n', buf) else {
                    buf.clear();
                    return Step::NeedMore;
                };
                buf.advance(nl + 1);
                self.state = State::Lines;
                Step::Continue
            }
            Skip::Marker => {
                let Some(found) = self.marker.find(buf) else {
                    let drop = buf.len().saturating_sub(END_COMMAND.len() - 1);
                    buf.advance(drop);
                    return Step::NeedMore;
                };
                buf.advance(found + END_COMMAND.len());
                // As for a kept body, the rest of the marker's line may be the
                // empty line.
                self.state = State::Skip(Skip::Packet(LineSoFar::Nothing));
                Step::Continue
            }
            Skip::Packet(mut so_far) => {
                while let Some(nl) = memchr::memchr(b'\n', buf) {
                    let empty = match so_far {
                        LineSoFar::Nothing => content_end(buf, 0, nl) == 0,
                        LineSoFar::Cr => nl == 0,
                        LineSoFar::Content => false,
                    };
                    buf.advance(nl + 1);
                    if empty {
                        self.state = State::Lines;
                        return Step::Continue;
                    }
                    so_far = LineSoFar::Nothing;
                }
                so_far = match (so_far, &buf[..]) {
                    (_, []) => so_far,
                    (LineSoFar::Nothing, b"\r") => LineSoFar::Cr,
                    _ => LineSoFar::Content,
                };
                buf.clear();
                self.state = State::Skip(Skip::Packet(so_far));
                Step::NeedMore
            }
        }
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
    /// A line ending at this offset took the packet past the size limit; `first`
    /// when it was the packet's first line.
    TooLarge {
        line_end: usize,
        first: bool,
    },
    /// The line ending at this offset was one too many.
    TooManyLines(usize),
    /// The first line opened a legacy `Response: Follows` body.
    LegacyBody,
    NeedMore,
}

/// Indexes the complete lines of `buf` from `start` on into `lines`, noting the
/// first `ActionID` line, and says what stopped it and where the first line not
/// indexed starts.
///
/// The buffer is classified [`BLOCK`] bytes at a time into a bitmask of its line
/// ends, whose set bits are then visited in order: one straight-line pass per
/// block instead of a search restarted after every line end. A block without a
/// line end is in a long line: `memchr` skips to its end, since it moves faster
/// than 64 bytes at a time through bytes it has nothing to report about.
///
/// Each line is checked against the limits, the legacy body and the empty line
/// that ends the packet. Once the packet's first line is behind and the blocks
/// ahead are whole and within the limits, [`index_plain_run`] takes over, with
/// only the tests such lines need.
///
/// The loops keep the table's count in locals, written back at each exit:
/// pushes through `lines` would make the compiler reload and store the count
/// around every entry written.
#[inline]
fn index_lines(
    buf: &[u8],
    start: usize,
    from: usize,
    limits: Limits,
    lines: &mut LineTableBuf,
) -> (Scan, usize) {
    let mut state = Lines {
        line_start: start,
        count: lines.len(),
        action_id: lines.action_id,
    };
    // Whole blocks that end here or before hold no line that takes the packet
    // past the size limit.
    let plain_end = buf.len().min(limits.max_packet_bytes);
    // `buf[start..from]` is known to hold no line end (a previous scan's).
    let mut block_at = from;
    let (scan, pos) = 'scan: loop {
        if block_at >= buf.len() {
            break 'scan (Scan::NeedMore, state.line_start);
        }
        // Room for every line end the block can hold (the table is allocated
        // only once there are bytes to index).
        let (table, _) = lines.room_for(BLOCK);
        let block = &buf[block_at..buf.len().min(block_at + BLOCK)];
        let mut mask = newline_mask_at(buf, block_at);
        if mask == 0 {
            block_at = match memchr::memchr(b'\n', &buf[block_at + block.len()..]) {
                Some(at) => block_at + block.len() + at,
                None => buf.len(),
            };
            continue;
        }
        while mask != 0 {
            let nl = block_at + mask.trailing_zeros() as usize;
            mask &= mask - 1;
            let next = nl + 1;
            let line_start = state.line_start;
            // Empty: nothing, or a lone `\r`, before the line end (one
            // compare for the common line, wider than that).
            let width = nl - line_start;
            if width <= 1 && (width == 0 || buf[line_start] == b'\r') {
                let scan = if state.count == 0 {
                    Scan::EmptyPacket(next)
                } else if next > limits.max_packet_bytes {
                    Scan::CompleteButTooLarge(next)
                } else {
                    Scan::Packet(next)
                };
                break 'scan (scan, line_start);
            }
            if next > limits.max_packet_bytes {
                let first = state.count == 0;
                let scan = Scan::TooLarge {
                    line_end: next,
                    first,
                };
                break 'scan (scan, line_start);
            }
            let at = state.count * INDEX_BYTES;
            table[at..at + INDEX_BYTES].copy_from_slice(&entry(nl));
            state.note_action_id(buf);
            state.count += 1;
            state.line_start = next;
            if state.count > limits.max_lines {
                break 'scan (Scan::TooManyLines(next), next);
            }
            if line_start == 0 && is_legacy_first_line(&buf[..nl]) {
                break 'scan (Scan::LegacyBody, next);
            }
            if block_at + BLOCK <= plain_end && state.count + BLOCK <= limits.max_lines {
                lines.set_len(state.count);
                match index_plain_run(buf, plain_end, block_at, mask, &mut state, lines, limits) {
                    Ok(next) => break 'scan (Scan::Packet(next), state.line_start),
                    Err(stopped_at) => {
                        block_at = stopped_at;
                        continue 'scan;
                    }
                }
            }
        }
        lines.set_len(state.count);
        block_at += block.len();
    };
    lines.set_len(state.count);
    lines.action_id = state.action_id;
    (scan, pos)
}

/// Where [`index_lines`] is in a packet: the current line's start, the lines
/// indexed, and the first `ActionID` line's number.
struct Lines {
    line_start: usize,
    count: usize,
    action_id: Option<u32>,
}

impl Lines {
    /// Notes the current line (line number `count`) if it is the packet's first
    /// `ActionID` line. Its first 10 bytes decide, whether its line end is among
    /// them or not: no byte of `ActionID: ` is a `\n`.
    #[inline(always)]
    fn note_action_id(&mut self, buf: &[u8]) {
        if self.action_id.is_none() && is_action_id_line(&buf[self.line_start..]) {
            self.action_id = Some(self.count as u32);
        }
    }
}

/// Indexes the lines of whole blocks, from the one at `block_at` with the line
/// ends `mask` not yet visited, while no line can take the packet past a limit
/// (the blocks end at or before `plain_end`, and the table and `max_lines`
/// have room for every line end a block can hold) and the packet's first line
/// is behind: a line is then the packet's end or an entry, nothing else.
/// Returns `Ok` with the packet's length once its empty line is found, or `Err`
/// with the first block not looked at.
#[inline(always)]
fn index_plain_run(
    buf: &[u8],
    plain_end: usize,
    mut block_at: usize,
    mut mask: u64,
    state: &mut Lines,
    lines: &mut LineTableBuf,
    limits: Limits,
) -> Result<usize, usize> {
    let (table, first) = lines.room_for(BLOCK);
    let room = (table.len() / INDEX_BYTES - first).min(limits.max_lines - first);
    let table = &mut table[first * INDEX_BYTES..(first + room) * INDEX_BYTES];
    let result = 'run: loop {
        // One bounds check per block: then at most one entry per bit of the
        // mask, which `& (BLOCK - 1)` tells the compiler.
        let written = state.count - first;
        let slots = table
            .get_mut(written * INDEX_BYTES..(written + BLOCK) * INDEX_BYTES)
            .and_then(|slots| <&mut [u8; BLOCK * INDEX_BYTES]>::try_from(slots).ok());
        let Some(slots) = slots else {
            break 'run Err(block_at);
        };
        let mut slot = 0;
        while mask != 0 {
            let nl = block_at + mask.trailing_zeros() as usize;
            mask &= mask - 1;
            let width = nl - state.line_start;
            if width <= 1 && (width == 0 || buf[state.line_start] == b'\r') {
                break 'run Ok(nl + 1);
            }
            let at = (slot & (BLOCK - 1)) * INDEX_BYTES;
            slots[at..at + INDEX_BYTES].copy_from_slice(&entry(nl));
            slot += 1;
            state.note_action_id(buf);
            state.count += 1;
            state.line_start = nl + 1;
        }
        block_at += BLOCK;
        let next_block = buf
            .get(block_at..block_at + BLOCK)
            .filter(|_| block_at + BLOCK <= plain_end)
            .and_then(|block| <&[u8; BLOCK]>::try_from(block).ok());
        let Some(block) = next_block else {
            break 'run Err(block_at);
        };
        mask = full_mask(block);
        if mask == 0 {
            // In a long line: `index_lines` skips to its end with `memchr`.
            break 'run Err(block_at);
        }
    };
    lines.set_len(state.count);
    result
}

/// Whether the first line of a packet, up to its `\n`, opens a legacy
/// `Response: Follows` body.
#[inline]
fn is_legacy_first_line(line: &[u8]) -> bool {
    line[..content_end(line, 0, line.len())].eq_ignore_ascii_case(b"Response: Follows")
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A line that arrives a byte at a time is scanned once: each scan starts
    /// where the last one stopped, not at the line's start (which made a long
    /// line trickled in small reads cost quadratic time).
    #[test]
    fn a_long_line_in_small_reads_is_scanned_from_where_the_last_scan_stopped() {
        let mut parser = Parser::without_banner();
        parser.feed(b"Event: Long\r\nValue: ");
        assert!(parser.next().is_none());
        for _ in 0..10_000 {
            parser.feed(b"x");
            assert!(parser.next().is_none());
            assert_eq!(parser.scan.resume, Some(parser.buf.len()));
        }
        parser.feed(b"\r\n\r\n");
        match parser.next() {
            Some(Parsed::Packet(packet)) => {
                let value = packet.get("Value").map(|v| v.as_bytes().len());
                assert_eq!(value, Some(10_000));
                assert!(packet.is("Event", "Long"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parser.scan.resume, None,
            "taken by the scan that completed it"
        );
    }
}
