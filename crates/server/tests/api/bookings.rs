//! Booking over HTTP: the API's request, races, idempotency, fairness, cancel and reschedule.

use std::collections::HashMap;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use super::rules::seed_rule;
use crate::helpers::{Reply, Tenant, TestApp, always_open, at, next};
use crate::on_both_backends;

on_both_backends!(
    the_seeds_booking_example_books_the_calling_user,
    bad_booking_requests_are_4xx_and_write_nothing,
    a_hundred_concurrent_requests_for_one_slot_give_one_booking,
    a_three_member_team_under_fifty_requests_gets_three_bookings_one_each,
    concurrent_bookings_never_violate_buffers,
    twenty_concurrent_requests_with_one_idempotency_key_make_one_booking,
    an_idempotency_key_with_a_different_body_is_422,
    round_robin_spreads_three_hundred_bookings_evenly,
    least_busy_priority_and_specific_user_pick_as_defined,
    booking_settings_are_validated,
    bookings_are_listed_found_cancelled_and_rescheduled,
    callers_cancel_and_reschedule_with_their_code_and_contact,
    another_tenants_bookings_and_agents_are_404,
    booking_changes_write_outbox_jobs_that_the_worker_delivers,
    a_booking_updates_the_cached_calendar_without_a_reload,
    a_request_waits_for_a_booking_of_ours_being_recorded_instead_of_reloading,
);

const RULES: &str = "/api/calendar/availability-rules";
const BOOK: &str = "/api/calendar/booking";

fn la(date: Date, time: &str) -> String {
    at(date, time, "America/Los_Angeles").to_string()
}

fn booking_body(start: &str) -> Value {
    json!({
        "start_time": start,
        "duration": 30,
        "attendee": {"name": "John Doe", "phone": "+1234567890", "email": "john@example.com"},
        "notes": "Product demo"
    })
}

/// A team agent with `n` members (owner included) whose rules are always open.
async fn team(app: &TestApp, acme: &Tenant, n: usize) -> (String, Vec<pillow_store::UserId>) {
    let mut members = vec![acme.owner.id];
    for i in 1..n {
        let (user, _) = app.member(acme, &format!("member{i}@acme.test")).await;
        members.push(user.id);
    }
    for member in &members {
        let reply = app
            .post(RULES, &acme.key, &always_open(Some(*member), 30))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    }
    let agent = app
        .post(
            "/api/agents",
            &acme.key,
            &json!({"name": "Desk", "time_zone": "UTC"}),
        )
        .await;
    (agent.body["id"].as_str().unwrap().to_string(), members)
}

fn slot(days_ahead: i64, index: i64) -> String {
    let day = Timestamp::now().to_zoned(TimeZone::UTC).date() + days_ahead.days();
    (at(day, "00:00", "UTC") + (index * 30).minutes()).to_string()
}

async fn the_seeds_booking_example_books_the_calling_user(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    app.post(RULES, &acme.token, &seed_rule()).await;
    let day = next(Weekday::Thursday);
    let reply = app
        .post(BOOK, &acme.token, &booking_body(&la(day, "09:00")))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let code = reply.body["confirmation_code"].as_str().unwrap();
    assert_eq!(code.len(), 9);
    assert!(
        code.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    );
    assert_eq!(reply.body["status"], "confirmed");
    assert_eq!(reply.body["start_time"], la(day, "09:00"));
    assert_eq!(reply.body["end_time"], la(day, "09:30"));
    assert_eq!(reply.body["assigned_user"]["id"], acme.owner.id.to_string());
    assert_eq!(reply.body["assigned_user"]["name"], acme.owner.name);
    assert_eq!(reply.body["attendee"]["email"], "john@example.com");
    assert_eq!(reply.body["notes"], "Product demo");
    assert_eq!(reply.body["title"], "Appointment with John Doe");

    // It is a busy event of the member and the slot is gone from availability.
    let events = app
        .store()
        .list_events(
            acme.id,
            &pillow_store::EventFilter {
                user_ids: vec![acme.owner.id],
                from: None,
                to: None,
                include_cancelled: false,
            },
        )
        .await
        .unwrap();
    assert!(events.iter().any(
        |e| e.booking_id.map(|b| b.to_string()) == reply.body["id"].as_str().map(String::from)
    ));
    let slots = app
        .get(
            &format!("/api/calendar/availability?date={day}"),
            &acme.token,
        )
        .await;
    let starts: Vec<&str> = slots.body["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["start_time"].as_str().unwrap())
        .collect();
    assert!(!starts.contains(&la(day, "09:00").as_str()));

    // The same slot again: 409 with alternatives.
    let again = app
        .post(BOOK, &acme.token, &booking_body(&la(day, "09:00")))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.code(), "slot_unavailable");
    let alternatives = again.body["error"]["alternatives"].as_array().unwrap();
    assert!(!alternatives.is_empty() && alternatives.len() <= 3);
    assert!(
        alternatives
            .iter()
            .any(|a| a["start_time"] == la(day, "09:30"))
    );
}

async fn bad_booking_requests_are_4xx_and_write_nothing(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let mut rule = seed_rule();
    rule["min_booking_notice"] = json!(60);
    rule["max_booking_notice"] = json!(60 * 24 * 60);
    app.post(RULES, &acme.token, &rule).await;
    let day = next(Weekday::Tuesday);
    let saturday = next(Weekday::Saturday);
    let with = |key: &str, value: Value| {
        let mut body = booking_body(&la(day, "10:00"));
        body[key] = value;
        body
    };
    let attendee = |value: Value| with("attendee", value);
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            with("start_time", json!("2020-01-01T10:00:00Z")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "in_the_past",
        ),
        (
            with("start_time", json!(la(day, "10:10"))),
            StatusCode::UNPROCESSABLE_ENTITY,
            "off_grid",
        ),
        (
            with("start_time", json!(la(day, "18:00"))),
            StatusCode::UNPROCESSABLE_ENTITY,
            "outside_working_hours",
        ),
        (
            with("start_time", json!(la(saturday, "10:00"))),
            StatusCode::UNPROCESSABLE_ENTITY,
            "outside_working_hours",
        ),
        (
            with(
                "start_time",
                json!((Timestamp::now() + (200 * 24).hours()).to_string()),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_far_ahead",
        ),
        (
            with("start_time", json!("next tuesday")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_time",
        ),
        (
            with("duration", json!(45)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "duration_not_allowed",
        ),
        (
            with("duration", json!(0)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_duration",
        ),
        (
            attendee(json!({"name": " ", "email": "a@b.test"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_name",
        ),
        (
            attendee(json!({"name": "Ann", "email": "not-an-email"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_email",
        ),
        (
            attendee(json!({"name": "Ann", "phone": "call me"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_phone",
        ),
        (
            attendee(json!({"email": "a@b.test"})),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            with("agent_id", json!(Uuid::now_v7().to_string())),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (body, status, code) in cases {
        let reply = app.post(BOOK, &acme.token, &body).await;
        assert_eq!(reply.status, status, "{body}: {:?}", reply.body);
        assert_eq!(reply.code(), code, "{body}");
    }
    // Too soon: the next on-grid slot within the hour of notice.
    let soon = Timestamp::now() + 10.minutes();
    let reply = app
        .post(BOOK, &acme.token, &booking_body(&soon.to_string()))
        .await;
    assert!(reply.status.is_client_error());
    let bookings = app.get("/api/calendar/bookings", &acme.token).await;
    assert_eq!(bookings.body["bookings"], json!([]), "nothing written");
}

async fn a_hundred_concurrent_requests_for_one_slot_give_one_booking(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    app.post(RULES, &acme.token, &always_open(None, 30)).await;
    let start = slot(3, 20);
    let replies = futures_join(100, |_| {
        let body = booking_body(&start);
        let token = acme.token.clone();
        async move { app.post(BOOK, &token, &body).await }
    })
    .await;
    let created = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    let conflicts = replies
        .iter()
        .filter(|r| r.status == StatusCode::CONFLICT && r.code() == "slot_unavailable")
        .count();
    assert_eq!((created, conflicts), (1, 99), "{:?}", statuses(&replies));
    let listed = app
        .get("/api/calendar/bookings?status=confirmed", &acme.token)
        .await;
    assert_eq!(listed.body["bookings"].as_array().unwrap().len(), 1);
}

fn statuses(replies: &[Reply]) -> HashMap<u16, usize> {
    let mut counts = HashMap::new();
    for reply in replies {
        *counts.entry(reply.status.as_u16()).or_default() += 1;
    }
    counts
}

/// Runs `n` requests at once and collects the replies.
pub async fn futures_join<F, Fut>(n: usize, make: F) -> Vec<Reply>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Reply>,
{
    futures::future::join_all((0..n).map(make)).await
}

async fn a_three_member_team_under_fifty_requests_gets_three_bookings_one_each(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let (agent, members) = team(app, &acme, 3).await;
    let start = slot(4, 30);
    let replies = futures_join(50, |_| {
        let mut body = booking_body(&start);
        body["agent_id"] = json!(agent);
        let key = acme.key.clone();
        async move { app.post(BOOK, &key, &body).await }
    })
    .await;
    let booked: Vec<String> = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .map(|r| r.body["user_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(booked.len(), 3, "{:?}", statuses(&replies));
    let mut distinct = booked.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "one each");
    for member in members {
        assert!(booked.contains(&member.to_string()));
    }
    assert_eq!(
        replies
            .iter()
            .filter(|r| r.status == StatusCode::CONFLICT)
            .count(),
        47
    );
}

async fn concurrent_bookings_never_violate_buffers(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    // 15-minute slots with 15 minutes after each booking: of any two neighbouring slots at most
    // one can be taken.
    let mut rule = always_open(None, 15);
    rule["buffer_after"] = json!(15);
    app.post(RULES, &acme.token, &rule).await;
    let replies = futures_join(40, |i| {
        let mut body = booking_body(&slot(5, 0));
        let day = Timestamp::now().to_zoned(TimeZone::UTC).date() + 5.days();
        body["start_time"] =
            json!((at(day, "09:00", "UTC") + ((i % 8) as i64 * 15).minutes()).to_string());
        body["duration"] = json!(15);
        let token = acme.token.clone();
        async move { app.post(BOOK, &token, &body).await }
    })
    .await;
    assert!(
        replies
            .iter()
            .all(|r| r.status == StatusCode::CREATED || r.status == StatusCode::CONFLICT)
    );
    let listed = app
        .get("/api/calendar/bookings?status=confirmed", &acme.token)
        .await;
    let mut starts: Vec<Timestamp> = listed.body["bookings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["start_time"].as_str().unwrap().parse().unwrap())
        .collect();
    starts.sort();
    assert!(!starts.is_empty());
    for pair in starts.windows(2) {
        // 15 minutes of meeting + 15 of buffer.
        assert!(
            pair[1].duration_since(pair[0]).as_mins() >= 30,
            "{starts:?}"
        );
    }
}

async fn twenty_concurrent_requests_with_one_idempotency_key_make_one_booking(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    app.post(RULES, &acme.token, &always_open(None, 30)).await;
    let start = slot(6, 10);
    let client = app.client.clone();
    let url = format!("{}{BOOK}", app.base);
    let handles: Vec<_> = (0..20)
        .map(|_| {
            let client = client.clone();
            let url = url.clone();
            let token = acme.token.clone();
            let body = booking_body(&start);
            tokio::spawn(async move {
                let response = client
                    .post(url)
                    .bearer_auth(token)
                    .header("Idempotency-Key", "call-123-slot-10")
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                (response.status(), response.text().await.unwrap())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for handle in handles {
        answers.push(handle.await.unwrap());
    }
    assert!(
        answers.iter().all(|(s, _)| *s == StatusCode::CREATED),
        "{answers:?}"
    );
    let first: Value = serde_json::from_str(&answers[0].1).unwrap();
    for (_, body) in &answers {
        assert_eq!(
            serde_json::from_str::<Value>(body).unwrap(),
            first,
            "identical answers"
        );
    }
    let listed = app.get("/api/calendar/bookings", &acme.token).await;
    assert_eq!(listed.body["bookings"].as_array().unwrap().len(), 1);
}

async fn an_idempotency_key_with_a_different_body_is_422(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    app.post(RULES, &acme.token, &always_open(None, 30)).await;
    let send = |start: String| {
        let request = app
            .client
            .post(format!("{}{BOOK}", app.base))
            .bearer_auth(&acme.token)
            .header("Idempotency-Key", "retry-me")
            .json(&booking_body(&start));
        async move { request.send().await.unwrap() }
    };
    assert_eq!(send(slot(6, 1)).await.status(), StatusCode::CREATED);
    let other = send(slot(6, 2)).await;
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = other.json().await.unwrap();
    assert_eq!(body["error"]["code"], "idempotency_key_reused");
    assert_eq!(
        send(slot(6, 1)).await.status(),
        StatusCode::CREATED,
        "replayed"
    );
    let listed = app.get("/api/calendar/bookings", &acme.token).await;
    assert_eq!(listed.body["bookings"].as_array().unwrap().len(), 1);

    // A day later the worker has forgotten the key: the same key is a new request.
    let worker = pillow_server::outbox::Worker::new(app.state.store.clone());
    let soon = Timestamp::now() + 1.hour();
    assert_eq!(
        worker.purge_expired_at(soon).await.unwrap().0,
        0,
        "kept a day"
    );
    let (keys, _) = worker
        .purge_expired_at(Timestamp::now() + 25.hours())
        .await
        .unwrap();
    assert_eq!(keys, 1);
    assert_eq!(send(slot(6, 2)).await.status(), StatusCode::CREATED);
    let listed = app.get("/api/calendar/bookings", &acme.token).await;
    assert_eq!(listed.body["bookings"].as_array().unwrap().len(), 2);
}

async fn book_for_agent(app: &TestApp, key: &str, agent: &str, start: &str) -> Reply {
    let mut body = booking_body(start);
    body["agent_id"] = json!(agent);
    app.post(BOOK, key, &body).await
}

async fn round_robin_spreads_three_hundred_bookings_evenly(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let (agent, members) = team(app, &acme, 3).await;
    let mut counts: HashMap<String, usize> = HashMap::new();
    for i in 0..300 {
        let reply = book_for_agent(app, &acme.key, &agent, &slot(2 + i / 40, i % 40)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        *counts
            .entry(reply.body["user_id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    for member in members {
        assert_eq!(counts.get(&member.to_string()), Some(&100), "{counts:?}");
    }
}

async fn least_busy_priority_and_specific_user_pick_as_defined(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let (agent, members) = team(app, &acme, 3).await;
    let settings = |strategy: &str, extra: Value| {
        let mut body = json!({
            "assignable_users": [
                {"user_id": members[0].to_string(), "priority": 2},
                {"user_id": members[1].to_string(), "priority": 1},
                {"user_id": members[2].to_string(), "priority": 3}
            ],
            "distribution_strategy": strategy,
            "event_type_config": {"duration": 30, "title_template": "Call with {{customer_name}}"},
            "notifications": {"send_email": true, "send_sms": false}
        });
        if let Value::Object(extra) = extra {
            for (k, v) in extra {
                body[k] = v;
            }
        }
        body
    };
    let path = format!("/api/agents/{agent}/booking-settings");

    // priority: the lowest number free at the slot.
    assert_eq!(
        app.send(
            reqwest::Method::PUT,
            &path,
            Some(&acme.key),
            Some(&settings("priority", json!({})))
        )
        .await
        .status,
        StatusCode::OK
    );
    let first = book_for_agent(app, &acme.key, &agent, &slot(3, 1)).await;
    assert_eq!(first.body["user_id"], members[1].to_string());
    assert_eq!(first.body["title"], "Call with John Doe");
    // When priority 1 is busy at a slot, priority 2 takes it.
    let second = book_for_agent(app, &acme.key, &agent, &slot(3, 1)).await;
    assert_eq!(second.body["user_id"], members[0].to_string());

    // least_busy: fewest upcoming bookings (member 2 has none now).
    app.send(
        reqwest::Method::PUT,
        &path,
        Some(&acme.key),
        Some(&settings("least_busy", json!({}))),
    )
    .await;
    let third = book_for_agent(app, &acme.key, &agent, &slot(3, 5)).await;
    assert_eq!(third.body["user_id"], members[2].to_string());

    // specific_user: never anyone else, even when that member is busy.
    let specific = settings(
        "specific_user",
        json!({"specific_user_id": members[1].to_string()}),
    );
    app.send(
        reqwest::Method::PUT,
        &path,
        Some(&acme.key),
        Some(&specific),
    )
    .await;
    for i in 10..16 {
        let reply = book_for_agent(app, &acme.key, &agent, &slot(4, i)).await;
        assert_eq!(reply.body["user_id"], members[1].to_string());
    }
    let busy_for_them = book_for_agent(app, &acme.key, &agent, &slot(4, 10)).await;
    assert_eq!(busy_for_them.status, StatusCode::CONFLICT);
}

async fn booking_settings_are_validated(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let (agent, members) = team(app, &acme, 2).await;
    let path = format!("/api/agents/{agent}/booking-settings");
    let m = members[0].to_string();
    let cases = [
        (
            json!({"assignable_users": [{"user_id": "user-1"}]}),
            "assignable_users[0].user_id",
            "unknown_user",
        ),
        (
            json!({"assignable_users": [{"user_id": m}, {"user_id": m}]}),
            "assignable_users[1].user_id",
            "duplicate_user",
        ),
        (
            json!({"distribution_strategy": "lottery"}),
            "distribution_strategy",
            "unknown_strategy",
        ),
        (
            json!({"event_type_config": {"title_template": "Hi {{customer_shoe_size}}"}}),
            "event_type_config.title_template",
            "unknown_template_variable",
        ),
        (
            json!({"event_type_config": {"duration": 2}}),
            "event_type_config.duration",
            "invalid_duration",
        ),
    ];
    for (body, field, code) in cases {
        let reply = app
            .send(reqwest::Method::PUT, &path, Some(&acme.key), Some(&body))
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(reply.body["error"]["field"], field);
        assert_eq!(reply.code(), code);
    }
    // Without settings the defaults in use are shown: everyone with working hours.
    let shown = app.get(&path, &acme.key).await;
    assert_eq!(shown.body["distribution_strategy"], "round_robin");
    assert_eq!(shown.body["assignable_users"].as_array().unwrap().len(), 2);
    let globex = app.tenant("Globex").await;
    assert_eq!(
        app.get(&path, &globex.key).await.status,
        StatusCode::NOT_FOUND
    );
}

async fn bookings_are_listed_found_cancelled_and_rescheduled(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    app.post(RULES, &acme.token, &always_open(None, 30)).await;
    let booked = app
        .post(BOOK, &acme.token, &booking_body(&slot(3, 20)))
        .await;
    let id = booked.body["id"].as_str().unwrap().to_string();
    let code = booked.body["confirmation_code"]
        .as_str()
        .unwrap()
        .to_string();
    let other = app
        .post(BOOK, &acme.token, &booking_body(&slot(3, 24)))
        .await;
    assert_eq!(other.status, StatusCode::CREATED);

    let by_code = app
        .get(
            &format!("/api/calendar/bookings/{}", code.to_lowercase()),
            &acme.token,
        )
        .await;
    assert_eq!(by_code.body["id"], id);
    let by_id = app
        .get(&format!("/api/calendar/bookings/{id}"), &acme.token)
        .await;
    assert_eq!(by_id.body["confirmation_code"], code);

    // Reschedule onto the other booking: 409, and the booking stays where it was.
    let clash = app
        .post(
            &format!("/api/calendar/bookings/{id}/reschedule"),
            &acme.token,
            &json!({"start_time": slot(3, 24)}),
        )
        .await;
    assert_eq!(clash.status, StatusCode::CONFLICT);
    assert_eq!(
        app.get(&format!("/api/calendar/bookings/{id}"), &acme.token)
            .await
            .body["start_time"],
        slot(3, 20)
    );
    // Reschedule by half an hour, overlapping its own old time: fine.
    let moved = app
        .post(
            &format!("/api/calendar/bookings/{code}/reschedule"),
            &acme.token,
            &json!({"start_time": slot(3, 21)}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    assert_eq!(moved.body["start_time"], slot(3, 21));
    // The old time is free again.
    let rebook = app
        .post(BOOK, &acme.token, &booking_body(&slot(3, 20)))
        .await;
    assert_eq!(rebook.status, StatusCode::CREATED, "{:?}", rebook.body);

    let cancelled = app
        .post(
            &format!("/api/calendar/bookings/{id}/cancel"),
            &acme.token,
            &json!({"reason": "Caller asked"}),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK);
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(cancelled.body["cancel_reason"], "Caller asked");
    let again = app
        .post(BOOK, &acme.token, &booking_body(&slot(3, 21)))
        .await;
    assert_eq!(
        again.status,
        StatusCode::CREATED,
        "the cancelled time is free"
    );

    let confirmed = app
        .get("/api/calendar/bookings?status=confirmed", &acme.token)
        .await;
    assert_eq!(confirmed.body["bookings"].as_array().unwrap().len(), 3);
    let cancelled_list = app
        .get("/api/calendar/bookings?status=cancelled", &acme.token)
        .await;
    assert_eq!(cancelled_list.body["bookings"].as_array().unwrap().len(), 1);
    let ranged = app
        .get(
            &format!(
                "/api/calendar/bookings?start={}&end={}",
                slot(3, 24),
                slot(3, 25)
            ),
            &acme.token,
        )
        .await;
    assert_eq!(ranged.body["bookings"].as_array().unwrap().len(), 1);
    let after = app
        .post(
            &format!("/api/calendar/bookings/{id}/reschedule"),
            &acme.token,
            &json!({"start_time": slot(3, 30)}),
        )
        .await;
    assert_eq!(after.code(), "booking_not_confirmed");
}

async fn callers_cancel_and_reschedule_with_their_code_and_contact(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let (agent, _) = team(app, &acme, 1).await;
    let booked = book_for_agent(app, &acme.key, &agent, &slot(3, 20)).await;
    let code = booked.body["confirmation_code"]
        .as_str()
        .unwrap()
        .to_string();
    let public = |path: &str, body: Value| {
        let app = &app;
        let path = path.to_string();
        async move {
            app.send(reqwest::Method::POST, &path, None, Some(&body))
                .await
        }
    };
    let wrong = public(
        "/api/public/bookings/cancel",
        json!({"agent_id": agent, "confirmation_code": code, "email": "someone@else.test"}),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::NOT_FOUND);
    let moved = public(
        "/api/public/bookings/reschedule",
        json!({"agent_id": agent, "confirmation_code": code, "phone": "(123) 456-7890", "start_time": slot(3, 22)}),
    )
    .await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    assert_eq!(moved.body["start_time"], slot(3, 22));
    let cancelled = public(
        "/api/public/bookings/cancel",
        json!({"agent_id": agent, "confirmation_code": code.to_lowercase(), "email": "JOHN@example.com"}),
    )
    .await;
    assert_eq!(cancelled.body["status"], "cancelled");
    // Guessing is rate limited per code.
    let mut limited = false;
    for _ in 0..12 {
        let reply = public(
            "/api/public/bookings/cancel",
            json!({"agent_id": agent, "confirmation_code": code, "email": "x@y.test"}),
        )
        .await;
        limited |= reply.status == StatusCode::TOO_MANY_REQUESTS;
    }
    assert!(limited);
}

async fn another_tenants_bookings_and_agents_are_404(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let globex = app.tenant("Globex").await;
    let (agent, _) = team(app, &acme, 1).await;
    let booked = book_for_agent(app, &acme.key, &agent, &slot(3, 20)).await;
    let id = booked.body["id"].as_str().unwrap();
    let code = booked.body["confirmation_code"].as_str().unwrap();
    for path in [
        format!("/api/calendar/bookings/{id}"),
        format!("/api/calendar/bookings/{code}"),
    ] {
        assert_eq!(
            app.get(&path, &globex.key).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.post(&format!("{path}/cancel"), &globex.key, &json!({}))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.post(
                &format!("{path}/reschedule"),
                &globex.key,
                &json!({"start_time": slot(3, 30)})
            )
            .await
            .status,
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(
        book_for_agent(app, &globex.key, &agent, &slot(3, 22))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/calendar/bookings", &globex.key).await.body["bookings"],
        json!([])
    );
    let still = app
        .get(&format!("/api/calendar/bookings/{id}"), &acme.key)
        .await;
    assert_eq!(still.body["status"], "confirmed");
}

async fn booking_changes_write_outbox_jobs_that_the_worker_delivers(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    app.post(RULES, &acme.token, &always_open(None, 30)).await;
    let booked = app
        .post(BOOK, &acme.token, &booking_body(&slot(3, 20)))
        .await;
    let id = booked.body["id"].as_str().unwrap();
    app.post(
        &format!("/api/calendar/bookings/{id}/cancel"),
        &acme.token,
        &json!({}),
    )
    .await;
    let jobs = app.store().list_jobs(acme.id, None).await.unwrap();
    let kinds: Vec<&str> = jobs.iter().map(|j| j.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "booking.created",
            "webhook.booking",
            "booking.cancelled",
            "webhook.booking"
        ]
    );
    assert!(jobs.iter().all(|j| j.payload["booking_id"] == id));

    // A job that fails twice is retried with backoff and then done; the lifecycle jobs are
    // delivered at once.
    app.store()
        .enqueue_jobs(
            acme.id,
            &[pillow_store::NewJob {
                kind: "test".into(),
                payload: json!({"fail_times": 1}),
                run_after: None,
            }],
        )
        .await
        .unwrap();
    let worker = pillow_server::outbox::Worker::new(app.state.store.clone());
    assert!(matches!(
        worker.try_execute_task().await.unwrap(),
        pillow_server::outbox::Step::Done(5)
    ));
    let test_job = app
        .store()
        .list_jobs(acme.id, Some("test"))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        test_job.status,
        pillow_store::JobStatus::Pending,
        "rescheduled"
    );
    assert_eq!(test_job.attempts, 1);
    assert!(test_job.last_error.is_some());
    assert!(test_job.next_attempt_at > Timestamp::now());
    assert_eq!(
        worker.try_execute_task().await.unwrap(),
        pillow_server::outbox::Step::Empty,
        "not due yet"
    );
    let delivered = app
        .store()
        .list_jobs(acme.id, Some("booking.created"))
        .await
        .unwrap();
    assert_eq!(delivered[0].status, pillow_store::JobStatus::Done);
}

/// A member's version moved by a booking this process is still recording: the next request
/// waits for the record instead of reloading the member. Without a booking of ours in flight,
/// the same move is a reload.
async fn a_request_waits_for_a_booking_of_ours_being_recorded_instead_of_reloading(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    app.post(RULES, &acme.token, &always_open(None, 30)).await;
    let day = Timestamp::now().to_zoned(TimeZone::UTC).date() + 3.days();
    let url = format!("/api/calendar/availability?date={day}&timezone=UTC");
    let before = app.get(&url, &acme.token).await.body["slots"]
        .as_array()
        .unwrap()
        .len();
    let elsewhere = |start: &str, end: &str| pillow_store::NewCalendarEvent {
        user_id: acme.owner.id,
        provider_id: None,
        external_id: None,
        etag: None,
        title: "Booked".into(),
        description: None,
        start: start.parse().unwrap(),
        end: end.parse().unwrap(),
        all_day: false,
        status: pillow_store::EventStatus::Confirmed,
        transparency: pillow_store::Transparency::Opaque,
        source: pillow_store::EventSource::Internal,
        booking_id: None,
    };
    // "Our booking": marked as being written, its write bumps the version, and it is recorded
    // a moment later.
    let state = app.state.clone();
    let (tenant, owner) = (acme.id, acme.owner.id);
    let (marked_tx, marked) = tokio::sync::oneshot::channel();
    let (written, written_rx) = tokio::sync::oneshot::channel::<()>();
    let recorder = tokio::spawn(async move {
        let writing = state.calendars.begin_booking_write(tenant, owner);
        marked_tx.send(()).unwrap();
        written_rx.await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let start: Timestamp = slot(3, 20).parse().unwrap();
        let end: Timestamp = slot(3, 21).parse().unwrap();
        state.calendars.record_booking(
            tenant,
            owner,
            pillow_engine::Interval::new(start, end).unwrap(),
            Timestamp::now(),
            true,
        );
        drop(writing);
    });
    marked.await.unwrap();
    app.store()
        .create_event(
            acme.id,
            pillow_store::EventId::new(),
            &elsewhere(&slot(3, 20), &slot(3, 21)),
            &[],
        )
        .await
        .unwrap();
    let reloads = app.state.calendars.reloads();
    written.send(()).unwrap();
    let after = app.get(&url, &acme.token).await;
    recorder.await.unwrap();
    assert_eq!(after.body["slots"].as_array().unwrap().len(), before - 1);
    assert_eq!(
        app.state.calendars.reloads(),
        reloads,
        "waited for the record"
    );
    // With nothing of ours in flight, a moved version is reloaded.
    app.store()
        .create_event(
            acme.id,
            pillow_store::EventId::new(),
            &elsewhere(&slot(3, 30), &slot(3, 31)),
            &[],
        )
        .await
        .unwrap();
    let later = app.get(&url, &acme.token).await;
    assert_eq!(later.body["slots"].as_array().unwrap().len(), before - 2);
    assert_eq!(app.state.calendars.reloads(), reloads + 1);
}

async fn a_booking_updates_the_cached_calendar_without_a_reload(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    app.post(RULES, &acme.token, &always_open(None, 30)).await;
    let day = Timestamp::now().to_zoned(TimeZone::UTC).date() + 3.days();
    let url = format!("/api/calendar/availability?date={day}&timezone=UTC");
    let before = app.get(&url, &acme.token).await.body["slots"]
        .as_array()
        .unwrap()
        .len();
    let booked = app
        .post(BOOK, &acme.token, &booking_body(&slot(3, 20)))
        .await;
    assert_eq!(booked.status, StatusCode::CREATED);
    let reloads = app.state.calendars.reloads();
    let after = app.get(&url, &acme.token).await;
    assert_eq!(
        after.body["slots"].as_array().unwrap().len(),
        before - 1,
        "the slot is gone"
    );
    assert!(
        !after.body["slots"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["start_time"] == slot(3, 20)),
        "the booked slot is not offered"
    );
    assert_eq!(
        app.state.calendars.reloads(),
        reloads,
        "served from the patched cache"
    );
    // A change made elsewhere (straight in the store) still forces a reload.
    app.store()
        .create_event(
            acme.id,
            pillow_store::EventId::new(),
            &pillow_store::NewCalendarEvent {
                user_id: acme.owner.id,
                provider_id: None,
                external_id: None,
                etag: None,
                title: "Elsewhere".into(),
                description: None,
                start: slot(3, 30).parse().unwrap(),
                end: slot(3, 31).parse().unwrap(),
                all_day: false,
                status: pillow_store::EventStatus::Confirmed,
                transparency: pillow_store::Transparency::Opaque,
                source: pillow_store::EventSource::Internal,
                booking_id: None,
            },
            &[],
        )
        .await
        .unwrap();
    let later = app.get(&url, &acme.token).await;
    assert_eq!(later.body["slots"].as_array().unwrap().len(), before - 2);
    assert!(app.state.calendars.reloads() > reloads);
}
