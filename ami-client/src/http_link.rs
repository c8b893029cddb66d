//! The pump's side of a client over AMI's HTTP transport (`/rawman`).

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use ami_proto::http::{HttpRequest, HttpSession, RequestId};
use ami_proto::{Config, Error, Reason, Status};

use crate::engine::Engine;
use crate::link::{entropy, Step};
use crate::shared::{Clock, Shared};
use crate::Client;

/// A new client over HTTP (`base_path` is `/` for `http://host:8088/`) and the
/// link its HTTP pump drives. The same [`Client`] as over TCP.
///
/// ```
/// use ami_proto::{Config, Transport};
///
/// let (client, link) = ami_client::new_http(Config::default(), "/", std::time::Instant::now);
/// let mut requests = Vec::new();
/// let step = link.step(&mut requests);
/// assert_eq!(step.transport, Transport::Open);
/// assert_eq!(requests.len(), 0, "no credentials: nothing to log in with");
/// drop(client);
/// ```
pub fn new_http(config: Config, base_path: &str, clock: Clock) -> (Client, HttpLink) {
    let session = HttpSession::new(config, base_path, entropy(), clock());
    let engine = Engine::Http(Box::new(session));
    let shared = Shared::new(engine, clock);
    let link = HttpLink {
        inner: Arc::new(Inner {
            shared: Arc::clone(&shared),
        }),
    };
    (Client::new(shared), link)
}

/// The HTTP pump's handle on a client's session. The pump loops:
/// [`step`](Self::step) (start every request it gives, each on the lane it
/// names, with its deadline; stop on [`Transport::Stop`](ami_proto::Transport::Stop)), then waits for the
/// deadline ([`timeout`](Self::timeout)) or a wake-up
/// ([`poll_wake`](Self::poll_wake) / [`wait_wake`](Self::wait_wake)). Each
/// request's task reports its answer ([`response`](Self::response)) or its
/// failure ([`failure`](Self::failure)) from wherever it runs: the link is
/// `Clone`. The client closes when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct HttpLink {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    shared: Arc<Shared>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.drive(|engine, now| engine.close(now));
        self.shared.hub.close();
    }
}

impl HttpLink {
    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    fn drive(&self, input: impl FnOnce(&mut HttpSession, Instant)) {
        self.shared().drive(|engine, now| {
            if let Some(session) = engine.http() {
                input(session, now);
            }
        });
    }

    /// Takes the requests to make into `out` and says what to do next. Clears
    /// the wake-up first, so a handle's later change wakes the pump again.
    pub fn step(&self, out: &mut Vec<HttpRequest>) -> Step {
        self.shared().pump.with(|wake| *wake = false);
        let mut core = self.shared().lock();
        if let Some(session) = core.engine.http() {
            out.extend(std::iter::from_fn(|| session.poll_request()));
        }
        Step {
            transport: core.engine.transport(),
            deadline: core.engine.poll_timeout(),
        }
    }

    /// The settings (for timeouts and the body cap).
    pub fn config(&self) -> Config {
        self.shared().lock().engine.config().clone()
    }

    /// The largest response body to read: 16 packets at the packet limit (a
    /// long-poll or a list carries many packets), so a server cannot grow the
    /// client's memory without bound.
    pub fn max_body(&self) -> usize {
        self.config().limits.max_packet_bytes.saturating_mul(16)
    }

    /// A request's answer: its status, `Set-Cookie` header and body.
    pub fn response(&self, id: RequestId, status: u16, set_cookie: Option<&[u8]>, body: &[u8]) {
        self.drive(|session, now| session.handle_response(id, status, set_cookie, body, now));
    }

    /// A request failed (no connection, no answer in time, a body over
    /// [`max_body`](Self::max_body) ...).
    pub fn failure(&self, id: RequestId, error: impl std::fmt::Display) {
        self.drive(|session, now| session.handle_failure(id, error, now));
    }

    /// The deadline from [`step`](Self::step) passed (extra calls are harmless).
    pub fn timeout(&self) {
        self.shared()
            .drive(|engine, now| engine.handle_timeout(now));
    }

    /// Ready when there is something new for the pump (a request to make, a
    /// close); the task of `cx` is woken then.
    pub fn poll_wake(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.shared()
            .pump
            .poll(cx, |wake| std::mem::take(wake).then_some(()))
    }

    /// Blocks until there is something new for the pump, at most `timeout`;
    /// true when woken.
    pub fn wait_wake(&self, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        self.shared()
            .pump
            .wait(until, |wake| std::mem::take(wake).then_some(()))
            .is_some()
    }

    /// How the client ended, once [`Step::transport`] is [`Transport::Stop`](ami_proto::Transport::Stop).
    pub fn outcome(&self) -> Result<(), Error> {
        match self.shared().lock().engine.status() {
            Status::Closed(Reason::LoggedOff | Reason::ClosedByClient) => Ok(()),
            Status::Closed(reason) => Err(Error::from(reason.clone())),
            _ => Ok(()),
        }
    }
}
