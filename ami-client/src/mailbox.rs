//! The one wake-up primitive of the crate: a value under a lock, with the task
//! or thread waiting on it.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// A value under a lock and its single consumer's wake-up: a task's `Waker`
/// (any async runtime) or a blocked thread (a `Condvar`). Completions, list
/// item queues, event subscribers and the pump's signal are all mailboxes, so
/// every handle serves async and blocking callers alike.
#[derive(Debug, Default)]
pub(crate) struct Mailbox<T> {
    state: Mutex<(T, Option<Waker>)>,
    ready: Condvar,
}

impl<T> Mailbox<T> {
    pub(crate) fn new(value: T) -> Self {
        Mailbox {
            state: Mutex::new((value, None)),
            ready: Condvar::new(),
        }
    }

    /// Locks the value (a panic elsewhere does not poison it: every change
    /// leaves it consistent).
    fn lock(&self) -> MutexGuard<'_, (T, Option<Waker>)> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the value and wakes the consumer.
    pub(crate) fn update<R>(&self, change: impl FnOnce(&mut T) -> R) -> R {
        let mut state = self.lock();
        let result = change(&mut state.0);
        if let Some(waker) = state.1.take() {
            waker.wake();
        }
        drop(state);
        self.ready.notify_all();
        result
    }

    /// Reads or changes the value without waking anyone.
    pub(crate) fn with<R>(&self, read: impl FnOnce(&mut T) -> R) -> R {
        read(&mut self.lock().0)
    }

    /// `take` what is there for the task of `cx`, or leave its waker.
    pub(crate) fn poll<R>(
        &self,
        cx: &mut Context<'_>,
        take: impl FnOnce(&mut T) -> Option<R>,
    ) -> Poll<R> {
        let mut state = self.lock();
        match take(&mut state.0) {
            Some(result) => Poll::Ready(result),
            None => {
                state.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// Blocks the thread until `take` finds something or `until` passes
    /// (`None`: the caller must then re-check why it waits).
    pub(crate) fn wait<R>(
        &self,
        until: Instant,
        mut take: impl FnMut(&mut T) -> Option<R>,
    ) -> Option<R> {
        let mut state = self.lock();
        loop {
            if let Some(result) = take(&mut state.0) {
                return Some(result);
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            state = self
                .ready
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}
