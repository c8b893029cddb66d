//! The `tracing` output of clients, captured: connect, login (user, never
//! the secret), an action's span, a restart of the server, the reconnect, a
//! refused login, a keepalive failure, malformed and unmatched packets, a
//! lagging subscriber. The subscriber is process-wide (the driver runs on
//! threads of its own); each test reads the lines of its own client, told
//! apart by the fake server's address in the client span.
#![cfg(feature = "tracing")]

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use ami_blocking::{
    connect, Action, Config, Credentials, Error, Event, Keepalive, Limits, Reconnect, Status,
};
use ami_testkit::{FakeAsterisk, Fault};
use tracing_subscriber::filter::LevelFilter;

const SECRET: &str = "s3cr3t-never-logged";

/// Everything the subscriber writes.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// The process-wide capture, installed once.
fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        let writer = capture.clone();
        tracing_subscriber::fmt()
            .with_max_level(LevelFilter::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        capture
    })
}

/// The captured lines of the client that dialled `addr`.
fn lines_of(addr: SocketAddr) -> Vec<String> {
    let address = format!("address={addr}");
    capture()
        .text()
        .lines()
        .filter(|line| line.contains(&address))
        .map(str::to_owned)
        .collect()
}

/// Whether one of `lines` holds every needle.
fn has(lines: &[String], needles: &[&str]) -> bool {
    lines
        .iter()
        .any(|line| needles.iter().all(|needle| line.contains(needle)))
}

/// Waits until one of the client's lines holds every needle.
fn eventually(addr: SocketAddr, needles: &[&str]) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let lines = lines_of(addr);
        if has(&lines, needles) {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "no line with {needles:?} in:\n{}",
            lines.join("\n")
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_session_and_its_reconnect_are_traced_without_the_secret() {
    let capture = capture();
    let fake = FakeAsterisk::builder().user("operator", SECRET).start();
    let mut config = Config::new(Credentials::plain("operator", SECRET));
    config.reconnect = Some(Reconnect {
        initial_delay: Duration::from_millis(20),
        ..Reconnect::default()
    });
    let client = connect(fake.addr(), config).unwrap();
    let mut events = client.events();
    client.send(Action::new("Ping")).wait().unwrap();

    fake.restart();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match events.recv_timeout(left) {
            Ok(Some(Event::Reconnected)) => break,
            Ok(Some(_)) => {}
            other => panic!("no reconnect: {other:?}"),
        }
    }
    client.close();
    drop(client);

    let lines = lines_of(fake.addr());
    let text = lines.join("\n");
    let has = |needles: &[&str]| has(&lines, needles);
    let address = format!("address={}", fake.addr());
    assert!(
        has(&["client{id=", &address, "connecting", "attempt=0"]),
        "{text}"
    );
    assert!(has(&[&address, "connected"]), "{text}");
    assert!(
        has(&["login ok", "user=\"operator\"", "method=\"Plain\""]),
        "{text}"
    );
    assert!(has(&[&address, "ready"]), "{text}");
    assert!(has(&["action{name=\"Ping\" action_id=", "sent"]), "{text}");
    assert!(
        has(&["action{name=\"Ping\"", "completed", "response=\"Success\""]),
        "{text}"
    );
    assert!(
        has(&["connection lost", "connection closed by the server"]),
        "{text}"
    );
    assert!(has(&["reconnecting", "attempt=0"]), "{text}");
    assert!(has(&["reconnected"]), "{text}");
    assert!(
        has(&["closed", "connection closed by the client"]),
        "{text}"
    );
    assert!(!has(&["WARN", "connection closed by the client"]), "{text}");
    let logins = lines.iter().filter(|l| l.contains("login ok")).count();
    assert_eq!(logins, 2, "{text}");
    assert!(
        !capture.text().contains(SECRET),
        "the secret leaked:\n{text}"
    );
}

#[test]
fn a_refused_login_is_traced_with_the_user_and_without_the_secret() {
    capture(); // before the client: its span must see the subscriber
    let fake = FakeAsterisk::start();
    let wrong = "wrong-secret-never-logged";
    let config = Config::new(Credentials::md5("admin", wrong));
    assert!(matches!(connect(fake.addr(), config), Err(Error::Auth(_))));
    let lines = eventually(fake.addr(), &["WARN", "login failed", "user=\"admin\""]);
    assert!(has(&lines, &["method=\"Md5\""]), "{lines:#?}");
    assert!(!capture().text().contains(wrong), "the secret leaked");
}

#[test]
fn a_keepalive_failure_is_traced() {
    capture(); // before the client: its span must see the subscriber
    let fake = FakeAsterisk::start();
    let mut config = Config::new(Credentials::plain("admin", "amp111"));
    config.keepalive = Some(Keepalive {
        interval: Duration::from_millis(50),
        timeout: Duration::from_millis(100),
    });
    let client = connect(fake.addr(), config).unwrap();
    fake.set_fault(Fault::Stall {
        read: false,
        write: true,
    });
    let lines = eventually(fake.addr(), &["WARN", "keepalive failed"]);
    assert!(
        has(&lines, &["closed", "keepalive timed out"]),
        "{lines:#?}"
    );
    assert!(matches!(client.status(), Status::Closed(_)));
}

#[test]
fn malformed_and_unmatched_packets_and_a_lagging_subscriber_are_traced() {
    capture(); // before the client: its span must see the subscriber
    let fake = FakeAsterisk::start();
    let mut config = Config::new(Credentials::plain("admin", "amp111"));
    config.limits = Limits {
        max_packet_bytes: 512,
        ..Limits::default()
    };
    config.event_capacity = 2;
    let client = connect(fake.addr(), config).unwrap();
    let mut events = client.events();
    fake.push_raw(format!("Event: Huge\r\nData: {}\r\n\r\n", "x".repeat(1000)).as_bytes());
    fake.push_raw(b"Response: Success\r\nActionID: nobody-7\r\nMessage: late\r\n\r\n");
    for n in 0..10 {
        fake.push_raw(format!("Event: Tick\r\nN: {n}\r\n\r\n").as_bytes());
    }
    // A Ping after the flood: once it is answered, everything before it was read.
    client.send(Action::new("Ping")).wait().unwrap();
    let missed = loop {
        match events.recv_timeout(Duration::from_secs(5)) {
            Ok(Some(Event::Lagged(missed))) => break missed,
            Ok(Some(_)) => {}
            other => panic!("no Lagged: {other:?}"),
        }
    };
    let lines = eventually(fake.addr(), &["WARN", "event subscriber fell behind"]);
    assert!(
        has(&lines, &["fell behind", &format!("missed={missed}")]),
        "{lines:#?}"
    );
    // The subscriber took nothing until the Ping was answered: the pump
    // waited for it once, in vain, before it read on.
    assert!(
        has(
            &lines,
            &[
                "DEBUG",
                "waited in vain for an event subscriber",
                "wait_us=5000"
            ]
        ),
        "{lines:#?}"
    );
    assert!(
        has(
            &lines,
            &[
                "WARN",
                "malformed packet dropped",
                "TooLarge",
                "size=",
                "head=Event: Huge"
            ]
        ),
        "{lines:#?}"
    );
    assert!(
        has(
            &lines,
            &[
                "unmatched response",
                "action_id=\"nobody-7\"",
                "response=\"Success\""
            ]
        ),
        "{lines:#?}"
    );
}
