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
    state: Mutex<State<T>>,
    ready: Condvar,
}

/// The value, the waiting task, and how many threads wait on the `Condvar`
/// (std's `notify_all` is a system call even with no waiter: counted, an
/// update wakes only when someone waits).
#[derive(Debug, Default)]
struct State<T>(T, Option<Waker>, usize);

impl<T> Mailbox<T> {
    pub(crate) fn new(value: T) -> Self {
        Mailbox {
            state: Mutex::new(State(value, None, 0)),
            ready: Condvar::new(),
        }
    }

    /// Locks the value (a panic elsewhere does not poison it: every change
    /// leaves it consistent).
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the value and wakes the consumer.
    pub(crate) fn update<R>(&self, change: impl FnOnce(&mut T) -> R) -> R {
        let mut state = self.lock();
        let result = change(&mut state.0);
        let (waker, threads) = (state.1.take(), state.2);
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        if threads > 0 {
            self.ready.notify_all();
        }
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
                if !state.1.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    state.1 = Some(cx.waker().clone());
                }
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
            state.2 += 1;
            state = self
                .ready
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            state.2 -= 1;
        }
    }
}
