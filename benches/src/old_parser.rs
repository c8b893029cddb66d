//! Baseline: the scanning loop of the parser before issue 14, kept to measure
//! the new one against it in the same run.
//!
//! It does the same work per byte and per line as that parser did on the hot
//! path: one `memchr` iterator over the input from where the last call stopped,
//! a `\r` test, the limit checks and an 8-byte push into a reused vector per
//! line, then per packet a split of the input, a copy of the line table into a
//! shared block and the kind from the first line. Input grows by 64 KiB blocks.
//! What it leaves out never runs on the corpus: limit reports and
//! resynchronisation, and legacy `Response: Follows` bodies (only detected).

use bytes::{Buf, Bytes, BytesMut};

/// The old input-buffer block.
const GROW_BLOCK: usize = 64 * 1024;
/// The old line-table block.
const TABLE_BLOCK: usize = 16 * 1024;

/// A packet as the old parser produced it: its bytes, its line table and kind.
#[derive(Debug)]
pub struct OldPacket {
    /// The packet's bytes, final empty line included.
    pub bytes: Bytes,
    /// Its line offsets, 8 bytes a line.
    pub lines: Bytes,
    /// 0 response, 1 event, 2 action, 3 other.
    pub kind: u8,
}

/// The old streaming parser (client side: a banner line first).
#[derive(Debug, Default)]
pub struct OldParser {
    buf: BytesMut,
    pos: usize,
    current: Vec<u8>,
    block: BytesMut,
    banner_seen: bool,
    max_packet_bytes: usize,
    max_lines: usize,
}

impl OldParser {
    /// A parser with the old default limits.
    pub fn new() -> Self {
        OldParser {
            max_packet_bytes: 4 * 1024 * 1024,
            max_lines: 65_536,
            ..OldParser::default()
        }
    }

    /// Appends received bytes, growing by 64 KiB blocks.
    pub fn feed(&mut self, data: &[u8]) {
        if self.buf.capacity() - self.buf.len() < data.len() {
            self.buf.reserve(data.len().max(GROW_BLOCK));
        }
        self.buf.extend_from_slice(data);
    }

    /// The next complete packet, `None` when more bytes are needed.
    pub fn next_packet(&mut self) -> Option<OldPacket> {
        if !self.banner_seen {
            let nl = memchr::memchr(b'\n', &self.buf)?;
            self.buf.advance(nl + 1);
            self.banner_seen = true;
        }
        loop {
            let buf: &[u8] = &self.buf;
            let start = self.pos;
            let mut pos = start;
            let mut found = None;
            for offset in memchr::memchr_iter(b'\n', &buf[start..]) {
                let nl = start + offset;
                let end = content_end(buf, pos, nl);
                let next = nl + 1;
                if end == pos {
                    found = Some(next);
                    break;
                }
                assert!(next <= self.max_packet_bytes, "no limit reports here");
                let entry = u64::from(pos as u32) | (u64::from(end as u32) << 32);
                self.current.extend_from_slice(&entry.to_le_bytes());
                let line_start = pos;
                pos = next;
                self.pos = pos;
                assert!(self.current.len() / 8 <= self.max_lines);
                if line_start == 0 && buf[..end].eq_ignore_ascii_case(b"Response: Follows") {
                    unimplemented!("legacy bodies are not in the corpus");
                }
            }
            let len = found?;
            if self.current.is_empty() {
                self.buf.advance(len);
                self.pos = 0;
                continue;
            }
            return Some(self.take(len));
        }
    }

    fn take(&mut self, len: usize) -> OldPacket {
        let bytes = self.buf.split_to(len).freeze();
        if self.block.capacity() - self.block.len() < self.current.len() {
            self.block.reserve(self.current.len().max(TABLE_BLOCK));
        }
        self.block.extend_from_slice(&self.current);
        self.current.clear();
        self.pos = 0;
        let lines = self.block.split().freeze();
        let first = u64::from_le_bytes(lines[..8].try_into().unwrap_or_default());
        let line = &bytes[first as u32 as usize..(first >> 32) as usize];
        let kind = [&b"Response"[..], b"Event", b"Action"]
            .iter()
            .position(|key| {
                line.len() > key.len() + 1
                    && line[..key.len()].eq_ignore_ascii_case(key)
                    && line[key.len()..].starts_with(b": ")
            })
            .unwrap_or(3) as u8;
        OldPacket { bytes, lines, kind }
    }
}

fn content_end(buf: &[u8], start: usize, nl: usize) -> usize {
    if nl > start && buf[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    }
}
