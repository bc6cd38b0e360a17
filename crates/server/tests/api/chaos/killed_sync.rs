//! One of three server processes on one PostgreSQL killed with SIGKILL in the middle of a
//! calendar sync: the connection it had leased stays its own until the sync lease runs out
//! (another process asked to sync it hears "busy"), then another process's poller takes it
//! over, and the local copy ends equal to Google's, no event lost or stored twice.

use std::time::{Duration, Instant};

use pillow_fakes::google::FakeGoogle;
use pillow_store_postgres::testing::fresh_database;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{serve, tenant_with_host};
use crate::google::{CLIENT_ID, CLIENT_SECRET, HOST_EMAIL, google_settings};

/// Short enough for a test, longer than the slow listing below.
const SYNC_LEASE_SECONDS: f64 = 4.0;
/// How long the fake takes over each listing while the victim syncs.
const SLOW_LIST: Duration = Duration::from_secs(3);

/// The connection's sync: lease holder, lease end and last finished sync (seconds since the
/// epoch).
#[derive(Debug, Clone, PartialEq)]
struct SyncState {
    owner: Option<String>,
    locked_until: Option<f64>,
    last_synced_at: Option<f64>,
}

async fn sync_state(pool: &PgPool) -> SyncState {
    let (owner, locked_until, last_synced_at) =
        sqlx::query_as::<_, (Option<String>, Option<f64>, Option<f64>)>(
            "SELECT sync_lock_owner, extract(epoch FROM sync_locked_until)::float8,
                    extract(epoch FROM last_synced_at)::float8
               FROM calendar_providers",
        )
        .fetch_one(pool)
        .await
        .unwrap();
    SyncState {
        owner,
        locked_until,
        last_synced_at,
    }
}

fn now_seconds() -> f64 {
    jiff::Timestamp::now().as_millisecond() as f64 / 1000.0
}

/// The Google events stored for the connection, as (Google's id, title), sorted.
async fn local_events(pool: &PgPool) -> Vec<(String, String)> {
    sqlx::query_as::<_, (String, String)>(
        "SELECT external_id, title FROM calendar_events
          WHERE provider_id IS NOT NULL AND status <> 'cancelled'
          ORDER BY external_id, title",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Google's live events, the same way.
fn remote_events(google: &FakeGoogle) -> Vec<(String, String)> {
    let mut events: Vec<_> = google
        .events(HOST_EMAIL)
        .into_iter()
        .filter(|e| e["status"] != "cancelled")
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_string(),
                e["summary"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    events.sort();
    events
}

fn add_event(google: &FakeGoogle, n: i64) -> Value {
    let hour = jiff::Timestamp::now().as_second() / 3600 * 3600;
    let start = jiff::Timestamp::from_second(hour + (48 + n) * 3600).unwrap();
    google.create_event(
        HOST_EMAIL,
        json!({
            "summary": format!("Event {n}"),
            "start": {"dateTime": start.to_string()},
            "end": {"dateTime": (start + jiff::SignedDuration::from_mins(30)).to_string()},
        }),
    )
}

/// The server processes, killed when the test ends, however it ends.
struct Servers(Vec<(std::process::Child, String)>);

impl Drop for Servers {
    fn drop(&mut self) {
        for (child, _) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits for `what`, checked every 20 ms, for at most `limit`.
macro_rules! wait_until {
    ($what:expr, $limit:expr, $done:expr) => {{
        let started = Instant::now();
        while !$done {
            assert!(started.elapsed() < $limit, "{} within {:?}", $what, $limit);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_killed_mid_sync_keeps_the_connection_until_its_lease_ends_then_another_syncs_it_exactly()
 {
    let Some(database) = fresh_database().await else {
        return;
    };
    let google = FakeGoogle::start().await;
    google.add_user(HOST_EMAIL);
    for n in 0..30 {
        add_event(&google, n);
    }
    let (_tenant, host, key) = tenant_with_host(&database.url, "Chaos sync");
    let mut settings: Vec<(&str, String)> = google_settings(&google);
    settings.extend([
        ("GOOGLE_PUSH", "off".to_string()),
        ("GOOGLE_SYNC_INTERVAL_SECONDS", "1".to_string()),
        ("SYNC_LEASE_SECONDS", format!("{SYNC_LEASE_SECONDS}")),
    ]);
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut servers = Servers(Vec::new());
    for _ in 0..3 {
        servers.0.push(serve(&database.url, &settings).await);
    }
    let client = reqwest::Client::new();
    let pool = PgPool::connect(&database.url).await.unwrap();

    // Connect through the first server (its default PUBLIC_URL names localhost).
    let first = &servers.0[0].1;
    let port = first.rsplit(':').next().unwrap();
    google.register_client(
        CLIENT_ID,
        CLIENT_SECRET,
        &format!("http://localhost:{port}/api/calendar/google/callback"),
    );
    let consent: Value = client
        .get(format!(
            "{first}/api/calendar/google/connect?user_id={host}"
        ))
        .bearer_auth(&key)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let redirect = google
        .approve(consent["url"].as_str().unwrap(), HOST_EMAIL)
        .unwrap();
    let callback = client.get(&redirect).send().await.unwrap();
    assert_eq!(callback.status(), StatusCode::OK);
    let connection: Value = callback.json().await.unwrap();
    let connection = connection["provider"]["id"].as_str().unwrap().to_string();
    wait_until!(
        "the first sync",
        Duration::from_secs(30),
        local_events(&pool).await.len() == 30
    );

    // Changes at Google, and every listing slow: whichever process syncs next holds the
    // lease for seconds, and that process dies.
    google.set_list_delay(SLOW_LIST);
    google.reset_concurrent_lists();
    for n in 30..40 {
        add_event(&google, n);
    }
    let remote = google.events(HOST_EMAIL);
    for gone in remote.iter().take(3) {
        google.delete_event(HOST_EMAIL, gone["id"].as_str().unwrap());
    }
    let renamed = remote[5]["id"].as_str().unwrap();
    google.update_event(HOST_EMAIL, renamed, json!({"summary": "Renamed"}));
    let before_wait = now_seconds();
    // A lease taken after the listing turned slow: held for a while by the same sync.
    let held = loop {
        let state = sync_state(&pool).await;
        let fresh = state.owner.is_some()
            && state
                .locked_until
                .is_some_and(|until| until > now_seconds() + SYNC_LEASE_SECONDS - 0.5);
        if fresh {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if sync_state(&pool).await.owner == state.owner {
                break state;
            }
        }
        assert!(
            now_seconds() < before_wait + 30.0,
            "no poller leased the connection"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let owner = held.owner.clone().unwrap();
    let victim = servers
        .0
        .iter()
        .position(|(child, _)| owner.starts_with(&format!("pid{}:", child.id())))
        .unwrap_or_else(|| panic!("{owner} is none of the three servers"));
    servers.0[victim].0.kill().unwrap();
    servers.0[victim].0.wait().unwrap();
    google.set_list_delay(Duration::ZERO);
    let killed_at = now_seconds();
    let lease_end = held.locked_until.unwrap();

    // Until the lease ends the connection is the dead process's: a survivor asked to sync it
    // now says so rather than syncing beside it.
    let survivor = &servers.0[(victim + 1) % 3].1;
    let asked: Value = client
        .post(format!("{survivor}/api/calendar/sync"))
        .bearer_auth(&key)
        .json(&json!({"provider_id": connection}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        now_seconds() < lease_end,
        "the question came while the lease held"
    );
    assert_eq!(asked["results"][0]["outcome"], "busy", "{asked}");

    // Then a survivor's poller takes it over, no sooner than the lease ends.
    wait_until!(
        "another process syncing the connection",
        Duration::from_secs(30),
        sync_state(&pool)
            .await
            .last_synced_at
            .is_some_and(|at| at > killed_at)
            && local_events(&pool).await == remote_events(&google)
    );
    let after = sync_state(&pool).await;
    let synced_at = after.last_synced_at.unwrap();
    assert!(
        synced_at >= lease_end - 0.05,
        "synced at {synced_at}, before the dead process's lease ended at {lease_end}"
    );
    assert!(
        after.owner.as_deref().is_none_or(|o| o != owner),
        "the lease moved on from the dead process: {after:?}"
    );
    assert!(
        lease_end - killed_at <= SYNC_LEASE_SECONDS,
        "the lease came from SYNC_LEASE_SECONDS"
    );

    // Exactly Google's events, none twice, and never two listings at once.
    let local = local_events(&pool).await;
    let mut ids: Vec<_> = local.iter().map(|(id, _)| id.clone()).collect();
    ids.dedup();
    assert_eq!(ids.len(), local.len(), "an event stored twice");
    assert_eq!(local.len(), 37, "40 made, 3 deleted");
    assert!(local.iter().any(|(_, title)| title == "Renamed"));
    assert_eq!(google.max_concurrent_lists(HOST_EMAIL), 1);

    drop(servers);
    pool.close().await;
    database.drop_database().await;
}
