//! `Client::list_stream` through the blocking idiom: a `ListStream` is `Send`,
//! read as an `Iterator` on another thread. The behaviour every adapter shares
//! (order, the event fan-out, cuts, deadlines, refusals) is in ami-conformance's
//! `list_stream_*` scenarios.

use ami_blocking::{connect, Action, Config, Credentials};
use ami_proto::Packet;
use ami_testkit::FakeAsterisk;

/// `BigList` answers `Count` numbered items.
fn fake() -> FakeAsterisk {
    FakeAsterisk::builder()
        .handler("BigList", ami_testkit::numbered_list)
        .start()
}

fn seq(packet: &Packet) -> usize {
    packet.get("Seq").unwrap().to_str_lossy().parse().unwrap()
}

#[test]
fn items_read_from_another_thread() {
    let fake = fake();
    let config = Config::new(Credentials::plain("admin", "amp111"));
    let client = connect(fake.addr(), config).unwrap();
    let stream = client
        .list_stream(Action::new("BigList").header("Count", "1000"))
        .unwrap();
    let reader = std::thread::spawn(move || {
        let mut stream = stream;
        let seen: Vec<usize> = stream.by_ref().map(|item| seq(&item)).collect();
        (seen, stream.finish().wait())
    });
    let (seen, list) = reader.join().unwrap();
    assert_eq!(seen, (0..1000).collect::<Vec<_>>());
    assert_eq!(list.unwrap().received, 1000);
}
