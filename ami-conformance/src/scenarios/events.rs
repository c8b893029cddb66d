//! The event fan-out: every event or a `Lagged` for it, per subscriber, from login on, filters in force.

use super::*;

/// A subscriber that does not read while 20,000 events flood in: it is told
/// `Lagged(n)`, then gets only the newest `event_capacity` events (in order,
/// none lost in between: n + received = 20,000), while 1,000 actions sent during
/// the flood (reading and writing at once) all get their own replies.
pub fn slow_consumer_lagged<A: Adapter>() {
    const CAPACITY: usize = 16;
    const FLOOD: usize = 20_000;
    const ACTIONS: usize = 1000;
    let fake = fake().start();
    let client = connect::<A>(&fake, with_capacity(CAPACITY));
    let mut events = events_after_login::<A>(&client);
    let packets: Vec<Vec<u8>> = (0..FLOOD)
        .map(|seq| {
            FakeEvent::new("Flood")
                .header("Privilege", "user,all")
                .header("Seq", seq.to_string())
                .to_bytes()
        })
        .collect();
    let flood = fake.flood(packets, Rate::Unlimited);
    let payloads: Vec<String> = (0..ACTIONS).map(|i| format!("during-flood-{i}")).collect();
    let results = A::concurrent_sends(&client, payloads.iter().map(|p| echo(p)).collect());
    for (payload, result) in payloads.iter().zip(results) {
        assert_echo(result, payload);
    }
    assert_eq!(flood.wait(), FLOOD as u64, "the flood reached the client");
    // This reply comes after every flood event on the wire: all are published.
    ping::<A>(&client);

    let lagged = match A::next_event(&mut events, WAIT) {
        Next::Event(Event::Lagged(n)) => n,
        other => panic!("expected Lagged first, got {other:?}"),
    };
    assert!(lagged > 0);
    let mut received = Vec::new();
    while received.last() != Some(&(FLOOD - 1)) {
        match A::next_event(&mut events, WAIT) {
            Next::Event(Event::Event(p)) if p.is("Event", "Flood") => {
                let seq = text(&p, "Seq").and_then(|s| s.parse().ok()).expect("a Seq");
                received.push(seq);
            }
            other => panic!(
                "after Lagged({lagged}), {} events in: {other:?}",
                received.len()
            ),
        }
    }
    assert_eq!(
        received.len(),
        CAPACITY,
        "events buffered for a subscriber of capacity {CAPACITY}"
    );
    let first = received[0];
    assert_eq!(
        received,
        (first..FLOOD).collect::<Vec<_>>(),
        "the newest events, in order, without gaps"
    );
    assert_eq!(
        lagged + received.len() as u64,
        FLOOD as u64,
        "Lagged counts every lost event"
    );
    match A::next_event(&mut events, Duration::from_millis(50)) {
        Next::Timeout => {}
        other => panic!("nothing more expected: {other:?}"),
    }
}

/// A subscriber that keeps up loses nothing at the default capacity, however
/// its thread is scheduled: 100,000 events flood in (a hundred queues' worth),
/// and the pump, once the subscriber is more than half full, reads on only
/// after it took its events or after `subscriber_wait`, here longer than any
/// scheduling delay. Every event arrives, in order, with no `Lagged`. (The
/// events are of 64 bytes or more, as real ones are: a pump's slice holds
/// half a queue of those.)
pub fn a_subscriber_keeping_up_loses_nothing<A: Adapter>() {
    const FLOOD: usize = 100_000;
    let fake = fake().start();
    let config = Config {
        subscriber_wait: WAIT,
        ..config()
    };
    assert_eq!(config.event_capacity, 1024, "the default capacity");
    let client = connect::<A>(&fake, config);
    let mut events = events_after_login::<A>(&client);
    let packets: Vec<Vec<u8>> = (0..FLOOD)
        .map(|seq| {
            FakeEvent::new("Flood")
                .header("Privilege", "user,all")
                .header("Seq", format!("{seq:06}"))
                .header("Padding", "x".repeat(16))
                .to_bytes()
        })
        .collect();
    assert!(packets.iter().all(|p| p.len() >= 64));
    let flood = fake.flood(packets, Rate::Unlimited);
    for seq in 0..FLOOD {
        match A::next_event(&mut events, WAIT) {
            Next::Event(Event::Event(p)) if p.is("Event", "Flood") => {
                assert_eq!(text(&p, "Seq"), Some(format!("{seq:06}")), "{p:?}");
            }
            other => panic!("expected Flood {seq}, got {other:?}"),
        }
    }
    assert_eq!(flood.wait(), FLOOD as u64);
}

/// `event_capacity` is exact, not rounded (tokio's broadcast channel rounded 10
/// up to 16): after a flood of 1,000 events into a subscriber of capacity 10
/// that does not read, it is told `Lagged(990)`, then gets exactly the newest
/// 10 events, in order, and nothing more.
pub fn event_capacity_is_exact<A: Adapter>() {
    const CAPACITY: usize = 10;
    const FLOOD: usize = 1000;
    let fake = fake().start();
    let client = connect::<A>(&fake, with_capacity(CAPACITY));
    let mut events = events_after_login::<A>(&client);
    let packets: Vec<Vec<u8>> = (0..FLOOD)
        .map(|seq| {
            FakeEvent::new("Flood")
                .header("Privilege", "user,all")
                .header("Seq", seq.to_string())
                .to_bytes()
        })
        .collect();
    assert_eq!(fake.flood(packets, Rate::Unlimited).wait(), FLOOD as u64);
    // This reply comes after every flood event on the wire: all are published.
    ping::<A>(&client);
    match A::next_event(&mut events, WAIT) {
        Next::Event(Event::Lagged(n)) => assert_eq!(n, (FLOOD - CAPACITY) as u64),
        other => panic!("expected Lagged({}) first, got {other:?}", FLOOD - CAPACITY),
    }
    for seq in FLOOD - CAPACITY..FLOOD {
        match A::next_event(&mut events, WAIT) {
            Next::Event(Event::Event(p)) if p.is("Event", "Flood") => {
                assert_eq!(text(&p, "Seq"), Some(seq.to_string()), "{p:?}");
            }
            other => panic!("expected Flood {seq}, got {other:?}"),
        }
    }
    match A::next_event(&mut events, Duration::from_millis(50)) {
        Next::Timeout => {}
        other => panic!("exactly {CAPACITY} events expected, then nothing: {other:?}"),
    }
}

/// Each subscriber has a queue of its own: one that keeps up receives all 100
/// events in order and is never told `Lagged`, while one that does not read
/// meanwhile is told `Lagged(100 - capacity)`, then gets the newest `capacity`.
pub fn each_subscriber_lags_alone<A: Adapter>() {
    const CAPACITY: usize = 8;
    const EVENTS: usize = 100;
    let fake = fake().start();
    let client = connect::<A>(&fake, with_capacity(CAPACITY));
    let mut reader = events_after_login::<A>(&client);
    let mut idle = A::events(&client);
    let tick = |seq: usize| {
        FakeEvent::new("Tick")
            .header("Privilege", "user,all")
            .header("Seq", seq.to_string())
    };
    let seq_of = |next: Next| match next {
        Next::Event(Event::Event(p)) if p.is("Event", "Tick") => {
            text(&p, "Seq").and_then(|s| s.parse::<usize>().ok())
        }
        _ => None,
    };
    for seq in 0..EVENTS {
        assert_eq!(fake.push_event(&tick(seq)), 1);
        let next = A::next_event(&mut reader, WAIT);
        assert_eq!(seq_of(next.clone()), Some(seq), "the reader: {next:?}");
    }
    // The reader may have its last event before the idle one is given it; this
    // reply is handled only after that event went to every subscriber.
    ping::<A>(&client);
    match A::next_event(&mut idle, WAIT) {
        Next::Event(Event::Lagged(n)) => assert_eq!(n, (EVENTS - CAPACITY) as u64),
        other => panic!("the idle subscriber, first: {other:?}"),
    }
    for seq in EVENTS - CAPACITY..EVENTS {
        let next = A::next_event(&mut idle, WAIT);
        assert_eq!(seq_of(next.clone()), Some(seq), "the idle one: {next:?}");
    }
    for (name, events) in [("reader", &mut reader), ("idle", &mut idle)] {
        match A::next_event(events, Duration::from_millis(50)) {
            Next::Timeout => {}
            other => panic!("{name}: nothing more expected: {other:?}"),
        }
    }
}

/// The first subscriber, created after `connect` returned, receives every event
/// since login: the login's own events (written with its reply in one write by
/// a real Asterisk) and a burst of call events that follows at once.
pub fn events_from_login_reach_the_first_subscriber<A: Adapter>() {
    const BURST: usize = 300;
    let fake = fake().login_burst(BURST).start();
    let client = connect::<A>(&fake, config());
    ping::<A>(&client); // answered after the burst: every burst event is in
    let mut events = A::events(&client);
    let mut names = Vec::new();
    loop {
        match A::next_event(&mut events, Duration::from_millis(200)) {
            Next::Event(Event::Event(p)) => names.push(text(&p, "Event").unwrap_or_default()),
            Next::Timeout => break,
            other => panic!("after {} events: {other:?}", names.len()),
        }
    }
    assert_eq!(names[..2], ["FullyBooted", "SuccessfulAuth"], "{names:?}");
    assert_eq!(
        names.len(),
        2 + BURST,
        "no event lost before the first subscriber"
    );
}

/// With a filter configured, no event it blocks is delivered, even those a
/// real Asterisk writes between the login reply and the filter's reply; and a
/// whitelist filter does not starve `originate()` of its outcome.
pub fn filters_are_in_force_before_connect_returns<A: Adapter>() {
    let fake = fake().login_burst(200).start();
    let config = Config {
        filters: vec!["Event: Hangup".into()],
        ..config()
    };
    let client = connect::<A>(&fake, config);
    let mut events = A::events(&client);
    ping::<A>(&client);
    // A busy call: its Hangup and its (failed) outcome come at once.
    let call = Action::new("Originate")
        .header("Channel", "PJSIP/busy")
        .header("Application", "Wait")
        .header("Data", "1");
    let outcome = bounded("originate under a whitelist filter", {
        let client = client.clone();
        move || A::originate(&client, call)
    })
    .expect("the OriginateResponse passes the session's filters");
    assert_eq!(
        outcome.reason(),
        Some(5),
        "the busy outcome arrived: {outcome:?}"
    );
    // Everything delivered so far and up to the call's Hangup passes the filter.
    wait_for::<A>(
        &mut events,
        "the Hangup of the originated call",
        |e| matches!(e, Event::Event(p) if p.is("Event", "Hangup")),
        |e| matches!(e, Event::Event(_)),
    );
}

/// A subscriber asks for events by name: only those come, in order, and the
/// client's own items (here `Disconnected`) still do.
pub fn events_filtered_by_name<A: Adapter>() {
    let fake = fake().start();
    let client = connect::<A>(&fake, config());
    let mut hangups = A::events(&client).only(["hangup"]);
    for (seq, name) in ["Newchannel", "Hangup", "VarSet", "Hangup"]
        .iter()
        .enumerate()
    {
        let event = FakeEvent::new(*name)
            .header("Privilege", "call,all")
            .header("Seq", seq.to_string());
        assert_eq!(fake.push_event(&event), 1);
    }
    for seq in ["1", "3"] {
        match A::next_event(&mut hangups, WAIT) {
            Next::Event(Event::Event(p)) => {
                assert!(p.is("Event", "Hangup"), "{p:?}");
                assert_eq!(text(&p, "Seq").as_deref(), Some(seq));
            }
            other => panic!("{other:?}"),
        }
    }
    A::close(&client);
    match A::next_event(&mut hangups, WAIT) {
        Next::Event(Event::Disconnected(Reason::ClosedByClient)) => {}
        other => panic!("the client's own items pass the filter: {other:?}"),
    }
}
