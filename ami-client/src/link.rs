//! The pump's side of a client: what an adapter's IO loop calls.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use ami_proto::{Config, Error, Reason, Status, Transport};

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
    let shared = Shared::new(config, entropy(), clock);
    (Client::new(Arc::clone(&shared)), Link { shared })
}

/// A random seed from std's randomly keyed hasher, without a dependency.
fn entropy() -> u64 {
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
        core.session.poll_transmit(out);
        let transport = core.session.transport();
        if transport == Transport::Dial {
            self.shared.trace.dialing(core.session.status());
        }
        Step {
            transport,
            deadline: core.session.poll_timeout(),
        }
    }

    /// What to do now, without taking the bytes to write: for a pump whose
    /// reading and writing run on different threads (the writer calls
    /// [`transmit`](Self::transmit)).
    pub fn state(&self) -> Step {
        let core = self.shared.lock();
        let transport = core.session.transport();
        if transport == Transport::Dial {
            self.shared.trace.dialing(core.session.status());
        }
        Step {
            transport,
            deadline: core.session.poll_timeout(),
        }
    }

    /// Takes the bytes to write into `out` (returns how many) and clears the
    /// wake-up, for a pump's writer thread; see [`state`](Self::state).
    pub fn transmit(&self, out: &mut Vec<u8>) -> usize {
        self.shared.pump.with(|wake| *wake = false);
        self.shared.lock().session.poll_transmit(out)
    }

    /// The address the pump dials (e.g. `127.0.0.1:5038`), for the client's
    /// `tracing` span (its `address` field); without the `tracing` feature it
    /// does nothing.
    pub fn set_address(&self, address: &str) {
        self.shared.trace.address(address);
    }

    /// The settings (the pump needs `connect_timeout`).
    pub fn config(&self) -> Config {
        self.shared.lock().session.config().clone()
    }

    /// The transport the pump dialled is open.
    pub fn connected(&self) {
        self.shared.trace.connected();
        self.shared
            .drive(|session, now| session.handle_connected(now));
    }

    /// Dialling failed, for `reason` (the address and what went wrong).
    pub fn dial_failed(&self, reason: Reason) {
        self.shared.trace.dial_failed(&reason);
        self.shared
            .drive(|session, now| session.handle_dial_failed(reason, now));
    }

    /// Bytes read from the transport.
    pub fn received(&self, data: &[u8]) {
        self.shared.drive(|session, now| session.feed(data, now));
    }

    /// The transport reached its end.
    pub fn eof(&self) {
        self.shared.drive(|session, now| session.handle_eof(now));
    }

    /// The transport failed.
    pub fn io_error(&self, error: impl std::fmt::Display) {
        self.shared.trace.io_error(&error);
        self.shared
            .drive(|session, now| session.handle_io_error(error, now));
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
        match self.shared.lock().session.status() {
            Status::Closed(Reason::LoggedOff | Reason::ClosedByClient) => Ok(()),
            Status::Closed(reason) => Err(Error::from(reason.clone())),
            _ => Ok(()),
        }
    }
}

impl Drop for Link {
    /// A pump that stops, or is dropped unfinished, closes the client: its
    /// calls and event streams end instead of waiting for a pump that is gone.
    fn drop(&mut self) {
        self.shared.drive(|session, now| session.close(now));
        self.shared.hub.close();
    }
}
