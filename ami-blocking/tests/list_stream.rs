//! `Client::list_stream` against ami-testkit's fake Asterisk over real sockets:
//! streamed items arrive complete and in order, outside the event fan-out, and a
//! list cut short ends its stream with the reason. Every wait is bounded by the
//! action's deadline.

use std::time::Duration;

use ami_blocking::{connect, Action, Config, Credentials, Error, Event};
use ami_proto::Packet;
use ami_testkit::{Event as FakeEvent, FakeAsterisk};

fn plain() -> Config {
    Config::new(Credentials::plain("admin", "amp111"))
}

fn count(request: &Packet) -> usize {
    request
        .get("Count")
        .unwrap()
        .to_str_lossy()
        .parse()
        .unwrap()
}

fn item(seq: usize) -> FakeEvent {
    FakeEvent::new("BigItem").header("Seq", seq.to_string())
}

/// `BigList` answers `Count` numbered items; `CutList` sends the ack and `Count`
/// items, then hangs up; `EndlessList` sends them and never completes.
fn fake() -> FakeAsterisk {
    fn opening(request: &Packet, reply: &mut ami_testkit::Reply) {
        let id = reply.action_id().unwrap().to_vec();
        reply.respond(
            "Success",
            &[("EventList", "start"), ("Message", "Items will follow")],
        );
        for seq in 0..count(request) {
            reply.event(&item(seq).header_first("ActionID", &id));
        }
    }
    FakeAsterisk::builder()
        .handler("BigList", |request, reply| {
            let items = (0..count(request)).map(item).collect();
            reply.list("Items will follow", items, "BigListComplete");
        })
        .handler("CutList", |request, reply| {
            opening(request, reply);
            reply.close();
        })
        .handler("EndlessList", opening)
        .start()
}

fn seq(packet: &Packet) -> usize {
    packet.get("Seq").unwrap().to_str_lossy().parse().unwrap()
}

#[test]
fn five_thousand_items_complete_in_order_outside_the_event_fan_out() {
    let fake = fake();
    let mut config = plain();
    config.event_capacity = 8; // items through the fan-out would show as Lagged
    let client = connect(fake.addr(), config).unwrap();
    let events = client.events();
    let action = Action::new("BigList").header("Count", "5000");
    let mut stream = client.list_stream(action).unwrap();
    let mut next = 0;
    for item in &mut stream {
        assert_eq!(seq(&item), next);
        assert_eq!(item.event_name().unwrap(), "BigItem");
        next += 1;
    }
    assert_eq!(next, 5000);
    let list = stream.finish().unwrap();
    assert_eq!(list.received, 5000);
    assert!(list.items.is_empty());
    assert_eq!(list.complete.event_name().unwrap(), "BigListComplete");
    list.verify().unwrap();
    // list() is unchanged: it collects.
    let collected = client
        .list(Action::new("BigList").header("Count", "3"))
        .unwrap();
    assert_eq!(collected.items.len(), 3);
    assert_eq!(collected.received, 3);
    client.close();
    for event in events {
        match event {
            Event::Event(packet) => assert_ne!(packet.event_name().unwrap(), "BigItem"),
            Event::Lagged(missed) => panic!("the event fan-out lagged by {missed}"),
            _ => {}
        }
    }
}

#[test]
fn items_read_from_another_thread() {
    let fake = fake();
    let client = connect(fake.addr(), plain()).unwrap();
    let stream = client
        .list_stream(Action::new("BigList").header("Count", "1000"))
        .unwrap();
    let reader = std::thread::spawn(move || {
        let mut stream = stream;
        let seen: Vec<usize> = stream.by_ref().map(|item| seq(&item)).collect();
        (seen, stream.finish())
    });
    let (seen, list) = reader.join().unwrap();
    assert_eq!(seen, (0..1000).collect::<Vec<_>>());
    assert_eq!(list.unwrap().received, 1000);
}

#[test]
fn connection_closed_mid_list_ends_the_stream_with_the_reason() {
    let fake = fake();
    let client = connect(fake.addr(), plain()).unwrap();
    let mut stream = client
        .list_stream(Action::new("CutList").header("Count", "3"))
        .unwrap();
    let seen: Vec<usize> = stream.by_ref().map(|item| seq(&item)).collect();
    assert_eq!(seen, [0, 1, 2], "what arrived before the cut is delivered");
    let result = stream.finish();
    assert!(matches!(result, Err(Error::Closed(_))), "{result:?}");
    // A closed client refuses new lists at once.
    let refused = client.list_stream(Action::new("BigList"));
    assert!(matches!(refused, Err(Error::Closed(_))), "{refused:?}");
}

#[test]
fn the_action_deadline_bounds_the_whole_list() {
    let fake = fake();
    let client = connect(fake.addr(), plain()).unwrap();
    let action = Action::new("EndlessList")
        .header("Count", "2")
        .timeout(Duration::from_millis(200));
    let mut stream = client.list_stream(action).unwrap();
    assert_eq!(stream.by_ref().count(), 2);
    let result = stream.finish();
    assert!(matches!(result, Err(Error::Timeout)), "{result:?}");
    // The session goes on.
    client.send(Action::new("Ping")).unwrap();
}

#[test]
fn refused_action_and_early_finish() {
    let fake = fake();
    let client = connect(fake.addr(), plain()).unwrap();
    let refused = client.list_stream(Action::new("Bad\r\nName"));
    assert!(matches!(refused, Err(Error::Invalid(_))), "{refused:?}");
    // finish() without reading: the rest is discarded, the outcome still told.
    let stream = client
        .list_stream(Action::new("BigList").header("Count", "500"))
        .unwrap();
    assert_eq!(stream.finish().unwrap().received, 500);
    // An unknown action is an Error response: Rejected, and no items.
    let mut stream = client.list_stream(Action::new("NoSuchList")).unwrap();
    assert!(stream.next().is_none());
    let result = stream.finish();
    assert!(matches!(result, Err(Error::Rejected(_))), "{result:?}");
}
