//! A streamed list: its items as they arrive, then its closing outcome.

use std::sync::mpsc::Receiver;

use crate::driver::ReplySlot;
use crate::{Client, Error, List, Packet};

/// The items of a list sent with [`Client::list_stream`], in order, as they
/// arrive; then [`finish`](Self::finish) for the outcome.
///
/// An [`Iterator`] of [`Packet`] that blocks for each next item, always with a
/// deadline. It ends when the list does: at its closing event, at the action's
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
/// # fn example(client: ami_blocking::Client) -> Result<(), ami_blocking::Error> {
/// use ami_blocking::Action;
///
/// let mut channels = client.list_stream(Action::new("CoreShowChannels"))?;
/// for item in &mut channels {
///     println!("{:?}", item.get("Channel"));
/// }
/// let list = channels.finish()?;
/// println!("{} channels", list.received);
/// # Ok(())
/// # }
/// ```
#[must_use = "the items are queued until read"]
pub struct ListStream {
    pub(crate) client: Client,
    pub(crate) items: Receiver<Packet>,
    pub(crate) reply: ReplySlot,
}

impl ListStream {
    /// Waits for the list's end and returns its outcome; unread items are dropped.
    pub fn finish(self) -> Result<List, Error> {
        drop(self.items);
        ami_proto::expect_list(self.client.shared().wait(&self.reply)?)
    }
}

impl Iterator for ListStream {
    type Item = Packet;

    /// The next item, or `None` once the list has ended (see [`finish`](Self::finish)).
    fn next(&mut self) -> Option<Packet> {
        self.client.shared().recv(&self.items)
    }
}

impl std::fmt::Debug for ListStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListStream").finish_non_exhaustive()
    }
}
