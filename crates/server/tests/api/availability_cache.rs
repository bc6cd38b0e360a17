//! Repeated team availability questions answered from kept slot lists, and exact after any
//! booking, event sync or rule change, made by this process or by another on the same database.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use pillow_store::{
    EventSource, EventStatus, NewCalendarConnection, NewCalendarEvent, Transparency, UserId,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Tenant, TestApp, always_open, at, spawn_app_beside};
use crate::on_both_backends;

on_both_backends!(
    a_repeated_team_question_is_answered_from_kept_slots,
    a_booking_recomputes_only_its_members_slots_and_the_answer_is_exact,
    changes_made_by_another_process_reach_the_next_answer,
    a_repeated_voice_question_is_answered_from_kept_slots,
);

const RULES: &str = "/api/calendar/availability-rules";

/// A UTC day three days ahead: clear of any notice.
fn day() -> jiff::civil::Date {
    Timestamp::now().to_zoned(TimeZone::UTC).date() + 3.days()
}

fn slot(index: i64) -> String {
    (at(day(), "00:00", "UTC") + (index * 30).minutes()).to_string()
}

/// A team agent of the owner and `extra` members, all always open (30-minute slots).
async fn team(app: &TestApp, acme: &Tenant, extra: usize) -> (String, Vec<UserId>) {
    let mut members = vec![acme.owner.id];
    for i in 0..extra {
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
    assert_eq!(agent.status, StatusCode::CREATED, "{:?}", agent.body);
    (agent.body["id"].as_str().unwrap().to_string(), members)
}

fn question(agent: &str) -> String {
    format!("/api/calendar/availability?agent_id={agent}&date={}", day())
}

/// The slots of an answer as (start, member) pairs.
fn slots(body: &Value) -> Vec<(String, String)> {
    body["slots"]
        .as_array()
        .unwrap_or_else(|| panic!("no slots in {body:?}"))
        .iter()
        .map(|s| {
            (
                s["start_time"].as_str().unwrap().to_string(),
                s["user_id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// What a process that has never answered anything says: the exact answer.
async fn cold_answer(app: &TestApp, path: &str, key: &str) -> Value {
    let cold = spawn_app_beside(app, &[]).await;
    let reply = cold.get(path, key).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(cold.state.calendars.slots.hits(), 0);
    cold.finish().await;
    reply.body
}

async fn a_repeated_team_question_is_answered_from_kept_slots(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let (agent, members) = team(app, &acme, 2).await;
    let path = question(&agent);
    let first = app.get(&path, &acme.key).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    assert_eq!(
        slots(&first.body).len(),
        48,
        "a whole UTC day of 30-minute slots"
    );
    let (hits, computed) = (
        app.state.calendars.slots.hits(),
        app.state.calendars.slots.computed(),
    );
    assert_eq!(hits, 0);
    assert_eq!(computed, members.len() as u64, "one list per member");

    let again = app.get(&path, &acme.key).await;
    assert_eq!(again.body, first.body);
    assert_eq!(app.state.calendars.slots.hits(), hits + 1, "served whole");
    assert_eq!(
        app.state.calendars.slots.computed(),
        computed,
        "nothing computed"
    );
}

async fn a_booking_recomputes_only_its_members_slots_and_the_answer_is_exact(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let (agent, _members) = team(app, &acme, 2).await;
    let path = question(&agent);
    let before = app.get(&path, &acme.key).await;
    app.get(&path, &acme.key).await;
    let computed = app.state.calendars.slots.computed();

    // The owner books 10:00 for themselves; the team still has 10:00, from someone else.
    let booked = app
        .post(
            "/api/calendar/booking",
            &acme.token,
            &json!({"start_time": slot(20), "duration": 30,
                    "attendee": {"name": "Jo", "email": "jo@example.com"}}),
        )
        .await;
    assert_eq!(booked.status, StatusCode::CREATED, "{:?}", booked.body);

    let after = app.get(&path, &acme.key).await;
    assert_eq!(
        app.state.calendars.slots.computed(),
        computed + 1,
        "only the booked member's list is computed again"
    );
    assert_eq!(after.body, cold_answer(app, &path, &acme.key).await);
    let owner = acme.owner.id.to_string();
    let ten = slots(&after.body)
        .into_iter()
        .find(|(start, _)| *start == slot(20))
        .expect("10:00 is still offered by the others");
    assert_ne!(ten.1, owner, "not by the booked owner");
    assert_eq!(slots(&before.body).len(), slots(&after.body).len());

    // The owner alone, asked the same way, no longer has 10:00.
    let own = app
        .get(
            &format!("/api/calendar/availability?user_id={owner}&date={}", day()),
            &acme.key,
        )
        .await;
    assert!(!slots(&own.body).iter().any(|(start, _)| *start == slot(20)));
}

async fn changes_made_by_another_process_reach_the_next_answer(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let (agent, members) = team(app, &acme, 1).await;
    let other = spawn_app_beside(app, &[]).await;
    let path = question(&agent);
    // The second member's own slots, asked the same way through this process.
    let second = format!(
        "/api/calendar/availability?user_id={}&date={}",
        members[1],
        day()
    );
    app.get(&second, &acme.key).await;
    let start = app.get(&path, &acme.key).await;
    app.get(&path, &acme.key).await;
    let own = app.get(&second, &acme.key).await;
    assert_eq!(app.state.calendars.slots.hits(), 2);

    // 1. A booking through the other process: both members' 10:00 taken by one each.
    for index in [20, 20] {
        let booked = other
            .post(
                "/api/calendar/booking",
                &acme.key,
                &json!({"agent_id": agent, "start_time": slot(index), "duration": 30,
                        "attendee": {"name": "Jo", "email": "jo@example.com"}}),
            )
            .await;
        assert_eq!(booked.status, StatusCode::CREATED, "{:?}", booked.body);
    }
    let booked = app.get(&path, &acme.key).await;
    assert_eq!(booked.body, cold_answer(app, &path, &acme.key).await);
    assert_eq!(slots(&booked.body).len(), slots(&start.body).len() - 1);

    // 2. An event sync through the other process: the second member is busy 12:00 to 13:00.
    let connection = other
        .store()
        .upsert_calendar_connection(
            acme.id,
            &NewCalendarConnection {
                user_id: members[1],
                kind: "google".into(),
                calendar_id: "primary".into(),
                account_email: "host@gmail.test".into(),
                access_token_encrypted: "v1:k:access".into(),
                refresh_token_encrypted: None,
                token_expires_at: Timestamp::now() + SignedDuration::from_hours(1),
                scopes: vec![],
            },
        )
        .await
        .unwrap();
    other
        .store()
        .apply_synced_events(
            acme.id,
            connection.id,
            members[1],
            &[NewCalendarEvent {
                user_id: members[1],
                provider_id: Some(connection.id),
                external_id: Some("g1".into()),
                etag: Some("\"1\"".into()),
                title: "Synced".into(),
                description: None,
                start: slot(24).parse().unwrap(),
                end: slot(26).parse().unwrap(),
                all_day: false,
                status: EventStatus::Confirmed,
                transparency: Transparency::Opaque,
                source: EventSource::Google,
                booking_id: None,
            }],
            &[],
        )
        .await
        .unwrap();
    let synced = app.get(&path, &acme.key).await;
    assert_eq!(synced.body, cold_answer(app, &path, &acme.key).await);
    let own_synced = app.get(&second, &acme.key).await;
    assert_eq!(own_synced.body, cold_answer(app, &second, &acme.key).await);
    assert_eq!(
        slots(&own_synced.body).len(),
        slots(&own.body).len() - 1 - 2,
        "10:00 booked, 12:00 and 12:30 synced"
    );

    // 3. A rule change through the other process: the owner now works 09:00 to 10:00 only.
    let rules = other
        .get(&format!("{RULES}?user_id={}", acme.owner.id), &acme.key)
        .await;
    let owner_rule = rules.body["rules"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no rules in {:?}", rules.body))
        .to_string();
    let schedule: serde_json::Map<String, Value> = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
    .iter()
    .map(|d| (d.to_string(), json!([{"start": "09:00", "end": "10:00"}])))
    .collect();
    let changed = other
        .patch(
            &format!("{RULES}/{owner_rule}"),
            &acme.key,
            &json!({ "schedule": schedule }),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    let narrowed = app.get(&path, &acme.key).await;
    assert_eq!(narrowed.body, cold_answer(app, &path, &acme.key).await);
    let owner = acme.owner.id.to_string();
    let owners: Vec<String> = slots(&narrowed.body)
        .into_iter()
        .filter(|(_, who)| *who == owner)
        .map(|(start, _)| start)
        .collect();
    assert!(
        owners
            .iter()
            .all(|start| *start == slot(18) || *start == slot(19)),
        "the owner only offers 09:00 and 09:30 now: {owners:?}"
    );
    other.finish().await;
}

async fn a_repeated_voice_question_is_answered_from_kept_slots(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let (agent, _) = team(app, &acme, 2).await;
    let ask = || async {
        app.client
            .post(format!("{}/api/calendar/availability/retell", app.base))
            .bearer_auth(crate::helpers::INTERNAL_KEY)
            .header("X-Agent-ID", &agent)
            .json(&json!({"name": "check_availability",
                          "call": {"call_id": "c1", "agent_id": "retell-agent-1",
                                   "call_status": "ongoing"},
                          "args": {"date": day().to_string()}}))
            .send()
            .await
            .unwrap()
    };
    let first = ask().await;
    assert_eq!(first.status(), StatusCode::OK);
    let first: Value = first.json().await.unwrap();
    assert_eq!(
        first["options"].as_array().map(Vec::len),
        Some(3),
        "{first:?}"
    );
    let hits = app.state.calendars.slots.hits();
    let again: Value = ask().await.json().await.unwrap();
    assert_eq!(again["summary"], first["summary"]);
    assert_eq!(app.state.calendars.slots.hits(), hits + 1, "{first:?}");
}
