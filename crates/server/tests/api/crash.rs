//! Durability and multi-process behaviour, with real server processes.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Db, TestAppOnUrl, spawn_app};

pub(crate) fn cli_json(url: &str, args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_pillow-calendar"))
        .args(args)
        .args(["--database-url", url, "--json"])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_server(url: &str, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_pillow-calendar"))
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("BIND", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("JWT_SECRET", "j".repeat(40))
        .env("CALENDAR_ENCRYPTION_KEY", "ab".repeat(32))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

pub(crate) async fn wait_ready(client: &reqwest::Client, base: &str) {
    for _ in 0..600 {
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await
            && response.status() == StatusCode::OK
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server at {base} never became ready");
}

fn slot(index: i64) -> String {
    let day = Timestamp::now().to_zoned(TimeZone::UTC).date() + 2.days();
    (day.to_zoned(TimeZone::UTC).unwrap().timestamp() + (index * 30).minutes()).to_string()
}

/// SIGKILL during a booking storm on SQLite, then a restart: every booking that was answered
/// 201 is there, exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_killed_during_a_booking_storm_loses_no_confirmed_booking() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("crash.db").display());
    let tenant = cli_json(&url, &["tenant", "create", "--name", "Crash"]);
    let tenant_id = tenant["id"].as_str().unwrap().to_string();
    let user = cli_json(
        &url,
        &[
            "user",
            "create",
            "--tenant",
            &tenant_id,
            "--email",
            "host@crash.test",
            "--name",
            "Host",
        ],
    );
    let key = cli_json(&url, &["api-key", "create", "--tenant", &tenant_id])["key"]
        .as_str()
        .unwrap()
        .to_string();
    let client = reqwest::Client::new();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = start_server(&url, port);
    wait_ready(&client, &base).await;

    let mut rule = crate::helpers::always_open(None, 30);
    rule["user_id"] = user["id"].clone();
    let created = client
        .post(format!("{base}/api/calendar/availability-rules"))
        .bearer_auth(&key)
        .json(&rule)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);

    let confirmed: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let tasks: Vec<_> = (0..8)
        .map(|worker| {
            let client = client.clone();
            let base = base.clone();
            let key = key.clone();
            let user_id = user["id"].clone();
            let confirmed = Arc::clone(&confirmed);
            tokio::spawn(async move {
                for i in 0..200 {
                    let body = json!({"start_time": slot(worker * 200 + i), "duration": 30, "user_id": user_id,
                                      "attendee": {"name": "Storm"}});
                    let Ok(response) = client
                        .post(format!("{base}/api/calendar/booking"))
                        .bearer_auth(&key)
                        .json(&body)
                        .timeout(Duration::from_secs(5))
                        .send()
                        .await
                    else {
                        return;
                    };
                    if response.status() == StatusCode::CREATED {
                        let Ok(body) = response.json::<Value>().await else { return };
                        confirmed.lock().unwrap().push((
                            body["id"].as_str().unwrap().to_string(),
                            body["start_time"].as_str().unwrap().to_string(),
                        ));
                    }
                }
            })
        })
        .collect();
    // Let the storm run, then pull the plug without warning.
    for _ in 0..200 {
        if confirmed.lock().unwrap().len() >= 40 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill().unwrap();
    server.wait().unwrap();
    for task in tasks {
        let _ = task.await;
    }
    let answered = confirmed.lock().unwrap().clone();
    assert!(answered.len() >= 10, "the storm ran: {}", answered.len());

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = start_server(&url, port);
    wait_ready(&client, &base).await;
    let listed: Value = client
        .get(format!("{base}/api/calendar/bookings?limit=5000"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    server.kill().unwrap();
    let _ = server.wait();
    let stored: Vec<(String, String)> = listed["bookings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["id"].as_str().unwrap().to_string(),
                b["start_time"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for booking in &answered {
        assert!(
            stored.contains(booking),
            "confirmed booking {booking:?} survived the crash"
        );
    }
    let mut starts: Vec<_> = stored.iter().map(|(_, s)| s.clone()).collect();
    starts.sort();
    let before = starts.len();
    starts.dedup();
    assert_eq!(before, starts.len(), "no slot booked twice");
}

/// Two servers on one PostgreSQL database: 100 concurrent requests for one slot, split between
/// them, still give exactly one booking.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_sharing_postgres_give_one_booking_for_one_slot() {
    let Some(app) = spawn_app(Db::Postgres).await else {
        return;
    };
    let acme = app.tenant("Acme").await;
    let rule = crate::helpers::always_open(None, 30);
    app.post("/api/calendar/availability-rules", &acme.token, &rule)
        .await;
    let twin = TestAppOnUrl::start(&app.database_url).await;
    let bases = [app.base.clone(), twin.base().to_string()];
    let start = slot(7);
    let handles: Vec<_> = (0..100)
        .map(|i| {
            let client = app.client.clone();
            let url = format!("{}/api/calendar/booking", bases[i % 2]);
            let token = acme.token.clone();
            let body = json!({"start_time": start, "duration": 30, "attendee": {"name": "Race"}});
            tokio::spawn(async move {
                client
                    .post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    let mut created = 0;
    let mut conflicts = 0;
    for handle in handles {
        match handle.await.unwrap() {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => conflicts += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((created, conflicts), (1, 99));
    twin.stop().await;
    app.finish().await;
}
