//! A streamed list: its items as they arrive, then its closing outcome.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio::sync::{mpsc, oneshot};

use crate::{Client, Error, List, Packet, Reply};

/// The items of a list sent with [`Client::list_stream`], in order, as they
/// arrive; then [`finish`](Self::finish) for the outcome.
///
/// A [`Stream`] of [`Packet`] and, without extra imports, [`ListStream::next`].
/// The stream ends when the list does: at its closing event, at the action's
/// deadline, or when the connection is lost. `finish` then says which: the
/// closing [`List`] (its `items` empty, `received` counting what was streamed;
/// check it with [`List::verify`]), `Error::Timeout`, `Error::Closed(reason)`,
/// or `Error::Rejected` when the server refused the action.
///
/// Items never go through the event fan-out and are never dropped: each list has
/// its own unbounded queue, so a caller that does not read its stream keeps its
/// unread items in memory (bounded by the list itself and its deadline). Calling
/// `finish` early, or dropping the stream, discards the rest. A `ListStream`
/// keeps the session alive like any pending call.
///
/// ```no_run
/// # async fn example(client: ami_tokio::Client) -> Result<(), ami_tokio::Error> {
/// use ami_tokio::Action;
///
/// let mut channels = client.list_stream(Action::new("CoreShowChannels")).await?;
/// while let Some(item) = channels.next().await {
///     println!("{:?}", item.get("Channel"));
/// }
/// let list = channels.finish().await?;
/// println!("{} channels", list.received);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
#[must_use = "the items are queued until read"]
pub struct ListStream {
    client: Client,
    items: mpsc::UnboundedReceiver<Packet>,
    reply: oneshot::Receiver<Result<Reply, ami_proto::Error>>,
}

impl ListStream {
    pub(crate) fn new(
        client: Client,
        items: mpsc::UnboundedReceiver<Packet>,
        reply: oneshot::Receiver<Result<Reply, ami_proto::Error>>,
    ) -> Self {
        ListStream {
            client,
            items,
            reply,
        }
    }

    /// The next item, or `None` once the list has ended (see [`finish`](Self::finish)).
    pub async fn next(&mut self) -> Option<Packet> {
        self.items.recv().await
    }

    /// Waits for the list's end and returns its outcome; unread items are dropped.
    pub async fn finish(self) -> Result<List, Error> {
        drop(self.items);
        match self.reply.await {
            Ok(result) => ami_proto::expect_list(result?),
            Err(_) => Err(self.client.closed_error()),
        }
    }
}

impl Stream for ListStream {
    type Item = Packet;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Packet>> {
        self.items.poll_recv(cx)
    }
}
