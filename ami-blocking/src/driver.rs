//! The pump. One lock guards the core, the TLS session, the outgoing bytes and the
//! reply slots; nobody holds it across IO. The reader thread reads (with a read
//! timeout armed from `poll_timeout`) and feeds the core; the writer thread writes
//! what the core transmitted; callers only enqueue and wait on their own slot.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender, TryRecvError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use ami_proto::{Action, ActionId, Connection, Deliver, Dispatch, EventHub, Packet, Reply, State};
use rustls::ClientConnection;

use crate::{tls, Config, Error, Event, Socket};

/// Shortest read timeout (std refuses zero).
const MIN_WAIT: Duration = Duration::from_millis(1);
/// How long after the core's next deadline a waiting caller acts as the timer itself.
const MARGIN: Duration = Duration::from_millis(50);
/// How long a caller waits between checks when the core has no deadline.
const IDLE_WAIT: Duration = Duration::from_secs(1);

type Slot<T> = SyncSender<Result<T, ami_proto::Error>>;
/// A streamed list's reply and item queue, as its caller holds them.
pub(crate) type StreamSlots = (Receiver<Result<Reply, ami_proto::Error>>, Receiver<Packet>);

pub(crate) struct Inner {
    conn: Connection,
    tls: Option<ClientConnection>,
    /// Bytes ready for the socket, taken by the writer thread.
    out: Vec<u8>,
    /// Reply slots, and streamed lists' item queues (unbounded: the memory is
    /// the caller's own list).
    dispatch: Dispatch<Slot<Reply>, Sender<Packet>>,
    login: Option<Slot<()>>,
    /// Shuts the current socket down, unblocking its reader and writer.
    shut: Option<Box<dyn Fn() + Send>>,
    generation: u64,
    /// Closed for good.
    closed: bool,
    /// The AMI version of the current session's banner, while it is up.
    version: Option<String>,
}

/// Where [`Dispatch::route`] delivers, from under the client's lock.
struct Outlet<'a> {
    hub: &'a EventHub<Condvar>,
    login: &'a mut Option<Slot<()>>,
    version: &'a mut Option<String>,
}

impl Deliver for Outlet<'_> {
    type Reply = Slot<Reply>;
    type Items = Sender<Packet>;

    fn reply(&mut self, slot: Slot<Reply>, result: Result<Reply, ami_proto::Error>) {
        let _ = slot.try_send(result);
    }

    fn item(&mut self, items: &Sender<Packet>, item: Packet) {
        let _ = items.send(item); // a dropped ListStream no longer wants it
    }

    fn publish(&mut self, event: Event) {
        self.hub.publish(event);
    }

    fn version(&mut self, version: Option<String>) {
        *self.version = version;
    }

    fn session(&mut self, outcome: Result<(), &ami_proto::Error>) {
        if let Some(login) = self.login.take() {
            let _ = login.try_send(outcome.map_err(Clone::clone));
        }
    }
}

pub(crate) struct Shared {
    inner: Mutex<Inner>,
    /// Wakes the writer (bytes to write) and a reconnect backoff (close).
    wake: Condvar,
    pub(crate) hub: EventHub<Condvar>,
    config: Config,
}

impl Shared {
    pub(crate) fn new(config: Config, can_reconnect: bool) -> Arc<Self> {
        Arc::new(Shared {
            inner: Mutex::new(Inner {
                conn: Connection::new(config.connection.clone(), Instant::now()),
                tls: None,
                out: Vec::new(),
                dispatch: Dispatch::new(config.reconnect.filter(|_| can_reconnect)),
                login: None,
                shut: None,
                generation: 0,
                closed: false,
                version: None,
            }),
            wake: Condvar::new(),
            hub: EventHub::new(config.event_capacity),
            config,
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Attaches the transport of the current session; returns its generation, or
    /// `None` when the client was closed meanwhile. `renew` starts a fresh session.
    pub(crate) fn attach(
        &self,
        shut: Box<dyn Fn() + Send>,
        tls: Option<ClientConnection>,
        login: Option<Slot<()>>,
        renew: bool,
    ) -> Option<u64> {
        let mut inner = self.lock();
        if inner.closed {
            shut();
            return None;
        }
        if renew {
            inner.conn = Connection::new(self.config.connection.clone(), Instant::now());
            inner.generation += 1;
            inner.out.clear();
        }
        inner.shut = Some(shut);
        inner.tls = tls;
        inner.login = login;
        // The handshake may have read plaintext already.
        inner.on_bytes(&[], Instant::now());
        self.drain(&mut inner);
        Some(inner.generation)
    }

    /// Moves the core's outputs: bytes to the writer, replies to their slots,
    /// everything else to the event subscribers.
    pub(crate) fn drain(&self, inner: &mut Inner) {
        match &mut inner.tls {
            Some(session) => {
                let mut plain = Vec::new();
                inner.conn.poll_transmit(&mut plain);
                tls::encrypt(session, &plain, &mut inner.out);
            }
            None => _ = inner.conn.poll_transmit(&mut inner.out),
        }
        if !inner.out.is_empty() {
            self.wake.notify_all();
        }
        while let Some(output) = inner.conn.poll_output() {
            let mut outlet = Outlet {
                hub: &self.hub,
                login: &mut inner.login,
                version: &mut inner.version,
            };
            let Some(reason) = inner.dispatch.route(output, &mut outlet) else {
                continue;
            };
            if let Some(shut) = inner.shut.take() {
                shut();
            }
            if inner.closed || !inner.dispatch.may_redial(&reason) {
                inner.closed = true;
                self.hub.close();
            }
            self.wake.notify_all();
        }
    }

    /// Starts an action with `start` and waits for its completion.
    pub(crate) fn call(
        &self,
        start: impl FnOnce(&mut Connection, Instant) -> Result<ActionId, ami_proto::Error>,
    ) -> Result<Reply, Error> {
        let (slot, reply) = std::sync::mpsc::sync_channel(1);
        {
            let mut inner = self.lock();
            let id = start(&mut inner.conn, Instant::now())?;
            inner.dispatch.insert(id, slot, None);
            self.drain(&mut inner);
        }
        self.wait(&reply)
    }

    /// Sends a streamed list action: its reply slot and its item queue.
    pub(crate) fn stream(&self, action: Action) -> Result<StreamSlots, Error> {
        let (slot, reply) = std::sync::mpsc::sync_channel(1);
        let (queue, items) = std::sync::mpsc::channel();
        let mut inner = self.lock();
        let id = inner.conn.send_action(action, Instant::now())?;
        inner.dispatch.insert(id, slot, Some(queue));
        self.drain(&mut inner);
        Ok((reply, items))
    }

    /// Waits for a slot, never without a deadline: shortly after the core's next
    /// deadline the caller runs the core's timer itself, so a stuck reader thread
    /// cannot make it hang.
    pub(crate) fn wait<T>(
        &self,
        reply: &Receiver<Result<T, ami_proto::Error>>,
    ) -> Result<T, Error> {
        match self.recv(reply) {
            Some(result) => result.map_err(Error::from),
            None => Err(Error::Closed(ami_proto::Error::Io(
                "session replaced".into(),
            ))),
        }
    }

    /// The next message of `rx`, `None` once its sender is gone; waits like
    /// [`wait`](Self::wait).
    pub(crate) fn recv<T>(&self, rx: &Receiver<T>) -> Option<T> {
        match rx.try_recv() {
            Ok(message) => return Some(message),
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) => {}
        }
        loop {
            let at = self.lock().conn.poll_timeout();
            let wait = at.map_or(IDLE_WAIT, |at| at.saturating_duration_since(Instant::now()));
            match rx.recv_timeout(wait + MARGIN) {
                Ok(message) => return Some(message),
                Err(RecvTimeoutError::Timeout) => {
                    let mut inner = self.lock();
                    inner.conn.handle_timeout(Instant::now());
                    self.drain(&mut inner);
                }
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Closes for good: fails every pending action, ends the event streams.
    pub(crate) fn close(&self) {
        let mut inner = self.lock();
        inner.closed = true;
        inner.conn.close();
        self.drain(&mut inner);
        if let Some(shut) = inner.shut.take() {
            shut();
        }
        self.hub.close();
        self.wake.notify_all();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// The current session's AMI version; `None` between sessions and once closed.
    pub(crate) fn ami_version(&self) -> Option<String> {
        let inner = self.lock();
        inner.version.clone().filter(|_| !inner.closed)
    }

    /// Runs one session's transport until its core closes: spawns the writer and
    /// reads on this thread. Returns the close reason.
    pub(crate) fn session<S: Socket>(
        self: &Arc<Self>,
        stream: S,
        generation: u64,
    ) -> ami_proto::Error {
        match stream.split() {
            Ok(writer) => {
                let shared = Arc::clone(self);
                let spawned = thread::Builder::new()
                    .name("ami-writer".into())
                    .spawn(move || shared.write_loop(writer, generation));
                if let Err(error) = spawned {
                    self.fail(generation, error);
                }
            }
            Err(error) => self.fail(generation, error),
        }
        self.read_loop(stream, generation);
        self.session_reason()
    }

    /// Why the current session closed.
    pub(crate) fn session_reason(&self) -> ami_proto::Error {
        match self.lock().conn.state() {
            State::Closed(reason) => reason.clone(),
            _ => ami_proto::Error::Io("session replaced".into()),
        }
    }

    pub(crate) fn fail(&self, generation: u64, error: std::io::Error) {
        let mut inner = self.lock();
        if inner.generation == generation {
            inner.conn.handle_io_error(error);
            self.drain(&mut inner);
        }
    }

    fn read_loop<S: Socket>(&self, mut stream: S, generation: u64) {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let wait = {
                let inner = self.lock();
                if inner.generation != generation || matches!(inner.conn.state(), State::Closed(_))
                {
                    return;
                }
                let at = inner.conn.poll_timeout();
                at.map(|at| at.saturating_duration_since(Instant::now()).max(MIN_WAIT))
            };
            let result = stream
                .set_read_timeout(wait)
                .and_then(|()| stream.read(&mut buf));
            let mut inner = self.lock();
            if inner.generation != generation {
                return;
            }
            let now = Instant::now();
            match result {
                Ok(0) => inner.conn.handle_eof(),
                Ok(n) => inner.on_bytes(&buf[..n], now),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    inner.conn.handle_timeout(now)
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => inner.conn.handle_io_error(e),
            }
            self.drain(&mut inner);
        }
    }

    fn write_loop<S: Socket>(&self, mut stream: S, generation: u64) {
        let mut bytes = Vec::new();
        loop {
            {
                let mut inner = self.lock();
                loop {
                    if inner.generation != generation {
                        return;
                    }
                    if !inner.out.is_empty() {
                        std::mem::swap(&mut bytes, &mut inner.out);
                        break;
                    }
                    if matches!(inner.conn.state(), State::Closed(_)) {
                        return;
                    }
                    inner = self
                        .wake
                        .wait(inner)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            }
            if let Err(error) = stream.write_all(&bytes).and_then(|()| stream.flush()) {
                return self.fail(generation, error);
            }
            bytes.clear();
        }
    }

    /// The reader thread of `connect`: sessions, and reconnects between them.
    pub(crate) fn run(self: Arc<Self>, mut stream: TcpStream, dialer: Dialer) {
        let mut generation = 0;
        loop {
            let reason = self.session(stream, generation);
            let mut delay = self.lock().dispatch.redial_after(&reason);
            (stream, generation) = loop {
                match delay {
                    Some(wait) if self.sleep(wait) => {}
                    _ => return self.finish(),
                }
                if let Ok((next, session)) = dialer.dial() {
                    if let Ok(shutter) = next.try_clone() {
                        let shut = Box::new(move || shutter.shut());
                        match self.attach(shut, session, None, true) {
                            Some(generation) => break (next, generation),
                            None => return,
                        }
                    }
                }
                delay = self.lock().dispatch.dial_failed();
            };
        }
    }

    /// Waits `delay` unless the client is closed first; true when still open.
    fn sleep(&self, delay: Duration) -> bool {
        let deadline = Instant::now() + delay;
        let mut inner = self.lock();
        while !inner.closed {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            inner = self
                .wake
                .wait_timeout(inner, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        false
    }

    /// No more sessions: close for good.
    pub(crate) fn finish(&self) {
        let mut inner = self.lock();
        inner.closed = true;
        self.hub.close();
        self.wake.notify_all();
        drop(inner.shut.take());
    }
}

impl Inner {
    fn on_bytes(&mut self, data: &[u8], now: Instant) {
        let Some(session) = &mut self.tls else {
            if !data.is_empty() {
                self.conn.feed(data, now);
            }
            return;
        };
        match tls::feed(session, data, &mut self.conn, now) {
            Ok(false) => {}
            Ok(true) => self.conn.handle_eof(),
            Err(message) => self.conn.handle_io_error(format!("TLS: {message}")),
        }
    }
}

/// How `connect`/`connect_tls` dial, kept for reconnects.
pub(crate) struct Dialer {
    pub(crate) addrs: Vec<SocketAddr>,
    pub(crate) tls: Option<(String, Arc<rustls::ClientConfig>)>,
    pub(crate) timeout: Duration,
    pub(crate) write_timeout: Duration,
}

impl Dialer {
    /// A connected (and, for TLS, handshaken) socket.
    pub(crate) fn dial(&self) -> Result<(TcpStream, Option<ClientConnection>), Error> {
        let mut last = std::io::Error::new(ErrorKind::InvalidInput, "no address to connect to");
        for addr in &self.addrs {
            match TcpStream::connect_timeout(addr, self.timeout) {
                Ok(mut stream) => {
                    let _ = stream.set_nodelay(true);
                    let session = match &self.tls {
                        Some((name, config)) => Some(tls::handshake(
                            &mut stream,
                            name,
                            Arc::clone(config),
                            self.timeout,
                        )?),
                        None => None,
                    };
                    stream
                        .set_write_timeout(Some(self.write_timeout))
                        .map_err(Error::Io)?;
                    return Ok((stream, session));
                }
                Err(error) => last = error,
            }
        }
        Err(Error::Connect(last))
    }
}
