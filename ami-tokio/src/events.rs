//! A subscriber's event stream: tokio's broadcast (bounded, drop-oldest per
//! subscriber) with its lag turned into [`Event::Lagged`].

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio::sync::broadcast;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;

use crate::Event;

/// The events of a [`Client`](crate::Client), from the moment of subscribing; a
/// [`Stream`] and, without extra imports, [`Events::next`]. Ends when the client is
/// closed for good.
#[derive(Debug)]
pub struct Events {
    inner: BroadcastStream<Event>,
}

impl Events {
    pub(crate) fn new(receiver: broadcast::Receiver<Event>) -> Self {
        Events {
            inner: BroadcastStream::new(receiver),
        }
    }

    /// The next event, or `None` once the client is closed for good.
    pub async fn next(&mut self) -> Option<Event> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl Stream for Events {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        Pin::new(&mut self.inner).poll_next(cx).map(|item| {
            item.map(|result| match result {
                Ok(event) => event,
                Err(BroadcastStreamRecvError::Lagged(missed)) => Event::Lagged(missed),
            })
        })
    }
}
