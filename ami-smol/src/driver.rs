//! The pump: bytes and time between a `futures-io` stream and the sans-IO core.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use ami_proto::{Connection, Deliver, Dispatch, Packet, State};
use async_channel::{Receiver, Sender};
use async_io::Timer;
use futures_core::Stream;
use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::{future, AsyncWriteExt};

use crate::client::Shared;
use crate::{Action, Config, Error, Event, Reply};

/// The core's own error: why an action failed or a connection closed.
pub(crate) type Reason = ami_proto::Error;
/// Where an action's completion goes.
pub(crate) type Slot = Sender<Result<Reply, Reason>>;
/// Where a streamed list's items go (unbounded: the memory is the caller's own
/// list, see [`ListStream`](crate::ListStream)).
pub(crate) type ItemSlot = Sender<Packet>;
/// Opens a new transport for a reconnect.
pub(crate) type Dial<S> =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<S, Error>> + Send>> + Send + Sync>;

/// Any byte stream the driver can own.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for S {}

/// What a `Client` asks of the driver: send this action, complete that slot (and,
/// for `list_stream`, deliver the items there).
pub(crate) type Command = (Action, Slot, Option<ItemSlot>);

/// Rounds of work per poll before yielding to other tasks.
const BUDGET: usize = 64;
const READ_CHUNK: usize = 64 * 1024;

/// The driver's state that outlives one connection.
pub(crate) struct Link {
    pub(crate) cmds: Pin<Box<Receiver<Command>>>,
    pub(crate) dispatch: Dispatch<Slot, ItemSlot>,
    pub(crate) outlet: Outlet,
}

/// Where the core's outputs go (see [`Dispatch::route`]).
pub(crate) struct Outlet {
    pub(crate) shared: Arc<Shared>,
    /// Told when the first login succeeds or fails (`connect` waits on it).
    pub(crate) ready: Option<Sender<Result<(), Reason>>>,
}

impl Deliver for Outlet {
    type Reply = Slot;
    type Items = ItemSlot;

    fn reply(&mut self, slot: Slot, result: Result<Reply, Reason>) {
        let _ = slot.try_send(result);
    }

    fn item(&mut self, items: &ItemSlot, item: Packet) {
        let _ = items.try_send(item); // unbounded: fails only once dropped
    }

    fn publish(&mut self, event: Event) {
        self.shared.hub.publish(event);
    }

    fn version(&mut self, version: Option<String>) {
        self.shared.set_version(version);
    }

    fn session(&mut self, outcome: Result<(), &Reason>) {
        self.shared.set_down(outcome.err().cloned());
        if let Some(ready) = self.ready.take() {
            let _ = ready.try_send(outcome.map_err(Clone::clone));
        }
    }
}

impl Drop for Link {
    /// The driver is gone (done, or dropped): refuse further commands and drop
    /// the ones still queued, so their callers hear `Closed` instead of waiting on
    /// a channel the live `Client`s keep open; event streams end.
    fn drop(&mut self) {
        self.cmds.close();
        while self.cmds.try_recv().is_ok() {}
        self.outlet.shared.hub.close();
    }
}

/// Runs connections until one closes for good: the first over `stream`, then, with
/// `dial` and `config.reconnect`, new ones after a loss. `Ok` after a logoff or a
/// close, else why the last connection ended.
pub(crate) async fn drive<S: Io>(
    mut stream: S,
    config: Config,
    dial: Option<Dial<S>>,
    mut link: Link,
) -> Result<(), Error> {
    let reason = loop {
        let conn = Connection::new(config.connection.clone(), Instant::now());
        let reason = run_session(stream, conn, &mut link).await;
        let (Some(dial), Some(delay)) = (&dial, link.dispatch.redial_after(&reason)) else {
            break reason;
        };
        match redial(dial, delay, &mut link, &reason).await {
            Some(next) => stream = next,
            None if link.cmds.is_closed() => break Reason::ClosedByClient,
            None => break reason,
        }
    };
    link.outlet.shared.finish(reason.clone());
    match reason {
        Reason::LoggedOff | Reason::ClosedByClient => Ok(()),
        other => Err(other.into()),
    }
}

/// Waits the backoff and dials until a transport opens or the policy gives up;
/// meanwhile every action fails at once with the reason of the loss.
async fn redial<S: Io>(
    dial: &Dial<S>,
    mut delay: Duration,
    link: &mut Link,
    reason: &Reason,
) -> Option<S> {
    let Link { cmds, dispatch, .. } = link;
    let attempts = async {
        loop {
            Timer::after(delay).await;
            match dial().await {
                Ok(stream) => return Some(stream),
                Err(_) => delay = dispatch.dial_failed()?,
            }
        }
    };
    let refuse = async {
        while let Ok((_, slot, _)) = cmds.recv().await {
            let _ = slot.try_send(Err(reason.clone()));
        }
        None // closed, or every Client dropped
    };
    future::or(attempts, refuse).await
}

async fn run_session<S: Io>(io: S, conn: Connection, link: &mut Link) -> Reason {
    let mut session = Session {
        io,
        conn,
        link,
        rbuf: vec![0; READ_CHUNK],
        wbuf: Vec::new(),
        written: 0,
        flush: false,
        timer: Timer::never(),
        armed: None,
        eof: false,
    };
    let reason = future::poll_fn(|cx| session.poll(cx)).await;
    // Best effort (TCP FIN, TLS close_notify); never wait on a stalled peer.
    let _ = future::poll_once(session.io.close()).await;
    reason
}

/// One connection: the core and its transport.
struct Session<'a, S> {
    io: S,
    conn: Connection,
    link: &'a mut Link,
    rbuf: Vec<u8>,
    /// Bytes to write; `written` of them already are (partial writes).
    wbuf: Vec<u8>,
    written: usize,
    flush: bool,
    timer: Timer,
    armed: Option<Instant>,
    eof: bool,
}

impl<S: Io> Session<'_, S> {
    /// Pumps until the connection closes; returns its reason.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Reason> {
        for _ in 0..BUDGET {
            self.drain();
            if let State::Closed(reason) = self.conn.state() {
                return Poll::Ready(reason.clone());
            }
            if !self.step(cx) {
                return Poll::Pending; // every source registered the waker
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Polls each source once (commands, write, read, timer); whether any moved.
    fn step(&mut self, cx: &mut Context<'_>) -> bool {
        if self.link.cmds.is_closed() {
            self.conn.close(); // Client::close, or every Client dropped
            return true;
        }
        let mut progress = match self.link.cmds.as_mut().poll_next(cx) {
            Poll::Ready(Some((action, slot, items))) => {
                match self.conn.send_action(action, Instant::now()) {
                    Ok(id) => self.link.dispatch.insert(id, slot, items),
                    Err(reason) => drop(slot.try_send(Err(reason))),
                }
                true
            }
            Poll::Ready(None) => {
                self.conn.close();
                return true;
            }
            Poll::Pending => false,
        };
        progress |= self.poll_write(cx);
        if !self.eof {
            match Pin::new(&mut self.io).poll_read(cx, &mut self.rbuf) {
                Poll::Ready(Ok(0)) => {
                    self.eof = true;
                    self.conn.handle_eof();
                }
                Poll::Ready(Ok(n)) => self.conn.feed(&self.rbuf[..n], Instant::now()),
                Poll::Ready(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => self.conn.handle_io_error(e),
                Poll::Pending => return progress | self.poll_timer(cx),
            }
            progress = true;
        }
        progress | self.poll_timer(cx)
    }

    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        if self.armed.is_none() || Pin::new(&mut self.timer).poll(cx).is_pending() {
            return false;
        }
        self.armed = None;
        self.conn.handle_timeout(Instant::now());
        true
    }

    /// Writes pending bytes until the socket pushes back, then flushes.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        while self.written < self.wbuf.len() {
            match Pin::new(&mut self.io).poll_write(cx, &self.wbuf[self.written..]) {
                Poll::Ready(Ok(0)) => self.conn.handle_io_error("the socket accepted no bytes"),
                Poll::Ready(Ok(n)) => {
                    self.written += n;
                    self.flush = true;
                    progress = true;
                    continue;
                }
                Poll::Ready(Err(e)) => self.conn.handle_io_error(e),
                Poll::Pending => return progress,
            }
            return true;
        }
        self.wbuf.clear();
        self.written = 0;
        if self.flush {
            match Pin::new(&mut self.io).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.flush = false,
                Poll::Ready(Err(e)) => self.conn.handle_io_error(e),
                Poll::Pending => return progress,
            }
            progress = true;
        }
        progress
    }

    /// Drains the core in the contract's order: transmit, outputs, timer.
    fn drain(&mut self) {
        self.conn.poll_transmit(&mut self.wbuf);
        while let Some(output) = self.conn.poll_output() {
            let Link {
                dispatch, outlet, ..
            } = &mut *self.link;
            dispatch.route(output, outlet);
        }
        let next = self.conn.poll_timeout();
        if next != self.armed {
            if let Some(at) = next {
                self.timer.set_at(at);
            }
            self.armed = next;
        }
    }
}
