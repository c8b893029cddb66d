//! The event fan-out: one bounded queue per subscriber.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Instant;

use ami_proto::Event;

use crate::mailbox::Mailbox;
use crate::queue::{Batch, Taken};
use crate::EventQueue;

/// One subscriber's queue.
pub(crate) type Subscriber = Arc<Mailbox<EventQueue>>;

/// A client's event fan-out: one [`EventQueue`] per subscriber (bounded to
/// exactly `capacity` events, oldest dropped and counted as `Lagged`).
/// Publishing never waits on a subscriber.
///
/// Until the first subscriber exists, events are kept in a queue of the same
/// capacity that the first subscriber takes over: what arrives between login
/// and the first `events()` call is delivered, or counted in a `Lagged`.
#[derive(Debug)]
pub(crate) struct Hub {
    capacity: usize,
    state: Mutex<HubState>,
    /// A subscriber's queue was more than half full after the last publish.
    behind: AtomicBool,
}

#[derive(Debug)]
struct HubState {
    subscribers: Vec<Subscriber>,
    /// The events published before the first subscriber; `None` once taken.
    prelude: Option<EventQueue>,
    closed: bool,
}

impl Hub {
    pub(crate) fn new(capacity: usize) -> Self {
        Hub {
            capacity,
            state: Mutex::new(HubState {
                subscribers: Vec::new(),
                prelude: Some(EventQueue::new(capacity)),
                closed: false,
            }),
            behind: AtomicBool::new(false),
        }
    }

    /// Each subscriber's capacity.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new subscriber: the first one takes over what was published before it,
    /// later ones receive what is published from now on.
    pub(crate) fn subscribe(&self) -> Subscriber {
        let mut state = self.lock();
        let mut queue = state
            .prelude
            .take()
            .unwrap_or_else(|| EventQueue::new(self.capacity));
        if state.closed {
            queue.close();
        }
        let subscriber = Arc::new(Mailbox::new(queue));
        if !state.closed {
            state.subscribers.push(Arc::clone(&subscriber));
        }
        subscriber
    }

    /// Gives every event of `batch` to every live subscriber, one lock and one
    /// wake-up per subscriber for the whole batch. The last subscriber's queue
    /// takes the batch's buffer as it is and leaves an empty one in its place.
    pub(crate) fn publish(&self, batch: &mut Batch) {
        if batch.is_empty() {
            return;
        }
        let mut state = self.lock();
        if let Some(prelude) = &mut state.prelude {
            prelude.push_batch(batch);
            return;
        }
        // A subscriber only the hub still holds was dropped.
        state.subscribers.retain(|s| Arc::strong_count(s) > 1);
        let mut behind = false;
        if let Some((last, others)) = state.subscribers.split_last() {
            for subscriber in others {
                behind |= subscriber.update(|queue| {
                    queue.push_copy(batch);
                    queue.is_behind()
                });
            }
            behind |= last.update(|queue| {
                queue.push_batch(batch);
                queue.is_behind()
            });
        }
        batch.clear();
        self.behind.store(behind, Ordering::Relaxed);
    }

    /// Whether a subscriber's queue was more than half full after the last
    /// batch published: its subscriber is falling behind the reads.
    pub(crate) fn is_behind(&self) -> bool {
        self.behind.load(Ordering::Relaxed)
    }

    /// Ends every subscriber's stream, after what it has queued, for good.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        for subscriber in state.subscribers.drain(..) {
            subscriber.update(EventQueue::close);
        }
    }
}

/// Which AMI events a subscriber wants: all, or those with one of these
/// `Event:` names (ASCII case-insensitive). The client's own items (`Lagged`,
/// `Disconnected`, `Reconnected`, unmatched and malformed packets) always pass.
pub(crate) type Only = Option<std::sync::Arc<[String]>>;

/// The next event: from what was taken, else a new batch from the queue.
pub(crate) fn poll_next(
    subscriber: &Subscriber,
    only: &Only,
    taken: &mut Taken,
    cx: &mut Context<'_>,
) -> Poll<Option<Event>> {
    loop {
        if let Some(event) = next_taken(taken, only) {
            return Poll::Ready(Some(event));
        }
        match subscriber.poll(cx, |queue| refill(queue, taken)) {
            Poll::Ready(true) => {}
            Poll::Ready(false) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        }
    }
}

/// [`poll_next`] for a waiting thread: `Err` when `until` passes first.
pub(crate) fn wait_next(
    subscriber: &Subscriber,
    only: &Only,
    taken: &mut Taken,
    until: Instant,
) -> Result<Option<Event>, ()> {
    loop {
        if let Some(event) = next_taken(taken, only) {
            return Ok(Some(event));
        }
        match subscriber.wait(until, |queue| refill(queue, taken)) {
            Some(true) => {}
            Some(false) => return Ok(None),
            None => return Err(()),
        }
    }
}

/// Takes the queue's events into `taken`: `Some(true)` if there were any,
/// `Some(false)` once the stream has ended, `None` to wait.
fn refill(queue: &mut EventQueue, taken: &mut Taken) -> Option<bool> {
    if queue.take_all(taken) {
        Some(true)
    } else if queue.is_finished() {
        Some(false)
    } else {
        None
    }
}

/// The next wanted event of the batches already taken: they leave the shared
/// queue whole (one lock per batch, not per event), and the `only` filter
/// runs outside the lock.
pub(crate) fn next_taken(taken: &mut Taken, only: &Only) -> Option<Event> {
    if only.is_none() {
        return taken.pop();
    }
    std::iter::from_fn(|| taken.pop()).find(|event| match event {
        Event::Event(packet) => wanted(packet, only),
        _ => true,
    })
}

fn wanted(packet: &ami_proto::Packet, only: &Only) -> bool {
    let Some(names) = only else {
        return true;
    };
    packet.event_name().is_some_and(|name| {
        names
            .iter()
            .any(|wanted| wanted.as_bytes().eq_ignore_ascii_case(name.as_bytes()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(n: usize) -> Batch {
        (0..n).map(|_| Event::Reconnected).collect()
    }

    /// A subscriber is behind once its queue is more than half full after a
    /// publish, and no longer once it has taken its events and the next
    /// publish leaves it at most half full.
    #[test]
    fn a_subscriber_is_behind_past_half_its_capacity() {
        let hub = Hub::new(10);
        let subscriber = hub.subscribe();
        hub.publish(&mut events(5));
        assert!(!hub.is_behind(), "half full is not behind");
        hub.publish(&mut events(1));
        assert!(hub.is_behind(), "6 of 10");
        let mut taken = Taken::default();
        subscriber.update(|queue| queue.take_all(&mut taken));
        assert_eq!(taken.len(), 6);
        hub.publish(&mut events(2));
        assert!(
            !hub.is_behind(),
            "2 of 10 after the subscriber took its events"
        );
    }

    /// With several subscribers, one behind is enough.
    #[test]
    fn one_subscriber_behind_is_enough() {
        let hub = Hub::new(4);
        let slow = hub.subscribe();
        let fast = hub.subscribe();
        hub.publish(&mut events(2));
        let mut taken = Taken::default();
        fast.update(|queue| queue.take_all(&mut taken));
        hub.publish(&mut events(1));
        assert!(hub.is_behind(), "the slow one holds 3 of 4");
        drop(slow);
        hub.publish(&mut events(1));
        assert!(!hub.is_behind(), "a dropped subscriber does not count");
    }
}
