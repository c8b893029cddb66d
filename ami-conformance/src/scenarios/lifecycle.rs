//! The session's life: losses, keepalive, reconnect, fail-fast while down, close, logoff, status, `from_stream`.

use super::*;

/// The server closes the connection (mid-packet) while 10 actions wait: all fail
/// at once with `Closed(Eof)`, long before their 60 s deadline; the stream reports
/// `Disconnected` and ends (no reconnect configured); later calls fail fast.
pub fn server_closes_mid_action<A: Adapter>() {
    const PENDING: usize = 10;
    let fake = fake().fault(Fault::NoReplyTo("Status".into())).start();
    let client = connect::<A>(&fake, config());
    let mut events = A::events(&client);
    let waiting = {
        let client = client.clone();
        let actions = (0..PENDING)
            .map(|_| Action::new("Status").timeout(Duration::from_secs(60)))
            .collect();
        thread::spawn(move || A::concurrent_sends(&client, actions))
    };
    until("10 Status actions at the server", || {
        sent(&fake, 0, "Status") == PENDING
    });
    let started = Instant::now();
    fake.add_fault(Fault::CloseMidPacket);
    assert_eq!(
        fake.push_event(&FakeEvent::new("Trigger").header("Cut", "here")),
        1
    );
    let results = waiting.join().expect("the waiting calls");
    let took = started.elapsed();
    assert_eq!(results.len(), PENDING);
    for result in results {
        assert!(
            matches!(result, Err(Error::Closed(Reason::Eof))),
            "{result:?}"
        );
    }
    assert!(took < WAIT, "pending calls failed only after {took:?}");
    wait_for::<A>(
        &mut events,
        "Disconnected(Eof)",
        |e| matches!(e, Event::Disconnected(Reason::Eof)),
        |e| matches!(e, Event::Reconnected),
    );
    wait_for_end::<A>(&mut events, |_| false);
    until("is_closed", || A::is_closed(&client));
    let started = Instant::now();
    let after = client.clone();
    let late = bounded("a call after the close", move || {
        A::send(&after, Action::new("Ping"))
    });
    assert!(matches!(late, Err(Error::Closed(Reason::Eof))), "{late:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "late call waited"
    );
}

fn keepalive_config(action_timeout: Duration, keepalive: Keepalive) -> Config {
    let mut config = config();
    config.action_timeout = action_timeout;
    config.keepalive = Some(keepalive);
    config
}

/// The server stalls (reads and writes nothing, socket open): the keepalive
/// (interval 200 ms, timeout 300 ms) declares the link dead, so a waiting call
/// fails with `Closed(KeepaliveTimeout)` well before its own 30 s deadline.
pub fn server_stall_keepalive_closes<A: Adapter>() {
    let fake = fake().start();
    let client = connect::<A>(
        &fake,
        keepalive_config(
            Duration::from_secs(10),
            Keepalive {
                interval: Duration::from_millis(200),
                timeout: Duration::from_millis(300),
            },
        ),
    );
    let mut events = A::events(&client);
    ping::<A>(&client);
    fake.set_fault(Fault::Stall {
        read: true,
        write: true,
    });
    let started = Instant::now();
    let result = A::send(
        &client,
        Action::new("Ping").timeout(Duration::from_secs(30)),
    );
    let took = started.elapsed();
    assert!(
        matches!(result, Err(Error::Closed(Reason::KeepaliveTimeout))),
        "{result:?} after {took:?}"
    );
    assert!(took < WAIT, "detected only after {took:?}");
    wait_disconnected::<A>(&mut events, Reason::KeepaliveTimeout);
    until("is_closed", || A::is_closed(&client));
    fake.clear_faults();
}

/// The same stall with a keepalive timeout longer than the action timeout (as
/// with the defaults, 10 s and 10 s): the keepalive Ping must not be retired by
/// the action deadline, and the dead link must still be detected, with no call
/// pending.
pub fn server_stall_keepalive_longer_than_action_timeout<A: Adapter>() {
    let fake = fake().start();
    let client = connect::<A>(
        &fake,
        keepalive_config(
            Duration::from_millis(200),
            Keepalive {
                interval: Duration::from_millis(200),
                timeout: Duration::from_millis(500),
            },
        ),
    );
    let mut events = A::events(&client);
    ping::<A>(&client);
    fake.set_fault(Fault::Stall {
        read: true,
        write: true,
    });
    wait_disconnected::<A>(&mut events, Reason::KeepaliveTimeout);
    let late = A::send(&client, Action::new("Ping"));
    assert!(
        matches!(late, Err(Error::Closed(Reason::KeepaliveTimeout))),
        "{late:?}"
    );
    fake.clear_faults();
}

/// Reconnect after a server restart: the action pending at the drop fails with
/// `Closed`, the stream says `Disconnected` then `Reconnected`, and the client
/// works again on a new, logged-in connection, with the configured Events mask
/// and filters applied to it again.
pub fn reconnect_after_restart<A: Adapter>() {
    let fake = fake().fault(Fault::NoReplyTo("Status".into())).start();
    let mut config = with_reconnect(fast_reconnect());
    config.events = Some("call,user".into());
    config.filters = vec!["Event: Keep".into()];
    let client = connect::<A>(&fake, config);
    let mut events = A::events(&client);
    assert_echo(A::send(&client, echo("before")), "before");
    let pending = {
        let client = client.clone();
        thread::spawn(move || {
            A::send(
                &client,
                Action::new("Status").timeout(Duration::from_secs(60)),
            )
        })
    };
    until("the Status action at the server", || {
        sent(&fake, 0, "Status") == 1
    });
    let started = Instant::now();
    fake.restart();
    let result = pending.join().expect("the pending call");
    assert!(
        matches!(&result, Err(Error::Down(reason)) if dropped_by_server(reason)),
        "pending at the loss of a reconnecting client: Down, not Closed: {result:?}"
    );
    assert!(started.elapsed() < WAIT);
    wait_for::<A>(
        &mut events,
        "Disconnected",
        |e| matches!(e, Event::Disconnected(reason) if dropped_by_server(reason)),
        |e| matches!(e, Event::Reconnected | Event::Disconnected(_)),
    );
    wait_for::<A>(
        &mut events,
        "Reconnected",
        |e| matches!(e, Event::Reconnected),
        |e| matches!(e, Event::Disconnected(_)),
    );
    assert!(!A::is_closed(&client));
    assert_echo(A::send(&client, echo("after")), "after");
    assert_eq!(fake.client_count(), 2, "one new connection");
    let second = &fake.clients()[1];
    assert!(second.logged_in && second.open);
    let second = fake.recorded_actions(1);
    assert!(second
        .iter()
        .any(|a| a.is("Action", "Echo") && a.is("Payload", "after")));
    let login = second
        .iter()
        .find(|a| a.is("Action", "Login"))
        .expect("a Login");
    // Events stay off until the filter is in force, then the mask goes on.
    assert!(login.is("Events", "off"), "{login:?}");
    assert!(
        second
            .iter()
            .any(|a| a.is("Action", "Events") && a.is("EventMask", "call,user")),
        "the mask again: {second:?}"
    );
    assert!(
        second
            .iter()
            .any(|a| a.is("Action", "Filter") && a.is("Filter", "Event: Keep")),
        "the filter again: {second:?}"
    );
    // The filter is in force on the new session, and what it lets through flows.
    let event = |name: &str| FakeEvent::new(name).header("Privilege", "call,all");
    assert_eq!(fake.push_event(&event("Drop")), 0, "filtered out");
    assert_eq!(fake.push_event(&event("Keep")), 1);
    wait_for::<A>(
        &mut events,
        "the Keep event",
        |e| matches!(e, Event::Event(p) if p.is("Event", "Keep")),
        |e| matches!(e, Event::Disconnected(_)),
    );
    A::logoff(&client).expect("logoff");
    assert!(A::is_closed(&client), "is_closed once logoff() returned");
}

/// `close()` ends the session at once: `is_closed` says so immediately, the 5
/// waiting calls fail with `Closed(ClosedByClient)`, later calls fail fast, the
/// event stream says `Disconnected(ClosedByClient)` and ends (and one subscribed
/// afterwards ends at once), the server sees the close, and no reconnect follows
/// even when one is configured.
pub fn close_fails_pending<A: Adapter>() {
    const PENDING: usize = 5;
    let fake = fake().fault(Fault::NoReplyTo("Status".into())).start();
    let client = connect::<A>(&fake, with_reconnect(fast_reconnect()));
    let mut events = A::events(&client);
    let waiting = {
        let client = client.clone();
        let actions = (0..PENDING)
            .map(|_| Action::new("Status").timeout(Duration::from_secs(60)))
            .collect();
        thread::spawn(move || A::concurrent_sends(&client, actions))
    };
    until("5 Status actions at the server", || {
        sent(&fake, 0, "Status") == PENDING
    });
    let started = Instant::now();
    A::close(&client);
    assert!(A::is_closed(&client), "is_closed right after close()");
    let after = client.clone();
    let late = bounded("a call after close()", move || {
        A::send(&after, Action::new("Ping"))
    });
    assert!(
        matches!(late, Err(Error::Closed(Reason::ClosedByClient))),
        "{late:?}"
    );
    for result in waiting.join().expect("the waiting calls") {
        assert!(
            matches!(result, Err(Error::Closed(Reason::ClosedByClient))),
            "{result:?}"
        );
    }
    assert!(started.elapsed() < WAIT);
    wait_for::<A>(
        &mut events,
        "Disconnected(ClosedByClient)",
        |e| matches!(e, Event::Disconnected(Reason::ClosedByClient)),
        |e| !matches!(e, Event::Event(_)),
    );
    wait_for_end::<A>(&mut events, |e| !matches!(e, Event::Event(_)));
    let mut late = A::events(&client);
    match A::next_event(&mut late, WAIT) {
        Next::Ended => {}
        other => panic!("a subscription after close(): {other:?}"),
    }
    until("the server to see the close", || !fake.clients()[0].open);
    assert_eq!(fake.client_count(), 1, "no reconnect after close()");
}

/// While a reconnecting client is between sessions (the next attempt is far
/// away), calls fail at once with the reason of the loss instead of waiting, the
/// client is not closed; `close()` then stops the reconnecting for good.
pub fn calls_during_reconnect_gap_fail_fast<A: Adapter>() {
    let fake = fake().start();
    let client = connect::<A>(&fake, with_reconnect(reconnect_in_a_minute()));
    let mut events = A::events(&client);
    ping::<A>(&client);
    fake.restart();
    wait_for::<A>(
        &mut events,
        "Disconnected",
        |e| matches!(e, Event::Disconnected(reason) if dropped_by_server(reason)),
        |e| matches!(e, Event::Reconnected | Event::Disconnected(_)),
    );
    let started = Instant::now();
    let result = A::send(
        &client,
        Action::new("Ping").timeout(Duration::from_secs(30)),
    );
    assert!(
        matches!(&result, Err(Error::Down(reason)) if dropped_by_server(reason)),
        "a call in the gap is Down (reconnecting), not Closed: {result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a call in the gap waited {:?}",
        started.elapsed()
    );
    assert!(!A::is_closed(&client), "reconnecting is not closed");
    A::close(&client);
    assert!(A::is_closed(&client));
    wait_for_end::<A>(&mut events, |_| false);
    assert_eq!(fake.client_count(), 1, "no reconnect after close()");
}

/// Every call completes, also around the end of a session: 40 times, the client
/// is closed as soon as `logoff()` returns and a call made right then fails with
/// `Closed(LoggedOff)`, and 20 calls
/// racing a `close()` each end (answered, or `Closed(ClosedByClient)`). Repeated
/// because the window between "the reply arrived" and "the driver stopped" is
/// short; none may hang.
pub fn calls_after_logoff_or_close_complete<A: Adapter>() {
    let fake = fake().start();
    let config = || Config::new(Credentials::plain("admin", "amp111"));
    for round in 0..40 {
        let client = connect::<A>(&fake, config());
        A::logoff(&client).expect("logoff");
        assert!(
            A::is_closed(&client),
            "round {round}: not closed after logoff"
        );
        let after = client.clone();
        let result = bounded(
            &format!("round {round}: a call right after logoff"),
            move || A::send(&after, Action::new("Ping")),
        );
        assert!(
            matches!(result, Err(Error::Closed(Reason::LoggedOff))),
            "round {round}: {result:?}"
        );
    }
    for round in 0..20 {
        let client = connect::<A>(&fake, config());
        let racing = {
            let client = client.clone();
            thread::spawn(move || {
                A::concurrent_sends(&client, (0..20).map(|_| Action::new("Ping")).collect())
            })
        };
        A::close(&client);
        let results = bounded(&format!("round {round}: calls racing close()"), move || {
            racing.join().expect("the racing calls")
        });
        for result in results {
            match result {
                Ok(reply) => assert!(reply.response().is("Ping", "Pong"), "{reply:?}"),
                Err(Error::Closed(Reason::ClosedByClient)) => {}
                other => panic!("round {round}: a call racing close(): {other:?}"),
            }
        }
    }
}

/// With `max_attempts`, a reconnecting client whose server is gone for good
/// gives up: after `Disconnected`, every redial is refused, the stream ends
/// without `Reconnected`, the client is closed, and calls fail at once with the
/// reason of the loss.
pub fn reconnect_gives_up_after_max_attempts<A: Adapter>() {
    let fake = fake().start();
    let three_attempts = Reconnect {
        max_attempts: Some(3),
        ..fast_reconnect()
    };
    let client = connect::<A>(&fake, with_reconnect(three_attempts));
    let mut events = A::events(&client);
    ping::<A>(&client);
    drop(fake); // gone for good: every redial is refused
    wait_for::<A>(
        &mut events,
        "Disconnected",
        |e| matches!(e, Event::Disconnected(reason) if dropped_by_server(reason)),
        |e| matches!(e, Event::Reconnected | Event::Disconnected(_)),
    );
    wait_for_end::<A>(&mut events, |e| !matches!(e, Event::Event(_)));
    assert!(A::is_closed(&client), "closed once the stream ended");
    assert_eq!(A::ami_version(&client), None);
    let after = client.clone();
    let late = bounded("a call after giving up", move || {
        A::send(&after, Action::new("Ping"))
    });
    // Closed for good with the latest failure: the refused redial.
    assert!(
        matches!(
            &late,
            Err(Error::Closed(Reason::Connect { kind, message }))
                if *kind == std::io::ErrorKind::ConnectionRefused && message.contains("127.0.0.1")
        ),
        "{late:?}"
    );
}

/// Dropping the last `Client` handle closes the session, like `close()`: while
/// one clone lives the session works; once none does, the stream says
/// `Disconnected(ClosedByClient)` and ends, the server sees the close, and no
/// reconnect follows even when one is configured.
pub fn dropping_every_handle_closes<A: Adapter>() {
    let fake = fake().start();
    let client = connect::<A>(&fake, with_reconnect(fast_reconnect()));
    let mut events = A::events(&client);
    let other = client.clone();
    drop(client);
    ping::<A>(&other);
    drop(other);
    wait_disconnected::<A>(&mut events, Reason::ClosedByClient);
    wait_for_end::<A>(&mut events, |_| false);
    until("the server to see the close", || !fake.clients()[0].open);
    assert_eq!(fake.client_count(), 1, "no reconnect");
}

/// `Client::from_stream` over a TCP stream the caller opened, its driver run the
/// adapter's way: an action sent at once waits for the login; `ami_version` is
/// the banner's; after `logoff()` the driver ends with `Ok(())`. With reconnect
/// configured (ignored: the adapter cannot reopen a stream it did not open), a
/// lost server ends the driver with `Err(Closed(..))` and the client for good.
pub fn from_stream_wraps_a_user_stream<A: Adapter>() {
    let fake = fake().ami_version("7.0.3").start();
    let (client, driver) = A::from_stream(fake.addr(), config()).expect("a TCP connection");
    assert_echo(A::send(&client, echo("first")), "first");
    assert_eq!(A::ami_version(&client).as_deref(), Some("7.0.3"));
    assert!(fake.clients()[0].logged_in);
    A::logoff(&client).expect("logoff");
    let result = bounded("the driver after logoff", move || A::join_driver(driver));
    assert!(matches!(result, Ok(())), "{result:?}");
    assert!(A::is_closed(&client));

    let config = with_reconnect(fast_reconnect());
    let (client, driver) = A::from_stream(fake.addr(), config).expect("a TCP connection");
    let mut events = A::events(&client);
    ping::<A>(&client);
    fake.restart();
    let result = bounded("the driver after the server left", move || {
        A::join_driver(driver)
    });
    assert!(
        matches!(&result, Err(Error::Closed(reason)) if dropped_by_server(reason)),
        "{result:?}"
    );
    wait_for::<A>(
        &mut events,
        "Disconnected",
        |e| matches!(e, Event::Disconnected(reason) if dropped_by_server(reason)),
        |e| matches!(e, Event::Reconnected | Event::Disconnected(_)),
    );
    wait_for_end::<A>(&mut events, |_| false);
    assert!(A::is_closed(&client));
    assert_eq!(fake.client_count(), 2, "no reconnect of a user stream");
}

/// The status is visible and can be waited for: ready after connect,
/// reconnecting (with since) after a loss, ready again after the re-login;
/// calls while down fail with `Down`, after the end with `Closed`.
pub fn status_can_be_seen_and_waited_for<A: Adapter>() {
    let fake = fake().start();
    let client = connect::<A>(&fake, with_reconnect(fast_reconnect()));
    assert_eq!(client.status(), ami_proto::Status::Ready);
    let mut events = A::events(&client);
    fake.restart();
    wait_for::<A>(
        &mut events,
        "Disconnected",
        |e| matches!(e, Event::Disconnected(_)),
        |_| false,
    );
    A::wait_ready(&client, WAIT).expect("ready again");
    assert_eq!(client.status(), ami_proto::Status::Ready);
    ping::<A>(&client);
    A::close(&client);
    assert!(matches!(
        client.status(),
        ami_proto::Status::Closed(Reason::ClosedByClient)
    ));
    assert!(matches!(
        A::wait_ready(&client, WAIT),
        Err(Error::Closed(Reason::ClosedByClient))
    ));
}
