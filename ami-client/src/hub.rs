//! The event fan-out: one bounded queue per subscriber.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use ami_proto::Event;

use crate::mailbox::Mailbox;
use crate::queue::{Batch, Taken};
use crate::EventQueue;

/// One subscriber's queue.
pub(crate) type Subscriber = Arc<Mailbox<EventQueue>>;

/// A client's event fan-out: one [`EventQueue`] per subscriber (bounded to
/// exactly `capacity` events, oldest dropped and counted as `Lagged`).
/// Publishing never waits on a subscriber; the pump may, before it reads on,
/// for at most `wait` ([`Hub::poll_room`], [`Hub::wait_room`]).
///
/// Until the first subscriber exists, events are kept in a queue of the same
/// capacity that the first subscriber takes over: what arrives between login
/// and the first `events()` call is delivered, or counted in a `Lagged`.
#[derive(Debug)]
pub(crate) struct Hub {
    capacity: usize,
    state: Mutex<HubState>,
    /// A subscriber's queue was more than half full after the last publish,
    /// and a pump should wait for it ([`EventQueue::wants_room`]).
    behind: AtomicBool,
    /// How long a pump waits for a subscriber behind (`Config::subscriber_wait`).
    wait: Duration,
    /// A pump waits for room: a subscriber that takes events wakes it.
    waiting: AtomicBool,
    /// The waiting pump's wake-up.
    room: Mailbox<()>,
}

#[derive(Debug)]
struct HubState {
    subscribers: Vec<Subscriber>,
    /// The events published before the first subscriber; `None` once taken.
    prelude: Option<EventQueue>,
    closed: bool,
}

impl Hub {
    pub(crate) fn new(capacity: usize, wait: Duration) -> Self {
        Hub {
            capacity,
            state: Mutex::new(HubState {
                subscribers: Vec::new(),
                prelude: Some(EventQueue::new(capacity)),
                closed: false,
            }),
            behind: AtomicBool::new(false),
            wait,
            waiting: AtomicBool::new(false),
            room: Mailbox::default(),
        }
    }

    /// How long a pump waits for a subscriber behind; zero: it never waits.
    pub(crate) fn wait(&self) -> Duration {
        self.wait
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
                    queue.wants_room()
                });
            }
            behind |= last.update(|queue| {
                queue.push_batch(batch);
                queue.wants_room()
            });
        }
        batch.clear();
        self.behind.store(behind, Ordering::Relaxed);
    }

    /// Whether a subscriber's queue was more than half full after the last
    /// batch published: its subscriber is falling behind the reads (and was
    /// not waited out, see [`EventQueue::wants_room`]).
    pub(crate) fn is_behind(&self) -> bool {
        self.behind.load(Ordering::Relaxed)
    }

    /// No live subscriber wants room now (their queues read under their
    /// locks, not the flag of the last publish).
    fn has_room(&self) -> bool {
        let state = self.lock();
        state.closed
            || state
                .subscribers
                .iter()
                .filter(|s| Arc::strong_count(s) > 1)
                .all(|s| !s.with(|queue| queue.wants_room()))
    }

    /// Ready once no subscriber is behind; until then the task of `cx` is
    /// woken by the first subscriber that takes events (or is dropped).
    pub(crate) fn poll_room(&self, cx: &mut Context<'_>) -> Poll<()> {
        // Announced before the queues are read: a subscriber that takes
        // after this sees it and wakes the pump; one that took before is
        // seen in its queue.
        self.waiting.store(true, Ordering::SeqCst);
        let room = self.room.poll(cx, |()| self.has_room().then_some(()));
        if room.is_ready() {
            self.stop_waiting(false);
        }
        room
    }

    /// [`poll_room`](Self::poll_room) for a pump thread: false when `until`
    /// passed first.
    pub(crate) fn wait_room(&self, until: Instant) -> bool {
        self.waiting.store(true, Ordering::SeqCst);
        let room = self.room.wait(until, |()| self.has_room().then_some(()));
        self.stop_waiting(room.is_none());
        room.is_some()
    }

    /// The pump waits no more: if it waited in vain (`waited_out`), every
    /// subscriber still behind is not waited for again until it comes for
    /// its events.
    pub(crate) fn stop_waiting(&self, waited_out: bool) {
        self.waiting.store(false, Ordering::SeqCst);
        if waited_out {
            for subscriber in &self.lock().subscribers {
                subscriber.with(EventQueue::wait_out);
            }
        }
        self.behind.store(false, Ordering::Relaxed);
    }

    /// Whether a pump waits for room now (for tests that must act during a
    /// wait).
    #[cfg(test)]
    pub(crate) fn pump_waits(&self) -> bool {
        self.waiting.load(Ordering::SeqCst)
    }

    /// A subscriber took events, or is gone: a pump waiting for room looks
    /// again. Called outside the subscriber's lock.
    pub(crate) fn took(&self) {
        if self.waiting.load(Ordering::SeqCst) {
            self.room.update(|()| ());
        }
    }

    /// Ends every subscriber's stream, after what it has queued, for good,
    /// and ends a pump's wait: nobody is waited for once the client closed.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        for subscriber in state.subscribers.drain(..) {
            subscriber.update(EventQueue::close);
        }
        drop(state);
        self.room.update(|()| ());
    }
}

/// Which AMI events a subscriber wants: all, or those with one of these
/// `Event:` names (ASCII case-insensitive). The client's own items (`Lagged`,
/// `Disconnected`, `Reconnected`, unmatched and malformed packets) always pass.
pub(crate) type Only = Option<std::sync::Arc<[String]>>;

/// The next event: from what was taken, else a new batch from the queue.
pub(crate) fn poll_next(
    hub: &Hub,
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
            Poll::Ready(true) => hub.took(),
            Poll::Ready(false) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        }
    }
}

/// [`poll_next`] for a waiting thread: `Err` when `until` passes first.
pub(crate) fn wait_next(
    hub: &Hub,
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
            Some(true) => hub.took(),
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

    const WAIT: Duration = Duration::from_millis(1);

    fn events(n: usize) -> Batch {
        (0..n).map(|_| Event::Reconnected).collect()
    }

    /// A waker that counts its wake-ups.
    #[derive(Default)]
    struct Count(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    impl Count {
        fn woken(&self) -> usize {
            self.0.load(Ordering::SeqCst)
        }
    }

    /// A waker and the count of its wake-ups.
    fn counting_waker() -> (Arc<Count>, std::task::Waker) {
        let count = Arc::new(Count::default());
        (Arc::clone(&count), std::task::Waker::from(count))
    }

    /// A subscriber taking what it was given, as `Events` does.
    fn take(hub: &Hub, subscriber: &Subscriber) -> usize {
        let mut taken = Taken::default();
        subscriber.update(|queue| queue.take_all(&mut taken));
        hub.took();
        taken.len()
    }

    /// A pump waiting for room is woken by the subscriber taking its
    /// events, and then has room.
    #[test]
    fn a_waiting_pump_is_woken_when_the_subscriber_takes() {
        let hub = Hub::new(10, WAIT);
        let subscriber = hub.subscribe();
        let (count, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(hub.poll_room(&mut cx).is_ready(), "nobody is behind");
        hub.publish(&mut events(6));
        assert!(hub.poll_room(&mut cx).is_pending(), "6 of 10");
        hub.publish(&mut events(1));
        assert_eq!(count.woken(), 0, "publishing does not wake the pump");
        assert_eq!(take(&hub, &subscriber), 7);
        assert_eq!(count.woken(), 1, "taking does");
        assert!(hub.poll_room(&mut cx).is_ready());
        assert!(!hub.is_behind());
        hub.publish(&mut events(6));
        assert_eq!(take(&hub, &subscriber), 6);
        assert_eq!(count.woken(), 1, "no pump waits: nobody is woken");
    }

    /// A subscriber that did not come for its events during a wait is not
    /// waited for again until it does; it lags meanwhile, as without waits.
    #[test]
    fn a_subscriber_waited_out_is_waited_for_again_once_it_takes() {
        let hub = Hub::new(10, WAIT);
        let subscriber = hub.subscribe();
        hub.publish(&mut events(6));
        assert!(!hub.wait_room(Instant::now()), "the wait is over at once");
        assert!(!hub.is_behind(), "waited out");
        hub.publish(&mut events(10));
        assert!(!hub.is_behind(), "still waited out, though full");
        assert!(hub.wait_room(Instant::now()), "room: nobody to wait for");
        let mut taken = Taken::default();
        subscriber.update(|queue| queue.take_all(&mut taken));
        assert_eq!(taken.pop(), Some(Event::Lagged(6)));
        assert_eq!(taken.len(), 10);
        hub.publish(&mut events(6));
        assert!(hub.is_behind(), "it took: waited for again");
    }

    /// A subscriber dropped while a pump waits for it ends the wait: the
    /// pump is woken and has room.
    #[test]
    fn a_dropped_subscriber_ends_the_wait() {
        let (client, _link) = crate::new(ami_proto::Config::default(), Instant::now);
        let hub = &client.shared().hub;
        let subscriber = client.events();
        hub.publish(&mut events(600));
        let (count, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(hub.poll_room(&mut cx).is_pending());
        drop(subscriber);
        assert_eq!(count.woken(), 1);
        assert!(hub.poll_room(&mut cx).is_ready());
    }

    /// A closed hub has room, and closing ends a pump's wait: the client
    /// is closed, nobody is waited for.
    #[test]
    fn closing_ends_the_wait() {
        let hub = Hub::new(10, WAIT);
        let _subscriber = hub.subscribe();
        hub.publish(&mut events(8));
        let (count, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(hub.poll_room(&mut cx).is_pending());
        hub.close();
        assert_eq!(count.woken(), 1);
        assert!(hub.poll_room(&mut cx).is_ready());
        assert!(hub.wait_room(Instant::now()));
    }

    /// A subscriber is behind once its queue is more than half full after a
    /// publish, and no longer once it has taken its events and the next
    /// publish leaves it at most half full.
    #[test]
    fn a_subscriber_is_behind_past_half_its_capacity() {
        let hub = Hub::new(10, WAIT);
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
        let hub = Hub::new(4, WAIT);
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
