//! The driver yields once per read, after publishing what the read produced: a
//! subscriber on the same current_thread runtime runs between reads, so under a
//! flood it keeps up instead of seeing ~1 % of the events (it did when the
//! driver yielded only when tokio's budget ran out).

use std::time::Duration;

use ami_testkit::{Event as FakeEvent, FakeAsterisk, Rate};
use ami_tokio::{Action, Config, Credentials, Event};

const EVENTS: usize = 20_000;

#[tokio::test(flavor = "current_thread")]
async fn a_same_thread_subscriber_keeps_up_with_a_flood() {
    let fake = FakeAsterisk::builder().start();
    // Default capacity (1024). A pump feeds at most 64 KiB at once, under 400 of these
    // ~170-byte events: far fewer than a subscriber that runs between reads can
    // hold, so it must never lag.
    let config = Config::new(Credentials::md5("admin", "amp111"));
    let client = ami_tokio::connect(fake.addr(), config).await.unwrap();
    client.send(Action::new("Ping")).await.unwrap(); // the login's events are in
                                                     // The first subscriber receives what arrived since login, then the flood.
    let mut events = client.events();
    let padding = "x".repeat(100);
    let packets = (0..EVENTS)
        .map(|seq| {
            FakeEvent::new("Flood")
                .header("Privilege", "user,all")
                .header("Seq", seq.to_string())
                .header("Padding", padding.as_str())
                .to_bytes()
        })
        .collect();
    let flood = fake.flood(packets, Rate::Unlimited);
    let count = async {
        let mut seen = 0;
        while seen < EVENTS {
            match events.next().await {
                Some(Event::Event(packet)) if packet.is("Event", "Flood") => {
                    let seq = packet.get("Seq").unwrap().to_str_lossy().parse::<usize>();
                    assert_eq!(seq, Ok(seen), "events in order, none skipped");
                    seen += 1;
                }
                Some(Event::Event(packet))
                    if seen == 0
                        && (packet.is("Event", "FullyBooted")
                            || packet.is("Event", "SuccessfulAuth")) => {}
                Some(Event::Lagged(missed)) => {
                    panic!("the subscriber lagged by {missed} after {seen} events")
                }
                other => panic!("after {seen} events: {other:?}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), count)
        .await
        .expect("every event within the deadline");
    assert_eq!(flood.wait(), EVENTS as u64);
}
