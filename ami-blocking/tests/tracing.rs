//! The `tracing` output of a client, captured: connect, login (user, never
//! the secret), an action's span, a restart of the server, the reconnect.
//! One test per binary: it installs the process-wide subscriber (the driver
//! runs on threads of its own).
#![cfg(feature = "tracing")]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ami_blocking::{connect, Action, Config, Credentials, Event, Reconnect};
use ami_testkit::FakeAsterisk;
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

#[test]
fn a_session_and_its_reconnect_are_traced_without_the_secret() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(LevelFilter::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

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

    let text = capture.text();
    let lines: Vec<&str> = text.lines().collect();
    let has = |needles: &[&str]| {
        lines
            .iter()
            .any(|line| needles.iter().all(|needle| line.contains(needle)))
    };
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
    assert!(!text.contains(SECRET), "the secret leaked:\n{text}");
}
