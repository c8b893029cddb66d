//! `/rawman` over HTTP (AJAM), as Asterisk 22 serves it (see
//! `fixtures/asterisk-22.10.1/http/rawman_session.txt`).
//!
//! Each HTTP session (`mansession_id` cookie) is backed by an AMI connection of
//! its own to the fake's TCP port, so the very same behaviour answers: built-in
//! actions, custom handlers, login, masks, filters, faults, recordings (an HTTP
//! session shows up in [`FakeAsterisk::clients`](crate::FakeAsterisk::clients)
//! like any client). The front end adds what HTTP has: one action per request
//! (query string or form body), the cookie on every response, `Permission
//! denied` for an unknown or expired cookie (with a fresh session's cookie),
//! expiry after `Max-Age` seconds without a request, and events queued until
//! a `WaitEvent` fetches them.
//!
//! HTTP/1.1 is parsed here by hand (request line, headers, `Content-Length`
//! body, keep-alive): it is a test server for well-behaved clients, and the
//! little it needs does not justify a dependency.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ami_proto::http::decode_form;
use ami_proto::{Packet, PacketKind, Parsed, Parser};

use crate::conn::lock;

/// How often blocked threads look at the shutdown flag.
const TICK: Duration = Duration::from_millis(50);
/// How long a WaitEvent with events lingers for more that follow closely.
const BATCH: Duration = Duration::from_millis(20);
/// Largest request head or body accepted.
const MAX_REQUEST: usize = 1024 * 1024;

/// The HTTP front end of a fake: its listener and its sessions.
pub(crate) struct HttpFront {
    inner: Arc<Front>,
    addr: SocketAddr,
    acceptor: Option<JoinHandle<()>>,
}

struct Front {
    /// The fake's AMI address, where each session opens its connection.
    ami: SocketAddr,
    max_age: Duration,
    sessions: Mutex<HashMap<String, Arc<HttpSession>>>,
    shutdown: AtomicBool,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl HttpFront {
    /// Listens on `addr` (port 0: any) and serves `/rawman` for the AMI
    /// server at `ami`.
    pub(crate) fn start(addr: SocketAddr, ami: SocketAddr, max_age: Duration) -> io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Front {
            ami,
            max_age,
            sessions: Mutex::new(HashMap::new()),
            shutdown: AtomicBool::new(false),
            threads: Mutex::new(Vec::new()),
        });
        let front = inner.clone();
        let acceptor = std::thread::Builder::new()
            .name("ami-testkit-http-accept".into())
            .spawn(move || accept_loop(&front, &listener))?;
        Ok(HttpFront {
            inner,
            addr,
            acceptor: Some(acceptor),
        })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Forgets every HTTP session now (their cookies get `Permission denied`).
    pub(crate) fn expire_all(&self) {
        let sessions: Vec<_> = lock(&self.inner.sessions).drain().map(|(_, s)| s).collect();
        for session in sessions {
            session.end();
        }
    }
}

impl Drop for HttpFront {
    fn drop(&mut self) {
        self.inner.shutdown.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        self.expire_all();
        let threads = std::mem::take(&mut *lock(&self.inner.threads));
        for thread in threads {
            let _ = thread.join();
        }
    }
}

fn accept_loop(front: &Arc<Front>, listener: &TcpListener) {
    loop {
        let accepted = listener.accept();
        if front.shutdown.load(Ordering::SeqCst) {
            return;
        }
        let Ok((tcp, _)) = accepted else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let conn_front = front.clone();
        let spawned = std::thread::Builder::new()
            .name("ami-testkit-http".into())
            .spawn(move || serve_connection(&conn_front, tcp));
        if let Ok(handle) = spawned {
            let mut threads = lock(&front.threads);
            threads.retain(|t| !t.is_finished());
            threads.push(handle);
        }
    }
}

// ----- HTTP/1.1 -----

/// One request: method, path, query, headers (lowercased names), body.
struct Request {
    method: String,
    path: String,
    query: Vec<u8>,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

/// Reads bytes until `buf` holds a whole request; `None` at EOF, on an error
/// or at shutdown.
fn read_request(front: &Front, tcp: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Request> {
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = find(buf, b"\r\n\r\n") {
            break at;
        }
        if buf.len() > MAX_REQUEST {
            return None;
        }
        fill(front, tcp, buf, &mut chunk)?;
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut start = lines.next()?.split(' ');
    let method = start.next()?.to_owned();
    let target = start.next()?.to_owned();
    let headers: Vec<(String, Vec<u8>)> = lines
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            Some((
                name.trim().to_ascii_lowercase(),
                value.trim().as_bytes().to_vec(),
            ))
        })
        .collect();
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| std::str::from_utf8(v).ok()?.parse::<usize>().ok())
        .unwrap_or(0);
    if length > MAX_REQUEST {
        return None;
    }
    while buf.len() < head_end + 4 + length {
        fill(front, tcp, buf, &mut chunk)?;
    }
    let body = buf[head_end + 4..head_end + 4 + length].to_vec();
    buf.drain(..head_end + 4 + length);
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path.to_owned(), query.as_bytes().to_vec()),
        None => (target, Vec::new()),
    };
    Some(Request {
        method,
        path,
        query,
        headers,
        body,
    })
}

fn fill(front: &Front, tcp: &mut TcpStream, buf: &mut Vec<u8>, chunk: &mut [u8]) -> Option<()> {
    loop {
        if front.shutdown.load(Ordering::SeqCst) {
            return None;
        }
        match tcp.read(chunk) {
            Ok(0) => return None,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Some(());
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return None,
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A response as Asterisk 22 writes it (header order and spelling of the capture).
fn write_response(
    tcp: &mut TcpStream,
    status: &str,
    cookie: Option<(&str, Duration)>,
    body: &[u8],
) -> io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nServer: Asterisk/22.10.1\r\nDate: {}\r\nCache-Control: no-cache, no-store\r\nContent-type: text/plain\r\n",
        http_date(SystemTime::now())
    );
    if let Some((cookie, max_age)) = cookie {
        out.push_str(&format!(
            "Set-Cookie: mansession_id=\"{cookie}\"; Version=1; Max-Age={}\r\nPragma: SuppressEvents\r\n",
            max_age.as_secs()
        ));
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    tcp.write_all(&bytes)
}

/// `Sun, 29 Nov 2026 19:07:49 GMT`.
fn http_date(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let days = (secs / 86_400) as i64;
    let (hour, minute, second) = (secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(month - 1) as usize];
    format!("{weekday}, {day:02} {month} {year} {hour:02}:{minute:02}:{second:02} GMT")
}

fn serve_connection(front: &Front, mut tcp: TcpStream) {
    let _ = tcp.set_read_timeout(Some(TICK));
    let mut buf = Vec::new();
    while let Some(request) = read_request(front, &mut tcp, &mut buf) {
        let close = request
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case(b"close"));
        if !serve_request(front, &mut tcp, &request) || close {
            break;
        }
    }
}

/// Answers one request; false when the connection must close.
fn serve_request(front: &Front, tcp: &mut TcpStream, request: &Request) -> bool {
    if request.path != "/rawman" {
        return write_response(tcp, "404 Not Found", None, b"Not Found\r\n").is_ok();
    }
    let form = match request.method.as_str() {
        "GET" | "HEAD" => request.query.clone(),
        "POST" => request.body.clone(),
        _ => {
            return write_response(tcp, "501 Not Implemented", None, b"").is_ok();
        }
    };
    let params: Vec<(String, Vec<u8>)> = decode_form(&form)
        .into_iter()
        .map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v))
        .collect();
    let cookie = request.header("cookie").and_then(session_cookie);
    let Some((session, known)) = front.session_for(cookie.as_deref()) else {
        return write_response(tcp, "503 Service Unavailable", None, b"").is_ok();
    };
    session.touch(true);
    let action = param(&params, "action").unwrap_or_default();
    let body = if action.eq_ignore_ascii_case(b"waitevent") && known {
        session.wait_event(front, &params)
    } else if !known && !is_login_action(&action) {
        // An unknown or expired cookie: a fresh session, which has not logged in.
        Some(error_body(&params, "Permission denied"))
    } else {
        session.action(front, &params)
    };
    session.touch(false);
    if !session.alive() {
        lock(&front.sessions).remove(&session.cookie);
    }
    match body {
        Some(body) => {
            write_response(tcp, "200 OK", Some((&session.cookie, front.max_age)), &body).is_ok()
        }
        // The session's AMI connection died mid-reply: so does this one.
        None => false,
    }
}

fn is_login_action(action: &[u8]) -> bool {
    [&b"login"[..], b"challenge", b"logoff"]
        .iter()
        .any(|a| action.eq_ignore_ascii_case(a))
}

fn param(params: &[(String, Vec<u8>)], name: &str) -> Option<Vec<u8>> {
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

fn error_body(params: &[(String, Vec<u8>)], message: &str) -> Vec<u8> {
    let mut out = b"Response: Error\r\n".to_vec();
    if let Some(id) = param(params, "actionid").filter(|id| !id.is_empty()) {
        out.extend_from_slice(b"ActionID: ");
        out.extend_from_slice(&id);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Message: {message}\r\n\r\n").as_bytes());
    out
}

/// The `mansession_id` of a `Cookie` header (`a=b; mansession_id=15bc4f0c`).
fn session_cookie(header: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(header).ok()?;
    text.split(';').find_map(|part| {
        let (name, value) = part.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("mansession_id")
            .then(|| value.trim().trim_matches('"').to_owned())
    })
}

fn new_cookie() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as u64,
    );
    format!("{:08x}", hasher.finish() as u32)
}

impl Front {
    /// The live session of `cookie`, or a fresh one (`false`: the cookie was
    /// unknown, expired or absent). `None` when the AMI port cannot be reached,
    /// or once the front is shutting down.
    fn session_for(&self, cookie: Option<&str>) -> Option<(Arc<HttpSession>, bool)> {
        let mut sessions = lock(&self.sessions);
        // Checked under the sessions lock: a request that comes in while the
        // front is dropped (a client's late Logoff or WaitEvent) must not open
        // a session after `expire_all` emptied the map, or its reader thread,
        // blocked on an AMI connection nobody closes, hangs the drop's join.
        if self.shutdown.load(Ordering::SeqCst) {
            return None;
        }
        let now = Instant::now();
        let expired: Vec<String> = sessions
            .iter()
            .filter(|(_, s)| !s.alive() || s.expired(now, self.max_age))
            .map(|(c, _)| c.clone())
            .collect();
        for cookie in expired {
            if let Some(session) = sessions.remove(&cookie) {
                session.end();
            }
        }
        if let Some(session) = cookie.and_then(|c| sessions.get(c)) {
            return Some((session.clone(), true));
        }
        let mut cookie = new_cookie();
        while sessions.contains_key(&cookie) {
            cookie = new_cookie();
        }
        let session = HttpSession::open(self, cookie.clone()).ok()?;
        sessions.insert(cookie, session.clone());
        Some((session, false))
    }
}

// ----- one HTTP session: an AMI connection plus an event queue -----

struct HttpSession {
    cookie: String,
    /// The AMI connection's write half; held for a whole action, so actions
    /// of one session are served one at a time, as Asterisk does.
    writer: Mutex<TcpStream>,
    /// The same socket, to shut it down without waiting for the writer.
    socket: TcpStream,
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    alive: bool,
    /// Ended by expiry, not by its AMI connection dying.
    expired: bool,
    logged_in: bool,
    /// Requests in progress (a session in use never expires).
    busy: usize,
    last_seen: Option<Instant>,
    events: VecDeque<Vec<u8>>,
    collecting: Option<Collect>,
    /// Bumped by each WaitEvent: a newer one ends an older one.
    waits: u64,
}

/// The reply being collected for the action in progress.
struct Collect {
    action_id: Option<Vec<u8>>,
    body: Vec<u8>,
    responded: bool,
    in_list: bool,
    done: bool,
}

impl HttpSession {
    fn open(front: &Front, cookie: String) -> io::Result<Arc<Self>> {
        let tcp = TcpStream::connect_timeout(&front.ami, Duration::from_secs(5))?;
        let _ = tcp.set_nodelay(true);
        let reader = tcp.try_clone()?;
        let socket = tcp.try_clone()?;
        let session = Arc::new(HttpSession {
            cookie,
            writer: Mutex::new(tcp),
            socket,
            state: Mutex::new(State {
                alive: true,
                last_seen: Some(Instant::now()),
                ..State::default()
            }),
            changed: Condvar::new(),
        });
        let read_side = session.clone();
        let handle = std::thread::Builder::new()
            .name("ami-testkit-http-session".into())
            .spawn(move || read_side.read_loop(reader))?;
        let mut threads = lock(&front.threads);
        threads.retain(|t| !t.is_finished());
        threads.push(handle);
        Ok(session)
    }

    fn alive(&self) -> bool {
        lock(&self.state).alive
    }

    fn expired(&self, now: Instant, max_age: Duration) -> bool {
        let state = lock(&self.state);
        state.busy == 0 && state.last_seen.is_some_and(|seen| now - seen > max_age)
    }

    /// A request starts (`true`) or ends.
    fn touch(&self, start: bool) {
        let mut state = lock(&self.state);
        if start {
            state.busy += 1;
        } else {
            state.busy -= 1;
        }
        state.last_seen = Some(Instant::now());
    }

    /// Ends the session: its AMI connection closes.
    fn end(&self) {
        {
            let mut state = lock(&self.state);
            state.alive = false;
            state.expired = true;
        }
        let _ = self.socket.shutdown(std::net::Shutdown::Both);
        self.changed.notify_all();
    }

    /// Sorts what the AMI connection says into the reply being collected and
    /// the event queue.
    fn read_loop(&self, mut tcp: TcpStream) {
        let mut parser = Parser::new();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match tcp.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            parser.feed(&buf[..n]);
            let mut state = lock(&self.state);
            for item in parser.by_ref() {
                if let Parsed::Packet(packet) = item {
                    state.sort(packet);
                }
            }
            drop(state);
            self.changed.notify_all();
        }
        lock(&self.state).alive = false;
        self.changed.notify_all();
    }

    /// Serves one action on the AMI connection; its whole reply, or `None`
    /// when the connection died first.
    fn action(&self, front: &Front, params: &[(String, Vec<u8>)]) -> Option<Vec<u8>> {
        let mut writer = lock(&self.writer);
        let mut text = Vec::new();
        for (key, value) in params {
            // As Asterisk: the value ends where a C string or a line would.
            let end = value
                .iter()
                .position(|b| matches!(b, b'\r' | b'\n' | 0))
                .unwrap_or(value.len());
            text.extend_from_slice(key.as_bytes());
            text.extend_from_slice(b": ");
            text.extend_from_slice(&value[..end]);
            text.extend_from_slice(b"\r\n");
        }
        text.extend_from_slice(b"\r\n");
        let login = param(params, "action").is_some_and(|a| a.eq_ignore_ascii_case(b"login"));
        lock(&self.state).collecting = Some(Collect {
            action_id: param(params, "actionid").filter(|id| !id.is_empty()),
            body: Vec::new(),
            responded: false,
            in_list: false,
            done: false,
        });
        if writer.write_all(&text).is_err() {
            return None;
        }
        let mut state = lock(&self.state);
        loop {
            if state.collecting.as_ref().is_some_and(|c| c.done) {
                break;
            }
            if !state.alive || front.shutdown.load(Ordering::SeqCst) {
                state.collecting = None;
                return None;
            }
            state = self
                .changed
                .wait_timeout(state, TICK)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let body = state.collecting.take().map(|c| c.body).unwrap_or_default();
        if login && body.starts_with(b"Response: Success") {
            state.logged_in = true;
        }
        // The AMI side closes after these: the session ends with the answer.
        if body.starts_with(b"Response: Goodbye") || (login && !state.logged_in) {
            state.alive = false;
        }
        Some(body)
    }

    /// `WaitEvent`: the queued events at once, or the first ones to come
    /// within `Timeout` seconds (Asterisk clamps it to `Max-Age - 10`; here to
    /// nine tenths of `Max-Age`, so short test ages still long-poll).
    fn wait_event(&self, front: &Front, params: &[(String, Vec<u8>)]) -> Option<Vec<u8>> {
        let mut state = lock(&self.state);
        if !state.logged_in {
            return Some(error_body(params, "Permission denied"));
        }
        let max = front.max_age - front.max_age / 10;
        let timeout = param(params, "timeout")
            .and_then(|t| String::from_utf8_lossy(&t).trim().parse::<i64>().ok())
            .filter(|t| *t >= 0)
            .map_or(max, |t| Duration::from_secs(t as u64).min(max));
        state.waits += 1;
        let me = state.waits;
        self.changed.notify_all();
        let deadline = Instant::now() + timeout;
        loop {
            let now = Instant::now();
            if !state.events.is_empty()
                || state.waits != me
                || !state.alive
                || now >= deadline
                || front.shutdown.load(Ordering::SeqCst)
            {
                break;
            }
            state = self
                .changed
                .wait_timeout(state, (deadline - now).min(TICK))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        // Asterisk looks once a second; here, events that follow each other
        // closely still come in one answer.
        let mut seen = state.events.len();
        while seen > 0 && state.waits == me && state.alive {
            state = self
                .changed
                .wait_timeout(state, BATCH)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            if state.events.len() == seen {
                break;
            }
            seen = state.events.len();
        }
        // The AMI side died (a restart): so does this exchange. An expired
        // session answers this wait; the next request meets Permission denied.
        if !state.alive && !state.expired {
            return None;
        }
        let id = param(params, "actionid").filter(|id| !id.is_empty());
        let mut body = b"Response: Success\r\n".to_vec();
        let id_line = id.map(|id| [&b"ActionID: "[..], &id, b"\r\n"].concat());
        body.extend_from_slice(id_line.as_deref().unwrap_or_default());
        body.extend_from_slice(b"Message: Waiting for Event completed.\r\n\r\n");
        for event in state.events.drain(..) {
            body.extend_from_slice(&event);
        }
        body.extend_from_slice(b"Event: WaitEventComplete\r\n");
        body.extend_from_slice(id_line.as_deref().unwrap_or_default());
        body.extend_from_slice(b"\r\n");
        Some(body)
    }
}

impl State {
    fn sort(&mut self, packet: Packet) {
        let Some(collect) = self.collecting.as_mut().filter(|c| !c.done) else {
            if packet.kind() == PacketKind::Event {
                self.events.push_back(packet.as_bytes().to_vec());
            }
            return;
        };
        let own = packet.action_id().map(|id| id.as_bytes()) == collect.action_id.as_deref();
        if !collect.responded {
            if packet.kind() != PacketKind::Event {
                collect.responded = true;
                collect.in_list = !packet.is_error() && opens_list(&packet);
                collect.done = !collect.in_list;
                collect.body.extend_from_slice(packet.as_bytes());
            } else {
                self.events.push_back(packet.as_bytes().to_vec());
            }
            return;
        }
        // Inside a list: its items carry the action's ActionID.
        if packet.kind() == PacketKind::Event && own {
            collect.done = packet.is("EventList", "Complete")
                || packet
                    .event_name()
                    .is_some_and(|n| n.as_bytes().ends_with(b"Complete"));
            collect.body.extend_from_slice(packet.as_bytes());
        } else if packet.kind() == PacketKind::Event {
            self.events.push_back(packet.as_bytes().to_vec());
        }
    }
}

fn opens_list(response: &Packet) -> bool {
    response.is("EventList", "start")
        || response
            .message()
            .is_some_and(|m| m.as_bytes().ends_with(b"will follow"))
}

/// The listen address for an HTTP front end on the loopback, any port.
pub(crate) fn any_loopback() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}
