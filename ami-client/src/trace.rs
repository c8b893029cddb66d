//! What a client tells `tracing` (feature `tracing`, on by default), written
//! once here for every runtime: the pumps only report through [`Link`](crate::Link)
//! what only they know (the address, dial and transport failures).
//!
//! Spans: `client{id, address}` per client, and `action{name, action_id}`
//! per action (level DEBUG), a child of its client's span. Events (target
//! `ami_client`): connect attempts and their outcome, login outcome (user and
//! method, never the secret), status changes, a lost connection (a keepalive
//! failure among them), dropped malformed packets, unmatched responses, and a
//! subscriber that fell behind. Without the feature every call here is an
//! empty inline function.

#[cfg(feature = "tracing")]
pub(crate) use on::{ActionSpans, ClientSpan};

#[cfg(not(feature = "tracing"))]
pub(crate) use off::{ActionSpans, ClientSpan};

#[cfg(feature = "tracing")]
mod on {
    use std::collections::HashMap;
    use std::fmt::Display;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    use ami_proto::{Action, ActionId, Config, Error, Event, Reason, Reply, Status, Update};
    use tracing::field::Empty;
    use tracing::{debug, debug_span, info, info_span, warn, Span};

    /// Numbers the clients of this process, for the `id` of their spans.
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);

    /// A client's span, and whether the current dial was told.
    #[derive(Debug)]
    pub(crate) struct ClientSpan(Span, AtomicBool);

    /// The spans of the actions in flight (only those something listens to).
    #[derive(Debug)]
    pub(crate) struct ActionSpans(HashMap<ActionId, ActionSpan>);

    impl ActionSpans {
        pub(crate) fn new() -> Self {
            ActionSpans(HashMap::new())
        }

        pub(crate) fn insert(&mut self, id: ActionId, span: ActionSpan) {
            self.0.insert(id, span);
        }

        pub(crate) fn remove(&mut self, id: ActionId) -> Option<ActionSpan> {
            match self.0.is_empty() {
                true => None,
                false => self.0.remove(&id),
            }
        }
    }

    /// An action's span, from its submission to its completion.
    #[derive(Debug)]
    pub(crate) struct ActionSpan(Span);

    impl ClientSpan {
        pub(crate) fn new() -> Self {
            let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
            ClientSpan(
                info_span!(target: "ami_client", "client", id, address = Empty),
                AtomicBool::new(false),
            )
        }

        /// The address the client dials (reported by its pump).
        pub(crate) fn address(&self, address: &str) {
            self.0.record("address", tracing::field::display(address));
        }

        /// A span for `action`, before it is sent: its ActionID comes with
        /// [`ActionSpan::sent`].
        pub(crate) fn action(&self, action: &Action) -> ActionSpan {
            ActionSpan(
                debug_span!(target: "ami_client", parent: &self.0, "action", name = action.name(), action_id = Empty),
            )
        }

        /// The pump is about to dial (attempt 0 is the first): told once per dial.
        pub(crate) fn dialing(&self, status: &Status) {
            if self.1.swap(true, Ordering::Relaxed) {
                return;
            }
            let attempt = match status {
                Status::Connecting { attempt } | Status::Reconnecting { attempt, .. } => *attempt,
                _ => 0,
            };
            info!(target: "ami_client", parent: &self.0, attempt, "connecting");
        }

        pub(crate) fn connected(&self) {
            self.1.store(false, Ordering::Relaxed);
            info!(target: "ami_client", parent: &self.0, "connected");
        }

        pub(crate) fn dial_failed(&self, reason: &Reason) {
            self.1.store(false, Ordering::Relaxed);
            warn!(target: "ami_client", parent: &self.0, %reason, "connect failed");
        }

        pub(crate) fn io_error(&self, error: &dyn Display) {
            warn!(target: "ami_client", parent: &self.0, %error, "transport error");
        }

        /// One update of the session, before it is routed; `config` for the
        /// login's user and method.
        pub(crate) fn update(&self, update: &Update, config: &Config) {
            match update {
                Update::Status(status) => self.status(status, config),
                Update::Event(event) => self.event(event),
                _ => {}
            }
        }

        /// One item for the subscribers, before it is published: the
        /// client's own items are told, AMI events are not.
        pub(crate) fn event(&self, event: &Event) {
            let span = &self.0;
            match event {
                Event::Disconnected(reason @ (Reason::ClosedByClient | Reason::LoggedOff)) => {
                    debug!(target: "ami_client", parent: span, %reason, "disconnected")
                }
                Event::Disconnected(reason) => {
                    if *reason == Reason::KeepaliveTimeout {
                        warn!(target: "ami_client", parent: span, %reason, "keepalive failed");
                    }
                    warn!(target: "ami_client", parent: span, %reason, "connection lost");
                }
                Event::Reconnected => {
                    info!(target: "ami_client", parent: span, "reconnected")
                }
                Event::Malformed(malformed) => warn!(
                    target: "ami_client",
                    parent: span,
                    reason = ?malformed.reason,
                    size = malformed.size,
                    head = %String::from_utf8_lossy(&malformed.head),
                    "malformed packet dropped"
                ),
                Event::Unmatched(packet) => info!(
                    target: "ami_client",
                    parent: span,
                    action_id = packet.action_id().map(|v| v.to_string()),
                    response = packet.get("Response").map(|v| v.to_string()),
                    "unmatched response"
                ),
                _ => {}
            }
        }

        fn status(&self, status: &Status, config: &Config) {
            let span = &self.0;
            let login = config.credentials.as_ref();
            let user = login.map(|c| c.username.as_str());
            let method = login.map(|c| format!("{:?}", c.auth));
            match status {
                Status::Connecting { attempt } => {
                    debug!(target: "ami_client", parent: span, attempt, "status: connecting")
                }
                Status::LoggingIn => {
                    debug!(target: "ami_client", parent: span, "status: logging in")
                }
                Status::Ready => {
                    if login.is_some() {
                        info!(target: "ami_client", parent: span, user, method, "login ok");
                    }
                    info!(target: "ami_client", parent: span, "ready");
                }
                Status::Reconnecting { attempt, .. } => {
                    warn!(target: "ami_client", parent: span, attempt, "reconnecting");
                }
                Status::Closed(reason) => {
                    if let Reason::AuthFailed(_) | Reason::LoginTimeout = reason {
                        warn!(target: "ami_client", parent: span, user, method, %reason, "login failed");
                    }
                    match reason {
                        Reason::ClosedByClient | Reason::LoggedOff => {
                            info!(target: "ami_client", parent: span, %reason, "closed");
                        }
                        _ => warn!(target: "ami_client", parent: span, %reason, "closed"),
                    }
                }
                _ => debug!(target: "ami_client", parent: span, ?status, "status"),
            }
        }

        /// A subscriber fell behind and lost `missed` events.
        pub(crate) fn lagged(&self, missed: u64) {
            warn!(target: "ami_client", parent: &self.0, missed, "event subscriber fell behind");
        }

        /// The pump waited `wait` for a subscriber behind, which did not
        /// come for its events meanwhile: it reads on without it.
        pub(crate) fn waited_out(&self, wait: std::time::Duration) {
            let wait_us = u64::try_from(wait.as_micros()).unwrap_or(u64::MAX);
            debug!(target: "ami_client", parent: &self.0, wait_us, "waited in vain for an event subscriber");
        }
    }

    impl ActionSpan {
        /// The action was accepted as `id` (`wire`: its ActionID on the wire).
        pub(crate) fn sent(&self, id: ActionId, wire: Option<String>) {
            match wire {
                Some(text) => self.0.record("action_id", text),
                None => self.0.record("action_id", tracing::field::display(id)),
            };
            debug!(target: "ami_client", parent: &self.0, "sent");
        }

        pub(crate) fn refused(&self, error: &Error) {
            debug!(target: "ami_client", parent: &self.0, %error, "refused");
        }

        pub(crate) fn completed(self, result: &Result<Reply, Error>) {
            match result {
                Ok(reply) => debug!(
                    target: "ami_client",
                    parent: &self.0,
                    response = reply.response().get("Response").map(|v| v.to_string()),
                    "completed"
                ),
                Err(error @ Error::Timeout { .. }) => {
                    warn!(target: "ami_client", parent: &self.0, %error, "failed")
                }
                Err(error) => debug!(target: "ami_client", parent: &self.0, %error, "failed"),
            }
        }

        /// Whether nothing listens: then the span is not kept.
        pub(crate) fn is_disabled(&self) -> bool {
            self.0.is_disabled()
        }
    }
}

#[cfg(not(feature = "tracing"))]
mod off {
    use std::fmt::Display;

    use ami_proto::{Action, ActionId, Config, Error, Event, Reason, Reply, Status, Update};

    #[derive(Debug)]
    pub(crate) struct ClientSpan;

    #[derive(Debug)]
    pub(crate) struct ActionSpan;

    #[derive(Debug)]
    pub(crate) struct ActionSpans;

    impl ActionSpans {
        #[inline]
        pub(crate) fn new() -> Self {
            ActionSpans
        }
        #[inline]
        pub(crate) fn insert(&mut self, _: ActionId, _: ActionSpan) {}
        #[inline]
        pub(crate) fn remove(&mut self, _: ActionId) -> Option<ActionSpan> {
            None
        }
    }

    impl ClientSpan {
        #[inline]
        pub(crate) fn new() -> Self {
            ClientSpan
        }
        #[inline]
        pub(crate) fn address(&self, _: &str) {}
        #[inline]
        pub(crate) fn action(&self, _: &Action) -> ActionSpan {
            ActionSpan
        }
        #[inline]
        pub(crate) fn dialing(&self, _: &Status) {}
        #[inline]
        pub(crate) fn connected(&self) {}
        #[inline]
        pub(crate) fn dial_failed(&self, _: &Reason) {}
        #[inline]
        pub(crate) fn io_error(&self, _: &dyn Display) {}
        #[inline]
        pub(crate) fn update(&self, _: &Update, _: &Config) {}
        #[inline]
        pub(crate) fn event(&self, _: &Event) {}
        #[inline]
        pub(crate) fn lagged(&self, _: u64) {}
        #[inline]
        pub(crate) fn waited_out(&self, _: std::time::Duration) {}
    }

    impl ActionSpan {
        #[inline]
        pub(crate) fn sent(&self, _: ActionId, _: Option<String>) {}
        #[inline]
        pub(crate) fn refused(&self, _: &Error) {}
        #[inline]
        pub(crate) fn completed(self, _: &Result<Reply, Error>) {}
        #[inline]
        pub(crate) fn is_disabled(&self) -> bool {
            true
        }
    }
}
