//! Recurring series over HTTP: `recurrence` on `POST /api/calendar/booking` books every
//! occurrence in one transaction or answers 409 listing exactly the conflicting ones; one
//! occurrence, the rest of the series or all of it can be cancelled.

use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::host_limits::{BOOK, agent_with};
use crate::helpers::{Tenant, TestApp, at};
use crate::on_both_backends;

on_both_backends!(
    a_six_week_series_books_six_occurrences_at_the_same_local_time_with_one_host,
    a_six_week_series_with_two_taken_weeks_is_409_listing_exactly_those_two_and_books_nothing,
    allow_partial_books_the_free_occurrences_and_lists_the_skipped_ones,
    cancelling_one_occurrence_frees_only_it,
    cancelling_this_and_following_or_the_whole_series_reaches_exactly_those_occurrences,
    series_refusals_are_422_naming_the_field_and_book_nothing,
);

const NEW_YORK: &str = "America/New_York";

/// A New York agent over the owner (always open in UTC, 30-minute slots).
async fn agent(app: &TestApp, acme: &Tenant) -> String {
    let host = acme.owner.id;
    let entry = json!({"user_id": host.to_string()});
    agent_with(app, acme, &[host], "UTC", 30, vec![entry]).await
}

/// 15:00 in New York, `days` from today there.
fn three_pm(days: i64) -> Timestamp {
    let zone = TimeZone::get(NEW_YORK).unwrap();
    let date = Timestamp::now().to_zoned(zone).date() + days.days();
    at(date, "15:00", NEW_YORK)
}

fn series_body(agent: &str, start: Timestamp, recurrence: Value) -> Value {
    json!({
        "agent_id": agent,
        "start_time": start.to_string(),
        "duration": 30,
        "attendee": {"name": "John Doe", "phone": "+1234567890"},
        "recurrence": recurrence,
    })
}

fn weekly(count: u32) -> Value {
    json!({"frequency": "weekly", "interval": 1, "count": count})
}

fn instants(list: &Value, field: &str) -> Vec<Timestamp> {
    list.as_array()
        .unwrap_or_else(|| panic!("{list:?}"))
        .iter()
        .map(|o| o[field].as_str().unwrap().parse().unwrap())
        .collect()
}

/// The owner's confirmed bookings in the next `days` days.
async fn confirmed(app: &TestApp, acme: &Tenant, days: i64) -> Vec<Timestamp> {
    let now = Timestamp::now();
    let path = format!(
        "/api/calendar/bookings?status=confirmed&user_id={}&start={now}&end={}",
        acme.owner.id,
        now + (24 * days).hours()
    );
    instants(
        &app.get(&path, &acme.key).await.body["bookings"],
        "start_time",
    )
}

async fn a_six_week_series_books_six_occurrences_at_the_same_local_time_with_one_host(
    app: &TestApp,
) {
    let acme = app.tenant("Acme").await;
    let agent = agent(app, &acme).await;
    let first = three_pm(3);
    let reply = app
        .post(BOOK, &acme.key, &series_body(&agent, first, weekly(6)))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let series = &reply.body["series"];
    assert_eq!(series["position"], 0);
    assert_eq!(series["rrule"], "FREQ=WEEKLY;INTERVAL=1;COUNT=6");
    let starts = instants(&series["occurrences"], "start_time");
    let zone = TimeZone::get(NEW_YORK).unwrap();
    let expected: Vec<Timestamp> = (0..6)
        .map(|week| {
            let date = first.to_zoned(zone.clone()).date() + (7 * week).days();
            at(date, "15:00", NEW_YORK)
        })
        .collect();
    assert_eq!(starts, expected);
    let hosts: Vec<&Value> = series["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| &o["user_id"])
        .collect();
    assert!(hosts.iter().all(|h| **h == acme.owner.id.to_string()));
    assert_eq!(confirmed(app, &acme, 60).await, expected);
    // Every occurrence carries the series id when read back.
    let third = series["occurrences"][2]["id"].as_str().unwrap();
    let shown = app
        .get(&format!("/api/calendar/bookings/{third}"), &acme.key)
        .await;
    assert_eq!(shown.status, StatusCode::OK, "{:?}", shown.body);
    assert_eq!(shown.body["series"]["id"], series["id"]);
    assert_eq!(shown.body["series"]["position"], 2);
}

/// Books the owner's own time at weeks 1 and 4 of a series starting at `first`.
async fn take_weeks_one_and_four(app: &TestApp, acme: &Tenant, first: Timestamp) -> Vec<Timestamp> {
    let zone = TimeZone::get(NEW_YORK).unwrap();
    let mut taken = Vec::new();
    for week in [1, 4] {
        let start = at(
            first.to_zoned(zone.clone()).date() + (7 * week).days(),
            "15:00",
            NEW_YORK,
        );
        let body = json!({"start_time": start.to_string(), "duration": 30,
                          "attendee": {"name": "Jane Roe"}});
        let reply = app.post(BOOK, &acme.token, &body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        taken.push(start);
    }
    taken
}

async fn a_six_week_series_with_two_taken_weeks_is_409_listing_exactly_those_two_and_books_nothing(
    app: &TestApp,
) {
    let acme = app.tenant("Acme").await;
    let agent = agent(app, &acme).await;
    let first = three_pm(4);
    let taken = take_weeks_one_and_four(app, &acme, first).await;
    let reply = app
        .post(BOOK, &acme.key, &series_body(&agent, first, weekly(6)))
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{:?}", reply.body);
    assert_eq!(reply.code(), "series_conflict");
    let conflicts = &reply.body["error"]["conflicts"];
    assert_eq!(instants(conflicts, "start_time"), taken);
    for conflict in conflicts.as_array().unwrap() {
        let alternatives = instants(&conflict["alternatives"], "start_time");
        assert!(!alternatives.is_empty(), "{conflict:?}");
        assert!(
            alternatives.iter().all(|a| !taken.contains(a)),
            "{conflict:?}"
        );
    }
    // Nothing of the series was booked: only the two bookings made beforehand stand.
    assert_eq!(confirmed(app, &acme, 60).await, taken);
}

async fn allow_partial_books_the_free_occurrences_and_lists_the_skipped_ones(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let agent = agent(app, &acme).await;
    let first = three_pm(4);
    let taken = take_weeks_one_and_four(app, &acme, first).await;
    let mut body = series_body(&agent, first, weekly(6));
    body["allow_partial"] = json!(true);
    let reply = app.post(BOOK, &acme.key, &body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let series = &reply.body["series"];
    assert_eq!(instants(&series["skipped"], "start_time"), taken);
    let booked = instants(&series["occurrences"], "start_time");
    assert_eq!(booked.len(), 4);
    assert!(booked.iter().all(|b| !taken.contains(b)));
    assert_eq!(confirmed(app, &acme, 60).await.len(), 6);
}

async fn book_six(app: &TestApp, acme: &Tenant, agent: &str, first: Timestamp) -> Vec<Value> {
    let reply = app
        .post(BOOK, &acme.key, &series_body(agent, first, weekly(6)))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    reply.body["series"]["occurrences"]
        .as_array()
        .unwrap()
        .clone()
}

/// Whether the agent offers `start`.
async fn offered(app: &TestApp, acme: &Tenant, agent: &str, start: Timestamp) -> bool {
    let path = format!(
        "/api/calendar/availability?agent_id={agent}&start={start}&end={}",
        start + 30.minutes()
    );
    instants(&app.get(&path, &acme.key).await.body["slots"], "start_time").contains(&start)
}

async fn cancelling_one_occurrence_frees_only_it(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let agent = agent(app, &acme).await;
    let occurrences = book_six(app, &acme, &agent, three_pm(5)).await;
    let starts = instants(&Value::from(occurrences.clone()), "start_time");
    let third = occurrences[2]["id"].as_str().unwrap();
    let reply = app
        .post(
            &format!("/api/calendar/bookings/{third}/cancel"),
            &acme.key,
            &json!({"reason": "away that week"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "cancelled");
    let mut rest = starts.clone();
    rest.remove(2);
    assert_eq!(confirmed(app, &acme, 60).await, rest);
    assert!(offered(app, &acme, &agent, starts[2]).await);
    for start in &rest {
        assert!(!offered(app, &acme, &agent, *start).await, "{start}");
    }
}

async fn cancelling_this_and_following_or_the_whole_series_reaches_exactly_those_occurrences(
    app: &TestApp,
) {
    let acme = app.tenant("Acme").await;
    let agent = agent(app, &acme).await;
    let occurrences = book_six(app, &acme, &agent, three_pm(5)).await;
    let starts = instants(&Value::from(occurrences.clone()), "start_time");
    let fourth = occurrences[3]["id"].as_str().unwrap();
    let reply = app
        .post(
            &format!("/api/calendar/bookings/{fourth}/cancel"),
            &acme.key,
            &json!({"scope": "following"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let statuses: Vec<&str> = reply.body["series"]["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "confirmed",
            "confirmed",
            "confirmed",
            "cancelled",
            "cancelled",
            "cancelled"
        ]
    );
    assert_eq!(confirmed(app, &acme, 60).await, starts[..3]);
    let first = occurrences[0]["id"].as_str().unwrap();
    let reply = app
        .post(
            &format!("/api/calendar/bookings/{first}/cancel"),
            &acme.key,
            &json!({"scope": "series"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert!(confirmed(app, &acme, 60).await.is_empty());
    let bad = app
        .post(
            &format!("/api/calendar/bookings/{first}/cancel"),
            &acme.key,
            &json!({"scope": "fortnight"}),
        )
        .await;
    assert_eq!(
        bad.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        bad.body
    );
    assert_eq!(bad.body["error"]["field"], "scope");
}

async fn series_refusals_are_422_naming_the_field_and_book_nothing(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let agent = agent(app, &acme).await;
    let first = three_pm(3);
    let cases = [
        (
            json!({"frequency": "weekly", "count": 53}),
            "recurrence.count",
            "too_many_occurrences",
        ),
        (
            json!("FREQ=DAILY;COUNT=60"),
            "recurrence.count",
            "too_many_occurrences",
        ),
        (
            json!({"frequency": "hourly", "count": 3}),
            "recurrence.frequency",
            "invalid_recurrence",
        ),
        (
            json!({"frequency": "daily", "count": 3, "until": "2030-01-01T00:00:00Z"}),
            "recurrence",
            "invalid_recurrence",
        ),
        (
            json!({"frequency": "weekly", "count": 3, "by_day": ["someday"]}),
            "recurrence.by_day",
            "invalid_recurrence",
        ),
        (json!("FREQ=WEEKLY"), "recurrence", "invalid_recurrence"),
    ];
    for (recurrence, field, code) in cases {
        let reply = app
            .post(
                BOOK,
                &acme.key,
                &series_body(&agent, first, recurrence.clone()),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{recurrence}: {:?}",
            reply.body
        );
        assert_eq!(reply.body["error"]["field"], field, "{recurrence}");
        assert_eq!(reply.code(), code, "{recurrence}");
    }
    // A host who takes bookings at most 20 days ahead: a six-week series runs past that.
    let beta = app.tenant("Beta").await;
    let mut rule = crate::helpers::always_open(Some(beta.owner.id), 30);
    rule["max_booking_notice"] = json!(20 * 24 * 60);
    let created = app
        .post("/api/calendar/availability-rules", &beta.key, &rule)
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let short = app
        .post(
            "/api/agents",
            &beta.key,
            &json!({"name": "Desk", "time_zone": NEW_YORK}),
        )
        .await;
    let short = short.body["id"].as_str().unwrap().to_string();
    let reply = app
        .post(BOOK, &beta.key, &series_body(&short, first, weekly(6)))
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        reply.body
    );
    assert_eq!(reply.code(), "series_beyond_booking_window");
    assert_eq!(reply.body["error"]["field"], "recurrence");
    assert!(confirmed(app, &beta, 60).await.is_empty());
    assert!(confirmed(app, &acme, 60).await.is_empty());
}
