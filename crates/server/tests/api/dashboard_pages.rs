//! The team calendar and analytics pages over real HTTP: a new booking and synced busy time
//! appear in the team calendar with the zone named, members see colleagues' time without its
//! details, and every analytics figure equals what `GET /api/calendar/bookings` lists.

use jiff::civil::{Date, Weekday};
use jiff::{Timestamp, ToSpan};
use pillow_store::{EventSource, EventStatus, NewCalendarEvent, TenantId, Transparency, UserId};
use reqwest::StatusCode;
use serde_json::json;

use crate::dashboard::{PASSWORD, csrf_of, get, member_with_password, post_form, signed_in};
use crate::helpers::{Tenant, TestApp, always_open, at, next};
use crate::on_both_backends;

on_both_backends!(
    a_new_booking_and_synced_busy_time_appear_in_the_team_calendar_with_the_zone_named,
    the_team_calendar_shows_times_in_the_zone_chosen_and_refuses_an_unknown_zone,
    a_member_sees_colleagues_time_in_the_team_calendar_without_its_details,
    analytics_figures_equal_the_counts_the_api_lists,
    a_member_is_refused_the_analytics_page,
    a_booking_is_rescheduled_from_its_page_to_a_free_time_the_page_offers,
);

async fn open_rule(app: &TestApp, tenant: &Tenant, user: UserId) {
    let rule = app
        .post(
            "/api/calendar/availability-rules",
            &tenant.key,
            &always_open(Some(user), 30),
        )
        .await;
    assert!(rule.status.is_success(), "{:?}", rule.body);
}

/// Books `start` for whoever `bearer` signs in; answers the booking's id.
async fn book(app: &TestApp, bearer: &str, start: Timestamp, name: &str) -> String {
    let reply = app
        .post(
            "/api/calendar/booking",
            bearer,
            &json!({"start_time": start.to_string(), "duration": 30,
                    "attendee": {"name": name, "phone": "+1 555 0100"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["id"].as_str().unwrap().to_string()
}

/// An event as Google sync stores it.
async fn synced_event(
    app: &TestApp,
    tenant: TenantId,
    user: UserId,
    title: &str,
    start: Timestamp,
) {
    app.store()
        .create_event(
            tenant,
            pillow_store::EventId::new(),
            &NewCalendarEvent {
                user_id: user,
                provider_id: None,
                external_id: Some(format!("google-{title}")),
                etag: None,
                title: title.into(),
                description: None,
                start,
                end: start + jiff::SignedDuration::from_hours(1),
                all_day: false,
                status: EventStatus::Confirmed,
                transparency: Transparency::Opaque,
                source: EventSource::Google,
                booking_id: None,
            },
            &[],
        )
        .await
        .unwrap();
}

async fn page(app: &TestApp, path: &str, token: &str) -> (StatusCode, String) {
    let response = get(app, path, token).await;
    (response.status(), response.text().await.unwrap())
}

/// The cell of one member on one day, as HTML.
fn cell(html: &str, member: UserId, day: Date) -> &str {
    let row = &html[html
        .find(&format!(r#"data-member="{member}""#))
        .expect("a row for the member")..];
    let row = &row[..row.find("</tr>").unwrap()];
    let at = row
        .find(&format!(r#"data-date="{day}""#))
        .expect("a cell for the day");
    let cell = &row[at..];
    &cell[..cell.find("</td>").unwrap()]
}

async fn a_new_booking_and_synced_busy_time_appear_in_the_team_calendar_with_the_zone_named(
    app: &TestApp,
) {
    let acme = app.tenant("Acme").await;
    open_rule(app, &acme, acme.owner.id).await;
    let day = next(Weekday::Wednesday);
    let token = signed_in(app, &acme.owner.email, PASSWORD).await;
    let path = format!("/dashboard/calendar?date={day}");

    let (status, before) = page(app, &path, &token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!before.contains("Wanda Newcomer"));
    // The owner's zone is named, and the week runs Monday to Sunday around the date.
    assert!(before.contains("America/New_York"), "{before}");
    let monday = day - 2.days();
    assert!(before.contains(&format!("Week of {}", monday.strftime("%a %-d %b %Y"))));

    let id = book(
        app,
        &acme.token,
        at(day, "10:00", "America/New_York"),
        "Wanda Newcomer",
    )
    .await;
    synced_event(
        app,
        acme.id,
        acme.owner.id,
        "Dentist appointment",
        at(day, "13:00", "America/New_York"),
    )
    .await;

    let (_, after) = page(app, &path, &token).await;
    let owners_day = cell(&after, acme.owner.id, day);
    assert!(owners_day.contains("Wanda Newcomer"), "{owners_day}");
    assert!(owners_day.contains(&format!("/dashboard/bookings/{id}")));
    assert!(owners_day.contains("10:00–10:30 EST"), "{owners_day}");
    // The week sums the busy time up (the hour at the dentist and the half hour booked) and
    // links to the day; the strip draws it.
    assert!(owners_day.contains("Busy 1 h 30 min"), "{owners_day}");
    assert!(
        owners_day.contains(&format!("date={day}&amp;view=day")),
        "{owners_day}"
    );
    assert!(owners_day.contains(r#"<path class="t""#), "{owners_day}");
    // Nothing on the other days of the week.
    let next_day = cell(&after, acme.owner.id, day + 1.day());
    assert!(
        !next_day.contains("<li") && !next_day.contains("Busy"),
        "{next_day}"
    );

    // The day view shows the same day alone, every busy block with its title.
    let (_, one_day) = page(app, &format!("{path}&view=day"), &token).await;
    let owners_day = cell(&one_day, acme.owner.id, day);
    assert!(owners_day.contains("Wanda Newcomer"), "{owners_day}");
    assert!(owners_day.contains("Dentist appointment"), "{owners_day}");
    assert!(owners_day.contains("13:00–14:00 EST"), "{owners_day}");
    assert!(!one_day.contains(&format!(r#"data-date="{}""#, day + 1.day())));
}

async fn the_team_calendar_shows_times_in_the_zone_chosen_and_refuses_an_unknown_zone(
    app: &TestApp,
) {
    let acme = app.tenant("Acme").await;
    open_rule(app, &acme, acme.owner.id).await;
    let day = next(Weekday::Wednesday);
    book(
        app,
        &acme.token,
        at(day, "10:00", "America/New_York"),
        "Tokyo Watcher",
    )
    .await;
    let token = signed_in(app, &acme.owner.email, PASSWORD).await;

    // 10:00 in New York in winter is 00:00 the next day in Tokyo.
    let (status, tokyo) = page(
        app,
        &format!("/dashboard/calendar?date={day}&zone=Asia%2FTokyo"),
        &token,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(tokyo.contains("Asia/Tokyo"));
    let next_day = cell(&tokyo, acme.owner.id, day + 1.day());
    assert!(next_day.contains("00:00–00:30 JST"), "{next_day}");

    let (status, refused) = page(app, "/dashboard/calendar?zone=Mars%2FOlympus", &token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        refused.contains("Mars/Olympus is not a time zone"),
        "{refused}"
    );
    let (status, _) = page(app, "/dashboard/calendar?date=tomorrow", &token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn a_member_sees_colleagues_time_in_the_team_calendar_without_its_details(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    open_rule(app, &acme, acme.owner.id).await;
    let member = member_with_password(app, &acme, "mo@acme.test").await;
    let day = next(Weekday::Thursday);
    let id = book(
        app,
        &acme.token,
        at(day, "11:00", "America/New_York"),
        "Private Patient",
    )
    .await;
    synced_event(
        app,
        acme.id,
        acme.owner.id,
        "Divorce lawyer",
        at(day, "14:00", "America/New_York"),
    )
    .await;
    synced_event(
        app,
        acme.id,
        member.id,
        "Errand at the bank",
        at(day, "09:00", "Europe/London"),
    )
    .await;

    let token = signed_in(app, "mo@acme.test", "member-password").await;
    let (status, html) = page(app, &format!("/dashboard/calendar?date={day}"), &token).await;
    assert_eq!(status, StatusCode::OK);
    // The member's own zone names the times.
    assert!(html.contains("Europe/London"));
    let owners = cell(&html, acme.owner.id, day);
    assert!(owners.contains("Booked"), "{owners}");
    assert!(owners.contains("Busy"), "{owners}");
    assert!(!html.contains("Private Patient"));
    assert!(!html.contains("Divorce lawyer"));
    assert!(!html.contains(&format!("/dashboard/bookings/{id}")));
    // The day view lists the blocks: their own event keeps its title, the owner's do not.
    let (status, html) = page(
        app,
        &format!("/dashboard/calendar?date={day}&view=day"),
        &token,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(cell(&html, member.id, day).contains("Errand at the bank"));
    let owners = cell(&html, acme.owner.id, day);
    assert!(
        owners.contains("Booked") && owners.contains("Busy"),
        "{owners}"
    );
    assert!(!html.contains("Private Patient"));
    assert!(!html.contains("Divorce lawyer"));
    assert!(!html.contains(&format!("/dashboard/bookings/{id}")));
}

/// The text a page shows in the first element marked `data-figure="<name>"`.
fn figure(html: &str, name: &str) -> String {
    let marker = format!(r#"data-figure="{name}">"#);
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[at..html[at..].find('<').unwrap() + at].to_string()
}

async fn api_count(app: &TestApp, tenant: &Tenant, query: &str) -> usize {
    let reply = app
        .get(&format!("/api/calendar/bookings?{query}"), &tenant.key)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["bookings"].as_array().unwrap().len()
}

async fn analytics_figures_equal_the_counts_the_api_lists(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    open_rule(app, &acme, acme.owner.id).await;
    let member = member_with_password(app, &acme, "mo@acme.test").await;
    open_rule(app, &acme, member.id).await;
    let member_token = app.token_for(&member);
    let day = next(Weekday::Tuesday);
    let ny = "America/New_York";
    let mut owner_bookings = Vec::new();
    for time in ["09:00", "10:00", "11:00"] {
        owner_bookings.push(book(app, &acme.token, at(day, time, ny), "Owner Guest").await);
    }
    book(app, &member_token, at(day, "15:00", ny), "Member Guest").await;
    // The next day, to show days are told apart.
    book(
        app,
        &member_token,
        at(day + 1.day(), "09:00", ny),
        "Member Guest",
    )
    .await;
    let cancelled = app
        .post(
            &format!("/api/calendar/bookings/{}/cancel", owner_bookings[2]),
            &acme.key,
            &json!({"reason": "Changed plans"}),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);

    let token = signed_in(app, &acme.owner.email, PASSWORD).await;
    let (status, html) = page(
        app,
        &format!("/dashboard/analytics?from={day}&to={}", day + 1.day()),
        &token,
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let start = at(day, "00:00", ny);
    let end = at(day + 2.days(), "00:00", ny);
    let range = format!("start={start}&end={end}");
    let all = api_count(app, &acme, &range).await;
    let confirmed = api_count(app, &acme, &format!("{range}&status=confirmed")).await;
    let dropped = api_count(app, &acme, &format!("{range}&status=cancelled")).await;
    assert_eq!((all, confirmed, dropped), (5, 4, 1));
    assert_eq!(figure(&html, "total"), all.to_string());
    assert_eq!(figure(&html, "confirmed"), confirmed.to_string());
    assert_eq!(figure(&html, "cancelled"), dropped.to_string());
    assert_eq!(figure(&html, "cancellation-rate"), "20.0%");

    for user in [acme.owner.id, member.id] {
        let row = &html[html.find(&format!(r#"data-member="{user}""#)).unwrap()..];
        let kept = api_count(
            app,
            &acme,
            &format!("{range}&status=confirmed&user_id={user}"),
        )
        .await;
        let gone = api_count(
            app,
            &acme,
            &format!("{range}&status=cancelled&user_id={user}"),
        )
        .await;
        assert_eq!(figure(row, "confirmed"), kept.to_string(), "{user}");
        assert_eq!(figure(row, "cancelled"), gone.to_string(), "{user}");
    }

    // Per day, in the viewer's zone: two of the owner's (one cancelled) and the member's, then one.
    let per_day = |d: Date| {
        let row = &html[html.find(&format!(r#"data-day="{d}""#)).unwrap()..];
        let row = &row[..row.find("</tr>").unwrap()];
        row.rsplit("<td>")
            .next()
            .unwrap()
            .trim_end_matches("</td>")
            .to_string()
    };
    assert_eq!(per_day(day), "3");
    assert_eq!(per_day(day + 1.day()), "1");
    // The busiest hours count confirmed starts by local hour: 09:00 twice (one each day).
    assert!(
        html.contains(r#"data-hour="9"><td>09:00</td><td>2</td>"#),
        "{html}"
    );
}

async fn a_member_is_refused_the_analytics_page(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    member_with_password(app, &acme, "mo@acme.test").await;
    let token = signed_in(app, "mo@acme.test", "member-password").await;
    let (status, html) = page(app, "/dashboard/analytics", &token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("Only owners and admins"));
    // Nor is it offered in the navigation.
    let (_, home) = page(app, "/dashboard", &token).await;
    assert!(!home.contains("/dashboard/analytics"));
    assert!(home.contains("/dashboard/calendar"));
}

async fn a_booking_is_rescheduled_from_its_page_to_a_free_time_the_page_offers(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    open_rule(app, &acme, acme.owner.id).await;
    let day = next(Weekday::Wednesday);
    let ny = "America/New_York";
    let id = book(app, &acme.token, at(day, "10:00", ny), "Moving Mia").await;
    book(
        app,
        &acme.token,
        at(day + 1.day(), "09:00", ny),
        "Blocking Bo",
    )
    .await;
    let token = signed_in(app, &acme.owner.email, PASSWORD).await;

    let next_day = day + 1.day();
    let (status, html) = page(
        app,
        &format!("/dashboard/bookings/{id}?on={next_day}"),
        &token,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let wanted = at(next_day, "11:00", ny);
    assert!(html.contains(&format!(r#"value="{wanted}""#)), "{html}");
    // The other booking's time is not offered.
    assert!(!html.contains(&format!(r#"value="{}""#, at(next_day, "09:00", ny))));

    let csrf = csrf_of(app, &token).await;
    let path = format!("/dashboard/bookings/{id}/reschedule");
    let moved = post_form(
        app,
        &path,
        &token,
        &[("csrf", &csrf), ("start", &wanted.to_string())],
    )
    .await;
    assert_eq!(moved.status(), StatusCode::SEE_OTHER);
    let reply = app
        .get(&format!("/api/calendar/bookings/{id}"), &acme.key)
        .await;
    assert_eq!(
        reply.body["start_time"],
        json!(wanted.to_string()),
        "{}",
        reply.body
    );

    // A time that is taken is refused on the page, and the booking stays where it is.
    let taken = at(next_day, "09:00", ny).to_string();
    let refused = post_form(app, &path, &token, &[("csrf", &csrf), ("start", &taken)]).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert!(refused.text().await.unwrap().contains("reschedule-error"));
    let reply = app
        .get(&format!("/api/calendar/bookings/{id}"), &acme.key)
        .await;
    assert_eq!(reply.body["start_time"], json!(wanted.to_string()));
    // Nonsense is a clear 400.
    let nonsense = post_form(app, &path, &token, &[("csrf", &csrf), ("start", "soon")]).await;
    assert_eq!(nonsense.status(), StatusCode::BAD_REQUEST);
}
