//! Serving a recorded session: a raw client gets the recorded replies with its own
//! ActionIDs, the recorded unsolicited events after the exchange they followed,
//! and the fake's own behaviour for what the recording does not hold.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use ami_testkit::{Direction, FakeAsterisk, Recording};

/// Reads until `raw` ends with `suffix` (the read timeout is only a safety net).
fn read_until(tcp: &mut TcpStream, raw: &mut Vec<u8>, suffix: &[u8]) {
    let mut buf = [0u8; 4096];
    while !raw.ends_with(suffix) {
        let n = tcp.read(&mut buf).expect("read");
        assert!(
            n > 0,
            "server closed; got {:?}",
            String::from_utf8_lossy(raw)
        );
        raw.extend_from_slice(&buf[..n]);
    }
}

fn recording() -> Recording {
    let mut r = Recording::default();
    r.push(Direction::Server, 0, b"Asterisk Call Manager/7.0.3\r\n");
    r.push(
        Direction::Client,
        1,
        b"Action: Login\r\nActionID: rec-1\r\nUsername: admin\r\nSecret: ******\r\n\r\n",
    );
    r.push(
        Direction::Server,
        2,
        b"Response: Success\r\nActionID: rec-1\r\nMessage: Authentication accepted\r\n\r\n\
          Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n",
    );
    r.push(Direction::Server, 40, b"Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/from-production-00000042\r\n\r\n");
    r.push(
        Direction::Client,
        50,
        b"Action: CoreShowChannels\r\nActionID: rec-2\r\n\r\n",
    );
    r.push(
        Direction::Server,
        51,
        b"Response: Success\r\nActionID: rec-2\r\nEventList: start\r\nMessage: Channels will follow\r\n\r\n\
          Event: CoreShowChannel\r\nActionID: rec-2\r\nChannel: PJSIP/from-production-00000042\r\n\r\n\
          Event: CoreShowChannelsComplete\r\nActionID: rec-2\r\nEventList: Complete\r\nListItems: 1\r\n\r\n",
    );
    r
}

#[test]
fn a_recording_is_replayed_with_the_clients_action_ids_and_its_events() {
    // Through the file format, as `ami fake --replay` reads it.
    let recording = Recording::parse(&recording().to_bytes()).expect("round trip");
    let fake = FakeAsterisk::builder().recording(&recording).start();
    let mut tcp = TcpStream::connect(fake.addr()).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut raw = Vec::new();
    read_until(&mut tcp, &mut raw, b"Asterisk Call Manager/7.0.3\r\n");

    // A wrong secret is refused: the recording holds none to compare with.
    tcp.write_all(b"Action: Login\r\nActionID: a\r\nUsername: admin\r\nSecret: nope\r\n\r\n")
        .unwrap();
    let mut refused = Vec::new();
    read_until(&mut tcp, &mut refused, b"\r\n\r\n");
    assert!(
        refused.starts_with(b"Response: Error\r\nActionID: a\r\nMessage: Authentication failed")
    );

    let mut tcp = TcpStream::connect(fake.addr()).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut raw = Vec::new();
    tcp.write_all(
        b"Action: Login\r\nActionID: mine-1\r\nUsername: admin\r\nSecret: amp111\r\n\r\n",
    )
    .unwrap();
    read_until(&mut tcp, &mut raw, b"from-production-00000042\r\n\r\n");
    assert_eq!(
        raw,
        b"Asterisk Call Manager/7.0.3\r\n\
          Response: Success\r\nActionID: mine-1\r\nMessage: Authentication accepted\r\n\r\n\
          Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n\
          Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/from-production-00000042\r\n\r\n"
    );
    assert!(fake.clients()[1].logged_in);

    let mut list = Vec::new();
    tcp.write_all(b"Action: CoreShowChannels\r\nActionID: mine-2\r\n\r\n")
        .unwrap();
    read_until(&mut tcp, &mut list, b"ListItems: 1\r\n\r\n");
    let text = String::from_utf8(list).unwrap();
    assert_eq!(text.matches("ActionID: mine-2\r\n").count(), 3, "{text}");
    assert!(!text.contains("rec-2"), "{text}");

    // Not in the recording: the fake's own Ping.
    let mut pong = Vec::new();
    tcp.write_all(b"Action: Ping\r\nActionID: mine-3\r\n\r\n")
        .unwrap();
    read_until(&mut tcp, &mut pong, b"\r\n\r\n");
    assert!(pong.starts_with(b"Response: Success\r\nActionID: mine-3\r\nPing: Pong\r\n"));
}
