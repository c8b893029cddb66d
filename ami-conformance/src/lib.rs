//! One conformance suite for every runtime adapter of the AMI client.
//!
//! The scenarios in [`scenarios`] are written once, against the blocking
//! [`Adapter`] interface, and run over real sockets against
//! [`ami_testkit::FakeAsterisk`]. [`conformance_suite!`] turns them into one
//! `#[test]` per scenario for one adapter; `tests/*.rs` invoke it once per adapter
//! (and per runtime, for `ami-smol`), so `cargo test -p ami-conformance` lists
//! every scenario × adapter by name.

mod adapter;
pub mod adapters;
pub mod scenarios;

pub use adapter::{Adapter, Next};

use std::time::Duration;

/// The longest one scenario may run before it counts as hung.
pub const SCENARIO_LIMIT: Duration = Duration::from_secs(30);

/// Runs `scenario` on a thread of its own and fails (instead of hanging the whole
/// run) if it does not finish within [`SCENARIO_LIMIT`]; a panic inside it is
/// passed on as is. Used by [`conformance_suite!`].
pub fn run_scenario(name: &str, scenario: fn()) {
    let (done, finished) = std::sync::mpsc::channel();
    let runner = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            scenario();
            let _ = done.send(());
        })
        .expect("spawn the scenario thread");
    match finished.recv_timeout(SCENARIO_LIMIT) {
        Ok(()) => {}
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = runner.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("scenario {name} hung: not finished after {SCENARIO_LIMIT:?}")
        }
    }
}

/// Expands to `mod $module { #[test] fn <scenario>() { .. } ... }`: one test per
/// scenario of [`scenarios`], run against `$adapter`.
///
/// ```
/// // In tests/tokio.rs: `tokio::plain_login`, `tokio::tls`, ...
/// ami_conformance::conformance_suite!(tokio, ami_conformance::adapters::Tokio);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! conformance_suite {
    ($module:ident, $adapter:ty) => {
        $crate::conformance_suite!(
            @tests $module, $adapter;
            plain_login,
            refused_logoff_is_rejected,
            md5_login,
            auth_failure,
            thousand_concurrent_actions,
            list_while_events_arrive,
            command_both_formats,
            async_originate_outcome,
            unknown_action_ids_are_events,
            per_action_timeout,
            server_closes_mid_action,
            server_stall_keepalive_closes,
            server_stall_keepalive_longer_than_action_timeout,
            slow_consumer_lagged,
            a_subscriber_keeping_up_loses_nothing,
            event_capacity_is_exact,
            reconnect_after_restart,
            calls_during_reconnect_gap_fail_fast,
            close_fails_pending,
            calls_after_logoff_or_close_complete,
            ami_version_of_the_current_session,
            list_stream_items_in_order_outside_the_event_fan_out,
            list_stream_ends_with_the_connection,
            list_stream_deadline_bounds_the_whole_list,
            list_stream_refused_rejected_and_early_finish,
            tls,
            connect_refused_is_connect_error,
            login_deadline_when_the_server_never_speaks,
            reconnect_gives_up_after_max_attempts,
            dropping_every_handle_closes,
            each_subscriber_lags_alone,
            from_stream_wraps_a_user_stream,
            events_from_login_reach_the_first_subscriber,
            filters_are_in_force_before_connect_returns,
            a_callers_action_id_completes_its_own_call,
            status_can_be_seen_and_waited_for,
            events_filtered_by_name,
            tls_errors_in_words,
            tls_client_certificate
        );
    };
    (@tests $module:ident, $adapter:ty; $($scenario:ident),* $(,)?) => {
        mod $module {
            $(
                #[test]
                fn $scenario() {
                    $crate::run_scenario(
                        stringify!($scenario),
                        $crate::scenarios::$scenario::<$adapter>,
                    );
                }
            )*
        }
    };
}

/// Like [`conformance_suite!`], over HTTP (`/rawman`): the scenarios that make
/// sense there (no `from_stream`, no AMI-over-TLS port, no banner, no
/// connection-level faults of the TCP fake: its `NoReplyTo` holds the
/// fake's HTTP session, and raw pushes reach only TCP sessions).
///
/// ```
/// ami_conformance::conformance_suite_http!(tokio_http, ami_conformance::adapters::TokioHttp);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! conformance_suite_http {
    ($module:ident, $adapter:ty) => {
        $crate::conformance_suite!(
            @tests $module, $adapter;
            plain_login,
            md5_login,
            auth_failure,
            thousand_concurrent_actions,
            command_both_formats,
            list_while_events_arrive,
            async_originate_outcome,
            events_from_login_reach_the_first_subscriber,
            each_subscriber_lags_alone,
            list_stream_items_in_order_outside_the_event_fan_out,
            list_stream_refused_rejected_and_early_finish,
            http_session_expiry_then_server_gone
        );
    };
}
