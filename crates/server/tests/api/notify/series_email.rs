//! E-mail for a recurring series: one confirmation per person whose invite holds the series'
//! `RRULE` in the agent's zone and an `EXDATE` for each occurrence not booked; cancelling one
//! occurrence later cancels only that one in the reader's calendar (`RECURRENCE-ID`).

use jiff::tz::TimeZone;
use jiff::{SignedDuration, ToSpan};
use reqwest::StatusCode;
use serde_json::json;

use super::email::{book, desk, drain, property};
use super::sink::SmtpSink;
use crate::helpers::{TestApp, at};
use crate::on_both_backends;

on_both_backends!(a_series_is_confirmed_by_one_mail_whose_invite_repeats_and_excludes_the_gaps,);

const NEW_YORK: &str = "America/New_York";

async fn a_series_is_confirmed_by_one_mail_whose_invite_repeats_and_excludes_the_gaps(
    app: &TestApp,
) {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let acme = app.tenant("Acme").await;
    let agent = desk(app, &acme, true).await;
    let zone = TimeZone::get(NEW_YORK).unwrap();
    let date = jiff::Timestamp::now().to_zoned(zone.clone()).date() + 3.days();
    let week = |n: i64| at(date + (7 * n).days(), "15:00", NEW_YORK);
    // The third week is taken already; `allow_partial` books the other three.
    book(app, &acme, &agent, week(2)).await;
    drain(app, &sink, SignedDuration::ZERO).await;
    let before = sink.messages().len();
    let booked = app
        .post(
            "/api/calendar/booking",
            &acme.key,
            &json!({"agent_id": agent, "start_time": week(0).to_string(), "duration": 30,
                    "attendee": {"name": "John Doe", "email": "john@example.com"},
                    "recurrence": {"frequency": "weekly", "count": 4},
                    "allow_partial": true}),
        )
        .await;
    assert_eq!(booked.status, StatusCode::CREATED, "{:?}", booked.body);
    let occurrences = booked.body["series"]["occurrences"].as_array().unwrap();
    assert_eq!(occurrences.len(), 3);
    drain(app, &sink, SignedDuration::ZERO).await;
    let mail: Vec<_> = sink.messages().into_iter().skip(before).collect();
    assert_eq!(
        mail.len(),
        2,
        "one message each to the caller and the member"
    );
    let local = |n: i64| {
        week(n)
            .to_zoned(zone.clone())
            .strftime("%Y%m%dT%H%M%S")
            .to_string()
    };
    let mut uid = String::new();
    for message in &mail {
        let ics = message.calendar();
        let unfolded = ics.replace("\r\n ", "").replace("\n ", "");
        assert_eq!(property(&ics, false, "METHOD"), "REQUEST");
        assert!(
            unfolded.contains("RRULE:FREQ=WEEKLY;INTERVAL=1;COUNT=4"),
            "{ics}"
        );
        assert!(
            unfolded.contains(&format!("DTSTART;TZID={NEW_YORK}:{}", local(0))),
            "{ics}"
        );
        assert!(
            unfolded.contains(&format!("EXDATE;TZID={NEW_YORK}:{}", local(2))),
            "only the week not booked is an exception: {ics}"
        );
        uid = property(&ics, true, "UID");
        assert!(uid.starts_with("series-"), "{uid}");
    }

    // Cancelling the second occurrence: a CANCEL of that occurrence of the same series.
    let second = occurrences[1]["id"].as_str().unwrap();
    let cancelled = app
        .post(
            &format!("/api/calendar/bookings/{second}/cancel"),
            &acme.key,
            &json!({}),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{:?}", cancelled.body);
    drain(app, &sink, SignedDuration::ZERO).await;
    let after: Vec<_> = sink.messages().into_iter().skip(before + 2).collect();
    assert_eq!(after.len(), 2);
    for message in &after {
        let ics = message.calendar();
        let unfolded = ics.replace("\r\n ", "").replace("\n ", "");
        assert_eq!(property(&ics, false, "METHOD"), "CANCEL");
        assert_eq!(property(&ics, true, "UID"), uid);
        assert!(
            unfolded.contains(&format!("RECURRENCE-ID;TZID={NEW_YORK}:{}", local(1))),
            "{ics}"
        );
    }
}
