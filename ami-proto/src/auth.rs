//! The MD5 challenge login key.

use md5::{Digest, Md5};

/// The `Key:` of an MD5 login: 32 lowercase hex digits of md5(challenge + secret).
///
/// ```
/// // The fixture's vector: the server accepted this key.
/// assert_eq!(
///     ami_proto::md5_key("204268188", "amp111"),
///     "abc7dfc1ebc295b1cc97ea619e592a58"
/// );
/// ```
pub fn md5_key(challenge: &str, secret: &str) -> String {
    let mut hasher = Md5::new();
    hasher.update(challenge.as_bytes());
    hasher.update(secret.as_bytes());
    let digest = hasher.finalize();
    let mut key = String::with_capacity(32);
    for byte in digest {
        key.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        key.push(char::from(b"0123456789abcdef"[usize::from(byte & 0xf)]));
    }
    key
}
