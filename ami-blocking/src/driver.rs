//! The pump. One lock guards the core, its [`Wire`], the outgoing bytes and the
//! reply slots; nobody holds it across IO. Per session, the reader thread reads
//! (with a read timeout armed from `poll_timeout`) and feeds the core; a writer
//! thread writes what the core transmitted; callers only enqueue and wait on
//! their own slot.

use std::io::ErrorKind;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use ami_proto::{Action, ClientShared, Connection, Deliver, Dispatch, Packet, State};

use crate::wire::{Dialer, Wire};
use crate::{Client, Config, Error, Event, Reply, Socket};

/// Shortest read timeout (std refuses zero).
const MIN_WAIT: Duration = Duration::from_millis(1);
/// How long after the core's next deadline a waiting caller acts as the timer itself.
const MARGIN: Duration = Duration::from_millis(50);
/// How long a caller waits between checks when the core has no deadline.
const IDLE_WAIT: Duration = Duration::from_secs(1);

type Slot<T> = SyncSender<Result<T, ami_proto::Error>>;
/// An action's reply, as its caller waits for it.
pub(crate) type ReplySlot = Receiver<Result<Reply, ami_proto::Error>>;

struct Inner {
    conn: Connection,
    wire: Wire,
    /// Bytes ready for the socket, taken by the writer thread.
    out: Vec<u8>,
    /// Reply slots, and streamed lists' item queues (unbounded: the memory is
    /// the caller's own list).
    dispatch: Dispatch<Slot<Reply>, Sender<Packet>>,
    /// `connect`'s wait for the first login.
    login: Option<Slot<()>>,
    /// Shuts the current socket down, unblocking its reader and writer.
    shut: Option<Box<dyn Fn() + Send>>,
}

/// Where [`Dispatch::route`] delivers, from under the client's lock.
struct Outlet<'a> {
    status: &'a ClientShared<Condvar>,
    login: &'a mut Option<Slot<()>>,
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
        self.status.hub.publish(event);
    }

    fn version(&mut self, version: Option<String>) {
        self.status.set_version(version);
    }

    fn session(&mut self, outcome: Result<(), &ami_proto::Error>) {
        if let Some(login) = self.login.take() {
            let _ = login.try_send(outcome.map_err(Clone::clone));
        }
    }
}

pub(crate) struct Shared {
    inner: Mutex<Inner>,
    /// Wakes the writer (bytes to write, or closed) and a reconnect backoff.
    wake: Condvar,
    /// The event fan-out, the version, closed for good (set under `inner`'s lock).
    pub(crate) status: ClientShared<Condvar>,
    config: Config,
}

/// Dials, starts the reader thread and waits for the first login.
pub(crate) fn start(
    addr: impl ToSocketAddrs,
    tls: Option<(String, Arc<rustls::ClientConfig>)>,
    config: Config,
) -> Result<Client, Error> {
    let dialer = Dialer {
        addrs: addr.to_socket_addrs().map_err(Error::Connect)?.collect(),
        tls,
        timeout: config.connect_timeout,
        write_timeout: config.connection.action_timeout.max(Duration::from_secs(1)),
    };
    let (stream, wire) = dialer.dial()?;
    let (login, logged_in) = std::sync::mpsc::sync_channel(1);
    let shared = Shared::new(config, Some(login));
    shared.attach(wire);
    let client = Client::new(Arc::clone(&shared));
    thread::Builder::new()
        .name("ami-reader".into())
        .spawn(move || shared.run(stream, dialer))
        .map_err(Error::Io)?;
    client.shared().wait(&logged_in)?;
    Ok(client)
}

impl Shared {
    /// A client with one session to come; only one with a `login` (made by
    /// `connect`) may redial.
    pub(crate) fn new(config: Config, login: Option<Slot<()>>) -> Arc<Self> {
        let policy = config.reconnect.filter(|_| login.is_some());
        Arc::new(Shared {
            inner: Mutex::new(Inner {
                conn: Connection::new(config.connection.clone(), Instant::now()),
                wire: Wire::PLAIN,
                out: Vec::new(),
                dispatch: Dispatch::new(policy),
                login,
                shut: None,
            }),
            wake: Condvar::new(),
            status: ClientShared::new(config.event_capacity),
            config,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes `wire` the next session's codec, with a fresh core once the last
    /// one closed; false when the client was closed meanwhile.
    fn attach(&self, wire: Wire) -> bool {
        let mut guard = self.lock();
        let inner = &mut *guard;
        if self.status.is_closed() {
            return false;
        }
        if inner.closed() {
            inner.conn = Connection::new(self.config.connection.clone(), Instant::now());
            inner.out.clear();
        }
        inner.wire = wire;
        // The handshake may have read plaintext already.
        inner.wire.feed(&mut inner.conn, &[], Instant::now());
        self.drain(inner);
        true
    }

    /// Moves the core's outputs: bytes to the writer, replies to their slots,
    /// everything else to the event subscribers.
    fn drain(&self, inner: &mut Inner) {
        inner.wire.transmit(&mut inner.conn, &mut inner.out);
        if !inner.out.is_empty() {
            self.wake.notify_all();
        }
        while let Some(output) = inner.conn.poll_output() {
            let mut outlet = Outlet {
                status: &self.status,
                login: &mut inner.login,
            };
            let Some(reason) = inner.dispatch.route(output, &mut outlet) else {
                continue;
            };
            if let Some(shut) = inner.shut.take() {
                shut();
            }
            if self.status.is_closed() || !inner.dispatch.may_redial(&reason) {
                self.status.finish(reason);
                self.status.hub.close();
            }
            self.wake.notify_all();
        }
    }

    /// Sends `action`; its reply slot. `items` is a streamed list's item queue.
    pub(crate) fn submit(
        &self,
        action: Action,
        items: Option<Sender<Packet>>,
    ) -> Result<ReplySlot, Error> {
        let (slot, reply) = std::sync::mpsc::sync_channel(1);
        let mut inner = self.lock();
        let id = inner.conn.send_action(action, Instant::now())?;
        inner.dispatch.insert(id, slot, items);
        self.drain(&mut inner);
        Ok(reply)
    }

    /// Waits for a slot like [`recv`](Self::recv).
    pub(crate) fn wait<T>(
        &self,
        reply: &Receiver<Result<T, ami_proto::Error>>,
    ) -> Result<T, Error> {
        let gone = || Err(ami_proto::Error::Io("session replaced".into()));
        Ok(self.recv(reply).unwrap_or_else(gone)?)
    }

    /// The next message of `rx`, `None` once its sender is gone. Never waits
    /// without a deadline: shortly after the core's next deadline the caller
    /// runs the core's timer itself, so a stuck reader thread cannot make it hang.
    pub(crate) fn recv<T>(&self, rx: &Receiver<T>) -> Option<T> {
        if let Ok(message) = rx.try_recv() {
            return Some(message);
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

    /// Closes for good (`reason` unless already closed): fails every pending
    /// action, ends the event streams, shuts the socket.
    pub(crate) fn finish(&self, reason: ami_proto::Error) {
        let mut inner = self.lock();
        if !self.status.is_closed() {
            self.status.finish(reason);
        }
        inner.conn.close();
        self.drain(&mut inner);
        self.status.hub.close();
        if let Some(shut) = inner.shut.take() {
            shut();
        }
        self.wake.notify_all();
    }

    /// The status, once a session's close in progress under the lock is complete.
    pub(crate) fn settled(&self) -> &ClientShared<Condvar> {
        drop(self.lock());
        &self.status
    }

    /// Runs one session's transport until its core closes: reads on this thread
    /// while a scoped writer thread writes. Returns the close reason.
    pub(crate) fn session<S: Socket>(&self, mut stream: S) -> ami_proto::Error {
        thread::scope(|scope| {
            let halves = stream
                .split()
                .and_then(|writer| Ok((writer, stream.split()?)));
            let started = halves.and_then(|(writer, shutter)| {
                self.lock().shut = Some(Box::new(move || shutter.shut()));
                thread::Builder::new()
                    .name("ami-writer".into())
                    .spawn_scoped(scope, || self.write_loop(writer))
            });
            if let Err(error) = started {
                self.fail(error);
            }
            self.read_loop(&mut stream);
        });
        match self.lock().conn.state() {
            State::Closed(reason) => reason.clone(),
            _ => ami_proto::Error::ClosedByClient,
        }
    }

    fn fail(&self, error: std::io::Error) {
        let mut inner = self.lock();
        inner.conn.handle_io_error(error);
        self.drain(&mut inner);
    }

    fn read_loop<S: Socket>(&self, stream: &mut S) {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let wait = {
                let inner = self.lock();
                if inner.closed() {
                    return;
                }
                let at = inner.conn.poll_timeout();
                at.map(|at| at.saturating_duration_since(Instant::now()).max(MIN_WAIT))
            };
            let result = stream
                .set_read_timeout(wait)
                .and_then(|()| stream.read(&mut buf));
            let mut guard = self.lock();
            let inner = &mut *guard;
            match result {
                Ok(0) => inner.conn.handle_eof(),
                Ok(n) => inner.wire.feed(&mut inner.conn, &buf[..n], Instant::now()),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    inner.conn.handle_timeout(Instant::now())
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => inner.conn.handle_io_error(e),
            }
            self.drain(inner);
        }
    }

    /// Writes what the core transmits until it closes.
    fn write_loop<S: Socket>(&self, mut stream: S) {
        let mut bytes = Vec::new();
        loop {
            {
                let idle = |inner: &mut Inner| inner.out.is_empty() && !inner.closed();
                let waited = self.wake.wait_while(self.lock(), idle);
                let mut inner = waited.unwrap_or_else(PoisonError::into_inner);
                if inner.out.is_empty() {
                    return; // closed
                }
                std::mem::swap(&mut bytes, &mut inner.out);
            }
            if let Err(error) = stream.write_all(&bytes).and_then(|()| stream.flush()) {
                return self.fail(error);
            }
            bytes.clear();
        }
    }

    /// The reader thread of `connect`: sessions, and reconnects between them.
    fn run(self: Arc<Self>, mut stream: TcpStream, dialer: Dialer) {
        loop {
            let reason = self.session(stream);
            let mut delay = self.lock().dispatch.redial_after(&reason);
            stream = loop {
                match delay {
                    Some(wait) if self.sleep(wait) => {}
                    _ => return self.finish(reason),
                }
                if let Ok((next, wire)) = dialer.dial() {
                    if !self.attach(wire) {
                        return;
                    }
                    break next;
                }
                delay = self.lock().dispatch.dial_failed();
            };
        }
    }

    /// Waits `delay` unless the client is closed first; true when still open.
    fn sleep(&self, delay: Duration) -> bool {
        let open = |_: &mut Inner| !self.status.is_closed();
        let waited = self.wake.wait_timeout_while(self.lock(), delay, open);
        drop(waited.unwrap_or_else(PoisonError::into_inner));
        !self.status.is_closed()
    }
}

impl Inner {
    fn closed(&self) -> bool {
        matches!(self.conn.state(), State::Closed(_))
    }
}
