//! The in-call API over HTTP: the documented slots and book examples field for field, signed slot
//! ids, conflicts, idempotency, the slot cache, and publishable widget keys with origins, CORS
//! and rate limits.

use jiff::civil::{Date, Weekday};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Reply, Tenant, TestApp, at, next};
use crate::on_both_backends;

on_both_backends!(
    incall_slots_and_booking_match_the_seed_field_for_field,
    incall_refuses_forged_tampered_and_foreign_slot_ids,
    incall_a_slot_taken_meanwhile_is_a_409_with_fresh_alternatives,
    incall_an_idempotency_key_replays_the_booking,
    incall_slot_answers_are_cached_and_dropped_by_any_booking,
    incall_bad_requests_are_4xx_in_the_envelope_and_book_nothing,
    incall_widget_keys_are_managed_by_admins_and_open_only_their_agent,
    incall_preflight_answers_allowed_origins_only,
    incall_widget_keys_are_rate_limited_per_key_and_address,
);

const ZONE: &str = "America/New_York";

/// An agent named as in the docs, in New York, whose team is the owner working 09:00–17:00
/// on weekdays in 30-minute slots.
async fn scheduler(app: &TestApp, tenant: &Tenant) -> String {
    let weekdays = ["monday", "tuesday", "wednesday", "thursday", "friday"];
    let schedule: serde_json::Map<String, Value> = weekdays
        .iter()
        .map(|d| (d.to_string(), json!([{"start": "09:00", "end": "17:00"}])))
        .collect();
    let rule = json!({"timezone": ZONE, "slot_duration": 30, "schedule": schedule});
    let reply = app
        .post("/api/calendar/availability-rules", &tenant.token, &rule)
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let agent = app
        .post(
            "/api/agents",
            &tenant.key,
            &json!({"name": "Appointment Scheduler", "time_zone": ZONE}),
        )
        .await;
    assert_eq!(agent.status, StatusCode::CREATED, "{:?}", agent.body);
    agent.body["id"].as_str().unwrap().to_string()
}

fn slots_path(agent: &str, from: Date, to: Date) -> String {
    format!("/api/v1/agents/{agent}/calendar/slots?startDate={from}&endDate={to}")
}

fn book_path(agent: &str) -> String {
    format!("/api/v1/agents/{agent}/calendar/book")
}

fn seed_body(slot_id: &str) -> Value {
    json!({
        "slotId": slot_id,
        "attendeeName": "John Doe",
        "attendeeEmail": "john@example.com",
        "attendeePhone": "+1234567890",
        "notes": "First time appointment"
    })
}

/// "Mon, Jan 15, 2024 at 10:00 AM", spelled out by hand rather than by the server's formatter.
fn seed_local_time(date: Date, hour: i8, minute: i8) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let day = DAYS[date.weekday().to_monday_zero_offset() as usize];
    let month = MONTHS[date.month() as usize - 1];
    let (h12, meridiem) = match hour {
        0 => (12, "AM"),
        1..=11 => (hour, "AM"),
        12 => (12, "PM"),
        _ => (hour - 12, "PM"),
    };
    format!(
        "{day}, {month} {}, {} at {h12}:{minute:02} {meridiem}",
        date.day(),
        date.year()
    )
}

/// Sends with extra headers (widget key, origin, idempotency key).
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    bearer: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Reply {
    let mut request = app.client.request(method, format!("{}{path}", app.base));
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        body,
        headers,
    }
}

fn envelope_error(reply: &Reply) -> &str {
    assert_eq!(reply.body["success"], json!(false), "{:?}", reply.body);
    assert!(
        reply.body["error"]["message"].is_string(),
        "{:?}",
        reply.body
    );
    reply.body["error"]["code"].as_str().unwrap_or("")
}

async fn slot_ids(app: &TestApp, bearer: &str, agent: &str, day: Date) -> Vec<Value> {
    let reply = app.get(&slots_path(agent, day, day), bearer).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    reply.body["data"]["slots"].as_array().unwrap().clone()
}

async fn incall_slots_and_booking_match_the_seed_field_for_field(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let agent = scheduler(app, &acme).await;
    let monday = next(Weekday::Monday);

    let reply = app
        .get(&slots_path(&agent, monday, monday), &acme.token)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["success"], json!(true));
    let data = &reply.body["data"];
    assert_eq!(
        data["agent"],
        json!({"name": "Appointment Scheduler", "timezone": ZONE})
    );
    let slots = data["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 16, "09:00 to 17:00 in 30-minute slots");
    let ten = &slots[2];
    let mut keys: Vec<&str> = ten
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "duration_min",
            "id",
            "local_date",
            "local_time",
            "start_time"
        ]
    );
    assert!(ten["id"].as_str().unwrap().starts_with("CS_"));
    assert_eq!(
        ten["start_time"],
        json!(at(monday, "10:00", ZONE).to_string())
    );
    assert!(ten["start_time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(ten["duration_min"], json!(30));
    assert_eq!(ten["local_time"], json!(seed_local_time(monday, 10, 0)));
    assert_eq!(ten["local_date"], json!(monday.to_string()));
    assert_eq!(
        slots[15]["local_time"],
        json!(seed_local_time(monday, 16, 30))
    );

    // The documented request, with a slot id from the answer above.
    let slot_id = ten["id"].as_str().unwrap();
    let reply = app
        .post(&book_path(&agent), &acme.key, &seed_body(slot_id))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    assert_eq!(reply.body["success"], json!(true));
    assert_eq!(
        reply.body["data"]["message"],
        json!("Appointment booked successfully")
    );
    let booking = &reply.body["data"]["booking"];
    let booking_id = booking["bookingId"].as_str().unwrap();
    assert!(booking_id.starts_with("BK_"), "{booking_id}");
    for (field, value) in [
        ("slotId", json!(slot_id)),
        ("attendeeName", json!("John Doe")),
        ("attendeeEmail", json!("john@example.com")),
        ("attendeePhone", json!("+1234567890")),
        ("notes", json!("First time appointment")),
        ("status", json!("confirmed")),
        ("localTime", json!(seed_local_time(monday, 10, 0))),
    ] {
        assert_eq!(booking[field], value, "{field}");
    }

    // BK_ + the confirmation code: the bookings API finds it.
    let code = booking_id.strip_prefix("BK_").unwrap();
    assert_eq!(booking["confirmationCode"], json!(code));
    let found = app
        .get(&format!("/api/calendar/bookings/{code}"), &acme.key)
        .await;
    assert_eq!(found.status, StatusCode::OK, "{:?}", found.body);
    assert_eq!(found.body["start_time"], ten["start_time"]);
    assert_eq!(found.body["agent_id"], json!(agent));
    assert_eq!(found.body["attendee"]["email"], json!("john@example.com"));
    // ...and so does the whole BK_ id, as the in-call answer gave it.
    let by_booking_id = app
        .get(&format!("/api/calendar/bookings/{booking_id}"), &acme.key)
        .await;
    assert_eq!(
        by_booking_id.status,
        StatusCode::OK,
        "{:?}",
        by_booking_id.body
    );
    assert_eq!(by_booking_id.body["id"], found.body["id"]);

    // The booked slot is no longer offered.
    let after = slot_ids(app, &acme.token, &agent, monday).await;
    assert_eq!(after.len(), 15);
    assert!(after.iter().all(|s| s["start_time"] != ten["start_time"]));
}

async fn incall_refuses_forged_tampered_and_foreign_slot_ids(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let agent = scheduler(app, &acme).await;
    let other = app
        .post(
            "/api/agents",
            &acme.key,
            &json!({"name": "Other", "time_zone": ZONE}),
        )
        .await;
    let other = other.body["id"].as_str().unwrap().to_string();
    let monday = next(Weekday::Monday);
    let slots = slot_ids(app, &acme.key, &agent, monday).await;
    let real = slots[0]["id"].as_str().unwrap().to_string();
    // Change one character of the signed payload (the start time), keep the rest.
    let mut chars: Vec<char> = real.chars().collect();
    chars[25] = if chars[25] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();

    for forged in ["CS_abc123", "slot-1", tampered.as_str()] {
        let reply = app
            .post(&book_path(&agent), &acme.key, &seed_body(forged))
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{forged}");
        assert_eq!(envelope_error(&reply), "invalid_slot");
        assert_eq!(reply.body["error"]["field"], json!("slotId"));
    }
    // A genuine id of one agent does not book with another.
    let reply = app
        .post(&book_path(&other), &acme.key, &seed_body(&real))
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(envelope_error(&reply), "invalid_slot");

    let bookings = app.get("/api/calendar/bookings", &acme.key).await;
    assert_eq!(bookings.body["bookings"], json!([]));
}

async fn incall_a_slot_taken_meanwhile_is_a_409_with_fresh_alternatives(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let agent = scheduler(app, &acme).await;
    let monday = next(Weekday::Monday);
    let slots = slot_ids(app, &acme.key, &agent, monday).await;
    let slot_id = slots[4]["id"].as_str().unwrap();

    let first = app
        .post(&book_path(&agent), &acme.key, &seed_body(slot_id))
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let mut second_body = seed_body(slot_id);
    second_body["attendeeName"] = json!("Jane Roe");
    second_body["attendeeEmail"] = json!("jane@example.com");
    let second = app.post(&book_path(&agent), &acme.key, &second_body).await;
    assert_eq!(second.status, StatusCode::CONFLICT, "{:?}", second.body);
    assert_eq!(envelope_error(&second), "slot_unavailable");
    let alternatives = second.body["error"]["alternatives"].as_array().unwrap();
    assert!(!alternatives.is_empty() && alternatives.len() <= 3);
    for alternative in alternatives {
        assert!(alternative["id"].as_str().unwrap().starts_with("CS_"));
        assert_ne!(alternative["start_time"], slots[4]["start_time"]);
        assert!(alternative["local_time"].as_str().unwrap().contains(" at "));
    }
    // An alternative books.
    let alternative = alternatives[0]["id"].as_str().unwrap();
    let third = app
        .post(&book_path(&agent), &acme.key, &seed_body(alternative))
        .await;
    assert_eq!(third.status, StatusCode::CREATED, "{:?}", third.body);
    let bookings = app.get("/api/calendar/bookings", &acme.key).await;
    assert_eq!(bookings.body["bookings"].as_array().unwrap().len(), 2);
}

async fn incall_an_idempotency_key_replays_the_booking(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let agent = scheduler(app, &acme).await;
    let monday = next(Weekday::Monday);
    let slots = slot_ids(app, &acme.key, &agent, monday).await;
    let body = seed_body(slots[0]["id"].as_str().unwrap());
    let key = [("Idempotency-Key", "call-42-slot-0")];
    let first = send(
        app,
        Method::POST,
        &book_path(&agent),
        Some(&acme.key),
        &key,
        Some(&body),
    )
    .await;
    let again = send(
        app,
        Method::POST,
        &book_path(&agent),
        Some(&acme.key),
        &key,
        Some(&body),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    assert_eq!(again.status, StatusCode::CREATED, "{:?}", again.body);
    assert_eq!(first.body, again.body);

    let mut changed = body.clone();
    changed["slotId"] = slots[1]["id"].clone();
    let reused = send(
        app,
        Method::POST,
        &book_path(&agent),
        Some(&acme.key),
        &key,
        Some(&changed),
    )
    .await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(envelope_error(&reused), "idempotency_key_reused");

    // A conflict recorded under a key is answered again the same way.
    let taken = [("Idempotency-Key", "call-43-slot-0")];
    let mut other = body.clone();
    other["attendeeEmail"] = json!("other@example.com");
    let conflict = send(
        app,
        Method::POST,
        &book_path(&agent),
        Some(&acme.key),
        &taken,
        Some(&other),
    )
    .await;
    let replay = send(
        app,
        Method::POST,
        &book_path(&agent),
        Some(&acme.key),
        &taken,
        Some(&other),
    )
    .await;
    assert_eq!(conflict.status, StatusCode::CONFLICT);
    assert_eq!(replay.status, StatusCode::CONFLICT);
    assert_eq!(envelope_error(&replay), "slot_unavailable");

    let bookings = app.get("/api/calendar/bookings", &acme.key).await;
    assert_eq!(bookings.body["bookings"].as_array().unwrap().len(), 1);
}

async fn incall_slot_answers_are_cached_and_dropped_by_any_booking(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let agent = scheduler(app, &acme).await;
    let monday = next(Weekday::Monday);
    let hits = app.state.incall.slots.hits();
    let first = slot_ids(app, &acme.key, &agent, monday).await;
    let second = slot_ids(app, &acme.key, &agent, monday).await;
    assert_eq!(first, second);
    assert_eq!(
        app.state.incall.slots.hits(),
        hits + 1,
        "the second answer was cached"
    );

    // A booking through the ordinary bookings API changes the members' availability: the
    // cached answer is not served again.
    let reply = app
        .post(
            "/api/calendar/booking",
            &acme.key,
            &json!({"start_time": first[0]["start_time"], "duration": 30, "agent_id": agent,
                    "attendee": {"name": "Walk In", "email": "walk@example.com"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let third = slot_ids(app, &acme.key, &agent, monday).await;
    assert_eq!(third.len(), first.len() - 1);
    assert!(
        third
            .iter()
            .all(|s| s["start_time"] != first[0]["start_time"])
    );

    // And through the in-call API.
    let reply = app
        .post(
            &book_path(&agent),
            &acme.key,
            &seed_body(third[0]["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let fourth = slot_ids(app, &acme.key, &agent, monday).await;
    assert_eq!(fourth.len(), first.len() - 2);
}

async fn incall_bad_requests_are_4xx_in_the_envelope_and_book_nothing(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let agent = scheduler(app, &acme).await;
    let monday = next(Weekday::Monday);
    let slots = slot_ids(app, &acme.key, &agent, monday).await;
    let slot_id = slots[0]["id"].as_str().unwrap();

    // No credentials, and another tenant's credentials.
    let anonymous = send(
        app,
        Method::GET,
        &slots_path(&agent, monday, monday),
        None,
        &[],
        None,
    )
    .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(envelope_error(&anonymous), "unauthorized");
    let globex = app.tenant("Globex").await;
    let foreign = app
        .get(&slots_path(&agent, monday, monday), &globex.key)
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert_eq!(envelope_error(&foreign), "not_found");
    let unknown = app
        .get("/api/v1/agents/not-an-id/calendar/slots", &acme.key)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    for (query, field) in [
        ("startDate=yesterday", "startDate"),
        ("startDate=2030-02-10&endDate=2030-02-01", "endDate"),
        ("startDate=2030-01-01&endDate=2030-06-01", "endDate"),
    ] {
        let reply = app
            .get(
                &format!("/api/v1/agents/{agent}/calendar/slots?{query}"),
                &acme.key,
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        envelope_error(&reply);
        assert_eq!(reply.body["error"]["field"], json!(field), "{query}");
    }
    let unknown_param = app
        .get(
            &format!("/api/v1/agents/{agent}/calendar/slots?colour=red"),
            &acme.key,
        )
        .await;
    assert_eq!(unknown_param.status, StatusCode::BAD_REQUEST);
    assert_eq!(envelope_error(&unknown_param), "invalid_query");

    let mut cases = Vec::new();
    for (field, value, code) in [
        ("attendeeName", json!("  "), "invalid_name"),
        ("attendeeEmail", json!("not-an-email"), "invalid_email"),
        ("attendeeEmail", json!(""), "invalid_email"),
        ("attendeePhone", json!("call me"), "invalid_phone"),
        ("notes", json!("x".repeat(2001)), "too_long"),
    ] {
        let mut body = seed_body(slot_id);
        body[field] = value;
        cases.push((body, field, code));
    }
    let mut missing = seed_body(slot_id);
    missing.as_object_mut().unwrap().remove("attendeeEmail");
    cases.push((missing, "attendeeEmail", "invalid_email"));
    for (body, field, code) in cases {
        let reply = app.post(&book_path(&agent), &acme.key, &body).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert_eq!(envelope_error(&reply), code, "{field}");
        assert_eq!(reply.body["error"]["field"], json!(field));
    }
    let mut extra = seed_body(slot_id);
    extra["colour"] = json!("red");
    let reply = app.post(&book_path(&agent), &acme.key, &extra).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(envelope_error(&reply), "invalid_body");
    let reply = app
        .post_raw(&book_path(&agent), &acme.key, "{not json")
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(envelope_error(&reply), "invalid_body");

    let bookings = app.get("/api/calendar/bookings", &acme.key).await;
    assert_eq!(bookings.body["bookings"], json!([]));
}

async fn widget_key(app: &TestApp, tenant: &Tenant, agent: &str, origins: Value) -> Reply {
    app.post(
        &format!("/api/agents/{agent}/widget-keys"),
        &tenant.token,
        &json!({"name": "site", "allowed_origins": origins}),
    )
    .await
}

async fn incall_widget_keys_are_managed_by_admins_and_open_only_their_agent(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let agent = scheduler(app, &acme).await;
    let other = app
        .post(
            "/api/agents",
            &acme.key,
            &json!({"name": "Other", "time_zone": ZONE}),
        )
        .await;
    let other = other.body["id"].as_str().unwrap().to_string();
    let monday = next(Weekday::Monday);
    let slots = slots_path(&agent, monday, monday);

    // Admins create keys; members may not; origins are checked.
    let (_, member_token) = app.member(&acme, "member@acme.test").await;
    let reply = app
        .post(
            &format!("/api/agents/{agent}/widget-keys"),
            &member_token,
            &json!({"allowed_origins": []}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    for bad in [
        json!(["shop.example"]),
        json!(["https://shop.example/path"]),
        json!(["*"]),
    ] {
        let reply = widget_key(app, &acme, &agent, bad.clone()).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(reply.code(), "invalid_origin");
    }
    let created = widget_key(app, &acme, &agent, json!(["https://Shop.Example"])).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let key = created.body["key"].as_str().unwrap().to_string();
    let key_id = created.body["id"].as_str().unwrap().to_string();
    assert!(key.starts_with("pk_"));
    assert_eq!(
        created.body["allowed_origins"],
        json!(["https://shop.example"])
    );
    let listed = app
        .get(&format!("/api/agents/{agent}/widget-keys"), &acme.token)
        .await;
    assert_eq!(listed.body["widget_keys"].as_array().unwrap().len(), 1);
    assert!(
        listed.body["widget_keys"][0].get("key").is_none(),
        "shown once"
    );
    assert!(!listed.body.to_string().contains(&key[16..]));

    // The key reads its agent's slots from an allowed origin, answering with CORS headers.
    let allowed = [
        ("X-Pillow-Key", key.as_str()),
        ("Origin", "https://shop.example"),
    ];
    let reply = send(app, Method::GET, &slots, None, &allowed, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(
        reply.headers["access-control-allow-origin"],
        "https://shop.example"
    );
    // Without an Origin (not a browser) it works too: origins bind browsers.
    let reply = send(
        app,
        Method::GET,
        &slots,
        None,
        &[("X-Pillow-Key", &key)],
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    // Another origin may not use it.
    let evil = [
        ("X-Pillow-Key", key.as_str()),
        ("Origin", "https://evil.example"),
    ];
    let reply = send(app, Method::GET, &slots, None, &evil, None).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(envelope_error(&reply), "origin_not_allowed");
    // Nor another agent, nor the rest of the API.
    let reply = send(
        app,
        Method::GET,
        &slots_path(&other, monday, monday),
        None,
        &allowed,
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(envelope_error(&reply), "forbidden");
    let users = app.get("/api/users", &key).await;
    assert_eq!(users.status, StatusCode::UNAUTHORIZED);
    // The last character changed (to one it is not), so the key is wrong for certain.
    let last = if key.ends_with('x') { 'y' } else { 'x' };
    let wrong = format!("{}{last}", &key[..key.len() - 1]);
    let reply = send(
        app,
        Method::GET,
        &slots,
        None,
        &[("X-Pillow-Key", &wrong)],
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    // It books with its agent.
    let slot_id = reply_slot(app, &slots, &key).await;
    let reply = send(
        app,
        Method::POST,
        &book_path(&agent),
        None,
        &allowed,
        Some(&seed_body(&slot_id)),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    assert_eq!(
        reply.headers["access-control-allow-origin"],
        "https://shop.example"
    );

    // Changing origins, rotating and revoking take effect at once.
    let patched = app
        .patch(
            &format!("/api/agents/{agent}/widget-keys/{key_id}"),
            &acme.token,
            &json!({"allowed_origins": ["https://evil.example"]}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{:?}", patched.body);
    let reply = send(app, Method::GET, &slots, None, &evil, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let rotated = app
        .post(
            &format!("/api/agents/{agent}/widget-keys/{key_id}/rotate"),
            &acme.token,
            &json!({}),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{:?}", rotated.body);
    let new_key = rotated.body["key"].as_str().unwrap().to_string();
    assert_ne!(new_key, key);
    let old = send(
        app,
        Method::GET,
        &slots,
        None,
        &[("X-Pillow-Key", &key)],
        None,
    )
    .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    assert_eq!(envelope_error(&old), "unauthorized");
    let new = send(
        app,
        Method::GET,
        &slots,
        None,
        &[("X-Pillow-Key", &new_key)],
        None,
    )
    .await;
    assert_eq!(new.status, StatusCode::OK);
    let revoked = app
        .delete(
            &format!("/api/agents/{agent}/widget-keys/{key_id}"),
            &acme.token,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let gone = send(
        app,
        Method::GET,
        &slots,
        None,
        &[("X-Pillow-Key", &new_key)],
        None,
    )
    .await;
    assert_eq!(gone.status, StatusCode::UNAUTHORIZED);

    // Another tenant sees no such agent.
    let globex = app.tenant("Globex").await;
    let reply = widget_key(app, &globex, &agent, json!([])).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

async fn reply_slot(app: &TestApp, path: &str, key: &str) -> String {
    let reply = send(app, Method::GET, path, None, &[("X-Pillow-Key", key)], None).await;
    reply.body["data"]["slots"][0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn incall_preflight_answers_allowed_origins_only(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let agent = scheduler(app, &acme).await;
    widget_key(app, &acme, &agent, json!(["http://localhost:8080"])).await;
    for path in [
        format!("/api/v1/agents/{agent}/calendar/slots"),
        book_path(&agent),
    ] {
        let preflight = [
            ("Origin", "http://localhost:8080"),
            ("Access-Control-Request-Method", "POST"),
            (
                "Access-Control-Request-Headers",
                "content-type,x-pillow-key",
            ),
        ];
        let reply = send(app, Method::OPTIONS, &path, None, &preflight, None).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{path}");
        assert_eq!(
            reply.headers["access-control-allow-origin"],
            "http://localhost:8080"
        );
        let allowed_headers = reply.headers["access-control-allow-headers"]
            .to_str()
            .unwrap();
        assert!(allowed_headers.contains("x-pillow-key"));
        assert!(
            reply.headers["access-control-allow-methods"]
                .to_str()
                .unwrap()
                .contains("POST")
        );

        let evil = [
            ("Origin", "https://evil.example"),
            ("Access-Control-Request-Method", "POST"),
        ];
        let reply = send(app, Method::OPTIONS, &path, None, &evil, None).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert!(reply.headers.get("access-control-allow-origin").is_none());
        assert_eq!(envelope_error(&reply), "origin_not_allowed");
    }
}

async fn incall_widget_keys_are_rate_limited_per_key_and_address(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let agent = scheduler(app, &acme).await;
    let created = widget_key(app, &acme, &agent, json!([])).await;
    let key = created.body["key"].as_str().unwrap().to_string();
    let second = widget_key(app, &acme, &agent, json!([])).await;
    let second = second.body["key"].as_str().unwrap().to_string();
    let headers = [("X-Pillow-Key", key.as_str())];
    // Ten booking attempts per ten minutes; these fail validation, and still count.
    for _ in 0..10 {
        let reply = send(
            app,
            Method::POST,
            &book_path(&agent),
            None,
            &headers,
            Some(&json!({})),
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    }
    let reply = send(
        app,
        Method::POST,
        &book_path(&agent),
        None,
        &headers,
        Some(&json!({})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(envelope_error(&reply), "rate_limited");
    // Another key is counted apart, and so are the tenant's own credentials.
    let reply = send(
        app,
        Method::POST,
        &book_path(&agent),
        None,
        &[("X-Pillow-Key", &second)],
        Some(&json!({})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = app.post(&book_path(&agent), &acme.key, &json!({})).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}
