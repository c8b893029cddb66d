//! The event fan-out: one bounded queue per subscriber, oldest dropped on overflow.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use futures_core::Stream;

use crate::Event;

#[derive(Debug, Default)]
struct Queue {
    items: VecDeque<Event>,
    lagged: u64,
    waker: Option<Waker>,
    closed: bool,
}

/// Every subscriber's queue. The driver publishes without ever waiting.
#[derive(Debug)]
pub(crate) struct Hub {
    capacity: usize,
    subscribers: Mutex<(Vec<Arc<Mutex<Queue>>>, bool)>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Hub {
    pub(crate) fn new(capacity: usize) -> Self {
        Hub {
            capacity: capacity.max(1),
            subscribers: Mutex::new((Vec::new(), false)),
        }
    }

    pub(crate) fn subscribe(&self) -> Events {
        let mut subscribers = lock(&self.subscribers);
        let queue = Arc::new(Mutex::new(Queue {
            closed: subscribers.1,
            ..Queue::default()
        }));
        subscribers.0.push(queue.clone());
        Events { queue }
    }

    /// Gives `event` to every subscriber; one that is full loses its oldest item.
    pub(crate) fn publish(&self, event: Event) {
        let mut subscribers = lock(&self.subscribers);
        // A queue only the hub still holds belongs to a dropped `Events`.
        subscribers.0.retain(|queue| Arc::strong_count(queue) > 1);
        for queue in &subscribers.0 {
            let mut queue = lock(queue);
            if queue.items.len() >= self.capacity {
                queue.items.pop_front();
                queue.lagged += 1;
            }
            queue.items.push_back(event.clone());
            if let Some(waker) = queue.waker.take() {
                waker.wake();
            }
        }
    }

    /// Ends every stream once its queued items are taken.
    pub(crate) fn close(&self) {
        let mut subscribers = lock(&self.subscribers);
        subscribers.1 = true;
        for queue in subscribers.0.drain(..) {
            let mut queue = lock(&queue);
            queue.closed = true;
            if let Some(waker) = queue.waker.take() {
                waker.wake();
            }
        }
    }
}

/// A subscriber to a client's events, from the moment it subscribed.
///
/// A [`Stream`] of [`Event`]. It holds at most `config.event_capacity` items; when
/// it falls behind, its oldest items are dropped and it next yields
/// [`Event::Lagged`] with how many it missed. Other subscribers and replies are not
/// affected. The stream ends (`None`) when the client is closed for good.
#[derive(Debug)]
pub struct Events {
    queue: Arc<Mutex<Queue>>,
}

impl Events {
    /// The next event, or `None` once the client is closed for good.
    pub async fn next(&mut self) -> Option<Event> {
        futures_lite::future::poll_fn(|cx| self.poll_event(cx)).await
    }

    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        let mut queue = lock(&self.queue);
        if queue.lagged > 0 {
            return Poll::Ready(Some(Event::Lagged(std::mem::take(&mut queue.lagged))));
        }
        if let Some(event) = queue.items.pop_front() {
            return Poll::Ready(Some(event));
        }
        if queue.closed {
            return Poll::Ready(None);
        }
        queue.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Stream for Events {
    type Item = Event;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.get_mut().poll_event(cx)
    }
}
