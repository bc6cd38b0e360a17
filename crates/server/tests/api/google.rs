//! Google Calendar sync: configuration, key rotation, and (against the fake Google) the connect
//! flow, sync, push and write-back.

use std::process::Command;

use pillow_providers::crypto::{SecretBox, SecretKey};
use pillow_store::{
    AgentBackend, NewAgent, NewCalendarConnection, NewUser, Role, SealedColumn, Store,
};
use serde_json::{Value, json};

use crate::helpers::{Db, spawn_app};
use crate::on_both_backends;

const OLD_KEY: &str = "4242424242424242424242424242424242424242424242424242424242424242";
const NEW_KEY: &str = "1717171717171717171717171717171717171717171717171717171717171717";

fn boxed(key: &str) -> SecretBox {
    SecretBox::new(SecretKey::from_hex(key).unwrap())
}

/// Without a Google OAuth client, the Google endpoints answer 503 `google_not_configured`
/// and the rest of the server works.
async fn google_endpoints_say_when_google_is_not_configured(app: &crate::helpers::TestApp) {
    let acme = app.tenant("Acme").await;
    for (path, method) in [
        ("/api/calendar/google/connect", reqwest::Method::GET),
        ("/api/calendar/sync", reqwest::Method::POST),
    ] {
        let reply = app.send(method, path, Some(&acme.token), None).await;
        assert_eq!(reply.status, 503, "{path}: {:?}", reply.body);
        assert_eq!(reply.code(), "google_not_configured");
    }
    let webhook = app
        .send(reqwest::Method::POST, "/api/calendar/google/webhook", None, None)
        .await;
    assert_eq!(webhook.code(), "google_not_configured");
    let providers = app.get("/api/calendar/providers", &acme.token).await;
    assert_eq!(providers.status, 200);
    assert_eq!(providers.body, json!({"providers": []}));
}

/// The cron endpoint wants the secret, compared exactly.
async fn the_cron_endpoint_wants_its_secret(app: &crate::helpers::TestApp) {
    for bearer in [None, Some("wrong"), Some("cron-secret-for-tests-0123456789abcde")] {
        let reply = app
            .send(reqwest::Method::GET, "/api/cron/calendar-sync", bearer, None)
            .await;
        assert_eq!(reply.status, 401, "{bearer:?}");
    }
    let reply = app
        .get(
            "/api/cron/calendar-sync",
            "cron-secret-for-tests-0123456789abcdef",
        )
        .await;
    // The secret is right; Google is simply not configured on this server.
    assert_eq!(reply.code(), "google_not_configured");
}

on_both_backends!(
    google_endpoints_say_when_google_is_not_configured,
    the_cron_endpoint_wants_its_secret,
);

fn rotate(url: &str, current: &str, previous: Option<&str>) -> Value {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pillow-calendar"));
    command
        .args(["rotate-keys", "--json", "--database-url", url])
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .env("CALENDAR_ENCRYPTION_KEY", current);
    match previous {
        Some(previous) => command.env("CALENDAR_ENCRYPTION_KEY_PREVIOUS", previous),
        None => command.env_remove("CALENDAR_ENCRYPTION_KEY_PREVIOUS"),
    };
    let output = command.output().unwrap();
    let stdout: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    json!({"ok": output.status.success(), "out": stdout,
           "err": String::from_utf8_lossy(&output.stderr)})
}

/// `rotate-keys` re-encrypts every token and Cal.com key under the new key while the old one
/// is still accepted; afterwards the new key alone opens everything, and the database file
/// never holds a token in plain text.
#[tokio::test]
async fn rotate_keys_reseals_everything_under_the_new_key() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("rotate.db").display());
    let store = pillow_server::open_store(&url).await.unwrap();
    let old = boxed(OLD_KEY);
    let tenant = store.create_tenant("Acme").await.unwrap();
    let host = store
        .create_user(
            tenant.id,
            &NewUser {
                email: "host@acme.test".into(),
                name: "Host".into(),
                role: Role::Member,
                time_zone: "UTC".into(),
                password_hash: None,
            },
        )
        .await
        .unwrap();
    let access = "ya29.access-token-in-plain-text";
    let refresh = "1//refresh-token-in-plain-text";
    let cal_key = "cal_live_key_in_plain_text";
    store
        .upsert_calendar_connection(
            tenant.id,
            &NewCalendarConnection {
                user_id: host.id,
                kind: "google".into(),
                calendar_id: "primary".into(),
                account_email: "host@gmail.test".into(),
                access_token_encrypted: old.seal(access),
                refresh_token_encrypted: Some(old.seal(refresh)),
                token_expires_at: jiff::Timestamp::now(),
                scopes: vec![],
            },
        )
        .await
        .unwrap();
    store
        .create_agent(
            tenant.id,
            &NewAgent {
                name: "Desk".into(),
                time_zone: "UTC".into(),
                backend: AgentBackend::Calcom,
                cal_enabled: true,
                cal_api_key_encrypted: Some(old.seal(cal_key)),
                cal_event_type_slug: None,
                cal_timezone: None,
            },
        )
        .await
        .unwrap();

    // Without the old key the values cannot be opened: nothing changes, and it says so.
    let refused = rotate(&url, NEW_KEY, None);
    assert!(!refused["ok"].as_bool().unwrap(), "{refused}");
    assert_eq!(refused["out"]["unreadable"], 3, "{refused}");

    let done = rotate(&url, NEW_KEY, Some(OLD_KEY));
    assert!(done["ok"].as_bool().unwrap(), "{done}");
    assert_eq!(done["out"]["rotated"], 3, "{done}");
    let new = boxed(NEW_KEY);
    let secrets = store.sealed_secrets().await.unwrap();
    assert_eq!(secrets.len(), 3);
    for secret in &secrets {
        let expected = match secret.column {
            SealedColumn::ConnectionAccessToken => access,
            SealedColumn::ConnectionRefreshToken => refresh,
            SealedColumn::AgentCalApiKey => cal_key,
        };
        assert_eq!(new.open(&secret.value).unwrap(), expected);
    }
    let again = rotate(&url, NEW_KEY, None);
    assert_eq!(again["out"]["rotated"], 0, "{again}");
    assert_eq!(again["out"]["current"], 3, "{again}");

    drop(store);
    assert_no_plain_text(dir.path(), &[access, refresh, cal_key]);
}

/// Reads every file of the database (main file, WAL, shared memory) and fails if any secret
/// appears in it as plain text.
pub fn assert_no_plain_text(dir: &std::path::Path, secrets: &[&str]) {
    let mut scanned = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        scanned += bytes.len();
        for secret in secrets {
            assert!(
                !bytes
                    .windows(secret.len())
                    .any(|w| w == secret.as_bytes()),
                "{secret} is in {} in plain text",
                path.display()
            );
        }
    }
    assert!(scanned > 0, "nothing was scanned");
}

#[allow(dead_code)]
fn unused(_: Db) {
    let _ = spawn_app;
}
