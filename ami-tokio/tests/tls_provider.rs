//! The user's situation of issue 13: an application that adds `rustls = "0.23"`
//! with its default features gets the `aws-lc-rs` provider next to the `ring`
//! one our crates enable, so rustls cannot pick a process-level default by
//! itself (`ClientConfig::builder()` would panic). This test binary is built
//! that way (see the dev-dependencies of ami-tokio), and connecting through
//! our helpers must work with no default installed, and use the application's
//! provider once it installed one.
//!
//! One `#[test]` only: installing the process default is global to the binary.

use std::sync::Arc;

use ami_testkit::FakeAsterisk;
use ami_tokio::rustls::crypto::CryptoProvider;
use ami_tokio::{Action, Config, Credentials, TlsConfig};

fn config() -> Config {
    Config::new(Credentials::md5("admin", "amp111"))
}

async fn ping_over_tls(fake: &FakeAsterisk, tls: impl ami_tokio::IntoClientConfig) {
    let client = ami_tokio::connect_tls(fake.addr(), "localhost", tls, config())
        .await
        .unwrap_or_else(|e| panic!("connect_tls: {e}"));
    let pong = client.send(Action::new("Ping")).await.expect("Ping");
    assert!(pong.response().is("Response", "Success"), "{pong:?}");
    client.logoff().await.expect("logoff");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helpers_work_whatever_provider_the_application_chose() {
    // Both providers are compiled in and none is installed: exactly the state
    // in which `ClientConfig::builder()` panics.
    assert!(CryptoProvider::get_default().is_none());
    let by_hand = std::panic::catch_unwind(rustls::ClientConfig::builder);
    assert!(
        by_hand.is_err(),
        "this build reproduces the user's panic: no provider can be picked automatically"
    );
    assert!(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider()
        ))
        .with_safe_default_protocol_versions()
        .is_ok(),
        "aws-lc-rs is compiled into this test"
    );

    let fake = FakeAsterisk::builder().tls(true).start();
    let pem = fake.tls_root_pem().expect("a TLS fake");

    // No process default: the helpers choose a provider explicitly.
    ping_over_tls(&fake, TlsConfig::ca_pem(pem.clone())).await;
    let built = TlsConfig::ca_pem(pem.clone()).build().expect("a config");
    ping_over_tls(&fake, built).await;
    // The testkit's own client config does not need a default either.
    ping_over_tls(&fake, fake.tls_client_config().expect("TLS")).await;
    assert!(
        CryptoProvider::get_default().is_none(),
        "our crates never install a process default"
    );

    // The application installs aws-lc-rs as its default: the helpers use it.
    rustls::crypto::aws_lc_rs::default_provider()
        .install_default()
        .expect("the first install");
    let installed = CryptoProvider::get_default().expect("installed").clone();
    let built = TlsConfig::ca_pem(pem.clone()).build().expect("a config");
    assert!(Arc::ptr_eq(built.crypto_provider(), &installed));
    let chosen = ami_tokio::tls::crypto_provider().expect("a provider");
    assert!(Arc::ptr_eq(&chosen, &installed));
    ping_over_tls(&fake, built).await;

    // And a config the application builds its own way now works too.
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(fake.tls_root_der().expect("TLS").into())
        .expect("a certificate");
    let own = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    ping_over_tls(&fake, own).await;
}
