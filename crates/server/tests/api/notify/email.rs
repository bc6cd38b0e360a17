//! E-mail: booking, moving and cancelling mail the caller and the member through a real SMTP
//! server, with one invite per booking that keeps its `UID` and raises its `SEQUENCE`; a mail
//! server that is down loses nothing and sends nothing twice.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use pillow_server::notify::{EmailDeliverer, EmailSettings};
use pillow_server::outbox::{Step, Worker};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::sink::{Received, SmtpSink};
use crate::helpers::{Tenant, TestApp, always_open, at};
use crate::on_both_backends;

on_both_backends!(
    booking_moving_and_cancelling_mail_both_people_one_invite_that_evolves,
    an_agent_that_does_not_ask_for_e_mail_queues_none,
    mail_queued_while_the_mail_server_is_down_is_all_delivered_once_and_only_once,
    a_connection_the_mail_server_dropped_is_replaced_on_the_same_attempt,
);

const BOOK: &str = "/api/calendar/booking";

/// An agent in New York booking the owner (open all day in UTC), with e-mail on or off and no
/// reminders (they have their own tests).
pub async fn desk(app: &TestApp, acme: &Tenant, send_email: bool) -> String {
    let notifications = json!({"send_email": send_email, "send_sms": false, "reminders": []});
    desk_with(app, acme, notifications).await
}

/// An agent in New York booking the owner, with these `notifications` settings.
pub async fn desk_with(app: &TestApp, acme: &Tenant, notifications: Value) -> String {
    let rule = app
        .post(
            "/api/calendar/availability-rules",
            &acme.key,
            &always_open(Some(acme.owner.id), 30),
        )
        .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{:?}", rule.body);
    let agent = app
        .post(
            "/api/agents",
            &acme.key,
            &json!({"name": "Front desk", "time_zone": "America/New_York"}),
        )
        .await;
    let agent = agent.body["id"].as_str().unwrap().to_string();
    let settings = app
        .send(
            reqwest::Method::PUT,
            &format!("/api/agents/{agent}/booking-settings"),
            Some(&acme.key),
            Some(&json!({
                "assignable_users": [{"user_id": acme.owner.id.to_string()}],
                "distribution_strategy": "round_robin",
                "notifications": notifications
            })),
        )
        .await;
    assert_eq!(settings.status, StatusCode::OK, "{:?}", settings.body);
    agent
}

/// Half-hour slot `index` of the day `days` ahead, in UTC.
pub fn slot(days: i64, index: i64) -> Timestamp {
    let day = Timestamp::now().to_zoned(TimeZone::UTC).date() + days.days();
    at(day, "00:00", "UTC") + (index * 30).minutes()
}

pub async fn book(app: &TestApp, acme: &Tenant, agent: &str, start: Timestamp) -> Value {
    let reply = app
        .post(
            BOOK,
            &acme.key,
            &json!({
                "agent_id": agent,
                "start_time": start.to_string(),
                "duration": 30,
                "attendee": {"name": "John Doe", "phone": "+1234567890", "email": "john@example.com"},
            }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    reply.body
}

fn settings(sink: &SmtpSink) -> EmailSettings {
    let source = HashMap::from([
        ("SMTP_URL".to_string(), sink.url()),
        (
            "EMAIL_FROM".to_string(),
            "Pillow Calendar <bookings@pillow.test>".to_string(),
        ),
    ]);
    EmailSettings::from_source(&source).unwrap().unwrap()
}

/// Runs the outbox with e-mail until nothing is due, as if `ahead` had passed (backoffs end).
pub async fn drain(app: &TestApp, sink: &SmtpSink, ahead: SignedDuration) {
    let store = app.state.store.clone();
    let email = EmailDeliverer::new(store.clone(), Some(settings(sink)))
        .with_links(app.state.manage_links.clone(), &app.state.config.public_url);
    let worker = Worker::new(store).with(Arc::new(email));
    for _ in 0..200 {
        if worker
            .try_execute_task_at(Timestamp::now() + ahead)
            .await
            .unwrap()
            == Step::Empty
        {
            return;
        }
    }
    panic!("the outbox never emptied");
}

/// The value of an iCalendar property, read with the `icalendar` parser.
pub(super) fn property(ics: &str, component: bool, name: &str) -> String {
    use icalendar::Component;
    let calendar: icalendar::Calendar = ics.parse().expect("the invite parses");
    let value = if component {
        calendar
            .components
            .iter()
            .find_map(|c| c.as_event())
            .and_then(|e| e.property_value(name))
            .map(str::to_string)
    } else {
        calendar.property_value(name).map(str::to_string)
    };
    value.unwrap_or_else(|| panic!("no {name} in {ics}"))
}

fn to_whom(messages: &[Received]) -> BTreeSet<String> {
    messages.iter().map(Received::to).collect()
}

async fn booking_moving_and_cancelling_mail_both_people_one_invite_that_evolves(app: &TestApp) {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let acme = app.tenant("Acme").await;
    let agent = desk(app, &acme, true).await;
    let people = BTreeSet::from(["john@example.com".to_string(), acme.owner.email.clone()]);

    // 15:00 UTC in winter is 10:00 in New York (EST).
    let start = slot(2, 30);
    let booked = book(app, &acme, &agent, start).await;
    let (id, code) = (
        booked["id"].as_str().unwrap().to_string(),
        booked["confirmation_code"].as_str().unwrap().to_string(),
    );
    drain(app, &sink, SignedDuration::ZERO).await;
    let first = sink.messages();
    assert_eq!(first.len(), 2);
    assert_eq!(to_whom(&first), people);
    let local = start.to_zoned(TimeZone::get("America/New_York").unwrap());
    let zone_named = format!("America/New_York ({})", local.strftime("%Z"));
    for message in &first {
        let text = message.text();
        assert!(
            message.subject().starts_with("Confirmed:"),
            "{}",
            message.subject()
        );
        // MiniJinja escapes `/` in HTML; the reader sees a slash.
        let html = message.html().replace("&#x2f;", "/");
        for part in [&text, &html] {
            assert!(part.contains(&code), "{part}");
            assert!(part.contains(&acme.owner.name), "{part}");
            assert!(part.contains(&zone_named), "{part}");
            assert!(
                part.contains(&local.strftime("%-I:%M %p").to_string()),
                "{part}"
            );
        }
        let ics = message.calendar();
        assert_eq!(property(&ics, false, "METHOD"), "REQUEST");
        assert_eq!(property(&ics, true, "SEQUENCE"), "0");
        assert_eq!(
            property(&ics, true, "DTSTART"),
            start.strftime("%Y%m%dT%H%M%SZ").to_string()
        );
        // Long lines are folded (RFC 5545 3.1); read them unfolded.
        let unfolded = ics.replace("\r\n ", "").replace("\n ", "");
        assert!(
            unfolded.contains(&format!("mailto:{}", acme.owner.email)),
            "{ics}"
        );
        assert!(unfolded.contains("mailto:john@example.com"), "{ics}");
    }
    let uid = property(&first[0].calendar(), true, "UID");
    assert!(uid.starts_with(&id), "{uid}");

    // Moved: a REQUEST with the same UID and a higher SEQUENCE, at the new time.
    let moved_to = slot(2, 34);
    let moved = app
        .post(
            &format!("/api/calendar/bookings/{id}/reschedule"),
            &acme.key,
            &json!({"start_time": moved_to.to_string()}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    drain(app, &sink, SignedDuration::ZERO).await;
    let second: Vec<_> = sink.messages().into_iter().skip(2).collect();
    assert_eq!(to_whom(&second), people);
    for message in &second {
        assert!(
            message.subject().starts_with("Moved:"),
            "{}",
            message.subject()
        );
        let ics = message.calendar();
        assert_eq!(property(&ics, false, "METHOD"), "REQUEST");
        assert_eq!(property(&ics, true, "UID"), uid);
        assert_eq!(property(&ics, true, "SEQUENCE"), "1");
        assert_eq!(
            property(&ics, true, "DTSTART"),
            moved_to.strftime("%Y%m%dT%H%M%SZ").to_string()
        );
    }

    // Cancelled: the same UID, a higher SEQUENCE still, and METHOD:CANCEL.
    let cancelled = app
        .post(
            &format!("/api/calendar/bookings/{id}/cancel"),
            &acme.key,
            &json!({"reason": "Caller asked"}),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{:?}", cancelled.body);
    drain(app, &sink, SignedDuration::ZERO).await;
    let all = sink.messages();
    let third: Vec<_> = all.iter().skip(4).collect();
    assert_eq!(third.len(), 2);
    for message in third {
        assert!(
            message.subject().starts_with("Cancelled:"),
            "{}",
            message.subject()
        );
        let ics = message.calendar();
        assert_eq!(property(&ics, false, "METHOD"), "CANCEL");
        assert_eq!(property(&ics, true, "UID"), uid);
        assert_eq!(property(&ics, true, "SEQUENCE"), "2");
        assert_eq!(property(&ics, true, "STATUS"), "CANCELLED");
    }
    let ids: BTreeSet<_> = all.iter().map(Received::message_id).collect();
    assert_eq!(ids.len(), 6, "every message has its own Message-ID");
    assert!(ids.iter().all(|id| id.ends_with("@pillow.test")), "{ids:?}");
}

async fn an_agent_that_does_not_ask_for_e_mail_queues_none(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let agent = desk(app, &acme, false).await;
    let booked = book(app, &acme, &agent, slot(2, 30)).await;
    let id = booked["id"].as_str().unwrap();
    let cancelled = app
        .post(
            &format!("/api/calendar/bookings/{id}/cancel"),
            &acme.key,
            &json!({}),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK);
    let jobs = app
        .store()
        .list_jobs(acme.id, Some("email.booking"))
        .await
        .unwrap();
    assert!(jobs.is_empty(), "{jobs:?}");
    // The lifecycle jobs are there: the booking did change.
    assert_eq!(
        app.store()
            .list_jobs(acme.id, Some("booking.cancelled"))
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn mail_queued_while_the_mail_server_is_down_is_all_delivered_once_and_only_once(
    app: &TestApp,
) {
    let Some(mut sink) = SmtpSink::start().await else {
        return;
    };
    let acme = app.tenant("Acme").await;
    let agent = desk(app, &acme, true).await;
    sink.down().await;
    // A 50-booking storm: 100 messages waiting for the mail server.
    const BOOKINGS: i64 = 50;
    for i in 0..BOOKINGS {
        book(app, &acme, &agent, slot(2, i)).await;
    }
    // Every attempt while the server is down fails and is put off.
    drain(app, &sink, SignedDuration::ZERO).await;
    assert!(sink.messages().is_empty());
    let waiting = app
        .store()
        .list_jobs(acme.id, Some("email.booking"))
        .await
        .unwrap();
    assert_eq!(waiting.len(), 2 * BOOKINGS as usize);
    assert!(
        waiting
            .iter()
            .all(|job| job.attempts >= 1 && job.last_error.is_some()),
        "{waiting:?}"
    );

    // Back up: once the backoff has passed, everything goes, and nothing twice.
    sink.up().await;
    drain(app, &sink, SignedDuration::from_hours(2)).await;
    drain(app, &sink, SignedDuration::from_hours(4)).await;
    let messages = sink.messages();
    let ids: BTreeSet<_> = messages.iter().map(Received::message_id).collect();
    assert_eq!(messages.len(), 2 * BOOKINGS as usize);
    assert_eq!(ids.len(), messages.len(), "no Message-ID twice");
    let to_caller = messages
        .iter()
        .filter(|m| m.to() == "john@example.com")
        .count();
    assert_eq!(to_caller, BOOKINGS as usize);
}

async fn a_connection_the_mail_server_dropped_is_replaced_on_the_same_attempt(app: &TestApp) {
    let Some(mut sink) = SmtpSink::start().await else {
        return;
    };
    let acme = app.tenant("Acme").await;
    let agent = desk(app, &acme, true).await;
    // One deliverer throughout, so the connection of the first booking's mail is kept.
    let store = app.state.store.clone();
    let worker = Worker::new(store.clone())
        .with(Arc::new(EmailDeliverer::new(store, Some(settings(&sink)))));
    let run = || async { while worker.try_execute_task().await.unwrap() != Step::Empty {} };
    book(app, &acme, &agent, slot(2, 0)).await;
    run().await;
    assert_eq!(sink.messages().len(), 2);

    // The mail server restarts on the same port: the kept connection is dead.
    sink.down().await;
    sink.up().await;
    book(app, &acme, &agent, slot(2, 1)).await;
    run().await;
    assert_eq!(sink.messages().len(), 4, "sent now, not after a backoff");
    let jobs = app
        .store()
        .list_jobs(acme.id, Some("email.booking"))
        .await
        .unwrap();
    assert!(
        jobs.iter()
            .all(|job| job.attempts == 1 && job.last_error.is_none()),
        "{jobs:?}"
    );
}
