//! The listener, the builder and the [`FakeAsterisk`] handle.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ami_proto::Packet;

use crate::calls::Calls;
use crate::conn::{lock, Conn};
use crate::event::{Event, Prepared};
use crate::fault::Fault;
use crate::http::{any_loopback, HttpFront};
use crate::reply::Reply;
use crate::tls::TlsServer;

/// A custom action handler: the parsed request and the reply to fill.
pub type Handler = Arc<dyn Fn(&Packet, &mut Reply) + Send + Sync + 'static>;

/// The fixed configuration of a fake server.
pub(crate) struct Config {
    pub(crate) users: Vec<(String, String)>,
    pub(crate) legacy_command: bool,
    pub(crate) ami_version: String,
    pub(crate) handlers: HashMap<String, Handler>,
    pub(crate) auth_failure_delay: Duration,
    pub(crate) originate_delay: Duration,
    pub(crate) challenge: Option<String>,
    pub(crate) replay: Option<Vec<u8>>,
    pub(crate) commands: HashMap<String, String>,
    pub(crate) login_burst: usize,
    pub(crate) recording: Option<Arc<crate::recording::Script>>,
}

impl Config {
    pub(crate) fn secret_of(&self, user: &str) -> Option<&str> {
        self.users
            .iter()
            .rev()
            .find(|(u, _)| u == user)
            .map(|(_, s)| s.as_str())
    }
}

/// State shared by the handle, the acceptor and every session thread.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) conns: Mutex<Vec<Arc<Conn>>>,
    pub(crate) faults: Mutex<Vec<Fault>>,
    pub(crate) calls: Mutex<Calls>,
    pub(crate) started: Instant,
    pub(crate) shutdown: AtomicBool,
    pub(crate) threads: Mutex<Vec<JoinHandle<()>>>,
    tls: Option<TlsServer>,
}

impl Shared {
    /// The connections still open.
    pub(crate) fn open_conns(&self) -> Vec<Arc<Conn>> {
        lock(&self.conns)
            .iter()
            .filter(|c| c.is_open())
            .cloned()
            .collect()
    }

    /// Sends an event to every logged-in session that wants it; returns how many got it.
    pub(crate) fn broadcast(&self, event: &Prepared) -> usize {
        self.open_conns()
            .iter()
            .filter(|c| c.deliver(event))
            .count()
    }

    fn spawn(&self, name: String, body: impl FnOnce() + Send + 'static) {
        let handle = std::thread::Builder::new()
            .name(name)
            .spawn(body)
            .expect("spawn a thread");
        let mut threads = lock(&self.threads);
        threads.retain(|t| !t.is_finished());
        threads.push(handle);
    }
}

/// Configures a [`FakeAsterisk`].
///
/// ```
/// use ami_testkit::FakeAsterisk;
///
/// let fake = FakeAsterisk::builder()
///     .user("alice", "s3cret")
///     .ami_version("7.0.3")
///     .command_output("sip show peers", "Name/username  Host\n0 sip peers")
///     .start();
/// assert!(fake.addr().ip().is_loopback());
/// ```
pub struct Builder {
    config: Config,
    addr: SocketAddr,
    tls: bool,
    tls_server: Option<TlsServer>,
    faults: Vec<Fault>,
    /// Serve `/rawman` too, with this session `Max-Age`.
    http: Option<Duration>,
}

impl Builder {
    fn new() -> Self {
        Builder {
            config: Config {
                users: vec![("admin".into(), "amp111".into())],
                legacy_command: false,
                ami_version: "11.0.0".into(),
                handlers: HashMap::new(),
                auth_failure_delay: Duration::ZERO,
                originate_delay: Duration::ZERO,
                challenge: None,
                replay: None,
                commands: HashMap::new(),
                login_burst: 0,
                recording: None,
            },
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            tls: false,
            tls_server: None,
            faults: Vec::new(),
            http: None,
        }
    }

    /// Also serves AMI over HTTP (`/rawman`, as Asterisk's `webenabled=yes`) on a
    /// port of its own, [`FakeAsterisk::http_addr`]; sessions expire after 60 s
    /// without a request (see [`Builder::http_max_age`]). Not with TLS.
    pub fn http(mut self, http: bool) -> Self {
        self.http = http.then_some(self.http.unwrap_or(Duration::from_secs(60)));
        self
    }

    /// Serves `/rawman` with this session lifetime (Asterisk's `httptimeout`,
    /// default 60 s; whole seconds on the wire), short in tests of expiry.
    pub fn http_max_age(mut self, max_age: Duration) -> Self {
        self.http = Some(max_age);
        self
    }

    /// Adds a manager user (or changes its secret). `admin`/`amp111` exists by default.
    pub fn user(mut self, name: impl Into<String>, secret: impl Into<String>) -> Self {
        self.config.users.push((name.into(), secret.into()));
        self
    }

    /// Answers `Command` the Asterisk 13 way (`Response: Follows` ... `--END COMMAND--`)
    /// instead of `Output:` lines.
    pub fn legacy_command(mut self, legacy: bool) -> Self {
        self.config.legacy_command = legacy;
        self
    }

    /// Listens on this address (default `127.0.0.1:0`, an OS-chosen port).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Serves TLS with a self-signed certificate for `localhost`/`127.0.0.1` made at
    /// start; see [`FakeAsterisk::tls_client_config`].
    pub fn tls(mut self, tls: bool) -> Self {
        self.tls = tls;
        self
    }

    /// Serves TLS with `pki`'s server certificate (its CA is then
    /// [`FakeAsterisk::tls_root_pem`]); with `require_client_cert`, only
    /// clients presenting a certificate signed by `pki`'s CA get through
    /// (mutual TLS). Overrides [`Builder::tls`].
    pub fn tls_pki(mut self, pki: &crate::TestPki, require_client_cert: bool) -> Self {
        self.tls_server = Some(pki.server(require_client_cert));
        self
    }

    /// The AMI version in the banner (default `11.0.0`, as Asterisk 22 sends).
    pub fn ami_version(mut self, version: impl Into<String>) -> Self {
        self.config.ami_version = version.into();
        self
    }

    /// Serves `action` (case-insensitive) with `handler`, replacing any built-in
    /// behaviour. Before login, only `Login`, `Challenge` and `Logoff` reach a handler.
    pub fn handler(
        mut self,
        action: &str,
        handler: impl Fn(&Packet, &mut Reply) + Send + Sync + 'static,
    ) -> Self {
        self.config
            .handlers
            .insert(action.to_ascii_lowercase(), Arc::new(handler));
        self
    }

    /// How long a failed login waits before its error (Asterisk: 1 s; default here: 0).
    pub fn auth_failure_delay(mut self, delay: Duration) -> Self {
        self.config.auth_failure_delay = delay;
        self
    }

    /// How long a synchronous `Originate` "rings" before it answers (default 0).
    pub fn originate_delay(mut self, delay: Duration) -> Self {
        self.config.originate_delay = delay;
        self
    }

    /// A fixed MD5 challenge instead of a random one (e.g. the fixture's `204268188`).
    pub fn challenge(mut self, challenge: impl Into<String>) -> Self {
        self.config.challenge = Some(challenge.into());
        self
    }

    /// The output of a CLI command for the `Command` action (lines split at `\n`).
    pub fn command_output(mut self, command: &str, output: &str) -> Self {
        self.config
            .commands
            .insert(command.trim().to_owned(), output.to_owned());
        self
    }

    /// Replay mode: every connection gets `transcript` byte for byte (a recorded
    /// `.server` file, banner included), then the server ends the stream. What the
    /// client sends is recorded but not answered.
    pub fn replay(mut self, transcript: impl Into<Vec<u8>>) -> Self {
        self.config.replay = Some(transcript.into());
        self
    }

    /// After each successful built-in `Login`, writes `count` call events
    /// (`Newchannel`, `Newstate`, `Hangup` of short calls on `PJSIP/burst-<n>`) to
    /// that session, one write each, right after the login reply and before the
    /// next action is read (default 0: none).
    ///
    /// This is the window a real Asterisk 22 under load shows: events flow
    /// between `Authentication accepted` and the reply to a `Filter` sent right
    /// after it, and the filter does not hold them back (it is in force only from
    /// its reply on). The session's Events mask does apply: after a login with
    /// `Events: off` none of them is written.
    ///
    /// ```
    /// let fake = ami_testkit::FakeAsterisk::builder().login_burst(30).start();
    /// # drop(fake);
    /// ```
    pub fn login_burst(mut self, count: usize) -> Self {
        self.config.login_burst = count;
        self
    }

    /// Serves a session recorded with `ami record` (see [`Recording`](crate::Recording)):
    /// each action is answered with the recorded exchange of the same name, in
    /// order, ActionIDs rewritten; other actions get the fake's own behaviour.
    pub fn recording(mut self, recording: &crate::Recording) -> Self {
        self.config.ami_version = recording.ami_version();
        self.config.recording = Some(Arc::new(crate::recording::Script::new(recording)));
        self
    }

    /// A fault in force from the start (see [`FakeAsterisk::set_fault`]).
    pub fn fault(mut self, fault: Fault) -> Self {
        self.faults.push(fault);
        self
    }

    /// Binds and starts serving.
    ///
    /// # Panics
    /// When the address cannot be bound; see [`Builder::try_start`].
    pub fn start(self) -> FakeAsterisk {
        self.try_start()
            .expect("ami-testkit: bind the fake Asterisk")
    }

    /// Binds and starts serving, or says why it could not bind.
    pub fn try_start(self) -> io::Result<FakeAsterisk> {
        let listener = TcpListener::bind(self.addr)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            config: self.config,
            conns: Mutex::new(Vec::new()),
            faults: Mutex::new(self.faults),
            calls: Mutex::new(Calls::new()),
            started: Instant::now(),
            shutdown: AtomicBool::new(false),
            threads: Mutex::new(Vec::new()),
            tls: self
                .tls_server
                .or_else(|| self.tls.then(TlsServer::generate)),
        });
        let acceptor = Acceptor::spawn(shared.clone(), listener, addr);
        let http = match self.http {
            Some(max_age) => Some(HttpFront::start(any_loopback(), addr, max_age)?),
            None => None,
        };
        Ok(FakeAsterisk {
            shared,
            addr,
            acceptor: Mutex::new(Some(acceptor)),
            http,
        })
    }
}

/// The accept loop of one listening period (until a restart or drop).
struct Acceptor {
    stop: Arc<AtomicBool>,
    addr: SocketAddr,
    handle: JoinHandle<()>,
}

impl Acceptor {
    fn spawn(shared: Arc<Shared>, listener: TcpListener, addr: SocketAddr) -> Acceptor {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("ami-testkit-accept".into())
            .spawn(move || accept_loop(&shared, &listener, &flag))
            .expect("spawn the accept thread");
        Acceptor { stop, addr, handle }
    }

    /// Stops accepting: sets the flag, then wakes `accept` with a connection of our own.
    fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(Ipv4Addr::LOCALHOST.into());
        }
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(2));
        let _ = self.handle.join();
    }
}

fn accept_loop(shared: &Arc<Shared>, listener: &TcpListener, stop: &AtomicBool) {
    loop {
        let accepted = listener.accept();
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok((tcp, peer)) = accepted else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let tls = shared.tls.as_ref().map(|t| &t.config);
        let Ok((source, sink)) = crate::transport::split(&tcp, tls) else {
            continue;
        };
        let faults = lock(&shared.faults).clone();
        let conn = {
            let mut conns = lock(&shared.conns);
            let conn = Arc::new(Conn::new(conns.len(), peer, tcp, sink, faults));
            conns.push(conn.clone());
            conn
        };
        let session_shared = shared.clone();
        shared.spawn(format!("ami-testkit-client-{}", conn.index), move || {
            crate::session::run(session_shared, conn, source)
        });
    }
}

/// What the fake knows about one client connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientInfo {
    /// Index in accept order, from 0, across restarts.
    pub index: usize,
    /// The client's address.
    pub peer: SocketAddr,
    /// True once logged in.
    pub logged_in: bool,
    /// The user it logged in as.
    pub user: Option<String>,
    /// False once the server closed (or lost) the connection.
    pub open: bool,
}

/// A fake Asterisk serving AMI on a real socket. Dropping it stops every thread.
///
/// ```
/// use std::io::{Read, Write};
///
/// let fake = ami_testkit::FakeAsterisk::start();
/// let mut tcp = std::net::TcpStream::connect(fake.addr()).unwrap();
/// tcp.write_all(b"Action: Login\r\nUsername: admin\r\nSecret: amp111\r\nEvents: off\r\n\r\n").unwrap();
/// let mut seen = Vec::new();
/// let mut buf = [0; 1024];
/// while !seen.ends_with(b"Authentication accepted\r\n\r\n") {
///     let n = tcp.read(&mut buf).unwrap();
///     assert!(n > 0);
///     seen.extend_from_slice(&buf[..n]);
/// }
/// assert!(seen.starts_with(b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\n"));
/// ```
pub struct FakeAsterisk {
    pub(crate) shared: Arc<Shared>,
    addr: SocketAddr,
    acceptor: Mutex<Option<Acceptor>>,
    http: Option<HttpFront>,
}

impl FakeAsterisk {
    /// A builder with the defaults: `127.0.0.1`, OS-chosen port, user `admin`/`amp111`.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Starts a fake with the defaults.
    #[allow(clippy::should_implement_trait)]
    pub fn start() -> FakeAsterisk {
        Builder::new().start()
    }

    /// The address it listens on (the same across [`FakeAsterisk::restart`]).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where `/rawman` is served, with [`Builder::http`].
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().map(HttpFront::addr)
    }

    /// Ends every HTTP session now, as their expiry would: their cookies get
    /// `Permission denied`.
    pub fn expire_http_sessions(&self) {
        if let Some(http) = &self.http {
            http.expire_all();
        }
    }

    /// The TLS certificate (DER) clients must trust, when TLS is on.
    pub fn tls_root_der(&self) -> Option<Vec<u8>> {
        self.shared.tls.as_ref().map(|t| t.cert_der.clone())
    }

    /// The TLS certificate (PEM), when TLS is on.
    pub fn tls_root_pem(&self) -> Option<String> {
        self.shared.tls.as_ref().map(|t| t.cert_pem.clone())
    }

    /// A rustls client config trusting this server's certificate, when TLS is on.
    /// Connect with server name `localhost` or `127.0.0.1`.
    pub fn tls_client_config(&self) -> Option<Arc<rustls::ClientConfig>> {
        self.shared
            .tls
            .as_ref()
            .map(|t| crate::tls::client_config_trusting(&t.cert_der))
    }

    /// Every connection accepted so far, in accept order.
    pub fn clients(&self) -> Vec<ClientInfo> {
        lock(&self.shared.conns)
            .iter()
            .map(|c| {
                let session = lock(&c.session);
                ClientInfo {
                    index: c.index,
                    peer: c.peer,
                    logged_in: session.logged_in,
                    user: session.user.clone(),
                    open: c.is_open(),
                }
            })
            .collect()
    }

    /// Waits until at least `count` open sessions are logged in at once; false
    /// when `timeout` passed first. For a test that restarted the fake and
    /// needs the client back in, without sleeping itself.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ami_testkit::FakeAsterisk;
    ///
    /// let fake = FakeAsterisk::start();
    /// assert!(!fake.wait_logged_in(1, Duration::from_millis(20)), "nobody connected");
    /// ```
    pub fn wait_logged_in(&self, count: usize, timeout: Duration) -> bool {
        self.eventually(timeout, |fake| {
            let clients = fake.clients();
            clients.iter().filter(|c| c.open && c.logged_in).count() >= count
        })
    }

    /// Waits until `condition` holds for this fake, checking every 2 ms;
    /// false when `timeout` passed first. The bounded "eventually" of a test
    /// that has no event to wait on (a client's reconnect, a count of actions).
    pub fn eventually(
        &self,
        timeout: Duration,
        mut condition: impl FnMut(&FakeAsterisk) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if condition(self) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            // A polling interval, not an ordering: the condition decides.
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// How many connections were accepted so far.
    pub fn client_count(&self) -> usize {
        lock(&self.shared.conns).len()
    }

    /// The exact bytes client `index` sent so far (plaintext under TLS). Bytes are
    /// recorded before the action they hold is answered, so once a test has read a
    /// reply, the action is in here.
    ///
    /// # Panics
    /// When there is no such client.
    pub fn recorded(&self, index: usize) -> Vec<u8> {
        let conn = lock(&self.shared.conns)[index].clone();
        let bytes = lock(&conn.recorded).clone();
        bytes
    }

    /// The actions client `index` sent so far, parsed.
    pub fn recorded_actions(&self, index: usize) -> Vec<Packet> {
        let mut parser = ami_proto::Parser::without_banner();
        parser.feed(&self.recorded(index));
        std::iter::from_fn(|| parser.next())
            .filter_map(|item| match item {
                ami_proto::Parsed::Packet(p) => Some(p),
                _ => None,
            })
            .collect()
    }

    /// Sends `event` to every logged-in session whose Events mask and filters let it
    /// through. Returns how many sessions it was written to.
    pub fn push_event(&self, event: &Event) -> usize {
        self.shared.broadcast(&Prepared::from_raw(event.to_bytes()))
    }

    /// Writes `bytes` verbatim to every logged-in session, ignoring masks and filters
    /// (for quirks no [`Event`] can express). Returns how many sessions got them.
    pub fn push_raw(&self, bytes: &[u8]) -> usize {
        self.shared
            .open_conns()
            .iter()
            .filter(|c| lock(&c.session).logged_in && c.write_raw(bytes))
            .count()
    }

    /// Replaces the faults in force, on open connections and new ones, with `fault`.
    pub fn set_fault(&self, fault: Fault) {
        self.update_faults(|faults| {
            faults.clear();
            faults.push(fault.clone());
        });
    }

    /// Adds `fault` (replacing one of the same kind) on open and new connections.
    pub fn add_fault(&self, fault: Fault) {
        self.update_faults(|faults| {
            faults.retain(|f| !f.same_kind(&fault));
            faults.push(fault.clone());
        });
    }

    /// Adds `fault` on connection `index` only.
    ///
    /// # Panics
    /// When there is no such client.
    pub fn add_client_fault(&self, index: usize, fault: Fault) {
        let conn = lock(&self.shared.conns)[index].clone();
        conn.update_faults(|faults| {
            faults.retain(|f| !f.same_kind(&fault));
            faults.push(fault);
        });
    }

    /// Removes every fault, releasing stalls.
    pub fn clear_faults(&self) {
        self.update_faults(Vec::clear);
    }

    fn update_faults(&self, update: impl Fn(&mut Vec<Fault>)) {
        update(&mut lock(&self.shared.faults));
        for conn in lock(&self.shared.conns).iter() {
            conn.update_faults(&update);
        }
    }

    /// Hangs up every call made with `Originate`, sending their `Hangup` events.
    pub fn hangup_all(&self) {
        crate::calls::hangup_matching(&self.shared, |_| true);
    }

    /// Simulates an Asterisk restart: stops listening, drops every connection, forgets
    /// the calls, then listens again on the same port. Clients see EOF and can reconnect.
    ///
    /// # Panics
    /// When the port cannot be bound again.
    pub fn restart(&self) {
        let mut acceptor = lock(&self.acceptor);
        if let Some(old) = acceptor.take() {
            old.stop();
        }
        self.drop_connections();
        *lock(&self.shared.calls) = Calls::new();
        let listener = bind_again(self.addr).expect("ami-testkit: listen again on the same port");
        *acceptor = Some(Acceptor::spawn(self.shared.clone(), listener, self.addr));
    }

    fn drop_connections(&self) {
        for conn in lock(&self.shared.conns).iter() {
            conn.kill();
        }
        let threads = std::mem::take(&mut *lock(&self.shared.threads));
        for thread in threads {
            let _ = thread.join();
        }
    }
}

/// Binds `addr` again. std sets `SO_REUSEADDR` on Unix, so connections in TIME_WAIT do
/// not block it; a few retries cover the listener's close racing with the bind.
fn bind_again(addr: SocketAddr) -> io::Result<TcpListener> {
    let mut tries = 0;
    loop {
        match TcpListener::bind(addr) {
            Ok(listener) => return Ok(listener),
            Err(e) if tries < 50 && e.kind() == io::ErrorKind::AddrInUse => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e),
        }
    }
}

impl Drop for FakeAsterisk {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        self.http.take();
        if let Some(acceptor) = lock(&self.acceptor).take() {
            acceptor.stop();
        }
        self.drop_connections();
    }
}
