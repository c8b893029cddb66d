//! ami-proto's sans-IO `HttpSession`, driven over real sockets against the fake's
//! `/rawman`: a throwaway driver (one thread per exchange, `Connection: close`)
//! stands in for the adapters, which is enough to show the two agree.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ami_proto::http::{HttpRequest, HttpSession, RequestId};
use ami_proto::{
    Action, Config, Credentials, Error, Event, Reason, Reconnect, Reply, Status, Update,
};
use ami_testkit::FakeAsterisk;

/// An answer: status, `Set-Cookie`, body.
type Answer = (u16, Option<Vec<u8>>, Vec<u8>);
type Exchanged = (RequestId, Result<Answer, String>);

fn exchange(addr: SocketAddr, request: &HttpRequest) -> Result<Answer, String> {
    let mut tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n",
        match request.method {
            ami_proto::http::Method::Get => "GET",
            ami_proto::http::Method::Post => "POST",
        },
        request.target()
    );
    if let Some(cookie) = &request.cookie {
        head.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    let body = request.body().unwrap_or_default();
    if let Some(kind) = request.content_type() {
        head.push_str(&format!(
            "Content-Type: {kind}\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    tcp.write_all(&bytes).map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("connection closed before the answer")?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("bad status line")?;
    let set_cookie = head.split("\r\n").find_map(|line| {
        let (name, value) = line.split_once(": ")?;
        name.eq_ignore_ascii_case("Set-Cookie")
            .then(|| value.as_bytes().to_vec())
    });
    Ok((status, set_cookie, raw[end + 4..].to_vec()))
}

struct Driver {
    http: HttpSession,
    addr: SocketAddr,
    tx: mpsc::Sender<Exchanged>,
    rx: mpsc::Receiver<Exchanged>,
    updates: Vec<Update>,
}

impl Driver {
    fn new(config: Config, addr: SocketAddr) -> Driver {
        let (tx, rx) = mpsc::channel();
        Driver {
            http: HttpSession::new(config, "/", 42, Instant::now()),
            addr,
            tx,
            rx,
            updates: Vec::new(),
        }
    }

    /// Drives until `done` holds for the updates so far (10 s at most).
    fn run_until(&mut self, done: impl Fn(&[Update], &HttpSession) -> bool) {
        let give_up = Instant::now() + Duration::from_secs(10);
        loop {
            while let Some(request) = self.http.poll_request() {
                let (tx, addr) = (self.tx.clone(), self.addr);
                std::thread::spawn(move || {
                    let _ = tx.send((request.id, exchange(addr, &request)));
                });
            }
            self.updates
                .extend(std::iter::from_fn(|| self.http.poll_update()));
            if done(&self.updates, &self.http) {
                return;
            }
            assert!(Instant::now() < give_up, "stuck: {:?}", self.updates);
            let now = Instant::now();
            let wait = self
                .http
                .poll_timeout()
                .map_or(Duration::from_millis(100), |at| {
                    at.saturating_duration_since(now)
                })
                .min(Duration::from_millis(100));
            match self.rx.recv_timeout(wait) {
                Ok((id, Ok((status, cookie, body)))) => {
                    self.http
                        .handle_response(id, status, cookie.as_deref(), &body, Instant::now())
                }
                Ok((id, Err(error))) => self.http.handle_failure(id, error, Instant::now()),
                Err(_) => self.http.handle_timeout(Instant::now()),
            }
        }
    }

    fn send(&mut self, action: Action) -> Result<Reply, Error> {
        let id = self.http.send_action(action, Instant::now()).unwrap();
        self.run_until(|updates, _| {
            updates
                .iter()
                .any(|u| matches!(u, Update::Reply { id: got, .. } if *got == id))
        });
        let at = self
            .updates
            .iter()
            .position(|u| matches!(u, Update::Reply { id: got, .. } if *got == id))
            .unwrap();
        match self.updates.remove(at) {
            Update::Reply { result, .. } => result,
            _ => unreachable!(),
        }
    }

    fn events(&self) -> Vec<String> {
        self.updates
            .iter()
            .filter_map(|u| match u {
                Update::Event(Event::Event(p)) => Some(p.event_name()?.to_string()),
                _ => None,
            })
            .collect()
    }
}

fn config() -> Config {
    Config::new(Credentials::plain("admin", "amp111"))
}

#[test]
fn the_session_runs_over_the_fakes_rawman() {
    let fake = FakeAsterisk::builder()
        .http(true)
        .command_output("core show channels count", "0 active channels")
        .start();
    let mut driver = Driver::new(config(), fake.http_addr().unwrap());
    driver.run_until(|_, http| http.status() == &Status::Ready);

    let pong = driver.send(Action::new("Ping")).unwrap();
    assert_eq!(pong.response().get("Ping").unwrap(), "Pong");

    let output = driver
        .send(Action::new("Command").header("Command", "core show channels count"))
        .unwrap();
    let lines: Vec<String> = output
        .response()
        .command_output()
        .map(|l| l.to_string())
        .collect();
    assert_eq!(lines, ["0 active channels"]);

    // Async Originate: its outcome comes through the long-poll.
    let originate = Action::new("Originate")
        .header("Channel", "Local/101@test")
        .header("Application", "Wait")
        .header("Data", "30")
        .header("Async", "true");
    match driver.send(originate) {
        Ok(Reply::Originate(outcome)) => assert_eq!(outcome.reason(), Some(4)),
        other => panic!("{other:?}"),
    }
    match driver.send(Action::new("CoreShowChannels")) {
        Ok(Reply::List(list)) => {
            assert!(list.verify().is_ok());
            assert!(!list.items.is_empty());
        }
        other => panic!("{other:?}"),
    }

    // 200 pushed events, in order, none lost across the long-polls.
    let before = driver.events().len();
    for i in 0..200 {
        fake.push_event(
            &ami_testkit::Event::new("UserEvent")
                .header("Privilege", "user,all")
                .header("UserEvent", format!("n{i}")),
        );
    }
    driver.run_until(|updates, _| {
        updates
            .iter()
            .filter(|u| matches!(u, Update::Event(Event::Event(p)) if p.is("Event", "UserEvent")))
            .count()
            >= 200
    });
    let seen: Vec<String> = driver
        .updates
        .iter()
        .filter_map(|u| match u {
            Update::Event(Event::Event(p)) if p.is("Event", "UserEvent") => {
                Some(p.get("UserEvent")?.to_string())
            }
            _ => None,
        })
        .collect();
    let expected: Vec<String> = (0..200).map(|i| format!("n{i}")).collect();
    assert_eq!(seen, expected);
    assert!(driver.events().len() >= before + 200);

    // 200 concurrent actions.
    let ids: Vec<_> = (0..200)
        .map(|_| {
            driver
                .http
                .send_action(Action::new("Ping"), Instant::now())
                .unwrap()
        })
        .collect();
    driver.run_until(|updates, _| {
        ids.iter().all(|id| {
            updates
                .iter()
                .any(|u| matches!(u, Update::Reply { id: got, result: Ok(_) } if got == id))
        })
    });

    // Logoff: closed for good.
    driver.send(Action::new("Logoff")).unwrap();
    assert_eq!(driver.http.status(), &Status::Closed(Reason::LoggedOff));
}

#[test]
fn a_wrong_secret_closes_with_auth_failed() {
    let fake = FakeAsterisk::builder().http(true).start();
    let config = Config::new(Credentials::md5("admin", "wrong"));
    let mut driver = Driver::new(config, fake.http_addr().unwrap());
    driver.run_until(|_, http| matches!(http.status(), Status::Closed(_)));
    assert!(matches!(
        driver.http.status(),
        Status::Closed(Reason::AuthFailed(_))
    ));
}

#[test]
fn md5_login_works_over_http() {
    let fake = FakeAsterisk::builder().http(true).start();
    let config = Config::new(Credentials::md5("admin", "amp111"));
    let mut driver = Driver::new(config, fake.http_addr().unwrap());
    driver.run_until(|_, http| http.status() == &Status::Ready);
    assert!(driver.send(Action::new("Ping")).is_ok());
}

#[test]
fn an_expired_session_logs_in_again_under_the_policy() {
    let fake = FakeAsterisk::builder().http(true).start();
    let config = Config {
        reconnect: Some(Reconnect {
            initial_delay: Duration::from_millis(50),
            ..Reconnect::default()
        }),
        ..config()
    };
    let mut driver = Driver::new(config, fake.http_addr().unwrap());
    driver.run_until(|_, http| http.status() == &Status::Ready);
    let first = driver.http.session_id().unwrap().to_owned();
    fake.expire_http_sessions();
    // The long-poll in flight ends with the session; the next one meets
    // Permission denied.
    driver.run_until(|updates, http| {
        http.status() == &Status::Ready
            && updates
                .iter()
                .any(|u| matches!(u, Update::Event(Event::Reconnected)))
    });
    assert!(driver
        .updates
        .iter()
        .any(|u| matches!(u, Update::Event(Event::Disconnected(_)))));
    assert_ne!(driver.http.session_id().unwrap(), first);
    assert!(driver.send(Action::new("Ping")).is_ok());
}

#[test]
fn a_restarted_server_is_logged_in_again() {
    let fake = FakeAsterisk::builder().http(true).start();
    let config = Config {
        reconnect: Some(Reconnect {
            initial_delay: Duration::from_millis(50),
            ..Reconnect::default()
        }),
        ..config()
    };
    let mut driver = Driver::new(config, fake.http_addr().unwrap());
    driver.run_until(|_, http| http.status() == &Status::Ready);
    fake.restart();
    driver.run_until(|updates, http| {
        http.status() == &Status::Ready
            && updates
                .iter()
                .any(|u| matches!(u, Update::Event(Event::Reconnected)))
    });
    assert!(driver.send(Action::new("Ping")).is_ok());
}

#[test]
fn a_server_gone_is_a_clear_error() {
    let fake = FakeAsterisk::builder().http(true).start();
    let mut driver = Driver::new(config(), fake.http_addr().unwrap());
    driver.run_until(|_, http| http.status() == &Status::Ready);
    drop(fake);
    driver.run_until(|_, http| matches!(http.status(), Status::Closed(_)));
    match driver.http.status() {
        Status::Closed(Reason::Io(message)) => assert!(message.contains("/rawman"), "{message}"),
        other => panic!("{other:?}"),
    }
}
