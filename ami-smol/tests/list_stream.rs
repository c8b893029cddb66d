//! `Client::list_stream` against ami-testkit's fake Asterisk over real sockets:
//! streamed items arrive complete and in order, outside the event fan-out, and a
//! list cut short ends its stream with the reason. Every scenario runs twice: on
//! smol (`smol::block_on`) and on async-std (`async_std::task::block_on`).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use ami_proto::Packet;
use ami_smol::{Action, Config, Credentials, Error, Event, List, ListStream};
use ami_testkit::{Event as FakeEvent, FakeAsterisk};

type Drained = (Vec<usize>, Result<List, Error>);
type Task = Pin<Box<dyn Future<Output = Drained> + Send>>;

/// The runtime a scenario runs on: how to spawn a task and get its result.
#[derive(Clone, Copy)]
struct Rt {
    spawn: fn(Task) -> Task,
}

const SMOL: Rt = Rt {
    spawn: |f| Box::pin(smol::spawn(f)),
};
const ASYNC_STD: Rt = Rt {
    spawn: |f| Box::pin(async_std::task::spawn(f)),
};

/// One scenario, two `#[test]`s.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod on_smol {
            $( #[test] fn $name() { smol::block_on(super::$name(super::SMOL)) } )*
        }
        mod on_async_std {
            $( #[test] fn $name() { async_std::task::block_on(super::$name(super::ASYNC_STD)) } )*
        }
    };
}

on_both!(
    five_thousand_items_complete_in_order_outside_the_event_fan_out,
    items_read_on_a_spawned_task_through_the_stream_trait,
    connection_closed_mid_list_ends_the_stream_with_the_reason,
    the_action_deadline_bounds_the_whole_list,
    refused_action_and_early_finish,
);

/// Every wait has a deadline: a hang is a failure, not a stuck run.
async fn within<T>(work: impl Future<Output = T>) -> T {
    let expire = async {
        async_io::Timer::after(Duration::from_secs(20)).await;
        panic!("deadline passed");
    };
    futures_lite::future::or(work, expire).await
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

/// Reads every item's `Seq` with `ListStream::next`, then finishes.
async fn drain(mut stream: ListStream) -> Drained {
    let mut seen = Vec::new();
    while let Some(item) = within(stream.next()).await {
        seen.push(seq(&item));
    }
    (seen, within(stream.finish()).await)
}

async fn five_thousand_items_complete_in_order_outside_the_event_fan_out(_: Rt) {
    let fake = fake();
    let mut config = plain();
    config.event_capacity = 8; // items through the fan-out would show as Lagged
    let client = within(ami_smol::connect(fake.addr(), config))
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
    // list() is unchanged: it collects.
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

async fn items_read_on_a_spawned_task_through_the_stream_trait(rt: Rt) {
    let fake = fake();
    let client = within(ami_smol::connect(fake.addr(), plain()))
        .await
        .unwrap();
    let action = Action::new("BigList").header("Count", "1000");
    let mut stream = within(client.list_stream(action)).await.unwrap();
    let task = (rt.spawn)(Box::pin(async move {
        let mut seen = Vec::new();
        while let Some(item) = within(std::future::poll_fn(|cx| {
            futures_core::Stream::poll_next(Pin::new(&mut stream), cx)
        }))
        .await
        {
            seen.push(seq(&item));
        }
        (seen, within(stream.finish()).await)
    }));
    let (seen, list) = within(task).await;
    assert_eq!(seen, (0..1000).collect::<Vec<_>>());
    assert_eq!(list.unwrap().received, 1000);
}

async fn connection_closed_mid_list_ends_the_stream_with_the_reason(_: Rt) {
    let fake = fake();
    let client = within(ami_smol::connect(fake.addr(), plain()))
        .await
        .unwrap();
    let action = Action::new("CutList").header("Count", "3");
    let stream = within(client.list_stream(action)).await.unwrap();
    let (seen, result) = drain(stream).await;
    assert_eq!(seen, [0, 1, 2], "what arrived before the cut is delivered");
    assert!(matches!(result, Err(Error::Closed(_))), "{result:?}");
    // No list succeeds on the closed client. (Right after the loss it may still
    // be accepted, then end at once: `down` is set just after the failed replies.)
    match within(client.list_stream(Action::new("BigList"))).await {
        Err(refused) => assert!(matches!(refused, Error::Closed(_)), "{refused:?}"),
        Ok(stream) => {
            let (seen, result) = drain(stream).await;
            assert!(seen.is_empty());
            assert!(matches!(result, Err(Error::Closed(_))), "{result:?}");
        }
    }
}

async fn the_action_deadline_bounds_the_whole_list(_: Rt) {
    let fake = fake();
    let client = within(ami_smol::connect(fake.addr(), plain()))
        .await
        .unwrap();
    let action = Action::new("EndlessList")
        .header("Count", "2")
        .timeout(Duration::from_millis(200));
    let stream = within(client.list_stream(action)).await.unwrap();
    let (seen, result) = drain(stream).await;
    assert_eq!(seen, [0, 1]);
    assert!(matches!(result, Err(Error::Timeout)), "{result:?}");
    // The session goes on.
    within(client.send(Action::new("Ping"))).await.unwrap();
}

async fn refused_action_and_early_finish(_: Rt) {
    let fake = fake();
    let client = within(ami_smol::connect(fake.addr(), plain()))
        .await
        .unwrap();
    let refused = within(client.list_stream(Action::new("Bad\r\nName"))).await;
    assert!(matches!(refused, Err(Error::Invalid(_))), "{refused:?}");
    // finish() without reading: the rest is discarded, the outcome still told.
    let action = Action::new("BigList").header("Count", "500");
    let stream = within(client.list_stream(action)).await.unwrap();
    assert_eq!(within(stream.finish()).await.unwrap().received, 500);
    // An unknown action is an Error response: Rejected, and no items.
    let stream = within(client.list_stream(Action::new("NoSuchList")))
        .await
        .unwrap();
    let (seen, result) = drain(stream).await;
    assert!(seen.is_empty());
    assert!(matches!(result, Err(Error::Rejected(_))), "{result:?}");
}
