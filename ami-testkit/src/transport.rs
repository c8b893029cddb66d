//! The two halves of a client connection, plain TCP or TLS over TCP.
//!
//! A reader thread owns the read half; writers share the write half under the
//! connection's writer lock. For TLS both halves share one `rustls::ServerConnection`
//! behind its own mutex, taken only briefly (lock order: writer lock, then TLS lock).

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex};

use rustls::ServerConnection;

/// TLS state shared by the read and write halves.
pub(crate) struct Tls {
    conn: Mutex<ServerConnection>,
    /// A clone of the socket, used to write TLS records.
    tcp: TcpStream,
}

impl Tls {
    fn flush(conn: &mut ServerConnection, mut tcp: &TcpStream) -> io::Result<()> {
        while conn.wants_write() {
            conn.write_tls(&mut tcp)?;
        }
        Ok(())
    }
}

/// The write half.
pub(crate) enum Sink {
    Plain(TcpStream),
    Tls(Arc<Tls>),
}

/// The read half.
pub(crate) enum Source {
    Plain(TcpStream),
    Tls(Arc<Tls>, TcpStream, Vec<u8>),
}

/// Splits an accepted socket into its halves, wrapping it in TLS when `config` is set.
pub(crate) fn split(
    tcp: &TcpStream,
    config: Option<&Arc<rustls::ServerConfig>>,
) -> io::Result<(Source, Sink)> {
    match config {
        None => Ok((
            Source::Plain(tcp.try_clone()?),
            Sink::Plain(tcp.try_clone()?),
        )),
        Some(config) => {
            let conn = ServerConnection::new(config.clone()).map_err(io::Error::other)?;
            let tls = Arc::new(Tls {
                conn: Mutex::new(conn),
                tcp: tcp.try_clone()?,
            });
            Ok((
                Source::Tls(tls.clone(), tcp.try_clone()?, vec![0; 16 * 1024]),
                Sink::Tls(tls),
            ))
        }
    }
}

impl Sink {
    pub(crate) fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Sink::Plain(tcp) => tcp.write_all(bytes),
            Sink::Tls(tls) => {
                let mut conn = tls.conn.lock().unwrap_or_else(|e| e.into_inner());
                conn.writer().write_all(bytes)?;
                Tls::flush(&mut conn, &tls.tcp)
            }
        }
    }

    /// Writes `parts` in order, as if concatenated. On TCP by vectored writes,
    /// without copying them together first: a flood's batch is megabytes, and
    /// the copy made the fake, not the client, much of what a flood measures.
    pub(crate) fn write_all_parts(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        match self {
            Sink::Plain(tcp) => {
                let mut slices: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
                let mut slices = &mut slices[..];
                IoSlice::advance_slices(&mut slices, 0);
                while !slices.is_empty() {
                    match tcp.write_vectored(slices) {
                        Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                        Ok(n) => IoSlice::advance_slices(&mut slices, n),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            }
            Sink::Tls(tls) => {
                let mut conn = tls.conn.lock().unwrap_or_else(|e| e.into_inner());
                for part in parts {
                    conn.writer().write_all(part)?;
                }
                Tls::flush(&mut conn, &tls.tcp)
            }
        }
    }

    /// Ends the stream gracefully: close_notify for TLS, then a TCP FIN.
    pub(crate) fn close(&mut self) {
        match self {
            Sink::Plain(tcp) => {
                let _ = tcp.shutdown(Shutdown::Write);
            }
            Sink::Tls(tls) => {
                let mut conn = tls.conn.lock().unwrap_or_else(|e| e.into_inner());
                conn.send_close_notify();
                let _ = Tls::flush(&mut conn, &tls.tcp);
                let _ = tls.tcp.shutdown(Shutdown::Write);
            }
        }
    }
}

impl Source {
    /// Reads plaintext; `Ok(0)` at the end of the stream.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::Plain(tcp) => tcp.read(buf),
            Source::Tls(tls, tcp, scratch) => loop {
                {
                    let mut conn = tls.conn.lock().unwrap_or_else(|e| e.into_inner());
                    match conn.reader().read(buf) {
                        Ok(n) => return Ok(n),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => return Err(e),
                    }
                }
                let n = tcp.read(scratch)?;
                if n == 0 {
                    return Ok(0);
                }
                let mut conn = tls.conn.lock().unwrap_or_else(|e| e.into_inner());
                let mut input = &scratch[..n];
                while !input.is_empty() {
                    conn.read_tls(&mut input)?;
                    let state = conn.process_new_packets();
                    // Send alerts and handshake records even when the peer erred.
                    Tls::flush(&mut conn, &tls.tcp)?;
                    state.map_err(io::Error::other)?;
                }
            },
        }
    }
}
