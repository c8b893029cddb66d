//! What a client's handles and its pump share: the session under one lock,
//! the reply slots, the fan-out, and the pump's wake-up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::time::Instant;

use ami_proto::{Action, ActionId, Error, Packet, Reply, Status, Update};

use crate::engine::Engine;

use crate::hub::Hub;
use crate::mailbox::Mailbox;
use crate::queue::Batch;
use crate::trace::{ActionSpans, ClientSpan};

/// An action's completion, as its caller waits for it.
pub(crate) type Slot = Arc<Mailbox<Option<Result<Reply, Error>>>>;

/// A streamed list's items, and whether the list has ended.
pub(crate) type Items = Arc<Mailbox<(std::collections::VecDeque<Packet>, bool)>>;

/// A submitted action's completion slot, and what its timeout error names.
#[derive(Debug)]
pub(crate) struct Waiter {
    slot: Slot,
    action: String,
    deadline: std::time::Duration,
}

/// The clock the session's time comes from: the runtime's (tokio's, so that
/// paused-clock tests drive the core) or std's.
pub type Clock = fn() -> Instant;

/// The session and the state that routes its updates.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) engine: Engine,
    replies: HashMap<ActionId, Waiter>,
    items: HashMap<ActionId, Items>,
    /// Tasks waiting for a status change (`Client::ready`).
    status_waiters: Vec<Waker>,
    /// Events routed under the lock, published as one batch.
    batch: Batch,
    /// The spans of the actions in flight (feature `tracing`).
    actions: ActionSpans,
}

/// Shared by every `Client` handle, `Pending`, `ListStream` and the pump.
#[derive(Debug)]
pub(crate) struct Shared {
    core: Mutex<Core>,
    pub(crate) hub: Hub,
    pub(crate) clock: Clock,
    /// The pump's wake-up: set when the session has bytes to write, a new
    /// deadline, or a new transport wish (dial, stop).
    pub(crate) pump: Mailbox<bool>,
    /// Wakes threads waiting for a status change.
    pub(crate) status: Mailbox<u64>,
    /// The client's span (feature `tracing`).
    pub(crate) trace: ClientSpan,
}

impl Shared {
    pub(crate) fn new(engine: Engine, clock: Clock) -> Arc<Self> {
        let hub = Hub::new(
            engine.config().event_capacity,
            engine.config().subscriber_wait,
        );
        Arc::new(Shared {
            core: Mutex::new(Core {
                engine,
                replies: HashMap::new(),
                items: HashMap::new(),
                status_waiters: Vec::new(),
                batch: Batch::new(),
                actions: ActionSpans::new(),
            }),
            hub,
            clock,
            pump: Mailbox::new(false),
            status: Mailbox::new(0),
            trace: ClientSpan::new(),
        })
    }

    pub(crate) fn now(&self) -> Instant {
        (self.clock)()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs the pump's `input` on the session, then routes what it produced.
    /// Wakes the pump when the input left bytes to write or changed what the
    /// transport should do (a pump whose writer is another thread needs it;
    /// a single-task pump clears it at its next step).
    pub(crate) fn drive<R>(&self, input: impl FnOnce(&mut Engine, Instant) -> R) -> R {
        let now = self.now();
        let mut core = self.lock();
        let before = (core.engine.transport(), core.engine.poll_timeout());
        let result = input(&mut core.engine, now);
        self.route(&mut core);
        // The pump's timer must be re-armed when the next deadline moved
        // earlier (a reconnect backoff started by an answer on another task).
        let deadline = core.engine.poll_timeout();
        let earlier = deadline.is_some_and(|at| before.1.is_none_or(|was| at < was));
        let wake = core.engine.has_output() || core.engine.transport() != before.0 || earlier;
        drop(core);
        if wake {
            self.pump.update(|wake| *wake = true);
        }
        result
    }

    /// Runs a caller's `input` on the session, routes what it produced and
    /// wakes the pump (bytes to write, a new deadline, a transport change).
    pub(crate) fn drive_waking<R>(&self, input: impl FnOnce(&mut Engine, Instant) -> R) -> R {
        let result = self.drive(input);
        self.pump.update(|wake| *wake = true);
        result
    }

    /// Sends an action; its completion slot, and the item queue of a streamed list.
    pub(crate) fn submit(
        &self,
        action: Action,
        stream: bool,
    ) -> Result<(Slot, Option<Items>), Error> {
        let now = self.now();
        let mut core = self.lock();
        let name = action.name().to_owned();
        let deadline = action
            .requested_timeout()
            .unwrap_or(core.engine.config().action_timeout);
        let span = self.trace.action(&action);
        let id = match core.engine.send_action(action, now) {
            Ok(id) => id,
            Err(error) => {
                span.refused(&error);
                return Err(error);
            }
        };
        if !span.is_disabled() {
            span.sent(id, core.engine.action_id_text(id));
            core.actions.insert(id, span);
        }
        let slot: Slot = Arc::new(Mailbox::new(None));
        let waiter = Waiter {
            slot: Arc::clone(&slot),
            action: name,
            deadline,
        };
        core.replies.insert(id, waiter);
        let items = stream.then(|| {
            let items: Items = Arc::new(Mailbox::new(Default::default()));
            core.items.insert(id, Arc::clone(&items));
            items
        });
        self.route(&mut core);
        drop(core);
        self.pump.update(|wake| *wake = true);
        Ok((slot, items))
    }

    /// Delivers the session's updates: completions to their slots, items to
    /// their lists, events to the subscribers (one batch), status changes to
    /// their waiters; then wakes the pump.
    pub(crate) fn route(&self, core: &mut Core) {
        let mut status_changed = false;
        loop {
            // The events before the next other update, as one run (the
            // session's buffer itself when it is every event it holds).
            let before = core.batch.len();
            core.engine.poll_events(&mut core.batch);
            core.batch.range(before..).for_each(|e| self.trace.event(e));
            let Some(update) = core.engine.poll_update() else {
                break;
            };
            self.trace.update(&update, core.engine.config());
            match update {
                Update::Reply { id, result } => {
                    if let Some(span) = core.actions.remove(id) {
                        span.completed(&result);
                    }
                    // What came before the reply on the wire is published
                    // before its caller wakes.
                    self.hub.publish(&mut core.batch);
                    if let Some(items) = core.items.remove(&id) {
                        items.update(|(_, ended)| *ended = true);
                    }
                    if let Some(waiter) = core.replies.remove(&id) {
                        // A timeout names the action and its deadline.
                        let result = match result {
                            Err(Error::Timeout { .. }) => Err(Error::Timeout {
                                what: waiter.action,
                                after: Some(waiter.deadline),
                            }),
                            other => other,
                        };
                        waiter.slot.update(|done| *done = Some(result));
                    }
                }
                Update::ListItem { id, item } => {
                    if let Some(items) = core.items.get(&id) {
                        items.update(|(queue, _)| queue.push_back(item));
                    }
                }
                Update::Event(event) => core.batch.push_back(event),
                Update::Status(_) => status_changed = true,
                _ => {}
            }
        }
        self.hub.publish(&mut core.batch);
        if status_changed {
            if matches!(core.engine.status(), Status::Closed(_)) {
                self.hub.close();
            }
            core.status_waiters.drain(..).for_each(Waker::wake);
            self.status.update(|generation| *generation += 1);
        }
    }

    /// Registers a task to wake at the next status change.
    pub(crate) fn wait_status(core: &mut Core, waker: &Waker) {
        if !core.status_waiters.iter().any(|w| w.will_wake(waker)) {
            core.status_waiters.push(waker.clone());
        }
    }

    /// Runs the session's timers from a waiting caller: if the pump is stuck,
    /// deadlines still pass.
    pub(crate) fn run_timers(&self) {
        self.drive_waking(|session, now| {
            if session.poll_timeout().is_some_and(|at| at <= now) {
                session.handle_timeout(now);
            }
        });
    }

    /// The session's next deadline.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.lock().engine.poll_timeout()
    }
}
