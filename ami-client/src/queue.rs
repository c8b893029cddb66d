//! The slow-consumer policy of one subscriber.

use std::collections::VecDeque;

use ami_proto::Event;

/// A batch of events, as the session hands them over and a subscriber takes
/// them.
pub(crate) type Batch = VecDeque<Event>;

/// Emptied batch buffers a queue keeps for the next batches: enough for the
/// one being filled and the one a subscriber is emptying, without holding a
/// flood's buffers for good.
const SPARE_BATCHES: usize = 2;

/// One subscriber's bounded queue of events, with the slow-consumer policy every
/// adapter shares: when full, the oldest event is dropped and counted, and the
/// subscriber's next item is [`Event::Lagged`] with the count. The adapter
/// adds only its way of waking the subscriber (waker, condvar, channel).
///
/// Events are queued as the batches they were published in: a batch is
/// queued, and taken by its subscriber, as one buffer, not event by event.
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
#[derive(Debug, Clone)]
pub struct EventQueue {
    /// The batches queued, oldest first; none is empty.
    batches: VecDeque<Batch>,
    /// Events in `batches`.
    len: usize,
    /// Emptied buffers for the next batches (no allocation per batch).
    spare: Vec<Batch>,
    capacity: usize,
    missed: u64,
    closed: bool,
    /// A pump waited a whole `subscriber_wait` for this queue's subscriber,
    /// which did not come for its events meanwhile: no pump waits for it
    /// again until it does.
    waited_out: bool,
}

impl EventQueue {
    /// An empty queue holding at most `capacity` events (at least 1).
    pub fn new(capacity: usize) -> Self {
        EventQueue {
            batches: VecDeque::new(),
            len: 0,
            spare: Vec::new(),
            capacity: capacity.max(1),
            missed: 0,
            closed: false,
            waited_out: false,
        }
    }

    /// Adds an event, dropping the oldest one if the queue is full.
    pub fn push(&mut self, event: Event) {
        match self.batches.back_mut() {
            Some(last) => last.push_back(event),
            None => {
                let mut batch = self.spare.pop().unwrap_or_default();
                batch.push_back(event);
                self.batches.push_back(batch);
            }
        }
        self.len += 1;
        self.drop_oldest();
    }

    /// Queues `batch` as it is and leaves an empty buffer in its place; the
    /// oldest events are dropped past the capacity.
    pub(crate) fn push_batch(&mut self, batch: &mut Batch) {
        if batch.is_empty() {
            return;
        }
        let fresh = self.spare.pop().unwrap_or_default();
        let batch = std::mem::replace(batch, fresh);
        self.len += batch.len();
        self.batches.push_back(batch);
        self.drop_oldest();
    }

    /// Queues a copy of `batch` (for every subscriber but the last).
    pub(crate) fn push_copy(&mut self, batch: &Batch) {
        let mut copy = self.spare.pop().unwrap_or_default();
        copy.extend(batch.iter().cloned());
        self.push_batch(&mut copy);
        self.recycle(copy);
    }

    /// Drops the oldest events past the capacity, counting them.
    fn drop_oldest(&mut self) {
        while self.len > self.capacity {
            let excess = self.len - self.capacity;
            let Some(oldest) = self.batches.front_mut() else {
                return;
            };
            let dropped = excess.min(oldest.len());
            oldest.drain(..dropped);
            self.len -= dropped;
            self.missed += dropped as u64;
            if oldest.is_empty() {
                let emptied = self.batches.pop_front().unwrap_or_default();
                self.recycle(emptied);
            }
        }
    }

    /// Keeps an emptied buffer for a later batch, if fewer than
    /// [`SPARE_BATCHES`] are kept.
    fn recycle(&mut self, mut batch: Batch) {
        if self.spare.len() < SPARE_BATCHES {
            batch.clear();
            self.spare.push(batch);
        }
    }

    /// More than half full: its subscriber is falling behind.
    pub(crate) fn is_behind(&self) -> bool {
        self.len * 2 > self.capacity
    }

    /// Behind, and a pump should wait for its subscriber: not waited out.
    pub(crate) fn wants_room(&self) -> bool {
        self.is_behind() && !self.waited_out
    }

    /// A pump waited for this subscriber in vain; see [`wants_room`](Self::wants_room).
    pub(crate) fn wait_out(&mut self) {
        self.waited_out = self.is_behind();
    }

    /// The next item: `Lagged(n)` if events were dropped since the last call,
    /// else the oldest event. `None` when empty.
    pub fn pop(&mut self) -> Option<Event> {
        self.waited_out = false;
        if self.missed > 0 {
            return Some(Event::Lagged(std::mem::take(&mut self.missed)));
        }
        let oldest = self.batches.front_mut()?;
        let event = oldest.pop_front();
        if oldest.is_empty() {
            let emptied = self.batches.pop_front().unwrap_or_default();
            self.recycle(emptied);
        }
        self.len -= usize::from(event.is_some());
        event
    }

    /// Moves everything queued into `taken` (whose batches were all handed
    /// out), the lag first, as [`pop`](Self::pop) would give it, and keeps the
    /// buffers `taken` emptied. False when nothing was queued.
    pub(crate) fn take_all(&mut self, taken: &mut Taken) -> bool {
        taken.emptied.drain(..).for_each(|b| self.recycle(b));
        if self.missed > 0 {
            let lag = Event::Lagged(std::mem::take(&mut self.missed));
            taken.batches.push_back(VecDeque::from([lag]));
        }
        if taken.batches.is_empty() {
            std::mem::swap(&mut self.batches, &mut taken.batches);
        } else {
            taken.batches.append(&mut self.batches);
        }
        self.len = 0;
        self.waited_out = false;
        !taken.batches.is_empty()
    }

    /// Drops every event queued, uncounted: for a subscriber that is gone.
    pub(crate) fn clear(&mut self) {
        self.batches.clear();
        self.len = 0;
        self.missed = 0;
    }

    /// Marks the end of the stream: once drained, [`is_finished`](Self::is_finished).
    pub fn close(&mut self) {
        self.closed = true;
    }

    /// Closed and drained: the subscriber's stream ends here.
    pub fn is_finished(&self) -> bool {
        self.closed && self.missed == 0 && self.len == 0
    }

    /// The queued events, oldest first.
    fn events(&self) -> impl Iterator<Item = &Event> {
        self.batches.iter().flatten()
    }
}

/// Equal when they would give the same items and have the same capacity and
/// end, however the events are split into batches.
impl PartialEq for EventQueue {
    fn eq(&self, other: &Self) -> bool {
        (self.capacity, self.missed, self.closed, self.len)
            == (other.capacity, other.missed, other.closed, other.len)
            && self.events().eq(other.events())
    }
}

impl Eq for EventQueue {}

/// What a subscriber took from its queue and has not handed out yet: whole
/// batches, handed out one event at a time outside the queue's lock.
#[derive(Debug, Default)]
pub(crate) struct Taken {
    batches: VecDeque<Batch>,
    /// Emptied buffers, given back to the queue at the next take.
    emptied: Vec<Batch>,
}

impl Taken {
    /// The next event taken, oldest first. A batch leaves as soon as it is
    /// emptied, so that what is left is never an empty batch.
    pub(crate) fn pop(&mut self) -> Option<Event> {
        loop {
            let oldest = self.batches.front_mut()?;
            let event = oldest.pop_front();
            if oldest.is_empty() {
                let emptied = self.batches.pop_front().unwrap_or_default();
                if self.emptied.len() < SPARE_BATCHES {
                    self.emptied.push(emptied);
                }
            }
            if event.is_some() {
                return event;
            }
        }
    }

    /// Events taken and not handed out.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.batches.iter().map(VecDeque::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lagged(n: u64) -> Event {
        Event::Lagged(n)
    }

    fn batch(range: std::ops::Range<u64>) -> Batch {
        range.map(lagged).collect()
    }

    fn drain(queue: &mut EventQueue) -> Vec<Event> {
        std::iter::from_fn(|| queue.pop()).collect()
    }

    /// Batches past the capacity lose their oldest events, counted, across
    /// batch boundaries, and the buffer given back is empty.
    #[test]
    fn a_batch_past_the_capacity_drops_the_oldest() {
        let mut queue = EventQueue::new(5);
        let mut first = batch(0..3);
        queue.push_batch(&mut first);
        assert!(first.is_empty());
        queue.push_batch(&mut batch(10..14));
        assert_eq!(
            drain(&mut queue),
            [
                lagged(2),
                lagged(2),
                lagged(10),
                lagged(11),
                lagged(12),
                lagged(13)
            ]
        );
        queue.push_batch(&mut batch(20..28));
        assert_eq!(drain(&mut queue)[..2], [lagged(3), lagged(23)]);
    }

    /// `take_all` gives the lag first, then every batch in order, and takes
    /// back the buffers the subscriber emptied.
    #[test]
    fn take_all_hands_over_the_batches_in_order() {
        let mut queue = EventQueue::new(4);
        queue.push_batch(&mut batch(0..3));
        queue.push_batch(&mut batch(3..6));
        let mut taken = Taken::default();
        assert!(queue.take_all(&mut taken));
        assert_eq!(taken.len(), 5);
        let items: Vec<Event> = std::iter::from_fn(|| taken.pop()).collect();
        assert_eq!(
            items,
            [lagged(2), lagged(2), lagged(3), lagged(4), lagged(5)]
        );
        assert!(!queue.take_all(&mut taken), "nothing left");
        assert_eq!(
            queue.spare.len(),
            SPARE_BATCHES,
            "the emptied buffers came back"
        );
        queue.close();
        assert!(queue.is_finished());
    }

    /// A copy for another subscriber leaves the batch as it was.
    #[test]
    fn a_copy_leaves_the_batch() {
        let mut queue = EventQueue::new(10);
        let original = batch(0..3);
        queue.push_copy(&original);
        assert_eq!(original.len(), 3);
        assert_eq!(drain(&mut queue), [lagged(0), lagged(1), lagged(2)]);
    }

    /// Equality looks at the items, not at how they are split into batches.
    #[test]
    fn equal_whatever_the_batches() {
        let mut one = EventQueue::new(10);
        one.push_batch(&mut batch(0..4));
        let mut two = EventQueue::new(10);
        two.push_batch(&mut batch(0..2));
        two.push_batch(&mut batch(2..4));
        assert_eq!(one, two);
        two.push(lagged(9));
        assert_ne!(one, two);
    }

    /// What a subscriber does to its queue, and the hub to it.
    #[derive(Debug, Clone)]
    enum Op {
        Push,
        PushBatch(usize),
        PushCopy(usize),
        Pop,
        TakeAll,
        PopTaken,
        WaitOut,
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            2 => Just(Op::Push),
            3 => (0usize..12).prop_map(Op::PushBatch),
            1 => (0usize..12).prop_map(Op::PushCopy),
            2 => Just(Op::Pop),
            2 => Just(Op::TakeAll),
            4 => Just(Op::PopTaken),
            1 => Just(Op::WaitOut),
        ]
    }

    /// The policy event by event, as the queue must behave whatever its
    /// batches: the newest `capacity` events are kept, the dropped ones are
    /// counted and told first.
    #[derive(Default)]
    struct Model {
        items: VecDeque<Event>,
        taken: VecDeque<Event>,
        missed: u64,
        /// Waited out while behind, and not come for events since.
        waited_out: bool,
    }

    impl Model {
        fn push(&mut self, event: Event, capacity: usize) {
            self.items.push_back(event);
            if self.items.len() > capacity {
                self.items.pop_front();
                self.missed += 1;
            }
        }

        fn lag(&mut self) -> Option<Event> {
            (self.missed > 0).then(|| Event::Lagged(std::mem::take(&mut self.missed)))
        }
    }

    /// A distinct event per number.
    fn numbered(n: u64) -> Event {
        Event::Disconnected(ami_proto::Reason::Io(n.to_string()))
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 512,
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x0e0e_0e0e),
            failure_persistence: None,
            ..proptest::test_runner::Config::default()
        })]

        /// Whatever the mix of single events, batches, copies, pops and
        /// takes, the items come out as the event-by-event model gives them:
        /// in order, the newest kept, every dropped one counted in a
        /// `Lagged` before what follows it. A pump waits for the subscriber
        /// while it is behind, unless waited out since it last came for
        /// events.
        #[test]
        fn batches_keep_the_policy_of_single_events(
            capacity in 1usize..10,
            ops in proptest::collection::vec(op(), 0..80),
        ) {
            let mut queue = EventQueue::new(capacity);
            let mut taken = Taken::default();
            let mut model = Model::default();
            let mut next = 0u64;
            let mut numbers = |k: usize| {
                let batch: Batch = (next..next + k as u64).map(numbered).collect();
                next += k as u64;
                batch
            };
            for op in ops {
                match op {
                    Op::Push => {
                        let event = numbers(1).pop_front().unwrap();
                        model.push(event.clone(), capacity);
                        queue.push(event);
                    }
                    Op::PushBatch(k) | Op::PushCopy(k) => {
                        let mut batch = numbers(k);
                        batch.iter().for_each(|e| model.push(e.clone(), capacity));
                        if let Op::PushCopy(_) = op {
                            queue.push_copy(&batch);
                        } else {
                            queue.push_batch(&mut batch);
                            proptest::prop_assert!(batch.is_empty());
                        }
                    }
                    Op::Pop => {
                        model.waited_out = false;
                        let expected = model.lag().or_else(|| model.items.pop_front());
                        proptest::prop_assert_eq!(queue.pop(), expected);
                    }
                    Op::TakeAll => {
                        model.waited_out = false;
                        let lag = model.lag();
                        model.taken.extend(lag);
                        model.taken.extend(model.items.drain(..));
                        let any = queue.take_all(&mut taken);
                        proptest::prop_assert_eq!(any, !model.taken.is_empty());
                    }
                    Op::PopTaken => {
                        proptest::prop_assert_eq!(taken.pop(), model.taken.pop_front());
                    }
                    Op::WaitOut => {
                        model.waited_out = model.items.len() * 2 > capacity;
                        queue.wait_out();
                    }
                }
                let behind = model.items.len() * 2 > capacity;
                proptest::prop_assert_eq!(queue.len, model.items.len());
                proptest::prop_assert_eq!(queue.is_behind(), behind);
                proptest::prop_assert_eq!(queue.wants_room(), behind && !model.waited_out);
                proptest::prop_assert!(queue.spare.len() <= SPARE_BATCHES);
            }
        }
    }
}
