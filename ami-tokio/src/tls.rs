//! AMI over TLS (Asterisk's `tlsenable`, port 5039) on rustls: [`connect_tls`],
//! and the helpers shared by every adapter (`ami_client::tls`, re-exported):
//! [`TlsConfig`] for the system's roots, a PEM CA file and a client
//! certificate, a provider chosen without any process-level default.

use ami_client::pump::{self, Dial};
pub use ami_client::tls::*;
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tokio_util::compat::{Compat, TokioAsyncReadCompatExt};

use crate::{Client, Config, Error, Tokio};

/// Connects over TLS to `addr`, checks the certificate against `server_name`
/// with `tls` (a [`TlsConfig`], or a rustls config made by
/// hand), then logs in like [`connect`](crate::connect). TCP plus handshake
/// must finish within `config.connect_timeout`. A config that cannot be built
/// (e.g. an unreadable CA file) and handshake failures (an untrusted
/// certificate, another name, a server that does not speak TLS) are
/// [`Error::Tls`], in words. Reconnects, if configured, redo the handshake.
///
/// ```no_run
/// use ami_tokio::{Config, Credentials, TlsConfig};
///
/// # async fn run() -> Result<(), ami_tokio::Error> {
/// let config = Config::new(Credentials::md5("admin", "amp111"));
/// let tls = TlsConfig::ca_file("/etc/asterisk/keys/ca.pem");
/// let client = ami_tokio::connect_tls("pbx.example.com:5039", "pbx.example.com", tls, config).await?;
/// # let _ = client; Ok(()) }
/// ```
pub async fn connect_tls(
    addr: impl ToSocketAddrs,
    server_name: &str,
    tls: impl IntoClientConfig,
    config: Config,
) -> Result<Client, Error> {
    let name = self::server_name(server_name)?;
    let connector = TlsConnector::from(tls.into_client_config()?);
    let addrs = crate::resolve(addr).await?;
    let address = pump::describe(&addrs);
    let timeout = config.connect_timeout;
    let dial: Dial<Compat<TlsStream<TcpStream>>> = Box::new(move || {
        let (addrs, name, connector) = (addrs.clone(), name.clone(), connector.clone());
        Box::pin(async move {
            let tcp = crate::dial_tcp(&addrs, timeout).await?;
            let tls = pump::handshake_within::<Tokio, _>(timeout, connector.connect(name, tcp));
            Ok(tls.await?.compat())
        })
    });
    crate::start(config, dial, &address).await
}
