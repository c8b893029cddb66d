//! Serializer throughput: `Action::encode` of a typical Originate, against a naive
//! `format!` serializer and `asterisk-rs-ami`'s `Encoder`.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Duration;

use ami_proto::Action;
use asterisk_rs_ami::{AmiCodec, RawAmiMessage};
use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tokio_util::codec::Encoder;

const HEADERS: [(&str, &str); 8] = [
    ("Channel", "PJSIP/100"),
    ("Context", "from-internal"),
    ("Exten", "200"),
    ("Priority", "1"),
    ("CallerID", "\"Pat\" <100>"),
    ("Timeout", "30000"),
    ("Async", "true"),
    ("Account", "bench"),
];

fn serializer(c: &mut Criterion) {
    let mut action = Action::new("Originate");
    for (k, v) in HEADERS {
        action = action.header(k, v);
    }
    let mut wire = Vec::new();
    action.encode("ami-1f2e3d-42", &mut wire).unwrap();
    let mut group = c.benchmark_group("serializer");
    group.throughput(Throughput::Bytes(wire.len() as u64));

    // Building the action is part of sending one: measure build + encode.
    group.bench_function("ami-proto build+encode", |b| {
        let mut out = Vec::with_capacity(1024);
        b.iter(|| {
            out.clear();
            let mut action = Action::new("Originate");
            for (k, v) in black_box(HEADERS) {
                action = action.header(k, v);
            }
            action.encode(black_box("ami-1f2e3d-42"), &mut out).unwrap();
            black_box(&out);
        })
    });
    group.bench_function("ami-proto encode (prebuilt)", |b| {
        let mut out = Vec::with_capacity(1024);
        b.iter(|| {
            out.clear();
            black_box(&action)
                .encode(black_box("ami-1f2e3d-42"), &mut out)
                .unwrap();
            black_box(&out);
        })
    });
    group.bench_function("naive format!", |b| {
        b.iter(|| {
            let mut s = String::new();
            write!(
                s,
                "Action: Originate\r\nActionID: {}\r\n",
                black_box("ami-1f2e3d-42")
            )
            .unwrap();
            for (k, v) in black_box(HEADERS) {
                write!(s, "{k}: {v}\r\n").unwrap();
            }
            s.push_str("\r\n");
            black_box(s.into_bytes())
        })
    });
    group.bench_function("asterisk-rs-ami build+encode", |b| {
        let mut codec = AmiCodec::new();
        let mut out = BytesMut::with_capacity(1024);
        b.iter(|| {
            out.clear();
            let mut headers = vec![
                ("Action".to_string(), "Originate".to_string()),
                (
                    "ActionID".to_string(),
                    black_box("ami-1f2e3d-42").to_string(),
                ),
            ];
            headers.extend(
                black_box(HEADERS)
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string())),
            );
            let message = RawAmiMessage {
                headers,
                output: Vec::new(),
                channel_variables: Default::default(),
            };
            codec.encode(message, &mut out).unwrap();
            black_box(&out);
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    targets = serializer
}
criterion_main!(benches);
