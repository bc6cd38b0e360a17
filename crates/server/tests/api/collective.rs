//! Collective bookings over HTTP: one appointment with every required host (and the optional
//! hosts free at the time), offered only when all required hosts are free, held for each host by
//! the same guarantee as a single-host booking, even under racing requests.

use jiff::{Timestamp, ToSpan};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::bookings::futures_join;
use super::host_limits::{BOOK, agent_with, body, utc_day};
use crate::helpers::{Tenant, TestApp};
use crate::on_both_backends;

on_both_backends!(
    fifty_concurrent_collective_requests_for_one_slot_make_one_booking_that_blocks_every_host,
    a_collective_slot_is_offered_only_when_every_required_host_is_free,
    cancelling_a_collective_booking_frees_every_host,
    a_collective_agent_without_a_required_host_is_422_and_changes_nothing,
    moving_a_collective_booking_is_refused_and_changes_nothing,
);

/// The owner and two members of Acme, each with their token: `(id, token)`.
async fn three_hosts(app: &TestApp, acme: &Tenant) -> Vec<(pillow_store::UserId, String)> {
    let mut hosts = vec![(acme.owner.id, acme.token.clone())];
    for i in 1..3 {
        let (user, token) = app.member(acme, &format!("host{i}@acme.test")).await;
        hosts.push((user.id, token));
    }
    hosts
}

/// A collective agent over `hosts` (always open in UTC, 30-minute slots); `required` marks
/// which of them must be free.
async fn collective_agent(
    app: &TestApp,
    acme: &Tenant,
    hosts: &[(pillow_store::UserId, String)],
    required: &[bool],
) -> String {
    let ids: Vec<_> = hosts.iter().map(|(id, _)| *id).collect();
    let entries: Vec<Value> = ids
        .iter()
        .map(|id| json!({"user_id": id.to_string()}))
        .collect();
    let agent = agent_with(app, acme, &ids, "UTC", 30, entries).await;
    let settings = collective_settings(&ids, required);
    let reply = app
        .send(
            Method::PUT,
            &format!("/api/agents/{agent}/booking-settings"),
            Some(&acme.key),
            Some(&settings),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    agent
}

fn collective_settings(ids: &[pillow_store::UserId], required: &[bool]) -> Value {
    let entries: Vec<Value> = ids
        .iter()
        .zip(required)
        .map(|(id, required)| json!({"user_id": id.to_string(), "required": required}))
        .collect();
    json!({"assignable_users": entries, "distribution_strategy": "collective"})
}

/// The agent's slot starts in `[from, from + hours)`.
async fn agent_starts(
    app: &TestApp,
    acme: &Tenant,
    agent: &str,
    from: Timestamp,
    hours: i64,
) -> Vec<Timestamp> {
    let path = format!(
        "/api/calendar/availability?agent_id={agent}&start={from}&end={}",
        from + hours.hours()
    );
    starts(&app.get(&path, &acme.key).await.body)
}

/// One host's own free slot starts in `[from, from + hours)`, asked with their token.
async fn own_starts(app: &TestApp, token: &str, from: Timestamp, hours: i64) -> Vec<Timestamp> {
    let path = format!(
        "/api/calendar/availability?start={from}&end={}",
        from + hours.hours()
    );
    starts(&app.get(&path, token).await.body)
}

fn starts(body: &Value) -> Vec<Timestamp> {
    body["slots"]
        .as_array()
        .unwrap_or_else(|| panic!("{body:?}"))
        .iter()
        .map(|s| s["start_time"].as_str().unwrap().parse().unwrap())
        .collect()
}

/// A single-host booking of the token's own time (no agent).
fn own_booking(start: Timestamp) -> Value {
    json!({
        "start_time": start.to_string(),
        "duration": 30,
        "attendee": {"name": "Jane Roe", "email": "jane@example.com"},
    })
}

/// The confirmed bookings of `user` starting in `[from, from + 1h)`.
async fn confirmed_of(
    app: &TestApp,
    acme: &Tenant,
    user: pillow_store::UserId,
    from: Timestamp,
) -> Vec<Value> {
    let path = format!(
        "/api/calendar/bookings?status=confirmed&user_id={user}&start={from}&end={}",
        from + 1.hour()
    );
    let listed = app.get(&path, &acme.key).await;
    listed.body["bookings"]
        .as_array()
        .unwrap_or_else(|| panic!("{:?}", listed.body))
        .clone()
}

async fn fifty_concurrent_collective_requests_for_one_slot_make_one_booking_that_blocks_every_host(
    app: &TestApp,
) {
    let acme = app.tenant("Acme").await;
    let hosts = three_hosts(app, &acme).await;
    let agent = collective_agent(app, &acme, &hosts, &[true, true, false]).await;
    let slot = utc_day(3) + 10.hours();
    let replies = futures_join(50, |_| {
        let body = body(&agent, slot, 30);
        let key = acme.key.clone();
        async move { app.post(BOOK, &key, &body).await }
    })
    .await;
    let created: Vec<_> = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .collect();
    let refused = replies
        .iter()
        .filter(|r| r.status == StatusCode::CONFLICT && r.code() == "slot_unavailable")
        .count();
    assert_eq!((created.len(), refused), (1, 49));
    let booked = &created[0].body;
    // The lead is the first required host; every host is on the one booking.
    assert_eq!(booked["user_id"], hosts[0].0.to_string());
    let listed: Vec<String> = booked["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = hosts.iter().map(|(id, _)| id.to_string()).collect();
    assert_eq!(listed, expected);
    for (id, token) in &hosts {
        // Each host holds exactly one confirmed booking at the slot...
        assert_eq!(confirmed_of(app, &acme, *id, slot).await.len(), 1, "{id}");
        // ...is no longer offered there on their own...
        assert!(
            !own_starts(app, token, slot, 1).await.contains(&slot),
            "{id}"
        );
        // ...and the store refuses a booking of their own time there.
        let direct = app.post(BOOK, token, &own_booking(slot)).await;
        assert_eq!(direct.status, StatusCode::CONFLICT, "{:?}", direct.body);
    }
    assert!(
        !agent_starts(app, &acme, &agent, slot, 1)
            .await
            .contains(&slot)
    );
}

async fn a_collective_slot_is_offered_only_when_every_required_host_is_free(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let hosts = three_hosts(app, &acme).await;
    let agent = collective_agent(app, &acme, &hosts, &[true, true, false]).await;
    let day = utc_day(4);
    let (required_busy, optional_busy) = (day + 10.hours(), day + 11.hours());
    // The second required host is busy at 10:00; the optional host at 11:00.
    for (token, at) in [(&hosts[1].1, required_busy), (&hosts[2].1, optional_busy)] {
        let reply = app.post(BOOK, token, &own_booking(at)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    }
    let offered = agent_starts(app, &acme, &agent, day + 9.hours(), 4).await;
    assert!(!offered.contains(&required_busy), "{offered:?}");
    assert!(offered.contains(&optional_busy), "{offered:?}");
    assert!(offered.contains(&(day + 9.hours())), "{offered:?}");
    // Booking the required host's busy time is a conflict with alternatives, none of them then.
    let refused = app
        .post(BOOK, &acme.key, &body(&agent, required_busy, 30))
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
    assert_eq!(refused.code(), "slot_unavailable");
    let alternatives = refused.body["error"]["alternatives"].as_array().unwrap();
    assert!(!alternatives.is_empty());
    assert!(
        alternatives.iter().all(|a| a["start_time"]
            .as_str()
            .unwrap()
            .parse::<Timestamp>()
            .unwrap()
            != required_busy),
        "{alternatives:?}"
    );
    // At 11:00 the booking has the two required hosts only: the busy optional one is left out.
    let booked = app
        .post(BOOK, &acme.key, &body(&agent, optional_busy, 30))
        .await;
    assert_eq!(booked.status, StatusCode::CREATED, "{:?}", booked.body);
    let listed: Vec<&str> = booked.body["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [hosts[0].0.to_string(), hosts[1].0.to_string()]);
}

async fn cancelling_a_collective_booking_frees_every_host(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let hosts = three_hosts(app, &acme).await;
    let agent = collective_agent(app, &acme, &hosts, &[true, false, true]).await;
    let slot = utc_day(5) + 14.hours();
    let booked = app.post(BOOK, &acme.key, &body(&agent, slot, 30)).await;
    assert_eq!(booked.status, StatusCode::CREATED, "{:?}", booked.body);
    // Cancelling through a co-host's row cancels the whole booking (its lead answers).
    let co_host_row = confirmed_of(app, &acme, hosts[1].0, slot).await;
    let row_id = co_host_row[0]["id"].as_str().unwrap();
    assert_ne!(row_id, booked.body["id"].as_str().unwrap());
    let cancelled = app
        .post(
            &format!("/api/calendar/bookings/{row_id}/cancel"),
            &acme.key,
            &json!({"reason": "rescheduling"}),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{:?}", cancelled.body);
    assert_eq!(cancelled.body["id"], booked.body["id"]);
    assert_eq!(cancelled.body["status"], "cancelled");
    for (id, token) in &hosts {
        assert!(confirmed_of(app, &acme, *id, slot).await.is_empty(), "{id}");
        assert!(
            own_starts(app, token, slot, 1).await.contains(&slot),
            "{id}"
        );
    }
    assert!(
        agent_starts(app, &acme, &agent, slot, 1)
            .await
            .contains(&slot)
    );
    let again = app.post(BOOK, &acme.key, &body(&agent, slot, 30)).await;
    assert_eq!(again.status, StatusCode::CREATED, "{:?}", again.body);
}

async fn a_collective_agent_without_a_required_host_is_422_and_changes_nothing(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let hosts = three_hosts(app, &acme).await;
    let ids: Vec<_> = hosts.iter().map(|(id, _)| *id).collect();
    let entries: Vec<Value> = ids
        .iter()
        .map(|id| json!({"user_id": id.to_string()}))
        .collect();
    let agent = agent_with(app, &acme, &ids, "UTC", 30, entries).await;
    let path = format!("/api/agents/{agent}/booking-settings");
    let before = app.get(&path, &acme.key).await;
    let reply = app
        .send(
            Method::PUT,
            &path,
            Some(&acme.key),
            Some(&collective_settings(&ids, &[false, false, false])),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        reply.body
    );
    assert_eq!(reply.code(), "no_required_host");
    assert_eq!(reply.body["error"]["field"], "assignable_users");
    let after = app.get(&path, &acme.key).await;
    assert_eq!(after.body, before.body);
    assert_eq!(after.body["distribution_strategy"], "round_robin");
}

async fn moving_a_collective_booking_is_refused_and_changes_nothing(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let hosts = three_hosts(app, &acme).await;
    let agent = collective_agent(app, &acme, &hosts, &[true, true, true]).await;
    let slot = utc_day(6) + 9.hours();
    let booked = app.post(BOOK, &acme.key, &body(&agent, slot, 30)).await;
    assert_eq!(booked.status, StatusCode::CREATED, "{:?}", booked.body);
    let id = booked.body["id"].as_str().unwrap();
    let moved = app
        .post(
            &format!("/api/calendar/bookings/{id}/reschedule"),
            &acme.key,
            &json!({"start_time": (slot + 2.hours()).to_string()}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::CONFLICT, "{:?}", moved.body);
    assert_eq!(moved.code(), "collective_booking");
    for (id, _) in &hosts {
        let held = confirmed_of(app, &acme, *id, slot).await;
        assert_eq!(held.len(), 1, "{id}");
        let start: Timestamp = held[0]["start_time"].as_str().unwrap().parse().unwrap();
        assert_eq!(start, slot);
    }
}
