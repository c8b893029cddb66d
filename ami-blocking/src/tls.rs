//! rustls without a stream wrapper: the handshake runs on the socket before the
//! threads start; afterwards the reader thread pushes ciphertext in and the writer
//! thread takes ciphertext out, both through the `ClientConnection` kept under the
//! client's lock, so the two halves work from different threads.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ami_proto::Connection;
use rustls::{ClientConfig, ClientConnection};
use rustls_pki_types::ServerName;

use crate::Error;

/// Runs the TLS handshake on `stream` within `timeout`.
pub(crate) fn handshake(
    stream: &mut TcpStream,
    server_name: &str,
    config: Arc<ClientConfig>,
    timeout: Duration,
) -> Result<ClientConnection, Error> {
    let name =
        ServerName::try_from(server_name.to_owned()).map_err(|e| Error::Tls(e.to_string()))?;
    let mut tls = ClientConnection::new(config, name).map_err(|e| Error::Tls(e.to_string()))?;
    tls.set_buffer_limit(None);
    let deadline = Instant::now() + timeout;
    while tls.is_handshaking() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::Timeout);
        }
        stream.set_read_timeout(Some(left)).map_err(Error::Io)?;
        stream.set_write_timeout(Some(left)).map_err(Error::Io)?;
        match tls.complete_io(stream) {
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(Error::Timeout)
            }
            Err(e) if e.kind() == ErrorKind::InvalidData => return Err(Error::Tls(e.to_string())),
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
                return Err(Error::Tls(e.to_string()))
            }
            Err(e) => return Err(Error::Io(e)),
        }
    }
    Ok(tls)
}

/// Decrypts `data` and feeds the plaintext to the core. Returns `Ok(true)` when
/// the peer closed the TLS session (close_notify).
pub(crate) fn feed(
    tls: &mut ClientConnection,
    mut data: &[u8],
    conn: &mut Connection,
    now: Instant,
) -> Result<bool, String> {
    let mut plain = [0u8; 16 * 1024];
    loop {
        if !data.is_empty() {
            tls.read_tls(&mut data).map_err(|e| e.to_string())?;
            tls.process_new_packets().map_err(|e| e.to_string())?;
        }
        loop {
            match tls.reader().read(&mut plain) {
                Ok(0) => return Ok(true),
                Ok(n) => conn.feed(&plain[..n], now),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => return Err(e.to_string()),
            }
        }
        if data.is_empty() {
            return Ok(false);
        }
    }
}

/// Encrypts `plain` (and any pending TLS records) onto `out`.
pub(crate) fn encrypt(tls: &mut ClientConnection, plain: &[u8], out: &mut Vec<u8>) {
    if !plain.is_empty() {
        // No buffer limit is set, so the plaintext is always taken whole.
        let _ = tls.writer().write_all(plain);
    }
    while tls.wants_write() {
        if tls.write_tls(out).is_err() {
            break;
        }
    }
}
