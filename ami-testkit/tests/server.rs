//! The server itself: many clients, restart, drop, recording, TLS, floods.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use ami_proto::{Parsed, Parser};
use ami_testkit::{event_packets, Event, FakeAsterisk, Rate};
use common::Client;

#[test]
fn serves_many_clients_at_once() {
    let fake = Arc::new(FakeAsterisk::start());
    let threads: Vec<_> = (0..32)
        .map(|i| {
            let addr = fake.addr();
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                c.login("off");
                for n in 0..20 {
                    let r = c.action(&format!("Action: Ping\nActionID: c{i}-{n}\n"));
                    assert_eq!(r.action_id().unwrap().to_string(), format!("c{i}-{n}"));
                }
                c.action("Action: Logoff\n");
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(fake.client_count(), 32);
    assert!(fake.clients().iter().all(|c| c.logged_in));
}

#[test]
fn records_the_exact_bytes_each_client_sent() {
    let fake = FakeAsterisk::start();
    let mut a = Client::connect(fake.addr());
    let mut b = Client::connect(fake.addr());
    let sent_a = b"Action: Login\r\nUsername: admin\r\nSecret: amp111\r\nEvents: off\r\n\r\nAction: Ping\nActionID: lf\n\n";
    a.send(sent_a);
    a.response();
    a.response();
    b.action("Action: Ping\nActionID: x\n");
    assert_eq!(fake.recorded(0), sent_a);
    assert_eq!(fake.recorded(1), b"Action: Ping\r\nActionID: x\r\n\r\n");
    let actions = fake.recorded_actions(0);
    assert_eq!(actions[1].get("ActionID").unwrap(), "lf");
}

#[test]
fn restart_drops_everyone_and_listens_on_the_same_port() {
    let fake = FakeAsterisk::start();
    let addr = fake.addr();
    let mut c = Client::connect(addr);
    c.login("off");
    fake.restart();
    assert!(c.rest().is_empty(), "the old connection sees EOF");
    assert_eq!(fake.addr(), addr);
    let mut again = Client::connect(addr);
    again.login("off");
    assert_eq!(again.action("Action: Ping\n").get("Ping").unwrap(), "Pong");
    assert_eq!(fake.client_count(), 2);
}

#[test]
fn drop_stops_listening_and_closes_connections() {
    let fake = FakeAsterisk::start();
    let addr = fake.addr();
    let mut c = Client::connect(addr);
    c.login("off");
    drop(fake);
    assert!(c.rest().is_empty());
    assert!(TcpStream::connect(addr).is_err(), "nobody listens any more");
}

#[test]
fn listens_on_a_given_address() {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = probe.local_addr().unwrap();
    drop(probe);
    let fake = FakeAsterisk::builder().addr(addr).start();
    assert_eq!(fake.addr(), addr);
    Client::connect(addr).login("off");
}

#[test]
fn tls_with_a_certificate_made_at_start() {
    let fake = FakeAsterisk::builder().tls(true).start();
    let config = fake.tls_client_config().unwrap();
    assert!(fake
        .tls_root_pem()
        .unwrap()
        .starts_with("-----BEGIN CERTIFICATE-----"));
    for name in ["localhost", "127.0.0.1"] {
        let server_name = ami_testkit::rustls::pki_types::ServerName::try_from(name)
            .unwrap()
            .to_owned();
        let conn = ami_testkit::rustls::ClientConnection::new(config.clone(), server_name).unwrap();
        let tcp = TcpStream::connect(fake.addr()).unwrap();
        tcp.set_read_timeout(Some(common::TIMEOUT)).unwrap();
        let mut tls = ami_testkit::rustls::StreamOwned::new(conn, tcp);
        tls.write_all(b"Action: Login\r\nActionID: t\r\nUsername: admin\r\nSecret: amp111\r\nEvents: off\r\n\r\nAction: Logoff\r\n\r\n")
            .unwrap();
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match tls.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(
            raw,
            b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nActionID: t\r\nMessage: Authentication accepted\r\n\r\nResponse: Goodbye\r\nMessage: Thanks for all the fish.\r\n\r\n"
        );
    }
    assert!(
        fake.recorded(0).starts_with(b"Action: Login\r\n"),
        "plaintext is recorded"
    );
}

#[test]
fn floods_the_benchmark_corpus_events_in_order() {
    let corpus = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../corpus/asterisk-22.10.1-calls.ami"
    ))
    .unwrap();
    let events = event_packets(&corpus);
    assert!(events.len() > 20_000);
    let fake = FakeAsterisk::start();
    let mut c = Client::connect(fake.addr());
    c.login("off");
    c.action("Action: Events\nEventMask: on\n");
    let expected: Vec<u8> = events.concat();
    let flood = fake.flood(events.clone(), Rate::Unlimited);
    // Reading concurrently: the socket buffers would otherwise fill up.
    let mut got = Vec::with_capacity(expected.len());
    let mut buf = vec![0u8; 256 * 1024];
    while got.len() < expected.len() {
        let n = c.tcp.read(&mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(flood.wait(), events.len() as u64);
    assert!(
        got == expected,
        "the corpus events arrive byte for byte, in order"
    );
    let mut parser = Parser::without_banner();
    parser.feed(&got);
    let parsed = std::iter::from_fn(|| parser.next())
        .filter(|i| matches!(i, Parsed::Packet(_)))
        .count();
    assert_eq!(parsed, events.len());
}

#[test]
fn floods_over_tls_byte_for_byte() {
    let fake = FakeAsterisk::builder().tls(true).start();
    let config = fake.tls_client_config().unwrap();
    let server_name = ami_testkit::rustls::pki_types::ServerName::try_from("localhost")
        .unwrap()
        .to_owned();
    let conn = ami_testkit::rustls::ClientConnection::new(config, server_name).unwrap();
    let tcp = TcpStream::connect(fake.addr()).unwrap();
    tcp.set_read_timeout(Some(common::TIMEOUT)).unwrap();
    let mut tls = ami_testkit::rustls::StreamOwned::new(conn, tcp);
    tls.write_all(
        b"Action: Login\r\nActionID: t\r\nUsername: admin\r\nSecret: amp111\r\nEvents: off\r\n\r\n\
          Action: Events\r\nActionID: e\r\nEventMask: on\r\n\r\n",
    )
    .unwrap();
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    // The banner, then the two responses: the second ends the login.
    while !seen.ends_with(b"\r\n\r\n") || !seen.windows(13).any(|w| w == b"ActionID: e\r\n") {
        let n = tls.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "closed during the login: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    // Many events in one batch, so that the writes are written in parts.
    let events: Vec<Vec<u8>> = (0..3000)
        .map(|i| {
            format!(
                "Event: Flood\r\nPrivilege: call,all\r\nSeq: {i}\r\nPad: {}\r\n\r\n",
                "x".repeat(i % 300)
            )
            .into_bytes()
        })
        .collect();
    let expected = events.concat();
    let flood = fake.flood(events.clone(), Rate::Unlimited);
    let mut got = Vec::with_capacity(expected.len());
    while got.len() < expected.len() {
        let n = tls.read(&mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(flood.wait(), events.len() as u64);
    assert!(got == expected, "the events arrive byte for byte, in order");
}

#[test]
fn floods_at_a_rate() {
    let fake = FakeAsterisk::start();
    let mut c = Client::connect(fake.addr());
    c.login("user");
    let events = vec![
        Event::new("UserEvent")
            .header("Privilege", "user,all")
            .to_bytes();
        50
    ];
    let start = std::time::Instant::now();
    let flood = fake.flood(events, Rate::PerSecond(1000));
    for _ in 0..50 {
        assert_eq!(c.packet().event_name().unwrap(), "UserEvent");
    }
    assert_eq!(flood.wait(), 50);
    assert!(
        start.elapsed() >= std::time::Duration::from_millis(40),
        "paced, not all at once"
    );
}
