//! The async pump, written once for every async runtime: it moves bytes and
//! time between a `futures-io` stream and a [`Link`], and dials when the
//! session asks. A runtime adapter gives it a timer ([`Runtime`]) and a
//! stream; tokio streams go through `tokio-util`'s compat layer.
//!
//! One task polls the read, the write, the timer and the wake-up together, so
//! the pump reads while it writes (a pump that only writes while it does not
//! read can deadlock with a peer that does the same) and needs no split
//! stream, no lock and no second task.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use ami_proto::{Error, Reason, Transport};
use futures_io::{AsyncRead, AsyncWrite};

pub use crate::read_buf::ReadBuf;
use crate::Link;

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Opens a new transport, or says why it could not; called at every (re)dial.
pub type Dial<S> = Box<dyn FnMut() -> BoxFuture<Result<S, Reason>> + Send>;

/// What the pump needs from an async runtime: a timer it can re-arm. (The
/// session's clock is given to [`new`](crate::new) as a [`Clock`](crate::Clock).)
///
/// ```
/// use std::pin::Pin;
/// use std::time::Instant;
///
/// /// async-io's timer, as ami-smol uses it.
/// struct AsyncIo;
///
/// impl ami_client::Runtime for AsyncIo {
///     type Timer = async_io::Timer;
///     fn timer(at: Instant) -> Self::Timer {
///         async_io::Timer::at(at)
///     }
///     fn reset(timer: Pin<&mut Self::Timer>, at: Instant) {
///         timer.get_mut().set_at(at);
///     }
/// }
/// ```
pub trait Runtime: 'static {
    /// A future that completes at the instant it was armed for.
    type Timer: Future + Send;
    /// A timer armed for `at`.
    fn timer(at: Instant) -> Self::Timer;
    /// Re-arms `timer` for `at`.
    fn reset(timer: Pin<&mut Self::Timer>, at: Instant);
    /// The runtime's clock (tokio's may be paused in tests).
    fn now() -> Instant {
        Instant::now()
    }
    /// Lets the runtime run its other tasks once, the pump's own included
    /// (tokio's `block_on` future runs only when tokio's own `yield_now` is
    /// used). By default the task wakes itself and returns `Pending` once.
    fn yield_now() -> BoxFuture<()> {
        Box::pin(yield_now())
    }
}

/// The future that runs a client: it pumps bytes and time between the
/// transport and the session, and dials when the session asks.
///
/// An adapter's `connect` spawns it; with an adapter's `from_stream` the caller
/// runs it on any executor. It resolves when the client is closed for good:
/// `Ok(())` after a close, a logoff or when every `Client` handle is dropped;
/// otherwise the error that ended it.
#[must_use = "the driver does nothing unless spawned or awaited"]
pub struct Driver {
    inner: BoxFuture<Result<(), Error>>,
}

impl Driver {
    /// The driver of `link`'s client on runtime `R`: `first` is a transport the
    /// caller opened (and reported with [`Link::connected`]); `dial` opens the
    /// next one (without it, a lost transport closes the client).
    ///
    /// ```
    /// # use std::{pin::Pin, time::Instant};
    /// # struct AsyncIo;
    /// # impl ami_client::Runtime for AsyncIo {
    /// #     type Timer = async_io::Timer;
    /// #     fn timer(at: Instant) -> Self::Timer { async_io::Timer::at(at) }
    /// #     fn reset(timer: Pin<&mut Self::Timer>, at: Instant) { timer.get_mut().set_at(at) }
    /// # }
    /// use ami_proto::Config;
    ///
    /// let (client, link) = ami_client::new(Config::default(), Instant::now);
    /// // The server's end of the stream is gone at once: the client closes.
    /// let stream = futures_lite::io::Cursor::new(Vec::new());
    /// link.connected();
    /// let driver = ami_client::Driver::new::<AsyncIo, _>(link, Some(stream), None);
    /// assert!(futures_lite::future::block_on(driver).is_err());
    /// assert!(matches!(client.status(), ami_proto::Status::Closed(_)));
    /// ```
    pub fn new<R, S>(link: Link, first: Option<S>, dial: Option<Dial<S>>) -> Self
    where
        R: Runtime,
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        Driver {
            inner: Box::pin(run::<R, S>(link, first, dial)),
        }
    }
}

impl Future for Driver {
    type Output = Result<(), Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver").finish_non_exhaustive()
    }
}

/// The timer, armed only while the session has a deadline, re-armed only when
/// the deadline moves (one timer per client, not one per wait).
struct Alarm<R: Runtime> {
    timer: Option<Pin<Box<R::Timer>>>,
    armed: Option<Instant>,
}

impl<R: Runtime> Alarm<R> {
    fn set(&mut self, at: Option<Instant>) {
        match (at, self.timer.as_mut()) {
            (None, _) => self.armed = None,
            (Some(at), _) if self.armed == Some(at) => {}
            (Some(at), Some(timer)) => {
                R::reset(timer.as_mut(), at);
                self.armed = Some(at);
            }
            (Some(at), None) => {
                self.timer = Some(Box::pin(R::timer(at)));
                self.armed = Some(at);
            }
        }
    }

    /// Ready once when the armed deadline passes.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(timer) = self.timer.as_mut().filter(|_| self.armed.is_some()) else {
            return Poll::Pending;
        };
        let fired = timer.as_mut().poll(cx).is_ready();
        if fired {
            self.armed = None;
        }
        fired.then_some(()).map_or(Poll::Pending, Poll::Ready)
    }
}

/// The bytes the session gave to write on the open transport.
#[derive(Default)]
struct Outbox {
    bytes: Vec<u8>,
    written: usize,
    /// Bytes were written since the last flush (TLS buffers).
    dirty: bool,
}

/// What ended one wait of the pump.
enum Happened {
    Read(io::Result<usize>),
    Wrote(io::Result<usize>),
    Deadline,
    Woken,
    /// The wait for the subscribers behind is over: they took their events,
    /// or `Config::subscriber_wait` passed.
    WaitOver,
}

async fn run<R, S>(link: Link, mut open: Option<S>, mut dial: Option<Dial<S>>) -> Result<(), Error>
where
    R: Runtime,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut alarm = Alarm::<R> {
        timer: None,
        armed: None,
    };
    let mut buf = ReadBuf::default();
    let mut out = Outbox::default();
    // Armed while the pump waits for a subscriber behind, instead of reading.
    let mut room = Alarm::<R> {
        timer: None,
        armed: None,
    };
    // The bytes of the last read, while some are still to feed.
    let mut unfed = None;
    loop {
        let step = link.step(&mut out.bytes);
        alarm.set(step.deadline);
        if open.is_none() {
            out = Outbox::default();
            if room.armed.is_some() {
                room.set(None);
                link.stop_waiting(false);
            }
            unfed = None;
            buf.discard();
        }
        match (step.transport, open.as_mut()) {
            (Transport::Stop, _) => return link.outcome(),
            (Transport::Open, Some(stream)) => {
                let happened = std::future::poll_fn(|cx| {
                    poll_once(cx, &link, stream, &mut out, &mut buf, &mut alarm, &mut room)
                });
                match happened.await {
                    Happened::Read(Ok(0)) => link.eof(),
                    Happened::Read(Ok(n)) => unfed = feed(&link, &mut buf, n, &mut room).await,
                    Happened::WaitOver => {
                        room.set(None);
                        if let Some(n) = unfed.take() {
                            unfed = feed(&link, &mut buf, n, &mut room).await;
                        }
                    }
                    Happened::Read(Err(error)) | Happened::Wrote(Err(error)) => {
                        link.io_failed(&error)
                    }
                    Happened::Wrote(Ok(n)) => out.wrote(n),
                    Happened::Deadline => link.timeout(),
                    Happened::Woken => {}
                }
            }
            (Transport::Open, None) => link.io_error("no transport"),
            (Transport::Dial, _) => {
                open = None;
                let Some(dial) = dial.as_mut() else {
                    link.dial_failed(Reason::Io("this client cannot redial".into()));
                    continue;
                };
                match until_closed(&link, dial()).await {
                    Some(Ok(stream)) => {
                        open = Some(stream);
                        link.connected();
                    }
                    Some(Err(reason)) => link.dial_failed(reason),
                    None => {}
                }
            }
            (Transport::Wait, _) => {
                open = None;
                let woken = std::future::poll_fn(|cx| match alarm.poll(cx) {
                    Poll::Ready(()) => Poll::Ready(false),
                    Poll::Pending => link.poll_wake(cx).map(|()| true),
                });
                if !woken.await {
                    link.timeout();
                }
            }
        }
    }
}

impl Outbox {
    fn pending(&self) -> bool {
        self.written < self.bytes.len() || self.dirty
    }

    /// `n` more bytes were written; 0 means a flush.
    fn wrote(&mut self, n: usize) {
        self.dirty = n > 0;
        self.written += n;
        if self.written == self.bytes.len() {
            self.bytes.clear();
            self.written = 0;
        }
    }
}

/// Feeds the `n` bytes just read to the session, a slice at a time; `Some`
/// with `n` again when it stopped for a subscriber behind, with `room` armed
/// for the end of the wait.
async fn feed<R: Runtime>(
    link: &Link,
    buf: &mut ReadBuf,
    n: usize,
    room: &mut Alarm<R>,
) -> Option<usize> {
    loop {
        let more = buf.feed(n, link, |s| link.received_bytes(s));
        // Once per slice: a subscriber on this thread runs before the next
        // slice or read, not when the runtime's budget runs out.
        R::yield_now().await;
        if !link.subscribers_behind() {
            match more {
                true => continue,
                false => return None,
            }
        }
        // A subscriber on another thread past half its queue: under a flood
        // on few cores it may wait for a core while the pump fills its queue
        // until events are dropped, so the pump waits for it (reading
        // nothing, writing on) or at least lets it have this thread's time.
        let wait = link.subscriber_wait();
        if !wait.is_zero() {
            room.set(Some(R::now() + wait));
            return more.then_some(n);
        }
        std::thread::yield_now();
        if !more {
            return None;
        }
    }
}

/// Polls, in this order, the write (so a flood of reads never starves the
/// actions), the read (or, while a subscriber is waited for, its room and
/// the end of the wait), the deadline and the wake-up.
fn poll_once<R: Runtime, S: AsyncRead + AsyncWrite + Unpin>(
    cx: &mut Context<'_>,
    link: &Link,
    stream: &mut S,
    out: &mut Outbox,
    buf: &mut ReadBuf,
    alarm: &mut Alarm<R>,
    room: &mut Alarm<R>,
) -> Poll<Happened> {
    if out.pending() {
        let unwritten = &out.bytes[out.written..];
        let wrote = match unwritten.is_empty() {
            true => Pin::new(&mut *stream).poll_flush(cx).map_ok(|()| 0),
            false => Pin::new(&mut *stream).poll_write(cx, unwritten),
        };
        if let Poll::Ready(wrote) = wrote {
            let zero = matches!(wrote, Ok(0)) && !unwritten.is_empty();
            return Poll::Ready(Happened::Wrote(match zero {
                true => Err(io::ErrorKind::WriteZero.into()),
                false => wrote,
            }));
        }
    }
    if room.armed.is_some() {
        if link.poll_room(cx).is_ready() {
            return Poll::Ready(Happened::WaitOver);
        }
        if room.poll(cx).is_ready() {
            link.stop_waiting(true);
            return Poll::Ready(Happened::WaitOver);
        }
    } else if let Poll::Ready(read) = Pin::new(&mut *stream).poll_read(cx, buf.space()) {
        return Poll::Ready(Happened::Read(read));
    }
    if alarm.poll(cx).is_ready() {
        return Poll::Ready(Happened::Deadline);
    }
    link.poll_wake(cx).map(|()| Happened::Woken)
}

/// Runs `dial` unless the client is closed meanwhile (`None`).
async fn until_closed<T>(link: &Link, mut dial: BoxFuture<T>) -> Option<T> {
    std::future::poll_fn(|cx| {
        if let Poll::Ready(result) = dial.as_mut().poll(cx) {
            return Poll::Ready(Some(result));
        }
        while link.poll_wake(cx).is_ready() {
            if link.state().transport == Transport::Stop {
                return Poll::Ready(None);
            }
        }
        Poll::Pending
    })
    .await
}

/// Lets the runtime run other tasks once.
async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

/// `future`'s output, or `None` when `timeout` passes first (on runtime `R`'s
/// timer): for dialling and handshakes.
///
/// ```
/// # use std::{pin::Pin, time::{Duration, Instant}};
/// # struct AsyncIo;
/// # impl ami_client::Runtime for AsyncIo {
/// #     type Timer = async_io::Timer;
/// #     fn timer(at: Instant) -> Self::Timer { async_io::Timer::at(at) }
/// #     fn reset(timer: Pin<&mut Self::Timer>, at: Instant) { timer.get_mut().set_at(at) }
/// # }
/// let never = std::future::pending::<()>();
/// let outcome = ami_client::pump::within::<AsyncIo, _>(Duration::from_millis(10), never);
/// assert_eq!(futures_lite::future::block_on(outcome), None);
/// ```
pub async fn within<R: Runtime, T>(
    timeout: Duration,
    future: impl Future<Output = T>,
) -> Option<T> {
    let mut future = std::pin::pin!(future);
    let mut timer = std::pin::pin!(R::timer(R::now() + timeout));
    std::future::poll_fn(|cx| match future.as_mut().poll(cx) {
        Poll::Ready(output) => Poll::Ready(Some(output)),
        Poll::Pending => timer.as_mut().poll(cx).map(|_| None),
    })
    .await
}

/// Dials the first of `addrs` that answers within `timeout`, with `connect`
/// (the runtime's TCP connect over all of them); the failure names the first
/// address and what went wrong.
pub async fn dial_within<R, T, F>(
    addrs: &[SocketAddr],
    timeout: Duration,
    connect: F,
) -> Result<T, Reason>
where
    R: Runtime,
    F: Future<Output = io::Result<T>>,
{
    let failed = |kind, message: String| Reason::Connect {
        kind,
        message: format!("{}: {message}", describe(&addrs[..addrs.len().min(1)])),
    };
    match within::<R, _>(timeout, connect).await {
        Some(Ok(stream)) => Ok(stream),
        Some(Err(error)) => Err(failed(error.kind(), error.to_string())),
        None => Err(failed(
            io::ErrorKind::TimedOut,
            format!("no answer within {timeout:?}"),
        )),
    }
}

/// A TLS handshake bounded by `timeout`, its failure in words.
#[cfg(feature = "rustls")]
pub async fn handshake_within<R: Runtime, T>(
    timeout: Duration,
    handshake: impl Future<Output = io::Result<T>>,
) -> Result<T, Reason> {
    match within::<R, _>(timeout, handshake).await {
        Some(Ok(stream)) => Ok(stream),
        Some(Err(error)) => Err(Reason::Tls(crate::tls::handshake_error(&error))),
        None => Err(Reason::Tls(format!(
            "handshake not done within {timeout:?}"
        ))),
    }
}

/// The addresses a client dials, for messages and its `tracing` span.
pub fn describe(addrs: &[SocketAddr]) -> String {
    let addrs: Vec<String> = addrs.iter().map(ToString::to_string).collect();
    addrs.join(", ")
}
