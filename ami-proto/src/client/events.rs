//! The items of a client's event stream.

use crate::connection::Reason;
use crate::packet::Packet;
use crate::parser::Malformed;

/// One item of a client's event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "type", content = "data"))]
#[non_exhaustive]
pub enum Event {
    /// An AMI event that is not part of any reply.
    Event(Packet),
    /// A response that matched no action (late, unsolicited, refused filter).
    Unmatched(Packet),
    /// A packet the parser dropped (too large); the stream goes on.
    Malformed(Malformed),
    /// This subscriber fell behind and missed this many items.
    Lagged(u64),
    /// The connection was lost; pending actions failed with this reason.
    Disconnected(Reason),
    /// A new session is logged in (mask and filters re-applied) after a loss.
    Reconnected,
}
