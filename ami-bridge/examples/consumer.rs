//! A small consumer of the bridge, for the README walkthrough.
//!
//! ```text
//! cargo run -p ami-bridge --example consumer -- events [SUBJECT_FILTER]
//! cargo run -p ami-bridge --example consumer -- action PBX '{"action": "Ping"}'
//! ```
//!
//! `events` reads the `AMI` stream from its start through an ephemeral
//! JetStream consumer (filter e.g. `ami.paris.event.>` or `ami.*.event.Hangup`)
//! and prints one line per event: the subject, then the JSON. `action` sends
//! one request to `ami.<PBX>.action` and prints the reply. The server is
//! `$NATS_URL`, default `nats://127.0.0.1:4222`.

use async_nats::jetstream;
use futures_util::StreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let args: Vec<String> = std::env::args().skip(1).collect();
    let client = async_nats::connect(url).await?;
    match args.first().map(String::as_str) {
        Some("events") => {
            let js = jetstream::new(client);
            let stream = js.get_stream("AMI").await?;
            let consumer = stream
                .create_consumer(jetstream::consumer::pull::Config {
                    filter_subject: args.get(1).cloned().unwrap_or_default(),
                    ack_policy: jetstream::consumer::AckPolicy::None,
                    ..Default::default()
                })
                .await?;
            let mut messages = consumer.messages().await?;
            while let Some(message) = messages.next().await {
                let message = message?;
                let payload = String::from_utf8_lossy(&message.payload);
                println!("{} {payload}", message.subject);
            }
        }
        Some("action") if args.len() == 3 => {
            let subject = format!("ami.{}.action", args[1]);
            let reply = client.request(subject, args[2].clone().into()).await?;
            println!("{}", String::from_utf8_lossy(&reply.payload));
        }
        _ => {
            eprintln!("usage: consumer events [SUBJECT_FILTER] | consumer action PBX JSON");
            std::process::exit(2);
        }
    }
    Ok(())
}
