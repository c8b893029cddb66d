//! A subscriber's blocking iterator: its queue in the client's
//! [`ami_proto::EventHub`], waited on with a condition variable.

use std::sync::mpsc::{RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Condvar, PoisonError};
use std::time::{Duration, Instant};

use ami_proto::Subscriber;

use crate::Event;

/// A subscription to a client's events, from the moment it was made: a blocking
/// iterator that ends when the client is closed for good.
///
/// Each subscription buffers at most `Config::event_capacity` items; when it falls
/// behind, its oldest items are dropped and the next item it yields is
/// [`Event::Lagged`] with how many were lost. Replies never travel this way.
pub struct Events {
    subscriber: Arc<Subscriber<Condvar>>,
}

impl Events {
    pub(crate) fn new(subscriber: Arc<Subscriber<Condvar>>) -> Self {
        Events { subscriber }
    }

    /// The next event, waiting at most `timeout`. `Disconnected` means the client
    /// is closed for good and every buffered event was taken.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Event, RecvTimeoutError> {
        self.recv(Some(Instant::now() + timeout))
    }

    /// The next event if one is buffered.
    pub fn try_recv(&mut self) -> Result<Event, TryRecvError> {
        self.recv(Some(Instant::now())).map_err(|e| match e {
            RecvTimeoutError::Timeout => TryRecvError::Empty,
            RecvTimeoutError::Disconnected => TryRecvError::Disconnected,
        })
    }

    fn recv(&mut self, deadline: Option<Instant>) -> Result<Event, RecvTimeoutError> {
        let ready = self.subscriber.wakeup();
        let mut state = self.subscriber.lock();
        loop {
            if let Some(event) = state.queue.pop() {
                return Ok(event);
            }
            if state.queue.is_finished() {
                return Err(RecvTimeoutError::Disconnected);
            }
            state = match deadline.map(|at| at.saturating_duration_since(Instant::now())) {
                None => ready.wait(state).unwrap_or_else(PoisonError::into_inner),
                Some(left) if left.is_zero() => return Err(RecvTimeoutError::Timeout),
                Some(left) => {
                    ready
                        .wait_timeout(state, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
    }
}

impl Iterator for Events {
    type Item = Event;

    /// Blocks until the next event; `None` once the client is closed for good.
    fn next(&mut self) -> Option<Event> {
        self.recv(None).ok()
    }
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}
