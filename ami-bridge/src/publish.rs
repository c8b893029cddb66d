//! Events into JetStream: the intake (fleet events into a bounded buffer) and
//! the publisher (buffer into JetStream, removed only once acknowledged).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ami_fleet::FleetEvents;
use ami_proto::Event;
use async_nats::jetstream;
use async_nats::HeaderMap;
use tokio::sync::Notify;

use crate::config::{valid_token, NatsConfig};
use crate::{json, Stats};

/// Most publishes in flight before their acknowledgements are awaited.
const WINDOW: usize = 256;

/// One event ready to publish.
#[derive(Clone)]
pub(crate) struct Item {
    subject: String,
    payload: bytes::Bytes,
    msg_id: String,
}

/// The bounded buffer between the intake and the publisher.
#[derive(Clone)]
pub(crate) struct Buffer {
    inner: Arc<BufferInner>,
}

struct BufferInner {
    bound: usize,
    queue: Mutex<VecDeque<Item>>,
    notify: Notify,
    stats: Arc<Mutex<Stats>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Buffer {
    pub(crate) fn new(bound: usize, stats: Arc<Mutex<Stats>>) -> Self {
        Buffer {
            inner: Arc::new(BufferInner {
                bound,
                queue: Mutex::new(VecDeque::new()),
                notify: Notify::new(),
                stats,
            }),
        }
    }

    fn stats(&self) -> MutexGuard<'_, Stats> {
        lock(&self.inner.stats)
    }

    fn drop_for(&self, reason: &str, count: u64) {
        *self.stats().dropped.entry(reason.to_owned()).or_default() += count;
    }

    /// Queues an item, or counts it dropped when the buffer is full.
    fn push(&self, item: Item) {
        let mut queue = lock(&self.inner.queue);
        if queue.len() >= self.inner.bound {
            drop(queue);
            return self.drop_for("buffer_full", 1);
        }
        queue.push_back(item);
        self.stats().buffered = queue.len() as u64;
        drop(queue);
        self.inner.notify.notify_one();
    }

    /// The first `n` items (at least one: waits for it).
    async fn peek(&self, n: usize) -> Vec<Item> {
        loop {
            let notified = self.inner.notify.notified();
            {
                let queue = lock(&self.inner.queue);
                if !queue.is_empty() {
                    return queue.iter().take(n).cloned().collect();
                }
            }
            notified.await;
        }
    }

    /// Removes the first `n` items: JetStream acknowledged them.
    fn acknowledged(&self, n: usize) {
        let mut queue = lock(&self.inner.queue);
        let n = n.min(queue.len());
        queue.drain(..n);
        let mut stats = self.stats();
        stats.buffered = queue.len() as u64;
        stats.published += n as u64;
    }
}

/// A run identifier for message ids: distinct across restarts of the bridge.
fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{:x}{:x}", nanos, std::process::id())
}

/// Fleet events into the buffer, counted.
pub(crate) async fn intake(mut events: FleetEvents, buffer: Buffer, prefix: String) {
    let run = run_id();
    let mut sequence: u64 = 0;
    while let Some(item) = events.next().await {
        match item.event {
            Event::Event(packet) => {
                {
                    let mut stats = buffer.stats();
                    stats.received += 1;
                    *stats
                        .received_per_pbx
                        .entry(item.pbx.to_string())
                        .or_default() += 1;
                }
                let name = packet
                    .event_name()
                    .map(|n| n.to_str_lossy().into_owned())
                    .filter(|n| valid_token(n));
                let Some(name) = name else {
                    buffer.drop_for("unnamed", 1);
                    continue;
                };
                sequence += 1;
                let payload = serde_json::to_vec(&json::packet(&packet)).unwrap_or_default();
                buffer.push(Item {
                    subject: format!("{prefix}.{}.event.{name}", item.pbx),
                    payload: payload.into(),
                    msg_id: format!("{run}-{sequence}"),
                });
            }
            Event::Lagged(missed) => {
                {
                    let mut stats = buffer.stats();
                    stats.received += missed;
                    *stats
                        .received_per_pbx
                        .entry(item.pbx.to_string())
                        .or_default() += missed;
                }
                buffer.drop_for("lagged", missed);
            }
            Event::Malformed(_) => {
                {
                    let mut stats = buffer.stats();
                    stats.received += 1;
                    *stats
                        .received_per_pbx
                        .entry(item.pbx.to_string())
                        .or_default() += 1;
                }
                buffer.drop_for("malformed", 1);
            }
            _ => {}
        }
    }
}

/// The buffer into JetStream: creates the stream, then publishes in windows,
/// removing items only once acknowledged; on a failure, waits a little,
/// makes sure the stream exists, and publishes again from the first
/// unacknowledged item (same message ids, so JetStream stores each once).
pub(crate) async fn publisher(nats: async_nats::Client, config: NatsConfig, buffer: Buffer) {
    let mut js = jetstream::new(nats);
    js.set_timeout(config.ack_timeout());
    let stream = jetstream::stream::Config {
        name: config.stream.clone(),
        // Events only: a stream on `ami.>` would also capture the action
        // requests and answer them with its publish acknowledgement.
        subjects: vec![format!("{}.*.event.>", config.prefix)],
        ..Default::default()
    };
    while js.get_or_create_stream(stream.clone()).await.is_err() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let retry = Duration::from_millis(50);
    loop {
        let batch = buffer.peek(WINDOW).await;
        let mut acks = Vec::with_capacity(batch.len());
        let mut failed = false;
        for item in &batch {
            let mut headers = HeaderMap::new();
            headers.insert(async_nats::header::NATS_MESSAGE_ID, item.msg_id.as_str());
            let publish =
                js.publish_with_headers(item.subject.clone(), headers, item.payload.clone());
            match tokio::time::timeout(config.ack_timeout(), publish).await {
                Ok(Ok(ack)) => acks.push(ack),
                _ => {
                    failed = true;
                    break;
                }
            }
        }
        let mut done = 0;
        for ack in acks {
            match tokio::time::timeout(
                config.ack_timeout(),
                std::future::IntoFuture::into_future(ack),
            )
            .await
            {
                Ok(Ok(_)) => done += 1,
                _ => {
                    failed = true;
                    break;
                }
            }
        }
        buffer.acknowledged(done);
        if failed {
            tokio::time::sleep(retry).await;
            // A NATS server that came back without its store has no stream:
            // create it again (a no-op when it exists).
            let recreate = js.get_or_create_stream(stream.clone());
            let _ = tokio::time::timeout(config.ack_timeout(), recreate).await;
        }
    }
}
