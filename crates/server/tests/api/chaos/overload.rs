//! Four times the load the server admits: it sheds the excess at once with 503 `overloaded`
//! and `Retry-After`, answers everything it admits correctly, and keeps `/healthz` answering.
//! The admitted requests' p99 is printed (`--nocapture`); the goal is under 50 ms on a release
//! build.

use std::time::{Duration, Instant};

use jiff::ToSpan;
use jiff::tz::TimeZone;
use reqwest::StatusCode;
use serde_json::Value;

use super::{open_all_day, serve, tenant_with_host};

/// Requests the server runs at once, and how many may wait for a turn.
const IN_FLIGHT: usize = 4;
const QUEUE: usize = 4;
const CLIENTS: usize = 4 * (IN_FLIGHT + QUEUE);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_times_its_capacity_is_shed_with_503_while_admitted_requests_are_answered() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("overload.db").display());
    let (_tenant, host, key) = tenant_with_host(&url, "Busy");
    let (in_flight, queue) = (IN_FLIGHT.to_string(), QUEUE.to_string());
    let (mut server, base) = serve(
        &url,
        &[
            ("HTTP_MAX_IN_FLIGHT", in_flight.as_str()),
            ("HTTP_MAX_QUEUE", queue.as_str()),
            ("HTTP_QUEUE_TIMEOUT_MS", "25"),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    open_all_day(&client, &base, &key, &host).await;
    let day = jiff::Timestamp::now().to_zoned(TimeZone::UTC).date() + 2.days();
    let path = format!("{base}/api/calendar/availability?user_id={host}&date={day}");

    let until = Instant::now() + Duration::from_secs(3);
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (client, path, key) = (client.clone(), path.clone(), key.clone());
            tokio::spawn(async move {
                let (mut admitted, mut shed, mut wrong) = (Vec::new(), 0_usize, Vec::new());
                while Instant::now() < until {
                    let started = Instant::now();
                    let response = client.get(&path).bearer_auth(&key).send().await.unwrap();
                    let status = response.status();
                    let retry_after = response.headers().get("retry-after").cloned();
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    match status {
                        StatusCode::OK if body["slots"].as_array().map(Vec::len) == Some(48) => {
                            admitted.push(started.elapsed());
                        }
                        StatusCode::SERVICE_UNAVAILABLE
                            if body["error"]["code"] == "overloaded" && retry_after.is_some() =>
                        {
                            shed += 1;
                        }
                        _ => wrong.push(format!("{status} {body}")),
                    }
                }
                (admitted, shed, wrong)
            })
        })
        .collect();
    // Health answers all along: it is exempt from the limits.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let health = client
        .get(format!("{base}/healthz"))
        .timeout(Duration::from_secs(1))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    let (mut admitted, mut shed, mut wrong) = (Vec::new(), 0, Vec::new());
    for task in clients {
        let (a, s, w) = task.await.unwrap();
        admitted.extend(a);
        shed += s;
        wrong.extend(w);
    }
    server.kill().unwrap();
    server.wait().unwrap();

    assert!(
        wrong.is_empty(),
        "only right answers or 503: {:?}",
        &wrong[..wrong.len().min(3)]
    );
    assert!(shed > 0, "the excess is shed");
    assert!(
        admitted.len() > 50,
        "work still gets done: {}",
        admitted.len()
    );
    admitted.sort();
    let p99 = admitted[admitted.len() * 99 / 100];
    println!(
        "overload: {CLIENTS} clients against {IN_FLIGHT} in flight + {QUEUE} queued: {} admitted, \
         {shed} shed, admitted p99 {:.1} ms",
        admitted.len(),
        p99.as_secs_f64() * 1000.0
    );
}
