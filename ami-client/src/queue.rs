//! The slow-consumer policy of one subscriber.

use ami_proto::Event;

/// One subscriber's bounded queue of events, with the slow-consumer policy every
/// adapter shares: when full, the oldest event is dropped and counted, and the
/// subscriber's next item is [`Event::Lagged`] with the count. The adapter
/// adds only its way of waking the subscriber (waker, condvar, channel).
///
/// ```
/// use ami_client::EventQueue;
/// use ami_proto::Event;
///
/// let mut queue = EventQueue::new(2);
/// for _ in 0..5 {
///     queue.push(Event::Reconnected);
/// }
/// assert_eq!(queue.pop(), Some(Event::Lagged(3)));
/// assert_eq!(queue.pop(), Some(Event::Reconnected));
/// assert_eq!(queue.pop(), Some(Event::Reconnected));
/// assert_eq!(queue.pop(), None);
/// queue.close();
/// assert!(queue.is_finished());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQueue {
    items: std::collections::VecDeque<Event>,
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
    pub fn push(&mut self, event: Event) {
        if self.items.len() >= self.capacity {
            self.items.pop_front();
            self.missed += 1;
        }
        self.items.push_back(event);
    }

    /// More than half full: its subscriber is falling behind.
    pub(crate) fn is_behind(&self) -> bool {
        self.items.len() * 2 > self.capacity
    }

    /// The next item: `Lagged(n)` if events were dropped since the last call,
    /// else the oldest event. `None` when empty.
    pub fn pop(&mut self) -> Option<Event> {
        if self.missed > 0 {
            return Some(Event::Lagged(std::mem::take(&mut self.missed)));
        }
        self.items.pop_front()
    }

    /// Moves everything queued into `into` (empty when called): the lag
    /// first, as [`pop`](Self::pop) would give it. False when nothing was queued.
    pub(crate) fn take_all(&mut self, into: &mut std::collections::VecDeque<Event>) -> bool {
        if self.missed > 0 {
            into.push_back(Event::Lagged(std::mem::take(&mut self.missed)));
        }
        if into.is_empty() {
            // Swapped, not moved: the queue keeps the subscriber's emptied
            // buffer, so no batch allocates once both have grown.
            std::mem::swap(&mut self.items, into);
        } else {
            into.append(&mut self.items);
        }
        !into.is_empty()
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
