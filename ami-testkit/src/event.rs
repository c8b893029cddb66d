//! Events and response packets built with ami-proto's validated field encoder.

/// An event to write: a name plus ordered headers.
///
/// Built with [`ami_proto::encode_field`] rules: a key must be printable ASCII without
/// `:` and a value must not hold CR or LF (a NUL ends the value, as on the server).
/// To write bytes that break those rules on purpose, use
/// [`FakeAsterisk::push_raw`](crate::FakeAsterisk::push_raw) or
/// [`Reply::raw`](crate::Reply::raw).
///
/// ```
/// use ami_testkit::Event;
///
/// let event = Event::new("Newchannel")
///     .header("Privilege", "call,all")
///     .header("Channel", "PJSIP/100-00000001");
/// assert_eq!(
///     event.to_bytes(),
///     b"Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/100-00000001\r\n\r\n"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    name: String,
    fields: Vec<(String, Vec<u8>)>,
}

impl Event {
    /// An event named `name` (the `Event:` header), with no other header yet.
    pub fn new(name: impl Into<String>) -> Self {
        Event {
            name: name.into(),
            fields: Vec::new(),
        }
    }

    /// Appends a header.
    pub fn header(mut self, key: impl Into<String>, value: impl AsRef<[u8]>) -> Self {
        self.fields.push((key.into(), value.as_ref().to_vec()));
        self
    }

    /// Inserts a header right after `Event:` (where list items carry their `ActionID`).
    pub fn header_first(mut self, key: impl Into<String>, value: impl AsRef<[u8]>) -> Self {
        self.fields.insert(0, (key.into(), value.as_ref().to_vec()));
        self
    }

    /// The event's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The wire bytes: `Event: name`, the headers, and the empty line.
    ///
    /// # Panics
    /// When a key is not a valid header name or a value holds CR or LF.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.fields.len() * 32);
        put(&mut out, "Event", self.name.as_bytes());
        for (key, value) in &self.fields {
            put(&mut out, key, value);
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

/// Appends one `Key: Value\r\n` line through [`ami_proto::encode_field`], the value cut
/// at its first NUL (as the server would).
///
/// # Panics
/// When the key is invalid or the value holds CR or LF: a bug in the caller.
pub(crate) fn put(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    let value = match value.iter().position(|&b| b == 0) {
        Some(nul) => &value[..nul],
        None => value,
    };
    if let Err(err) = ami_proto::encode_field(out, key, value) {
        panic!("ami-testkit: cannot write header {key:?}: {err}");
    }
}

/// An event ready to fan out: its bytes plus the classes its `Privilege` names.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub(crate) bytes: Vec<u8>,
    pub(crate) classes: Option<Vec<String>>,
}

impl Prepared {
    /// From raw packet bytes; the classes are read from a `Privilege:` line if any.
    pub(crate) fn from_raw(bytes: Vec<u8>) -> Self {
        let classes = privilege_classes(&bytes);
        Prepared { bytes, classes }
    }
}

/// The classes of a `Privilege: call,all` line, `all` left out. `None` without one.
fn privilege_classes(packet: &[u8]) -> Option<Vec<String>> {
    for line in packet.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.len() > 11 && line[..11].eq_ignore_ascii_case(b"Privilege: ") {
            let value = String::from_utf8_lossy(&line[11..]).to_ascii_lowercase();
            return Some(
                value
                    .split(',')
                    .map(|c| c.trim().to_owned())
                    .filter(|c| !c.is_empty() && c != "all")
                    .collect(),
            );
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_privilege_classes() {
        let p = Prepared::from_raw(b"Event: X\r\nPrivilege: call,all\r\n\r\n".to_vec());
        assert_eq!(p.classes, Some(vec!["call".to_owned()]));
        assert_eq!(
            Prepared::from_raw(b"Event: X\r\n\r\n".to_vec()).classes,
            None
        );
    }
}
