//! Reminders: planned with the booking, queued by the outbox as jobs due before its start,
//! moved with it, dropped with it, and skipped rather than sent late. The clock is driven by running the
//! outbox as of a later instant; nothing sleeps.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use pillow_store::JobStatus;
use reqwest::StatusCode;
use serde_json::json;

use super::email::{book, desk_with, drain};
use super::sink::{Received, SmtpSink};
use crate::helpers::{Tenant, TestApp};
use crate::on_both_backends;

on_both_backends!(
    a_booking_25_hours_ahead_is_reminded_a_day_and_an_hour_before,
    a_moved_booking_is_reminded_at_its_new_times_only,
    a_cancelled_booking_is_reminded_of_nothing,
    a_reminder_whose_time_passed_during_an_outage_is_skipped_not_sent_late,
    an_agent_s_own_reminders_are_checked_when_saved_and_only_those_ahead_are_queued,
);

const MINUTE: SignedDuration = SignedDuration::from_mins(1);
const HOUR: SignedDuration = SignedDuration::from_hours(1);
const DAY: SignedDuration = SignedDuration::from_hours(24);

/// The first half-hour boundary after `t`: a bookable slot start.
fn slot_after(t: Timestamp) -> Timestamp {
    Timestamp::from_second((t.as_second() / 1800 + 1) * 1800).unwrap()
}

/// The reminders the SMTP server has accepted, oldest first.
fn reminders(sink: &SmtpSink) -> Vec<Received> {
    sink.messages()
        .into_iter()
        .filter(|m| m.subject().starts_with("Reminder:"))
        .collect()
}

/// Runs the outbox as if it were `at`.
async fn run_at(app: &TestApp, sink: &SmtpSink, at: Timestamp) {
    drain(app, sink, at.duration_since(Timestamp::now())).await;
}

/// An agent with e-mail on and the default reminders (none listed), and a booking through it
/// a little over 25 hours ahead; its confirmations are sent.
async fn booked_25_hours_ahead(app: &TestApp, sink: &SmtpSink) -> (Tenant, String, Timestamp) {
    let acme = app.tenant("Acme").await;
    let agent = desk_with(app, &acme, json!({"send_email": true})).await;
    let start = slot_after(Timestamp::now() + DAY + HOUR);
    let booked = book(app, &acme, &agent, start).await;
    run_at(app, sink, Timestamp::now()).await;
    assert_eq!(sink.messages().len(), 2, "the two confirmations");
    let id = booked["id"].as_str().unwrap().to_string();
    (acme, id, start)
}

/// The wall-clock time people read in the agent's zone, as the messages write it.
fn new_york(t: Timestamp) -> String {
    t.to_zoned(TimeZone::get("America/New_York").unwrap())
        .strftime("%-I:%M %p")
        .to_string()
}

/// Runs the outbox once: a booking's notification plan becomes its messages and reminders.
async fn plan_reminders(app: &TestApp) {
    pillow_server::outbox::Worker::new(app.state.store.clone())
        .try_execute_task()
        .await
        .unwrap();
}

async fn reminder_jobs(app: &TestApp, acme: &Tenant) -> Vec<pillow_store::Job> {
    app.store()
        .list_jobs(acme.id, Some("email.reminder"))
        .await
        .unwrap()
}

async fn a_booking_25_hours_ahead_is_reminded_a_day_and_an_hour_before(app: &TestApp) {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let (acme, id, start) = booked_25_hours_ahead(app, &sink).await;
    let code = app.store().get_booking(acme.id, id.parse().unwrap()).await;
    let code = code.unwrap().unwrap().confirmation_code;

    run_at(app, &sink, start - DAY - MINUTE).await;
    assert!(reminders(&sink).is_empty(), "not before its time");
    run_at(app, &sink, start - DAY + MINUTE).await;
    let first = reminders(&sink);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].to(), "john@example.com");
    assert!(
        first[0].subject().contains(&new_york(start)),
        "{}",
        first[0].subject()
    );
    assert!(first[0].text().contains(&code), "{}", first[0].text());

    run_at(app, &sink, start - HOUR - MINUTE).await;
    assert_eq!(reminders(&sink).len(), 1);
    run_at(app, &sink, start - HOUR + MINUTE).await;
    let both = reminders(&sink);
    assert_eq!(both.len(), 2);
    assert_ne!(both[0].message_id(), both[1].message_id());
    let jobs = reminder_jobs(app, &acme).await;
    assert_eq!(jobs.len(), 2);
    assert!(jobs.iter().all(|j| j.status == JobStatus::Done), "{jobs:?}");
}

async fn a_moved_booking_is_reminded_at_its_new_times_only(app: &TestApp) {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let (acme, id, start) = booked_25_hours_ahead(app, &sink).await;
    let moved_to = start + HOUR * 2;
    let moved = app
        .post(
            &format!("/api/calendar/bookings/{id}/reschedule"),
            &acme.key,
            &json!({"start_time": moved_to.to_string()}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    run_at(app, &sink, Timestamp::now()).await;

    // The old day-before time comes: nothing, the booking is no longer then.
    run_at(app, &sink, start - DAY + MINUTE).await;
    assert!(reminders(&sink).is_empty());
    run_at(app, &sink, moved_to - DAY + MINUTE).await;
    assert_eq!(reminders(&sink).len(), 1);
    // The old hour-before time: nothing; the new one: the second reminder.
    run_at(app, &sink, start - HOUR + MINUTE).await;
    assert_eq!(reminders(&sink).len(), 1);
    run_at(app, &sink, moved_to - HOUR + MINUTE).await;
    let sent = reminders(&sink);
    assert_eq!(sent.len(), 2);
    for message in &sent {
        assert!(
            message.subject().contains(&new_york(moved_to)),
            "{}",
            message.subject()
        );
    }
    let jobs = reminder_jobs(app, &acme).await;
    assert_eq!(jobs.len(), 4, "two for each start");
    assert!(jobs.iter().all(|j| j.status == JobStatus::Done), "{jobs:?}");
}

async fn a_cancelled_booking_is_reminded_of_nothing(app: &TestApp) {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let (acme, id, start) = booked_25_hours_ahead(app, &sink).await;
    let cancelled = app
        .post(
            &format!("/api/calendar/bookings/{id}/cancel"),
            &acme.key,
            &json!({}),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{:?}", cancelled.body);
    run_at(app, &sink, start - DAY + MINUTE).await;
    run_at(app, &sink, start - HOUR + MINUTE).await;
    assert!(reminders(&sink).is_empty());
    assert_eq!(
        sink.messages().len(),
        4,
        "confirmations and cancellations only"
    );
    let jobs = reminder_jobs(app, &acme).await;
    assert!(jobs.iter().all(|j| j.status == JobStatus::Done), "{jobs:?}");
}

async fn a_reminder_whose_time_passed_during_an_outage_is_skipped_not_sent_late(app: &TestApp) {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let (_, _, start) = booked_25_hours_ahead(app, &sink).await;
    // The worker was down from before the day-before reminder until three hours after it.
    run_at(app, &sink, start - DAY + HOUR * 3).await;
    assert!(
        reminders(&sink).is_empty(),
        "no day-before reminder 21 hours before"
    );
    run_at(app, &sink, start - HOUR + MINUTE).await;
    let sent = reminders(&sink);
    assert_eq!(sent.len(), 1, "the hour-before one still goes");
}

async fn an_agent_s_own_reminders_are_checked_when_saved_and_only_those_ahead_are_queued(
    app: &TestApp,
) {
    let acme = app.tenant("Acme").await;
    let agent = desk_with(app, &acme, json!({"send_email": true, "reminders": [30]})).await;
    let path = format!("/api/agents/{agent}/booking-settings");
    let settings = |reminders: Option<serde_json::Value>| {
        let mut notifications = json!({"send_email": true});
        if let Some(reminders) = reminders {
            notifications["reminders"] = reminders;
        }
        json!({
            "assignable_users": [{"user_id": acme.owner.id.to_string()}],
            "notifications": notifications
        })
    };
    let before = app.get(&path, &acme.key).await;
    for (bad, field) in [
        (json!([0]), "notifications.reminders[0]"),
        (json!([60, 60]), "notifications.reminders[1]"),
        (json!([60, 20_000]), "notifications.reminders[1]"),
        (json!([1, 2, 3, 4, 5, 6]), "notifications.reminders"),
    ] {
        let reply = app
            .send(
                reqwest::Method::PUT,
                &path,
                Some(&acme.key),
                Some(&settings(Some(bad))),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{:?}",
            reply.body
        );
        assert_eq!(reply.body["error"]["code"], "invalid_reminders");
        assert_eq!(reply.body["error"]["field"], field);
    }
    assert_eq!(
        app.get(&path, &acme.key).await.body,
        before.body,
        "nothing saved"
    );
    assert_eq!(before.body["notifications"]["reminders"], json!([30]));

    // The agent's list, not the default: one reminder half an hour before.
    let start = slot_after(Timestamp::now() + HOUR * 2);
    book(app, &acme, &agent, start).await;
    assert!(
        reminder_jobs(app, &acme).await.is_empty(),
        "planned, not yet queued"
    );
    plan_reminders(app).await;
    let jobs = reminder_jobs(app, &acme).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].next_attempt_at, start - MINUTE * 30);

    // With the default list, a booking two hours ahead gets only its hour-before reminder.
    let reply = app
        .send(
            reqwest::Method::PUT,
            &path,
            Some(&acme.key),
            Some(&settings(None)),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let later = start + HOUR * 2;
    book(app, &acme, &agent, later).await;
    plan_reminders(app).await;
    let jobs = reminder_jobs(app, &acme).await;
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    assert_eq!(jobs[1].next_attempt_at, later - HOUR);
}
