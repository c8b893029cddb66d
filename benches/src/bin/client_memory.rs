//! Heap of a logged-in client (issue 14): bytes live for an idle client, and
//! per pending action with 10,000 submitted and none answered.
//!
//! `cargo run --release -p ami-benches --bin client_memory`
//!
//! The fake Asterisk runs in a child process (this binary again, with
//! `AMI_CLIENT_MEMORY_FAKE` set), so the counting allocator sees only the
//! client. The fake never answers `Ping` (`Fault::NoReplyTo`): the pending
//! actions stay pending. Live bytes are what the program asked the allocator
//! for and has not freed (the allocator's own overhead is not counted), read
//! after the client has been left alone for [`SETTLE`].
//!
//! `client_memory --exit-idle tokio|blocking|smol` connects one client, lets it
//! settle and exits without tearing anything down, so that a heap profiler
//! (`heaptrack`, `valgrind --tool=massif`) reports the idle client's live heap
//! as "leaked", by call site; `client_memory --exit-pending` does the same with
//! ami-blocking and 10,000 Pings pending.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ami_benches::alloc::{counts, CountingAlloc};
use ami_proto::{Action, Config, Credentials};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const CHILD: &str = "AMI_CLIENT_MEMORY_FAKE";
/// How long a client is left alone before its heap is read.
const SETTLE: Duration = Duration::from_millis(300);
/// Clients connected for the marginal cost of one more.
const CLIENTS: usize = 10;
/// Actions submitted and left unanswered.
const PENDING: usize = 10_000;

fn live() -> usize {
    counts().live
}

fn config(max_in_flight: Option<usize>) -> Config {
    let mut config = Config::new(Credentials::plain("admin", "amp111"));
    if let Some(max) = max_in_flight {
        config.max_in_flight = max;
    }
    config
}

/// The fake, in a child process; its address.
fn start_fake() -> (Child, String) {
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .env(CHILD, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the fake");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let addr = lines.next().expect("fake's address").expect("read");
    (child, addr)
}

/// The child: a fake Asterisk that never answers `Ping`, until stdin closes.
fn serve() {
    let fake = ami_testkit::FakeAsterisk::builder()
        .fault(ami_testkit::Fault::NoReplyTo("Ping".into()))
        .start();
    let mut out = std::io::stdout();
    writeln!(out, "{}", fake.addr()).expect("stdout");
    out.flush().expect("stdout");
    for _ in std::io::stdin().lock().lines() {}
}

/// Idle heap of the first client (runtime included) and of each further one.
#[derive(Debug, Clone, Copy)]
struct Idle {
    first: usize,
    per_more: usize,
}

fn idle(connect: &dyn Fn() -> Box<dyn std::any::Any>, sleep: &dyn Fn()) -> Idle {
    // What the previous adapter's clients freed on their way out is gone.
    sleep();
    let base = live();
    let mut clients = vec![connect()];
    sleep();
    let first = live() - base;
    for _ in 1..CLIENTS {
        clients.push(connect());
    }
    sleep();
    let per_more = (live() - base - first) / (CLIENTS - 1);
    drop(clients);
    Idle { first, per_more }
}

/// Live bytes per pending action: (after submitting, after the pump ran).
fn per_pending(submit: &dyn Fn() -> (usize, usize)) -> (f64, f64) {
    let (submitted, settled) = submit();
    (
        submitted as f64 / PENDING as f64,
        settled as f64 / PENDING as f64,
    )
}

fn blocking_pending(addr: &str, max_in_flight: Option<usize>) -> (usize, usize) {
    let client = ami_blocking::connect(addr, config(max_in_flight)).expect("login");
    std::thread::sleep(SETTLE);
    // The caller's own Vec of `Pending`s is not the client's: allocated first.
    let mut pending = Vec::with_capacity(PENDING);
    let base = live();
    pending.extend((0..PENDING).map(|_| client.send(Action::new("Ping"))));
    let submitted = live() - base;
    std::thread::sleep(SETTLE);
    let settled = live() - base;
    client.close();
    drop(pending);
    (submitted, settled)
}

fn tokio_pending(addr: &str, max_in_flight: Option<usize>) -> (usize, usize) {
    let runtime = tokio_runtime();
    runtime.block_on(async {
        let client = ami_tokio::connect(addr, config(max_in_flight))
            .await
            .expect("login");
        tokio::time::sleep(SETTLE).await;
        let mut pending = Vec::with_capacity(PENDING);
        let base = live();
        pending.extend((0..PENDING).map(|_| client.send(Action::new("Ping"))));
        let submitted = live() - base;
        tokio::time::sleep(SETTLE).await;
        let settled = live() - base;
        client.close();
        drop(pending);
        (submitted, settled)
    })
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Connects one client, lets it settle and exits with it still open.
fn exit_idle(addr: &str, adapter: &str) -> ! {
    match adapter {
        "blocking" => {
            let client = ami_blocking::connect(addr, config(None)).expect("login");
            std::thread::sleep(SETTLE);
            eprintln!("live: {} bytes", live());
            std::mem::forget(client);
        }
        "tokio" => {
            let runtime = tokio_runtime();
            runtime.block_on(async {
                let client = ami_tokio::connect(addr, config(None)).await.expect("login");
                tokio::time::sleep(SETTLE).await;
                eprintln!("live: {} bytes", live());
                std::mem::forget(client);
            });
            std::mem::forget(runtime);
        }
        "smol" => smol::block_on(async {
            let client = ami_smol::connect(addr, config(None)).await.expect("login");
            smol::Timer::after(SETTLE).await;
            eprintln!("live: {} bytes", live());
            std::mem::forget(client);
        }),
        other => panic!("unknown adapter {other:?}: tokio, blocking or smol"),
    }
    std::process::exit(0)
}

fn main() {
    if std::env::var_os(CHILD).is_some() {
        serve();
        return;
    }
    let (mut child, addr) = start_fake();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--exit-pending") {
        let client = ami_blocking::connect(addr.as_str(), config(None)).expect("login");
        std::thread::sleep(SETTLE);
        let before = live();
        let pending: Vec<_> = (0..PENDING)
            .map(|_| client.send(Action::new("Ping")))
            .collect();
        std::thread::sleep(SETTLE);
        eprintln!(
            "live: {} bytes more with {PENDING} pending",
            live() - before
        );
        std::mem::forget((client, pending));
        std::process::exit(0);
    }
    if args.first().map(String::as_str) == Some("--exit-idle") {
        let adapter = args.get(1).map_or("tokio", String::as_str);
        exit_idle(&addr, adapter);
    }

    let kib = |b: usize| b as f64 / 1024.0;
    println!(
        "idle logged-in client: live heap after login and {} ms idle (default Config)\n",
        SETTLE.as_millis()
    );
    println!("| adapter | first client, runtime included (KiB) | each further client (KiB, mean of {}) |", CLIENTS - 1);
    println!("| --- | ---: | ---: |");
    let blocking = idle(
        &|| Box::new(ami_blocking::connect(addr.as_str(), config(None)).expect("login")),
        &|| std::thread::sleep(SETTLE),
    );
    println!(
        "| ami-blocking | {:.1} | {:.1} |",
        kib(blocking.first),
        kib(blocking.per_more)
    );
    let runtime = tokio_runtime();
    let tokio = {
        let _guard = runtime.enter();
        idle(
            &|| {
                Box::new(
                    runtime
                        .block_on(ami_tokio::connect(addr.as_str(), config(None)))
                        .expect("login"),
                )
            },
            &|| runtime.block_on(tokio::time::sleep(SETTLE)),
        )
    };
    println!(
        "| ami-tokio (current_thread) | {:.1} | {:.1} |",
        kib(tokio.first),
        kib(tokio.per_more)
    );
    drop(runtime);
    let smol = idle(
        &|| {
            Box::new(smol::block_on(ami_smol::connect(addr.as_str(), config(None))).expect("login"))
        },
        &|| std::thread::sleep(SETTLE),
    );
    println!(
        "| ami-smol | {:.1} | {:.1} |",
        kib(smol.first),
        kib(smol.per_more)
    );

    println!(
        "\n{PENDING} Pings submitted, never answered: live heap per pending action (bytes), \
         besides the caller's own `Pending` ({} bytes each, wherever the caller keeps it)\n",
        std::mem::size_of::<ami_blocking::Pending<ami_proto::Reply>>()
    );
    println!(
        "| adapter, max_in_flight | right after submitting | after {} ms (the pump wrote them) |",
        SETTLE.as_millis()
    );
    println!("| --- | ---: | ---: |");
    for (name, max) in [("512 (default)", None), ("10,000", Some(PENDING))] {
        let (a, b) = per_pending(&|| blocking_pending(&addr, max));
        println!("| ami-blocking, {name} | {a:.0} | {b:.0} |");
        let (a, b) = per_pending(&|| tokio_pending(&addr, max));
        println!("| ami-tokio (current_thread), {name} | {a:.0} | {b:.0} |");
    }
    drop(child.stdin.take());
    let _ = child.wait();
}
