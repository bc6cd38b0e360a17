//! One of three server processes on one PostgreSQL killed with SIGKILL in the middle of a
//! booking storm: the jobs it had leased are taken over by the others once the lease runs out,
//! and every acknowledged booking reaches the webhook subscriber, none twice but the one post
//! the killed process had on the wire.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode as AxumStatus;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use pillow_store_postgres::testing::fresh_database;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{open_all_day, serve, stored_bookings, tenant_with_host};

fn slot(index: usize) -> String {
    let day = Timestamp::now().to_zoned(TimeZone::UTC).date() + 2.days();
    let index = i64::try_from(index).unwrap();
    (day.to_zoned(TimeZone::UTC).unwrap().timestamp() + (index * 30).minutes()).to_string()
}

/// A webhook subscriber that takes `delay` over each delivery (so a worker's batch is still
/// going when its process dies) and counts deliveries per booking.
#[derive(Clone, Default)]
struct Subscriber {
    received: Arc<Mutex<HashMap<String, usize>>>,
}

impl Subscriber {
    async fn start(delay: Duration) -> (Subscriber, String) {
        let subscriber = Subscriber::default();
        let app = axum::Router::new()
            .route(
                "/hook",
                axum::routing::post(move |State(s): State<Subscriber>, body: Bytes| async move {
                    tokio::time::sleep(delay).await;
                    let body: Value = serde_json::from_slice(&body).unwrap();
                    let uid = body["payload"]["uid"].as_str().unwrap().to_string();
                    *s.received.lock().unwrap().entry(uid).or_default() += 1;
                    AxumStatus::OK
                }),
            )
            .with_state(subscriber.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (subscriber, url)
    }

    fn received(&self) -> HashMap<String, usize> {
        self.received.lock().unwrap().clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_killed_mid_storm_leaves_its_leased_jobs_to_the_others_and_nothing_is_lost_or_sent_twice()
 {
    let Some(database) = fresh_database().await else {
        return;
    };
    let (_tenant, host, key) = tenant_with_host(&database.url, "Chaos");
    let (subscriber, hook) = Subscriber::start(Duration::from_millis(10)).await;
    let settings = [
        ("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "true"),
        ("OUTBOX_LEASE_SECONDS", "5"),
    ];
    let mut servers = Vec::new();
    for _ in 0..3 {
        servers.push(serve(&database.url, &settings).await);
    }
    let bases: Vec<String> = servers.iter().map(|(_, base)| base.clone()).collect();
    let client = reqwest::Client::new();
    open_all_day(&client, &bases[0], &key, &host).await;
    let subscribed = client
        .post(format!("{}/api/webhooks", bases[0]))
        .bearer_auth(&key)
        .json(&json!({"subscriber_url": hook, "events": ["BOOKING_CREATED"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(subscribed.status(), StatusCode::CREATED);

    // The storm: each slot goes to the servers in turn, retried with its own Idempotency-Key
    // on the next one when a server does not answer.
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let unexpected: Arc<Mutex<Vec<String>>> = Arc::default();
    let next_slot = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..6)
        .map(|task| {
            let (client, bases, key, host) =
                (client.clone(), bases.clone(), key.clone(), host.clone());
            let (acknowledged, unexpected) = (Arc::clone(&acknowledged), Arc::clone(&unexpected));
            let (next_slot, stop) = (Arc::clone(&next_slot), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut turn = task;
                while !stop.load(Ordering::SeqCst) {
                    let index = next_slot.fetch_add(1, Ordering::SeqCst);
                    let body = json!({"start_time": slot(index), "duration": 30,
                                      "user_id": host, "attendee": {"name": "Storm"}});
                    // A key the victim held is taken over once its lease (a minute) runs out.
                    let deadline = Instant::now() + Duration::from_secs(120);
                    let mut last = String::new();
                    loop {
                        assert!(
                            Instant::now() < deadline,
                            "slot {index} never acknowledged: {last}"
                        );
                        turn += 1;
                        let sent = client
                            .post(format!(
                                "{}/api/calendar/booking",
                                bases[turn % bases.len()]
                            ))
                            .bearer_auth(&key)
                            .header("Idempotency-Key", format!("storm-{index}"))
                            .json(&body)
                            .timeout(Duration::from_secs(20))
                            .send()
                            .await;
                        let response = match sent {
                            Ok(response) => response,
                            Err(error) => {
                                last = error.to_string();
                                continue;
                            }
                        };
                        let status = response.status();
                        let reply: Value = response.json().await.unwrap_or(Value::Null);
                        match status {
                            StatusCode::CREATED | StatusCode::OK => {
                                acknowledged
                                    .lock()
                                    .unwrap()
                                    .push(reply["id"].as_str().unwrap().to_string());
                                break;
                            }
                            StatusCode::CONFLICT
                                if reply["error"]["code"] == "idempotency_in_progress" =>
                            {
                                last = reply.to_string();
                                tokio::time::sleep(Duration::from_millis(200)).await;
                            }
                            StatusCode::SERVICE_UNAVAILABLE => {
                                last = reply.to_string();
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                            other => {
                                unexpected.lock().unwrap().push(format!("{other}: {reply}"));
                                break;
                            }
                        }
                    }
                }
            })
        })
        .collect();
    let count = || acknowledged.lock().unwrap().len();
    let started = Instant::now();
    while count() < 150 || subscriber.received().len() < 20 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the storm runs"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let pool = sqlx::PgPool::connect(&database.url).await.unwrap();
    let (victim, _) = &mut servers[0];
    victim.kill().unwrap();
    victim.wait().unwrap();
    let killed_at: f64 = sqlx::query_scalar("SELECT extract(epoch FROM now())::float8")
        .fetch_one(&pool)
        .await
        .unwrap();
    // The dead process's jobs: claimed before the kill and still running well after the
    // survivors' batches of that time have finished (a batch takes well under a second here),
    // but before the 5-second lease lets anyone claim them again. Which process held jobs at
    // the kill is up to the race, so the victim may hold none.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let orphaned: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE kind LIKE 'webhook%' AND status = 'running'
            AND updated_at < to_timestamp($1)",
    )
    .bind(killed_at)
    .fetch_one(&pool)
    .await
    .unwrap();
    let at_kill = count();
    while count() < at_kill + 100 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the storm goes on"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(*unexpected.lock().unwrap(), Vec::<String>::new());

    // Everything acknowledged reaches the subscriber, within the lease and a few batches.
    let acknowledged = acknowledged.lock().unwrap().clone();
    let waited = Instant::now();
    while acknowledged
        .iter()
        .any(|id| !subscriber.received().contains_key(id))
    {
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "{} of {} bookings delivered",
            subscriber.received().len(),
            acknowledged.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Webhooks are delivered at least once: the delivery log keeps a job taken over from
    // posting again what was already answered, so only the one post the victim had on the
    // wire when it died may arrive twice, and a subscriber tells it by its booking.
    let received = subscriber.received();
    let twice: Vec<_> = received.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.len() <= 1 && twice.iter().all(|(_, n)| **n == 2),
        "delivered more than once: {twice:?}"
    );
    let stored: Vec<String> = stored_bookings(&client, &bases[1], &key)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let mut sorted = acknowledged.clone();
    sorted.sort();
    let mut stored_sorted = stored.clone();
    stored_sorted.sort();
    assert_eq!(
        stored_sorted, sorted,
        "every acknowledged booking stored once"
    );
    assert_eq!(received.len(), stored.len(), "one delivery per booking");

    // The jobs the victim held when it died were claimed again after the lease.
    let taken_over: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE kind LIKE 'webhook%' AND attempts > 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    println!("{orphaned} jobs orphaned by the kill, {taken_over} claimed again");
    assert!(
        taken_over >= orphaned,
        "{orphaned} jobs orphaned, {taken_over} claimed again"
    );
    let live: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE kind LIKE 'webhook%' AND status <> 'done'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(live, 0, "every webhook job done");

    pool.close().await;
    for (mut server, _) in servers.into_iter().skip(1) {
        server.kill().unwrap();
        server.wait().unwrap();
    }
    database.drop_database().await;
}
