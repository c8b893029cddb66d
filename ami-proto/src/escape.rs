//! Asterisk's value escaping: C escapes on received values, and the escaping the
//! server's `Variable:` splitter expects on sent ones.

use std::borrow::Cow;

/// Undoes the C escaping Asterisk 13.5+ applies to some values (`CallerIDName`,
/// `ConnectedLineName`, `ChanVariable` values, VarSet `Value`): `O\'Brien` becomes
/// `O'Brien`. Unknown escapes keep the escaped byte; a trailing lone `\` is kept.
/// Borrows when there is nothing to undo.
///
/// ```
/// assert_eq!(&*ami_proto::unescape(br"O\'Brien"), b"O'Brien");
/// assert_eq!(&*ami_proto::unescape(br"a\tb\\c"), b"a\tb\\c");
/// ```
pub fn unescape(value: &[u8]) -> Cow<'_, [u8]> {
    let Some(first) = memchr::memchr(b'\\', value) else {
        return Cow::Borrowed(value);
    };
    let mut out = Vec::with_capacity(value.len());
    out.extend_from_slice(&value[..first]);
    let mut rest = &value[first..];
    while let Some(slash) = memchr::memchr(b'\\', rest) {
        out.extend_from_slice(&rest[..slash]);
        match rest.get(slash + 1) {
            Some(&escaped) => {
                out.push(unescaped_byte(escaped));
                rest = &rest[slash + 2..];
            }
            None => {
                out.push(b'\\');
                rest = &[];
            }
        }
    }
    out.extend_from_slice(rest);
    Cow::Owned(out)
}

fn unescaped_byte(escaped: u8) -> u8 {
    match escaped {
        b'a' => 0x07,
        b'b' => 0x08,
        b'f' => 0x0c,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'v' => 0x0b,
        other => other,
    }
}

/// Escapes a `Variable:` value for the server's splitter, which splits on commas
/// (outside `()`, `[]` and quotes), removes quotes, and treats `\` as "take the next
/// byte literally".
pub(crate) fn escape_variable_value(value: &str, out: &mut Vec<u8>) {
    for &byte in value.as_bytes() {
        if matches!(byte, b'\\' | b'"' | b',' | b'(' | b')' | b'[' | b']') {
            out.push(b'\\');
        }
        out.push(byte);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_borrows_plain_values() {
        assert!(matches!(unescape(b"plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn unescape_handles_trailing_backslash_and_controls() {
        assert_eq!(&*unescape(b"x\\"), b"x\\");
        assert_eq!(&*unescape(b"\\n\\r\\\"q\\\""), b"\n\r\"q\"");
    }

    #[test]
    fn variable_values_escape_the_splitter_bytes() {
        let mut out = Vec::new();
        escape_variable_value(r#"a,b(c)[d]"e"\"#, &mut out);
        assert_eq!(out, br#"a\,b\(c\)\[d\]\"e\"\\"#);
    }
}
