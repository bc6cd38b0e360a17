//! Per-host limits hold when a booking is moved: a move onto a full day is refused, a move
//! within the host's own day is not, and racing moves never push a host over their limit.

use jiff::{Timestamp, ToSpan};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::bookings::futures_join;
use super::host_limits::{BOOK, agent_with, body, utc_day};
use crate::helpers::{Reply, Tenant, TestApp};
use crate::on_both_backends;

on_both_backends!(
    a_reschedule_onto_a_full_day_is_409_with_alternatives_and_changes_nothing,
    a_reschedule_within_the_same_day_of_a_host_at_their_limit_succeeds,
    a_reschedule_within_the_same_week_of_a_host_at_their_weekly_limit_succeeds,
    twenty_concurrent_reschedules_onto_a_day_with_one_place_left_give_exactly_one,
);

/// Books `start` (30 minutes) through `agent`, answering the booking's id.
async fn book(app: &TestApp, acme: &Tenant, agent: &str, start: Timestamp) -> String {
    let reply = app.post(BOOK, &acme.key, &body(agent, start, 30)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    reply.body["id"].as_str().unwrap().to_string()
}

async fn reschedule(app: &TestApp, key: &str, id: &str, start: Timestamp) -> Reply {
    app.post(
        &format!("/api/calendar/bookings/{id}/reschedule"),
        key,
        &json!({"start_time": start.to_string()}),
    )
    .await
}

/// The host's confirmed bookings starting on the UTC day from `day`.
async fn confirmed_on(app: &TestApp, acme: &Tenant, day: Timestamp) -> Vec<Value> {
    let path = format!(
        "/api/calendar/bookings?status=confirmed&user_id={}&start={day}&end={}",
        acme.owner.id,
        day + 24.hours()
    );
    let listed = app.get(&path, &acme.key).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    listed.body["bookings"].as_array().unwrap().clone()
}

async fn start_of(app: &TestApp, acme: &Tenant, id: &str) -> Value {
    app.get(&format!("/api/calendar/bookings/{id}"), &acme.key)
        .await
        .body["start_time"]
        .clone()
}

async fn a_reschedule_onto_a_full_day_is_409_with_alternatives_and_changes_nothing(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let host = acme.owner.id;
    let entry = json!({"user_id": host.to_string(), "max_bookings_per_day": 2});
    let agent = agent_with(app, &acme, &[host], "UTC", 30, vec![entry]).await;
    let (full, other) = (utc_day(3), utc_day(4));
    book(app, &acme, &agent, full + 9.hours()).await;
    book(app, &acme, &agent, full + 10.hours()).await;
    let moving = book(app, &acme, &agent, other + 9.hours()).await;

    let refused = reschedule(app, &acme.key, &moving, full + 11.hours()).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
    assert_eq!(refused.code(), "slot_unavailable");
    let alternatives = refused.body["error"]["alternatives"].as_array().unwrap();
    assert!(!alternatives.is_empty(), "{:?}", refused.body);
    // No alternative is on the full day.
    for alternative in alternatives {
        let start: Timestamp = alternative["start_time"].as_str().unwrap().parse().unwrap();
        assert!(
            start < full || start >= full + 24.hours(),
            "{alternative} is on the full day"
        );
    }
    // Nothing moved: the booking is where it was and the full day still has two.
    assert_eq!(
        start_of(app, &acme, &moving).await,
        json!((other + 9.hours()).to_string())
    );
    assert_eq!(confirmed_on(app, &acme, full).await.len(), 2);
    assert_eq!(confirmed_on(app, &acme, other).await.len(), 1);
}

async fn a_reschedule_within_the_same_day_of_a_host_at_their_limit_succeeds(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let host = acme.owner.id;
    let entry = json!({"user_id": host.to_string(), "max_bookings_per_day": 2});
    let agent = agent_with(app, &acme, &[host], "UTC", 30, vec![entry]).await;
    let day = utc_day(3);
    let first = book(app, &acme, &agent, day + 9.hours()).await;
    book(app, &acme, &agent, day + 10.hours()).await;

    let moved = reschedule(app, &acme.key, &first, day + 15.hours()).await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    assert_eq!(
        moved.body["start_time"],
        json!((day + 15.hours()).to_string())
    );
    assert_eq!(confirmed_on(app, &acme, day).await.len(), 2);
    // The day is still full for a new booking.
    let third = app
        .post(BOOK, &acme.key, &body(&agent, day + 17.hours(), 30))
        .await;
    assert_eq!(third.status, StatusCode::CONFLICT, "{:?}", third.body);
}

async fn a_reschedule_within_the_same_week_of_a_host_at_their_weekly_limit_succeeds(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let host = acme.owner.id;
    let entry = json!({"user_id": host.to_string(), "max_bookings_per_week": 2});
    let agent = agent_with(app, &acme, &[host], "UTC", 30, vec![entry]).await;
    // A Monday at least three days ahead: its week is Monday to Sunday in UTC.
    let mut monday = utc_day(3);
    while monday.to_zoned(jiff::tz::TimeZone::UTC).weekday() != jiff::civil::Weekday::Monday {
        monday += 24.hours();
    }
    let first = book(app, &acme, &agent, monday + 9.hours()).await;
    book(app, &acme, &agent, monday + (24 + 9).hours()).await;
    let next_week = book(app, &acme, &agent, monday + (7 * 24 + 9).hours()).await;

    // Monday's booking moves to Friday of its own week: allowed.
    let friday = monday + (4 * 24 + 9).hours();
    let moved = reschedule(app, &acme.key, &first, friday).await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    // Next week's booking cannot join the full week.
    let refused = reschedule(app, &acme.key, &next_week, monday + 12.hours()).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
    assert_eq!(refused.code(), "slot_unavailable");
    assert_eq!(
        start_of(app, &acme, &next_week).await,
        json!((monday + (7 * 24 + 9).hours()).to_string())
    );
}

async fn twenty_concurrent_reschedules_onto_a_day_with_one_place_left_give_exactly_one(
    app: &TestApp,
) {
    let acme = app.tenant("Acme").await;
    let host = acme.owner.id;
    let entry = json!({"user_id": host.to_string(), "max_bookings_per_day": 3});
    let agent = agent_with(app, &acme, &[host], "UTC", 30, vec![entry]).await;
    let target = utc_day(3);
    book(app, &acme, &agent, target + 9.hours()).await;
    book(app, &acme, &agent, target + 10.hours()).await;
    // Twenty bookings on the following seven days, three a day at most.
    let mut movers = Vec::new();
    for i in 0..20i64 {
        let start = utc_day(4 + i / 3) + (9 + i % 3).hours();
        movers.push(book(app, &acme, &agent, start).await);
    }

    // All twenty move at once to twenty different free times of the target day.
    let replies = futures_join(20, |i| {
        let key = acme.key.clone();
        let id = movers[i].clone();
        let start = target + 12.hours() + (30 * i as i64).minutes();
        async move { reschedule(app, &key, &id, start).await }
    })
    .await;
    let moved = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    let refused = replies
        .iter()
        .filter(|r| r.status == StatusCode::CONFLICT && r.code() == "slot_unavailable")
        .count();
    let statuses: Vec<_> = replies
        .iter()
        .map(|r| (r.status, r.code().to_string()))
        .collect();
    assert_eq!((moved, refused), (1, 19), "{statuses:?}");
    assert_eq!(confirmed_on(app, &acme, target).await.len(), 3);
}
