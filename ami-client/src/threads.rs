//! The pump on OS threads, written once (ami-blocking's runtime): the driver
//! thread dials, reads with a read timeout armed at the session's deadline
//! and waits out backoffs; a writer thread per transport writes what the
//! session transmits. Under TLS both go through one shared rustls session
//! ([`Wire`]), so the reader never holds up the writer.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use ami_proto::{Error, Reason, Transport};

use crate::read_buf::ReadBuf;
use crate::Link;

/// Shortest read timeout (std refuses zero).
const MIN_WAIT: Duration = Duration::from_millis(1);
/// Longest wait between checks when nothing is timed.
const IDLE_WAIT: Duration = Duration::from_secs(1);

/// A byte stream the thread pump can own: a reading handle plus a second
/// handle for the writer thread, a read timeout, and a shutdown that unblocks
/// both. Implemented for `TcpStream` and, on Unix, `UnixStream`.
pub trait Socket: Read + Write + Send + Sized + 'static {
    /// Another handle to the same stream (like [`TcpStream::try_clone`]).
    fn split(&self) -> std::io::Result<Self>;
    /// How long one read may block; `None` blocks until data or EOF.
    fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()>;
    /// Shuts both directions down, unblocking every handle's reads and writes.
    fn shut(&self);
}

macro_rules! socket {
    ($stream:ty) => {
        impl Socket for $stream {
            fn split(&self) -> std::io::Result<Self> {
                self.try_clone()
            }
            fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
                <$stream>::set_read_timeout(self, timeout)
            }
            fn shut(&self) {
                let _ = self.shutdown(Shutdown::Both);
            }
        }
    };
}

socket!(TcpStream);
#[cfg(unix)]
socket!(std::os::unix::net::UnixStream);

/// Turns bytes read from the socket into plaintext for the session, and the
/// session's plaintext into bytes for the socket: the identity for plain TCP
/// (`Wire::default()`), a rustls session shared by the reader and the writer
/// thread for TLS (`Wire::handshake`, feature `rustls`).
#[derive(Default)]
pub struct Wire {
    #[cfg(feature = "rustls")]
    tls: Option<std::sync::Mutex<rustls::ClientConnection>>,
}

impl Wire {
    /// Gives `data`, read from the socket, to the session as plaintext. Under
    /// TLS `data` may be empty, to take plaintext the handshake already
    /// decrypted; the peer's `close_notify` is the end of the stream.
    fn feed(&self, link: &Link, data: bytes::Bytes) {
        #[cfg(feature = "rustls")]
        if let Some(tls) = &self.tls {
            return rustls_wire::feed(tls, link, &data);
        }
        link.received_bytes(data);
    }

    /// Encodes `plain` (and pending TLS records) into `out`.
    fn encode(&self, plain: &[u8], out: &mut Vec<u8>) {
        #[cfg(feature = "rustls")]
        if let Some(tls) = &self.tls {
            return rustls_wire::encode(tls, plain, out);
        }
        out.extend_from_slice(plain);
    }

    /// Runs a TLS handshake on `stream` as `name`, each of its reads and writes
    /// bounded by `timeout`; the failure in words.
    #[cfg(feature = "rustls")]
    pub fn handshake(
        stream: &mut TcpStream,
        name: rustls::pki_types::ServerName<'static>,
        config: Arc<rustls::ClientConfig>,
        timeout: Duration,
    ) -> Result<Wire, Reason> {
        let tls = rustls_wire::handshake(stream, name, config, timeout)?;
        Ok(Wire {
            tls: Some(std::sync::Mutex::new(tls)),
        })
    }
}

/// Opens a transport for the thread pump: a connected socket and its codec.
pub type Dial<S> = dyn Fn() -> Result<(S, Wire), Reason> + Send;

/// Runs a client on the calling thread. Returned by ami-blocking's
/// `from_stream` (call [`run`](Self::run) on a thread of its own) and made by
/// its `connect` (on a driver thread it starts).
#[must_use = "the driver does nothing unless run"]
pub struct Driver<S> {
    link: Link,
    first: Option<(S, Wire)>,
    dial: Option<Box<Dial<S>>>,
}

impl<S> std::fmt::Debug for Driver<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver").finish_non_exhaustive()
    }
}

impl<S: Socket> Driver<S> {
    /// The driver of `link`'s client: `first` is a transport the caller opened
    /// (and reported with [`Link::connected`]); `dial` opens the next one.
    ///
    /// ```
    /// use std::io::Write;
    /// use std::os::unix::net::UnixStream;
    /// use ami_client::threads::{Driver, Wire};
    ///
    /// let (ours, mut server) = UnixStream::pair().unwrap();
    /// let (client, link) = ami_client::new(ami_proto::Config::default(), std::time::Instant::now);
    /// link.connected();
    /// server.write_all(b"Asterisk Call Manager/11.0.0\r\n").unwrap();
    /// drop(server); // the server hangs up: the client closes
    /// assert!(Driver::new(link, Some((ours, Wire::default())), None).run().is_err());
    /// assert!(matches!(client.status(), ami_proto::Status::Closed(_)));
    /// ```
    pub fn new(link: Link, first: Option<(S, Wire)>, dial: Option<Box<Dial<S>>>) -> Self {
        Driver { link, first, dial }
    }

    /// Pumps until the client is closed for good: `Ok(())` after a close, a
    /// logoff or when every `Client` handle is dropped; otherwise the error
    /// that ended it.
    pub fn run(mut self) -> Result<(), Error> {
        let link = Arc::new(self.link);
        let mut open: Option<Open<S>> = None;
        let mut buf = ReadBuf::default();
        loop {
            let step = link.state();
            match step.transport {
                Transport::Stop => {
                    drop(open);
                    return link.outcome();
                }
                Transport::Open => match (open.as_mut(), self.first.take()) {
                    (Some(o), _) => o.read_once(&link, &mut buf, step.deadline),
                    (None, Some((stream, wire))) => open = Open::start(&link, stream, wire),
                    (None, None) => link.io_error("no transport"),
                },
                Transport::Dial => {
                    open = None;
                    match self.dial.as_ref().map(|dial| dial()) {
                        Some(Ok((stream, wire))) => {
                            // Connected first: the writer stops once the
                            // transport is no longer wanted open.
                            link.connected();
                            open = Open::start(&link, stream, wire);
                        }
                        Some(Err(reason)) => link.dial_failed(reason),
                        None => link.dial_failed(Reason::Io("this client cannot redial".into())),
                    }
                }
                Transport::Wait => {
                    open = None;
                    if !link.wait_wake(until(step.deadline)) {
                        link.timeout();
                    }
                }
            }
        }
    }
}

/// How long to wait for `deadline`, at most [`IDLE_WAIT`].
fn until(deadline: Option<Instant>) -> Duration {
    let wait = deadline.map_or(IDLE_WAIT, |at| at.saturating_duration_since(Instant::now()));
    wait.min(IDLE_WAIT)
}

/// An open transport: the reading handle, the writer thread, the codec.
struct Open<S: Socket> {
    stream: S,
    wire: Arc<Wire>,
    writer: Option<JoinHandle<()>>,
    /// The read timeout set on the socket.
    timeout: Option<Duration>,
}

impl<S: Socket> Drop for Open<S> {
    /// Shuts the socket down (unblocking the writer) and joins the writer.
    fn drop(&mut self) {
        self.stream.shut();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

impl<S: Socket> Open<S> {
    /// Starts the writer of an open transport; the handshake may have
    /// decrypted plaintext already.
    fn start(link: &Arc<Link>, stream: S, wire: Wire) -> Option<Self> {
        let wire = Arc::new(wire);
        let (writer_wire, writer_link) = (Arc::clone(&wire), Arc::clone(link));
        let writer = stream.split().and_then(|writer_stream| {
            thread::Builder::new()
                .name("ami-writer".into())
                .spawn(move || write_loop(&writer_link, writer_stream, &writer_wire))
        });
        match writer {
            Ok(writer) => {
                wire.feed(link, bytes::Bytes::new());
                let writer = Some(writer);
                Some(Open {
                    stream,
                    wire,
                    writer,
                    timeout: None,
                })
            }
            Err(error) => {
                link.io_error(error);
                None
            }
        }
    }

    /// One read, bounded by the session's deadline.
    fn read_once(&mut self, link: &Link, buf: &mut ReadBuf, deadline: Option<Instant>) {
        let wait = deadline.map(|at| at.saturating_duration_since(Instant::now()).max(MIN_WAIT));
        let read = self
            .time_out(wait)
            .and_then(|()| self.stream.read(buf.space()));
        match read {
            Ok(0) => link.eof(),
            Ok(n) => {
                while buf.feed(n, link, |s| self.wire.feed(link, s)) {
                    link.let_subscribers_catch_up();
                }
                // Once per read, as the async pumps do: a subscriber woken by
                // this read's events runs before the next read rather than
                // when the scheduler gets to it. With the producer, this
                // thread and a subscriber on two cores, a flood's subscriber
                // otherwise lagged 14-32 % of the events at the default
                // capacity (1-6 % with it), and took fewer events per second.
                std::thread::yield_now();
                // One still behind is waited for before the next read.
                if link.subscribers_behind() {
                    link.let_subscribers_catch_up();
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                link.timeout()
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => link.io_error(e),
        }
    }
}

impl<S: Socket> Open<S> {
    /// Sets the read timeout to `wait`, unless the one set ends no later and
    /// no earlier than half of it (a system call per read saved: the earliest
    /// deadline moves at every reply; waking early is harmless).
    fn time_out(&mut self, wait: Option<Duration>) -> std::io::Result<()> {
        let close_enough = match (self.timeout, wait) {
            (None, None) => true,
            (Some(set), Some(wait)) => set <= wait && set * 2 >= wait,
            _ => false,
        };
        if !close_enough {
            self.stream.set_read_timeout(wait)?;
            self.timeout = wait;
        }
        Ok(())
    }
}

/// Writes what the session transmits until the transport is no longer wanted.
fn write_loop<S: Socket>(link: &Link, mut stream: S, wire: &Wire) {
    let (mut plain, mut bytes) = (Vec::new(), Vec::new());
    loop {
        if link.step(&mut plain).transport != Transport::Open {
            stream.shut();
            return;
        }
        if !plain.is_empty() {
            wire.encode(&plain, &mut bytes);
            plain.clear();
            if let Err(error) = stream.write_all(&bytes).and_then(|()| stream.flush()) {
                stream.shut();
                return link.io_error(error);
            }
            bytes.clear();
            continue;
        }
        link.wait_wake(IDLE_WAIT);
    }
}

/// The TLS half of [`Wire`]: one rustls session shared by the reader and the
/// writer thread (no stream wrapper, which would need both).
#[cfg(feature = "rustls")]
mod rustls_wire {
    use std::io::{ErrorKind, Read, Write};
    use std::net::TcpStream;
    use std::sync::{Arc, Mutex, PoisonError};
    use std::time::Duration;

    use ami_proto::Reason;
    use rustls::pki_types::ServerName;
    use rustls::{ClientConfig, ClientConnection};

    use crate::tls::{handshake_error, transport_error};
    use crate::Link;

    pub(super) fn feed(tls: &Mutex<ClientConnection>, link: &Link, mut data: &[u8]) {
        let mut tls = tls.lock().unwrap_or_else(PoisonError::into_inner);
        let mut plain = Vec::new();
        let outcome = loop {
            if !data.is_empty() {
                let read = tls.read_tls(&mut data).and_then(|_| {
                    tls.process_new_packets()
                        .map_err(|e| std::io::Error::new(ErrorKind::InvalidData, e))
                });
                if let Err(e) = read {
                    break Err(e);
                }
            }
            match tls.reader().read_to_end(&mut plain) {
                Ok(_) => break Ok(true),
                Err(e) if e.kind() != ErrorKind::WouldBlock => break Err(e),
                Err(_) if data.is_empty() => break Ok(false),
                Err(_) => {}
            }
        };
        drop(tls);
        link.received(&plain);
        match outcome {
            Ok(false) => {}
            Ok(true) => link.eof(),
            // A rustls error (e.g. the server's alert) becomes `Reason::Tls` in words.
            Err(error) if transport_error(&error).is_some() => link.io_failed(&error),
            Err(error) => link.io_error(format!("TLS: {error}")),
        }
    }

    pub(super) fn encode(tls: &Mutex<ClientConnection>, plain: &[u8], out: &mut Vec<u8>) {
        let mut tls = tls.lock().unwrap_or_else(PoisonError::into_inner);
        // No buffer limit is set, so the plaintext is always taken whole.
        let _ = tls.writer().write_all(plain);
        while tls.wants_write() && tls.write_tls(out).is_ok() {}
    }

    pub(super) fn handshake(
        stream: &mut TcpStream,
        name: ServerName<'static>,
        config: Arc<ClientConfig>,
        timeout: Duration,
    ) -> Result<ClientConnection, Reason> {
        let mut tls = ClientConnection::new(config, name)
            .map_err(|e| Reason::Tls(format!("cannot start a TLS session: {e}")))?;
        tls.set_buffer_limit(None);
        let bounded = stream
            .set_read_timeout(Some(timeout))
            .and_then(|()| stream.set_write_timeout(Some(timeout)));
        bounded.map_err(|e| Reason::Io(e.to_string()))?;
        while tls.is_handshaking() {
            tls.complete_io(stream).map_err(|e| match e.kind() {
                ErrorKind::WouldBlock | ErrorKind::TimedOut => {
                    Reason::Tls(format!("no handshake answer within {timeout:?}"))
                }
                _ => Reason::Tls(handshake_error(&e)),
            })?;
        }
        Ok(tls)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    use std::time::{Duration, Instant};

    use ami_proto::Config;

    use super::{Driver, Wire};

    /// A pump thread waiting for a subscriber that never takes its events
    /// stops waiting when the client is closed, not when the wait ends.
    #[test]
    fn closing_ends_a_pump_threads_wait() {
        let config = Config {
            event_capacity: 16,
            subscriber_wait: Duration::from_secs(600),
            ..Config::default()
        };
        let (client, link) = crate::new(config, Instant::now);
        let (ours, mut server) = UnixStream::pair().unwrap();
        link.connected();
        let _forgotten = client.events();
        let (done, ended) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let outcome = Driver::new(link, Some((ours, Wire::default())), None).run();
            let _ = done.send(outcome);
        });
        server
            .write_all(b"Asterisk Call Manager/11.0.0\r\n")
            .unwrap();
        let event = b"Event: Tick\r\nPad: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n\r\n";
        server.write_all(&event.repeat(100)).unwrap();
        let hub = &client.shared().hub;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !hub.pump_waits() {
            assert!(Instant::now() < deadline, "the pump never waited");
            std::thread::yield_now();
        }
        client.close();
        let outcome = ended.recv_timeout(Duration::from_secs(10));
        assert!(matches!(outcome, Ok(Ok(()))), "{outcome:?}");
    }
}
