//! The pump: one task that dials, reads, writes and keeps one timer for a
//! client's [`Link`]. Nothing protocol- or lifecycle-shaped: the session
//! decides, the pump moves bytes and time.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use ami_client::Link;
use ami_proto::{Reason, Transport};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};

use crate::Error;

/// How many bytes one read may take.
const READ_CHUNK: usize = 16 * 1024;

/// A boxed, sendable future.
pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Opens a new transport, or says why it could not.
pub(crate) type Dial<S> = Box<dyn FnMut() -> BoxFuture<Result<S, Reason>> + Send>;

/// The future that runs a client: it pumps bytes and time between the
/// transport and the session, and dials when the session asks.
///
/// [`connect`](crate::connect) and [`connect_tls`](crate::connect_tls) spawn
/// it themselves; with [`from_stream`](crate::from_stream) the caller runs it
/// (`tokio::spawn(driver)`). It resolves when the client is closed for good:
/// `Ok(())` after a close, a logoff or when every `Client` handle is dropped;
/// otherwise the error that ended it.
#[must_use = "the driver does nothing unless spawned or awaited"]
pub struct Driver {
    inner: BoxFuture<Result<(), Error>>,
}

impl Driver {
    pub(crate) fn new(inner: BoxFuture<Result<(), Error>>) -> Self {
        Driver { inner }
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

/// The session's clock: tokio's, so paused-clock tests drive its timeouts.
pub(crate) fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// An open transport, split, with the bytes not yet written.
struct Open<S> {
    rd: ReadHalf<S>,
    wr: WriteHalf<S>,
    out: Vec<u8>,
    written: usize,
    /// Bytes were written since the last flush (TLS buffers).
    dirty: bool,
}

/// Runs the client until it is closed for good.
pub(crate) async fn run<S>(
    link: Link,
    first: Option<S>,
    mut dial: Option<Dial<S>>,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    // A first transport was opened by the caller (`from_stream` reported it).
    let mut open = first.map(split);
    let mut buf = vec![0u8; READ_CHUNK];
    let mut scratch = Vec::new();
    loop {
        let out = open.as_mut().map_or(&mut scratch, |o| &mut o.out);
        let step = link.step(out);
        scratch.clear();
        let deadline = step.deadline.map(tokio::time::Instant::from_std);
        match step.transport {
            Transport::Stop => return link.outcome(),
            Transport::Open => match open.as_mut() {
                Some(o) => pump_once(&link, o, &mut buf, deadline).await,
                None => link.io_error("no transport"),
            },
            Transport::Dial => {
                open = None;
                let Some(dial) = dial.as_mut() else {
                    link.dial_failed(Reason::Io("this client cannot redial".into()));
                    continue;
                };
                if let Some(result) = until_closed(&link, dial()).await {
                    match result {
                        Ok(stream) => {
                            open = Some(split(stream));
                            link.connected();
                        }
                        Err(reason) => link.dial_failed(reason),
                    }
                }
            }
            Transport::Wait => {
                open = None;
                tokio::select! {
                    () = sleep(deadline) => link.timeout(),
                    () = std::future::poll_fn(|cx| link.poll_wake(cx)) => {}
                }
            }
        }
    }
}

fn split<S: AsyncRead + AsyncWrite>(stream: S) -> Open<S> {
    let (rd, wr) = tokio::io::split(stream);
    Open {
        rd,
        wr,
        out: Vec::new(),
        written: 0,
        dirty: false,
    }
}

/// Runs `dial` unless the client is closed meanwhile (`None`).
async fn until_closed<T>(link: &Link, dial: BoxFuture<T>) -> Option<T> {
    tokio::pin!(dial);
    loop {
        tokio::select! {
            result = &mut dial => return Some(result),
            () = std::future::poll_fn(|cx| link.poll_wake(cx)) => {
                if link.step(&mut Vec::new()).transport == Transport::Stop {
                    return None;
                }
            }
        }
    }
}

pub(crate) async fn sleep(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Waits for the first of: bytes read, bytes written, the deadline, a wake-up.
async fn pump_once<S>(
    link: &Link,
    o: &mut Open<S>,
    buf: &mut [u8],
    deadline: Option<tokio::time::Instant>,
) where
    S: AsyncRead + AsyncWrite,
{
    let pending = o.written < o.out.len() || o.dirty;
    tokio::select! {
        read = o.rd.read(buf) => {
            match read {
                Ok(0) => link.eof(),
                Ok(n) => link.received(&buf[..n]),
                Err(error) => link.io_failed(&error),
            }
            // Once per read: a subscriber on this thread runs before the next
            // read, instead of when tokio's budget runs out.
            tokio::task::yield_now().await;
        }
        wrote = write_some(&mut o.wr, &o.out[o.written..]), if pending => match wrote {
            Ok(0) => o.dirty = false,
            Ok(n) => {
                o.written += n;
                o.dirty = true;
                if o.written == o.out.len() {
                    o.out.clear();
                    o.written = 0;
                }
            }
            Err(error) => link.io_failed(&error),
        },
        () = sleep(deadline) => link.timeout(),
        () = std::future::poll_fn(|cx| link.poll_wake(cx)) => {}
    }
}

/// Writes some of `pending`, or flushes when it is empty (TLS buffers).
/// Returns how many bytes were written; 0 means flushed.
async fn write_some<W: AsyncWrite + Unpin>(wr: &mut W, pending: &[u8]) -> std::io::Result<usize> {
    if pending.is_empty() {
        wr.flush().await?;
        return Ok(0);
    }
    match wr.write(pending).await? {
        0 => Err(std::io::ErrorKind::WriteZero.into()),
        n => Ok(n),
    }
}
