//! `/rawman` over HTTP, with raw HTTP/1.1 over std sockets: the fake answers the
//! captured Asterisk 22.10.1 session's requests with answers of the same shape,
//! and has the real server's cookie, expiry and WaitEvent behaviour.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use ami_proto::{Packet, Parsed, Parser};
use ami_testkit::{Event, FakeAsterisk};

const TIMEOUT: Duration = Duration::from_secs(10);

/// One answer: status line, headers in order, body.
#[derive(Debug)]
struct Answer {
    status: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The session id of the `Set-Cookie`.
    fn cookie(&self) -> String {
        let set = self.header("Set-Cookie").expect("a Set-Cookie");
        let value = set
            .strip_prefix("mansession_id=\"")
            .and_then(|rest| rest.split_once('"'))
            .map(|(id, _)| id.to_owned())
            .unwrap_or_else(|| panic!("{set}"));
        value
    }

    fn packets(&self) -> Vec<Packet> {
        let mut parser = Parser::without_banner();
        parser.feed(&self.body);
        std::iter::from_fn(|| parser.next())
            .map(|item| match item {
                Parsed::Packet(p) => p,
                other => panic!("{other:?}"),
            })
            .collect()
    }
}

/// A keep-alive HTTP/1.1 connection.
struct Http {
    tcp: TcpStream,
    buf: Vec<u8>,
}

impl Http {
    fn connect(addr: SocketAddr) -> Http {
        let tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(TIMEOUT)).unwrap();
        Http {
            tcp,
            buf: Vec::new(),
        }
    }

    fn raw(&mut self, request: &[u8]) -> Answer {
        self.tcp.write_all(request).unwrap();
        self.read_answer()
    }

    fn get(&mut self, query: &str, cookie: Option<&str>) -> Answer {
        let cookie = cookie.map_or(String::new(), |c| format!("Cookie: mansession_id={c}\r\n"));
        let request = format!(
            "GET /rawman?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: test/1.0\r\n{cookie}\r\n"
        );
        self.raw(request.as_bytes())
    }

    fn read_answer(&mut self) -> Answer {
        let mut chunk = [0u8; 8192];
        let head_end = loop {
            if let Some(at) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at;
            }
            let n = self.tcp.read(&mut chunk).expect("read");
            assert!(n > 0, "closed");
            self.buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8(self.buf[..head_end].to_vec()).unwrap();
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap().to_owned();
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (n, v) = l.split_once(": ").unwrap();
                (n.to_owned(), v.to_owned())
            })
            .collect();
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "Content-Length")
            .unwrap()
            .1
            .parse()
            .unwrap();
        while self.buf.len() < head_end + 4 + length {
            let n = self.tcp.read(&mut chunk).expect("read");
            assert!(n > 0, "closed");
            self.buf.extend_from_slice(&chunk[..n]);
        }
        let body = self.buf[head_end + 4..head_end + 4 + length].to_vec();
        self.buf.drain(..head_end + 4 + length);
        Answer {
            status,
            headers,
            body,
        }
    }
}

fn login(http: &mut Http) -> String {
    let answer = http.get(
        "action=login&username=admin&secret=amp111&actionid=login-1",
        None,
    );
    assert!(answer
        .body
        .starts_with(b"Response: Success\r\nActionID: login-1\r\n"));
    answer.cookie()
}

fn first_line(packet: &Packet) -> String {
    String::from_utf8_lossy(packet.as_bytes().split(|&b| b == b'\r').next().unwrap()).into_owned()
}

// ----- the capture's requests, replayed -----

/// The capture's exchanges: (title, request bytes, response bytes).
fn fixture() -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/asterisk-22.10.1/http/rawman_session.txt"
    );
    let data = std::fs::read(path).unwrap();
    let text = String::from_utf8(data).unwrap();
    text.split("\n===== ")
        .skip(1)
        .map(|section| {
            let (title, rest) = section.split_once('\n').unwrap();
            let (_, rest) = rest.split_once("----- request\n").unwrap();
            let (request, response) = rest.split_once("\n----- response\n").unwrap();
            (
                title.to_owned(),
                request.as_bytes().to_vec(),
                response.as_bytes().to_vec(),
            )
        })
        .collect()
}

/// The captured answer's parts, from its raw text (the body by Content-Length).
fn captured(raw: &[u8]) -> Answer {
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(raw[..head_end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().to_owned();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(": ").unwrap();
            (n.to_owned(), v.to_owned())
        })
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "Content-Length")
        .unwrap()
        .1
        .parse()
        .unwrap();
    Answer {
        status,
        headers,
        body: raw[head_end + 4..head_end + 4 + length].to_vec(),
    }
}

#[test]
fn the_captured_requests_get_answers_of_the_same_shape() {
    let fake = FakeAsterisk::builder()
        .http(true)
        .command_output(
            "core show channels count",
            "2 active channels\n2 active calls\n9 calls processed",
        )
        .handler("Getvar", |request, reply| {
            let name = request.get("Variable").unwrap().to_string();
            reply.respond("Success", &[("Variable", &name), ("Value", "1795979272")]);
        })
        .start();
    let mut http = Http::connect(fake.http_addr().unwrap());
    let mut session: Option<String> = None;
    let mut old_session = None;
    for (title, request, response) in fixture() {
        // Our session's cookie in place of the capture's.
        let mut request = String::from_utf8(request).unwrap();
        if let Some(cookie) = &session {
            request = request.replace("mansession_id=15bc4f0c", &format!("mansession_id={cookie}"));
        }
        let ours = http.raw(request.as_bytes());
        let theirs = captured(&response);
        // The HTTP shape: status, header names in order, the cookie's format.
        assert_eq!(ours.status, theirs.status, "{title}");
        let names = |a: &Answer| a.headers.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(names(&ours), names(&theirs), "{title}");
        let set_cookie = ours.header("Set-Cookie").unwrap();
        let cookie = ours.cookie();
        assert_eq!(cookie.len(), 8, "{set_cookie}");
        assert!(cookie
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(
            set_cookie,
            format!("mansession_id=\"{cookie}\"; Version=1; Max-Age=60"),
            "{title}"
        );
        // The AMI shape: each packet's first line, for the answers that do not
        // depend on the calls of the moment.
        let ours_packets = ours.packets();
        let theirs_packets = theirs.packets();
        let shape = |packets: &[Packet]| packets.iter().map(first_line).collect::<Vec<_>>();
        match title.as_str() {
            t if t.starts_with("WaitEvent after the originate") => {
                let shape = shape(&ours_packets);
                assert_eq!(shape.first().map(String::as_str), Some("Response: Success"));
                assert_eq!(
                    shape.last().map(String::as_str),
                    Some("Event: WaitEventComplete")
                );
                // On a loaded machine the call's events may straddle two polls.
                let mut events = ours_packets.clone();
                for _ in 0..5 {
                    if events.iter().any(|p| p.is("Event", "OriginateResponse")) {
                        break;
                    }
                    let cookie = session.as_deref();
                    events.extend(http.get("action=waitevent&timeout=1", cookie).packets());
                }
                let outcome = events
                    .iter()
                    .find(|p| p.is("Event", "OriginateResponse"))
                    .unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(&ours.body)));
                assert_eq!(outcome.action_id().unwrap(), "o-1");
                assert_eq!(outcome.get("Reason").unwrap(), "4");
            }
            t if t.starts_with("WaitEvent: the events") => {
                let shape = shape(&ours_packets);
                assert!(
                    shape.contains(&"Event: SuccessfulAuth".to_owned()),
                    "{shape:?}"
                );
                assert_eq!(
                    shape.last().map(String::as_str),
                    Some("Event: WaitEventComplete")
                );
            }
            t if t.starts_with("a list") => {
                assert!(ours_packets[0].is("EventList", "start"));
                let complete = ours_packets.last().unwrap();
                assert!(complete.is("EventList", "Complete"));
                assert_eq!(complete.list_items(), Some(ours_packets.len() - 2));
                assert!(ours_packets.iter().all(|p| p.action_id().unwrap() == "l-1"));
            }
            t if t.starts_with("Hangup by regex") => {
                // The fake hangs up by exact name, Asterisk 22 by regex: only
                // the response line is comparable.
                assert!(ours_packets[0].response().is_some());
                assert_eq!(ours_packets[0].action_id().unwrap(), "h-1");
            }
            _ => {
                assert_eq!(shape(&ours_packets), shape(&theirs_packets), "{title}");
                assert_eq!(ours.body, theirs.body, "{title}");
            }
        }
        // Which session each answer belongs to.
        if title.starts_with("login;") {
            session = Some(cookie.clone());
        } else if title.starts_with("the old cookie after Logoff") {
            assert_ne!(Some(&cookie), old_session.as_ref(), "a fresh session");
        } else if let Some(session) = &session {
            if !title.starts_with("an action before login") {
                assert_eq!(&cookie, session, "{title}");
            }
        }
        if title.starts_with("Logoff") {
            old_session = session.clone();
        }
    }
}

// ----- cookies and expiry -----

#[test]
fn no_cookie_is_permission_denied_with_a_fresh_session() {
    let fake = FakeAsterisk::builder().http(true).start();
    let mut http = Http::connect(fake.http_addr().unwrap());
    let first = http.get("action=ping&actionid=x", None);
    assert_eq!(
        first.body,
        b"Response: Error\r\nActionID: x\r\nMessage: Permission denied\r\n\r\n"
    );
    let second = http.get("action=ping&actionid=x", Some("deadbeef"));
    assert!(second.body.ends_with(b"Permission denied\r\n\r\n"));
    assert_ne!(first.cookie(), second.cookie());
}

#[test]
fn a_session_expires_after_max_age_without_a_request() {
    let fake = FakeAsterisk::builder()
        .http_max_age(Duration::from_secs(1))
        .start();
    let mut http = Http::connect(fake.http_addr().unwrap());
    let cookie = login(&mut http);
    // Requests within Max-Age keep it alive.
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(500));
        let answer = http.get("action=ping&actionid=p", Some(&cookie));
        assert!(answer.body.starts_with(b"Response: Success"), "{answer:?}");
        assert_eq!(answer.cookie(), cookie);
        assert_eq!(
            answer.header("Set-Cookie").unwrap(),
            format!("mansession_id=\"{cookie}\"; Version=1; Max-Age=1")
        );
    }
    std::thread::sleep(Duration::from_millis(1300));
    let answer = http.get("action=ping&actionid=p", Some(&cookie));
    assert!(answer.body.ends_with(b"Message: Permission denied\r\n\r\n"));
    assert_ne!(answer.cookie(), cookie);
}

#[test]
fn expire_http_sessions_ends_them_at_once() {
    let fake = FakeAsterisk::builder().http(true).start();
    let mut http = Http::connect(fake.http_addr().unwrap());
    let cookie = login(&mut http);
    fake.expire_http_sessions();
    let answer = http.get("action=ping&actionid=p", Some(&cookie));
    assert!(answer.body.ends_with(b"Message: Permission denied\r\n\r\n"));
}

#[test]
fn logoff_ends_the_session() {
    let fake = FakeAsterisk::builder().http(true).start();
    let mut http = Http::connect(fake.http_addr().unwrap());
    let cookie = login(&mut http);
    let bye = http.get("action=logoff&actionid=bye", Some(&cookie));
    assert_eq!(
        bye.body,
        b"Response: Goodbye\r\nActionID: bye\r\nMessage: Thanks for all the fish.\r\n\r\n"
    );
    let after = http.get("action=ping&actionid=a", Some(&cookie));
    assert!(after.body.ends_with(b"Message: Permission denied\r\n\r\n"));
}

#[test]
fn a_wrong_secret_is_refused() {
    let fake = FakeAsterisk::builder().http(true).start();
    let mut http = Http::connect(fake.http_addr().unwrap());
    let answer = http.get("action=login&username=admin&secret=wrong", None);
    assert_eq!(
        answer.body,
        b"Response: Error\r\nMessage: Authentication failed\r\n\r\n"
    );
    let cookie = answer.cookie();
    let after = http.get("action=ping", Some(&cookie));
    assert!(after.body.ends_with(b"Message: Permission denied\r\n\r\n"));
}

// ----- WaitEvent -----

#[test]
fn wait_event_returns_queued_events_at_once_or_after_its_timeout() {
    let fake = FakeAsterisk::builder().http(true).start();
    let mut http = Http::connect(fake.http_addr().unwrap());
    let cookie = login(&mut http);
    // What login queued (FullyBooted, SuccessfulAuth) comes at once.
    let started = Instant::now();
    let answer = http.get("action=waitevent&timeout=5&actionid=w-1", Some(&cookie));
    assert!(started.elapsed() < Duration::from_secs(2));
    let packets = answer.packets();
    assert!(packets.iter().any(|p| p.is("Event", "SuccessfulAuth")));
    assert_eq!(
        first_line(&packets[0]) + " " + &packets[0].message().unwrap().to_string(),
        "Response: Success Waiting for Event completed."
    );
    let last = packets.last().unwrap();
    assert!(last.is("Event", "WaitEventComplete"));
    assert_eq!(last.action_id().unwrap(), "w-1");

    // Nothing queued: after Timeout, only WaitEventComplete.
    let started = Instant::now();
    let answer = http.get("action=waitevent&timeout=1&actionid=w-2", Some(&cookie));
    assert!(started.elapsed() >= Duration::from_millis(950));
    assert_eq!(
        answer.body,
        b"Response: Success\r\nActionID: w-2\r\nMessage: Waiting for Event completed.\r\n\r\nEvent: WaitEventComplete\r\nActionID: w-2\r\n\r\n"
    );
}

#[test]
fn a_request_during_a_wait_is_answered_at_once_and_an_event_ends_the_wait() {
    let fake = FakeAsterisk::builder().http(true).start();
    let addr = fake.http_addr().unwrap();
    let mut http = Http::connect(addr);
    let cookie = login(&mut http);
    http.get("action=waitevent&timeout=1", Some(&cookie)); // drain the login's events
    let waiter_cookie = cookie.clone();
    let waiter = std::thread::spawn(move || {
        let mut events = Http::connect(addr);
        let started = Instant::now();
        let answer = events.get(
            "action=waitevent&timeout=8&actionid=w",
            Some(&waiter_cookie),
        );
        (started.elapsed(), answer)
    });
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let pong = http.get("action=ping&actionid=p", Some(&cookie));
    assert!(pong
        .body
        .starts_with(b"Response: Success\r\nActionID: p\r\n"));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "not behind the wait"
    );
    fake.push_event(
        &Event::new("UserEvent")
            .header("Privilege", "user,all")
            .header("UserEvent", "hi"),
    );
    let (elapsed, answer) = waiter.join().unwrap();
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    let names: Vec<String> = answer.packets().iter().map(first_line).collect();
    assert_eq!(
        names,
        [
            "Response: Success",
            "Event: UserEvent",
            "Event: WaitEventComplete"
        ]
    );
}

#[test]
fn filters_and_masks_apply_to_queued_events() {
    let fake = FakeAsterisk::builder().http(true).start();
    let mut http = Http::connect(fake.http_addr().unwrap());
    let answer = http.get("action=login&username=admin&secret=amp111&events=off", None);
    let cookie = answer.cookie();
    let filter = http.get(
        "action=filter&operation=add&filter=Event%3A%20Hangup",
        Some(&cookie),
    );
    assert!(filter.body.starts_with(b"Response: Success"));
    let on = http.get("action=events&eventmask=on", Some(&cookie));
    assert!(on.body.starts_with(b"Response: Success"), "{on:?}");
    fake.push_event(&Event::new("Newchannel").header("Privilege", "call,all"));
    fake.push_event(&Event::new("Hangup").header("Privilege", "call,all"));
    let answer = http.get("action=waitevent&timeout=1", Some(&cookie));
    let names: Vec<String> = answer.packets().iter().map(first_line).collect();
    assert_eq!(
        names,
        [
            "Response: Success",
            "Event: Hangup",
            "Event: WaitEventComplete"
        ]
    );
}

// ----- POST, repeated parameters, errors -----

#[test]
fn post_form_bodies_and_repeated_parameters() {
    let fake = FakeAsterisk::builder().http(true).start();
    let mut http = Http::connect(fake.http_addr().unwrap());
    let cookie = login(&mut http);
    let form =
        "action=userevent&userevent=Big&variable=A%3D1&variable=B%3D2&data=a%2Bb%20c&actionid=u-1";
    let request = format!(
        "POST /rawman HTTP/1.1\r\nHost: x\r\nCookie: mansession_id={cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    );
    let answer = http.raw(request.as_bytes());
    assert!(answer
        .body
        .starts_with(b"Response: Success\r\nActionID: u-1\r\n"));
    // The action as the fake's AMI side received it.
    let actions = fake.recorded_actions(fake.client_count() - 1);
    let event = actions.last().unwrap();
    let variables: Vec<String> = event.get_all("variable").map(|v| v.to_string()).collect();
    assert_eq!(variables, ["A=1", "B=2"]);
    assert_eq!(event.get("data").unwrap(), "a+b c");
}

#[test]
fn other_paths_are_not_found() {
    let fake = FakeAsterisk::builder().http(true).start();
    let mut http = Http::connect(fake.http_addr().unwrap());
    let answer = http.raw(b"GET /manager?action=ping HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(answer.status, "HTTP/1.1 404 Not Found");
}
