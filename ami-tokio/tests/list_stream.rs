//! `Client::list_stream` against ami-testkit's fake Asterisk over real sockets:
//! streamed items arrive complete and in order, outside the event fan-out, and a
//! list cut short ends its stream with the reason.

use std::future::Future;
use std::time::Duration;

use ami_proto::Packet;
use ami_testkit::{Event as FakeEvent, FakeAsterisk};
use ami_tokio::{Action, Config, Credentials, Error, Event};

/// Every wait in these tests has a deadline: a hang is a failure, not a stuck run.
async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), future)
        .await
        .expect("deadline passed")
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_items_complete_in_order_outside_the_event_fan_out() {
    let fake = fake();
    let mut config = plain();
    config.event_capacity = 8; // items through the fan-out would show as Lagged
    let client = within(ami_tokio::connect(fake.addr(), config))
        .await
        .unwrap();
    let mut events = client.events();
    let action = Action::new("BigList").header("Count", "5000");
    let mut stream = within(client.list_stream(action)).await.unwrap();
    let mut next = 0;
    while let Some(item) = within(stream.next()).await {
        assert_eq!(seq(&item), next);
        assert_eq!(item.event_name().unwrap(), "BigItem");
        next += 1;
    }
    assert_eq!(next, 5000);
    let list = within(stream.finish()).await.unwrap();
    assert_eq!(list.received, 5000);
    assert!(list.items.is_empty());
    assert_eq!(list.complete.event_name().unwrap(), "BigListComplete");
    list.verify().unwrap();
    // The action went out with the core's streaming flag, and list() is unchanged.
    let collected = within(client.list(Action::new("BigList").header("Count", "3")))
        .await
        .unwrap();
    assert_eq!(collected.items.len(), 3);
    assert_eq!(collected.received, 3);
    client.close();
    while let Some(event) = within(events.next()).await {
        match event {
            Event::Event(packet) => assert_ne!(packet.event_name().unwrap(), "BigItem"),
            Event::Lagged(missed) => panic!("the event fan-out lagged by {missed}"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn the_stream_trait_yields_the_same_items() {
    let fake = fake();
    let client = within(ami_tokio::connect(fake.addr(), plain()))
        .await
        .unwrap();
    let action = Action::new("BigList").header("Count", "100");
    let mut stream = within(client.list_stream(action)).await.unwrap();
    let mut seen = Vec::new();
    while let Some(item) = within(std::future::poll_fn(|cx| {
        futures_core::Stream::poll_next(std::pin::Pin::new(&mut stream), cx)
    }))
    .await
    {
        seen.push(seq(&item));
    }
    assert_eq!(seen, (0..100).collect::<Vec<_>>());
    assert_eq!(within(stream.finish()).await.unwrap().received, 100);
}

#[tokio::test]
async fn connection_closed_mid_list_ends_the_stream_with_the_reason() {
    let fake = fake();
    let client = within(ami_tokio::connect(fake.addr(), plain()))
        .await
        .unwrap();
    let action = Action::new("CutList").header("Count", "3");
    let mut stream = within(client.list_stream(action)).await.unwrap();
    let mut seen = Vec::new();
    while let Some(item) = within(stream.next()).await {
        seen.push(seq(&item));
    }
    assert_eq!(seen, [0, 1, 2], "what arrived before the cut is delivered");
    let result = within(stream.finish()).await;
    assert!(matches!(result, Err(Error::Closed(_))), "{result:?}");
    // No list succeeds on the closed client. (Right after the loss it may still
    // be accepted, then end at once: the driver finishes just after the failed
    // replies.)
    match within(client.list_stream(Action::new("BigList"))).await {
        Err(refused) => assert!(matches!(refused, Error::Closed(_)), "{refused:?}"),
        Ok(mut stream) => {
            assert!(within(stream.next()).await.is_none());
            let result = within(stream.finish()).await;
            assert!(matches!(result, Err(Error::Closed(_))), "{result:?}");
        }
    }
}

#[tokio::test]
async fn the_action_deadline_bounds_the_whole_list() {
    let fake = fake();
    let client = within(ami_tokio::connect(fake.addr(), plain()))
        .await
        .unwrap();
    let action = Action::new("EndlessList")
        .header("Count", "2")
        .timeout(Duration::from_millis(200));
    let mut stream = within(client.list_stream(action)).await.unwrap();
    let mut seen = 0;
    while within(stream.next()).await.is_some() {
        seen += 1;
    }
    assert_eq!(seen, 2);
    let result = within(stream.finish()).await;
    assert!(matches!(result, Err(Error::Timeout)), "{result:?}");
    // The session goes on.
    within(client.send(Action::new("Ping"))).await.unwrap();
}

#[tokio::test]
async fn refused_action_and_early_finish() {
    let fake = fake();
    let client = within(ami_tokio::connect(fake.addr(), plain()))
        .await
        .unwrap();
    let refused = within(client.list_stream(Action::new("Bad\r\nName"))).await;
    assert!(matches!(refused, Err(Error::Invalid(_))), "{refused:?}");
    // finish() without reading: the rest is discarded, the outcome still told.
    let action = Action::new("BigList").header("Count", "500");
    let stream = within(client.list_stream(action)).await.unwrap();
    let list = within(stream.finish()).await.unwrap();
    assert_eq!(list.received, 500);
    // An unknown action is an Error response: Rejected, and no items.
    let mut stream = within(client.list_stream(Action::new("NoSuchList")))
        .await
        .unwrap();
    assert!(within(stream.next()).await.is_none());
    let result = within(stream.finish()).await;
    assert!(matches!(result, Err(Error::Rejected(_))), "{result:?}");
}
