//! What the hosted booking page reads beyond slots: the agent's profile (business, length,
//! hosts) and a caller's own booking with its host's open times; and the widget key's
//! rate-limit message.

use jiff::civil::Weekday;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, at, next};
use crate::on_both_backends;

on_both_backends!(
    incall_profile_names_the_business_the_length_and_the_hosts,
    incall_find_shows_a_booking_with_only_its_hosts_times_and_refuses_a_wrong_proof,
    incall_the_booking_limit_tells_callers_to_wait_ten_minutes_once,
);

const ZONE: &str = "America/New_York";

/// A team of two: Ana works 09:00–12:00 and Ben 13:00–17:00 on weekdays, 30-minute slots.
/// Answers the agent id and a widget key for it.
async fn team(app: &TestApp, key: &str) -> (String, String) {
    let mut ids = Vec::new();
    for (name, start, end) in [
        ("Ana Morning", "09:00", "12:00"),
        ("Ben Afternoon", "13:00", "17:00"),
    ] {
        let email = format!(
            "{}@clinic.test",
            name.split(' ').next().unwrap().to_lowercase()
        );
        let user = app
            .post(
                "/api/users",
                key,
                &json!({"email": email, "name": name, "role": "member", "time_zone": ZONE}),
            )
            .await;
        assert_eq!(user.status, StatusCode::CREATED, "{:?}", user.body);
        let schedule: serde_json::Map<String, Value> =
            ["monday", "tuesday", "wednesday", "thursday", "friday"]
                .iter()
                .map(|d| (d.to_string(), json!([{"start": start, "end": end}])))
                .collect();
        let rule = app
            .post(
                "/api/calendar/availability-rules",
                key,
                &json!({"user_id": user.body["id"], "timezone": ZONE, "slot_duration": 30,
                        "schedule": schedule}),
            )
            .await;
        assert_eq!(rule.status, StatusCode::CREATED, "{:?}", rule.body);
        ids.push(user.body["id"].clone());
    }
    let agent = app
        .post(
            "/api/agents",
            key,
            &json!({"name": "Front Desk", "time_zone": ZONE}),
        )
        .await;
    let agent = agent.body["id"].as_str().unwrap().to_string();
    let settings = app
        .send(
            Method::PUT,
            &format!("/api/agents/{agent}/booking-settings"),
            Some(key),
            Some(&json!({"assignable_users": [{"user_id": ids[0]}, {"user_id": ids[1]}]})),
        )
        .await;
    assert_eq!(settings.status, StatusCode::OK, "{:?}", settings.body);
    let widget = app
        .post(
            &format!("/api/agents/{agent}/widget-keys"),
            key,
            &json!({"name": "page", "allowed_origins": []}),
        )
        .await;
    (agent, widget.body["key"].as_str().unwrap().to_string())
}

async fn with_key(
    app: &TestApp,
    method: Method,
    path: &str,
    key: &str,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let mut request = app
        .client
        .request(method, format!("{}{path}", app.base))
        .header("X-Pillow-Key", key);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn incall_profile_names_the_business_the_length_and_the_hosts(app: &TestApp) {
    let tenant = app.tenant("Lee Clinic").await;
    let (agent, key) = team(app, &tenant.key).await;
    let path = format!("/api/v1/agents/{agent}/calendar/profile");
    let (status, body) = with_key(app, Method::GET, &path, &key, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"],
        json!({"business": "Lee Clinic", "agent": {"name": "Front Desk", "timezone": ZONE},
               "duration_min": 30, "hosts": ["Ana Morning", "Ben Afternoon"],
               "appointment_types": []})
    );
    // A wrong key reads nothing.
    let (status, body) = with_key(app, Method::GET, &path, "pk_wrong", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["success"], json!(false));
}

async fn incall_find_shows_a_booking_with_only_its_hosts_times_and_refuses_a_wrong_proof(
    app: &TestApp,
) {
    let tenant = app.tenant("Lee Clinic").await;
    let (agent, key) = team(app, &tenant.key).await;
    // Ten o'clock next Tuesday: only Ana works then.
    let tuesday = next(Weekday::Tuesday);
    let start = at(tuesday, "10:00", ZONE);
    let (status, slots) = with_key(
        app,
        Method::GET,
        &format!("/api/v1/agents/{agent}/calendar/slots?startDate={tuesday}&endDate={tuesday}"),
        &key,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{slots}");
    let slot = slots["data"]["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["start_time"] == json!(start.to_string()))
        .cloned()
        .expect("a 10:00 slot");
    let (status, booked) = with_key(
        app,
        Method::POST,
        &format!("/api/v1/agents/{agent}/calendar/book"),
        &key,
        Some(&json!({"slotId": slot["id"], "attendeeName": "Kay", "attendeeEmail": "kay@example.com"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{booked}");
    let code = booked["data"]["booking"]["confirmationCode"]
        .as_str()
        .unwrap()
        .to_string();

    let proof = json!({"agent_id": agent, "confirmation_code": code, "email": "KAY@example.com"});
    let found = app
        .send(
            Method::POST,
            "/api/public/bookings/find",
            None,
            Some(&proof),
        )
        .await;
    assert_eq!(found.status, StatusCode::OK, "{:?}", found.body);
    assert_eq!(found.body["booking"]["user_name"], json!("Ana Morning"));
    assert_eq!(found.body["booking"]["status"], json!("confirmed"));
    assert_eq!(found.body["timezone"], json!(ZONE));
    assert!(
        found.body["local_time"]
            .as_str()
            .unwrap()
            .ends_with("10:00 AM")
    );
    let times = found.body["times"].as_array().unwrap();
    assert!(!times.is_empty());
    for time in times {
        // Every time offered is Ana's (a morning), and bookable by its start.
        let local = time["local_time"].as_str().unwrap();
        assert!(local.ends_with("AM"), "{local} is not one of Ana's times");
        assert_ne!(
            time["start_time"],
            json!(start.to_string()),
            "the booking's own time"
        );
    }
    // One of them moves the booking, keeping Ana.
    let to = times[0]["start_time"].clone();
    let moved = app
        .send(
            Method::POST,
            "/api/public/bookings/reschedule",
            None,
            Some(&json!({"agent_id": agent, "confirmation_code": code, "email": "kay@example.com", "start_time": to})),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    assert_eq!(moved.body["user_name"], json!("Ana Morning"));

    // A wrong contact, a wrong code: the same 404, nothing told.
    for bad in [
        json!({"agent_id": agent, "confirmation_code": code, "email": "else@example.com"}),
        json!({"agent_id": agent, "confirmation_code": "AAAAAAAAA", "email": "kay@example.com"}),
    ] {
        let reply = app
            .send(Method::POST, "/api/public/bookings/find", None, Some(&bad))
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{:?}", reply.body);
    }
    // Cancelled: found, with no times to move to.
    let cancel = app
        .send(
            Method::POST,
            "/api/public/bookings/cancel",
            None,
            Some(&proof),
        )
        .await;
    assert_eq!(cancel.status, StatusCode::OK, "{:?}", cancel.body);
    let found = app
        .send(
            Method::POST,
            "/api/public/bookings/find",
            None,
            Some(&proof),
        )
        .await;
    assert_eq!(found.body["booking"]["status"], json!("cancelled"));
    assert_eq!(found.body["times"], json!([]));
}

async fn incall_the_booking_limit_tells_callers_to_wait_ten_minutes_once(app: &TestApp) {
    let tenant = app.tenant("Lee Clinic").await;
    let (agent, key) = team(app, &tenant.key).await;
    let path = format!("/api/v1/agents/{agent}/calendar/book");
    for _ in 0..10 {
        with_key(app, Method::POST, &path, &key, Some(&json!({}))).await;
    }
    let (status, body) = with_key(app, Method::POST, &path, &key, Some(&json!({}))).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("10 minutes"), "{message}");
    assert_eq!(message.matches("wait").count(), 1, "{message}");
    // Reading times has its own, one-minute limit, and says so.
    let slots = format!("/api/v1/agents/{agent}/calendar/slots");
    let mut last = Value::Null;
    for _ in 0..121 {
        last = with_key(app, Method::GET, &slots, &key, None).await.1;
    }
    let message = last["error"]["message"].as_str().unwrap();
    assert!(message.contains("a minute"), "{message}");
}
