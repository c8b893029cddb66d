//! Over the whole corpus and every fixture: each event packet maps to its typed
//! view (or to `Unknown` for the few events the XML does not document), and every
//! typed accessor reads back exactly what `Packet::get` reads for its header.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use ami_proto::{List, Packet, PacketKind};
use ami_types::{AnyEvent, FieldValue};

/// Events seen in our traffic that Asterisk 22.10.1's XML does not document: none.
/// (The server sends `Event: Newexten` while the XML documents `NewExten`: only the
/// case-insensitive match makes it typed; see `newexten_is_matched_case_insensitively`.)
const UNDOCUMENTED_IN_TRAFFIC: &[&str] = &[];

/// Headers every event may carry (the envelope and list bookkeeping), not
/// documented per event.
const ENVELOPE: &[&str] = &[
    "Event",
    "Privilege",
    "Timestamp",
    "SystemName",
    "ActionID",
    "EventList",
];

#[derive(Default)]
struct Tally {
    packets: usize,
    events: usize,
    typed: usize,
    reads: usize,
    present: usize,
    unknown: BTreeMap<String, usize>,
    /// Headers of typed events their view does not read: (event, header) -> count.
    unread: BTreeMap<(&'static str, String), usize>,
    typed_names: BTreeSet<&'static str>,
}

fn check(packet: &Packet, tally: &mut Tally, source: &str) {
    tally.packets += 1;
    let Some(event) = AnyEvent::from_packet(packet) else {
        assert_ne!(packet.kind(), PacketKind::Event, "{source}: {packet:?}");
        return;
    };
    assert_eq!(packet.kind(), PacketKind::Event);
    tally.events += 1;
    let wire_name = packet.event_name().expect("event name");
    let Some(name) = event.name() else {
        *tally
            .unknown
            .entry(wire_name.to_str_lossy().into_owned())
            .or_default() += 1;
        return;
    };
    assert!(
        wire_name.as_bytes().eq_ignore_ascii_case(name.as_bytes()),
        "{source}: {wire_name} typed as {name}"
    );
    assert!(std::ptr::eq(event.packet(), packet));
    tally.typed += 1;
    tally.typed_names.insert(name);
    let mut seen = Vec::new();
    event.visit(&mut |header, value| {
        tally.reads += 1;
        seen.push(header);
        let raw = packet.get(header);
        if raw.is_some() {
            tally.present += 1;
        }
        match value {
            FieldValue::Text(value) => assert_eq!(value, raw, "{source}: {name} {header}"),
            FieldValue::Number(number) => {
                let expected = raw.and_then(|v| v.as_str()?.parse::<u32>().ok());
                assert_eq!(number, expected, "{source}: {name} {header}");
                // The hand-kept numeric headers really are numbers in real traffic.
                if raw.is_some_and(|v| !v.is_empty()) {
                    assert!(
                        number.is_some(),
                        "{source}: {name} {header}={raw:?} not a number"
                    );
                }
            }
            FieldValue::Enum(text) => assert_eq!(
                text.as_deref().map(str::as_bytes),
                raw.map(|v| v.as_bytes()),
                "{source}: {name} {header}"
            ),
            FieldValue::Repeated(values) => {
                assert_eq!(values, packet.get_all(header).collect::<Vec<_>>())
            }
        }
    });
    // `visit` covers exactly the headers the view declares.
    let declared: BTreeSet<&str> = event.headers().iter().copied().collect();
    let visited: BTreeSet<&str> = seen.iter().copied().collect();
    assert_eq!(visited, declared, "{source}: {name}");
    for field in packet.fields() {
        let key = String::from_utf8_lossy(field.key).into_owned();
        let read = declared.iter().any(|h| h.eq_ignore_ascii_case(&key));
        if !read && !ENVELOPE.iter().any(|h| h.eq_ignore_ascii_case(&key)) {
            *tally.unread.entry((name, key)).or_default() += 1;
        }
    }
    // The everyday accessors agree with the packet.
    if let Some(channel) = event.channel() {
        assert_eq!(channel.name(), packet.get("Channel"));
        assert_eq!(channel.uniqueid(), packet.get("Uniqueid"));
        assert_eq!(channel.linkedid(), packet.get("Linkedid"));
    }
    if event.uniqueid().is_some() {
        assert_eq!(event.uniqueid(), packet.get("Uniqueid"));
    }
}

#[test]
fn every_event_of_the_corpus_and_fixtures_is_typed_and_reads_back_its_bytes() {
    let mut tally = Tally::default();
    for (source, data) in common::captures() {
        for packet in common::packets(&data) {
            check(&packet, &mut tally, &source);
        }
    }
    let unknown: Vec<&str> = tally.unknown.keys().map(String::as_str).collect();
    assert_eq!(unknown, UNDOCUMENTED_IN_TRAFFIC, "{:?}", tally.unknown);
    println!(
        "{} packets, {} events: {} typed ({} kinds), {} unknown {:?}; {} typed reads, {} of present headers",
        tally.packets,
        tally.events,
        tally.typed,
        tally.typed_names.len(),
        tally.events - tally.typed,
        tally.unknown,
        tally.reads,
        tally.present
    );
    // The documentation covers every header real traffic carries, except the
    // free-form headers of UserEvent (the corpus's `UserEvent` sends `Foo`, `Baz`).
    let unread: Vec<_> = tally.unread.keys().collect();
    assert_eq!(
        unread,
        [
            &("UserEvent", "Baz".to_string()),
            &("UserEvent", "Foo".to_string())
        ],
        "{:?}",
        tally.unread
    );
    assert!(tally.packets > 25_000, "the whole corpus was read");
    assert!(tally.typed > 20_000);
    assert!(tally.present > 200_000, "typed accessors found real values");
}

#[test]
fn typed_views_read_real_events() {
    let data = std::fs::read(common::repo_path("corpus/asterisk-22.10.1-calls.ami")).unwrap();
    let packets = common::packets(&data);
    let mut hangups = 0;
    let mut originates = BTreeMap::new();
    for packet in &packets {
        match AnyEvent::from_packet(packet) {
            Some(AnyEvent::Hangup(hangup)) => {
                hangups += 1;
                assert!(hangup.channel().name().is_some());
                assert!(hangup.cause().is_some());
                assert!(hangup.channel().uniqueid().is_some());
            }
            Some(AnyEvent::OriginateResponse(response)) => {
                *originates
                    .entry(format!("{:?}", response.reason()))
                    .or_insert(0) += 1;
            }
            Some(AnyEvent::DialBegin(dial)) => {
                assert_eq!(dial.dest().prefix(), "Dest");
                assert_eq!(dial.dest().name(), packet.get("DestChannel"));
                assert!(dial.dest().priority().is_some());
            }
            Some(AnyEvent::BridgeEnter(enter)) => {
                assert_eq!(enter.bridge().uniqueid(), packet.get("BridgeUniqueid"));
                assert!(enter.bridge().num_channels().is_some());
            }
            _ => {}
        }
    }
    assert_eq!(hangups, 1000);
    assert_eq!(originates.values().sum::<usize>(), 300, "{originates:?}");
    assert!(originates.contains_key("Some(Answered)"), "{originates:?}");
}

#[test]
fn the_coreshowchannels_fixture_is_a_typed_list() {
    let data = std::fs::read(common::repo_path(
        "fixtures/asterisk-22.10.1/04_coreshowchannels.server",
    ))
    .unwrap();
    let packets = common::packets(&data);
    // The fixture lists twice: with no channels (`csc-empty`), then during a call.
    let of_full = |p: &&Packet| p.is("ActionID", "csc-full");
    let start = packets
        .iter()
        .position(|p| of_full(&p) && p.is("EventList", "start"))
        .expect("list start");
    let end = packets
        .iter()
        .position(|p| of_full(&p) && p.is("Event", "CoreShowChannelsComplete"))
        .expect("list end");
    let items = packets[start + 1..end].to_vec();
    let list = ami_types::lists::CoreShowChannelsList {
        list: List {
            response: packets[start].clone(),
            received: items.len(),
            items,
            complete: packets[end].clone(),
        },
    };
    let complete = list.complete().expect("typed complete");
    assert_eq!(complete.list_items(), Some(list.list.received as u32));
    assert!(list.list.received > 0);
    assert_eq!(list.items().count(), list.list.received);
    for item in list.items() {
        assert!(item.channel().name().is_some());
        assert!(item.duration().is_some());
    }
}

#[test]
fn newexten_is_matched_case_insensitively() {
    let data = std::fs::read(common::repo_path("corpus/asterisk-22.10.1-calls.ami")).unwrap();
    let packets = common::packets(&data);
    let newexten: Vec<_> = packets
        .iter()
        .filter(|p| p.event_name().is_some_and(|name| name == "Newexten"))
        .collect();
    assert_eq!(newexten.len(), 3700);
    for packet in newexten {
        let Some(AnyEvent::NewExten(event)) = AnyEvent::from_packet(packet) else {
            panic!("Newexten is the documented NewExten")
        };
        assert_eq!(ami_types::events::NewExten::NAME, "NewExten");
        assert!(event.application().is_some());
        assert!(event.channel().name().is_some());
    }
}
