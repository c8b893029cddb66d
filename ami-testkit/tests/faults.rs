//! Every fault, injected on demand.

mod common;

use ami_proto::{MalformedReason, Parsed, Parser};
use ami_testkit::{FakeAsterisk, Fault};
use common::Client;

const PING: &[u8] = b"Action: Ping\r\nActionID: p\r\n\r\n";

fn logged_in(fake: &FakeAsterisk) -> Client {
    let mut c = Client::connect(fake.addr());
    c.login("off");
    c
}

#[test]
fn close_mid_packet() {
    let fake = FakeAsterisk::start();
    let mut c = logged_in(&fake);
    fake.set_fault(Fault::CloseMidPacket);
    c.send(PING);
    let before = c.raw.len();
    let raw = c.read_to_eof();
    let cut = &raw[before..];
    assert!(
        cut.starts_with(b"Response: Succ") && !cut.ends_with(b"\r\n\r\n"),
        "{cut:?}"
    );
    assert!(c.rest().is_empty(), "the cut packet is discarded");
}

#[test]
fn stall_reading_and_writing_then_resume() {
    let fake = FakeAsterisk::start();
    let mut c = logged_in(&fake);
    fake.set_fault(Fault::Stall {
        read: true,
        write: false,
    });
    c.send(PING);
    // Not answered while stalled: a short read times out.
    c.tcp
        .set_read_timeout(Some(std::time::Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 16];
    let err = std::io::Read::read(&mut c.tcp, &mut buf).unwrap_err();
    assert!(matches!(
        err.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    ));
    c.tcp.set_read_timeout(Some(common::TIMEOUT)).unwrap();
    fake.clear_faults();
    assert_eq!(c.packet().get("Ping").unwrap(), "Pong");

    fake.set_fault(Fault::Stall {
        read: false,
        write: true,
    });
    c.send(PING);
    // The action is read (recorded) but its reply waits.
    let recorded = fake.recorded_actions(0).len();
    assert!(recorded >= 2);
    fake.clear_faults();
    assert_eq!(c.packet().get("Ping").unwrap(), "Pong");
}

#[test]
fn garbage_and_oversized_before_the_next_packet() {
    let fake = FakeAsterisk::start();
    let mut c = logged_in(&fake);
    fake.set_fault(Fault::Garbage(b"\x00\xffnot a header\r\n\r\n".to_vec()));
    fake.add_fault(Fault::Oversized(8 * 1024 * 1024));
    c.send(PING);
    // Read straight from the socket into a fresh parser (banner already consumed).
    let mut parser = Parser::without_banner();
    let mut items = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    while !items
        .iter()
        .any(|i| matches!(i, Parsed::Packet(p) if p.get("Ping").is_some()))
    {
        let n = std::io::Read::read(&mut c.tcp, &mut buf).unwrap();
        assert!(n > 0, "EOF");
        parser.feed(&buf[..n]);
        items.extend(std::iter::from_fn(|| parser.next()));
    }
    // The parser reports it as it crosses its 4 MiB default limit.
    let limit = ami_proto::Limits::default().max_packet_bytes;
    assert!(
        items.iter().any(|i| matches!(
            i,
            Parsed::Malformed(m) if m.reason == MalformedReason::TooLarge { limit }
                && m.head.starts_with(b"Event: Oversized")
        )),
        "oversized is reported: {items:?}"
    );
    // One-shot: the next reply is clean.
    c.send(PING);
    let mut reply = Vec::new();
    while !reply.ends_with(b"\r\n\r\n") {
        let n = std::io::Read::read(&mut c.tcp, &mut buf).unwrap();
        assert!(n > 0, "EOF");
        reply.extend_from_slice(&buf[..n]);
    }
    assert!(reply.starts_with(b"Response: Success\r\nActionID: p\r\nPing: Pong"));
}

#[test]
fn bare_lf_and_crlf_lf_line_ends() {
    let fake = FakeAsterisk::start();
    let mut c = logged_in(&fake);
    fake.set_fault(Fault::BareLf);
    let len = c.raw.len();
    c.send(b"Action: Events\r\nEventMask: off\r\n\r\n");
    c.read_until_suffix(b"\n\n");
    assert_eq!(&c.raw[len..], b"Response: Success\nEvents: Off\n\n");
    fake.set_fault(Fault::CrLfLf);
    let len = c.raw.len();
    c.send(b"Action: Events\r\nEventMask: off\r\n\r\n");
    c.read_until_suffix(b"\r\n\n");
    assert_eq!(&c.raw[len..], b"Response: Success\r\nEvents: Off\r\n\n");
    fake.clear_faults();
    // The parser read both quirky packets and the next clean one.
    assert_eq!(c.packet().get("Events").unwrap(), "Off");
    assert_eq!(c.packet().get("Events").unwrap(), "Off");
    assert_eq!(c.action("Action: Ping\n").get("Ping").unwrap(), "Pong");
}

#[test]
fn responses_without_action_id() {
    let fake = FakeAsterisk::start();
    let mut c = logged_in(&fake);
    fake.set_fault(Fault::NoActionId);
    let r = c.action("Action: Ping\nActionID: gone\n");
    assert_eq!(r.action_id(), None);
    assert_eq!(r.get("Ping").unwrap(), "Pong");
}

#[test]
fn actions_that_never_get_a_reply() {
    let fake = FakeAsterisk::start();
    let mut c = logged_in(&fake);
    fake.set_fault(Fault::NoReplyTo("ping".into()));
    c.send(b"Action: Ping\r\nActionID: lost\r\n\r\nAction: Events\r\nActionID: e\r\nEventMask: off\r\n\r\n");
    let r = c.response();
    assert_eq!(
        r.action_id().unwrap(),
        "e",
        "the Ping got no reply, the next action did"
    );
}

#[test]
fn drop_after_bytes() {
    let fake = FakeAsterisk::builder()
        .fault(Fault::DropAfterBytes(40))
        .start();
    let mut c = Client::connect_raw(fake.addr());
    c.send(b"Action: Login\r\nUsername: admin\r\nSecret: amp111\r\n\r\n");
    let raw = c.read_to_eof();
    assert_eq!(raw, &b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nMessage: Authentication accepted\r\n"[..40]);
}

#[test]
fn refuse_logins() {
    let fake = FakeAsterisk::start();
    fake.set_fault(Fault::RefuseLogins);
    let mut c = Client::connect(fake.addr());
    let r = c.action("Action: Login\nUsername: admin\nSecret: amp111\n");
    assert_eq!(r.message().unwrap(), "Authentication failed");
    assert!(c.rest().is_empty());
    fake.clear_faults();
    logged_in(&fake);
}

#[test]
fn fault_on_one_client_only() {
    let fake = FakeAsterisk::start();
    let mut a = logged_in(&fake);
    let mut b = logged_in(&fake);
    fake.add_client_fault(0, Fault::NoActionId);
    assert_eq!(a.action("Action: Ping\nActionID: a\n").action_id(), None);
    assert_eq!(
        b.action("Action: Ping\nActionID: b\n").action_id().unwrap(),
        "b"
    );
}
