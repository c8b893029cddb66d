//! `ami fake`: ami-testkit's fake Asterisk on a port, for people to try things
//! against, until Ctrl-C.

use std::io::Write;
use std::net::SocketAddr;

use ami_testkit::{FakeAsterisk, Recording};

use crate::cli::FakeArgs;
use crate::error::{CliError, Exit};

/// Runs `ami fake` (returns only on an error).
pub fn run(args: &FakeArgs) -> Result<(), CliError> {
    let addr = SocketAddr::new(args.bind, args.port);
    let mut builder = FakeAsterisk::builder()
        .addr(addr)
        .user(&args.user, &args.secret);
    let mut replaying = String::new();
    if let Some(path) = &args.replay {
        let shown = path.display();
        let data = std::fs::read(path)
            .map_err(|e| CliError::new(Exit::Other, format!("cannot read {shown}: {e}")))?;
        let recording = Recording::parse(&data).map_err(|e| {
            CliError::new(
                Exit::Other,
                format!("{shown} is not a recording made by `ami record`: {e}"),
            )
        })?;
        replaying = format!(
            "Answering from {shown} ({} chunks recorded).\n",
            recording.chunks.len()
        );
        builder = builder.recording(&recording);
    }
    let fake = builder.try_start().map_err(|e| {
        let hint = match e.kind() {
            std::io::ErrorKind::AddrInUse => {
                " (is Asterisk or another `ami fake` there? try --port 0)"
            }
            _ => "",
        };
        CliError::new(Exit::Other, format!("cannot listen on {addr}: {e}{hint}"))
    })?;
    let bound = fake.addr();
    let mut out = std::io::stdout().lock();
    let written = write!(
        out,
        "ami fake: a fake Asterisk (ami-testkit) is listening on {bound}\n\
         {replaying}\
         Log in as {user} / {secret} (plain or MD5). In another terminal:\n  \
         AMI_SECRET={secret} ami --port {port} -u {user}{host}\n\
         Ctrl-C to stop.\n",
        user = args.user,
        secret = args.secret,
        port = bound.port(),
        host = match bound.ip().is_loopback() {
            true => String::new(),
            false => format!(" --host {}", bound.ip()),
        },
    );
    crate::stdout_result(written.and_then(|()| out.flush()))?;
    drop(out);
    loop {
        std::thread::park(); // the fake serves from its own threads until the process ends
    }
}
