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
use bytes::BytesMut;
use tokio_util::codec::Decoder;

pub mod alloc;

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

/// Ours: the whole buffer fed at once, every packet taken.
pub fn ours_whole(data: &[u8]) -> Outcome {
    let mut parser = Parser::new();
    parser.feed(data);
    drain(&mut parser, &mut Outcome::default())
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
