//! The pump: bytes and time between a `futures-io` stream and a client's
//! [`Link`]. Nothing protocol- or lifecycle-shaped: the session decides, the
//! pump moves bytes and time.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use ami_client::Link;
use ami_proto::{Reason, Transport};
use async_io::Timer;
use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::io::{ReadHalf, WriteHalf};
use futures_lite::{future, AsyncReadExt, AsyncWriteExt};

use crate::Error;

/// How many bytes one read may take.
const READ_CHUNK: usize = 64 * 1024;

/// A boxed, sendable future.
pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Opens a new transport, or says why it could not.
pub(crate) type Dial<S> = Box<dyn FnMut() -> BoxFuture<Result<S, Reason>> + Send>;

/// Any byte stream the pump can own.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for S {}

/// The future that runs a client: it pumps bytes and time between the
/// transport and the session, and dials when the session asks. Spawn it on
/// any executor (`smol::spawn`, `async_std::task::spawn`); [`connect`](crate::connect)
/// does so itself. It resolves when the client is closed for good: `Ok(())`
/// after a close, a logoff or when every `Client` handle is dropped; otherwise
/// the error that ended it.
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

/// An open transport, split, with the bytes not yet written.
struct Open<S> {
    rd: ReadHalf<S>,
    wr: WriteHalf<S>,
    out: Vec<u8>,
    written: usize,
    /// Bytes were written since the last flush (TLS buffers).
    dirty: bool,
}

/// What ended one wait of the pump.
enum Happened {
    Read(std::io::Result<usize>),
    Wrote(std::io::Result<usize>),
    Deadline,
    Woken,
}

/// Runs the client until it is closed for good.
pub(crate) async fn run<S: Io>(
    link: Link,
    first: Option<S>,
    mut dial: Option<Dial<S>>,
) -> Result<(), Error> {
    // A first transport was opened by the caller (`from_stream` reported it).
    let mut open = first.map(split);
    let mut buf = vec![0u8; READ_CHUNK];
    let mut scratch = Vec::new();
    loop {
        let out = open.as_mut().map_or(&mut scratch, |o| &mut o.out);
        let step = link.step(out);
        scratch.clear();
        match step.transport {
            Transport::Stop => return link.outcome(),
            Transport::Open => match open.as_mut() {
                Some(o) => pump_once(&link, o, &mut buf, step.deadline).await,
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
                let happened = future::or(deadline(step.deadline), woken(&link)).await;
                if let Happened::Deadline = happened {
                    link.timeout();
                }
            }
        }
    }
}

fn split<S: Io>(stream: S) -> Open<S> {
    let (rd, wr) = futures_lite::io::split(stream);
    Open {
        rd,
        wr,
        out: Vec::new(),
        written: 0,
        dirty: false,
    }
}

/// Runs `dial` unless the client is closed meanwhile (`None`).
async fn until_closed<T>(link: &Link, mut dial: BoxFuture<T>) -> Option<T> {
    loop {
        let attempt = async { Some((&mut dial).await) };
        let wake = async {
            woken(link).await;
            None
        };
        match future::or(attempt, wake).await {
            Some(result) => return Some(result),
            None if link.step(&mut Vec::new()).transport == Transport::Stop => return None,
            None => {}
        }
    }
}

async fn deadline(at: Option<Instant>) -> Happened {
    match at {
        Some(at) => {
            Timer::at(at).await;
            Happened::Deadline
        }
        None => future::pending().await,
    }
}

async fn woken(link: &Link) -> Happened {
    std::future::poll_fn(|cx| link.poll_wake(cx)).await;
    Happened::Woken
}

/// Waits for the first of: bytes read, bytes written, the deadline, a wake-up.
async fn pump_once<S: Io>(link: &Link, o: &mut Open<S>, buf: &mut [u8], at: Option<Instant>) {
    let pending = o.written < o.out.len() || o.dirty;
    let (rd, wr) = (&mut o.rd, &mut o.wr);
    let unwritten = &o.out[o.written..];
    let read = async { Happened::Read(rd.read(buf).await) };
    let write = async {
        match pending {
            true => Happened::Wrote(write_some(wr, unwritten).await),
            false => future::pending().await,
        }
    };
    let happened = future::or(
        read,
        future::or(write, future::or(deadline(at), woken(link))),
    )
    .await;
    match happened {
        Happened::Read(Ok(0)) => link.eof(),
        Happened::Read(Ok(n)) => {
            link.received(&buf[..n]);
            // Once per read: a subscriber on this thread runs before the next read.
            future::yield_now().await;
        }
        Happened::Read(Err(error)) | Happened::Wrote(Err(error)) => link.io_failed(&error),
        Happened::Wrote(Ok(0)) => o.dirty = false,
        Happened::Wrote(Ok(n)) => {
            o.written += n;
            o.dirty = true;
            if o.written == o.out.len() {
                o.out.clear();
                o.written = 0;
            }
        }
        Happened::Deadline => link.timeout(),
        Happened::Woken => {}
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
