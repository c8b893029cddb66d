//! AMI over HTTP (`/rawman`): the sans-IO `HttpSession` against the byte-for-byte
//! capture of a real Asterisk 22.10.1 session, in virtual time.

use std::time::{Duration, Instant};

use ami_proto::http::{decode_form, HttpRequest, HttpSession, Lane, Method, MAX_QUERY_LEN};
use ami_proto::{
    Action, Config, Credentials, Error, Event, Limits, Reason, Reconnect, Reply, Status, Update,
};
use proptest::prelude::*;

// ----- the fixture -----

/// One exchange of the capture: the request and the response, split up.
struct Exchange {
    title: String,
    method: String,
    /// Decoded parameters, from the query string or the form body.
    params: Vec<(String, Vec<u8>)>,
    cookie: Option<String>,
    set_cookie: Vec<u8>,
    body: Vec<u8>,
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap_or_else(|| panic!("{:?} not found", String::from_utf8_lossy(needle)))
}

/// Header lines as (lowercased name, value).
type Headers = Vec<(String, Vec<u8>)>;

/// The start line, the headers and the Content-Length body of one message.
fn split_message(raw: &[u8]) -> (Vec<u8>, Headers, Vec<u8>) {
    let end = find(raw, b"\r\n\r\n");
    let head = &raw[..end];
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let start = lines.next().unwrap().to_vec();
    let headers: Headers = lines
        .map(|line| {
            let at = find(line, b": ");
            (
                String::from_utf8_lossy(&line[..at]).to_ascii_lowercase(),
                line[at + 2..].to_vec(),
            )
        })
        .collect();
    let length = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map_or(0, |(_, v)| {
            String::from_utf8_lossy(v).parse::<usize>().unwrap()
        });
    let body = raw[end + 4..end + 4 + length].to_vec();
    (start, headers, body)
}

fn fixture() -> Vec<Exchange> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/asterisk-22.10.1/http/rawman_session.txt"
    );
    let data = std::fs::read(path).unwrap();
    let mut exchanges = Vec::new();
    let mut rest = &data[..];
    while let Some(at) = rest.windows(6).position(|w| w == b"===== ") {
        rest = &rest[at + 6..];
        let title_end = find(rest, b"\n");
        let title = String::from_utf8_lossy(&rest[..title_end]).into_owned();
        let request = &rest[find(rest, b"----- request\n") + 14..];
        let (line, headers, body) = split_message(request);
        let line = String::from_utf8(line).unwrap();
        let mut words = line.split(' ');
        let method = words.next().unwrap().to_owned();
        let target = words.next().unwrap();
        let form = match target.split_once('?') {
            Some((_, query)) => query.as_bytes().to_vec(),
            None => body,
        };
        let params = decode_form(&form)
            .into_iter()
            .map(|(k, v)| (String::from_utf8(k).unwrap(), v))
            .collect();
        let cookie = headers
            .iter()
            .find(|(k, _)| k == "cookie")
            .map(|(_, v)| String::from_utf8(v.clone()).unwrap());
        let response = &rest[find(rest, b"----- response\n") + 15..];
        let (_, headers, body) = split_message(response);
        let set_cookie = headers
            .iter()
            .find(|(k, _)| k == "set-cookie")
            .map(|(_, v)| v.clone())
            .unwrap();
        exchanges.push(Exchange {
            title,
            method,
            params,
            cookie,
            set_cookie,
            body,
        });
        rest = &response[1..];
    }
    exchanges
}

fn exchange<'a>(all: &'a [Exchange], title_start: &str) -> &'a Exchange {
    all.iter()
        .find(|e| e.title.starts_with(title_start))
        .unwrap_or_else(|| panic!("no exchange {title_start:?}"))
}

/// The captured body with the capture's ActionIDs replaced by ours.
fn body_with_ids(exchange: &Exchange, ids: &[(&str, &str)]) -> Vec<u8> {
    let mut text = String::from_utf8(exchange.body.clone()).unwrap();
    for (theirs, ours) in ids {
        text = text.replace(
            &format!("ActionID: {theirs}\r\n"),
            &format!("ActionID: {ours}\r\n"),
        );
    }
    text.into_bytes()
}

/// Parameters without ActionID (ours differ from the capture's), names lowercased.
fn comparable(params: &[(String, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
    params
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("ActionID"))
        .map(|(k, v)| {
            let k = k.to_ascii_lowercase();
            // Action names are case-insensitive; the capture wrote them lowercased.
            let v = if k == "action" {
                v.to_ascii_lowercase()
            } else {
                v.clone()
            };
            (k, v)
        })
        .collect()
}

fn id_of(request: &HttpRequest) -> String {
    String::from_utf8(request.param("ActionID").unwrap().to_vec()).unwrap()
}

// ----- the harness -----

const COOKIE: &[u8] = br#"mansession_id="15bc4f0c"; Version=1; Max-Age=60"#;

fn config() -> Config {
    Config {
        id_prefix: Some("t-".into()),
        ..Config::new(Credentials::plain("admin", "amp111"))
    }
}

struct Pair {
    http: HttpSession,
    now: Instant,
}

impl Pair {
    fn new(config: Config) -> Self {
        let now = Instant::now();
        Pair {
            http: HttpSession::new(config, "/", 1, now),
            now,
        }
    }

    fn requests(&mut self) -> Vec<HttpRequest> {
        std::iter::from_fn(|| self.http.poll_request()).collect()
    }

    fn drain(&mut self) -> Vec<Update> {
        std::iter::from_fn(|| self.http.poll_update()).collect()
    }

    fn answer(&mut self, request: &HttpRequest, body: &[u8]) {
        self.http
            .handle_response(request.id, 200, Some(COOKIE), body, self.now);
    }

    /// Logs in with the captured answer; returns the first long-poll.
    fn login(&mut self, fixture: &[Exchange]) -> HttpRequest {
        let requests = self.requests();
        assert_eq!(requests.len(), 1, "{requests:?}");
        let login = &requests[0];
        let captured = exchange(fixture, "login;");
        assert_eq!(comparable(&login.params), comparable(&captured.params));
        assert_eq!(login.cookie, None);
        let body = body_with_ids(captured, &[("login-1", &id_of(login))]);
        self.http
            .handle_response(login.id, 200, Some(&captured.set_cookie), &body, self.now);
        assert_eq!(self.http.status(), &Status::Ready);
        assert_eq!(self.http.session_id(), Some("15bc4f0c"));
        assert!(matches!(
            &self.drain()[..],
            [
                Update::Status(Status::LoggingIn),
                Update::Status(Status::Ready)
            ]
        ));
        let mut requests = self.requests();
        assert_eq!(requests.len(), 1, "{requests:?}");
        let wait = requests.remove(0);
        assert_eq!(wait.lane, Lane::Events);
        wait
    }

    fn advance_to_timeout(&mut self) {
        let at = self.http.poll_timeout().expect("a timer");
        self.now = self.now.max(at);
        self.http.handle_timeout(self.now);
    }
}

fn events(updates: &[Update]) -> Vec<String> {
    updates
        .iter()
        .filter_map(|u| match u {
            Update::Event(Event::Event(p)) => Some(p.event_name().unwrap().to_string()),
            Update::Event(other) => panic!("unexpected {other:?}"),
            _ => None,
        })
        .collect()
}

fn only_reply(updates: Vec<Update>) -> Result<Reply, Error> {
    let mut replies = updates.into_iter().filter_map(|u| match u {
        Update::Reply { result, .. } => Some(result),
        _ => None,
    });
    let result = replies.next().expect("a reply");
    assert!(replies.next().is_none());
    result
}

// ----- the capture, replayed -----

#[test]
fn the_captured_session_replays() {
    let fixture = fixture();
    assert_eq!(fixture.len(), 13);
    let config = Config {
        keepalive: None,
        ..config()
    };
    let mut pair = Pair::new(config);
    let wait = pair.login(&fixture);

    // WaitEvent with the events queued since login.
    let w1 = exchange(&fixture, "WaitEvent: the events");
    assert_eq!(wait.cookie, w1.cookie);
    assert_eq!(wait.method, Method::Get);
    let names = |params: &[(String, Vec<u8>)]| -> Vec<String> {
        comparable(params).into_iter().map(|(k, _)| k).collect()
    };
    assert_eq!(
        {
            let mut n = names(&wait.params);
            n.sort();
            n
        },
        vec!["action", "timeout"]
    );
    assert!(wait
        .param("Action")
        .unwrap()
        .eq_ignore_ascii_case(b"waitevent"));
    assert_eq!(
        wait.param("Timeout"),
        Some(&b"30"[..]),
        "half of Max-Age=60"
    );
    pair.answer(&wait, &body_with_ids(w1, &[("w-1", &id_of(&wait))]));
    assert_eq!(events(&pair.drain()), vec!["SuccessfulAuth"]);

    // A new long-poll at once; this one has nothing queued.
    let wait = pair.requests().remove(0);
    assert_eq!(wait.lane, Lane::Events);
    let w2 = exchange(&fixture, "WaitEvent with nothing");
    pair.now += Duration::from_secs(30); // answered after its Timeout
    pair.answer(&wait, &body_with_ids(w2, &[("w-2", &id_of(&wait))]));
    assert!(pair.drain().is_empty());
    let wait = pair.requests().remove(0);

    // Async Originate, repeated Variable as repeated parameters.
    let originate = Action::new("Originate")
        .header("Channel", "Local/101@test")
        .header("Context", "test")
        .header("Exten", "101")
        .header("Priority", "1")
        .header("Async", "true")
        .variable("A", "1")
        .variable("B", "2");
    let id = pair.http.send_action(originate, pair.now).unwrap();
    let request = pair.requests().remove(0);
    let captured = exchange(&fixture, "async Originate");
    assert_eq!(request.lane, Lane::Action);
    assert_eq!(comparable(&request.params), comparable(&captured.params));
    assert_eq!(request.cookie, captured.cookie);
    let originate_id = id_of(&request);
    pair.answer(
        &request,
        &body_with_ids(captured, &[("o-1", &originate_id)]),
    );
    assert!(pair.drain().is_empty(), "waits for the OriginateResponse");

    // Its outcome through WaitEvent, with the call's events around it.
    let w3 = exchange(&fixture, "WaitEvent after the originate");
    pair.answer(
        &wait,
        &body_with_ids(w3, &[("w-3", &id_of(&wait)), ("o-1", &originate_id)]),
    );
    let updates = pair.drain();
    assert_eq!(
        events(&updates),
        vec![
            "Newchannel",
            "Newchannel",
            "Newexten",
            "VarSet",
            "VarSet",
            "VarSet",
            "VarSet",
            "LocalBridge",
            "DialBegin",
            "Newexten",
            "Newstate",
            "Newstate",
            "DialEnd",
            "DeviceStateChange",
            "DeviceStateChange",
            "Newexten",
            "Newexten",
        ]
    );
    match updates.into_iter().find_map(|u| match u {
        Update::Reply { id: got, result } if got == id => Some(result),
        _ => None,
    }) {
        Some(Ok(Reply::Originate(outcome))) => {
            assert!(outcome.is_success());
            assert_eq!(outcome.reason(), Some(4));
        }
        other => panic!("{other:?}"),
    }
    let _wait = pair.requests().remove(0);

    // A list, whole in one body.
    pair.http
        .send_action(Action::new("CoreShowChannels"), pair.now)
        .unwrap();
    let request = pair.requests().remove(0);
    let captured = exchange(&fixture, "a list");
    assert_eq!(comparable(&request.params), comparable(&captured.params));
    pair.answer(
        &request,
        &body_with_ids(captured, &[("l-1", &id_of(&request))]),
    );
    match only_reply(pair.drain()) {
        Ok(Reply::List(list)) => {
            assert_eq!(list.items.len(), 2);
            assert!(list.verify().is_ok());
        }
        other => panic!("{other:?}"),
    }

    // Command.
    pair.http
        .send_action(
            Action::new("Command").header("Command", "core show channels count"),
            pair.now,
        )
        .unwrap();
    let request = pair.requests().remove(0);
    let captured = exchange(&fixture, "Command");
    assert_eq!(comparable(&request.params), comparable(&captured.params));
    pair.answer(
        &request,
        &body_with_ids(captured, &[("c-1", &id_of(&request))]),
    );
    let reply = only_reply(pair.drain()).unwrap();
    let lines: Vec<String> = reply
        .response()
        .command_output()
        .map(|l| l.to_string())
        .collect();
    assert_eq!(
        lines,
        ["2 active channels", "2 active calls", "9 calls processed"]
    );

    // The POST exchange's parameters, here short enough for GET.
    pair.http
        .send_action(Action::new("Getvar").header("Variable", "EPOCH"), pair.now)
        .unwrap();
    let request = pair.requests().remove(0);
    let captured = exchange(&fixture, "POST form body");
    assert_eq!(captured.method, "POST");
    assert_eq!(comparable(&request.params), comparable(&captured.params));
    pair.answer(
        &request,
        &body_with_ids(captured, &[("g-1", &id_of(&request))]),
    );
    let reply = only_reply(pair.drain()).unwrap();
    assert_eq!(reply.response().get("Value").unwrap(), "1795979272");

    // Hangup by regex: a list of hung-up channels.
    pair.http
        .send_action(
            Action::new("Hangup").header("Channel", "/^Local/101.*/"),
            pair.now,
        )
        .unwrap();
    let request = pair.requests().remove(0);
    let captured = exchange(&fixture, "Hangup by regex");
    assert_eq!(comparable(&request.params), comparable(&captured.params));
    pair.answer(
        &request,
        &body_with_ids(captured, &[("h-1", &id_of(&request))]),
    );
    assert!(matches!(only_reply(pair.drain()), Ok(Reply::List(list)) if list.received == 2));

    // Logoff: Goodbye, closed for good.
    pair.http
        .send_action(Action::new("Logoff"), pair.now)
        .unwrap();
    let request = pair.requests().remove(0);
    let captured = exchange(&fixture, "Logoff");
    assert_eq!(comparable(&request.params), comparable(&captured.params));
    pair.answer(
        &request,
        &body_with_ids(captured, &[("bye", &id_of(&request))]),
    );
    let updates = pair.drain();
    assert!(updates
        .iter()
        .any(|u| matches!(u, Update::Reply { result: Ok(_), .. })));
    assert_eq!(pair.http.status(), &Status::Closed(Reason::LoggedOff));
    assert!(pair.requests().is_empty());
    assert_eq!(pair.http.poll_timeout(), None);
}

#[test]
fn a_wrong_secret_is_auth_failed() {
    let fixture = fixture();
    let config = Config {
        id_prefix: Some("t-".into()),
        ..Config::new(Credentials::plain("admin", "wrong"))
    };
    let mut pair = Pair::new(config);
    let login = pair.requests().remove(0);
    let captured = exchange(&fixture, "login with a wrong secret");
    assert_eq!(comparable(&login.params), comparable(&captured.params));
    // The capture's login had no ActionID, so neither has the answer.
    pair.http.handle_response(
        login.id,
        200,
        Some(&captured.set_cookie),
        &captured.body,
        pair.now,
    );
    match pair.http.status() {
        Status::Closed(Reason::AuthFailed(message)) => {
            assert!(message.contains("Authentication failed"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert!(pair.requests().is_empty());
}

#[test]
fn md5_login_keeps_the_challenges_session() {
    let config = Config {
        id_prefix: Some("t-".into()),
        ..Config::new(Credentials::md5("admin", "amp111"))
    };
    let mut pair = Pair::new(config);
    let challenge = pair.requests().remove(0);
    assert_eq!(challenge.param("Action"), Some(&b"Challenge"[..]));
    let body = format!(
        "Response: Success\r\nActionID: {}\r\nChallenge: 204268188\r\n\r\n",
        id_of(&challenge)
    );
    pair.answer(&challenge, body.as_bytes());
    let login = pair.requests().remove(0);
    assert_eq!(login.cookie.as_deref(), Some("mansession_id=15bc4f0c"));
    assert_eq!(
        login.param("Key"),
        Some(ami_proto::md5_key("204268188", "amp111").as_bytes())
    );
}

// ----- Permission denied: expiry, logoff -----

fn permission_denied(fixture: &[Exchange], request: &HttpRequest) -> Vec<u8> {
    body_with_ids(
        exchange(fixture, "the old cookie after Logoff"),
        &[("after-logoff", &id_of(request))],
    )
}

#[test]
fn permission_denied_fails_the_action_and_relogs_in_under_the_policy() {
    let fixture = fixture();
    let config = Config {
        reconnect: Some(Reconnect::default()),
        ..config()
    };
    let mut pair = Pair::new(config);
    let old_wait = pair.login(&fixture);
    pair.drain();

    let ping = pair
        .http
        .send_action(Action::new("Ping"), pair.now)
        .unwrap();
    let request = pair.requests().remove(0);
    let captured = exchange(&fixture, "the old cookie after Logoff");
    pair.http.handle_response(
        request.id,
        200,
        Some(&captured.set_cookie),
        &permission_denied(&fixture, &request),
        pair.now,
    );
    let updates = pair.drain();
    let failed = updates.iter().find_map(|u| match u {
        Update::Reply { id, result: Err(e) } if *id == ping => Some(e.to_string()),
        _ => None,
    });
    assert!(
        failed
            .as_deref()
            .is_some_and(|m| m.contains("Permission denied")),
        "{updates:?}"
    );
    assert!(updates.iter().any(|u| matches!(
        u,
        Update::Event(Event::Disconnected(Reason::SessionExpired))
    )));
    assert!(matches!(pair.http.status(), Status::Reconnecting { .. }));
    assert!(pair.requests().is_empty(), "nothing re-sent, no login yet");

    // The old long-poll's late answer is ignored.
    pair.answer(
        &old_wait,
        b"Response: Success\r\nActionID: x\r\n\r\nEvent: Stale\r\n\r\n",
    );
    assert!(pair.drain().is_empty());

    // After the backoff: a fresh login, without the dead cookie.
    pair.advance_to_timeout();
    let login = pair.requests().remove(0);
    assert_eq!(login.param("Action"), Some(&b"Login"[..]));
    assert_eq!(login.cookie, None);
    let body = format!(
        "Response: Success\r\nActionID: {}\r\nMessage: Authentication accepted\r\n\r\n",
        id_of(&login)
    );
    pair.http.handle_response(
        login.id,
        200,
        Some(br#"mansession_id="1ac6eb49"; Version=1; Max-Age=60"#),
        body.as_bytes(),
        pair.now,
    );
    assert_eq!(pair.http.status(), &Status::Ready);
    assert_eq!(pair.http.session_id(), Some("1ac6eb49"));
    assert!(pair
        .drain()
        .iter()
        .any(|u| matches!(u, Update::Event(Event::Reconnected))));
    let requests = pair.requests();
    assert_eq!(requests.len(), 1, "only the long-poll: {requests:?}");
    assert_eq!(requests[0].lane, Lane::Events);
    assert_eq!(
        requests[0].cookie.as_deref(),
        Some("mansession_id=1ac6eb49")
    );
}

#[test]
fn permission_denied_without_a_policy_closes_for_good() {
    let fixture = fixture();
    let mut pair = Pair::new(config());
    let wait = pair.login(&fixture);
    pair.drain();
    pair.answer(&wait, &permission_denied(&fixture, &wait));
    assert_eq!(pair.http.status(), &Status::Closed(Reason::SessionExpired));
    assert_eq!(
        pair.http
            .send_action(Action::new("Ping"), pair.now)
            .unwrap_err()
            .to_string(),
        Error::Closed(Reason::SessionExpired).to_string()
    );
}

// ----- keepalive within Max-Age -----

#[test]
fn the_long_poll_keeps_the_session_alive_within_max_age() {
    let fixture = fixture();
    let config = Config {
        keepalive: None,
        ..config()
    };
    let mut pair = Pair::new(config);
    let mut wait = pair.login(&fixture);
    let mut last_request = pair.now;
    let max_age = pair.http.max_age();
    assert_eq!(max_age, Duration::from_secs(60));
    // Ten minutes of empty long-polls, each answered after its Timeout.
    for _ in 0..20 {
        let timeout: u64 = String::from_utf8_lossy(wait.param("Timeout").unwrap())
            .parse()
            .unwrap();
        assert!(Duration::from_secs(timeout) < max_age);
        pair.now += Duration::from_secs(timeout);
        pair.http.handle_timeout(pair.now); // not the long-poll's deadline yet
        assert!(pair.requests().is_empty());
        let body = format!(
            "Response: Success\r\nActionID: {0}\r\nMessage: Waiting for Event completed.\r\n\r\nEvent: WaitEventComplete\r\nActionID: {0}\r\n\r\n",
            id_of(&wait)
        );
        pair.answer(&wait, body.as_bytes());
        let updates = pair.drain();
        assert!(updates.is_empty(), "{updates:?}");
        let requests = pair.requests();
        assert_eq!(requests.len(), 1);
        assert!(pair.now - last_request < max_age);
        last_request = pair.now;
        wait = requests.into_iter().next().unwrap();
    }
    assert_eq!(pair.http.status(), &Status::Ready);
}

#[test]
fn with_events_off_a_ping_goes_out_within_max_age() {
    let config = Config {
        events: Some("off".into()),
        keepalive: None,
        ..config()
    };
    let mut pair = Pair::new(config);
    let login = pair.requests().remove(0);
    let body = format!(
        "Response: Success\r\nActionID: {}\r\nMessage: Authentication accepted\r\n\r\n",
        id_of(&login)
    );
    pair.http.handle_response(
        login.id,
        200,
        Some(br#"mansession_id="abc"; Version=1; Max-Age=10"#),
        body.as_bytes(),
        pair.now,
    );
    assert!(
        pair.requests().is_empty(),
        "no WaitEvent: it would turn events on"
    );
    pair.drain();
    let start = pair.now;
    for round in 1..=5u32 {
        pair.advance_to_timeout();
        let requests = pair.requests();
        assert_eq!(requests.len(), 1, "{requests:?}");
        assert_eq!(requests[0].param("Action"), Some(&b"Ping"[..]));
        assert_eq!(pair.now, start + Duration::from_secs(5) * round);
        pair.answer(&requests[0], b"Response: Success\r\nPing: Pong\r\n\r\n");
        assert!(pair.drain().is_empty(), "its own ping: no update");
    }
}

// ----- faults -----

#[test]
fn an_early_empty_long_poll_does_not_spin() {
    // Asterisk clamps WaitEvent's Timeout to Max-Age - 10 s: with a short
    // Max-Age it answers at once, empty.
    let fixture = fixture();
    let config = Config {
        keepalive: None,
        ..config()
    };
    let mut pair = Pair::new(config);
    let wait = pair.login(&fixture);
    let start = pair.now;
    let body = format!(
        "Response: Success\r\nActionID: {0}\r\nMessage: Waiting for Event completed.\r\n\r\nEvent: WaitEventComplete\r\nActionID: {0}\r\n\r\n",
        id_of(&wait)
    );
    pair.answer(&wait, body.as_bytes());
    assert!(pair.requests().is_empty(), "not at once");
    let mut polls = Vec::new();
    while polls.is_empty() {
        pair.advance_to_timeout();
        polls = pair.requests();
    }
    assert_eq!(
        pair.now,
        start + ami_proto::http::EARLY_POLL_PAUSE,
        "a short pause later, not at once"
    );
    assert_eq!(polls[0].lane, Lane::Events);
    // An early answer with events: the next poll goes out at once.
    let body = format!(
        "Response: Success\r\nActionID: {0}\r\n\r\nEvent: Hangup\r\n\r\nEvent: WaitEventComplete\r\nActionID: {0}\r\n\r\n",
        id_of(&polls[0])
    );
    pair.answer(&polls[0], body.as_bytes());
    assert_eq!(events(&pair.drain()), ["Hangup"]);
    assert_eq!(pair.requests().len(), 1);
}

#[test]
fn an_unanswered_long_poll_loses_the_session_by_its_deadline() {
    let fixture = fixture();
    let config = Config {
        keepalive: None,
        ..config()
    };
    let mut pair = Pair::new(config);
    let wait = pair.login(&fixture);
    pair.drain();
    let deadline = wait.deadline.unwrap();
    assert_eq!(deadline, pair.now + Duration::from_secs(30 + 10));
    while pair.http.status() == &Status::Ready {
        pair.advance_to_timeout();
        assert!(pair.requests().is_empty());
    }
    assert_eq!(pair.now, deadline);
    match pair.http.status() {
        Status::Closed(Reason::Io(message)) => assert!(message.contains("WaitEvent"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(pair.http.poll_timeout(), None);
}

#[test]
fn a_non_200_status_fails_its_action_only() {
    let fixture = fixture();
    let mut pair = Pair::new(config());
    let _wait = pair.login(&fixture);
    pair.drain();
    let ping = pair
        .http
        .send_action(Action::new("Ping"), pair.now)
        .unwrap();
    let request = pair.requests().remove(0);
    pair.http
        .handle_response(request.id, 503, None, b"busy", pair.now);
    let updates = pair.drain();
    match &updates[..] {
        [Update::Reply {
            id,
            result: Err(Error::Io(error)),
        }] if *id == ping => assert!(error.to_string().contains("503"), "{error}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(pair.http.status(), &Status::Ready);
    assert_eq!(pair.http.in_flight(), 0);
}

#[test]
fn a_failed_long_poll_loses_the_session() {
    let fixture = fixture();
    let mut pair = Pair::new(config());
    let wait = pair.login(&fixture);
    pair.drain();
    pair.http
        .handle_failure(wait.id, "connection reset by peer", pair.now);
    assert!(matches!(pair.http.status(), Status::Closed(Reason::Io(m)) if m.contains("reset")));
}

#[test]
fn a_closed_connection_fails_its_action() {
    let fixture = fixture();
    let mut pair = Pair::new(config());
    let _wait = pair.login(&fixture);
    pair.drain();
    let ping = pair
        .http
        .send_action(Action::new("Ping"), pair.now)
        .unwrap();
    let request = pair.requests().remove(0);
    pair.http
        .handle_failure(request.id, "connection closed", pair.now);
    assert!(matches!(
        only_reply(pair.drain()),
        Err(Error::Io(e)) if e.to_string().contains("connection closed")
    ));
    let _ = ping;
    // Reported twice: the second is ignored.
    pair.http.handle_failure(request.id, "again", pair.now);
    assert!(pair.drain().is_empty());
}

#[test]
fn a_body_over_the_packet_limits_fails_its_action_at_once() {
    let fixture = fixture();
    let config = Config {
        limits: Limits {
            max_packet_bytes: 256,
            ..Limits::default()
        },
        ..config()
    };
    let mut pair = Pair::new(config);
    let _wait = pair.login(&fixture);
    pair.drain();
    pair.http
        .send_action(
            Action::new("Command").header("Command", "core show help"),
            pair.now,
        )
        .unwrap();
    let request = pair.requests().remove(0);
    let mut body = format!(
        "Response: Success\r\nActionID: {}\r\nMessage: Command output follows\r\n",
        id_of(&request)
    );
    for _ in 0..100 {
        body.push_str("Output: a line of help text\r\n");
    }
    body.push_str("\r\n");
    pair.answer(&request, body.as_bytes());
    let updates = pair.drain();
    assert!(updates
        .iter()
        .any(|u| matches!(u, Update::Event(Event::Malformed(_)))));
    assert!(updates.iter().any(|u| matches!(
        u,
        Update::Reply { result: Err(Error::Io(e)), .. } if e.to_string().contains("limits")
    )));
    assert_eq!(pair.http.status(), &Status::Ready);
}

#[test]
fn an_unanswered_action_times_out_as_on_tcp() {
    let fixture = fixture();
    let mut pair = Pair::new(config());
    let _wait = pair.login(&fixture);
    pair.drain();
    let ping = pair
        .http
        .send_action(
            Action::new("Ping").timeout(Duration::from_secs(2)),
            pair.now,
        )
        .unwrap();
    let _request = pair.requests().remove(0);
    pair.advance_to_timeout();
    assert_eq!(
        pair.now - Duration::from_secs(2),
        pair.now - Duration::from_secs(2)
    );
    let updates = pair.drain();
    assert!(updates.iter().any(|u| matches!(
        u,
        Update::Reply { id, result: Err(Error::Timeout { .. }) } if *id == ping
    )));
}

// ----- events: order, filters, races -----

#[test]
fn events_arrive_in_order_once_across_long_polls() {
    let fixture = fixture();
    let config = Config {
        keepalive: None,
        ..config()
    };
    let mut pair = Pair::new(config);
    let mut wait = pair.login(&fixture);
    pair.drain();
    let mut seen = Vec::new();
    let mut n = 0;
    for batch in [3, 0, 5, 1] {
        let mut body = format!(
            "Response: Success\r\nActionID: {}\r\nMessage: Waiting for Event completed.\r\n\r\n",
            id_of(&wait)
        );
        for _ in 0..batch {
            n += 1;
            body.push_str(&format!("Event: UserEvent\r\nUserEvent: n{n}\r\n\r\n"));
        }
        body.push_str(&format!(
            "Event: WaitEventComplete\r\nActionID: {}\r\n\r\n",
            id_of(&wait)
        ));
        if batch == 0 {
            pair.now += Duration::from_secs(30); // an empty one comes after its Timeout
        }
        pair.answer(&wait, body.as_bytes());
        // The same answer reported twice is ignored.
        pair.answer(&wait, body.as_bytes());
        for update in pair.drain() {
            match update {
                Update::Event(Event::Event(p)) => {
                    seen.push(p.get("UserEvent").unwrap().to_string())
                }
                other => panic!("{other:?}"),
            }
        }
        wait = pair.requests().remove(0);
    }
    let expected: Vec<String> = (1..=n).map(|i| format!("n{i}")).collect();
    assert_eq!(seen, expected);
}

#[test]
fn the_long_poll_starts_after_the_filters() {
    let config = Config {
        filters: vec!["Event: Hangup".into()],
        ..config()
    };
    let mut pair = Pair::new(config);
    let login = pair.requests().remove(0);
    let body = format!(
        "Response: Success\r\nActionID: {}\r\nMessage: Authentication accepted\r\n\r\n",
        id_of(&login)
    );
    pair.answer(&login, body.as_bytes());
    // The filters (the whitelist gets the OriginateResponse one beside it),
    // then the mask; no long-poll before the mask's reply.
    let requests = pair.requests();
    let actions: Vec<_> = requests
        .iter()
        .map(|r| r.param("Action").unwrap())
        .collect();
    assert_eq!(
        actions,
        [&b"Filter"[..], b"Filter", b"Events"],
        "{requests:?}"
    );
    for request in &requests {
        let body = format!(
            "Response: Success\r\nActionID: {}\r\nMessage: ok\r\n\r\n",
            id_of(request)
        );
        assert!(
            pair.requests().is_empty(),
            "nothing more before every reply"
        );
        pair.answer(request, body.as_bytes());
    }
    let requests = pair.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].lane, Lane::Events);
}

#[test]
fn an_originate_response_that_beats_its_response_is_kept() {
    let fixture = fixture();
    let mut pair = Pair::new(config());
    let wait = pair.login(&fixture);
    pair.drain();
    let originate = Action::new("Originate")
        .header("Channel", "Local/101@test")
        .header("Application", "Wait")
        .header("Async", "true");
    let id = pair.http.send_action(originate, pair.now).unwrap();
    let request = pair.requests().remove(0);
    // The long-poll's answer comes first ...
    let body = format!(
        "Response: Success\r\nActionID: {0}\r\n\r\nEvent: OriginateResponse\r\nPrivilege: call,all\r\nActionID: {1}\r\nResponse: Success\r\nReason: 4\r\n\r\nEvent: WaitEventComplete\r\nActionID: {0}\r\n\r\n",
        id_of(&wait),
        id_of(&request)
    );
    pair.answer(&wait, body.as_bytes());
    assert!(pair.drain().is_empty());
    // ... then the Originate's own response.
    let body = format!(
        "Response: Success\r\nActionID: {}\r\nMessage: Originate successfully queued\r\n\r\n",
        id_of(&request)
    );
    pair.answer(&request, body.as_bytes());
    match pair.drain().as_slice() {
        [Update::Reply {
            id: got,
            result: Ok(Reply::Originate(outcome)),
        }] if *got == id => assert_eq!(outcome.reason(), Some(4)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn close_logs_off_the_servers_session() {
    let fixture = fixture();
    let mut pair = Pair::new(config());
    let _wait = pair.login(&fixture);
    pair.drain();
    pair.http.close(pair.now);
    let requests = pair.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].param("Action"), Some(&b"Logoff"[..]));
    assert_eq!(
        requests[0].cookie.as_deref(),
        Some("mansession_id=15bc4f0c")
    );
    assert_eq!(pair.http.status(), &Status::Closed(Reason::ClosedByClient));
}

#[test]
fn long_actions_go_as_post_form_bodies() {
    let fixture = fixture();
    let mut pair = Pair::new(config());
    let _wait = pair.login(&fixture);
    let mut action = Action::new("UserEvent").header("UserEvent", "big");
    for i in 0..10 {
        action = action.header(&format!("H{i}"), "x".repeat(300));
    }
    pair.http.send_action(action, pair.now).unwrap();
    let request = pair.requests().remove(0);
    assert_eq!(request.method, Method::Post);
    assert!(request.form.len() > MAX_QUERY_LEN);
    assert_eq!(request.target(), "/rawman");
    assert_eq!(
        request.content_type(),
        Some("application/x-www-form-urlencoded")
    );
    let decoded = decode_form(request.body().unwrap());
    assert_eq!(decoded.len(), 13);
}

#[test]
fn a_base_path_prefixes_rawman() {
    let http = &mut HttpSession::new(config(), "/asterisk/", 1, Instant::now());
    assert_eq!(http.poll_request().unwrap().path, "/asterisk/rawman");
}

// ----- URL encoding round-trips every byte the TCP serializer accepts -----

fn key() -> impl Strategy<Value = String> {
    proptest::collection::vec(0x21u8..0x7f, 1..12).prop_filter_map("no ':'", |bytes| {
        let key = String::from_utf8(bytes).ok()?;
        (!key.contains(':') && !key.eq_ignore_ascii_case("ActionID")).then_some(key)
    })
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..40).prop_map(|mut bytes| {
        bytes.retain(|b| !matches!(b, b'\r' | b'\n' | 0));
        while matches!(bytes.first(), Some(b' ' | b'\t')) {
            bytes.remove(0);
        }
        bytes
    })
}

proptest! {
    #[test]
    fn url_encoding_round_trips_every_accepted_byte(
        name in "[A-Za-z][A-Za-z0-9]{0,10}",
        headers in proptest::collection::vec((key(), value()), 0..20),
    ) {
        let mut action = Action::new(name.clone());
        for (key, value) in &headers {
            action = action.header(key, value);
        }
        prop_assume!(action.check().is_ok());
        // No credentials: ready at once, actions go straight out.
        let config = Config { id_prefix: Some("p-".into()), ..Config::default() };
        let now = Instant::now();
        let mut http = HttpSession::new(config, "/", 1, now);
        http.send_action(action, now).unwrap();
        let request = http.poll_request().unwrap();
        let form = match request.method {
            Method::Get => request.target().split_once('?').unwrap().1.as_bytes().to_vec(),
            Method::Post => request.body().unwrap().to_vec(),
        };
        let decoded = decode_form(&form);
        let mut expected = vec![
            (b"Action".to_vec(), name.into_bytes()),
            (b"ActionID".to_vec(), b"p-0".to_vec()),
        ];
        expected.extend(headers.into_iter().map(|(k, v)| (k.into_bytes(), v)));
        prop_assert_eq!(decoded, expected);
    }
}
