//! What lies between the socket and the session: dialling, and the [`Wire`]
//! codec that both the plain and the TLS path go through.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ami_client::tls::handshake_error;
use ami_client::Link;
use ami_proto::Reason;
use rustls::{ClientConfig, ClientConnection};
use rustls_pki_types::ServerName;

/// Turns bytes read from the socket into plaintext, and plaintext into bytes
/// for the socket: the identity for plain TCP, rustls for TLS (no stream
/// wrapper: the reader and the writer thread share the TLS session).
#[derive(Default)]
pub(crate) struct Wire(Option<Mutex<ClientConnection>>);

impl Wire {
    /// Gives `data`, read from the socket, to the session as plaintext. Under
    /// TLS `data` may be empty, to take plaintext the handshake already
    /// decrypted; the peer's `close_notify` is the end of the stream.
    pub(crate) fn feed(&self, link: &Link, mut data: &[u8]) {
        let Some(tls) = &self.0 else {
            return link.received(data);
        };
        let mut tls = tls.lock().unwrap_or_else(PoisonError::into_inner);
        let mut plain = Vec::new();
        let outcome = loop {
            if !data.is_empty() {
                let read = tls.read_tls(&mut data).and_then(|_| {
                    tls.process_new_packets()
                        .map_err(|e| std::io::Error::new(ErrorKind::InvalidData, e))
                });
                if let Err(e) = read {
                    break Err(e);
                }
            }
            match tls.reader().read_to_end(&mut plain) {
                Ok(_) => break Ok(true),
                Err(e) if e.kind() != ErrorKind::WouldBlock => break Err(e),
                Err(_) if data.is_empty() => break Ok(false),
                Err(_) => {}
            }
        };
        drop(tls);
        link.received(&plain);
        match outcome {
            Ok(false) => {}
            Ok(true) => link.eof(),
            // A rustls error (e.g. the server's alert) becomes `Reason::Tls` in words.
            Err(error) if ami_client::tls::transport_error(&error).is_some() => {
                link.io_failed(&error)
            }
            Err(error) => link.io_error(format!("TLS: {error}")),
        }
    }

    /// Encodes `plain` (and pending TLS records) into `out`.
    pub(crate) fn encode(&self, plain: &[u8], out: &mut Vec<u8>) {
        let Some(tls) = &self.0 else {
            out.extend_from_slice(plain);
            return;
        };
        let mut tls = tls.lock().unwrap_or_else(PoisonError::into_inner);
        // No buffer limit is set, so the plaintext is always taken whole.
        let _ = tls.writer().write_all(plain);
        while tls.wants_write() && tls.write_tls(out).is_ok() {}
    }
}

/// How `connect`/`connect_tls` dial, kept for reconnects.
pub(crate) struct Dialer {
    pub(crate) addrs: Vec<SocketAddr>,
    pub(crate) tls: Option<(ServerName<'static>, Arc<ClientConfig>)>,
    pub(crate) timeout: Duration,
    pub(crate) write_timeout: Duration,
}

impl Dialer {
    /// A connected socket and its codec, the TLS handshake done.
    pub(crate) fn dial(&self) -> Result<(TcpStream, Wire), Reason> {
        let mut last = (
            ErrorKind::InvalidInput,
            "no address to connect to".to_owned(),
        );
        for addr in &self.addrs {
            match TcpStream::connect_timeout(addr, self.timeout) {
                Ok(mut stream) => {
                    let _ = stream.set_nodelay(true);
                    let wire = match &self.tls {
                        Some((name, config)) => self.handshake(&mut stream, name, config)?,
                        None => Wire::default(),
                    };
                    let timeout = Some(self.write_timeout);
                    stream
                        .set_write_timeout(timeout)
                        .map_err(|e| Reason::Io(e.to_string()))?;
                    return Ok((stream, wire));
                }
                Err(error) => last = (error.kind(), format!("{addr}: {error}")),
            }
        }
        Err(Reason::Connect {
            kind: last.0,
            message: last.1,
        })
    }

    /// Runs the TLS handshake on `stream`, each of its reads and writes
    /// bounded by the connect timeout.
    fn handshake(
        &self,
        stream: &mut TcpStream,
        name: &ServerName<'static>,
        config: &Arc<ClientConfig>,
    ) -> Result<Wire, Reason> {
        let mut tls = ClientConnection::new(Arc::clone(config), name.clone())
            .map_err(|e| Reason::Tls(format!("cannot start a TLS session: {e}")))?;
        tls.set_buffer_limit(None);
        let timeout = Some(self.timeout);
        let bounded = stream
            .set_read_timeout(timeout)
            .and_then(|()| stream.set_write_timeout(timeout));
        bounded.map_err(|e| Reason::Io(e.to_string()))?;
        while tls.is_handshaking() {
            tls.complete_io(stream).map_err(|e| match e.kind() {
                ErrorKind::WouldBlock | ErrorKind::TimedOut => {
                    Reason::Tls(format!("no handshake answer within {:?}", self.timeout))
                }
                _ => Reason::Tls(handshake_error(&e)),
            })?;
        }
        Ok(Wire(Some(Mutex::new(tls))))
    }
}
