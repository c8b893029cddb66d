//! A streamed list: its items as they arrive, then its closing outcome.

use std::pin::Pin;
use std::task::{Context, Poll};

use async_channel::Receiver;
use futures_core::Stream;

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
/// # async fn example(client: ami_smol::Client) -> Result<(), ami_smol::Error> {
/// use ami_smol::Action;
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
    /// Boxed, like `reply`: receivers are `!Unpin`, and boxing them keeps the
    /// stream `Unpin` (easy to poll through `&mut`).
    items: Pin<Box<Receiver<Packet>>>,
    reply: Pin<Box<Receiver<Result<Reply, ami_proto::Error>>>>,
}

impl ListStream {
    pub(crate) fn new(
        client: Client,
        items: Receiver<Packet>,
        reply: Receiver<Result<Reply, ami_proto::Error>>,
    ) -> Self {
        ListStream {
            client,
            items: Box::pin(items),
            reply: Box::pin(reply),
        }
    }

    /// The next item, or `None` once the list has ended (see [`finish`](Self::finish)).
    pub async fn next(&mut self) -> Option<Packet> {
        self.items.recv().await.ok()
    }

    /// Waits for the list's end and returns its outcome; unread items are dropped.
    pub async fn finish(self) -> Result<List, Error> {
        drop(self.items);
        match self.reply.recv().await {
            Ok(result) => ami_proto::expect_list(result?),
            Err(_) => Err(self.client.gone()), // the driver is gone
        }
    }
}

impl Stream for ListStream {
    type Item = Packet;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Packet>> {
        self.items.as_mut().poll_next(cx)
    }
}
