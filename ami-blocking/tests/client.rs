//! ami-blocking against ami-testkit over real sockets. No sleeps as
//! synchronization: every wait is on a real condition with a deadline.

use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ami_blocking::{
    connect, connect_tls, Action, Client, Config, Credentials, Error, Event, Events, Reconnect,
};
use ami_proto::Keepalive;
use ami_testkit::{FakeAsterisk, Fault};

const WAIT: Duration = Duration::from_secs(10);

fn config() -> Config {
    Config::new(Credentials::md5("admin", "amp111"))
}

fn ping(client: &Client) -> Result<(), Error> {
    let reply = client.send(Action::new("Ping"))?;
    assert_eq!(reply.response().get("Ping").unwrap(), "Pong");
    Ok(())
}

/// The next event matching `pred`, skipping others, within WAIT.
fn wait_for(events: &mut Events, pred: impl Fn(&Event) -> bool) -> Event {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(event) if pred(&event) => return event,
            Ok(_) => {}
            Err(e) => panic!("no matching event: {e:?}"),
        }
    }
}

fn until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::yield_now();
    }
}

#[test]
fn plain_and_md5_login() {
    let fake = FakeAsterisk::start();
    let plain = connect(
        fake.addr(),
        Config::new(Credentials::plain("admin", "amp111")),
    )
    .unwrap();
    ping(&plain).unwrap();
    let md5 = connect(fake.addr(), config()).unwrap();
    ping(&md5).unwrap();
    assert!(fake
        .recorded_actions(1)
        .iter()
        .any(|a| a.is("Action", "Challenge")));
    md5.logoff().unwrap();
    assert!(md5.is_closed());
    assert!(matches!(
        ping(&md5),
        Err(Error::Closed(ami_proto::Error::LoggedOff))
    ));
}

#[test]
fn auth_failure() {
    let fake = FakeAsterisk::start();
    let err = connect(fake.addr(), Config::new(Credentials::md5("admin", "wrong"))).unwrap_err();
    assert!(
        matches!(err, Error::Auth(ref m) if m == "Authentication failed"),
        "{err:?}"
    );
}

#[test]
fn connect_refused() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    assert!(matches!(connect(addr, config()), Err(Error::Connect(_))));
}

#[test]
fn thousand_concurrent_actions() {
    let fake = FakeAsterisk::start();
    let client = connect(fake.addr(), config()).unwrap();
    let threads: Vec<_> = (0..20)
        .map(|t| {
            let client = client.clone();
            thread::spawn(move || {
                for i in 0..50 {
                    let tag = format!("{t}-{i}");
                    let reply = client
                        .send(
                            Action::new("UserEvent")
                                .header("UserEvent", "Tag")
                                .header("Tag", &tag),
                        )
                        .unwrap();
                    assert!(reply.response().is("Response", "Success"));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    // 1,000 actions answered, each to its own caller.
    let users = fake
        .recorded_actions(0)
        .iter()
        .filter(|a| a.is("Action", "UserEvent"))
        .count();
    assert_eq!(users, 1000);
}

#[test]
fn list_while_events_arrive() {
    let fake = FakeAsterisk::start();
    let client = connect(fake.addr(), config()).unwrap();
    let mut events = client.events();
    for i in 0..3 {
        client
            .originate(
                Action::new("Originate")
                    .header("Channel", format!("Local/{i}@default"))
                    .header("Application", "Wait")
                    .header("Async", "true"),
            )
            .unwrap();
    }
    let pusher = {
        let client = client.clone();
        thread::spawn(move || {
            for _ in 0..20 {
                client
                    .send(Action::new("UserEvent").header("UserEvent", "Noise"))
                    .unwrap();
            }
        })
    };
    for _ in 0..10 {
        let list = client.list(Action::new("CoreShowChannels")).unwrap();
        list.verify().unwrap();
        assert!(!list.items.is_empty());
        assert!(list.items.iter().all(|p| p.is("Event", "CoreShowChannel")));
    }
    pusher.join().unwrap();
    wait_for(
        &mut events,
        |e| matches!(e, Event::Event(p) if p.is("UserEvent", "Noise")),
    );
}

#[test]
fn command_both_formats() {
    for legacy in [false, true] {
        let fake = FakeAsterisk::builder()
            .legacy_command(legacy)
            .command_output(
                "core show version",
                "Asterisk 22.10.1 built by test\nsecond line",
            )
            .start();
        let client = connect(fake.addr(), config()).unwrap();
        let lines = client.command("core show version").unwrap();
        assert_eq!(
            lines,
            ["Asterisk 22.10.1 built by test", "second line"],
            "legacy={legacy}"
        );
    }
}

#[test]
fn originate_outcome() {
    let fake = FakeAsterisk::start();
    let client = connect(fake.addr(), config()).unwrap();
    let answered = client
        .originate(
            Action::new("Originate")
                .header("Channel", "Local/100@default")
                .header("Application", "Wait")
                .header("Async", "true"),
        )
        .unwrap();
    assert!(answered.is_success());
    assert_eq!(answered.reason(), Some(4));
    let busy = client
        .originate(
            Action::new("Originate")
                .header("Channel", "PJSIP/busy")
                .header("Application", "Wait")
                .header("Async", "true"),
        )
        .unwrap();
    assert!(!busy.is_success());
    assert_eq!(busy.reason(), Some(5));
}

#[test]
fn unknown_action_ids_are_events() {
    let fake = FakeAsterisk::start();
    let client = connect(fake.addr(), config()).unwrap();
    let mut events = client.events();
    ping(&client).unwrap();
    fake.push_raw(b"Response: Success\r\nActionID: someone-else-1\r\nMessage: hi\r\n\r\n");
    fake.push_raw(
        b"Event: OriginateResponse\r\nActionID: someone-else-2\r\nResponse: Success\r\n\r\n",
    );
    wait_for(
        &mut events,
        |e| matches!(e, Event::Unmatched(p) if p.is("ActionID", "someone-else-1")),
    );
    wait_for(
        &mut events,
        |e| matches!(e, Event::Event(p) if p.is("ActionID", "someone-else-2")),
    );
    ping(&client).unwrap();
}

#[test]
fn per_action_timeout() {
    let fake = FakeAsterisk::builder()
        .fault(Fault::NoReplyTo("Status".into()))
        .start();
    let client = connect(fake.addr(), config()).unwrap();
    let started = Instant::now();
    let err = client
        .send(Action::new("Status").timeout(Duration::from_millis(200)))
        .unwrap_err();
    assert!(matches!(err, Error::Timeout), "{err:?}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(5),
        "{took:?}"
    );
    ping(&client).unwrap();
}

#[test]
fn server_closes_mid_action_fails_all_pending_at_once() {
    let fake = FakeAsterisk::builder()
        .fault(Fault::NoReplyTo("Status".into()))
        .start();
    let client = connect(fake.addr(), config()).unwrap();
    let mut events = client.events();
    let waiting: Vec<_> = (0..10)
        .map(|_| {
            let client = client.clone();
            thread::spawn(move || {
                client.send(Action::new("Status").timeout(Duration::from_secs(60)))
            })
        })
        .collect();
    until("10 Status actions at the server", || {
        fake.recorded_actions(0)
            .iter()
            .filter(|a| a.is("Action", "Status"))
            .count()
            == 10
    });
    let started = Instant::now();
    fake.restart();
    for thread in waiting {
        let err = thread.join().unwrap().unwrap_err();
        assert!(
            matches!(err, Error::Closed(ami_proto::Error::Eof)),
            "{err:?}"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    wait_for(&mut events, |e| {
        matches!(e, Event::Disconnected(ami_proto::Error::Eof))
    });
    assert_eq!(
        events.recv_timeout(WAIT),
        Err(RecvTimeoutError::Disconnected)
    );
    assert!(client.is_closed());
}

#[test]
fn stalled_server_is_detected_by_keepalive() {
    let fake = FakeAsterisk::start();
    let mut config = config();
    config.connection.keepalive = Some(Keepalive {
        interval: Duration::from_millis(100),
        timeout: Duration::from_millis(200),
    });
    let client = connect(fake.addr(), config).unwrap();
    let mut events = client.events();
    fake.set_fault(Fault::Stall {
        read: true,
        write: true,
    });
    let pending = {
        let client = client.clone();
        thread::spawn(move || client.send(Action::new("Ping").timeout(Duration::from_secs(60))))
    };
    wait_for(&mut events, |e| {
        matches!(e, Event::Disconnected(ami_proto::Error::KeepaliveTimeout))
    });
    let err = pending.join().unwrap().unwrap_err();
    assert!(
        matches!(err, Error::Closed(ami_proto::Error::KeepaliveTimeout)),
        "{err:?}"
    );
}

#[test]
fn stall_is_detected_when_keepalive_timeout_exceeds_action_timeout() {
    let fake = FakeAsterisk::start();
    let mut config = config();
    config.connection.action_timeout = Duration::from_millis(200);
    config.connection.keepalive = Some(Keepalive {
        interval: Duration::from_millis(100),
        timeout: Duration::from_millis(300),
    });
    let client = connect(fake.addr(), config).unwrap();
    let mut events = client.events();
    fake.set_fault(Fault::Stall {
        read: true,
        write: true,
    });
    wait_for(&mut events, |e| {
        matches!(e, Event::Disconnected(ami_proto::Error::KeepaliveTimeout))
    });
    assert!(client.is_closed());
}

#[test]
fn slow_consumer_is_told_it_lagged_and_replies_are_kept() {
    let fake = FakeAsterisk::start();
    let config = Config {
        event_capacity: 8,
        ..config()
    };
    let client = connect(fake.addr(), config).unwrap();
    ping(&client).unwrap(); // login events are in by now
    let mut events = client.events();
    for i in 0..100 {
        let event = ami_testkit::Event::new("Flood").header("N", i.to_string());
        assert_eq!(fake.push_event(&event), 1);
    }
    // The Ping's reply comes after the 100 events on the wire: all were published.
    ping(&client).unwrap();
    assert_eq!(events.try_recv(), Ok(Event::Lagged(92)));
    for i in 92..100 {
        match events.try_recv() {
            Ok(Event::Event(p)) => assert_eq!(p.get("N").unwrap(), i.to_string().as_str()),
            other => panic!("{other:?}"),
        }
    }
    assert!(events.try_recv().is_err());
}

#[test]
fn reconnects_after_server_restart() {
    let fake = FakeAsterisk::start();
    let mut config = config();
    config.connection.filters = vec!["Event: Kept".into()];
    config.connection.events = Some("on".into());
    config.reconnect = Some(Reconnect {
        initial_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(100),
        max_attempts: Some(50),
    });
    let client = connect(fake.addr(), config).unwrap();
    let mut events = client.events();
    ping(&client).unwrap();
    fake.restart();
    wait_for(&mut events, |e| {
        matches!(e, Event::Disconnected(ami_proto::Error::Eof))
    });
    wait_for(&mut events, |e| matches!(e, Event::Reconnected));
    ping(&client).unwrap();
    let second = fake.client_count() - 1;
    let actions = fake.recorded_actions(second);
    assert!(actions
        .iter()
        .any(|a| a.is("Action", "Login") && a.is("Events", "on")));
    assert!(actions
        .iter()
        .any(|a| a.is("Action", "Filter") && a.is("Filter", "Event: Kept")));
    assert!(!client.is_closed());
    client.logoff().unwrap();
    assert!(client.is_closed());
}

#[test]
fn calls_between_sessions_fail_fast_and_close_stops_reconnecting() {
    let fake = FakeAsterisk::start();
    let config = Config {
        reconnect: Some(Reconnect {
            initial_delay: Duration::from_secs(60),
            max_delay: Duration::from_secs(60),
            max_attempts: None,
        }),
        ..config()
    };
    let client = connect(fake.addr(), config).unwrap();
    let mut events = client.events();
    fake.restart();
    wait_for(&mut events, |e| matches!(e, Event::Disconnected(_)));
    let started = Instant::now();
    assert!(matches!(
        ping(&client),
        Err(Error::Closed(ami_proto::Error::Eof))
    ));
    assert!(!client.is_closed());
    client.close();
    assert!(client.is_closed());
    assert_eq!(
        events.recv_timeout(WAIT),
        Err(RecvTimeoutError::Disconnected)
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(fake.client_count(), 1);
}

#[test]
fn tls() {
    let fake = FakeAsterisk::builder().tls(true).start();
    let tls = fake.tls_client_config().unwrap();
    let client = connect_tls(fake.addr(), "localhost", tls, config()).unwrap();
    ping(&client).unwrap();
    let lines = client.command("core show uptime").unwrap();
    assert!(!lines.is_empty());
    client.logoff().unwrap();
}

#[test]
fn tls_with_wrong_name_fails() {
    let fake = FakeAsterisk::builder().tls(true).start();
    let tls = fake.tls_client_config().unwrap();
    let err = connect_tls(fake.addr(), "example.com", tls, config()).unwrap_err();
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
}

#[test]
fn from_stream_with_a_driver_thread() {
    let fake = FakeAsterisk::start();
    let stream = std::net::TcpStream::connect(fake.addr()).unwrap();
    let (client, driver) = Client::from_stream(stream, config());
    // Sent before the driver runs: queued until login.
    let early = {
        let client = client.clone();
        thread::spawn(move || ping(&client))
    };
    let driver = thread::spawn(move || driver.run());
    early.join().unwrap().unwrap();
    client.logoff().unwrap();
    driver.join().unwrap().unwrap();
}

#[test]
fn dropping_the_last_handle_closes() {
    let fake = FakeAsterisk::start();
    let client = connect(fake.addr(), config()).unwrap();
    let mut events = client.events();
    let other = client.clone();
    drop(client);
    ping(&other).unwrap();
    drop(other);
    wait_for(&mut events, |e| {
        matches!(e, Event::Disconnected(ami_proto::Error::ClosedByClient))
    });
    assert_eq!(events.next(), None);
    until("the server to see the close", || !fake.clients()[0].open);
}

#[test]
fn events_iterator_is_send_and_client_is_sync() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    fn assert_send<T: Send>() {}
    assert_send_sync::<Client>();
    assert_send::<Events>();
    let _ = Arc::new(0);
}
