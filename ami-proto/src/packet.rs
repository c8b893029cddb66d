//! A parsed AMI packet: one shared byte slice plus a compact index of its lines.

use std::borrow::Cow;
use std::fmt;

use bytes::{Bytes, BytesMut};

/// What a packet is, decided from its first line only.
///
/// `OriginateResponse` is an [`PacketKind::Event`] even though it also carries a
/// `Response:` header: only the first line counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// First line is `Response: ...`.
    Response,
    /// First line is `Event: ...`.
    Event,
    /// First line is `Action: ...` (what a server reads from a client).
    Action,
    /// Anything else.
    Other,
}

/// Offsets of one line inside a packet's bytes, line ending excluded, worked
/// out from the table when the line is read. So is where its `": "` is: most
/// lines of most packets are never looked at, and lookups by key need no
/// separator at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LineIndex {
    pub(crate) start: u32,
    pub(crate) end: u32,
}

/// Bytes one line takes in a line table: where its `\n` is, 32-bit
/// little-endian. Its start and the end of its content are worked out when it
/// is read (see [`line_index`]), so that the scanning loop stores one number
/// per line and reads no byte but the first of each line.
pub(crate) const INDEX_BYTES: usize = 4;

/// The marker that ends a legacy `Response: Follows` body.
pub(crate) const END_COMMAND: &[u8] = b"--END COMMAND--";

/// Its length, for offsets into a packet.
const END_COMMAND_LEN: u32 = END_COMMAND.len() as u32;

/// The parser's table of line ends, written in place in a shared block: the
/// current packet's entries are the front of `block`, whose length is the room
/// left in it (zero-filled when the block is made), so that the scanning loop
/// writes an entry with a plain indexed store. A finished packet copies its
/// entries into itself when they are few, or takes them with a split, like its
/// data: no allocation per packet either way (see [`LineTableBuf::take`]).
#[derive(Debug)]
pub(crate) struct LineTableBuf {
    /// [`INDEX_BYTES`] per line. Packets taken before may hold slices in front
    /// of it.
    block: BytesMut,
    /// Lines of the packet being read, in `block[..count * INDEX_BYTES]`.
    count: usize,
    /// Line number of the packet's first `ActionID` line, found while indexing
    /// so that routing a packet needs no second scan.
    pub(crate) action_id: Option<u32>,
    /// Size of the next block: small first, so that an idle connection holds
    /// little, then doubling up to [`MAX_TABLE_BLOCK`] under load.
    next_block: usize,
}

/// First line-table block: 128 lines.
const MIN_TABLE_BLOCK: usize = 128 * INDEX_BYTES;
/// Largest line-table block: 4,096 lines, about two hundred packets.
const MAX_TABLE_BLOCK: usize = 16 * 1024;

impl Default for LineTableBuf {
    fn default() -> Self {
        LineTableBuf {
            block: BytesMut::new(),
            count: 0,
            action_id: None,
            next_block: MIN_TABLE_BLOCK,
        }
    }
}

/// The table entry of a line whose `\n` is at `nl`.
#[inline]
pub(crate) fn entry(nl: usize) -> [u8; INDEX_BYTES] {
    (nl as u32).to_le_bytes()
}

impl LineTableBuf {
    /// The table, with room for `lines` more entries than it holds, and the
    /// number it holds: the scanning loop writes entries in place and hands the
    /// new count back through [`LineTableBuf::set_len`].
    #[inline]
    pub(crate) fn room_for(&mut self, lines: usize) -> (&mut [u8], usize) {
        if self.block.len() < (self.count + lines) * INDEX_BYTES {
            self.grow(lines);
        }
        (&mut self.block, self.count)
    }

    /// A new block (or the old one reclaimed, once every packet that shared it
    /// is gone) with the current packet's entries moved to its front.
    #[cold]
    fn grow(&mut self, lines: usize) {
        let needed = (self.count + lines) * INDEX_BYTES;
        self.block.truncate(self.count * INDEX_BYTES);
        self.block
            .reserve(needed.max(self.next_block) - self.block.len());
        self.next_block = (self.next_block * 2).min(MAX_TABLE_BLOCK);
        self.block.resize(self.block.capacity(), 0);
    }

    /// Sets the number of lines held, after entries were written through
    /// [`LineTableBuf::room_for`].
    #[inline]
    pub(crate) fn set_len(&mut self, count: usize) {
        self.count = count;
    }

    /// Adds the line whose `\n` is at `nl`.
    pub(crate) fn push(&mut self, nl: usize) {
        let (table, count) = self.room_for(1);
        let at = count * INDEX_BYTES;
        table[at..at + INDEX_BYTES].copy_from_slice(&entry(nl));
        self.count += 1;
    }

    /// Records that the line just pushed is the packet's first `ActionID` line.
    pub(crate) fn mark_action_id(&mut self) {
        if self.action_id.is_none() {
            self.action_id = Some((self.count - 1) as u32);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.count
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub(crate) fn clear(&mut self) {
        self.count = 0;
        self.action_id = None;
    }

    /// The table of the packet just read, of `len` bytes; the buffer is left
    /// empty. A packet of at most [`INLINE_LINES`] lines and under 64 KiB keeps
    /// its line ends in itself, and the block is written over by the next
    /// packet: no reference count to take and drop per packet, which cost
    /// about a fifth of the parser's time. Other packets take their entries
    /// from the block as a shared slice.
    pub(crate) fn take(&mut self, len: usize) -> LineTable {
        let count = std::mem::take(&mut self.count);
        let action_id = self.action_id.take();
        if count <= INLINE_LINES && len <= usize::from(u16::MAX) {
            let mut nls = [0u16; INLINE_LINES];
            let entries = self.block[..count * INDEX_BYTES].chunks_exact(INDEX_BYTES);
            for (nl, entry) in nls.iter_mut().zip(entries) {
                // The entry's low half, little-endian: it fits, as every offset
                // is below `len`.
                *nl = u16::from_le_bytes([entry[0], entry[1]]);
            }
            return LineTable::Inline {
                count: count as u8,
                action_id: action_id.map_or(NO_LINE, |line| line as u8),
                nls,
            };
        }
        LineTable::Shared {
            entries: self.block.split_to(count * INDEX_BYTES).freeze(),
            action_id,
        }
    }
}

/// Most lines a packet keeps in itself (see [`LineTableBuf::take`]): 96.5 %
/// of the packets of the Asterisk 22 corpus (the rest, events with two
/// channels' fields such as `DialBegin`, have up to 33). No more, so that a
/// packet stays at 104 bytes and the enums that carry it through the client
/// (`Event`, `Output`, `Update`) at 120 or less: moves of up to 128 bytes are
/// inlined, larger ones are `memcpy` calls (+5 % events/s through ami-tokio
/// against 32 lines, whose `Output` was 136 bytes).
pub(crate) const INLINE_LINES: usize = 24;

/// The inline table's "no `ActionID` line".
const NO_LINE: u8 = u8::MAX;

/// One packet's line ends, and where its first `ActionID` line is.
#[derive(Clone)]
pub(crate) enum LineTable {
    /// Where each line's `\n` is, as 16 bits.
    Inline {
        count: u8,
        /// Line number, or [`NO_LINE`].
        action_id: u8,
        nls: [u16; INLINE_LINES],
    },
    /// A cheap, shared slice of the parser's table: [`INDEX_BYTES`] per line.
    Shared {
        entries: Bytes,
        action_id: Option<u32>,
    },
}

impl LineTable {
    /// The table of a packet of no lines.
    #[cfg(feature = "serde")]
    pub(crate) fn empty() -> Self {
        LineTable::Shared {
            entries: Bytes::new(),
            action_id: None,
        }
    }

    /// The same table, its shared entries copied (see [`Packet::detach`]).
    fn detach(&self) -> Self {
        match self {
            LineTable::Shared { entries, action_id } => LineTable::Shared {
                entries: Bytes::copy_from_slice(entries),
                action_id: *action_id,
            },
            inline => inline.clone(),
        }
    }

    fn len(&self) -> usize {
        match self {
            LineTable::Inline { count, .. } => usize::from(*count),
            LineTable::Shared { entries, .. } => entries.len() / INDEX_BYTES,
        }
    }

    fn action_id(&self) -> Option<usize> {
        match self {
            LineTable::Inline { action_id, .. } => {
                Some(usize::from(*action_id)).filter(|_| *action_id != NO_LINE)
            }
            LineTable::Shared { action_id, .. } => action_id.map(|line| line as usize),
        }
    }

    /// Where the `\n` of line `line` is.
    #[inline]
    fn nl(&self, line: usize) -> Option<u32> {
        match self {
            LineTable::Inline { count, nls, .. } => nls[..usize::from(*count)]
                .get(line)
                .map(|&nl| u32::from(nl)),
            LineTable::Shared { entries, .. } => {
                let at = line * INDEX_BYTES;
                let entry = entries.get(at..at + INDEX_BYTES)?;
                Some(u32::from_le_bytes(entry.try_into().unwrap_or_default()))
            }
        }
    }

    /// Line `line` of the packet of `bytes` and legacy `body`.
    fn get(&self, bytes: &[u8], body: Option<(u32, u32)>, line: usize) -> Option<LineIndex> {
        let nl = self.nl(line)?;
        let previous = match line.checked_sub(1) {
            Some(previous) => Some(self.nl(previous)?),
            None => None,
        };
        Some(line_index(bytes, body, previous, nl))
    }

    /// The lines in order, of the packet of `bytes` and legacy `body`.
    fn iter<'a>(
        &'a self,
        bytes: &'a [u8],
        body: Option<(u32, u32)>,
    ) -> impl Iterator<Item = LineIndex> + 'a {
        let mut previous = None;
        (0..self.len()).map_while(move |line| {
            let nl = self.nl(line)?;
            let index = line_index(bytes, body, previous, nl);
            previous = Some(nl);
            Some(index)
        })
    }
}

/// The line whose `\n` is at `nl`, the previous line's at `previous` (`None`
/// for the first line), in a packet of `bytes` and legacy `body`. Lines are
/// contiguous, so a line starts right after the previous one's `\n` (the first
/// at 0), but for the line after a legacy body's header lines: it starts after
/// the body's end marker. Its content ends before a `\r` right before `nl`.
#[inline]
fn line_index(bytes: &[u8], body: Option<(u32, u32)>, previous: Option<u32>, nl: u32) -> LineIndex {
    let start = match (previous, body) {
        (None, _) => 0,
        (Some(previous), Some((body_start, marker))) if previous + 1 == body_start => {
            marker + END_COMMAND_LEN
        }
        (Some(previous), _) => previous + 1,
    };
    let end = match nl.checked_sub(1) {
        Some(before) if before >= start && bytes.get(before as usize) == Some(&b'\r') => before,
        _ => nl,
    };
    LineIndex { start, end }
}

/// Whether a line's key is `ActionID` (ASCII case-insensitive), as
/// `value_of(line, b"ActionID")` would say, in one 8-byte compare: OR-ing 0x20
/// lowercases a letter and maps no other byte to one.
#[inline]
pub(crate) fn is_action_id_line(line: &[u8]) -> bool {
    const ACTIONID: u64 = u64::from_le_bytes(*b"actionid");
    const LOWER: u64 = u64::from_le_bytes([0x20; 8]);
    match line.get(..10) {
        // The first byte alone rules out almost every line, for a load and a
        // compare.
        Some(head) if head[0] | 0x20 == b'a' => {
            let key = u64::from_le_bytes(head[..8].try_into().unwrap_or_default());
            key | LOWER == ACTIONID && head[8..] == *b": "
        }
        _ => false,
    }
}

/// One AMI packet, parsed without copying.
///
/// The packet keeps a cheap, reference-counted slice of the received bytes and an
/// index of its lines. That slice keeps alive the whole buffer the bytes were read
/// into (a client's reads are up to 256 KiB under load), shared with the other
/// packets of the read: to keep a packet for long, keep its
/// [`detach`](Packet::detach)ed copy. Keys are matched case-insensitively and keep their original
/// spelling; repeated keys are kept in wire order (an ordered multimap). Values are
/// bytes: Asterisk does no charset handling, so [`Value`] offers both raw and text views.
///
/// ```
/// use ami_proto::{Parser, Parsed, PacketKind};
///
/// let mut parser = Parser::without_banner();
/// parser.feed(b"Event: Hangup\r\nChannel: PJSIP/100-0001\r\nCause-txt: Normal Clearing\r\n\r\n");
/// let Some(Parsed::Packet(packet)) = parser.next() else { panic!("a packet") };
/// assert_eq!(packet.kind(), PacketKind::Event);
/// assert_eq!(packet.get("channel").unwrap(), "PJSIP/100-0001");
/// assert_eq!(packet.event_name().unwrap(), "Hangup");
/// ```
#[derive(Clone)]
pub struct Packet {
    bytes: Bytes,
    /// A slice of the parser's shared line table: neither parsing nor cloning a
    /// packet (e.g. for every event subscriber) allocates.
    lines: LineTable,
    kind: PacketKind,
    /// Raw body of a legacy `Response: Follows` reply, as offsets into `bytes`.
    body: Option<(u32, u32)>,
}

impl Packet {
    pub(crate) fn new(bytes: Bytes, lines: LineTable, body: Option<(u32, u32)>) -> Self {
        let kind = kind_of(&bytes);
        Packet {
            bytes,
            lines,
            kind,
            body,
        }
    }

    /// The packet's kind, from its first line.
    pub fn kind(&self) -> PacketKind {
        self.kind
    }

    /// The same packet in memory of its own: its bytes and line index copied
    /// out of the buffers it shares with the packets parsed with it, so that
    /// keeping it keeps nothing else alive.
    ///
    /// ```
    /// use ami_proto::{Parser, Parsed};
    /// use bytes::Bytes;
    ///
    /// let read = Bytes::from(b"Event: A\r\nN: 1\r\n\r\nEvent: B\r\n\r\n".to_vec());
    /// let mut parser = Parser::without_banner();
    /// parser.feed_bytes(read.clone());
    /// let Some(Parsed::Packet(a)) = parser.next() else { panic!() };
    /// let kept = a.detach();
    /// assert_eq!(kept, a);
    /// assert_ne!(kept.as_bytes().as_ptr(), read.as_ptr());
    /// ```
    pub fn detach(&self) -> Packet {
        Packet {
            bytes: Bytes::copy_from_slice(&self.bytes),
            lines: self.lines.detach(),
            kind: self.kind,
            body: self.body,
        }
    }

    /// The exact bytes received for this packet, line ends and final empty line included.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The value of the first header named `key` (ASCII case-insensitive).
    pub fn get(&self, key: &str) -> Option<Value<'_>> {
        let key = key.as_bytes();
        if !is_possible_key(key) {
            return None;
        }
        self.lines
            .iter(&self.bytes, self.body)
            .find_map(|index| value_of(self.raw_line(&index), key))
    }

    /// Every value of headers named `key`, in wire order.
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = Value<'a>> + 'a {
        let key = key.as_bytes();
        let possible = is_possible_key(key);
        self.lines
            .iter(&self.bytes, self.body)
            .filter(move |_| possible)
            .filter_map(move |index| value_of(self.raw_line(&index), key))
    }

    /// True when the header `key` is present and its value equals `value`, both
    /// compared ASCII case-insensitively.
    pub fn is(&self, key: &str, value: &str) -> bool {
        self.get(key)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(value.as_bytes()))
    }

    /// Every `Key: Value` field in wire order (lines without `": "` are skipped; see
    /// [`Packet::lines`]).
    pub fn fields(&self) -> impl Iterator<Item = Field<'_>> + '_ {
        self.lines().filter_map(|line| match line {
            Line::Field(field) => Some(field),
            Line::Opaque(_) => None,
        })
    }

    /// Every line in wire order, fields and opaque lines alike.
    pub fn lines(&self) -> impl Iterator<Item = Line<'_>> + '_ {
        self.lines
            .iter(&self.bytes, self.body)
            .map(|index| self.line(&index))
    }

    /// Number of lines in the packet's header section.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// True for a packet with no lines (never produced by the parser).
    pub fn is_empty(&self) -> bool {
        self.lines.len() == 0
    }

    fn raw_line(&self, index: &LineIndex) -> &[u8] {
        &self.bytes[index.start as usize..index.end as usize]
    }

    fn line(&self, index: &LineIndex) -> Line<'_> {
        let line = self.raw_line(index);
        match find_separator(line) {
            Some(colon) => Line::Field(Field {
                key: &line[..colon],
                value: Value(&line[colon + 2..]),
            }),
            None => Line::Opaque(line),
        }
    }

    /// The value of the first line, whose key the packet's kind was decided on.
    fn first_value(&self) -> Option<Value<'_>> {
        let line = self.raw_line(&self.lines.get(&self.bytes, self.body, 0)?);
        find_separator(line).map(|colon| Value(&line[colon + 2..]))
    }

    /// The `Event` header's value, for event packets: the first line's, read
    /// without a search.
    pub fn event_name(&self) -> Option<Value<'_>> {
        match self.kind {
            PacketKind::Event => self.first_value(),
            _ => None,
        }
    }

    /// The `Response` header's value of a response packet (`Success`, `Error`, `Goodbye`,
    /// `Follows`, ...). `None` for events, including `OriginateResponse`.
    pub fn response(&self) -> Option<Value<'_>> {
        match self.kind {
            PacketKind::Response => self.first_value(),
            _ => None,
        }
    }

    /// The first `ActionID` header's value. The parser noted its line while
    /// indexing the packet, so this is a lookup, not a search.
    pub fn action_id(&self) -> Option<Value<'_>> {
        let line = self
            .lines
            .get(&self.bytes, self.body, self.lines.action_id()?)?;
        value_of(self.raw_line(&line), b"ActionID")
    }

    /// `true` for a response whose `Response` is `Error`.
    pub fn is_error(&self) -> bool {
        self.kind == PacketKind::Response && self.is("Response", "Error")
    }

    /// The `Message` header's value.
    pub fn message(&self) -> Option<Value<'_>> {
        self.get("Message")
    }

    /// The lines of a `Command` reply, whichever format the server used: the
    /// `Output:` values (Asterisk 14+) or the raw body of a legacy `Response: Follows`
    /// reply (Asterisk 13 and older) split at line ends.
    ///
    /// ```
    /// use ami_proto::{Parser, Parsed};
    ///
    /// let mut parser = Parser::without_banner();
    /// parser.feed(b"Response: Success\r\nMessage: Command output follows\r\nOutput: a\r\nOutput: b\r\n\r\n");
    /// let Some(Parsed::Packet(packet)) = parser.next() else { panic!() };
    /// let lines: Vec<_> = packet.command_output().map(|v| v.to_str_lossy().into_owned()).collect();
    /// assert_eq!(lines, ["a", "b"]);
    /// ```
    pub fn command_output(&self) -> CommandOutput<'_> {
        match self.body {
            Some((start, end)) => CommandOutput::Legacy(
                self.bytes[start as usize..end as usize]
                    .strip_suffix(b"\n")
                    .unwrap_or(&self.bytes[start as usize..end as usize]),
            ),
            None => CommandOutput::Fields(Box::new(self.get_all("Output"))),
        }
    }

    /// The whole `Command` output as text, lines joined with `\n` (invalid UTF-8 replaced).
    pub fn command_text(&self) -> String {
        let mut text = String::new();
        for (i, line) in self.command_output().enumerate() {
            if i > 0 {
                text.push('\n');
            }
            text.push_str(&line.to_str_lossy());
        }
        text
    }

    /// The raw body of a legacy `Response: Follows` reply, without its end marker.
    pub fn legacy_body(&self) -> Option<&[u8]> {
        self.body
            .map(|(start, end)| &self.bytes[start as usize..end as usize])
    }

    /// The `name=value` pairs of `Variable` and `ChanVariable` headers (legacy
    /// `ChanVariable(channel)` keys included), split at the first `=`.
    /// Values are returned as sent; see [`unescape`](crate::unescape) for C-escaped ones.
    pub fn variables(&self) -> impl Iterator<Item = (Value<'_>, Value<'_>)> + '_ {
        self.fields()
            .filter(|field| {
                field.key.eq_ignore_ascii_case(b"Variable")
                    || starts_with_ignore_case(field.key, b"ChanVariable")
            })
            .filter_map(|field| {
                let bytes = field.value.as_bytes();
                let eq = memchr::memchr(b'=', bytes)?;
                Some((Value(&bytes[..eq]), Value(&bytes[eq + 1..])))
            })
    }

    /// The item count a list's closing event declares: `ListItems` (or legacy `Items`).
    pub fn list_items(&self) -> Option<usize> {
        self.get("ListItems")
            .or_else(|| self.get("Items"))
            .and_then(|v| v.as_str()?.trim().parse().ok())
    }
}

/// The kind of the packet of `bytes`, from its first line, read from the
/// packet's first bytes: no byte of a key or of `": "` is a line end, so a
/// match there lies in the first line, and the line table is not consulted.
fn kind_of(line: &[u8]) -> PacketKind {
    // The first byte picks the one key worth comparing.
    let (key, kind): (&[u8], _) = match line.first() {
        Some(b'R' | b'r') => (b"response", PacketKind::Response),
        Some(b'E' | b'e') => (b"event", PacketKind::Event),
        Some(b'A' | b'a') => (b"action", PacketKind::Action),
        _ => return PacketKind::Other,
    };
    if letters_key_is(line, key) {
        kind
    } else {
        PacketKind::Other
    }
}

/// Whether `line` starts with `key` (at most 8 ASCII letters, lowercase),
/// ASCII case-insensitively, then `": "`: as `value_of(line, key).is_some()`,
/// in one 8-byte compare instead of a loop over bytes. OR-ing 0x20 maps an
/// uppercase letter to its lowercase one and no other byte to a letter.
#[inline]
fn letters_key_is(line: &[u8], key: &[u8]) -> bool {
    let (Some(head), Some(separator)) = (line.get(..key.len()), line.get(key.len()..key.len() + 2))
    else {
        return false;
    };
    let mut word = [0u8; 8];
    let mut lower = [0u8; 8];
    word[..key.len()].copy_from_slice(head);
    lower[..key.len()].copy_from_slice(key);
    let case = u64::from_le_bytes([0x20; 8]) & (u64::MAX >> (8 * (8 - key.len())));
    u64::from_le_bytes(word) | case == u64::from_le_bytes(lower) && separator == b": "
}

/// No line's key holds `": "`, since lines split at the first one.
fn is_possible_key(key: &[u8]) -> bool {
    memchr::memmem::find(key, b": ").is_none()
}

/// The value of `line` if its key is `key` (ASCII case-insensitive). A prefix test
/// is enough: a key without `": "` is a line's key exactly when the line starts
/// with it followed by `": "`.
#[inline]
fn value_of<'a>(line: &'a [u8], key: &[u8]) -> Option<Value<'a>> {
    let rest = line.get(key.len()..)?;
    if rest.starts_with(b": ") && line[..key.len()].eq_ignore_ascii_case(key) {
        Some(Value(&rest[2..]))
    } else {
        None
    }
}

/// Offset of the `:` of the first `": "` in a line. Keys are a dozen bytes, too
/// short for a vectorised search to pay for its setup, so this tests eight bytes
/// at a time in a `u64` (SWAR) and finishes byte by byte.
#[inline]
pub(crate) fn find_separator(line: &[u8]) -> Option<usize> {
    const COLONS: u64 = u64::from_ne_bytes([b':'; 8]);
    const LOW: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut at = 0;
    while let Some(chunk) = line.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8])) ^ COLONS;
        // The lowest set high bit marks the first byte equal to ':'.
        let hits = word.wrapping_sub(LOW) & !word & HIGH;
        if hits == 0 {
            at += 8;
            continue;
        }
        let colon = at + (hits.trailing_zeros() / 8) as usize;
        if line.get(colon + 1) == Some(&b' ') {
            return Some(colon);
        }
        at = colon + 1;
    }
    let last = line.len().checked_sub(1)?;
    (at..last).find(|&i| line[i] == b':' && line[i + 1] == b' ')
}

pub(crate) fn starts_with_ignore_case(haystack: &[u8], prefix: &[u8]) -> bool {
    haystack.len() >= prefix.len() && haystack[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Packets are equal when their bytes, legacy bodies, lines and `ActionID`
/// lines are: whether a table is kept inline or shared is not compared.
impl PartialEq for Packet {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
            && self.body == other.body
            && self.lines.action_id() == other.lines.action_id()
            && self.lines.len() == other.lines.len()
            && self
                .lines
                .iter(&self.bytes, self.body)
                .eq(other.lines.iter(&other.bytes, other.body))
    }
}

impl Eq for Packet {}

impl fmt::Debug for Packet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for line in self.lines() {
            match line {
                Line::Field(field) => list.entry(&format_args!(
                    "{}: {}",
                    String::from_utf8_lossy(field.key),
                    field.value
                )),
                Line::Opaque(raw) => list.entry(&String::from_utf8_lossy(raw)),
            };
        }
        list.finish()
    }
}

/// A header line split at its first `": "`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    /// The key, spelled as received.
    pub key: &'a [u8],
    /// The value, without the line end.
    pub value: Value<'a>,
}

/// One line of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// A `Key: Value` line.
    Field(Field<'a>),
    /// A line without `": "`, kept as received.
    Opaque(&'a [u8]),
}

/// A header value: raw bytes with text accessors.
///
/// ```
/// use ami_proto::Value;
///
/// let v = Value::new(b"Up");
/// assert_eq!(v, "Up");
/// assert_eq!(v.as_str(), Some("Up"));
/// assert_eq!(Value::new(b"caf\xe9").to_str_lossy(), "caf\u{fffd}");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Value<'a>(&'a [u8]);

impl<'a> Value<'a> {
    /// Wraps raw bytes.
    pub fn new(bytes: &'a [u8]) -> Self {
        Value(bytes)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// The value as text, if it is valid UTF-8.
    pub fn as_str(&self) -> Option<&'a str> {
        std::str::from_utf8(self.0).ok()
    }

    /// The value as text, invalid UTF-8 replaced by U+FFFD.
    pub fn to_str_lossy(&self) -> Cow<'a, str> {
        String::from_utf8_lossy(self.0)
    }

    /// The value with Asterisk's C escapes (`\'`, `\"`, `\\`, `\n` ...) undone.
    pub fn unescaped(&self) -> Cow<'a, [u8]> {
        crate::escape::unescape(self.0)
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Compares the bytes exactly (case-sensitive): `value == "Hangup"`. (`Option<Value>`
/// cannot be compared with `Option<&str>`: std's `Option` only compares like types;
/// write `name.is_some_and(|n| n == "Hangup")`.) Header *names* are case-insensitive in AMI; values are data: use
/// [`Packet::is`] for a case-insensitive comparison.
impl PartialEq<str> for Value<'_> {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

/// Exact, case-sensitive byte comparison, like `PartialEq<str>`.
///
/// ```
/// use ami_proto::{Parser, Parsed};
///
/// let mut parser = Parser::without_banner();
/// parser.feed(b"Event: Hangup\r\nChannel: PJSIP/100-0001\r\n\r\n");
/// let Some(Parsed::Packet(packet)) = parser.next() else { panic!("a packet") };
/// assert!(packet.event_name() == Some(ami_proto::Value::new(b"Hangup")));
/// assert!(packet.event_name().is_some_and(|name| name == "Hangup"));
/// assert!(packet.event_name().unwrap() != "hangup");
/// ```
impl PartialEq<&str> for Value<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_str_lossy(), f)
    }
}

impl fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_str_lossy())
    }
}

/// The lines of a `Command` reply; see [`Packet::command_output`].
pub enum CommandOutput<'a> {
    /// `Output:` header values (Asterisk 14+).
    Fields(Box<dyn Iterator<Item = Value<'a>> + 'a>),
    /// Remaining raw legacy body (Asterisk 13 and older).
    Legacy(&'a [u8]),
}

impl<'a> Iterator for CommandOutput<'a> {
    type Item = Value<'a>;

    fn next(&mut self) -> Option<Value<'a>> {
        match self {
            CommandOutput::Fields(values) => values.next(),
            CommandOutput::Legacy(rest) => {
                if rest.is_empty() {
                    return None;
                }
                let (line, tail) = match memchr::memchr(b'\n', rest) {
                    Some(nl) => (&rest[..nl], &rest[nl + 1..]),
                    None => (&rest[..], &rest[rest.len()..]),
                };
                *rest = tail;
                Some(Value(line.strip_suffix(b"\r").unwrap_or(line)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LineTable;
    use crate::{Parsed, Parser};

    /// A packet of `lines` lines (`ActionID` on line `action_id`), the last one
    /// `tail` bytes long, alternating CRLF and bare LF line ends.
    fn packet(lines: usize, action_id: usize, tail: usize) -> Vec<u8> {
        let mut text = b"Event: Test\r\n".to_vec();
        for line in 1..lines {
            let end: &[u8] = if line % 2 == 0 { b"\r\n" } else { b"\n" };
            if line == action_id {
                text.extend_from_slice(b"ActionID: a-1");
            } else if line == lines - 1 {
                text.extend_from_slice(b"Tail: ");
                text.resize(text.len() + tail, b't');
            } else {
                text.extend_from_slice(format!("Key{line}: v\r{line}").as_bytes());
            }
            text.extend_from_slice(end);
        }
        text.extend_from_slice(b"\r\n");
        text
    }

    /// The kind, read from the packet's first bytes, is what the first line's
    /// key says (`value_of` on the line's content), whatever the line's end and
    /// however short the line.
    #[test]
    fn the_kind_is_the_first_line_key() {
        use crate::PacketKind::{Action, Event, Other, Response};
        let firsts: [&[u8]; 16] = [
            b"Response: Success",
            b"response: ",
            b"RESPONSE: x",
            b"Response:",
            b"Response",
            b"Responses: x",
            b"Event: A",
            b"EVENT: ",
            b"Event",
            b"Event:x",
            b"Action: Ping",
            b"action:",
            b"A",
            b"R",
            b"x: y",
            b": ",
        ];
        for first in firsts {
            for end in [&b"\r\n"[..], b"\n"] {
                let mut bytes = first.to_vec();
                bytes.extend_from_slice(end);
                bytes.extend_from_slice(b"Next: line\r\n\r\n");
                let mut parser = Parser::without_banner();
                parser.feed(&bytes);
                let Some(Parsed::Packet(packet)) = parser.next() else {
                    panic!("{bytes:?}");
                };
                let expected = [
                    (&b"response"[..], Response),
                    (b"event", Event),
                    (b"action", Action),
                ]
                .into_iter()
                .find(|(key, _)| super::value_of(first, key).is_some())
                .map_or(Other, |(_, kind)| kind);
                assert_eq!(
                    packet.kind(),
                    expected,
                    "{:?}",
                    String::from_utf8_lossy(&bytes)
                );
            }
        }
    }

    /// Tables kept inline (up to `INLINE_LINES` lines, under 64 KiB) and shared
    /// (more lines, or a larger packet) give the same lines as a plain split of
    /// the bytes.
    #[test]
    fn inline_and_shared_tables_give_the_lines_of_the_bytes() {
        let inline = super::INLINE_LINES;
        let cases = [
            (2, 0),
            (inline - 1, 1),
            (inline, 1),
            (inline + 1, 1),
            (40, 1),
            (3, 70_000),
        ];
        for (lines, tail) in cases {
            for action_id in [1, lines - 2, lines + 5] {
                let text = packet(lines, action_id, tail);
                let mut parser = Parser::without_banner();
                parser.feed(&text);
                let Some(Parsed::Packet(packet)) = parser.next() else {
                    panic!("{lines} lines")
                };
                let expected: Vec<Vec<u8>> = text[..text.len() - 2]
                    .split(|&b| b == b'\n')
                    .filter(|line| !line.is_empty())
                    .map(|line| line.strip_suffix(b"\r").unwrap_or(line).to_vec())
                    .collect();
                let got: Vec<Vec<u8>> = packet
                    .lines()
                    .map(|line| match line {
                        crate::Line::Field(f) => [f.key, b": ", f.value.as_bytes()].concat(),
                        crate::Line::Opaque(raw) => raw.to_vec(),
                    })
                    .collect();
                assert_eq!(got, expected, "{lines} lines, tail {tail}");
                let action = packet.action_id().map(|v| v.to_string());
                let wanted = (1..lines).contains(&action_id).then(|| "a-1".to_string());
                assert_eq!(action, wanted, "{lines} lines, ActionID on {action_id}");
                assert_eq!(packet.event_name().unwrap(), "Test");
                assert_eq!(packet.len(), lines);
            }
        }
    }

    /// A detached packet equals the original and holds none of the read's
    /// buffer: once the packets parsed from a read are gone, the read is
    /// owned alone again, the detached copy alive or not. With lines past
    /// the inline table, its line index is copied too.
    #[test]
    fn a_detached_packet_keeps_nothing_of_the_read() {
        for lines in [3, super::INLINE_LINES * 2] {
            let mut text = b"Event: Many\r\n".to_vec();
            for n in 1..lines {
                text.extend(format!("Line{n}: {n}\r\n").as_bytes());
            }
            text.extend(b"\r\n");
            let read = bytes::Bytes::from(text);
            let mut parser = crate::Parser::without_banner();
            parser.feed_bytes(read.clone());
            let Some(crate::Parsed::Packet(packet)) = parser.next() else {
                panic!("a packet of {lines} lines")
            };
            let kept = packet.detach();
            if let (LineTable::Shared { entries: ours, .. }, LineTable::Shared { entries, .. }) =
                (&kept.lines, &packet.lines)
            {
                assert_ne!(ours.as_ptr(), entries.as_ptr(), "the line index copied");
            }
            assert_eq!(
                matches!(kept.lines, LineTable::Shared { .. }),
                lines > super::INLINE_LINES
            );
            assert_eq!(kept, packet);
            assert_eq!(kept.len(), lines);
            assert_eq!(kept.get("line1").unwrap(), "1");
            drop((packet, parser));
            assert!(
                read.try_into_mut().is_ok(),
                "{lines} lines: the read is free"
            );
            assert_eq!(kept.event_name().unwrap(), "Many");
        }
    }
}
