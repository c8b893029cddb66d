//! The client handle and the driver of a user-supplied stream.

use std::sync::Arc;

use ami_proto::{command_action, expect_command_output, expect_list, expect_originate};

use crate::driver::Shared;
use crate::{Action, Config, Error, Events, List, ListStream, OriginateOutcome, Reply, Socket};

/// A handle to one AMI session, cheap to clone and usable from many threads.
///
/// Every call has a deadline: the action's own ([`Action::timeout`]) or
/// `config.connection.action_timeout`; it then fails with [`Error::Timeout`]. When
/// the connection is lost, every waiting call fails at once with
/// [`Error::Closed`]. While a reconnecting client is between sessions, calls fail
/// at once with the last close reason: nothing is queued or re-sent.
///
/// Dropping the last handle closes the session.
#[derive(Clone)]
pub struct Client {
    handle: Arc<Handle>,
}

struct Handle(Arc<Shared>);

impl Drop for Handle {
    fn drop(&mut self) {
        self.0.finish(ami_proto::Error::ClosedByClient);
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl Client {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Client {
            handle: Arc::new(Handle(shared)),
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.handle.0
    }

    /// Wraps a stream the caller already has (already connected, e.g. a
    /// [`std::net::TcpStream`] with its write timeout set). The session logs in
    /// with `config` as soon as the banner arrives; actions sent before then wait.
    /// Nothing moves until [`Driver::run`] runs, typically on a thread of its own.
    /// Such a client never reconnects (`config.reconnect` is ignored).
    pub fn from_stream<S: Socket>(stream: S, config: Config) -> (Client, Driver<S>) {
        let shared = Shared::new(config, None);
        let client = Client::new(Arc::clone(&shared));
        (client, Driver { shared, stream })
    }

    /// Sends `action` and waits for its complete reply. A `Response: Error` from
    /// the server is `Ok(Reply::Response(..))`: data, not an error. Lists are
    /// collected; to receive the items of an [`Action::stream_list`] action, use
    /// [`list_stream`](Self::list_stream) (here they would be counted, not kept).
    pub fn send(&self, action: Action) -> Result<Reply, Error> {
        self.shared().wait(&self.shared().submit(action, None)?)
    }

    /// Sends a list action (`CoreShowChannels`, `QueueStatus` ...) and returns the
    /// whole list.
    pub fn list(&self, action: Action) -> Result<List, Error> {
        expect_list(self.send(action)?)
    }

    /// Sends a list action with [`Action::stream_list`] and returns its items one
    /// by one as they arrive, then the closing [`List`] from
    /// [`ListStream::finish`]: for lists too large to collect. Fails at once
    /// (like [`send`](Self::send)) when the client is closed or the action is
    /// refused ([`Error::Invalid`]); everything later is told by `finish`.
    ///
    /// The action's deadline ([`Action::timeout`], else
    /// `config.connection.action_timeout`) bounds the whole list.
    pub fn list_stream(&self, action: Action) -> Result<ListStream, Error> {
        let (queue, items) = std::sync::mpsc::channel();
        let reply = self.shared().submit(action.stream_list(), Some(queue))?;
        let client = self.clone();
        Ok(ListStream {
            client,
            items,
            reply,
        })
    }

    /// Runs a CLI command; its output lines (either server format).
    pub fn command(&self, command: &str) -> Result<Vec<String>, Error> {
        expect_command_output(self.send(command_action(command))?)
    }

    /// Sends an `Originate` and waits for the call's outcome (the
    /// `OriginateResponse` event), up to `config.connection.originate_timeout`
    /// after the server queued it. `Async: true` is added unless the action has an
    /// `Async` header: Asterisk sends `OriginateResponse` only for async originates.
    pub fn originate(&self, action: Action) -> Result<OriginateOutcome, Error> {
        expect_originate(self.send(ami_proto::originate_action(action))?)
    }

    /// Logs off; the session then ends for good (no reconnect): once the server
    /// said `Goodbye`, [`is_closed`](Self::is_closed) is true as soon as this
    /// returns.
    pub fn logoff(&self) -> Result<(), Error> {
        ami_proto::expect_goodbye(self.send(Action::new("Logoff"))?).map(drop)
    }

    /// A new subscription to every event from now on.
    pub fn events(&self) -> Events {
        Events::new(self.shared().status.hub.subscribe())
    }

    /// Closes the session for good: pending calls fail with
    /// `Error::Closed(ClosedByClient)`, event streams end.
    pub fn close(&self) {
        self.shared().finish(ami_proto::Error::ClosedByClient);
    }

    /// The AMI version from the banner of the current session (`"11.0.0"` for
    /// `Asterisk Call Manager/11.0.0`): the protocol's version, not Asterisk's.
    /// `Some` from the banner on, so always after [`connect`](crate::connect)
    /// returned; `None` before the banner of a [`from_stream`](Self::from_stream)
    /// client, while a reconnecting client is between sessions (each new session
    /// reads its own banner), and once the client is closed.
    ///
    /// ```no_run
    /// # fn example() -> Result<(), ami_blocking::Error> {
    /// use ami_blocking::{Config, Credentials};
    ///
    /// let config = Config::new(Credentials::md5("admin", "amp111"));
    /// let client = ami_blocking::connect("127.0.0.1:5038", config)?;
    /// if let Some(version) = client.ami_version() {
    ///     println!("AMI {version}");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn ami_version(&self) -> Option<String> {
        self.shared().settled().version()
    }

    /// Whether the client is closed for good (a reconnecting client between
    /// sessions is not).
    pub fn is_closed(&self) -> bool {
        self.shared().settled().is_closed()
    }
}

/// The pump of a client made with [`Client::from_stream`]; run it on a thread.
#[must_use = "nothing moves until the driver runs"]
pub struct Driver<S> {
    shared: Arc<Shared>,
    stream: S,
}

impl<S: Socket> Driver<S> {
    /// Reads on this thread (and writes from a helper thread) until the session
    /// ends. `Ok` after a logoff or `close`, otherwise why it ended.
    pub fn run(self) -> Result<(), Error> {
        let reason = self.shared.session(self.stream);
        self.shared.finish(reason.clone());
        match reason {
            ami_proto::Error::LoggedOff | ami_proto::Error::ClosedByClient => Ok(()),
            reason => Err(reason.into()),
        }
    }
}

impl<S> std::fmt::Debug for Driver<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver").finish_non_exhaustive()
    }
}
