//! Outputs in order, with the events kept apart so that a client can take a
//! whole run of them at once.

use std::collections::VecDeque;

use crate::client::Event;
use crate::connection::Output;
use crate::session::Update;

/// One item of [`Lanes`]: an event, or an output of another kind.
#[derive(Debug)]
pub(crate) enum Lane<U> {
    Event(Event),
    Other(U),
}

/// The outputs of a [`Connection`](crate::Connection) or the updates of a
/// [`Session`](crate::Session), in order.
///
/// Events are most of a busy connection's outputs. They are kept in a queue
/// of their own, and every other output notes how many events came before
/// it, so [`pop`](Self::pop) gives the same order as one queue would, while
/// [`take_events`](Self::take_events) hands over the run of events before the
/// next other output in one go: by swapping buffers when it is all of them,
/// which is the common case under a flood. The events of a read then go from
/// the connection to the session to a client's subscribers without being
/// moved one by one through each queue.
#[derive(Debug)]
pub(crate) struct Lanes<U> {
    /// Outputs other than events, each with the count of events pushed
    /// before it.
    others: VecDeque<(u64, U)>,
    events: VecDeque<Event>,
    /// Events pushed, and events taken, since the start.
    pushed: u64,
    taken: u64,
}

/// A session's updates.
pub(crate) type Updates = Lanes<Update>;

/// A connection's outputs: its events, unmatched responses and malformed
/// packets go in the events lane, as the client events they become.
pub(crate) type Outputs = Lanes<Output>;

impl<U> Default for Lanes<U> {
    fn default() -> Self {
        Lanes {
            others: VecDeque::new(),
            events: VecDeque::new(),
            pushed: 0,
            taken: 0,
        }
    }
}

impl<U> Lanes<U> {
    pub(crate) fn push_event(&mut self, event: Event) {
        self.events.push_back(event);
        self.pushed += 1;
    }

    pub(crate) fn push_other(&mut self, other: U) {
        self.others.push_back((self.pushed, other));
    }

    /// The next item, events included.
    pub(crate) fn pop(&mut self) -> Option<Lane<U>> {
        match self.others.front() {
            Some((before, _)) if *before == self.taken => {
                self.others.pop_front().map(|(_, other)| Lane::Other(other))
            }
            _ => {
                let event = self.events.pop_front()?;
                self.taken += 1;
                Some(Lane::Event(event))
            }
        }
    }

    /// Moves the events that come before the next other output to the end of
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

    /// [`take_events`](Self::take_events) into the events of `to`, after
    /// what `to` holds.
    pub(crate) fn move_events<V>(&mut self, to: &mut Lanes<V>) {
        let before = to.events.len();
        self.take_events(&mut to.events);
        to.pushed += (to.events.len() - before) as u64;
    }
}

impl Updates {
    pub(crate) fn push(&mut self, update: Update) {
        match update {
            Update::Event(event) => self.push_event(event),
            other => self.push_other(other),
        }
    }

    /// The next update, events included.
    pub(crate) fn pop_update(&mut self) -> Option<Update> {
        self.pop().map(|lane| match lane {
            Lane::Event(event) => Update::Event(event),
            Lane::Other(update) => update,
        })
    }
}

impl Outputs {
    /// The next output, in the order they were pushed.
    pub(crate) fn pop_output(&mut self) -> Option<Output> {
        loop {
            match self.pop()? {
                Lane::Other(output) => return Some(output),
                Lane::Event(Event::Event(packet)) => return Some(Output::Event(packet)),
                Lane::Event(Event::Unmatched(packet)) => return Some(Output::Response(packet)),
                Lane::Event(Event::Malformed(malformed)) => {
                    return Some(Output::Malformed(malformed))
                }
                // A connection queues only the three above; the session
                // makes the others.
                Lane::Event(_) => {}
            }
        }
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
        let order: Vec<String> = std::iter::from_fn(|| updates.pop_update())
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
                let Some(update) = updates.pop_update() else {
                    break;
                };
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
        assert_eq!(label(&updates.pop_update().unwrap()), "e1");
        let mut into = VecDeque::new();
        updates.take_events(&mut into);
        assert_eq!(into.len(), 1, "only e2 comes before the status");
        updates.take_events(&mut into);
        assert_eq!(into.len(), 1, "nothing more until the status is popped");
        assert_eq!(label(&updates.pop_update().unwrap()), "s");
        assert_eq!(label(&updates.pop_update().unwrap()), "s");
        updates.take_events(&mut into);
        assert_eq!(into.len(), 2, "e3");
        assert_eq!(label(&updates.pop_update().unwrap()), "s");
        let mut rest = VecDeque::new();
        updates.take_events(&mut rest);
        assert_eq!(rest.len(), 3, "e4..e6, swapped in");
        assert!(updates.pop_update().is_none());
    }

    /// A connection's outputs come back as they went in, packets for the
    /// subscribers included, and moving its events to a session's updates
    /// keeps them after what the updates already held.
    #[test]
    fn outputs_keep_their_kind_and_order() {
        let mut parser = crate::Parser::new();
        parser.feed(b"Asterisk Call Manager/11.0.0\r\n");
        parser.feed(b"Event: Hangup\r\n\r\nResponse: Success\r\nActionID: x\r\n\r\n");
        let mut packets = std::iter::from_fn(|| parser.next()).filter_map(|parsed| match parsed {
            crate::Parsed::Packet(packet) => Some(packet),
            _ => None,
        });
        let (event, response) = (packets.next().unwrap(), packets.next().unwrap());
        let mut outputs = Outputs::default();
        outputs.push_other(Output::Ready);
        outputs.push_event(Event::Event(event.clone()));
        outputs.push_event(Event::Unmatched(response.clone()));
        outputs.push_other(Output::Ready);
        outputs.push_event(Event::Event(event));
        assert!(matches!(outputs.pop_output(), Some(Output::Ready)));
        assert!(
            matches!(outputs.pop_output(), Some(Output::Event(p)) if p.event_name().unwrap() == "Hangup")
        );
        assert!(
            matches!(outputs.pop_output(), Some(Output::Response(p)) if p.action_id().unwrap() == "x")
        );

        let mut updates = Updates::default();
        updates.push(Update::Event(Event::Reconnected));
        outputs.move_events(&mut updates);
        assert!(
            updates.pop_update().is_some(),
            "what the updates held first"
        );
        assert!(
            updates.pop_update().is_none(),
            "nothing comes before the output Ready"
        );
        assert!(matches!(outputs.pop_output(), Some(Output::Ready)));
        outputs.move_events(&mut updates);
        assert!(matches!(
            updates.pop_update(),
            Some(Update::Event(Event::Event(_)))
        ));
        assert!(outputs.pop_output().is_none());
    }
}
