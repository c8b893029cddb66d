//! End to end over loopback, against ami-testkit's fake Asterisk:
//!
//! - **events/s**: the corpus' events flooded as fast as the socket takes them
//!   (`Rate::Unlimited`), counted by one subscriber of each adapter (ami-tokio on a
//!   current-thread and on a 2-worker runtime, ami-blocking, ami-smol), against a
//!   raw `std::net::TcpStream` read + `memchr` line scan of the same flood (the
//!   floor), and against `asterisk-rs-ami` 0.8's client;
//! - **round trips/s**: Pings with 1,000 in flight (1,000 tasks or threads each
//!   sending one after another, or one thread or task keeping 1,000 submitted and
//!   waiting for them in order: pipelining), against a raw socket that keeps 1,000
//!   pipelined from one thread;
//! - **HTTP vs TCP** (AMI over `/rawman`, issue 11): actions/s with 200 in flight
//!   and events/s fetched through `WaitEvent`, on ami-tokio and ami-blocking, each
//!   next to the same client over TCP, against the same fake, in the same run.
//!
//! The flood is pre-encoded: the events are packed into blobs of about
//! [`BLOB_BYTES`] that the fake writes as they are, [`ami_testkit::Flood`]
//! batching 200 blobs per `write` (megabytes per call). The fake then does no
//! per-event work (no mask or filter check, no batch bookkeeping per event) and
//! the client, not the producer, is measured; the bytes on the wire are the same.
//!
//! The flood, the counter and its clock (first event counted to the last), the
//! raw baselines, the client `Config` and the median are
//! [`ami_testkit::loopback`]'s, which `ami bench` (ami-cli) uses too, so its
//! ratios mean the same; the consumers that drive each adapter are here.
//!
//! A custom harness: criterion's model (many short iterations of a pure function)
//! does not fit a flood through a server thread, a socket and a driver. Each
//! candidate runs `runs` times, interleaved, and the median is kept; the ratio
//! table (adapter / raw socket, same run) is printed at the end. Without
//! `--bench` (`cargo test --benches`), everything runs once on a tiny flood.

use std::net::SocketAddr;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use ami_benches::corpus;
use ami_proto::{Action, Config, Event};
use ami_testkit::loopback::{
    config, ends_login, flood_raw, median, next_or_stall, pipelined, pipelined_async,
    round_trips_raw, round_trips_raw_threaded, Blobs, Flow, BLOB_BYTES, IN_FLIGHT, STALL,
};
use ami_testkit::{event_packets, FakeAsterisk};

/// `asterisk-rs-ami` 0.8 refuses more than this many actions in flight
/// (`MAX_IN_FLIGHT_ACTIONS`, `InFlightLimitExceeded` at once beyond it).
const ASTERISK_RS_MAX_IN_FLIGHT: usize = 256;
/// With the environment variable `AMI_BENCH_PER_EVENT_PRODUCER` set, the flood
/// is one event per blob instead of blobs of about [`BLOB_BYTES`]: the producer
/// of the runs before the blobs (the fake checks mask and filters per event).
const PER_EVENT_PRODUCER: &str = "AMI_BENCH_PER_EVENT_PRODUCER";

struct Mode {
    /// Events per flood.
    events: usize,
    /// Runs per candidate (median kept).
    runs: usize,
    /// Round trips in flight, and per task.
    in_flight: usize,
    per_task: usize,
    /// HTTP vs TCP: events per flood, actions in flight and per task.
    http_events: usize,
    http_in_flight: usize,
    http_per_task: usize,
}

const FULL: Mode = Mode {
    events: 200_000,
    runs: 5,
    in_flight: IN_FLIGHT,
    per_task: 40,
    http_events: 20_000,
    http_in_flight: 200,
    http_per_task: 10,
};

/// `cargo test --benches`: a smoke run.
const SMOKE: Mode = Mode {
    events: 2_000,
    runs: 1,
    in_flight: 50,
    per_task: 4,
    http_events: 500,
    http_in_flight: 20,
    http_per_task: 2,
};

/// The default `event_capacity`.
const DEFAULT_CAPACITY: usize = 1024;

// ----- events -----

/// A fresh fake Asterisk per run: one session, so the flood goes to it alone.
fn fake() -> FakeAsterisk {
    FakeAsterisk::builder().start()
}

/// The same, serving `/rawman` too.
fn http_fake() -> FakeAsterisk {
    FakeAsterisk::builder().http(true).start()
}

fn http_url(fake: &FakeAsterisk) -> String {
    format!(
        "http://{}/",
        fake.http_addr().expect("the fake serves HTTP")
    )
}

fn tokio_runtime(workers: usize) -> tokio::runtime::Runtime {
    if workers == 0 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(workers);
        builder
    }
    .enable_all()
    .build()
    .expect("tokio runtime")
}

/// Over TCP or over HTTP (`/rawman`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Tcp,
    Http,
}

async fn connect_tokio(
    fake: &FakeAsterisk,
    transport: Transport,
    config: Config,
) -> ami_tokio::Client {
    match transport {
        Transport::Tcp => ami_tokio::connect(fake.addr(), config).await,
        Transport::Http => ami_tokio::connect_http(&http_url(fake), config).await,
    }
    .expect("login")
}

fn connect_blocking(
    fake: &FakeAsterisk,
    transport: Transport,
    config: Config,
) -> ami_blocking::Client {
    match transport {
        Transport::Tcp => ami_blocking::connect(fake.addr(), config),
        Transport::Http => ami_blocking::connect_http(&http_url(fake), config),
    }
    .expect("login")
}

/// A flood through ami-tokio on a runtime of `workers` (0: current_thread).
fn flood_tokio(flood: &Blobs, capacity: usize, workers: usize, transport: Transport) -> Flow {
    let fake = match transport {
        Transport::Tcp => fake(),
        Transport::Http => http_fake(),
    };
    tokio_runtime(workers).block_on(async {
        let client = connect_tokio(&fake, transport, config(capacity)).await;
        client.send(Action::new("Ping")).await.expect("ping");
        let mut events_rx = client.events();
        loop {
            let next = tokio::time::timeout(STALL, events_rx.next()).await;
            if ends_login(next.expect("the login's events").as_ref()).expect("login events") {
                break;
            }
        }
        let flow = flood
            .count_async(&fake, async || {
                next_or_stall(events_rx.next(), || tokio::time::sleep(STALL)).await
            })
            .await;
        client.close();
        flow
    })
}

fn flood_blocking(flood: &Blobs, capacity: usize, transport: Transport) -> Flow {
    let fake = match transport {
        Transport::Tcp => fake(),
        Transport::Http => http_fake(),
    };
    let client = connect_blocking(&fake, transport, config(capacity));
    client.send(Action::new("Ping")).wait().expect("ping");
    let mut events_rx = client.events();
    while !ends_login(
        events_rx
            .recv_timeout(STALL)
            .expect("the login's events")
            .as_ref(),
    )
    .expect("login events")
    {}
    let flow = flood.count(&fake, || events_rx.recv_timeout(STALL).ok().flatten());
    client.close();
    flow
}

/// The next event within [`STALL`] (`None`: none came, or the stream ended);
/// the timer is made only when the event is not already waiting.
async fn smol_next(events: &mut ami_smol::Events) -> Option<Event> {
    next_or_stall(events.next(), || async {
        smol::Timer::after(STALL).await;
    })
    .await
}

fn flood_smol(flood: &Blobs, capacity: usize) -> Flow {
    let fake = fake();
    smol::block_on(async {
        let client = ami_smol::connect(fake.addr(), config(capacity))
            .await
            .expect("login");
        client.send(Action::new("Ping")).await.expect("ping");
        let mut events_rx = client.events();
        while !ends_login(smol_next(&mut events_rx).await.as_ref()).expect("login events") {}
        let flow = flood
            .count_async(&fake, async || smol_next(&mut events_rx).await)
            .await;
        client.close();
        flow
    })
}

async fn asterisk_rs_client(addr: SocketAddr, capacity: usize) -> asterisk_rs_ami::AmiClient {
    asterisk_rs_ami::AmiClient::builder()
        .event_capacity(capacity)
        .host(addr.ip().to_string())
        .port(addr.port())
        .credentials("admin", "amp111")
        .timeout(Duration::from_secs(30))
        .build()
        .await
        .expect("asterisk-rs-ami logs in to ami-testkit")
}

fn flood_asterisk_rs(flood: &Blobs, capacity: usize) -> Flow {
    use asterisk_rs_core::event::EventReceive;
    let fake = fake();
    tokio_runtime(0).block_on(async {
        let client = asterisk_rs_client(fake.addr(), capacity).await;
        client.ping().await.expect("ping");
        let mut events_rx = client.subscribe();
        let (mut counter, running) = flood.start(&fake);
        while !counter.done() {
            match tokio::time::timeout(STALL, events_rx.recv()).await {
                Ok(EventReceive::Event(_)) => counter.event(),
                Ok(EventReceive::Lagged(missed)) => counter.lagged(missed),
                Ok(EventReceive::Closed) | Err(_) => {
                    counter.end();
                    break;
                }
            }
        }
        let written = flood.written(running.wait());
        let _ = client.disconnect().await;
        counter.finish(written)
    })
}

// ----- round trips -----

/// `count` round trips with `in_flight` outstanding: the elapsed time.
type RoundTrips = fn(in_flight: usize, per_task: usize) -> Duration;

fn ping() -> Action {
    Action::new("Ping")
}

/// `in_flight` tasks each sending `per_task` Pings one after another.
fn round_trips_tokio(
    in_flight: usize,
    per_task: usize,
    workers: usize,
    transport: Transport,
) -> Duration {
    let fake = match transport {
        Transport::Tcp => fake(),
        Transport::Http => http_fake(),
    };
    tokio_runtime(workers).block_on(async {
        let client = connect_tokio(&fake, transport, config(DEFAULT_CAPACITY)).await;
        let start = Instant::now();
        let tasks: Vec<_> = (0..in_flight)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move {
                    for _ in 0..per_task {
                        client.send(ping()).await.expect("pong");
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task");
        }
        let elapsed = start.elapsed();
        client.close();
        elapsed
    })
}

/// One task on a current_thread runtime keeping `in_flight` Pings submitted,
/// awaiting them in order, `in_flight * per_task` in all.
fn round_trips_tokio_pipelined(in_flight: usize, per_task: usize) -> Duration {
    let fake = fake();
    tokio_runtime(0).block_on(async {
        let client = connect_tokio(&fake, Transport::Tcp, config(DEFAULT_CAPACITY)).await;
        let elapsed = pipelined_async(in_flight, in_flight * per_task, || client.send(ping()))
            .await
            .expect("pong");
        client.close();
        elapsed
    })
}

/// One thread keeping `in_flight` Pings submitted (`send` returns at once),
/// waiting for them in order, `in_flight * per_task` in all.
fn round_trips_blocking_pipelined(
    in_flight: usize,
    per_task: usize,
    transport: Transport,
) -> Duration {
    let fake = match transport {
        Transport::Tcp => fake(),
        Transport::Http => http_fake(),
    };
    let client = connect_blocking(&fake, transport, config(DEFAULT_CAPACITY));
    let elapsed = pipelined(
        in_flight,
        in_flight * per_task,
        || client.send(ping()),
        |pong| pong.wait().map(drop),
    )
    .expect("pong");
    client.close();
    elapsed
}

fn round_trips_blocking(in_flight: usize, per_task: usize) -> Duration {
    let fake = fake();
    let client = ami_blocking::connect(fake.addr(), config(DEFAULT_CAPACITY)).expect("login");
    let go = Arc::new(Barrier::new(in_flight + 1));
    let threads: Vec<_> = (0..in_flight)
        .map(|_| {
            let (client, go) = (client.clone(), go.clone());
            std::thread::Builder::new()
                .stack_size(128 * 1024)
                .spawn(move || {
                    go.wait();
                    for _ in 0..per_task {
                        client.send(ping()).wait().expect("pong");
                    }
                })
                .expect("thread")
        })
        .collect();
    go.wait();
    let start = Instant::now();
    for thread in threads {
        thread.join().expect("thread");
    }
    let elapsed = start.elapsed();
    client.close();
    elapsed
}

fn round_trips_smol(in_flight: usize, per_task: usize) -> Duration {
    let fake = fake();
    smol::block_on(async {
        let client = ami_smol::connect(fake.addr(), config(DEFAULT_CAPACITY))
            .await
            .expect("login");
        let start = Instant::now();
        let tasks: Vec<_> = (0..in_flight)
            .map(|_| {
                let client = client.clone();
                smol::spawn(async move {
                    for _ in 0..per_task {
                        client.send(ping()).await.expect("pong");
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
        let elapsed = start.elapsed();
        client.close();
        elapsed
    })
}

fn round_trips_asterisk_rs(in_flight: usize, per_task: usize) -> Duration {
    let fake = fake();
    tokio_runtime(0).block_on(async {
        let client = asterisk_rs_client(fake.addr(), DEFAULT_CAPACITY).await;
        let start = Instant::now();
        let tasks: Vec<_> = (0..in_flight)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move {
                    for _ in 0..per_task {
                        client.ping().await.expect("pong");
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task");
        }
        let elapsed = start.elapsed();
        let _ = client.disconnect().await;
        elapsed
    })
}

// ----- the run -----

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    // `cargo bench --bench adapters -- tokio`: only the candidates (and the raw
    // baselines) whose name holds one of the words, e.g. to profile one adapter;
    // `-- "[http"` runs the HTTP vs TCP table alone; a word starting with `=`
    // must be the whole name (`-- =ami-blocking`: that flood row alone).
    let words: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |name: &str| {
        name.starts_with("raw")
            || words.is_empty()
            || words.iter().any(|w| match w.strip_prefix('=') {
                Some(exact) => name == exact,
                None => name.contains(w.as_str()),
            })
    };
    let mode = if bench { FULL } else { SMOKE };
    let one_pass = event_packets(&corpus());
    let events: Vec<Vec<u8>> = one_pass.iter().cycle().take(mode.events).cloned().collect();
    let per_event = std::env::var_os(PER_EVENT_PRODUCER).is_some();
    let blob_bytes = if per_event { 0 } else { BLOB_BYTES };
    let flood = Blobs::new(&events, blob_bytes);
    let http_flood = Blobs::new(&events[..mode.http_events.min(events.len())], blob_bytes);

    type Flooder = fn(&Blobs, usize) -> Flow;
    let flooders: Vec<(&str, Flooder)> = vec![
        ("raw TcpStream read + memchr line scan", |f, _| {
            flood_raw(f).expect("raw socket flood")
        }),
        ("ami-tokio (current_thread runtime)", |f, c| {
            flood_tokio(f, c, 0, Transport::Tcp)
        }),
        ("ami-tokio (multi_thread, 2 workers)", |f, c| {
            flood_tokio(f, c, 2, Transport::Tcp)
        }),
        ("ami-blocking", |f, c| flood_blocking(f, c, Transport::Tcp)),
        ("ami-smol", flood_smol),
        (
            "asterisk-rs-ami 0.8 AmiClient (current_thread)",
            flood_asterisk_rs,
        ),
    ];
    // Each subscriber twice: with room for the whole flood (nothing can be
    // dropped: the rate is what reaches the subscriber), and with the default
    // 1024 (how much a subscriber that only counts loses under a flood).
    let capacities = [events.len(), DEFAULT_CAPACITY];
    let mut samples: Vec<[Vec<Flow>; 2]> = vec![[Vec::new(), Vec::new()]; flooders.len()];
    for _ in 0..mode.runs {
        for (i, (_, run)) in flooders.iter().enumerate() {
            for (c, capacity) in capacities.iter().enumerate() {
                if (i > 0 || c == 0) && wanted(flooders[i].0) {
                    samples[i][c].push(run(&flood, *capacity));
                }
            }
        }
    }
    let flows: Vec<[Option<Flow>; 2]> = samples
        .into_iter()
        .map(|[lossless, default]| {
            [
                median(lossless, |f| f.elapsed),
                median(default, |f| f.elapsed),
            ]
        })
        .collect();
    for ((name, _), flow) in flooders.iter().zip(&flows) {
        for flow in flow.iter().flatten() {
            assert_eq!(
                flow.seen + flow.lagged,
                flow.written,
                "{name}: every event written is seen or reported lagged"
            );
        }
    }

    let in_flight = mode.in_flight;
    let rt_candidates: Vec<(&str, usize, RoundTrips)> = vec![
        (
            "raw TcpStream, pipelined (one thread)",
            in_flight,
            |n, k| round_trips_raw(n, n * k).expect("raw socket round trips"),
        ),
        (
            "raw TcpStream, pipelined (two threads)",
            in_flight,
            |n, k| round_trips_raw_threaded(n, n * k).expect("raw socket round trips"),
        ),
        ("ami-tokio (current_thread runtime)", in_flight, |n, k| {
            round_trips_tokio(n, k, 0, Transport::Tcp)
        }),
        ("ami-tokio (multi_thread, 2 workers)", in_flight, |n, k| {
            round_trips_tokio(n, k, 2, Transport::Tcp)
        }),
        (
            "ami-tokio (current_thread), one task pipelined",
            in_flight,
            round_trips_tokio_pipelined,
        ),
        (
            "ami-blocking (one thread per caller)",
            in_flight,
            round_trips_blocking,
        ),
        ("ami-blocking, one thread pipelined", in_flight, |n, k| {
            round_trips_blocking_pipelined(n, k, Transport::Tcp)
        }),
        ("ami-smol", in_flight, round_trips_smol),
        (
            "asterisk-rs-ami 0.8 (current_thread; at most 256 in flight)",
            in_flight.min(ASTERISK_RS_MAX_IN_FLIGHT),
            round_trips_asterisk_rs,
        ),
    ];
    let mut rt_samples: Vec<Vec<(Duration, usize)>> = vec![Vec::new(); rt_candidates.len()];
    for _ in 0..mode.runs {
        for (i, (name, n, run)) in rt_candidates.iter().enumerate() {
            if !wanted(name) {
                continue;
            }
            // About the same number of round trips for everyone.
            let per_task = mode.per_task * in_flight / n;
            rt_samples[i].push((run(*n, per_task), n * per_task));
        }
    }

    // HTTP vs TCP: the same client, the same fake, both transports.
    type HttpActions = fn(usize, usize) -> Duration;
    let http_actions: Vec<(&str, HttpActions)> = vec![
        (
            "[http] ami-tokio (multi_thread, 2 workers), tasks: TCP",
            |n, k| round_trips_tokio(n, k, 2, Transport::Tcp),
        ),
        (
            "[http] ami-tokio (multi_thread, 2 workers), tasks: HTTP",
            |n, k| round_trips_tokio(n, k, 2, Transport::Http),
        ),
        ("[http] ami-blocking, one thread pipelined: TCP", |n, k| {
            round_trips_blocking_pipelined(n, k, Transport::Tcp)
        }),
        ("[http] ami-blocking, one thread pipelined: HTTP", |n, k| {
            round_trips_blocking_pipelined(n, k, Transport::Http)
        }),
    ];
    type HttpFlooder = fn(&Blobs) -> Flow;
    let http_flooders: Vec<(&str, HttpFlooder)> = vec![
        ("[http] ami-tokio (multi_thread, 2 workers): TCP", |f| {
            flood_tokio(f, f.events() as usize, 2, Transport::Tcp)
        }),
        ("[http] ami-tokio (multi_thread, 2 workers): HTTP", |f| {
            flood_tokio(f, f.events() as usize, 2, Transport::Http)
        }),
        ("[http] ami-blocking: TCP", |f| {
            flood_blocking(f, f.events() as usize, Transport::Tcp)
        }),
        ("[http] ami-blocking: HTTP", |f| {
            flood_blocking(f, f.events() as usize, Transport::Http)
        }),
    ];
    let http_total = mode.http_in_flight * mode.http_per_task;
    let mut http_action_samples: Vec<Vec<Duration>> = vec![Vec::new(); http_actions.len()];
    let mut http_flow_samples: Vec<Vec<Flow>> = vec![Vec::new(); http_flooders.len()];
    for _ in 0..mode.runs {
        for (i, (name, run)) in http_actions.iter().enumerate() {
            if wanted(name) {
                http_action_samples[i].push(run(mode.http_in_flight, mode.http_per_task));
            }
        }
        for (i, (name, run)) in http_flooders.iter().enumerate() {
            if wanted(name) {
                let flow = run(&http_flood);
                assert_eq!(
                    flow.seen, flow.written,
                    "{name}: every event written is seen"
                );
                http_flow_samples[i].push(flow);
            }
        }
    }

    if !bench {
        println!("adapters: smoke run done (run with `cargo bench` for the table)");
        return;
    }
    println!(
        "\nevents/s, median of {} runs: {} events ({:.1} MB) from ami-testkit's flood \
         (Rate::Unlimited; {}) over loopback, one subscriber counting",
        mode.runs,
        flood.events(),
        flood.bytes() as f64 / 1e6,
        if per_event {
            "one event per flood item: the per-event producer".to_string()
        } else {
            format!(
                "pre-encoded, {} blobs of ~{} KiB, 200 blobs per write",
                flood.blob_count(),
                BLOB_BYTES / 1024
            )
        }
    );
    println!(
        "| consumer | events/s (capacity = flood) | MB/s | / raw socket | \
         capacity 1024: seen | lagged | written/s |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    let raw_rate = flows[0][0].map_or(f64::NAN, |f| f.per_second());
    let bytes_per_event = flood.bytes() as f64 / flood.events() as f64;
    for ((name, _), [lossless, default]) in flooders.iter().zip(&flows) {
        let rate = lossless.map_or(f64::NAN, |f| f.per_second());
        let (seen, lagged, ingest) = match default {
            Some(f) => (
                f.seen.to_string(),
                f.lagged.to_string(),
                format!(
                    "{:.0}",
                    (f.seen + f.lagged) as f64 / f.elapsed.as_secs_f64()
                ),
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        println!(
            "| {name} | {rate:.0} | {:.0} | {:.2} | {seen} | {lagged} | {ingest} |",
            rate * bytes_per_event / 1e6,
            rate / raw_rate
        );
    }
    println!(
        "\nround trips/s (Ping), median of {} runs, about {} round trips each",
        mode.runs,
        mode.per_task * in_flight
    );
    println!("| client | in flight | round trips/s | / raw socket | / raw, two threads |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let rates: Vec<f64> = rt_samples
        .into_iter()
        .map(|s| {
            median(s, |d| d.0).map_or(f64::NAN, |(time, count)| count as f64 / time.as_secs_f64())
        })
        .collect();
    for ((name, n, _), rate) in rt_candidates.iter().zip(&rates) {
        println!(
            "| {name} | {n} | {rate:.0} | {:.2} | {:.2} |",
            rate / rates[0],
            rate / rates[1]
        );
    }

    println!(
        "\nHTTP vs TCP, median of {} runs: Pings with {} in flight ({} in all), and {} events \
         flooded (events/s from the flood's start to the last event seen; over HTTP \
         through WaitEvent long-polls)",
        mode.runs,
        mode.http_in_flight,
        http_total,
        http_flood.events()
    );
    println!("| client | actions/s | HTTP / TCP |");
    println!("| --- | ---: | ---: |");
    let action_rates: Vec<f64> = http_action_samples
        .into_iter()
        .map(|s| median(s, |d| *d).map_or(f64::NAN, |d| http_total as f64 / d.as_secs_f64()))
        .collect();
    for (i, ((name, _), rate)) in http_actions.iter().zip(&action_rates).enumerate() {
        let ratio = if i % 2 == 1 {
            format!("{:.2}", rate / action_rates[i - 1])
        } else {
            "-".into()
        };
        println!("| {name} | {rate:.0} | {ratio} |");
    }
    println!("\n| client | events/s (from the flood's start) | HTTP / TCP |");
    println!("| --- | ---: | ---: |");
    let event_rates: Vec<f64> = http_flow_samples
        .into_iter()
        .map(|s| median(s, |f| f.wall).map_or(f64::NAN, |f| f.wall_per_second()))
        .collect();
    for (i, ((name, _), rate)) in http_flooders.iter().zip(&event_rates).enumerate() {
        let ratio = if i % 2 == 1 {
            format!("{:.2}", rate / event_rates[i - 1])
        } else {
            "-".into()
        };
        println!("| {name} | {rate:.0} | {ratio} |");
    }
    println!(
        "\ntargets (issue 14): each adapter's events/s >= 0.5 x the raw socket's; \
         ami-blocking pipelined round trips >= 0.9 x the raw socket's (the one-thread \
         row; the two-thread row writes while it reads, as ami-blocking's pump does)"
    );
}
