//! A fleet of three fake Asterisks: merged events tagged and counted exactly,
//! actions to each PBX, one PBX restarted while the others flow, add and remove
//! at run time, a PBX that is down from the start.

use std::collections::BTreeMap;
use std::time::Duration;

use ami_fleet::{Fleet, FleetEvents};
use ami_proto::{Action, Config, Credentials, Event, Reconnect, Status};
use ami_testkit::FakeAsterisk;

fn config() -> Config {
    Config {
        reconnect: Some(Reconnect {
            initial_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            max_attempts: None,
        }),
        ..Config::new(Credentials::md5("admin", "amp111"))
    }
}

fn event(name: &str, n: usize) -> ami_testkit::Event {
    ami_testkit::Event::new(name)
        .header("Privilege", "user,all")
        .header("Seq", n.to_string())
}

async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), future)
        .await
        .expect("timed out")
}

/// Reads until `want` (pbx, event name) counts are reached, ignoring other
/// event names; returns every count of the names in `want`, then checks that
/// nothing more of them arrives.
async fn collect(events: &mut FleetEvents, want: &BTreeMap<(String, String), usize>) {
    let names: Vec<&String> = want.keys().map(|(_, n)| n).collect();
    let mut got: BTreeMap<(String, String), usize> = BTreeMap::new();
    let counted = |e: &ami_fleet::FleetEvent| match &e.event {
        Event::Event(p) => p
            .event_name()
            .map(|n| n.to_str_lossy().into_owned())
            .filter(|n| names.contains(&n))
            .map(|n| (e.pbx.to_string(), n)),
        Event::Lagged(n) => panic!("{} lagged {n}", e.pbx),
        _ => None,
    };
    while &got != want {
        let item = within(events.next()).await.expect("stream ended");
        if let Some(key) = counted(&item) {
            *got.entry(key).or_default() += 1;
        }
        for (key, n) in &got {
            assert!(
                n <= want.get(key).unwrap_or(&0),
                "too many {key:?}: {got:?}"
            );
        }
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    while let Some(item) = events.try_next() {
        assert!(counted(&item).is_none(), "extra event {item:?}");
    }
}

fn want(items: &[(&str, &str, usize)]) -> BTreeMap<(String, String), usize> {
    items
        .iter()
        .map(|(p, n, c)| ((p.to_string(), n.to_string()), *c))
        .collect()
}

async fn three() -> (Fleet, Vec<FakeAsterisk>, FleetEvents) {
    let fakes: Vec<FakeAsterisk> = (0..3).map(|_| FakeAsterisk::builder().start()).collect();
    let fleet = Fleet::new();
    let events = fleet.events();
    for (name, fake) in ["a", "b", "c"].iter().zip(&fakes) {
        fleet.add(name, fake.addr().to_string(), config()).unwrap();
    }
    for name in ["a", "b", "c"] {
        within(fleet.ready(name)).await.unwrap();
    }
    (fleet, fakes, events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merged_events_are_tagged_and_counted_exactly() {
    let (fleet, fakes, mut events) = three().await;
    assert!(fleet.health().all_ready());
    for i in 0..50 {
        assert_eq!(fakes[0].push_event(&event("Alpha", i)), 1);
        assert_eq!(fakes[1].push_event(&event("Beta", i)), 1);
        assert_eq!(fakes[2].push_event(&event("Gamma", i)), 1);
        if i % 5 == 0 {
            for fake in &fakes {
                fake.push_event(&event("Common", i));
            }
        }
    }
    // Every PBX's Common events are counted apart.
    let expected = want(&[
        ("a", "Alpha", 50),
        ("b", "Beta", 50),
        ("c", "Gamma", 50),
        ("a", "Common", 10),
        ("b", "Common", 10),
        ("c", "Common", 10),
    ]);
    collect(&mut events, &expected).await;

    // A second subscriber sees what arrives from now on, tagged the same way.
    let mut second = fleet.events();
    for i in 0..7 {
        fakes[1].push_event(&event("Late", i));
    }
    let expected = want(&[("b", "Late", 7)]);
    collect(&mut second, &expected).await;
    collect(&mut events, &expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_go_to_each_pbx() {
    let (fleet, fakes, _events) = three().await;
    for (name, fake) in ["a", "b", "c"].iter().zip(&fakes) {
        let client = fleet.pbx(name).expect("client");
        let reply = within(client.send(Action::new("Ping"))).await.unwrap();
        assert!(reply.response().is("Response", "Success"), "{reply:?}");
        let sent = String::from_utf8_lossy(&fake.recorded(0)).into_owned();
        assert!(sent.contains("Action: Ping"), "{name}: {sent}");
    }
    assert!(fleet.pbx("nope").is_none());
    assert!(fleet.status("nope").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_pbx_restarted_while_the_others_flow() {
    let (fleet, fakes, mut events) = three().await;
    fakes[1].restart();
    // a and c keep flowing and answering while b is down or reconnecting.
    for i in 0..20 {
        fakes[0].push_event(&event("Alpha", i));
        fakes[2].push_event(&event("Gamma", i));
    }
    collect(
        &mut events,
        &want(&[("a", "Alpha", 20), ("c", "Gamma", 20)]),
    )
    .await;
    for name in ["a", "c"] {
        let client = fleet.pbx(name).unwrap();
        within(client.send(Action::new("Ping"))).await.unwrap();
    }
    // b comes back by itself; its events flow again, tagged b.
    within(async {
        while fleet.status("b") != Some(Status::Ready)
            || fakes[1].push_event(&event("Probe", 0)) == 0
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    for i in 0..30 {
        assert_eq!(fakes[1].push_event(&event("Beta", i)), 1);
    }
    collect(&mut events, &want(&[("b", "Beta", 30)])).await;
    assert!(fleet.health().all_ready());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_and_remove_at_run_time() {
    let (fleet, fakes, mut events) = three().await;
    let d = FakeAsterisk::builder().start();
    fleet.add("d", d.addr().to_string(), config()).unwrap();
    assert!(fleet.add("d", d.addr().to_string(), config()).is_err());
    within(fleet.ready("d")).await.unwrap();
    for i in 0..12 {
        d.push_event(&event("Delta", i));
    }
    collect(&mut events, &want(&[("d", "Delta", 12)])).await;

    fleet.remove("b").unwrap();
    assert!(fleet.remove("b").is_err());
    assert!(fleet.pbx("b").is_none());
    assert_eq!(fleet.names().len(), 3);
    within(async {
        while fakes[1].push_event(&event("Gone", 0)) != 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    for i in 0..5 {
        fakes[0].push_event(&event("Alpha", i));
    }
    collect(&mut events, &want(&[("a", "Alpha", 5)])).await;
    let health = fleet.health();
    assert_eq!((health.ready, health.pbxs.len()), (3, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pbx_down_from_the_start_is_added_connecting_and_blocks_nothing() {
    let (fleet, fakes, mut events) = three().await;
    // A port nobody listens on.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap();
    drop(free);
    fleet.add("ghost", addr.to_string(), config()).unwrap();
    within(async {
        while !matches!(fleet.status("ghost"), Some(Status::Connecting { attempt }) if attempt >= 2)
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(fleet.pbx("ghost").is_none());
    let health = fleet.health();
    assert_eq!((health.ready, health.connecting), (3, 1));
    for i in 0..10 {
        fakes[2].push_event(&event("Gamma", i));
    }
    collect(&mut events, &want(&[("c", "Gamma", 10)])).await;

    // Without a reconnect policy, one failed attempt closes it for good.
    let once = Config::new(Credentials::md5("admin", "amp111"));
    fleet.add("once", addr.to_string(), once).unwrap();
    let error = within(fleet.ready("once")).await.unwrap_err();
    assert!(matches!(error, ami_proto::Error::Closed(_)), "{error:?}");
    assert_eq!(fleet.health().closed, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_is_told_lagged_per_pbx_and_nothing_is_unaccounted() {
    let fakes: Vec<FakeAsterisk> = (0..2).map(|_| FakeAsterisk::builder().start()).collect();
    // A merged queue of 1 and 8 events per PBX subscription: a subscriber that
    // does not read falls behind on each PBX separately.
    let fleet = Fleet::with_capacity(1);
    for (name, fake) in ["a", "b"].iter().zip(&fakes) {
        let config = Config {
            event_capacity: 8,
            ..config()
        };
        fleet.add(name, fake.addr().to_string(), config).unwrap();
    }
    for name in ["a", "b"] {
        within(fleet.ready(name)).await.unwrap();
    }
    let mut events = fleet.events();
    for i in 0..100 {
        assert_eq!(fakes[0].push_event(&event("Alpha", i)), 1);
    }
    for i in 0..3 {
        assert_eq!(fakes[1].push_event(&event("Beta", i)), 1);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Every Alpha is either received or counted in a Lagged tagged "a"; b's
    // three events all arrive, and b never lags.
    let mut alpha = 0u64;
    let mut lagged_a = 0u64;
    let mut beta = 0u64;
    within(async {
        while alpha + lagged_a < 100 || beta < 3 {
            let item = events.next().await.unwrap();
            match (&*item.pbx, &item.event) {
                ("a", Event::Event(p)) if p.is("Event", "Alpha") => alpha += 1,
                ("a", Event::Lagged(n)) => lagged_a += n,
                ("b", Event::Event(p)) if p.is("Event", "Beta") => beta += 1,
                ("b", Event::Lagged(n)) => panic!("b lagged {n}"),
                _ => {}
            }
        }
    })
    .await;
    assert_eq!((alpha + lagged_a, beta), (100, 3));
    assert!(lagged_a > 0, "the slow subscriber was told it lagged on a");
}
