//! A subscriber's event stream, for async and blocking consumers alike.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use ami_proto::Event;
use futures_core::Stream;

use crate::hub::{self, Only, Subscriber};
use crate::queue::Taken;
use crate::shared::Shared;
use crate::EventQueue;

/// The events of a [`Client`](crate::Client); see
/// [`Client::events`](crate::Client::events). A [`Stream`], an async
/// [`next`](Self::next), and blocking [`recv_timeout`](Self::recv_timeout)
/// and [`Iterator`]. Ends when the client is closed for good.
///
/// Events are taken from the client's queue a batch at a time (one lock per
/// batch, so a subscriber on another thread does not contend with the pump
/// per event): a subscriber holds the batch it took plus up to
/// `Config::event_capacity` queued behind it before it is told
/// [`Event::Lagged`].
///
/// An event's packet shares the buffer it was read into with the other
/// packets of that read (no copy is made on the way): to keep one for long,
/// keep its [`Packet::detach`](ami_proto::Packet::detach)ed copy.
///
/// ```no_run
/// # fn example(client: ami_client::Client) {
/// use ami_proto::Event;
///
/// for event in client.events() {
///     match event {
///         Event::Event(packet) if packet.event_name().is_some_and(|n| n.as_bytes() == b"Hangup") => {
///             println!("hangup on {:?}", packet.get("Channel"));
///         }
///         Event::Lagged(missed) => eprintln!("missed {missed} events"),
///         _ => {}
///     }
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct Events {
    subscriber: Subscriber,
    only: Only,
    /// The batch taken from the queue, handed out one event at a time.
    taken: Taken,
    /// Keeps the session's timers running for a waiting thread.
    shared: Arc<Shared>,
}

/// [`Events::recv_timeout`] found nothing before its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedOut;

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no event before the deadline")
    }
}

impl std::error::Error for TimedOut {}

impl Events {
    pub(crate) fn new(subscriber: Subscriber, shared: Arc<Shared>) -> Self {
        Events {
            subscriber,
            only: None,
            taken: Taken::default(),
            shared,
        }
    }

    /// Only the AMI events with one of these `Event:` names (ASCII
    /// case-insensitive), e.g. `client.events().only(["Hangup"])`. The client's
    /// own items (`Lagged`, `Disconnected`, `Reconnected`, unmatched and
    /// malformed packets) still come through: nothing is hidden. Events
    /// skipped here still count toward this subscriber's capacity.
    ///
    /// ```
    /// # fn example(client: ami_client::Client) {
    /// for event in client.events().only(["Hangup", "Newchannel"]) {
    ///     println!("{event:?}");
    /// }
    /// # }
    /// ```
    pub fn only<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.only = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// The next event, or `None` once the client is closed for good.
    pub async fn next(&mut self) -> Option<Event> {
        let next = std::future::poll_fn(|cx| {
            hub::poll_next(
                &self.shared.hub,
                &self.subscriber,
                &self.only,
                &mut self.taken,
                cx,
            )
        })
        .await;
        self.seen(next)
    }

    /// The next event, waiting at most `timeout`: `Ok(None)` once the client
    /// is closed for good and every buffered event was taken.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<Event>, TimedOut> {
        // From the batch already taken: no clock, no lock.
        if let Some(event) = hub::next_taken(&mut self.taken, &self.only) {
            return Ok(self.seen(Some(event)));
        }
        let deadline = Instant::now() + timeout;
        loop {
            let until = crate::pending::until(&self.shared).min(deadline);
            if let Ok(next) = hub::wait_next(
                &self.shared.hub,
                &self.subscriber,
                &self.only,
                &mut self.taken,
                until,
            ) {
                return Ok(self.seen(next));
            }
            if Instant::now() >= deadline {
                return Err(TimedOut);
            }
            self.shared.run_timers();
        }
    }

    /// The next event if one is buffered (`Ok(None)`: the stream has ended).
    pub fn try_recv(&mut self) -> Result<Option<Event>, TimedOut> {
        hub::wait_next(
            &self.shared.hub,
            &self.subscriber,
            &self.only,
            &mut self.taken,
            Instant::now(),
        )
        .map(|next| self.seen(next))
        .map_err(|()| TimedOut)
    }

    /// Tells `tracing` when this subscriber fell behind. Inlined: out of
    /// line, every event was moved in and out of it.
    #[inline]
    fn seen(&self, next: Option<Event>) -> Option<Event> {
        if let Some(Event::Lagged(missed)) = next {
            self.shared.trace.lagged(missed);
        }
        next
    }
}

impl Stream for Events {
    type Item = Event;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        let this = self.get_mut();
        let next = hub::poll_next(
            &this.shared.hub,
            &this.subscriber,
            &this.only,
            &mut this.taken,
            cx,
        );
        next.map(|next| this.seen(next))
    }
}

impl Drop for Events {
    /// Its queue is emptied now rather than at the next publish, so that a
    /// pump waiting for this subscriber to take its events waits no more.
    fn drop(&mut self) {
        self.subscriber.with(EventQueue::clear);
        self.shared.hub.took();
    }
}

impl Iterator for Events {
    type Item = Event;

    /// Blocks until the next event; `None` once the client is closed for good.
    fn next(&mut self) -> Option<Event> {
        loop {
            if let Ok(next) = self.recv_timeout(Duration::from_secs(3600)) {
                return next;
            }
        }
    }
}
