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

mod actions;
mod events;
mod http;
mod lifecycle;
mod lists;
mod login;
mod tls;

pub use actions::*;
pub use events::*;
pub use http::*;
pub use lifecycle::*;
pub use lists::*;
pub use login::*;
pub use tls::*;
