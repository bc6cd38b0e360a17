//! Removing a member (issue 18, defect 6): the member is kept as a removed row, so every
//! booking and confirmation code stays whole; their upcoming bookings are refused, handed to
//! teammates through the agent's strategy (all or none), or cancelled with the usual jobs.

use jiff::{Timestamp, ToSpan};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Tenant, TestApp, always_open};
use crate::host_limits::{BOOK, body, utc_day};
use crate::on_both_backends;

on_both_backends!(
    a_removed_member_keeps_their_bookings_and_vanishes_from_lists_logins_and_tokens,
    upcoming_cancel_cancels_each_booking_with_its_jobs_and_removes_the_member,
    upcoming_reassign_hands_each_booking_to_the_free_teammate_the_strategy_picks,
    a_booking_no_teammate_can_take_makes_reassign_a_409_naming_it_and_changes_nothing,
    an_unknown_upcoming_option_is_a_400_and_changes_nothing,
);

const RULES: &str = "/api/calendar/availability-rules";

/// An agent whose members (each open all day in UTC, 30-minute slots) are picked by
/// priority, in the order given (the first is preferred).
async fn priority_agent(app: &TestApp, acme: &Tenant, members: &[pillow_store::UserId]) -> String {
    for member in members {
        let reply = app
            .post(RULES, &acme.key, &always_open(Some(*member), 30))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    let agent = app
        .post(
            "/api/agents",
            &acme.key,
            &json!({"name": "Desk", "time_zone": "UTC"}),
        )
        .await;
    let agent = agent.body["id"].as_str().unwrap().to_string();
    let entries: Vec<Value> = members
        .iter()
        .enumerate()
        .map(|(i, m)| json!({"user_id": m.to_string(), "priority": i}))
        .collect();
    let settings = json!({"assignable_users": entries, "distribution_strategy": "priority"});
    let reply = app
        .send(
            Method::PUT,
            &format!("/api/agents/{agent}/booking-settings"),
            Some(&acme.key),
            Some(&settings),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    agent
}

/// Books through the agent and answers the booking.
async fn book(app: &TestApp, acme: &Tenant, agent: &str, start: Timestamp) -> Value {
    let reply = app.post(BOOK, &acme.key, &body(agent, start, 30)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body
}

/// Books directly for the member whose token this is.
async fn book_directly(app: &TestApp, token: &str, start: Timestamp) -> Value {
    let reply = app
        .post(
            BOOK,
            token,
            &json!({
                "start_time": start.to_string(),
                "duration": 30,
                "attendee": {"name": "Jo", "email": "jo@example.com"}
            }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body
}

async fn booking(app: &TestApp, acme: &Tenant, code: &Value) -> Value {
    let code = code.as_str().unwrap();
    let reply = app
        .get(&format!("/api/calendar/bookings/{code}"), &acme.key)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

async fn member_ids(app: &TestApp, acme: &Tenant) -> Vec<String> {
    let listed = app.get("/api/users", &acme.key).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    listed.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect()
}

/// The `user_id`s of the jobs of `kind` about `booking`.
async fn job_users(app: &TestApp, acme: &Tenant, kind: &str, booking: &Value) -> Vec<String> {
    let mut users: Vec<String> = app
        .store()
        .list_jobs(acme.id, Some(kind))
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.payload["booking_id"] == booking["id"])
        .map(|j| j.payload["user_id"].as_str().unwrap_or("").to_string())
        .collect();
    users.sort();
    users
}

async fn a_removed_member_keeps_their_bookings_and_vanishes_from_lists_logins_and_tokens(
    app: &TestApp,
) {
    let acme = app.tenant("Acme").await;
    let created = app
        .post(
            "/api/users",
            &acme.key,
            &json!({"email": "sam@acme.test", "name": "Sam", "password": "sam-password"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let sam: pillow_store::UserId = created.body["id"].as_str().unwrap().parse().unwrap();
    let sam_user = app.store().get_user(acme.id, sam).await.unwrap().unwrap();
    let token = app.token_for(&sam_user);
    app.post(RULES, &token, &always_open(None, 30)).await;
    let booked = book_directly(app, &token, utc_day(3) + 10.hours()).await;
    let code = booked["confirmation_code"].clone();
    let cancelled = app
        .post(
            &format!(
                "/api/calendar/bookings/{}/cancel",
                booked["id"].as_str().unwrap()
            ),
            &token,
            &json!({}),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);

    // Only a cancelled booking: nothing upcoming stands in the way.
    let removed = app.delete(&format!("/api/users/{sam}"), &acme.key).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);

    // The booking and its code are whole.
    let kept = booking(app, &acme, &code).await;
    assert_eq!(kept["status"], "cancelled");
    assert_eq!(kept["user_id"], sam.to_string());
    // The member is gone from every list, lookup, login and token.
    assert!(!member_ids(app, &acme).await.contains(&sam.to_string()));
    let one = app.get(&format!("/api/users/{sam}"), &acme.key).await;
    assert_eq!(one.status, StatusCode::NOT_FOUND, "{}", one.body);
    let login = app
        .send(
            Method::POST,
            "/api/auth/login",
            None,
            Some(&json!({"email": "sam@acme.test", "password": "sam-password"})),
        )
        .await;
    assert_eq!(login.status, StatusCode::UNAUTHORIZED, "{}", login.body);
    let with_token = app.get("/api/users/me", &token).await;
    assert_eq!(
        with_token.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        with_token.body
    );
    let again = app.delete(&format!("/api/users/{sam}"), &acme.key).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "{}", again.body);
    // Their address is free for a new member.
    let rejoined = app
        .post(
            "/api/users",
            &acme.key,
            &json!({"email": "sam@acme.test", "name": "Sam again"}),
        )
        .await;
    assert_eq!(rejoined.status, StatusCode::CREATED, "{}", rejoined.body);
    assert_ne!(rejoined.body["id"], sam.to_string());
}

async fn upcoming_cancel_cancels_each_booking_with_its_jobs_and_removes_the_member(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let (sam, token) = app.member(&acme, "sam@acme.test").await;
    let agent = priority_agent(app, &acme, &[sam.id, acme.owner.id]).await;
    let through_agent = book(app, &acme, &agent, utc_day(3) + 10.hours()).await;
    assert_eq!(through_agent["user_id"], sam.id.to_string());
    let direct = book_directly(app, &token, utc_day(4) + 10.hours()).await;

    let removed = app
        .delete(&format!("/api/users/{}?upcoming=cancel", sam.id), &acme.key)
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);

    for made in [&through_agent, &direct] {
        let now = booking(app, &acme, &made["confirmation_code"]).await;
        assert_eq!(now["status"], "cancelled", "{now}");
        assert!(now["cancel_reason"].as_str().is_some_and(|r| !r.is_empty()));
        assert_eq!(
            job_users(app, &acme, "booking.cancelled", made).await,
            vec![sam.id.to_string()]
        );
        let webhooks = app
            .store()
            .list_jobs(acme.id, Some("webhook.booking"))
            .await
            .unwrap();
        assert!(
            webhooks.iter().any(
                |j| j.payload["booking_id"] == made["id"] && j.payload["change"] == "cancelled"
            ),
            "{webhooks:?}"
        );
    }
    assert!(!member_ids(app, &acme).await.contains(&sam.id.to_string()));
    // The team offers the time again, now with the owner.
    let again = book(app, &acme, &agent, utc_day(3) + 10.hours()).await;
    assert_eq!(again["user_id"], acme.owner.id.to_string());
}

async fn upcoming_reassign_hands_each_booking_to_the_free_teammate_the_strategy_picks(
    app: &TestApp,
) {
    let acme = app.tenant("Acme").await;
    let (sam, _) = app.member(&acme, "sam@acme.test").await;
    let (bo, bo_token) = app.member(&acme, "bo@acme.test").await;
    let (cy, _) = app.member(&acme, "cy@acme.test").await;
    // Sam is preferred, then Bo, then Cy.
    let agent = priority_agent(app, &acme, &[sam.id, bo.id, cy.id]).await;
    let first = utc_day(3) + 10.hours();
    let second = utc_day(4) + 10.hours();
    let at_first = book(app, &acme, &agent, first).await;
    let at_second = book(app, &acme, &agent, second).await;
    assert_eq!(at_first["user_id"], sam.id.to_string());
    assert_eq!(at_second["user_id"], sam.id.to_string());
    // Bo is busy at the first time only.
    book_directly(app, &bo_token, first).await;

    let removed = app
        .delete(
            &format!("/api/users/{}?upcoming=reassign", sam.id),
            &acme.key,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);

    // Bo is busy at the first time, so Cy takes it; Bo, preferred, takes the second.
    for (made, host) in [(&at_first, &cy), (&at_second, &bo)] {
        let now = booking(app, &acme, &made["confirmation_code"]).await;
        assert_eq!(now["status"], "confirmed", "{now}");
        assert_eq!(now["id"], made["id"]);
        assert_eq!(now["start_time"], made["start_time"]);
        assert_eq!(now["user_id"], host.id.to_string(), "{now}");
        // One job clears Sam's calendar, one writes the new host's.
        let mut expected = vec![sam.id.to_string(), host.id.to_string()];
        expected.sort();
        assert_eq!(
            job_users(app, &acme, "booking.rescheduled", made).await,
            expected
        );
    }
    assert!(!member_ids(app, &acme).await.contains(&sam.id.to_string()));
    // The new hosts are busy at their handed-over times: the next booking at the first time
    // finds nobody (Bo and Cy both taken, Sam gone).
    let full = app.post(BOOK, &acme.key, &body(&agent, first, 30)).await;
    assert_eq!(full.status, StatusCode::CONFLICT, "{}", full.body);
    assert_eq!(full.code(), "slot_unavailable");
}

async fn a_booking_no_teammate_can_take_makes_reassign_a_409_naming_it_and_changes_nothing(
    app: &TestApp,
) {
    let acme = app.tenant("Acme").await;
    let (sam, sam_token) = app.member(&acme, "sam@acme.test").await;
    let (bo, bo_token) = app.member(&acme, "bo@acme.test").await;
    let agent = priority_agent(app, &acme, &[sam.id, bo.id]).await;
    let first = utc_day(3) + 10.hours();
    let at_first = book(app, &acme, &agent, first).await;
    let at_second = book(app, &acme, &agent, utc_day(4) + 10.hours()).await;
    // Bo is busy at the first time; the third booking was made for Sam alone, with no team.
    book_directly(app, &bo_token, first).await;
    let alone = book_directly(app, &sam_token, utc_day(5) + 10.hours()).await;

    let refused = app
        .delete(
            &format!("/api/users/{}?upcoming=reassign", sam.id),
            &acme.key,
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert_eq!(refused.code(), "bookings_not_reassigned");
    let mut named: Vec<&str> = refused.body["error"]["bookings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["confirmation_code"].as_str().unwrap())
        .collect();
    named.sort();
    let mut expected = vec![
        at_first["confirmation_code"].as_str().unwrap(),
        alone["confirmation_code"].as_str().unwrap(),
    ];
    expected.sort();
    assert_eq!(named, expected);

    // Nothing changed: every booking is still Sam's, Sam is still a member, no job was queued.
    for made in [&at_first, &at_second, &alone] {
        let now = booking(app, &acme, &made["confirmation_code"]).await;
        assert_eq!(now["status"], "confirmed");
        assert_eq!(now["user_id"], sam.id.to_string());
    }
    assert!(member_ids(app, &acme).await.contains(&sam.id.to_string()));
    let moved = app
        .store()
        .list_jobs(acme.id, Some("booking.rescheduled"))
        .await
        .unwrap();
    assert!(moved.is_empty(), "{moved:?}");
    let rules = app.get(RULES, &sam_token).await;
    assert_eq!(rules.status, StatusCode::OK, "{}", rules.body);
}

async fn an_unknown_upcoming_option_is_a_400_and_changes_nothing(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let (sam, token) = app.member(&acme, "sam@acme.test").await;
    app.post(RULES, &token, &always_open(None, 30)).await;
    let made = book_directly(app, &token, utc_day(3) + 10.hours()).await;
    let refused = app
        .delete(&format!("/api/users/{}?upcoming=later", sam.id), &acme.key)
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert_eq!(refused.code(), "invalid_query");
    assert!(member_ids(app, &acme).await.contains(&sam.id.to_string()));
    let now = booking(app, &acme, &made["confirmation_code"]).await;
    assert_eq!(now["status"], "confirmed");
}
