//! How the fake answers each action, as Asterisk 22 does (see the fixtures).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

use ami_proto::Packet;
use md5::{Digest, Md5};

use crate::conn::{lock, Conn};
use crate::event::{Event, Prepared};
use crate::reply::Reply;
use crate::server::Shared;
use crate::session::{compile_filter, EventMask, SessionChange};

/// Serves one action on `conn`, then writes the reply in one piece and sends what it
/// broadcasts.
pub(crate) fn dispatch(shared: &Shared, conn: &Conn, request: &Packet) {
    let action = request
        .get("Action")
        .map(|v| v.to_str_lossy().trim().to_owned())
        .unwrap_or_default();
    if conn.faults().ignores(action.as_bytes()) {
        return;
    }
    let mut reply = Reply::new(request, conn.index);
    let name = action.to_ascii_lowercase();
    let logged_in = lock(&conn.session).logged_in;
    if name.is_empty() {
        reply.error("Missing action in request");
    } else if !logged_in && !matches!(name.as_str(), "login" | "challenge" | "logoff") {
        reply.error("Permission denied");
    } else if let Some(handler) = shared.config.handlers.get(&name) {
        handler(request, &mut reply);
    } else {
        builtin(shared, conn, request, &name, &action, &mut reply);
    }
    // The whole reply in one write, the session change in force from it on.
    conn.write_reply(
        reply
            .packets
            .iter()
            .map(|(bytes, response)| (bytes.as_slice(), *response)),
        reply.change.take(),
    );
    if reply.close {
        conn.close();
    }
    for event in &reply.followups {
        conn.deliver(event);
    }
    for event in reply.broadcasts {
        shared.broadcast(&Prepared::from_raw(event));
    }
}

fn builtin(
    shared: &Shared,
    conn: &Conn,
    request: &Packet,
    name: &str,
    action: &str,
    reply: &mut Reply,
) {
    match name {
        "login" => login(shared, conn, request, reply),
        "challenge" => challenge(shared, conn, request, reply),
        "logoff" => {
            reply.respond("Goodbye", &[("Message", "Thanks for all the fish.")]);
            reply.close();
        }
        "ping" => reply.respond("Success", &[("Ping", "Pong"), ("Timestamp", &timestamp())]),
        "events" => events(request, reply),
        "filter" => filter(request, reply),
        "command" => crate::commands::command(shared, request, reply),
        "coreshowchannels" => crate::calls::core_show_channels(shared, reply),
        "status" => crate::calls::status(shared, reply),
        "originate" => crate::calls::originate(shared, request, reply),
        "hangup" => hangup(shared, request, reply),
        "userevent" => user_event(request, reply),
        "pjsipshowendpoints" => {
            // Asterisk's message ends in "\n": a bare LF just before the CRLF.
            let mut out = b"Response: Error\r\n".to_vec();
            if let Some(id) = reply.action_id() {
                crate::event::put(&mut out, "ActionID", id);
            }
            out.extend_from_slice(b"Message: No endpoints found\n\r\n\r\n");
            reply.packets.push((out, true));
        }
        _ => reply.error(&format!(
            "Invalid/unknown command: {action}. Use Action: ListCommands to show available commands."
        )),
    }
}

fn timestamp() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:06}", now.as_secs(), now.subsec_micros())
}

fn text(request: &Packet, key: &str) -> String {
    request
        .get(key)
        .map(|v| v.to_str_lossy().into_owned())
        .unwrap_or_default()
}

fn md5_hex(challenge: &str, secret: &str) -> String {
    let digest = Md5::new()
        .chain_update(challenge.as_bytes())
        .chain_update(secret.as_bytes())
        .finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn login(shared: &Shared, conn: &Conn, request: &Packet, reply: &mut Reply) {
    let user = text(request, "Username");
    let secret = shared.config.secret_of(&user);
    let md5 = request.is("AuthType", "MD5");
    let ok = !conn.faults().refuses_logins()
        && match secret {
            None => false,
            Some(secret) if md5 => {
                let challenge = lock(&conn.session).challenge.clone();
                challenge.is_some_and(|c| {
                    text(request, "Key").eq_ignore_ascii_case(&md5_hex(&c, secret))
                })
            }
            Some(secret) => text(request, "Secret") == secret,
        };
    if !ok {
        std::thread::sleep(shared.config.auth_failure_delay);
        reply.error("Authentication failed");
        reply.close();
        return;
    }
    let mask = request
        .get("Events")
        .map_or(EventMask::All, |v| EventMask::parse(&v.to_str_lossy()));
    // As Asterisk 22 writes them: the ack, then FullyBooted (when the session gets
    // system events) and SuccessfulAuth (security events), all in one write.
    reply.success("Authentication accepted");
    let uptime = shared.started.elapsed().as_secs().to_string();
    if mask.allows_class("system") {
        reply.event(
            &Event::new("FullyBooted")
                .header("Privilege", "system,all")
                .header("Uptime", &uptime)
                .header("LastReload", &uptime)
                .header("Status", "Fully Booted"),
        );
    }
    if mask.allows_class("security") {
        let now = event_tv(SystemTime::now());
        let local = conn
            .local_addr()
            .map_or_else(String::new, |a| format!("IPV4/TCP/{}/{}", a.ip(), a.port()));
        reply.event(
            &Event::new("SuccessfulAuth")
                .header("Privilege", "security,all")
                .header("EventTV", &now)
                .header("Severity", "Informational")
                .header("Service", "AMI")
                .header("EventVersion", "1")
                .header("AccountID", &user)
                .header("SessionID", format!("0x{:x}", conn.index + 1))
                .header("LocalAddress", local)
                .header(
                    "RemoteAddress",
                    format!("IPV4/TCP/{}/{}", conn.peer.ip(), conn.peer.port()),
                )
                .header("UsingPassword", "0")
                .header("SessionTV", &now),
        );
    }
    reply.followups = crate::calls::burst_events(shared, shared.config.login_burst)
        .iter()
        .map(|event| Prepared::from_raw(event.to_bytes()))
        .collect();
    reply.change = Some(SessionChange::Login { user, mask });
}

/// `2026-11-22T06:56:06.425+0000`: the `EventTV` format of security events (UTC).
fn event_tv(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}+0000",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        since.subsec_millis()
    )
}

fn challenge(shared: &Shared, conn: &Conn, request: &Packet, reply: &mut Reply) {
    if !request.is("AuthType", "MD5") {
        reply.error("Must specify AuthType");
        return;
    }
    let challenge = shared.config.challenge.clone().unwrap_or_else(|| {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_usize(conn.index);
        (hasher.finish() % 1_000_000_000).to_string()
    });
    lock(&conn.session).challenge = Some(challenge.clone());
    reply.respond("Success", &[("Challenge", &challenge)]);
}

fn events(request: &Packet, reply: &mut Reply) {
    let mask = EventMask::parse(&text(request, "EventMask"));
    let on = mask != EventMask::Off;
    reply.respond("Success", &[("Events", if on { "On" } else { "Off" })]);
    reply.change = Some(SessionChange::Mask(mask));
}

/// `Filter`: the filter is in force from its reply on; events written before the
/// reply (e.g. right after login) were not filtered by it, as on Asterisk 22.
fn filter(request: &Packet, reply: &mut Reply) {
    if !request.is("Operation", "Add") {
        reply.error("Unknown operation");
        return;
    }
    let filter = text(request, "Filter");
    let (exclude, pattern) = match filter.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, filter.as_str()),
    };
    let Some(regex) = compile_filter(pattern) else {
        reply.error("Filter did not compile.  Check the syntax of the filter given.");
        return;
    };
    reply.success("Success");
    reply.change = Some(SessionChange::Filter { exclude, regex });
}

fn hangup(shared: &Shared, request: &Packet, reply: &mut Reply) {
    let channel = text(request, "Channel");
    if channel.is_empty() {
        reply.error("No channel specified");
        return;
    }
    let gone = crate::calls::hangup_matching(shared, |name| name == channel);
    if gone.is_empty() {
        reply.error("No such channel");
    } else {
        reply.success("Channel Hungup");
    }
}

/// `UserEvent`: acked, then `Event: UserEvent` with every other header echoed verbatim
/// (ActionID included) to every session.
fn user_event(request: &Packet, reply: &mut Reply) {
    let Some(name) = request.get("UserEvent").filter(|v| !v.is_empty()) else {
        reply.error("Missing UserEvent");
        return;
    };
    let mut out = b"Event: UserEvent\r\nPrivilege: user,all\r\n".to_vec();
    out.extend_from_slice(b"UserEvent: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\r\n");
    for field in request.fields() {
        if field.key.eq_ignore_ascii_case(b"Action") || field.key.eq_ignore_ascii_case(b"UserEvent")
        {
            continue;
        }
        out.extend_from_slice(field.key);
        out.extend_from_slice(b": ");
        out.extend_from_slice(field.value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    reply.success("Event Sent");
    reply.broadcast_raw(out);
}
