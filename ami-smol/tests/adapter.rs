//! ami-smol against ami-testkit over real sockets. Every scenario is one async fn,
//! run twice: on smol (`smol::block_on`) and on async-std (`async_std::task::block_on`).

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use ami_proto::Keepalive;
use ami_smol::{Action, Client, Config, Credentials, Error, Event, Events, Reconnect, Reply};
use ami_testkit::{FakeAsterisk, Fault};

type Call = Pin<Box<dyn Future<Output = Result<Reply, Error>> + Send>>;

/// The runtime a scenario runs on: how to spawn a task and get its result.
#[derive(Clone, Copy)]
struct Rt {
    spawn: fn(Call) -> Call,
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
    plain_login_ping_and_logoff,
    md5_login,
    auth_failure,
    thousand_concurrent_actions,
    list_while_unrelated_events_arrive,
    command_both_formats,
    originate_outcome,
    unknown_action_ids_are_events,
    per_action_timeout,
    server_closes_mid_action,
    server_stalls_keepalive_closes,
    slow_consumer_lagged,
    reconnect_after_restart,
    tls,
    from_stream_and_dropped_driver,
    close_fails_pending,
    flood_while_sending,
);

fn config() -> Config {
    Config::new(Credentials::plain("admin", "amp111"))
}

/// Waits for `condition`, polling, within 10 s.
async fn until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        async_io::Timer::after(Duration::from_millis(2)).await;
    }
}

/// The next event within 10 s, skipping login chatter.
async fn next_event(events: &mut Events) -> Option<Event> {
    let next = async {
        loop {
            match events.next().await {
                Some(Event::Event(p))
                    if p.event_name()
                        .is_some_and(|n| n == "FullyBooted" || n == "SuccessfulAuth") => {}
                other => return other,
            }
        }
    };
    let expire = async {
        async_io::Timer::after(Duration::from_secs(10)).await;
        panic!("no event within 10 s");
    };
    futures_lite::future::or(next, expire).await
}

fn name(event: &Event) -> String {
    match event {
        Event::Event(p) => p.event_name().map(|n| n.to_string()).unwrap_or_default(),
        other => format!("{other:?}"),
    }
}

async fn plain_login_ping_and_logoff(_: Rt) {
    let fake = FakeAsterisk::start();
    let client = ami_smol::connect(fake.addr(), config()).await.unwrap();
    let mut events = client.events();
    let reply = client.send(Action::new("Ping")).await.unwrap();
    assert_eq!(reply.response().get("Ping").unwrap(), "Pong");
    let refused = client.send(Action::new("NoSuchAction")).await.unwrap();
    assert!(refused.response().is_error(), "a Response: Error is data");
    client.logoff().await.unwrap();
    assert!(matches!(
        next_event(&mut events).await,
        Some(Event::Disconnected(ami_proto::Error::LoggedOff))
    ));
    assert_eq!(next_event(&mut events).await, None, "the stream ends");
    assert!(client.is_closed());
    assert!(matches!(
        client.send(Action::new("Ping")).await,
        Err(Error::Closed(ami_proto::Error::LoggedOff))
    ));
}

async fn md5_login(_: Rt) {
    let fake = FakeAsterisk::start();
    let config = Config::new(Credentials::md5("admin", "amp111"));
    let client = ami_smol::connect(fake.addr(), config).await.unwrap();
    client.send(Action::new("Ping")).await.unwrap();
    let actions = fake.recorded_actions(0);
    assert!(actions[0].is("Action", "Challenge"));
    assert!(actions[1].is("AuthType", "MD5") && actions[1].get("Secret").is_none());
}

async fn auth_failure(_: Rt) {
    let fake = FakeAsterisk::start();
    let config = Config::new(Credentials::plain("admin", "wrong"));
    let result = ami_smol::connect(fake.addr(), config).await;
    assert!(
        matches!(result, Err(Error::Auth(ref m)) if m == "Authentication failed"),
        "{result:?}"
    );
}

async fn thousand_concurrent_actions(rt: Rt) {
    let fake = FakeAsterisk::start();
    let client = ami_smol::connect(fake.addr(), config()).await.unwrap();
    // Each answer names its action: the fake echoes an unknown CLI command.
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let client = client.clone();
            let action = ami_proto::command_action(&format!("echo {i}"));
            (rt.spawn)(Box::pin(async move { client.send(action).await }))
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        let reply = task.await.unwrap();
        let first = reply
            .response()
            .command_output()
            .next()
            .unwrap()
            .to_string();
        assert!(first.contains(&format!("'echo {i}'")), "reply {i}: {first}");
    }
}

async fn list_while_unrelated_events_arrive(_: Rt) {
    let fake = FakeAsterisk::start();
    let client = ami_smol::connect(fake.addr(), config()).await.unwrap();
    let mut events = client.events();
    for i in 0..3 {
        let call = Action::new("Originate")
            .header("Channel", format!("Local/10{i}@test"))
            .header("Application", "Wait")
            .header("Async", "true");
        client.originate(call).await.unwrap();
    }
    let noise = ami_testkit::Event::new("Noise").header("Privilege", "system,all");
    assert_eq!(fake.push_event(&noise), 1);
    let list = client.list(Action::new("CoreShowChannels")).await.unwrap();
    assert_eq!(list.items.len(), 6, "two legs per Local call: {list:?}");
    assert!(list.verify().is_ok());
    assert_eq!(fake.push_event(&noise), 1);
    let mut noises = 0;
    while noises < 2 {
        if name(&next_event(&mut events).await.unwrap()) == "Noise" {
            noises += 1;
        }
    }
}

async fn command_both_formats(_: Rt) {
    for legacy in [false, true] {
        let fake = FakeAsterisk::builder()
            .legacy_command(legacy)
            .command_output(
                "core show uptime",
                "System uptime: 4 seconds\nLast reload: 4 seconds",
            )
            .start();
        let client = ami_smol::connect(fake.addr(), config()).await.unwrap();
        let lines = client.command("core show uptime").await.unwrap();
        assert_eq!(
            lines,
            ["System uptime: 4 seconds", "Last reload: 4 seconds"],
            "legacy {legacy}"
        );
    }
}

async fn originate_outcome(_: Rt) {
    let fake = FakeAsterisk::start();
    let client = ami_smol::connect(fake.addr(), config()).await.unwrap();
    let call = |channel: &str| {
        Action::new("Originate")
            .header("Channel", channel)
            .header("Application", "Wait")
            .header("Async", "true")
    };
    let answered = client.originate(call("Local/100@test")).await.unwrap();
    assert!(answered.is_success());
    let busy = client.originate(call("Local/busy@test")).await.unwrap();
    assert!(!busy.is_success());
    assert_eq!(busy.reason(), Some(5));
}

async fn unknown_action_ids_are_events(_: Rt) {
    let fake = FakeAsterisk::start();
    let client = ami_smol::connect(fake.addr(), config()).await.unwrap();
    let mut events = client.events();
    let foreign = ami_testkit::Event::new("OriginateResponse")
        .header("Privilege", "call,all")
        .header("ActionID", "someone-else-7")
        .header("Response", "Success");
    fake.push_event(&foreign);
    fake.push_raw(b"Response: Success\r\nActionID: someone-else-8\r\n\r\n");
    let Some(Event::Event(event)) = next_event(&mut events).await else {
        panic!()
    };
    assert_eq!(event.action_id().unwrap(), "someone-else-7");
    let Some(Event::Unmatched(response)) = next_event(&mut events).await else {
        panic!()
    };
    assert_eq!(response.action_id().unwrap(), "someone-else-8");
}

async fn per_action_timeout(_: Rt) {
    let fake = FakeAsterisk::start();
    let client = ami_smol::connect(fake.addr(), config()).await.unwrap();
    fake.set_fault(Fault::NoReplyTo("Ping".into()));
    let started = Instant::now();
    let lost = client
        .send(Action::new("Ping").timeout(Duration::from_millis(100)))
        .await;
    assert!(matches!(lost, Err(Error::Timeout)), "{lost:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let lines = client.command("core show version").await.unwrap();
    assert!(!lines.is_empty(), "the connection goes on");
}

async fn server_closes_mid_action(rt: Rt) {
    let fake = FakeAsterisk::start();
    let client = ami_smol::connect(fake.addr(), config()).await.unwrap();
    let mut events = client.events();
    fake.set_fault(Fault::NoReplyTo("Ping".into()));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let client = client.clone();
            (rt.spawn)(Box::pin(
                async move { client.send(Action::new("Ping")).await },
            ))
        })
        .collect();
    until("20 pings on the wire", || {
        fake.recorded_actions(0)
            .iter()
            .filter(|a| a.is("Action", "Ping"))
            .count()
            == 20
    })
    .await;
    fake.restart();
    for task in tasks {
        assert!(matches!(
            task.await,
            Err(Error::Closed(ami_proto::Error::Eof))
        ));
    }
    assert!(matches!(
        next_event(&mut events).await,
        Some(Event::Disconnected(ami_proto::Error::Eof))
    ));
    assert_eq!(next_event(&mut events).await, None);
    assert!(client.is_closed());
}

async fn server_stalls_keepalive_closes(_: Rt) {
    let fake = FakeAsterisk::start();
    let mut config = config();
    config.connection.keepalive = Some(Keepalive {
        interval: Duration::from_millis(100),
        timeout: Duration::from_millis(200),
    });
    let client = ami_smol::connect(fake.addr(), config).await.unwrap();
    let mut events = client.events();
    fake.set_fault(Fault::Stall {
        read: true,
        write: true,
    });
    let waiting = client
        .send(Action::new("Status").timeout(Duration::from_secs(60)))
        .await;
    assert!(
        matches!(
            waiting,
            Err(Error::Closed(ami_proto::Error::KeepaliveTimeout))
        ),
        "{waiting:?}"
    );
    assert!(matches!(
        next_event(&mut events).await,
        Some(Event::Disconnected(ami_proto::Error::KeepaliveTimeout))
    ));
    fake.clear_faults();
}

async fn slow_consumer_lagged(_: Rt) {
    let fake = FakeAsterisk::start();
    let mut config = config();
    config.event_capacity = 8;
    let client = ami_smol::connect(fake.addr(), config).await.unwrap();
    let mut slow = client.events();
    let flood = |i: usize| {
        ami_testkit::Event::new("Flood")
            .header("Privilege", "user,all")
            .header("N", i.to_string())
    };
    // Drain login chatter first, so the count below is exact.
    client.send(Action::new("Ping")).await.unwrap();
    while let Some(Some(_)) = futures_lite::future::poll_once(slow.next()).await {}
    for i in 0..100 {
        fake.push_event(&flood(i));
    }
    // Replies are never dropped: the Ping reply follows the 100 events on the wire.
    client.send(Action::new("Ping")).await.unwrap();
    assert_eq!(next_event(&mut slow).await, Some(Event::Lagged(92)));
    for i in 92..100 {
        let Some(Event::Event(event)) = next_event(&mut slow).await else {
            panic!()
        };
        assert_eq!(event.get("N").unwrap(), i.to_string().as_str());
    }
}

async fn reconnect_after_restart(_: Rt) {
    let fake = FakeAsterisk::start();
    let mut config = config();
    config.connection.events = Some("user".into());
    config.connection.filters = vec!["Event: Kept".into()];
    config.reconnect = Some(Reconnect {
        initial_delay: Duration::from_millis(400),
        max_delay: Duration::from_millis(400),
        max_attempts: Some(20),
    });
    let client = ami_smol::connect(fake.addr(), config).await.unwrap();
    let mut events = client.events();
    fake.restart();
    assert!(matches!(
        next_event(&mut events).await,
        Some(Event::Disconnected(ami_proto::Error::Eof))
    ));
    // Down: fail fast, never queue (the backoff is at least 200 ms).
    let down = client.send(Action::new("Ping")).await;
    assert!(
        matches!(down, Err(Error::Closed(ami_proto::Error::Eof))),
        "{down:?}"
    );
    assert_eq!(next_event(&mut events).await, Some(Event::Reconnected));
    assert!(!client.is_closed());
    client.send(Action::new("Ping")).await.unwrap();
    let second = fake.recorded_actions(1);
    assert!(second
        .iter()
        .any(|a| a.is("Action", "Login") && a.is("Events", "user")));
    assert!(second
        .iter()
        .any(|a| a.is("Action", "Filter") && a.is("Filter", "Event: Kept")));
}

async fn tls(_: Rt) {
    let fake = FakeAsterisk::builder().tls(true).start();
    let tls = fake.tls_client_config().unwrap();
    let client = ami_smol::connect_tls(fake.addr(), "localhost", tls, config())
        .await
        .unwrap();
    let reply = client.send(Action::new("Ping")).await.unwrap();
    assert_eq!(reply.response().get("Ping").unwrap(), "Pong");
    let wrong_name = fake.tls_client_config().unwrap();
    let refused = ami_smol::connect_tls(fake.addr(), "example.org", wrong_name, config()).await;
    assert!(matches!(refused, Err(Error::Tls(_))), "{refused:?}");
}

async fn from_stream_and_dropped_driver(_: Rt) {
    let fake = FakeAsterisk::start();
    let tcp = async_net::TcpStream::connect(fake.addr()).await.unwrap();
    let (client, driver) = Client::from_stream(tcp, config());
    let running = smol::spawn(driver);
    // Sent before login: queued by the core, written after it.
    client.send(Action::new("Ping")).await.unwrap();
    client.logoff().await.unwrap();
    assert!(running.await.is_ok());

    let tcp = async_net::TcpStream::connect(fake.addr()).await.unwrap();
    let (client, driver) = Client::from_stream(tcp, config());
    drop(driver);
    let orphan = client.send(Action::new("Ping")).await;
    assert!(matches!(orphan, Err(Error::Closed(_))), "{orphan:?}");
}

async fn close_fails_pending(rt: Rt) {
    let fake = FakeAsterisk::start();
    let client = ami_smol::connect(fake.addr(), config()).await.unwrap();
    fake.set_fault(Fault::NoReplyTo("Ping".into()));
    let pending = {
        let client = client.clone();
        (rt.spawn)(Box::pin(
            async move { client.send(Action::new("Ping")).await },
        ))
    };
    until("the ping on the wire", || {
        fake.recorded_actions(0)
            .iter()
            .any(|a| a.is("Action", "Ping"))
    })
    .await;
    client.close();
    let failed = pending.await;
    assert!(
        matches!(failed, Err(Error::Closed(ami_proto::Error::ClosedByClient))),
        "{failed:?}"
    );
    until("closed", || client.is_closed()).await;
}

/// Reading and writing at once: the server floods events while 1,000 actions are
/// written; every action is answered, and the slow subscriber's memory stays
/// bounded, every missed event counted.
async fn flood_while_sending(rt: Rt) {
    let fake = FakeAsterisk::start();
    let mut config = config();
    config.event_capacity = 64;
    let client = ami_smol::connect(fake.addr(), config).await.unwrap();
    client.send(Action::new("Ping")).await.unwrap(); // login chatter is out
    let mut events = client.events();
    let packets = (0..20_000)
        .map(|i| format!("Event: Flood\r\nPrivilege: user,all\r\nN: {i}\r\n\r\n").into_bytes())
        .collect();
    let flood = fake.flood(packets, ami_testkit::Rate::Unlimited);
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let client = client.clone();
            let action = ami_proto::command_action(&format!("echo {i}"));
            (rt.spawn)(Box::pin(async move { client.send(action).await }))
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        let reply = task.await.unwrap();
        let first = reply
            .response()
            .command_output()
            .next()
            .unwrap()
            .to_string();
        assert!(first.contains(&format!("'echo {i}'")), "reply {i}: {first}");
    }
    let written = flood.wait();
    assert_eq!(written, 20_000);
    client.send(Action::new("Ping")).await.unwrap(); // after the whole flood
    let (mut seen, mut missed, mut last) = (0u64, 0u64, None);
    while let Some(Some(event)) = futures_lite::future::poll_once(events.next()).await {
        match event {
            Event::Lagged(n) => missed += n,
            Event::Event(p) => {
                seen += 1;
                last = p.get("N").map(|n| n.to_string());
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(seen <= 64, "bounded: {seen}");
    assert_eq!(seen + missed, written);
    assert_eq!(last.as_deref(), Some("19999"));
}
