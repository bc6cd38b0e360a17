//! Recurring series during a call: `recurrence` on the voice tool `book_appointment` (Retell,
//! retried by the platform) and on the in-call `POST …/calendar/book`, with the same
//! all-or-nothing rule as the bookings API.

use jiff::Timestamp;
use jiff::ToSpan;
use jiff::tz::TimeZone;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::appointment_types::voice;
use super::host_limits::agent_with;
use crate::helpers::{Tenant, TestApp, at};
use crate::on_both_backends;

on_both_backends!(
    the_voice_tool_books_a_weekly_series_once_however_often_the_platform_retries,
    the_incall_book_takes_a_recurrence_and_refuses_a_series_with_a_taken_occurrence,
    this_and_following_or_the_whole_series_move_together_at_the_same_local_time_or_not_at_all,
);

const NEW_YORK: &str = "America/New_York";

/// A New York agent over the owner (always open in UTC, 30-minute slots).
async fn desk(app: &TestApp, acme: &Tenant) -> String {
    let host = acme.owner.id;
    agent_with(
        app,
        acme,
        &[host],
        "UTC",
        30,
        vec![json!({"user_id": host.to_string()})],
    )
    .await
}

fn new_york_date(days: i64) -> jiff::civil::Date {
    Timestamp::now()
        .to_zoned(TimeZone::get(NEW_YORK).unwrap())
        .date()
        + days.days()
}

/// The owner's confirmed booking starts, soonest first.
async fn confirmed(app: &TestApp, acme: &Tenant) -> Vec<Timestamp> {
    let reply = app
        .get("/api/calendar/bookings?status=confirmed", &acme.key)
        .await;
    let mut starts: Vec<Timestamp> = reply.body["bookings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["start_time"].as_str().unwrap().parse().unwrap())
        .collect();
    starts.sort();
    starts
}

async fn the_voice_tool_books_a_weekly_series_once_however_often_the_platform_retries(
    app: &TestApp,
) {
    let acme = app.tenant("Acme").await;
    let agent = desk(app, &acme).await;
    let date = new_york_date(3);
    let retell = json!({
        "name": "book_appointment",
        "call": {"call_id": "call-series-1", "agent_id": "retell-agent-1"},
        "args": {"start_time": format!("{date}T15:00"), "name": "Ada Lovelace",
                 "phone": "+14155550100",
                 "recurrence": {"frequency": "weekly", "count": 4}},
    });
    let (status, first) = voice(app, "/api/calendar/booking/retell", &agent, &retell).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["occurrences"], 4, "{first}");
    let summary = first["summary"].as_str().unwrap();
    assert!(summary.contains("4 appointments"), "{summary}");
    // Every Tuesday (or whatever the day is) at 15:00 New York time, across any DST change.
    let expected: Vec<Timestamp> = (0..4)
        .map(|week| at(date + (7 * week).days(), "15:00", NEW_YORK))
        .collect();
    assert_eq!(confirmed(app, &acme).await, expected);

    // Retell delivers the same call's request again: the same series, nothing more booked.
    let (status, again) = voice(app, "/api/calendar/booking/retell", &agent, &retell).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["confirmation_code"], first["confirmation_code"]);
    assert_eq!(confirmed(app, &acme).await.len(), 4);

    // A recurrence the server will not take is a 422 naming its field, and books nothing.
    let mut too_long = retell.clone();
    too_long["call"]["call_id"] = json!("call-series-2");
    too_long["args"]["recurrence"] = json!({"frequency": "daily", "count": 60});
    let (status, refused) = voice(app, "/api/calendar/booking/retell", &agent, &too_long).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let said = refused.to_string();
    assert!(said.contains("too_many_occurrences"), "{said}");
    assert!(said.contains("recurrence.count"), "{said}");
    assert_eq!(confirmed(app, &acme).await.len(), 4);
}

async fn the_incall_book_takes_a_recurrence_and_refuses_a_series_with_a_taken_occurrence(
    app: &TestApp,
) {
    let acme = app.tenant("Acme").await;
    let agent = desk(app, &acme).await;
    let date = new_york_date(4);
    let slots = app
        .get(
            &format!("/api/v1/agents/{agent}/calendar/slots?startDate={date}&endDate={date}"),
            &acme.key,
        )
        .await;
    assert_eq!(slots.status, StatusCode::OK, "{:?}", slots.body);
    let nine = at(date, "09:00", NEW_YORK).to_string();
    let slot = slots.body["data"]["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["start_time"] == nine.as_str())
        .unwrap()["id"]
        .clone();
    let book = |recurrence: Value| {
        json!({"slotId": slot, "attendeeName": "John Doe", "attendeeEmail": "john@example.com",
               "recurrence": recurrence})
    };
    let path = format!("/api/v1/agents/{agent}/calendar/book");
    let booked = app
        .post(
            &path,
            &acme.key,
            &book(json!({"frequency": "daily", "count": 3})),
        )
        .await;
    assert_eq!(booked.status, StatusCode::CREATED, "{:?}", booked.body);
    let series = &booked.body["data"]["booking"]["series"];
    let occurrences: Vec<&str> = series["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["start_time"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (0..3)
        .map(|d| at(date + d.days(), "09:00", NEW_YORK).to_string())
        .collect();
    assert_eq!(occurrences, expected);
    assert_eq!(confirmed(app, &acme).await.len(), 3);

    // Weekly from the same slot: its first occurrence is taken, so nothing is booked and the
    // 409 names exactly that one.
    let refused = app
        .post(&path, &acme.key, &book(json!("FREQ=WEEKLY;COUNT=3")))
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
    assert_eq!(refused.body["success"], false);
    assert_eq!(refused.body["error"]["code"], "series_conflict");
    let conflicts: Vec<&str> = refused.body["error"]["conflicts"]
        .as_array()
        .unwrap_or_else(|| panic!("{:?}", refused.body))
        .iter()
        .map(|c| c["start_time"].as_str().unwrap())
        .collect();
    assert_eq!(conflicts, [nine.as_str()]);
    assert_eq!(confirmed(app, &acme).await.len(), 3);

    let bad = app
        .post(
            &path,
            &acme.key,
            &book(json!({"frequency": "hourly", "count": 2})),
        )
        .await;
    assert_eq!(
        bad.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        bad.body
    );
    assert_eq!(bad.body["error"]["field"], "recurrence.frequency");
}

async fn this_and_following_or_the_whole_series_move_together_at_the_same_local_time_or_not_at_all(
    app: &TestApp,
) {
    let acme = app.tenant("Acme").await;
    let agent = desk(app, &acme).await;
    let date = new_york_date(3);
    let booked = app
        .post(
            "/api/calendar/booking",
            &acme.key,
            &json!({"agent_id": agent, "start_time": at(date, "15:00", NEW_YORK).to_string(),
                    "duration": 30, "attendee": {"name": "John Doe", "phone": "+1234567890"},
                    "recurrence": {"frequency": "weekly", "count": 4}}),
        )
        .await;
    assert_eq!(booked.status, StatusCode::CREATED, "{:?}", booked.body);
    let ids: Vec<String> = booked.body["series"]["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect();
    let week = |n: i64, time: &str, shift: i64| at(date + (7 * n + shift).days(), time, NEW_YORK);
    let move_to = |id: &str, start: Timestamp, scope: &str| {
        let path = format!("/api/calendar/bookings/{id}/reschedule");
        let body = json!({"start_time": start.to_string(), "scope": scope});
        let key = acme.key.clone();
        async move { app.post(&path, &key, &body).await }
    };

    // The second occurrence and the ones after it, a day later at 16:00 local.
    let moved = move_to(&ids[1], week(1, "16:00", 1), "following").await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    assert_eq!(moved.body["start_time"], week(1, "16:00", 1).to_string());
    let expected = vec![
        week(0, "15:00", 0),
        week(1, "16:00", 1),
        week(2, "16:00", 1),
        week(3, "16:00", 1),
    ];
    assert_eq!(confirmed(app, &acme).await, expected);
    let listed: Vec<Timestamp> = moved.body["series"]["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["start_time"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(listed, expected);

    // Another appointment sits where the third occurrence would go: moving the whole series
    // an hour later is refused naming exactly that occurrence, and nothing moves.
    let blocker = app
        .post(
            "/api/calendar/booking",
            &acme.key,
            &json!({"agent_id": agent, "start_time": week(2, "17:00", 1).to_string(),
                    "duration": 30, "attendee": {"name": "Jane Roe", "phone": "+1234567891"}}),
        )
        .await;
    assert_eq!(blocker.status, StatusCode::CREATED, "{:?}", blocker.body);
    let refused = move_to(&ids[0], week(0, "16:00", 0), "series").await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
    assert_eq!(refused.code(), "series_conflict");
    let conflicts: Vec<&str> = refused.body["error"]["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["start_time"].as_str().unwrap())
        .collect();
    assert_eq!(conflicts, [week(2, "17:00", 1).to_string()]);
    let mut with_blocker = expected.clone();
    with_blocker.push(week(2, "17:00", 1));
    with_blocker.sort();
    assert_eq!(confirmed(app, &acme).await, with_blocker);

    // The whole series, earlier by an hour: every occurrence moves, each by its own wall time.
    let earlier = move_to(&ids[2], week(2, "15:00", 1), "series").await;
    assert_eq!(earlier.status, StatusCode::OK, "{:?}", earlier.body);
    let mut after = vec![
        week(0, "14:00", 0),
        week(1, "15:00", 1),
        week(2, "15:00", 1),
        week(3, "15:00", 1),
        week(2, "17:00", 1),
    ];
    after.sort();
    assert_eq!(confirmed(app, &acme).await, after);
    // A scope on a booking outside any series is a 422 naming it.
    let lone = blocker.body["id"].as_str().unwrap();
    let bad = move_to(lone, week(2, "18:00", 1), "series").await;
    assert_eq!(
        bad.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        bad.body
    );
    assert_eq!(bad.body["error"]["field"], "scope");
}
