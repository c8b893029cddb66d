//! A ready-made list handler for tests of large or streamed lists.

use ami_proto::Packet;

use crate::{Event, Reply};

/// A handler answering with a list of `Count` numbered items (`Seq: 0, 1, ...`),
/// as Asterisk answers list actions: `EventList: start`, one `<Action>Item` event
/// per item, then `<Action>Complete` with `ListItems`. A missing or bad `Count`
/// gives an empty list.
///
/// ```
/// let fake = ami_testkit::FakeAsterisk::builder()
///     .handler("BigList", ami_testkit::numbered_list)
///     .start();
/// // A client sending `Action: BigList` with `Count: 5000` gets 5,000 items.
/// # drop(fake);
/// ```
pub fn numbered_list(request: &Packet, reply: &mut Reply) {
    let action = request
        .get("Action")
        .map(|name| name.to_string())
        .unwrap_or_default();
    let count = request
        .get("Count")
        .and_then(|count| count.as_str()?.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let items = (0..count)
        .map(|seq| Event::new(format!("{action}Item")).header("Seq", seq.to_string()))
        .collect();
    reply.list("Items will follow", items, &format!("{action}Complete"));
}
