//! AMI over TLS, and its failures in words.

use super::*;

/// AMI over TLS: `connect_tls` with the fake's certificate; actions, commands and
/// events work; a certificate for another name, or one from an authority the
/// client does not trust, is refused with `Tls`.
pub fn tls<A: Adapter>() {
    let fake = fake().tls(true).start();
    let tls = fake.tls_client_config().expect("a TLS config");
    let client = A::connect_tls(fake.addr(), "localhost", tls.clone(), config())
        .unwrap_or_else(|e| panic!("connect_tls: {e:?}"));
    let mut events = A::events(&client);
    ping::<A>(&client);
    assert_echo(A::send(&client, echo("over tls")), "over tls");
    let version = A::command(&client, "core show version").expect("command");
    assert_eq!(version.len(), 1);
    assert_eq!(
        fake.push_event(&FakeEvent::new("Secret").header("Privilege", "user,all")),
        1
    );
    wait_for::<A>(
        &mut events,
        "an event over TLS",
        |e| matches!(e, Event::Event(p) if p.is("Event", "Secret")),
        |e| matches!(e, Event::Disconnected(_)),
    );
    A::logoff(&client).expect("logoff");

    match A::connect_tls(fake.addr(), "example.com", tls, config()) {
        Err(Error::Tls(_)) => {}
        other => panic!("a certificate for another name: {other:?}"),
    }
    let other = self::fake().tls(true).start();
    let untrusted = other.tls_client_config().expect("a TLS config");
    match A::connect_tls(fake.addr(), "localhost", untrusted, config()) {
        Err(Error::Tls(_)) => {}
        other => panic!("an untrusted certificate: {other:?}"),
    }
}

/// Asserts that `result` is `Error::Tls` with a message containing `expected`.
#[track_caller]
fn assert_tls_error(result: Result<Client, Error>, expected: &str) {
    match result {
        Err(Error::Tls(message)) => assert!(
            message.contains(expected),
            "expected a TLS error saying {expected:?}, got {message:?}"
        ),
        other => panic!("expected a TLS error saying {expected:?}, got {other:?}"),
    }
}

/// `connect_tls` with `ami_client::tls::TlsConfig`: trusting the server's CA
/// from PEM works; an untrusted CA, a certificate for another name, a plain
/// AMI server on the TLS port and an unreadable CA file each fail with
/// `Error::Tls` saying so in words.
pub fn tls_errors_in_words<A: Adapter>() {
    use ami_client::tls::TlsConfig;

    let fake = fake().tls(true).start();
    let pem = fake.tls_root_pem().expect("a TLS fake");
    let trusting = TlsConfig::ca_pem(pem.clone());
    let client = A::connect_tls(fake.addr(), "localhost", trusting.clone(), config())
        .unwrap_or_else(|e| panic!("connect_tls with the fake's CA: {e:?}"));
    ping::<A>(&client);
    A::logoff(&client).expect("logoff");

    let other = FakeAsterisk::builder().tls(true).start();
    let untrusted = TlsConfig::ca_pem(other.tls_root_pem().expect("a TLS fake"));
    assert_tls_error(
        A::connect_tls(fake.addr(), "localhost", untrusted, config()),
        "the server's certificate is not signed by a trusted CA: ",
    );

    assert_tls_error(
        A::connect_tls(fake.addr(), "pbx.example.com", trusting.clone(), config()),
        "the server's certificate is for localhost, 127.0.0.1, not pbx.example.com",
    );

    let plain = self::fake().start();
    assert_tls_error(
        A::connect_tls(plain.addr(), "localhost", trusting, config()),
        "the server does not speak TLS (is this the plain AMI port?)",
    );

    let missing = std::env::temp_dir()
        .join("ami-conformance-no-such-dir")
        .join("ca.pem");
    assert_tls_error(
        A::connect_tls(
            fake.addr(),
            "localhost",
            TlsConfig::ca_file(&missing),
            config(),
        ),
        &format!("cannot read the CA file {}: ", missing.display()),
    );
}

/// Mutual TLS with `TlsConfig`: a server that requires a client certificate
/// signed by its CA lets in a client presenting one (from PEM in memory or
/// from files) and refuses, in words, a client without one; an unreadable key
/// file is named.
pub fn tls_client_certificate<A: Adapter>() {
    use ami_client::tls::TlsConfig;
    use ami_testkit::TestPki;

    let pki = TestPki::new(&["localhost", "127.0.0.1"]);
    let fake = fake().tls_pki(&pki, true).start();
    let trusting = TlsConfig::ca_pem(pki.ca_pem());

    let with_cert = trusting
        .clone()
        .client_cert_pem(pki.client_cert_pem(), pki.client_key_pem());
    let client = A::connect_tls(fake.addr(), "localhost", with_cert, config())
        .unwrap_or_else(|e| panic!("connect_tls with a client certificate: {e:?}"));
    ping::<A>(&client);
    A::logoff(&client).expect("logoff");

    let dir = std::env::temp_dir().join(format!(
        "ami-conformance-mtls-{}-{}",
        std::process::id(),
        fake.addr().port()
    ));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let (cert, key) = (dir.join("client.pem"), dir.join("client.key"));
    std::fs::write(&cert, pki.client_cert_pem()).expect("write the certificate");
    std::fs::write(&key, pki.client_key_pem()).expect("write the key");
    let from_files = trusting.clone().client_cert_files(&cert, &key);
    let client = A::connect_tls(fake.addr(), "127.0.0.1", from_files, config())
        .unwrap_or_else(|e| panic!("connect_tls with certificate files: {e:?}"));
    ping::<A>(&client);
    A::logoff(&client).expect("logoff");
    let missing = dir.join("missing.key");
    assert_tls_error(
        A::connect_tls(
            fake.addr(),
            "localhost",
            trusting.clone().client_cert_files(&cert, &missing),
            config(),
        ),
        &format!("cannot read the client key file {}: ", missing.display()),
    );
    let _ = std::fs::remove_dir_all(&dir);

    assert_tls_error(
        A::connect_tls(fake.addr(), "localhost", trusting, config()),
        "the server requires a client certificate (mutual TLS)",
    );

    // The CA of this PKI is not the issuer of a default fake's certificate.
    let other = self::fake().tls(true).start();
    assert_tls_error(
        A::connect_tls(other.addr(), "localhost", TlsConfig::ca_pem(pki.ca_pem()), config()),
        "the server's certificate is not signed by a trusted CA: its issuer is none of the trusted roots",
    );
}
