//! The [`Client`] handle: cheap to clone, usable from many tasks at once.

use std::sync::Arc;

use ami_proto::{Dispatch, TaskWaker};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};

use crate::driver::{Command, Dial, Driver, ItemSlot, Outlet, Pump, ReplySlot};
use crate::{Action, Config, Error, Events, List, ListStream, OriginateOutcome, Reply};

/// What the handles and the driver share: the event fan-out, why the client is
/// down, the current session's version.
pub(crate) type Shared = ami_proto::ClientShared<TaskWaker>;

/// A handle to one AMI session (and its successors, with reconnect).
///
/// `Clone + Send + Sync`: clone it into as many tasks as you like; all clones talk
/// to the same driver. Every call completes: with the reply, with
/// [`Error::Timeout`] at the action's deadline ([`Action::timeout`] or
/// `config.connection.action_timeout`), or with [`Error::Closed`] as soon as the
/// connection is lost. While a reconnecting client is disconnected, calls fail at
/// once with `Closed(reason)`: actions are never queued across a reconnect nor
/// re-sent (once the new connection is up, actions sent during its re-login wait
/// for it inside the core, within their own deadline).
#[derive(Clone, Debug)]
pub struct Client {
    commands: mpsc::UnboundedSender<Command>,
    shared: Arc<Shared>,
}

/// A client and the pump that serves it, not yet running.
pub(crate) fn build<S>(
    config: Config,
    dial: Option<Dial<S>>,
    ready: Option<oneshot::Sender<Result<(), ami_proto::Error>>>,
) -> (Client, Pump<S>) {
    let (commands, commands_rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared::new(config.event_capacity));
    let client = Client {
        commands,
        shared: shared.clone(),
    };
    let pump = Pump {
        dispatch: Dispatch::new(config.reconnect.filter(|_| dial.is_some())),
        config,
        commands: commands_rx,
        outlet: Outlet { shared, ready },
        dial,
    };
    (client, pump)
}

impl Client {
    /// Wraps a stream the caller already has (a `TcpStream`, a TLS stream, a
    /// `tokio::io::duplex` half ...). The caller must run the returned [`Driver`],
    /// e.g. `tokio::spawn(driver)`; nothing moves until it does.
    ///
    /// Actions sent before the login completes wait inside the core and are
    /// written once logged in. The driver stops when every `Client` handle is
    /// dropped. `config.reconnect` is ignored: the adapter cannot
    /// re-open a stream it did not open.
    pub fn from_stream<S>(stream: S, config: Config) -> (Client, Driver)
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (client, pump) = build::<S>(config, None, None);
        (client, Driver::new(Box::pin(pump.run(stream))))
    }

    /// Sends an action and waits for its complete reply. A `Response: Error` is
    /// `Ok(Reply::Response(..))`: data, not an error. Lists are collected; to
    /// receive the items of an [`Action::stream_list`] action, use
    /// [`list_stream`](Self::list_stream) (here they would be counted, not kept).
    pub async fn send(&self, action: Action) -> Result<Reply, Error> {
        let (reply, rx) = oneshot::channel();
        if !self.submit(action, reply, None) {
            return Err(self.closed_error());
        }
        match rx.await {
            Ok(result) => result.map_err(Error::from),
            Err(_) => Err(self.closed_error()),
        }
    }

    /// Sends a list action (`CoreShowChannels`, `QueueStatus` ...) and returns the
    /// whole list; `Error::Rejected` if the server answered `Error`.
    pub async fn list(&self, action: Action) -> Result<List, Error> {
        ami_proto::expect_list(self.send(action).await?)
    }

    /// Sends a list action with [`Action::stream_list`] and returns its items one
    /// by one as they arrive, then the closing [`List`] from
    /// [`ListStream::finish`]: for lists too large to collect. Fails at once
    /// (like [`send`](Self::send)) when the client is closed or the action is
    /// refused ([`Error::Invalid`]); everything later is told by `finish`.
    ///
    /// The action's deadline ([`Action::timeout`], else
    /// `config.connection.action_timeout`) bounds the whole list.
    pub async fn list_stream(&self, action: Action) -> Result<ListStream, Error> {
        action.check()?;
        let (reply, rx) = oneshot::channel();
        let (items, items_rx) = mpsc::unbounded_channel();
        let action = action.stream_list();
        if !self.submit(action, reply, Some(items)) {
            return Err(self.closed_error());
        }
        Ok(ListStream::new(self.clone(), items_rx, rx))
    }

    /// Runs a CLI command and returns its output lines (either output format).
    pub async fn command(&self, command: &str) -> Result<Vec<String>, Error> {
        ami_proto::expect_command_output(self.send(ami_proto::command_action(command)).await?)
    }

    /// Sends an `Originate` and waits for the call's outcome (the
    /// `OriginateResponse` event), up to `config.connection.originate_timeout`
    /// after the server queued it. `Async: true` is added unless the action has an
    /// `Async` header: Asterisk sends `OriginateResponse` only for async originates.
    pub async fn originate(&self, action: Action) -> Result<OriginateOutcome, Error> {
        ami_proto::expect_originate(self.send(ami_proto::originate_action(action)).await?)
    }

    /// Logs off; the connection then closes for good (no reconnect): once the
    /// server said `Goodbye`, [`is_closed`](Self::is_closed) is true as soon as
    /// this returns.
    pub async fn logoff(&self) -> Result<(), Error> {
        if ami_proto::expect_goodbye(self.send(Action::new("Logoff")).await?)? {
            // The core closes right after it; say so without waiting for the
            // driver to wind down.
            self.shared.finish(ami_proto::Error::LoggedOff);
        }
        Ok(())
    }

    /// A new subscriber that receives every [`Event`](crate::Event) from now on. It ends
    /// (`None`) when the client is closed for good. If it falls more than
    /// `config.event_capacity` events behind, the oldest are dropped for it alone
    /// and it next receives [`Event::Lagged`](crate::Event::Lagged); replies never go through here.
    pub fn events(&self) -> Events {
        Events::new(self.shared.hub.subscribe())
    }

    /// Closes the connection: pending actions fail with `Closed(ClosedByClient)`,
    /// event streams end. No reconnect follows.
    pub fn close(&self) {
        if !self.is_closed() {
            self.shared.finish(ami_proto::Error::ClosedByClient); // fail fast from now on
        }
        let _ = self.commands.send(Command::Close);
    }

    /// The AMI version from the banner of the current connection (`"11.0.0"`
    /// for `Asterisk Call Manager/11.0.0`): the protocol's version, not
    /// Asterisk's. `Some` from the banner on, so always after [`connect`](crate::connect)
    /// returned; `None` before the banner of a [`from_stream`](Self::from_stream)
    /// client, while a reconnecting client is between connections (each new
    /// connection reads its own banner), and once the client is closed.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), ami_tokio::Error> {
    /// use ami_tokio::{Config, Credentials};
    ///
    /// let config = Config::new(Credentials::md5("admin", "amp111"));
    /// let client = ami_tokio::connect("127.0.0.1:5038", config).await?;
    /// if let Some(version) = client.ami_version() {
    ///     println!("AMI {version}");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn ami_version(&self) -> Option<String> {
        self.shared.version().filter(|_| !self.is_closed())
    }

    /// Whether the client is closed for good (not during a reconnect gap).
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed() || self.commands.is_closed()
    }

    /// Hands an action to the driver; false when the client is closed.
    fn submit(&self, action: Action, reply: ReplySlot, items: Option<ItemSlot>) -> bool {
        let command = Command::Send {
            action,
            reply,
            items,
        };
        !self.is_closed() && self.commands.send(command).is_ok()
    }

    pub(crate) fn closed_error(&self) -> Error {
        Error::Closed(self.shared.down().unwrap_or(ami_proto::Error::Eof))
    }
}
