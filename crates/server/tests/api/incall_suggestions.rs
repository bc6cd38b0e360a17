//! Smart suggestions in the in-call calendar: when the agent opens the calendar on the
//! caller's screen, the times it puts first are ranked as the voice options are, by what the
//! caller asked for and by who they are (known by the call's `from_number`), and each names a
//! slot the calendar lists.

use jiff::ToSpan;
use jiff::civil::Weekday;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{INTERNAL_KEY, Reply, TestApp, at, next};
use crate::live_calls::Events;
use crate::on_both_backends;
use crate::voice_suggestions::{clinic, past_visit};

on_both_backends!(
    incall_suggestions_a_returning_caller_sees_their_previous_host_and_time_first,
    incall_suggestions_a_caller_who_asked_for_nothing_sees_the_calendar_unranked,
);

const ZONE: &str = "America/New_York";
const CALLER: &str = "+1 555 010 0199";
const SHOW: &str = "/api/calendar/show-calendar/retell";

/// `show_booking_calendar` in Retell's envelope, on `call`, from `from` when given.
async fn show(app: &TestApp, agent: &str, call: &str, from: Option<&str>, args: Value) -> Reply {
    let mut envelope = json!({"call_id": call, "agent_id": "r1", "call_status": "ongoing"});
    if let Some(from) = from {
        envelope["from_number"] = json!(from);
    }
    let response = app
        .client
        .post(format!("{}{SHOW}", app.base))
        .bearer_auth(INTERNAL_KEY)
        .header("x-agent-id", agent)
        .json(&json!({"name": "show_booking_calendar", "call": envelope, "args": args}))
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

/// A widget key for the agent, as the page that embeds the calendar holds it.
async fn widget_key(app: &TestApp, token: &str, agent: &str) -> String {
    let key = app
        .post(
            &format!("/api/agents/{agent}/widget-keys"),
            token,
            &json!({"name": "site", "allowed_origins": []}),
        )
        .await;
    assert_eq!(key.status, StatusCode::CREATED, "{:?}", key.body);
    key.body["key"].as_str().unwrap().to_string()
}

async fn incall_suggestions_a_returning_caller_sees_their_previous_host_and_time_first(
    app: &TestApp,
) {
    let (tenant, agent, lee) = clinic(app).await;
    // Five weeks ago the caller saw Dr. Lee at 2:30 PM.
    past_visit(app, &tenant, &agent, lee).await;
    // Dr. Lee is away on the Monday, so the owner's 2:30 PM that day is not put first.
    let monday = next(Weekday::Monday);
    let sunday = monday.checked_add(6.days()).unwrap();
    let away = app
        .post(
            "/api/calendar/events",
            &tenant.key,
            &json!({"user_id": lee.to_string(), "title": "Conference",
                    "start_time": at(monday, "00:00", ZONE).to_string(),
                    "end_time": at(monday.tomorrow().unwrap(), "00:00", ZONE).to_string()}),
        )
        .await;
    assert_eq!(away.status, StatusCode::CREATED, "{:?}", away.body);

    let key = widget_key(app, &tenant.token, &agent).await;
    let mut browser = Events::open(app, &agent, &key, "call-returning").await;
    let reply = show(
        app,
        &agent,
        "call-returning",
        Some(CALLER),
        json!({"date": monday.to_string(), "end_date": sunday.to_string(),
               "prefer": "same_time_as_last"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["browser_listening"], true, "{:?}", reply.body);
    let spoken: Vec<&str> = reply.body["suggested"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(spoken.len(), 3, "{:?}", reply.body);
    assert!(
        spoken.iter().all(|s| s.ends_with("at 2:30 PM")),
        "{spoken:?}"
    );
    assert!(
        reply.body["summary"]
            .as_str()
            .unwrap()
            .contains(&format!("and put {}", spoken[0])),
        "{:?}",
        reply.body
    );

    let (name, preset) = browser.next().await;
    assert_eq!(name, "show");
    let suggested = preset["suggested"].as_array().unwrap();
    let expected: Vec<String> = (1..=3)
        .map(|d| at(monday.checked_add(d.days()).unwrap(), "14:30", ZONE).to_string())
        .collect();
    let starts: Vec<&str> = suggested
        .iter()
        .map(|s| s["start_time"].as_str().unwrap())
        .collect();
    assert_eq!(starts, expected, "{preset}");
    assert_eq!(
        suggested[0]["reason"],
        "Dr. Lee is free, as last time, and that's the same time as last time."
    );
    assert!(suggested[1].get("reason").is_none(), "{preset}");

    // Each suggestion names a time the calendar lists, in the same form.
    let slots = app
        .get(
            &format!("/api/v1/agents/{agent}/calendar/slots?startDate={monday}&endDate={sunday}"),
            &tenant.token,
        )
        .await;
    assert_eq!(slots.status, StatusCode::OK, "{:?}", slots.body);
    let listed: Vec<&str> = slots.body["data"]["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["start_time"].as_str().unwrap())
        .collect();
    for start in &starts {
        assert!(listed.contains(start), "{start} is not among the slots");
    }
}

async fn incall_suggestions_a_caller_who_asked_for_nothing_sees_the_calendar_unranked(
    app: &TestApp,
) {
    let (tenant, agent, _) = clinic(app).await;
    let key = widget_key(app, &tenant.token, &agent).await;
    let mut browser = Events::open(app, &agent, &key, "call-new").await;
    let reply = show(
        app,
        &agent,
        "call-new",
        Some("+1 555 010 0777"),
        json!({"date": "next week"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["suggested"], json!([]), "{:?}", reply.body);
    let (_, preset) = browser.next().await;
    assert!(preset.get("suggested").is_none(), "{preset}");

    // Asking for the earliest times ranks them even for a caller we do not know.
    let mut browser = Events::open(app, &agent, &key, "call-early").await;
    let monday = next(Weekday::Monday);
    let reply = show(
        app,
        &agent,
        "call-early",
        None,
        json!({"date": monday.to_string(), "prefer": "earliest"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let (_, preset) = browser.next().await;
    let starts: Vec<&str> = preset["suggested"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["start_time"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = ["09:00", "09:30", "10:00"]
        .iter()
        .map(|t| at(monday, t, ZONE).to_string())
        .collect();
    assert_eq!(starts, expected, "{preset}");
}
