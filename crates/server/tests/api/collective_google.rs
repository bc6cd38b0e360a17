//! Calendar write-back of a collective booking: every host, not only the lead, gets the
//! appointment in their connected Google calendar (against the fake Google), and cancelling it
//! removes it from each.

use jiff::ToSpan;
use pillow_fakes::google::FakeGoogle;
use pillow_server::outbox::{Step, Worker};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::host_limits::{BOOK, agent_with, body, utc_day};
use crate::helpers::{Db, TestApp, spawn_app_with};

const CLIENT_ID: &str = "pillow-test-client.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "pillow-test-client-secret";

mod every_host_of_a_collective_booking_gets_and_loses_the_event_in_their_google_calendar {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::every_host_gets_the_event(crate::helpers::Db::Sqlite).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::every_host_gets_the_event(crate::helpers::Db::Postgres).await;
    }
}

/// Connects the token's member to the fake Google account `email` and waits for the first sync.
async fn connect(app: &TestApp, google: &FakeGoogle, token: &str, email: &str) {
    google.add_user(email);
    let reply = app
        .client
        .get(format!("{}/api/calendar/google/connect", app.base))
        .bearer_auth(token)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let url = reply.json::<Value>().await.unwrap()["url"]
        .as_str()
        .unwrap()
        .to_string();
    let redirect = google.approve(&url, email).unwrap();
    let back = app.client.get(redirect).send().await.unwrap();
    assert_eq!(back.status(), 200);
    for _ in 0..500 {
        let providers = app.get("/api/calendar/providers", token).await;
        if providers.body["providers"][0]["last_synced_at"].is_string() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the first sync never finished");
}

/// Runs the outbox's calendar write-back until nothing is due.
async fn drain(app: &TestApp) {
    let worker = Worker::new(app.state.store.clone()).with(std::sync::Arc::new(
        pillow_server::google::GoogleWriteBack(app.state.google.clone()),
    ));
    for _ in 0..100 {
        if worker
            .try_execute_task_at(jiff::Timestamp::now())
            .await
            .unwrap()
            == Step::Empty
        {
            return;
        }
    }
    panic!("the outbox never emptied");
}

/// The live events we wrote into `email`'s calendar, as start instants.
fn our_events(google: &FakeGoogle, email: &str) -> Vec<jiff::Timestamp> {
    google
        .events(email)
        .into_iter()
        .filter(|e| e["extendedProperties"]["private"]["pillow_booking"].is_string())
        .filter(|e| e["status"] != "cancelled")
        .map(|e| e["start"]["dateTime"].as_str().unwrap().parse().unwrap())
        .collect()
}

async fn every_host_gets_the_event(db: Db) {
    let google = FakeGoogle::start().await;
    let settings = vec![
        ("GOOGLE_OAUTH_CLIENT_ID", CLIENT_ID.to_string()),
        ("GOOGLE_OAUTH_CLIENT_SECRET", CLIENT_SECRET.to_string()),
        ("GOOGLE_OAUTH_AUTHORIZE_URL", google.authorize_url()),
        ("GOOGLE_OAUTH_TOKEN_URL", google.token_url()),
        ("GOOGLE_OAUTH_REVOKE_URL", google.revoke_url()),
        ("GOOGLE_CALENDAR_API_BASE", google.calendar_base()),
    ];
    let Some(app) = spawn_app_with(db, &settings).await else {
        return;
    };
    google.register_client(
        CLIENT_ID,
        CLIENT_SECRET,
        &format!("{}/api/calendar/google/callback", app.base),
    );
    let acme = app.tenant("Acme").await;
    let (bea, bea_token) = app.member(&acme, "bea@acme.test").await;
    let (cy, cy_token) = app.member(&acme, "cy@acme.test").await;
    let hosts = [acme.owner.id, bea.id, cy.id];
    connect(&app, &google, &acme.token, "owner@gmail.test").await;
    connect(&app, &google, &bea_token, "bea@gmail.test").await;
    connect(&app, &google, &cy_token, "cy@gmail.test").await;
    let entries: Vec<Value> = hosts
        .iter()
        .map(|id| json!({"user_id": id.to_string(), "required": true}))
        .collect();
    let agent = agent_with(&app, &acme, &hosts, "UTC", 30, entries.clone()).await;
    let reply = app
        .send(
            Method::PUT,
            &format!("/api/agents/{agent}/booking-settings"),
            Some(&acme.key),
            Some(&json!({"assignable_users": entries, "distribution_strategy": "collective"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);

    let slot = utc_day(3) + 15.hours();
    let booked = app.post(BOOK, &acme.key, &body(&agent, slot, 30)).await;
    assert_eq!(booked.status, StatusCode::CREATED, "{:?}", booked.body);
    drain(&app).await;
    for email in ["owner@gmail.test", "bea@gmail.test", "cy@gmail.test"] {
        assert_eq!(our_events(&google, email), [slot], "{email}");
    }

    let id = booked.body["id"].as_str().unwrap();
    let cancelled = app
        .post(
            &format!("/api/calendar/bookings/{id}/cancel"),
            &acme.key,
            &json!({}),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{:?}", cancelled.body);
    drain(&app).await;
    for email in ["owner@gmail.test", "bea@gmail.test", "cy@gmail.test"] {
        assert!(our_events(&google, email).is_empty(), "{email}");
    }
    app.finish().await;
}
