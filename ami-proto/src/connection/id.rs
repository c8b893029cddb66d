//! ActionIDs: a per-connection prefix plus a counter.

use std::fmt;
use std::hash::{BuildHasher, Hasher};

/// Identifies one action of one connection. On the wire it is the connection's
/// prefix followed by this number (see [`Connection::action_id_text`](super::Connection::action_id_text)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActionId(pub(crate) u64);

impl ActionId {
    /// The counter part.
    pub fn number(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ActionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A random 8-character prefix plus `-`, from std's randomly keyed hasher: no
/// dependency, no IO beyond what std already did to seed it.
pub(crate) fn random_prefix() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u8(0);
    let mut bits = hasher.finish();
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut prefix = String::with_capacity(9);
    for _ in 0..8 {
        prefix.push(alphabet[(bits % 36) as usize] as char);
        bits /= 36;
    }
    prefix.push('-');
    prefix
}

/// Writes `prefix` + `number` into `buf` and returns the text. 20 digits fit a u64.
pub(crate) fn format_id<'a>(prefix: &str, number: u64, buf: &'a mut [u8; 96]) -> &'a str {
    let len = prefix.len();
    buf[..len].copy_from_slice(prefix.as_bytes());
    let mut digits = [0u8; 20];
    let mut n = number;
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let count = digits.len() - i;
    buf[len..len + count].copy_from_slice(&digits[i..]);
    std::str::from_utf8(&buf[..len + count]).unwrap_or("")
}

/// The number of an ActionID that carries `prefix`, if it does.
pub(crate) fn parse_id(prefix: &[u8], text: &[u8]) -> Option<u64> {
    let digits = text.strip_prefix(prefix)?;
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0')),
    )
}

/// Checks a caller-chosen prefix: short, and only bytes every handler copies safely.
pub(crate) fn valid_prefix(prefix: &str) -> bool {
    prefix.len() <= 40
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_foreign_ids_are_rejected() {
        let mut buf = [0u8; 96];
        let text = format_id("ab-", 1234567, &mut buf).to_owned();
        assert_eq!(text, "ab-1234567");
        assert_eq!(parse_id(b"ab-", text.as_bytes()), Some(1234567));
        assert_eq!(parse_id(b"ab-", b"ab-"), None);
        assert_eq!(parse_id(b"ab-", b"cd-1"), None);
        assert_eq!(parse_id(b"ab-", b"ab-1x"), None);
        assert_eq!(parse_id(b"ab-", b"ab-99999999999999999999"), None);
        assert_eq!(format_id("p", 0, &mut buf), "p0");
    }

    #[test]
    fn random_prefixes_are_valid() {
        let prefix = random_prefix();
        assert_eq!(prefix.len(), 9);
        assert!(valid_prefix(&prefix));
    }
}
