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
    let (near, far) = tokio::io::duplex(1 << 16);
    let mut config = Config::new(Credentials::plain("admin", "amp111"));
    config.keepalive = Some(Keepalive {
        interval: Duration::from_secs(20),
        timeout: Duration::from_secs(10),
    });
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
