//! What the HTTP transport ([`crate::http::HttpSession`]) needs from a
//! [`Connection`] beyond the TCP contract: a session without a banner, losing
//! it for a reason of its own, and giving up on one action whose HTTP exchange
//! failed. Kept apart so the TCP state machine stays as it is.

use std::time::Instant;

use super::pending::{Internal, Origin, Phase};
use super::{id, Connection, Reason};
use crate::parser::Parser;

/// Who an action given up on belonged to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Forgotten {
    /// The application's: it still needs a completion.
    User,
    /// The login (or its MD5 challenge): the session cannot log in.
    Login,
    /// A Filter or keepalive Ping of the connection's own.
    Other,
}

impl Connection {
    /// A session on a transport without a banner (AMI over HTTP): it logs in at
    /// once, numbering ActionIDs from `first`.
    pub(crate) fn without_banner(config: super::Config, now: Instant, first: u64) -> Self {
        let mut conn = Connection::numbered_from(config, now, first);
        let mut parser = Parser::with_limits(conn.config.limits);
        parser.skip_banner();
        conn.parser = parser;
        conn.on_banner(None);
        conn
    }

    /// Ends the session for `reason`, as a lost transport would.
    pub(crate) fn lose(&mut self, reason: Reason) {
        self.close_with(reason);
    }

    /// The number of one of this connection's ActionIDs.
    pub(crate) fn number_of(&self, action_id: &[u8]) -> Option<u64> {
        id::parse_id(self.prefix.as_bytes(), action_id)
    }

    /// The ActionID prefix.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether action `number` was written and still waits for its response.
    pub(crate) fn awaits_response(&mut self, number: u64) -> bool {
        self.pending
            .get_mut(number)
            .is_some_and(|pending| pending.phase == Phase::AwaitingResponse)
    }

    /// Gives up on action `number`, written and still waiting for its response,
    /// without any output: the caller reports it. `None` when it does not wait.
    pub(crate) fn forget(&mut self, number: u64) -> Option<Forgotten> {
        if !self.awaits_response(number) {
            return None;
        }
        let pending = self.pending.remove(number)?;
        self.release_custom_id(&pending);
        self.in_flight -= 1;
        if pending.blocking {
            self.blocking -= 1;
        }
        if pending.origin == Origin::Internal(Internal::Ping) {
            self.ping = None;
        }
        self.compact_deadlines();
        self.write_queued();
        Some(match pending.origin {
            Origin::User => Forgotten::User,
            Origin::Internal(Internal::Login | Internal::Challenge) => Forgotten::Login,
            Origin::Internal(_) => Forgotten::Other,
        })
    }
}
