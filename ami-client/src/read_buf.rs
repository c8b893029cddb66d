//! The pumps' read buffer, sized by what the reads bring.

/// Smallest buffer: what an idle client keeps.
const MIN: usize = 4 * 1024;
/// Largest buffer: one read of a flood (as large as a raw socket reader's).
const MAX: usize = 64 * 1024;

/// A read buffer that doubles when a read fills it (more is waiting: fewer,
/// larger reads, so fewer wake-ups and locks per event under a flood) and
/// halves when reads use under a quarter of it, so an idle client keeps 4 KiB
/// rather than a flood's 64 KiB.
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
}

impl Default for ReadBuf {
    fn default() -> Self {
        ReadBuf {
            bytes: vec![0; MIN],
        }
    }
}

impl ReadBuf {
    /// Where the next read goes.
    pub fn space(&mut self) -> &mut [u8] {
        &mut self.bytes
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
