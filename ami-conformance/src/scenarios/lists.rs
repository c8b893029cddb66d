//! Lists, collected and streamed.

use super::*;

/// A list collected whole while unrelated events keep arriving: every list has
/// exactly its items, and every event reaches the event stream, in order, with no
/// list item leaking into it.
pub fn list_while_events_arrive<A: Adapter>() {
    const NOISE: usize = 300;
    const LISTS: usize = 30;
    let fake = fake().start();
    let client = connect::<A>(&fake, config());
    for i in 0..3 {
        let outcome = A::originate(
            &client,
            Action::new("Originate")
                .header("Channel", format!("Local/{i}@default"))
                .header("Application", "Wait")
                .header("Async", "true"),
        )
        .expect("originate");
        assert!(outcome.is_success());
    }
    let mut events = A::events(&client);
    thread::scope(|scope| {
        let pusher = scope.spawn(|| {
            for seq in 0..NOISE {
                let noise = FakeEvent::new("Noise")
                    .header("Privilege", "user,all")
                    .header("Seq", seq.to_string());
                assert_eq!(fake.push_event(&noise), 1);
            }
        });
        for _ in 0..LISTS {
            let list = A::list(&client, Action::new("CoreShowChannels")).expect("list");
            list.verify().expect("declared count = received");
            assert_eq!(list.items.len(), 6, "3 Local calls = 6 channels");
            assert_eq!(list.received, 6);
            assert!(list.response.is("EventList", "start"));
            assert!(list.complete.is("Event", "CoreShowChannelsComplete"));
            let id = text(&list.response, "ActionID").expect("an ActionID");
            for item in &list.items {
                assert!(item.is("Event", "CoreShowChannel"), "{item:?}");
                assert_eq!(text(item, "ActionID").as_ref(), Some(&id));
            }
        }
        pusher.join().expect("the pusher");
    });
    let mut next = 0;
    while next < NOISE {
        let event = wait_for::<A>(
            &mut events,
            &format!("Noise {next}"),
            |e| matches!(e, Event::Event(p) if p.is("Event", "Noise")),
            |e| match e {
                Event::Event(p) => p
                    .event_name()
                    .is_some_and(|n| n == "CoreShowChannel" || n == "CoreShowChannelsComplete"),
                _ => true,
            },
        );
        let Event::Event(packet) = event else {
            unreachable!()
        };
        assert_eq!(text(&packet, "Seq"), Some(next.to_string()));
        next += 1;
    }
}

/// A fake Asterisk that also serves three lists of `Count` numbered items
/// (`Seq: 0, 1, ...`): `BigList` whole ([`ami_testkit::numbered_list`]); `CutList` without its closing
/// event, hanging up after the items; `EndlessList` never completing.
fn list_fake() -> Builder {
    fn item(seq: usize) -> FakeEvent {
        FakeEvent::new("BigListItem").header("Seq", seq.to_string())
    }
    fn count(request: &Packet) -> usize {
        text(request, "Count").map_or(0, |c| c.parse().expect("a numeric Count"))
    }
    fn opening(request: &Packet, reply: &mut ami_testkit::Reply) {
        let id = reply.action_id().expect("an ActionID").to_vec();
        reply.respond(
            "Success",
            &[("EventList", "start"), ("Message", "Items will follow")],
        );
        for seq in 0..count(request) {
            reply.event(&item(seq).header_first("ActionID", &id));
        }
    }
    fake()
        .handler("BigList", ami_testkit::numbered_list)
        .handler("CutList", |request, reply| {
            opening(request, reply);
            reply.close();
        })
        .handler("EndlessList", opening)
}

fn big_list(count: usize) -> Action {
    Action::new("BigList").header("Count", count.to_string())
}

/// The `Seq` of every item left in `stream`, then its outcome.
fn drain<A: Adapter>(mut stream: ListStream) -> (Vec<usize>, Result<List, Error>) {
    let mut seqs = Vec::new();
    while let Some(item) = A::next_item(&mut stream) {
        assert!(item.is("Event", "BigListItem"), "{item:?}");
        seqs.push(
            text(&item, "Seq")
                .and_then(|s| s.parse().ok())
                .expect("a Seq"),
        );
    }
    (seqs, A::finish(stream))
}

/// `list_stream`: 5,000 items arrive complete and in order, then `finish` gives
/// the closing event (`received` counts them, `items` is empty); none goes
/// through the event fan-out, so a subscriber of capacity 8 never lags. `list`
/// still collects.
pub fn list_stream_items_in_order_outside_the_event_fan_out<A: Adapter>() {
    const ITEMS: usize = 5000;
    let fake = list_fake().start();
    let client = connect::<A>(&fake, with_capacity(8));
    let mut events = A::events(&client);
    let stream = A::list_stream(&client, big_list(ITEMS)).expect("list_stream");
    let (seqs, outcome) = drain::<A>(stream);
    assert_eq!(
        seqs,
        (0..ITEMS).collect::<Vec<_>>(),
        "complete and in order"
    );
    let list = outcome.expect("finish");
    assert_eq!(list.received, ITEMS);
    assert!(list.items.is_empty(), "streamed items are not collected");
    assert!(list.complete.is("Event", "BigListComplete"));
    list.verify().expect("declared count = received");

    let collected = A::list(&client, big_list(3)).expect("list");
    assert_eq!(collected.items.len(), 3);
    assert_eq!(collected.received, 3);
    A::close(&client);
    // No item went through the fan-out, and it never lagged.
    wait_for_end::<A>(&mut events, |e| match e {
        Event::Event(p) => p.is("Event", "BigListItem"),
        Event::Lagged(_) => true,
        _ => false,
    });
}

/// A streamed list ends with its connection: the server hanging up after 3 items
/// delivers those 3, then `finish` says `Closed`, and once the client is closed
/// a new `list_stream` is refused at once; `close()` mid-list ends the stream
/// with `Closed(ClosedByClient)`.
pub fn list_stream_ends_with_the_connection<A: Adapter>() {
    let fake = list_fake().start();
    let client = connect::<A>(&fake, config());
    let cut = Action::new("CutList").header("Count", "3");
    let (seqs, outcome) = drain::<A>(A::list_stream(&client, cut).expect("list_stream"));
    assert_eq!(seqs, [0, 1, 2], "what arrived before the cut is delivered");
    assert!(
        matches!(&outcome, Err(Error::Closed(reason)) if dropped_by_server(reason)),
        "{outcome:?}"
    );
    until("is_closed", || A::is_closed(&client));
    let after = client.clone();
    let refused = bounded("list_stream on a closed client", move || {
        A::list_stream(&after, big_list(1)).map(drop)
    });
    assert!(
        matches!(&refused, Err(Error::Closed(reason)) if dropped_by_server(reason)),
        "{refused:?}"
    );

    let client = connect::<A>(&fake, config());
    let endless = Action::new("EndlessList")
        .header("Count", "2")
        .timeout(Duration::from_secs(60));
    let mut stream = A::list_stream(&client, endless).expect("list_stream");
    for seq in ["0", "1"] {
        let item = A::next_item(&mut stream).expect("an item");
        assert!(item.is("Seq", seq), "{item:?}");
    }
    let started = Instant::now();
    A::close(&client);
    let (seqs, outcome) = bounded("a streamed list after close()", move || drain::<A>(stream));
    assert!(seqs.is_empty(), "{seqs:?}");
    assert!(
        matches!(outcome, Err(Error::Closed(Reason::ClosedByClient))),
        "{outcome:?}"
    );
    assert!(started.elapsed() < WAIT);
}

/// The action's deadline bounds the whole list: a list that never completes
/// delivers its items, then `finish` says `Timeout` at the deadline; the session
/// goes on.
pub fn list_stream_deadline_bounds_the_whole_list<A: Adapter>() {
    let fake = list_fake().start();
    let client = connect::<A>(&fake, config());
    let endless = Action::new("EndlessList")
        .header("Count", "2")
        .timeout(Duration::from_millis(300));
    let started = Instant::now();
    let (seqs, outcome) = drain::<A>(A::list_stream(&client, endless).expect("list_stream"));
    let took = started.elapsed();
    assert_eq!(seqs, [0, 1]);
    assert!(matches!(outcome, Err(Error::Timeout { .. })), "{outcome:?}");
    assert!(took >= Duration::from_millis(300), "too early: {took:?}");
    assert!(took < WAIT, "too late: {took:?}");
    assert_echo(A::send(&client, echo("after")), "after");
}

/// An action the core refuses to encode is `Invalid` at once, before anything is
/// sent; `finish` without reading discards the items and still tells the
/// outcome; an unknown action streams nothing and is `Rejected`.
pub fn list_stream_refused_rejected_and_early_finish<A: Adapter>() {
    let fake = list_fake().start();
    let client = connect::<A>(&fake, config());
    let caller = client.clone();
    let refused = bounded("list_stream of an invalid action", move || {
        A::list_stream(&caller, Action::new("Bad\r\nName")).map(drop)
    });
    assert!(matches!(refused, Err(Error::Invalid(_))), "{refused:?}");
    // The Echo's reply comes after anything sent before it: nothing was.
    assert_echo(A::send(&client, echo("after refusal")), "after refusal");
    assert!(
        !fake
            .recorded_actions(0)
            .iter()
            .any(|a| a.is("Action", "Bad")),
        "nothing of it was sent"
    );

    let stream = A::list_stream(&client, big_list(500)).expect("list_stream");
    let list = A::finish(stream).expect("finish without reading");
    assert_eq!(list.received, 500);

    let stream = A::list_stream(&client, Action::new("NoSuchList")).expect("list_stream");
    let (seqs, outcome) = drain::<A>(stream);
    assert!(seqs.is_empty(), "{seqs:?}");
    assert!(matches!(outcome, Err(Error::Rejected(_))), "{outcome:?}");
    assert_echo(A::send(&client, echo("after")), "after");
}
