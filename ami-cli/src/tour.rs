//! `ami tour`: the library at work, through each runtime adapter.
//!
//! Without `--host` it starts the embedded fake Asterisk (ami-testkit) and runs
//! every step; with `--host` it runs the read-only steps (login, Pings,
//! CoreShowChannels, `core show version`) against a real server.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use ami_proto::{Action, AuthMethod, Config, Error, Event};
use ami_testkit::{FakeAsterisk, Rate};

use crate::adapters::{Adapter, Blocking, EventSource, Next, Smol, Tokio};
use crate::bench::{self, Mode, Progress};
use crate::cli::{ConnArgs, TourArgs};
use crate::connect::{self, Target};
use crate::error::{CliError, Exit, Phase};
use crate::output::summary;

/// What the steps run against.
struct Stage<'a> {
    target: &'a Target,
    config: &'a Config,
    /// The embedded server and the events to flood it with; `None` for a real server.
    fake: Option<(&'a FakeAsterisk, &'a [Vec<u8>])>,
    pings: usize,
}

/// Runs `ami tour`.
pub fn run(conn: &ConnArgs, args: &TourArgs) -> Result<(), CliError> {
    match &conn.host {
        None => embedded(args.quick),
        Some(host) => real(conn, host, args.quick),
    }
}

fn embedded(quick: bool) -> Result<(), CliError> {
    let started = Instant::now();
    let (fake, target, config) = bench::embedded();
    let data = bench::corpus(quick);
    let events = ami_testkit::event_packets(data);
    println!(
        "ami tour: an embedded fake Asterisk (ami-testkit) listens on {}.",
        target.addr
    );
    println!("Each runtime adapter logs in with MD5 and runs the same steps on it.");
    println!("{AMI_VERSION_NOTE}");
    let stage = Stage {
        target: &target,
        config: &config,
        fake: Some((&fake, &events)),
        pings: if quick { 50 } else { 200 },
    };
    steps::<Tokio>(&stage)?;
    steps::<Blocking>(&stage)?;
    steps::<Smol>(&stage)?;
    // The steps are done with it: each measured run starts a fake of its own.
    drop(fake);
    let report = bench::measure(&if quick {
        Mode {
            naive: false,
            ..Mode::QUICK
        }
    } else {
        Mode::TOUR
    })?;
    println!();
    bench::print_report_short(&report);
    println!();
    println!(
        "Tour done in {:.1} s. Next: `ami bench`, or against your Asterisk:",
        started.elapsed().as_secs_f64()
    );
    println!("  AMI_SECRET=... ami --host pbx.example.com --user admin --md5 tour");
    Ok(())
}

fn real(conn: &ConnArgs, host: &str, quick: bool) -> Result<(), CliError> {
    let credentials = connect::credentials(conn)?;
    let target = Target::new(conn, host, &credentials.username)?;
    let config = connect::client_config(conn, credentials)?;
    println!(
        "ami tour: read-only steps against {} (no call is placed, no flood).",
        target.addr
    );
    println!("{AMI_VERSION_NOTE}");
    let stage = Stage {
        target: &target,
        config: &config,
        fake: None,
        pings: if quick { 10 } else { 50 },
    };
    steps::<Tokio>(&stage)?;
    steps::<Blocking>(&stage)?;
    steps::<Smol>(&stage)?;
    let mode = Mode {
        naive: false,
        ..if quick { Mode::QUICK } else { Mode::TOUR }
    };
    let table = bench::parser(
        bench::corpus(mode.small_corpus),
        &mode,
        &mut Progress::new(bench::parser_steps(&mode)),
    );
    println!();
    bench::print_parser_short(&table, mode.parser_runs);
    Ok(())
}

/// Said once, before the login lines that show the version.
const AMI_VERSION_NOTE: &str =
    "The AMI version after each login is the server's banner: the protocol's, not Asterisk's.";

fn ms(since: Instant) -> u128 {
    since.elapsed().as_millis()
}

/// Every step through adapter `A`.
fn steps<A: Adapter>(stage: &Stage<'_>) -> Result<(), CliError> {
    let tag = format!("[{}]", A::NAME);
    let context = &stage.target.context;
    let fail = |action: &'static str| move |e| context.describe(e, Phase::Action(action));
    println!();

    let t = Instant::now();
    let client = A::connect(stage.target, stage.config.clone())
        .map_err(|e| context.describe(e, Phase::Connect))?;
    let credentials = stage.config.credentials.as_ref();
    let (user, how) = match credentials {
        Some(c) if c.auth == AuthMethod::Md5 => (c.username.as_str(), "MD5 login"),
        Some(c) => (c.username.as_str(), "login"),
        None => ("-", "connected"),
    };
    let version = match client.ami_version() {
        Some(version) if !version.is_empty() => format!(", AMI version {version}"),
        _ => ", no AMI version in the banner".to_owned(),
    };
    println!("{tag} {how} ok as {user} ({} ms){version}", ms(t));

    let injected = Action::new("Ping").header("X-Note", "a\r\nAction: Originate");
    match client.send(injected) {
        Err(Error::Invalid(e)) => println!("{tag} injection refused before sending: {e}"),
        other => return Err(unexpected("a CR/LF value refused", other.map(drop))),
    }

    let t = Instant::now();
    let n = stage.pings;
    let replies = client.send_all((0..n).map(|_| Action::new("Ping")).collect());
    let mut ids = HashSet::new();
    let mut pongs = 0;
    for reply in replies {
        let reply = reply.map_err(fail("Ping"))?;
        let response = reply.response();
        if response.is("Response", "Success") {
            pongs += 1;
        }
        if let Some(id) = response.action_id() {
            ids.insert(id.as_bytes().to_vec());
        }
    }
    println!(
        "{tag} {n} concurrent Pings: {pongs}/{n} Success, {} distinct ActionIDs, each reply matched to its action ({} ms)",
        ids.len(),
        ms(t)
    );
    if pongs != n || ids.len() != n {
        return Err(CliError::new(
            Exit::Other,
            format!("{tag} some Pings were not matched"),
        ));
    }

    let list = client
        .client()
        .list(Action::new("CoreShowChannels"))
        .wait()
        .map_err(fail("CoreShowChannels"))?;
    let verified = match list.verify() {
        Ok(()) => "ListItems verified",
        Err(_) => "ListItems MISMATCH",
    };
    println!(
        "{tag} CoreShowChannels: a list of {} channels, {verified}",
        list.received
    );
    for item in list.items.iter().take(3) {
        println!("{tag}   {}", summary(item));
    }
    if list.items.len() > 3 {
        println!("{tag}   ... and {} more", list.items.len() - 3);
    }

    let output = client
        .client()
        .command("core show version")
        .wait()
        .map_err(fail("Command"))?;
    println!(
        "{tag} Command \"core show version\": {}",
        output.first().map_or("(no output)", String::as_str)
    );

    let Some((fake, flood_events)) = stage.fake else {
        client.logoff().map_err(fail("Logoff"))?;
        println!("{tag} logoff ok");
        return Ok(());
    };

    originate(&client, &tag)?;

    flood(&client, fake, flood_events, &tag);
    client.logoff().map_err(fail("Logoff"))?;
    println!("{tag} logoff ok");
    Ok(())
}

/// Floods `events` from `fake` to `client` (the only logged-in session) and
/// counts what its subscriber receives. A demonstration: the ratios at the end
/// are measured apart, as the benches measure them.
fn flood<A: Adapter>(client: &A, fake: &FakeAsterisk, events: &[Vec<u8>], tag: &str) {
    let mut subscriber = client.events();
    let start = Instant::now();
    let flood = fake.flood(events.to_vec(), Rate::Unlimited);
    let (mut received, mut lagged, mut last) = (0u64, 0u64, start);
    while received + lagged < events.len() as u64 {
        match subscriber.next_within(Duration::from_secs(5)) {
            Next::Event(Event::Lagged(n)) => lagged += n,
            Next::Event(Event::Event(_) | Event::Unmatched(_)) => {
                received += 1;
                last = Instant::now();
            }
            Next::Event(_) => {}
            Next::Timeout | Next::Ended => break,
        }
    }
    let _ = flood.stop();
    let lost = match lagged {
        0 => String::new(),
        n => format!(" ({} lost: the subscriber lagged)", bench::thousands(n)),
    };
    println!(
        "{tag} flood: {} of {} events received in {} ms{lost}",
        bench::thousands(received),
        bench::thousands(events.len() as u64),
        last.duration_since(start).as_millis()
    );
}

/// An async Originate: subscribe, originate, print the call's events and outcome.
fn originate<A: Adapter>(client: &A, tag: &str) -> Result<(), CliError> {
    let mut events = client.events(); // before originating: no event is missed
    let t = Instant::now();
    let call = Action::new("Originate")
        .header("Channel", "Local/100@default")
        .header("Application", "Wait")
        .header("Data", "1")
        .header("Async", "true");
    let outcome = client
        .client()
        .originate(call)
        .wait()
        .map_err(|e| CliError::new(Exit::Other, format!("{tag} Originate failed: {e}")))?;
    println!(
        "{tag} Originate Local/100@default, async: {:?}; the call's events:",
        outcome
            .response
            .message()
            .map(|m| m.to_str_lossy().into_owned())
            .unwrap_or_default()
    );
    let channel = outcome
        .event
        .as_ref()
        .and_then(|e| e.get("Channel"))
        .map(|v| v.as_bytes().to_vec());
    loop {
        match events.next_within(Duration::from_millis(300)) {
            Next::Event(Event::Event(event)) => {
                println!("{tag}   {}", summary(&event));
                let last = event.event_name().is_some_and(|n| n == "Newexten")
                    && event.get("Channel").map(|v| v.as_bytes().to_vec()) == channel;
                if last {
                    break;
                }
            }
            Next::Event(_) => {}
            Next::Timeout | Next::Ended => break,
        }
    }
    let reason = match outcome.reason() {
        Some(4) => "4, answered",
        Some(5) => "5, busy",
        Some(3) => "3, no answer",
        Some(0) => "0, failed",
        _ => "unknown",
    };
    println!(
        "{tag} outcome: OriginateResponse {} (reason {reason}) after {} ms",
        if outcome.is_success() {
            "Success"
        } else {
            "Failure"
        },
        ms(t)
    );
    Ok(())
}

fn unexpected(wanted: &str, got: Result<(), Error>) -> CliError {
    CliError::new(Exit::Other, format!("tour: expected {wanted}, got {got:?}"))
}
