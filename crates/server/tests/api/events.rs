//! `/api/calendar/events`: create, list, change and delete, and how events shape availability.

use jiff::civil::{Date, Weekday};
use jiff::{Timestamp, ToSpan};
use pillow_store::{EventFilter, EventSource, EventStatus, NewCalendarEvent, Transparency};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::rules::seed_rule;
use crate::helpers::{Reply, TestApp, at, next};
use crate::on_both_backends;

on_both_backends!(
    timed_and_all_day_events_are_created_and_listed_by_start,
    listing_reads_all_day_dates_in_the_members_zone_and_hides_cancelled_events,
    a_busy_event_removes_slots_and_a_free_one_does_not,
    moving_an_event_moves_its_busy_time_and_deleting_it_frees_it,
    invalid_events_are_422_naming_the_field_and_nothing_is_written,
    members_change_their_own_events_and_admins_anyones,
    booking_and_synchronised_events_cannot_be_changed_here,
    another_tenants_events_are_not_listed_and_are_404_to_change,
);

const EVENTS: &str = "/api/calendar/events";
const RULES: &str = "/api/calendar/availability-rules";
const LA: &str = "America/Los_Angeles";
const NY: &str = "America/New_York";

/// The same instant written with the zone's offset, e.g. `2030-01-07T12:00:00-08:00`.
fn with_offset(date: Date, time: &str, zone: &str) -> String {
    let time: jiff::civil::Time = time.parse().unwrap();
    date.to_datetime(time)
        .in_tz(zone)
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

fn timed(title: &str, start: Timestamp, end: Timestamp) -> Value {
    json!({"title": title, "start_time": start.to_string(), "end_time": end.to_string()})
}

fn starts(reply: &Reply) -> Vec<String> {
    reply.body["slots"]
        .as_array()
        .unwrap_or_else(|| panic!("no slots in {:?}", reply.body))
        .iter()
        .map(|s| s["start_time"].as_str().unwrap().to_string())
        .collect()
}

fn titles(reply: &Reply) -> Vec<String> {
    reply.body["events"]
        .as_array()
        .unwrap_or_else(|| panic!("no events in {:?}", reply.body))
        .iter()
        .map(|e| e["title"].as_str().unwrap().to_string())
        .collect()
}

fn id_of(reply: &Reply) -> String {
    reply.body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {:?}", reply.body))
        .to_string()
}

/// The slot starts of `day` in Los Angeles (the example rule's zone) that are gone from `before`.
fn gone(before: &[String], after: &[String]) -> Vec<String> {
    before
        .iter()
        .filter(|s| !after.contains(s))
        .cloned()
        .collect()
}

fn la_times(day: Date, times: &[&str]) -> Vec<String> {
    times.iter().map(|t| at(day, t, LA).to_string()).collect()
}

async fn timed_and_all_day_events_are_created_and_listed_by_start(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let day = next(Weekday::Thursday);

    // A timed event written with an offset comes back in UTC with Z.
    let meeting = app
        .post(
            EVENTS,
            &acme.token,
            &json!({
                "title": "  Planning  ",
                "description": "Quarterly",
                "start_time": with_offset(day, "14:00", NY),
                "end_time": with_offset(day, "15:00", NY),
            }),
        )
        .await;
    assert_eq!(meeting.status, StatusCode::CREATED, "{:?}", meeting.body);
    let body = &meeting.body;
    assert_eq!(body["title"], "Planning", "trimmed");
    assert_eq!(body["description"], "Quarterly");
    assert_eq!(body["user_id"], acme.owner.id.to_string());
    assert_eq!(body["start_time"], at(day, "14:00", NY).to_string());
    assert_eq!(body["end_time"], at(day, "15:00", NY).to_string());
    assert!(body["start_time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(body["all_day"], false);
    assert!(body.get("start_date").is_none(), "dates only for all-day");
    assert_eq!(body["status"], "confirmed");
    assert_eq!(body["transparency"], "opaque", "busy unless marked free");
    assert_eq!(body["source"], "internal");
    assert_eq!(body["booking_id"], Value::Null);
    assert!(body["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(body["updated_at"].is_string());

    // An all-day event without end_date lasts one date; its instants are the owner's
    // (New York) midnights.
    let holiday = app
        .post(
            EVENTS,
            &acme.token,
            &json!({"title": "Holiday", "all_day": true, "start_date": day.to_string()}),
        )
        .await;
    assert_eq!(holiday.status, StatusCode::CREATED, "{:?}", holiday.body);
    assert_eq!(holiday.body["all_day"], true);
    assert_eq!(holiday.body["start_date"], day.to_string());
    assert_eq!(
        holiday.body["end_date"],
        day.tomorrow().unwrap().to_string()
    );
    assert_eq!(holiday.body["start_time"], at(day, "00:00", NY).to_string());
    assert_eq!(
        holiday.body["end_time"],
        at(day.tomorrow().unwrap(), "00:00", NY).to_string()
    );

    let trip = app
        .post(
            EVENTS,
            &acme.token,
            &json!({
                "title": "Trip",
                "all_day": true,
                "start_date": (day + 1.day()).to_string(),
                "end_date": (day + 3.days()).to_string(),
                "status": "tentative",
                "transparency": "transparent",
            }),
        )
        .await;
    assert_eq!(trip.status, StatusCode::CREATED, "{:?}", trip.body);
    assert_eq!(trip.body["status"], "tentative");
    assert_eq!(trip.body["transparency"], "transparent");

    // By default: from now, 30 days; sorted by start.
    let listed = app.get(EVENTS, &acme.token).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    assert_eq!(titles(&listed), ["Holiday", "Planning", "Trip"]);
    assert_eq!(listed.body["events"][1], meeting.body, "listed as created");

    // Dates are read in the owner's zone, and an end date includes that whole date.
    let one_day = app
        .get(&format!("{EVENTS}?start={day}&end={day}"), &acme.token)
        .await;
    assert_eq!(titles(&one_day), ["Holiday", "Planning"]);
    let later = app
        .get(
            &format!("{EVENTS}?start={}&end={}", day + 2.days(), day + 5.days()),
            &acme.token,
        )
        .await;
    assert_eq!(titles(&later), ["Trip"]);
    let afterwards = app
        .get(
            &format!("{EVENTS}?start={}", at(day + 3.days(), "00:00", NY)),
            &acme.token,
        )
        .await;
    assert_eq!(
        titles(&afterwards),
        Vec::<String>::new(),
        "end is exclusive"
    );

    let read = app
        .get(&format!("{EVENTS}/{}", id_of(&trip)), &acme.token)
        .await;
    assert_eq!(read.body, trip.body);
}

async fn listing_reads_all_day_dates_in_the_members_zone_and_hides_cancelled_events(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let day = next(Weekday::Monday);
    app.post(
        EVENTS,
        &acme.token,
        &json!({"title": "Day off", "all_day": true, "start_date": day.to_string()}),
    )
    .await;
    // The store carries the date as 00:00 UTC, which falls inside this window; in New York the
    // date starts at 05:00 UTC (or 04:00), exactly when the window ends.
    let before = app
        .get(
            &format!(
                "{EVENTS}?start={}&end={}",
                at(day.yesterday().unwrap(), "00:00", NY),
                at(day, "00:00", NY)
            ),
            &acme.token,
        )
        .await;
    assert_eq!(before.status, StatusCode::OK, "{:?}", before.body);
    assert_eq!(titles(&before), Vec::<String>::new());
    let last_hour = app
        .get(
            &format!(
                "{EVENTS}?start={}&end={}",
                at(day, "23:00", NY),
                at(day, "23:30", NY)
            ),
            &acme.token,
        )
        .await;
    assert_eq!(
        titles(&last_hour),
        ["Day off"],
        "the date ends at midnight in New York"
    );

    // A cancelled event is listed only when asked for.
    let call = app
        .post(
            EVENTS,
            &acme.token,
            &timed("Call", at(day, "10:00", NY), at(day, "11:00", NY)),
        )
        .await;
    let cancelled = app
        .patch(
            &format!("{EVENTS}/{}", id_of(&call)),
            &acme.token,
            &json!({"status": "cancelled"}),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{:?}", cancelled.body);
    assert_eq!(cancelled.body["status"], "cancelled");
    let url = format!("{EVENTS}?start={day}&end={day}");
    assert_eq!(titles(&app.get(&url, &acme.token).await), ["Day off"]);
    assert_eq!(
        titles(
            &app.get(&format!("{url}&include_cancelled=true"), &acme.token)
                .await
        ),
        ["Day off", "Call"]
    );
}

async fn a_busy_event_removes_slots_and_a_free_one_does_not(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    app.post(RULES, &acme.token, &seed_rule()).await;
    let day = next(Weekday::Tuesday);
    let url = format!("/api/calendar/availability?date={day}");
    let before = starts(&app.get(&url, &acme.token).await);
    assert_eq!(before.len(), 16);

    // Marked free either way: nothing changes.
    let mut free = timed("Focus", at(day, "09:00", LA), at(day, "10:00", LA));
    free["transparency"] = json!("transparent");
    let mut not_busy = timed("Lunch", at(day, "10:00", LA), at(day, "11:00", LA));
    not_busy["busy"] = json!(false);
    for body in [free, not_busy] {
        let reply = app.post(EVENTS, &acme.token, &body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        assert_eq!(reply.body["transparency"], "transparent");
    }
    assert_eq!(starts(&app.get(&url, &acme.token).await), before);

    // A plain event is busy and blocks its slots, and only those.
    let busy = app
        .post(
            EVENTS,
            &acme.token,
            &timed("Dentist", at(day, "12:00", LA), at(day, "13:00", LA)),
        )
        .await;
    assert_eq!(busy.status, StatusCode::CREATED, "{:?}", busy.body);
    let after = starts(&app.get(&url, &acme.token).await);
    assert_eq!(gone(&before, &after), la_times(day, &["12:00", "12:30"]));
}

async fn moving_an_event_moves_its_busy_time_and_deleting_it_frees_it(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    app.post(RULES, &acme.token, &seed_rule()).await;
    let day = next(Weekday::Wednesday);
    let url = format!("/api/calendar/availability?date={day}");
    let before = starts(&app.get(&url, &acme.token).await);
    let created = app
        .post(
            EVENTS,
            &acme.token,
            &timed("Review", at(day, "12:00", LA), at(day, "13:00", LA)),
        )
        .await;
    let path = format!("{EVENTS}/{}", id_of(&created));
    let slots = || async { starts(&app.get(&url, &acme.token).await) };
    assert_eq!(
        gone(&before, &slots().await),
        la_times(day, &["12:00", "12:30"])
    );

    // A new start alone moves the event and keeps its length.
    let moved = app
        .patch(
            &path,
            &acme.token,
            &json!({"start_time": with_offset(day, "15:00", LA)}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    assert_eq!(moved.body["start_time"], at(day, "15:00", LA).to_string());
    assert_eq!(moved.body["end_time"], at(day, "16:00", LA).to_string());
    assert_eq!(moved.body["title"], "Review", "untouched fields stay");
    assert_eq!(moved.body["created_at"], created.body["created_at"]);
    assert_eq!(
        gone(&before, &slots().await),
        la_times(day, &["15:00", "15:30"])
    );

    // Marked free, it blocks nothing; busy again, it does.
    let freed = app.patch(&path, &acme.token, &json!({"busy": false})).await;
    assert_eq!(freed.body["transparency"], "transparent");
    assert_eq!(slots().await, before);
    app.patch(&path, &acme.token, &json!({"transparency": "opaque"}))
        .await;
    assert_eq!(gone(&before, &slots().await).len(), 2);

    // Turned into an all-day event, it blocks the whole day; and back.
    let whole_day = app
        .patch(
            &path,
            &acme.token,
            &json!({"all_day": true, "start_date": day.to_string()}),
        )
        .await;
    assert_eq!(whole_day.status, StatusCode::OK, "{:?}", whole_day.body);
    assert_eq!(
        whole_day.body["end_date"],
        day.tomorrow().unwrap().to_string()
    );
    assert_eq!(slots().await, Vec::<String>::new());
    let timed_again = app
        .patch(
            &path,
            &acme.token,
            &json!({"all_day": false, "start_time": at(day, "09:00", LA).to_string(),
                    "end_time": at(day, "09:30", LA).to_string(), "description": "short"}),
        )
        .await;
    assert_eq!(timed_again.status, StatusCode::OK, "{:?}", timed_again.body);
    assert!(timed_again.body.get("start_date").is_none());
    assert_eq!(gone(&before, &slots().await), la_times(day, &["09:00"]));

    let cleared = app
        .patch(&path, &acme.token, &json!({"description": null}))
        .await;
    assert_eq!(cleared.body["description"], Value::Null);

    assert_eq!(
        app.delete(&path, &acme.token).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(slots().await, before);
    assert_eq!(
        app.get(&path, &acme.token).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete(&path, &acme.token).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.patch(&path, &acme.token, &json!({"title": "x"}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn invalid_events_are_422_naming_the_field_and_nothing_is_written(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let day = next(Weekday::Friday);
    let start = at(day, "09:00", NY);
    let good = || timed("Standup", start, at(day, "09:15", NY));
    let with = |key: &str, value: Value| {
        let mut body = good();
        if value.is_null() {
            body.as_object_mut().unwrap().remove(key);
        } else {
            body[key] = value;
        }
        body
    };
    let all_day = |extra: Value| {
        let mut body = json!({"title": "Away", "all_day": true, "start_date": day.to_string()});
        for (key, value) in extra.as_object().unwrap() {
            if value.is_null() {
                body.as_object_mut().unwrap().remove(key);
            } else {
                body[key] = value.clone();
            }
        }
        body
    };
    let cases = [
        (with("title", Value::Null), "title", "required"),
        (with("title", json!("   ")), "title", "invalid_title"),
        (
            with("title", json!("x".repeat(501))),
            "title",
            "invalid_title",
        ),
        (
            with("description", json!("x".repeat(10_001))),
            "description",
            "invalid_description",
        ),
        (with("start_time", Value::Null), "start_time", "required"),
        (with("end_time", Value::Null), "end_time", "required"),
        (
            with("start_time", json!(format!("{day}T09:00:00"))),
            "start_time",
            "invalid_time",
        ),
        (
            with("end_time", json!("half past nine")),
            "end_time",
            "invalid_time",
        ),
        (
            with("end_time", json!(start.to_string())),
            "end_time",
            "invalid_range",
        ),
        (
            with("end_time", json!(at(day, "08:00", NY).to_string())),
            "end_time",
            "invalid_range",
        ),
        (
            with(
                "end_time",
                json!(at(day + 32.days(), "09:00", NY).to_string()),
            ),
            "end_time",
            "event_too_long",
        ),
        (
            with("start_date", json!(day.to_string())),
            "start_date",
            "conflicting_fields",
        ),
        (
            all_day(json!({"start_time": start.to_string()})),
            "start_time",
            "conflicting_fields",
        ),
        (
            all_day(json!({"start_date": null})),
            "start_date",
            "required",
        ),
        (
            all_day(json!({"start_date": "2030-02-30"})),
            "start_date",
            "invalid_date",
        ),
        (
            all_day(json!({"end_date": day.to_string()})),
            "end_date",
            "invalid_range",
        ),
        (
            all_day(json!({"end_date": (day + 400.days()).to_string()})),
            "end_date",
            "event_too_long",
        ),
        (
            with("status", json!("cancelled")),
            "status",
            "invalid_status",
        ),
        (with("status", json!("maybe")), "status", "invalid_status"),
        (
            with("transparency", json!("see-through")),
            "transparency",
            "invalid_transparency",
        ),
        (
            {
                let mut body = with("transparency", json!("opaque"));
                body["busy"] = json!(false);
                body
            },
            "busy",
            "conflicting_fields",
        ),
    ];
    for (body, field, code) in cases {
        let reply = app.post(EVENTS, &acme.token, &body).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {:?}",
            reply.body
        );
        assert_eq!(reply.code(), code, "{field}: {:?}", reply.body);
        assert_eq!(reply.body["error"]["field"], field, "{:?}", reply.body);
    }
    // An API key must say whose calendar.
    let keyed = app.post(EVENTS, &acme.key, &good()).await;
    assert_eq!(keyed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(keyed.body["error"]["field"], "user_id");
    // Wrong types and unknown fields are unreadable bodies: 400, naming the field.
    for (body, field) in [
        (with("title", json!(5)), "title"),
        (with("colour", json!("blue")), "colour"),
        (with("all_day", json!("yes")), "all_day"),
    ] {
        let reply = app.post(EVENTS, &acme.token, &body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.body["error"]["field"], field);
    }
    assert!(
        app.store()
            .list_events(acme.id, &EventFilter::default())
            .await
            .unwrap()
            .is_empty(),
        "nothing written"
    );

    // A change is validated whole after merging, and a bad one changes nothing.
    let created = app.post(EVENTS, &acme.token, &good()).await;
    let path = format!("{EVENTS}/{}", id_of(&created));
    for (change, field) in [
        (
            json!({"end_time": at(day, "08:00", NY).to_string()}),
            "end_time",
        ),
        (json!({"title": null}), "title"),
        (json!({"all_day": true}), "start_date"),
        (json!({"user_id": acme.owner.id.to_string()}), "user_id"),
    ] {
        let reply = app.patch(&path, &acme.token, &change).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{change}: {:?}",
            reply.body
        );
        assert_eq!(reply.body["error"]["field"], field, "{change}");
    }
    assert_eq!(app.get(&path, &acme.token).await.body, created.body);

    // Bad listing windows.
    for (query, field) in [
        ("start=2030-01-01&end=2031-01-03", "end"),
        ("start=2030-01-02&end=2030-01-01", "end"),
        ("start=someday", "start"),
        ("include_cancelled=maybe", "include_cancelled"),
    ] {
        let reply = app.get(&format!("{EVENTS}?{query}"), &acme.token).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {:?}",
            reply.body
        );
        assert_eq!(reply.body["error"]["field"], field, "{query}");
    }
    let longest = app
        .get(
            &format!("{EVENTS}?start=2030-01-01&end=2030-12-31"),
            &acme.token,
        )
        .await;
    assert_eq!(longest.status, StatusCode::OK, "366 days are fine");
}

async fn members_change_their_own_events_and_admins_anyones(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let (member, member_token) = app.member(&acme, "m@acme.test").await;
    let day = next(Weekday::Monday);
    let slot = |time: &str| {
        let start = at(day, time, NY);
        (start, start + 30.minutes())
    };

    let (start, end) = slot("09:00");
    let own = app
        .post(EVENTS, &member_token, &timed("Mine", start, end))
        .await;
    assert_eq!(own.status, StatusCode::CREATED, "{:?}", own.body);
    assert_eq!(own.body["user_id"], member.id.to_string());

    // A member cannot create in someone else's calendar; an admin or an API key can.
    let mut for_owner = timed("Theirs", start, end);
    for_owner["user_id"] = json!(acme.owner.id.to_string());
    assert_eq!(
        app.post(EVENTS, &member_token, &for_owner).await.status,
        StatusCode::FORBIDDEN
    );
    let mut for_member = timed("Assigned", start, end);
    for_member["user_id"] = json!(member.id.to_string());
    let assigned = app.post(EVENTS, &acme.token, &for_member).await;
    assert_eq!(assigned.status, StatusCode::CREATED, "{:?}", assigned.body);
    assert_eq!(assigned.body["user_id"], member.id.to_string());
    let mut by_key = json!({"title": "Offsite", "all_day": true, "start_date": day.to_string()});
    by_key["user_id"] = json!(member.id.to_string());
    let offsite = app.post(EVENTS, &acme.key, &by_key).await;
    assert_eq!(offsite.status, StatusCode::CREATED, "{:?}", offsite.body);
    assert_eq!(
        offsite.body["start_time"],
        at(day, "00:00", "Europe/London").to_string(),
        "in the member's zone"
    );

    // Any member reads anyone's calendar; an API key names whose.
    let owners = app
        .post(
            EVENTS,
            &acme.token,
            &timed("Board", slot("10:00").0, slot("10:00").1),
        )
        .await;
    let read = app
        .get(
            &format!("{EVENTS}?user_id={}", acme.owner.id),
            &member_token,
        )
        .await;
    assert_eq!(titles(&read), ["Board"]);
    let members = app
        .get(&format!("{EVENTS}?user_id={}", member.id), &acme.key)
        .await;
    assert_eq!(titles(&members), ["Offsite", "Mine", "Assigned"]);
    assert_eq!(
        app.get(EVENTS, &acme.key).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // Members change and delete their own events only.
    let owners_path = format!("{EVENTS}/{}", id_of(&owners));
    assert_eq!(
        app.patch(&owners_path, &member_token, &json!({"title": "Mine now"}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.delete(&owners_path, &member_token).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.get(&owners_path, &acme.token).await.body, owners.body);
    let assigned_path = format!("{EVENTS}/{}", id_of(&assigned));
    let renamed = app
        .patch(&assigned_path, &member_token, &json!({"title": "Accepted"}))
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{:?}", renamed.body);
    assert_eq!(renamed.body["title"], "Accepted");

    // Admins change and delete anyone's.
    let own_path = format!("{EVENTS}/{}", id_of(&own));
    let retitled = app
        .patch(&own_path, &acme.token, &json!({"title": "Checked"}))
        .await;
    assert_eq!(retitled.status, StatusCode::OK);
    assert_eq!(retitled.body["user_id"], member.id.to_string());
    assert_eq!(
        app.delete(&own_path, &acme.key).await.status,
        StatusCode::NO_CONTENT
    );
}

async fn booking_and_synchronised_events_cannot_be_changed_here(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let day = next(Weekday::Thursday);
    for (source, code) in [
        (EventSource::Booking, "managed_by_booking"),
        (EventSource::Google, "managed_by_provider"),
    ] {
        let event = app
            .store()
            .create_event(
                acme.id,
                pillow_store::EventId::new(),
                &NewCalendarEvent {
                    user_id: acme.owner.id,
                    provider_id: None,
                    external_id: None,
                    etag: None,
                    title: "Elsewhere".into(),
                    description: None,
                    start: at(day, "09:00", NY),
                    end: at(day, "10:00", NY),
                    all_day: false,
                    status: EventStatus::Confirmed,
                    transparency: Transparency::Opaque,
                    source,
                    booking_id: None,
                },
                &[],
            )
            .await
            .unwrap();
        let path = format!("{EVENTS}/{}", event.id);
        let before = app.get(&path, &acme.token).await;
        assert_eq!(before.body["source"], source.as_str());
        let patched = app
            .patch(&path, &acme.token, &json!({"title": "Changed"}))
            .await;
        assert_eq!(patched.status, StatusCode::CONFLICT, "{:?}", patched.body);
        assert_eq!(patched.code(), code);
        let deleted = app.delete(&path, &acme.token).await;
        assert_eq!(deleted.status, StatusCode::CONFLICT);
        assert_eq!(deleted.code(), code);
        assert_eq!(app.get(&path, &acme.token).await.body, before.body);
    }
}

async fn another_tenants_events_are_not_listed_and_are_404_to_change(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let globex = app.tenant("Globex").await;
    let day = next(Weekday::Tuesday);
    let created = app
        .post(
            EVENTS,
            &acme.token,
            &timed("Secret", at(day, "09:00", NY), at(day, "10:00", NY)),
        )
        .await;
    let path = format!("{EVENTS}/{}", id_of(&created));

    assert_eq!(
        titles(&app.get(EVENTS, &globex.token).await),
        Vec::<String>::new()
    );
    let foreign_user = app
        .get(&format!("{EVENTS}?user_id={}", acme.owner.id), &globex.key)
        .await;
    assert_eq!(foreign_user.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get(&path, &globex.token).await.status,
        StatusCode::NOT_FOUND
    );
    for token in [&globex.token, &globex.key] {
        let patched = app.patch(&path, token, &json!({"title": "Mine"})).await;
        assert_eq!(patched.status, StatusCode::NOT_FOUND, "{:?}", patched.body);
        assert_eq!(patched.code(), "not_found");
        assert_eq!(app.delete(&path, token).await.status, StatusCode::NOT_FOUND);
    }
    let mut planted = timed("Planted", at(day, "11:00", NY), at(day, "12:00", NY));
    planted["user_id"] = json!(acme.owner.id.to_string());
    assert_eq!(
        app.post(EVENTS, &globex.key, &planted).await.status,
        StatusCode::NOT_FOUND
    );
    for malformed in ["not-a-uuid", "123"] {
        let path = format!("{EVENTS}/{malformed}");
        assert_eq!(
            app.patch(&path, &acme.token, &json!({"title": "x"}))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.delete(&path, &acme.token).await.status,
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(app.get(&path, &acme.token).await.body, created.body);
    assert_eq!(titles(&app.get(EVENTS, &acme.token).await), ["Secret"]);
}
