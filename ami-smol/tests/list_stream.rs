//! `Client::list_stream` through the async idiom of each runtime ami-smol serves:
//! the `ListStream` moved into a task spawned on smol, then on async-std, and
//! read through the `Stream` trait. The behaviour every adapter shares (order,
//! the event fan-out, cuts, deadlines, refusals) is in ami-conformance's
//! `list_stream_*` scenarios.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use ami_proto::Packet;
use ami_smol::{Action, Config, Credentials, Error, List};
use ami_testkit::FakeAsterisk;

type Drained = (Vec<usize>, Result<List, Error>);
type Task = Pin<Box<dyn Future<Output = Drained> + Send>>;

/// Every wait has a deadline: a hang is a failure, not a stuck run.
async fn within<T>(work: impl Future<Output = T>) -> T {
    let expire = async {
        async_io::Timer::after(Duration::from_secs(20)).await;
        panic!("deadline passed");
    };
    futures_lite::future::or(work, expire).await
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

/// Streams 1,000 items into a task made by `spawn` and reads them there.
async fn items_read_on_a_spawned_task(spawn: fn(Task) -> Task) {
    let fake = fake();
    let config = Config::new(Credentials::plain("admin", "amp111"));
    let client = within(ami_smol::connect(fake.addr(), config))
        .await
        .unwrap();
    let action = Action::new("BigList").header("Count", "1000");
    let mut stream = client.list_stream(action).unwrap();
    let task = spawn(Box::pin(async move {
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

#[test]
fn items_read_on_a_spawned_smol_task_through_the_stream_trait() {
    smol::block_on(items_read_on_a_spawned_task(|f| Box::pin(smol::spawn(f))));
}

#[test]
fn items_read_on_a_spawned_async_std_task_through_the_stream_trait() {
    async_std::task::block_on(items_read_on_a_spawned_task(|f| {
        Box::pin(async_std::task::spawn(f))
    }));
}
