//! Login (plain, MD5, refused), connect failures, the banner's AMI version.

use super::*;

/// A `Logoff` the server refuses is `Rejected`, and the session stays usable.
pub fn refused_logoff_is_rejected<A: Adapter>() {
    let fake = fake()
        .handler("Logoff", |_, reply| reply.error("Not now"))
        .start();
    let client = connect::<A>(&fake, config());
    match A::logoff(&client) {
        Err(error @ Error::Rejected(_)) => {
            assert_eq!(error.message().as_deref(), Some("Not now"));
        }
        other => panic!("a refused logoff: {other:?}"),
    }
    assert!(!A::is_closed(&client));
    ping::<A>(&client);
}

/// Plain login: `Secret` on the wire, no challenge; the session works, and a
/// `Response: Error` is data (`Ok`), not an `Err`; `logoff` ends it for good:
/// the event stream says `Disconnected(LoggedOff)` and ends, later calls fail
/// with `Closed(LoggedOff)`.
pub fn plain_login<A: Adapter>() {
    let fake = fake().start();
    let client = connect::<A>(&fake, Config::new(Credentials::plain("admin", "amp111")));
    ping::<A>(&client);
    let actions = fake.recorded_actions(0);
    let login = actions
        .iter()
        .find(|a| a.is("Action", "Login"))
        .expect("a Login action");
    assert_eq!(text(login, "Username").as_deref(), Some("admin"));
    assert_eq!(text(login, "Secret").as_deref(), Some("amp111"));
    assert!(!actions.iter().any(|a| a.is("Action", "Challenge")));
    let info = &fake.clients()[0];
    assert!(info.logged_in && info.user.as_deref() == Some("admin"));
    let refused = A::send(&client, Action::new("NoSuchAction")).expect("an Error response");
    assert!(refused.response().is_error(), "{refused:?}");
    ping::<A>(&client);

    let mut events = A::events(&client);
    A::logoff(&client).expect("logoff");
    assert!(A::is_closed(&client), "is_closed once logoff() returned");
    wait_disconnected::<A>(&mut events, Reason::LoggedOff);
    wait_for_end::<A>(&mut events, |_| false);
    let after = client.clone();
    match bounded("a call after logoff", move || {
        A::send(&after, Action::new("Ping"))
    }) {
        Err(Error::Closed(Reason::LoggedOff)) => {}
        other => panic!("a call after logoff: {other:?}"),
    }
    until("the server to see the session end", || {
        !fake.clients()[0].open
    });
}

/// MD5 login: `Challenge`, then `Key` = md5(challenge + secret); the secret never
/// crosses the wire.
pub fn md5_login<A: Adapter>() {
    let fake = fake().challenge("204268188").start();
    let client = connect::<A>(&fake, config());
    ping::<A>(&client);
    let actions = fake.recorded_actions(0);
    let challenge = actions
        .iter()
        .position(|a| a.is("Action", "Challenge"))
        .expect("a Challenge action");
    assert!(actions[challenge].is("AuthType", "MD5"));
    let login = actions
        .iter()
        .position(|a| a.is("Action", "Login"))
        .expect("a Login action");
    assert!(challenge < login, "Challenge must precede Login");
    let login = &actions[login];
    assert!(login.is("AuthType", "MD5"));
    assert_eq!(text(login, "Username").as_deref(), Some("admin"));
    assert_eq!(
        text(login, "Key"),
        Some(md5_key("204268188", "amp111")),
        "{login:?}"
    );
    assert_eq!(
        text(login, "Key").as_deref(),
        Some("abc7dfc1ebc295b1cc97ea619e592a58")
    );
    let wire = fake.recorded(0);
    assert!(
        !wire.windows(6).any(|w| w == b"amp111"),
        "the secret was sent"
    );
    A::logoff(&client).expect("logoff");
}

/// A refused login fails `connect` with `Auth(<server message>)`: wrong plain
/// secret, wrong MD5 secret (with reconnect configured, which must not retry a
/// refused login into success or hang), and a server refusing every login.
pub fn auth_failure<A: Adapter>() {
    let server = fake().start();
    let cases = [
        (
            "plain, wrong secret",
            Credentials::plain("admin", "nope"),
            None,
        ),
        (
            "md5, wrong secret, reconnect on",
            Credentials::md5("admin", "nope"),
            Some(fast_reconnect()),
        ),
        ("unknown user", Credentials::md5("mallory", "amp111"), None),
    ];
    for (case, credentials, reconnect) in cases {
        let config = Config {
            reconnect,
            ..Config::new(credentials)
        };
        match A::connect(A::addr(&server), config) {
            Err(Error::Auth(message)) => {
                // The server's message, and which user and method it is about.
                assert!(
                    message.starts_with("Authentication failed ("),
                    "{case}: {message}"
                );
                assert!(message.contains("user \""), "{case}: {message}");
                assert!(message.contains(" login)"), "{case}: {message}");
            }
            other => panic!("{case}: {other:?}"),
        }
    }
    let refusing = fake().fault(Fault::RefuseLogins).start();
    match A::connect(A::addr(&refusing), config()) {
        Err(Error::Auth(message)) => {
            assert!(message.starts_with("Authentication failed ("), "{message}")
        }
        other => panic!("RefuseLogins: {other:?}"),
    }
}

/// `ami_version()` is the AMI version of the current connection's banner: the
/// fake's default `11.0.0`, or the one it is built to announce; `Some` again on
/// the connection a reconnect opens; `None` while a reconnecting client is
/// between connections, and once the client is closed (`logoff()` or `close()`
/// returned).
pub fn ami_version_of_the_current_session<A: Adapter>() {
    let default = fake().start();
    let client = connect::<A>(&default, config());
    assert_eq!(A::ami_version(&client).as_deref(), Some("11.0.0"));
    A::logoff(&client).expect("logoff");
    assert_eq!(A::ami_version(&client), None, "after logoff");

    let fake = fake().ami_version("7.0.3").start();
    let client = connect::<A>(&fake, with_reconnect(fast_reconnect()));
    assert_eq!(A::ami_version(&client).as_deref(), Some("7.0.3"));
    let mut events = A::events(&client);
    fake.restart();
    wait_for::<A>(
        &mut events,
        "Disconnected",
        |e| matches!(e, Event::Disconnected(_)),
        |e| matches!(e, Event::Reconnected),
    );
    wait_for::<A>(
        &mut events,
        "Reconnected",
        |e| matches!(e, Event::Reconnected),
        |e| matches!(e, Event::Disconnected(_)),
    );
    assert_eq!(A::ami_version(&client).as_deref(), Some("7.0.3"));

    // A client whose next attempt is a minute away stays between connections.
    let waiting = connect::<A>(&fake, with_reconnect(reconnect_in_a_minute()));
    let mut waiting_events = A::events(&waiting);
    fake.restart();
    wait_for::<A>(
        &mut waiting_events,
        "Disconnected",
        |e| matches!(e, Event::Disconnected(_)),
        |e| matches!(e, Event::Reconnected),
    );
    assert_eq!(A::ami_version(&waiting), None, "between connections");
    assert!(!A::is_closed(&waiting));
    A::close(&waiting);
    A::close(&client);
    assert_eq!(A::ami_version(&client), None, "closed");
}

/// Nothing listens at the address: `connect` fails with `Connect`.
pub fn connect_refused_is_connect_error<A: Adapter>() {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port"); // the listener is dropped: nothing listens there now
    match bounded("connect to nothing", move || A::connect(addr, config())) {
        Err(Error::Connect(_)) => {}
        other => panic!("connect to nothing: {other:?}"),
    }
}

/// A server that accepts the connection but never sends its banner: `connect`
/// fails with `Timeout` at the login deadline.
pub fn login_deadline_when_the_server_never_speaks<A: Adapter>() {
    // Connections complete in the kernel's backlog; nothing ever answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = silent.local_addr().expect("an address");
    let mut config = config();
    config.login_timeout = Duration::from_millis(300);
    let started = Instant::now();
    let result = bounded("connect to a silent server", move || {
        A::connect(addr, config)
    });
    let took = started.elapsed();
    assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
    assert!(took >= Duration::from_millis(300), "too early: {took:?}");
    drop(silent);
}
