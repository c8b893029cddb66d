//! TLS for AMI (Asterisk's `tlsenable`, usually port 5039), written once for
//! every adapter: [`TlsConfig`] builds a [`rustls::ClientConfig`] from the
//! system's roots, a PEM CA file, and a client certificate for mutual TLS;
//! [`handshake_error`] says in words why a handshake failed.
//!
//! Nothing here relies on a process-level rustls `CryptoProvider`: an
//! application that has both `ring` and `aws-lc-rs` compiled in (e.g. it adds
//! `rustls = "0.23"` with default features next to this crate) and installed
//! no default works the same. The provider is chosen by [`crypto_provider`].
//! Certificate verification is always on; there is no switch to turn it off.
//!
//! ```no_run
//! use ami_client::tls::TlsConfig;
//!
//! // The server's CA from a PEM file, and a client certificate (mutual TLS).
//! let tls = TlsConfig::ca_file("/etc/asterisk/keys/ca.pem")
//!     .client_cert_files("/etc/ami/client.pem", "/etc/ami/client.key")
//!     .build()?;
//! // The system's roots (a certificate from a public CA).
//! let public = TlsConfig::system_roots().build()?;
//! # let _ = (tls, public);
//! # Ok::<(), ami_proto::Error>(())
//! ```

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ami_proto::Error;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{AlertDescription, CertificateError, ClientConfig, RootCertStore};

pub use rustls;

/// The provider [`TlsConfig::build`] uses when none was given with
/// [`TlsConfig::provider`]: the process-level default if the application
/// installed one (`CryptoProvider::install_default`), else `aws-lc-rs` when
/// this crate's `aws-lc-rs` feature is on, else `ring` when its `ring`
/// feature is on (the adapters' default), else none. It never installs a
/// process default itself.
pub fn crypto_provider() -> Option<Arc<CryptoProvider>> {
    if let Some(installed) = CryptoProvider::get_default() {
        return Some(Arc::clone(installed));
    }
    #[cfg(feature = "aws-lc-rs")]
    return Some(Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    return Some(Arc::new(rustls::crypto::ring::default_provider()));
    #[cfg(not(any(feature = "ring", feature = "aws-lc-rs")))]
    None
}

/// Where trusted CA certificates come from.
#[derive(Clone)]
enum Roots {
    /// The operating system's store (`rustls-native-certs`).
    System,
    /// A file of PEM certificates (or one DER certificate).
    File(PathBuf),
    /// PEM certificates in memory.
    Pem(Vec<u8>),
}

/// A client certificate and its private key, for mutual TLS.
#[derive(Clone)]
enum Identity {
    Files { cert: PathBuf, key: PathBuf },
    Pem { cert: Vec<u8>, key: Vec<u8> },
}

/// What to trust and who to be: a recipe for a [`rustls::ClientConfig`],
/// read and checked by [`build`](TlsConfig::build). Every adapter's
/// `connect_tls` takes it as is (see [`IntoClientConfig`]); files are then
/// read when connecting and their errors are [`Error::Tls`].
///
/// Trust is added, never removed: `TlsConfig::system_roots().ca_file(..)`
/// trusts both. Verification of the server's certificate and name is always
/// on.
#[derive(Clone, Default)]
pub struct TlsConfig {
    roots: Vec<Roots>,
    identity: Option<Identity>,
    provider: Option<Arc<CryptoProvider>>,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let roots: Vec<String> = self
            .roots
            .iter()
            .map(|root| match root {
                Roots::System => "system".to_owned(),
                Roots::File(path) => path.display().to_string(),
                Roots::Pem(_) => "PEM in memory".to_owned(),
            })
            .collect();
        f.debug_struct("TlsConfig")
            .field("roots", &roots)
            .field("client_cert", &self.identity.is_some())
            .field("provider", &self.provider.is_some())
            .finish()
    }
}

impl TlsConfig {
    /// Trusts the CA certificates of the operating system's store.
    pub fn system_roots() -> Self {
        TlsConfig::default().with_system_roots()
    }

    /// Trusts the CA certificates in the PEM file at `path` (a single DER
    /// certificate is accepted too), e.g. a self-signed server certificate.
    pub fn ca_file(path: impl Into<PathBuf>) -> Self {
        TlsConfig::default().with_ca_file(path)
    }

    /// Trusts the CA certificates in `pem` (PEM text, in memory).
    pub fn ca_pem(pem: impl Into<Vec<u8>>) -> Self {
        TlsConfig::default().with_ca_pem(pem)
    }

    /// Also trusts the system's roots.
    pub fn with_system_roots(mut self) -> Self {
        self.roots.push(Roots::System);
        self
    }

    /// Also trusts the certificates in the PEM file at `path`.
    pub fn with_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.roots.push(Roots::File(path.into()));
        self
    }

    /// Also trusts the certificates in `pem`.
    pub fn with_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.roots.push(Roots::Pem(pem.into()));
        self
    }

    /// Presents this client certificate (PEM file, the chain leaf first) with
    /// its private key (PEM file: PKCS#8, PKCS#1 or SEC1) when the server asks
    /// for one (mutual TLS).
    pub fn client_cert_files(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.identity = Some(Identity::Files {
            cert: cert.into(),
            key: key.into(),
        });
        self
    }

    /// Like [`client_cert_files`](TlsConfig::client_cert_files), from PEM in memory.
    pub fn client_cert_pem(mut self, cert: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Self {
        self.identity = Some(Identity::Pem {
            cert: cert.into(),
            key: key.into(),
        });
        self
    }

    /// Uses this rustls crypto provider instead of [`crypto_provider`]'s choice.
    pub fn provider(mut self, provider: Arc<CryptoProvider>) -> Self {
        self.provider = Some(provider);
        self
    }

    /// Reads the files and builds the rustls config.
    ///
    /// Fails with [`Error::Tls`] naming the file that cannot be read or holds
    /// no usable certificate or key, when no root at all was found, when the
    /// client certificate and key do not match, or when there is no crypto
    /// provider (see [`crypto_provider`]).
    pub fn build(&self) -> Result<Arc<ClientConfig>, Error> {
        let mut store = RootCertStore::empty();
        if self.roots.is_empty() {
            return Err(Error::Tls(
                "no trusted CA: add the system's roots or the server's CA (PEM file)".into(),
            ));
        }
        let mut system_errors = None;
        for roots in &self.roots {
            if let Some(errors) = add_roots(&mut store, roots)? {
                system_errors = Some(errors);
            }
        }
        if store.is_empty() {
            // Only the system's store can come out empty without an error.
            let why = system_errors.filter(|why| !why.is_empty());
            let why = why.map(|why| format!(" ({why})")).unwrap_or_default();
            return Err(Error::Tls(format!(
                "no CA certificate found in the system's store{why}: \
                 trust the server's CA from a PEM file instead"
            )));
        }
        let identity = self.identity.as_ref().map(Identity::load).transpose()?;
        let provider = self
            .provider
            .clone()
            .or_else(crypto_provider)
            .ok_or_else(|| {
                Error::Tls(
                    "no rustls crypto provider: enable the `ring` or `aws-lc-rs` feature, \
                     install a process default, or pass one to TlsConfig::provider"
                        .into(),
                )
            })?;
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(format!("the crypto provider cannot do TLS 1.2/1.3: {e}")))?
            .with_root_certificates(store);
        let config = match identity {
            None => builder.with_no_client_auth(),
            Some((chain, key, what)) => builder.with_client_auth_cert(chain, key).map_err(|e| {
                Error::Tls(format!(
                    "the client certificate and key ({what}) cannot be used together: {e}"
                ))
            })?,
        };
        Ok(Arc::new(config))
    }
}

/// Reads a file, naming it when it cannot be read.
fn read(path: &Path, what: &str) -> Result<Vec<u8>, Error> {
    std::fs::read(path)
        .map_err(|e| Error::Tls(format!("cannot read the {what} {}: {e}", path.display())))
}

/// The PEM certificates in `bytes`; `None` when there is none.
fn pem_certificates(bytes: &[u8], source: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Tls(format!("{source} is not valid PEM: {e}")))
}

/// Adds `roots` to `store`. For the system's store, which may hold nothing
/// usable without that being an error yet, returns what went wrong reading it.
fn add_roots(store: &mut RootCertStore, roots: &Roots) -> Result<Option<String>, Error> {
    let (certs, source) = match roots {
        Roots::System => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            let errors: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
            return Ok(Some(errors.join("; ")));
        }
        Roots::File(path) => {
            let bytes = read(path, "CA file")?;
            let source = format!("the CA file {}", path.display());
            let pem = bytes.windows(10).any(|window| window == b"-----BEGIN");
            let certs = if pem || bytes.is_empty() {
                pem_certificates(&bytes, &source)?
            } else {
                vec![CertificateDer::from(bytes)] // not PEM: one DER certificate
            };
            (certs, source)
        }
        Roots::Pem(pem) => {
            let source = "the CA PEM".to_owned();
            (pem_certificates(pem, &source)?, source)
        }
    };
    if certs.is_empty() {
        return Err(Error::Tls(format!("{source} holds no certificate")));
    }
    for (index, cert) in certs.into_iter().enumerate() {
        store.add(cert).map_err(|e| {
            Error::Tls(format!(
                "{source}: certificate {} is not a usable CA certificate: {e}",
                index + 1
            ))
        })?;
    }
    Ok(None)
}

impl Identity {
    /// The certificate chain, the key, and where they came from.
    fn load(
        &self,
    ) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, String), Error> {
        let (cert, key, cert_source, key_source) = match self {
            Identity::Files { cert, key } => (
                read(cert, "client certificate file")?,
                read(key, "client key file")?,
                format!("the client certificate file {}", cert.display()),
                format!("the client key file {}", key.display()),
            ),
            Identity::Pem { cert, key } => (
                cert.clone(),
                key.clone(),
                "the client certificate PEM".to_owned(),
                "the client key PEM".to_owned(),
            ),
        };
        let chain = pem_certificates(&cert, &cert_source)?;
        if chain.is_empty() {
            return Err(Error::Tls(format!("{cert_source} holds no certificate")));
        }
        let key = PrivateKeyDer::from_pem_slice(&key).map_err(|e| {
            Error::Tls(format!(
                "{key_source} holds no usable private key (PEM PKCS#8, PKCS#1 or SEC1): {e}"
            ))
        })?;
        let what = match self {
            Identity::Files { cert, key } => format!("{}, {}", cert.display(), key.display()),
            Identity::Pem { .. } => "PEM in memory".to_owned(),
        };
        Ok((chain, key, what))
    }
}

/// What `connect_tls` accepts: a [`TlsConfig`] (built when connecting) or a
/// rustls config made by hand.
///
/// A config made by hand with `ClientConfig::builder()` needs a process-level
/// provider; prefer `ClientConfig::builder_with_provider(provider)` with the
/// provider of your choice (or [`crypto_provider`]'s).
pub trait IntoClientConfig {
    /// The rustls config, or why it cannot be made ([`Error::Tls`]).
    fn into_client_config(self) -> Result<Arc<ClientConfig>, Error>;
}

impl IntoClientConfig for TlsConfig {
    fn into_client_config(self) -> Result<Arc<ClientConfig>, Error> {
        self.build()
    }
}

impl IntoClientConfig for &TlsConfig {
    fn into_client_config(self) -> Result<Arc<ClientConfig>, Error> {
        self.build()
    }
}

impl IntoClientConfig for Arc<ClientConfig> {
    fn into_client_config(self) -> Result<Arc<ClientConfig>, Error> {
        Ok(self)
    }
}

impl IntoClientConfig for ClientConfig {
    fn into_client_config(self) -> Result<Arc<ClientConfig>, Error> {
        Ok(Arc::new(self))
    }
}

/// `server_name` as rustls checks it, or [`Error::Tls`] saying it is not a
/// DNS name or an IP address.
pub fn server_name(server_name: &str) -> Result<ServerName<'static>, Error> {
    ServerName::try_from(server_name.to_owned()).map_err(|e| {
        Error::Tls(format!(
            "{server_name:?} is not a server name (a DNS name or an IP address): {e}"
        ))
    })
}

/// Says in words why a TLS handshake with the server failed, from the error
/// the handshake returned (rustls wraps its errors in [`io::Error`]).
/// The adapters use it for [`Error::Tls`].
pub fn handshake_error(error: &io::Error) -> String {
    let Some(tls) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return match error.kind() {
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => format!(
                "the server closed the connection during the TLS handshake \
                 (is this the plain AMI port, or does it want a client certificate?): {error}"
            ),
            _ => format!("TLS handshake failed: {error}"),
        };
    };
    describe(tls)
}

/// The words for a transport error that is the TLS layer's (`None` for any
/// other I/O error): after the handshake, e.g. the alert of a server that
/// refused the client certificate.
pub fn transport_error(error: &io::Error) -> Option<String> {
    error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .map(describe)
}

/// A rustls error in words: what went wrong, and what to check.
pub fn describe(error: &rustls::Error) -> String {
    match error {
        rustls::Error::InvalidCertificate(certificate) => describe_certificate(certificate),
        rustls::Error::InvalidMessage(_) => {
            format!("the server does not speak TLS (is this the plain AMI port?): {error}")
        }
        rustls::Error::AlertReceived(AlertDescription::CertificateRequired) => {
            format!("the server requires a client certificate (mutual TLS): {error}")
        }
        rustls::Error::AlertReceived(
            AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown
            | AlertDescription::AccessDenied,
        ) => format!("the server refused the client certificate: {error}"),
        rustls::Error::AlertReceived(AlertDescription::HandshakeFailure) => format!(
            "the server refused the handshake (no TLS version or cipher in common, \
             or it wants a client certificate): {error}"
        ),
        other => format!("TLS handshake failed: {other}"),
    }
}

fn describe_certificate(error: &CertificateError) -> String {
    match error {
        CertificateError::UnknownIssuer => format!(
            "the server's certificate is not signed by a trusted CA: \
             its issuer is none of the trusted roots ({error}); \
             trust the server's CA, e.g. with `TlsConfig::ca_file`"
        ),
        // A trusted CA has the issuer's name but did not make this signature
        // (e.g. two self-signed certificates with the same subject).
        CertificateError::BadSignature => format!(
            "the server's certificate is not signed by a trusted CA: \
             a trusted CA has its issuer's name but not its signature ({error}); \
             trust the server's CA, e.g. with `TlsConfig::ca_file`"
        ),
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => {
            let names: Vec<&str> = presented.iter().map(|name| plain_name(name)).collect();
            let names = if names.is_empty() {
                "no name".to_owned()
            } else {
                names.join(", ")
            };
            format!(
                "the server's certificate is for {names}, not {}",
                expected.to_str()
            )
        }
        CertificateError::NotValidForName => {
            format!("the server's certificate is for another name: {error}")
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            format!("the server's certificate has expired: {error}")
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            format!("the server's certificate is not valid yet (check the clock): {error}")
        }
        other => format!("the server's certificate was rejected: {other}"),
    }
}

/// `DnsName("pbx.example.com")` -> `pbx.example.com`, `IpAddress(10.0.0.1)` -> `10.0.0.1`.
fn plain_name(presented: &str) -> &str {
    presented
        .strip_prefix("DnsName(\"")
        .and_then(|rest| rest.strip_suffix("\")"))
        .or_else(|| {
            presented
                .strip_prefix("IpAddress(")
                .and_then(|rest| rest.strip_suffix(')'))
        })
        .unwrap_or(presented)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_ca_file_is_named() {
        let error = TlsConfig::ca_file("/nonexistent/ca.pem")
            .build()
            .unwrap_err();
        let Error::Tls(message) = error else {
            panic!("{error:?}")
        };
        assert!(
            message.starts_with("cannot read the CA file /nonexistent/ca.pem: "),
            "{message}"
        );
    }

    /// A file of its own in the target's temporary directory.
    fn scratch(name: &str, contents: &[u8]) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("ami-client-tls-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).expect("write a scratch file");
        path
    }

    #[test]
    fn ca_files_without_a_usable_certificate_are_named() {
        let cases: [(&str, &[u8], &str); 3] = [
            ("empty.pem", b"", "holds no certificate"),
            (
                "key-only.pem",
                b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                "holds no certificate",
            ),
            (
                "garbage.der",
                b"\x30\x03\x02\x01",
                "certificate 1 is not a usable CA",
            ),
        ];
        for (name, contents, expected) in cases {
            let path = scratch(name, contents);
            let result = TlsConfig::ca_file(&path).build();
            let _ = std::fs::remove_file(&path);
            let Err(Error::Tls(message)) = result else {
                panic!("{name}: {result:?}")
            };
            let file = format!("the CA file {}", path.display());
            assert!(message.starts_with(&file), "{name}: {message}");
            assert!(message.contains(expected), "{name}: {message}");
        }
    }

    #[test]
    fn the_ca_is_checked_before_the_client_certificate() {
        let error = TlsConfig::ca_pem(Vec::new())
            .client_cert_files("/nonexistent/client.pem", "/nonexistent/client.key")
            .build()
            .unwrap_err();
        assert!(
            matches!(&error, Error::Tls(m) if m.contains("holds no certificate")),
            "the CA is checked first: {error:?}"
        );
    }

    #[test]
    fn no_root_at_all_is_refused() {
        let error = TlsConfig::default().build().unwrap_err();
        assert!(matches!(error, Error::Tls(m) if m.starts_with("no trusted CA")));
    }

    #[test]
    fn presented_names_read_plainly() {
        assert_eq!(plain_name("DnsName(\"localhost\")"), "localhost");
        assert_eq!(plain_name("IpAddress(127.0.0.1)"), "127.0.0.1");
        assert_eq!(plain_name("Unsupported(0x01)"), "Unsupported(0x01)");
    }

    #[test]
    fn a_plain_server_reads_as_not_tls() {
        let error = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
        );
        let message = handshake_error(&error);
        assert!(
            message.starts_with("the server does not speak TLS (is this the plain AMI port?)"),
            "{message}"
        );
    }
}
