//! Smart suggestions through Retell: what the caller asks for orders the options, and a
//! returning caller (known by the call's `from_number`) is offered their previous host first,
//! keeps that host when booking, and has their upcoming appointment recognised.

use jiff::ToSpan;
use jiff::civil::Weekday;
use pillow_store::{Attendee, BookingId, NewBooking, UserId};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{INTERNAL_KEY, Reply, Tenant, TestApp, at, next};
use crate::on_both_backends;

on_both_backends!(
    voice_suggestions_a_returning_caller_is_offered_and_given_their_previous_host,
    voice_suggestions_earliest_and_a_weekday_order_the_options,
);

const ZONE: &str = "America/New_York";
const CALLER: &str = "+1 555 010 0199";

/// Every day 09:00–17:00 in New York, 30-minute slots, for `user` (the owner when `None`).
fn hours(user: Option<UserId>) -> Value {
    let days = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let schedule: serde_json::Map<String, Value> = days
        .iter()
        .map(|d| (d.to_string(), json!([{"start": "09:00", "end": "17:00"}])))
        .collect();
    let mut rule = json!({"timezone": ZONE, "slot_duration": 30, "schedule": schedule});
    if let Some(user) = user {
        rule["user_id"] = json!(user.to_string());
    }
    rule
}

/// A team of the owner and Dr. Lee with the same hours, and its agent.
pub(crate) async fn clinic(app: &TestApp) -> (Tenant, String, UserId) {
    let tenant = app.tenant("Clinic").await;
    let lee = app
        .post(
            "/api/users",
            &tenant.key,
            &json!({"email": "lee@clinic.test", "name": "Dr. Lee", "role": "member",
                    "time_zone": ZONE}),
        )
        .await;
    assert_eq!(lee.status, StatusCode::CREATED, "{:?}", lee.body);
    let lee: UserId = lee.body["id"].as_str().unwrap().parse().unwrap();
    for user in [None, Some(lee)] {
        let rule = app
            .post(
                "/api/calendar/availability-rules",
                &tenant.token,
                &hours(user),
            )
            .await;
        assert_eq!(rule.status, StatusCode::CREATED, "{:?}", rule.body);
    }
    let agent = app
        .post(
            "/api/agents",
            &tenant.key,
            &json!({"name": "Front Desk", "time_zone": ZONE}),
        )
        .await;
    let agent = agent.body["id"].as_str().unwrap().to_string();
    let settings = app
        .send(
            reqwest::Method::PUT,
            &format!("/api/agents/{agent}/booking-settings"),
            Some(&tenant.key),
            Some(
                &json!({"assignable_users": [{"user_id": tenant.owner.id.to_string()},
                                               {"user_id": lee.to_string()}]}),
            ),
        )
        .await;
    assert_eq!(settings.status, StatusCode::OK, "{:?}", settings.body);
    (tenant, agent, lee)
}

async fn retell(app: &TestApp, path: &str, agent: &str, from: Option<&str>, args: Value) -> Reply {
    let mut call = json!({"call_id": format!("call-{}", uuid::Uuid::new_v4()), "agent_id": "r1"});
    if let Some(from) = from {
        call["from_number"] = json!(from);
    }
    let response = app
        .client
        .post(format!("{}{path}", app.base))
        .bearer_auth(INTERNAL_KEY)
        .header("x-agent-id", agent)
        .json(&json!({"name": "tool", "call": call, "args": args}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    Reply {
        status,
        body: response.json().await.unwrap_or(Value::Null),
        headers,
    }
}

/// The caller's visit to Dr. Lee five weeks before the coming Tuesday, at 2:30 PM New York
/// time, booked with the phone the call comes from.
pub(crate) async fn past_visit(app: &TestApp, tenant: &Tenant, agent: &str, lee: UserId) {
    let past = at(
        next(Weekday::Tuesday).checked_sub(35.days()).unwrap(),
        "14:30",
        ZONE,
    );
    app.store()
        .create_booking(
            tenant.id,
            &NewBooking {
                id: BookingId::new(),
                agent_id: Some(agent.parse().unwrap()),
                user_id: lee,
                confirmation_code: "PASTVISIT".into(),
                start: past,
                end: past.checked_add(30.minutes()).unwrap(),
                buffer_before_minutes: 0,
                buffer_after_minutes: 0,
                attendee: Attendee {
                    name: "Ada Byron".into(),
                    email: None,
                    phone: Some("+15550100199".into()),
                },
                notes: None,
                title: "Check-up".into(),
                description: None,
                channel: None,
                call_id: None,
            },
            &[],
            None,
        )
        .await
        .unwrap();
}

const AVAILABILITY: &str = "/api/calendar/availability/retell";
const BOOKING: &str = "/api/calendar/booking/retell";

async fn voice_suggestions_a_returning_caller_is_offered_and_given_their_previous_host(
    app: &TestApp,
) {
    let (tenant, agent, lee) = clinic(app).await;
    // Five weeks ago the caller saw Dr. Lee on a Tuesday at 2:30 PM.
    past_visit(app, &tenant, &agent, lee).await;

    let monday = next(Weekday::Monday);
    let sunday = monday.checked_add(6.days()).unwrap();
    let asked = json!({"start_date": monday.to_string(), "end_date": sunday.to_string(),
                       "prefer": "same_time_as_last"});
    let offered = retell(app, AVAILABILITY, &agent, Some(CALLER), asked.clone()).await;
    assert_eq!(offered.status, StatusCode::OK, "{:?}", offered.body);
    let options = offered.body["options"].as_array().unwrap().clone();
    assert_eq!(options.len(), 3);
    let days: Vec<&str> = options
        .iter()
        .map(|o| {
            let spoken = o["spoken"].as_str().unwrap();
            assert!(spoken.ends_with("at 2:30 PM"), "{spoken}");
            &o["start_time"].as_str().unwrap()[..10]
        })
        .collect();
    assert_eq!(
        days,
        [
            monday.to_string(),
            monday.tomorrow().unwrap().to_string(),
            monday.checked_add(2.days()).unwrap().to_string()
        ]
    );
    assert_eq!(
        offered.body["reason"],
        "Dr. Lee is free, as last time, and that's the same time as last time."
    );
    assert!(
        offered.body["summary"]
            .as_str()
            .unwrap()
            .starts_with("Dr. Lee is free, as last time"),
        "{:?}",
        offered.body
    );
    assert!(offered.body.get("upcoming_booking").is_none());
    // Without the caller's number, the same question is spread over the week as before.
    let anonymous = retell(app, AVAILABILITY, &agent, None, asked.clone()).await;
    assert!(
        anonymous.body.get("reason").is_none(),
        "{:?}",
        anonymous.body
    );

    // Booking keeps Dr. Lee, although the team's round robin would pick the owner (never booked).
    let booked = retell(
        app,
        BOOKING,
        &agent,
        Some(CALLER),
        json!({"slot_id": options[0]["slot_id"], "name": "Ada Byron", "phone": CALLER}),
    )
    .await;
    assert_eq!(booked.status, StatusCode::OK, "{:?}", booked.body);
    assert_eq!(booked.body["host_name"], "Dr. Lee");
    let stranger = retell(
        app,
        BOOKING,
        &agent,
        Some("+1 555 010 0777"),
        json!({"slot_id": options[1]["slot_id"], "name": "New Caller", "phone": "+1 555 010 0777"}),
    )
    .await;
    assert_eq!(
        stranger.body["host_name"], "Clinic Owner",
        "{:?}",
        stranger.body
    );

    // Calling again, the caller's upcoming appointment is recognised without its code.
    let again = retell(
        app,
        AVAILABILITY,
        &agent,
        Some(CALLER),
        json!({"date": "tomorrow"}),
    )
    .await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
    let upcoming = &again.body["upcoming_booking"];
    assert_eq!(
        upcoming["confirmation_code"],
        booked.body["confirmation_code"]
    );
    assert_eq!(upcoming["host_name"], "Dr. Lee");
    assert!(
        again.body["summary"]
            .as_str()
            .unwrap()
            .starts_with("I see you already have an appointment: "),
        "{:?}",
        again.body
    );
}

async fn voice_suggestions_earliest_and_a_weekday_order_the_options(app: &TestApp) {
    let (_tenant, agent, _) = clinic(app).await;
    let monday = next(Weekday::Monday);
    let sunday = monday.checked_add(6.days()).unwrap();
    let range = |extra: Value| {
        let mut args = json!({"start_date": monday.to_string(), "end_date": sunday.to_string()});
        for (k, v) in extra.as_object().unwrap() {
            args[k] = v.clone();
        }
        args
    };
    let earliest = retell(
        app,
        AVAILABILITY,
        &agent,
        None,
        range(json!({"prefer": "earliest"})),
    )
    .await;
    assert_eq!(earliest.status, StatusCode::OK, "{:?}", earliest.body);
    let starts: Vec<String> = earliest.body["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["start_time"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = ["09:00", "09:30", "10:00"]
        .iter()
        .map(|t| {
            at(monday, t, ZONE)
                .in_tz(ZONE)
                .unwrap()
                .strftime("%Y-%m-%dT%H:%M:%S%:z")
                .to_string()
        })
        .collect();
    assert_eq!(starts, expected);
    let thursday = retell(
        app,
        AVAILABILITY,
        &agent,
        None,
        range(json!({"weekday": "Thursdays", "part_of_day": "afternoon"})),
    )
    .await;
    let options = thursday.body["options"].as_array().unwrap();
    assert_eq!(options.len(), 3);
    for option in options {
        let spoken = option["spoken"].as_str().unwrap();
        assert!(spoken.contains("Thursday"), "{spoken}");
        assert!(spoken.contains("PM"), "{spoken}");
    }
    let bad = retell(
        app,
        AVAILABILITY,
        &agent,
        None,
        range(json!({"weekday": "someday"})),
    )
    .await;
    assert_eq!(
        bad.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        bad.body
    );
    let bad = retell(
        app,
        AVAILABILITY,
        &agent,
        None,
        range(json!({"prefer": "cheapest"})),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{:?}", bad.body);
}
