//! Fake calls: the channel table, `Originate` and its event sequence, hangups, and the
//! channel lists (`CoreShowChannels`, `Status`).

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ami_proto::Packet;

use crate::conn::lock;
use crate::event::{Event, Prepared};
use crate::reply::Reply;
use crate::server::Shared;

/// One fake channel.
#[derive(Debug, Clone)]
pub(crate) struct Channel {
    name: String,
    context: String,
    exten: String,
    priority: String,
    uniqueid: String,
    linkedid: String,
    application: String,
    data: String,
    cid_num: String,
    cid_name: String,
    created: Instant,
}

/// The channel table and the counters that name channels and unique ids.
pub(crate) struct Calls {
    epoch: u64,
    next_uniqueid: u64,
    next_local: u64,
    channels: Vec<Channel>,
}

impl Calls {
    pub(crate) fn new() -> Self {
        let epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Calls {
            epoch,
            next_uniqueid: 0,
            next_local: 0,
            channels: Vec::new(),
        }
    }

    fn uniqueid(&mut self) -> String {
        let id = format!("{}.{}", self.epoch, self.next_uniqueid);
        self.next_uniqueid += 1;
        id
    }
}

fn text(packet: &Packet, key: &str) -> Option<String> {
    packet
        .get(key)
        .map(|v| v.to_str_lossy().into_owned())
        .filter(|v| !v.is_empty())
}

/// The standard channel snapshot headers, with a prefix (`Dest` for DialEnd).
fn snapshot(mut event: Event, prefix: &str, ch: &Channel, state: (u8, &str)) -> Event {
    let fields = [
        ("Channel", ch.name.clone()),
        ("ChannelState", state.0.to_string()),
        ("ChannelStateDesc", state.1.to_owned()),
        ("CallerIDNum", ch.cid_num.clone()),
        ("CallerIDName", ch.cid_name.clone()),
        ("ConnectedLineNum", "<unknown>".to_owned()),
        ("ConnectedLineName", "<unknown>".to_owned()),
        ("Language", "en".to_owned()),
        ("AccountCode", String::new()),
        ("Context", ch.context.clone()),
        ("Exten", ch.exten.clone()),
        ("Priority", ch.priority.clone()),
        ("Uniqueid", ch.uniqueid.clone()),
        ("Linkedid", ch.linkedid.clone()),
    ];
    for (key, value) in fields {
        event = event.header(format!("{prefix}{key}"), value);
    }
    event
}

fn call_event(name: &str, ch: &Channel, state: (u8, &str)) -> Event {
    snapshot(
        Event::new(name).header("Privilege", "call,all"),
        "",
        ch,
        state,
    )
}

const DOWN: (u8, &str) = (0, "Down");
const RING: (u8, &str) = (4, "Ring");
const UP: (u8, &str) = (6, "Up");

/// The outcome a channel name asks for: `busy` -> 5, `noanswer` -> 3, `fail` -> 0,
/// anything else answers (4).
fn outcome(channel: &str) -> u8 {
    let lower = channel.to_ascii_lowercase();
    if lower.contains("busy") {
        5
    } else if lower.contains("noanswer") {
        3
    } else if lower.contains("fail") {
        0
    } else {
        4
    }
}

/// `Originate`: async answers at once and the call follows as events; sync answers once
/// the call is answered (after [`Builder::originate_delay`](crate::Builder::originate_delay)).
pub(crate) fn originate(shared: &Shared, request: &Packet, reply: &mut Reply) {
    let Some(target) = text(request, "Channel") else {
        reply.error("Channel not specified");
        return;
    };
    let is_async = request.get("Async").is_some_and(|v| {
        ["yes", "true", "y", "t", "1", "on"]
            .iter()
            .any(|t| v.as_bytes().eq_ignore_ascii_case(t.as_bytes()))
    });
    let reason = outcome(&target);
    if !is_async {
        std::thread::sleep(shared.config.originate_delay);
    }
    if is_async || reason == 4 {
        reply.success("Originate successfully queued");
    } else {
        reply.error("Originate failed");
    }
    for event in call_events(shared, request, &target, reason, reply.action_id()) {
        reply.broadcast(event);
    }
}

fn call_events(
    shared: &Shared,
    request: &Packet,
    target: &str,
    reason: u8,
    action_id: Option<&[u8]>,
) -> Vec<Event> {
    let (cid_name, cid_num) = parse_callerid(text(request, "CallerID").as_deref());
    let app = text(request, "Application");
    let mut calls = lock(&shared.calls);
    let (base, local) = match target.strip_prefix("Local/") {
        Some(_) => {
            let n = calls.next_local;
            calls.next_local += 1;
            (format!("{target}-{n:08x}"), true)
        }
        None => {
            let n = calls.next_local;
            calls.next_local += 1;
            (format!("{target}-{n:08x}"), false)
        }
    };
    let uniqueid = calls.uniqueid();
    let (exten, context) = match target
        .split_once('/')
        .map(|(_, rest)| rest)
        .and_then(|r| r.split_once('@'))
    {
        Some((exten, context)) => (exten.to_owned(), context.to_owned()),
        None => ("s".to_owned(), "default".to_owned()),
    };
    let first = Channel {
        name: if local {
            format!("{base};1")
        } else {
            base.clone()
        },
        context: text(request, "Context").unwrap_or_else(|| context.clone()),
        exten: text(request, "Exten").unwrap_or_else(|| exten.clone()),
        priority: text(request, "Priority").unwrap_or_else(|| "1".into()),
        uniqueid: uniqueid.clone(),
        linkedid: uniqueid.clone(),
        application: app.clone().unwrap_or_default(),
        data: text(request, "Data").unwrap_or_default(),
        cid_num: "<unknown>".into(),
        cid_name: "<unknown>".into(),
        created: Instant::now(),
    };
    let mut second = local.then(|| Channel {
        name: format!("{base};2"),
        context,
        exten,
        priority: "1".into(),
        uniqueid: calls.uniqueid(),
        linkedid: uniqueid.clone(),
        ..first.clone()
    });
    drop(calls);

    let mut events = vec![call_event("Newchannel", &first, DOWN)];
    if let Some(second) = &second {
        events.push(call_event("Newchannel", second, RING));
    }
    let mut first = first;
    for (name, value) in request.variables() {
        events.push(
            snapshot(
                Event::new("VarSet").header("Privilege", "dialplan,all"),
                "",
                &first,
                DOWN,
            )
            .header("Variable", name.as_bytes())
            .header("Value", value.as_bytes()),
        );
    }
    if cid_num.is_some() || cid_name.is_some() {
        first.cid_num = cid_num.unwrap_or_else(|| "<unknown>".into());
        first.cid_name = cid_name.unwrap_or_else(|| "<unknown>".into());
        events.push(
            call_event("NewCallerid", &first, DOWN)
                .header("CID-CallingPres", "0 (Presentation Allowed, Not Screened)"),
        );
        if let Some(second) = &mut second {
            second.cid_num = first.cid_num.clone();
            second.cid_name = first.cid_name.clone();
        }
    }
    if let Some(second) = &second {
        events.push(
            snapshot(
                Event::new("LocalBridge").header("Privilege", "call,all"),
                "LocalOne",
                &first,
                DOWN,
            )
            .header("Context", &second.context)
            .header("Exten", &second.exten)
            .header("LocalOptimization", "Yes"),
        );
    }
    events.push(
        snapshot(
            Event::new("DialBegin").header("Privilege", "call,all"),
            "Dest",
            &first,
            DOWN,
        )
        .header("DialString", target),
    );
    let mut response = Event::new("OriginateResponse").header("Privilege", "call,all");
    if let Some(id) = action_id {
        response = response.header("ActionID", id);
    }
    if reason == 4 {
        if let Some(second) = &second {
            events.push(call_event("Newstate", second, UP));
        }
        events.push(call_event("Newstate", &first, UP));
        events.push(
            snapshot(
                Event::new("DialEnd").header("Privilege", "call,all"),
                "Dest",
                &first,
                UP,
            )
            .header("DialStatus", "ANSWER"),
        );
        response = response
            .header("Response", "Success")
            .header("Channel", &first.name);
    } else {
        let status = match reason {
            5 => "BUSY",
            3 => "NOANSWER",
            _ => "CHANUNAVAIL",
        };
        events.push(
            snapshot(
                Event::new("DialEnd").header("Privilege", "call,all"),
                "Dest",
                &first,
                DOWN,
            )
            .header("DialStatus", status),
        );
        events.push(
            call_event("Hangup", &first, DOWN)
                .header("Cause", "0")
                .header("Cause-txt", "Unknown"),
        );
        response = response
            .header("Response", "Failure")
            .header("Channel", target);
    }
    response = match &app {
        Some(app) => response
            .header("Application", app)
            .header("Data", &first.data),
        None => response
            .header("Context", &first.context)
            .header("Exten", &first.exten),
    };
    let uniqueid = if reason == 4 {
        first.uniqueid.as_str()
    } else {
        "<null>"
    };
    events.push(
        response
            .header("Reason", reason.to_string())
            .header("Uniqueid", uniqueid)
            .header("CallerIDNum", &first.cid_num)
            .header("CallerIDName", &first.cid_name),
    );
    if reason == 4 {
        let mut newexten = call_event("Newexten", &first, UP);
        newexten = newexten
            .header("Extension", &first.exten)
            .header(
                "Application",
                if first.application.is_empty() {
                    "NoOp"
                } else {
                    &first.application
                },
            )
            .header("AppData", &first.data);
        events.push(newexten);
        let mut calls = lock(&shared.calls);
        calls.channels.push(first);
        calls.channels.extend(second);
    }
    events
}

/// `"Name" <number>` into (name, number).
fn parse_callerid(value: Option<&str>) -> (Option<String>, Option<String>) {
    let Some(value) = value else {
        return (None, None);
    };
    match value.split_once('<') {
        Some((name, rest)) => {
            let name = name.trim().trim_matches('"').to_owned();
            let num = rest.trim_end().trim_end_matches('>').to_owned();
            (
                (!name.is_empty()).then_some(name),
                (!num.is_empty()).then_some(num),
            )
        }
        None => (None, Some(value.trim().to_owned())),
    }
}

/// `count` call events of short calls that come and go on their own (not in the
/// channel table): `Newchannel`, `Newstate`, `Hangup` per call, in turn, on
/// channels `PJSIP/burst-<n>`. What a busy server writes while a session logs in.
pub(crate) fn burst_events(shared: &Shared, count: usize) -> Vec<Event> {
    let mut events = Vec::with_capacity(count);
    let mut channel = None;
    for i in 0..count {
        if i % 3 == 0 {
            let mut calls = lock(&shared.calls);
            let uniqueid = calls.uniqueid();
            channel = Some(Channel {
                name: format!("PJSIP/burst-{:08x}", i / 3),
                context: "from-internal".into(),
                exten: "100".into(),
                priority: "1".into(),
                linkedid: uniqueid.clone(),
                uniqueid,
                application: String::new(),
                data: String::new(),
                cid_num: "100".into(),
                cid_name: "Burst".into(),
                created: Instant::now(),
            });
        }
        let Some(ch) = &channel else { continue };
        events.push(match i % 3 {
            0 => call_event("Newchannel", ch, DOWN),
            1 => call_event("Newstate", ch, UP),
            _ => call_event("Hangup", ch, UP)
                .header("Cause", "16")
                .header("Cause-txt", "Normal Clearing"),
        });
    }
    events
}

/// Hangs up the channels whose name passes `matches`, broadcasting their `Hangup`
/// events. Returns the names hung up.
pub(crate) fn hangup_matching(shared: &Shared, matches: impl Fn(&str) -> bool) -> Vec<String> {
    let gone: Vec<Channel> = {
        let mut calls = lock(&shared.calls);
        let (gone, kept) = calls.channels.drain(..).partition(|c| matches(&c.name));
        calls.channels = kept;
        gone
    };
    for ch in &gone {
        let hangup = call_event("Hangup", ch, UP)
            .header("Cause", "16")
            .header("Cause-txt", "Normal Clearing");
        shared.broadcast(&Prepared::from_raw(hangup.to_bytes()));
    }
    gone.into_iter().map(|c| c.name).collect()
}

fn duration(ch: &Channel) -> String {
    let secs = ch.created.elapsed().as_secs();
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// `CoreShowChannels`: one `CoreShowChannel` per channel, newest first (as Asterisk).
pub(crate) fn core_show_channels(shared: &Shared, reply: &mut Reply) {
    let channels = lock(&shared.calls).channels.clone();
    let items = channels
        .iter()
        .rev()
        .map(|ch| {
            snapshot(Event::new("CoreShowChannel"), "", ch, UP)
                .header("Application", &ch.application)
                .header("ApplicationData", &ch.data)
                .header("Duration", duration(ch))
                .header("BridgeId", "")
        })
        .collect();
    reply.list("Channels will follow", items, "CoreShowChannelsComplete");
}

/// `Status`: one `Status` event per channel.
pub(crate) fn status(shared: &Shared, reply: &mut Reply) {
    let channels = lock(&shared.calls).channels.clone();
    let items = channels
        .iter()
        .map(|ch| {
            snapshot(Event::new("Status").header("Privilege", "Call"), "", ch, UP)
                .header("Type", ch.name.split('/').next().unwrap_or(""))
                .header("DNID", "")
                .header("Application", &ch.application)
                .header("Data", &ch.data)
                .header("Nativeformats", "(ulaw)")
                .header("Readformat", "ulaw")
                .header("Writeformat", "ulaw")
                .header("Seconds", ch.created.elapsed().as_secs().to_string())
        })
        .collect();
    reply.list("Channel status will follow", items, "StatusComplete");
}

/// The names of the channels up now.
pub(crate) fn channel_names(shared: &Shared) -> Vec<String> {
    lock(&shared.calls)
        .channels
        .iter()
        .map(|c| c.name.clone())
        .collect()
}
