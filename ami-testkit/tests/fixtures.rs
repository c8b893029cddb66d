//! The fixtures recorded from a real Asterisk 22.10.1, against the fake.

mod common;

use ami_testkit::FakeAsterisk;
use common::{fixture, parse_all, shape, Client};

const FIXTURES: &[&str] = &[
    "01_banner_login_ping",
    "02_challenge_md5_login",
    "02b_failed_login_and_unauth_action",
    "03_command",
    "04_coreshowchannels",
    "05_originate_local_app_wait",
    "07_originate_dial_bridge_events",
];

#[test]
fn replayed_server_transcripts_reach_the_client_byte_for_byte() {
    for name in FIXTURES {
        let transcript = fixture(&format!("{name}.server"));
        let fake = FakeAsterisk::builder().replay(transcript.clone()).start();
        let mut client = Client::connect_raw(fake.addr());
        client.send(&fixture(&format!("{name}.client")));
        assert_eq!(client.read_to_eof(), transcript, "{name}");
        // And an ami-proto client parses it as the original.
        let packets = parse_all(&client.raw);
        assert_eq!(packets.len(), parse_all(&transcript).len(), "{name}");
        assert_eq!(client.banner_version(), "11.0.0");
    }
}

trait BannerVersion {
    fn banner_version(&mut self) -> String;
}

impl BannerVersion for Client {
    fn banner_version(&mut self) -> String {
        let mut parser = ami_proto::Parser::new();
        parser.feed(&self.raw);
        match parser.next() {
            Some(ami_proto::Parsed::Banner(b)) => b.version().unwrap_or_default().to_owned(),
            other => panic!("no banner: {other:?}"),
        }
    }
}

/// Sends a fixture's `.client` bytes to the fake and compares the reply sequence with
/// the real server's: kinds, names, ActionIDs and Messages, in order.
fn same_replies_as_asterisk(name: &str, fake: FakeAsterisk) {
    let mut client = Client::connect_raw(fake.addr());
    client.send(&fixture(&format!("{name}.client")));
    let got: Vec<_> = parse_all(&client.read_to_eof()).iter().map(shape).collect();
    let want: Vec<_> = parse_all(&fixture(&format!("{name}.server")))
        .iter()
        .map(shape)
        .collect();
    assert_eq!(got, want, "{name}");
    assert!(client.raw.starts_with(b"Asterisk Call Manager/11.0.0\r\n"));
    assert_eq!(
        fake.recorded(0),
        fixture(&format!("{name}.client")),
        "{name}: recorded bytes"
    );
}

#[test]
fn fixture_01_login_ping_logoff() {
    same_replies_as_asterisk("01_banner_login_ping", FakeAsterisk::start());
}

#[test]
fn fixture_02_md5_login_with_the_recorded_challenge() {
    // The fixture's key is md5("204268188" + "amp111"): the same bytes log in here.
    let fake = FakeAsterisk::builder().challenge("204268188").start();
    same_replies_as_asterisk("02_challenge_md5_login", fake);
}

#[test]
fn fixture_02b_permission_denied_then_failed_login_closes() {
    same_replies_as_asterisk("02b_failed_login_and_unauth_action", FakeAsterisk::start());
}

#[test]
fn fixture_03_command() {
    let fake = FakeAsterisk::builder()
        .command_output(
            "dialplan show 100@test",
            "[ Context 'test' created by 'pbx_config' ]\n  '100' =>  1. NoOp(test 100)",
        )
        .start();
    same_replies_as_asterisk("03_command", fake);
}

#[test]
fn fixture_04_core_show_channels() {
    same_replies_as_asterisk("04_coreshowchannels", FakeAsterisk::start());
}

#[test]
fn fixture_03_exact_bytes_of_messages() {
    let fake = FakeAsterisk::start();
    let mut client = Client::connect_raw(fake.addr());
    client.send(&fixture("03_command.client"));
    let got = client.read_to_eof();
    let text = String::from_utf8_lossy(&got);
    for line in [
        "Response: Error\r\nActionID: cmd-6\r\nMessage: No command provided\r\n\r\n",
        "Response: Error\r\nActionID: bogus-1\r\nMessage: Invalid/unknown command: NoSuchAction. Use Action: ListCommands to show available commands.\r\n\r\n",
        "Response: Goodbye\r\nMessage: Thanks for all the fish.\r\n\r\n",
        "Response: Error\r\nActionID: cmd-3\r\nMessage: Command output follows\r\nOutput: No such command 'this is not a command'",
    ] {
        assert!(text.contains(line), "missing {line:?} in {text}");
    }
}
