//! What a real Asterisk 22.10.1 does around login and filters (PROTOCOL.md section
//! 5, issue 10), reproduced by the fake: the login reply and its events in one
//! write, events flowing until a `Filter`'s reply, and a whitelist filter blocking
//! `OriginateResponse`.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use ami_proto::{Packet, PacketKind, Parsed, Parser};
use ami_testkit::{Event, FakeAsterisk, Rate};
use common::{fixture, parse_all, Client, TIMEOUT};

const LOGIN: &str = "Action: Login\r\nActionID: login\r\nUsername: admin\r\nSecret: amp111\r\n";

/// Connects, reads the banner line, sends `login` and returns what ONE read gives.
fn login_in_one_read(fake: &FakeAsterisk, events: Option<&str>) -> Vec<u8> {
    let mut tcp = TcpStream::connect(fake.addr()).unwrap();
    tcp.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut banner = Vec::new();
    let mut byte = [0u8; 1];
    while !banner.ends_with(b"\r\n") {
        assert_eq!(tcp.read(&mut byte).unwrap(), 1, "EOF in the banner");
        banner.push(byte[0]);
    }
    assert_eq!(banner, b"Asterisk Call Manager/11.0.0\r\n");
    let events = events.map_or(String::new(), |e| format!("Events: {e}\r\n"));
    tcp.write_all(format!("{LOGIN}{events}\r\n").as_bytes())
        .unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let n = tcp.read(&mut buf).unwrap();
    buf.truncate(n);
    buf
}

fn keys(packet: &Packet) -> Vec<String> {
    packet
        .fields()
        .map(|f| String::from_utf8_lossy(f.key).into_owned())
        .collect()
}

#[test]
fn login_reply_fully_booted_and_successful_auth_come_in_one_read() {
    let fake = FakeAsterisk::start();
    let got = login_in_one_read(&fake, None);
    assert!(
        got.ends_with(b"\r\n\r\n"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    let mut parser = Parser::without_banner();
    parser.feed(&got);
    let got: Vec<Packet> = parser
        .by_ref()
        .map(|item| match item {
            Parsed::Packet(p) => p,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(parser.buffered(), 0);
    // The same packets, in the same order and with the same headers, as the real
    // server's first three after its banner.
    let real = parse_all(&fixture("01_banner_login_ping.server"));
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(
        got[0].as_bytes(),
        b"Response: Success\r\nActionID: login\r\nMessage: Authentication accepted\r\n\r\n"
    );
    for (got, real) in got.iter().zip(&real) {
        assert_eq!(keys(got), keys(real));
        assert_eq!(got.event_name(), real.event_name());
        assert_eq!(got.get("Privilege"), real.get("Privilege"));
    }
    let auth = &got[2];
    assert_eq!(auth.get("AccountID").unwrap(), "admin");
    let tv = auth.get("EventTV").unwrap().to_string();
    assert!(
        tv.len() == 28 && tv.ends_with("+0000") && tv.as_bytes()[10] == b'T',
        "{tv}"
    );
    assert_eq!(auth.get("SessionTV").unwrap(), &tv[..]);
    assert_eq!(
        auth.get("LocalAddress").unwrap().to_string(),
        format!("IPV4/TCP/127.0.0.1/{}", fake.addr().port())
    );
}

#[test]
fn login_events_follow_the_events_mask() {
    // FullyBooted needs the system class, SuccessfulAuth the security class, as in
    // Asterisk's action_login; still one read.
    let fake = FakeAsterisk::start();
    for (mask, names) in [
        ("off", &[][..]),
        ("call", &[]),
        ("system", &["FullyBooted"]),
        ("security,call", &["SuccessfulAuth"]),
        ("on", &["FullyBooted", "SuccessfulAuth"]),
    ] {
        let got = parse_all_without_banner(&login_in_one_read(&fake, Some(mask)));
        assert_eq!(got[0].message().unwrap(), "Authentication accepted");
        let events: Vec<String> = got[1..]
            .iter()
            .map(|p| p.event_name().unwrap().to_string())
            .collect();
        assert_eq!(events, names, "Events: {mask}");
    }
}

fn parse_all_without_banner(bytes: &[u8]) -> Vec<Packet> {
    let mut parser = Parser::without_banner();
    parser.feed(bytes);
    parser
        .filter_map(|i| match i {
            Parsed::Packet(p) => Some(p),
            _ => None,
        })
        .collect()
}

/// Reads packets until a response with this ActionID; returns all of them.
fn until_response(c: &mut Client, id: &str) -> Vec<Packet> {
    let mut seen = Vec::new();
    loop {
        let p = c.packet();
        let done = p.kind() == PacketKind::Response && p.action_id().is_some_and(|a| a == id);
        seen.push(p);
        if done {
            return seen;
        }
    }
}

fn event_names(packets: &[Packet]) -> Vec<String> {
    packets
        .iter()
        .filter(|p| p.kind() == PacketKind::Event)
        .map(|p| p.event_name().unwrap().to_string())
        .collect()
}

#[test]
fn events_a_filter_blocks_arrive_until_its_reply() {
    // Login, a whitelist Filter and a Ping sent in one write, as a client that
    // applies its filters right after login does.
    let fake = FakeAsterisk::builder().login_burst(30).start();
    let mut c = Client::connect(fake.addr());
    c.send(
        format!(
            "{LOGIN}\r\nAction: Filter\r\nActionID: f\r\nOperation: Add\r\nFilter: Event: Hangup\r\n\r\n\
             Action: Ping\r\nActionID: p\r\n\r\n"
        )
        .as_bytes(),
    );
    let before = until_response(&mut c, "f");
    assert_eq!(before[0].message().unwrap(), "Authentication accepted");
    let names = event_names(&before);
    assert_eq!(&names[..2], ["FullyBooted", "SuccessfulAuth"]);
    // The burst: 10 calls of Newchannel, Newstate, Hangup, none held back.
    let burst = &names[2..];
    assert_eq!(burst.len(), 30, "{names:?}");
    assert_eq!(burst.iter().filter(|n| *n == "Newchannel").count(), 10);
    assert_eq!(burst.iter().filter(|n| *n == "Hangup").count(), 10);
    assert_eq!(before.last().unwrap().message().unwrap(), "Success");
    // From the Filter's reply on, the filter is in force.
    assert!(event_names(&until_response(&mut c, "p")).is_empty());
    let newchannel = Event::new("Newchannel").header("Privilege", "call,all");
    assert_eq!(fake.push_event(&newchannel), 0);
    let hangup = Event::new("Hangup").header("Privilege", "call,all");
    assert_eq!(fake.push_event(&hangup), 1);
    assert_eq!(c.packet().event_name().unwrap(), "Hangup");
}

/// Small call events, Newchannel and Hangup in turn.
fn flood_events(count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            let name = if i % 2 == 0 { "Newchannel" } else { "Hangup" };
            Event::new(name)
                .header("Privilege", "call,all")
                .header("Channel", format!("PJSIP/flood-{i:08x}"))
                .to_bytes()
        })
        .collect()
}

#[test]
fn under_a_flood_a_filter_takes_effect_exactly_at_its_reply() {
    let fake = FakeAsterisk::builder().login_burst(9).start();
    let mut c = Client::connect(fake.addr());
    let flood = fake.flood(flood_events(100_000), Rate::PerSecond(40_000));
    c.send(
        format!(
            "{LOGIN}\r\nAction: Filter\r\nActionID: f\r\nOperation: Add\r\nFilter: Event: Hangup\r\n\r\n"
        )
        .as_bytes(),
    );
    let before = until_response(&mut c, "f");
    assert!(event_names(&before).contains(&"Newchannel".to_owned()));
    // After the reply: only what the filter lets through, burst or flood.
    let started = Instant::now();
    let mut hangups = 0;
    while hangups < 300 {
        let p = c.packet();
        assert_eq!(p.event_name().unwrap(), "Hangup", "after the Filter reply");
        hangups += 1;
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "flood too slow"
        );
    }
    flood.stop();
}

#[test]
fn events_off_then_filter_then_events_on_lets_none_through() {
    // The order that closes the window on 22.10.1 (PROTOCOL.md section 5).
    let fake = FakeAsterisk::builder().login_burst(30).start();
    let mut c = Client::connect(fake.addr());
    let flood = fake.flood(flood_events(100_000), Rate::PerSecond(40_000));
    c.send(
        format!(
            "{LOGIN}Events: off\r\n\r\n\
             Action: Filter\r\nActionID: f\r\nOperation: Add\r\nFilter: Event: Hangup\r\n\r\n\
             Action: Events\r\nActionID: e\r\nEventMask: on\r\n\r\n"
        )
        .as_bytes(),
    );
    let mut replies = 0;
    let mut hangups = 0;
    let started = Instant::now();
    while hangups < 300 {
        let p = c.packet();
        match p.kind() {
            PacketKind::Response => replies += 1,
            _ => {
                assert_eq!(replies, 3, "no event before the Events reply: {p:?}");
                assert_eq!(p.event_name().unwrap(), "Hangup");
                hangups += 1;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "flood too slow"
        );
    }
    flood.stop();
}

#[test]
fn a_whitelist_filter_blocks_originate_response() {
    let fake = FakeAsterisk::start();
    let mut filtered = Client::connect(fake.addr());
    filtered.login("on");
    let f = filtered.action("Action: Filter\nOperation: Add\nFilter: Event: Hangup\n");
    assert_eq!(f.message().unwrap(), "Success");
    let mut plain = Client::connect(fake.addr());
    plain.login("on");

    // A call that fails: its Hangup reaches the filtered session, its outcome not.
    filtered.send(
        b"Action: Originate\r\nActionID: o1\r\nChannel: PJSIP/busy\r\nExten: 100\r\nContext: test\r\nAsync: true\r\n\r\n",
    );
    filtered.send(b"Action: Ping\r\nActionID: p1\r\n\r\n");
    let seen = until_response(&mut filtered, "p1");
    assert_eq!(seen[0].message().unwrap(), "Originate successfully queued");
    assert_eq!(event_names(&seen), ["Hangup"]);
    // The session without filters gets it, with the request's ActionID.
    let outcome = plain.event("OriginateResponse");
    assert_eq!(outcome.action_id().unwrap(), "o1");
    assert_eq!(outcome.get("Response").unwrap(), "Failure");

    // The same for an answered call; a filter naming it lets it through.
    filtered.send(
        b"Action: Originate\r\nActionID: o2\r\nChannel: PJSIP/100\r\nExten: 100\r\nContext: test\r\nAsync: true\r\n\r\n",
    );
    filtered.send(b"Action: Ping\r\nActionID: p2\r\n\r\n");
    assert!(event_names(&until_response(&mut filtered, "p2")).is_empty());
    assert_eq!(plain.event("OriginateResponse").action_id().unwrap(), "o2");
    filtered.action("Action: Filter\nOperation: Add\nFilter: Event: OriginateResponse\n");
    filtered.send(
        b"Action: Originate\r\nActionID: o3\r\nChannel: PJSIP/100\r\nExten: 100\r\nContext: test\r\nAsync: true\r\n\r\n",
    );
    assert_eq!(
        filtered.event("OriginateResponse").action_id().unwrap(),
        "o3"
    );
}

#[test]
fn filters_match_the_whole_event_text_as_posix_regexes() {
    let fake = FakeAsterisk::start();
    let mut c = Client::connect(fake.addr());
    c.login("off");
    c.action("Action: Events\nEventMask: on\n");
    // Any header can be matched, and `.` crosses line ends as in regcomp without
    // REG_NEWLINE.
    c.action("Action: Filter\nOperation: Add\nFilter: Event: Newchannel.*Channel: PJSIP/7\n");
    c.action("Action: Filter\nOperation: Add\nFilter: Privilege: agent\n");
    let push = |name: &str, privilege: &str, channel: &str| {
        fake.push_event(
            &Event::new(name)
                .header("Privilege", privilege)
                .header("Channel", channel),
        )
    };
    assert_eq!(push("Newchannel", "call,all", "PJSIP/7-1"), 1);
    assert_eq!(push("Newchannel", "call,all", "PJSIP/8-1"), 0);
    assert_eq!(push("Hangup", "call,all", "PJSIP/7-1"), 0);
    assert_eq!(push("AgentLogin", "agent,all", "PJSIP/8-1"), 1);
    assert_eq!(c.packet().get("Channel").unwrap(), "PJSIP/7-1");
    assert_eq!(c.packet().event_name().unwrap(), "AgentLogin");
}
