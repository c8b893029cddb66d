//! URL encoding of AMI headers as HTTP parameters (`application/x-www-form-urlencoded`).
//!
//! Asterisk turns each `name=value` parameter of `/rawman` into the header line
//! `name: value` after URL-decoding both (`ast_uri_decode`, legacy mode: `+` is a
//! space). Every byte but the unreserved `A-Z a-z 0-9 - . _ ~` is written `%XX`,
//! so any byte the TCP serializer accepts (everything but CR, LF and NUL in a
//! value) crosses unchanged, `+`, `&`, `=`, `%` and non-UTF-8 bytes included.

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

fn push_encoded(out: &mut String, bytes: &[u8]) {
    for &byte in bytes {
        if unreserved(byte) {
            out.push(byte as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(byte >> 4)] as char);
            out.push(HEX[usize::from(byte & 0xf)] as char);
        }
    }
}

/// Encodes parameters, in order (repeated names stay repeated), as a query
/// string or form body.
///
/// ```
/// use ami_proto::http::{decode_form, encode_form};
///
/// let form = encode_form([("Channel", &b"Local/101@test"[..]), ("Variable", b"A=1"), ("Variable", b"B=2")]);
/// assert_eq!(form, "Channel=Local%2F101%40test&Variable=A%3D1&Variable=B%3D2");
/// assert_eq!(decode_form(form.as_bytes())[2], (b"Variable".to_vec(), b"B=2".to_vec()));
/// ```
pub fn encode_form<'a, K, V>(params: impl IntoIterator<Item = (&'a K, &'a V)>) -> String
where
    K: AsRef<[u8]> + ?Sized + 'a,
    V: AsRef<[u8]> + ?Sized + 'a,
{
    let mut out = String::new();
    for (key, value) in params {
        if !out.is_empty() {
            out.push('&');
        }
        push_encoded(&mut out, key.as_ref());
        out.push('=');
        push_encoded(&mut out, value.as_ref());
    }
    out
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Decodes one URL-encoded component as Asterisk does: `%XX` is a byte, `+` a
/// space, and a `%` not followed by two hex digits stays as it is.
pub fn decode_component(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'%' => {
                let decoded = text
                    .get(i + 1..i + 3)
                    .and_then(|pair| Some(hex_value(pair[0])? << 4 | hex_value(pair[1])?));
                match decoded {
                    Some(byte) => {
                        out.push(byte);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

/// Decodes a query string or form body into `(name, value)` pairs, in order. A
/// parameter without `=` has an empty value; empty parameters are skipped.
pub fn decode_form(form: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    form.split(|&b| b == b'&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (key, value) = match part.iter().position(|&b| b == b'=') {
                Some(at) => (&part[..at], &part[at + 1..]),
                None => (part, &b""[..]),
            };
            (decode_component(key), decode_component(value))
        })
        .collect()
}
