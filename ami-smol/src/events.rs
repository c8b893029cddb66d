//! A subscriber's event stream: its queue in the client's [`ami_proto::EventHub`],
//! woken through its task's `Waker`.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use ami_proto::{Subscriber, TaskWaker};
use futures_core::Stream;

use crate::Event;

/// A subscriber to a client's events, from the moment it subscribed.
///
/// A [`Stream`] of [`Event`]. It holds at most `config.event_capacity` items; when
/// it falls behind, its oldest items are dropped and it next yields
/// [`Event::Lagged`] with how many it missed. Other subscribers and replies are not
/// affected. The stream ends (`None`) when the client is closed for good.
#[derive(Debug)]
pub struct Events {
    subscriber: Arc<Subscriber<TaskWaker>>,
}

impl Events {
    pub(crate) fn new(subscriber: Arc<Subscriber<TaskWaker>>) -> Self {
        Events { subscriber }
    }

    /// The next event, or `None` once the client is closed for good.
    pub async fn next(&mut self) -> Option<Event> {
        futures_lite::future::poll_fn(|cx| self.subscriber.poll_next(cx)).await
    }
}

impl Stream for Events {
    type Item = Event;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.subscriber.poll_next(cx)
    }
}
