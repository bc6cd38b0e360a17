//! The in-call booking answer's confirmation: where the details were sent (masked, only for
//! channels that are on and queued a message) and "Add to calendar" (Google and Outlook links
//! with UTC times, a signed `.ics` download that works again and changes nothing).

use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::email::desk_with;
use crate::helpers::{Db, Tenant, TestApp, spawn_app, spawn_app_with};

/// E-mail and SMS on at the server level (neither is contacted: no deliverer runs).
fn channels_on() -> Vec<(&'static str, String)> {
    vec![
        ("SMTP_URL", "smtp://127.0.0.1:9".to_string()),
        (
            "EMAIL_FROM",
            "Pillow Calendar <bookings@pillow.test>".to_string(),
        ),
        (
            "TWILIO_ACCOUNT_SID",
            "AC0123456789abcdef0123456789abcdef".to_string(),
        ),
        ("TWILIO_AUTH_TOKEN", "token-for-tests".to_string()),
        ("TWILIO_FROM", "+15555550100".to_string()),
        ("TWILIO_API_BASE_URL", "http://127.0.0.1:9".to_string()),
    ]
}

fn notifications(email: bool, sms: bool) -> Value {
    json!({"send_email": email, "send_sms": sms, "reminders": []})
}

/// Books half-hour slot `index` two days ahead through the in-call API; the answer's booking.
async fn incall_book(
    app: &TestApp,
    acme: &Tenant,
    agent: &str,
    index: usize,
    phone: Option<&str>,
) -> Value {
    let day = Timestamp::now().to_zoned(TimeZone::UTC).date() + 2.days();
    let slots = app
        .get(
            &format!("/api/v1/agents/{agent}/calendar/slots?startDate={day}&endDate={day}"),
            &acme.key,
        )
        .await;
    assert_eq!(slots.status, StatusCode::OK, "{:?}", slots.body);
    let slot = &slots.body["data"]["slots"][index];
    let mut body = json!({
        "slotId": slot["id"],
        "attendeeName": "John Doe",
        "attendeeEmail": "john.doe@example.com",
    });
    if let Some(phone) = phone {
        body["attendeePhone"] = json!(phone);
    }
    let reply = app
        .post(
            &format!("/api/v1/agents/{agent}/calendar/book"),
            &acme.key,
            &body,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    reply.body["data"]["booking"].clone()
}

/// Another agent booking the same owner (whose rule [`desk_with`] made), with these settings.
async fn second_desk(app: &TestApp, acme: &Tenant, notifications: Value) -> String {
    let agent = app
        .post(
            "/api/agents",
            &acme.key,
            &json!({"name": "Back office", "time_zone": "America/New_York"}),
        )
        .await;
    assert_eq!(agent.status, StatusCode::CREATED, "{:?}", agent.body);
    let agent = agent.body["id"].as_str().unwrap().to_string();
    let settings = app
        .send(
            reqwest::Method::PUT,
            &format!("/api/agents/{agent}/booking-settings"),
            Some(&acme.key),
            Some(&json!({
                "assignable_users": [{"user_id": acme.owner.id.to_string()}],
                "notifications": notifications
            })),
        )
        .await;
    assert_eq!(settings.status, StatusCode::OK, "{:?}", settings.body);
    agent
}

async fn jobs(app: &TestApp, acme: &Tenant, kind: &str) -> usize {
    app.store()
        .list_jobs(acme.id, Some(kind))
        .await
        .unwrap()
        .len()
}

async fn the_confirmation_names_only_the_channels_that_queued_a_message(db: Db) {
    let Some(app) = spawn_app_with(db, &channels_on()).await else {
        return;
    };
    let acme = app.tenant("Acme").await;
    let both = desk_with(&app, &acme, notifications(true, true)).await;
    let booking = incall_book(&app, &acme, &both, 0, Some("+1 555 555 0123")).await;
    assert_eq!(
        booking["sentTo"],
        json!({"email": "j…@example.com", "phone": "…0123"})
    );
    // What it names was planned with the booking, and the plan queues it: the caller's
    // e-mail (and the member's) and the text.
    assert_eq!(jobs(&app, &acme, "notifications.plan").await, 1);
    pillow_server::outbox::Worker::new(app.state.store.clone())
        .try_execute_task()
        .await
        .unwrap();
    assert_eq!(jobs(&app, &acme, "email.booking").await, 2);
    assert_eq!(jobs(&app, &acme, "sms.booking").await, 1);

    // No number, a number that is not E.164, or one that replied STOP: no text named.
    let booking = incall_book(&app, &acme, &both, 1, None).await;
    assert_eq!(booking["sentTo"], json!({"email": "j…@example.com"}));
    let booking = incall_book(&app, &acme, &both, 2, Some("555 0123")).await;
    assert_eq!(booking["sentTo"], json!({"email": "j…@example.com"}));
    app.store()
        .set_sms_opt_out("+15555550199", true, Timestamp::now())
        .await
        .unwrap();
    let booking = incall_book(&app, &acme, &both, 3, Some("+15555550199")).await;
    assert_eq!(booking["sentTo"], json!({"email": "j…@example.com"}));

    // An agent that sends nothing: nothing named, and the field is there as null.
    let quiet = second_desk(&app, &acme, notifications(false, false)).await;
    let booking = incall_book(&app, &acme, &quiet, 4, Some("+15555550123")).await;
    assert_eq!(booking["sentTo"], Value::Null);
    app.finish().await;

    // A server without SMTP or Twilio sends nothing, whatever the agent asks for.
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let acme = app.tenant("Acme").await;
    let agent = desk_with(&app, &acme, notifications(true, true)).await;
    let booking = incall_book(&app, &acme, &agent, 0, Some("+15555550123")).await;
    assert_eq!(booking["sentTo"], Value::Null);
    app.finish().await;
}

/// The value of `name` in a link's query.
fn param(url: &str, name: &str) -> String {
    let parsed = reqwest::Url::parse(url).unwrap();
    parsed
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("{name} in {url}"))
}

fn compact(at: &str) -> String {
    let at: Timestamp = at.parse().unwrap();
    at.strftime("%Y%m%dT%H%M%SZ").to_string()
}

async fn add_to_calendar_links_carry_utc_times_and_the_ics_downloads_again(db: Db) {
    let Some(app) = spawn_app_with(db, &channels_on()).await else {
        return;
    };
    let acme = app.tenant("Acme").await;
    let agent = desk_with(&app, &acme, notifications(true, false)).await;
    let booking = incall_book(&app, &acme, &agent, 5, None).await;
    let (start, end) = (
        booking["startTime"].as_str().unwrap(),
        booking["endTime"].as_str().unwrap(),
    );
    let links = &booking["addToCalendar"];

    let google = links["google"].as_str().unwrap();
    assert!(google.starts_with("https://calendar.google.com/calendar/render?"));
    assert_eq!(
        param(google, "dates"),
        format!("{}/{}", compact(start), compact(end))
    );
    assert_eq!(param(google, "text"), "Appointment with Acme Owner");
    assert!(param(google, "details").contains(booking["confirmationCode"].as_str().unwrap()));
    let outlook = links["outlook"].as_str().unwrap();
    assert!(outlook.starts_with("https://outlook.live.com/calendar/0/"));
    let utc = |at: &str| {
        at.parse::<Timestamp>()
            .unwrap()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    assert_eq!(param(outlook, "startdt"), utc(start));
    assert_eq!(param(outlook, "enddt"), utc(end));

    // The .ics: no credentials but the signed link, as often as the caller likes.
    let ics = links["ics"].as_str().unwrap();
    assert!(ics.starts_with(&format!(
        "{}/api/public/bookings/link/ics?token=ML_",
        app.base
    )));
    let code = booking["confirmationCode"].as_str().unwrap();
    let stored = app
        .store()
        .find_booking_by_code(acme.id, code)
        .await
        .unwrap()
        .unwrap();
    for _ in 0..2 {
        let reply = reqwest::get(ics).await.unwrap();
        assert_eq!(reply.status(), StatusCode::OK);
        assert!(
            reply.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/calendar")
        );
        let text = reply.text().await.unwrap();
        let calendar: icalendar::Calendar = text.parse().expect("the file parses");
        assert_eq!(calendar.property_value("METHOD"), Some("PUBLISH"));
        let event = calendar
            .components
            .iter()
            .find_map(|c| c.as_event())
            .unwrap();
        use icalendar::Component;
        // The e-mailed invite's UID, so a calendar with both keeps one event.
        let uid = format!("{}@pillow.test", stored.id);
        assert_eq!(event.get_uid(), Some(uid.as_str()));
        assert_eq!(
            event.property_value("DTSTART"),
            Some(compact(start).as_str())
        );
        assert_eq!(event.property_value("DTEND"), Some(compact(end).as_str()));
    }
    // Downloading changed nothing: the booking's version is the same.
    let after = app
        .store()
        .find_booking_by_code(acme.id, code)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.updated_at, stored.updated_at);

    // An altered token is refused; the calendar token opens nothing on the hosted page.
    let token = param(ics, "token");
    let mut altered = token.clone();
    altered.replace_range(10..11, if &token[10..11] == "A" { "B" } else { "A" });
    let reply = reqwest::get(format!(
        "{}/api/public/bookings/link/ics?token={altered}",
        app.base
    ))
    .await
    .unwrap();
    assert_eq!(reply.status(), StatusCode::FORBIDDEN);
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["error"]["code"], json!("invalid_link"));
    let reply = app
        .client
        .post(format!("{}/api/public/bookings/link", app.base))
        .json(&json!({"token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::FORBIDDEN);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_confirmation_names_only_the_channels_that_queued_a_message_sqlite() {
    the_confirmation_names_only_the_channels_that_queued_a_message(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_confirmation_names_only_the_channels_that_queued_a_message_postgres() {
    the_confirmation_names_only_the_channels_that_queued_a_message(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_to_calendar_links_carry_utc_times_and_the_ics_downloads_again_sqlite() {
    add_to_calendar_links_carry_utc_times_and_the_ics_downloads_again(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_to_calendar_links_carry_utc_times_and_the_ics_downloads_again_postgres() {
    add_to_calendar_links_carry_utc_times_and_the_ics_downloads_again(Db::Postgres).await;
}
