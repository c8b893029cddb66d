//! Event fan-out: one bounded queue per subscriber; a slow subscriber loses its
//! oldest items and is told how many with [`Event::Lagged`].

use std::collections::VecDeque;
use std::sync::mpsc::{RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use crate::Event;

#[derive(Default)]
struct Queue {
    items: VecDeque<Event>,
    lagged: u64,
    closed: bool,
}

struct Subscriber {
    queue: Mutex<Queue>,
    ready: Condvar,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Every subscriber of one client. Publishing never blocks on a subscriber.
pub(crate) struct Hub {
    capacity: usize,
    subscribers: Mutex<(Vec<Weak<Subscriber>>, bool)>,
}

impl Hub {
    pub(crate) fn new(capacity: usize) -> Self {
        Hub {
            capacity: capacity.max(1),
            subscribers: Mutex::new((Vec::new(), false)),
        }
    }

    pub(crate) fn subscribe(&self) -> Events {
        let subscriber = Arc::new(Subscriber {
            queue: Mutex::new(Queue::default()),
            ready: Condvar::new(),
        });
        let mut subscribers = lock(&self.subscribers);
        lock(&subscriber.queue).closed = subscribers.1;
        subscribers.0.push(Arc::downgrade(&subscriber));
        Events { subscriber }
    }

    /// Gives `event` to every live subscriber, dropping its oldest item if full.
    pub(crate) fn publish(&self, event: Event) {
        let mut subscribers = lock(&self.subscribers);
        subscribers.0.retain(|weak| {
            let Some(subscriber) = weak.upgrade() else {
                return false;
            };
            let mut queue = lock(&subscriber.queue);
            if queue.items.len() >= self.capacity {
                queue.items.pop_front();
                queue.lagged += 1;
            }
            queue.items.push_back(event.clone());
            subscriber.ready.notify_all();
            true
        });
    }

    /// Ends every stream (after its queued items) for good.
    pub(crate) fn close(&self) {
        let mut subscribers = lock(&self.subscribers);
        subscribers.1 = true;
        for subscriber in subscribers.0.drain(..).filter_map(|weak| weak.upgrade()) {
            lock(&subscriber.queue).closed = true;
            subscriber.ready.notify_all();
        }
    }
}

/// A subscription to a client's events, from the moment it was made: a blocking
/// iterator that ends when the client is closed for good.
///
/// Each subscription buffers at most `Config::event_capacity` items; when it falls
/// behind, its oldest items are dropped and the next item it yields is
/// [`Event::Lagged`] with how many were lost. Replies never travel this way.
pub struct Events {
    subscriber: Arc<Subscriber>,
}

impl Events {
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
        let mut queue = lock(&self.subscriber.queue);
        loop {
            if queue.lagged > 0 {
                return Ok(Event::Lagged(std::mem::take(&mut queue.lagged)));
            }
            if let Some(event) = queue.items.pop_front() {
                return Ok(event);
            }
            if queue.closed {
                return Err(RecvTimeoutError::Disconnected);
            }
            let ready = &self.subscriber.ready;
            queue = match deadline.map(|at| at.saturating_duration_since(Instant::now())) {
                None => ready.wait(queue).unwrap_or_else(PoisonError::into_inner),
                Some(left) if left.is_zero() => return Err(RecvTimeoutError::Timeout),
                Some(left) => {
                    ready
                        .wait_timeout(queue, left)
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
