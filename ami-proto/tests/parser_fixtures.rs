//! The parser on real Asterisk 22 traffic: every chunking gives the same output.

use std::path::{Path, PathBuf};

use ami_proto::{PacketKind, Parsed, Parser};

fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

fn server_fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = repo_path("fixtures/asterisk-22.10.1");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures directory")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "server"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    out.sort();
    assert!(out.len() >= 7, "expected the Asterisk 22 fixtures");
    out
}

/// Feeds `data` in the given chunk sizes (cycled) and collects every item.
fn parse_chunked(data: &[u8], chunks: &[usize]) -> Vec<Parsed> {
    parse_fed(data, chunks, false)
}

/// As [`parse_chunked`], the chunks given as owned `Bytes` (parsed where they
/// lie) when `owned`.
fn parse_fed(data: &[u8], chunks: &[usize], owned: bool) -> Vec<Parsed> {
    let data = bytes::Bytes::copy_from_slice(data);
    let mut parser = Parser::new();
    let mut items = Vec::new();
    let mut at = 0;
    let mut sizes = chunks.iter().cycle();
    while at < data.len() {
        let size = (*sizes.next().unwrap()).max(1).min(data.len() - at);
        if owned {
            parser.feed_bytes(data.slice(at..at + size));
        } else {
            parser.feed(&data[at..at + size]);
        }
        at += size;
        for item in parser.by_ref() {
            items.push(item);
        }
    }
    items
}

/// A small deterministic generator, so that "random" chunkings are reproducible.
fn pseudo_random_sizes(seed: u64, count: usize, max: usize) -> Vec<usize> {
    let mut state = seed;
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state as usize % max) + 1
        })
        .collect()
}

#[test]
fn each_fixture_parses_identically_whole_bytewise_and_in_random_chunks() {
    for (name, data) in server_fixtures() {
        let whole = parse_chunked(&data, &[data.len()]);
        assert!(
            matches!(whole[0], Parsed::Banner(_)),
            "{name}: banner first"
        );
        let packets = whole
            .iter()
            .filter(|i| matches!(i, Parsed::Packet(_)))
            .count();
        let blank_lines = data.windows(4).filter(|w| w == b"\r\n\r\n").count();
        assert_eq!(packets, blank_lines, "{name}: one packet per empty line");
        assert_eq!(parse_chunked(&data, &[1]), whole, "{name}: byte by byte");
        for seed in 1..=20 {
            let sizes = pseudo_random_sizes(seed, 64, 97);
            assert_eq!(parse_chunked(&data, &sizes), whole, "{name}: seed {seed}");
            let owned = parse_fed(&data, &sizes, true);
            assert_eq!(owned, whole, "{name}: seed {seed}, parsed where they lie");
        }
        assert_eq!(
            parse_fed(&data, &[data.len()], true),
            whole,
            "{name}: owned"
        );
        assert_eq!(parse_fed(&data, &[1], true), whole, "{name}: owned bytes");
    }
}

#[test]
fn benchmark_corpus_parses_to_its_exact_packet_count() {
    let data = std::fs::read(repo_path("corpus/asterisk-22.10.1-calls.ami")).unwrap();
    let items = parse_chunked(&data, &[4096]);
    let packets = items
        .iter()
        .filter(|i| matches!(i, Parsed::Packet(_)))
        .count();
    let malformed = items
        .iter()
        .filter(|i| matches!(i, Parsed::Malformed(_)))
        .count();
    assert_eq!(packets, 25_688);
    assert_eq!(malformed, 0);
    let events = items
        .iter()
        .filter(|i| matches!(i, Parsed::Packet(p) if p.kind() == PacketKind::Event))
        .count();
    assert!(events > 20_000, "the corpus is mostly events, got {events}");
}

#[test]
fn originate_response_is_an_event_with_a_response_header() {
    let data = std::fs::read(repo_path(
        "fixtures/asterisk-22.10.1/05_originate_local_app_wait.server",
    ))
    .unwrap();
    let items = parse_chunked(&data, &[data.len()]);
    let outcome = items
        .iter()
        .find_map(|i| match i {
            Parsed::Packet(p) if p.event_name().is_some_and(|n| n == "OriginateResponse") => {
                Some(p)
            }
            _ => None,
        })
        .expect("an OriginateResponse");
    assert_eq!(outcome.kind(), PacketKind::Event);
    assert_eq!(outcome.response(), None);
    assert_eq!(outcome.get("Response").unwrap(), "Success");
    assert_eq!(outcome.get("Reason").unwrap(), "4");
    assert_eq!(outcome.action_id().unwrap(), "orig-app");
}

#[test]
fn command_output_lines_come_out_in_order() {
    let data = std::fs::read(repo_path("fixtures/asterisk-22.10.1/03_command.server")).unwrap();
    let items = parse_chunked(&data, &[data.len()]);
    let reply = items
        .iter()
        .find_map(|i| match i {
            Parsed::Packet(p) if p.action_id().is_some_and(|id| id == "cmd-2") => Some(p),
            _ => None,
        })
        .unwrap();
    let lines: Vec<String> = reply
        .command_output()
        .map(|v| v.to_str_lossy().into_owned())
        .collect();
    assert_eq!(lines.len(), 7);
    assert_eq!(lines[0], "[ Context 'test' created by 'pbx_config' ]");
    assert_eq!(lines[5], "");
    assert!(reply
        .command_text()
        .ends_with("-= 1 extension (4 priorities) in 1 context. =-"));
}
