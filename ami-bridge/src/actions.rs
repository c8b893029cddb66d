//! Actions as NATS requests on `<prefix>.<pbx>.action`, answered once per id.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use ami_fleet::Fleet;
use ami_proto::Action;
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::config::ActionsConfig;
use crate::{json, Stats};

/// Replies by (pbx, request id), the oldest forgotten first.
struct Dedupe {
    capacity: usize,
    replies: HashMap<(String, String), watch::Receiver<Option<Bytes>>>,
    order: VecDeque<(String, String)>,
}

enum Seen {
    /// First time: send the action, then publish the reply here.
    New(watch::Sender<Option<Bytes>>),
    /// Seen before: this is (or will be) the reply.
    Again(watch::Receiver<Option<Bytes>>),
}

impl Dedupe {
    fn check(&mut self, key: (String, String)) -> Seen {
        if let Some(reply) = self.replies.get(&key) {
            return Seen::Again(reply.clone());
        }
        let (tx, rx) = watch::channel(None);
        if self.capacity > 0 {
            while self.order.len() >= self.capacity {
                if let Some(old) = self.order.pop_front() {
                    self.replies.remove(&old);
                }
            }
            self.order.push_back(key.clone());
            self.replies.insert(key, rx);
        }
        Seen::New(tx)
    }
}

/// Looks `id` up (the lock released before any await).
fn check(dedupe: &Mutex<Dedupe>, pbx: &str, id: &str) -> Seen {
    lock(dedupe).check((pbx.to_owned(), id.to_owned()))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Answers requests until the subscription ends.
pub(crate) async fn serve(
    nats: async_nats::Client,
    mut subscription: async_nats::Subscriber,
    fleet: Fleet,
    prefix: String,
    config: ActionsConfig,
    stats: Arc<Mutex<Stats>>,
) {
    let dedupe = Arc::new(Mutex::new(Dedupe {
        capacity: config.dedupe,
        replies: HashMap::new(),
        order: VecDeque::new(),
    }));
    let config = Arc::new(config);
    while let Some(message) = subscription.next().await {
        let Some(reply_to) = message.reply.clone() else {
            continue;
        };
        let pbx = message
            .subject
            .as_str()
            .strip_prefix(prefix.as_str())
            .and_then(|rest| rest.strip_prefix('.'))
            .and_then(|rest| rest.strip_suffix(".action"))
            .unwrap_or_default()
            .to_owned();
        let (nats, fleet, config, dedupe, stats) = (
            nats.clone(),
            fleet.clone(),
            Arc::clone(&config),
            Arc::clone(&dedupe),
            Arc::clone(&stats),
        );
        tokio::spawn(async move {
            let reply = answer(&fleet, &pbx, &message.payload, &config, &dedupe, &stats).await;
            lock(&stats).requests += 1;
            let _ = nats.publish(reply_to, reply).await;
        });
    }
}

/// A request: the action, its name and its id.
type Parsed = (Action, String, Option<String>);
/// A refused request: its id if it had one, and why.
type Refused = (Option<String>, String);

/// A request parsed: the action and its id.
fn parse(payload: &[u8]) -> Result<Parsed, Refused> {
    let value: Value =
        serde_json::from_slice(payload).map_err(|e| (None, format!("malformed JSON: {e}")))?;
    let id = match value.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(other) => Some(other.to_string()),
    };
    let fail = |message: &str| (id.clone(), message.to_owned());
    let Some(name) = value.get("action").and_then(Value::as_str) else {
        return Err(fail("malformed request: \"action\" must be a string"));
    };
    let mut action = Action::new(name);
    match value.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(headers)) => {
            for (key, value) in headers {
                if key.eq_ignore_ascii_case("ActionID") || key.eq_ignore_ascii_case("Action") {
                    continue;
                }
                let values = match value {
                    Value::Array(values) => values.iter().collect(),
                    single => vec![single],
                };
                for value in values {
                    let text = match value {
                        Value::String(s) => s.clone(),
                        Value::Number(_) | Value::Bool(_) => value.to_string(),
                        _ => return Err(fail("malformed request: header values are strings")),
                    };
                    action = action.header(key, text);
                }
            }
        }
        Some(_) => return Err(fail("malformed request: \"headers\" must be an object")),
    }
    Ok((action, name.to_owned(), id))
}

fn error(id: Option<&str>, message: &str) -> Bytes {
    let value = match id {
        Some(id) => json!({"id": id, "error": message}),
        None => json!({"error": message}),
    };
    serde_json::to_vec(&value).unwrap_or_default().into()
}

async fn answer(
    fleet: &Fleet,
    pbx: &str,
    payload: &[u8],
    config: &ActionsConfig,
    dedupe: &Mutex<Dedupe>,
    stats: &Mutex<Stats>,
) -> Bytes {
    let (action, name, id) = match parse(payload) {
        Ok(parsed) => parsed,
        Err((id, message)) => return error(id.as_deref(), &message),
    };
    if !config.allows(&name) {
        return error(id.as_deref(), &format!("action {name:?} is not allowed"));
    }
    let Some(client) = fleet.pbx(pbx) else {
        let message = match fleet.status(pbx) {
            None => format!("no PBX named {pbx:?}"),
            Some(status) => format!("PBX {pbx:?} is not connected: {status:?}"),
        };
        return error(id.as_deref(), &message);
    };
    let slot = match &id {
        None => None,
        Some(id) => match check(dedupe, pbx, id) {
            Seen::New(slot) => Some(slot),
            Seen::Again(mut reply) => {
                lock(stats).deduplicated += 1;
                let answered = reply.wait_for(Option::is_some).await;
                return match answered {
                    Ok(reply) => reply.clone().unwrap_or_default(),
                    Err(_) => error(Some(id), "the first request of this id was not answered"),
                };
            }
        },
    };
    let reply = match client.send(action).await {
        Ok(reply) => {
            let mut value = json::reply(&reply);
            if let (Some(id), Value::Object(object)) = (&id, &mut value) {
                object.insert("id".into(), Value::String(id.clone()));
            }
            serde_json::to_vec(&value).unwrap_or_default().into()
        }
        Err(e) => error(id.as_deref(), &e.to_string()),
    };
    if let Some(slot) = slot {
        slot.send_replace(Some(reply.clone()));
    }
    reply
}
