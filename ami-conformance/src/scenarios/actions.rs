//! Actions and their replies: concurrency, Command, Originate outcomes, deadlines, caller-set ActionIDs, foreign ActionIDs.

use super::*;

/// 1,000 actions from 1,000 tasks (or a pool of threads) at once: each caller
/// gets the reply to its own request, and each request went out exactly once
/// with its own ActionID.
pub fn thousand_concurrent_actions<A: Adapter>() {
    const N: usize = 1000;
    let fake = fake().start();
    let client = connect::<A>(&fake, config());
    let payloads: Vec<String> = (0..N).map(|i| format!("payload-{i:04}")).collect();
    let results = A::concurrent_sends(&client, payloads.iter().map(|p| echo(p)).collect());
    assert_eq!(results.len(), N);

    // The ActionID each payload went out with, from the server's side.
    let mut sent_ids: HashMap<String, String> = HashMap::new();
    for action in fake.recorded_actions(0) {
        if action.is("Action", "Echo") {
            let payload = text(&action, "Payload").expect("a Payload");
            let id = text(&action, "ActionID").expect("an ActionID");
            assert!(
                sent_ids.insert(payload.clone(), id).is_none(),
                "{payload} sent twice"
            );
        }
    }
    assert_eq!(sent_ids.len(), N, "every action sent exactly once");
    let distinct: HashSet<&String> = sent_ids.values().collect();
    assert_eq!(distinct.len(), N, "ActionIDs are unique");

    for (payload, result) in payloads.iter().zip(results) {
        let reply = result.unwrap_or_else(|e| panic!("{payload}: {e:?}"));
        let response = reply.response();
        assert_eq!(text(response, "Echo").as_deref(), Some(payload.as_str()));
        assert_eq!(
            text(response, "ActionID").as_ref(),
            Some(&sent_ids[payload]),
            "{payload} answered with another action's response"
        );
    }
    ping::<A>(&client);
}

/// `Command` output in both formats: Asterisk 14+ `Output:` lines and the legacy
/// `Response: Follows` body, both to the same lines (a line that looks like a
/// header, an empty line and leading spaces included). An unknown command is
/// `Rejected` with the new format; the legacy format has no error status.
pub fn command_both_formats<A: Adapter>() {
    let output = "Fruit: apple\nbanana\n\n  indented\nlast line";
    let expected = ["Fruit: apple", "banana", "", "  indented", "last line"];
    let unknown = "No such command 'core show nothing' (type 'core show help core show' \
                   for other possible commands)";
    for legacy in [false, true] {
        let fake = fake()
            .legacy_command(legacy)
            .command_output("core show fruit", output)
            .start();
        let client = connect::<A>(&fake, config());
        let lines = A::command(&client, "core show fruit").expect("command");
        assert_eq!(lines, expected, "legacy={legacy}");
        let version = A::command(&client, "core show version").expect("command");
        assert_eq!(
            version,
            ["Asterisk 22.10.1 built by ami-testkit @ fake on a x86_64 running Linux"],
            "legacy={legacy}"
        );
        match (legacy, A::command(&client, "core show nothing")) {
            (false, Err(Error::CommandFailed { output, .. })) => {
                assert_eq!(output, [unknown], "the reason is in the output")
            }
            (true, Ok(lines)) => assert_eq!(lines, [unknown]),
            (legacy, other) => panic!("unknown command, legacy={legacy}: {other:?}"),
        }
        // The session is still in step after the raw body.
        assert_echo(A::send(&client, echo("after")), "after");
    }
}

/// Async `Originate`: `originate` waits for the call's `OriginateResponse` and
/// returns the one of its own request, also when several run at once and every
/// session receives every outcome.
pub fn async_originate_outcome<A: Adapter>() {
    let fake = fake().start();
    let client = connect::<A>(&fake, config());
    let call = |channel: &str| {
        Action::new("Originate")
            .header("Channel", channel)
            .header("Application", "Wait")
            .header("Data", "5")
            .header("Async", "true")
    };
    let answered = A::originate(&client, call("Local/100@default")).expect("originate");
    assert!(answered.is_success());
    assert_eq!(answered.reason(), Some(4));
    let event = answered.event.as_ref().expect("the OriginateResponse");
    assert!(event.is("Event", "OriginateResponse"));
    assert_eq!(
        text(event, "ActionID"),
        text(&answered.response, "ActionID"),
        "the outcome of this request"
    );
    assert!(answered
        .response
        .is("Message", "Originate successfully queued"));
    for (channel, reason) in [("PJSIP/busy", 5), ("PJSIP/noanswer", 3), ("PJSIP/fail", 0)] {
        let outcome = A::originate(&client, call(channel)).expect("originate");
        assert!(!outcome.is_success(), "{channel}");
        assert_eq!(outcome.reason(), Some(reason), "{channel}");
    }
    match A::originate(
        &client,
        Action::new("Originate")
            .header("Application", "Wait")
            .header("Async", "true"),
    ) {
        Err(Error::Rejected(packet)) => {
            assert_eq!(
                text(&packet, "Message").as_deref(),
                Some("Channel not specified")
            )
        }
        other => panic!("Originate without Channel: {other:?}"),
    }

    // Several at once, from several tasks: each gets its own outcome.
    let channels: Vec<String> = (0..10)
        .map(|i| match i % 2 {
            0 => format!("Local/{i}@default"),
            _ => format!("PJSIP/busy-{i}"),
        })
        .collect();
    let results = A::concurrent_sends(&client, channels.iter().map(|c| call(c)).collect());
    for (channel, result) in channels.iter().zip(results) {
        let Ok(Reply::Originate(outcome)) = result else {
            panic!("{channel}: {result:?}");
        };
        let event = outcome.event.as_ref().expect("the OriginateResponse");
        let target = text(event, "Channel").expect("a Channel");
        assert!(
            target.starts_with(channel.as_str()),
            "{channel} got {target}"
        );
        let busy = channel.contains("busy");
        assert_eq!(outcome.is_success(), !busy, "{channel}");
        assert_eq!(
            outcome.reason(),
            Some(if busy { 5 } else { 4 }),
            "{channel}"
        );
    }
}

/// Packets with ActionIDs this client never used are passed through on the event
/// stream (a response as `Unmatched`, events as `Event`), including the echo of
/// its own `UserEvent` and another session's; the session goes on.
pub fn unknown_action_ids_are_events<A: Adapter>() {
    let fake = fake().start();
    let client = connect::<A>(&fake, config());
    let mut events = A::events(&client);
    ping::<A>(&client);
    let not_unmatched = |e: &Event| matches!(e, Event::Disconnected(_));

    assert_eq!(
        fake.push_raw(b"Response: Success\r\nActionID: someone-else-1\r\nMessage: hi\r\n\r\n"),
        1
    );
    let event = wait_for::<A>(
        &mut events,
        "the foreign response",
        |e| matches!(e, Event::Unmatched(_)),
        not_unmatched,
    );
    let Event::Unmatched(packet) = event else {
        unreachable!()
    };
    assert_eq!(text(&packet, "ActionID").as_deref(), Some("someone-else-1"));
    assert_eq!(text(&packet, "Message").as_deref(), Some("hi"));

    assert_eq!(
        fake.push_raw(
            b"Event: OriginateResponse\r\nPrivilege: call,all\r\nActionID: someone-else-2\r\n\
              Response: Success\r\nReason: 4\r\n\r\n"
        ),
        1
    );
    wait_for::<A>(
        &mut events,
        "the foreign OriginateResponse",
        |e| matches!(e, Event::Event(p) if p.is("ActionID", "someone-else-2")),
        not_unmatched,
    );

    // Its own UserEvent comes back as an event carrying its (finished) ActionID.
    let reply = A::send(
        &client,
        Action::new("UserEvent")
            .header("UserEvent", "Mine")
            .header("Body", "x"),
    )
    .expect("UserEvent");
    assert!(reply.response().is("Message", "Event Sent"));
    let own_id = text(reply.response(), "ActionID").expect("an ActionID");
    let event = wait_for::<A>(
        &mut events,
        "the echo of its own UserEvent",
        |e| matches!(e, Event::Event(p) if p.is("UserEvent", "Mine")),
        not_unmatched,
    );
    let Event::Event(packet) = event else {
        unreachable!()
    };
    assert_eq!(text(&packet, "ActionID"), Some(own_id));

    // Another session's UserEvent, with that session's ActionID.
    let other = connect::<A>(&fake, config());
    A::send(
        &other,
        Action::new("UserEvent").header("UserEvent", "Theirs"),
    )
    .expect("UserEvent");
    wait_for::<A>(
        &mut events,
        "another session's UserEvent",
        |e| matches!(e, Event::Event(p) if p.is("UserEvent", "Theirs") && p.get("ActionID").is_some()),
        not_unmatched,
    );
    assert_echo(A::send(&client, echo("still here")), "still here");
}

/// An unanswered action fails with `Timeout` at its own deadline (per action, and
/// from `config.action_timeout`); the session goes on.
pub fn per_action_timeout<A: Adapter>() {
    let fake = fake().fault(Fault::NoReplyTo("Status".into())).start();
    let client = connect::<A>(
        &fake,
        Config {
            action_timeout: Duration::from_secs(30),
            ..config()
        },
    );
    let started = Instant::now();
    let result = A::send(
        &client,
        Action::new("Status").timeout(Duration::from_millis(300)),
    );
    let took = started.elapsed();
    // The error names the action and its deadline.
    match &result {
        Err(error @ Error::Timeout { what, after }) => {
            assert_eq!(what, "Status");
            assert_eq!(*after, Some(Duration::from_millis(300)));
            assert_eq!(
                error.to_string(),
                "Status timed out (no answer within 300ms)"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(took >= Duration::from_millis(300), "too early: {took:?}");
    assert!(took < WAIT, "too late: {took:?}");
    assert_echo(A::send(&client, echo("after")), "after");

    // The configured default deadline.
    let short = connect::<A>(
        &fake,
        Config {
            action_timeout: Duration::from_millis(300),
            ..config()
        },
    );
    let started = Instant::now();
    let result = A::send(&short, Action::new("Status"));
    let took = started.elapsed();
    assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
    assert!(took >= Duration::from_millis(300), "too early: {took:?}");
    assert!(took < WAIT, "too late: {took:?}");
    assert_echo(A::send(&short, echo("after")), "after");
    assert!(!A::is_closed(&short));
}

/// A caller-set ActionID is sent as is, its reply completes its own call, and
/// a second pending action with the same ActionID is refused before sending.
pub fn a_callers_action_id_completes_its_own_call<A: Adapter>() {
    let fake = fake().fault(Fault::NoReplyTo("Status".into())).start();
    let client = connect::<A>(&fake, config());
    let waiting = {
        let client = client.clone();
        thread::spawn(move || {
            A::send(
                &client,
                Action::new("Status")
                    .action_id("crm-1")
                    .timeout(Duration::from_millis(500)),
            )
        })
    };
    until("the Status at the server", || sent(&fake, 0, "Status") == 1);
    let twin = A::send(&client, echo("twin").action_id("crm-1"));
    assert!(
        matches!(
            twin,
            Err(Error::Invalid(
                ami_proto::EncodeError::DuplicateActionId { .. }
            ))
        ),
        "{twin:?}"
    );
    let reply = A::send(&client, echo("mine").action_id("crm-2")).expect("echo");
    assert!(reply.response().is("ActionID", "crm-2"), "{reply:?}");
    assert_echo(Ok(reply), "mine");
    let status = waiting.join().expect("the Status call");
    assert!(matches!(status, Err(Error::Timeout { .. })), "{status:?}");
    let recorded = fake.recorded_actions(0);
    assert!(recorded
        .iter()
        .any(|a| a.is("ActionID", "crm-1") && a.is("Action", "Status")));
    assert!(
        !recorded.iter().any(|a| a.is("Payload", "twin")),
        "refused before sending"
    );
}
