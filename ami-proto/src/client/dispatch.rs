//! The routing of the core's outputs to reply slots, list streams and event
//! subscribers, and the reconnect decisions.

use std::collections::HashMap;
use std::time::Duration;

use crate::connection::{ActionId, Error, Output, Reply};
use crate::packet::Packet;

use super::{entropy, ClientEvent, Reconnect};

/// Whether a connection closed for `reason` may be replaced by a new one: not
/// after a logoff, a local close, a refused login or a login action the core
/// refused to encode (retrying cannot fix those).
///
/// ```
/// use ami_proto::{reconnectable, Error};
///
/// assert!(reconnectable(&Error::Eof));
/// assert!(!reconnectable(&Error::AuthFailed("no".into())));
/// ```
pub fn reconnectable(reason: &Error) -> bool {
    !matches!(
        reason,
        Error::LoggedOff | Error::ClosedByClient | Error::AuthFailed(_) | Error::Encode(_)
    )
}

/// Where an adapter's driver delivers what [`Dispatch::route`] took from the
/// core: the runtime-specific half of routing (channels, locks, wake-ups).
pub trait Deliver {
    /// An action's reply slot (a oneshot sender, ...).
    type Reply;
    /// A streamed list's item queue.
    type Items;
    /// Completes an action.
    fn reply(&mut self, slot: Self::Reply, result: Result<Reply, Error>);
    /// Delivers one item of a streamed list.
    fn item(&mut self, items: &Self::Items, item: Packet);
    /// Gives an event to every subscriber.
    fn publish(&mut self, event: ClientEvent);
    /// The current session's AMI version: from its banner, `None` once it closed.
    fn version(&mut self, version: Option<String>);
    /// The session logged in (`Ok`) or closed (`Err(reason)`), before the
    /// matching `Reconnected`/`Disconnected` is published (e.g. to tell a
    /// waiting `connect` the first login's outcome, or to fail calls fast while
    /// the client is down).
    fn session(&mut self, outcome: Result<(), &Error>);
}

/// What every adapter's driver keeps across the sessions of one client, with
/// the decisions they share: the reply slot of each action in flight and the
/// item queue of each streamed list (by [`ActionId`]), which core output goes
/// where ([`route`](Self::route)), when `Disconnected`/`Reconnected` are
/// published, and whether and when to redial ([`redial_after`](Self::redial_after)).
/// Plain data: the adapter supplies the slots and the delivery ([`Deliver`]).
///
/// ```
/// use ami_proto::{Dispatch, Error, Reconnect};
///
/// let policy = Reconnect { max_attempts: Some(1), ..Reconnect::default() };
/// let mut dispatch = Dispatch::<(), ()>::new(Some(policy));
/// // No session ever logged in: nothing to reconnect to.
/// assert_eq!(dispatch.redial_after(&Error::Eof), None);
/// ```
#[derive(Debug)]
pub struct Dispatch<R, I> {
    replies: HashMap<ActionId, R>,
    items: HashMap<ActionId, I>,
    policy: Option<Reconnect>,
    /// The current session logged in.
    up: bool,
    /// Some session logged in: later logins are reconnects.
    ever_up: bool,
    /// The last closed session had logged in.
    was_up: bool,
    /// Failed attempts in a row (dials, or sessions that did not log in).
    failed: u32,
}

impl<R, I> Dispatch<R, I> {
    /// No action in flight; `policy` is the client's reconnect policy (`None`
    /// for a client that cannot redial).
    pub fn new(policy: Option<Reconnect>) -> Self {
        Dispatch {
            replies: HashMap::new(),
            items: HashMap::new(),
            policy,
            up: false,
            ever_up: false,
            was_up: false,
            failed: 0,
        }
    }

    /// Records the slots of an action the core accepted as `id`.
    pub fn insert(&mut self, id: ActionId, reply: R, items: Option<I>) {
        self.replies.insert(id, reply);
        if let Some(items) = items {
            self.items.insert(id, items);
        }
    }

    /// Routes one core output: completions to their slots (ending a streamed
    /// list's item queue), events to the subscribers, `Reconnected` at each
    /// login after the first, `Disconnected` when a session that logged in (or
    /// the first one) closes, not again for a failed re-login. Returns the
    /// reason once the session closed; its slots are dropped then (the core
    /// failed each pending action before `Closed`).
    pub fn route<D>(&mut self, output: Output, to: &mut D) -> Option<Error>
    where
        D: Deliver<Reply = R, Items = I>,
    {
        let event = match output {
            Output::Reply { id, result } => {
                self.items.remove(&id);
                if let Some(slot) = self.replies.remove(&id) {
                    to.reply(slot, result);
                }
                return None;
            }
            Output::ListItem { id, item } => {
                if let Some(items) = self.items.get(&id) {
                    to.item(items, item);
                }
                return None;
            }
            Output::Connected { version } => {
                to.version(version);
                return None;
            }
            Output::Ready => {
                self.up = true;
                to.session(Ok(()));
                if !std::mem::replace(&mut self.ever_up, true) {
                    return None;
                }
                ClientEvent::Reconnected
            }
            Output::Event(packet) => ClientEvent::Event(packet),
            Output::Response(packet) => ClientEvent::Unmatched(packet),
            Output::Malformed(malformed) => ClientEvent::Malformed(malformed),
            Output::Closed(reason) => {
                self.replies.clear();
                self.items.clear();
                to.version(None);
                to.session(Err(&reason));
                self.was_up = std::mem::take(&mut self.up);
                if self.was_up || !self.ever_up {
                    to.publish(ClientEvent::Disconnected(reason.clone()));
                }
                return Some(reason);
            }
        };
        to.publish(event);
        None
    }

    /// Whether the last session, closed for `reason`, may be followed by another:
    /// a policy, a [`reconnectable`] reason, and a session that logged in once.
    pub fn may_redial(&self, reason: &Error) -> bool {
        self.policy.is_some() && self.ever_up && reconnectable(reason)
    }

    /// Whether the last closed session had logged in.
    pub fn was_up(&self) -> bool {
        self.was_up
    }

    /// After a session closed for `reason`: how long to wait before dialling
    /// again (the policy's backoff), or `None` to close for good.
    pub fn redial_after(&mut self, reason: &Error) -> Option<Duration> {
        self.failed = if self.was_up { 0 } else { self.failed + 1 };
        if !self.may_redial(reason) {
            return None;
        }
        self.backoff()
    }

    /// After a dial failed: how long to wait before the next, or `None` to give up.
    pub fn dial_failed(&mut self) -> Option<Duration> {
        self.failed += 1;
        self.backoff()
    }

    fn backoff(&self) -> Option<Duration> {
        let policy = self.policy?;
        policy
            .allows(self.failed)
            .then(|| policy.delay(self.failed, entropy()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::{Error, Reply};

    /// Records what [`Dispatch::route`] delivers.
    #[derive(Default)]
    struct Record {
        replies: Vec<(u32, Result<Reply, Error>)>,
        events: Vec<ClientEvent>,
        sessions: Vec<Result<(), Error>>,
        version: Option<String>,
    }

    impl Deliver for Record {
        type Reply = u32;
        type Items = ();
        fn reply(&mut self, slot: u32, result: Result<Reply, Error>) {
            self.replies.push((slot, result));
        }
        fn item(&mut self, _: &(), _: Packet) {}
        fn publish(&mut self, event: ClientEvent) {
            self.events.push(event);
        }
        fn version(&mut self, version: Option<String>) {
            self.version = version;
        }
        fn session(&mut self, outcome: Result<(), &Error>) {
            self.sessions.push(outcome.map_err(Clone::clone));
        }
    }

    fn id(n: u64) -> ActionId {
        ActionId(n)
    }

    #[test]
    fn dispatch_routes_replies_and_marks_each_gap_once() {
        let policy = Reconnect {
            max_attempts: Some(2),
            ..Reconnect::default()
        };
        let mut dispatch = Dispatch::<u32, ()>::new(Some(policy));
        let mut to = Record::default();
        let connected = Output::Connected {
            version: Some("2.0".into()),
        };
        assert_eq!(dispatch.route(connected, &mut to), None);
        assert_eq!(to.version.as_deref(), Some("2.0"));
        assert_eq!(dispatch.route(Output::Ready, &mut to), None);
        assert!(to.events.is_empty(), "the first login is no reconnect");
        dispatch.insert(id(1), 7, None);
        dispatch.insert(id(2), 8, Some(()));
        let done = Output::Reply {
            id: id(1),
            result: Err(Error::Timeout),
        };
        dispatch.route(done, &mut to);
        assert_eq!(to.replies, vec![(7, Err(Error::Timeout))]);

        // The session is lost: Disconnected, slots dropped, redial at once.
        let closed = dispatch.route(Output::Closed(Error::Eof), &mut to);
        assert_eq!(closed, Some(Error::Eof));
        assert_eq!(to.events, vec![ClientEvent::Disconnected(Error::Eof)]);
        assert_eq!(to.version, None);
        assert!(dispatch.replies.is_empty() && dispatch.items.is_empty());
        assert!(dispatch.redial_after(&Error::Eof).is_some());
        // A re-login that fails is no new gap; the policy allows two failures.
        dispatch.route(Output::Closed(Error::LoginTimeout), &mut to);
        assert_eq!(to.events.len(), 1);
        assert!(dispatch.redial_after(&Error::LoginTimeout).is_some());
        assert_eq!(dispatch.dial_failed(), None, "attempts used up");
        // A later login is a reconnect.
        dispatch.route(Output::Ready, &mut to);
        assert_eq!(to.events[1], ClientEvent::Reconnected);
        assert_eq!(
            to.sessions,
            vec![Ok(()), Err(Error::Eof), Err(Error::LoginTimeout), Ok(())]
        );
        // Never after a logoff.
        dispatch.route(Output::Closed(Error::LoggedOff), &mut to);
        assert_eq!(dispatch.redial_after(&Error::LoggedOff), None);
    }
}
