//! Benchmarks of `ami-proto` against its baselines, on the real Asterisk 22 corpus.
//!
//! Every function here parses a whole stream and returns a checksum of what it
//! produced, so that no work can be optimised away and the candidates can be timed
//! the same way: by criterion (`benches/parser.rs`) and by the ratio table printed
//! at the end of the same run.

use std::collections::HashMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ami_proto::{Parsed, Parser};
use bytes::{Bytes, BytesMut};
use tokio_util::codec::Decoder;

pub mod alloc;
pub mod old_parser;

/// Chunk size for the "fed in reads" variants: a typical socket read.
pub const CHUNK: usize = 4096;

/// The benchmark corpus: 9.7 MB, 25,688 packets captured from Asterisk 22.10.1.
pub fn corpus() -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("corpus")
        .join("asterisk-22.10.1-calls.ami");
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// What a parse produced: packet count and a checksum of the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outcome {
    /// Packets produced (banner excluded).
    pub packets: u64,
    /// A checksum of the output, so no work is optimised away.
    pub checksum: u64,
}

/// Baseline (a), the floor of any line parser: visits every line end with `memchr`
/// and folds each position into the checksum (no counting shortcut applies).
pub fn line_floor(data: &[u8]) -> Outcome {
    let mut checksum = 0u64;
    let mut lines = 0u64;
    for at in memchr::memchr_iter(b'\n', data) {
        checksum = checksum.rotate_left(5) ^ at as u64;
        lines += 1;
    }
    Outcome {
        packets: lines,
        checksum,
    }
}

/// Synthetic worst case for per-line costs: 20,000 packets of 40 lines whose
/// values are one byte (`HeaderNN: v`), after a banner.
pub fn one_byte_values() -> Vec<u8> {
    synthetic(20_000, 40, 1)
}

/// Synthetic case of long lines: 2,000 packets of 4 lines whose values are
/// 1,000 bytes, after a banner.
pub fn kilobyte_values() -> Vec<u8> {
    synthetic(2_000, 4, 1_000)
}

fn synthetic(packets: usize, lines: usize, value_bytes: usize) -> Vec<u8> {
    let mut data = b"Asterisk Call Manager/11.0.0\r\n".to_vec();
    let value = vec![b'v'; value_bytes];
    for packet in 0..packets {
        data.extend_from_slice(format!("Event: Synthetic\r\nActionID: {packet}\r\n").as_bytes());
        for line in 0..lines {
            data.extend_from_slice(format!("Header{line:02}: ").as_bytes());
            data.extend_from_slice(&value);
            data.extend_from_slice(b"\r\n");
        }
        data.extend_from_slice(b"\r\n");
    }
    data
}

/// The parser before issue 14 ([`old_parser`]), the whole buffer fed at once.
pub fn old_whole(data: &[u8]) -> Outcome {
    let mut parser = old_parser::OldParser::new();
    parser.feed(data);
    old_drain(&mut parser, &mut Outcome::default())
}

/// The parser before issue 14, fed in `chunk`-byte reads.
pub fn old_chunked(data: &[u8], chunk: usize) -> Outcome {
    let mut parser = old_parser::OldParser::new();
    let mut out = Outcome::default();
    for piece in data.chunks(chunk) {
        parser.feed(piece);
        out = old_drain(&mut parser, &mut out);
    }
    out
}

fn old_drain(parser: &mut old_parser::OldParser, out: &mut Outcome) -> Outcome {
    while let Some(packet) = parser.next_packet() {
        out.packets += 1;
        out.checksum = out.checksum.rotate_left(5) ^ (packet.lines.len() / 8) as u64;
        black_box(&packet);
    }
    *out
}

/// Ours: the whole buffer fed at once, every packet taken.
pub fn ours_whole(data: &[u8]) -> Outcome {
    let mut parser = Parser::new();
    parser.feed(data);
    drain(&mut parser, &mut Outcome::default())
}

/// Ours, given the whole buffer as owned `Bytes` (`Parser::feed_bytes`): the
/// packets are parsed where they lie, as the floor reads the data where it lies.
pub fn ours_owned_whole(data: &Bytes) -> Outcome {
    let mut parser = Parser::new();
    parser.feed_bytes(data.clone());
    drain(&mut parser, &mut Outcome::default())
}

/// Ours, given `chunk`-byte reads as owned `Bytes` (slices of one buffer, as a
/// read buffer split off after each read), draining after each: only a packet
/// cut by a read's end is copied.
pub fn ours_owned_chunked(data: &Bytes, chunk: usize) -> Outcome {
    let mut parser = Parser::new();
    let mut out = Outcome::default();
    let mut at = 0;
    while at < data.len() {
        let end = data.len().min(at + chunk);
        parser.feed_bytes(data.slice(at..end));
        out = drain(&mut parser, &mut out);
        at = end;
    }
    out
}

/// What feeding alone costs ours: the whole buffer copied into a new parser,
/// nothing parsed (no packets). The floor reads the data where it lies; a parser
/// that hands out owned packets copies it once first.
pub fn ours_feed_only(data: &[u8]) -> Outcome {
    let mut parser = Parser::new();
    parser.feed(data);
    Outcome {
        packets: 0,
        checksum: parser.buffered() as u64,
    }
}

/// Ours: fed in `chunk`-byte reads, draining after each, as an adapter does.
pub fn ours_chunked(data: &[u8], chunk: usize) -> Outcome {
    let mut parser = Parser::new();
    let mut out = Outcome::default();
    for piece in data.chunks(chunk) {
        parser.feed(piece);
        out = drain(&mut parser, &mut out);
    }
    out
}

fn drain(parser: &mut Parser, out: &mut Outcome) -> Outcome {
    for item in parser.by_ref() {
        if let Parsed::Packet(packet) = item {
            out.packets += 1;
            out.checksum = out.checksum.rotate_left(5) ^ packet.len() as u64;
            black_box(&packet);
        }
    }
    *out
}

/// Baseline (b): the naive parser most AMI clients have: split the text at blank
/// lines, each line at `": "`, one `HashMap<String, String>` per packet.
pub fn naive(data: &[u8]) -> Outcome {
    let text = String::from_utf8_lossy(data);
    let mut out = Outcome::default();
    // Skip the banner line.
    let body = text.split_once("\r\n").map_or(&*text, |(_, rest)| rest);
    for block in body.split("\r\n\r\n") {
        if block.is_empty() {
            continue;
        }
        let mut map = HashMap::new();
        for line in block.split("\r\n") {
            if let Some((key, value)) = line.split_once(": ") {
                map.insert(key.to_string(), value.to_string());
            }
        }
        out.packets += 1;
        out.checksum = out.checksum.rotate_left(5) ^ map.len() as u64;
        black_box(&map);
    }
    out
}

/// Baseline (c): `asterisk-rs-ami` 0.8's `AmiCodec` (a tokio-util `Decoder`) on the
/// same bytes, all in one buffer.
pub fn asterisk_rs_whole(data: &[u8]) -> Outcome {
    let mut buf = BytesMut::from(data);
    let mut codec = asterisk_rs_ami::AmiCodec::new();
    let mut out = Outcome::default();
    asterisk_rs_drain(&mut codec, &mut buf, &mut out);
    out
}

/// Baseline (c) fed in `chunk`-byte reads.
pub fn asterisk_rs_chunked(data: &[u8], chunk: usize) -> Outcome {
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut codec = asterisk_rs_ami::AmiCodec::new();
    let mut out = Outcome::default();
    for piece in data.chunks(chunk) {
        buf.extend_from_slice(piece);
        asterisk_rs_drain(&mut codec, &mut buf, &mut out);
    }
    out
}

fn asterisk_rs_drain(codec: &mut asterisk_rs_ami::AmiCodec, buf: &mut BytesMut, out: &mut Outcome) {
    while let Some(message) = codec
        .decode(buf)
        .expect("asterisk-rs-ami decodes the corpus")
    {
        out.packets += 1;
        out.checksum = out.checksum.rotate_left(5) ^ message.headers.len() as u64;
        black_box(&message);
    }
}

/// Median wall time of `runs` calls of `f` (after one warm-up call).
pub fn median_time(runs: usize, mut f: impl FnMut() -> Outcome) -> Duration {
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
