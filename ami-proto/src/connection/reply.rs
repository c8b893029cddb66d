//! What an action completes with.

use crate::packet::Packet;

/// The complete reply to one action.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "type", content = "data"))]
pub enum Reply {
    /// A single response (including `Response: Error`, and an `Error` in place of a
    /// list).
    Response(Packet),
    /// A list: the response, its items and the closing `...Complete` event.
    /// Boxed, as is the originate outcome: a reply travels through the same
    /// queues as events, whose every move would otherwise copy room for the
    /// largest reply (two packets and a list), twice a packet's size.
    List(Box<List>),
    /// An async `Originate`: the response, then the call's outcome.
    Originate(Box<OriginateOutcome>),
}

impl Reply {
    /// The response packet that opened this reply.
    pub fn response(&self) -> &Packet {
        match self {
            Reply::Response(packet) => packet,
            Reply::List(list) => &list.response,
            Reply::Originate(outcome) => &outcome.response,
        }
    }
}

/// A list reply ("event-generating action").
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct List {
    /// The `Response: Success` / `EventList: start` packet.
    pub response: Packet,
    /// The item events, in order. Empty when the items were streamed.
    pub items: Vec<Packet>,
    /// The closing `...Complete` event.
    pub complete: Packet,
    /// How many items arrived (streamed or collected).
    pub received: usize,
}

impl List {
    /// The count the closing event declares (`ListItems`, or legacy `Items`).
    pub fn declared_items(&self) -> Option<usize> {
        self.complete.list_items()
    }

    /// Checks the declared count against the items received. A list whose closing
    /// event declares no count passes.
    pub fn verify(&self) -> Result<(), ListMismatch> {
        match self.declared_items() {
            Some(declared) if declared != self.received => Err(ListMismatch {
                declared,
                received: self.received,
            }),
            _ => Ok(()),
        }
    }
}

/// A list whose closing event declares a different item count than arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ListMismatch {
    /// The `ListItems` value.
    pub declared: usize,
    /// Items received.
    pub received: usize,
}

/// The outcome of an async `Originate`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct OriginateOutcome {
    /// The immediate response (`Originate successfully queued`, or an error).
    pub response: Packet,
    /// The `OriginateResponse` event; `None` when the response was an error.
    pub event: Option<Packet>,
}

impl OriginateOutcome {
    /// True when the call was placed: `Response: Success` in the event.
    pub fn is_success(&self) -> bool {
        self.event
            .as_ref()
            .is_some_and(|event| event.is("Response", "Success"))
    }

    /// The `Reason` code (4 answered, 5 busy, 3 no answer, 0 failed).
    pub fn reason(&self) -> Option<u32> {
        self.event
            .as_ref()?
            .get("Reason")?
            .as_str()?
            .trim()
            .parse()
            .ok()
    }
}
