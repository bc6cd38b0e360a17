//! `GET /api/calendar/availability` over HTTP: the documented shape, busy time, teams, DST.

use jiff::Timestamp;
use jiff::civil::Weekday;
use pillow_store::{EventSource, EventStatus, NewCalendarEvent, TenantId, Transparency, UserId};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::rules::seed_rule;
use crate::helpers::{Reply, TestApp, at, next};
use crate::on_both_backends;

on_both_backends!(
    the_seed_example_answers_slots_in_the_seeds_shape,
    blocking_events_remove_slots_and_free_or_cancelled_ones_do_not,
    an_all_day_event_blocks_its_whole_local_date,
    an_agents_team_gets_the_union_of_its_members_slots,
    bad_queries_are_422_naming_the_parameter,
    another_tenants_user_or_agent_is_404,
    slots_follow_the_clock_across_daylight_saving_changes,
);

const RULES: &str = "/api/calendar/availability-rules";

fn starts(reply: &Reply) -> Vec<String> {
    reply.body["slots"]
        .as_array()
        .unwrap_or_else(|| panic!("no slots in {:?}", reply.body))
        .iter()
        .map(|s| s["start_time"].as_str().unwrap().to_string())
        .collect()
}

async fn add_event(
    app: &TestApp,
    tenant: TenantId,
    user: UserId,
    event: impl FnOnce(&mut NewCalendarEvent),
) {
    let mut new = NewCalendarEvent {
        user_id: user,
        provider_id: None,
        external_id: None,
        etag: None,
        title: "Busy".into(),
        description: None,
        start: Timestamp::UNIX_EPOCH,
        end: Timestamp::UNIX_EPOCH,
        all_day: false,
        status: EventStatus::Confirmed,
        transparency: Transparency::Opaque,
        source: EventSource::Internal,
        booking_id: None,
    };
    event(&mut new);
    app.store()
        .create_event(tenant, pillow_store::EventId::new(), &new, &[])
        .await
        .unwrap();
}

async fn the_seed_example_answers_slots_in_the_seeds_shape(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    assert_eq!(
        app.post(RULES, &acme.token, &seed_rule()).await.status,
        StatusCode::CREATED
    );
    let thursday = next(Weekday::Thursday);
    // The documented call: only a date, with the user's token.
    let reply = app
        .get(
            &format!("/api/calendar/availability?date={thursday}"),
            &acme.token,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let slots = reply.body["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 16, "09:00 to 17:00 in 30-minute slots");
    let first = &slots[0];
    assert_eq!(
        first["start_time"].as_str().unwrap(),
        at(thursday, "09:00", "America/Los_Angeles").to_string()
    );
    assert!(
        first["start_time"].as_str().unwrap().ends_with('Z'),
        "UTC with Z"
    );
    assert_eq!(
        first["end_time"].as_str().unwrap(),
        at(thursday, "09:30", "America/Los_Angeles").to_string()
    );
    assert_eq!(first["user_id"], acme.owner.id.to_string());
    assert_eq!(first["user_name"], acme.owner.name);
    let mut sorted = starts(&reply);
    sorted.sort();
    assert_eq!(sorted, starts(&reply), "sorted");

    // Saturday is not a working day; a 60-minute duration gives 8 slots.
    let saturday = next(Weekday::Saturday);
    let weekend = app
        .get(
            &format!("/api/calendar/availability?date={saturday}"),
            &acme.token,
        )
        .await;
    assert_eq!(weekend.body["slots"], json!([]));
    let hourly = app
        .get(
            &format!("/api/calendar/availability?date={thursday}&duration=60"),
            &acme.token,
        )
        .await;
    // Slots step by the rule's slot_duration (30 min), each an hour long: 09:00 … 16:00.
    assert_eq!(hourly.body["slots"].as_array().unwrap().len(), 15);
}

async fn blocking_events_remove_slots_and_free_or_cancelled_ones_do_not(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    app.post(RULES, &acme.token, &seed_rule()).await;
    let day = next(Weekday::Tuesday);
    let la = "America/Los_Angeles";
    let url = format!("/api/calendar/availability?date={day}");
    let before = starts(&app.get(&url, &acme.token).await);
    assert_eq!(before.len(), 16);

    // A free (transparent) event and a cancelled one block nothing.
    add_event(app, acme.id, acme.owner.id, |e| {
        e.start = at(day, "09:00", la);
        e.end = at(day, "10:00", la);
        e.transparency = Transparency::Transparent;
    })
    .await;
    add_event(app, acme.id, acme.owner.id, |e| {
        e.start = at(day, "10:00", la);
        e.end = at(day, "11:00", la);
        e.status = EventStatus::Cancelled;
    })
    .await;
    assert_eq!(starts(&app.get(&url, &acme.token).await), before);

    // A confirmed opaque event and a tentative one block their slots, and only those.
    add_event(app, acme.id, acme.owner.id, |e| {
        e.start = at(day, "12:00", la);
        e.end = at(day, "13:00", la);
    })
    .await;
    add_event(app, acme.id, acme.owner.id, |e| {
        e.start = at(day, "15:15", la);
        e.end = at(day, "15:45", la);
        e.status = EventStatus::Tentative;
    })
    .await;
    let after = starts(&app.get(&url, &acme.token).await);
    let gone: Vec<_> = before
        .iter()
        .filter(|s| !after.contains(s))
        .cloned()
        .collect();
    let expected: Vec<String> = ["12:00", "12:30", "15:00", "15:30"]
        .iter()
        .map(|t| at(day, t, la).to_string())
        .collect();
    assert_eq!(gone, expected);
}

async fn an_all_day_event_blocks_its_whole_local_date(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    app.post(RULES, &acme.token, &seed_rule()).await;
    let day = next(Weekday::Wednesday);
    // All-day events carry their dates as 00:00 UTC, end exclusive.
    add_event(app, acme.id, acme.owner.id, |e| {
        e.all_day = true;
        e.start = at(day, "00:00", "UTC");
        e.end = at(day.tomorrow().unwrap(), "00:00", "UTC");
    })
    .await;
    let blocked = app
        .get(
            &format!("/api/calendar/availability?date={day}"),
            &acme.token,
        )
        .await;
    assert_eq!(blocked.body["slots"], json!([]));
    let next_day = app
        .get(
            &format!(
                "/api/calendar/availability?date={}",
                day.tomorrow().unwrap()
            ),
            &acme.token,
        )
        .await;
    assert_eq!(next_day.body["slots"].as_array().unwrap().len(), 16);
}

async fn an_agents_team_gets_the_union_of_its_members_slots(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let (sam, _) = app.member(&acme, "sam@acme.test").await;
    let (_no_rule, _) = app.member(&acme, "norule@acme.test").await;
    let agent = app
        .post(
            "/api/agents",
            &acme.key,
            &json!({"name": "Desk", "time_zone": "America/New_York"}),
        )
        .await;
    let agent_id = agent.body["id"].as_str().unwrap();
    // Owner: 09:00-12:00 New York; Sam: 11:00-14:00 New York.
    let rule = |user: UserId, start: &str, end: &str| {
        json!({"user_id": user.to_string(), "timezone": "America/New_York", "slot_duration": 60,
               "schedule": {"friday": [{"start": start, "end": end}]}})
    };
    app.post(RULES, &acme.key, &rule(acme.owner.id, "09:00", "12:00"))
        .await;
    app.post(RULES, &acme.key, &rule(sam.id, "11:00", "14:00"))
        .await;
    let friday = next(Weekday::Friday);
    let reply = app
        .get(
            &format!("/api/calendar/availability?date={friday}&agent_id={agent_id}"),
            &acme.key,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let ny = "America/New_York";
    let expected: Vec<String> = ["09:00", "10:00", "11:00", "12:00", "13:00"]
        .iter()
        .map(|t| at(friday, t, ny).to_string())
        .collect();
    assert_eq!(starts(&reply), expected);
    let slots = reply.body["slots"].as_array().unwrap();
    let who = |i: usize| slots[i]["user_id"].as_str().unwrap().to_string();
    assert_eq!(who(0), acme.owner.id.to_string());
    assert_eq!(who(4), sam.id.to_string());
    assert_eq!(slots[4]["user_name"], "A Member");
    // 11:00 is free for both; the pick is one of them.
    assert!([acme.owner.id.to_string(), sam.id.to_string()].contains(&who(2)));

    // One member's slots with user_id.
    let sam_only = app
        .get(
            &format!(
                "/api/calendar/availability?date={friday}&user_id={}",
                sam.id
            ),
            &acme.key,
        )
        .await;
    assert_eq!(starts(&sam_only).len(), 3);
}

async fn bad_queries_are_422_naming_the_parameter(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    app.post(RULES, &acme.token, &seed_rule()).await;
    let cases = [
        ("date=2024-02-30", "date", StatusCode::UNPROCESSABLE_ENTITY),
        ("date=tomorrow", "date", StatusCode::UNPROCESSABLE_ENTITY),
        (
            "start=2025-01-01&end=2025-06-01",
            "end",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "start=2025-01-02&end=2025-01-01",
            "end",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("start=2025-01-01", "end", StatusCode::UNPROCESSABLE_ENTITY),
        (
            "date=2025-01-01&duration=0",
            "duration",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "date=2025-01-01&duration=abc",
            "duration",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "date=2025-01-01&timezone=Europe/Atlantis",
            "timezone",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (query, field, status) in cases {
        let reply = app
            .get(&format!("/api/calendar/availability?{query}"), &acme.token)
            .await;
        assert_eq!(reply.status, status, "{query}: {:?}", reply.body);
        assert_eq!(reply.body["error"]["field"], field, "{query}");
    }
    let unknown = app
        .get("/api/calendar/availability?colour=red", &acme.token)
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(
        unknown.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("colour")
    );
    let keyed = app
        .get("/api/calendar/availability?date=2025-01-01", &acme.key)
        .await;
    assert_eq!(
        keyed.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an API key must say for whom"
    );
}

async fn another_tenants_user_or_agent_is_404(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let globex = app.tenant("Globex").await;
    app.post(RULES, &acme.token, &seed_rule()).await;
    let agent = app
        .post(
            "/api/agents",
            &acme.key,
            &json!({"name": "Desk", "time_zone": "UTC"}),
        )
        .await;
    let day = next(Weekday::Monday);
    for query in [
        format!("user_id={}", acme.owner.id),
        format!("agent_id={}", agent.body["id"].as_str().unwrap()),
        "user_id=not-a-uuid".to_string(),
    ] {
        let reply = app
            .get(
                &format!("/api/calendar/availability?date={day}&{query}"),
                &globex.key,
            )
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{query}");
        assert_eq!(reply.code(), "not_found");
    }
}

/// Rules covering whole days show the DST transitions directly: a Sunday 00:00–24:00 in Los
/// Angeles has 23 real hours on 2027-03-14 (02:00 jumps to 03:00) and 25 on 2027-11-07 (01:00
/// happens twice), so hourly slots number 23 and 25. In London the same happens on 2027-03-28
/// and 2027-10-31.
async fn slots_follow_the_clock_across_daylight_saving_changes(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let (londoner, london_token) = app.member(&acme, "london@acme.test").await;
    let whole_sunday = |zone: &str| -> Value {
        json!({"timezone": zone, "slot_duration": 60,
               "schedule": {"sunday": [{"start": "00:00", "end": "24:00"}]}})
    };
    app.post(RULES, &acme.token, &whole_sunday("America/Los_Angeles"))
        .await;
    let mut london = whole_sunday("Europe/London");
    london["user_id"] = json!(londoner.id.to_string());
    app.post(RULES, &acme.key, &london).await;

    for (token, date, expected) in [
        (&acme.token, "2027-03-14", 23),
        (&acme.token, "2027-11-07", 25),
        (&london_token, "2027-03-28", 23),
        (&london_token, "2027-10-31", 25),
        (&london_token, "2027-06-06", 24),
    ] {
        let reply = app
            .get(&format!("/api/calendar/availability?date={date}"), token)
            .await;
        let slots = starts(&reply);
        assert_eq!(slots.len(), expected, "{date}");
        // Consecutive slots are exactly one real hour apart, even across the change.
        let instants: Vec<Timestamp> = slots.iter().map(|s| s.parse().unwrap()).collect();
        assert!(
            instants
                .windows(2)
                .all(|w| w[1].duration_since(w[0]).as_hours() == 1)
        );
    }
}
