//! The `Command` action: CLI output as `Output:` lines (Asterisk 14+) or the legacy
//! `Response: Follows` body (Asterisk 13 and older).

use ami_proto::Packet;

use crate::conn::lock;
use crate::event::put;
use crate::reply::Reply;
use crate::server::Shared;

/// The output of a CLI command, `Err` for an unknown command.
fn run(shared: &Shared, command: &str) -> Result<Vec<String>, Vec<String>> {
    if let Some(output) = shared.config.commands.get(command) {
        return Ok(output.lines().map(str::to_owned).collect());
    }
    let uptime = shared.started.elapsed().as_secs();
    let lines = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    match command {
        "core show version" => Ok(lines(&[
            "Asterisk 22.10.1 built by ami-testkit @ fake on a x86_64 running Linux",
        ])),
        "core show uptime" => Ok(vec![
            format!("System uptime: {uptime} seconds"),
            format!("Last reload: {uptime} seconds"),
        ]),
        "core show channels" => {
            let names = crate::calls::channel_names(shared);
            let mut out = vec![format!(
                "{:<20} {:<20} {:<7} {:<30}",
                "Channel", "Location", "State", "Application(Data)"
            )];
            for name in &names {
                out.push(format!(
                    "{name:<20} {:<20} {:<7} {:<30}",
                    "s@default:1", "Up", "Wait()"
                ));
            }
            out.push(format!("{} active channels", names.len()));
            out.push(format!("{} active calls", names.len() / 2));
            out.push(format!("{} calls processed", names.len()));
            Ok(out)
        }
        "channel request hangup all" => {
            let gone = crate::calls::hangup_matching(shared, |_| true);
            Ok(gone
                .iter()
                .map(|name| format!("Requested Hangup on channel '{name}'"))
                .collect())
        }
        "manager show connected" => {
            let mut out = vec![format!(
                "  {:<16} {:<56} {:<11} {:<11} {:<9} {:<9} {:<11} {}",
                "Username",
                "IP Address",
                "Start",
                "Elapsed",
                "FileDes",
                "HttpCnt",
                "ReadPerms",
                "WritePerms"
            )];
            let conns = shared.open_conns();
            let mut count = 0;
            for conn in conns {
                let session = lock(&conn.session);
                if let (true, Some(user)) = (session.logged_in, &session.user) {
                    count += 1;
                    out.push(format!(
                        "  {:<16} {:<56} {:<11} {:<11} {:<9} {:<9} {:<11} {}",
                        user,
                        conn.peer.ip(),
                        0,
                        uptime,
                        0,
                        0,
                        2147483647u32,
                        2147483647u32
                    ));
                }
            }
            out.push(format!("{count} users connected."));
            Ok(out)
        }
        _ => {
            let words: Vec<&str> = command.split_whitespace().take(2).collect();
            Err(vec![format!(
                "No such command '{command}' (type 'core show help {}' for other possible commands)",
                words.join(" ")
            )])
        }
    }
}

/// Serves `Action: Command`.
pub(crate) fn command(shared: &Shared, request: &Packet, reply: &mut Reply) {
    let command = request
        .get("Command")
        .map(|v| v.to_str_lossy().trim().to_owned())
        .unwrap_or_default();
    if command.is_empty() {
        reply.error("No command provided");
        return;
    }
    let (ok, lines) = match run(shared, &command) {
        Ok(lines) => (true, lines),
        Err(lines) => (false, lines),
    };
    if shared.config.legacy_command {
        // Asterisk 13: headers, raw text with bare-LF line ends, then the marker.
        let mut out = Vec::new();
        put(&mut out, "Response", b"Follows");
        put(&mut out, "Privilege", b"Command");
        if let Some(id) = reply.action_id() {
            put(&mut out, "ActionID", id);
        }
        for line in &lines {
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
        out.extend_from_slice(b"--END COMMAND--\r\n\r\n");
        reply.packets.push((out, true));
        return;
    }
    let fields: Vec<(&str, &str)> = std::iter::once(("Message", "Command output follows"))
        .chain(lines.iter().map(|l| ("Output", l.as_str())))
        .collect();
    reply.respond(if ok { "Success" } else { "Error" }, &fields);
}
