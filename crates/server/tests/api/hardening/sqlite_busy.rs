//! SQLite answers `SQLITE_BUSY` when another writer holds the lock past the busy timeout: the
//! request may succeed a moment later, so it is a 503 in our format with `Retry-After`, never a
//! 500, and reads (WAL) go on meanwhile.

use pillow_server::credentials::API_KEY;
use pillow_store::NewApiKey;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::Connection;

use crate::helpers::TestAppOnUrl;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_waits_out_the_busy_timeout_is_a_503_with_retry_after_and_reads_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("busy.db");
    // A short wait for the lock keeps the test quick; the default is ten seconds.
    let url = format!("sqlite://{}?busy_timeout_ms=200", path.display());
    let app = TestAppOnUrl::start(&url).await;
    let store = pillow_server::open_store(&url).await.unwrap();
    let tenant = store.create_tenant("Acme").await.unwrap();
    let minted = API_KEY.mint();
    store
        .create_api_key(
            tenant.id,
            &NewApiKey {
                name: "tests".into(),
                prefix: minted.prefix,
                secret_hash: minted.secret_hash,
            },
        )
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let add = async || {
        client
            .post(format!("{}/api/users", app.base()))
            .bearer_auth(&minted.key)
            .json(&json!({"email": "sam@acme.test", "name": "Sam"}))
            .send()
            .await
            .unwrap()
    };

    // Another process holds the write lock.
    let mut other = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();

    let refused = add().await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    let retry_after = refused.headers().get("retry-after").cloned();
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "database_unavailable", "{body}");
    assert!(retry_after.is_some(), "{body}");
    // Reads do not wait for the writer.
    let users = app.get_json("/api/users", &minted.key).await;
    assert_eq!(users["users"].as_array().map(Vec::len), Some(0), "{users}");

    // Once the lock is free, the same request succeeds.
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    let added = add().await;
    assert_eq!(added.status(), StatusCode::CREATED);
    other.close().await.unwrap();
    app.stop().await;
}
