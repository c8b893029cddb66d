//! The session a client runs: AMI over TCP ([`Session`]) or over HTTP
//! ([`HttpSession`]). Both give the same updates and status, so everything
//! above (completions, events, status waits) is written once.

use std::time::Instant;

use crate::queue::Batch;
use ami_proto::http::HttpSession;
use ami_proto::{Action, ActionId, Config, Error, Session, Status, Transport, Update};

/// The sans-IO session under a client's lock.
#[derive(Debug)]
pub(crate) enum Engine {
    /// AMI over a byte stream (TCP, TLS, any stream).
    Tcp(Box<Session>),
    /// AMI over HTTP (`/rawman`).
    Http(Box<HttpSession>),
}

impl Engine {
    pub(crate) fn send_action(&mut self, action: Action, now: Instant) -> Result<ActionId, Error> {
        match self {
            Engine::Tcp(session) => session.send_action(action, now),
            Engine::Http(session) => session.send_action(action, now),
        }
    }

    pub(crate) fn close(&mut self, now: Instant) {
        match self {
            Engine::Tcp(session) => session.close(now),
            Engine::Http(session) => session.close(now),
        }
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        match self {
            Engine::Tcp(session) => session.handle_timeout(now),
            Engine::Http(session) => session.handle_timeout(now),
        }
    }

    pub(crate) fn poll_update(&mut self) -> Option<Update> {
        match self {
            Engine::Tcp(session) => session.poll_update(),
            Engine::Http(session) => session.poll_update(),
        }
    }

    /// The events before the next other update, moved to the end of `into`
    /// (over HTTP they come one by one from [`poll_update`](Self::poll_update)).
    pub(crate) fn poll_events(&mut self, into: &mut Batch) {
        match self {
            Engine::Tcp(session) => session.poll_events(into),
            Engine::Http(_) => {}
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Engine::Tcp(session) => session.poll_timeout(),
            Engine::Http(session) => session.poll_timeout(),
        }
    }

    pub(crate) fn status(&self) -> &Status {
        match self {
            Engine::Tcp(session) => session.status(),
            Engine::Http(session) => session.status(),
        }
    }

    /// The ActionID text an action was written with (TCP: the connection's
    /// prefix and number; HTTP: not known here).
    pub(crate) fn action_id_text(&self, id: ActionId) -> Option<String> {
        match self {
            Engine::Tcp(session) => session.action_id_text(id),
            Engine::Http(_) => None,
        }
    }

    /// The banner's AMI version; HTTP has no banner.
    pub(crate) fn ami_version(&self) -> Option<&str> {
        match self {
            Engine::Tcp(session) => session.ami_version(),
            Engine::Http(_) => None,
        }
    }

    pub(crate) fn config(&self) -> &Config {
        match self {
            Engine::Tcp(session) => session.config(),
            Engine::Http(session) => session.config(),
        }
    }

    /// What a pump should do with its transport (over HTTP: keep making
    /// requests until closed).
    pub(crate) fn transport(&self) -> Transport {
        match self {
            Engine::Tcp(session) => session.transport(),
            Engine::Http(session) if matches!(session.status(), Status::Closed(_)) => {
                Transport::Stop
            }
            Engine::Http(_) => Transport::Open,
        }
    }

    /// Whether the pump has something to send.
    pub(crate) fn has_output(&self) -> bool {
        match self {
            Engine::Tcp(session) => session.has_transmit(),
            Engine::Http(session) => session.has_request(),
        }
    }

    /// The TCP session, for a stream pump.
    pub(crate) fn tcp(&mut self) -> Option<&mut Session> {
        match self {
            Engine::Tcp(session) => Some(session),
            Engine::Http(_) => None,
        }
    }

    /// The HTTP session, for an HTTP pump.
    pub(crate) fn http(&mut self) -> Option<&mut HttpSession> {
        match self {
            Engine::Http(session) => Some(session),
            Engine::Tcp(_) => None,
        }
    }
}
