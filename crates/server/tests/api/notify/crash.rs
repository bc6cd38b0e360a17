//! Faults in delivery: a real server process killed with SIGKILL while it is mailing a
//! 25-booking storm (50 messages) loses none of them; what it had sent already and sends again
//! carries the same `Message-ID`, so no message reaches anyone twice as a new one.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::time::Duration;

use jiff::SignedDuration;

use super::email::{book, desk, drain, slot};
use super::sink::{Received, SmtpSink};
use crate::helpers::{Db, TestApp, spawn_app};

const BOOKINGS: i64 = 25;

/// `pillow-calendar serve` on `app`'s database, mailing through `sink`.
fn serve(app: &TestApp, sink: &SmtpSink) -> std::process::Child {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    Command::new(env!("CARGO_BIN_EXE_pillow-calendar"))
        .arg("serve")
        .env("DATABASE_URL", &app.database_url)
        .env("BIND", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("JWT_SECRET", "j".repeat(40))
        .env("CALENDAR_ENCRYPTION_KEY", "42".repeat(32))
        .env("SMTP_URL", sink.url())
        .env("EMAIL_FROM", "Pillow Calendar <bookings@pillow.test>")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_delivery_loses_no_message_and_repeats_none_as_new() {
    // One process writes the bookings (the API), another delivers; SQLite shares the file.
    let Some(app) = spawn_app(Db::Sqlite).await else {
        return;
    };
    let Some(sink) = SmtpSink::start_slow(40).await else {
        app.finish().await;
        return;
    };
    let acme = app.tenant("Acme").await;
    let agent = desk(&app, &acme, true).await;
    for i in 0..BOOKINGS {
        book(&app, &acme, &agent, slot(2, i)).await;
    }

    let mut server = serve(&app, &sink);
    let mut before_kill = 0;
    for _ in 0..600 {
        before_kill = sink.messages().len();
        if before_kill >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    let expected = 2 * BOOKINGS as usize;
    assert!(
        (1..expected).contains(&before_kill),
        "killed part-way through: {before_kill} of {expected} sent"
    );

    // The next worker takes over once the dead one's lease has run out.
    drain(&app, &sink, SignedDuration::from_mins(5)).await;
    let messages = sink.messages();
    let ids: BTreeMap<String, Vec<&Received>> =
        messages.iter().fold(BTreeMap::new(), |mut ids, m| {
            ids.entry(m.message_id()).or_default().push(m);
            ids
        });
    assert_eq!(ids.len(), expected, "every message arrived");
    for (id, copies) in &ids {
        // A message repeated after the crash is the same message: same id, same recipient.
        let recipients: BTreeSet<String> = copies.iter().map(|m| m.to()).collect();
        assert_eq!(recipients.len(), 1, "{id} went to {recipients:?}");
    }
    let to_caller = ids
        .values()
        .filter(|copies| copies[0].to() == "john@example.com")
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
