//! PostgreSQL goes away in the middle of a booking storm and comes back: the server answers 503
//! in our error format while it is gone, `/readyz` says so, it recovers without a restart, and
//! every booking it acknowledged is stored exactly once.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use pillow_store_postgres::testing::fresh_database;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::proxy::{Proxy, upstream_of};
use super::{open_all_day, serve, stored_bookings, tenant_with_host};

const TASKS: i64 = 8;

fn slot(index: i64) -> String {
    let day = Timestamp::now().to_zoned(TimeZone::UTC).date() + 2.days();
    (day.to_zoned(TimeZone::UTC).unwrap().timestamp() + (index * 30).minutes()).to_string()
}

/// What the storm saw.
#[derive(Default)]
struct Storm {
    acknowledged: Mutex<Vec<(String, String)>>,
    unavailable: AtomicU64,
    unexpected: Mutex<Vec<String>>,
}

/// Books slot after slot until `stop`; each slot is retried with its own `Idempotency-Key`
/// until the server acknowledges it, as a careful client would through an outage.
async fn book_until_stopped(
    client: reqwest::Client,
    base: String,
    key: String,
    host: String,
    task: i64,
    storm: Arc<Storm>,
    stop: Arc<AtomicBool>,
) {
    for n in 0..200 {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let index = task * 200 + n;
        let body = json!({"start_time": slot(index), "duration": 30, "user_id": host,
                          "attendee": {"name": "Storm"}});
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(Instant::now() < deadline, "slot {index} never acknowledged");
            let sent = client
                .post(format!("{base}/api/calendar/booking"))
                .bearer_auth(&key)
                .header("Idempotency-Key", format!("storm-{index}"))
                .json(&body)
                .timeout(Duration::from_secs(15))
                .send()
                .await;
            let Ok(response) = sent else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let status = response.status();
            let reply: Value = response.json().await.unwrap_or(Value::Null);
            match status {
                StatusCode::CREATED | StatusCode::OK => {
                    storm.acknowledged.lock().unwrap().push((
                        reply["id"].as_str().unwrap().to_string(),
                        reply["start_time"].as_str().unwrap().to_string(),
                    ));
                    break;
                }
                StatusCode::SERVICE_UNAVAILABLE => {
                    assert!(
                        reply["error"]["code"].is_string(),
                        "a 503 in our error format: {reply}"
                    );
                    storm.unavailable.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => {
                    storm
                        .unexpected
                        .lock()
                        .unwrap()
                        .push(format!("{other} for slot {index}: {reply}"));
                    break;
                }
            }
        }
    }
}

async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn readiness(client: &reqwest::Client, base: &str) -> (StatusCode, Value) {
    let response = client
        .get(format!("{base}/readyz"))
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .unwrap();
    (
        response.status(),
        response.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_gone_mid_storm_is_503_then_recovers_and_keeps_every_acknowledged_booking_once() {
    let Some(database) = fresh_database().await else {
        return;
    };
    let proxy = Proxy::start(upstream_of(&database.url).await).await;
    let (_tenant, host, key) = tenant_with_host(&database.url, "Chaos");
    let (mut server, base) = serve(&proxy.url_for(&database.url), &[]).await;
    let client = reqwest::Client::new();
    open_all_day(&client, &base, &key, &host).await;

    let storm = Arc::new(Storm::default());
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            tokio::spawn(book_until_stopped(
                client.clone(),
                base.clone(),
                key.clone(),
                host.clone(),
                task,
                Arc::clone(&storm),
                Arc::clone(&stop),
            ))
        })
        .collect();
    let acknowledged = || storm.acknowledged.lock().unwrap().len();
    wait_until("the storm runs", Duration::from_secs(30), || {
        acknowledged() >= 20
    })
    .await;

    proxy.cut();
    let (status, body) = readiness(&client, &base).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "database_unavailable", "{body}");
    let during = client
        .post(format!("{base}/api/calendar/booking"))
        .bearer_auth(&key)
        .json(
            &json!({"start_time": slot(5000), "duration": 30, "user_id": host,
                      "attendee": {"name": "During"}}),
        )
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .unwrap();
    assert_eq!(during.status(), StatusCode::SERVICE_UNAVAILABLE);
    let during: Value = during.json().await.unwrap();
    assert_eq!(during["error"]["code"], "database_unavailable", "{during}");

    proxy.restore();
    let back = Instant::now();
    loop {
        let (status, _) = readiness(&client, &base).await;
        if status == StatusCode::OK {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "ready again in time"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        server.try_wait().unwrap().is_none(),
        "recovered without a restart"
    );
    let before = acknowledged();
    wait_until(
        "bookings are acknowledged again",
        // Generous: on a loaded CI machine the pool's reconnect and the storm's retries are slow.
        Duration::from_secs(90),
        || acknowledged() >= before + 20,
    )
    .await;
    stop.store(true, Ordering::SeqCst);
    for task in tasks {
        task.await.unwrap();
    }

    assert_eq!(*storm.unexpected.lock().unwrap(), Vec::<String>::new());
    assert!(
        storm.unavailable.load(Ordering::Relaxed) > 0,
        "the storm met the outage"
    );
    let mut acknowledged = storm.acknowledged.lock().unwrap().clone();
    let mut stored = stored_bookings(&client, &base, &key).await;
    acknowledged.sort();
    stored.sort();
    // Every slot the storm asked for was acknowledged once (retries replayed the same booking),
    // and the store holds exactly those bookings: none lost, none twice.
    let mut slots: Vec<&String> = stored.iter().map(|(_, start)| start).collect();
    slots.dedup();
    assert_eq!(slots.len(), stored.len(), "no slot booked twice");
    assert_eq!(stored, acknowledged);

    server.kill().unwrap();
    server.wait().unwrap();
    drop(proxy);
    database.drop_database().await;
}
