//! Completions: awaited by async callers, waited for by blocking ones.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use ami_proto::{Error, Reply, Status};

use crate::shared::{Shared, Slot};
use crate::Client;

/// How long past the session's next deadline a waiting thread runs the
/// session's timers itself, so that a stuck pump cannot make it hang.
const MARGIN: Duration = Duration::from_millis(50);
/// How long a waiting thread sleeps between checks when nothing is timed.
const IDLE: Duration = Duration::from_secs(1);

/// The completion of one request: a [`Future`] for async callers, and
/// [`wait`](Self::wait) for blocking ones. The action is already sent (or
/// queued for the login) when this exists; dropping it does not cancel the
/// action, only its result is discarded.
///
/// Submitting many and waiting later keeps them all in flight from one thread
/// (pipelining).
#[must_use = "the request is sent; its result is in here"]
pub struct Pending<T> {
    state: State<T>,
}

enum State<T> {
    /// Refused before anything was sent.
    Failed(Option<Error>),
    Waiting {
        /// Keeps the client open while the request is pending.
        client: Client,
        slot: Slot,
        parse: fn(Reply) -> Result<T, Error>,
    },
}

impl<T> Pending<T> {
    pub(crate) fn new(client: Client, slot: Slot, parse: fn(Reply) -> Result<T, Error>) -> Self {
        Pending {
            state: State::Waiting {
                client,
                slot,
                parse,
            },
        }
    }

    pub(crate) fn failed(error: Error) -> Self {
        Pending {
            state: State::Failed(Some(error)),
        }
    }

    /// The client's shared state, while waiting.
    pub(crate) fn shared(&self) -> Option<&Arc<Shared>> {
        match &self.state {
            State::Waiting { client, .. } => Some(client.shared()),
            State::Failed(_) => None,
        }
    }

    /// Blocks the thread until the request completes. Never longer than the
    /// action's deadline: if the pump is stuck, the waiting thread runs the
    /// session's timers itself.
    pub fn wait(self) -> Result<T, Error> {
        let (client, slot, parse) = match self.state {
            State::Failed(error) => {
                return Err(error.unwrap_or_else(|| Error::timeout("a completion taken twice")))
            }
            State::Waiting {
                client,
                slot,
                parse,
            } => (client, slot, parse),
        };
        // Already completed (a pipelining caller's usual case): no clock, no
        // session lock.
        if let Some(result) = slot.with(Option::take) {
            return result.and_then(parse);
        }
        let shared = client.shared();
        loop {
            if let Some(result) = slot.wait(until(shared), Option::take) {
                return result.and_then(parse);
            }
            shared.run_timers();
        }
    }
}

/// When a waiting thread should next check the session's timers itself.
pub(crate) fn until(shared: &Arc<Shared>) -> Instant {
    let now = Instant::now();
    let at = shared.deadline().map(|at| {
        let left = at.saturating_duration_since(shared.now());
        now + left + MARGIN
    });
    at.unwrap_or(now + IDLE)
}

impl<T> Future for Pending<T> {
    type Output = Result<T, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            State::Failed(error) => Poll::Ready(Err(error
                .take()
                .unwrap_or_else(|| Error::timeout("a completion taken twice")))),
            State::Waiting { slot, parse, .. } => {
                let parse = *parse;
                slot.poll(cx, Option::take)
                    .map(|result| result.and_then(parse))
            }
        }
    }
}

impl<T> std::fmt::Debug for Pending<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            State::Failed(_) => "failed",
            State::Waiting { .. } => "waiting",
        };
        f.debug_struct("Pending").field("state", &state).finish()
    }
}

/// Completes when the client is ready, or closed for good; see
/// [`Client::ready`].
#[derive(Debug)]
#[must_use = "a future does nothing unless awaited"]
pub struct Ready {
    shared: Arc<Shared>,
}

impl Ready {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Ready { shared }
    }

    /// `Some` once the status settles on ready or closed.
    fn settled(engine: &crate::engine::Engine) -> Option<Result<(), Error>> {
        match engine.status() {
            Status::Ready => Some(Ok(())),
            Status::Closed(ami_proto::Reason::LoginTimeout) => Some(Err(Error::Timeout {
                what: "login".into(),
                after: Some(engine.config().login_timeout),
            })),
            Status::Closed(reason) => Some(Err(Error::from(reason.clone()))),
            _ => None,
        }
    }

    /// Blocks until the client is ready or closed, or `deadline` passes
    /// ([`Error::Timeout`]).
    pub fn wait(self, deadline: Instant) -> Result<(), Error> {
        loop {
            // Read the generation first: a change after the check wakes the wait.
            let seen = self.shared.status.with(|generation| *generation);
            if let Some(result) = Self::settled(&self.shared.lock().engine) {
                return result;
            }
            let until = until(&self.shared).min(deadline);
            let changed = self
                .shared
                .status
                .wait(until, |generation| (*generation != seen).then_some(()));
            if changed.is_none() {
                if Instant::now() >= deadline {
                    return Err(Error::timeout("ready"));
                }
                self.shared.run_timers();
            }
        }
    }
}

impl Future for Ready {
    type Output = Result<(), Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut core = self.shared.lock();
        match Self::settled(&core.engine) {
            Some(result) => Poll::Ready(result),
            None => {
                Shared::wait_status(&mut core, cx.waker());
                Poll::Pending
            }
        }
    }
}
