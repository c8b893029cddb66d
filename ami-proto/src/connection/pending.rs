//! The table of actions awaiting their reply, keyed by ActionID number.
//!
//! Numbers are handed out in increasing order, so the table is a ring indexed by
//! `number - base`: O(1) insert, lookup and removal without hashing, which matters
//! with thousands of actions in flight.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::action::Expect;
use crate::packet::Packet;

/// Who sent an action and therefore who gets its reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The application: its reply becomes an output.
    User,
    /// The connection's own Challenge, Login, Filter or keepalive Ping.
    Internal(Internal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Internal {
    Challenge,
    Login,
    Filter,
    /// The `Events` action that turns the mask on once the filters are in force.
    EventMask,
    Ping,
}

/// Where an action is in its reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting in the connection's queue; nothing written yet.
    Queued,
    /// Written; waiting for the response.
    AwaitingResponse,
    /// The response opened a list; collecting items.
    List {
        response: Packet,
        items: Vec<Packet>,
        received: usize,
    },
    /// Async Originate queued; waiting for `OriginateResponse`.
    Originate { response: Packet },
}

#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) origin: Origin,
    pub(crate) phase: Phase,
    pub(crate) expect: Expect,
    pub(crate) stream_list: bool,
    /// A synchronous Originate: the server writes nothing else until it answers.
    pub(crate) blocking: bool,
    /// When the action fails with `Timeout`. Only ever moves later; the
    /// connection's timer heap may still hold an earlier entry for it.
    pub(crate) deadline: Instant,
    /// The action's own timeout: a list's deadline moves to this long after its
    /// latest item, so a long list that keeps arriving never times out.
    pub(crate) timeout: Duration,
    /// The caller-set ActionID, if any (see [`Action::action_id`](crate::Action::action_id)).
    pub(crate) custom_id: Option<Box<str>>,
}

#[derive(Debug, Default)]
pub(crate) struct PendingTable {
    slots: VecDeque<Option<Pending>>,
    /// Number of the action in `slots[0]`.
    base: u64,
    len: usize,
}

impl PendingTable {
    /// Inserts the action numbered `number`, which must be the highest so far.
    pub(crate) fn insert(&mut self, number: u64, pending: Pending) {
        if self.slots.is_empty() {
            self.base = number;
        }
        let index = (number - self.base) as usize;
        while self.slots.len() < index {
            self.slots.push_back(None);
        }
        self.slots.push_back(Some(pending));
        self.len += 1;
    }

    pub(crate) fn get_mut(&mut self, number: u64) -> Option<&mut Pending> {
        let index = number.checked_sub(self.base)? as usize;
        self.slots.get_mut(index)?.as_mut()
    }

    pub(crate) fn contains(&self, number: u64) -> bool {
        number
            .checked_sub(self.base)
            .and_then(|index| self.slots.get(index as usize))
            .is_some_and(Option::is_some)
    }

    pub(crate) fn remove(&mut self, number: u64) -> Option<Pending> {
        let index = number.checked_sub(self.base)? as usize;
        let pending = self.slots.get_mut(index)?.take()?;
        self.len -= 1;
        while matches!(self.slots.front(), Some(None)) {
            self.slots.pop_front();
            self.base += 1;
        }
        Some(pending)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The oldest written action still waiting for its response: the one a
    /// response without ActionID answers, since the server replies in order.
    pub(crate) fn oldest_awaiting_response(&self) -> Option<u64> {
        self.slots
            .iter()
            .position(|slot| {
                slot.as_ref()
                    .is_some_and(|p| p.phase == Phase::AwaitingResponse)
            })
            .map(|index| self.base + index as u64)
    }

    /// Removes every entry, oldest first.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = (u64, Pending)> + '_ {
        let base = self.base;
        self.len = 0;
        self.slots
            .drain(..)
            .enumerate()
            .filter_map(move |(i, slot)| slot.map(|p| (base + i as u64, p)))
    }
}
