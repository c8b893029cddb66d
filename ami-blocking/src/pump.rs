//! The pump. The calling thread (a driver thread for `connect`) dials, reads
//! with a read timeout armed at the session's deadline, and waits out
//! backoffs; a writer thread per transport writes what the session transmits.
//! Nothing protocol- or lifecycle-shaped: the session decides.

use std::io::ErrorKind;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use ami_client::Link;
use ami_proto::{Reason, Transport};

use crate::wire::Wire;
use crate::{Error, Socket};

/// Shortest read timeout (std refuses zero).
const MIN_WAIT: Duration = Duration::from_millis(1);
/// Longest wait between checks when nothing is timed.
const IDLE_WAIT: Duration = Duration::from_secs(1);

/// Runs a client whose transport the caller opened: call [`run`](Self::run)
/// on a thread of its own. Returned by [`from_stream`](crate::from_stream).
#[derive(Debug)]
#[must_use = "the driver does nothing unless run"]
pub struct Driver<S> {
    link: Link,
    stream: S,
}

impl<S: Socket> Driver<S> {
    pub(crate) fn new(link: Link, stream: S) -> Self {
        Driver { link, stream }
    }

    /// Pumps until the client is closed for good: `Ok(())` after a close, a
    /// logoff or when every `Client` handle is dropped; otherwise the error
    /// that ended it.
    pub fn run(self) -> Result<(), Error> {
        let link = Arc::new(self.link);
        run(link, Some((self.stream, Wire::default())), None)
    }
}

/// An open transport: the reading handle, the writer thread, the codec.
struct Open<S: Socket> {
    stream: S,
    wire: Arc<Wire>,
    writer: Option<JoinHandle<()>>,
}

impl<S: Socket> Drop for Open<S> {
    /// Shuts the socket down (unblocking the writer) and joins the writer.
    fn drop(&mut self) {
        self.stream.shut();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// Runs the client until it is closed for good. `first` is a transport the
/// caller opened (the session already knows it is open).
pub(crate) fn run<S: Socket>(
    link: Arc<Link>,
    mut first: Option<(S, Wire)>,
    dial: Option<&Dial<S>>,
) -> Result<(), Error> {
    let mut open: Option<Open<S>> = None;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let step = link.state();
        match step.transport {
            Transport::Stop => {
                drop(open);
                return link.outcome();
            }
            Transport::Open => match (open.as_mut(), first.take()) {
                (Some(o), _) => read_once(&link, o, &mut buf, step.deadline),
                (None, Some((stream, wire))) => open = start(&link, stream, wire),
                (None, None) => link.io_error("no transport"),
            },
            Transport::Dial => {
                open = None;
                match dial.map(|dial| dial()) {
                    Some(Ok((stream, wire))) => {
                        // Connected first: the writer stops once the transport
                        // is no longer wanted open.
                        link.connected();
                        open = start(&link, stream, wire);
                    }
                    Some(Err(reason)) => link.dial_failed(reason),
                    None => link.dial_failed(Reason::Io("this client cannot redial".into())),
                }
            }
            Transport::Wait => {
                open = None;
                let wait = step
                    .deadline
                    .map_or(IDLE_WAIT, |at| at.saturating_duration_since(Instant::now()));
                if !link.wait_wake(wait.min(IDLE_WAIT)) {
                    link.timeout();
                }
            }
        }
    }
}

/// Starts the writer of an open transport; the handshake may have decrypted
/// plaintext already.
fn start<S: Socket>(link: &Arc<Link>, stream: S, wire: Wire) -> Option<Open<S>> {
    let wire = Arc::new(wire);
    let (writer_wire, writer_link) = (Arc::clone(&wire), Arc::clone(link));
    let writer = stream.split().and_then(|writer_stream| {
        thread::Builder::new()
            .name("ami-writer".into())
            .spawn(move || write_loop(&writer_link, writer_stream, &writer_wire))
    });
    match writer {
        Ok(writer) => {
            wire.feed(link, &[]);
            Some(Open {
                stream,
                wire,
                writer: Some(writer),
            })
        }
        Err(error) => {
            link.io_error(error);
            None
        }
    }
}

/// Opens a transport: TCP (and TLS) for `connect`.
pub(crate) type Dial<S> = dyn Fn() -> Result<(S, Wire), Reason> + Send;

/// One read, bounded by the session's deadline.
fn read_once<S: Socket>(link: &Link, o: &mut Open<S>, buf: &mut [u8], deadline: Option<Instant>) {
    let wait = deadline.map(|at| at.saturating_duration_since(Instant::now()).max(MIN_WAIT));
    let read = o
        .stream
        .set_read_timeout(wait)
        .and_then(|()| o.stream.read(buf));
    match read {
        Ok(0) => link.eof(),
        Ok(n) => o.wire.feed(link, &buf[..n]),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => link.timeout(),
        Err(e) if e.kind() == ErrorKind::Interrupted => {}
        Err(e) => link.io_error(e),
    }
}

/// Writes what the session transmits until the transport is no longer wanted.
fn write_loop<S: Socket>(link: &Link, mut stream: S, wire: &Wire) {
    let (mut plain, mut bytes) = (Vec::new(), Vec::new());
    loop {
        link.transmit(&mut plain);
        if link.state().transport != Transport::Open {
            stream.shut();
            return;
        }
        if !plain.is_empty() {
            wire.encode(&plain, &mut bytes);
            plain.clear();
            if let Err(error) = stream.write_all(&bytes).and_then(|()| stream.flush()) {
                stream.shut();
                return link.io_error(error);
            }
            bytes.clear();
            continue;
        }
        link.wait_wake(IDLE_WAIT);
    }
}
