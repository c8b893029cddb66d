//! TLS: a self-signed certificate made at start, rustls with the `ring` provider.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

/// The server side of TLS: its config and the certificate clients must trust.
pub(crate) struct TlsServer {
    pub(crate) config: Arc<ServerConfig>,
    pub(crate) cert_der: Vec<u8>,
    pub(crate) cert_pem: String,
}

pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    // Explicit provider: never depend on a process-wide default being installed.
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TlsServer {
    /// A fresh self-signed certificate for `localhost` and `127.0.0.1`.
    pub(crate) fn generate() -> Self {
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let certified =
            rcgen::generate_simple_self_signed(names).expect("rcgen: self-signed certificate");
        let cert_der = certified.cert.der().to_vec();
        let cert_pem = certified.cert.pem();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));
        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![CertificateDer::from(cert_der.clone())], key)
            .expect("rustls accepts the generated certificate");
        TlsServer {
            config: Arc::new(config),
            cert_der,
            cert_pem,
        }
    }
}

/// A rustls client config (ring provider) that trusts exactly the certificate `root_der`.
///
/// ```
/// let fake = ami_testkit::FakeAsterisk::builder().tls(true).start();
/// let config = ami_testkit::client_config_trusting(&fake.tls_root_der().unwrap());
/// assert!(config.alpn_protocols.is_empty());
/// ```
///
/// # Panics
/// When `root_der` is not a certificate rustls can parse.
pub fn client_config_trusting(root_der: &[u8]) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(root_der.to_vec()))
        .expect("a valid DER certificate");
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}
