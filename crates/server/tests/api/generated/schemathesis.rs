//! A bounded Schemathesis run, with all its default checks, against the real server on each
//! store: every answer is one the document describes, with the body it describes, and no
//! schema-valid request is refused for a reason the schema could have said. Fixed seed and
//! example count, and a time budget, so a run is repeatable and short.

use std::process::Command;

use pillow_fakes::google::FakeGoogle;
use pillow_fakes::microsoft::FakeMicrosoft;
use reqwest::StatusCode;
use serde_json::json;

use super::tool;
use crate::helpers::{Db, TestApp, always_open, spawn_app_with};

/// Examples per operation, the seed and the time budget of one run (seconds).
const MAX_EXAMPLES: &str = "12";
const SEED: &str = "20261207";
const MAX_TIME: &str = "70";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    fuzz(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    fuzz(Db::Postgres).await;
}

/// The server, configured as in production (Google through the fake), with a tenant that has a
/// rule, an agent and a booking, so that operations on ids find something.
async fn fuzz(db: Db) {
    let Some(st) = tool(
        "PILLOW_SCHEMATHESIS",
        "schemathesis-venv/bin/st",
        &["--version"],
        "Schemathesis",
    ) else {
        return;
    };
    let google = FakeGoogle::start().await;
    // Every calendar provider configured against its fake, so their routes are exercised
    // rather than answering 503 "not configured".
    let microsoft = FakeMicrosoft::start().await;
    let settings = [
        ("MICROSOFT_OAUTH_CLIENT_ID", "fuzz-client".to_string()),
        ("MICROSOFT_OAUTH_CLIENT_SECRET", "fuzz-secret".to_string()),
        ("MICROSOFT_LOGIN_BASE_URL", microsoft.login_base()),
        ("MICROSOFT_GRAPH_BASE_URL", microsoft.graph_base()),
        ("GOOGLE_OAUTH_CLIENT_ID", "fuzz-client".to_string()),
        ("GOOGLE_OAUTH_CLIENT_SECRET", "fuzz-secret".to_string()),
        ("GOOGLE_OAUTH_AUTHORIZE_URL", google.authorize_url()),
        ("GOOGLE_OAUTH_TOKEN_URL", google.token_url()),
        ("GOOGLE_OAUTH_REVOKE_URL", google.revoke_url()),
        ("GOOGLE_CALENDAR_API_BASE", google.calendar_base()),
        ("GOOGLE_PUSH", "off".to_string()),
    ];
    let Some(app) = spawn_app_with(db, &settings).await else {
        return;
    };
    let token = seed(&app).await;
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/generated_client/schemathesis.toml");
    let report = tempfile::tempdir().unwrap();
    let schema = format!("{}/openapi.json", app.base);
    let header = format!("Authorization: Bearer {token}");
    let run = tokio::task::spawn_blocking(move || {
        Command::new(st)
            .arg("--config-file")
            .arg(config)
            .args(["run", &schema, "--header", &header])
            .args([
                "--max-examples",
                MAX_EXAMPLES,
                "--seed",
                SEED,
                "--max-time",
                MAX_TIME,
            ])
            .args([
                // One worker: Python 3.11's parser is not safe across Schemathesis's threads.
                "--workers",
                "1",
                "--no-color",
                "--generation-database",
                "none",
            ])
            .args(["--request-timeout", "10"])
            .arg("--report-dir")
            .arg(report.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let said = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "Schemathesis found failures on {db:?}:\n{said}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(said.contains("Tested:"), "{said}");
    app.finish().await;
}

/// A tenant with a rule, an agent and a booking; answers the owner's token.
async fn seed(app: &TestApp) -> String {
    let acme = app.tenant("Acme").await;
    let rule = app
        .post(
            "/api/calendar/availability-rules",
            &acme.token,
            &always_open(None, 30),
        )
        .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{}", rule.body);
    let agent = app
        .post(
            "/api/agents",
            &acme.key,
            &json!({"name": "Desk", "time_zone": "UTC"}),
        )
        .await;
    assert_eq!(agent.status, StatusCode::CREATED, "{}", agent.body);
    let start = crate::host_limits::utc_day(3) + jiff::SignedDuration::from_hours(10);
    let booked = app
        .post(
            "/api/calendar/booking",
            &acme.token,
            &json!({
                "start_time": start.to_string(),
                "duration": 30,
                "attendee": {"name": "Jo", "email": "jo@example.com"}
            }),
        )
        .await;
    assert_eq!(booked.status, StatusCode::CREATED, "{}", booked.body);
    acme.token
}
