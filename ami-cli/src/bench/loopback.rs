//! The end-to-end rows: events/s through each adapter and pipelined round
//! trips, each against a raw socket measured in the same run.
//!
//! Measured as `benches/benches/adapters.rs` measures them, so that the ratios
//! mean the same thing: the flood, the counter and its clock, the raw
//! baselines, the client `Config` and the median are [`ami_testkit::loopback`]'s,
//! which both use. The consumers that drive an adapter (a tokio current_thread
//! and a 2-worker runtime, smol, blocking) are here, as in the bench: ami-cli
//! cannot depend on ami-benches (`publish = false`, it pulls criterion and
//! asterisk-rs-ami), and ami-testkit does not depend on the adapters.

use std::fmt::Display;
use std::time::Duration;

use ami_proto::{Action, Event};
use ami_testkit::loopback::{
    config, ends_login, flood_raw, median, next_or_stall, pipelined, pipelined_async,
    round_trips_raw, round_trips_raw_threaded, Flow, STALL,
};
pub use ami_testkit::loopback::{Blobs, IN_FLIGHT};
use ami_testkit::FakeAsterisk;

use super::{Mode, Progress, Row, Table};
use crate::error::{CliError, Exit};

/// The default `event_capacity`, for the round trips (no events flow).
const DEFAULT_CAPACITY: usize = 1024;
/// Issue 14's target for each adapter's events/s against the raw socket.
const EVENTS_TARGET: f64 = 0.5;
/// Issue 14's target for ami-blocking's pipelined round trips.
const PIPELINED_TARGET: f64 = 0.9;

fn failed(what: &str, error: impl Display) -> CliError {
    CliError::new(Exit::Other, format!("bench: {what}: {error}"))
}

/// A fresh fake per run: one session, so the flood goes to it alone.
fn fake() -> FakeAsterisk {
    FakeAsterisk::builder().start()
}

fn tokio_runtime(workers: usize) -> Result<tokio::runtime::Runtime, CliError> {
    if workers == 0 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(workers);
        builder
    }
    .enable_all()
    .build()
    .map_err(|e| failed("a tokio runtime", e))
}

// ----- events/s -----

/// [`ends_login`] for the next item, or an error naming the wait.
fn login_done(item: Option<Event>) -> Result<bool, CliError> {
    ends_login(item.as_ref()).map_err(|e| failed("waiting for the login's events", e))
}

/// A flood through ami-tokio on a runtime of `workers` (0: current_thread),
/// the subscriber awaiting events on that runtime.
fn flood_tokio(flood: &Blobs, workers: usize) -> Result<Flow, CliError> {
    let fake = fake();
    tokio_runtime(workers)?.block_on(async {
        let client = ami_tokio::connect(fake.addr(), config(flood.events() as usize))
            .await
            .map_err(|e| failed("ami-tokio login", e))?;
        client
            .send(Action::new("Ping"))
            .await
            .map_err(|e| failed("Ping", e))?;
        let mut events = client.events();
        while !login_done(
            tokio::time::timeout(STALL, events.next())
                .await
                .ok()
                .flatten(),
        )? {}
        let flow = flood
            .count_async(&fake, async || {
                next_or_stall(events.next(), || tokio::time::sleep(STALL)).await
            })
            .await;
        client.close();
        Ok(flow)
    })
}

/// The next event within [`STALL`] (`None`: none came, or the stream ended);
/// the timer is made only when the event is not already waiting.
async fn smol_next(events: &mut ami_client::Events) -> Option<Event> {
    next_or_stall(events.next(), || async {
        smol::Timer::after(STALL).await;
    })
    .await
}

fn flood_smol(flood: &Blobs) -> Result<Flow, CliError> {
    let fake = fake();
    smol::block_on(async {
        let client = ami_smol::connect(fake.addr(), config(flood.events() as usize))
            .await
            .map_err(|e| failed("ami-smol login", e))?;
        client
            .send(Action::new("Ping"))
            .await
            .map_err(|e| failed("Ping", e))?;
        let mut events = client.events();
        while !login_done(smol_next(&mut events).await)? {}
        let flow = flood
            .count_async(&fake, async || smol_next(&mut events).await)
            .await;
        client.close();
        Ok(flow)
    })
}

fn flood_blocking(flood: &Blobs) -> Result<Flow, CliError> {
    let fake = fake();
    let client = ami_blocking::connect(fake.addr(), config(flood.events() as usize))
        .map_err(|e| failed("ami-blocking login", e))?;
    client
        .send(Action::new("Ping"))
        .wait()
        .map_err(|e| failed("Ping", e))?;
    let mut events = client.events();
    while !login_done(events.recv_timeout(STALL).ok().flatten())? {}
    let flow = flood.count(&fake, || events.recv_timeout(STALL).ok().flatten());
    client.close();
    Ok(flow)
}

type Flooder = fn(&Blobs) -> Result<Flow, CliError>;

/// Events/s of each adapter against the raw socket: every candidate `runs`
/// times, interleaved, the median kept. Each subscriber has room for the whole
/// flood, so nothing can be dropped and the rate is what reaches it.
pub fn events(flood: &Blobs, mode: &Mode, progress: &mut Progress) -> Result<Table, CliError> {
    let candidates: [(&'static str, Option<f64>, Flooder); 5] = [
        ("raw TcpStream read + memchr line scan", None, |f| {
            flood_raw(f).map_err(|e| failed("raw socket flood", e))
        }),
        (
            "ami-tokio (current_thread runtime)",
            Some(EVENTS_TARGET),
            |f| flood_tokio(f, 0),
        ),
        (
            "ami-tokio (multi_thread, 2 workers)",
            Some(EVENTS_TARGET),
            |f| flood_tokio(f, 2),
        ),
        ("ami-smol", Some(EVENTS_TARGET), flood_smol),
        ("ami-blocking", Some(EVENTS_TARGET), flood_blocking),
    ];
    let mut samples: Vec<Vec<Flow>> = vec![Vec::new(); candidates.len()];
    for _ in 0..mode.loopback_runs {
        for ((name, _, run), samples) in candidates.iter().zip(&mut samples) {
            progress.start(&format!("events/s: {name}"));
            let flow = run(flood)?;
            if flow.seen + flow.lagged != flow.written || flow.written != flood.events() {
                return Err(failed(
                    name,
                    format!(
                        "{} of {} events seen ({} written, {} lost)",
                        flow.seen,
                        flood.events(),
                        flow.written,
                        flow.lagged
                    ),
                ));
            }
            samples.push(flow);
            progress.step();
        }
    }
    let rows = candidates
        .iter()
        .zip(samples)
        .map(|((name, target, _), samples)| Row {
            name,
            rate: median(samples, |f| f.elapsed).map_or(f64::NAN, |f| f.per_second()),
            target: *target,
        })
        .collect();
    Ok(Table { rows })
}

// ----- round trips -----

/// `total` Ping round trips with `in_flight` outstanding: the elapsed time.
type RoundTrips = fn(in_flight: usize, total: usize) -> Result<Duration, CliError>;

/// One task on a current_thread runtime keeping `in_flight` Pings submitted,
/// awaiting them in order.
fn round_trips_tokio_pipelined(in_flight: usize, total: usize) -> Result<Duration, CliError> {
    let fake = fake();
    tokio_runtime(0)?.block_on(async {
        let client = ami_tokio::connect(fake.addr(), config(DEFAULT_CAPACITY))
            .await
            .map_err(|e| failed("ami-tokio login", e))?;
        let elapsed = pipelined_async(in_flight, total, || client.send(Action::new("Ping"))).await;
        client.close();
        elapsed.map_err(|e| failed("Ping", e))
    })
}

/// One thread keeping `in_flight` Pings submitted (`send` returns at once),
/// waiting for them in order.
fn round_trips_blocking_pipelined(in_flight: usize, total: usize) -> Result<Duration, CliError> {
    let fake = fake();
    let client = ami_blocking::connect(fake.addr(), config(DEFAULT_CAPACITY))
        .map_err(|e| failed("ami-blocking login", e))?;
    let elapsed = pipelined(
        in_flight,
        total,
        || client.send(Action::new("Ping")),
        |pong| pong.wait().map(drop),
    );
    client.close();
    elapsed.map_err(|e| failed("Ping", e))
}

/// Pipelined round trips/s against the raw pipelined socket: every candidate
/// `runs` times, interleaved, the median kept.
pub fn round_trips(mode: &Mode, progress: &mut Progress) -> Result<Table, CliError> {
    let candidates: [(&'static str, Option<f64>, RoundTrips); 4] = [
        ("raw TcpStream, pipelined (one thread)", None, |n, total| {
            round_trips_raw(n, total).map_err(|e| failed("raw socket round trips", e))
        }),
        (
            "raw TcpStream, pipelined (two threads)",
            None,
            |n, total| {
                round_trips_raw_threaded(n, total).map_err(|e| failed("raw socket round trips", e))
            },
        ),
        (
            "ami-tokio (current_thread), one task pipelined",
            None,
            round_trips_tokio_pipelined,
        ),
        (
            "ami-blocking, one thread pipelined",
            Some(PIPELINED_TARGET),
            round_trips_blocking_pipelined,
        ),
    ];
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); candidates.len()];
    for _ in 0..mode.loopback_runs {
        for ((name, _, run), samples) in candidates.iter().zip(&mut samples) {
            progress.start(&format!("round trips: {name}"));
            samples.push(run(IN_FLIGHT, mode.round_trips)?);
            progress.step();
        }
    }
    let rows = candidates
        .iter()
        .zip(samples)
        .map(|((name, target, _), samples)| Row {
            name,
            rate: median(samples, |d| *d)
                .map_or(f64::NAN, |d| mode.round_trips as f64 / d.as_secs_f64()),
            target: *target,
        })
        .collect();
    Ok(Table { rows })
}
