//! The reply context given to action handlers.

use ami_proto::Packet;

use crate::event::{put, Event, Prepared};
use crate::session::SessionChange;

/// What an action handler writes back. Everything written through one `Reply` reaches
/// the client in one piece after the handler returns, so no pushed event can land inside
/// a response or a list; [`Reply::broadcast`] events go out after it.
///
/// ```
/// use ami_testkit::FakeAsterisk;
///
/// let fake = FakeAsterisk::builder()
///     .handler("QueueSummary", |_request, reply| {
///         reply.list(
///             "Queue summary will follow",
///             vec![ami_testkit::Event::new("QueueSummary").header("Queue", "support")],
///             "QueueSummaryComplete",
///         );
///     })
///     .start();
/// # drop(fake);
/// ```
#[derive(Debug)]
pub struct Reply {
    action_id: Option<Vec<u8>>,
    client: usize,
    pub(crate) packets: Vec<(Vec<u8>, bool)>,
    pub(crate) broadcasts: Vec<Vec<u8>>,
    pub(crate) close: bool,
    /// What the action changes in its session, in force from the reply on.
    pub(crate) change: Option<SessionChange>,
    /// Events for this session only (mask and filters apply), each written on its
    /// own after the reply and before the next action is read.
    pub(crate) followups: Vec<Prepared>,
}

impl Reply {
    pub(crate) fn new(request: &Packet, client: usize) -> Self {
        let action_id = request
            .action_id()
            .map(|v| v.as_bytes().to_vec())
            .filter(|v| !v.is_empty());
        Reply {
            action_id,
            client,
            packets: Vec::new(),
            broadcasts: Vec::new(),
            close: false,
            change: None,
            followups: Vec::new(),
        }
    }

    /// The request's `ActionID`, when it had a non-empty one.
    pub fn action_id(&self) -> Option<&[u8]> {
        self.action_id.as_deref()
    }

    /// The index of the client being served (see
    /// [`FakeAsterisk::recorded`](crate::FakeAsterisk::recorded)).
    pub fn client(&self) -> usize {
        self.client
    }

    /// A response: `Response: <status>`, the `ActionID` (when the action had one), then
    /// `fields` in order.
    pub fn respond(&mut self, status: &str, fields: &[(&str, &str)]) {
        let mut out = Vec::with_capacity(64);
        put(&mut out, "Response", status.as_bytes());
        if let Some(id) = &self.action_id {
            put(&mut out, "ActionID", id);
        }
        for (key, value) in fields {
            put(&mut out, key, value.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        self.packets.push((out, true));
    }

    /// `Response: Success` with a `Message`.
    pub fn success(&mut self, message: &str) {
        self.respond("Success", &[("Message", message)]);
    }

    /// `Response: Error` with a `Message`.
    pub fn error(&mut self, message: &str) {
        self.respond("Error", &[("Message", message)]);
    }

    /// An event in this response's stream, to this client only, whatever its Events mask
    /// (like list items and `FullyBooted`).
    pub fn event(&mut self, event: &Event) {
        self.packets.push((event.to_bytes(), false));
    }

    /// A whole list: the `Success` ack with `EventList: start` and `message`, each item
    /// with the request's `ActionID` inserted after its `Event:` line, then the
    /// `<complete>` event with `EventList: Complete` and `ListItems: N`.
    pub fn list(&mut self, message: &str, items: Vec<Event>, complete: &str) {
        self.respond("Success", &[("EventList", "start"), ("Message", message)]);
        let count = items.len();
        for item in items {
            let item = match &self.action_id {
                Some(id) => item.header_first("ActionID", id),
                None => item,
            };
            self.event(&item);
        }
        let mut done = Event::new(complete);
        if let Some(id) = &self.action_id {
            done = done.header("ActionID", id);
        }
        self.event(
            &done
                .header("EventList", "Complete")
                .header("ListItems", count.to_string()),
        );
    }

    /// Bytes written verbatim in the response stream (quirks, broken packets).
    pub fn raw(&mut self, bytes: impl Into<Vec<u8>>) {
        self.packets.push((bytes.into(), false));
    }

    /// An event for every logged-in session (this one included) that wants it, sent
    /// after this reply.
    pub fn broadcast(&mut self, event: Event) {
        self.broadcasts.push(event.to_bytes());
    }

    /// Like [`Reply::broadcast`], for an event already encoded.
    pub(crate) fn broadcast_raw(&mut self, bytes: Vec<u8>) {
        self.broadcasts.push(bytes);
    }

    /// Closes the connection after this reply (as `Logoff` does).
    pub fn close(&mut self) {
        self.close = true;
    }
}
