//! The adapter against ami-testkit's fake Asterisk over real sockets.

use std::future::Future;
use std::time::Duration;

use ami_proto::Keepalive;
use ami_testkit::{FakeAsterisk, Fault};
use ami_tokio::{Action, Client, Config, Credentials, Error, Event, Reconnect, Reply};

/// Every wait in these tests has a deadline: a hang is a failure, not a stuck run.
async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), future)
        .await
        .expect("deadline passed")
}

fn plain() -> Config {
    Config::new(Credentials::plain("admin", "amp111"))
}

async fn ping(client: &Client) -> Result<Reply, Error> {
    within(client.send(Action::new("Ping"))).await
}

/// The next event that is not an AMI event (lifecycle, lag ...).
async fn next_lifecycle(events: &mut ami_tokio::Events) -> Option<Event> {
    loop {
        match within(events.next()).await {
            Some(Event::Event(_)) => continue,
            other => return other,
        }
    }
}

#[tokio::test]
async fn plain_login_and_ping() {
    let fake = FakeAsterisk::start();
    let client = within(ami_tokio::connect(fake.addr(), plain()))
        .await
        .unwrap();
    let reply = ping(&client).await.unwrap();
    assert_eq!(reply.response().get("Ping").unwrap(), "Pong");
    assert!(fake.clients()[0].logged_in);
    within(client.logoff()).await.unwrap();
    assert!(client.is_closed());
    assert!(matches!(
        ping(&client).await,
        Err(Error::Closed(ami_proto::Error::LoggedOff))
    ));
}

#[tokio::test]
async fn md5_login() {
    let fake = FakeAsterisk::builder().challenge("204268188").start();
    let config = Config::new(Credentials::md5("admin", "amp111"));
    let client = within(ami_tokio::connect(fake.addr().to_string(), config))
        .await
        .unwrap();
    ping(&client).await.unwrap();
    let actions = fake.recorded_actions(0);
    assert!(actions[0].is("Action", "Challenge"));
    assert!(actions[1].is("Key", &ami_proto::md5_key("204268188", "amp111")));
    assert!(
        actions[1].get("Secret").is_none(),
        "the secret never crosses the wire"
    );
}

#[tokio::test]
async fn auth_failure() {
    let fake = FakeAsterisk::start();
    let config = Config::new(Credentials::plain("admin", "wrong"));
    let result = within(ami_tokio::connect(fake.addr(), config)).await;
    assert!(
        matches!(result, Err(Error::Auth(ref m)) if m == "Authentication failed"),
        "{result:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousand_concurrent_actions_from_many_tasks() {
    let fake = FakeAsterisk::builder()
        .handler("Echo", |request, reply| {
            let value = request.get("Value").unwrap().to_str_lossy().into_owned();
            reply.respond("Success", &[("Value", &value)]);
        })
        .start();
    let client = within(ami_tokio::connect(fake.addr(), plain()))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for task in 0..50 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..20 {
                let value = format!("{task}-{i}");
                let reply = client
                    .send(Action::new("Echo").header("Value", &value))
                    .await
                    .unwrap();
                assert_eq!(reply.response().get("Value").unwrap(), value.as_str());
            }
        }));
    }
    for task in tasks {
        within(task).await.unwrap();
    }
    // And 1,000 at once from one task, all in flight together.
    let calls = (0..1000).map(|i| {
        let client = client.clone();
        async move {
            let reply = client
                .send(Action::new("Echo").header("Value", i.to_string()))
                .await;
            (i, reply)
        }
    });
    let all = within(join_all(calls)).await;
    for (i, reply) in all {
        assert_eq!(
            reply.unwrap().response().get("Value").unwrap(),
            i.to_string().as_str()
        );
    }
}

/// A tiny join_all on tokio (no futures-util dependency).
async fn join_all<F: Future + Send + 'static>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

#[tokio::test]
async fn list_while_unrelated_events_arrive() {
    let fake = FakeAsterisk::builder()
        .handler("FakeList", |_, reply| {
            let items = (0..50)
                .map(|i| ami_testkit::Event::new("FakeItem").header("N", i.to_string()))
                .collect();
            reply.list("Items will follow", items, "FakeListComplete");
            reply.broadcast(ami_testkit::Event::new("Unrelated").header("Privilege", "call,all"));
        })
        .start();
    let client = within(ami_tokio::connect(fake.addr(), plain()))
        .await
        .unwrap();
    let mut events = client.events();
    for i in 0..20 {
        fake.push_event(&ami_testkit::Event::new("Before").header("N", i.to_string()));
    }
    let list = within(client.list(Action::new("FakeList"))).await.unwrap();
    assert_eq!(list.items.len(), 50);
    list.verify().unwrap();
    assert_eq!(list.items[7].get("N").unwrap(), "7");
    // The unrelated events are events, and no list item leaked into the stream.
    let mut names = Vec::new();
    while names.len() < 21 {
        match within(events.next()).await {
            Some(Event::Event(packet)) => names.push(packet.event_name().unwrap().to_string()),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(names.iter().filter(|n| *n == "Before").count(), 20);
    assert!(names.iter().any(|n| n == "Unrelated"));
    assert!(!names.iter().any(|n| n.starts_with("FakeItem")));
}

#[tokio::test]
async fn command_in_both_output_formats() {
    for legacy in [false, true] {
        let fake = FakeAsterisk::builder()
            .legacy_command(legacy)
            .command_output("test lines", "first line\nKey: looks like a header\n\nlast")
            .start();
        let client = within(ami_tokio::connect(fake.addr(), plain()))
            .await
            .unwrap();
        let lines = within(client.command("test lines")).await.unwrap();
        let lines: Vec<&str> = lines.iter().map(|l| l.trim_end()).collect();
        assert_eq!(
            lines,
            ["first line", "Key: looks like a header", "", "last"],
            "legacy: {legacy}"
        );
        let version = within(client.command("core show version")).await.unwrap();
        assert!(version[0].starts_with("Asterisk 22"), "{version:?}");
        if !legacy {
            let refused = within(client.command("no such command")).await;
            assert!(matches!(refused, Err(Error::Rejected(_))), "{refused:?}");
        }
    }
}

#[tokio::test]
async fn async_originate_outcome() {
    let fake = FakeAsterisk::start();
    let client = within(ami_tokio::connect(fake.addr(), plain()))
        .await
        .unwrap();
    let call = Action::new("Originate")
        .header("Channel", "Local/100@test")
        .header("Application", "Wait")
        .header("Data", "1")
        .header("Async", "true");
    let outcome = within(client.originate(call)).await.unwrap();
    assert!(outcome.is_success(), "{outcome:?}");
    assert_eq!(outcome.reason(), Some(4));
}

#[tokio::test]
async fn unknown_action_ids_pass_through_as_events() {
    let fake = FakeAsterisk::start();
    let client = within(ami_tokio::connect(fake.addr(), plain()))
        .await
        .unwrap();
    let mut events = client.events();
    fake.push_event(
        &ami_testkit::Event::new("OriginateResponse")
            .header("Privilege", "call,all")
            .header("ActionID", "someone-else-7")
            .header("Response", "Success"),
    );
    fake.push_raw(b"Response: Success\r\nActionID: someone-else-8\r\nMessage: stray\r\n\r\n");
    loop {
        match within(events.next()).await {
            Some(Event::Event(packet)) if packet.event_name().unwrap() == "OriginateResponse" => {
                assert_eq!(packet.action_id().unwrap(), "someone-else-7");
                break;
            }
            Some(Event::Event(_)) => continue,
            other => panic!("{other:?}"),
        }
    }
    match within(events.next()).await {
        Some(Event::Unmatched(packet)) => assert_eq!(packet.action_id().unwrap(), "someone-else-8"),
        other => panic!("{other:?}"),
    }
    ping(&client).await.unwrap();
}

#[tokio::test]
async fn per_action_timeout_over_a_socket() {
    let fake = FakeAsterisk::builder()
        .fault(Fault::NoReplyTo("Ping".into()))
        .start();
    let client = within(ami_tokio::connect(fake.addr(), plain()))
        .await
        .unwrap();
    let result = within(client.send(Action::new("Ping").timeout(Duration::from_millis(100)))).await;
    assert!(matches!(result, Err(Error::Timeout)), "{result:?}");
    // Other actions are still served on the same session.
    let lines = within(client.command("core show version")).await.unwrap();
    assert!(!lines.is_empty());
}

#[tokio::test]
async fn server_closing_mid_action_fails_every_pending_action_at_once() {
    let fake = FakeAsterisk::builder()
        .fault(Fault::NoReplyTo("Ping".into()))
        .start();
    let client = within(ami_tokio::connect(fake.addr(), plain()))
        .await
        .unwrap();
    let mut events = client.events();
    let pending: Vec<_> = (0..20)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .send(Action::new("Ping").timeout(Duration::from_secs(600)))
                    .await
            })
        })
        .collect();
    // Wait until the server has all 20 Pings, then drop the connection.
    within(async {
        while fake
            .recorded_actions(0)
            .iter()
            .filter(|a| a.is("Action", "Ping"))
            .count()
            < 20
        {
            tokio::task::yield_now().await;
        }
    })
    .await;
    fake.restart();
    for task in pending {
        let result = within(task).await.unwrap();
        assert!(
            matches!(result, Err(Error::Closed(ami_proto::Error::Eof))),
            "{result:?}"
        );
    }
    assert_eq!(
        within(events.next()).await,
        Some(Event::Disconnected(ami_proto::Error::Eof))
    );
    assert_eq!(within(events.next()).await, None);
    assert!(client.is_closed());
}

#[tokio::test]
async fn stalled_server_is_closed_by_keepalive() {
    let fake = FakeAsterisk::start();
    let mut config = plain();
    config.connection.keepalive = Some(Keepalive {
        interval: Duration::from_millis(100),
        timeout: Duration::from_millis(200),
    });
    let client = within(ami_tokio::connect(fake.addr(), config))
        .await
        .unwrap();
    ping(&client).await.unwrap();
    fake.set_fault(Fault::Stall {
        read: true,
        write: true,
    });
    let result = within(client.send(Action::new("Ping").timeout(Duration::from_secs(600)))).await;
    assert!(
        matches!(
            result,
            Err(Error::Closed(ami_proto::Error::KeepaliveTimeout))
        ),
        "{result:?}"
    );
    assert!(client.is_closed());
}

#[tokio::test]
async fn slow_consumer_lags_without_losing_responses() {
    let fake = FakeAsterisk::start();
    let mut config = plain();
    config.event_capacity = 16;
    let client = within(ami_tokio::connect(fake.addr(), config))
        .await
        .unwrap();
    let mut slow = client.events();
    let mut fast = client.events();
    let total = 2_000;
    for i in 0..total {
        fake.push_event(&ami_testkit::Event::new("Flood").header("N", i.to_string()));
        if i % 100 == 0 {
            ping(&client).await.unwrap(); // responses are never dropped
        }
    }
    // This Ping's reply comes after every pushed event on the socket: once it is
    // here, the driver has published them all.
    ping(&client).await.unwrap();
    let (mut received, mut missed, mut last) = (0u64, 0u64, None);
    while received + missed < total {
        match within(slow.next()).await {
            Some(Event::Event(packet)) if packet.event_name().unwrap() == "Flood" => {
                received += 1;
                last = Some(packet.get("N").unwrap().to_string());
            }
            Some(Event::Event(_)) => {}
            Some(Event::Lagged(n)) => missed += n,
            other => panic!("{other:?}"),
        }
    }
    assert!(missed > 0, "the slow subscriber was told it lagged");
    assert!(
        received <= 16,
        "memory is bounded by event_capacity: {received}"
    );
    assert_eq!(
        last.as_deref(),
        Some("1999"),
        "it resumes with the newest events"
    );
    // The other subscriber lags on its own account; the connection never waited.
    let first = within(fast.next()).await;
    assert!(matches!(first, Some(Event::Lagged(_))), "{first:?}");
}

#[tokio::test]
async fn reconnects_after_a_server_restart() {
    let fake = FakeAsterisk::start();
    let mut config = plain();
    config.connection.events = Some("call,user".into());
    config.connection.filters = vec!["Event: Keep".into()];
    config.reconnect = Some(Reconnect {
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        max_attempts: None,
    });
    let client = within(ami_tokio::connect(fake.addr(), config))
        .await
        .unwrap();
    let mut events = client.events();
    ping(&client).await.unwrap();
    fake.restart();
    assert_eq!(
        next_lifecycle(&mut events).await,
        Some(Event::Disconnected(ami_proto::Error::Eof))
    );
    assert_eq!(next_lifecycle(&mut events).await, Some(Event::Reconnected));
    assert!(!client.is_closed());
    ping(&client).await.unwrap();
    // The new session logged in again with the mask, then re-applied the filter.
    let actions = fake.recorded_actions(fake.client_count() - 1);
    let login = actions.iter().find(|a| a.is("Action", "Login")).unwrap();
    assert!(login.is("Events", "call,user"));
    assert!(actions
        .iter()
        .any(|a| a.is("Action", "Filter") && a.is("Filter", "Event: Keep")));
    // Filtered events flow on the new session.
    fake.push_event(&ami_testkit::Event::new("Drop").header("Privilege", "call,all"));
    fake.push_event(&ami_testkit::Event::new("Keep").header("Privilege", "call,all"));
    match within(events.next()).await {
        Some(Event::Event(packet)) => assert_eq!(packet.event_name().unwrap(), "Keep"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn actions_fail_fast_while_disconnected_and_reconnect_gives_up() {
    let fake = FakeAsterisk::start();
    let mut config = plain();
    config.reconnect = Some(Reconnect {
        initial_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_attempts: Some(3),
    });
    let client = within(ami_tokio::connect(fake.addr(), config))
        .await
        .unwrap();
    let mut events = client.events();
    drop(fake); // the server is gone for good: every redial is refused
    assert_eq!(
        next_lifecycle(&mut events).await,
        Some(Event::Disconnected(ami_proto::Error::Eof))
    );
    let during_gap = ping(&client).await;
    assert!(
        matches!(during_gap, Err(Error::Closed(ami_proto::Error::Eof))),
        "{during_gap:?}"
    );
    assert_eq!(
        next_lifecycle(&mut events).await,
        None,
        "gave up: the stream ends"
    );
    assert!(client.is_closed());
}

#[tokio::test]
async fn close_fails_pending_actions_and_ends_streams() {
    let fake = FakeAsterisk::builder()
        .fault(Fault::NoReplyTo("Ping".into()))
        .start();
    let mut config = plain();
    config.reconnect = Some(Reconnect::default()); // never after close()
    let client = within(ami_tokio::connect(fake.addr(), config))
        .await
        .unwrap();
    let mut events = client.events();
    let pending = tokio::spawn({
        let client = client.clone();
        async move { client.send(Action::new("Ping")).await }
    });
    within(async {
        while fake
            .recorded_actions(0)
            .iter()
            .all(|a| !a.is("Action", "Ping"))
        {
            tokio::task::yield_now().await;
        }
    })
    .await;
    client.close();
    assert!(client.is_closed(), "closed at once");
    assert!(matches!(
        client.send(Action::new("Ping")).await,
        Err(Error::Closed(ami_proto::Error::ClosedByClient))
    ));
    let result = within(pending).await.unwrap();
    assert!(
        matches!(result, Err(Error::Closed(ami_proto::Error::ClosedByClient))),
        "{result:?}"
    );
    assert_eq!(
        next_lifecycle(&mut events).await,
        Some(Event::Disconnected(ami_proto::Error::ClosedByClient))
    );
    assert_eq!(next_lifecycle(&mut events).await, None);
    assert!(client.is_closed());
    assert!(client.events().next().await.is_none());
}

#[tokio::test]
async fn tls() {
    let fake = FakeAsterisk::builder().tls(true).start();
    let tls = fake.tls_client_config().unwrap();
    let client = within(ami_tokio::connect_tls(
        fake.addr(),
        "localhost",
        tls,
        plain(),
    ))
    .await
    .unwrap();
    ping(&client).await.unwrap();
    let lines = within(client.command("core show version")).await.unwrap();
    assert!(!lines.is_empty());
    within(client.logoff()).await.unwrap();
}

#[tokio::test]
async fn tls_with_an_untrusted_certificate_fails_as_tls() {
    let fake = FakeAsterisk::builder().tls(true).start();
    let other = FakeAsterisk::builder().tls(true).start();
    let wrong = other.tls_client_config().unwrap();
    let result = within(ami_tokio::connect_tls(
        fake.addr(),
        "localhost",
        wrong,
        plain(),
    ))
    .await;
    assert!(matches!(result, Err(Error::Tls(_))), "{result:?}");
}

#[tokio::test]
async fn connect_to_nothing_is_a_connect_error() {
    let addr = FakeAsterisk::start().addr(); // dropped: nothing listens there now
    let result = within(ami_tokio::connect(addr, plain())).await;
    assert!(matches!(result, Err(Error::Connect(_))), "{result:?}");
}

#[tokio::test]
async fn from_stream_wraps_a_user_stream() {
    let fake = FakeAsterisk::start();
    let tcp = tokio::net::TcpStream::connect(fake.addr()).await.unwrap();
    let (client, driver) = Client::from_stream(tcp, plain());
    let driver = tokio::spawn(driver);
    ping(&client).await.unwrap(); // queued by the core until logged in
    within(client.logoff()).await.unwrap();
    assert!(within(driver).await.unwrap().is_ok());
}

#[tokio::test]
async fn login_deadline_when_the_server_never_speaks() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = plain();
    config.connection.login_timeout = Duration::from_millis(100);
    let result = within(ami_tokio::connect(silent.local_addr().unwrap(), config)).await;
    assert!(matches!(result, Err(Error::Timeout)), "{result:?}");
}
