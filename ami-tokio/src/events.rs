//! A subscriber's event stream: its queue in the client's [`ami_proto::EventHub`],
//! woken through its task's `Waker`.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use ami_proto::{Subscriber, TaskWaker};
use futures_core::Stream;

use crate::Event;

/// The events of a [`Client`](crate::Client), from the moment of subscribing; a
/// [`Stream`] and, without extra imports, [`Events::next`]. Ends when the client is
/// closed for good.
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
        std::future::poll_fn(|cx| self.subscriber.poll_next(cx)).await
    }
}

impl Stream for Events {
    type Item = Event;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.subscriber.poll_next(cx)
    }
}
