//! Benchmarks of calendar sync per provider (issue 15), run on demand, never in CI: the
//! initial ingest of a large calendar from Google, Microsoft Graph and CalDAV (Radicale) on
//! both stores, and the time from a change in each provider to availability reflecting it.
//! Each measured test still checks its result (every event ingested, the slot gone).
//! Figures and commands: docs/benchmarks.md, "Sync per provider (issue 15)".

mod availability;
mod ingest;
mod proxy;

use std::time::Duration;

use jiff::Timestamp;
use pillow_store::{ConnectionId, ConnectionPatch, EventFilter, TenantId, UserId};
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// The median of some figures (the mean of the middle two for an even count).
fn median(figures: &[f64]) -> f64 {
    let mut sorted = figures.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Figures as `median [run, run, …]`, each with `decimals`.
fn runs(figures: &[f64], decimals: usize) -> String {
    let each: Vec<String> = figures.iter().map(|f| format!("{f:.decimals$}")).collect();
    format!("{:.decimals$} [{}]", median(figures), each.join(", "))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Whether availability still offers a slot starting at `at`.
async fn free(app: &TestApp, token: &str, at: Timestamp) -> bool {
    let date = at.to_zoned(jiff::tz::TimeZone::UTC).date();
    let reply = app
        .get(
            &format!("/api/calendar/availability?date={date}&timezone=UTC"),
            token,
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body["slots"].as_array().unwrap().iter().any(|s| {
        s["start_time"]
            .as_str()
            .unwrap()
            .parse::<Timestamp>()
            .unwrap()
            == at
    })
}

/// Polls availability every 10 ms until the slot at `at` is no longer offered; how long that
/// took from `since`. Panics after `patience`.
async fn until_taken(
    app: &TestApp,
    token: &str,
    at: Timestamp,
    since: std::time::Instant,
    patience: Duration,
) -> Duration {
    while since.elapsed() < patience {
        if !free(app, token, at).await {
            return since.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the change never reached availability within {patience:?}");
}

/// `POST /api/calendar/providers/{id}/sync` (any kind), waiting out a sync already running.
async fn sync_connection(app: &TestApp, token: &str, id: ConnectionId) -> Value {
    for _ in 0..400 {
        let reply = app
            .post(
                &format!("/api/calendar/providers/{id}/sync"),
                token,
                &json!({}),
            )
            .await;
        if reply.status == 409 && reply.code() == "busy" {
            tokio::time::sleep(Duration::from_millis(25)).await;
            continue;
        }
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        return reply.body;
    }
    panic!("the connection stayed busy");
}

/// Whether no sync of the connection is running: its lease is free (probed with a lease that
/// ends at once).
async fn idle(app: &TestApp, tenant: TenantId, id: ConnectionId) -> bool {
    let store = app.store();
    let free = store
        .lease_calendar_connection(
            tenant,
            id,
            "bench-probe",
            Timestamp::now(),
            Default::default(),
        )
        .await
        .unwrap()
        .is_some();
    if free {
        store
            .release_calendar_connection(tenant, id, "bench-probe")
            .await
            .unwrap();
    }
    free
}

/// Waits until no sync of the connection is running (one a connect or notification started).
async fn settle(app: &TestApp, tenant: TenantId, id: ConnectionId) {
    for _ in 0..3000 {
        if idle(app, tenant, id).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("a sync of {id} never finished");
}

/// Makes the next sync of a connection a full one from nothing, as a first sync is: no cursor
/// and none of its events stored.
async fn forget(app: &TestApp, tenant: TenantId, user: UserId, id: ConnectionId) {
    let store = app.store();
    store
        .update_calendar_connection(
            tenant,
            id,
            &ConnectionPatch {
                sync_token: Some(None),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    store
        .prune_synced_events(tenant, id, user, &[])
        .await
        .unwrap();
    assert_eq!(stored(app, tenant, user, id).await, 0);
}

/// How many events of the connection are stored.
async fn stored(app: &TestApp, tenant: TenantId, user: UserId, id: ConnectionId) -> usize {
    app.store()
        .list_events(
            tenant,
            &EventFilter {
                user_ids: vec![user],
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .iter()
        .filter(|e| e.provider_id == Some(id))
        .count()
}
