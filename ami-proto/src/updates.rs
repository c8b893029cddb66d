//! A session's updates in order, with its events kept apart so that a client
//! can take a whole run of them at once.

use std::collections::VecDeque;

use crate::client::Event;
use crate::session::Update;

/// The updates a [`Session`](crate::Session) has for its client, in order.
///
/// Events are most of a busy session's updates. They are kept in a queue of
/// their own, and every other update notes how many events came before it,
/// so [`pop`](Self::pop) gives the same order as one queue would, while
/// [`take_events`](Self::take_events) hands over the run of events before
/// the next other update in one go: by swapping buffers when it is all of
/// them, which is the common case under a flood. A client then does not move
/// each event through a second queue before it reaches its subscribers.
#[derive(Debug, Default)]
pub(crate) struct Updates {
    /// Updates other than events, each with the count of events pushed
    /// before it.
    others: VecDeque<(u64, Update)>,
    events: VecDeque<Event>,
    /// Events pushed, and events taken, since the start.
    pushed: u64,
    taken: u64,
}

impl Updates {
    pub(crate) fn push(&mut self, update: Update) {
        match update {
            Update::Event(event) => {
                self.events.push_back(event);
                self.pushed += 1;
            }
            other => self.others.push_back((self.pushed, other)),
        }
    }

    /// The next update, events included.
    pub(crate) fn pop(&mut self) -> Option<Update> {
        match self.others.front() {
            Some((before, _)) if *before == self.taken => self.others.pop_front().map(|(_, u)| u),
            _ => {
                let event = self.events.pop_front()?;
                self.taken += 1;
                Some(Update::Event(event))
            }
        }
    }

    /// Moves the events that come before the next other update to the end of
    /// `into`, in order; swaps the buffers when `into` is empty and the run
    /// is every queued event.
    pub(crate) fn take_events(&mut self, into: &mut VecDeque<Event>) {
        let run = match self.others.front() {
            // At most `events.len()`: `before` counts events pushed, and
            // those taken are no longer queued.
            Some((before, _)) => (before - self.taken) as usize,
            None => self.events.len(),
        };
        if run == 0 {
            return;
        }
        if into.is_empty() && run == self.events.len() {
            std::mem::swap(into, &mut self.events);
        } else {
            into.extend(self.events.drain(..run));
        }
        self.taken += run as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Status;

    /// A mix of events and other updates, each recognisable.
    fn mixed() -> Vec<Update> {
        let event = |n: u64| Update::Event(Event::Lagged(n));
        let status = || Update::Status(Status::Ready);
        vec![
            event(1),
            event(2),
            status(),
            status(),
            event(3),
            status(),
            event(4),
            event(5),
            event(6),
        ]
    }

    fn label(update: &Update) -> String {
        match update {
            Update::Event(Event::Lagged(n)) => format!("e{n}"),
            Update::Event(Event::Reconnected) => "r".into(),
            Update::Status(_) => "s".into(),
            other => format!("{other:?}"),
        }
    }

    fn filled() -> Updates {
        let mut updates = Updates::default();
        mixed().into_iter().for_each(|u| updates.push(u));
        updates
    }

    #[test]
    fn pop_keeps_the_order_they_were_pushed_in() {
        let mut updates = filled();
        let order: Vec<String> = std::iter::from_fn(|| updates.pop())
            .map(|u| label(&u))
            .collect();
        assert_eq!(order, ["e1", "e2", "s", "s", "e3", "s", "e4", "e5", "e6"]);
    }

    /// Taking the runs of events, then one other update, gives the same
    /// order as popping one at a time, whether `into` starts empty (swap) or
    /// not (moved one by one).
    #[test]
    fn taking_runs_keeps_the_order() {
        for start_with in [0, 1] {
            let mut updates = filled();
            let mut into: VecDeque<Event> = (0..start_with).map(|_| Event::Reconnected).collect();
            let mut order = Vec::new();
            loop {
                updates.take_events(&mut into);
                order.extend(into.drain(..).map(|e| label(&Update::Event(e))));
                let Some(update) = updates.pop() else { break };
                order.push(label(&update));
            }
            let mut expected = vec!["r"; start_with];
            expected.extend(["e1", "e2", "s", "s", "e3", "s", "e4", "e5", "e6"]);
            assert_eq!(
                order, expected,
                "starting with {start_with} events in `into`"
            );
        }
    }

    /// A run taken while other updates wait stops at the first of them; a
    /// pop in between goes on from where the run stopped.
    #[test]
    fn a_run_stops_at_the_next_other_update() {
        let mut updates = filled();
        assert_eq!(label(&updates.pop().unwrap()), "e1");
        let mut into = VecDeque::new();
        updates.take_events(&mut into);
        assert_eq!(into.len(), 1, "only e2 comes before the status");
        updates.take_events(&mut into);
        assert_eq!(into.len(), 1, "nothing more until the status is popped");
        assert_eq!(label(&updates.pop().unwrap()), "s");
        assert_eq!(label(&updates.pop().unwrap()), "s");
        updates.take_events(&mut into);
        assert_eq!(into.len(), 2, "e3");
        assert_eq!(label(&updates.pop().unwrap()), "s");
        let mut rest = VecDeque::new();
        updates.take_events(&mut rest);
        assert_eq!(rest.len(), 3, "e4..e6, swapped in");
        assert!(updates.pop().is_none());
    }
}
