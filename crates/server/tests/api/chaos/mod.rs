//! Chaos tests (issue 18): real server processes meeting the faults a deployment meets, each
//! bounded in time. PostgreSQL ones say they were skipped without `TEST_DATABASE_URL`.

mod killed_process;
mod killed_sync;
mod overload;
mod postgres_outage;
pub(crate) mod proxy;

use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use crate::crash::{cli_json, free_port, wait_ready};

/// A tenant made with the CLI on `url`: (tenant id, host user id, API key).
pub(crate) fn tenant_with_host(url: &str, name: &str) -> (String, String, String) {
    let tenant = cli_json(url, &["tenant", "create", "--name", name]);
    let tenant_id = tenant["id"].as_str().unwrap().to_string();
    let user = cli_json(
        url,
        &[
            "user",
            "create",
            "--tenant",
            &tenant_id,
            "--email",
            "host@chaos.test",
            "--name",
            "Host",
        ],
    );
    let key = cli_json(url, &["api-key", "create", "--tenant", &tenant_id])["key"]
        .as_str()
        .unwrap()
        .to_string();
    (tenant_id, user["id"].as_str().unwrap().to_string(), key)
}

/// A `pillow-calendar serve` process on `url` with `extra` settings, and its base URL, ready.
pub(crate) async fn serve(url: &str, extra: &[(&str, &str)]) -> (Child, String) {
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_pillow-calendar"));
    command
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("BIND", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("JWT_SECRET", "j".repeat(40))
        .env("CALENDAR_ENCRYPTION_KEY", "ab".repeat(32))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (name, value) in extra {
        command.env(name, value);
    }
    let child = command.spawn().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&reqwest::Client::new(), &base).await;
    (child, base)
}

/// Gives `user` a rule open all day, every day, in 30-minute slots.
pub(crate) async fn open_all_day(client: &reqwest::Client, base: &str, key: &str, user: &str) {
    let mut rule = crate::helpers::always_open(None, 30);
    rule["user_id"] = json!(user);
    let created = client
        .post(format!("{base}/api/calendar/availability-rules"))
        .bearer_auth(key)
        .json(&rule)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), reqwest::StatusCode::CREATED);
}

/// Every booking of the tenant as (id, start), through `base`.
pub(crate) async fn stored_bookings(
    client: &reqwest::Client,
    base: &str,
    key: &str,
) -> Vec<(String, String)> {
    let listed: Value = client
        .get(format!("{base}/api/calendar/bookings?limit=5000"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    listed["bookings"]
        .as_array()
        .unwrap_or_else(|| panic!("no bookings in {listed}"))
        .iter()
        .map(|b| {
            (
                b["id"].as_str().unwrap().to_string(),
                b["start_time"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}
