//! `ami-bridge`: a fleet of Asterisk servers onto NATS JetStream.

use std::path::PathBuf;
use std::time::Duration;

use ami_bridge::{Bridge, BridgeConfig, PbxConfig};
use clap::Parser;

/// Bridges Asterisk servers (AMI) onto NATS JetStream: events published as JSON
/// on `<prefix>.<pbx>.event.<EventName>`, actions answered on `<prefix>.<pbx>.action`.
#[derive(Debug, Parser)]
#[command(name = "ami-bridge", version, after_help = after_help())]
struct Args {
    /// The TOML configuration file (flags override it).
    #[arg(short, long)]
    config: Option<PathBuf>,
    /// NATS server URL.
    #[arg(long, env = "NATS_URL")]
    nats_url: Option<String>,
    /// JetStream stream name.
    #[arg(long)]
    stream: Option<String>,
    /// First subject token.
    #[arg(long)]
    prefix: Option<String>,
    /// Most events buffered while NATS is unreachable.
    #[arg(long)]
    buffer: Option<usize>,
    /// A PBX as NAME=HOST:PORT (repeatable), logging in with --username/--secret.
    #[arg(long = "pbx", value_name = "NAME=HOST:PORT")]
    pbxs: Vec<String>,
    /// AMI user for --pbx.
    #[arg(long, default_value = "admin")]
    username: String,
    /// AMI secret for --pbx.
    #[arg(long, env = "AMI_SECRET", default_value = "amp111")]
    secret: String,
    /// Print the counters every this many seconds (0: never).
    #[arg(long, default_value_t = 10)]
    stats_every: u64,
}

fn after_help() -> String {
    format!(
        "Example:\n  ami-bridge --pbx paris=127.0.0.1:5038 --pbx lyon=127.0.0.1:5039\n  \
         ami-bridge --config ami-bridge.toml\n\nAn example configuration file:\n\n{}",
        ami_bridge::config::EXAMPLE
    )
}

fn load(args: &Args) -> Result<BridgeConfig, String> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("reading {}: {e}", path.display()))?;
            BridgeConfig::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => BridgeConfig::default(),
    };
    if let Some(url) = &args.nats_url {
        config.nats.url = url.clone();
    }
    if let Some(stream) = &args.stream {
        config.nats.stream = stream.clone();
    }
    if let Some(prefix) = &args.prefix {
        config.nats.prefix = prefix.clone();
    }
    if let Some(buffer) = args.buffer {
        config.nats.buffer = buffer;
    }
    for pbx in &args.pbxs {
        let (name, addr) = pbx
            .split_once('=')
            .ok_or_else(|| format!("--pbx {pbx:?}: expected NAME=HOST:PORT"))?;
        config.pbx.push(PbxConfig {
            name: name.to_owned(),
            addr: addr.to_owned(),
            username: args.username.clone(),
            secret: args.secret.clone(),
            events: None,
            event_capacity: None,
        });
    }
    if config.pbx.is_empty() {
        return Err("no PBX: give --pbx NAME=HOST:PORT or a [[pbx]] in --config".into());
    }
    Ok(config)
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let config = match load(&args) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("ami-bridge: {message}");
            std::process::exit(2);
        }
    };
    let names: Vec<String> = config.pbx.iter().map(|p| p.name.clone()).collect();
    let bridge = match Bridge::start(config).await {
        Ok(bridge) => bridge,
        Err(e) => {
            eprintln!("ami-bridge: {e}");
            std::process::exit(1);
        }
    };
    eprintln!("ami-bridge: bridging {}", names.join(", "));
    let every = Duration::from_secs(args.stats_every);
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tokio::time::sleep(if every.is_zero() { Duration::from_secs(3600) } else { every }) => {
                if !every.is_zero() {
                    let stats = bridge.stats();
                    let health = bridge.fleet().health();
                    eprintln!(
                        "ami-bridge: pbx ready {}/{}, received {}, published {}, buffered {}, dropped {:?}, requests {}",
                        health.ready, health.pbxs.len(), stats.received, stats.published,
                        stats.buffered, stats.dropped, stats.requests
                    );
                }
            }
        }
    }
    let stats = bridge.stats();
    eprintln!("ami-bridge: stopping: {stats:?}");
}
