//! Every action and event the XML documents has a generated type, and no more.

mod common;

use std::collections::BTreeSet;

use ami_proto::{Parsed, Parser};
use ami_types::actions::ACTION_NAMES;
use ami_types::events::EVENT_NAMES;
use ami_types::AnyEvent;

fn documented() -> (BTreeSet<String>, BTreeSet<String>) {
    let xml = common::read_xml();
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(&xml, options).expect("XML");
    let name = |n: roxmltree::Node| n.attribute("name").unwrap_or_default().to_string();
    let actions = doc
        .root_element()
        .children()
        .filter(|n| n.has_tag_name("manager"))
        .map(name)
        .collect();
    // Events are also documented inside a list action's <responses>.
    let events = doc
        .descendants()
        .filter(|n| n.has_tag_name("managerEvent"))
        .map(name)
        .collect();
    (actions, events)
}

#[test]
fn every_documented_action_and_event_has_a_type() {
    let (actions, events) = documented();
    let generated_actions: BTreeSet<String> = ACTION_NAMES.iter().map(|s| s.to_string()).collect();
    let generated_events: BTreeSet<String> = EVENT_NAMES.iter().map(|s| s.to_string()).collect();
    assert_eq!(generated_actions, actions);
    assert_eq!(generated_events, events);
    // No duplicates, sorted (the generator's output is deterministic).
    assert_eq!(ACTION_NAMES.len(), actions.len());
    assert_eq!(EVENT_NAMES.len(), events.len());
    assert!(ACTION_NAMES.windows(2).all(|w| w[0] < w[1]));
    assert!(EVENT_NAMES.windows(2).all(|w| w[0] < w[1]));
    println!("{} actions, {} events", actions.len(), events.len());
}

#[test]
fn every_event_name_dispatches_to_its_view_in_any_case() {
    for name in EVENT_NAMES {
        for spelling in [
            name.to_string(),
            name.to_ascii_lowercase(),
            name.to_ascii_uppercase(),
        ] {
            let mut parser = Parser::without_banner();
            parser.feed(format!("Event: {spelling}\r\nPrivilege: call,all\r\n\r\n").as_bytes());
            let Some(Parsed::Packet(packet)) = parser.next() else {
                panic!("a packet for {spelling}")
            };
            let event = AnyEvent::from_packet(&packet).expect("an event");
            assert_eq!(event.name(), Some(*name), "{spelling}");
        }
    }
    let mut parser = Parser::without_banner();
    parser.feed(b"Event: NotAnAsteriskEvent\r\n\r\nResponse: Success\r\n\r\n");
    let Some(Parsed::Packet(unknown)) = parser.next() else {
        panic!()
    };
    assert!(matches!(
        AnyEvent::from_packet(&unknown),
        Some(AnyEvent::Unknown(_))
    ));
    let Some(Parsed::Packet(response)) = parser.next() else {
        panic!()
    };
    assert!(AnyEvent::from_packet(&response).is_none());
    // An event with an empty name is still an event.
    parser.feed(b"Event: \r\nX: 1\r\n\r\n");
    let Some(Parsed::Packet(empty)) = parser.next() else {
        panic!()
    };
    assert!(matches!(
        AnyEvent::from_packet(&empty),
        Some(AnyEvent::Unknown(_))
    ));
}

#[test]
fn action_specs_match_the_action_names() {
    let names: Vec<&str> = ami_types::actions::ACTION_SPECS
        .iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ACTION_NAMES);
    let originate = ami_types::ActionSpec::find("Originate").expect("Originate");
    assert!(originate.params.iter().all(|p| p.name != "ActionID"));
    let channel = originate
        .params
        .iter()
        .find(|p| p.name == "Channel")
        .expect("Channel");
    assert!(channel.required);
    let timeout = originate
        .params
        .iter()
        .find(|p| p.name == "Timeout")
        .expect("Timeout");
    assert_eq!(timeout.default, Some("30000"));
}
