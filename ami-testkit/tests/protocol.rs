//! The protocol as Asterisk 22 speaks it, one behaviour per test.

mod common;

use std::time::Duration;

use ami_proto::PacketKind;
use ami_testkit::{Event, FakeAsterisk};
use common::Client;
use md5::{Digest, Md5};

#[test]
fn banner_plain_login_fully_booted_ping_logoff() {
    let fake = FakeAsterisk::builder().ami_version("7.0.3").start();
    let mut c = Client::connect(fake.addr());
    assert_eq!(c.banner.as_deref(), Some("7.0.3"));
    c.send(b"Action: Login\r\nActionID: l1\r\nUsername: admin\r\nSecret: amp111\r\n\r\n");
    let ok = c.packet();
    assert_eq!(
        ok.as_bytes(),
        b"Response: Success\r\nActionID: l1\r\nMessage: Authentication accepted\r\n\r\n"
    );
    let booted = c.packet();
    assert_eq!(booted.event_name().unwrap(), "FullyBooted");
    assert_eq!(booted.get("Privilege").unwrap(), "system,all");
    let ping = c.action("Action: Ping\nActionID: p1\n");
    assert_eq!(ping.get("Ping").unwrap(), "Pong");
    assert!(ping.get("Timestamp").unwrap().to_string().contains('.'));
    let bye = c.action("Action: Logoff\nActionID: bye\n");
    assert_eq!(
        bye.as_bytes(),
        b"Response: Goodbye\r\nActionID: bye\r\nMessage: Thanks for all the fish.\r\n\r\n"
    );
    assert!(c.rest().is_empty(), "closed after Goodbye");
}

#[test]
fn md5_login_with_a_random_challenge() {
    let fake = FakeAsterisk::builder().user("bob", "pa55").start();
    let mut c = Client::connect(fake.addr());
    let ch = c.action("Action: Challenge\nActionID: c\nAuthType: MD5\n");
    let challenge = ch.get("Challenge").unwrap().to_string();
    assert!(
        !challenge.is_empty()
            && challenge.len() <= 9
            && challenge.bytes().all(|b| b.is_ascii_digit())
    );
    let key: String = Md5::new()
        .chain_update(challenge.as_bytes())
        .chain_update(b"pa55")
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let r = c.action(&format!(
        "Action: Login\nAuthType: MD5\nUsername: bob\nKey: {key}\nEvents: off\n"
    ));
    assert_eq!(r.message().unwrap(), "Authentication accepted");
    assert!(fake.clients()[0].logged_in);
    assert_eq!(fake.clients()[0].user.as_deref(), Some("bob"));
}

#[test]
fn permission_denied_before_login_and_failed_login_closes() {
    let fake = FakeAsterisk::builder()
        .auth_failure_delay(Duration::from_millis(1))
        .start();
    let mut c = Client::connect(fake.addr());
    let denied = c.action("Action: Command\nActionID: x\nCommand: core show version\n");
    assert_eq!(
        denied.as_bytes(),
        b"Response: Error\r\nActionID: x\r\nMessage: Permission denied\r\n\r\n"
    );
    let failed = c.action("Action: Login\nUsername: admin\nSecret: nope\n");
    assert_eq!(
        failed.as_bytes(),
        b"Response: Error\r\nMessage: Authentication failed\r\n\r\n"
    );
    assert!(c.rest().is_empty());
    assert!(!fake.clients()[0].open);
}

#[test]
fn events_action_and_login_mask_select_classes() {
    let fake = FakeAsterisk::start();
    let mut c = Client::connect(fake.addr());
    c.login("call");
    let r = c.action("Action: Events\nActionID: e\nEventMask: off\n");
    assert_eq!(
        r.as_bytes(),
        b"Response: Success\r\nActionID: e\r\nEvents: Off\r\n\r\n"
    );
    assert_eq!(
        fake.push_event(&Event::new("Hangup").header("Privilege", "call,all")),
        0
    );
    let r = c.action("Action: Events\nEventMask: user,agent\n");
    assert_eq!(r.get("Events").unwrap(), "On");
    assert_eq!(
        fake.push_event(&Event::new("Hangup").header("Privilege", "call,all")),
        0
    );
    assert_eq!(
        fake.push_event(&Event::new("Agent").header("Privilege", "agent,all")),
        1
    );
    assert_eq!(c.packet().event_name().unwrap(), "Agent");
}

#[test]
fn filter_includes_and_excludes_by_regex() {
    let fake = FakeAsterisk::start();
    let mut c = Client::connect(fake.addr());
    c.login("on");
    let r = c.action(
        "Action: Filter\nActionID: f\nOperation: Add\nFilter: Event: (Hangup|Newchannel)\n",
    );
    assert_eq!(
        r.as_bytes(),
        b"Response: Success\r\nActionID: f\r\nMessage: Success\r\n\r\n"
    );
    c.action("Action: Filter\nOperation: Add\nFilter: !Channel: PJSIP/9\n");
    let bad = c.action("Action: Filter\nOperation: Add\nFilter: (\n");
    assert!(bad.is_error());
    assert_eq!(fake.push_event(&Event::new("VarSet")), 0);
    assert_eq!(
        fake.push_event(&Event::new("Hangup").header("Channel", "PJSIP/9-1")),
        0
    );
    assert_eq!(
        fake.push_event(&Event::new("Hangup").header("Channel", "PJSIP/1-1")),
        1
    );
    assert_eq!(c.packet().get("Channel").unwrap(), "PJSIP/1-1");
}

#[test]
fn command_output_lines_and_legacy_follows() {
    let fake = FakeAsterisk::start();
    let mut c = Client::connect(fake.addr());
    c.login("off");
    let r = c.action("Action: Command\nActionID: v\nCommand: core show version\n");
    assert_eq!(r.message().unwrap(), "Command output follows");
    assert!(r.command_text().starts_with("Asterisk 22"));
    let r = c.action("Action: Command\nCommand: core show channels\n");
    assert!(r.command_text().contains("0 active channels"));

    let legacy = FakeAsterisk::builder()
        .legacy_command(true)
        .command_output(
            "sip show peers",
            "Name/username  Host\n\nKey: looks like a header\n0 sip peers",
        )
        .start();
    let mut c = Client::connect(legacy.addr());
    c.login("off");
    c.send(b"Action: Command\r\nActionID: s\r\nCommand: sip show peers\r\n\r\n");
    c.read_until_suffix(b"--END COMMAND--\r\n\r\n");
    assert!(c.raw.ends_with(
        b"Response: Follows\r\nPrivilege: Command\r\nActionID: s\r\nName/username  Host\n\nKey: looks like a header\n0 sip peers\n--END COMMAND--\r\n\r\n"
    ));
    let r = c.packet();
    assert_eq!(r.response().unwrap(), "Follows");
    assert_eq!(
        r.command_text(),
        "Name/username  Host\n\nKey: looks like a header\n0 sip peers"
    );
}

#[test]
fn core_show_channels_is_a_list_with_the_action_id() {
    let fake = FakeAsterisk::start();
    let mut c = Client::connect(fake.addr());
    c.login("off");
    c.action(
        "Action: Originate\nChannel: Local/100@test\nApplication: Wait\nData: 10\nAsync: true\n",
    );
    let ack = c.action("Action: CoreShowChannels\nActionID: csc\n");
    assert_eq!(ack.as_bytes(), b"Response: Success\r\nActionID: csc\r\nEventList: start\r\nMessage: Channels will follow\r\n\r\n");
    let items = [c.packet(), c.packet()];
    for item in &items {
        assert_eq!(item.event_name().unwrap(), "CoreShowChannel");
        assert_eq!(item.action_id().unwrap(), "csc");
        assert_eq!(item.get("Application").unwrap(), "Wait");
    }
    assert!(items[0].get("Channel").unwrap().to_string().ends_with(";2"));
    let done = c.packet();
    assert_eq!(done.event_name().unwrap(), "CoreShowChannelsComplete");
    assert_eq!(done.get("EventList").unwrap(), "Complete");
    assert_eq!(done.list_items(), Some(2));
    let status = c.action("Action: Status\nActionID: st\n");
    assert_eq!(status.get("EventList").unwrap(), "start");
    assert_eq!(c.packet().event_name().unwrap(), "Status");
    assert_eq!(c.packet().event_name().unwrap(), "Status");
    assert_eq!(c.packet().list_items(), Some(2));
}

#[test]
fn async_originate_queues_then_a_call_event_sequence() {
    let fake = FakeAsterisk::start();
    let mut c = Client::connect(fake.addr());
    c.login("on");
    c.packet(); // FullyBooted
    c.packet(); // SuccessfulAuth
    c.send(b"Action: Originate\r\nActionID: o1\r\nChannel: Local/100@test\r\nApplication: Wait\r\nData: 1\r\nCallerID: \"AMI Test\" <5551234>\r\nVariable: FOO=bar\r\nAsync: true\r\n\r\n");
    let queued = c.packet();
    assert_eq!(
        queued.as_bytes(),
        b"Response: Success\r\nActionID: o1\r\nMessage: Originate successfully queued\r\n\r\n"
    );
    let mut names = Vec::new();
    let outcome = loop {
        let p = c.packet();
        assert_eq!(p.kind(), PacketKind::Event);
        names.push(p.event_name().unwrap().to_string());
        if p.event_name().unwrap() == "OriginateResponse" {
            break p;
        }
    };
    assert_eq!(
        &names[..4],
        ["Newchannel", "Newchannel", "VarSet", "NewCallerid"]
    );
    assert!(names.contains(&"DialBegin".to_owned()) && names.contains(&"Newstate".to_owned()));
    assert_eq!(outcome.get("Privilege").unwrap(), "call,all");
    assert_eq!(outcome.action_id().unwrap(), "o1");
    assert_eq!(outcome.get("Response").unwrap(), "Success");
    assert_eq!(outcome.get("Reason").unwrap(), "4");
    assert_eq!(outcome.get("CallerIDName").unwrap(), "AMI Test");
    let channel = outcome.get("Channel").unwrap().to_string();
    assert!(channel.starts_with("Local/100@test-") && channel.ends_with(";1"));
    assert_eq!(c.packet().event_name().unwrap(), "Newexten");
    fake.hangup_all();
    assert_eq!(c.event("Hangup").get("Cause").unwrap(), "16");

    c.send(b"Action: Originate\r\nActionID: o2\r\nChannel: PJSIP/busy\r\nExten: 100\r\nContext: test\r\nAsync: yes\r\n\r\n");
    assert_eq!(
        c.response().message().unwrap(),
        "Originate successfully queued"
    );
    let failed = c.event("OriginateResponse");
    assert_eq!(failed.get("Response").unwrap(), "Failure");
    assert_eq!(failed.get("Reason").unwrap(), "5");
}

#[test]
fn sync_originate_answers_after_the_call_then_events_follow() {
    let fake = FakeAsterisk::builder()
        .originate_delay(Duration::from_millis(20))
        .start();
    let mut c = Client::connect(fake.addr());
    c.login("call");
    c.send(b"Action: Originate\r\nActionID: s1\r\nChannel: PJSIP/100\r\nExten: 200\r\nContext: test\r\n\r\nAction: Ping\r\nActionID: p\r\n\r\n");
    let r = c.packet();
    assert_eq!(
        r.kind(),
        PacketKind::Response,
        "nothing is written before the sync response"
    );
    assert_eq!(r.action_id().unwrap(), "s1");
    assert_eq!(r.message().unwrap(), "Originate successfully queued");
    let mut seen = Vec::new();
    let ping = loop {
        let p = c.packet();
        if p.kind() == PacketKind::Response {
            break p;
        }
        seen.push(p.event_name().unwrap().to_string());
    };
    assert_eq!(ping.action_id().unwrap(), "p");
    assert!(seen.contains(&"OriginateResponse".to_owned()));
    let failed = c.action("Action: Originate\nActionID: s2\nChannel: PJSIP/noanswer\nExten: 1\n");
    assert_eq!(
        failed.as_bytes(),
        b"Response: Error\r\nActionID: s2\r\nMessage: Originate failed\r\n\r\n"
    );
}

#[test]
fn user_event_is_acked_then_echoed_to_every_session() {
    let fake = FakeAsterisk::start();
    let mut a = Client::connect(fake.addr());
    let mut b = Client::connect(fake.addr());
    a.login("user");
    b.login("user");
    a.send(b"Action: UserEvent\r\nActionID: u1\r\nUserEvent: Tick\r\nFoo: bar\r\n\r\n");
    assert_eq!(
        a.packet().as_bytes(),
        b"Response: Success\r\nActionID: u1\r\nMessage: Event Sent\r\n\r\n"
    );
    let want: &[u8] = b"Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: Tick\r\nActionID: u1\r\nFoo: bar\r\n\r\n";
    assert_eq!(a.packet().as_bytes(), want);
    assert_eq!(b.packet().as_bytes(), want);
}

#[test]
fn unknown_action_and_missing_action() {
    let fake = FakeAsterisk::start();
    let mut c = Client::connect(fake.addr());
    c.login("off");
    let r = c.action("Action: Frobnicate\nActionID: z\n");
    assert_eq!(
        r.message().unwrap(),
        "Invalid/unknown command: Frobnicate. Use Action: ListCommands to show available commands."
    );
    let r = c.action("ActionID: nothing\n");
    assert_eq!(r.message().unwrap(), "Missing action in request");
    // The bare-LF quirk of "No endpoints found\n".
    c.send(b"Action: PJSIPShowEndpoints\r\nActionID: pj\r\n\r\n");
    c.read_until_suffix(b"Message: No endpoints found\n\r\n\r\n");
    assert_eq!(c.packet().message().unwrap(), "No endpoints found");
}

#[test]
fn responses_come_in_request_order_and_events_never_inside_a_list() {
    let fake = FakeAsterisk::start();
    let mut c = Client::connect(fake.addr());
    c.login("on");
    for _ in 0..3 {
        c.send(b"Action: Originate\r\nChannel: Local/1@t\r\nApplication: Wait\r\nAsync: 1\r\n\r\n");
        assert_eq!(
            c.response().message().unwrap(),
            "Originate successfully queued"
        );
    }
    let flood = fake.flood(
        vec![
            Event::new("Noise")
                .header("Privilege", "system,all")
                .to_bytes();
            2000
        ],
        ami_testkit::Rate::Unlimited,
    );
    let mut pipeline = Vec::new();
    for i in 0..50 {
        pipeline.extend_from_slice(format!("Action: CoreShowChannels\r\nActionID: l{i}\r\n\r\nAction: Ping\r\nActionID: p{i}\r\n\r\n").as_bytes());
    }
    c.send(&pipeline);
    let mut expected = (0..50).flat_map(|i| [format!("l{i}"), format!("p{i}")]);
    let mut in_list: Option<String> = None;
    let mut done = 0;
    while done < 100 {
        let p = c.packet();
        let id = p.action_id().map(|v| v.to_string());
        match (&in_list, p.kind()) {
            (Some(list), PacketKind::Event) => {
                assert_eq!(id.as_ref(), Some(list), "an event inside a list: {p:?}");
                if p.get("EventList").is_some_and(|v| v == "Complete") {
                    in_list = None;
                    done += 1;
                }
            }
            (Some(_), _) => panic!("a response inside a list: {p:?}"),
            (None, PacketKind::Response) => {
                let want = expected.next().unwrap();
                if want.starts_with('l') && !p.response().is_some_and(|r| r == "Success") {
                    panic!("{p:?}");
                }
                if id.as_deref() == Some(want.as_str()) && p.get("EventList").is_some() {
                    in_list = Some(want);
                } else {
                    assert_eq!(id.as_deref(), Some(want.as_str()));
                    done += 1;
                }
            }
            (None, _) => {} // events between replies are fine
        }
    }
    drop(flood);
}

#[test]
fn custom_handlers_replace_and_extend_actions() {
    let fake = FakeAsterisk::builder()
        .handler("QueueStatus", |_req, reply| {
            reply.list(
                "Queue status will follow",
                vec![Event::new("QueueParams").header("Queue", "support")],
                "QueueStatusComplete",
            );
        })
        .handler("Ping", |req, reply| {
            let echo = req.get("Echo").map(|v| v.to_string()).unwrap_or_default();
            reply.respond("Success", &[("Ping", "Pong"), ("Echo", &echo)]);
            reply.broadcast(Event::new("Pinged").header("Privilege", "system,all"));
        })
        .start();
    let mut c = Client::connect(fake.addr());
    c.login("system");
    c.packet(); // FullyBooted
    let r = c.action("Action: Ping\nActionID: 1\nEcho: hi\n");
    assert_eq!(
        r.as_bytes(),
        b"Response: Success\r\nActionID: 1\r\nPing: Pong\r\nEcho: hi\r\n\r\n"
    );
    assert_eq!(c.packet().event_name().unwrap(), "Pinged");
    c.action("Action: QueueStatus\nActionID: q\n");
    assert_eq!(c.packet().get("Queue").unwrap(), "support");
    assert_eq!(c.packet().list_items(), Some(1));
}

#[test]
fn push_event_reaches_logged_in_sessions_only() {
    let fake = FakeAsterisk::start();
    let mut logged = Client::connect(fake.addr());
    let _anonymous = Client::connect(fake.addr());
    logged.login("call");
    let sent = fake.push_event(
        &Event::new("Newchannel")
            .header("Privilege", "call,all")
            .header("Channel", "PJSIP/1"),
    );
    assert_eq!(sent, 1);
    assert_eq!(
        logged.packet().as_bytes(),
        b"Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/1\r\n\r\n"
    );
    assert_eq!(fake.push_raw(b"Event: Raw\r\nOdd: a\rb\r\n\r\n"), 1);
    assert_eq!(logged.packet().get("Odd").unwrap().as_bytes(), b"a\rb");
}
