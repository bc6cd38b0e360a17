//! From a change in the provider to availability reflecting it: Google and Microsoft by push
//! (the provider's notification starts an incremental sync), CalDAV by the engine's poller
//! with a short poll interval, and by a manual sync to show the part that is not waiting.

use std::time::{Duration, Instant};

use jiff::SignedDuration;
use pillow_store::ConnectionId;
use serde_json::json;

use super::{ms, runs, settle, sync_connection, until_taken};
use crate::caldav::{self, WORK, radicale};
use crate::helpers::{Db, spawn_app_with};
use crate::{google, microsoft};

const PUSH_RUNS: i64 = 7;
/// The poll interval of the CalDAV runs (`GOOGLE_SYNC_INTERVAL_SECONDS`, the engine's one
/// interval for every provider; 300 s by default).
const POLL_SECONDS: u64 = 10;
/// When, after the previous poll picked a change up, each CalDAV run changes the calendar:
/// spread over the interval, so the runs meet the poll at different points of its cycle.
const PHASES: [u64; 5] = [1, 3, 5, 7, 9];
const MANUAL_RUNS: i64 = 5;

/// Each run: a new event in a slot still offered, then availability polled every 10 ms.
async fn google_push(db: Db) -> Option<Vec<Duration>> {
    let h = google::harness(db, &[]).await?;
    google::open_hours(&h).await;
    h.connect_settled().await;
    assert_eq!(h.google.channels().len(), 1, "a push channel is open");
    let mut times = vec![];
    for run in 0..PUSH_RUNS {
        let slot = google::soon(6 + run);
        assert!(super::free(&h.app, h.token(), slot).await);
        let started = Instant::now();
        h.create(&format!("Pushed {run}"), slot, 30);
        times.push(until_taken(&h.app, h.token(), slot, started, Duration::from_secs(5)).await);
    }
    h.app.finish().await;
    Some(times)
}

async fn microsoft_push(db: Db) -> Vec<Duration> {
    let h = microsoft::harness(db).await.expect("the database is there");
    h.open_hours().await;
    let id = h.connect().await;
    settle(&h.app, h.tenant.id, id).await;
    assert_eq!(h.ms.subscriptions().len(), 1, "a subscription is open");
    let mut times = vec![];
    for run in 0..PUSH_RUNS {
        let slot = microsoft::soon(6 + run);
        assert!(super::free(&h.app, h.token(), slot).await);
        let started = Instant::now();
        h.create(&format!("Pushed {run}"), slot, 30);
        times.push(until_taken(&h.app, h.token(), slot, started, Duration::from_secs(5)).await);
    }
    h.app.finish().await;
    times
}

/// CalDAV figures: by the poller, with when each run's sync finished (from the connection's
/// `last_synced_at`); and by a manual sync.
struct CalDavTimes {
    polled: Vec<Duration>,
    synced_after: Vec<Duration>,
    manual: Vec<Duration>,
}

async fn caldav_poll(db: Db) -> CalDavTimes {
    let dav = radicale::Radicale::start().await.expect("Radicale");
    dav.mkcalendar(WORK, "Work", "VEVENT").await;
    let app = spawn_app_with(
        db,
        &[
            ("CALDAV_ALLOW_PRIVATE_NETWORKS", "true".to_string()),
            ("GOOGLE_SYNC_INTERVAL_SECONDS", POLL_SECONDS.to_string()),
        ],
    )
    .await
    .expect("the database is there");
    let tenant = app.tenant("Acme").await;
    let h = caldav::Harness { app, dav, tenant };
    h.open_hours().await;
    let reply = h
        .connect(json!({"server_url": h.dav.url, "username": radicale::USER,
                        "password": radicale::PASSWORD}))
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let id: ConnectionId = reply.body["provider"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    settle(&h.app, h.tenant.id, id).await;
    // The poller `serve` runs: every due connection, then a 5 s nap when none is due.
    let poller = pillow_server::sync::Scheduler::new(h.app.state.sync.clone()).spawn();
    let (mut polled, mut synced_after) = (vec![], vec![]);
    let patience = Duration::from_secs(POLL_SECONDS + 10);
    for (run, phase) in PHASES.iter().enumerate() {
        let slot = caldav::soon(6 + run as i64);
        assert!(super::free(&h.app, h.token(), slot).await);
        // The previous run ended just after a poll's sync (or the connect's).
        tokio::time::sleep(Duration::from_secs(*phase)).await;
        let uid = format!("polled-{run}");
        h.dav
            .put(
                &format!("{WORK}{uid}.ics"),
                &caldav::ics(&uid, slot, slot + SignedDuration::from_mins(30)),
            )
            .await;
        let (changed, started) = (jiff::Timestamp::now(), Instant::now());
        polled.push(until_taken(&h.app, h.token(), slot, started, patience).await);
        let synced = h
            .app
            .store()
            .get_calendar_connection(h.tenant.id, id)
            .await
            .unwrap()
            .unwrap()
            .last_synced_at
            .unwrap();
        synced_after.push(Duration::try_from(synced.duration_since(changed)).unwrap_or_default());
    }
    poller.abort();
    let _ = poller.await;
    settle(&h.app, h.tenant.id, id).await;
    let mut manual = vec![];
    for run in 0..MANUAL_RUNS {
        let slot = caldav::soon(20 + run);
        assert!(super::free(&h.app, h.token(), slot).await);
        let uid = format!("manual-{run}");
        h.dav
            .put(
                &format!("{WORK}{uid}.ics"),
                &caldav::ics(&uid, slot, slot + SignedDuration::from_mins(30)),
            )
            .await;
        let started = Instant::now();
        let result = sync_connection(&h.app, h.token(), id).await;
        assert_eq!(result["upserted"], 1, "{result}");
        manual.push(until_taken(&h.app, h.token(), slot, started, Duration::from_secs(5)).await);
    }
    h.app.finish().await;
    CalDavTimes {
        polled,
        synced_after,
        manual,
    }
}

fn millis(times: &[Duration]) -> Vec<f64> {
    times.iter().map(|d| ms(*d)).collect()
}

/// Benchmark (run on demand): change to availability per provider on each store.
/// `cargo test --release --workspace --test api -- sync_bench::availability --include-ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark; run on demand"]
async fn bench_change_to_availability_per_provider() {
    for db in [Db::Sqlite, Db::Postgres] {
        let Some(google) = google_push(db).await else {
            eprintln!("skipped {db:?}: no database");
            continue;
        };
        let microsoft = microsoft_push(db).await;
        let caldav = caldav_poll(db).await;
        let baseline = super::median(&millis(&google));
        println!("{db:?} google push: {} ms", runs(&millis(&google), 1));
        println!(
            "{db:?} microsoft push: {} ms; {:.2}× Google's median",
            runs(&millis(&microsoft), 1),
            super::median(&millis(&microsoft)) / baseline
        );
        println!(
            "{db:?} caldav poll every {POLL_SECONDS} s (changed {PHASES:?} s after a poll): {} \
             ms; its sync had finished {} ms after the change",
            runs(&millis(&caldav.polled), 0),
            runs(&millis(&caldav.synced_after), 0),
        );
        println!(
            "{db:?} caldav manual sync: {} ms; {:.2}× Google's push median",
            runs(&millis(&caldav.manual), 1),
            super::median(&millis(&caldav.manual)) / baseline
        );
    }
}
