//! AMI over TLS (Asterisk's `tlsenable`, port 5039) on rustls.

use std::sync::Arc;

use async_net::{AsyncToSocketAddrs, TcpStream};
use futures_rustls::client::TlsStream;
use futures_rustls::TlsConnector;
use rustls_pki_types::ServerName;

use crate::driver::Dial;
use crate::{dial_tcp, launch, resolve, within, Client, Config, Error};

/// Like [`connect`](crate::connect), over TLS: the certificate must be valid for
/// `server_name` under `tls` (build it with the `ring` provider). Handshake
/// failures are [`Error::Tls`]; reconnects redo the handshake.
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
    let connector = TlsConnector::from(tls);
    let dial: Dial<TlsStream<TcpStream>> = Arc::new(move || {
        let (addrs, name, connector) = (addrs.clone(), name.clone(), connector.clone());
        Box::pin(async move {
            let tcp = dial_tcp(addrs, timeout).await?;
            let handshake = async {
                (connector.connect(name, tcp).await).map_err(|e| Error::Tls(e.to_string()))
            };
            within(timeout, handshake).await
        })
    });
    launch(dial().await?, config, dial).await
}
