//! The `ami` binary run as a process against an in-process fake Asterisk.
//!
//! No sleeps for synchronisation: every wait is a read with a deadline.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use ami_testkit::{Event, FakeAsterisk, Fault};

const DEADLINE: Duration = Duration::from_secs(60);

/// The binary with a clean environment: no AMI_* variable from the caller.
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
        "AMI_URL",
    ] {
        command.env_remove(var);
    }
    command.stdin(Stdio::null());
    command
}

/// The binary pointed at `fake` as admin, secret in the environment.
fn ami_at(fake: &FakeAsterisk) -> Command {
    let mut command = ami();
    command
        .args(["--host", "127.0.0.1", "--port"])
        .arg(fake.addr().port().to_string())
        .args(["--user", "admin"])
        .env("AMI_SECRET", "amp111");
    command
}

/// Runs to completion, failing the test if that takes longer than [`DEADLINE`].
fn run(command: &mut Command) -> Output {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ami");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    rx.recv_timeout(DEADLINE)
        .expect("ami finished within the deadline")
        .expect("ami output")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
}

/// The lines a child writes on one of its pipes, delivered through a channel so
/// that each can be awaited with a deadline.
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

/// Waits for a line containing `needle`; returns the lines seen before it.
fn wait_for(rx: &mpsc::Receiver<String>, needle: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(DEADLINE) {
            Ok(line) if line.contains(needle) => return seen,
            Ok(line) => seen.push(line),
            Err(e) => panic!("no line with {needle:?} ({e}); saw {seen:?}"),
        }
    }
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

    /// Waits for the exit code, failing the test after [`DEADLINE`].
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

#[test]
fn send_ping_prints_the_response_as_ami_text() {
    let fake = FakeAsterisk::start();
    let output = run(ami_at(&fake).args(["send", "Ping"]));
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert!(text.starts_with("Response: Success\n"), "{text}");
    assert!(text.contains("\nPing: Pong\n"), "{text}");
    assert!(text.contains("\nActionID: "), "{text}");
    assert!(text.ends_with("\n\n"), "{text}");
    let actions = fake.recorded_actions(0);
    assert!(actions.iter().any(|a| a.is("Action", "Ping")));
}

#[test]
fn url_sends_and_runs_commands_over_http() {
    let fake = FakeAsterisk::builder().http(true).start();
    let url = format!("http://{}/", fake.http_addr().unwrap());
    let mut ping = ami();
    ping.args(["--url", &url, "--user", "admin", "send", "Ping"])
        .env("AMI_SECRET", "amp111");
    let output = run(&mut ping);
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert!(text.starts_with("Response: Success\n"), "{text}");
    assert!(text.contains("\nPing: Pong\n"), "{text}");
    let mut command = ami();
    command
        .args([
            "--url",
            &url,
            "--user",
            "admin",
            "command",
            "core show version",
        ])
        .env("AMI_SECRET", "amp111");
    let output = run(&mut command);
    assert_exit(&output, 0);
    assert!(stdout(&output).contains("Asterisk"), "{}", stdout(&output));
    let mut wrong = ami();
    wrong
        .args(["--url", &url, "--user", "admin", "send", "Ping"])
        .env("AMI_SECRET", "nope");
    assert_exit(&run(&mut wrong), 4);
}

#[test]
fn send_ping_json_is_one_object_per_line() {
    let fake = FakeAsterisk::start();
    let output = run(ami_at(&fake).args(["send", "Ping", "--json"]));
    assert_exit(&output, 0);
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    let json: serde_json::Value = serde_json::from_str(lines[0]).expect("valid JSON");
    assert_eq!(json["Response"], "Success");
    assert_eq!(json["Ping"], "Pong");
}

#[test]
fn send_originate_then_core_show_channels_prints_the_list_items() {
    let fake = FakeAsterisk::start();
    let output = run(ami_at(&fake).args([
        "send",
        "Originate",
        "Channel=Local/100@default",
        "Application=Wait",
        "Data=1",
        "Async=true",
    ]));
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert!(
        text.contains("Message: Originate successfully queued\n"),
        "{text}"
    );
    assert!(text.contains("Event: OriginateResponse\n"), "{text}");
    assert!(text.contains("Reason: 4\n"), "{text}");

    let output = run(ami_at(&fake).args(["send", "CoreShowChannels"]));
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert!(text.starts_with("Response: Success\n"), "{text}");
    assert_eq!(
        text.matches("Event: CoreShowChannel\n").count(),
        2,
        "{text}"
    );
    assert!(
        text.contains("Channel: Local/100@default-00000000;1\n"),
        "{text}"
    );
    assert!(text.contains("Event: CoreShowChannelsComplete\n"), "{text}");
    assert!(text.contains("ListItems: 2\n"), "{text}");

    let output = run(ami_at(&fake).args(["send", "CoreShowChannels", "--json"]));
    assert_exit(&output, 0);
    let packets: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).expect("valid JSON"))
        .collect();
    let names: Vec<&str> = packets.iter().filter_map(|p| p["Event"].as_str()).collect();
    assert_eq!(
        names,
        [
            "CoreShowChannel",
            "CoreShowChannel",
            "CoreShowChannelsComplete"
        ]
    );
    assert_eq!(packets[0]["EventList"], "start");
}

#[test]
fn send_an_unknown_action_exits_8_after_printing_the_error_response() {
    let fake = FakeAsterisk::start();
    let output = run(ami_at(&fake).args(["send", "NoSuchAction"]));
    assert_exit(&output, 8);
    assert!(stdout(&output).starts_with("Response: Error\n"));
    assert!(stderr(&output).contains("the server answered Error: Invalid/unknown command"));
}

#[test]
fn command_prints_the_output_lines() {
    let fake = FakeAsterisk::builder()
        .command_output("core show channels", "Channel  Location\n0 active channels")
        .start();
    let output = run(ami_at(&fake).args(["command", "core show version"]));
    assert_exit(&output, 0);
    assert_eq!(
        stdout(&output),
        "Asterisk 22.10.1 built by ami-testkit @ fake on a x86_64 running Linux\n"
    );
    let output = run(ami_at(&fake).args(["command", "core show channels"]));
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "Channel  Location\n0 active channels\n");

    let output = run(ami_at(&fake).args(["command", "core show nothing"]));
    assert_exit(&output, 8);
    assert!(stderr(&output).contains("No such command 'core show nothing'"));
}

#[test]
fn command_prints_legacy_asterisk_13_output_too() {
    let fake = FakeAsterisk::builder().legacy_command(true).start();
    let output = run(ami_at(&fake).args(["command", "core show version"]));
    assert_exit(&output, 0);
    assert_eq!(
        stdout(&output),
        "Asterisk 22.10.1 built by ami-testkit @ fake on a x86_64 running Linux\n"
    );
}

/// Starts `ami events ARGS`, waits until it says it is listening, pushes an event
/// the filter refuses and then one it accepts; returns the stdout lines up to the
/// accepted one.
fn events_with_filter(extra: &[&str], needle: &str) -> Vec<String> {
    let fake = FakeAsterisk::start();
    let mut child = Running::spawn(
        ami_at(&fake)
            .args(["events", "--filter", "UserEvent=^wanted$"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let out = lines(child.child().stdout.take().expect("stdout"));
    let err = lines(child.child().stderr.take().expect("stderr"));
    wait_for(&err, "printing events");
    let ignored = Event::new("UserEvent").header("UserEvent", "unwanted");
    let wanted = Event::new("UserEvent")
        .header("UserEvent", "wanted")
        .header("Seq", "1");
    assert_eq!(fake.push_event(&ignored), 1);
    assert_eq!(fake.push_event(&wanted), 1);
    wait_for(&out, needle)
}

#[test]
fn events_prints_only_what_the_filter_matches() {
    let before = events_with_filter(&[], "UserEvent: wanted");
    assert_eq!(before, ["Event: UserEvent"]);
}

#[test]
fn events_json_prints_one_object_per_event() {
    let before = events_with_filter(&["--json"], "\"UserEvent\":\"wanted\"");
    assert!(
        before.is_empty(),
        "the filtered-out event was printed: {before:?}"
    );
}

#[test]
fn a_wrong_secret_exits_4_with_a_readable_message() {
    let fake = FakeAsterisk::start();
    let output = run(ami_at(&fake)
        .env("AMI_SECRET", "wrong")
        .args(["send", "Ping"]));
    assert_exit(&output, 4);
    let message = stderr(&output);
    assert!(
        message.starts_with("ami: authentication failed for user \"admin\""),
        "{message}"
    );
    assert!(stdout(&output).is_empty());
}

#[test]
fn md5_login_works_and_a_wrong_md5_secret_exits_4() {
    let fake = FakeAsterisk::start();
    let output = run(ami_at(&fake).args(["--md5", "send", "Ping"]));
    assert_exit(&output, 0);
    let login = fake.recorded_actions(0);
    assert!(login[0].is("Action", "Challenge"));
    assert!(login.iter().all(|a| a.get("Secret").is_none()));
    let output = run(ami_at(&fake)
        .env("AMI_SECRET", "wrong")
        .args(["--md5", "send", "Ping"]));
    assert_exit(&output, 4);
    // AMI_MD5 in the environment: 1 turns MD5 on, 0 leaves it off.
    let output = run(ami_at(&fake).env("AMI_MD5", "1").args(["send", "Ping"]));
    assert_exit(&output, 0);
    assert!(fake.recorded_actions(2)[0].is("Action", "Challenge"));
    let output = run(ami_at(&fake).env("AMI_MD5", "0").args(["send", "Ping"]));
    assert_exit(&output, 0);
    assert!(fake.recorded_actions(3)[0].is("Action", "Login"));
}

#[test]
fn events_exits_3_when_the_server_goes_away() {
    let fake = FakeAsterisk::start();
    let mut child = Running::spawn(
        ami_at(&fake)
            .arg("events")
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    );
    let err = lines(child.child().stderr.take().expect("stderr"));
    wait_for(&err, "printing events");
    drop(fake);
    let before = wait_for(&err, "closed the connection");
    assert!(before.is_empty(), "{before:?}");
    assert_eq!(child.exit_code(), Some(3));
}

#[test]
fn a_closed_port_exits_3_connection_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let output = run(ami()
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--user", "admin", "--secret", "x", "send", "Ping"]));
    assert_exit(&output, 3);
    let message = stderr(&output);
    assert!(
        message.contains(&format!(
            "cannot connect to 127.0.0.1:{port}: connection refused"
        )),
        "{message}"
    );
}

#[test]
fn cr_lf_in_a_value_exits_7_before_anything_is_sent() {
    let fake = FakeAsterisk::start();
    let output = run(ami_at(&fake).args(["send", "Ping", "X=a\r\nb"]));
    assert_exit(&output, 7);
    let message = stderr(&output);
    assert!(
        message.contains("refused before sending anything"),
        "{message}"
    );
    assert!(message.contains("forbidden byte 0x0d"), "{message}");
    // Not even a connection: no byte of any action reached the server.
    assert!(fake.clients().is_empty());
    assert_eq!(fake.client_count(), 0);

    let output = run(ami_at(&fake).args(["command", "core show version\r\nAction: Originate"]));
    assert_exit(&output, 7);
    assert_eq!(fake.client_count(), 0);
}

#[test]
fn no_reply_within_timeout_exits_5() {
    let fake = FakeAsterisk::builder()
        .fault(Fault::NoReplyTo("Ping".into()))
        .start();
    let output = run(ami_at(&fake).args(["--timeout", "1", "send", "Ping"]));
    assert_exit(&output, 5);
    let message = stderr(&output);
    assert!(
        message.contains("timed out after 1 s waiting for the reply to Ping"),
        "{message}"
    );
    assert!(fake
        .recorded_actions(0)
        .iter()
        .any(|a| a.is("Action", "Ping")));
}

#[test]
fn usage_errors_exit_2() {
    let fake = FakeAsterisk::start();
    let output = run(ami_at(&fake).args(["send", "Ping", "NoEquals"]));
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("is not KEY=VALUE"));

    let output = run(ami().args(["send", "Ping"]));
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("no user"));

    let output = run(ami().args(["send"]));
    assert_exit(&output, 2);

    let output = run(ami_at(&fake).args(["events", "--filter", "Event=("]));
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("bad regex"));
    assert_eq!(fake.client_count(), 0);
}

#[test]
fn environment_variables_and_secret_env_configure_the_connection() {
    let fake = FakeAsterisk::start();
    let output = run(ami()
        .env("AMI_HOST", "127.0.0.1")
        .env("AMI_PORT", fake.addr().port().to_string())
        .env("AMI_USER", "admin")
        .env("MY_PBX_SECRET", "amp111")
        .args(["--secret-env", "MY_PBX_SECRET", "send", "Ping"]));
    assert_exit(&output, 0);
    assert!(stdout(&output).contains("Ping: Pong"));
}

#[test]
fn tls_with_the_servers_ca_works_and_without_it_exits_6() {
    let fake = FakeAsterisk::builder().tls(true).start();
    let ca = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ami-cli-test-ca-{}.pem", fake.addr().port()));
    std::fs::write(&ca, fake.tls_root_pem().expect("a TLS fake")).expect("write the CA");
    let output = run(ami_at(&fake).args(["--tls", "--ca"]).arg(&ca).args([
        "--tls-name",
        "localhost",
        "send",
        "Ping",
    ]));
    assert_exit(&output, 0);
    assert!(stdout(&output).contains("Ping: Pong"));

    // The system's roots do not trust a self-signed certificate.
    let output = run(ami_at(&fake).args(["--tls", "send", "Ping"]));
    let _ = std::fs::remove_file(&ca);
    assert_exit(&output, 6);
    assert!(
        stderr(&output).contains("TLS failure"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn help_documents_the_exit_codes() {
    let output = run(ami().arg("--help"));
    assert_exit(&output, 0);
    let help = stdout(&output);
    for line in [
        "3  could not connect",
        "4  authentication failed",
        "5  timed out",
        "6  TLS failure",
        "7  refused input",
        "8  the server answered",
    ] {
        assert!(help.contains(line), "{line:?} missing from --help:\n{help}");
    }
}

#[test]
fn tour_runs_every_step_through_each_adapter() {
    let output = run(ami().args(["tour", "--quick"]));
    assert_exit(&output, 0);
    let text = stdout(&output);
    for adapter in ["tokio", "blocking", "smol"] {
        for step in [
            "MD5 login ok as admin",
            "AMI version 11.0.0",
            "injection refused before sending",
            "50 concurrent Pings: 50/50 Success, 50 distinct ActionIDs",
            "CoreShowChannels: a list of",
            "Command \"core show version\": Asterisk 22.10.1",
            "Originate Local/100@default, async",
            "Newchannel",
            "outcome: OriginateResponse Success (reason 4, answered)",
            "flood: ",
            "logoff ok",
        ] {
            let line = format!("[{adapter}] ");
            assert!(
                text.lines()
                    .any(|l| l.starts_with(&line) && l.contains(step)),
                "no {step:?} line for {adapter}:\n{text}"
            );
        }
    }
    // The closing table: the ratios `ami bench` prints, without the baselines' rows.
    let table = &text[text.find("Ratios to the baselines").expect(&text)..];
    for (name, target) in TARGETS {
        let ratio = ratio_of(table, name);
        assert!(ratio.is_finite() && ratio > 0.0, "{name}: {ratio}\n{text}");
        if let Some(target) = target {
            assert!(row_line(table, name).contains(target), "{name}:\n{text}");
        }
    }
    for baseline in BASELINES {
        assert!(!table.contains(baseline), "{baseline}:\n{text}");
    }
}

/// The baselines' rows of `ami bench`, in order: each ratio's denominator.
const BASELINES: [&str; 3] = [
    "floor: memchr line ends",
    "raw TcpStream read + memchr line scan",
    "raw TcpStream, pipelined (one thread)",
];

/// The rows measured against a baseline, as the benches name them, and the
/// target each must show.
const TARGETS: [(&str, Option<&str>); 9] = [
    ("ami-proto whole", Some(">= 1.0x")),
    ("ami-proto 4KiB reads", Some(">= 1.0x")),
    ("ami-tokio (current_thread runtime)", Some(">= 0.5x")),
    ("ami-tokio (multi_thread, 2 workers)", Some(">= 0.5x")),
    ("ami-smol", Some(">= 0.5x")),
    ("ami-blocking", Some(">= 0.5x")),
    ("raw TcpStream, pipelined (two threads)", None),
    ("ami-tokio (current_thread), one task pipelined", None),
    ("ami-blocking, one thread pipelined", Some(">= 0.9x")),
];

/// The one line of `text` that is `row`'s (`  ami-smol   1,234   0.56x ...`).
fn row_line<'a>(text: &'a str, row: &str) -> &'a str {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.trim_start()
                .strip_prefix(row)
                .is_some_and(|rest| rest.starts_with("  "))
        })
        .collect();
    assert_eq!(lines.len(), 1, "one {row:?} row:\n{text}");
    lines[0]
}

/// The ratio on `row`'s line: the first token after the name ending in `x`.
/// NaN when there is none.
fn ratio_of(text: &str, row: &str) -> f64 {
    let rest = &row_line(text, row).trim_start()[row.len()..];
    rest.split_whitespace()
        .find_map(|token| token.strip_suffix('x'))
        .and_then(|number| number.parse().ok())
        .unwrap_or(f64::NAN)
}

#[test]
fn bench_quick_prints_every_ratio_with_its_target() {
    let output = run(ami().args(["bench", "--quick"]));
    assert_exit(&output, 0);
    let text = stdout(&output);
    // Every baseline's own row, at 1.00x.
    for baseline in BASELINES {
        assert_eq!(ratio_of(&text, baseline), 1.0, "{baseline}:\n{text}");
    }
    let naive = ratio_of(&text, "naive String/HashMap");
    assert!(naive.is_finite() && naive > 0.0, "naive: {naive}\n{text}");
    for (name, target) in TARGETS {
        let ratio = ratio_of(&text, name);
        assert!(ratio.is_finite() && ratio > 0.0, "{name}: {ratio}\n{text}");
        let line = row_line(&text, name);
        match target {
            Some(target) => assert!(
                line.ends_with(&format!("{target} met"))
                    || line.ends_with(&format!("{target} missed")),
                "{name}:\n{text}"
            ),
            None => assert!(!line.contains(">="), "{name}:\n{text}"),
        }
    }
    for heading in ["parser on ", "events/s, ", "round trips/s, "] {
        assert!(
            text.lines().any(|l| l.starts_with(heading)),
            "{heading}:\n{text}"
        );
    }
}

#[test]
fn tour_with_host_runs_only_the_read_only_steps() {
    let fake = FakeAsterisk::builder().ami_version("7.0.3").start();
    let output = run(ami_at(&fake).args(["--md5", "tour", "--quick"]));
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert!(
        text.contains("read-only steps against 127.0.0.1:"),
        "{text}"
    );
    for adapter in ["tokio", "blocking", "smol"] {
        for step in [
            "MD5 login ok as admin",
            "10 concurrent Pings: 10/10",
            "logoff ok",
        ] {
            assert!(
                text.contains(&format!("[{adapter}] {step}")),
                "{step}:\n{text}"
            );
        }
        // The version this server announced, read from the session's own banner.
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("[{adapter}] MD5 login ok"))
                    && l.ends_with(", AMI version 7.0.3")),
            "no AMI version on the {adapter} login line:\n{text}"
        );
    }
    // The closing table: the parser's ratios alone (nothing is flooded at a real server).
    for (name, target) in &TARGETS[..2] {
        let ratio = ratio_of(&text, name);
        assert!(ratio.is_finite() && ratio > 0.0, "{name}: {ratio}\n{text}");
        assert!(
            row_line(&text, name).contains(target.expect(name)),
            "{text}"
        );
    }
    assert!(!text.contains("events/s"), "{text}");
    assert_eq!(
        fake.client_count(),
        3,
        "one connection per adapter, none opened only to read the banner"
    );
    assert!(!text.contains("Originate"), "{text}");
    // Nothing but read-only actions reached the server.
    for index in 0..fake.client_count() {
        for action in fake.recorded_actions(index) {
            let name = action
                .get("Action")
                .expect("an action")
                .to_str_lossy()
                .into_owned();
            assert!(
                [
                    "Challenge",
                    "Login",
                    "Ping",
                    "CoreShowChannels",
                    "Command",
                    "Logoff"
                ]
                .contains(&name.as_str()),
                "{name} sent to a real server"
            );
        }
    }
}

#[test]
fn send_checks_documented_required_parameters_and_lists_them() {
    let output = run(ami().args(["send", "Originate", "--params"]));
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert!(text.contains("* Channel"), "{text}");
    assert!(text.contains("  Context"), "{text}");
    // Refused before connecting (no server listens here).
    let output = run(ami().args([
        "--port",
        "1",
        "--user",
        "admin",
        "--secret",
        "x",
        "send",
        "Originate",
        "Context=default",
    ]));
    assert_exit(&output, 2);
    assert!(
        stderr(&output).contains("Originate needs Channel"),
        "{}",
        stderr(&output)
    );
    // An action the documentation does not know is sent as given.
    let output = run(ami().args(["send", "NoSuchAction", "--params"]));
    assert_exit(&output, 2);
}
