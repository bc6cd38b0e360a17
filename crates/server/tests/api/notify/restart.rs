//! The server binary itself killed with SIGKILL while it mails the bookings it just took, then
//! started again: every message arrives, and none twice (by `Message-ID`). The kill lands
//! while the mail server is taking a message in, so that message was never accepted and is
//! sent again after the restart; every message accepted before the kill was recorded as sent
//! at once (e-mail jobs settle one by one), so none of those is sent again.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use super::email::{desk, slot};
use super::sink::SmtpSink;
use crate::helpers::{Db, spawn_app};

const BOOKINGS: i64 = 25;

/// The settings of both server processes: e-mail through `sink`, a short outbox lease.
fn settings(sink: &SmtpSink) -> Vec<(&'static str, String)> {
    vec![
        ("SMTP_URL", sink.url()),
        (
            "EMAIL_FROM",
            "Pillow Calendar <bookings@pillow.test>".into(),
        ),
        ("OUTBOX_LEASE_SECONDS", "10".into()),
    ]
}

async fn a_restarted_server_delivers_every_message_once(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let Some(sink) = SmtpSink::start_slow(60).await else {
        app.finish().await;
        return;
    };
    let acme = app.tenant("Acme").await;
    let agent = desk(&app, &acme, true).await;
    let settings = settings(&sink);
    let extra: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();

    // Book through the server process, which mails as the bookings come in.
    let (mut server, base) = crate::chaos::serve(&app.database_url, &extra).await;
    let client = reqwest::Client::new();
    for i in 0..BOOKINGS {
        let reply = client
            .post(format!("{base}/api/calendar/booking"))
            .bearer_auth(&acme.key)
            .json(&json!({
                "agent_id": agent,
                "start_time": slot(2, i).to_string(),
                "duration": 30,
                "attendee": {"name": "John Doe", "email": "john@example.com"},
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::CREATED);
    }

    // Kill it in the middle of a delivery, a few messages in.
    let expected = 2 * BOOKINGS as usize;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(sink.messages().len() >= 5 && sink.in_flight()) {
        assert!(
            Instant::now() < deadline,
            "the server never started mailing"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    let before = sink.messages().len();
    assert!(
        (5..expected).contains(&before),
        "killed part-way through: {before} of {expected} accepted"
    );

    // Started again, it takes over the dead process's jobs once their lease has run out.
    let (mut server, _) = crate::chaos::serve(&app.database_url, &extra).await;
    let deadline = Instant::now() + Duration::from_secs(90);
    while sink.messages().len() < expected {
        assert!(
            Instant::now() < deadline,
            "only {} of {expected} messages arrived after the restart",
            sink.messages().len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A moment more, for a repeat that would come late.
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.kill().unwrap();
    server.wait().unwrap();

    let messages = sink.messages();
    let mut copies: BTreeMap<String, usize> = BTreeMap::new();
    for message in &messages {
        *copies.entry(message.message_id()).or_default() += 1;
    }
    assert_eq!(copies.len(), expected, "every message arrived");
    let repeated: Vec<_> = copies.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "sent twice: {repeated:?}");
    let to_caller = messages
        .iter()
        .filter(|m| m.to() == "john@example.com")
        .count();
    assert_eq!(to_caller, BOOKINGS as usize);
    let jobs = app
        .store()
        .list_jobs(acme.id, Some("email.booking"))
        .await
        .unwrap();
    assert!(
        jobs.iter()
            .all(|j| j.status == pillow_store::JobStatus::Done),
        "{jobs:?}"
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_delivers_every_message_once_sqlite() {
    a_restarted_server_delivers_every_message_once(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_delivers_every_message_once_postgres() {
    a_restarted_server_delivers_every_message_once(Db::Postgres).await;
}
