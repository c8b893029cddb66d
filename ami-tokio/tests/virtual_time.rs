//! The core's timeouts run on tokio's clock: with a paused clock, a 5 s action
//! deadline and a 30 s keepalive death take no wall-clock time. The "server" is
//! the other half of an in-memory duplex, scripted in the test, so auto-advance
//! happens only when both sides are idle: deterministic.

use std::time::Duration;

use ami_proto::Keepalive;
use ami_tokio::{Action, Client, Config, Credentials, Error, Event};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf};
use tokio::time::Instant;

struct Server {
    rd: ReadHalf<DuplexStream>,
    wr: WriteHalf<DuplexStream>,
    buf: Vec<u8>,
}

impl Server {
    /// Reads one packet the client wrote (up to the blank line).
    async fn read_packet(&mut self) -> String {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let packet: Vec<u8> = self.buf.drain(..end + 4).collect();
                return String::from_utf8(packet).unwrap();
            }
            let mut chunk = [0u8; 4096];
            let n = self.rd.read(&mut chunk).await.unwrap();
            assert!(n > 0, "client closed");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn action_id(packet: &str) -> &str {
    packet
        .lines()
        .find_map(|line| line.strip_prefix("ActionID: "))
        .expect("an ActionID")
}

/// A client logged in over a duplex, its driver spawned, and the server side.
async fn logged_in() -> (Client, tokio::task::JoinHandle<Result<(), Error>>, Server) {
    let mut config = Config::new(Credentials::plain("admin", "amp111"));
    config.keepalive = Some(Keepalive {
        interval: Duration::from_secs(20),
        timeout: Duration::from_secs(10),
    });
    logged_in_with(config).await
}

/// [`logged_in`] with `config`.
async fn logged_in_with(
    config: Config,
) -> (Client, tokio::task::JoinHandle<Result<(), Error>>, Server) {
    let (near, far) = tokio::io::duplex(1 << 16);
    let (client, driver) = ami_tokio::from_stream(near, config);
    let driver = tokio::spawn(driver);
    let (rd, wr) = tokio::io::split(far);
    let mut server = Server {
        rd,
        wr,
        buf: Vec::new(),
    };
    server
        .wr
        .write_all(b"Asterisk Call Manager/11.0.0\r\n")
        .await
        .unwrap();
    let login = server.read_packet().await;
    assert!(login.starts_with("Action: Login\r\n"), "{login}");
    let reply = format!(
        "Response: Success\r\nActionID: {}\r\nMessage: Authentication accepted\r\n\r\n",
        action_id(&login)
    );
    server.wr.write_all(reply.as_bytes()).await.unwrap();
    // Prove the session is up: a Ping answered.
    let ping = tokio::spawn({
        let client = client.clone();
        async move { client.send(Action::new("Ping")).await }
    });
    let packet = server.read_packet().await;
    let pong = format!(
        "Response: Success\r\nActionID: {}\r\nPing: Pong\r\n\r\n",
        action_id(&packet)
    );
    server.wr.write_all(pong.as_bytes()).await.unwrap();
    let reply = ping.await.unwrap().unwrap();
    assert_eq!(reply.response().get("Ping").unwrap(), "Pong");
    (client, driver, server)
}

#[tokio::test(start_paused = true)]
async fn per_action_timeout_uses_tokio_virtual_clock() {
    let wall = std::time::Instant::now();
    let (client, _driver, mut server) = logged_in().await;
    let start = Instant::now();
    let lost = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .send(Action::new("Ping").timeout(Duration::from_secs(5)))
                .await
        }
    });
    let packet = server.read_packet().await; // read, never answered
    assert!(packet.starts_with("Action: Ping\r\n"));
    let result = lost.await.unwrap();
    assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(5) && waited < Duration::from_millis(5_100),
        "{waited:?}"
    );
    // The session goes on: a later action is answered.
    let next = tokio::spawn({
        let client = client.clone();
        async move { client.send(Action::new("Ping")).await }
    });
    let packet = server.read_packet().await;
    let pong = format!(
        "Response: Success\r\nActionID: {}\r\nPing: Pong\r\n\r\n",
        action_id(&packet)
    );
    server.wr.write_all(pong.as_bytes()).await.unwrap();
    assert!(next.await.unwrap().is_ok());
    assert!(
        wall.elapsed() < Duration::from_secs(4),
        "virtual time, not wall time"
    );
}

#[tokio::test(start_paused = true)]
async fn keepalive_closes_a_stalled_link_on_virtual_time() {
    let wall = std::time::Instant::now();
    let (client, driver, mut server) = logged_in().await;
    let mut events = client.events();
    let start = Instant::now();
    let pending = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .send(Action::new("Ping").timeout(Duration::from_secs(600)))
                .await
        }
    });
    let packet = server.read_packet().await; // the user's Ping: never answered
    assert!(packet.starts_with("Action: Ping\r\n"));
    // After 20 s of silence the core pings; the stalled server stays silent.
    let keepalive = server.read_packet().await;
    assert!(keepalive.starts_with("Action: Ping\r\n"));
    assert!(start.elapsed() >= Duration::from_secs(20));
    let result = pending.await.unwrap();
    assert!(
        matches!(
            result,
            Err(Error::Closed(ami_proto::Reason::KeepaliveTimeout))
        ),
        "{result:?}"
    );
    let dead_after = start.elapsed();
    // 20 s interval + 10 s timeout (less the 1 ms that keeps it ahead of the Ping's
    // own 10 s action deadline; see the driver's `session_config`).
    assert!(
        dead_after >= Duration::from_millis(29_990) && dead_after <= Duration::from_secs(30),
        "{dead_after:?}"
    );
    assert_eq!(
        events.next().await,
        Some(Event::Disconnected(ami_proto::Reason::KeepaliveTimeout))
    );
    assert_eq!(events.next().await, None, "no reconnect: the stream ends");
    assert!(matches!(
        driver.await.unwrap(),
        Err(Error::Closed(ami_proto::Reason::KeepaliveTimeout))
    ));
    assert!(client.is_closed());
    assert!(matches!(
        client.send(Action::new("Ping")).await,
        Err(Error::Closed(ami_proto::Reason::KeepaliveTimeout))
    ));
    assert!(
        wall.elapsed() < Duration::from_secs(4),
        "virtual time, not wall time"
    );
}

/// Subscribers of 16 events, and a pump that waits at most 1 s for one that
/// is behind.
fn waiting_config() -> Config {
    Config {
        event_capacity: 16,
        subscriber_wait: Duration::from_secs(1),
        ..Config::new(Credentials::plain("admin", "amp111"))
    }
}

/// `n` events of 64 bytes, the smallest a pump's slices count on, numbered
/// from `first`.
fn ticks(first: usize, n: usize) -> Vec<u8> {
    (first..first + n)
        .flat_map(|seq| {
            let head = format!("Event: Tick\r\nSeq: {seq:05}\r\nPad: ");
            let pad = "x".repeat(64 - head.len() - 4);
            format!("{head}{pad}\r\n\r\n").into_bytes()
        })
        .collect()
}

/// A Ping sent now: the server reads it (returning when it did, on the
/// virtual clock) and answers; the reply's task is returned.
async fn ping(
    client: &Client,
    server: &mut Server,
) -> (
    Duration,
    tokio::task::JoinHandle<Result<ami_tokio::Reply, Error>>,
) {
    let start = Instant::now();
    let reply = tokio::spawn({
        let client = client.clone();
        async move { client.send(Action::new("Ping")).await }
    });
    let packet = server.read_packet().await;
    let read_after = start.elapsed();
    let pong = format!(
        "Response: Success\r\nActionID: {}\r\nPing: Pong\r\n\r\n",
        action_id(&packet)
    );
    server.wr.write_all(pong.as_bytes()).await.unwrap();
    (read_after, reply)
}

/// A subscriber that is never read costs the pump one `subscriber_wait`,
/// not one per read: it is not waited for again until it comes for its
/// events, and it lags as it would with no waits. Meanwhile the pump keeps
/// writing: an action sent during the wait reaches the server at once.
#[tokio::test(start_paused = true)]
async fn a_forgotten_subscriber_costs_one_wait() {
    let (client, _driver, mut server) = logged_in_with(waiting_config()).await;
    let mut forgotten = client.events();
    for round in 0..2 {
        let start = Instant::now();
        // 200 events: 25 pump slices of 8 (half the queue) at most.
        server.wr.write_all(&ticks(0, 200)).await.unwrap();
        let (written_after, reply) = ping(&client, &mut server).await;
        assert_eq!(written_after, Duration::ZERO, "written during the wait");
        reply.await.unwrap().unwrap();
        // The Pong came after the events: it was read once the wait ended.
        let waited = start.elapsed();
        assert_eq!(waited, Duration::from_secs(1), "round {round}: one wait");
        assert_eq!(forgotten.next().await, Some(Event::Lagged(200 - 16)));
        for seq in 200 - 16..200 {
            match forgotten.next().await {
                Some(Event::Event(p)) => assert_eq!(p.get("Seq").unwrap(), &*format!("{seq:05}")),
                other => panic!("round {round}: {other:?}"),
            }
        }
    }
}

/// A subscriber that takes its events as they come loses none, however
/// small its queue, and costs the pump no wait: it runs while the pump waits
/// and ends the wait when it takes.
#[tokio::test(start_paused = true)]
async fn a_subscriber_keeping_up_costs_no_wait() {
    const EVENTS: usize = 5_000;
    let (client, _driver, mut server) = logged_in_with(waiting_config()).await;
    let mut events = client.events();
    let reader = tokio::spawn(async move {
        for seq in 0..EVENTS {
            match events.next().await {
                Some(Event::Event(p)) => assert_eq!(p.get("Seq").unwrap(), &*format!("{seq:05}")),
                other => panic!("after {seq} events: {other:?}"),
            }
        }
    });
    let start = Instant::now();
    // In writes of 500: the duplex holds 64 KiB.
    for first in (0..EVENTS).step_by(500) {
        server.wr.write_all(&ticks(first, 500)).await.unwrap();
    }
    reader.await.unwrap();
    let (_, reply) = ping(&client, &mut server).await;
    reply.await.unwrap().unwrap();
    assert_eq!(start.elapsed(), Duration::ZERO, "no wait ran out");
}
