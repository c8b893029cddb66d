//! The connection state machine against a scripted server, in virtual time.

mod harness;

use std::time::Duration;

use ami_proto::{
    Action, Config, Credentials, EncodeError, Keepalive, Output, Reason, Reply, State,
};
use harness::{accepting_server, config, login_only_server, response, silent_server, Pair, BANNER};

fn no_keepalive() -> Config {
    Config {
        keepalive: None,
        ..config()
    }
}

#[test]
fn plain_login_sends_events_mask_then_filters_then_queued_actions() {
    let config = Config {
        events: Some("call,system".into()),
        ..config()
    };
    let mut pair = Pair::new(config, accepting_server());
    let ping = pair.send(Action::new("Ping"));
    assert!(pair.server.received.is_empty(), "nothing before the banner");
    pair.deliver(BANNER);
    assert_eq!(pair.server.actions(), ["Login", "Ping"]);
    let login = &pair.server.received[0];
    assert_eq!(login.get("Username").unwrap(), "admin");
    assert_eq!(login.get("Secret").unwrap(), "amp111");
    assert_eq!(login.get("Events").unwrap(), "call,system");
    assert_eq!(pair.conn.state(), &State::Ready);
    assert!(matches!(pair.reply(ping), Some(Ok(Reply::Response(_)))));
    let booted = pair.events();
    assert_eq!(booted[0].event_name().unwrap(), "FullyBooted");
}

/// With filters, events stay off until every filter is in force: login with
/// `Events: off`, the filters (plus the OriginateResponse whitelist next to a
/// whitelist), then `Events` with the configured mask; ready only at its reply.
#[test]
fn filters_are_in_force_before_ready_and_events_flow_only_after() {
    let config = Config {
        events: Some("call,system".into()),
        filters: vec!["Event: Newchannel".into(), "!Event: VarSet".into()],
        ..config()
    };
    let mut pair = Pair::new(config, accepting_server());
    pair.hold = true; // answer only when released: see the states in between
    let ping = pair.send(Action::new("Ping"));
    pair.deliver(BANNER);
    pair.release(); // the login reply
    assert_eq!(
        pair.server.actions(),
        ["Login", "Filter", "Filter", "Filter", "Events"]
    );
    assert_eq!(pair.server.received[0].get("Events").unwrap(), "off");
    let filters: Vec<String> = pair.server.received[1..4]
        .iter()
        .map(|f| f.get("Filter").unwrap().to_string())
        .collect();
    assert_eq!(
        filters,
        [
            "Event: Newchannel",
            "!Event: VarSet",
            ami_proto::ORIGINATE_RESPONSE_FILTER
        ]
    );
    assert_eq!(
        pair.server.received[4].get("EventMask").unwrap(),
        "call,system"
    );
    assert_ne!(
        pair.conn.state(),
        &State::Ready,
        "not ready before the mask is on"
    );
    assert!(!pair.outputs.iter().any(|o| matches!(o, Output::Ready)));
    assert_eq!(pair.reply(ping), None, "queued until ready");
    pair.hold = false;
    pair.release(); // the filters' and the mask's replies
    assert_eq!(pair.conn.state(), &State::Ready);
    assert!(matches!(pair.reply(ping), Some(Ok(Reply::Response(_)))));
}

#[test]
fn a_refused_filter_closes_the_session_with_its_message() {
    let config = Config {
        filters: vec!["Event: (".into()],
        ..config()
    };
    let mut accept = accepting_server();
    let script: harness::Script = Box::new(move |action| {
        if action.get("Action").unwrap() == "Filter" {
            let id = action.action_id().unwrap();
            format!("Response: Error\r\nActionID: {id}\r\nMessage: Filter Add Failed\r\n\r\n")
                .into_bytes()
        } else {
            accept(action)
        }
    });
    let mut pair = Pair::new(config, script);
    pair.deliver(BANNER);
    assert_eq!(
        pair.conn.state(),
        &State::Closed(Reason::FilterRefused("Filter Add Failed".into()))
    );
    assert!(!Reason::FilterRefused(String::new()).is_reconnectable());
}

#[test]
fn md5_login_sends_the_fixture_key() {
    let config = Config {
        credentials: Some(Credentials::md5("admin", "amp111")),
        ..config()
    };
    let pair = Pair::logged_in(config, accepting_server());
    assert_eq!(pair.server.actions(), ["Challenge", "Login"]);
    assert_eq!(pair.server.received[0].get("AuthType").unwrap(), "MD5");
    let login = &pair.server.received[1];
    assert_eq!(
        login.get("Key").unwrap(),
        "abc7dfc1ebc295b1cc97ea619e592a58"
    );
    assert_eq!(login.get("Secret"), None);
}

#[test]
fn auth_failure_is_typed_and_fails_everything_queued() {
    let mut pair = Pair::new(
        config(),
        Box::new(|action| {
            format!(
                "Response: Error\r\nActionID: {}\r\nMessage: Authentication failed\r\n\r\n",
                action.action_id().unwrap()
            )
            .into_bytes()
        }),
    );
    let queued = pair.send(Action::new("Ping"));
    pair.deliver(BANNER);
    let failure = Reason::AuthFailed("Authentication failed (user \"admin\", plain login)".into());
    assert_eq!(pair.reply(queued), Some(Err(failure.clone())));
    assert!(pair
        .outputs
        .iter()
        .any(|o| *o == Output::Closed(failure.clone())));
    assert_eq!(
        pair.server.actions(),
        ["Login"],
        "queued action never written"
    );
    assert_eq!(
        pair.conn.send_action(Action::new("Ping"), pair.now),
        Err(failure.clone())
    );
    assert_eq!(pair.conn.state(), &State::Closed(failure));
}

#[test]
fn refused_action_writes_nothing() {
    let mut pair = Pair::logged_in(no_keepalive(), accepting_server());
    let before = pair.server.received.len();
    let result = pair.conn.send_action(
        Action::new("Ping").header("X", "a\r\nAction: Originate"),
        pair.now,
    );
    assert!(matches!(
        result,
        Err(Reason::Encode(EncodeError::ForbiddenByte {
            byte: b'\r',
            ..
        }))
    ));
    let mut wire = Vec::new();
    pair.conn.poll_transmit(&mut wire);
    assert!(wire.is_empty());
    assert_eq!(pair.server.received.len(), before);
}

#[test]
fn in_flight_cap_queues_the_rest_in_order() {
    let config = Config {
        max_in_flight: 2,
        ..no_keepalive()
    };
    let mut pair = Pair::logged_in(config, accepting_server());
    pair.hold = true;
    let ids: Vec<_> = (0..5)
        .map(|i| pair.send(Action::new("UserEvent").header("N", i.to_string())))
        .collect();
    assert_eq!(pair.server.received.len(), 1 + 2, "login + two in flight");
    pair.release();
    assert_eq!(
        pair.server.received.len(),
        1 + 4,
        "two answers free two slots"
    );
    while !pair.held.is_empty() {
        pair.release();
    }
    let order: Vec<_> = pair.server.received[1..]
        .iter()
        .map(|p| p.get("N").unwrap().to_string())
        .collect();
    assert_eq!(order, ["0", "1", "2", "3", "4"]);
    for id in ids {
        assert!(matches!(pair.reply(id), Some(Ok(_))));
    }
}

#[test]
fn response_without_action_id_answers_the_oldest_action() {
    let mut pair = Pair::logged_in(
        no_keepalive(),
        Box::new(|action| {
            if action.get("Action").unwrap() == "Login" {
                response(action, "Message: Authentication accepted\r\n")
            } else {
                b"Response: Success\r\nPing: Pong\r\n\r\n".to_vec()
            }
        }),
    );
    let first = pair.send(Action::new("Ping"));
    let second = pair.send(Action::new("Ping"));
    assert!(matches!(pair.reply(first), Some(Ok(_))));
    assert!(matches!(pair.reply(second), Some(Ok(_))));
}

fn list_server() -> harness::Script {
    Box::new(|action| {
        let id = action.action_id().unwrap().to_string();
        match action.get("Action").unwrap().to_string().as_str() {
            "Login" => response(action, "Message: Authentication accepted\r\n"),
            "CoreShowChannels" => format!(
                "Response: Success\r\nActionID: {id}\r\nEventList: start\r\nMessage: Channels will follow\r\n\r\n\
                 Event: CoreShowChannel\r\nActionID: {id}\r\nChannel: A\r\n\r\n\
                 Event: Newchannel\r\nPrivilege: call,all\r\nChannel: Unrelated\r\n\r\n\
                 Event: CoreShowChannel\r\nActionID: {id}\r\nChannel: B\r\n\r\n\
                 Event: CoreShowChannelsComplete\r\nActionID: {id}\r\nEventList: Complete\r\nListItems: 2\r\n\r\n"
            )
            .into_bytes(),
            "Status" => format!(
                "Response: Success\r\nActionID: {id}\r\nMessage: Channel status will follow\r\n\r\n\
                 Event: Status\r\nChannel: A\r\nActionID: {id}\r\n\r\n\
                 Event: StatusComplete\r\nActionID: {id}\r\nItems: 1\r\n\r\n"
            )
            .into_bytes(),
            _ => format!(
                "Response: Error\r\nActionID: {id}\r\nMessage: Permission denied\r\n\r\n"
            )
            .into_bytes(),
        }
    })
}

#[test]
fn list_collects_items_while_unrelated_events_stay_events() {
    let mut pair = Pair::logged_in(no_keepalive(), list_server());
    let id = pair.send(Action::new("CoreShowChannels"));
    let Some(Ok(Reply::List(list))) = pair.reply(id) else {
        panic!("{:?}", pair.outputs)
    };
    let channels: Vec<_> = list
        .items
        .iter()
        .map(|p| p.get("Channel").unwrap().to_string())
        .collect();
    assert_eq!(channels, ["A", "B"]);
    assert_eq!(list.declared_items(), Some(2));
    assert_eq!(list.verify(), Ok(()));
    let events = pair.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].get("Channel").unwrap(), "Unrelated");
}

#[test]
fn legacy_list_without_event_list_is_recognised() {
    let mut pair = Pair::logged_in(no_keepalive(), list_server());
    let id = pair.send(Action::new("Status"));
    let Some(Ok(Reply::List(list))) = pair.reply(id) else {
        panic!("{:?}", pair.outputs)
    };
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.complete.event_name().unwrap(), "StatusComplete");
    assert_eq!(list.verify(), Ok(()));
}

#[test]
fn error_instead_of_a_list_completes_at_once() {
    let mut pair = Pair::logged_in(no_keepalive(), list_server());
    let id = pair.send(Action::new("QueueStatus").expect_list());
    let Some(Ok(Reply::Response(error))) = pair.reply(id) else {
        panic!("{:?}", pair.outputs)
    };
    assert!(error.is_error());
}

#[test]
fn streamed_list_delivers_items_one_by_one() {
    let mut pair = Pair::logged_in(no_keepalive(), list_server());
    let id = pair.send(Action::new("CoreShowChannels").stream_list());
    let items: Vec<_> = pair
        .outputs
        .iter()
        .filter_map(|o| match o {
            Output::ListItem { id: of, item } if *of == id => Some(item.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(items.len(), 2);
    let Some(Ok(Reply::List(list))) = pair.reply(id) else {
        panic!()
    };
    assert!(list.items.is_empty());
    assert_eq!(list.received, 2);
    assert_eq!(list.verify(), Ok(()));
}

#[test]
fn list_item_count_mismatch_is_reported() {
    let mut pair = Pair::logged_in(no_keepalive(), accepting_server());
    pair.hold = true;
    let id = pair.send(Action::new("CoreShowChannels"));
    let wire = pair.wire_id(id);
    pair.hold = false;
    pair.held.clear();
    pair.deliver(
        format!(
            "Response: Success\r\nActionID: {wire}\r\nEventList: start\r\n\r\n\
             Event: CoreShowChannelsComplete\r\nActionID: {wire}\r\nEventList: Complete\r\nListItems: 3\r\n\r\n"
        )
        .as_bytes(),
    );
    let Some(Ok(Reply::List(list))) = pair.reply(id) else {
        panic!()
    };
    let mismatch = list.verify().unwrap_err();
    assert_eq!((mismatch.declared, mismatch.received), (3, 0));
}

fn originate_server(outcome: &'static str, reason: u32) -> harness::Script {
    Box::new(move |action| {
        let id = action.action_id().unwrap().to_string();
        match action.get("Action").unwrap().to_string().as_str() {
            "Login" => response(action, "Message: Authentication accepted\r\n"),
            "Originate" => format!(
                "Response: Success\r\nActionID: {id}\r\nMessage: Originate successfully queued\r\n\r\n\
                 Event: Newchannel\r\nPrivilege: call,all\r\nChannel: Local/100@test-00000001;1\r\n\r\n\
                 Event: OriginateResponse\r\nPrivilege: call,all\r\nActionID: other-session-7\r\nResponse: Failure\r\nReason: 0\r\n\r\n\
                 Event: OriginateResponse\r\nPrivilege: call,all\r\nActionID: {id}\r\nResponse: {outcome}\r\n\
                 Channel: Local/100@test-00000001;1\r\nReason: {reason}\r\n\r\n"
            )
            .into_bytes(),
            _ => response(action, ""),
        }
    })
}

#[test]
fn async_originate_completes_with_its_own_outcome() {
    let mut pair = Pair::logged_in(no_keepalive(), originate_server("Success", 4));
    let id = pair.send(
        Action::new("Originate")
            .header("Channel", "Local/100@test")
            .header("Application", "Wait")
            .header("Async", "true"),
    );
    let Some(Ok(Reply::Originate(outcome))) = pair.reply(id) else {
        panic!("{:?}", pair.outputs)
    };
    assert!(outcome.is_success());
    assert_eq!(outcome.reason(), Some(4));
    let events = pair.events();
    let names: Vec<_> = events
        .iter()
        .map(|e| e.event_name().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        ["Newchannel", "OriginateResponse"],
        "the foreign one stays an event"
    );
    assert_eq!(events[1].action_id().unwrap(), "other-session-7");
}

#[test]
fn async_originate_failure_carries_its_reason() {
    let mut pair = Pair::logged_in(no_keepalive(), originate_server("Failure", 5));
    let id = pair.send(Action::new("Originate").header("Async", "yes"));
    let Some(Ok(Reply::Originate(outcome))) = pair.reply(id) else {
        panic!()
    };
    assert!(!outcome.is_success());
    assert_eq!(outcome.reason(), Some(5));
}

#[test]
fn async_originate_waits_for_its_event_within_the_originate_timeout() {
    let mut pair = Pair::logged_in(
        no_keepalive(),
        Box::new(
            |action| match action.get("Action").unwrap().to_string().as_str() {
                "Originate" => response(action, "Message: Originate successfully queued\r\n"),
                _ => response(action, "Message: Authentication accepted\r\n"),
            },
        ),
    );
    let id = pair.send(Action::new("Originate").header("Async", "true"));
    pair.advance(Duration::from_secs(30));
    assert_eq!(
        pair.reply(id),
        None,
        "still waiting past the action timeout"
    );
    pair.advance(Duration::from_secs(31));
    assert_eq!(pair.reply(id), Some(Err(Reason::Timeout)));
}

#[test]
fn events_with_our_prefix_but_no_pending_action_are_events() {
    let mut pair = Pair::logged_in(no_keepalive(), accepting_server());
    let id = pair.send(Action::new("UserEvent").header("UserEvent", "Hello"));
    assert!(pair.reply(id).is_some());
    let wire = pair.wire_id(id);
    pair.deliver(
        format!("Event: UserEvent\r\nActionID: {wire}\r\nUserEvent: Hello\r\n\r\n").as_bytes(),
    );
    let events = pair.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].get("UserEvent").unwrap(), "Hello");
}

#[test]
fn per_action_timeout_then_late_reply_is_unmatched() {
    let mut pair = Pair::logged_in(no_keepalive(), accepting_server());
    pair.hold = true;
    let short = pair.send(Action::new("Ping").timeout(Duration::from_secs(1)));
    let long = pair.send(Action::new("Ping"));
    pair.advance(Duration::from_millis(999));
    assert_eq!(pair.reply(short), None);
    pair.advance(Duration::from_millis(1));
    assert_eq!(pair.reply(short), Some(Err(Reason::Timeout)));
    assert_eq!(pair.reply(long), None);
    pair.hold = false;
    pair.release();
    assert!(matches!(pair.reply(long), Some(Ok(_))));
    assert!(pair
        .outputs
        .iter()
        .any(|o| matches!(o, Output::Response(p) if p.get("Ping").is_some())));
}

#[test]
fn login_deadline_covers_a_missing_banner() {
    let mut pair = Pair::new(config(), silent_server());
    let queued = pair.send(Action::new("Ping"));
    pair.advance(Duration::from_secs(10));
    assert_eq!(pair.reply(queued), Some(Err(Reason::LoginTimeout)));
    assert_eq!(pair.conn.state(), &State::Closed(Reason::LoginTimeout));
    assert_eq!(pair.conn.poll_timeout(), None);
}

#[test]
fn keepalive_pings_when_idle_and_closes_a_silent_link() {
    let keepalive = Keepalive {
        interval: Duration::from_secs(20),
        timeout: Duration::from_secs(5),
    };
    let config = Config {
        keepalive: Some(keepalive),
        ..config()
    };
    let mut pair = Pair::logged_in(config, accepting_server());
    pair.advance(Duration::from_secs(19));
    assert_eq!(pair.server.actions(), ["Login"]);
    pair.advance(Duration::from_secs(1));
    assert_eq!(pair.server.actions(), ["Login", "Ping"], "ping answered");
    assert_eq!(pair.conn.state(), &State::Ready);
    // Now the server goes silent: the next Ping goes unanswered.
    pair.server.script = silent_server();
    let pending = pair.send(Action::new("Command").timeout(Duration::from_secs(3600)));
    pair.advance(Duration::from_secs(20));
    assert_eq!(pair.server.actions().last().unwrap(), "Ping");
    pair.advance(Duration::from_secs(4));
    assert_eq!(pair.conn.state(), &State::Ready);
    pair.advance(Duration::from_secs(1));
    assert_eq!(pair.conn.state(), &State::Closed(Reason::KeepaliveTimeout));
    assert_eq!(pair.reply(pending), Some(Err(Reason::KeepaliveTimeout)));
}

#[test]
fn keepalive_is_suspended_while_a_sync_originate_blocks_the_session() {
    let config = Config {
        keepalive: Some(Keepalive {
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(5),
        }),
        ..config()
    };
    let mut pair = Pair::logged_in(config, accepting_server());
    pair.server.script = silent_server();
    let call = pair.send(Action::new("Originate").timeout(Duration::from_secs(40)));
    pair.advance(Duration::from_secs(30));
    assert_eq!(pair.conn.state(), &State::Ready);
    assert_eq!(
        pair.server.actions().last().unwrap(),
        "Originate",
        "no Ping behind it"
    );
    pair.advance(Duration::from_secs(10));
    assert_eq!(pair.reply(call), Some(Err(Reason::Timeout)));
}

#[test]
fn logoff_gets_goodbye_then_closes_and_fails_the_rest() {
    let mut pair = Pair::logged_in(no_keepalive(), accepting_server());
    pair.hold = true;
    let bye = pair.conn.logoff(pair.now).unwrap();
    let after = pair.send(Action::new("Ping"));
    pair.hold = false;
    pair.release();
    let Some(Ok(Reply::Response(goodbye))) = pair.reply(bye) else {
        panic!("{:?}", pair.outputs)
    };
    assert!(goodbye.is("Response", "Goodbye"));
    assert_eq!(pair.reply(after), Some(Err(Reason::LoggedOff)));
    assert_eq!(pair.conn.state(), &State::Closed(Reason::LoggedOff));
}

#[test]
fn eof_fails_every_pending_action_at_once_and_the_error_repeats() {
    let mut pair = Pair::logged_in(no_keepalive(), login_only_server());
    let ids: Vec<_> = (0..50).map(|_| pair.send(Action::new("Ping"))).collect();
    pair.deliver(b"Response: Succ"); // a partial packet, dropped at EOF
    pair.conn.handle_eof();
    pair.drive();
    for id in ids {
        assert_eq!(pair.reply(id), Some(Err(Reason::Eof)));
    }
    assert_eq!(pair.outputs.pop_back(), Some(Output::Closed(Reason::Eof)));
    assert_eq!(
        pair.conn.send_action(Action::new("Ping"), pair.now),
        Err(Reason::Eof)
    );
    pair.conn.handle_eof();
    assert_eq!(pair.conn.poll_output(), None, "closed is reported once");
}

#[test]
fn legacy_command_output_is_read_through_the_connection() {
    let mut pair = Pair::logged_in(
        no_keepalive(),
        Box::new(
            |action| match action.get("Action").unwrap().to_string().as_str() {
                "Command" => format!(
                    "Response: Follows\r\nPrivilege: Command\r\nActionID: {}\r\n\
                 Name: value lookalike\n\nsecond paragraph\n--END COMMAND--\r\n\r\n",
                    action.action_id().unwrap()
                )
                .into_bytes(),
                _ => response(action, "Message: Authentication accepted\r\n"),
            },
        ),
    );
    let id = pair.send(ami_proto::Request::into_action(
        ami_proto::request::Command::new("core show help"),
    ));
    let Some(Ok(Reply::Response(reply))) = pair.reply(id) else {
        panic!("{:?}", pair.outputs)
    };
    assert_eq!(
        reply.command_text(),
        "Name: value lookalike\n\nsecond paragraph"
    );
    assert_eq!(reply.get("Privilege").unwrap(), "Command");
}

#[test]
fn oversized_packet_costs_one_packet_not_the_connection() {
    let config = Config {
        limits: ami_proto::Limits {
            max_packet_bytes: 1024,
            ..Default::default()
        },
        ..no_keepalive()
    };
    let mut pair = Pair::logged_in(config, accepting_server());
    let big = format!("Event: Big\r\nData: {}\r\n\r\n", "x".repeat(5000));
    pair.deliver(big.as_bytes());
    pair.deliver(b"Event: Small\r\n\r\n");
    let malformed = pair
        .outputs
        .iter()
        .find_map(|o| match o {
            Output::Malformed(m) => Some(m.clone()),
            _ => None,
        })
        .expect("reported");
    // Reported the moment it crossed the limit: one byte over it.
    assert_eq!(malformed.size, 1025);
    assert!(malformed.head.starts_with(b"Event: Big"));
    let events = pair.events();
    assert_eq!(events[0].event_name().unwrap(), "Small");
    assert_eq!(pair.conn.state(), &State::Ready);
}

#[test]
fn close_by_client_fails_pending_actions() {
    let mut pair = Pair::logged_in(no_keepalive(), login_only_server());
    let id = pair.send(Action::new("Ping"));
    pair.conn.close();
    pair.drive();
    assert_eq!(pair.reply(id), Some(Err(Reason::ClosedByClient)));
}

#[test]
fn without_credentials_the_session_is_ready_after_the_banner() {
    let config = Config {
        credentials: None,
        ..no_keepalive()
    };
    let mut pair = Pair::new(config, accepting_server());
    pair.deliver(BANNER);
    assert!(pair.outputs.contains(&Output::Connected {
        version: Some("11.0.0".into())
    }));
    assert!(pair.outputs.contains(&Output::Ready));
    assert!(pair.server.received.is_empty());
}

#[test]
fn keepalive_with_default_timings_detects_a_silent_link() {
    // Defaults: ping after 20 s of silence, dead 10 s later; the action timeout is
    // also 10 s and must not retire the keepalive Ping.
    let mut pair = Pair::logged_in(config(), login_only_server());
    let pending = pair.send(Action::new("Command").timeout(Duration::from_secs(3600)));
    pair.advance(Duration::from_secs(20));
    assert_eq!(pair.server.actions().last().unwrap(), "Ping");
    pair.advance(Duration::from_millis(9_999));
    assert_eq!(pair.conn.state(), &State::Ready);
    pair.advance(Duration::from_millis(1));
    assert_eq!(pair.conn.state(), &State::Closed(Reason::KeepaliveTimeout));
    assert_eq!(pair.reply(pending), Some(Err(Reason::KeepaliveTimeout)));
}

#[test]
fn keepalive_tolerates_a_slow_reply_while_bytes_keep_arriving() {
    let mut pair = Pair::logged_in(config(), login_only_server());
    pair.advance(Duration::from_secs(20));
    assert_eq!(pair.server.actions().last().unwrap(), "Ping");
    // The Pong is stuck behind a long reply that trickles in: the link is alive.
    for _ in 0..6 {
        pair.advance(Duration::from_secs(8));
        pair.deliver(b"Event: Trickle\r\n\r\n");
    }
    assert_eq!(pair.conn.state(), &State::Ready);
    pair.advance(Duration::from_secs(10));
    assert_eq!(pair.conn.state(), &State::Closed(Reason::KeepaliveTimeout));
}

#[test]
fn a_list_that_keeps_arriving_outlives_its_timeout_and_a_stalled_one_does_not() {
    let mut pair = Pair::logged_in(no_keepalive(), login_only_server());
    let id = pair.send(Action::new("CoreShowChannels").timeout(Duration::from_secs(10)));
    let wire = pair.wire_id(id);
    pair.deliver(
        format!("Response: Success\r\nActionID: {wire}\r\nEventList: start\r\n\r\n").as_bytes(),
    );
    for _ in 0..6 {
        pair.advance(Duration::from_secs(8));
        pair.deliver(format!("Event: CoreShowChannel\r\nActionID: {wire}\r\n\r\n").as_bytes());
    }
    assert_eq!(
        pair.reply(id),
        None,
        "48 s in, still alive: items keep coming"
    );
    pair.advance(Duration::from_millis(9_999));
    assert_eq!(pair.reply(id), None);
    pair.advance(Duration::from_millis(1));
    assert_eq!(
        pair.reply(id),
        Some(Err(Reason::Timeout)),
        "10 s after the last item"
    );
}

#[test]
fn a_secret_holding_a_line_break_is_refused_before_a_byte_is_written() {
    let config = Config {
        credentials: Some(Credentials::plain("admin", "amp111\r\nAction: Originate")),
        ..no_keepalive()
    };
    let mut pair = Pair::new(config, accepting_server());
    pair.deliver(BANNER);
    assert!(pair.server.received.is_empty(), "no Login was written");
    assert!(matches!(
        pair.conn.state(),
        State::Closed(Reason::Encode(EncodeError::ForbiddenByte { .. }))
    ));
}

#[test]
fn an_md5_secret_holding_a_line_break_is_harmless_but_a_username_is_refused() {
    // With MD5 only a hash of the secret is sent, so a CR/LF in it cannot inject.
    let config = Config {
        credentials: Some(Credentials::md5("admin\r\nAction: Originate", "amp111")),
        ..no_keepalive()
    };
    let mut pair = Pair::new(config, accepting_server());
    pair.deliver(BANNER);
    assert_eq!(pair.server.actions(), ["Challenge"], "no Login was written");
    assert!(matches!(
        pair.conn.state(),
        State::Closed(Reason::Encode(EncodeError::ForbiddenByte { .. }))
    ));
}

#[test]
fn a_collected_list_past_its_cap_fails_and_the_session_goes_on() {
    let config = Config {
        max_list_items: 3,
        ..no_keepalive()
    };
    let mut pair = Pair::logged_in(config, accepting_server());
    pair.hold = true;
    let id = pair.send(Action::new("CoreShowChannels"));
    pair.hold = false;
    pair.held.clear();
    let wire = pair.wire_id(id);
    let mut bytes =
        format!("Response: Success\r\nActionID: {wire}\r\nEventList: start\r\n\r\n").into_bytes();
    for _ in 0..5 {
        bytes.extend(format!("Event: CoreShowChannel\r\nActionID: {wire}\r\n\r\n").bytes());
    }
    pair.deliver(&bytes);
    assert_eq!(pair.reply(id), Some(Err(Reason::ListTooLarge { limit: 3 })));
    assert_eq!(
        pair.events().len(),
        2,
        "items past the cap are ordinary events"
    );
    let ping = pair.send(Action::new("Ping"));
    assert!(matches!(pair.reply(ping), Some(Ok(_))));
}

#[test]
fn a_callers_action_id_is_written_echoed_and_completes_its_own_call() {
    let mut pair = Pair::logged_in(no_keepalive(), login_only_server());
    let mine = pair.send(Action::new("Ping").action_id("crm-42"));
    let ours = pair.send(Action::new("Ping"));
    assert_eq!(
        pair.server.received.last().unwrap().action_id().unwrap(),
        pair.wire_id(ours).as_str()
    );
    let written = &pair.server.received[pair.server.received.len() - 2];
    assert_eq!(written.action_id().unwrap(), "crm-42");

    // Unique among pending actions: a second one is refused before a byte is sent.
    let sent_before = pair.server.received.len();
    let again = pair
        .conn
        .send_action(Action::new("Ping").action_id("crm-42"), pair.now);
    assert!(
        matches!(again, Err(Reason::Encode(EncodeError::DuplicateActionId { ref id })) if id == "crm-42"),
        "{again:?}"
    );
    let shaped_like_ours = pair.wire_id(ours);
    let clash = pair
        .conn
        .send_action(Action::new("Ping").action_id(&shaped_like_ours), pair.now);
    assert!(matches!(
        clash,
        Err(Reason::Encode(EncodeError::DuplicateActionId { .. }))
    ));
    pair.drive();
    assert_eq!(pair.server.received.len(), sent_before);

    // The server's echo completes the right call, whatever the order.
    let ours_id = pair.wire_id(ours);
    pair.deliver(
        format!("Response: Success\r\nActionID: {ours_id}\r\nPing: Pong\r\n\r\n").as_bytes(),
    );
    pair.deliver(b"Response: Success\r\nActionID: crm-42\r\nPing: Pong\r\nMine: yes\r\n\r\n");
    match pair.reply(mine) {
        Some(Ok(reply)) => assert!(reply.response().is("Mine", "yes")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(pair.reply(ours), Some(Ok(_))));

    // Once completed, the ActionID may be used again.
    let reused = pair.send(Action::new("Ping").action_id("crm-42"));
    pair.deliver(b"Response: Success\r\nActionID: crm-42\r\nPing: Pong\r\n\r\n");
    assert!(matches!(pair.reply(reused), Some(Ok(_))));
}

#[test]
fn an_async_originate_with_a_callers_action_id_completes_on_its_originate_response() {
    let mut pair = Pair::logged_in(no_keepalive(), login_only_server());
    let call = Action::new("Originate")
        .header("Channel", "PJSIP/100")
        .header("Async", "true")
        .action_id("crm-call-7");
    let id = pair.send(call);
    pair.deliver(b"Response: Success\r\nActionID: crm-call-7\r\nMessage: Originate successfully queued\r\n\r\n");
    assert_eq!(pair.reply(id), None, "waits for the outcome");
    pair.deliver(
        b"Event: OriginateResponse\r\nPrivilege: call,all\r\nActionID: crm-call-7\r\nResponse: Success\r\nReason: 4\r\n\r\n",
    );
    match pair.reply(id) {
        Some(Ok(Reply::Originate(outcome))) => assert_eq!(outcome.reason(), Some(4)),
        other => panic!("{other:?}"),
    }
}
