//! `pillow-calendar backup` and `restore` on SQLite, as real processes, while the real server
//! keeps taking bookings: the copy is consistent and holds every booking acknowledged before
//! the backup started.

use std::collections::HashSet;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use jiff::ToSpan;
use pillow_store::{BookingStore, TenantStore};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Db, TestApp, always_open, spawn_app};

fn cli(database_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pillow-calendar"))
        .args(args)
        .arg("--database-url")
        .arg(database_url)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn succeeded(output: &Output) {
    assert!(
        output.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Books one 15-minute slot after another for the owner until `stop`, recording each
/// acknowledged confirmation code; any other answer than 201 is recorded as a failure.
async fn book_until(
    app: &TestApp,
    token: &str,
    first: u32,
    step: u32,
    stop: &AtomicBool,
    acknowledged: &Mutex<Vec<String>>,
    failures: &Mutex<Vec<String>>,
) {
    // On the hour, two days ahead: every slot is on the 15-minute grid.
    let start = (jiff::Timestamp::now() + 48.hours())
        .round(jiff::TimestampRound::new().smallest(jiff::Unit::Hour))
        .unwrap();
    let mut slot = first;
    while !stop.load(Ordering::Acquire) {
        let at = start + (15 * i64::from(slot)).minutes();
        let reply = app
            .post(
                "/api/calendar/booking",
                token,
                &json!({
                    "start_time": at.to_string(),
                    "duration": 15,
                    "attendee": {"name": "Jo", "email": "jo@example.com"}
                }),
            )
            .await;
        slot += step;
        if reply.status == StatusCode::CREATED {
            let code = reply.body["confirmation_code"]
                .as_str()
                .unwrap()
                .to_string();
            acknowledged.lock().unwrap().push(code);
        } else {
            failures
                .lock()
                .unwrap()
                .push(format!("{} {}", reply.status, reply.body));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_write_load_restores_every_booking_acknowledged_before_it() {
    let app = spawn_app(Db::Sqlite).await.unwrap();
    let acme = app.tenant("Acme").await;
    let rule = app
        .post(
            "/api/calendar/availability-rules",
            &acme.token,
            &always_open(None, 15),
        )
        .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{}", rule.body);
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.db");

    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let writers = async {
        // Two writers on alternate slots: never the same one.
        tokio::join!(
            book_until(&app, &acme.token, 0, 2, &stop, &acknowledged, &failures),
            book_until(&app, &acme.token, 1, 2, &stop, &acknowledged, &failures),
        );
    };
    let backup_run = async {
        // Some bookings first, then the backup while the writers go on, then a few more.
        while acknowledged.lock().unwrap().len() < 20 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let before: HashSet<String> = acknowledged.lock().unwrap().iter().cloned().collect();
        let url = app.database_url.clone();
        let to = backup.display().to_string();
        let output = tokio::task::spawn_blocking(move || cli(&url, &["backup", "--to", &to]))
            .await
            .unwrap();
        let during = acknowledged.lock().unwrap().len() - before.len();
        let target = acknowledged.lock().unwrap().len() + 5;
        while acknowledged.lock().unwrap().len() < target {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        stop.store(true, Ordering::Release);
        (before, output, during)
    };
    let ((), (before, output, during)) = tokio::join!(writers, backup_run);
    succeeded(&output);
    let failures = failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "bookings refused around the backup: {failures:?}"
    );
    eprintln!(
        "{} bookings before the backup, {during} while it ran",
        before.len()
    );

    // A second backup to the same file is refused: a backup never overwrites.
    let again = cli(
        &app.database_url,
        &["backup", "--to", &backup.display().to_string()],
    );
    assert!(!again.status.success());

    // Restore over an existing database that holds something else.
    let restored_path = dir.path().join("restored.db");
    let restored_url = format!("sqlite://{}", restored_path.display());
    let other = pillow_server::open_store(&restored_url).await.unwrap();
    other.create_tenant("Someone else").await.unwrap();
    drop(other);
    succeeded(&cli(
        &restored_url,
        &["restore", "--from", &backup.display().to_string()],
    ));
    let restored = pillow_store_sqlite::SqliteStore::connect(&restored_url)
        .await
        .unwrap();
    assert!(
        restored
            .find_tenant_by_name("Someone else")
            .await
            .unwrap()
            .is_none()
    );
    for code in &before {
        let found = restored.find_booking_by_code(acme.id, code).await.unwrap();
        assert!(
            found.is_some(),
            "booking {code}, acknowledged before the backup, is missing"
        );
    }
    // Consistent: the database checks out, and every booking has its busy event.
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(restored.pool())
        .await
        .unwrap();
    assert_eq!(check, "ok");
    let (bookings, events): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM bookings), \
                (SELECT count(*) FROM calendar_events WHERE source = 'booking')",
    )
    .fetch_one(restored.pool())
    .await
    .unwrap();
    assert_eq!(bookings, events);
    assert!(bookings >= before.len() as i64);
    let all = acknowledged.lock().unwrap().len() as i64;
    assert!(bookings <= all, "{bookings} restored, {all} made");
    app.finish().await;
}

#[test]
fn backup_and_restore_refuse_a_postgresql_url_and_point_to_pg_dump() {
    for args in [
        ["backup", "--to", "/tmp/never.db"],
        ["restore", "--from", "/tmp/never.db"],
    ] {
        let output = cli("postgres://postgres@127.0.0.1:1/none", &args);
        assert!(!output.status.success());
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("pg_dump"),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[tokio::test]
async fn restoring_a_file_that_is_not_a_database_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("live.db").display());
    succeeded(&cli(&url, &["tenant", "create", "--name", "Kept"]));
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"this is not a SQLite database, not even close").unwrap();
    let output = cli(&url, &["restore", "--from", &junk.display().to_string()]);
    assert!(!output.status.success());
    let store = pillow_server::open_store(&url).await.unwrap();
    assert!(store.find_tenant_by_name("Kept").await.unwrap().is_some());
}
