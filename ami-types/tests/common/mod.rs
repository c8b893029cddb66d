//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use ami_proto::{Packet, Parsed, Parser};

/// A path relative to the workspace root.
pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// Asterisk 22.10.1's XML documentation (outside the repository, like in `.ci/run`);
/// `AMI_XML` overrides the path.
pub fn xml_path() -> PathBuf {
    std::env::var_os("AMI_XML")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_path("../shared/asterisk-22.10.1/core-en_US.xml"))
}

/// The XML text; panics with a hint when it is missing.
pub fn read_xml() -> String {
    let path = xml_path();
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (set AMI_XML to Asterisk's core-en_US.xml)",
            path.display()
        )
    })
}

/// Every packet of a server->client capture that starts with the banner line.
pub fn packets(data: &[u8]) -> Vec<Packet> {
    let mut parser = Parser::new();
    parser.feed(data);
    parser
        .by_ref()
        .filter_map(|item| match item {
            Parsed::Packet(packet) => Some(packet),
            _ => None,
        })
        .collect()
}

/// The corpus and every `.server` fixture: (name, bytes).
pub fn captures() -> Vec<(String, Vec<u8>)> {
    let mut out = vec![(
        "corpus/asterisk-22.10.1-calls.ami".to_string(),
        std::fs::read(repo_path("corpus/asterisk-22.10.1-calls.ami")).expect("corpus"),
    )];
    let dir = repo_path("fixtures/asterisk-22.10.1");
    let mut fixtures: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures directory")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "server"))
        .collect();
    fixtures.sort();
    assert!(fixtures.len() >= 7, "expected the Asterisk 22 fixtures");
    for path in fixtures {
        let name = path.display().to_string();
        out.push((name, std::fs::read(&path).expect("fixture")));
    }
    out
}
