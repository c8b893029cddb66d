//! The session supervisor against scripted servers, in virtual time: backoff
//! bounds, jitter from the seed, the status sequence, fail-fast while down, the
//! final close, and "every accepted action completes exactly once" across
//! reconnects.

mod harness;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use ami_proto::{
    Action, ActionId, Config, Error, Event, Keepalive, Reason, Reconnect, Reply, Status, Transport,
    Update,
};
use harness::{
    accepting_server, login_only_server, refused, refusing_server, silent_server, Dial,
    SessionPair, BANNER,
};
use proptest::prelude::*;

fn policy() -> Reconnect {
    Reconnect {
        initial_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(1),
        max_attempts: None,
    }
}

/// Logs in, no keepalive, a short login deadline, reconnects with `policy()`.
fn config() -> Config {
    Config {
        keepalive: None,
        login_timeout: Duration::from_secs(2),
        reconnect: Some(policy()),
        ..harness::config()
    }
}

fn with_policy(policy: Option<Reconnect>) -> Config {
    Config {
        reconnect: policy,
        ..config()
    }
}

/// The bounds of the delay before attempt `attempt`, computed here from the
/// policy's documented rule (not with `Reconnect::delay`): the base doubles from
/// `initial_delay`, is capped at `max_delay`, and the jitter keeps the upper half.
fn bounds(policy: &Reconnect, attempt: u32) -> (Duration, Duration) {
    let mut base = policy.initial_delay;
    for _ in 0..attempt {
        base = (base * 2).min(policy.max_delay);
    }
    let base = base.min(policy.max_delay);
    (base / 2, base)
}

fn reconnecting(attempt: u32, since: std::time::Instant) -> Status {
    Status::Reconnecting { attempt, since }
}

fn connect_failure(what: &str) -> Reason {
    match refused(what) {
        Dial::Refuse(reason) => reason,
        _ => unreachable!(),
    }
}

fn bad_action() -> Action {
    Action::new("Ping").header("X", "a\r\nAction: Originate")
}

/// Bytes written on every transport so far.
fn written(pair: &SessionPair) -> usize {
    pair.written.iter().map(Vec::len).sum()
}

// ----- 1. backoff bounds -----

#[test]
fn redial_delays_stay_in_bounds_double_per_failed_dial_and_reset_after_login() {
    let policy = policy();
    for seed in 0..64 {
        let mut pair = SessionPair::ready(config(), seed);
        pair.advance(Duration::from_secs(1));
        // Six refused dials (attempts 0..=5; the base reaches the 1 s cap at
        // attempt 4), then one that logs in.
        for n in 0..6 {
            pair.plan.push_back(refused(&format!("dial {n}")));
        }
        let lost_at = pair.now;
        pair.eof();
        for attempt in 0..=6 {
            assert_eq!(pair.session.transport(), Transport::Wait, "seed {seed}");
            assert_eq!(pair.session.status(), &reconnecting(attempt, lost_at));
            let at = pair.session.poll_timeout().expect("a redial timer");
            let delay = at - pair.now;
            let (low, high) = bounds(&policy, attempt);
            assert!(
                low <= delay && delay <= high,
                "seed {seed} attempt {attempt}: {delay:?} not in [{low:?}, {high:?}]"
            );
            pair.advance_to(at);
            assert_eq!(pair.dials.last(), Some(&at), "dialled exactly when due");
        }
        assert_eq!(pair.session.status(), &Status::Ready, "seed {seed}");
        assert_eq!(pair.dials.len(), 1 + 7);

        // The count was reset by the login: the next loss starts at attempt 0.
        pair.advance(Duration::from_secs(5));
        let lost_again = pair.now;
        pair.eof();
        assert_eq!(pair.session.status(), &reconnecting(0, lost_again));
        let delay = pair.session.poll_timeout().unwrap() - pair.now;
        let (low, high) = bounds(&policy, 0);
        assert!(low <= delay && delay <= high, "seed {seed}: {delay:?}");
    }
}

#[test]
fn a_failed_relogin_counts_as_a_failed_attempt() {
    let policy = policy();
    let mut pair = SessionPair::ready(config(), 3);
    pair.plan.push_back(Dial::Open(silent_server()));
    let lost_at = pair.now;
    pair.eof();
    let at = pair.session.poll_timeout().unwrap();
    pair.advance_to(at);
    assert_eq!(pair.session.transport(), Transport::Open);
    // The login deadline passes: attempt 1, delay doubled.
    pair.advance(config().login_timeout);
    assert_eq!(pair.session.status(), &reconnecting(1, lost_at));
    let delay = pair.session.poll_timeout().unwrap() - pair.now;
    let (low, high) = bounds(&policy, 1);
    assert!(low <= delay && delay <= high, "{delay:?}");
}

// ----- 2. jitter from the seed -----

/// The instants (from the start) of every dial of one scripted life: login, a
/// loss, four refused dials, a successful one.
fn dial_offsets(seed: u64) -> Vec<Duration> {
    let mut pair = SessionPair::ready(config(), seed);
    pair.advance(Duration::from_millis(1500));
    for n in 0..4 {
        pair.plan.push_back(refused(&format!("dial {n}")));
    }
    pair.eof();
    pair.advance(Duration::from_secs(30));
    assert_eq!(pair.session.status(), &Status::Ready);
    assert_eq!(pair.dials.len(), 6);
    pair.dials.iter().map(|at| *at - pair.start).collect()
}

#[test]
fn jitter_comes_from_the_seed() {
    for seed in [0, 1, 42, u64::MAX] {
        assert_eq!(dial_offsets(seed), dial_offsets(seed), "seed {seed}");
    }
    assert_ne!(dial_offsets(1), dial_offsets(2));
    // And the jitter spreads: different seeds mostly pick different delays.
    let first_redials: HashSet<Duration> = (0..32).map(|seed| dial_offsets(seed)[1]).collect();
    assert!(first_redials.len() >= 16, "{first_redials:?}");
}

// ----- 3. the status sequence and the lifecycle events -----

#[test]
fn status_sequence_through_losses_failed_redials_and_relogins() {
    let mut pair = SessionPair::new(config(), 7);
    assert_eq!(pair.session.status(), &Status::Connecting { attempt: 0 });
    assert_eq!(pair.session.transport(), Transport::Dial);
    assert!(pair.session.poll_update().is_none());
    pair.drive();
    assert_eq!(pair.statuses(), [Status::LoggingIn, Status::Ready]);
    assert!(pair.lifecycle().is_empty());

    // Lost: two refused dials, one transport where the login times out, then back.
    pair.advance(Duration::from_secs(1));
    let lost_at = pair.now;
    pair.plan.extend([
        refused("a"),
        refused("b"),
        Dial::Open(silent_server()),
        Dial::Answer(accepting_server()),
    ]);
    pair.eof();
    pair.advance(Duration::from_secs(60));
    assert_eq!(
        pair.statuses(),
        [
            Status::LoggingIn,
            Status::Ready,
            reconnecting(0, lost_at),
            reconnecting(1, lost_at),
            reconnecting(2, lost_at),
            reconnecting(3, lost_at),
            Status::Ready,
        ]
    );
    assert_eq!(pair.session.status(), &Status::Ready);
    // One Disconnected for the loss (none for the failed re-login), one Reconnected.
    assert_eq!(
        pair.lifecycle(),
        [Event::Disconnected(Reason::Eof), Event::Reconnected]
    );
    // In order: Disconnected before Reconnecting{0}, Reconnected just before Ready.
    let position = |wanted: &dyn Fn(&Update) -> bool| pair.updates.iter().position(wanted);
    let disconnected = position(&|u| matches!(u, Update::Event(Event::Disconnected(_)))).unwrap();
    let first_reconnecting =
        position(&|u| matches!(u, Update::Status(Status::Reconnecting { .. }))).unwrap();
    let reconnected = position(&|u| matches!(u, Update::Event(Event::Reconnected))).unwrap();
    assert!(disconnected < first_reconnecting);
    assert!(matches!(
        pair.updates[reconnected + 1],
        Update::Status(Status::Ready)
    ));

    // A second loss starts over: attempt 0, a new `since`.
    pair.advance(Duration::from_secs(3));
    let lost_again = pair.now;
    pair.session.handle_io_error("reset by peer", pair.now);
    pair.drive();
    pair.advance(Duration::from_secs(60));
    assert_eq!(
        pair.statuses()[7..],
        [reconnecting(0, lost_again), Status::Ready]
    );
    assert_eq!(
        pair.lifecycle(),
        [
            Event::Disconnected(Reason::Eof),
            Event::Reconnected,
            Event::Disconnected(Reason::Io("reset by peer".into())),
            Event::Reconnected,
        ]
    );
    // The status getter always agrees with the last update.
    assert_eq!(pair.statuses().last(), Some(pair.session.status()));
}

#[test]
fn a_relogin_reapplies_mask_and_filters_and_numbers_on() {
    let config = Config {
        events: Some("call,system".into()),
        filters: vec!["Event: Newchannel".into()],
        ..config()
    };
    let mut pair = SessionPair::ready(config, 9);
    assert_eq!(pair.session.ami_version(), Some("11.0.0"));
    pair.send(Action::new("Ping")).unwrap();
    pair.eof();
    assert_eq!(pair.session.ami_version(), None, "no transport, no version");
    pair.advance(Duration::from_secs(1));
    assert_eq!(pair.session.status(), &Status::Ready);
    assert_eq!(pair.session.ami_version(), Some("11.0.0"));
    let server = pair.server.as_ref().unwrap();
    // Events off until the filters are in force, then the mask.
    assert_eq!(server.actions(), ["Login", "Filter", "Filter", "Events"]);
    assert_eq!(server.received[0].get("Events").unwrap(), "off");
    assert_eq!(
        server.received[1].get("Filter").unwrap(),
        "Event: Newchannel"
    );
    assert_eq!(
        server.received[2].get("Filter").unwrap(),
        ami_proto::ORIGINATE_RESPONSE_FILTER
    );
    assert_eq!(server.received[3].get("EventMask").unwrap(), "call,system");
    // The new connection's ActionIDs go on from the old one's.
    let ids: Vec<String> = pair
        .all_received()
        .iter()
        .map(|p| p.action_id().unwrap().to_string())
        .collect();
    let expected: Vec<String> = (0..9).map(|n| format!("t-{n}")).collect();
    assert_eq!(ids, expected);
}

// ----- 4. fail-fast -----

#[test]
fn while_no_transport_is_open_actions_fail_fast_and_write_nothing() {
    let mut pair = SessionPair::new(config(), 1);
    pair.auto_dial = false;
    // Before the first transport.
    assert_eq!(pair.session.transport(), Transport::Dial);
    let refused_early = pair.session.send_action(Action::new("Ping"), pair.now);
    assert!(matches!(
        refused_early,
        Err(Error::Down(Reason::NotConnected))
    ));
    assert!(pair.session.poll_update().is_none());
    pair.dial();
    pair.drive();
    assert_eq!(pair.session.status(), &Status::Ready);
    let ping = pair.send(Action::new("Ping")).unwrap();
    assert!(matches!(pair.replies(ping)[..], [Ok(Reply::Response(_))]));

    pair.eof();
    let updates = pair.updates.len();
    let bytes = written(&pair);
    let check_down = |pair: &mut SessionPair, state: Transport| {
        assert_eq!(pair.session.transport(), state);
        let result = pair.session.send_action(Action::new("Ping"), pair.now);
        assert!(
            matches!(result, Err(Error::Down(Reason::Eof))),
            "{result:?}"
        );
        let mut wire = Vec::new();
        assert_eq!(pair.session.poll_transmit(&mut wire), 0);
        assert!(pair.session.poll_update().is_none());
        assert_eq!(pair.session.in_flight(), 0);
    };
    // Waiting out the backoff.
    check_down(&mut pair, Transport::Wait);
    // Due to dial.
    pair.advance(Duration::from_secs(1));
    check_down(&mut pair, Transport::Dial);
    // After a refused dial: still the loss's reason, not the dial's.
    pair.plan.push_back(refused("x"));
    pair.dial();
    pair.drive();
    assert!(matches!(
        pair.session.status(),
        Status::Reconnecting { attempt: 1, .. }
    ));
    let updates = updates + 1; // that Reconnecting{1}
    check_down(&mut pair, Transport::Wait);
    assert_eq!(pair.updates.len(), updates, "nothing but the status change");
    assert_eq!(written(&pair), bytes, "nothing written while down");
}

#[test]
fn while_logging_in_again_actions_wait_for_the_login() {
    let mut pair = SessionPair::ready(config(), 1);
    pair.plan.push_back(Dial::Open(accepting_server()));
    pair.eof();
    pair.advance(Duration::from_secs(1));
    assert_eq!(pair.session.transport(), Transport::Open);
    assert!(matches!(
        pair.session.status(),
        Status::Reconnecting { attempt: 0, .. }
    ));
    let ping = pair.send(Action::new("Ping")).expect("queued");
    assert!(
        pair.written.last().unwrap().is_empty(),
        "nothing before login"
    );
    assert_eq!(pair.session.in_flight(), 1);
    pair.deliver(BANNER);
    assert_eq!(pair.server.as_ref().unwrap().actions(), ["Login", "Ping"]);
    assert!(matches!(pair.replies(ping)[..], [Ok(Reply::Response(_))]));
    assert_eq!(pair.session.status(), &Status::Ready);
}

#[test]
fn an_action_queued_for_a_relogin_that_fails_is_down_and_never_resent() {
    let mut pair = SessionPair::ready(config(), 1);
    pair.plan.push_back(Dial::Open(silent_server()));
    let lost_at = pair.now;
    pair.eof();
    pair.advance(Duration::from_secs(1));
    assert_eq!(pair.session.transport(), Transport::Open);
    let ping = pair.send(Action::new("Ping")).expect("queued");
    let login_deadline = *pair.dials.last().unwrap() + config().login_timeout;
    assert_eq!(pair.session.poll_timeout(), Some(login_deadline));
    pair.advance_to(login_deadline);
    assert!(matches!(
        pair.replies(ping)[..],
        [Err(Error::Down(Reason::LoginTimeout))]
    ));
    assert_eq!(pair.session.status(), &reconnecting(1, lost_at));
    // The next transport logs in; the failed action is not written again.
    pair.advance(Duration::from_secs(5));
    assert_eq!(pair.session.status(), &Status::Ready);
    assert_eq!(pair.server.as_ref().unwrap().actions(), ["Login"]);
    assert_eq!(pair.replies(ping).len(), 1);
}

#[test]
fn an_invalid_action_is_refused_in_every_state() {
    let check = |pair: &mut SessionPair, what: &str| {
        let updates = pair.updates.len();
        let bytes = written(pair);
        let result = pair.send(bad_action());
        assert!(
            matches!(result, Err(Error::Invalid(_))),
            "{what}: {result:?}"
        );
        assert_eq!(pair.updates.len(), updates, "{what}");
        assert_eq!(written(pair), bytes, "{what}");
    };
    let mut pair = SessionPair::new(config(), 1);
    pair.auto_dial = false;
    pair.plan.push_back(Dial::Open(accepting_server()));
    check(&mut pair, "dialling the first transport");
    pair.dial();
    pair.drive();
    assert_eq!(pair.session.status(), &Status::LoggingIn);
    check(&mut pair, "logging in");
    pair.deliver(BANNER);
    assert_eq!(pair.session.status(), &Status::Ready);
    check(&mut pair, "ready");
    pair.eof();
    check(&mut pair, "waiting to redial");
    pair.advance(Duration::from_secs(1));
    check(&mut pair, "dialling again");
    pair.session.close(pair.now);
    pair.drive();
    check(&mut pair, "closed");
}

// ----- 5. the final close -----

#[test]
fn exhausted_attempts_close_with_the_latest_failure() {
    let policy = Reconnect {
        max_attempts: Some(3),
        ..policy()
    };
    let mut pair = SessionPair::ready(with_policy(Some(policy)), 5);
    pair.plan.extend([refused("1"), refused("2"), refused("3")]);
    let lost_at = pair.now;
    pair.eof();
    pair.advance(Duration::from_secs(60));
    let latest = connect_failure("3");
    assert_eq!(
        pair.statuses()[2..],
        [
            reconnecting(0, lost_at),
            reconnecting(1, lost_at),
            reconnecting(2, lost_at),
            Status::Closed(latest.clone()),
        ]
    );
    assert_eq!(pair.session.transport(), Transport::Stop);
    assert_eq!(pair.session.poll_timeout(), None);
    assert_eq!(pair.dials.len(), 1 + 3);
    let result = pair.send(Action::new("Ping"));
    assert!(matches!(result, Err(Error::Closed(reason)) if reason == latest));
}

#[test]
fn no_attempts_allowed_fails_pending_actions_as_closed() {
    let policy = Reconnect {
        max_attempts: Some(0),
        ..policy()
    };
    let mut pair = SessionPair::new(with_policy(Some(policy)), 5);
    pair.plan.push_back(Dial::Answer(login_only_server()));
    pair.drive();
    let ping = pair.send(Action::new("Ping")).unwrap();
    pair.eof();
    assert!(matches!(
        pair.replies(ping)[..],
        [Err(Error::Closed(Reason::Eof))]
    ));
    assert_eq!(pair.session.status(), &Status::Closed(Reason::Eof));
    pair.advance(Duration::from_secs(60));
    assert_eq!(pair.dials.len(), 1);
}

#[test]
fn pending_actions_at_a_loss_fail_down_when_a_reconnect_follows() {
    let mut pair = SessionPair::new(config(), 5);
    pair.plan.push_back(Dial::Answer(login_only_server()));
    pair.drive();
    let ping = pair.send(Action::new("Ping")).unwrap();
    let list = pair
        .send(Action::new("CoreShowChannels").expect_list())
        .unwrap();
    pair.eof();
    for id in [ping, list] {
        assert!(matches!(
            pair.replies(id)[..],
            [Err(Error::Down(Reason::Eof))]
        ));
    }
    // The replies come before the Disconnected event and the status change.
    assert!(matches!(
        pair.updates[pair.updates.len() - 4..],
        [
            Update::Reply { .. },
            Update::Reply { .. },
            Update::Event(Event::Disconnected(Reason::Eof)),
            Update::Status(Status::Reconnecting { attempt: 0, .. }),
        ]
    ));
}

#[test]
fn without_reconnect_the_first_loss_is_final() {
    let mut pair = SessionPair::new(with_policy(None), 5);
    pair.plan.push_back(Dial::Answer(login_only_server()));
    pair.drive();
    let ping = pair.send(Action::new("Ping")).unwrap();
    pair.advance(Duration::from_millis(10));
    pair.eof();
    assert!(matches!(
        pair.replies(ping)[..],
        [Err(Error::Closed(Reason::Eof))]
    ));
    assert_eq!(
        pair.statuses(),
        [
            Status::LoggingIn,
            Status::Ready,
            Status::Closed(Reason::Eof)
        ]
    );
    assert_eq!(pair.lifecycle(), [Event::Disconnected(Reason::Eof)]);
    assert_eq!(pair.session.transport(), Transport::Stop);
    pair.advance(Duration::from_secs(60));
    assert_eq!(pair.dials.len(), 1);
}

#[test]
fn a_refused_login_never_redials() {
    // On the first connection.
    let mut pair = SessionPair::new(config(), 5);
    pair.plan.push_back(Dial::Answer(refusing_server()));
    pair.drive();
    assert!(matches!(
        pair.session.status(),
        Status::Closed(Reason::AuthFailed(_))
    ));
    pair.advance(Duration::from_secs(60));
    assert_eq!(pair.dials.len(), 1);

    // On a re-login.
    let mut pair = SessionPair::ready(config(), 5);
    pair.plan.push_back(Dial::Answer(refusing_server()));
    pair.eof();
    pair.advance(Duration::from_secs(60));
    assert!(matches!(
        pair.session.status(),
        Status::Closed(Reason::AuthFailed(_))
    ));
    assert_eq!(pair.session.transport(), Transport::Stop);
    assert_eq!(pair.dials.len(), 2);
    assert_eq!(
        pair.lifecycle(),
        [Event::Disconnected(Reason::Eof)],
        "no Reconnected"
    );
}

#[test]
fn logoff_closes_for_good() {
    let mut pair = SessionPair::ready(config(), 5);
    let logoff = pair.send(Action::new("Logoff")).unwrap();
    assert!(matches!(
        pair.replies(logoff)[..],
        [Ok(Reply::Response(goodbye))] if goodbye.is("Response", "Goodbye")
    ));
    assert_eq!(pair.session.status(), &Status::Closed(Reason::LoggedOff));
    assert_eq!(pair.session.transport(), Transport::Stop);
    pair.advance(Duration::from_secs(60));
    assert_eq!(pair.dials.len(), 1);
    let result = pair.send(Action::new("Ping"));
    assert!(matches!(result, Err(Error::Closed(Reason::LoggedOff))));
}

#[test]
fn close_closes_for_good_and_fails_pending_actions() {
    let mut pair = SessionPair::new(config(), 5);
    pair.plan.push_back(Dial::Answer(login_only_server()));
    pair.drive();
    let ping = pair.send(Action::new("Ping")).unwrap();
    pair.session.close(pair.now);
    pair.drive();
    assert!(matches!(
        pair.replies(ping)[..],
        [Err(Error::Closed(Reason::ClosedByClient))]
    ));
    assert_eq!(
        pair.session.status(),
        &Status::Closed(Reason::ClosedByClient)
    );
    assert_eq!(pair.session.transport(), Transport::Stop);
    pair.advance(Duration::from_secs(60));
    assert_eq!(pair.dials.len(), 1);

    // Closing while waiting out a backoff: no redial either.
    let mut pair = SessionPair::ready(config(), 5);
    pair.eof();
    assert_eq!(pair.session.transport(), Transport::Wait);
    pair.session.close(pair.now);
    pair.drive();
    assert_eq!(
        pair.session.status(),
        &Status::Closed(Reason::ClosedByClient)
    );
    assert_eq!(pair.session.poll_timeout(), None);
    pair.advance(Duration::from_secs(60));
    assert_eq!(pair.dials.len(), 1);
}

#[test]
fn close_after_the_final_close_keeps_the_reason() {
    let mut pair = SessionPair::new(config(), 5);
    pair.plan.push_back(Dial::Answer(refusing_server()));
    pair.drive();
    let Status::Closed(reason @ Reason::AuthFailed(_)) = pair.session.status().clone() else {
        panic!("{:?}", pair.session.status());
    };
    let updates = pair.updates.len();
    // An adapter closes the session when its handle is dropped, whatever happened.
    pair.session.close(pair.now);
    pair.drive();
    assert_eq!(pair.session.status(), &Status::Closed(reason.clone()));
    assert_eq!(pair.updates.len(), updates, "no second Closed status");
    let result = pair.send(Action::new("Ping"));
    assert!(matches!(result, Err(Error::Closed(r)) if r == reason));
}

#[test]
fn a_first_connection_that_never_logged_in_does_not_redial() {
    // The dial fails.
    let mut pair = SessionPair::new(config(), 5);
    pair.plan.push_back(refused("first"));
    pair.drive();
    assert_eq!(pair.statuses(), [Status::Closed(connect_failure("first"))]);
    // The server never says anything: the login deadline passes.
    let mut silent = SessionPair::new(config(), 5);
    silent.plan.push_back(Dial::Open(silent_server()));
    silent.drive();
    silent.advance(Duration::from_secs(60));
    assert_eq!(
        silent.statuses(),
        [Status::LoggingIn, Status::Closed(Reason::LoginTimeout)]
    );
    // The server hangs up before the banner.
    let mut dropped = SessionPair::new(config(), 5);
    dropped.plan.push_back(Dial::Open(accepting_server()));
    dropped.drive();
    dropped.eof();
    assert_eq!(
        dropped.statuses(),
        [Status::LoggingIn, Status::Closed(Reason::Eof)]
    );
    for mut pair in [pair, silent, dropped] {
        assert_eq!(pair.session.transport(), Transport::Stop);
        pair.advance(Duration::from_secs(60));
        assert_eq!(pair.dials.len(), 1);
        assert!(!pair.lifecycle().contains(&Event::Reconnected));
    }
}

// ----- 6. every accepted action completes exactly once -----

/// One step of a random session life.
#[derive(Debug, Clone)]
enum Step {
    Send {
        timeout_ms: u64,
        list: bool,
    },
    /// The server answers the n-th user action it received on this transport
    /// (again, if it already did: the late duplicate must not complete twice).
    Answer(usize),
    /// The server answers a list action with items.
    AnswerList(usize, u8),
    Eof,
    IoError,
    /// The next dial fails.
    RefuseNext,
    /// The next transport opens, but its server says nothing.
    SilentNext,
    Advance(u64),
    Close,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        20 => (1u64..3000, any::<bool>()).prop_map(|(timeout_ms, list)| Step::Send { timeout_ms, list }),
        12 => (0usize..4).prop_map(Step::Answer),
        4 => (0usize..4, 0u8..3).prop_map(|(n, items)| Step::AnswerList(n, items)),
        4 => Just(Step::Eof),
        2 => Just(Step::IoError),
        4 => Just(Step::RefuseNext),
        2 => Just(Step::SilentNext),
        12 => (0u64..2000).prop_map(Step::Advance),
        1 => Just(Step::Close),
    ]
}

fn reconnect_policy() -> impl Strategy<Value = Option<Reconnect>> {
    prop_oneof![
        1 => Just(None),
        4 => (proptest::option::of(0u32..4), prop_oneof![Just(0u64), Just(50)]).prop_map(
            |(max_attempts, initial_ms)| Some(Reconnect {
                // 0: the redial is due at the very instant of the loss.
                initial_delay: Duration::from_millis(initial_ms),
                max_delay: Duration::from_millis(400),
                max_attempts,
            })
        ),
    ]
}

/// Closes the session; one already closed for good keeps its reason, silently.
fn close_keeping_an_earlier_reason(pair: &mut SessionPair) -> Result<(), TestCaseError> {
    let earlier = pair.session.status().clone();
    let updates = pair.updates.len();
    pair.session.close(pair.now);
    pair.drive();
    if matches!(earlier, Status::Closed(_)) {
        prop_assert_eq!(pair.session.status(), &earlier);
        prop_assert_eq!(pair.updates.len(), updates);
    }
    Ok(())
}

/// A user action's name on the wire: the server tells them from its own.
const USER: &str = "UserTest";

proptest! {
    // A fixed seed keeps the suite deterministic: the same 512 cases every run.
    #![proptest_config(ProptestConfig {
        cases: 512,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5e55_1011),
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_accepted_action_completes_exactly_once_across_reconnects(
        seed in any::<u64>(),
        policy in reconnect_policy(),
        steps in proptest::collection::vec(step(), 0..80),
    ) {
        let config = Config {
            keepalive: Some(Keepalive {
                interval: Duration::from_millis(1500),
                timeout: Duration::from_millis(700),
            }),
            max_in_flight: 3,
            login_timeout: Duration::from_millis(900),
            reconnect: policy,
            ..harness::config()
        };
        let mut pair = SessionPair::new(config, seed);
        pair.plan.push_back(Dial::Answer(login_only_server()));
        pair.drive();
        let mut accepted: Vec<ActionId> = Vec::new();
        for step in steps {
            let mut next_dial = None;
            match step {
                Step::Send { timeout_ms, list } => {
                    let mut action = Action::new(USER).timeout(Duration::from_millis(timeout_ms));
                    if list {
                        action = action.expect_list();
                    }
                    let transport = pair.session.transport();
                    match pair.session.send_action(action, pair.now) {
                        Ok(id) => {
                            prop_assert_eq!(transport, Transport::Open);
                            prop_assert!(!accepted.contains(&id), "ActionId {} reused", id);
                            accepted.push(id);
                        }
                        Err(Error::Down(_)) => prop_assert!(matches!(transport, Transport::Dial | Transport::Wait)),
                        Err(Error::Closed(reason)) => {
                            prop_assert_eq!(transport, Transport::Stop);
                            prop_assert_eq!(pair.session.status(), &Status::Closed(reason));
                        }
                        Err(other) => prop_assert!(false, "refused with {:?}", other),
                    }
                    pair.drive();
                }
                Step::Answer(n) | Step::AnswerList(n, _) => {
                    let ids: Vec<String> = pair.server.iter()
                        .flat_map(|server| &server.received)
                        .filter(|p| p.get("Action").unwrap() == USER)
                        .map(|p| p.action_id().unwrap().to_string())
                        .collect();
                    if !ids.is_empty() {
                        let id = &ids[n % ids.len()];
                        let mut bytes = format!("Response: Success\r\nActionID: {id}\r\n\r\n").into_bytes();
                        if let Step::AnswerList(_, items) = step {
                            for _ in 0..items {
                                bytes.extend(format!("Event: Item\r\nActionID: {id}\r\n\r\n").bytes());
                            }
                            bytes.extend(
                                format!("Event: ListComplete\r\nActionID: {id}\r\nEventList: Complete\r\n\r\n").bytes(),
                            );
                        }
                        pair.deliver(&bytes);
                    }
                }
                Step::Eof => pair.eof(),
                Step::IoError => {
                    pair.session.handle_io_error("reset", pair.now);
                    pair.drive();
                }
                Step::RefuseNext => next_dial = Some(refused("random")),
                Step::SilentNext => next_dial = Some(Dial::Open(silent_server())),
                Step::Advance(ms) => pair.advance(Duration::from_millis(ms)),
                Step::Close => close_keeping_an_earlier_reason(&mut pair)?,
            }
            match next_dial {
                Some(dial) => pair.plan.push_back(dial),
                None if pair.plan.is_empty() => pair.plan.push_back(Dial::Answer(login_only_server())),
                None => {}
            }

            // The getter agrees with the updates.
            if let Some(last) = pair.statuses().last() {
                prop_assert_eq!(last, pair.session.status());
            }
            // Time: never a deadline behind the last input; nothing waits untimed.
            let timeout = pair.session.poll_timeout();
            prop_assert!(timeout.is_none_or(|at| at >= pair.now), "deadline in the past");
            match pair.session.transport() {
                Transport::Wait => prop_assert!(timeout.is_some(), "waiting without a timer"),
                Transport::Open => {
                    let waiting = pair.session.in_flight() > 0 || pair.session.status() != &Status::Ready;
                    prop_assert!(!waiting || timeout.is_some(), "pending without a deadline");
                }
                Transport::Stop => {
                    prop_assert!(timeout.is_none());
                    prop_assert_eq!(pair.session.in_flight(), 0);
                }
                Transport::Dial => prop_assert!(false, "the pair dials at once"),
            }
        }

        // The end: whatever is still pending fails now.
        let before_close = pair.updates.len();
        close_keeping_an_earlier_reason(&mut pair)?;
        prop_assert_eq!(pair.session.transport(), Transport::Stop);
        prop_assert_eq!(pair.session.in_flight(), 0);

        let mut completed: HashMap<ActionId, usize> = HashMap::new();
        for (at, update) in pair.updates.iter().enumerate() {
            let Update::Reply { id, result } = update else { continue };
            prop_assert!(accepted.contains(id), "completion of unknown {}", id);
            *completed.entry(*id).or_default() += 1;
            // A failure because the transport was lost is Down exactly when the
            // session goes on: the next status says which.
            let next_status = pair.updates[at..].iter().find_map(|u| match u {
                Update::Status(status) => Some(status),
                _ => None,
            });
            match result {
                Err(Error::Down(_)) => prop_assert!(
                    matches!(next_status, Some(Status::Reconnecting { .. })),
                    "Down, then {:?}", next_status
                ),
                Err(Error::Closed(_)) => prop_assert!(
                    matches!(next_status, Some(Status::Closed(_))),
                    "Closed, then {:?}", next_status
                ),
                _ if at >= before_close => prop_assert!(false, "closing completed {} with {:?}", id, result),
                _ => {}
            }
        }
        for id in &accepted {
            prop_assert_eq!(completed.get(id).copied(), Some(1), "action {} completions", id);
        }
        prop_assert_eq!(completed.len(), accepted.len());
        // Lifecycle events: between two logins exactly one Disconnected, and one
        // Reconnected, right before the second Ready; after the last login, one
        // for its loss (or the final close).
        let mut segments: Vec<(usize, usize)> = vec![(0, 0)];
        for (at, update) in pair.updates.iter().enumerate() {
            match update {
                Update::Status(Status::Ready) => {
                    if segments.len() > 1 {
                        prop_assert!(matches!(pair.updates[at - 1], Update::Event(Event::Reconnected)));
                    }
                    segments.push((0, 0));
                }
                Update::Event(Event::Disconnected(_)) => segments.last_mut().unwrap().0 += 1,
                Update::Event(Event::Reconnected) => segments.last_mut().unwrap().1 += 1,
                _ => {}
            }
        }
        let logins = segments.len() - 1;
        for (n, (disconnected, reconnected)) in segments.into_iter().enumerate() {
            match n {
                0 => prop_assert_eq!((disconnected, reconnected), (0, 0)), // the first dial logs in
                n if n == logins => prop_assert_eq!((disconnected, reconnected), (1, 0)),
                _ => prop_assert_eq!((disconnected, reconnected), (1, 1)),
            }
        }
        // ActionIDs on the wire (the session's own Login, Ping, Filter included)
        // are never reused across transports.
        let mut wire_ids = HashSet::new();
        for packet in pair.all_received() {
            let id = packet.action_id().unwrap().to_string();
            prop_assert!(wire_ids.insert(id.clone()), "ActionID {} written twice", id);
        }
    }
}
