//! The state a client's handles and its driver share.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::connection::Error;

use super::{EventHub, Wakeup};

/// What a client's handles and its driver share, besides the commands: the
/// event fan-out, whether the client is closed for good, why it is down (between
/// a loss and the next login, or for good), and the AMI version of the current
/// session's banner. The driver closes the hub when it ends.
///
/// ```
/// use ami_proto::{ClientShared, Error, TaskWaker};
///
/// let shared = ClientShared::<TaskWaker>::new(1024);
/// shared.set_version(Some("7.0.3".into()));
/// shared.finish(Error::LoggedOff);
/// assert!(shared.is_closed());
/// assert_eq!(shared.down(), Some(Error::LoggedOff));
/// assert_eq!(shared.version(), None, "no version once closed");
/// ```
#[derive(Debug)]
pub struct ClientShared<W: Wakeup> {
    /// The event fan-out.
    pub hub: EventHub<W>,
    /// Why the client is down, and the current session's version.
    status: Mutex<(Option<Error>, Option<String>)>,
    closed: AtomicBool,
}

impl<W: Wakeup> ClientShared<W> {
    /// Open, up, no version yet; subscribers hold `event_capacity` events.
    pub fn new(event_capacity: usize) -> Self {
        ClientShared {
            hub: EventHub::new(event_capacity),
            status: Mutex::new((None, None)),
            closed: AtomicBool::new(false),
        }
    }

    fn status(&self) -> MutexGuard<'_, (Option<Error>, Option<String>)> {
        self.status.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Why the client is down; `None` while a session is up (or before the first).
    pub fn down(&self) -> Option<Error> {
        self.status().0.clone()
    }

    /// Records that the client went down for `reason`, or (`None`) is up again.
    pub fn set_down(&self, reason: Option<Error>) {
        self.status().0 = reason;
    }

    /// The current session's AMI version; `None` once closed for good.
    pub fn version(&self) -> Option<String> {
        let status = self.status();
        status.1.clone().filter(|_| !self.is_closed())
    }

    /// Records the current session's version (`None` between sessions).
    pub fn set_version(&self, version: Option<String>) {
        self.status().1 = version;
    }

    /// Closed for good, for `reason`: from now on calls fail with it at once.
    pub fn finish(&self, reason: Error) {
        self.set_down(Some(reason));
        self.closed.store(true, Ordering::SeqCst);
    }

    /// Whether [`finish`](Self::finish) was called.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}
