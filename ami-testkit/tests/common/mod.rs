//! A minimal blocking AMI client for the tests: std TcpStream plus ami_proto::Parser.
#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use ami_proto::{Packet, PacketKind, Parsed, Parser};

/// Safety net only: every wait is on real bytes; this bounds a broken test.
pub const TIMEOUT: Duration = Duration::from_secs(10);

pub fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/asterisk-22.10.1")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub struct Client {
    pub tcp: TcpStream,
    parser: Parser,
    /// Every byte received.
    pub raw: Vec<u8>,
    pub banner: Option<String>,
}

impl Client {
    /// Connects and reads the banner.
    pub fn connect(addr: SocketAddr) -> Client {
        let mut client = Client::connect_raw(addr);
        loop {
            match client.parser.next() {
                Some(Parsed::Banner(b)) => {
                    client.banner = b.version().map(str::to_owned);
                    return client;
                }
                Some(other) => panic!("expected the banner, got {other:?}"),
                None => assert!(client.read_some(), "EOF before the banner"),
            }
        }
    }

    /// Connects without reading anything.
    pub fn connect_raw(addr: SocketAddr) -> Client {
        let tcp = TcpStream::connect(addr).expect("connect");
        tcp.set_read_timeout(Some(TIMEOUT)).unwrap();
        Client {
            tcp,
            parser: Parser::new(),
            raw: Vec::new(),
            banner: None,
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.tcp.write_all(bytes).expect("send");
    }

    /// Reads once; false at EOF.
    fn read_some(&mut self) -> bool {
        let mut buf = [0u8; 64 * 1024];
        match self.tcp.read(&mut buf) {
            Ok(0) => false,
            Ok(n) => {
                self.raw.extend_from_slice(&buf[..n]);
                self.parser.feed(&buf[..n]);
                true
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => false,
            Err(e) => panic!("read failed (timeout means the expected bytes never came): {e}"),
        }
    }

    fn take_item(&mut self) -> Option<Parsed> {
        let item = self.parser.next()?;
        if let Parsed::Banner(b) = &item {
            self.banner = b.version().map(str::to_owned);
            return self.parser.next();
        }
        Some(item)
    }

    /// The next packet, or `None` at EOF.
    pub fn next_packet(&mut self) -> Option<Packet> {
        loop {
            match self.take_item() {
                Some(Parsed::Packet(p)) => return Some(p),
                Some(other) => panic!("unexpected item {other:?}"),
                None => {
                    if !self.read_some() {
                        return None;
                    }
                }
            }
        }
    }

    pub fn packet(&mut self) -> Packet {
        self.next_packet().expect("a packet before EOF")
    }

    /// The next response, skipping events.
    pub fn response(&mut self) -> Packet {
        loop {
            let p = self.packet();
            if p.kind() == PacketKind::Response {
                return p;
            }
        }
    }

    /// The next event named `name`, skipping others.
    pub fn event(&mut self, name: &str) -> Packet {
        loop {
            let p = self.packet();
            if p.event_name().is_some_and(|n| n == name) {
                return p;
            }
        }
    }

    /// Every remaining packet until EOF.
    pub fn rest(&mut self) -> Vec<Packet> {
        std::iter::from_fn(|| self.next_packet()).collect()
    }

    /// Reads until the server ends the stream; returns all bytes received.
    pub fn read_to_eof(&mut self) -> Vec<u8> {
        while self.read_some() {}
        self.raw.clone()
    }

    /// Reads until `raw` ends with `suffix`.
    pub fn read_until_suffix(&mut self, suffix: &[u8]) {
        while !self.raw.ends_with(suffix) {
            assert!(
                self.read_some(),
                "EOF before {:?}",
                String::from_utf8_lossy(suffix)
            );
        }
    }

    pub fn login(&mut self, events: &str) -> Packet {
        self.send(format!("Action: Login\r\nActionID: login\r\nUsername: admin\r\nSecret: amp111\r\nEvents: {events}\r\n\r\n").as_bytes());
        let r = self.response();
        assert_eq!(r.message().unwrap(), "Authentication accepted");
        r
    }

    pub fn action(&mut self, text: &str) -> Packet {
        let mut bytes = text.replace('\n', "\r\n").into_bytes();
        bytes.extend_from_slice(b"\r\n");
        self.send(&bytes);
        self.response()
    }
}

/// A packet's identity for comparing reply sequences: kind, name, ActionID, Message.
pub fn shape(p: &Packet) -> (PacketKind, String, Option<String>, Option<String>) {
    let name = p
        .event_name()
        .or_else(|| p.response())
        .map(|v| v.to_string())
        .unwrap_or_default();
    (
        p.kind(),
        name,
        p.action_id().map(|v| v.to_string()),
        p.message().map(|v| v.to_string()),
    )
}

pub fn parse_all(bytes: &[u8]) -> Vec<Packet> {
    let mut parser = Parser::new();
    parser.feed(bytes);
    std::iter::from_fn(|| parser.next())
        .filter_map(|i| match i {
            Parsed::Packet(p) => Some(p),
            _ => None,
        })
        .collect()
}
