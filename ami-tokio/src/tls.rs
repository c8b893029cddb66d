//! AMI over TLS (Asterisk's `tlsenable`, port 5039) on rustls.

use std::sync::Arc;

use ami_proto::Reason;
use rustls_pki_types::ServerName;
use tokio::net::ToSocketAddrs;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::pump::Dial;
use crate::{Client, Config, Error};

/// Connects over TLS to `addr`, checks the certificate against `server_name`
/// with `tls`, then logs in like [`connect`](crate::connect). TCP plus
/// handshake must finish within `config.connect_timeout`; handshake failures
/// are [`Error::Tls`]. Reconnects, if configured, redo the handshake.
pub async fn connect_tls(
    addr: impl ToSocketAddrs,
    server_name: &str,
    tls: Arc<rustls::ClientConfig>,
    config: Config,
) -> Result<Client, Error> {
    let addrs = crate::resolve(addr).await?;
    let address = crate::describe(&addrs);
    let name = ServerName::try_from(server_name.to_owned())
        .map_err(|error| Error::Tls(format!("invalid server name: {error}")))?;
    let connector = TlsConnector::from(tls);
    let timeout = config.connect_timeout;
    let dial: Dial<TlsStream<tokio::net::TcpStream>> = Box::new(move || {
        let (addrs, name, connector) = (addrs.clone(), name.clone(), connector.clone());
        Box::pin(async move {
            let tcp = crate::dial_tcp(&addrs, timeout).await?;
            match tokio::time::timeout(timeout, connector.connect(name, tcp)).await {
                Ok(Ok(stream)) => Ok(stream),
                Ok(Err(error)) => Err(Reason::Tls(error.to_string())),
                Err(_) => Err(Reason::Tls(format!(
                    "handshake not done within {timeout:?}"
                ))),
            }
        })
    });
    crate::start(config, dial, &address).await
}
