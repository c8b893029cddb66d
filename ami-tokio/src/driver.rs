//! The pump: one task that reads, writes, keeps time and fans out for a
//! [`Connection`], and redials when reconnect is on. Nothing protocol-shaped.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use ami_proto::{Action, Connection, Deliver, Dispatch, Packet};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

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
    /// Present when the client may reconnect.
    pub(crate) dial: Option<Dial<S>>,
    pub(crate) dispatch: Dispatch<ReplySlot, ItemSlot>,
    pub(crate) outlet: Outlet,
}

/// Where the core's outputs go (see [`Dispatch::route`]).
pub(crate) struct Outlet {
    pub(crate) shared: Arc<Shared>,
    /// Told the outcome of the first login (`connect` waits on it).
    pub(crate) ready: Option<oneshot::Sender<Result<(), ami_proto::Error>>>,
}

impl Deliver for Outlet {
    type Reply = ReplySlot;
    type Items = ItemSlot;

    fn reply(&mut self, slot: ReplySlot, result: Result<Reply, ami_proto::Error>) {
        let _ = slot.send(result);
    }

    fn item(&mut self, items: &ItemSlot, item: Packet) {
        let _ = items.send(item); // a dropped ListStream no longer wants it
    }

    fn publish(&mut self, event: Event) {
        self.shared.hub.publish(event);
    }

    fn version(&mut self, version: Option<String>) {
        self.shared.set_version(version);
    }

    fn session(&mut self, outcome: Result<(), &ami_proto::Error>) {
        if let Some(tx) = self.ready.take() {
            let _ = tx.send(outcome.map_err(Clone::clone));
        }
    }
}

impl<S> Drop for Pump<S> {
    /// Subscribers see the end even if the driver is dropped unfinished.
    fn drop(&mut self) {
        self.outlet.shared.hub.close();
    }
}

impl<S: AsyncRead + AsyncWrite + Send + 'static> Pump<S> {
    /// Runs sessions until the client is closed for good.
    pub(crate) async fn run(mut self, first: S) -> Result<(), Error> {
        let mut reason = self.session(first).await;
        let mut delay = self.dispatch.redial_after(&reason);
        while let Some(wait) = delay {
            self.outlet.shared.set_down(Some(reason.clone()));
            match self.redial(wait).await {
                Err(stop) => {
                    reason = stop;
                    break;
                }
                Ok(None) => delay = self.dispatch.dial_failed(),
                Ok(Some(stream)) => {
                    let next = self.session(stream).await;
                    delay = self.dispatch.redial_after(&next);
                    // A failed re-login keeps the reason of the loss.
                    if self.dispatch.was_up() || !ami_proto::reconnectable(&next) {
                        reason = next;
                    }
                }
            }
        }
        self.outlet.shared.finish(reason.clone());
        // Dropping the pump drops the command queue (queued callers see `Closed`).
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
                        let reason = self.outlet.shared.down();
                        let _ = reply.send(Err(reason.unwrap_or(ami_proto::Error::Eof)));
                    }
                    Some(Command::Close) | None => return Err(ami_proto::Error::ClosedByClient),
                },
            }
        }
    }

    /// Drives one transport until the core closes; returns the reason.
    async fn session(&mut self, stream: S) -> ami_proto::Error {
        let mut conn = Connection::new(self.config.connection.clone(), now());
        let (mut rd, mut wr) = tokio::io::split(stream);
        let (mut out, mut written, mut dirty, mut fresh) = (Vec::new(), 0, false, false);
        loop {
            conn.poll_transmit(&mut out);
            while let Some(output) = conn.poll_output() {
                if let Some(reason) = self.dispatch.route(output, &mut self.outlet) {
                    return reason;
                }
            }
            if std::mem::take(&mut fresh) {
                // Once per read: a subscriber on this thread gets to run before
                // the next read, instead of when tokio's budget runs out.
                tokio::task::yield_now().await;
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
                    Ok(_) => {
                        conn.handle_read(now());
                        fresh = true;
                    }
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
                Ok(id) => self.dispatch.insert(id, reply, items),
                Err(error) => {
                    let _ = reply.send(Err(error));
                }
            },
            Command::Close => conn.close(),
        }
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
