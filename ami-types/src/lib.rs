#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

#[path = "generated/actions.rs"]
pub mod actions;
#[path = "generated/enums.rs"]
pub mod enums;
#[path = "generated/events.rs"]
pub mod events;
#[path = "generated/lists.rs"]
pub mod lists;
#[path = "generated/requests.rs"]
mod requests;
#[path = "generated/snapshots.rs"]
pub mod snapshots;

use ami_proto::{Packet, Value};

/// The typed request trait every action implements (re-exported from `ami-proto`).
pub use ami_proto::Request;
pub use events::AnyEvent;
pub use snapshots::{BridgeSnapshot, ChannelSnapshot};

/// One documented action and its parameters (for help texts and validation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionSpec {
    /// The action name.
    pub name: &'static str,
    /// Its documented parameters, `ActionID` excluded, in documentation order.
    pub params: &'static [ParamSpec],
}

/// One documented action parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamSpec {
    /// The header name.
    pub name: &'static str,
    /// Whether the documentation marks it required.
    pub required: bool,
    /// The documented default, if any.
    pub default: Option<&'static str>,
}

impl ActionSpec {
    /// The spec of the action `name` (ASCII case-insensitive).
    ///
    /// ```
    /// let spec = ami_types::ActionSpec::find("originate").unwrap();
    /// assert!(spec.params.iter().any(|p| p.name == "Channel" && p.required));
    /// ```
    pub fn find(name: &str) -> Option<&'static ActionSpec> {
        actions::ACTION_SPECS
            .iter()
            .find(|spec| spec.name.eq_ignore_ascii_case(name))
    }
}

/// What a typed accessor returned, as passed to the `visit` methods of the event
/// views: a generic walk over every typed field (tests, printing, conversions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue<'a> {
    /// An accessor returning the raw value.
    Text(Option<Value<'a>>),
    /// An accessor returning a number (or a numeric code).
    Number(Option<u32>),
    /// An accessor returning a documented enumeration, as its wire text.
    Enum(Option<String>),
    /// An accessor returning every value of a repeated header.
    Repeated(Vec<Value<'a>>),
}

/// Events documented with an unprefixed channel snapshot: `Channel`, `Uniqueid`,
/// `Linkedid` ... read the same way on all of them.
///
/// ```
/// use ami_proto::{Parsed, Parser};
/// use ami_types::{events::Hangup, HasChannel};
///
/// fn describe<'a>(event: &impl HasChannel<'a>) -> String {
///     let channel = event.channel();
///     format!("{:?} {:?}", channel.name(), channel.uniqueid())
/// }
///
/// let mut parser = Parser::without_banner();
/// parser.feed(b"Event: Hangup\r\nChannel: PJSIP/100-1\r\nUniqueid: 17.1\r\n\r\n");
/// let Some(Parsed::Packet(packet)) = parser.next() else { panic!() };
/// let hangup = Hangup::from_packet(&packet).unwrap();
/// assert_eq!(describe(&hangup), "Some(\"PJSIP/100-1\") Some(\"17.1\")");
/// ```
pub trait HasChannel<'a> {
    /// The unprefixed channel snapshot.
    fn channel(&self) -> ChannelSnapshot<'a>;
}

/// What every generated event view is: filter a stream by type with
/// `E::from_packet`, generically.
///
/// ```
/// use ami_proto::{Packet, Parsed, Parser};
/// use ami_types::events::{Hangup, Newchannel};
/// use ami_types::EventView;
///
/// fn only<'a, E: EventView<'a> + 'a>(packets: &'a [Packet]) -> impl Iterator<Item = E> + 'a {
///     packets.iter().filter_map(E::from_packet)
/// }
///
/// let mut parser = Parser::without_banner();
/// parser.feed(b"Event: Newchannel\r\nChannel: A\r\n\r\nEvent: Hangup\r\nChannel: A\r\nCause: 16\r\n\r\n");
/// let packets: Vec<Packet> = parser
///     .filter_map(|item| match item { Parsed::Packet(p) => Some(p), _ => None })
///     .collect();
/// let causes: Vec<_> = only::<Hangup>(&packets).map(|h| h.cause()).collect();
/// assert_eq!(causes, [Some(16)]);
/// assert_eq!(only::<Newchannel>(&packets).count(), 1);
/// assert_eq!(<Hangup as EventView>::NAME, "Hangup");
/// ```
pub trait EventView<'a>: Sized + Copy {
    /// The event's name as the documentation spells it.
    const NAME: &'static str;
    /// Every header the view reads (snapshot headers included).
    const HEADERS: &'static [&'static str];
    /// The view of `packet` when it is this event (name matched ASCII case-insensitively).
    fn from_packet(packet: &'a Packet) -> Option<Self>;
    /// The packet the view reads.
    fn packet(&self) -> &'a Packet;
}

/// A header value read as a decimal `u32` (exact bytes, no trimming).
pub(crate) fn number(value: Option<Value<'_>>) -> Option<u32> {
    value?.as_str()?.parse().ok()
}
