//! The pump: one task that reads, writes, keeps time and fans out for a
//! [`Connection`], and redials when reconnect is on. Nothing protocol-shaped.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use ami_proto::{Action, ActionId, Connection, Output, Packet};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::client::Shared;
use crate::{Config, Error, Event, Reply};

/// How many bytes to make room for before each read.
const READ_CHUNK: usize = 16 * 1024;

/// Where the driver sends an action's completion.
pub(crate) type ReplySlot = oneshot::Sender<Result<Reply, ami_proto::Error>>;

/// Where the driver sends the items of a streamed list (unbounded: the memory is
/// the caller's own list, see [`ListStream`](crate::ListStream)).
pub(crate) type ItemSlot = mpsc::UnboundedSender<Packet>;

/// A boxed, sendable future.
pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Opens a new transport (for reconnect).
pub(crate) type Dial<S> = Box<dyn FnMut() -> BoxFuture<Result<S, Error>> + Send>;

/// What a [`Client`](crate::Client) asks of its driver.
pub(crate) enum Command {
    Send {
        action: Action,
        reply: ReplySlot,
        /// Present for [`Client::list_stream`](crate::Client::list_stream).
        items: Option<ItemSlot>,
    },
    Close,
}

/// The future that runs a connection: it pumps bytes and time between the
/// transport and the core, completes actions and publishes events.
///
/// [`connect`](crate::connect) and [`connect_tls`](crate::connect_tls) spawn it
/// themselves; with [`Client::from_stream`](crate::Client::from_stream) the caller
/// runs it (`tokio::spawn(driver)`). It resolves when the client is closed for
/// good: `Ok(())` after [`Client::close`](crate::Client::close), a logoff or when
/// every `Client` handle is dropped; otherwise the error that ended the connection.
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

/// The core's clock: tokio's, so paused-clock tests drive the core's timeouts.
fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// The driver's state across sessions.
pub(crate) struct Pump<S> {
    pub(crate) config: Config,
    pub(crate) commands: mpsc::UnboundedReceiver<Command>,
    pub(crate) events: broadcast::Sender<Event>,
    pub(crate) shared: Arc<Shared>,
    /// Told the outcome of the first login (`connect` waits on it).
    pub(crate) ready: Option<oneshot::Sender<Result<(), ami_proto::Error>>>,
    /// Present when the client may reconnect.
    pub(crate) dial: Option<Dial<S>>,
    pub(crate) replies: HashMap<ActionId, ReplySlot>,
    /// Streamed lists' item senders, dropped with their action's completion.
    pub(crate) items: HashMap<ActionId, ItemSlot>,
    pub(crate) ever_ready: bool,
}

impl<S: AsyncRead + AsyncWrite + Send + 'static> Pump<S> {
    /// Runs sessions until the client is closed for good.
    pub(crate) async fn run(mut self, first: S) -> Result<(), Error> {
        let (mut reason, _) = self.session(first).await;
        let mut failed = 0;
        while let Some(policy) = self.config.reconnect.filter(|_| self.dial.is_some()) {
            if !self.ever_ready || !reconnectable(&reason) || !policy.allows(failed) {
                break;
            }
            self.shared.set_reason(reason.clone());
            match self
                .redial(policy.delay(failed, ami_proto::entropy()))
                .await
            {
                Err(stop) => {
                    reason = stop;
                    break;
                }
                Ok(None) => failed += 1,
                Ok(Some(stream)) => {
                    let (next, was_ready) = self.session(stream).await;
                    failed = if was_ready { 0 } else { failed + 1 };
                    if was_ready || !reconnectable(&next) {
                        reason = next;
                    }
                }
            }
        }
        self.shared.finish(reason.clone());
        // Dropping the pump drops the only event sender (subscribers see the end)
        // and the command queue (queued callers see `Closed`).
        drop(self);
        match reason {
            ami_proto::Error::LoggedOff | ami_proto::Error::ClosedByClient => Ok(()),
            other => Err(Error::from(other)),
        }
    }

    /// Waits `delay`, then dials, failing every action sent meanwhile. `Err` means
    /// stop for good; `Ok(None)` a failed attempt.
    async fn redial(&mut self, delay: Duration) -> Result<Option<S>, ami_proto::Error> {
        let dial = match self.dial.as_mut() {
            Some(dial) => dial(),
            None => return Ok(None),
        };
        let attempt = async move {
            tokio::time::sleep(delay).await;
            dial.await
        };
        tokio::pin!(attempt);
        loop {
            tokio::select! {
                stream = &mut attempt => return Ok(stream.ok()),
                command = self.commands.recv() => match command {
                    Some(Command::Send { reply, .. }) => {
                        let _ = reply.send(Err(self.shared.reason()));
                    }
                    Some(Command::Close) | None => return Err(ami_proto::Error::ClosedByClient),
                },
            }
        }
    }

    /// Drives one transport until the core closes; returns the reason and whether
    /// the session got logged in.
    async fn session(&mut self, stream: S) -> (ami_proto::Error, bool) {
        let mut conn = Connection::new(self.config.connection.clone(), now());
        let (mut rd, mut wr) = tokio::io::split(stream);
        let (mut out, mut written, mut dirty) = (Vec::new(), 0, false);
        let mut ready = false;
        loop {
            conn.poll_transmit(&mut out);
            while let Some(output) = conn.poll_output() {
                if let Some(reason) = self.dispatch(output, &mut ready) {
                    // The core failed every pending action before `Closed`.
                    self.replies.clear();
                    self.items.clear();
                    return (reason, ready);
                }
            }
            let deadline = conn.poll_timeout().map(tokio::time::Instant::from_std);
            let timer = async move {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                read = rd.read_buf(conn.read_buffer(READ_CHUNK)) => match read {
                    Ok(0) => conn.handle_eof(),
                    Ok(_) => conn.handle_read(now()),
                    Err(error) => conn.handle_io_error(error),
                },
                wrote = write_some(&mut wr, &out[written..]), if written < out.len() || dirty => {
                    match wrote {
                        Ok(0) => dirty = false,
                        Ok(n) => {
                            (written, dirty) = (written + n, true);
                            if written == out.len() {
                                out.clear();
                                written = 0;
                            }
                        }
                        Err(error) => conn.handle_io_error(error),
                    }
                }
                () = timer => conn.handle_timeout(now()),
                command = self.commands.recv() => {
                    let mut next = command;
                    loop {
                        match next {
                            Some(command) => self.command(&mut conn, command),
                            None => conn.close(), // every Client handle is gone
                        }
                        match self.commands.try_recv() {
                            Ok(command) => next = Some(command),
                            Err(_) => break,
                        }
                    }
                }
            }
        }
    }

    fn command(&mut self, conn: &mut Connection, command: Command) {
        match command {
            Command::Send {
                action,
                reply,
                items,
            } => match conn.send_action(action, now()) {
                Ok(id) => {
                    self.replies.insert(id, reply);
                    if let Some(items) = items {
                        self.items.insert(id, items);
                    }
                }
                Err(error) => {
                    let _ = reply.send(Err(error));
                }
            },
            Command::Close => conn.close(),
        }
    }

    /// Routes one core output; returns the close reason when the session ended.
    fn dispatch(&mut self, output: Output, ready: &mut bool) -> Option<ami_proto::Error> {
        let event = match output {
            Output::Reply { id, result } => {
                self.items.remove(&id); // ends the list's item stream
                if let Some(slot) = self.replies.remove(&id) {
                    let _ = slot.send(result);
                }
                return None;
            }
            Output::Ready => {
                *ready = true;
                if std::mem::replace(&mut self.ever_ready, true) {
                    Event::Reconnected
                } else {
                    if let Some(tx) = self.ready.take() {
                        let _ = tx.send(Ok(()));
                    }
                    return None;
                }
            }
            Output::ListItem { id, item } => {
                if let Some(items) = self.items.get(&id) {
                    let _ = items.send(item); // a dropped ListStream no longer wants it
                }
                return None;
            }
            Output::Event(packet) => Event::Event(packet),
            Output::Response(packet) => Event::Unmatched(packet),
            Output::Malformed(malformed) => Event::Malformed(malformed),
            Output::Connected { version } => {
                self.shared.set_version(version);
                return None;
            }
            Output::Closed(reason) => {
                self.shared.set_version(None);
                if let Some(tx) = self.ready.take() {
                    let _ = tx.send(Err(reason.clone()));
                }
                // A failed re-login attempt is not a new gap.
                if *ready || !self.ever_ready {
                    let _ = self.events.send(Event::Disconnected(reason.clone()));
                }
                return Some(reason);
            }
            _ => return None, // an output this driver does not know yet
        };
        // No subscriber is not an error; a slow one lags on its own.
        let _ = self.events.send(event);
        None
    }
}

/// Writes some of `pending`, or flushes when it is empty (TLS buffers). Returns
/// how many bytes were written; 0 means flushed.
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

/// Whether a lost connection may be re-established: not after a logoff, a local
/// close, a refused login or an action the core refused to encode.
fn reconnectable(reason: &ami_proto::Error) -> bool {
    !matches!(
        reason,
        ami_proto::Error::LoggedOff
            | ami_proto::Error::ClosedByClient
            | ami_proto::Error::AuthFailed(_)
            | ami_proto::Error::Encode(_)
    )
}
