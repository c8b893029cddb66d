//! The pump: bytes and time between a `futures-io` stream and the sans-IO core.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use ami_proto::{entropy, ActionId, Connection, Output, Packet, State};
use async_channel::{Receiver, Sender};
use async_io::Timer;
use futures_core::Stream;
use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::{future, AsyncWriteExt};

use crate::client::Shared;
use crate::{Action, Config, Error, Event, Reconnect, Reply};

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
    pub(crate) shared: Arc<Shared>,
    /// Told when the first login succeeds or fails (`connect` waits on it).
    pub(crate) ready: Option<Sender<Result<(), Reason>>>,
    /// The current connection logged in.
    up: bool,
    /// Some connection logged in: later logins are reconnects.
    ever_up: bool,
}

impl Link {
    pub(crate) fn new(
        cmds: Receiver<Command>,
        shared: Arc<Shared>,
        ready: Option<Sender<Result<(), Reason>>>,
    ) -> Self {
        let cmds = Box::pin(cmds);
        Link {
            cmds,
            shared,
            ready,
            up: false,
            ever_up: false,
        }
    }

    fn on_ready(&mut self) {
        self.up = true;
        self.shared.set_down(None);
        if let Some(ready) = self.ready.take() {
            let _ = ready.try_send(Ok(()));
        } else if self.ever_up {
            self.shared.hub.publish(Event::Reconnected);
        }
        self.ever_up = true;
    }

    fn on_closed(&mut self, reason: &Reason) {
        self.shared.set_version(None);
        self.shared.set_down(Some(reason.clone()));
        if let Some(ready) = self.ready.take() {
            let _ = ready.try_send(Err(reason.clone()));
        }
    }
}

impl Drop for Link {
    /// The driver is gone (done, or dropped): refuse further commands and drop
    /// the ones still queued, so their callers hear `Closed` instead of waiting on
    /// a channel the live `Client`s keep open.
    fn drop(&mut self) {
        self.cmds.close();
        while self.cmds.try_recv().is_ok() {}
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
    let mut failed = 0u32;
    let reason = loop {
        link.up = false;
        let conn = Connection::new(config.connection.clone(), Instant::now());
        let reason = run_session(stream, conn, &mut link).await;
        failed = if link.up { 0 } else { failed + 1 };
        let final_reason = matches!(
            reason,
            Reason::LoggedOff | Reason::ClosedByClient | Reason::AuthFailed(_)
        );
        let (Some(dial), Some(policy), false, true) =
            (&dial, config.reconnect, final_reason, link.ever_up)
        else {
            break reason;
        };
        match redial(dial, policy, &mut failed, &link.cmds, &reason).await {
            Some(next) => stream = next,
            None if link.cmds.is_closed() => break Reason::ClosedByClient,
            None => break reason,
        }
    };
    link.shared.finish(reason.clone());
    match reason {
        Reason::LoggedOff | Reason::ClosedByClient => Ok(()),
        other => Err(other.into()),
    }
}

/// Waits the backoff and dials until a transport opens or the policy gives up;
/// meanwhile every action fails at once with the reason of the loss.
async fn redial<S: Io>(
    dial: &Dial<S>,
    policy: Reconnect,
    failed: &mut u32,
    cmds: &Receiver<Command>,
    reason: &Reason,
) -> Option<S> {
    let attempts = async {
        while policy.allows(*failed) {
            Timer::after(policy.delay(*failed, entropy())).await;
            match dial().await {
                Ok(stream) => return Some(stream),
                Err(_) => *failed += 1,
            }
        }
        None
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
        slots: HashMap::new(),
        items: HashMap::new(),
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

/// One connection: the core, its transport, and the reply slots of its actions.
struct Session<'a, S> {
    io: S,
    conn: Connection,
    link: &'a mut Link,
    slots: HashMap<ActionId, Slot>,
    /// Streamed lists' item queues, dropped with their action's completion.
    items: HashMap<ActionId, ItemSlot>,
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
                    Ok(id) => {
                        self.slots.insert(id, slot);
                        if let Some(items) = items {
                            self.items.insert(id, items);
                        }
                    }
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
            let event = match output {
                Output::Reply { id, result } => {
                    self.items.remove(&id); // ends the list's item stream
                    if let Some(slot) = self.slots.remove(&id) {
                        let _ = slot.try_send(result);
                    }
                    continue;
                }
                Output::ListItem { id, item } => {
                    if let Some(items) = self.items.get(&id) {
                        let _ = items.try_send(item); // unbounded: fails only once dropped
                    }
                    continue;
                }
                Output::Connected { version } => {
                    self.link.shared.set_version(version);
                    continue;
                }
                Output::Ready => {
                    self.link.on_ready();
                    continue;
                }
                Output::Event(packet) => Event::Event(packet),
                Output::Response(packet) => Event::Unmatched(packet),
                Output::Malformed(malformed) => Event::Malformed(malformed),
                Output::Closed(reason) => {
                    self.link.on_closed(&reason);
                    if self.link.ever_up && !self.link.up {
                        continue; // a failed reconnect: the gap is already marked
                    }
                    Event::Disconnected(reason)
                }
                _ => continue, // an output this driver does not know yet
            };
            self.link.shared.hub.publish(event);
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
