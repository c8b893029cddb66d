//! Peak heap of an ami-tokio client while 1,000,000 events pass a slow subscriber
//! (`event_capacity` 1024): the subscriber must lag, never the memory grow.
//!
//! `cargo run --release -p ami-benches --bin slow_consumer [events]`
//!
//! The fake Asterisk runs in a child process (this binary again, with
//! `AMI_SLOW_CONSUMER_FAKE` set), so that the counting allocator sees only the
//! client: the flood's own copy of a million events would otherwise dominate.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ami_benches::alloc::{counts, reset_peak, CountingAlloc};
use ami_benches::corpus;
use ami_testkit::loopback::ends_login;
use ami_tokio::{Action, Config, Credentials, Event};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const CHILD: &str = "AMI_SLOW_CONSUMER_FAKE";
/// The subscriber sleeps `PAUSE` after every `BURST` events: at most ~100k
/// events/s, several times slower than the flood.
const BURST: u64 = 100;
const PAUSE: Duration = Duration::from_millis(1);
/// How long the subscriber waits for an event before declaring the rest lost.
const STALL: Duration = Duration::from_secs(10);

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .map_or(1_000_000, |n| n.parse().expect("event count"));
    if std::env::var_os(CHILD).is_some() {
        serve(count);
        return;
    }
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .arg(count.to_string())
        .env(CHILD, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the fake");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut next_line = move || lines.next().expect("fake's line").expect("read");
    let addr = next_line();
    let mut to_child = child.stdin.take().expect("stdin");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (seen, lagged, sent, elapsed, before, peak) = runtime.block_on(async {
        let mut config = Config::new(Credentials::plain("admin", "amp111"));
        config.event_capacity = 1024;
        let client = ami_tokio::connect(addr.as_str(), config)
            .await
            .expect("login");
        client.send(Action::new("Ping")).await.expect("ping");
        let mut events = client.events();
        // The login's own events (FullyBooted, SuccessfulAuth) come first:
        // taken before the flood, so that only the flood is counted.
        while !ends_login(events.next().await.as_ref()).expect("the login's events") {}
        let before = counts().live;
        reset_peak();
        let start = Instant::now();
        writeln!(to_child, "flood").expect("ask for the flood");
        // The fake says how many it wrote once the flood is over.
        let sent = tokio::task::spawn_blocking(move || {
            next_line()
                .strip_prefix("sent ")
                .and_then(|n| n.parse::<u64>().ok())
                .expect("sent N")
        });
        tokio::pin!(sent);
        let (mut seen, mut lagged, mut sent_total) = (0u64, 0u64, None::<u64>);
        while sent_total.is_none_or(|total| seen + lagged < total) {
            tokio::select! {
                total = &mut sent, if sent_total.is_none() => {
                    sent_total = Some(total.expect("reader"));
                }
                item = tokio::time::timeout(STALL, events.next()) => match item {
                    Ok(Some(Event::Event(_))) => {
                        seen += 1;
                        if seen % BURST == 0 {
                            tokio::time::sleep(PAUSE).await;
                        }
                    }
                    Ok(Some(Event::Lagged(missed))) => lagged += missed,
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                },
            }
        }
        let elapsed = start.elapsed();
        let peak = counts().peak;
        client.close();
        let sent_total = match sent_total {
            Some(total) => total,
            None => sent.await.expect("reader"),
        };
        (seen, lagged, sent_total, elapsed, before, peak)
    });
    drop(to_child);
    let _ = child.wait();
    let mib = |b: usize| b as f64 / (1024.0 * 1024.0);
    println!("| events sent | seen | Lagged total | time (s) | peak heap during the flood (MiB) | of which above the logged-in client (MiB) |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
    println!(
        "| {sent} | {seen} | {lagged} | {:.1} | {:.2} | {:.2} |",
        elapsed.as_secs_f64(),
        mib(peak),
        mib(peak.saturating_sub(before)),
    );
    assert_eq!(
        seen + lagged,
        sent,
        "every event is seen or counted as lagged"
    );
}

/// The child: a fake Asterisk that floods `count` events when asked.
fn serve(count: usize) {
    let fake = ami_testkit::FakeAsterisk::start();
    let one_pass = ami_testkit::event_packets(&corpus());
    let events: Vec<Vec<u8>> = one_pass.iter().cycle().take(count).cloned().collect();
    let mut out = std::io::stdout();
    writeln!(out, "{}", fake.addr()).expect("stdout");
    out.flush().expect("stdout");
    let mut lines = std::io::stdin().lock().lines();
    if lines.next().is_some() {
        let sent = fake.flood(events, ami_testkit::Rate::Unlimited).wait();
        writeln!(out, "sent {sent}").expect("stdout");
        out.flush().expect("stdout");
    }
    // Until the parent is done.
    for _ in lines {}
}
