//! A small test PKI: a CA, a server certificate and a client certificate it
//! signed, for TLS tests that need more than one self-signed certificate
//! (mutual TLS, an issuer the client does not know). Made with rcgen at run
//! time; rustls with the `ring` provider, never a process-level default.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

use crate::tls::TlsServer;

/// A CA (named `ami-testkit CA`), a server certificate it signed for the
/// given names, and a client certificate it signed, all in PEM.
///
/// ```
/// use ami_testkit::{FakeAsterisk, TestPki};
///
/// let pki = TestPki::new(&["localhost"]);
/// // TLS with the CA's server certificate; `true`: a client certificate
/// // signed by the same CA is required (mutual TLS).
/// let fake = FakeAsterisk::builder().tls_pki(&pki, true).start();
/// assert_eq!(fake.tls_root_pem().as_deref(), Some(pki.ca_pem()));
/// assert!(pki.client_cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
/// ```
pub struct TestPki {
    ca_pem: String,
    ca_der: Vec<u8>,
    server_cert_der: Vec<u8>,
    server_key_der: Vec<u8>,
    client_cert_pem: String,
    client_key_pem: String,
}

fn named(common_name: &str, names: &[&str]) -> CertificateParams {
    let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
    let mut params = CertificateParams::new(names).expect("rcgen: valid names");
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params
}

impl TestPki {
    /// A fresh CA, a server certificate for `server_names` (DNS names or IP
    /// addresses) and a client certificate (`ami-testkit client`).
    ///
    /// # Panics
    /// When rcgen cannot make a certificate for one of the names.
    pub fn new(server_names: &[&str]) -> TestPki {
        let ca_key = KeyPair::generate().expect("rcgen: a CA key");
        let mut ca = named("ami-testkit CA", &[]);
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key).expect("rcgen: the CA certificate");
        let issuer = Issuer::new(ca, ca_key);

        let server_key = KeyPair::generate().expect("rcgen: a server key");
        let mut server = named("ami-testkit server", server_names);
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server
            .signed_by(&server_key, &issuer)
            .expect("rcgen: the server certificate");

        let client_key = KeyPair::generate().expect("rcgen: a client key");
        let mut client = named("ami-testkit client", &[]);
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = client
            .signed_by(&client_key, &issuer)
            .expect("rcgen: the client certificate");

        TestPki {
            ca_pem: ca_cert.pem(),
            ca_der: ca_cert.der().to_vec(),
            server_cert_der: server_cert.der().to_vec(),
            server_key_der: server_key.serialize_der(),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
        }
    }

    /// The CA certificate (PEM) a client must trust.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The client certificate (PEM), signed by the CA.
    pub fn client_cert_pem(&self) -> &str {
        &self.client_cert_pem
    }

    /// The client certificate's private key (PEM, PKCS#8).
    pub fn client_key_pem(&self) -> &str {
        &self.client_key_pem
    }

    /// The server side: the server certificate and, with
    /// `require_client_cert`, a client certificate signed by the CA required.
    pub(crate) fn server(&self, require_client_cert: bool) -> TlsServer {
        let provider = crate::tls::provider();
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions");
        let builder = if require_client_cert {
            let mut roots = RootCertStore::empty();
            roots
                .add(CertificateDer::from(self.ca_der.clone()))
                .expect("the CA certificate");
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .expect("a client verifier");
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key_der.clone()));
        let config = builder
            .with_single_cert(
                vec![CertificateDer::from(self.server_cert_der.clone())],
                key,
            )
            .expect("rustls accepts the server certificate");
        TlsServer {
            config: Arc::new(config),
            cert_der: self.ca_der.clone(),
            cert_pem: self.ca_pem.clone(),
        }
    }
}
