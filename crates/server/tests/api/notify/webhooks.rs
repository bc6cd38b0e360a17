//! Webhooks: subscriptions through the API, Cal.com-compatible signed posts to a local
//! receiver, a booking's events in order even after the receiver was down, a delivery log, a
//! test ping, and internal addresses refused unless the setting allows them.

use std::collections::HashMap;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use jiff::{SignedDuration, Timestamp};
use pillow_server::notify::WebhookDeliverer;
use pillow_server::outbox::{Step, Worker};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;

use super::email::{book, desk, slot};
use super::receiver::Receiver;
use crate::helpers::{Tenant, TestApp};
use crate::on_both_backends;

on_both_backends!(
    subscriptions_are_created_read_changed_and_deleted_with_the_secret_shown_once,
    every_event_is_signed_in_order_and_reaches_a_receiver_that_was_down,
    loopback_and_metadata_addresses_are_refused_without_the_setting,
    a_ping_reaches_the_subscriber_and_is_in_its_log,
    a_logged_event_is_replayed_to_its_subscriber_signed_afresh,
);

const SECRET: &str = "a-signing-secret-of-some-length";

/// Runs the outbox with webhooks until nothing is due, as if `ahead` had passed.
async fn drain(app: &TestApp, allow_private: bool, ahead: SignedDuration) {
    let store = app.state.store.clone();
    let deliverer = WebhookDeliverer::new(
        store.clone(),
        app.state.config.secrets.clone(),
        allow_private,
    );
    let worker = Worker::new(store).with(Arc::new(deliverer));
    for _ in 0..200 {
        if worker
            .try_execute_task_at(Timestamp::now() + ahead)
            .await
            .unwrap()
            == Step::Empty
        {
            return;
        }
    }
    panic!("the outbox never emptied");
}

async fn subscribe(app: &TestApp, acme: &Tenant, url: &str) -> Value {
    let reply = app
        .post(
            "/api/webhooks",
            &acme.key,
            &json!({
                "subscriber_url": url,
                "events": ["BOOKING_CREATED", "BOOKING_RESCHEDULED", "BOOKING_CANCELLED"],
                "secret": SECRET,
            }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    reply.body
}

fn verifies(body: &[u8], signature: &str) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    mac.verify_slice(&hex::decode(signature).unwrap()).is_ok()
}

async fn subscriptions_are_created_read_changed_and_deleted_with_the_secret_shown_once(
    app: &TestApp,
) {
    let acme = app.tenant("Acme").await;
    let made = app
        .post(
            "/api/webhooks",
            &acme.key,
            &json!({"subscriber_url": "https://hooks.acme.test/in", "events": ["BOOKING_CREATED"]}),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    let secret = made.body["secret"].as_str().unwrap();
    assert!(
        secret.starts_with("whsec_") && secret.len() > 40,
        "a secret is made"
    );
    assert_eq!(made.body["active"], true);
    let id = made.body["id"].as_str().unwrap();
    let path = format!("/api/webhooks/{id}");
    let read = app.get(&path, &acme.key).await;
    assert_eq!(read.status, StatusCode::OK);
    assert!(read.body.get("secret").is_none(), "never shown again");
    // Sealed at rest: the stored value is not the secret.
    let stored = app
        .store()
        .get_webhook(acme.id, id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(!stored.secret_sealed.contains(secret));

    let changed = app
        .patch(
            &path,
            &acme.key,
            &json!({"active": false, "events": ["BOOKING_CANCELLED", "BOOKING_CANCELLED"]}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    assert_eq!(changed.body["active"], false);
    assert_eq!(changed.body["events"], json!(["BOOKING_CANCELLED"]));
    assert_eq!(changed.body["subscriber_url"], "https://hooks.acme.test/in");

    // Bad input: a clear 422, and nothing changes.
    for (body, field, code) in [
        (
            json!({"subscriber_url": "ftp://x.test/"}),
            "subscriber_url",
            "invalid_url",
        ),
        (
            json!({"subscriber_url": "not a url"}),
            "subscriber_url",
            "invalid_url",
        ),
        (
            json!({"events": ["BOOKING_EXPLODED"]}),
            "events[0]",
            "invalid_events",
        ),
        (json!({"events": []}), "events", "invalid_events"),
        (json!({"secret": "short"}), "secret", "invalid_secret"),
    ] {
        let reply = app.patch(&path, &acme.key, &body).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(
            (reply.code(), &reply.body["error"]["field"]),
            (code, &json!(field)),
            "{body}"
        );
    }
    assert_eq!(app.get(&path, &acme.key).await.body, changed.body);

    // Another tenant sees nothing; a member who is not an admin may not look.
    let globex = app.tenant("Globex").await;
    assert_eq!(
        app.get(&path, &globex.key).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/webhooks", &globex.key).await.body["webhooks"],
        json!([])
    );
    let (_, token) = app.member(&acme, "member@acme.test").await;
    assert_eq!(
        app.get("/api/webhooks", &token).await.status,
        StatusCode::FORBIDDEN
    );

    let listed = app.get("/api/webhooks", &acme.key).await;
    assert_eq!(listed.body["webhooks"].as_array().unwrap().len(), 1);
    let deleted = app.send(Method::DELETE, &path, Some(&acme.key), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&path, &acme.key).await.status,
        StatusCode::NOT_FOUND
    );
}

async fn every_event_is_signed_in_order_and_reaches_a_receiver_that_was_down(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let agent = desk(app, &acme, false).await;
    let receiver = Receiver::start().await;
    let hook = subscribe(app, &acme, &receiver.url).await;
    receiver.set_down(true);

    // Two bookings, each booked, moved and cancelled while the receiver is down.
    let mut ids = Vec::new();
    for (n, start) in [(0, 30), (1, 40)] {
        let booked = book(app, &acme, &agent, slot(2, start)).await;
        let id = booked["id"].as_str().unwrap().to_string();
        let moved = app
            .post(
                &format!("/api/calendar/bookings/{id}/reschedule"),
                &acme.key,
                &json!({"start_time": slot(3, start + n).to_string()}),
            )
            .await;
        assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
        let cancelled = app
            .post(
                &format!("/api/calendar/bookings/{id}/cancel"),
                &acme.key,
                &json!({}),
            )
            .await;
        assert_eq!(cancelled.status, StatusCode::OK);
        ids.push(id);
    }
    drain(app, true, SignedDuration::ZERO).await;
    assert!(receiver.received().is_empty());
    assert!(
        receiver.refused() >= 2,
        "each booking's first event was tried"
    );
    let log = app
        .get(
            &format!("/api/webhooks/{}/deliveries", hook["id"].as_str().unwrap()),
            &acme.key,
        )
        .await;
    let retrying: Vec<&Value> = log.body["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["status"] == "retrying")
        .collect();
    assert!(!retrying.is_empty(), "{:?}", log.body);
    for entry in &retrying {
        assert_eq!(entry["response_code"], 503);
        assert!(entry["duration_ms"].as_i64().is_some());
        assert!(entry["next_attempt_at"].as_str().is_some(), "{entry}");
    }

    // Back up: as backoffs pass, everything arrives, once, in each booking's order.
    receiver.set_down(false);
    for hours in [2, 4, 8, 16, 32, 64] {
        drain(app, true, SignedDuration::from_hours(hours)).await;
    }
    let received = receiver.received();
    assert_eq!(received.len(), 6);
    let mut order: HashMap<String, Vec<String>> = HashMap::new();
    for delivery in &received {
        let signature = delivery.headers["x-cal-signature-256"].to_str().unwrap();
        assert!(
            verifies(&delivery.body, signature),
            "the signature verifies"
        );
        let body = delivery.json();
        assert!(body["createdAt"].as_str().unwrap().ends_with('Z'));
        let payload = &body["payload"];
        assert_eq!(payload["organizer"]["email"], acme.owner.email);
        assert_eq!(payload["attendees"][0]["email"], "john@example.com");
        assert!(payload["startTime"].as_str().is_some());
        order
            .entry(payload["uid"].as_str().unwrap().to_string())
            .or_default()
            .push(body["triggerEvent"].as_str().unwrap().to_string());
    }
    for id in &ids {
        assert_eq!(
            order[id],
            [
                "BOOKING_CREATED",
                "BOOKING_RESCHEDULED",
                "BOOKING_CANCELLED"
            ],
            "booking {id}"
        );
    }
    let log = app
        .get(
            &format!("/api/webhooks/{}/deliveries", hook["id"].as_str().unwrap()),
            &acme.key,
        )
        .await;
    let entries = log.body["deliveries"].as_array().unwrap();
    assert_eq!(entries.len(), 6);
    assert!(
        entries
            .iter()
            .all(|d| d["status"] == "delivered" && d["response_code"] == 200)
    );
}

async fn loopback_and_metadata_addresses_are_refused_without_the_setting(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let agent = desk(app, &acme, false).await;
    let receiver = Receiver::start().await;
    let loopback = subscribe(app, &acme, &receiver.url).await;
    let metadata = subscribe(app, &acme, "http://169.254.169.254/latest/meta-data").await;
    let named = subscribe(app, &acme, &receiver.url.replace("127.0.0.1", "localhost")).await;
    book(app, &acme, &agent, slot(2, 30)).await;
    drain(app, false, SignedDuration::ZERO).await;
    assert!(receiver.received().is_empty(), "nothing reached loopback");
    for hook in [&loopback, &metadata, &named] {
        let log = app
            .get(
                &format!("/api/webhooks/{}/deliveries", hook["id"].as_str().unwrap()),
                &acme.key,
            )
            .await;
        let entry = &log.body["deliveries"][0];
        assert_eq!(entry["status"], "failed", "{:?}", log.body);
        assert!(entry["response_code"].is_null());
        assert!(
            entry["error"]
                .as_str()
                .unwrap()
                .contains("internal address"),
            "{entry}"
        );
    }
    // Refused is final: the job is done, nothing is retried.
    let jobs = app
        .store()
        .list_jobs(acme.id, Some("webhook.booking"))
        .await
        .unwrap();
    assert!(
        jobs.iter()
            .all(|j| j.status == pillow_store::JobStatus::Done),
        "{jobs:?}"
    );
}

async fn a_ping_reaches_the_subscriber_and_is_in_its_log(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let receiver = Receiver::start().await;
    let hook = subscribe(app, &acme, &receiver.url).await;
    let id = hook["id"].as_str().unwrap();
    let queued = app
        .post(&format!("/api/webhooks/{id}/ping"), &acme.key, &json!({}))
        .await;
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{:?}", queued.body);
    drain(app, true, SignedDuration::ZERO).await;
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].json()["triggerEvent"], "PING");
    let signature = received[0].headers["x-cal-signature-256"].to_str().unwrap();
    assert!(verifies(&received[0].body, signature));
    let log = app
        .get(&format!("/api/webhooks/{id}/deliveries"), &acme.key)
        .await;
    let entry = &log.body["deliveries"][0];
    assert_eq!(
        (&entry["event"], &entry["status"], &entry["job_id"]),
        (&json!("PING"), &json!("delivered"), &queued.body["job_id"])
    );
    let missing = app
        .post(
            &format!("/api/webhooks/{}/ping", uuid::Uuid::nil()),
            &acme.key,
            &json!({}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

async fn a_logged_event_is_replayed_to_its_subscriber_signed_afresh(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let agent = desk(app, &acme, false).await;
    let receiver = Receiver::start().await;
    let hook = subscribe(app, &acme, &receiver.url).await;
    let other = Receiver::start().await;
    subscribe(app, &acme, &other.url).await;
    let id = hook["id"].as_str().unwrap();
    let booked = book(app, &acme, &agent, slot(2, 30)).await;
    drain(app, true, SignedDuration::ZERO).await;
    assert_eq!((receiver.received().len(), other.received().len()), (1, 1));
    let log = app
        .get(&format!("/api/webhooks/{id}/deliveries"), &acme.key)
        .await;
    let delivery = log.body["deliveries"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let path = format!("/api/webhooks/{id}/deliveries/{delivery}/replay");
    let queued = app.post(&path, &acme.key, &json!({})).await;
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{:?}", queued.body);
    drain(app, true, SignedDuration::ZERO).await;
    let received = receiver.received();
    assert_eq!(received.len(), 2, "sent again");
    assert_eq!(other.received().len(), 1, "only to the subscriber replayed");
    let again = received[1].json();
    assert_eq!(again["triggerEvent"], "BOOKING_CREATED");
    assert_eq!(again["payload"]["uid"], booked["id"]);
    let signature = received[1].headers["x-cal-signature-256"].to_str().unwrap();
    assert!(verifies(&received[1].body, signature));
    let log = app
        .get(&format!("/api/webhooks/{id}/deliveries"), &acme.key)
        .await;
    let entry = &log.body["deliveries"][0];
    assert_eq!(
        (&entry["event"], &entry["status"], &entry["job_id"]),
        (
            &json!("BOOKING_CREATED"),
            &json!("delivered"),
            &queued.body["job_id"]
        )
    );
    let unknown = format!("/api/webhooks/{id}/deliveries/{}/replay", uuid::Uuid::nil());
    let missing = app.post(&unknown, &acme.key, &json!({})).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}
