//! What only ami-smol promises: its `Driver` is a plain future the caller spawns
//! on any executor, and dropping it fails every call at once. Run on smol and on
//! async-std. The behaviour every adapter shares is in ami-conformance.

use ami_smol::{Action, Config, Credentials, Error};
use ami_testkit::FakeAsterisk;

async fn dropping_the_driver_fails_calls_at_once() {
    let fake = FakeAsterisk::start();
    let tcp = async_net::TcpStream::connect(fake.addr()).await.unwrap();
    let config = Config::new(Credentials::plain("admin", "amp111"));
    let (client, driver) = ami_smol::from_stream(tcp, config);
    drop(driver);
    let orphan = client.send(Action::new("Ping")).await;
    assert!(matches!(orphan, Err(Error::Closed(_))), "{orphan:?}");
}

#[test]
fn dropping_the_driver_fails_calls_at_once_on_smol() {
    smol::block_on(dropping_the_driver_fails_calls_at_once());
}

#[test]
fn dropping_the_driver_fails_calls_at_once_on_async_std() {
    async_std::task::block_on(dropping_the_driver_fails_calls_at_once());
}
