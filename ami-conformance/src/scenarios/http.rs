//! What only AMI over HTTP has: session expiry and re-login.

use super::*;

/// An expired HTTP session (the server answers `Permission denied`) logs in
/// again under the reconnect policy and the client goes on; the action that
/// met `Permission denied` fails and is never re-sent; a server gone for good
/// ends the client once the policy gives up. Nothing hangs.
pub fn http_session_expiry_then_server_gone<A: Adapter>() {
    // Short long-polls (Max-Age 4 s) and deadlines: nothing waits long.
    let fake = fake().http_max_age(Duration::from_secs(4)).start();
    let policy = Reconnect {
        max_attempts: Some(3),
        ..fast_reconnect()
    };
    let mut config = with_reconnect(policy);
    config.action_timeout = Duration::from_secs(2);
    let client = connect::<A>(&fake, config);
    let mut events = A::events(&client);
    ping::<A>(&client);
    fake.expire_http_sessions();
    // The next request meets `Permission denied`: that action fails (it is
    // never re-sent silently) and the session logs in again.
    let refused = A::send(&client, Action::new("Ping"));
    assert!(
        matches!(refused, Err(Error::Down(_) | Error::Closed(_))),
        "{refused:?}"
    );
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
    ping::<A>(&client);
    // The server gone for good: the client ends once the policy gives up.
    drop(fake);
    wait_for_end::<A>(&mut events, |e| matches!(e, Event::Reconnected));
    assert!(A::is_closed(&client));
    let late = bounded("a call after the server is gone", {
        let client = client.clone();
        move || A::send(&client, Action::new("Ping"))
    });
    assert!(matches!(late, Err(Error::Closed(_))), "{late:?}");
}
