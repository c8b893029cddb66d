//! The scenarios, written once for every [`Adapter`].
//!
//! Each is a plain function generic over the adapter;
//! [`conformance_suite!`](crate::conformance_suite) makes one `#[test]` of each. Rules kept throughout:
//! real sockets to [`FakeAsterisk`]; exact outcomes asserted (replies matched to
//! their requests, counts, error variants); no sleep is ever used to order events:
//! every wait is on a condition, bounded by [`WAIT`] (generous, for a loaded 2-core
//! CI machine), and a failed wait panics saying what did not happen.

use std::collections::{HashMap, HashSet};
use std::thread;
use std::time::{Duration, Instant};

use ami_client::{Client, Events, ListStream};
use ami_proto::{
    md5_key, Action, Config, Credentials, Error, Event, Keepalive, List, Packet, Reason, Reconnect,
    Reply,
};
use ami_testkit::{Builder, Event as FakeEvent, FakeAsterisk, Fault, Rate};

use crate::{Adapter, Next};

/// The longest any single condition may take to come true.
pub const WAIT: Duration = Duration::from_secs(10);

// ----- helpers -----

/// The default user, logging in with MD5.
fn config() -> Config {
    Config::new(Credentials::md5("admin", "amp111"))
}

/// A fake Asterisk that also serves `Action: Echo`: `Response: Success` with
/// `Echo: <the request's Payload>`, so each reply proves which request it answers.
/// Serves `/rawman` too, so the scenarios that make sense over HTTP run there.
fn fake() -> Builder {
    FakeAsterisk::builder()
        .http(true)
        .handler("Echo", |request, reply| {
            let payload = text(request, "Payload").unwrap_or_default();
            reply.respond("Success", &[("Echo", &payload)]);
        })
}

fn echo(payload: &str) -> Action {
    Action::new("Echo").header("Payload", payload)
}

/// The value of `key`, exactly as received (lossy UTF-8).
fn text(packet: &Packet, key: &str) -> Option<String> {
    packet.get(key).map(|v| v.to_str_lossy().into_owned())
}

/// Asserts that `result` is the reply to `echo(payload)`.
#[track_caller]
fn assert_echo(result: Result<Reply, Error>, payload: &str) {
    let reply = result.unwrap_or_else(|e| panic!("Echo {payload:?} failed: {e:?}"));
    let response = reply.response();
    assert!(response.is("Response", "Success"), "{response:?}");
    assert_eq!(
        text(response, "Echo").as_deref(),
        Some(payload),
        "{response:?}"
    );
}

#[track_caller]
fn ping<A: Adapter>(client: &Client) {
    let reply = A::send(client, Action::new("Ping")).expect("Ping");
    assert!(reply.response().is("Response", "Success"), "{reply:?}");
    assert_eq!(text(reply.response(), "Ping").as_deref(), Some("Pong"));
}

#[track_caller]
fn connect<A: Adapter>(fake: &FakeAsterisk, config: Config) -> Client {
    A::connect(A::addr(fake), config).unwrap_or_else(|e| panic!("connect: {e:?}"))
}

/// The client's first subscriber, which receives what arrived since login,
/// taken past the login's own events (`FullyBooted`, then `SuccessfulAuth`).
#[track_caller]
fn events_after_login<A: Adapter>(client: &Client) -> Events {
    let mut events = A::events(client);
    let login_event = |e: &Event, name| matches!(e, Event::Event(p) if p.is("Event", name));
    wait_for::<A>(
        &mut events,
        "FullyBooted",
        |e| login_event(e, "FullyBooted"),
        |_| false,
    );
    wait_for::<A>(
        &mut events,
        "SuccessfulAuth",
        |e| login_event(e, "SuccessfulAuth"),
        |_| false,
    );
    events
}

/// Waits until `condition` holds, polling; panics after [`WAIT`].
#[track_caller]
fn until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(2)); // a polling interval, not an ordering
    }
}

/// The next event for which `wanted` holds, skipping others; panics on any event
/// for which `forbidden` holds, when the stream ends, or after [`WAIT`].
#[track_caller]
fn wait_for<A: Adapter>(
    events: &mut Events,
    what: &str,
    wanted: impl Fn(&Event) -> bool,
    forbidden: impl Fn(&Event) -> bool,
) -> Event {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match A::next_event(events, left) {
            Next::Event(event) if wanted(&event) => return event,
            Next::Event(event) if forbidden(&event) => {
                panic!("while waiting for {what}: unexpected {event:?}")
            }
            Next::Event(_) => {}
            other => panic!("while waiting for {what}: {other:?}"),
        }
    }
}

/// Waits for `Disconnected(reason)`; any other `Disconnected`, or a
/// `Reconnected`, on the way fails the scenario.
#[track_caller]
fn wait_disconnected<A: Adapter>(events: &mut Events, reason: Reason) {
    let what = format!("Disconnected({reason:?})");
    wait_for::<A>(
        events,
        &what,
        |e| matches!(e, Event::Disconnected(got) if *got == reason),
        |e| matches!(e, Event::Disconnected(_) | Event::Reconnected),
    );
}

/// Skips events until the stream ends; panics on any event for which
/// `forbidden` holds, or after [`WAIT`].
#[track_caller]
fn wait_for_end<A: Adapter>(events: &mut Events, forbidden: impl Fn(&Event) -> bool) {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match A::next_event(events, left) {
            Next::Ended => return,
            Next::Event(event) if forbidden(&event) => {
                panic!("before the event stream ended: unexpected {event:?}")
            }
            Next::Event(_) => {}
            Next::Timeout => panic!("the event stream did not end"),
        }
    }
}

/// Runs `call` on a helper thread and returns its result; panics if it does not
/// return within [`WAIT`], so that a call that never completes fails the scenario
/// at the right line instead of hanging it.
#[track_caller]
fn bounded<T: Send + 'static>(what: &str, call: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let _ = done.send(call());
    });
    match result.recv_timeout(WAIT) {
        Ok(value) => value,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: no result within {WAIT:?} (the call hangs)")
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: panicked"),
    }
}

/// How many actions named `name` connection `index` has sent to the fake.
fn sent(fake: &FakeAsterisk, index: usize, name: &str) -> usize {
    fake.recorded_actions(index)
        .iter()
        .filter(|a| a.is("Action", name))
        .count()
}

/// Whether the closed-by-server reason is one of the two a dropped TCP
/// connection can legitimately produce (FIN, or a reset racing it).
fn dropped_by_server(reason: &Reason) -> bool {
    matches!(reason, Reason::Eof | Reason::Io(_))
}

/// The default user, with subscribers of `capacity` events.
fn with_capacity(capacity: usize) -> Config {
    Config {
        event_capacity: capacity,
        ..config()
    }
}

/// The default user, reconnecting with `policy`.
fn with_reconnect(policy: Reconnect) -> Config {
    Config {
        reconnect: Some(policy),
        ..config()
    }
}

/// A reconnect whose next attempt is a minute away: the client stays between
/// connections for the whole scenario.
fn reconnect_in_a_minute() -> Reconnect {
    Reconnect {
        initial_delay: Duration::from_secs(60),
        max_delay: Duration::from_secs(60),
        max_attempts: None,
    }
}

fn fast_reconnect() -> Reconnect {
    Reconnect {
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        max_attempts: Some(100),
    }
}

// ----- scenarios -----

/// A `Logoff` the server refuses is `Rejected`, and the session stays usable.
pub fn refused_logoff_is_rejected<A: Adapter>() {
    let fake = fake()
        .handler("Logoff", |_, reply| reply.error("Not now"))
        .start();
    let client = connect::<A>(&fake, config());
    match A::logoff(&client) {
        Err(error @ Error::Rejected(_)) => {
            assert_eq!(error.message().as_deref(), Some("Not now"));
        }
        other => panic!("a refused logoff: {other:?}"),
    }
    assert!(!A::is_closed(&client));
    ping::<A>(&client);
}

/// Plain login: `Secret` on the wire, no challenge; the session works, and a
/// `Response: Error` is data (`Ok`), not an `Err`; `logoff` ends it for good:
/// the event stream says `Disconnected(LoggedOff)` and ends, later calls fail
/// with `Closed(LoggedOff)`.
pub fn plain_login<A: Adapter>() {
    let fake = fake().start();
    let client = connect::<A>(&fake, Config::new(Credentials::plain("admin", "amp111")));
    ping::<A>(&client);
    let actions = fake.recorded_actions(0);
    let login = actions
        .iter()
        .find(|a| a.is("Action", "Login"))
        .expect("a Login action");
    assert_eq!(text(login, "Username").as_deref(), Some("admin"));
    assert_eq!(text(login, "Secret").as_deref(), Some("amp111"));
    assert!(!actions.iter().any(|a| a.is("Action", "Challenge")));
    let info = &fake.clients()[0];
    assert!(info.logged_in && info.user.as_deref() == Some("admin"));
    let refused = A::send(&client, Action::new("NoSuchAction")).expect("an Error response");
    assert!(refused.response().is_error(), "{refused:?}");
    ping::<A>(&client);

    let mut events = A::events(&client);
    A::logoff(&client).expect("logoff");
    assert!(A::is_closed(&client), "is_closed once logoff() returned");
    wait_disconnected::<A>(&mut events, Reason::LoggedOff);
    wait_for_end::<A>(&mut events, |_| false);
    let after = client.clone();
    match bounded("a call after logoff", move || {
        A::send(&after, Action::new("Ping"))
    }) {
        Err(Error::Closed(Reason::LoggedOff)) => {}
        other => panic!("a call after logoff: {other:?}"),
    }
    until("the server to see the session end", || {
        !fake.clients()[0].open
    });
}

/// MD5 login: `Challenge`, then `Key` = md5(challenge + secret); the secret never
/// crosses the wire.
pub fn md5_login<A: Adapter>() {
    let fake = fake().challenge("204268188").start();
    let client = connect::<A>(&fake, config());
    ping::<A>(&client);
    let actions = fake.recorded_actions(0);
    let challenge = actions
        .iter()
        .position(|a| a.is("Action", "Challenge"))
        .expect("a Challenge action");
    assert!(actions[challenge].is("AuthType", "MD5"));
    let login = actions
        .iter()
        .position(|a| a.is("Action", "Login"))
        .expect("a Login action");
    assert!(challenge < login, "Challenge must precede Login");
    let login = &actions[login];
    assert!(login.is("AuthType", "MD5"));
    assert_eq!(text(login, "Username").as_deref(), Some("admin"));
    assert_eq!(
        text(login, "Key"),
        Some(md5_key("204268188", "amp111")),
        "{login:?}"
    );
    assert_eq!(
        text(login, "Key").as_deref(),
        Some("abc7dfc1ebc295b1cc97ea619e592a58")
    );
    let wire = fake.recorded(0);
    assert!(
        !wire.windows(6).any(|w| w == b"amp111"),
        "the secret was sent"
    );
    A::logoff(&client).expect("logoff");
}

/// A refused login fails `connect` with `Auth(<server message>)`: wrong plain
/// secret, wrong MD5 secret (with reconnect configured, which must not retry a
/// refused login into success or hang), and a server refusing every login.
pub fn auth_failure<A: Adapter>() {
    let server = fake().start();
    let cases = [
        (
            "plain, wrong secret",
            Credentials::plain("admin", "nope"),
            None,
        ),
        (
            "md5, wrong secret, reconnect on",
            Credentials::md5("admin", "nope"),
            Some(fast_reconnect()),
        ),
        ("unknown user", Credentials::md5("mallory", "amp111"), None),
    ];
    for (case, credentials, reconnect) in cases {
        let config = Config {
            reconnect,
            ..Config::new(credentials)
        };
        match A::connect(A::addr(&server), config) {
            Err(Error::Auth(message)) => {
                // The server's message, and which user and method it is about.
                assert!(
                    message.starts_with("Authentication failed ("),
                    "{case}: {message}"
                );
                assert!(message.contains("user \""), "{case}: {message}");
                assert!(message.contains(" login)"), "{case}: {message}");
            }
            other => panic!("{case}: {other:?}"),
        }
    }
    let refusing = fake().fault(Fault::RefuseLogins).start();
    match A::connect(A::addr(&refusing), config()) {
        Err(Error::Auth(message)) => {
            assert!(message.starts_with("Authentication failed ("), "{message}")
        }
        other => panic!("RefuseLogins: {other:?}"),
    }
}

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

/// `ami_version()` is the AMI version of the current connection's banner: the
/// fake's default `11.0.0`, or the one it is built to announce; `Some` again on
/// the connection a reconnect opens; `None` while a reconnecting client is
/// between connections, and once the client is closed (`logoff()` or `close()`
/// returned).
pub fn ami_version_of_the_current_session<A: Adapter>() {
    let default = fake().start();
    let client = connect::<A>(&default, config());
    assert_eq!(A::ami_version(&client).as_deref(), Some("11.0.0"));
    A::logoff(&client).expect("logoff");
    assert_eq!(A::ami_version(&client), None, "after logoff");

    let fake = fake().ami_version("7.0.3").start();
    let client = connect::<A>(&fake, with_reconnect(fast_reconnect()));
    assert_eq!(A::ami_version(&client).as_deref(), Some("7.0.3"));
    let mut events = A::events(&client);
    fake.restart();
    wait_for::<A>(
        &mut events,
        "Disconnected",
        |e| matches!(e, Event::Disconnected(_)),
        |e| matches!(e, Event::Reconnected),
    );
    wait_for::<A>(
        &mut events,
        "Reconnected",
        |e| matches!(e, Event::Reconnected),
        |e| matches!(e, Event::Disconnected(_)),
    );
    assert_eq!(A::ami_version(&client).as_deref(), Some("7.0.3"));

    // A client whose next attempt is a minute away stays between connections.
    let waiting = connect::<A>(&fake, with_reconnect(reconnect_in_a_minute()));
    let mut waiting_events = A::events(&waiting);
    fake.restart();
    wait_for::<A>(
        &mut waiting_events,
        "Disconnected",
        |e| matches!(e, Event::Disconnected(_)),
        |e| matches!(e, Event::Reconnected),
    );
    assert_eq!(A::ami_version(&waiting), None, "between connections");
    assert!(!A::is_closed(&waiting));
    A::close(&waiting);
    A::close(&client);
    assert_eq!(A::ami_version(&client), None, "closed");
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

/// AMI over TLS: `connect_tls` with the fake's certificate; actions, commands and
/// events work; a certificate for another name, or one from an authority the
/// client does not trust, is refused with `Tls`.
pub fn tls<A: Adapter>() {
    let fake = fake().tls(true).start();
    let tls = fake.tls_client_config().expect("a TLS config");
    let client = A::connect_tls(fake.addr(), "localhost", tls.clone(), config())
        .unwrap_or_else(|e| panic!("connect_tls: {e:?}"));
    let mut events = A::events(&client);
    ping::<A>(&client);
    assert_echo(A::send(&client, echo("over tls")), "over tls");
    let version = A::command(&client, "core show version").expect("command");
    assert_eq!(version.len(), 1);
    assert_eq!(
        fake.push_event(&FakeEvent::new("Secret").header("Privilege", "user,all")),
        1
    );
    wait_for::<A>(
        &mut events,
        "an event over TLS",
        |e| matches!(e, Event::Event(p) if p.is("Event", "Secret")),
        |e| matches!(e, Event::Disconnected(_)),
    );
    A::logoff(&client).expect("logoff");

    match A::connect_tls(fake.addr(), "example.com", tls, config()) {
        Err(Error::Tls(_)) => {}
        other => panic!("a certificate for another name: {other:?}"),
    }
    let other = self::fake().tls(true).start();
    let untrusted = other.tls_client_config().expect("a TLS config");
    match A::connect_tls(fake.addr(), "localhost", untrusted, config()) {
        Err(Error::Tls(_)) => {}
        other => panic!("an untrusted certificate: {other:?}"),
    }
}

// ----- scenarios that no adapter test covered in common before -----

/// Nothing listens at the address: `connect` fails with `Connect`.
pub fn connect_refused_is_connect_error<A: Adapter>() {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port"); // the listener is dropped: nothing listens there now
    match bounded("connect to nothing", move || A::connect(addr, config())) {
        Err(Error::Connect(_)) => {}
        other => panic!("connect to nothing: {other:?}"),
    }
}

/// A server that accepts the connection but never sends its banner: `connect`
/// fails with `Timeout` at the login deadline.
pub fn login_deadline_when_the_server_never_speaks<A: Adapter>() {
    // Connections complete in the kernel's backlog; nothing ever answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = silent.local_addr().expect("an address");
    let mut config = config();
    config.login_timeout = Duration::from_millis(300);
    let started = Instant::now();
    let result = bounded("connect to a silent server", move || {
        A::connect(addr, config)
    });
    let took = started.elapsed();
    assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
    assert!(took >= Duration::from_millis(300), "too early: {took:?}");
    drop(silent);
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

// ----- nothing lost, nothing hidden -----

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

// ----- TLS failures in words, with the shared helpers -----

/// Asserts that `result` is `Error::Tls` with a message containing `expected`.
#[track_caller]
fn assert_tls_error(result: Result<Client, Error>, expected: &str) {
    match result {
        Err(Error::Tls(message)) => assert!(
            message.contains(expected),
            "expected a TLS error saying {expected:?}, got {message:?}"
        ),
        other => panic!("expected a TLS error saying {expected:?}, got {other:?}"),
    }
}

/// `connect_tls` with `ami_client::tls::TlsConfig`: trusting the server's CA
/// from PEM works; an untrusted CA, a certificate for another name, a plain
/// AMI server on the TLS port and an unreadable CA file each fail with
/// `Error::Tls` saying so in words.
pub fn tls_errors_in_words<A: Adapter>() {
    use ami_client::tls::TlsConfig;

    let fake = fake().tls(true).start();
    let pem = fake.tls_root_pem().expect("a TLS fake");
    let trusting = TlsConfig::ca_pem(pem.clone());
    let client = A::connect_tls(fake.addr(), "localhost", trusting.clone(), config())
        .unwrap_or_else(|e| panic!("connect_tls with the fake's CA: {e:?}"));
    ping::<A>(&client);
    A::logoff(&client).expect("logoff");

    let other = FakeAsterisk::builder().tls(true).start();
    let untrusted = TlsConfig::ca_pem(other.tls_root_pem().expect("a TLS fake"));
    assert_tls_error(
        A::connect_tls(fake.addr(), "localhost", untrusted, config()),
        "the server's certificate is not signed by a trusted CA: ",
    );

    assert_tls_error(
        A::connect_tls(fake.addr(), "pbx.example.com", trusting.clone(), config()),
        "the server's certificate is for localhost, 127.0.0.1, not pbx.example.com",
    );

    let plain = self::fake().start();
    assert_tls_error(
        A::connect_tls(plain.addr(), "localhost", trusting, config()),
        "the server does not speak TLS (is this the plain AMI port?)",
    );

    let missing = std::env::temp_dir()
        .join("ami-conformance-no-such-dir")
        .join("ca.pem");
    assert_tls_error(
        A::connect_tls(
            fake.addr(),
            "localhost",
            TlsConfig::ca_file(&missing),
            config(),
        ),
        &format!("cannot read the CA file {}: ", missing.display()),
    );
}

/// Mutual TLS with `TlsConfig`: a server that requires a client certificate
/// signed by its CA lets in a client presenting one (from PEM in memory or
/// from files) and refuses, in words, a client without one; an unreadable key
/// file is named.
pub fn tls_client_certificate<A: Adapter>() {
    use ami_client::tls::TlsConfig;
    use ami_testkit::TestPki;

    let pki = TestPki::new(&["localhost", "127.0.0.1"]);
    let fake = fake().tls_pki(&pki, true).start();
    let trusting = TlsConfig::ca_pem(pki.ca_pem());

    let with_cert = trusting
        .clone()
        .client_cert_pem(pki.client_cert_pem(), pki.client_key_pem());
    let client = A::connect_tls(fake.addr(), "localhost", with_cert, config())
        .unwrap_or_else(|e| panic!("connect_tls with a client certificate: {e:?}"));
    ping::<A>(&client);
    A::logoff(&client).expect("logoff");

    let dir = std::env::temp_dir().join(format!(
        "ami-conformance-mtls-{}-{}",
        std::process::id(),
        fake.addr().port()
    ));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let (cert, key) = (dir.join("client.pem"), dir.join("client.key"));
    std::fs::write(&cert, pki.client_cert_pem()).expect("write the certificate");
    std::fs::write(&key, pki.client_key_pem()).expect("write the key");
    let from_files = trusting.clone().client_cert_files(&cert, &key);
    let client = A::connect_tls(fake.addr(), "127.0.0.1", from_files, config())
        .unwrap_or_else(|e| panic!("connect_tls with certificate files: {e:?}"));
    ping::<A>(&client);
    A::logoff(&client).expect("logoff");
    let missing = dir.join("missing.key");
    assert_tls_error(
        A::connect_tls(
            fake.addr(),
            "localhost",
            trusting.clone().client_cert_files(&cert, &missing),
            config(),
        ),
        &format!("cannot read the client key file {}: ", missing.display()),
    );
    let _ = std::fs::remove_dir_all(&dir);

    assert_tls_error(
        A::connect_tls(fake.addr(), "localhost", trusting, config()),
        "the server requires a client certificate (mutual TLS)",
    );

    // The CA of this PKI is not the issuer of a default fake's certificate.
    let other = self::fake().tls(true).start();
    assert_tls_error(
        A::connect_tls(other.addr(), "localhost", TlsConfig::ca_pem(pki.ca_pem()), config()),
        "the server's certificate is not signed by a trusted CA: its issuer is none of the trusted roots",
    );
}

// ----- over HTTP only -----

/// An expired HTTP session (the server answers `Permission denied`) logs in
/// again under the reconnect policy and the client goes on; the action that
/// met `Permission denied` fails and is never re-sent. Nothing hangs.
pub fn http_session_expiry_relogs_in<A: Adapter>() {
    // Short long-polls (Max-Age 4 s) and deadlines: nothing waits long.
    let fake = fake().http_max_age(Duration::from_secs(4)).start();
    let policy = Reconnect {
        max_attempts: Some(3),
        ..fast_reconnect()
    };
    let mut config = with_reconnect(policy);
    config.action_timeout = Duration::from_secs(2);
    let client = connect::<A>(&fake, config);
    let mut events = A::events(&client);
    ping::<A>(&client);
    fake.expire_http_sessions();
    // The next request meets `Permission denied`: that action fails (it is
    // never re-sent silently) and the session logs in again.
    let refused = A::send(&client, Action::new("Ping"));
    assert!(
        matches!(refused, Err(Error::Down(_) | Error::Closed(_))),
        "{refused:?}"
    );
    wait_for::<A>(
        &mut events,
        "Disconnected",
        |e| matches!(e, Event::Disconnected(_)),
        |e| matches!(e, Event::Reconnected),
    );
    wait_for::<A>(
        &mut events,
        "Reconnected",
        |e| matches!(e, Event::Reconnected),
        |e| matches!(e, Event::Disconnected(_)),
    );
    ping::<A>(&client);
    A::close(&client);
    wait_for_end::<A>(&mut events, |e| matches!(e, Event::Reconnected));
}
