//! The pump's side of a client over AMI's HTTP transport (`/rawman`).

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use ami_proto::http::{HttpRequest, HttpSession, Method, RequestId};
use ami_proto::{Config, Error, Reason, Status, Transport};

use crate::engine::Engine;
use crate::link::{entropy, Step};
use crate::pump::{BoxFuture, Runtime};
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

/// One HTTP exchange the session asks for, resolved against the server's
/// origin: all an HTTP client library needs to make it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Pass it back with the answer ([`HttpLink::finish`]).
    pub id: RequestId,
    /// The absolute URL (`http://host:8088/rawman?action=...` for a GET).
    pub url: String,
    /// For a POST: its content type and body; `None` for a GET.
    pub post: Option<(&'static str, Vec<u8>)>,
    /// The `Cookie` header, when there is a session.
    pub cookie: Option<String>,
    /// How long the exchange may take (the long-poll's bound); actions are
    /// bounded by their own deadlines in the session.
    pub timeout: Option<Duration>,
    /// The largest body to read ([`HttpLink::max_body`]); a longer one is a
    /// failure.
    pub max_body: usize,
}

impl Call {
    fn new(origin: &str, request: HttpRequest, max_body: usize, now: Instant) -> Self {
        let post = match request.method {
            Method::Post => request
                .content_type()
                .map(|kind| (kind, request.form.clone().into_bytes())),
            Method::Get => None,
        };
        Call {
            id: request.id,
            url: format!("{origin}{}", request.target()),
            post,
            timeout: request.deadline.map(|at| at.saturating_duration_since(now)),
            cookie: request.cookie,
            max_body,
        }
    }
}

/// The server's answer to a [`Call`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The `Set-Cookie` header, if any.
    pub set_cookie: Option<Vec<u8>>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl HttpLink {
    /// Takes the exchanges to make, resolved against `origin`
    /// (`http://host:8088`), into `out`, and says what to do next; see
    /// [`step`](Self::step).
    pub fn calls(&self, origin: &str, out: &mut Vec<Call>) -> Step {
        let mut requests = Vec::new();
        let step = self.step(&mut requests);
        let (max_body, now) = (self.max_body(), (self.shared().clock)());
        out.extend(
            requests
                .into_iter()
                .map(|request| Call::new(origin, request, max_body, now)),
        );
        step
    }

    /// Reports how the exchange `id` ended: the server's answer, or why there
    /// is none (no connection, no answer in time, a body over the limit ...).
    pub fn finish(&self, id: RequestId, outcome: Result<Answer, String>) {
        match outcome {
            Ok(answer) => self.response(
                id,
                answer.status,
                answer.set_cookie.as_deref(),
                &answer.body,
            ),
            Err(error) => self.failure(id, error),
        }
    }

    /// The HTTP pump for an async runtime, written once: it starts every
    /// exchange the session asks for with `exchange`, each on a task of its own
    /// (`spawn`), and arms `R`'s timer for the session's deadline, until the
    /// client is closed for good.
    pub async fn run<R: Runtime>(
        self,
        origin: String,
        exchange: impl Fn(Call) -> BoxFuture<Result<Answer, String>>,
        spawn: impl Fn(BoxFuture<()>),
    ) {
        let mut calls = Vec::new();
        loop {
            let step = self.calls(&origin, &mut calls);
            for call in calls.drain(..) {
                let (link, id, answer) = (self.clone(), call.id, exchange(call));
                spawn(Box::pin(async move { link.finish(id, answer.await) }));
            }
            if step.transport == Transport::Stop {
                return;
            }
            let mut deadline = step.deadline.map(|at| Box::pin(R::timer(at)));
            let woken = std::future::poll_fn(|cx| {
                if let Some(timer) = deadline.as_mut() {
                    if timer.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(false);
                    }
                }
                self.poll_wake(cx).map(|()| true)
            });
            if !woken.await {
                self.timeout();
            }
        }
    }

    /// The HTTP pump on OS threads, written once: it makes every exchange the
    /// session asks for with `exchange`, each on a thread of its own, until
    /// the client is closed for good. Call it on a thread of its own.
    pub fn run_blocking<X>(self, origin: &str, exchange: X)
    where
        X: Fn(Call) -> Result<Answer, String> + Clone + Send + 'static,
    {
        /// Longest wait between checks when nothing is timed.
        const IDLE_WAIT: Duration = Duration::from_secs(1);
        let mut calls = Vec::new();
        loop {
            let step = self.calls(origin, &mut calls);
            for call in calls.drain(..) {
                let (link, id, exchange) = (self.clone(), call.id, exchange.clone());
                let started = std::thread::Builder::new()
                    .name("ami-http-request".into())
                    .spawn(move || link.finish(id, exchange(call)));
                if let Err(error) = started {
                    self.failure(
                        id,
                        format!("cannot start a thread for the request: {error}"),
                    );
                }
            }
            if step.transport == Transport::Stop {
                return;
            }
            let wait = step
                .deadline
                .map_or(IDLE_WAIT, |at| at.saturating_duration_since(Instant::now()));
            if !self.wait_wake(wait.min(IDLE_WAIT)) {
                self.timeout();
            }
        }
    }
}
