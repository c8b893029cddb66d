//! The `Client` handle and the `Driver` future of a user-supplied stream.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_channel::{Receiver, Sender};
use futures_io::{AsyncRead, AsyncWrite};

use ami_proto::{Dispatch, TaskWaker};

use crate::driver::{self, Command, Dial, Io, ItemSlot, Link, Outlet, Reason};
use crate::events::Events;
use crate::{Action, Config, Error, List, ListStream, OriginateOutcome, Reply};

/// What the handles and the driver share: the event fan-out, why the client is
/// down (calls fail fast with it), the current session's version.
pub(crate) type Shared = ami_proto::ClientShared<TaskWaker>;

/// Where an action's completion arrives.
type ReplyRx = Receiver<Result<Reply, Reason>>;

/// A handle to one AMI session (and its reconnects), usable from many tasks at once.
///
/// Cheap to clone; every clone talks to the same driver. When the last clone is
/// dropped (or [`close`](Client::close) is called) the connection closes.
#[derive(Clone)]
pub struct Client {
    commands: Sender<Command>,
    shared: Arc<Shared>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Wraps a stream the caller already has (plain TCP, TLS, a Unix socket ...):
    /// returns the handle and the [`Driver`] future that moves its bytes, which the
    /// caller spawns on any executor (`smol::spawn(driver).detach()`,
    /// `async_std::task::spawn(driver)`). Nothing happens until the driver runs.
    ///
    /// The session logs in as soon as the banner arrives; actions sent before that
    /// are written after login. There is no reconnect for a user stream:
    /// `config.reconnect` is ignored, and the client closes with the stream.
    pub fn from_stream<S>(stream: S, config: Config) -> (Client, Driver)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (client, driver) = start(stream, config, None, None);
        (client, Driver(Box::pin(driver)))
    }

    /// Sends an action and waits for its reply. A `Response: Error` is data:
    /// `Ok(Reply::Response(..))`. Lists are collected; to receive the items of an
    /// [`Action::stream_list`] action, use [`list_stream`](Self::list_stream)
    /// (here they would be counted, not kept). The deadline is the action's
    /// [`timeout`](Action::timeout), else `config.connection.action_timeout`.
    /// While the connection is down (from a loss until the next login) or closed,
    /// fails at once with the reason: nothing is queued or re-sent later.
    pub async fn send(&self, action: Action) -> Result<Reply, Error> {
        match self.submit(action, None).await?.recv().await {
            Ok(result) => result.map_err(Error::from),
            Err(_) => Err(self.gone()), // the driver is gone
        }
    }

    /// Sends a list action (`CoreShowChannels`, `QueueStatus` ...) and returns the
    /// whole list.
    pub async fn list(&self, action: Action) -> Result<List, Error> {
        ami_proto::expect_list(self.send(action).await?)
    }

    /// Sends a list action with [`Action::stream_list`] and returns its items one
    /// by one as they arrive, then the closing [`List`] from
    /// [`ListStream::finish`]: for lists too large to collect. Fails at once
    /// (like [`send`](Self::send)) when the client is down or closed, or the
    /// action is refused ([`Error::Invalid`]); everything later is told by
    /// `finish`.
    ///
    /// The action's deadline ([`Action::timeout`], else
    /// `config.connection.action_timeout`) bounds the whole list.
    pub async fn list_stream(&self, action: Action) -> Result<ListStream, Error> {
        action.check()?;
        let (items, queue) = async_channel::unbounded();
        let reply = self.submit(action.stream_list(), Some(items)).await?;
        Ok(ListStream::new(self.clone(), queue, reply))
    }

    /// Hands an action to the driver: its reply's receiver. While the client is
    /// down or closed, fails at once: nothing is queued.
    async fn submit(&self, action: Action, items: Option<ItemSlot>) -> Result<ReplyRx, Error> {
        if let Some(reason) = self.shared.down() {
            return Err(reason.into());
        }
        let (slot, reply) = async_channel::bounded(1);
        match self.commands.send((action, slot, items)).await {
            Ok(()) => Ok(reply),
            Err(_) => Err(self.gone()),
        }
    }

    /// Runs a CLI command and returns its output lines (old and new formats).
    pub async fn command(&self, command: &str) -> Result<Vec<String>, Error> {
        ami_proto::expect_command_output(self.send(ami_proto::command_action(command)).await?)
    }

    /// Sends an `Originate` and waits for the call's outcome (its
    /// `OriginateResponse`), within `config.connection.originate_timeout`.
    /// `Async: true` is added unless the action has an `Async` header: Asterisk
    /// sends `OriginateResponse` only for async originates.
    pub async fn originate(&self, action: Action) -> Result<OriginateOutcome, Error> {
        ami_proto::expect_originate(self.send(ami_proto::originate_action(action)).await?)
    }

    /// Ends the session with `Logoff`; the client is closed for good afterwards:
    /// once the server said `Goodbye`, [`is_closed`](Self::is_closed) is true as
    /// soon as this returns.
    pub async fn logoff(&self) -> Result<(), Error> {
        if ami_proto::expect_goodbye(self.send(Action::new("Logoff")).await?)? {
            // The core closes right after it; say so without waiting for the
            // driver to wind down.
            self.shared.finish(Reason::LoggedOff);
        }
        Ok(())
    }

    /// A new subscriber to every [`Event`](crate::Event) from now on.
    pub fn events(&self) -> Events {
        Events::new(self.shared.hub.subscribe())
    }

    /// Closes the connection at once, without `Logoff`: pending actions fail with
    /// `Error::Closed(ClosedByClient)`, no reconnect follows.
    pub fn close(&self) {
        self.shared.finish(Reason::ClosedByClient);
        self.commands.close();
    }

    /// The AMI version from the banner of the current connection (`"11.0.0"` for
    /// `Asterisk Call Manager/11.0.0`): the protocol's version, not Asterisk's.
    /// `Some` from the banner on, so always after [`connect`](crate::connect)
    /// returned; `None` before the banner of a [`from_stream`](Self::from_stream)
    /// client, while a reconnecting client is between connections (each new
    /// connection reads its own banner), and once the client is closed.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), ami_smol::Error> {
    /// use ami_smol::{Config, Credentials};
    ///
    /// let config = Config::new(Credentials::md5("admin", "amp111"));
    /// let client = ami_smol::connect("127.0.0.1:5038", config).await?;
    /// if let Some(version) = client.ami_version() {
    ///     println!("AMI {version}");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn ami_version(&self) -> Option<String> {
        self.shared.version()
    }

    /// Whether the client is closed for good (while a reconnect is pending, it is
    /// not; actions then fail fast with the reason of the loss).
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    pub(crate) fn gone(&self) -> Error {
        self.shared
            .down()
            .unwrap_or_else(|| Reason::Io("the driver stopped".into()))
            .into()
    }
}

/// Creates the handle and the driver future; `ready` hears of the first login.
pub(crate) fn start<S: Io>(
    stream: S,
    config: Config,
    dial: Option<Dial<S>>,
    ready: Option<Sender<Result<(), Reason>>>,
) -> (
    Client,
    impl Future<Output = Result<(), Error>> + Send + 'static,
) {
    let (commands, receiver) = async_channel::bounded(1024);
    let shared = Arc::new(Shared::new(config.event_capacity));
    let link = Link {
        cmds: Box::pin(receiver),
        dispatch: Dispatch::new(config.reconnect.filter(|_| dial.is_some())),
        outlet: Outlet {
            shared: shared.clone(),
            ready,
        },
    };
    let driver = driver::drive(stream, config, dial, link);
    (Client { commands, shared }, driver)
}

/// The future that drives a [`Client::from_stream`] connection; spawn it on any
/// executor. It resolves when the client is closed for good: `Ok(())` after a
/// logoff, [`Client::close`] or when every `Client` is dropped; otherwise the error
/// that ended the connection. Dropping it fails every waiting call at once.
#[must_use = "the connection does nothing unless its driver runs"]
pub struct Driver(Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>);

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Driver")
    }
}

impl Future for Driver {
    type Output = Result<(), Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}
