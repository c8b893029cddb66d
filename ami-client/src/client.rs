//! The [`Client`] handle, written once for every runtime and transport.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ami_proto::request::{CollectList, Command, Logoff, Originate};
use ami_proto::{Action, Error, List, OriginateOutcome, Reason, Request, Status};

use crate::shared::Shared;
use crate::{Events, ListStream, Pending, Ready};

/// A handle to one AMI client: its session and the sessions that replace it
/// after a loss (with `Config::reconnect`).
///
/// `Clone + Send + Sync`: clone it into as many tasks or threads as you like.
/// The same type serves every runtime: each call returns a [`Pending`] that an
/// async caller `.await`s and a blocking caller [`wait`](Pending::wait)s for.
///
/// Every call completes: with its output, with [`Error::Timeout`] at the
/// action's deadline ([`Action::timeout`] or `Config::action_timeout`), with
/// [`Error::Down`] when the connection is lost and the client reconnects, or
/// with [`Error::Closed`] once the client is closed for good. While the
/// client is down (reconnecting, no transport open), calls fail at once with
/// `Down`: actions are never queued across a reconnect nor re-sent. Once a
/// new transport is open, actions wait for its login inside the core, within
/// their own deadline.
///
/// Dropping the last handle closes the client (a [`Pending`] or
/// [`ListStream`] holds one).
#[derive(Clone, Debug)]
pub struct Client {
    handle: Arc<Handle>,
}

/// Closes the client when the last [`Client`] is dropped.
#[derive(Debug)]
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.drive_waking(|session, now| session.close(now));
    }
}

impl Client {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Client {
            handle: Arc::new(Handle { shared }),
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.handle.shared
    }

    /// Sends a request and returns its completion: `.await` it, or
    /// [`wait`](Pending::wait) for it. A plain [`Action`] completes with its
    /// [`Reply`](ami_proto::Reply), where `Response: Error` is data, not an
    /// error; typed requests ([`ami_proto::request`], generated actions)
    /// complete with their output.
    ///
    /// ```no_run
    /// # async fn example(client: ami_client::Client) -> Result<(), ami_proto::Error> {
    /// use ami_proto::{Action, request::Command};
    ///
    /// let pong = client.send(Action::new("Ping")).await?;
    /// let lines = client.send(Command::new("core show uptime")).await?;
    /// // Blocking, or pipelined: submit many, wait later.
    /// let pending: Vec<_> = (0..100).map(|_| client.send(Action::new("Ping"))).collect();
    /// for reply in pending {
    ///     reply.wait()?;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn send<R: Request>(&self, request: R) -> Pending<R::Output> {
        match self.shared().submit(request.into_action(), false) {
            Ok((slot, _)) => Pending::new(self.clone(), slot, R::parse),
            Err(error) => Pending::failed(error),
        }
    }

    /// Sends a list action (`CoreShowChannels`, `QueueStatus` ...) and
    /// collects the whole list; `Error::Rejected` if the server answered `Error`.
    pub fn list(&self, action: Action) -> Pending<List> {
        self.send(CollectList::new(action))
    }

    /// Runs a CLI command and returns its output lines (either output format);
    /// a failed command is [`Error::CommandFailed`] with its output.
    pub fn command(&self, line: &str) -> Pending<Vec<String>> {
        self.send(Command::new(line))
    }

    /// Sends an async `Originate` and completes with the call's outcome (the
    /// `OriginateResponse` event), up to `Config::originate_timeout` after the
    /// server queued it.
    pub fn originate(&self, action: Action) -> Pending<OriginateOutcome> {
        self.send(Originate::new(action))
    }

    /// Logs off; the client then closes for good (no reconnect).
    pub fn logoff(&self) -> Pending<()> {
        self.send(Logoff)
    }

    /// Sends a list action and returns its items one by one as they arrive,
    /// then the closing [`List`] from [`ListStream::finish`]: for lists too
    /// large to collect. Fails at once when the action is refused or the
    /// client is down or closed; everything later is told by `finish`.
    ///
    /// The action's deadline runs from its latest item: a long list that keeps
    /// arriving completes; one that stalls fails with `Timeout`.
    pub fn list_stream(&self, action: Action) -> Result<ListStream, Error> {
        let (slot, items) = self.shared().submit(action.stream_list(), true)?;
        let items = items.expect("a streamed submission has an item queue");
        let finish = Pending::new(self.clone(), slot, CollectList::parse);
        Ok(ListStream::new(items, finish))
    }

    /// A new subscriber to the client's events. The first subscriber also
    /// receives what arrived since the client was created (from login on,
    /// up to `Config::event_capacity`, then a `Lagged`); later ones receive
    /// what arrives from now on. It ends when the client is closed for good.
    /// A subscriber more than `event_capacity` events behind loses the oldest,
    /// alone, and next receives [`Event::Lagged`](ami_proto::Event::Lagged).
    pub fn events(&self) -> Events {
        Events::new(self.shared().hub.subscribe(), Arc::clone(self.shared()))
    }

    /// Closes the client for good: pending calls fail with
    /// `Closed(ClosedByClient)`, event streams end, no reconnect follows.
    pub fn close(&self) {
        self.shared()
            .drive_waking(|session, now| session.close(now));
    }

    /// Where the client is: connecting, logging in, ready, reconnecting (with
    /// the attempt and since when), or closed (with why).
    pub fn status(&self) -> Status {
        self.shared().lock().engine.status().clone()
    }

    /// Completes when the client is ready (`Ok`), or closed for good (`Err`
    /// with the reason). `.await` it inside your runtime's timeout, or
    /// [`Ready::wait`] with a deadline.
    pub fn ready(&self) -> Ready {
        Ready::new(Arc::clone(self.shared()))
    }

    /// Blocks until the client is ready, at most `timeout`.
    pub fn wait_ready(&self, timeout: Duration) -> Result<(), Error> {
        self.ready().wait(Instant::now() + timeout)
    }

    /// The AMI version from the banner of the current connection (`"11.0.0"`
    /// for `Asterisk Call Manager/11.0.0`): the protocol's version, not
    /// Asterisk's. `None` while no connection is open, and once closed.
    pub fn ami_version(&self) -> Option<String> {
        self.shared().lock().engine.ami_version().map(str::to_owned)
    }

    /// Whether the client is closed for good (not during a reconnect gap).
    pub fn is_closed(&self) -> bool {
        matches!(self.status(), Status::Closed(_))
    }

    /// Why the client is closed, if it is.
    pub fn close_reason(&self) -> Option<Reason> {
        match self.status() {
            Status::Closed(reason) => Some(reason),
            _ => None,
        }
    }
}
