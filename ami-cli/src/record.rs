//! `ami record FILE`: a proxy between one client and an AMI server that writes
//! the traffic both ways, byte for byte with timing, to FILE (the format is in
//! ami-testkit's `Recording` docs and ami-cli/README.md).
//!
//! Each chunk is written (and flushed) before it is forwarded, so a request is
//! always in the file before the response it causes, and an interrupted
//! recording keeps everything up to the interruption.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use ami_testkit::{write_chunk, Direction, Recording, Redactor};

use crate::cli::RecordArgs;
use crate::error::{CliError, Exit};

type Sink = Arc<Mutex<(BufWriter<File>, u64)>>;

/// Runs `ami record`: one session, then exits.
pub fn run(args: &RecordArgs) -> Result<(), CliError> {
    let other =
        |what: String| move |e: std::io::Error| CliError::new(Exit::Other, format!("{what}: {e}"));
    let listener = TcpListener::bind(&args.listen)
        .map_err(other(format!("cannot listen on {}", args.listen)))?;
    let local = listener.local_addr().map_err(other("listener".into()))?;
    let shown = args.file.display().to_string();
    let file = File::create(&args.file).map_err(other(format!("cannot create {shown}")))?;
    let mut writer = BufWriter::new(file);
    Recording::write_header(&mut writer)
        .and_then(|()| writer.flush())
        .map_err(other(format!("cannot write {shown}")))?;
    eprintln!(
        "ami record: listening on {local}: connect your client there. Forwarding to {}, \
         recording one session to {shown}.",
        args.to
    );
    let (client, peer) = listener.accept().map_err(other("accept".into()))?;
    let server = TcpStream::connect(&args.to)
        .map_err(|e| CliError::new(Exit::Connect, format!("cannot connect to {}: {e}", args.to)))?;
    eprintln!("ami record: {peer} connected; recording until the session ends");
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let sink: Sink = Arc::new(Mutex::new((writer, 0)));
    let start = Instant::now();
    let clone = |s: &TcpStream| s.try_clone().map_err(other("socket".into()));
    let from_server = {
        let (server, client, sink) = (clone(&server)?, clone(&client)?, sink.clone());
        std::thread::spawn(move || pump(server, client, Direction::Server, None, &sink, start))
    };
    let redactor = (!args.keep_secrets).then(Redactor::default);
    let up = pump(client, server, Direction::Client, redactor, &sink, start);
    let down = from_server.join().unwrap_or(Ok(()));
    let (_, chunks) = &*sink.lock().unwrap_or_else(|e| e.into_inner());
    eprintln!("ami record: {chunks} chunks written to {shown}");
    up.and(down).map_err(other(format!("cannot write {shown}")))
}

/// Copies `from` to `to` until EOF, recording each chunk first. Socket errors end
/// the copy; only a failure to write the file is an error.
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    direction: Direction,
    mut redactor: Option<Redactor>,
    sink: &Sink,
    start: Instant,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut shown = Vec::new();
    let result = loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break Ok(()),
            Ok(n) => n,
        };
        shown.clear();
        shown.extend_from_slice(&buf[..n]);
        if let Some(redactor) = &mut redactor {
            redactor.redact(&mut shown);
        }
        {
            let mut guard = sink.lock().unwrap_or_else(|e| e.into_inner());
            let (writer, chunks) = &mut *guard;
            let millis = start.elapsed().as_millis() as u64;
            if let Err(e) =
                write_chunk(writer, direction, millis, &shown).and_then(|()| writer.flush())
            {
                break Err(e);
            }
            *chunks += 1;
        }
        if to.write_all(&buf[..n]).is_err() {
            break Ok(());
        }
    };
    // Pass the end on: the other side sees EOF (and stops reading from us on errors).
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
    result
}
