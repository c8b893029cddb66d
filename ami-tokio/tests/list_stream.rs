//! `Client::list_stream` through tokio's own idiom: the `Stream` trait. The
//! behaviour every adapter shares (order, the event fan-out, cuts, deadlines,
//! refusals) is in ami-conformance's `list_stream_*` scenarios.

use std::future::Future;
use std::time::Duration;

use ami_proto::Packet;
use ami_testkit::FakeAsterisk;
use ami_tokio::{Action, Config, Credentials};

/// Every wait in these tests has a deadline: a hang is a failure, not a stuck run.
async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), future)
        .await
        .expect("deadline passed")
}

/// `BigList` answers `Count` numbered items.
fn fake() -> FakeAsterisk {
    FakeAsterisk::builder()
        .handler("BigList", ami_testkit::numbered_list)
        .start()
}

fn seq(packet: &Packet) -> usize {
    packet.get("Seq").unwrap().to_str_lossy().parse().unwrap()
}

#[tokio::test]
async fn the_stream_trait_yields_the_same_items() {
    let fake = fake();
    let config = Config::new(Credentials::plain("admin", "amp111"));
    let client = within(ami_tokio::connect(fake.addr(), config))
        .await
        .unwrap();
    let action = Action::new("BigList").header("Count", "100");
    let mut stream = client.list_stream(action).unwrap();
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
