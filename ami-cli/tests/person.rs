//! `ami` as a person's tool, run as a process: the interactive mode through a
//! pseudo-terminal, lines from a pipe, colour, `events --reconnect`, a failed
//! originate, per-subcommand help, `ami fake`, and record then replay.
//!
//! No sleeps for synchronisation: every wait is a read or a poll with a deadline.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ami_proto::{Action, Config, Credentials};
use ami_testkit::{Direction, Event, FakeAsterisk, Recording};
use rexpect::process::WaitStatus;
use rexpect::reader::Options;

const DEADLINE: Duration = Duration::from_secs(60);

/// The binary with a clean environment: no AMI_* or colour variable from the caller.
fn ami() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ami"));
    for var in [
        "AMI_HOST",
        "AMI_PORT",
        "AMI_USER",
        "AMI_SECRET",
        "AMI_MD5",
        "AMI_TLS",
        "AMI_CA",
        "AMI_TIMEOUT",
        "AMI_HISTORY",
        "NO_COLOR",
    ] {
        command.env_remove(var);
    }
    command.env("TERM", "xterm");
    command.stdin(Stdio::null());
    command
}

/// The binary pointed at `port` as admin, secret in the environment.
fn ami_at_port(port: u16) -> Command {
    let mut command = ami();
    command
        .args(["--host", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .args(["--user", "admin"])
        .env("AMI_SECRET", "amp111");
    command
}

fn ami_at(fake: &FakeAsterisk) -> Command {
    ami_at_port(fake.addr().port())
}

fn scratch(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()))
}

/// Runs to completion with `input` on stdin, failing after [`DEADLINE`].
fn run_with(command: &mut Command, input: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ami");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_owned();
    std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    rx.recv_timeout(DEADLINE)
        .expect("ami finished within the deadline")
        .expect("ami output")
}

fn run(command: &mut Command) -> Output {
    run_with(command, "")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
}

/// The lines a child writes on a pipe, through a channel to await with a deadline.
fn lines(pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// Waits for a line containing `needle` and returns it.
fn wait_for(rx: &mpsc::Receiver<String>, needle: &str) -> String {
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(DEADLINE) {
            Ok(line) if line.contains(needle) => return line,
            Ok(line) => seen.push(line),
            Err(e) => panic!("no line with {needle:?} ({e}); saw {seen:?}"),
        }
    }
}

/// Polls `condition` until it holds, failing the test after [`DEADLINE`].
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < DEADLINE, "never happened: {what}");
        std::thread::yield_now();
    }
}

/// The port in a line like `... listening on 127.0.0.1:41234: ...`.
fn port_in(line: &str) -> u16 {
    let after = line.split("listening on ").nth(1).expect("an address");
    let addr = after.split([' ', ',']).next().expect("an address");
    let port = addr
        .trim_end_matches(':')
        .rsplit(':')
        .next()
        .expect("a port");
    port.parse()
        .unwrap_or_else(|_| panic!("no port in {line:?}"))
}

/// Kills the child on drop, so a failing test leaves no process behind.
struct Running(Option<Child>);

impl Running {
    fn spawn(command: &mut Command) -> Running {
        Running(Some(command.spawn().expect("spawn ami")))
    }

    fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("still running")
    }

    fn exit_code(mut self) -> Option<i32> {
        let mut child = self.0.take().expect("still running");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || tx.send(child.wait()));
        let status = rx.recv_timeout(DEADLINE).expect("ami exits in time");
        status.expect("exit status").code()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `ami fake` with these arguments, and the port it printed.
fn start_fake(args: &[&str]) -> (Running, u16) {
    let mut fake = Running::spawn(
        ami()
            .args(["fake", "--port", "0"])
            .args(args)
            .stdout(Stdio::piped()),
    );
    let out = lines(fake.child().stdout.take().expect("stdout"));
    let port = port_in(&wait_for(&out, "listening on"));
    (fake, port)
}

/// Runs `command` on a pseudo-terminal (its stdin, stdout and stderr).
fn pty(mut command: Command, strip_colour: bool) -> rexpect::session::PtySession {
    // rexpect points the standard streams at the terminal before exec; a Stdio
    // set on the Command would replace it.
    command
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    let options = Options::new()
        .timeout_ms(Some(DEADLINE.as_millis() as u64))
        .strip_ansi_escape_codes(strip_colour);
    rexpect::session::spawn_with_options(command, options).expect("spawn ami in a pty")
}

#[test]
fn interactive_mode_sends_lines_completes_names_keeps_history_and_shows_events() {
    let fake = FakeAsterisk::start();
    let history = scratch("ami-history");
    let _ = std::fs::remove_file(&history);
    let mut command = ami_at(&fake);
    command.env("AMI_HISTORY", &history);
    let mut p = pty(command, true);
    p.exp_string("/help for help").unwrap();
    p.exp_string("> ").unwrap();

    p.send_line("Ping").unwrap();
    p.exp_string("Ping: Pong").unwrap();
    p.exp_string("> ").unwrap();

    // Tab completes the action name: "Pin" alone would be an unknown action.
    p.send("Pin").unwrap();
    p.send("\t").unwrap();
    p.flush().unwrap();
    p.send_line("").unwrap();
    p.exp_string("Ping: Pong").unwrap();
    p.exp_string("> ").unwrap();

    // Up arrow: the last line again.
    p.send("\x1b[A").unwrap();
    p.flush().unwrap();
    p.send_line("").unwrap();
    p.exp_string("Ping: Pong").unwrap();
    p.exp_string("> ").unwrap();
    let pings = fake
        .recorded_actions(0)
        .iter()
        .filter(|a| a.is("Action", "Ping"))
        .count();
    assert_eq!(pings, 3);

    p.send_line("/help").unwrap();
    p.exp_string("/events on|off").unwrap();
    p.exp_string("> ").unwrap();

    p.send_line("/events on").unwrap();
    p.exp_string("events on").unwrap();
    p.exp_string("> ").unwrap();
    let reached = fake.push_event(
        &Event::new("UserEvent")
            .header("Privilege", "user,all")
            .header("UserEvent", "HelloFromTheTest"),
    );
    assert_eq!(reached, 1);
    p.exp_string("UserEvent: HelloFromTheTest").unwrap();

    // Key=Value pairs, a quoted value with spaces; the outcome event is printed.
    p.send_line(
        r#"Originate Channel=PJSIP/100 Context=default Exten=200 Priority=1 Async=true Variable="GREETING=hello world""#,
    )
    .unwrap();
    p.exp_string("Event: OriginateResponse").unwrap();
    p.exp_string("> ").unwrap();
    let actions = fake.recorded_actions(0);
    let originate = actions
        .iter()
        .find(|a| a.is("Action", "Originate"))
        .expect("the Originate was sent");
    assert!(originate.is("Channel", "PJSIP/100"));
    assert!(originate.is("Variable", "GREETING=hello world"));

    // An error is printed and the prompt goes on.
    p.send_line("NoSuchAction").unwrap();
    p.exp_string("(error) the server answered Error").unwrap();
    p.exp_string("> ").unwrap();

    p.send_line("/quit").unwrap();
    p.exp_eof().unwrap();
    match p.process().wait().unwrap() {
        WaitStatus::Exited(_, code) => assert_eq!(code, 0),
        other => panic!("ami did not exit: {other:?}"),
    }
    let saved = std::fs::read_to_string(&history).expect("history saved");
    let _ = std::fs::remove_file(&history);
    assert!(
        saved.contains("Ping") && saved.contains("Originate"),
        "{saved}"
    );
}

#[test]
fn without_a_terminal_each_stdin_line_is_an_action() {
    let fake = FakeAsterisk::start();
    let output = run_with(
        &mut ami_at(&fake),
        "Ping\nBogus\nCommand Command=\"core show version\"\n\n",
    );
    assert_exit(&output, 8);
    let out = text(&output.stdout);
    assert!(out.contains("Ping: Pong"), "{out}");
    assert!(out.contains("Output: Asterisk 22"), "{out}");
    let err = text(&output.stderr);
    assert!(err.contains("line 2: the server answered Error"), "{err}");
    assert!(err.contains("1 of 4 lines failed"), "{err}");
    assert!(!out.contains('\x1b'), "no colour when piped: {out:?}");

    // With no user, nothing to connect as: a usage error, as before.
    let output = run(&mut ami());
    assert_exit(&output, 2);
    assert!(text(&output.stderr).contains("no user"));
}

#[test]
fn colour_on_a_terminal_unless_no_color_plain_when_piped_unless_always() {
    let fake = FakeAsterisk::start();
    let green_success = "\x1b[1;32mSuccess\x1b[0m";

    let piped = run(ami_at(&fake).args(["send", "Ping"]));
    assert_exit(&piped, 0);
    assert!(!text(&piped.stdout).contains('\x1b'));

    let forced = run(ami_at(&fake).args(["send", "Ping", "--color", "always"]));
    assert_exit(&forced, 0);
    assert!(text(&forced.stdout).contains(green_success));

    let mut command = ami_at(&fake);
    command.args(["send", "Ping"]);
    let mut p = pty(command, false);
    p.exp_string(green_success).unwrap();
    p.exp_eof().unwrap();

    let mut command = ami_at(&fake);
    command.args(["send", "Ping"]).env("NO_COLOR", "1");
    let mut p = pty(command, false);
    let seen = p.exp_eof().unwrap();
    assert!(seen.contains("Ping: Pong"), "{seen:?}");
    assert!(!seen.contains('\x1b'), "{seen:?}");

    let mut command = ami_at(&fake);
    command.args(["--color", "never", "send", "Ping"]);
    let mut p = pty(command, false);
    let seen = p.exp_eof().unwrap();
    assert!(
        seen.contains("Ping: Pong") && !seen.contains('\x1b'),
        "{seen:?}"
    );
}

#[test]
fn events_reconnect_goes_on_across_a_server_restart() {
    let fake = FakeAsterisk::start();
    let mut events = Running::spawn(
        ami_at(&fake)
            .args(["events", "--reconnect"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let out = lines(events.child().stdout.take().expect("stdout"));
    let err = lines(events.child().stderr.take().expect("stderr"));
    wait_for(&err, "printing events");
    let user_event = |name: &str| {
        Event::new("UserEvent")
            .header("Privilege", "user,all")
            .header("UserEvent", name)
    };
    assert_eq!(fake.push_event(&user_event("BeforeRestart")), 1);
    wait_for(&out, "UserEvent: BeforeRestart");

    fake.restart();
    wait_for(&err, "reconnected");
    eventually("the new session gets the event", || {
        fake.push_event(&user_event("AfterRestart")) == 1
    });
    wait_for(&out, "UserEvent: AfterRestart");
    assert!(
        events.child().try_wait().unwrap().is_none(),
        "still running"
    );
}

#[test]
fn a_failed_async_originate_exits_9_with_the_reason() {
    let fake = FakeAsterisk::start();
    let output = run(ami_at(&fake).args([
        "send",
        "Originate",
        "Channel=PJSIP/busy",
        "Context=default",
        "Exten=200",
        "Priority=1",
        "Async=true",
    ]));
    assert_exit(&output, 9);
    assert!(text(&output.stdout).contains("Reason: 5"));
    let err = text(&output.stderr);
    assert!(err.contains("PJSIP/busy failed: busy"), "{err}");

    let output = run(ami_at(&fake).args([
        "send",
        "Originate",
        "Channel=PJSIP/100",
        "Context=default",
        "Exten=200",
        "Priority=1",
        "Async=true",
    ]));
    assert_exit(&output, 0);
}

#[test]
fn each_subcommand_help_lists_only_the_options_it_uses() {
    let connection = [
        "--host",
        "--user",
        "--secret",
        "--md5",
        "--tls",
        "--timeout",
    ];
    let cases: &[(&str, &[&str], &[&str])] = &[
        ("bench", &["--quick"], &connection),
        (
            "fake",
            &[
                "--port",
                "--replay",
                "[default: 5038]",
                "[default: admin]",
                "[default: amp111]",
            ],
            &["--host", "--md5", "--tls", "--timeout", "--json"],
        ),
        (
            "record",
            &["--listen", "--to", "--keep-secrets"],
            &["--user", "--md5", "--json"],
        ),
        (
            "tour",
            &["--quick", "--host", "--user"],
            &["--json", "--filter", "--color"],
        ),
        (
            "send",
            &["--host", "--user", "--json", "--color"],
            &["--quick", "--filter", "--reconnect"],
        ),
        (
            "command",
            &["--host", "--user", "--json"],
            &["--quick", "--filter"],
        ),
        (
            "events",
            &["--host", "--filter", "--reconnect", "--color"],
            &["--quick", "--replay"],
        ),
    ];
    for (subcommand, has, lacks) in cases {
        let output = run(ami().args([subcommand, "--help"]));
        assert_exit(&output, 0);
        let help = text(&output.stdout);
        for option in *has {
            assert!(
                help.contains(option),
                "{subcommand}: {option} missing:\n{help}"
            );
        }
        for option in *lacks {
            assert!(
                !help.contains(option),
                "{subcommand}: {option} listed:\n{help}"
            );
        }
    }
}

#[test]
fn fake_serves_a_client_with_its_user_and_secret() {
    let (fake, port) = start_fake(&["--user", "bob", "--secret", "s3cret"]);
    let addr = format!("127.0.0.1:{port}");
    let client = ami_blocking::connect(
        addr.as_str(),
        Config::new(Credentials::md5("bob", "s3cret")),
    )
    .expect("log in to ami fake");
    let pong = client.send(Action::new("Ping")).wait().expect("a pong");
    assert!(pong.response().is("Ping", "Pong"));
    let _ = client.logoff().wait();

    let refused = ami_blocking::connect(
        addr.as_str(),
        Config::new(Credentials::plain("bob", "wrong")),
    );
    assert!(
        matches!(refused, Err(ami_proto::Error::Auth(_))),
        "{refused:?}"
    );
    drop(fake);
}

/// Output with the ActionID lines left out (they differ from run to run).
fn without_action_ids(output: &[u8]) -> String {
    text(output)
        .lines()
        .filter(|line| !line.starts_with("ActionID: "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn record_through_the_proxy_then_replay_gives_the_client_the_same_replies() {
    let fake = FakeAsterisk::start();
    let file = scratch("ami-session.ami-record");
    let mut record = Running::spawn(
        ami()
            .arg("record")
            .arg(&file)
            .args(["--listen", "127.0.0.1:0", "--to"])
            .arg(fake.addr().to_string())
            .stderr(Stdio::piped()),
    );
    let err = lines(record.child().stderr.take().expect("stderr"));
    let proxy = port_in(&wait_for(&err, "listening on"));
    let script = "Ping\n\
                  CoreShowChannels\n\
                  Command Command=\"core show version\"\n\
                  Originate Channel=PJSIP/100 Context=default Exten=200 Priority=1 Async=true\n\
                  CoreShowChannels\n";
    let recorded = run_with(&mut ami_at_port(proxy), script);
    assert_exit(&recorded, 0);
    assert_eq!(
        record.exit_code(),
        Some(0),
        "the session ended: record stops"
    );

    let bytes = std::fs::read(&file).expect("the recording");
    assert!(bytes.starts_with(b"ami-record 1\nserver "));
    let recording = Recording::parse(&bytes).expect("a well-formed recording");
    let client = recording.stream(Direction::Client);
    let client_text = text(&client);
    assert!(client_text.contains("Secret: ******\r\n"), "{client_text}");
    assert!(
        !text(&bytes).contains("amp111"),
        "the secret is not in the file"
    );
    assert!(client_text.contains("Action: Originate\r\n"));
    let millis: Vec<u64> = recording.chunks.iter().map(|c| c.millis).collect();
    assert!(millis.windows(2).all(|w| w[0] <= w[1]), "{millis:?}");
    // The server's bytes are the fake's, byte for byte.
    let server = recording.stream(Direction::Server);
    assert!(server.starts_with(b"Asterisk Call Manager/11.0.0\r\n"));
    assert!(text(&server).contains("Event: OriginateResponse\r\n"));

    let (replayer, port) = start_fake(&["--replay", file.to_str().expect("a UTF-8 path")]);
    // MD5 this time: the Challenge the recording lacks comes from the fake itself.
    let replayed = run_with(ami_at_port(port).arg("--md5"), script);
    drop(replayer);
    let _ = std::fs::remove_file(&file);
    assert_exit(&replayed, 0);
    assert_eq!(
        without_action_ids(&replayed.stdout),
        without_action_ids(&recorded.stdout)
    );
    let out = text(&replayed.stdout);
    for needle in [
        "Ping: Pong",
        "Event: CoreShowChannelsComplete",
        "Output: Asterisk 22",
        "Event: OriginateResponse",
    ] {
        assert!(out.contains(needle), "{needle} missing:\n{out}");
    }
}

/// `ami bridge` runs the `ami-bridge` program next to `ami` (a workspace build
/// puts both in one directory) with its arguments; without it, a clear error.
#[test]
fn bridge_runs_ami_bridge_or_says_how_to_install_it() {
    let ami = std::path::PathBuf::from(env!("CARGO_BIN_EXE_ami"));
    let beside = ami.with_file_name(format!("ami-bridge{}", std::env::consts::EXE_SUFFIX));
    let output = std::process::Command::new(&ami)
        .args(["bridge", "--help"])
        .env("PATH", "")
        .output()
        .expect("run ami");
    let text = String::from_utf8_lossy(&output.stdout);
    let error = String::from_utf8_lossy(&output.stderr);
    if beside.is_file() {
        assert!(output.status.success(), "{error}");
        assert!(text.contains("NATS JetStream"), "{text}");
    } else {
        assert_eq!(output.status.code(), Some(2), "{error}");
        assert!(error.contains("cargo install --path ami-bridge"), "{error}");
    }
}
