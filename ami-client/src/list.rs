//! A streamed list: its items as they arrive, then its closing outcome.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use ami_proto::{List, Packet};
use futures_core::Stream;

use crate::shared::Items;
use crate::Pending;

/// The items of a list sent with [`Client::list_stream`](crate::Client::list_stream),
/// in order, as they arrive; then [`finish`](Self::finish) for the outcome.
///
/// A [`Stream`] of [`Packet`], an async [`next`](Self::next), a blocking
/// [`recv`](Self::recv) and [`Iterator`]. The items end when the list does: at
/// its closing event, at the action's deadline, or when the connection is
/// lost. `finish` then says which: the closing [`List`] (its `items` empty,
/// `received` counting what was streamed; check it with [`List::verify`]),
/// `Error::Timeout`, `Error::Down`/`Error::Closed`, or `Error::Rejected` when
/// the server refused the action.
///
/// Items never go through the event fan-out and are never dropped: each list
/// has its own queue, so a caller that does not read keeps its unread items in
/// memory (bounded by the list itself and its deadline).
///
/// ```no_run
/// # async fn example(client: ami_client::Client) -> Result<(), ami_proto::Error> {
/// use ami_proto::Action;
///
/// let mut channels = client.list_stream(Action::new("CoreShowChannels"))?;
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
    items: Items,
    finish: Pending<List>,
}

impl ListStream {
    pub(crate) fn new(items: Items, finish: Pending<List>) -> Self {
        ListStream { items, finish }
    }

    /// The next item, or `None` once the list has ended.
    pub async fn next(&mut self) -> Option<Packet> {
        std::future::poll_fn(|cx| self.items.poll(cx, next_item)).await
    }

    /// Blocks until the next item, or `None` once the list has ended (its
    /// deadline bounds the wait).
    pub fn recv(&mut self) -> Option<Packet> {
        loop {
            if let Some(item) = self.items.wait(self.check_at(), next_item) {
                return item;
            }
            self.finish_shared().run_timers();
        }
    }

    /// The list's outcome, once it ended; unread items are dropped.
    pub fn finish(self) -> Pending<List> {
        self.finish
    }

    fn finish_shared(&self) -> &std::sync::Arc<crate::shared::Shared> {
        self.finish
            .shared()
            .expect("a list stream is only made for an accepted action")
    }

    fn check_at(&self) -> Instant {
        crate::pending::until(self.finish_shared())
    }
}

fn next_item(state: &mut (std::collections::VecDeque<Packet>, bool)) -> Option<Option<Packet>> {
    match state.0.pop_front() {
        Some(item) => Some(Some(item)),
        None if state.1 => Some(None),
        None => None,
    }
}

impl Stream for ListStream {
    type Item = Packet;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Packet>> {
        self.items.poll(cx, next_item)
    }
}

impl Iterator for ListStream {
    type Item = Packet;

    fn next(&mut self) -> Option<Packet> {
        self.recv()
    }
}
