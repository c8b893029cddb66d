//! What lies between the socket and the core: dialling, and the [`Wire`] codec
//! that both the plain and the TLS path go through.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ami_proto::Connection;
use rustls::{ClientConfig, ClientConnection};
use rustls_pki_types::ServerName;

use crate::Error;

/// Turns bytes read from the socket into the core's input, and the core's
/// output into bytes for the socket: the identity for plain TCP, rustls for TLS
/// (no stream wrapper, so the reader and the writer thread share the session
/// under the client's lock).
pub(crate) struct Wire(Option<ClientConnection>);

impl Wire {
    pub(crate) const PLAIN: Wire = Wire(None);

    /// Feeds `data`, read from the socket, to the core. Under TLS `data` may be
    /// empty, to take plaintext the handshake already decrypted.
    pub(crate) fn feed(&mut self, conn: &mut Connection, mut data: &[u8], now: Instant) {
        let Some(tls) = &mut self.0 else {
            return conn.feed(data, now);
        };
        let mut plain = Vec::new();
        let outcome = loop {
            if !data.is_empty() {
                let read = tls.read_tls(&mut data).map_err(|e| e.to_string());
                if let Err(e) =
                    read.and_then(|_| tls.process_new_packets().map_err(|e| e.to_string()))
                {
                    break Err(e);
                }
            }
            match tls.reader().read_to_end(&mut plain) {
                Ok(_) => break Ok(true), // close_notify
                Err(e) if e.kind() != ErrorKind::WouldBlock => break Err(e.to_string()),
                Err(_) if data.is_empty() => break Ok(false),
                Err(_) => {}
            }
        };
        conn.feed(&plain, now);
        match outcome {
            Ok(false) => {}
            Ok(true) => conn.handle_eof(),
            Err(message) => conn.handle_io_error(format!("TLS: {message}")),
        }
    }

    /// Appends what the core transmits (and pending TLS records) to `out`.
    pub(crate) fn transmit(&mut self, conn: &mut Connection, out: &mut Vec<u8>) {
        let Some(tls) = &mut self.0 else {
            conn.poll_transmit(out);
            return;
        };
        let mut plain = Vec::new();
        if conn.poll_transmit(&mut plain) > 0 {
            // No buffer limit is set, so the plaintext is always taken whole.
            let _ = tls.writer().write_all(&plain);
        }
        while tls.wants_write() && tls.write_tls(out).is_ok() {}
    }
}

/// How `connect`/`connect_tls` dial, kept for reconnects.
pub(crate) struct Dialer {
    pub(crate) addrs: Vec<SocketAddr>,
    pub(crate) tls: Option<(String, Arc<ClientConfig>)>,
    pub(crate) timeout: Duration,
    pub(crate) write_timeout: Duration,
}

impl Dialer {
    /// A connected socket and its codec, the TLS handshake done.
    pub(crate) fn dial(&self) -> Result<(TcpStream, Wire), Error> {
        let mut last = std::io::Error::new(ErrorKind::InvalidInput, "no address to connect to");
        for addr in &self.addrs {
            match TcpStream::connect_timeout(addr, self.timeout) {
                Ok(mut stream) => {
                    let _ = stream.set_nodelay(true);
                    let wire = match &self.tls {
                        Some((name, config)) => self.handshake(&mut stream, name, config)?,
                        None => Wire::PLAIN,
                    };
                    let timeout = Some(self.write_timeout);
                    stream.set_write_timeout(timeout).map_err(Error::Io)?;
                    return Ok((stream, wire));
                }
                Err(error) => last = error,
            }
        }
        Err(Error::Connect(last))
    }

    /// Runs the TLS handshake on `stream` within the connect timeout.
    fn handshake(
        &self,
        stream: &mut TcpStream,
        name: &str,
        config: &Arc<ClientConfig>,
    ) -> Result<Wire, Error> {
        let tls_error = |e: &dyn std::fmt::Display| Error::Tls(e.to_string());
        let name = ServerName::try_from(name.to_owned()).map_err(|e| tls_error(&e))?;
        let mut tls = ClientConnection::new(Arc::clone(config), name).map_err(|e| tls_error(&e))?;
        tls.set_buffer_limit(None);
        let deadline = Instant::now() + self.timeout;
        while tls.is_handshaking() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Timeout);
            }
            stream.set_read_timeout(Some(left)).map_err(Error::Io)?;
            stream.set_write_timeout(Some(left)).map_err(Error::Io)?;
            if let Err(e) = tls.complete_io(stream) {
                return Err(match e.kind() {
                    ErrorKind::WouldBlock | ErrorKind::TimedOut => Error::Timeout,
                    ErrorKind::InvalidData | ErrorKind::UnexpectedEof => tls_error(&e),
                    _ => Error::Io(e),
                });
            }
        }
        Ok(Wire(Some(tls)))
    }
}
