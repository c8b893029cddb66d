//! The pump's side of a client: what an adapter's IO loop calls.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use ami_proto::{Config, Error, Reason, Session, Status, Transport};

use crate::engine::Engine;

use crate::shared::{Clock, Shared};
use crate::Client;

/// A new client and the link its pump drives. The pump dials when
/// [`Link::step`] says [`Transport::Dial`]; a pump handed an open transport
/// calls [`Link::connected`] at once. `clock` is the runtime's clock.
///
/// ```
/// use ami_proto::{Config, Transport};
///
/// let (client, link) = ami_client::new(Config::default(), std::time::Instant::now);
/// let mut out = Vec::new();
/// assert_eq!(link.step(&mut out).transport, Transport::Dial);
/// link.connected();
/// link.received(b"Asterisk Call Manager/11.0.0\r\n"); // no credentials: ready
/// assert!(client.status() == ami_proto::Status::Ready);
/// ```
pub fn new(config: Config, clock: Clock) -> (Client, Link) {
    let engine = Engine::Tcp(Box::new(Session::new(config, entropy(), clock())));
    let shared = Shared::new(engine, clock);
    (Client::new(Arc::clone(&shared)), Link { shared })
}

/// A random seed from std's randomly keyed hasher, without a dependency.
pub(crate) fn entropy() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u8(1);
    hasher.finish()
}

/// What the pump should do now; see [`Link::step`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Dial, keep the transport open, drop it and wait, or stop.
    pub transport: Transport,
    /// When to call [`Link::timeout`] next.
    pub deadline: Option<Instant>,
}

/// The pump's handle on a client's session. An adapter's pump loops:
/// [`step`](Self::step) (write the bytes it gives; dial, keep, drop the
/// transport or stop as it says), then waits for the first of: bytes read
/// ([`received`](Self::received), [`eof`](Self::eof),
/// [`io_error`](Self::io_error)), the deadline ([`timeout`](Self::timeout)),
/// or a wake-up from the client's handles ([`poll_wake`](Self::poll_wake) /
/// [`wait_wake`](Self::wait_wake)). Nothing protocol- or lifecycle-shaped is
/// left to the pump.
#[derive(Debug)]
pub struct Link {
    shared: Arc<Shared>,
}

impl Link {
    /// Takes the bytes to write into `out` and says what to do next. Clears
    /// the wake-up first, so a handle's later change wakes the pump again.
    pub fn step(&self, out: &mut Vec<u8>) -> Step {
        self.shared.pump.with(|wake| *wake = false);
        let mut core = self.shared.lock();
        tcp(&mut core.engine).poll_transmit(out);
        let transport = core.engine.transport();
        if transport == Transport::Dial {
            self.shared.trace.dialing(core.engine.status());
        }
        Step {
            transport,
            deadline: core.engine.poll_timeout(),
        }
    }

    /// What to do now, without taking the bytes to write or clearing the
    /// wake-up: for a pump whose reading and writing run on different threads
    /// (the reader calls this, the writer [`step`](Self::step)).
    pub fn state(&self) -> Step {
        let core = self.shared.lock();
        let transport = core.engine.transport();
        if transport == Transport::Dial {
            self.shared.trace.dialing(core.engine.status());
        }
        Step {
            transport,
            deadline: core.engine.poll_timeout(),
        }
    }

    /// The address the pump dials (e.g. `127.0.0.1:5038`), for the client's
    /// `tracing` span (its `address` field); without the `tracing` feature it
    /// does nothing.
    pub fn set_address(&self, address: &str) {
        self.shared.trace.address(address);
    }

    /// The settings (the pump needs `connect_timeout`).
    pub fn config(&self) -> Config {
        self.shared.lock().engine.config().clone()
    }

    /// The transport the pump dialled is open.
    pub fn connected(&self) {
        self.shared.trace.connected();
        self.shared
            .drive(|engine, now| tcp(engine).handle_connected(now));
    }

    /// Dialling failed, for `reason` (the address and what went wrong).
    pub fn dial_failed(&self, reason: Reason) {
        self.shared.trace.dial_failed(&reason);
        self.shared
            .drive(|engine, now| tcp(engine).handle_dial_failed(reason, now));
    }

    /// Bytes read from the transport.
    pub fn received(&self, data: &[u8]) {
        self.shared.drive(|engine, now| tcp(engine).feed(data, now));
    }

    /// Bytes read from the transport, parsed where they lie: the packets are
    /// slices of `data`, not copies (a pump that reads into a buffer of its
    /// own per read, as [`ReadBuf`](crate::pump::ReadBuf) does).
    pub fn received_bytes(&self, data: bytes::Bytes) {
        self.shared
            .drive(|engine, now| tcp(engine).feed_bytes(data, now));
    }

    /// Whether a subscriber's queue is more than half full: a pump then waits
    /// for it (at most `Config::subscriber_wait`) before it reads on, rather
    /// than fill the queue until it drops events.
    pub fn subscribers_behind(&self) -> bool {
        self.shared.hub.is_behind()
    }

    /// How long a pump waits for a subscriber behind; zero: it never waits.
    pub(crate) fn subscriber_wait(&self) -> Duration {
        self.shared.hub.wait()
    }

    /// Ready once no subscriber is behind; the task of `cx` is woken when one
    /// takes its events. A pump that stops waiting first says so with
    /// [`stop_waiting`](Self::stop_waiting).
    pub(crate) fn poll_room(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.shared.hub.poll_room(cx)
    }

    /// The pump waits no more; `waited_out`: it waited `subscriber_wait` in
    /// vain, and the subscribers still behind are not waited for again until
    /// they come for their events.
    pub(crate) fn stop_waiting(&self, waited_out: bool) {
        if waited_out {
            self.shared.trace.waited_out(self.subscriber_wait());
        }
        self.shared.hub.stop_waiting(waited_out);
    }

    /// For a pump thread, between two slices of a read or before the next
    /// read while a subscriber is behind: waits until the subscribers behind
    /// have taken their events, at most `subscriber_wait`; yields the thread
    /// when that is zero.
    pub(crate) fn let_subscribers_catch_up(&self) {
        let wait = self.subscriber_wait();
        if wait.is_zero() {
            return std::thread::yield_now();
        }
        if !self.shared.hub.wait_room(Instant::now() + wait) {
            self.shared.trace.waited_out(wait);
        }
    }

    /// The most to give [`received_bytes`](Self::received_bytes) at once, so that a
    /// subscriber on the pump's thread keeps up (see `read_buf::feed_slice`).
    pub(crate) fn feed_slice(&self) -> usize {
        crate::read_buf::feed_slice(self.shared.hub.capacity())
    }

    /// The transport reached its end.
    pub fn eof(&self) {
        self.shared.drive(|engine, now| tcp(engine).handle_eof(now));
    }

    /// The transport failed.
    pub fn io_error(&self, error: impl std::fmt::Display) {
        self.shared.trace.io_error(&error);
        self.shared
            .drive(|engine, now| tcp(engine).handle_io_error(error, now));
    }

    /// The transport failed with `error`. With the `rustls` feature, an error
    /// of the TLS layer (e.g. the server's alert refusing a client
    /// certificate, which TLS 1.3 sends after the handshake) closes with
    /// [`Reason::Tls`] in words; anything else is [`io_error`](Self::io_error).
    pub fn io_failed(&self, error: &std::io::Error) {
        #[cfg(feature = "rustls")]
        if let Some(message) = crate::tls::transport_error(error) {
            let reason = Reason::Tls(message);
            return self
                .shared
                .drive(|engine, now| tcp(engine).handle_transport_error(reason, now));
        }
        self.io_error(error)
    }

    /// The deadline from [`step`](Self::step) passed (extra calls are harmless).
    pub fn timeout(&self) {
        self.shared
            .drive(|session, now| session.handle_timeout(now));
    }

    /// Ready when a client handle changed something for the pump (an action
    /// to write, a close); the task of `cx` is woken then.
    pub fn poll_wake(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.shared
            .pump
            .poll(cx, |wake| std::mem::take(wake).then_some(()))
    }

    /// Blocks until a client handle changed something for the pump, at most
    /// `timeout`; true when woken.
    pub fn wait_wake(&self, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        self.shared
            .pump
            .wait(until, |wake| std::mem::take(wake).then_some(()))
            .is_some()
    }

    /// How the client ended, once [`Step::transport`] is [`Transport::Stop`]:
    /// `Ok` after a close or logoff, else the reason as an error.
    pub fn outcome(&self) -> Result<(), Error> {
        match self.shared.lock().engine.status() {
            Status::Closed(Reason::LoggedOff | Reason::ClosedByClient) => Ok(()),
            Status::Closed(reason) => Err(Error::from(reason.clone())),
            _ => Ok(()),
        }
    }
}

/// The TCP session of a stream pump's engine (a `Link` is only made for one).
fn tcp(engine: &mut Engine) -> &mut Session {
    engine.tcp().expect("a stream link drives a TCP session")
}

impl Drop for Link {
    /// A pump that stops, or is dropped unfinished, closes the client: its
    /// calls and event streams end instead of waiting for a pump that is gone.
    fn drop(&mut self) {
        self.shared.drive(|session, now| session.close(now));
        self.shared.hub.close();
    }
}
