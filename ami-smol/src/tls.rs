//! AMI over TLS (Asterisk's `tlsenable`, port 5039) on rustls.

use std::sync::Arc;

use ami_proto::Reason;
use async_net::{AsyncToSocketAddrs, TcpStream};
use futures_lite::future;
use futures_rustls::client::TlsStream;
use futures_rustls::TlsConnector;
use rustls_pki_types::ServerName;

use crate::pump::Dial;
use crate::{describe, dial_tcp, launch, resolve, Client, Config, Error};

/// Connects over TLS to `addr`, checks the certificate against `server_name`
/// with `tls`, then logs in like [`connect`](crate::connect). TCP plus
/// handshake must finish within `config.connect_timeout`; handshake failures
/// are [`Error::Tls`]. Reconnects, if configured, redo the handshake.
pub async fn connect_tls(
    addr: impl AsyncToSocketAddrs,
    server_name: &str,
    tls: Arc<rustls::ClientConfig>,
    config: Config,
) -> Result<Client, Error> {
    let name =
        ServerName::try_from(server_name.to_owned()).map_err(|e| Error::Tls(e.to_string()))?;
    let timeout = config.connect_timeout;
    let addrs = resolve(addr, timeout).await?;
    let address = describe(&addrs);
    let connector = TlsConnector::from(tls);
    let dial: Dial<TlsStream<TcpStream>> = Box::new(move || {
        let (addrs, name, connector) = (addrs.clone(), name.clone(), connector.clone());
        Box::pin(async move {
            let tcp = dial_tcp(addrs, timeout).await?;
            let handshake = async { Some(connector.connect(name, tcp).await) };
            let expire = async {
                async_io::Timer::after(timeout).await;
                None
            };
            match future::or(handshake, expire).await {
                Some(Ok(stream)) => Ok(stream),
                Some(Err(error)) => Err(Reason::Tls(error.to_string())),
                None => Err(Reason::Tls(format!(
                    "handshake not done within {timeout:?}"
                ))),
            }
        })
    });
    launch(config, dial, &address).await
}
