//! Byte classification for the parser: which bytes of a block are line ends,
//! as one bit each. On x86_64 with the `simd` feature (the default), by SSE2
//! compare and movemask through `safe_arch`: the workspace forbids `unsafe`,
//! which `std::arch` needs to call them, and no portable formulation tried
//! compiles to `pmovmskb` alone. Elsewhere, in portable code that the compiler
//! vectorises.

/// Bytes classified at a time: one bit each in a `u64`.
pub(crate) const BLOCK: usize = 64;

/// A mask of the `\n` bytes of `buf[at..]`, at most [`BLOCK`] of them: bit `i`
/// is set when `buf[at + i]` is a line end.
///
/// A tail shorter than a block is read as part of the block that ends where
/// `buf` does, shifted down: a copy into a zeroed block, as before, cost a
/// `memcpy` call at the end of every read (7 % of the parser's time in 4 KiB
/// reads). Only a buffer shorter than a block is copied.
#[inline]
pub(crate) fn newline_mask_at(buf: &[u8], at: usize) -> u64 {
    if let Some(Ok(full)) = buf.get(at..at + BLOCK).map(<&[u8; BLOCK]>::try_from) {
        return full_mask(full);
    }
    if at >= buf.len() {
        return 0;
    }
    match buf.len().checked_sub(BLOCK) {
        // `start < at`, as `buf[at..]` is shorter than a block.
        Some(start) => {
            let last: &[u8; BLOCK] = buf[start..].try_into().unwrap_or(&[0; BLOCK]);
            full_mask(last) >> (at - start)
        }
        None => {
            let mut padded = [0u8; BLOCK];
            padded[..buf.len() - at].copy_from_slice(&buf[at..]);
            full_mask(&padded)
        }
    }
}

/// The positions of the `\n` bytes of `hay`, in order, a block's mask at a time:
/// for short scans over short lines, where a search restarted after every
/// match costs more than the mask.
pub(crate) struct LineEnds<'a> {
    hay: &'a [u8],
    block_at: usize,
    mask: u64,
}

impl<'a> LineEnds<'a> {
    pub(crate) fn new(hay: &'a [u8]) -> Self {
        LineEnds {
            hay,
            block_at: 0,
            mask: newline_mask_at(hay, 0),
        }
    }
}

impl Iterator for LineEnds<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        if self.mask == 0 {
            // The next block, or in a long line, where `memchr` (faster than a
            // mask per 64 bytes through bytes with nothing to report) finds
            // the next line end.
            let after = self.block_at + BLOCK;
            self.mask = newline_mask_at(self.hay, after);
            self.block_at = after;
            if self.mask == 0 {
                let rest = self.hay.get(after..)?;
                self.block_at = after + memchr::memchr(b'\n', rest)?;
                self.mask = newline_mask_at(self.hay, self.block_at);
            }
        }
        let at = self.block_at + self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(at)
    }
}

/// The mask of a full block: on x86_64, 16 bytes at a time by SSE2 compare and
/// `pmovmskb` (x86_64's baseline), about 4 instructions per 16 bytes.
#[cfg(all(feature = "simd", target_arch = "x86_64", target_feature = "sse2"))]
#[inline]
pub(crate) fn full_mask(block: &[u8; BLOCK]) -> u64 {
    use safe_arch::{cmp_eq_mask_i8_m128i, load_unaligned_m128i, move_mask_i8_m128i};
    let newline = safe_arch::set_splat_i8_m128i(b'\n' as i8);
    let mut mask = 0u64;
    for (lane, bytes) in block.chunks_exact(16).enumerate() {
        let bytes = load_unaligned_m128i(bytes.try_into().unwrap_or(&[0; 16]));
        let hits = move_mask_i8_m128i(cmp_eq_mask_i8_m128i(bytes, newline));
        // `pmovmskb` sets only the low 16 bits.
        mask |= u64::from(hits as u16) << (16 * lane);
    }
    mask
}

/// The mask of a full block where SSE2 is not at hand.
#[cfg(not(all(feature = "simd", target_arch = "x86_64", target_feature = "sse2")))]
#[inline]
pub(crate) fn full_mask(block: &[u8; BLOCK]) -> u64 {
    portable_mask(block)
}

/// The mask of a full block in portable code, in two steps that compile to
/// straight-line code: the compare, one 0/1 byte per input byte, which LLVM
/// vectorises; then each 8 bytes of 0/1 gathered into 8 bits by one multiply,
/// since no two partial products of the constant below meet in the top byte
/// (byte `j` of the word lands on bit `56 + j`). About 65 instructions per 64
/// bytes on x86_64; a bit-by-bit loop is not turned into `pmovmskb` by LLVM and
/// is several times slower.
#[cfg(any(
    test,
    not(all(feature = "simd", target_arch = "x86_64", target_feature = "sse2"))
))]
#[inline]
fn portable_mask(block: &[u8; BLOCK]) -> u64 {
    const GATHER: u64 = 0x0102_0408_1020_4080;
    let hits: [u8; BLOCK] = std::array::from_fn(|i| u8::from(block[i] == b'\n'));
    let mut mask = 0u64;
    for (word, bytes) in hits.chunks_exact(8).enumerate() {
        let bytes = u64::from_le_bytes(bytes.try_into().unwrap_or_default());
        mask |= (bytes.wrapping_mul(GATHER) >> 56) << (8 * word);
    }
    mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_position_length_and_start() {
        let mut buf = [b'x'; 2 * BLOCK];
        for at in 0..2 * BLOCK {
            buf[at] = b'\n';
            for len in 0..=2 * BLOCK {
                for start in 0..=len {
                    let expected = if start <= at && at < len && at - start < BLOCK {
                        1 << (at - start)
                    } else {
                        0
                    };
                    let mask = newline_mask_at(&buf[..len], start);
                    assert_eq!(mask, expected, "at {at} len {len} start {start}");
                }
            }
            buf[at] = b'x';
        }
        assert_eq!(newline_mask_at(&[b'\n'; BLOCK], 0), u64::MAX);
        assert_eq!(newline_mask_at(&[b'\n'; BLOCK + 3], 3), u64::MAX);
        assert_eq!(newline_mask_at(&[b'\n'; BLOCK + 3], BLOCK), 0b111);
    }

    #[test]
    fn line_ends_match_memchr() {
        let mut hay = Vec::new();
        for len in 0..300 {
            hay.clear();
            hay.extend((0..len).map(|i| if (i * 7 + len) % 11 == 0 { b'\n' } else { b'a' }));
            let expected: Vec<usize> = memchr::memchr_iter(b'\n', &hay).collect();
            assert_eq!(
                LineEnds::new(&hay).collect::<Vec<_>>(),
                expected,
                "len {len}"
            );
        }
        // Long lines, whose blocks hold no line end: skipped by `memchr`.
        for gap in [63, 64, 65, 127, 128, 129, 1000] {
            for len in [gap - 1, gap, gap + 1, 3 * gap + 7] {
                let hay: Vec<u8> = (1..=len)
                    .map(|i| if i % gap == 0 { b'\n' } else { b'a' })
                    .collect();
                let expected: Vec<usize> = memchr::memchr_iter(b'\n', &hay).collect();
                let ends: Vec<usize> = LineEnds::new(&hay).collect();
                assert_eq!(ends, expected, "gap {gap} len {len}");
            }
        }
    }

    #[test]
    fn both_masks_agree_on_every_byte_value() {
        for byte in 0..=255u8 {
            for at in 0..BLOCK {
                let mut block = [b'\n'.wrapping_add(1); BLOCK];
                block[at] = byte;
                block[(at * 7 + 3) % BLOCK] = b'\n';
                assert_eq!(full_mask(&block), portable_mask(&block), "{byte} at {at}");
            }
        }
    }
}
