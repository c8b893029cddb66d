//! One client connection: its writer lock, faults, session state and recording.

use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Condvar, Mutex, MutexGuard};

use crate::event::Prepared;
use crate::fault::{Fault, FaultSet};
use crate::session::{Session, SessionChange};
use crate::transport::Sink;

/// The write side, under the connection's writer lock: one packet (or one whole reply)
/// is written per lock, so nothing ever interleaves inside a packet, a response or a list.
pub(crate) struct Out {
    sink: Sink,
    pub(crate) faults: FaultSet,
    /// No more bytes will be written (graceful close, fault, or shutdown).
    pub(crate) closed: bool,
    /// The socket was shut down both ways: the reader stops too.
    pub(crate) killed: bool,
    buf: Vec<u8>,
}

pub(crate) struct Conn {
    pub(crate) index: usize,
    pub(crate) peer: SocketAddr,
    out: Mutex<Out>,
    changed: Condvar,
    tcp: TcpStream,
    pub(crate) session: Mutex<Session>,
    pub(crate) recorded: Mutex<Vec<u8>>,
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Conn {
    pub(crate) fn new(
        index: usize,
        peer: SocketAddr,
        tcp: TcpStream,
        sink: Sink,
        faults: Vec<Fault>,
    ) -> Self {
        Conn {
            index,
            peer,
            out: Mutex::new(Out {
                sink,
                faults: FaultSet::new(faults),
                closed: false,
                killed: false,
                buf: Vec::new(),
            }),
            changed: Condvar::new(),
            tcp,
            session: Mutex::new(Session::default()),
            recorded: Mutex::new(Vec::new()),
        }
    }

    /// Waits while a write stall is in force; `None` once the connection is closed.
    fn writable(&self) -> Option<MutexGuard<'_, Out>> {
        let mut out = lock(&self.out);
        while !out.closed && out.faults.stalls_write() {
            out = self.changed.wait(out).unwrap_or_else(|e| e.into_inner());
        }
        (!out.closed).then_some(out)
    }

    /// Waits while a read stall is in force. False once the socket is shut down.
    pub(crate) fn wait_readable(&self) -> bool {
        let mut out = lock(&self.out);
        while !out.killed && !out.closed && out.faults.stalls_read() {
            out = self.changed.wait(out).unwrap_or_else(|e| e.into_inner());
        }
        !out.killed
    }

    /// Writes a reply's packets (each `(bytes, is_response)`, reshaped by the
    /// faults) in one `write` call, so a client reads them in one piece, and
    /// applies the session change the action made under the same writer lock: no
    /// event can be written between the change and the reply. False when nothing
    /// could be written because the connection is closed.
    pub(crate) fn write_reply<'a>(
        &self,
        packets: impl IntoIterator<Item = (&'a [u8], bool)>,
        change: Option<SessionChange>,
    ) -> bool {
        let out = self.writable();
        if let Some(change) = change {
            change.apply(&mut lock(&self.session));
        }
        let Some(mut out) = out else {
            return false;
        };
        self.write_locked(&mut out, packets)
    }

    fn write_locked<'a>(
        &self,
        out: &mut Out,
        packets: impl IntoIterator<Item = (&'a [u8], bool)>,
    ) -> bool {
        if out.faults.is_empty() {
            // Nothing to shape: the packets' bytes as they are, by vectored
            // writes, not copied into one buffer first (a flood's batch is
            // megabytes).
            let parts: Vec<&[u8]> = packets.into_iter().map(|(bytes, _)| bytes).collect();
            if out.sink.write_all_parts(&parts).is_err() {
                self.kill_locked(out);
                return false;
            }
            return true;
        }
        out.buf.clear();
        let mut close = false;
        for (bytes, response) in packets {
            if out.faults.shape_packet(bytes, response, &mut out.buf) {
                close = true;
                break;
            }
        }
        self.flush(out, close)
    }

    /// Writes the events this session wants, in one go. Whether it wants them is
    /// decided under the writer lock, so a mask or filter change takes effect
    /// exactly at its reply. Returns how many were written.
    pub(crate) fn write_events(&self, events: &[&Prepared]) -> usize {
        // Cheap first look, so an unwanted event never waits on a write stall.
        let any = {
            let session = lock(&self.session);
            events.iter().any(|e| session.wants(e))
        };
        if !any {
            return 0;
        }
        let Some(mut out) = self.writable() else {
            return 0;
        };
        let wanted: Vec<&Prepared> = {
            let session = lock(&self.session);
            events
                .iter()
                .copied()
                .filter(|e| session.wants(e))
                .collect()
        };
        if wanted.is_empty()
            || !self.write_locked(&mut out, wanted.iter().map(|e| (e.bytes.as_slice(), false)))
        {
            return 0;
        }
        wanted.len()
    }

    /// The local address of the connection (Asterisk's `LocalAddress`).
    pub(crate) fn local_addr(&self) -> Option<SocketAddr> {
        self.tcp.local_addr().ok()
    }

    /// Writes bytes verbatim (banner, replay, raw pushes); only
    /// [`Fault::DropAfterBytes`] applies.
    pub(crate) fn write_raw(&self, bytes: &[u8]) -> bool {
        let Some(mut out) = self.writable() else {
            return false;
        };
        let out = &mut *out;
        out.buf.clear();
        out.buf.extend_from_slice(bytes);
        let close = out.faults.budget(&mut out.buf, 0);
        self.flush(out, close)
    }

    fn flush(&self, out: &mut Out, close: bool) -> bool {
        let buf = std::mem::take(&mut out.buf);
        let ok = out.sink.write_all(&buf).is_ok();
        out.buf = buf;
        if !ok {
            self.kill_locked(out);
            return false;
        }
        if close {
            self.close_locked(out);
        }
        true
    }

    /// Delivers an event if this session is logged in and wants it (mask, filters).
    pub(crate) fn deliver(&self, event: &Prepared) -> bool {
        self.write_events(&[event]) == 1
    }

    /// Ends the stream gracefully (FIN); the reader keeps draining the client.
    pub(crate) fn close(&self) {
        let mut out = lock(&self.out);
        self.close_locked(&mut out);
    }

    fn close_locked(&self, out: &mut Out) {
        if !out.closed {
            out.closed = true;
            out.sink.close();
        }
        self.changed.notify_all();
    }

    /// Shuts the socket down both ways, waking a blocked reader and writer.
    pub(crate) fn kill(&self) {
        let _ = self.tcp.shutdown(Shutdown::Both);
        let mut out = lock(&self.out);
        self.kill_locked(&mut out);
    }

    fn kill_locked(&self, out: &mut Out) {
        out.closed = true;
        out.killed = true;
        let _ = self.tcp.shutdown(Shutdown::Both);
        self.changed.notify_all();
    }

    /// True while bytes can still be written.
    pub(crate) fn is_open(&self) -> bool {
        !lock(&self.out).closed
    }

    /// Changes the faults in force on this connection.
    pub(crate) fn update_faults(&self, update: impl FnOnce(&mut Vec<Fault>)) {
        let mut out = lock(&self.out);
        update(&mut out.faults.faults);
        self.changed.notify_all();
    }

    pub(crate) fn faults(&self) -> FaultSet {
        lock(&self.out).faults.clone()
    }
}
