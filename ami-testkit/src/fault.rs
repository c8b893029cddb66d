//! Faults injected on demand, and how they reshape what a connection writes.

/// A misbehaviour of the fake server, applied per connection.
///
/// Set with [`FakeAsterisk::set_fault`](crate::FakeAsterisk::set_fault) (or
/// [`add_fault`](crate::FakeAsterisk::add_fault)): it applies to the connections
/// already open and to every new one, until
/// [`clear_faults`](crate::FakeAsterisk::clear_faults). One-shot faults
/// ([`Fault::CloseMidPacket`], [`Fault::Garbage`], [`Fault::Oversized`]) fire once per
/// connection, on the next packet it writes after the banner.
///
/// ```
/// use ami_testkit::{FakeAsterisk, Fault};
///
/// let fake = FakeAsterisk::start();
/// fake.set_fault(Fault::NoReplyTo("Ping".into()));
/// fake.add_fault(Fault::BareLf);
/// fake.clear_faults();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Write the first half of the next packet, then close the connection.
    CloseMidPacket,
    /// Stop reading actions (`read`) and/or stop writing anything (`write`) until the
    /// fault is cleared. The socket stays open.
    Stall {
        /// Stop reading from the client.
        read: bool,
        /// Stop writing to the client.
        write: bool,
    },
    /// Write these bytes (verbatim) just before the next packet.
    Garbage(Vec<u8>),
    /// Write an event packet of about this many bytes just before the next packet
    /// (`Event: Oversized` plus one `Data:` header holding the padding).
    Oversized(usize),
    /// End every line with a bare LF instead of CRLF.
    BareLf,
    /// End every packet with `\r\n\n` (the `CoreShowChannelMap` quirk of Asterisk 18.19+).
    CrLfLf,
    /// Leave the `ActionID` header out of every response.
    NoActionId,
    /// Never reply to this action (matched case-insensitively); later actions are served.
    NoReplyTo(String),
    /// Close the connection once this many more bytes have been written (the banner
    /// counts on new connections), cutting a packet wherever that falls.
    DropAfterBytes(usize),
    /// Answer every `Login` with `Authentication failed`, then close.
    RefuseLogins,
}

impl Fault {
    pub(crate) fn same_kind(&self, other: &Fault) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

/// The faults in force on one connection.
#[derive(Debug, Default, Clone)]
pub(crate) struct FaultSet {
    pub(crate) faults: Vec<Fault>,
}

impl FaultSet {
    pub(crate) fn new(faults: Vec<Fault>) -> Self {
        FaultSet { faults }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.faults.is_empty()
    }

    pub(crate) fn stalls_read(&self) -> bool {
        self.faults
            .iter()
            .any(|f| matches!(f, Fault::Stall { read: true, .. }))
    }

    pub(crate) fn stalls_write(&self) -> bool {
        self.faults
            .iter()
            .any(|f| matches!(f, Fault::Stall { write: true, .. }))
    }

    pub(crate) fn ignores(&self, action: &[u8]) -> bool {
        self.faults.iter().any(|f| match f {
            Fault::NoReplyTo(name) => name.as_bytes().eq_ignore_ascii_case(action),
            _ => false,
        })
    }

    pub(crate) fn refuses_logins(&self) -> bool {
        self.faults.contains(&Fault::RefuseLogins)
    }

    fn has(&self, fault: &Fault) -> bool {
        self.faults.contains(fault)
    }

    /// Appends `packet` to `out`, reshaped by the faults in force. Returns true when
    /// the connection must close after writing `out`.
    pub(crate) fn shape_packet(
        &mut self,
        packet: &[u8],
        response: bool,
        out: &mut Vec<u8>,
    ) -> bool {
        let start = out.len();
        let mut close = false;
        // One-shot prefixes.
        let mut i = 0;
        while i < self.faults.len() {
            match &self.faults[i] {
                Fault::Garbage(bytes) => {
                    out.extend_from_slice(bytes);
                    self.faults.remove(i);
                }
                Fault::Oversized(size) => {
                    out.extend_from_slice(&oversized(*size));
                    self.faults.remove(i);
                }
                _ => i += 1,
            }
        }
        let mut body = packet.to_vec();
        if response && self.has(&Fault::NoActionId) {
            body = strip_action_id(&body);
        }
        if self.has(&Fault::CrLfLf) && body.ends_with(b"\r\n\r\n") {
            body.truncate(body.len() - 2);
            body.push(b'\n');
        }
        if self.has(&Fault::BareLf) {
            body = bare_lf(&body);
        }
        if let Some(at) = self.faults.iter().position(|f| *f == Fault::CloseMidPacket) {
            self.faults.remove(at);
            body.truncate(body.len() / 2);
            close = true;
        }
        out.extend_from_slice(&body);
        if self.budget(out, start) {
            close = true;
        }
        close
    }

    /// Applies [`Fault::DropAfterBytes`] to what was appended from `start` on: cuts
    /// `out` at the budget. Returns true when the connection must close.
    pub(crate) fn budget(&mut self, out: &mut Vec<u8>, start: usize) -> bool {
        for fault in &mut self.faults {
            if let Fault::DropAfterBytes(left) = fault {
                let written = out.len() - start;
                if written >= *left {
                    out.truncate(start + *left);
                    *left = 0;
                    return true;
                }
                *left -= written;
            }
        }
        false
    }
}

fn oversized(size: usize) -> Vec<u8> {
    let mut out = b"Event: Oversized\r\nData: ".to_vec();
    let pad = size.saturating_sub(out.len() + 4).max(1);
    out.resize(out.len() + pad, b'x');
    out.extend_from_slice(b"\r\n\r\n");
    out
}

fn strip_action_id(packet: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(packet.len());
    for line in packet.split_inclusive(|&b| b == b'\n') {
        let is_id = line.len() >= 9 && line[..9].eq_ignore_ascii_case(b"ActionID:");
        if !is_id {
            out.extend_from_slice(line);
        }
    }
    out
}

fn bare_lf(packet: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(packet.len());
    let mut i = 0;
    while i < packet.len() {
        if packet[i] == b'\r' && packet.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(packet[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(faults: Vec<Fault>, packet: &[u8], response: bool) -> (Vec<u8>, bool) {
        let mut set = FaultSet::new(faults);
        let mut out = Vec::new();
        let close = set.shape_packet(packet, response, &mut out);
        (out, close)
    }

    #[test]
    fn reshapes_packets() {
        let p = b"Response: Success\r\nActionID: a\r\nPing: Pong\r\n\r\n";
        assert_eq!(
            shape(vec![Fault::BareLf], p, true).0,
            b"Response: Success\nActionID: a\nPing: Pong\n\n"
        );
        assert_eq!(
            shape(vec![Fault::CrLfLf], p, true).0,
            b"Response: Success\r\nActionID: a\r\nPing: Pong\r\n\n"
        );
        assert_eq!(
            shape(vec![Fault::NoActionId], p, true).0,
            b"Response: Success\r\nPing: Pong\r\n\r\n"
        );
        assert_eq!(shape(vec![Fault::NoActionId], p, false).0, p);
        let (cut, close) = shape(vec![Fault::CloseMidPacket], p, true);
        assert_eq!(cut, &p[..p.len() / 2]);
        assert!(close);
        let (cut, close) = shape(vec![Fault::DropAfterBytes(5)], p, true);
        assert_eq!(cut, b"Respo");
        assert!(close);
        let (big, _) = shape(vec![Fault::Oversized(1000)], b"", false);
        assert_eq!(big.len(), 1000);
    }
}
