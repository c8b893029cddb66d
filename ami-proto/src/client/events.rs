//! The items of a client's event stream and their fan-out to subscribers, each
//! with its own bounded queue and the slow-consumer policy.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::connection::Error;
use crate::packet::Packet;
use crate::parser::Malformed;

/// One item of a client's event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// An AMI event that is not part of any reply.
    Event(Packet),
    /// A response that matched no action (late, unsolicited, refused filter).
    Unmatched(Packet),
    /// A packet the parser dropped (too large); the stream goes on.
    Malformed(Malformed),
    /// This subscriber fell behind and missed this many items.
    Lagged(u64),
    /// The connection was lost; pending actions failed with this reason.
    Disconnected(Error),
    /// A new session is logged in (mask and filters re-applied) after a loss.
    Reconnected,
}

/// One subscriber's bounded queue of events, with the slow-consumer policy every
/// adapter shares: when full, the oldest event is dropped and counted, and the
/// subscriber's next item is [`ClientEvent::Lagged`] with the count. The adapter
/// adds only its way of waking the subscriber (waker, condvar, channel).
///
/// ```
/// use ami_proto::{ClientEvent, EventQueue};
///
/// let mut queue = EventQueue::new(2);
/// for _ in 0..5 {
///     queue.push(ClientEvent::Reconnected);
/// }
/// assert_eq!(queue.pop(), Some(ClientEvent::Lagged(3)));
/// assert_eq!(queue.pop(), Some(ClientEvent::Reconnected));
/// assert_eq!(queue.pop(), Some(ClientEvent::Reconnected));
/// assert_eq!(queue.pop(), None);
/// queue.close();
/// assert!(queue.is_finished());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQueue {
    items: std::collections::VecDeque<ClientEvent>,
    capacity: usize,
    missed: u64,
    closed: bool,
}

impl EventQueue {
    /// An empty queue holding at most `capacity` events (at least 1).
    pub fn new(capacity: usize) -> Self {
        EventQueue {
            items: std::collections::VecDeque::new(),
            capacity: capacity.max(1),
            missed: 0,
            closed: false,
        }
    }

    /// Adds an event, dropping the oldest one if the queue is full.
    pub fn push(&mut self, event: ClientEvent) {
        if self.items.len() >= self.capacity {
            self.items.pop_front();
            self.missed += 1;
        }
        self.items.push_back(event);
    }

    /// The next item: `Lagged(n)` if events were dropped since the last call,
    /// else the oldest event. `None` when empty.
    pub fn pop(&mut self) -> Option<ClientEvent> {
        if self.missed > 0 {
            return Some(ClientEvent::Lagged(std::mem::take(&mut self.missed)));
        }
        self.items.pop_front()
    }

    /// Marks the end of the stream: once drained, [`is_finished`](Self::is_finished).
    pub fn close(&mut self) {
        self.closed = true;
    }

    /// Closed and drained: the subscriber's stream ends here.
    pub fn is_finished(&self) -> bool {
        self.closed && self.missed == 0 && self.items.is_empty()
    }
}

/// How an adapter wakes a subscriber that waits for its next event: the one
/// runtime-specific part of the fan-out ([`EventHub`]). Implemented here for the
/// two wake-ups std offers: [`TaskWaker`] (a task's `Waker`, for any async
/// runtime) and [`Condvar`] (a blocked thread).
pub trait Wakeup: Default + Send + Sync + 'static {
    /// What a waiting subscriber leaves next to its queue, under the same lock
    /// (a `Waker`); `()` when the wake-up needs nothing.
    type Waiter: Default + Send;
    /// Called by the hub, the subscriber's lock held, after it queued an event
    /// or closed the queue.
    fn wake(&self, waiter: &mut Self::Waiter);
}

/// The wake-up of async subscribers: the `Waker` of the task that last found the
/// queue empty. Runtime-agnostic: tokio, smol and async-std tasks alike.
#[derive(Debug, Default)]
pub struct TaskWaker;

impl Wakeup for TaskWaker {
    type Waiter = Option<Waker>;

    fn wake(&self, waiter: &mut Option<Waker>) {
        if let Some(waker) = waiter.take() {
            waker.wake();
        }
    }
}

/// The wake-up of subscribers that block a thread on the queue's lock.
impl Wakeup for Condvar {
    type Waiter = ();

    fn wake(&self, _: &mut ()) {
        self.notify_all();
    }
}

/// One subscriber's side of an [`EventHub`]: its queue (and what its waiter left)
/// under a lock, and its wake-up. The hub keeps one handle, the subscriber the
/// other; dropping the subscriber's unsubscribes it.
pub struct Subscriber<W: Wakeup> {
    state: Mutex<Subscribed<W::Waiter>>,
    wakeup: W,
}

/// A subscriber's state under its lock.
#[derive(Debug)]
pub struct Subscribed<T> {
    /// The events not taken yet.
    pub queue: EventQueue,
    /// What a waiting subscriber left for [`Wakeup::wake`].
    pub waiter: T,
}

impl<W: Wakeup> Subscriber<W> {
    /// Locks the queue (a panic elsewhere does not poison it: the queue is
    /// consistent after every call).
    pub fn lock(&self) -> MutexGuard<'_, Subscribed<W::Waiter>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The wake-up, e.g. the [`Condvar`] to wait on with [`lock`](Self::lock)'s guard.
    pub fn wakeup(&self) -> &W {
        &self.wakeup
    }
}

impl Subscriber<TaskWaker> {
    /// The next item for the task of `cx`: `Ready(None)` once the hub is closed
    /// and the queue drained; `Pending` (the task woken at the next item) when
    /// the queue is empty.
    pub fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Option<ClientEvent>> {
        let mut state = self.lock();
        if let Some(event) = state.queue.pop() {
            return Poll::Ready(Some(event));
        }
        if state.queue.is_finished() {
            return Poll::Ready(None);
        }
        state.waiter = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// A client's event fan-out, shared by every adapter: one [`EventQueue`] per
/// subscriber (bounded to exactly `capacity` events, oldest dropped and counted
/// as [`ClientEvent::Lagged`]), generic over how a waiting subscriber is woken.
/// Publishing never waits on a subscriber. It holds locks, not IO: the driver
/// publishes from its task or thread while subscribers take from theirs.
///
/// ```
/// use ami_proto::{ClientEvent, EventHub, TaskWaker};
///
/// let hub = EventHub::<TaskWaker>::new(2);
/// let subscriber = hub.subscribe();
/// for _ in 0..5 {
///     hub.publish(ClientEvent::Reconnected);
/// }
/// hub.close();
/// let mut state = subscriber.lock();
/// assert_eq!(state.queue.pop(), Some(ClientEvent::Lagged(3)));
/// assert_eq!(state.queue.pop(), Some(ClientEvent::Reconnected));
/// assert_eq!(state.queue.pop(), Some(ClientEvent::Reconnected));
/// assert!(state.queue.is_finished());
/// ```
pub struct EventHub<W: Wakeup> {
    capacity: usize,
    /// The subscribers, and whether the hub is closed.
    subscribers: Mutex<(Vec<Arc<Subscriber<W>>>, bool)>,
}

impl<W: Wakeup> EventHub<W> {
    /// A hub whose subscribers each hold at most `capacity` events (at least 1).
    pub fn new(capacity: usize) -> Self {
        EventHub {
            capacity,
            subscribers: Mutex::new((Vec::new(), false)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, (Vec<Arc<Subscriber<W>>>, bool)> {
        self.subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A new subscriber that receives every event published from now on; its
    /// queue is already finished if the hub is closed.
    pub fn subscribe(&self) -> Arc<Subscriber<W>> {
        let mut subscribers = self.lock();
        let subscriber = Arc::new(Subscriber {
            state: Mutex::new(Subscribed {
                queue: EventQueue::new(self.capacity),
                waiter: W::Waiter::default(),
            }),
            wakeup: W::default(),
        });
        if subscribers.1 {
            subscriber.lock().queue.close();
        } else {
            subscribers.0.push(Arc::clone(&subscriber));
        }
        subscriber
    }

    /// Gives `event` to every live subscriber (one that is full loses its
    /// oldest) and wakes it.
    pub fn publish(&self, event: ClientEvent) {
        let mut subscribers = self.lock();
        // A subscriber only the hub still holds was dropped.
        subscribers.0.retain(|s| Arc::strong_count(s) > 1);
        if let Some((last, others)) = subscribers.0.split_last() {
            for subscriber in others {
                subscriber.push(event.clone());
            }
            last.push(event);
        }
    }

    /// Ends every subscriber's stream, after the events it has queued, for good.
    pub fn close(&self) {
        let mut subscribers = self.lock();
        subscribers.1 = true;
        for subscriber in subscribers.0.drain(..) {
            let mut state = subscriber.lock();
            state.queue.close();
            subscriber.wakeup.wake(&mut state.waiter);
        }
    }
}

impl<W: Wakeup> Subscriber<W> {
    fn push(&self, event: ClientEvent) {
        let mut state = self.lock();
        state.queue.push(event);
        self.wakeup.wake(&mut state.waiter);
    }
}

impl<W: Wakeup> fmt::Debug for EventHub<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let subscribers = self.lock();
        f.debug_struct("EventHub")
            .field("capacity", &self.capacity)
            .field("subscribers", &subscribers.0.len())
            .field("closed", &subscribers.1)
            .finish()
    }
}

impl<W: Wakeup> fmt::Debug for Subscriber<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriber").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};

    use super::*;

    #[test]
    fn hub_drops_gone_subscribers_and_ends_late_ones() {
        let hub = EventHub::<TaskWaker>::new(10);
        let kept = hub.subscribe();
        drop(hub.subscribe());
        hub.publish(ClientEvent::Reconnected);
        assert_eq!(hub.lock().0.len(), 1, "the dropped subscriber is gone");
        hub.close();
        assert!(hub.subscribe().lock().queue.is_finished());
        let mut state = kept.lock();
        assert_eq!(state.queue.pop(), Some(ClientEvent::Reconnected));
        assert!(state.queue.is_finished());
    }

    #[test]
    fn hub_wakes_a_waiting_task_once_per_wait() {
        struct Count(std::sync::atomic::AtomicUsize);
        impl std::task::Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let count = Arc::new(Count(Default::default()));
        let waker = Waker::from(Arc::clone(&count));
        let hub = EventHub::<TaskWaker>::new(10);
        let subscriber = hub.subscribe();
        let mut cx = Context::from_waker(&waker);
        assert!(subscriber.poll_next(&mut cx).is_pending());
        hub.publish(ClientEvent::Reconnected);
        hub.publish(ClientEvent::Reconnected);
        assert_eq!(count.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(
            subscriber.poll_next(&mut cx),
            Poll::Ready(Some(ClientEvent::Reconnected))
        );
        hub.close();
        assert_eq!(
            subscriber.poll_next(&mut cx),
            Poll::Ready(Some(ClientEvent::Reconnected))
        );
        assert_eq!(subscriber.poll_next(&mut cx), Poll::Ready(None));
    }
}
