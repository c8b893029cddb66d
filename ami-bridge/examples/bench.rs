//! Events per second from three fake Asterisks through the bridge into JetStream,
//! against nats-server's own JetStream publish rate measured in the same run
//! (same payloads, same window of 256 publishes in flight), so the ratio is the
//! claim, not the absolute numbers.
//!
//! ```text
//! cargo run --release -p ami-bridge --example bench -- [EVENTS_PER_PBX]
//! ```
//!
//! Needs `nats-server` on PATH; starts it on a free loopback port with a
//! temporary store and kills it at the end.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ami_bridge::{Bridge, BridgeConfig, NatsConfig, PbxConfig};
use ami_testkit::{FakeAsterisk, Rate};
use async_nats::jetstream;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let per_pbx: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(20_000);
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let dir = std::env::temp_dir().join(format!("ami-bridge-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut server = Command::new("nats-server")
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("nats-server (is it on PATH?): {e}"))?;
    let url = format!("nats://127.0.0.1:{port}");
    let result = run(&url, per_pbx).await;
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run(url: &str, per_pbx: usize) -> Result<(), Box<dyn std::error::Error>> {
    let fakes: Vec<FakeAsterisk> = (0..3).map(|_| FakeAsterisk::builder().start()).collect();
    let config = BridgeConfig {
        nats: NatsConfig {
            url: url.to_owned(),
            buffer: 10_000_000,
            ..NatsConfig::default()
        },
        pbx: fakes
            .iter()
            .enumerate()
            .map(|(i, fake)| PbxConfig {
                name: format!("pbx{i}"),
                addr: fake.addr().to_string(),
                username: "admin".into(),
                secret: "amp111".into(),
                events: None,
                // An unlimited flood outruns the intake for a while: hold it
                // all, so that the rate measured is of events published.
                event_capacity: Some(1 << 20),
            })
            .collect(),
        ..BridgeConfig::default()
    };
    let bridge = Bridge::start(config).await?;
    let js = jetstream::new(async_nats::connect(url).await?);
    loop {
        let stats = bridge.stats();
        if bridge.fleet().health().all_ready()
            && stats.received > 0
            && stats.published == stats.received
            && js.get_stream("AMI").await.is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let events: Vec<Vec<u8>> = (0..per_pbx)
        .map(|n| {
            ami_testkit::Event::new("Bench")
                .header("Privilege", "call,all")
                .header("Channel", format!("PJSIP/100-{n:08x}"))
                .header("Uniqueid", format!("1700000000.{n}"))
                .to_bytes()
        })
        .collect();
    let total = (per_pbx * 3) as u64;
    let before = bridge.stats();
    let start = Instant::now();
    let floods: Vec<_> = fakes
        .iter()
        .map(|fake| fake.flood(events.clone(), Rate::Unlimited))
        .collect();
    loop {
        let stats = bridge.stats();
        let done =
            stats.published + stats.dropped_total() - before.published - before.dropped_total();
        if done >= total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let bridged = start.elapsed();
    for flood in floods {
        flood.wait();
    }
    let stats = bridge.stats();
    let published = stats.published - before.published;
    println!(
        "bridge:      {published} of {total} events published in {bridged:.2?}: {:.0} events/s (dropped {:?})",
        published as f64 / bridged.as_secs_f64(),
        stats.dropped
    );

    // Baseline: JetStream alone, the same payload, the same window.
    let payload = bytes::Bytes::from(format!(
        "{{\"Event\":\"Bench\",\"Privilege\":\"call,all\",\"Channel\":\"PJSIP/100-{:08x}\",\"Uniqueid\":\"1700000000.{}\"}}",
        per_pbx, per_pbx
    ));
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < total {
        let mut acks = Vec::with_capacity(256);
        for _ in 0..256.min(total - sent) {
            acks.push(js.publish("ami.raw.event.Bench", payload.clone()).await?);
            sent += 1;
        }
        for ack in acks {
            ack.await?;
        }
    }
    let raw = start.elapsed();
    println!(
        "jetstream:   {total} publishes acknowledged in {raw:.2?}: {:.0} messages/s",
        total as f64 / raw.as_secs_f64()
    );
    println!(
        "ratio:       the bridge runs at {:.0}% of JetStream's own publish rate",
        100.0 * raw.as_secs_f64() / bridged.as_secs_f64() * published as f64 / total as f64
    );
    Ok(())
}
