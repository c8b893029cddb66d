//! What only AMI over HTTP has: session expiry and re-login.

use super::*;

/// An expired HTTP session (the server answers `Permission denied`) logs in
/// again under the reconnect policy and the client goes on; the action that
/// met `Permission denied` fails and is never re-sent. Nothing hangs.
pub fn http_session_expiry_relogs_in<A: Adapter>() {
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
    A::close(&client);
    wait_for_end::<A>(&mut events, |e| matches!(e, Event::Reconnected));
}
